/* ops.c - FUSE low-level operations: the mount tree (root, outbox/,
 * folders, message files) mapped onto the account's tree and listings. */
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/errmap.h"
#include "net/mf_error.h"

#define INO_ROOT FUSE_ROOT_ID
#define INO_OUTBOX 2
#define INO_FOLDER_BASE 0x100
#define MSG_SHIFT 32

/* Messages never change: the kernel may keep their names and attributes
 * for long.  Directories change when mail arrives. */
#define MSG_TIMEOUT 3600.0
#define DIR_TIMEOUT 1.0

typedef enum { NODE_NONE, NODE_ROOT, NODE_OUTBOX, NODE_FOLDER, NODE_MSG } NodeKind;

typedef struct {
	NodeKind kind;
	gint64 id;   /* folder id, or message generation */
	guint32 uid; /* message UID */
} Node;

static Node
ops_node(fuse_ino_t ino)
{
	Node n = { NODE_NONE, 0, 0 };

	if (ino == INO_ROOT)
		n.kind = NODE_ROOT;
	else if (ino == INO_OUTBOX)
		n.kind = NODE_OUTBOX;
	else if (ino >> MSG_SHIFT) {
		n.kind = NODE_MSG;
		n.id = (gint64)(ino >> MSG_SHIFT);
		n.uid = (guint32)(ino & 0xffffffffu);
	} else if (ino >= INO_FOLDER_BASE) {
		n.kind = NODE_FOLDER;
		n.id = (gint64)(ino - INO_FOLDER_BASE);
	}
	return n;
}

static fuse_ino_t
ops_folder_ino(gint64 id)
{
	return (fuse_ino_t)(INO_FOLDER_BASE + id);
}

static fuse_ino_t
ops_msg_ino(gint64 gen, guint32 uid)
{
	return ((fuse_ino_t)gen << MSG_SHIFT) | uid;
}

static MfFs *
ops_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void
ops_dir_attr(const MfFs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_ctime = st->st_atime = fs->started;
}

static void
ops_msg_attr(const MfFs *fs, fuse_ino_t ino, const MfRemoteMessage *m,
             struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)m->size;
	st->st_blocks = (blkcnt_t)((m->size + 511) / 512);
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)m->date;
}

static void
ops_reply_error(fuse_req_t req, const GError *err)
{
	fuse_reply_err(req, errmap_to_errno(err));
}

/* Parses "<uid>.eml"; FALSE for any other name. */
static gboolean
ops_parse_msg_name(const char *name, guint32 *uid)
{
	guint64 v = 0;
	const char *p = name;

	if (*p < '1' || *p > '9')
		return FALSE;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (guint64)(*p - '0');
		if (v > G_MAXUINT32)
			return FALSE;
	}
	if (strcmp(p, ".eml") != 0)
		return FALSE;
	*uid = (guint32)v;
	return TRUE;
}

