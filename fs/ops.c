/* ops.c - FUSE low-level operations: the mail tree (root, folders,
 * message files) mapped onto the account's tree and listings; requests for
 * outbox/ are handed to outbox_ops.c. */
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/ctl_ops.h"
#include "fs/errmap.h"
#include "fs/folder_ops.h"
#include "fs/node.h"
#include "fs/outbox_ops.h"
#include "fs/ro_ops.h"
#include "fs/staged.h"
#include "fs/view_ops.h"
#include "cache/outbox_msg.h"
#include "net/mf_error.h"

/* Messages never change (node.h); directories change when mail
 * arrives. */
#define MSG_TIMEOUT NODE_MSG_TIMEOUT
#define DIR_TIMEOUT 1.0

/* INO as a node, a folder renamed through this mount led to its id now
 * (the kernel may name it by its old inode for a moment). */
static Node
ops_node(fuse_req_t req, fuse_ino_t ino)
{
	Node n = node_decode(ino);

	if (n.kind == NODE_FOLDER)
		n.id = account_folder_now(node_fs(req)->account, n.id);
	return n;
}

/* When a folder's contents last changed, as its mtime shows. */
static gint64
ops_folder_mtime(MfFs *fs, gint64 folder_id)
{
	return MAX(account_folder_mtime(fs->account, folder_id),
	           staged_folder_mtime(fs, folder_id));
}

static void
ops_dir_attr(MfFs *fs, fuse_ino_t ino, struct stat *st)
{
	Node n = node_decode(ino);
	gint64 mtime = ops_folder_mtime(fs, n.kind == NODE_FOLDER ? n.id : 0);

	node_dir_attr(fs, ino, node_mail_writable(fs), mtime, st);
}

static void
ops_reply_dir_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { .ino = ino, .attr_timeout = DIR_TIMEOUT,
	                              .entry_timeout = DIR_TIMEOUT };
	ops_dir_attr(node_fs(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

/* Replies with the message NAME of FOLDER_ID; FALSE (nothing replied) if
 * there is none. */
static gboolean
ops_lookup_msg(fuse_req_t req, gint64 folder_id, const char *name)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	struct fuse_entry_param e;
	gint64 gen;
	guint32 uid;

	if (!node_find_message(fs, folder_id, name, &gen, &uid))
		return FALSE;
	MfListing *l = account_listing(fs->account, folder_id, &err);
	const MfRemoteMessage *m = l ? listing_find(l, uid) : NULL;
	if (m && listing_generation(l) == gen)
		node_msg_entry(fs, l, m, &e);
	listing_unref(l);
	if (!m || e.ino != node_msg_ino(gen, uid))
		return FALSE;
	fuse_reply_entry(req, &e);
	return TRUE;
}

/* A name that is a file's rather than a folder's: no reason to ask the
 * server for the folder list anew when it is missing. */
static gboolean
ops_file_like(const char *name)
{
	return g_str_has_suffix(name, ".eml") ||
	       outbox_msg_is_scratch_name(name);
}

static gboolean
ops_is_outbox(Node n)
{
	return n.kind == NODE_OUTBOX || n.kind == NODE_FAILED ||
	       n.kind == NODE_SPOOL || n.kind == NODE_SPOOL_ERROR;
}

static void
ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	MfFs *fs = node_fs(req);
	Node n = ops_node(req, parent);

	if (n.kind == NODE_ROOT && fs->outbox && strcmp(name, "outbox") == 0) {
		struct fuse_entry_param e = { .ino = INO_OUTBOX,
		                              .attr_timeout = DIR_TIMEOUT,
		                              .entry_timeout = DIR_TIMEOUT };
		node_dir_attr(fs, INO_OUTBOX, TRUE, 0, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	if (fs->outbox && (n.kind == NODE_OUTBOX || n.kind == NODE_FAILED)) {
		outbox_ops_lookup(req, n, name);
		return;
	}
	if (view_ops_owns_lookup(n, name)) {
		view_ops_lookup(req, n, name);
		return;
	}
	if ((n.kind == NODE_ROOT && strcmp(name, CTL_DIR_NAME) == 0) ||
	    (n.kind == NODE_CTL && n.id == INO_CTL_DIR)) {
		ctl_ops_lookup(req, n, name);
		return;
	}
	if (n.kind != NODE_ROOT && n.kind != NODE_FOLDER) {
		fuse_reply_err(req, n.kind == NODE_NONE ? ENOENT : ENOTDIR);
		return;
	}
	struct fuse_entry_param e = { 0 };
	gint64 parent_id = n.kind == NODE_ROOT ? 0 : n.id;

	/* A file being written shows in place of a message of its name. */
	if (n.kind == NODE_FOLDER &&
	    (e.ino = staged_lookup(fs, n.id, name, &e.attr))) {
		fuse_reply_entry(req, &e);
		return;
	}
	if (n.kind == NODE_FOLDER && ops_lookup_msg(req, n.id, name))
		return;
	gint64 id = n.kind == NODE_FOLDER && ops_file_like(name)
	            ? account_find_folder_cached(fs->account, parent_id, name)
	            : account_find_folder(fs->account, parent_id, name);
	if (id)
		ops_reply_dir_entry(req, node_folder_ino(id));
	else
		fuse_reply_err(req, ENOENT);
}

static gboolean
ops_folder_exists(MfFs *fs, gint64 id)
{
	MfTree *t = account_tree(fs->account);
	gboolean found = tree_folder(t, id) != NULL;
	tree_unref(t);
	return found;
}

static void
ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	Node n = ops_node(req, ino);
	g_autoptr(GError) err = NULL;
	MfRemoteMessage m;
	struct stat st;

	if (fs->outbox && ops_is_outbox(n)) {
		outbox_ops_getattr(req, n, ino);
		return;
	}
	if (n.kind == NODE_CTL) {
		ctl_ops_getattr(req, n);
		return;
	}
	if (n.kind == NODE_VIEW) {
		view_ops_getattr(req, n);
		return;
	}
	StagedHandle *h = n.kind == NODE_MSG ? folder_ops_hold(fs, fi) : NULL;
	if (h || n.kind == NODE_STAGED) {
		/* fstat() of a message being replaced: the new bytes. */
		folder_ops_getattr(req, h ? staged_handle_id(h) : n.id);
		if (h)
			node_handle_put(fs, h);
		return;
	}
	if (n.kind == NODE_ROOT ||
	    (n.kind == NODE_FOLDER && ops_folder_exists(fs, n.id))) {
		ops_dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, DIR_TIMEOUT);
		return;
	}
	if (n.kind != NODE_MSG) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!account_message(fs->account, n.id, n.uid, &m, &err)) {
		node_reply_error(req, err);
		return;
	}
	node_file_attr(fs, ino, node_mail_writable(fs) ? 0644 : 0444, m.size,
	               m.date, &st);
	fuse_reply_attr(req, &st, MSG_TIMEOUT);
}

