/* view_ops.c - the requests on .mailfs/view/ (see view_ops.h): lookup,
 * attributes, directory listings and reads of the views of mail. */
#include "fs/view_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fs/ctl_ops.h"
#include "fs/errmap.h"
#include "net/mf_error.h"

#define VIEW_BIT (1ull << 63)
#define VIEW_SUB_SHIFT 55
#define VIEW_GEN_SHIFT 32
/* Message views never change; summaries do, with their folder. */
#define VIEW_MSG_TIMEOUT 3600.0
#define VIEW_DIR_TIMEOUT 1.0
#define VIEW_TEXT_SUFFIX ".txt"
#define VIEW_PARTS_SUFFIX ".parts"

static const char *const summary_names[] = { "summary.tsv", "summary.jsonl" };

ViewNode
view_ops_decode(Node n)
{
	guint64 v = (guint64)n.id;
	ViewNode out = {
		.sub = (guint)((v >> VIEW_SUB_SHIFT) & VSUB_MAX),
		.gen = (gint64)((v >> VIEW_GEN_SHIFT) & VIEW_GEN_MAX),
		.id = (guint32)(v & 0xffffffffu),
	};
	return out;
}

fuse_ino_t
view_ops_ino(guint sub, gint64 gen, guint32 id)
{
	if (gen < 0 || gen > VIEW_GEN_MAX || sub > VSUB_MAX)
		return 0;
	return VIEW_BIT | ((guint64)sub << VIEW_SUB_SHIFT) |
	       ((guint64)gen << VIEW_GEN_SHIFT) | id;
}

gboolean
view_ops_owns_lookup(Node parent, const char *name)
{
	return parent.kind == NODE_VIEW ||
	       (parent.kind == NODE_CTL && parent.id == INO_CTL_DIR &&
	        (strcmp(name, VIEW_DIR_NAME) == 0 ||
	         strcmp(name, VIEW_SEARCH_NAME) == 0));
}

void
view_ops_fill_ctl(GArray *dir)
{
	dirlist_add(dir, VIEW_DIR_NAME, view_ops_ino(VSUB_ROOT, 0, 0), S_IFDIR);
	dirlist_add(dir, VIEW_SEARCH_NAME, view_ops_ino(VSUB_SEARCH, 0, 0),
	            S_IFDIR);
}

static gboolean
view_ops_folder_selectable(MfFs *fs, gint64 id)
{
	MfTree *t = account_tree(fs->account);
	const MfFolder *f = id > 0 ? tree_folder(t, id) : NULL;
	gboolean ok = f && !(f->flags & MF_FOLDER_NOSELECT);

	tree_unref(t);
	return ok;
}

static gboolean
view_ops_folder_exists(MfFs *fs, gint64 id)
{
	MfTree *t = account_tree(fs->account);
	gboolean ok = id == 0 || tree_folder(t, id) != NULL;

	tree_unref(t);
	return ok;
}

/* The attributes of file view V (INO); its contents are made now, so
 * that the size is exact.  FALSE with ERR if it cannot be. */
static gboolean
view_ops_file_attr(MfFs *fs, fuse_ino_t ino, ViewNode v, struct stat *st,
                   GError **err)
{
	g_autoptr(GBytes) b = NULL;
	gint64 mtime = fs->started;

	if (v.gen == 0) {
		b = view_content_summary(fs, v.id, v.sub == VSUB_JSONL, err);
		mtime = MAX(mtime, account_folder_mtime(fs->account, v.id));
	} else {
		MfRemoteMessage m;
		if (!account_message(fs->account, v.gen, v.id, &m, err))
			return FALSE;
		mtime = m.date;
		b = view_content_message_bytes(fs, v.gen, v.id, v.sub, err);
	}
	if (!b)
		return FALSE;
	node_file_attr(fs, ino, 0444, g_bytes_get_size(b), mtime, st);
	return TRUE;
}

static gboolean
view_ops_is_dir(ViewNode v)
{
	return v.gen == 0 ? v.sub == VSUB_ROOT || v.sub == VSUB_DIR ||
	                    v.sub == VSUB_SEARCH || v.sub == VSUB_QUERY
	                  : v.sub == VSUB_PARTS;
}

/* TRUE if directory V is still there. */
static gboolean
view_ops_dir_exists(MfFs *fs, ViewNode v)
{
	if (v.gen || v.sub == VSUB_SEARCH)
		return TRUE;
	if (v.sub == VSUB_QUERY)
		return view_search_known(fs, v.id);
	return view_ops_folder_exists(fs, v.id);
}

