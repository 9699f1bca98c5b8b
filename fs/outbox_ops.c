/* outbox_ops.c - the outbox/ and outbox/failed/ directories as FUSE
 * operations over the outbox queue, which alone touches the spool files
 * (this file holds their fds, never reads, writes or closes one).  Errors
 * of the queue are answered through errmap (node_reply_error); the errnos
 * written here are the file system's own answers (EACCES for writing into
 * NAME.error or creating in failed/, ENOTSUP for extended attributes,
 * EXDEV for a move out). */
#include "fs/outbox_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "net/mf_error.h"

#define ERROR_SUFFIX ".error"
/* Outbox files change state and vanish when sent: no kernel caching. */
#define OUTBOX_TIMEOUT 0.0

/* An open outbox file. */
typedef struct {
	int fd;
	gint64 id;
	gboolean written;
} OutboxHandle;

static void
outbox_handle_free(gpointer p)
{
	OutboxHandle *h = p;

	outbox_discard_fd(h->fd);
	g_free(h);
}

static OutboxHandle *
outbox_handle(struct fuse_file_info *fi)
{
	return (OutboxHandle *)(uintptr_t)fi->fh;
}

static char *
outbox_ops_error_text(const MfOutboxEntry *e)
{
	return g_strdup_printf("%s\n", e->error ? e->error : "refused");
}

/* Every outbox file is the owner's to change (0644), whatever its state:
 * with 0444 an interactive rm of failed/ files asks about each, and the
 * kernel refuses their extended attributes before mailfs can answer.
 * What cannot be written (a file on its way, in failed/, a NAME.error) is
 * refused at open, with the reason in the log. */
static void
outbox_ops_entry_attr(MfFs *fs, const MfOutboxEntry *e, gboolean error_file,
                      struct stat *st)
{
	fuse_ino_t ino = node_spool_ino(e->id, error_file);

	if (error_file) {
		g_autofree char *text = outbox_ops_error_text(e);
		node_file_attr(fs, ino, 0644, strlen(text), e->mtime, st);
	} else {
		node_file_attr(fs, ino, 0644, e->size, e->mtime, st);
	}
}

static void
outbox_ops_reply_entry(fuse_req_t req, const MfOutboxEntry *e,
                       gboolean error_file)
{
	struct fuse_entry_param p = { .attr_timeout = OUTBOX_TIMEOUT,
	                              .entry_timeout = OUTBOX_TIMEOUT };

	outbox_ops_entry_attr(node_fs(req), e, error_file, &p.attr);
	p.ino = p.attr.st_ino;
	fuse_reply_entry(req, &p);
}

/* Fills *E with the entry of outbox/failed/ NAME if that file is left;
 * FALSE, and *E untouched, if not. */
static gboolean
outbox_ops_find_part(MfOutbox *o, const char *name, OutboxPart part,
                     MfOutboxEntry *e)
{
	MfOutboxEntry found;

	if (!outbox_lookup(o, TRUE, name, &found))
		return FALSE;
	if (found.removed & part) {
		outbox_entry_clear(&found);
		return FALSE;
	}
	*e = found;
	return TRUE;
}

/* Finds NAME in outbox/failed/: an entry's message file, or its
 * NAME.error (*ERROR_FILE).  FALSE, and *E untouched, if neither. */
static gboolean
outbox_ops_find_failed(MfOutbox *o, const char *name, MfOutboxEntry *e,
                       gboolean *error_file)
{
	*error_file = FALSE;
	if (outbox_ops_find_part(o, name, OUTBOX_PART_FILE, e))
		return TRUE;
	if (!g_str_has_suffix(name, ERROR_SUFFIX))
		return FALSE;
	g_autofree char *base = g_strndup(name, strlen(name) -
	                                  strlen(ERROR_SUFFIX));
	*error_file = TRUE;
	return outbox_ops_find_part(o, base, OUTBOX_PART_ERROR, e);
}