static void
ops_add_folders(MfFs *fs, GArray *dir, gint64 parent)
{
	MfTree *t = account_tree(fs->account);
	g_autoptr(GPtrArray) kids = tree_children(t, parent);

	for (guint i = 0; i < kids->len; i++) {
		const MfFolder *f = kids->pdata[i];
		struct fuse_entry_param e = {
			.ino = node_folder_ino(f->id),
			.attr_timeout = DIR_TIMEOUT, .entry_timeout = DIR_TIMEOUT,
		};
		ops_dir_attr(fs, e.ino, &e.attr);
		dirlist_add_plus(dir, f->leaf, &e);
	}
	tree_unref(t);
}

/* FOLDER_ID's listing for an open directory (*L, taken by the caller);
 * FALSE with ERR if it cannot be had. */
static gboolean
ops_folder_listing(MfFs *fs, gint64 folder_id, MfListing **l, GError **err)
{
	*l = account_listing(fs->account, folder_id, err);
	return *l != NULL;
}

/* Fills DIR for node N, and *L (NULL unless N is a folder) with the
 * listing whose messages follow DIR's entries, but for those named like
 * an entry from *SKIP_FROM on; FALSE with *ERRNUM when N is no
 * directory. */
static gboolean
ops_fill_dir(MfFs *fs, Node n, GArray *dir, MfListing **l,
             guint *skip_from, int *errnum)
{
	g_autoptr(GError) err = NULL;

	if (n.kind == NODE_ROOT) {
		/* .mailfs/ is found by name but not listed, so that find and
		 * grep -r walk mail only. */
		if (fs->outbox)
			dirlist_add(dir, "outbox", INO_OUTBOX, S_IFDIR);
		ops_add_folders(fs, dir, 0);
	} else if (n.kind == NODE_CTL && n.id == INO_CTL_DIR) {
		ctl_ops_fill(fs, dir);
		view_ops_fill_ctl(dir);
	} else if (n.kind == NODE_VIEW) {
		return view_ops_fill(fs, n, dir, errnum);
	} else if (fs->outbox && (n.kind == NODE_OUTBOX ||
	                          n.kind == NODE_FAILED)) {
		outbox_ops_fill(fs, n, dir);
	} else if (n.kind == NODE_FOLDER && ops_folder_exists(fs, n.id)) {
		ops_add_folders(fs, dir, n.id);
		*skip_from = dir->len;
		staged_fill(fs, n.id, dir);
		if (!ops_folder_listing(fs, n.id, l, &err) &&
		    !g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND)) {
			*errnum = errmap_to_errno(err);
			return FALSE;
		}
	} else {
		*errnum = n.kind == NODE_NONE || n.kind == NODE_FOLDER
		          ? ENOENT : ENOTDIR;
		return FALSE;
	}
	return TRUE;
}