static void
ops_reply_dir_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { .ino = ino, .attr_timeout = DIR_TIMEOUT,
	                              .entry_timeout = DIR_TIMEOUT };
	ops_dir_attr(ops_fs(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void
ops_lookup_msg(fuse_req_t req, gint64 folder_id, guint32 uid)
{
	MfFs *fs = ops_fs(req);
	g_autoptr(GError) err = NULL;
	MfListing *l = account_listing(fs->account, folder_id, &err);
	const MfRemoteMessage *m = l ? listing_find(l, uid) : NULL;

	if (!l) {
		ops_reply_error(req, err);
		return;
	}
	if (!m) {
		listing_unref(l);
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {
		.ino = ops_msg_ino(listing_generation(l), uid),
		.generation = listing_uidvalidity(l),
		.attr_timeout = MSG_TIMEOUT, .entry_timeout = MSG_TIMEOUT,
	};
	ops_msg_attr(fs, e.ino, m, &e.attr);
	listing_unref(l);
	fuse_reply_entry(req, &e);
}

static void
ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	MfFs *fs = ops_fs(req);
	Node n = ops_node(parent);
	guint32 uid;

	if (n.kind == NODE_ROOT && fs->outbox && strcmp(name, "outbox") == 0) {
		ops_reply_dir_entry(req, INO_OUTBOX);
		return;
	}
	if (n.kind != NODE_ROOT && n.kind != NODE_FOLDER) {
		fuse_reply_err(req, n.kind == NODE_NONE ? ENOENT : ENOTDIR);
		return;
	}
	MfTree *t = account_tree(fs->account);
	const MfFolder *f = tree_child(t, n.kind == NODE_ROOT ? 0 : n.id, name);
	fuse_ino_t child = f ? ops_folder_ino(f->id) : 0;
	tree_unref(t);
	if (child)
		ops_reply_dir_entry(req, child);
	else if (n.kind == NODE_FOLDER && ops_parse_msg_name(name, &uid))
		ops_lookup_msg(req, n.id, uid);
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
	MfFs *fs = ops_fs(req);
	Node n = ops_node(ino);
	struct stat st;

	if (n.kind == NODE_ROOT || (n.kind == NODE_OUTBOX && fs->outbox) ||
	    (n.kind == NODE_FOLDER && ops_folder_exists(fs, n.id))) {
		ops_dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, DIR_TIMEOUT);
		return;
	}
	if (n.kind != NODE_MSG) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	g_autoptr(GError) err = NULL;
	MfRemoteMessage m;
	if (!account_message(fs->account, n.id, n.uid, &m, &err)) {
		ops_reply_error(req, err);
		return;
	}
	ops_msg_attr(fs, ino, &m, &st);
	fuse_reply_attr(req, &st, MSG_TIMEOUT);
}

/* A directory listing captured at opendir, served by readdir. */
typedef struct {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
} DirEntry;

static void
dir_entry_clear(DirEntry *e)
{
	g_free(e->name);
}

static void
ops_add_entry(GArray *dir, const char *name, fuse_ino_t ino, mode_t mode)
{
	DirEntry e = { g_strdup(name), ino, mode };
	g_array_append_val(dir, e);
}

static void
ops_add_folders(MfFs *fs, GArray *dir, gint64 parent)
{
	MfTree *t = account_tree(fs->account);
	g_autoptr(GPtrArray) kids = tree_children(t, parent);

	for (guint i = 0; i < kids->len; i++) {
		const MfFolder *f = kids->pdata[i];
		ops_add_entry(dir, f->leaf, ops_folder_ino(f->id), S_IFDIR);
	}
	tree_unref(t);
}

static gboolean
ops_add_messages(MfFs *fs, GArray *dir, gint64 folder_id, GError **err)
{
	MfListing *l = account_listing(fs->account, folder_id, err);
	char name[32];

	if (!l)
		return FALSE;
	gint64 gen = listing_generation(l);
	for (guint i = 0; i < listing_count(l); i++) {
		guint32 uid = listing_at(l, i)->uid;
		g_snprintf(name, sizeof name, "%u.eml", uid);
		ops_add_entry(dir, name, ops_msg_ino(gen, uid), S_IFREG);
	}
	listing_unref(l);
	return TRUE;
}

static void
ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	MfFs *fs = ops_fs(req);
	Node n = ops_node(ino);
	g_autoptr(GError) err = NULL;
	GArray *dir = g_array_new(FALSE, FALSE, sizeof(DirEntry));

	g_array_set_clear_func(dir, (GDestroyNotify)dir_entry_clear);
	ops_add_entry(dir, ".", ino, S_IFDIR);
	ops_add_entry(dir, "..", INO_ROOT, S_IFDIR);
	if (n.kind == NODE_ROOT) {
		if (fs->outbox)
			ops_add_entry(dir, "outbox", INO_OUTBOX, S_IFDIR);
		ops_add_folders(fs, dir, 0);
	} else if (n.kind == NODE_FOLDER && ops_folder_exists(fs, n.id)) {
		ops_add_folders(fs, dir, n.id);
		if (!ops_add_messages(fs, dir, n.id, &err) &&
		    !g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND)) {
			g_array_unref(dir);
			ops_reply_error(req, err);
			return;
		}
	} else if (n.kind != NODE_OUTBOX || !fs->outbox) {
		g_array_unref(dir);
		fuse_reply_err(req, n.kind == NODE_MSG ? ENOTDIR : ENOENT);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dir;
	fuse_reply_open(req, fi);
}

static void
ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
            struct fuse_file_info *fi)
{
	GArray *dir = (GArray *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;

	for (guint i = (guint)off; i < dir->len; i++) {
		const DirEntry *e = &g_array_index(dir, DirEntry, i);
		struct stat st = { .st_ino = e->ino, .st_mode = e->mode };
		size_t n = fuse_add_direntry(req, buf + used, size - used,
		                             e->name, &st, (off_t)i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void
ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	g_array_unref((GArray *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void
ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	MfFs *fs = ops_fs(req);
	Node n = ops_node(ino);
	g_autoptr(GError) err = NULL;

	if (n.kind != NODE_MSG) {
		fuse_reply_err(req, n.kind == NODE_NONE ? ENOENT : EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	int fd = account_open_message(fs->account, n.id, n.uid, &err);
	if (fd < 0) {
		ops_reply_error(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

static void
ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
         struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void
ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
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

/* Everything that would change a message or a folder: not yet. */
static void
ops_refuse_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                  mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_refuse_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                 mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_refuse_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
                 mode_t mode)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_refuse_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_refuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                  fuse_ino_t newparent, const char *newname,
                  unsigned int flags)
{
	fuse_reply_err(req, EACCES);
}

static void
ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
            struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES);
}

const struct fuse_lowlevel_ops ops_table = {
	.lookup = ops_lookup,
	.getattr = ops_getattr,
	.setattr = ops_setattr,
	.opendir = ops_opendir,
	.readdir = ops_readdir,
	.releasedir = ops_releasedir,
	.open = ops_open,
	.read = ops_read,
	.release = ops_release,
	.statfs = ops_statfs,
	.create = ops_refuse_create,
	.mknod = ops_refuse_mknod,
	.mkdir = ops_refuse_mkdir,
	.unlink = ops_refuse_unlink,
	.rmdir = ops_refuse_unlink,
	.rename = ops_refuse_rename,
};