void
outbox_ops_lookup(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	MfOutboxEntry e;
	gboolean error_file = FALSE;
	gboolean found;

	if (parent.kind == NODE_OUTBOX && strcmp(name, "failed") == 0) {
		struct fuse_entry_param p = { .ino = INO_FAILED,
		                              .attr_timeout = 1.0,
		                              .entry_timeout = 1.0 };
		node_dir_attr(fs, INO_FAILED, TRUE, 0, &p.attr);
		fuse_reply_entry(req, &p);
		return;
	}
	if (parent.kind == NODE_OUTBOX)
		found = outbox_lookup(fs->outbox, FALSE, name, &e);
	else
		found = outbox_ops_find_failed(fs->outbox, name, &e,
		                               &error_file);
	if (!found) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	outbox_ops_reply_entry(req, &e, error_file);
	outbox_entry_clear(&e);
}

/* Whether node N (a file or a NAME.error) is shown for entry E. */
static gboolean
outbox_ops_shown(Node n, const MfOutboxEntry *e)
{
	if (n.kind == NODE_SPOOL_ERROR)
		return e->state == OUTBOX_FAILED &&
		       !(e->removed & OUTBOX_PART_ERROR);
	if (e->state == OUTBOX_FAILED)
		return !(e->removed & OUTBOX_PART_FILE);
	return e->state != OUTBOX_SENT;
}

void
outbox_ops_getattr(fuse_req_t req, Node n, fuse_ino_t ino)
{
	MfFs *fs = node_fs(req);
	struct stat st;
	MfOutboxEntry e;

	if (n.kind == NODE_OUTBOX || n.kind == NODE_FAILED) {
		node_dir_attr(fs, ino, TRUE, 0, &st);
		fuse_reply_attr(req, &st, 1.0);
		return;
	}
	/* A file sent (or removed) while open is gone: its fstat() says so. */
	if (!outbox_get(fs->outbox, n.id, &e)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	gboolean shown = outbox_ops_shown(n, &e);
	if (shown)
		outbox_ops_entry_attr(fs, &e, n.kind == NODE_SPOOL_ERROR, &st);
	outbox_entry_clear(&e);
	if (shown)
		fuse_reply_attr(req, &st, OUTBOX_TIMEOUT);
	else
		fuse_reply_err(req, ENOENT);
}

void
outbox_ops_fill(MfFs *fs, Node n, GArray *dir)
{
	gboolean failed = n.kind == NODE_FAILED;
	g_autoptr(GPtrArray) rows = outbox_list(fs->outbox, failed);

	if (!failed)
		dirlist_add(dir, "failed", INO_FAILED, S_IFDIR);
	for (guint i = 0; i < rows->len; i++) {
		const MfOutboxEntry *e = rows->pdata[i];
		if (!(e->removed & OUTBOX_PART_FILE))
			dirlist_add(dir, e->name, node_spool_ino(e->id, FALSE),
			            S_IFREG);
		if (failed && !(e->removed & OUTBOX_PART_ERROR)) {
			g_autofree char *en = g_strconcat(e->name, ERROR_SUFFIX,
			                                  NULL);
			dirlist_add(dir, en, node_spool_ino(e->id, TRUE),
			            S_IFREG);
		}
	}
}

static void
outbox_ops_reply_open(fuse_req_t req, struct fuse_file_info *fi, int fd,
                      gint64 id, gboolean created)
{
	OutboxHandle *h = g_new0(OutboxHandle, 1);
	MfOutboxEntry e;

	h->fd = fd;
	h->id = id;
	h->written = created;
	node_handle_track(node_fs(req), h, outbox_handle_free);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* the file is ours to change: no page cache */
	if (!created) {
		if (fuse_reply_open(req, fi) != 0)
			node_handle_release(node_fs(req), h);
		return;
	}
	if (!outbox_get(node_fs(req)->outbox, id, &e)) {
		node_handle_release(node_fs(req), h);
		fuse_reply_err(req, EIO);
		return;
	}
	struct fuse_entry_param p = { .attr_timeout = OUTBOX_TIMEOUT,
	                              .entry_timeout = OUTBOX_TIMEOUT };
	outbox_ops_entry_attr(node_fs(req), &e, FALSE, &p.attr);
	p.ino = p.attr.st_ino;
	outbox_entry_clear(&e);
	if (fuse_reply_create(req, &p, fi) != 0)
		node_handle_release(node_fs(req), h);
}

void
outbox_ops_create(fuse_req_t req, Node parent, const char *name,
                  struct fuse_file_info *fi)
{
	g_autoptr(GError) err = NULL;
	gint64 id = 0;

	if (parent.kind != NODE_OUTBOX) {
		fuse_reply_err(req, EACCES);
		return;
	}
	int fd = outbox_create(node_fs(req)->outbox, name, &id, &err);
	if (fd < 0) {
		g_debug("outbox: create %s: %s", name, err->message);
		node_reply_error(req, err);
		return;
	}
	/* An empty file is still "written": cp of an empty file queues it,
	 * and the sender refuses it with a reason. */
	outbox_ops_reply_open(req, fi, fd, id, TRUE);
}

void
outbox_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi)
{
	g_autoptr(GError) err = NULL;
	MfFs *fs = node_fs(req);

	if (n.kind == NODE_SPOOL_ERROR) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			g_message("outbox: a NAME.error file cannot be written");
			fuse_reply_err(req, EACCES);
			return;
		}
		outbox_ops_reply_open(req, fi, -1, n.id, FALSE);
		return;
	}
	int fd = outbox_open_file(fs->outbox, n.id, fi->flags, &err);
	if (fd < 0) {
		if (g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND))
			g_debug("outbox: open: %s", err->message);
		else
			g_message("outbox: cannot open: %s", err->message);
		node_reply_error(req, err);
		return;
	}
	outbox_ops_reply_open(req, fi, fd, n.id, FALSE);
}