static void
ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	GArray *dir = dirlist_new();
	MfListing *l = NULL;
	guint skip_from = 0;
	int errnum = 0;

	dirlist_add(dir, ".", ino, S_IFDIR);
	dirlist_add(dir, "..", INO_ROOT, S_IFDIR);
	if (!ops_fill_dir(node_fs(req), ops_node(req, ino), dir, &l,
	                  &skip_from, &errnum)) {
		g_array_unref(dir);
		listing_unref(l);
		fuse_reply_err(req, errnum);
		return;
	}
	DirSnap *d = dirsnap_new(dir, l, skip_from);
	node_handle_track(node_fs(req), d, (GDestroyNotify)dirsnap_free);
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void
ops_readdir_any(fuse_req_t req, struct fuse_file_info *fi, size_t size,
                off_t off, gboolean plus)
{
	MfFs *fs = node_fs(req);
	DirSnap *d = (DirSnap *)(uintptr_t)fi->fh;

	if (!node_handle_get(fs, d)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	dirsnap_reply(req, d, size, off, plus);
	node_handle_put(fs, d);
}

static void
ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
            struct fuse_file_info *fi)
{
	ops_readdir_any(req, fi, size, off, FALSE);
}

static void
ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                struct fuse_file_info *fi)
{
	ops_readdir_any(req, fi, size, off, TRUE);
}