/* The attributes of result link V; FALSE if it is gone. */
static gboolean
view_ops_link_attr(MfFs *fs, fuse_ino_t ino, ViewNode v, struct stat *st)
{
	g_autofree char *target = view_search_target(fs, v.id);

	if (!target)
		return FALSE;
	node_file_attr(fs, ino, 0777, strlen(target), fs->started, st);
	st->st_mode = S_IFLNK | 0777;
	return TRUE;
}

static void
view_ops_reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	MfFs *fs = node_fs(req);
	ViewNode v = view_ops_decode(node_decode(ino));
	g_autoptr(GError) err = NULL;
	struct fuse_entry_param e = { .ino = ino };

	/* A message's views never change, but a name may come to mean
	 * another message (a file written over it): names are kept briefly,
	 * what they lead to for long. */
	e.entry_timeout = VIEW_DIR_TIMEOUT;
	e.attr_timeout = v.gen ? VIEW_MSG_TIMEOUT : VIEW_DIR_TIMEOUT;
	if (v.gen == 0 && !view_ops_is_dir(v))
		e.attr_timeout = 0.0; /* a summary's size changes */
	if (view_ops_is_dir(v)) {
		node_dir_attr(fs, ino, FALSE, 0, &e.attr);
	} else if (v.gen == 0 && v.sub == VSUB_LINK) {
		if (!view_ops_link_attr(fs, ino, v, &e.attr)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
	} else if (!view_ops_file_attr(fs, ino, v, &e.attr, &err)) {
		node_reply_error(req, err);
		return;
	}
	fuse_reply_entry(req, &e);
}

/* The message of folder FOLDER_ID that NAME (NAME.txt or NAME.parts
 * without the SUFFIX) is a view of. */
static gboolean
view_ops_find_message(MfFs *fs, gint64 folder_id, const char *name,
                      const char *suffix, gint64 *gen, guint32 *uid)
{
	if (!g_str_has_suffix(name, suffix) || strlen(name) == strlen(suffix))
		return FALSE;
	g_autofree char *msg = g_strndup(name, strlen(name) - strlen(suffix));
	return node_find_message(fs, folder_id, msg, gen, uid);
}

/* The inode NAME names in folder FOLDER_ID's view directory, or 0. */
static fuse_ino_t
view_ops_lookup_in_folder(MfFs *fs, gint64 folder_id, const char *name)
{
	gint64 gen;
	guint32 uid;

	if (folder_id > 0 && view_ops_folder_selectable(fs, folder_id)) {
		for (guint i = 0; i < G_N_ELEMENTS(summary_names); i++)
			if (strcmp(name, summary_names[i]) == 0)
				return view_ops_ino(VSUB_TSV + i, 0,
				                    (guint32)folder_id);
		if (view_ops_find_message(fs, folder_id, name, VIEW_TEXT_SUFFIX,
		                          &gen, &uid))
			return view_ops_ino(VSUB_TEXT, gen, uid);
		if (view_ops_find_message(fs, folder_id, name, VIEW_PARTS_SUFFIX,
		                          &gen, &uid))
			return view_ops_ino(VSUB_PARTS, gen, uid);
	}
	gint64 id = account_find_folder(fs->account, folder_id, name);
	return id ? view_ops_ino(VSUB_DIR, 0, (guint32)id) : 0;
}

/* The inode of attachment NAME of message V (a parts directory). */
static fuse_ino_t
view_ops_lookup_part(MfFs *fs, ViewNode v, const char *name, GError **err)
{
	g_autoptr(GPtrArray) names = view_content_message_names(fs, v.gen, v.id, err);

	if (!names)
		return 0;
	for (guint i = 0; i < names->len && VSUB_PART0 + i <= VSUB_MAX; i++)
		if (strcmp(names->pdata[i], name) == 0)
			return view_ops_ino(VSUB_PART0 + i, v.gen, v.id);
	return 0;
}

