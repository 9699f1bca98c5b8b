/* folder_ops.h - FUSE operations that change the mail tree: rm, mv, mkdir,
 * rmdir, renaming folders, flags as the xattr user.mailfs.flags, and files
 * written into a folder, which are appended as new messages when closed.
 * ops.c dispatches here.  Changes to messages go through the journal
 * (cache/journal.h), so they also work offline. */
#ifndef MAILFS_FOLDER_OPS_H
#define MAILFS_FOLDER_OPS_H

#include "fs/node.h"

#define FLAGS_XATTR "user.mailfs.flags"

void folder_ops_init(MfFs *fs);
void folder_ops_cleanup(MfFs *fs);

/* A file being written in folder FOLDER_ID called NAME: its inode, or 0. */
fuse_ino_t folder_ops_staged_lookup(MfFs *fs, gint64 folder_id,
                                    const char *name, struct stat *st);
/* Adds the files being written in FOLDER_ID to DIR. */
void folder_ops_fill_staged(MfFs *fs, gint64 folder_id, GArray *dir);

void folder_ops_unlink(fuse_req_t req, Node parent, const char *name);
void folder_ops_rename(fuse_req_t req, Node parent, const char *name,
                       Node newparent, const char *newname);
void folder_ops_mkdir(fuse_req_t req, Node parent, const char *name);
void folder_ops_rmdir(fuse_req_t req, Node parent, const char *name);

void folder_ops_create(fuse_req_t req, Node parent, const char *name,
                       struct fuse_file_info *fi);
void folder_ops_getattr(fuse_req_t req, Node n);
void folder_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi);
void folder_ops_read(fuse_req_t req, size_t size, off_t off,
                     struct fuse_file_info *fi);
void folder_ops_write(fuse_req_t req, const char *buf, size_t size,
                      off_t off, struct fuse_file_info *fi);
void folder_ops_flush(fuse_req_t req, struct fuse_file_info *fi);
void folder_ops_release(fuse_req_t req, struct fuse_file_info *fi);
void folder_ops_setattr(fuse_req_t req, Node n, struct stat *attr,
                        int to_set, struct fuse_file_info *fi);

void folder_ops_getxattr(fuse_req_t req, Node n, const char *name,
                         size_t size);
void folder_ops_setxattr(fuse_req_t req, Node n, const char *name,
                         const char *value, size_t size);
void folder_ops_listxattr(fuse_req_t req, Node n, size_t size);

#endif