static void
ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	node_handle_release(node_fs(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void
ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	Node n = node_decode(ino);
	g_autoptr(GError) err = NULL;

	if (ro_ops_open(req, n, fi))
		return;
	if (fs->outbox && (n.kind == NODE_SPOOL || n.kind == NODE_SPOOL_ERROR)) {
		outbox_ops_open(req, n, fi);
		return;
	}
	if (n.kind == NODE_CTL) {
		ctl_ops_open(req, n, fi);
		return;
	}
	if (n.kind == NODE_VIEW) {
		view_ops_open(req, n, fi);
		return;
	}
	if (n.kind != NODE_MSG && n.kind != NODE_STAGED) {
		fuse_reply_err(req, n.kind == NODE_NONE ? ENOENT : EISDIR);
		return;
	}
	if (n.kind == NODE_STAGED || (fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & O_TRUNC)) {
		folder_ops_open(req, n, fi);
		return;
	}
	int fd = account_open_message(fs->account, n.id, n.uid, &err);
	if (fd < 0) {
		g_debug("open of message %u: %s", n.uid, err->message);
		node_reply_error(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fi->noflush = 1; /* nothing to do at close: spare the round trip */
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

/* Holds the open handle of FI for a request (which then must put it);
 * FALSE, with EBADF replied, if it was released meanwhile. */
static gboolean
ops_hold(fuse_req_t req, struct fuse_file_info *fi)
{
	if (node_handle_get(node_fs(req), (gpointer)(uintptr_t)fi->fh))
		return TRUE;
	fuse_reply_err(req, EBADF);
	return FALSE;
}

static void
ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
         struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	Node n = node_decode(ino);
	NodeKind kind = n.kind;

	if (kind == NODE_VIEW) {
		view_ops_read(req, n, size, off, fi);
		return;
	}
	if (fi->fh == 0 && node_fs(req)->no_open) {
		ro_ops_read(req, n, size, off);
		return;
	}
	if (kind == NODE_CTL) {
		ctl_ops_read(req, n, size, off, fi);
		return;
	}
	MfFs *fs = node_fs(req); /* REQ is gone once answered */
	StagedHandle *h = folder_ops_hold(fs, fi);
	if (h) {
		folder_ops_read(req, h, size, off);
		node_handle_put(fs, h);
		return;
	}
	if (kind != NODE_MSG) {
		if (!ops_hold(req, fi))
			return;
		outbox_ops_read(req, size, off, fi);
		node_handle_put(fs, (gpointer)(uintptr_t)fi->fh);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void
ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
          off_t off, struct fuse_file_info *fi)
{
	Node n = node_decode(ino);

	MfFs *fs = node_fs(req); /* REQ is gone once answered */
	StagedHandle *h = NULL;

	if (n.kind == NODE_CTL) {
		ctl_ops_write(req, n, buf, size, fi);
	} else if (ro_ops_refuse(req)) {
		return;
	} else if ((h = folder_ops_hold(fs, fi))) {
		folder_ops_write(req, h, buf, size, off);
		node_handle_put(fs, h);
	} else if (n.kind != NODE_SPOOL) {
		fuse_reply_err(req, EACCES);
	} else if (ops_hold(req, fi)) {
		outbox_ops_write(req, buf, size, off, fi);
		node_handle_put(fs, (gpointer)(uintptr_t)fi->fh);
	}
}

static void
ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	Node n = node_decode(ino);

	if (ro_ops_no_flush(req))
		return;
	MfFs *fs = node_fs(req); /* REQ is gone once answered */
	StagedHandle *h = folder_ops_hold(fs, fi);
	if (h) {
		folder_ops_flush(req, h);
		node_handle_put(fs, h);
		return;
	}
	if (n.kind != NODE_SPOOL && n.kind != NODE_SPOOL_ERROR) {
		fuse_reply_err(req, 0);
		return;
	}
	if (!ops_hold(req, fi))
		return;
	outbox_ops_flush(req, fi);
	node_handle_put(fs, (gpointer)(uintptr_t)fi->fh);
}

static void
ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	Node n = node_decode(ino);

	if (n.kind == NODE_SPOOL || n.kind == NODE_SPOOL_ERROR) {
		outbox_ops_release(req, fi);
		return;
	}
	if (n.kind == NODE_CTL) {
		ctl_ops_release(req, fi);
		return;
	}
	if (n.kind == NODE_VIEW) {
		view_ops_release(req, fi);
		return;
	}
	MfFs *fs = node_fs(req);
	StagedHandle *h = folder_ops_hold(fs, fi);
	if (h) {
		node_handle_put(fs, h); /* the open's own hold remains */
		folder_ops_release(req, h);
		return;
	}
	if (fi->fh != 0) /* 0: the OPEN answered ENOSYS (ro_ops.c) */
		close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void
ops_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096,
	                      .f_namemax = 255 };
	fuse_reply_statfs(req, &sv);
}

static void
ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
           struct fuse_file_info *fi)
{
	Node n = ops_node(req, parent);

	if (ro_ops_refuse(req))
		return;
	if (node_fs(req)->outbox && n.kind == NODE_OUTBOX)
		outbox_ops_create(req, n, name, fi);
	else if (n.kind == NODE_FOLDER)
		folder_ops_create(req, n, name, fi);
	else
		fuse_reply_err(req, EACCES);
}

static void
ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
          dev_t rdev)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	Node n = ops_node(req, parent);

	if (ro_ops_refuse(req))
		return;
	if (n.kind == NODE_ROOT || n.kind == NODE_FOLDER)
		folder_ops_mkdir(req, n, name);
	else
		fuse_reply_err(req, EACCES);
}

static void
ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	Node n = ops_node(req, parent);

	if (ro_ops_refuse(req))
		return;
	if (node_fs(req)->outbox && (n.kind == NODE_OUTBOX ||
	                             n.kind == NODE_FAILED))
		outbox_ops_unlink(req, n, name);
	else if (n.kind == NODE_FOLDER)
		folder_ops_unlink(req, n, name);
	else
		fuse_reply_err(req, EACCES);
}

static void
ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	Node n = ops_node(req, parent);

	if (ro_ops_refuse(req))
		return;
	if (n.kind == NODE_ROOT || n.kind == NODE_FOLDER)
		folder_ops_rmdir(req, n, name);
	else
		fuse_reply_err(req, EACCES);
}

static void
ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
           fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	Node from = ops_node(req, parent), to = ops_node(req, newparent);

	if (ro_ops_refuse(req))
		return;
	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (node_fs(req)->outbox && (from.kind == NODE_OUTBOX ||
	                             from.kind == NODE_FAILED))
		outbox_ops_rename(req, from, name, to, newname);
	else if (from.kind == NODE_ROOT || from.kind == NODE_FOLDER)
		folder_ops_rename(req, from, name, to, newname);
	else
		fuse_reply_err(req, EACCES);
}

