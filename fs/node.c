/* node.c - inode numbering of the mount tree and shared reply helpers. */
#include "fs/node.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs/errmap.h"
#include "net/mf_error.h"

#define INO_FOLDER_BASE 0x100
#define INO_SPOOL_BASE (1ull << 31)
#define INO_STAGED_BASE (INO_SPOOL_BASE + (1ull << 30))
#define MSG_SHIFT 32

Node
node_decode(fuse_ino_t ino)
{
	Node n = { NODE_NONE, 0, 0 };

	if (ino == INO_ROOT) {
		n.kind = NODE_ROOT;
	} else if (ino == INO_OUTBOX) {
		n.kind = NODE_OUTBOX;
	} else if (ino == INO_FAILED) {
		n.kind = NODE_FAILED;
	} else if (ino >= INO_CTL_FIRST && ino <= INO_CTL_LAST) {
		n.kind = NODE_CTL;
		n.id = (gint64)ino;
	} else if (ino >> 63) {
		n.kind = NODE_VIEW; /* decoded by view_ops.c */
		n.id = (gint64)(ino & ~(1ull << 63));
	} else if (ino >> MSG_SHIFT) {
		n.kind = NODE_MSG;
		n.id = (gint64)(ino >> MSG_SHIFT);
		n.uid = (guint32)(ino & 0xffffffffu);
	} else if (ino >= INO_STAGED_BASE) {
		n.kind = NODE_STAGED;
		n.id = (gint64)(ino - INO_STAGED_BASE);
	} else if (ino >= INO_SPOOL_BASE) {
		n.kind = (ino & 1) ? NODE_SPOOL_ERROR : NODE_SPOOL;
		n.id = (gint64)((ino - INO_SPOOL_BASE) >> 1);
	} else if (ino >= INO_FOLDER_BASE) {
		n.kind = NODE_FOLDER;
		n.id = (gint64)(ino - INO_FOLDER_BASE);
	}
	return n;
}

fuse_ino_t
node_folder_ino(gint64 id)
{
	g_assert(id > 0 && id < (1 << 30));
	return (fuse_ino_t)(INO_FOLDER_BASE + id);
}

fuse_ino_t
node_msg_ino(gint64 gen, guint32 uid)
{
	return ((fuse_ino_t)gen << MSG_SHIFT) | uid;
}

fuse_ino_t
node_spool_ino(gint64 id, gboolean error_file)
{
	g_assert(id > 0 && id < (1 << 29));
	return (fuse_ino_t)(INO_SPOOL_BASE + 2 * (guint64)id + !!error_file);
}

fuse_ino_t
node_staged_ino(gint64 id)
{
	g_assert(id > 0 && id < (1 << 30));
	return (fuse_ino_t)(INO_STAGED_BASE + (guint64)id);
}

MfFs *
node_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void
node_dir_attr(const MfFs *fs, fuse_ino_t ino, gboolean writable,
              gint64 mtime, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = S_IFDIR | (writable && !fs->read_only ? 0755 : 0555);
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_ctime = st->st_atime =
		(time_t)MAX(mtime, (gint64)fs->started);
}

gboolean
node_mail_writable(const MfFs *fs)
{
	return !fs->read_only &&
	       (account_caps(fs->account) & MF_BACKEND_CAP_WRITE);
}

void
node_file_attr(const MfFs *fs, fuse_ino_t ino, mode_t perm, guint64 size,
               gint64 mtime, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = S_IFREG | perm;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)mtime;
}

void
node_reply_error(fuse_req_t req, const GError *err)
{
	fuse_reply_err(req, errmap_to_errno(err));
}

void
node_msg_entry(const MfFs *fs, const MfListing *l, const MfRemoteMessage *m,
               struct fuse_entry_param *e)
{
	guint64 size = m->size;

	memset(e, 0, sizeof *e);
	e->ino = node_msg_ino(listing_generation(l), m->uid);
	e->generation = listing_uidvalidity(l);
	e->attr_timeout = e->entry_timeout = NODE_MSG_TIMEOUT;
	listing_alias(l, m, &size);
	node_file_attr(fs, e->ino, node_mail_writable(fs) ? 0644 : 0444, size,
	               m->date, &e->attr);
}

const char *
node_msg_name(const MfListing *l, const MfRemoteMessage *m,
              char buf[NODE_NAME_MAX])
{
	const char *alias = listing_alias(l, m, NULL);

	if (alias)
		return alias;
	return node_name_format(m->uid, listing_generation(l), m->key, buf);
}

