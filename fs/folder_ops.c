/* folder_ops.c - the changing operations of the mail tree: message
 * removal, moves, flags, new messages written into folders, and folder
 * creation, removal and renaming. */
#include "fs/folder_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/account_write.h"
#include "cache/journal.h"
#include "net/mf_error.h"

/* The largest file appended as a message (read whole to fix line ends). */
#define STAGED_MAX (64u << 20)

/* A file being written into a folder; appended when closed after
 * writing. */
typedef struct {
	gint64 id;
	gint64 folder_id;
	char *name;
	char *path;
	gint64 mtime;     /* set by the writer (utimes), or -1 */
	guint opens;
	gboolean dirty;   /* written since the last append */
} Staged;

typedef struct {
	Staged *st;
	int fd;
} StagedHandle;

static void
staged_free(Staged *st)
{
	unlink(st->path);
	g_free(st->name);
	g_free(st->path);
	g_free(st);
}

void
folder_ops_init(MfFs *fs)
{
	g_mutex_init(&fs->staged_lock);
	fs->staged = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
	                                   (GDestroyNotify)staged_free);
	g_mkdir_with_parents(fs->staging, 0700);
}

void
folder_ops_cleanup(MfFs *fs)
{
	g_hash_table_unref(fs->staged);
	g_mutex_clear(&fs->staged_lock);
}

static void
folder_ops_staged_attr(MfFs *fs, const Staged *st, struct stat *sb)
{
	struct stat real;
	guint64 size = stat(st->path, &real) == 0 ? (guint64)real.st_size : 0;

	node_file_attr(fs, node_staged_ino(st->id), 0644, size,
	               st->mtime >= 0 ? st->mtime : fs->started, sb);
}

/* Finds a staged file by folder and name; called with staged_lock. */
static Staged *
folder_ops_find_staged(MfFs *fs, gint64 folder_id, const char *name)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, fs->staged);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Staged *st = v;
		if (st->folder_id == folder_id && strcmp(st->name, name) == 0)
			return st;
	}
	return NULL;
}

fuse_ino_t
folder_ops_staged_lookup(MfFs *fs, gint64 folder_id, const char *name,
                         struct stat *sb)
{
	fuse_ino_t ino = 0;

	g_mutex_lock(&fs->staged_lock);
	Staged *st = folder_ops_find_staged(fs, folder_id, name);
	if (st) {
		folder_ops_staged_attr(fs, st, sb);
		ino = sb->st_ino;
	}
	g_mutex_unlock(&fs->staged_lock);
	return ino;
}

void
folder_ops_fill_staged(MfFs *fs, gint64 folder_id, GArray *dir)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&fs->staged_lock);
	g_hash_table_iter_init(&it, fs->staged);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Staged *st = v;
		if (st->folder_id == folder_id)
			dirlist_add(dir, st->name, node_staged_ino(st->id),
			            S_IFREG);
	}
	g_mutex_unlock(&fs->staged_lock);
}

/* --- messages ----------------------------------------------------------- */

/* FALSE (and the reply sent) when the account's mail cannot be changed
 * (POP3): every change is refused alike, before anything is recorded. */
static gboolean
folder_ops_writable(fuse_req_t req)
{
	if (account_caps(node_fs(req)->account) & MF_BACKEND_CAP_WRITE)
		return TRUE;
	fuse_reply_err(req, EACCES);
	return FALSE;
}

/* Resolves NAME in folder FOLDER_ID to a message; fills P's message
 * fields.  ENOENT-like FALSE if there is none. */
static gboolean
folder_ops_message(MfFs *fs, gint64 folder_id, const char *name,
                   StorePending *p)
{
	g_autoptr(GError) err = NULL;
	char want[NODE_NAME_MAX];
	guint64 uid = 0;
	char *end = NULL;

	if (!g_ascii_isdigit(name[0]))
		return FALSE;
	uid = g_ascii_strtoull(name, &end, 10);
	if (uid == 0 || uid > G_MAXUINT32)
		return FALSE;
	MfListing *l = account_listing(fs->account, folder_id, &err);
	const MfRemoteMessage *m = l ? listing_find(l, (guint32)uid) : NULL;
	gboolean ok = m && strcmp(node_msg_name(m, want), name) == 0;
	if (ok) {
		p->folder_id = folder_id;
		p->uidvalidity = listing_uidvalidity(l);
		p->uid = (guint32)uid;
	}
	listing_unref(l);
	return ok;
}