static void
ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
            struct fuse_file_info *fi)
{
	Node n = node_decode(ino);
	MfFs *fs = node_fs(req);
	StagedHandle *h = NULL;

	if (n.kind != NODE_CTL && ro_ops_refuse(req))
		return;
	if (fs->outbox && ops_is_outbox(n)) {
		outbox_ops_setattr(req, n, ino, attr, to_set);
	} else if (n.kind == NODE_CTL) {
		ctl_ops_setattr(req, n, attr, to_set);
	} else if (n.kind == NODE_MSG && (h = folder_ops_hold(fs, fi))) {
		folder_ops_setattr_staged(req, staged_handle_id(h), attr,
		                          to_set);
		node_handle_put(fs, h);
	} else if (n.kind == NODE_STAGED) {
		folder_ops_setattr_staged(req, n.id, attr, to_set);
	} else if (n.kind == NODE_MSG && (to_set & FUSE_SET_ATTR_SIZE)) {
		folder_ops_refuse_in_place(req, n);
	} else {
		/* chmod, chown, touch of a folder or a message: nothing
		 * they could change is kept, and tools (tar, rsync, cp -p)
		 * must not fail on it. */
		ops_getattr(req, ino, NULL);
	}
}

static void
ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	Node n = node_decode(ino);

	if (ro_ops_no_xattr(req))
		return;
	/* Only user.* names are kept.  ENOTSUP for the others (ls -l asks
	 * security.selinux and system.posix_acl_access of every file) makes
	 * ls, cp and rsync stop asking on this file system after the first
	 * file, where ENODATA would cost a request per file. */
	if (!g_str_has_prefix(name, "user.")) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (node_fs(req)->outbox && ops_is_outbox(n))
		outbox_ops_getxattr(req, n, name, size);
	else
		folder_ops_getxattr(req, n, name, size);
}

static void
ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
             const char *value, size_t size, int flags)
{
	Node n = node_decode(ino);

	if (ro_ops_refuse(req))
		return;
	if (node_fs(req)->outbox && ops_is_outbox(n))
		outbox_ops_setxattr(req, n, name, value, size);
	else if (n.kind == NODE_MSG || n.kind == NODE_STAGED)
		folder_ops_setxattr(req, n, name, value, size);
	else
		fuse_reply_err(req, ENOTSUP); /* none kept: see folder_ops */
}

static void
ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	Node n = node_decode(ino);

	if (ro_ops_refuse(req))
		return;
	if (node_fs(req)->outbox && ops_is_outbox(n))
		outbox_ops_removexattr(req, n, name);
	else if (n.kind == NODE_MSG || n.kind == NODE_STAGED)
		folder_ops_removexattr(req, n, name);
	else
		fuse_reply_err(req, ENOTSUP);
}

static void
ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
            const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
         const char *newname)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_readlink(fuse_req_t req, fuse_ino_t ino)
{
	Node n = node_decode(ino);

	if (n.kind == NODE_VIEW)
		view_ops_readlink(req, n);
	else
		fuse_reply_err(req, EINVAL);
}

static void
ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	Node n = node_decode(ino);

	if (ro_ops_no_xattr(req))
		return;
	if (node_fs(req)->outbox && ops_is_outbox(n))
		outbox_ops_listxattr(req, n, size);
	else
		folder_ops_listxattr(req, n, size);
}

/* READDIRPLUS for every page of a directory, not only the first (the
 * kernel's default guesses from stat calls): grep -r and find then get
 * each message's entry with its name and need no LOOKUP per file. */
static void
ops_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	ro_ops_init(userdata, conn);
}

const struct fuse_lowlevel_ops ops_table = {
	.init = ops_init,
	.lookup = ops_lookup,
	.getattr = ops_getattr,
	.setattr = ops_setattr,
	.opendir = ops_opendir,
	.readdir = ops_readdir,
	.readdirplus = ops_readdirplus,
	.releasedir = ops_releasedir,
	.open = ops_open,
	.read = ops_read,
	.write = ops_write,
	.flush = ops_flush,
	.release = ops_release,
	.statfs = ops_statfs,
	.create = ops_create,
	.mknod = ops_mknod,
	.mkdir = ops_mkdir,
	.unlink = ops_unlink,
	.rmdir = ops_rmdir,
	.rename = ops_rename,
	.getxattr = ops_getxattr,
	.setxattr = ops_setxattr,
	.listxattr = ops_listxattr,
	.removexattr = ops_removexattr,
	.symlink = ops_symlink,
	.link = ops_link,
	.readlink = ops_readlink,
};