void
node_reply_xattr(fuse_req_t req, const char *value, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

/* An open handle: freed once it is released and no request uses it. */
typedef struct {
	GDestroyNotify free_fn;
	guint users;     /* the open itself, and requests in progress */
	gboolean closed; /* RELEASE came */
} HandleRef;

struct NodeHandles {
	GMutex lock;
	GHashTable *table; /* open file handles -> their HandleRef */
};

void
node_handles_init(MfFs *fs)
{
	fs->handles = g_new0(NodeHandles, 1);
	g_mutex_init(&fs->handles->lock);
	fs->handles->table = g_hash_table_new_full(NULL, NULL, NULL, g_free);
}

void
node_handle_track(MfFs *fs, gpointer h, GDestroyNotify free_fn)
{
	HandleRef *r = g_new0(HandleRef, 1);

	r->free_fn = free_fn;
	r->users = 1;
	g_mutex_lock(&fs->handles->lock);
	g_hash_table_insert(fs->handles->table, h, r);
	g_mutex_unlock(&fs->handles->lock);
}

/* Drops one user of H (locked); frees H when none is left. */
static void
node_handle_drop_locked(MfFs *fs, gpointer h, HandleRef *r)
{
	GDestroyNotify free_fn = r->free_fn;

	if (--r->users > 0) {
		g_mutex_unlock(&fs->handles->lock);
		return;
	}
	g_hash_table_remove(fs->handles->table, h);
	g_mutex_unlock(&fs->handles->lock);
	if (free_fn)
		free_fn(h);
}

gboolean
node_handle_get(MfFs *fs, gpointer h)
{
	return node_handle_get_kind(fs, h, NULL);
}

gboolean
node_handle_get_kind(MfFs *fs, gpointer h, GDestroyNotify free_fn)
{
	g_mutex_lock(&fs->handles->lock);
	HandleRef *r = g_hash_table_lookup(fs->handles->table, h);
	gboolean ok = r && !r->closed && (!free_fn || r->free_fn == free_fn);
	if (ok)
		r->users++;
	g_mutex_unlock(&fs->handles->lock);
	return ok;
}

void
node_handle_put(MfFs *fs, gpointer h)
{
	g_mutex_lock(&fs->handles->lock);
	HandleRef *r = g_hash_table_lookup(fs->handles->table, h);
	if (r)
		node_handle_drop_locked(fs, h, r);
	else
		g_mutex_unlock(&fs->handles->lock);
}

void
node_handle_release(MfFs *fs, gpointer h)
{
	g_mutex_lock(&fs->handles->lock);
	HandleRef *r = g_hash_table_lookup(fs->handles->table, h);
	if (r && !r->closed) {
		r->closed = TRUE;
		node_handle_drop_locked(fs, h, r);
	} else {
		g_mutex_unlock(&fs->handles->lock);
	}
}

void
node_handles_free_all(MfFs *fs)
{
	GHashTableIter it;
	gpointer h, v;

	g_hash_table_iter_init(&it, fs->handles->table);
	while (g_hash_table_iter_next(&it, &h, &v))
		if (((HandleRef *)v)->free_fn)
			((HandleRef *)v)->free_fn(h);
	g_hash_table_unref(fs->handles->table);
	g_mutex_clear(&fs->handles->lock);
	g_clear_pointer(&fs->handles, g_free);
}

gboolean
node_find_message(MfFs *fs, gint64 folder_id, const char *name, gint64 *gen,
                  guint32 *uid)
{
	g_autoptr(GError) err = NULL;
	MfListing *l = account_listing(fs->account, folder_id, &err);
	const MfRemoteMessage *m = l ? listing_find_name(l, name) : NULL;
	char want[NODE_NAME_MAX];
	guint32 u = node_name_uid(name);

	/* Else a server name: "<uid>.<gen>.eml" or "<uid>-<key>.eml". */
	if (!m && l && u > 0)
		m = listing_find(l, u);
	if (m && strcmp(node_msg_name(l, m, want), name) != 0)
		m = NULL; /* a message that was given another name */
	if (m) {
		*gen = listing_generation(l);
		*uid = m->uid;
	}
	listing_unref(l);
	return m != NULL;
}

gboolean
node_copy_fd(int from, int to, GError **err)
{
	char buf[65536];
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(from, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return TRUE;
		if (n < 0 || write(to, buf, (size_t)n) != n) {
			int e = errno;
			g_set_error(err, MF_ERROR, e == ENOSPC || e == EDQUOT
			            ? MF_ERROR_NOSPACE : MF_ERROR_LOCAL,
			            "cannot copy a message: %s", g_strerror(e));
			return FALSE;
		}
		off += n;
	}
}
