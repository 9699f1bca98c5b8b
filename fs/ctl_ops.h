/* ctl_ops.h - the hidden .mailfs/ directory at the mount root: files that
 * show and steer the mount (after Plan 9's ctl files).
 *   status  key: value lines: online state, server and TLS, last refresh,
 *           push, outbox queue, cache size and budget, last error
 *   ctl     write "refresh", "flush", "offline" or "online"; anything else
 *           fails the write with EINVAL; it reads empty
 *   log     the recent log lines of this mount
 *   view/ search/  the views of mail (fs/view_ops.h)
 * ops.c hands every request on these inodes (NODE_CTL) here. */
#ifndef MAILFS_CTL_OPS_H
#define MAILFS_CTL_OPS_H

#include "fs/node.h"

#define CTL_DIR_NAME ".mailfs"
#define INO_CTL_DIR INO_CTL_FIRST

void ctl_ops_lookup(fuse_req_t req, Node parent, const char *name);
void ctl_ops_getattr(fuse_req_t req, Node n);
/* Fills DIR with the files of .mailfs/. */
void ctl_ops_fill(MfFs *fs, GArray *dir);
void ctl_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi);
/* With no open handle (read_only = yes), status and log read a snapshot
 * kept for a moment, whose size and time their attributes show. */
void ctl_ops_read(fuse_req_t req, Node n, size_t size, off_t off,
                  struct fuse_file_info *fi);
void ctl_ops_write(fuse_req_t req, Node n, const char *buf, size_t size,
                   struct fuse_file_info *fi);
void ctl_ops_release(fuse_req_t req, struct fuse_file_info *fi);
void ctl_ops_setattr(fuse_req_t req, Node n, struct stat *attr, int to_set);
/* Set up fs->ctl before serving; frees it and the snapshots of status
 * and log at unmount. */
void ctl_ops_init(MfFs *fs);
void ctl_ops_cleanup(MfFs *fs);

/* The text of .mailfs/status for FS (also used by `mailfs status`
 * through the file); owned by the caller. */
char *ctl_ops_status_text(MfFs *fs);

#endif
