/* ro_ops.c - the read-only mount: no OPEN, reads by inode, changes refused
 * (see ro_ops.h). */
#include "fs/ro_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fs/ctl_ops.h"
#include "fs/outbox_ops.h"

void
ro_ops_init(void *userdata, struct fuse_conn_info *conn)
{
	MfFs *fs = userdata;

	if (!fs->read_only)
		return;
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		fs->no_open = TRUE;
	}
	/* Status and log show a new size and time with each new text; the
	 * kernel must then drop what it cached of them. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
}

gboolean
ro_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);

	if (!fs->read_only)
		return FALSE;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return TRUE;
	}
	if (!fs->no_open)
		return FALSE;
	fuse_reply_err(req, ENOSYS); /* no more OPEN on this mount */
	return TRUE;
}

static void
ro_ops_read_msg(fuse_req_t req, Node n, size_t size, off_t off)
{
	g_autoptr(GError) err = NULL;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	int fd = account_open_message(node_fs(req)->account, n.id, n.uid, &err);

	if (fd < 0) {
		node_reply_error(req, err);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	close(fd);
}

void
ro_ops_read(fuse_req_t req, Node n, size_t size, off_t off)
{
	MfFs *fs = node_fs(req);
	struct fuse_file_info none = { 0 };

	switch (n.kind) {
	case NODE_MSG:
		ro_ops_read_msg(req, n, size, off);
		break;
	case NODE_CTL:
		ctl_ops_read(req, n, size, off, &none);
		break;
	case NODE_SPOOL:
	case NODE_SPOOL_ERROR:
		if (fs->outbox) {
			outbox_ops_read_ino(req, n, size, off);
			break;
		}
		/* fall through */
	case NODE_NONE:
	case NODE_STAGED:
		fuse_reply_err(req, ENOENT);
		break;
	default:
		fuse_reply_err(req, EISDIR);
	}
}

/* Answers ERRNUM when WHEN holds; says whether it did. */
static gboolean
ro_ops_answer_if(fuse_req_t req, gboolean when, int errnum)
{
	if (when)
		fuse_reply_err(req, errnum);
	return when;
}

gboolean
ro_ops_refuse(fuse_req_t req)
{
	return ro_ops_answer_if(req, node_fs(req)->read_only, EROFS);
}

gboolean
ro_ops_no_flush(fuse_req_t req)
{
	return ro_ops_answer_if(req, node_fs(req)->no_open, ENOSYS);
}

gboolean
ro_ops_no_xattr(fuse_req_t req)
{
	return ro_ops_answer_if(req, node_fs(req)->read_only, ENOSYS);
}