/* Answers a READ of entry ID: from FD, or without one (-1) from the
 * entry's file (FILE TRUE) or its NAME.error text. */
static void
outbox_ops_reply_read(fuse_req_t req, int fd, gboolean file, gint64 id,
                      size_t size, off_t off)
{
	g_autoptr(GError) err = NULL;
	MfOutboxEntry e;

	if (fd < 0 && !file) { /* NAME.error */
		if (!outbox_get(node_fs(req)->outbox, id, &e)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		g_autofree char *text = outbox_ops_error_text(&e);
		outbox_entry_clear(&e);
		size_t len = strlen(text);
		size_t start = MIN((size_t)off, len);
		fuse_reply_buf(req, text + start, MIN(size, len - start));
		return;
	}
	g_autofree char *buf = g_malloc(size);
	MfOutbox *o = node_fs(req)->outbox;
	gssize n = fd >= 0 ? outbox_read(fd, buf, size, off, &err)
	                   : outbox_read_entry(o, id, buf, size, off, &err);
	if (n < 0)
		node_reply_error(req, err);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void
outbox_ops_read(fuse_req_t req, size_t size, off_t off,
                struct fuse_file_info *fi)
{
	OutboxHandle *h = outbox_handle(fi);

	outbox_ops_reply_read(req, h->fd, FALSE, h->id, size, off);
}

void
outbox_ops_read_ino(fuse_req_t req, Node n, size_t size, off_t off)
{
	outbox_ops_reply_read(req, -1, n.kind == NODE_SPOOL, n.id, size, off);
}

void
outbox_ops_write(fuse_req_t req, const char *buf, size_t size, off_t off,
                 struct fuse_file_info *fi)
{
	OutboxHandle *h = outbox_handle(fi);
	g_autoptr(GError) err = NULL;

	if (h->fd < 0) { /* NAME.error is opened for reading only */
		fuse_reply_err(req, EBADF);
		return;
	}
	gssize n = outbox_write(node_fs(req)->outbox, h->id, h->fd, buf, size,
	                        off, &err);
	if (n < 0) {
		node_reply_error(req, err);
		return;
	}
	h->written = TRUE;
	fuse_reply_write(req, (size_t)n);
}

void
outbox_ops_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	OutboxHandle *h = outbox_handle(fi);
	g_autoptr(GError) err = NULL;

	if (h->fd >= 0 && h->written &&
	    !outbox_flush(node_fs(req)->outbox, h->id, h->fd, &err)) {
		g_warning("outbox: %s", err->message);
		node_reply_error(req, err);
		return;
	}
	fuse_reply_err(req, 0);
}

void
outbox_ops_release(fuse_req_t req, struct fuse_file_info *fi)
{
	OutboxHandle *h = outbox_handle(fi);
	g_autoptr(GError) err = NULL;

	int fd = h->fd;

	h->fd = -1; /* outbox_release() closes it */
	if (fd >= 0 && !outbox_release(node_fs(req)->outbox, h->id, fd,
	                               h->written, &err))
		g_warning("outbox: %s", err->message);
	node_handle_release(node_fs(req), h);
	fuse_reply_err(req, 0);
}

void
outbox_ops_unlink(fuse_req_t req, Node parent, const char *name)
{
	g_autoptr(GError) err = NULL;
	MfFs *fs = node_fs(req);
	gboolean failed = parent.kind == NODE_FAILED;
	OutboxPart part = OUTBOX_PART_FILE;
	g_autofree char *entry = g_strdup(name);
	MfOutboxEntry e;
	gboolean error_file;

	/* In failed/, NAME and NAME.error are two files, each removed on its
	 * own. */
	if (failed && outbox_ops_find_failed(fs->outbox, name, &e,
	                                     &error_file)) {
		if (error_file) {
			part = OUTBOX_PART_ERROR;
			g_free(entry);
			entry = g_strdup(e.name);
		}
		outbox_entry_clear(&e);
	}
	if (!outbox_unlink(fs->outbox, failed, entry, part, &err))
		node_reply_error(req, err);
	else
		fuse_reply_err(req, 0);
}

void
outbox_ops_rename(fuse_req_t req, Node parent, const char *name,
                  Node newparent, const char *newname)
{
	g_autoptr(GError) err = NULL;

	if (newparent.kind != NODE_OUTBOX && newparent.kind != NODE_FAILED) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	if (!outbox_rename(node_fs(req)->outbox, parent.kind == NODE_FAILED,
	                   name, newparent.kind == NODE_FAILED, newname, &err))
		node_reply_error(req, err);
	else
		fuse_reply_err(req, 0);
}

void
outbox_ops_setattr(fuse_req_t req, Node n, fuse_ino_t ino, struct stat *attr,
                   int to_set)
{
	g_autoptr(GError) err = NULL;
	MfFs *fs = node_fs(req);

	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (n.kind != NODE_SPOOL) { /* NAME.error, or a directory */
			fuse_reply_err(req, n.kind == NODE_SPOOL_ERROR ? EACCES
			                                               : EISDIR);
			return;
		}
		if (!outbox_truncate(fs->outbox, n.id, attr->st_size, &err)) {
			node_reply_error(req, err);
			return;
		}
	}
	/* Modes, owners and times are accepted and not kept (cp -p, tar x,
	 * rsync -a set them on what they write). */
	outbox_ops_getattr(req, n, ino);
}

