/* view_ops.h - read-only views of mail under the reserved .mailfs/:
 *   .mailfs/view/FOLDER/            one directory per folder (the folder
 *                                   tree mirrored; subfolders inside)
 *     summary.tsv, summary.jsonl    one line per message: name, arrival
 *                                   date, sender, subject, flags, size,
 *                                   attachments (header fields only)
 *     NAME.txt                      message NAME decoded as text
 *     NAME.parts/                   its attachments by file name
 *   .mailfs/search/QUERY/           the messages QUERY (search_query.h)
 *                                   finds, as links to their files;
 *                                   .mailfs/search/ lists recent queries
 * NAME is the message's file name in FOLDER ("12.3.eml"): the one rule
 * from a message to its views is "append .txt" (or ".parts").  A
 * subfolder whose name is one of these is not shown in the view tree (it
 * stays in the folder tree, which views never touch).
 *
 * Inodes (bit 63 set, see node.h): SUB << 55 | GEN << 32 | ID, where
 * for GEN 0 SUB is what ID is (the view root, a folder's view directory,
 * its summaries, search/, a query, a result link) and for a message
 * generation GEN, ID is the UID and SUB
 * the view (0 text, 1 parts/, 2 + i attachment i).  ops.c hands every
 * request on these inodes (NODE_VIEW), and the lookup of "view" in
 * .mailfs/, here.  Contents are made when first looked up (so that
 * sizes are exact) and kept: message views (they never change) in a
 * cache of bounded size, summaries until the folder's listing changes. */
#ifndef MAILFS_VIEW_OPS_H
#define MAILFS_VIEW_OPS_H

#include "fs/node.h"

#define VIEW_DIR_NAME "view"
#define VIEW_SEARCH_NAME "search"

/* TRUE if a lookup of NAME in PARENT belongs here. */
gboolean view_ops_owns_lookup(Node parent, const char *name);
void view_ops_lookup(fuse_req_t req, Node parent, const char *name);
void view_ops_getattr(fuse_req_t req, Node n);
/* Adds the entries of .mailfs/ that are views. */
void view_ops_fill_ctl(GArray *dir);
/* Fills DIR for view directory N; FALSE with *ERRNUM if it is none. */
gboolean view_ops_fill(MfFs *fs, Node n, GArray *dir, int *errnum);
void view_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi);
/* Also with no open handle (read_only = yes): by inode. */
void view_ops_read(fuse_req_t req, Node n, size_t size, off_t off,
                   struct fuse_file_info *fi);
void view_ops_release(fuse_req_t req, struct fuse_file_info *fi);
/* The target of a result link of .mailfs/search/. */
void view_ops_readlink(fuse_req_t req, Node n);

void view_ops_init(MfFs *fs);
void view_ops_cleanup(MfFs *fs);

#endif
