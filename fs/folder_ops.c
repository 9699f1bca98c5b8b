/* folder_ops.c - the changing operations of the mail tree: message
 * removal, renames and moves, flags, files written into folders, and
 * folder creation, removal and renaming. */
#include "fs/folder_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/account_change.h"
#include "cache/account_write.h"
#include "fs/ctl_ops.h"
#include "fs/errmap.h"
#include "fs/inval.h"
#include "net/mf_error.h"

/* The largest file appended as a message (read whole to fix line ends). */
#define STAGED_MAX (64u << 20)

void
folder_ops_init(MfFs *fs, const char *staging)
{
	staged_init(fs, staging);
}

void
folder_ops_cleanup(MfFs *fs)
{
	staged_cleanup(fs);
}

/* FALSE (and the reply sent) when the account's mail cannot be changed
 * (POP3): every change is refused alike, before anything is recorded. */
static gboolean
folder_ops_writable(fuse_req_t req)
{
	if (node_mail_writable(node_fs(req)))
		return TRUE;
	fuse_reply_err(req, EACCES);
	return FALSE;
}

/* Replies to a change: 0, or ERR's errno with a log line naming WHAT. */
static void
folder_ops_reply(fuse_req_t req, gboolean ok, const GError *err,
                 const char *what)
{
	if (ok) {
		fuse_reply_err(req, 0);
		return;
	}
	g_message("%s: %s", what, err ? err->message : "failed");
	node_reply_error(req, err);
}

static gint64
folder_ops_parent_id(Node n)
{
	return n.kind == NODE_FOLDER ? n.id : 0;
}

/* The folder called NAME in PARENT, or 0. */
static gint64
folder_ops_child(MfFs *fs, Node parent, const char *name)
{
	return account_find_folder(fs->account, folder_ops_parent_id(parent),
	                           name);
}

/* Has the kernel forget NAME in PARENT (queued: not from inside a
 * request on that directory). */
static void
folder_ops_forget(MfFs *fs, Node parent, const char *name)
{
	if (fs->inval)
		inval_entry(fs->inval, parent.kind == NODE_FOLDER
		            ? node_folder_ino(parent.id) : INO_ROOT, name);
}

/* A name at the mount root that is mailfs's own (outbox/, .mailfs/). */
static gboolean
folder_ops_reserved(MfFs *fs, Node parent, const char *name)
{
	return parent.kind == NODE_ROOT &&
	       ((fs->outbox && strcmp(name, "outbox") == 0) ||
	        strcmp(name, CTL_DIR_NAME) == 0);
}

/* --- messages ----------------------------------------------------------- */