void
view_ops_lookup(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	g_autoptr(GError) err = NULL;
	fuse_ino_t ino = 0;

	if (parent.kind == NODE_CTL) {
		ino = strcmp(name, VIEW_DIR_NAME) == 0
		      ? view_ops_ino(VSUB_ROOT, 0, 0) : view_ops_ino(VSUB_SEARCH, 0, 0);
	} else {
		ViewNode v = view_ops_decode(parent);
		if (v.gen == 0 && v.sub == VSUB_ROOT)
			ino = view_ops_lookup_in_folder(fs, 0, name);
		else if (v.gen == 0 && v.sub == VSUB_DIR)
			ino = view_ops_lookup_in_folder(fs, v.id, name);
		else if (v.gen && v.sub == VSUB_PARTS)
			ino = view_ops_lookup_part(fs, v, name, &err);
		else if (v.gen == 0 && v.sub == VSUB_SEARCH)
			ino = view_search_lookup(fs, name, &err);
		else if (v.gen == 0 && v.sub == VSUB_QUERY)
			ino = view_search_lookup_link(fs, v.id, name);
	}
	if (!ino && err && !g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND)) {
		node_reply_error(req, err);
		return;
	}
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	view_ops_reply_entry(req, ino);
}

void
view_ops_getattr(fuse_req_t req, Node n)
{
	MfFs *fs = node_fs(req);
	ViewNode v = view_ops_decode(n);
	fuse_ino_t ino = view_ops_ino(v.sub, v.gen, v.id);
	g_autoptr(GError) err = NULL;
	struct stat st;

	if (view_ops_is_dir(v) || (v.gen == 0 && v.sub == VSUB_LINK)) {
		if (view_ops_is_dir(v) ? !view_ops_dir_exists(fs, v)
		                   : !view_ops_link_attr(fs, ino, v, &st)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (view_ops_is_dir(v))
			node_dir_attr(fs, ino, FALSE, 0, &st);
		fuse_reply_attr(req, &st, VIEW_DIR_TIMEOUT);
		return;
	}
	if (!view_ops_file_attr(fs, ino, v, &st, &err)) {
		node_reply_error(req, err);
		return;
	}
	fuse_reply_attr(req, &st, v.gen ? VIEW_MSG_TIMEOUT : 0.0);
}

/* Whether NAME is one a view file may take in a folder's view. */
static gboolean
view_ops_reserved_name(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(summary_names); i++)
		if (strcmp(name, summary_names[i]) == 0)
			return TRUE;
	return g_str_has_suffix(name, VIEW_TEXT_SUFFIX) ||
	       g_str_has_suffix(name, VIEW_PARTS_SUFFIX);
}

static void
view_ops_fill_folders(MfFs *fs, GArray *dir, gint64 parent)
{
	MfTree *t = account_tree(fs->account);
	g_autoptr(GPtrArray) kids = tree_children(t, parent);

	for (guint i = 0; i < kids->len; i++) {
		const MfFolder *f = kids->pdata[i];
		if (parent == 0 || !view_ops_reserved_name(f->leaf))
			dirlist_add(dir, f->leaf,
			            view_ops_ino(VSUB_DIR, 0, (guint32)f->id),
			            S_IFDIR);
	}
	tree_unref(t);
}

/* The summaries, and the text and parts of each message of FOLDER_ID:
 * names and inodes only (no attributes: listing reads no body). */
static gboolean
view_ops_fill_messages(MfFs *fs, GArray *dir, gint64 folder_id, GError **err)
{
	MfListing *l = account_listing(fs->account, folder_id, err);
	char buf[NODE_NAME_MAX];

	if (!l)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(summary_names); i++)
		dirlist_add(dir, summary_names[i],
		            view_ops_ino(VSUB_TSV + i, 0, (guint32)folder_id),
		            S_IFREG);
	for (guint i = 0; i < listing_count(l); i++) {
		const MfRemoteMessage *m = listing_at(l, i);
		const char *name = node_msg_name(l, m, buf);
		gint64 gen = listing_generation(l);
		g_autofree char *text = g_strconcat(name, VIEW_TEXT_SUFFIX, NULL);
		g_autofree char *parts = g_strconcat(name, VIEW_PARTS_SUFFIX,
		                                     NULL);
		if (!view_ops_ino(VSUB_TEXT, gen, m->uid))
			continue;
		dirlist_add(dir, text, view_ops_ino(VSUB_TEXT, gen, m->uid),
		            S_IFREG);
		dirlist_add(dir, parts, view_ops_ino(VSUB_PARTS, gen, m->uid),
		            S_IFDIR);
	}
	listing_unref(l);
	return TRUE;
}

