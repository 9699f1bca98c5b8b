/* outbox_ops.h - FUSE operations under outbox/: files written there are
 * queued for sending (cache/outbox.h); outbox/failed/ holds refused ones
 * with NAME.error beside each, two files each removed on its own (the
 * entry goes with the second).  ops.c dispatches here for outbox nodes.
 * chmod, chown and utimes of any outbox node succeed and change nothing. */
#ifndef MAILFS_OUTBOX_OPS_H
#define MAILFS_OUTBOX_OPS_H

#include "fs/node.h"

/* The xattr that shows an outbox file's state. */
#define OUTBOX_STATUS_XATTR "user.mailfs.status"

void outbox_ops_lookup(fuse_req_t req, Node parent, const char *name);
void outbox_ops_getattr(fuse_req_t req, Node n, fuse_ino_t ino);
/* Fills DIR with the entries of outbox/ or outbox/failed/. */
void outbox_ops_fill(MfFs *fs, Node n, GArray *dir);
void outbox_ops_create(fuse_req_t req, Node parent, const char *name,
                       struct fuse_file_info *fi);
void outbox_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi);
void outbox_ops_read(fuse_req_t req, size_t size, off_t off,
                     struct fuse_file_info *fi);
/* A READ with no open handle (read_only = yes), by the node alone. */
void outbox_ops_read_ino(fuse_req_t req, Node n, size_t size, off_t off);
void outbox_ops_write(fuse_req_t req, const char *buf, size_t size,
                      off_t off, struct fuse_file_info *fi);
void outbox_ops_flush(fuse_req_t req, struct fuse_file_info *fi);
void outbox_ops_release(fuse_req_t req, struct fuse_file_info *fi);
void outbox_ops_unlink(fuse_req_t req, Node parent, const char *name);
void outbox_ops_rename(fuse_req_t req, Node parent, const char *name,
                       Node newparent, const char *newname);
void outbox_ops_setattr(fuse_req_t req, Node n, fuse_ino_t ino,
                        struct stat *attr, int to_set);
void outbox_ops_getxattr(fuse_req_t req, Node n, const char *name,
                         size_t size);
void outbox_ops_listxattr(fuse_req_t req, Node n, size_t size);
/* Outbox files keep no extended attributes: ENOTSUP, which tools that
 * copy attributes (cp -p, cp -a, mv, rsync -X, tar) take as "not kept",
 * for every name; user.mailfs.status is computed, never set. */
void outbox_ops_setxattr(fuse_req_t req, Node n, const char *name,
                         const char *value, size_t size);
void outbox_ops_removexattr(fuse_req_t req, Node n, const char *name);

#endif