void
folder_ops_unlink(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	gint64 gen;
	guint32 uid;

	if (!folder_ops_writable(req))
		return;
	if (parent.kind != NODE_FOLDER) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (staged_unlink(fs, parent.id, name)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (!node_find_message(fs, parent.id, name, &gen, &uid)) {
		fuse_reply_err(req, folder_ops_child(fs, parent, name) ? EISDIR
		                                                        : ENOENT);
		return;
	}
	gboolean ok = account_remove_message(fs->account, gen, uid,
	                                     fs->expunge, &err);
	folder_ops_reply(req, ok, err, name);
}

/* Renames message NAME (GEN, UID) of folder PARENT_ID to NEWNAME in
 * NEW_ID: within a folder only the name changes (here, not on the
 * server); to another folder it moves.  What had NEWNAME there is
 * replaced. */
static gboolean
folder_ops_rename_message(MfFs *fs, gint64 parent_id, gint64 gen,
                          guint32 uid, gint64 new_id, const char *newname,
                          GError **err)
{
	gint64 rgen = 0;
	guint32 ruid = 0;

	staged_unlink(fs, new_id, newname);
	if (node_find_message(fs, new_id, newname, &rgen, &ruid) &&
	    rgen == gen && ruid == uid)
		return TRUE; /* the same file */
	if (new_id != parent_id)
		return account_move_message(fs->account, gen, uid, new_id,
		                            newname, rgen, ruid, err);
	if (!account_name_message(fs->account, gen, uid, newname, err))
		return FALSE;
	return !ruid || account_remove_message(fs->account, rgen, ruid,
	                                       fs->expunge, err);
}

static void
folder_ops_rename_folder(fuse_req_t req, gint64 folder, Node newparent,
                         const char *newname)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;

	if (folder_ops_reserved(fs, newparent, newname)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	gboolean ok = account_rename_folder(fs->account, folder,
	                                    folder_ops_parent_id(newparent),
	                                    newname, &err);
	folder_ops_reply(req, ok, err, newname);
	/* The kernel keeps the old folder's inode under the new name; the
	 * server's folder there is another one (ids follow names). */
	if (ok)
		folder_ops_forget(fs, newparent, newname);
}

void
folder_ops_rename(fuse_req_t req, Node parent, const char *name,
                  Node newparent, const char *newname)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	gboolean found = FALSE;
	gint64 gen;
	guint32 uid;

	if (!folder_ops_writable(req))
		return;
	if (newparent.kind != NODE_FOLDER && newparent.kind != NODE_ROOT) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	gint64 folder = folder_ops_child(fs, parent, name);
	if (folder) {
		folder_ops_rename_folder(req, folder, newparent, newname);
		return;
	}
	if (parent.kind != NODE_FOLDER) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (newparent.kind != NODE_FOLDER) {
		fuse_reply_err(req, EACCES); /* the root holds no messages */
		return;
	}
	gboolean ok = staged_rename(fs, parent.id, name, newparent.id, newname,
	                            &found, &err);
	if (!found && !node_find_message(fs, parent.id, name, &gen, &uid)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!found)
		ok = folder_ops_rename_message(fs, parent.id, gen, uid,
		                               newparent.id, newname, &err);
	folder_ops_reply(req, ok, err, newname);
	/* Moved to another folder, a message is another inode there; the
	 * kernel would keep the old one under the new name. */
	if (ok && !found && newparent.id != parent.id)
		folder_ops_forget(fs, newparent, newname);
}

void
folder_ops_mkdir(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	struct fuse_entry_param e = { .attr_timeout = 1.0,
	                              .entry_timeout = 1.0 };

	if (!folder_ops_writable(req))
		return;
	if (folder_ops_reserved(fs, parent, name)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	if (parent.kind == NODE_ROOT && strcmp(name, "outbox") == 0) {
		g_message("mkdir outbox: the name is kept for the outbox (set "
		          "smtp); a server folder of that name shows as "
		          "outbox_");
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!account_create_folder(fs->account, folder_ops_parent_id(parent),
	                           name, &err)) {
		node_reply_error(req, err);
		return;
	}
	gint64 id = folder_ops_child(fs, parent, name);
	if (!id) {
		fuse_reply_err(req, EIO);
		return;
	}
	e.ino = node_folder_ino(id);
	node_dir_attr(fs, e.ino, TRUE, 0, &e.attr);
	fuse_reply_entry(req, &e);
}

void
folder_ops_rmdir(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	gint64 id = folder_ops_child(fs, parent, name);

	if (!folder_ops_writable(req))
		return;
	if (!id) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	gboolean ok = account_delete_folder(fs->account, id, &err);
	if (!ok)
		node_reply_error(req, err);
	else
		fuse_reply_err(req, 0);
}

/* --- files written into folders ------------------------------------------- */

static void
folder_ops_reply_handle(fuse_req_t req, StagedHandle *h,
                        struct fuse_file_info *fi, gboolean created)
{
	MfFs *fs = node_fs(req);
	struct fuse_entry_param e = { .attr_timeout = 0.0,
	                              .entry_timeout = 0.0 };

	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* its bytes are ours to keep: no page cache */
	if (!created) {
		if (fuse_reply_open(req, fi) != 0)
			staged_release(fs, h);
		return;
	}
	staged_getattr(fs, staged_handle_id(h), &e.attr);
	e.ino = e.attr.st_ino;
	if (fuse_reply_create(req, &e, fi) != 0)
		staged_release(fs, h);
}

void
folder_ops_create(fuse_req_t req, Node parent, const char *name,
                  struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;

	if (parent.kind != NODE_FOLDER || !node_mail_writable(fs) ||
	    !(account_caps(fs->account) & MF_BACKEND_CAP_APPEND)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	StagedHandle *h = staged_create(fs, parent.id, name, &err);
	if (!h) {
		node_reply_error(req, err);
		return;
	}
	folder_ops_reply_handle(req, h, fi, TRUE);
}

/* A message opened for writing: a staged file that replaces it when it is
 * closed after a change, empty (O_TRUNC) or holding the message's bytes
 * (vim writes over a file it opened without O_TRUNC, then truncates it;
 * `>>` adds to it).  The message itself is never changed in place. */
static StagedHandle *
folder_ops_open_message(MfFs *fs, Node n, int flags, GError **err)
{
	gint64 folder_id;
	char buf[NODE_NAME_MAX];

	if (!account_generation_folder(fs->account, n.id, &folder_id, NULL)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "message is gone");
		return NULL;
	}
	MfListing *l = account_listing(fs->account, folder_id, err);
	const MfRemoteMessage *m = l ? listing_find(l, n.uid) : NULL;
	g_autofree char *name = m ? g_strdup(node_msg_name(l, m, buf)) : NULL;
	listing_unref(l);
	if (!name) {
		if (err && !*err)
			g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
			            "message is gone");
		return NULL;
	}
	int src = flags & O_TRUNC ? -1
	          : account_open_message(fs->account, n.id, n.uid, err);
	if (!(flags & O_TRUNC) && src < 0) {
		g_message("%s: cannot be opened for writing: %s", name,
		          (*err)->message);
		return NULL;
	}
	StagedHandle *h = staged_replace(fs, folder_id, name, src, flags, err);
	if (src >= 0)
		close(src);
	return h;
}