static gboolean
view_ops_fill_parts(MfFs *fs, GArray *dir, ViewNode v, GError **err)
{
	g_autoptr(GPtrArray) names = view_content_message_names(fs, v.gen, v.id, err);

	if (!names)
		return FALSE;
	for (guint i = 0; i < names->len && VSUB_PART0 + i <= VSUB_MAX; i++)
		dirlist_add(dir, names->pdata[i],
		            view_ops_ino(VSUB_PART0 + i, v.gen, v.id), S_IFREG);
	return TRUE;
}

gboolean
view_ops_fill(MfFs *fs, Node n, GArray *dir, int *errnum)
{
	ViewNode v = view_ops_decode(n);
	g_autoptr(GError) err = NULL;
	gboolean ok = TRUE;

	if (!view_ops_is_dir(v)) {
		*errnum = ENOTDIR;
		return FALSE;
	}
	if (v.gen) {
		ok = view_ops_fill_parts(fs, dir, v, &err);
	} else if (v.sub == VSUB_SEARCH) {
		view_search_fill_root(fs, dir);
	} else if (v.sub == VSUB_QUERY) {
		if (!view_search_fill_query(fs, v.id, dir)) {
			*errnum = ENOENT;
			return FALSE;
		}
	} else if (!view_ops_folder_exists(fs, v.id)) {
		*errnum = ENOENT;
		return FALSE;
	} else {
		view_ops_fill_folders(fs, dir, v.sub == VSUB_ROOT ? 0 : v.id);
		if (v.sub == VSUB_DIR && view_ops_folder_selectable(fs, v.id))
			ok = view_ops_fill_messages(fs, dir, v.id, &err);
	}
	if (!ok)
		*errnum = errmap_to_errno(err);
	return ok;
}

/* The contents of file view V; a reference, owned. */
static GBytes *
view_ops_bytes(MfFs *fs, ViewNode v, GError **err)
{
	if (v.gen == 0)
		return view_content_summary(fs, v.id, v.sub == VSUB_JSONL, err);
	return view_content_message_bytes(fs, v.gen, v.id, v.sub, err);
}

void
view_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	ViewNode v = view_ops_decode(n);
	g_autoptr(GError) err = NULL;

	if (view_ops_is_dir(v) || (v.gen == 0 && v.sub == VSUB_LINK)) {
		fuse_reply_err(req, view_ops_is_dir(v) ? EISDIR : ELOOP);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	GBytes *b = view_ops_bytes(fs, v, &err);
	if (!b) {
		node_reply_error(req, err);
		return;
	}
	node_handle_track(fs, b, (GDestroyNotify)g_bytes_unref);
	fi->fh = (uint64_t)(uintptr_t)b;
	/* A summary is what it was at open (its size may differ from what
	 * stat said); a message view never changes. */
	fi->direct_io = v.gen == 0;
	fi->keep_cache = v.gen != 0;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		node_handle_release(fs, b);
}

static void
view_ops_reply_slice(fuse_req_t req, GBytes *b, size_t size, off_t off)
{
	gsize len;
	const char *data = g_bytes_get_data(b, &len);
	size_t start = MIN((size_t)off, len);

	fuse_reply_buf(req, data ? data + start : NULL, MIN(size, len - start));
}

void
view_ops_read(fuse_req_t req, Node n, size_t size, off_t off,
              struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	GBytes *b = (GBytes *)(uintptr_t)fi->fh;
	g_autoptr(GError) err = NULL;

	if (!b) { /* no OPEN (read_only = yes): by inode */
		g_autoptr(GBytes) now = view_ops_bytes(fs, view_ops_decode(n), &err);
		if (!now)
			node_reply_error(req, err);
		else
			view_ops_reply_slice(req, now, size, off);
		return;
	}
	if (!node_handle_get(fs, b)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	view_ops_reply_slice(req, b, size, off);
	node_handle_put(fs, b);
}

void
view_ops_readlink(fuse_req_t req, Node n)
{
	ViewNode v = view_ops_decode(n);
	g_autofree char *target = v.gen == 0 && v.sub == VSUB_LINK
	                          ? view_search_target(node_fs(req), v.id)
	                          : NULL;

	if (target)
		fuse_reply_readlink(req, target);
	else
		fuse_reply_err(req, v.gen == 0 && v.sub == VSUB_LINK ? ENOENT
		                                                     : EINVAL);
}

void
view_ops_init(MfFs *fs)
{
	view_content_init(fs);
}

void
view_ops_cleanup(MfFs *fs)
{
	view_content_cleanup(fs);
}

void
view_ops_release(fuse_req_t req, struct fuse_file_info *fi)
{
	if (fi->fh)
		node_handle_release(node_fs(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