void
outbox_ops_getxattr(fuse_req_t req, Node n, const char *name, size_t size)
{
	MfOutboxEntry e;

	if (n.kind != NODE_SPOOL || strcmp(name, OUTBOX_STATUS_XATTR) != 0 ||
	    !outbox_get(node_fs(req)->outbox, n.id, &e)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	g_autofree char *status = outbox_status(&e);
	outbox_entry_clear(&e);
	size_t len = strlen(status);
	node_reply_xattr(req, status, len, size);
}

void
outbox_ops_listxattr(fuse_req_t req, Node n, size_t size)
{
	static const char names[] = OUTBOX_STATUS_XATTR;

	if (n.kind != NODE_SPOOL)
		node_reply_xattr(req, NULL, 0, size);
	else
		node_reply_xattr(req, names, sizeof names, size);
}

void
outbox_ops_setxattr(fuse_req_t req, Node n, const char *name,
                    const char *value, size_t size)
{
	/* Nothing is kept: the answer cp -p, cp -a, mv, rsync -X and tar
	 * treat as "not preserved" rather than as a failure. */
	fuse_reply_err(req, ENOTSUP);
}

void
outbox_ops_removexattr(fuse_req_t req, Node n, const char *name)
{
	fuse_reply_err(req, ENOTSUP);
}