void
folder_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	StagedHandle *h = NULL;

	if (n.kind == NODE_STAGED)
		h = staged_open(fs, n.id, fi->flags, &err);
	else if (folder_ops_writable(req))
		h = folder_ops_open_message(fs, n, fi->flags, &err);
	else
		return;
	if (!h) {
		node_reply_error(req, err);
		return;
	}
	folder_ops_reply_handle(req, h, fi, FALSE);
}

StagedHandle *
folder_ops_hold(MfFs *fs, const struct fuse_file_info *fi)
{
	/* A message opened for reading has an fd as its handle, never one
	 * of the tracked pointers. */
	gpointer h = fi ? (gpointer)(uintptr_t)fi->fh : NULL;
	return h && node_handle_get_kind(fs, h, staged_handle_free) ? h : NULL;
}

void
folder_ops_read(fuse_req_t req, StagedHandle *h, size_t size, off_t off)
{
	g_autofree char *buf = g_malloc(size);
	ssize_t n = pread(h->fd, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void
folder_ops_write(fuse_req_t req, StagedHandle *h, const char *buf,
                 size_t size, off_t off)
{
	gboolean big = (guint64)off + size > STAGED_MAX;
	ssize_t n = big ? -1 : pwrite(h->fd, buf, size, off);

	if (n < 0) {
		fuse_reply_err(req, big ? EFBIG : errno);
		return;
	}
	staged_wrote(node_fs(req), h);
	fuse_reply_write(req, (size_t)n);
}

void
folder_ops_flush(fuse_req_t req, StagedHandle *h)
{
	g_autoptr(GError) err = NULL;

	if (staged_flush(node_fs(req), h, &err)) {
		fuse_reply_err(req, 0);
		return;
	}
	/* Not a message (yet): said once, when the file is let go. */
	if (!g_error_matches(err, MF_ERROR, MF_ERROR_BADMSG))
		g_warning("%s", err->message);
	node_reply_error(req, err);
}

void
folder_ops_release(fuse_req_t req, StagedHandle *h)
{
	staged_release(node_fs(req), h);
	fuse_reply_err(req, 0);
}

void
folder_ops_getattr(fuse_req_t req, gint64 id)
{
	struct stat sb;

	if (staged_getattr(node_fs(req), id, &sb))
		fuse_reply_attr(req, &sb, 0.0);
	else
		fuse_reply_err(req, ENOENT);
}

void
folder_ops_setattr_staged(fuse_req_t req, gint64 id, struct stat *attr,
                          int to_set)
{
	g_autoptr(GError) err = NULL;
	struct stat sb;

	if (staged_setattr(node_fs(req), id, attr, to_set, &sb, &err))
		fuse_reply_attr(req, &sb, 0.0);
	else
		node_reply_error(req, err);
}

void
folder_ops_refuse_in_place(fuse_req_t req, Node n)
{
	g_message("message %u: not truncated by name; open it for writing "
	          "(the new bytes then replace it)", n.uid);
	fuse_reply_err(req, EACCES);
}

/* --- flags ------------------------------------------------------------------ */

static gboolean
folder_ops_has_flags(MfFs *fs, Node n)
{
	return (n.kind == NODE_MSG || n.kind == NODE_STAGED) &&
	       (account_caps(fs->account) & MF_BACKEND_CAP_FLAGS);
}

void
folder_ops_getxattr(fuse_req_t req, Node n, const char *name, size_t size)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	gboolean found = FALSE;
	MfRemoteMessage m;

	if (!folder_ops_has_flags(fs, n) || strcmp(name, FLAGS_XATTR) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (n.kind == NODE_STAGED) {
		g_autofree char *flags = staged_get_flags(fs, n.id, &found);
		if (!flags)
			fuse_reply_err(req, found ? ENODATA : ENOENT);
		else
			node_reply_xattr(req, flags, strlen(flags), size);
		return;
	}
	if (!account_message(fs->account, n.id, n.uid, &m, &err)) {
		node_reply_error(req, err);
		return;
	}
	size_t len = m.flags ? strlen(m.flags) : 0;
	node_reply_xattr(req, m.flags, len, size);
}

/* FLAGS without \Recent, which only the server sets (a value read from
 * the xattr by an older mailfs, or another tool, may hold it); owned. */
static char *
folder_ops_settable_flags(const char *flags)
{
	g_auto(GStrv) words = g_strsplit_set(flags, " \t", -1);
	GString *out = g_string_new(NULL);

	for (guint i = 0; words[i]; i++) {
		if (!*words[i] || g_ascii_strcasecmp(words[i], "\\Recent") == 0)
			continue;
		if (out->len)
			g_string_append_c(out, ' ');
		g_string_append(out, words[i]);
	}
	return g_string_free(out, FALSE);
}

/* The flags a value of user.mailfs.flags sets, or NULL if it cannot be
 * one (characters IMAP flags cannot hold); owned. */
static char *
folder_ops_parse_flags(const char *value, size_t size)
{
	g_autofree char *flags = g_strndup(value, MIN(size, 4096));

	g_strstrip(flags);
	for (char *c = flags; *c; c++)
		if (*c == '(' || *c == ')' || *c == '"' ||
		    (unsigned char)*c < 0x20)
			return NULL;
	return folder_ops_settable_flags(flags);
}

static void
folder_ops_set_flags(fuse_req_t req, Node n, const char *flags)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;

	if (n.kind == NODE_STAGED) {
		gboolean ok = staged_set_flags(fs, n.id, *flags ? flags : NULL);
		fuse_reply_err(req, ok ? 0 : ENOENT);
		return;
	}
	gboolean ok = account_flag_message(fs->account, n.id, n.uid, flags,
	                                   &err);
	folder_ops_reply(req, ok, err, "flags");
}

void
folder_ops_setxattr(fuse_req_t req, Node n, const char *name,
                    const char *value, size_t size)
{
	MfFs *fs = node_fs(req);

	/* Attributes mailfs does not keep: ENOTSUP is what cp -p, cp -a,
	 * mv and rsync take as "this file system has none". */
	if (strcmp(name, FLAGS_XATTR) != 0 || !folder_ops_has_flags(fs, n)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (!folder_ops_writable(req))
		return;
	g_autofree char *flags = folder_ops_parse_flags(value, size);
	if (!flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	folder_ops_set_flags(req, n, flags);
}

void
folder_ops_removexattr(fuse_req_t req, Node n, const char *name)
{
	MfFs *fs = node_fs(req);

	if (strcmp(name, FLAGS_XATTR) != 0 || !folder_ops_has_flags(fs, n)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (folder_ops_writable(req))
		folder_ops_set_flags(req, n, "");
}

void
folder_ops_listxattr(fuse_req_t req, Node n, size_t size)
{
	static const char names[] = FLAGS_XATTR;
	gboolean has = folder_ops_has_flags(node_fs(req), n);

	if (!has)
		node_reply_xattr(req, NULL, 0, size);
	else
		node_reply_xattr(req, names, sizeof names, size);
}
