/* ro_ops.h - the read-only mount (read_only = yes, mailfs mount
 * --read-only), made for reading fast.
 *
 * The kernel is asked to send no OPEN at all (FUSE_CAP_NO_OPEN_SUPPORT:
 * the first OPEN is answered ENOSYS), so a file read from its page cache
 * never reaches the daemon; FLUSH, which close() would still send, is
 * answered ENOSYS once too.  Reads then come without an open handle and
 * are served by inode.  Without OPEN the kernel sends no RELEASE either,
 * not even for files it CREATEs (kernel 6.18); only FLUSH would be left to
 * tell that a file written into outbox/ or a folder is complete, and FLUSH
 * comes at every close() of any file (a round trip per file read, the cost
 * this mode is for avoiding), before the first write of a shell redirect,
 * and at the close of every duplicate: this mount takes no writes.  Every change is refused with
 * EROFS, and extended attributes are switched off (the first GETXATTR or
 * LISTXATTR is answered ENOSYS), so that `ls -l` stops asking the daemon
 * for them file by file. */
#ifndef MAILFS_RO_OPS_H
#define MAILFS_RO_OPS_H

#include "fs/node.h"

void ro_ops_init(void *userdata, struct fuse_conn_info *conn);
/* Answers an OPEN on a read-only mount (FALSE: not read-only, or the
 * kernel cannot do without OPEN; the caller answers). */
gboolean ro_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi);
/* Answers a READ that came with no open handle. */
void ro_ops_read(fuse_req_t req, Node n, size_t size, off_t off);
/* On a read-only mount, answers EROFS and returns TRUE. */
gboolean ro_ops_refuse(fuse_req_t req);
/* Without OPEN, close() still sends FLUSH, with nothing to do: answers
 * ENOSYS (no more FLUSH) and returns TRUE. */
gboolean ro_ops_no_flush(fuse_req_t req);
/* On a read-only mount, answers ENOSYS (xattrs are off) and returns TRUE. */
gboolean ro_ops_no_xattr(fuse_req_t req);

#endif
