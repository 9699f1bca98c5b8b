/* folder_ops.h - FUSE operations that change the mail tree: rm, mv, mkdir,
 * rmdir, renaming folders, flags as the xattr user.mailfs.flags, and files
 * written into a folder (fs/staged.h), which become messages when closed.
 * ops.c dispatches here.  Changes to messages go through
 * cache/account_change.h, so they also work offline.
 *
 * Names: a message keeps the name it was written or renamed under (within
 * its folder that is only a local change); rm moves it to Trash; mv to
 * another folder moves it there under the name given; a name written or
 * moved onto an existing message replaces it (the old one goes the way rm
 * does, after the new one is there). */
#ifndef MAILFS_FOLDER_OPS_H
#define MAILFS_FOLDER_OPS_H

#include "fs/node.h"
#include "fs/staged.h"

#define FLAGS_XATTR "user.mailfs.flags"

/* Sets up (and at unmount frees) fs->staged, the files being written
 * into folders, whose bytes are kept in STAGING (a directory, emptied). */
void folder_ops_init(MfFs *fs, const char *staging);
void folder_ops_cleanup(MfFs *fs);

void folder_ops_unlink(fuse_req_t req, Node parent, const char *name);
void folder_ops_rename(fuse_req_t req, Node parent, const char *name,
                       Node newparent, const char *newname);
void folder_ops_mkdir(fuse_req_t req, Node parent, const char *name);
void folder_ops_rmdir(fuse_req_t req, Node parent, const char *name);

/* Files being written: NODE_STAGED inodes, and messages opened for
 * writing (their handle is a StagedHandle: folder_ops_hold). */
void folder_ops_create(fuse_req_t req, Node parent, const char *name,
                       struct fuse_file_info *fi);
/* OPEN of a staged file, or of a message for writing. */
void folder_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi);
/* The StagedHandle of FI, held (release with node_handle_put), or NULL
 * if FI is no such handle. */
StagedHandle *folder_ops_hold(MfFs *fs, const struct fuse_file_info *fi);
void folder_ops_read(fuse_req_t req, StagedHandle *h, size_t size, off_t off);
void folder_ops_write(fuse_req_t req, StagedHandle *h, const char *buf,
                      size_t size, off_t off);
void folder_ops_flush(fuse_req_t req, StagedHandle *h);
void folder_ops_release(fuse_req_t req, StagedHandle *h);
/* GETATTR of staged file ID. */
void folder_ops_getattr(fuse_req_t req, gint64 id);
/* SETATTR of staged file ID (from its inode or an open handle). */
void folder_ops_setattr_staged(fuse_req_t req, gint64 id, struct stat *attr,
                               int to_set);
/* Refuses truncating a message by name (truncate(2) with no open file:
 * there is nothing to put in its place), with a log line. */
void folder_ops_refuse_in_place(fuse_req_t req, Node n);

void folder_ops_getxattr(fuse_req_t req, Node n, const char *name,
                         size_t size);
void folder_ops_setxattr(fuse_req_t req, Node n, const char *name,
                         const char *value, size_t size);
void folder_ops_removexattr(fuse_req_t req, Node n, const char *name);
void folder_ops_listxattr(fuse_req_t req, Node n, size_t size);

#endif