static void
folder_ops_submit(fuse_req_t req, StorePending *p)
{
	g_autoptr(GError) err = NULL;

	if (journal_submit(node_fs(req)->account, p, &err))
		fuse_reply_err(req, 0);
	else
		node_reply_error(req, err);
	store_pending_clear(p);
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

static gboolean
folder_ops_unlink_staged(MfFs *fs, gint64 folder_id, const char *name)
{
	g_mutex_lock(&fs->staged_lock);
	Staged *st = folder_ops_find_staged(fs, folder_id, name);
	if (st && st->opens == 0)
		g_hash_table_remove(fs->staged, &st->id);
	else if (st)
		st->folder_id = -1; /* hidden; freed at its last close */
	g_mutex_unlock(&fs->staged_lock);
	return st != NULL;
}

void
folder_ops_unlink(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	StorePending p = { .op = JOURNAL_REMOVE, .dest_id = fs->expunge };

	if (!folder_ops_writable(req))
		return;
	if (parent.kind != NODE_FOLDER) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (folder_ops_unlink_staged(fs, parent.id, name)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (!folder_ops_message(fs, parent.id, name, &p)) {
		fuse_reply_err(req, folder_ops_child(fs, parent, name) ? EISDIR
		                                                        : ENOENT);
		return;
	}
	folder_ops_submit(req, &p);
}

static void
folder_ops_reply_result(fuse_req_t req, gboolean ok, const GError *err)
{
	if (ok)
		fuse_reply_err(req, 0);
	else
		node_reply_error(req, err);
}

void
folder_ops_rename(fuse_req_t req, Node parent, const char *name,
                  Node newparent, const char *newname)
{
	MfFs *fs = node_fs(req);
	StorePending p = { .op = JOURNAL_MOVE };
	g_autoptr(GError) err = NULL;
	gint64 folder = folder_ops_child(fs, parent, name);

	if (!folder_ops_writable(req))
		return;
	if (newparent.kind != NODE_FOLDER && newparent.kind != NODE_ROOT) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	if (folder) {
		gboolean ok = account_rename_folder(
			fs->account, folder, folder_ops_parent_id(newparent),
			newname, &err);
		folder_ops_reply_result(req, ok, err);
		return;
	}
	if (parent.kind != NODE_FOLDER ||
	    !folder_ops_message(fs, parent.id, name, &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* A message's name is its UID: it cannot be renamed in place. */
	if (newparent.kind != NODE_FOLDER || newparent.id == parent.id) {
		fuse_reply_err(req, EPERM);
		return;
	}
	p.dest_id = newparent.id;
	folder_ops_submit(req, &p);
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
	node_dir_attr(fs, e.ino, TRUE, &e.attr);
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
	folder_ops_reply_result(req, ok, err);
}

/* --- files written into folders ------------------------------------------- */

static void
staged_handle_free(gpointer p)
{
	StagedHandle *h = p;

	if (h->fd >= 0)
		close(h->fd);
	g_free(h);
}

static StagedHandle *
folder_ops_handle(struct fuse_file_info *fi)
{
	return (StagedHandle *)(uintptr_t)fi->fh;
}

void
folder_ops_create(fuse_req_t req, Node parent, const char *name,
                  struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	struct fuse_entry_param e = { .attr_timeout = 0.0,
	                              .entry_timeout = 0.0 };

	if (parent.kind != NODE_FOLDER ||
	    !(account_caps(fs->account) & MF_BACKEND_CAP_APPEND)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	Staged *st = g_new0(Staged, 1);
	g_mutex_lock(&fs->staged_lock);
	st->id = ++fs->staged_next;
	st->folder_id = parent.id;
	st->name = g_strdup(name);
	st->path = g_strdup_printf("%s/%" G_GINT64_FORMAT, fs->staging, st->id);
	st->mtime = -1;
	int fd = open(st->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		st->opens = 1;
		g_hash_table_insert(fs->staged, &st->id, st);
		folder_ops_staged_attr(fs, st, &e.attr);
	}
	g_mutex_unlock(&fs->staged_lock);
	if (fd < 0) {
		int errnum = errno;
		staged_free(st);
		fuse_reply_err(req, errnum);
		return;
	}
	StagedHandle *h = g_new0(StagedHandle, 1);
	h->st = st;
	h->fd = fd;
	node_handle_track(fs, h, staged_handle_free);
	e.ino = e.attr.st_ino;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) != 0)
		node_handle_release(fs, h);
}

static Staged *
folder_ops_staged_get(MfFs *fs, gint64 id)
{
	g_mutex_lock(&fs->staged_lock);
	Staged *st = g_hash_table_lookup(fs->staged, &id);
	g_mutex_unlock(&fs->staged_lock);
	return st;
}

void
folder_ops_getattr(fuse_req_t req, Node n)
{
	MfFs *fs = node_fs(req);
	struct stat sb;

	g_mutex_lock(&fs->staged_lock);
	Staged *st = g_hash_table_lookup(fs->staged, &n.id);
	if (st)
		folder_ops_staged_attr(fs, st, &sb);
	g_mutex_unlock(&fs->staged_lock);
	if (st)
		fuse_reply_attr(req, &sb, 0.0);
	else
		fuse_reply_err(req, ENOENT);
}

void
folder_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	Staged *st = folder_ops_staged_get(fs, n.id);
	int fd = st ? open(st->path, (fi->flags & (O_ACCMODE | O_TRUNC |
	                                           O_APPEND)) | O_CLOEXEC)
	            : -1;

	if (fd < 0) {
		fuse_reply_err(req, st ? errno : ENOENT);
		return;
	}
	g_mutex_lock(&fs->staged_lock);
	st->opens++;
	if (fi->flags & O_TRUNC)
		st->dirty = TRUE;
	g_mutex_unlock(&fs->staged_lock);
	StagedHandle *h = g_new0(StagedHandle, 1);
	h->st = st;
	h->fd = fd;
	node_handle_track(fs, h, staged_handle_free);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0)
		node_handle_release(fs, h);
}

void
folder_ops_read(fuse_req_t req, size_t size, off_t off,
                struct fuse_file_info *fi)
{
	g_autofree char *buf = g_malloc(size);
	ssize_t n = pread(folder_ops_handle(fi)->fd, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void
folder_ops_write(fuse_req_t req, const char *buf, size_t size, off_t off,
                 struct fuse_file_info *fi)
{
	StagedHandle *h = folder_ops_handle(fi);
	ssize_t n = (guint64)off + size > STAGED_MAX ? -1
	            : pwrite(h->fd, buf, size, off);

	if (n < 0) {
		fuse_reply_err(req, (guint64)off + size > STAGED_MAX ? EFBIG
		                                                    : errno);
		return;
	}
	g_mutex_lock(&node_fs(req)->staged_lock);
	h->st->dirty = TRUE;
	g_mutex_unlock(&node_fs(req)->staged_lock);
	fuse_reply_write(req, (size_t)n);
}

/* Writes a CRLF copy of ST's file to a new file beside it; owned path. */
static char *
folder_ops_crlf_copy(const Staged *st, GError **err)
{
	g_autofree char *data = NULL;
	gsize len = 0;

	if (!g_file_get_contents(st->path, &data, &len, err))
		return NULL;
	GString *out = g_string_sized_new(len + len / 32 + 2);
	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, data[i]);
	}
	char *path = g_strdup_printf("%s.crlf", st->path);
	gboolean ok = g_file_set_contents_full(path, out->str, (gssize)out->len,
	                                       G_FILE_SET_CONTENTS_CONSISTENT,
	                                       0600, err);
	g_string_free(out, TRUE);
	if (!ok)
		g_clear_pointer(&path, g_free);
	return path;
}

/* Appends ST as a new message, through the journal. */
static gboolean
folder_ops_append(MfFs *fs, Staged *st, GError **err)
{
	struct stat sb;

	if (stat(st->path, &sb) != 0 || sb.st_size == 0)
		return TRUE; /* nothing to append */
	g_autofree char *copy = folder_ops_crlf_copy(st, err);
	if (!copy)
		return FALSE;
	StorePending p = {
		.op = JOURNAL_APPEND, .folder_id = st->folder_id,
		.path = g_steal_pointer(&copy),
		.date = st->mtime >= 0 ? st->mtime
		                       : g_get_real_time() / G_USEC_PER_SEC,
	};
	gboolean ok = journal_submit(fs->account, &p, err);
	store_pending_clear(&p);
	return ok;
}

void
folder_ops_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	StagedHandle *h = folder_ops_handle(fi);
	g_autoptr(GError) err = NULL;

	g_mutex_lock(&fs->staged_lock);
	gboolean due = h->st->dirty && h->st->folder_id > 0;
	h->st->dirty = FALSE;
	g_mutex_unlock(&fs->staged_lock);
	/* A close after writing makes the message: close() returns once it
	 * is appended, or recorded to be. */
	if (due && (fsync(h->fd) != 0 || !folder_ops_append(fs, h->st, &err))) {
		g_warning("append of %s failed: %s", h->st->name,
		          err ? err->message : g_strerror(errno));
		fuse_reply_err(req, err ? EIO : errno);
		return;
	}
	fuse_reply_err(req, 0);
}

void
folder_ops_release(fuse_req_t req, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	StagedHandle *h = folder_ops_handle(fi);

	close(h->fd);
	h->fd = -1;
	g_mutex_lock(&fs->staged_lock);
	if (--h->st->opens == 0)
		g_hash_table_remove(fs->staged, &h->st->id);
	g_mutex_unlock(&fs->staged_lock);
	node_handle_release(fs, h);
	fuse_reply_err(req, 0);
}

void
folder_ops_setattr(fuse_req_t req, Node n, struct stat *attr, int to_set,
                   struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	Staged *st = folder_ops_staged_get(fs, n.id);

	if (!st) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && truncate(st->path, attr->st_size)) {
		fuse_reply_err(req, errno);
		return;
	}
	g_mutex_lock(&fs->staged_lock);
	if (to_set & FUSE_SET_ATTR_SIZE)
		st->dirty = TRUE;
	if (to_set & FUSE_SET_ATTR_MTIME)
		st->mtime = attr->st_mtime;
	g_mutex_unlock(&fs->staged_lock);
	folder_ops_getattr(req, n);
}

/* --- flags ------------------------------------------------------------------ */

static gboolean
folder_ops_has_flags(MfFs *fs, Node n)
{
	return n.kind == NODE_MSG &&
	       (account_caps(fs->account) & MF_BACKEND_CAP_FLAGS);
}

void
folder_ops_getxattr(fuse_req_t req, Node n, const char *name, size_t size)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	MfRemoteMessage m;

	if (!folder_ops_has_flags(fs, n) || strcmp(name, FLAGS_XATTR) != 0) {
		fuse_reply_err(req, ENODATA);
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

void
folder_ops_setxattr(fuse_req_t req, Node n, const char *name,
                    const char *value, size_t size)
{
	MfFs *fs = node_fs(req);
	gint64 folder_id;
	guint32 uv;

	if (!folder_ops_has_flags(fs, n) || strcmp(name, FLAGS_XATTR) != 0) {
		/* Read-only mail (POP3) refuses like every other write. */
		fuse_reply_err(req, folder_ops_has_flags(fs, n) ? ENOTSUP
		                                               : EACCES);
		return;
	}
	g_autofree char *flags = g_strndup(value, MIN(size, 4096));
	g_strstrip(flags);
	for (char *c = flags; *c; c++)
		if (*c == '(' || *c == ')' || *c == '"' || *c == '\r' ||
		    *c == '\n' || (unsigned char)*c < 0x20) {
			fuse_reply_err(req, EINVAL);
			return;
		}
	if (!account_generation_folder(fs->account, n.id, &folder_id, &uv)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	StorePending p = { .op = JOURNAL_FLAGS, .folder_id = folder_id,
	                   .uidvalidity = uv, .uid = n.uid,
	                   .flags = folder_ops_settable_flags(flags) };
	folder_ops_submit(req, &p);
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
