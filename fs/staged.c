/* staged.c - files being written into folders: their bytes, names and
 * times until they are committed as messages (see staged.h). */
#include "fs/staged.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/account_change.h"
#include "cache/outbox_msg.h"
#include "net/mf_error.h"

/* The largest file appended as a message (read whole to fix line ends). */
#define STAGED_MAX (64u << 20)

struct Staged {
	gint64 id;
	gint64 folder_id;   /* -1: removed; freed at its last close */
	char *name;
	char *path;         /* its bytes, in cache_dir/staging/ */
	gint64 mtime;       /* set by the writer (utimes), or -1 */
	char *flags;        /* set as user.mailfs.flags, or NULL */
	guint opens;
	gboolean dirty;     /* created or changed since it was committed */
	gboolean committed; /* appended (or recorded to be) at least once */
	char *refused;      /* why the last commit failed, or NULL */
};

struct StagedState {
	char *dir;          /* cache_dir/staging: the files' bytes */
	GMutex lock;        /* "staged_lock": a leaf */
	GHashTable *table;  /* id -> Staged */
	GHashTable *mtimes; /* folder id -> last change */
	gint64 next;        /* the last id given */
};

static void
staged_free(Staged *st)
{
	unlink(st->path);
	g_free(st->name);
	g_free(st->path);
	g_free(st->flags);
	g_free(st->refused);
	g_free(st);
}

void
staged_init(MfFs *fs, const char *dir)
{
	fs->staged = g_new0(StagedState, 1);
	fs->staged->dir = g_strdup(dir);
	g_mutex_init(&fs->staged->lock);
	fs->staged->table = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
	                                   (GDestroyNotify)staged_free);
	fs->staged->mtimes = g_hash_table_new_full(g_int64_hash, g_int64_equal,
	                                          g_free, g_free);
	g_mkdir_with_parents(fs->staged->dir, 0700);
	/* What a crash left: files never closed, so never appended. */
	g_autoptr(GDir) d = g_dir_open(fs->staged->dir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(fs->staged->dir, name, NULL);
		unlink(p);
	}
}

void
staged_cleanup(MfFs *fs)
{
	g_hash_table_unref(fs->staged->table);
	g_hash_table_unref(fs->staged->mtimes);
	g_mutex_clear(&fs->staged->lock);
	g_free(fs->staged->dir);
	g_clear_pointer(&fs->staged, g_free);
}

/* Records that FOLDER_ID's files changed; called with staged_lock. */
static void
staged_touch_locked(MfFs *fs, gint64 folder_id)
{
	gint64 *t = g_new(gint64, 1);

	*t = g_get_real_time() / G_USEC_PER_SEC;
	g_hash_table_replace(fs->staged->mtimes,
	                     g_memdup2(&folder_id, sizeof folder_id), t);
}

gint64
staged_folder_mtime(MfFs *fs, gint64 folder_id)
{
	g_mutex_lock(&fs->staged->lock);
	gint64 *t = g_hash_table_lookup(fs->staged->mtimes, &folder_id);
	gint64 v = t ? *t : 0;
	g_mutex_unlock(&fs->staged->lock);
	return v;
}

static void
staged_attr_locked(MfFs *fs, const Staged *st, struct stat *sb)
{
	struct stat real;
	guint64 size = stat(st->path, &real) == 0 ? (guint64)real.st_size : 0;

	node_file_attr(fs, node_staged_ino(st->id), 0644, size,
	               st->mtime >= 0 ? st->mtime
	                              : (stat(st->path, &real) == 0
	                                 ? real.st_mtime : fs->started), sb);
}

/* The staged file NAME of FOLDER_ID; called with staged_lock. */
static Staged *
staged_find_locked(MfFs *fs, gint64 folder_id, const char *name)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, fs->staged->table);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Staged *st = v;
		if (st->folder_id == folder_id && strcmp(st->name, name) == 0)
			return st;
	}
	return NULL;
}

/* Takes ST out of its folder: freed now, or at its last close. */
static void
staged_remove_locked(MfFs *fs, Staged *st)
{
	staged_touch_locked(fs, st->folder_id);
	if (st->opens == 0)
		g_hash_table_remove(fs->staged->table, &st->id);
	else
		st->folder_id = -1;
}

void
staged_handle_free(gpointer p)
{
	StagedHandle *h = p;

	if (h->fd >= 0)
		close(h->fd);
	g_free(h);
}

/* A tracked handle on ST, open as FD; called with staged_lock. */
static StagedHandle *
staged_handle_new_locked(MfFs *fs, Staged *st, int fd)
{
	StagedHandle *h = g_new0(StagedHandle, 1);

	st->opens++;
	h->st = st;
	h->fd = fd;
	node_handle_track(fs, h, staged_handle_free);
	return h;
}

static int
staged_open_path(const char *path, int flags, GError **err)
{
	int fd = open(path, (flags & (O_ACCMODE | O_TRUNC | O_APPEND)) |
	              O_CLOEXEC | O_CREAT, 0600);

	if (fd < 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, e == ENOSPC || e == EDQUOT
		            ? MF_ERROR_NOSPACE : MF_ERROR_LOCAL,
		            "cannot write %s: %s", path, g_strerror(e));
	}
	return fd;
}

/* A new Staged NAME in FOLDER_ID whose file holds SRC_FD's bytes (-1:
 * none), open with FLAGS. */
static StagedHandle *
staged_new(MfFs *fs, gint64 folder_id, const char *name, int src_fd,
           int flags, GError **err)
{
	Staged *st = g_new0(Staged, 1);

	st->folder_id = folder_id;
	st->name = g_strdup(name);
	st->mtime = -1;
	g_mutex_lock(&fs->staged->lock);
	st->id = ++fs->staged->next;
	g_mutex_unlock(&fs->staged->lock);
	st->path = g_strdup_printf("%s/%" G_GINT64_FORMAT, fs->staged->dir, st->id);
	int fd = staged_open_path(st->path, O_RDWR | O_TRUNC, err);
	if (fd >= 0 && src_fd >= 0 && !node_copy_fd(src_fd, fd, err)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0 && (flags & O_ACCMODE) != O_RDWR) {
		close(fd);
		fd = staged_open_path(st->path, flags & ~O_TRUNC, err);
	}
	if (fd < 0) {
		staged_free(st);
		return NULL;
	}
	g_mutex_lock(&fs->staged->lock);
	Staged *old = staged_find_locked(fs, folder_id, name);
	if (old)
		staged_remove_locked(fs, old);
	g_hash_table_insert(fs->staged->table, &st->id, st);
	staged_touch_locked(fs, folder_id);
	StagedHandle *h = staged_handle_new_locked(fs, st, fd);
	g_mutex_unlock(&fs->staged->lock);
	return h;
}

StagedHandle *
staged_create(MfFs *fs, gint64 folder_id, const char *name, GError **err)
{
	StagedHandle *h = staged_new(fs, folder_id, name, -1, O_RDWR, err);

	if (h)
		h->st->dirty = TRUE; /* a new file is a change, even empty */
	return h;
}

StagedHandle *
staged_replace(MfFs *fs, gint64 folder_id, const char *name, int src_fd,
               int flags, GError **err)
{
	StagedHandle *h = staged_new(fs, folder_id, name, src_fd, flags, err);

	if (h && (flags & O_TRUNC))
		h->st->dirty = TRUE;
	return h;
}

StagedHandle *
staged_open(MfFs *fs, gint64 id, int flags, GError **err)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = g_hash_table_lookup(fs->staged->table, &id);
	int fd = st ? staged_open_path(st->path, flags, err) : -1;
	StagedHandle *h = fd >= 0 ? staged_handle_new_locked(fs, st, fd) : NULL;
	if (h && (flags & O_TRUNC))
		st->dirty = TRUE;
	g_mutex_unlock(&fs->staged->lock);
	if (!st)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such file");
	return h;
}

fuse_ino_t
staged_lookup(MfFs *fs, gint64 folder_id, const char *name, struct stat *sb)
{
	fuse_ino_t ino = 0;

	g_mutex_lock(&fs->staged->lock);
	Staged *st = staged_find_locked(fs, folder_id, name);
	if (st) {
		staged_attr_locked(fs, st, sb);
		ino = sb->st_ino;
	}
	g_mutex_unlock(&fs->staged->lock);
	return ino;
}

gboolean
staged_getattr(MfFs *fs, gint64 id, struct stat *sb)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = g_hash_table_lookup(fs->staged->table, &id);
	if (st)
		staged_attr_locked(fs, st, sb);
	g_mutex_unlock(&fs->staged->lock);
	return st != NULL;
}

void
staged_fill(MfFs *fs, gint64 folder_id, GArray *dir)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&fs->staged->lock);
	g_hash_table_iter_init(&it, fs->staged->table);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Staged *st = v;
		if (st->folder_id == folder_id)
			dirlist_add(dir, st->name, node_staged_ino(st->id),
			            S_IFREG);
	}
	g_mutex_unlock(&fs->staged->lock);
}

/* Appends ST's file as the message NAME of FOLDER_ID (what has that name
 * there now is replaced).  Called without staged_lock, with ST held. */
static gboolean
staged_commit(MfFs *fs, Staged *st, gint64 folder_id, const char *name,
              GError **err)
{
	struct stat sb;
	gint64 gen = 0;
	guint32 uid = 0;

	if (stat(st->path, &sb) == 0 && (guint64)sb.st_size > STAGED_MAX) {
		g_set_error(err, MF_ERROR, MF_ERROR_BADMSG,
		            "larger than %u MiB: not appended", STAGED_MAX >> 20);
		return FALSE;
	}
	node_find_message(fs, folder_id, name, &gen, &uid);
	g_mutex_lock(&fs->staged->lock);
	g_autofree char *flags = g_strdup(st->flags);
	gint64 date = st->mtime > 0 ? st->mtime : 0;
	st->dirty = FALSE;
	g_mutex_unlock(&fs->staged->lock);
	GError *e = NULL;
	gboolean ok = account_add_message(fs->account, folder_id, name,
	                                  st->path, date, flags, gen, uid, &e);
	g_mutex_lock(&fs->staged->lock);
	st->committed |= ok;
	st->dirty = !ok; /* not appended: a later close tries again */
	g_free(st->refused);
	st->refused = ok ? NULL : g_strdup(e->message);
	g_mutex_unlock(&fs->staged->lock);
	if (!ok)
		g_propagate_error(err, e);
	return ok;
}

gboolean
staged_flush(MfFs *fs, StagedHandle *h, GError **err)
{
	Staged *st = h->st;

	g_mutex_lock(&fs->staged->lock);
	gboolean due = st->dirty && st->folder_id > 0 &&
	               !outbox_msg_is_scratch_name(st->name);
	gint64 folder_id = st->folder_id;
	g_autofree char *name = g_strdup(st->name);
	g_mutex_unlock(&fs->staged->lock);
	/* A close after a change makes the message: close() returns once
	 * it is appended, or recorded to be. */
	if (fsync(h->fd) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, e == ENOSPC || e == EDQUOT
		            ? MF_ERROR_NOSPACE : MF_ERROR_LOCAL,
		            "%s: %s", name, g_strerror(e));
		return FALSE;
	}
	return !due || staged_commit(fs, st, folder_id, name, err);
}

void
staged_release(MfFs *fs, StagedHandle *h)
{
	Staged *st = h->st;

	close(h->fd);
	h->fd = -1;
	g_mutex_lock(&fs->staged->lock);
	gboolean scratch = outbox_msg_is_scratch_name(st->name);
	if (--st->opens == 0 && (st->folder_id < 0 || !scratch)) {
		if (st->folder_id > 0 && st->dirty)
			g_warning("%s was not appended: %s", st->name,
			          st->refused ? st->refused : "not closed");
		if (st->folder_id > 0)
			staged_touch_locked(fs, st->folder_id);
		g_hash_table_remove(fs->staged->table, &st->id);
	}
	g_mutex_unlock(&fs->staged->lock);
	node_handle_release(fs, h);
}

gboolean
staged_unlink(MfFs *fs, gint64 folder_id, const char *name)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = staged_find_locked(fs, folder_id, name);
	if (st)
		staged_remove_locked(fs, st);
	g_mutex_unlock(&fs->staged->lock);
	return st != NULL;
}

/* Commits ST (closed, just renamed from FROM in FROM_FOLDER) under its
 * new name; undoes the rename if that fails. */
static gboolean
staged_commit_renamed(MfFs *fs, Staged *st, gint64 from_folder,
                      const char *from, GError **err)
{
	g_autofree char *name = g_strdup(st->name);

	if (staged_commit(fs, st, st->folder_id, name, err)) {
		g_mutex_lock(&fs->staged->lock);
		if (--st->opens == 0)
			g_hash_table_remove(fs->staged->table, &st->id);
		g_mutex_unlock(&fs->staged->lock);
		return TRUE;
	}
	g_mutex_lock(&fs->staged->lock);
	st->opens--;
	g_free(st->name);
	st->name = g_strdup(from);
	st->folder_id = from_folder;
	g_mutex_unlock(&fs->staged->lock);
	return FALSE;
}

gboolean
staged_rename(MfFs *fs, gint64 folder_id, const char *name, gint64 new_folder,
              const char *new_name, gboolean *found, GError **err)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = staged_find_locked(fs, folder_id, name);
	Staged *there = st ? staged_find_locked(fs, new_folder, new_name)
	                   : NULL;
	*found = st != NULL;
	if (!st) {
		g_mutex_unlock(&fs->staged->lock);
		return TRUE;
	}
	if (there && there != st)
		staged_remove_locked(fs, there);
	g_free(st->name);
	st->name = g_strdup(new_name);
	st->folder_id = new_folder;
	staged_touch_locked(fs, folder_id);
	staged_touch_locked(fs, new_folder);
	/* rsync, sed -i: a closed temporary file renamed to its real name
	 * is done. */
	gboolean commit = st->opens == 0 &&
	                  !outbox_msg_is_scratch_name(new_name);
	if (commit)
		st->opens++; /* held while it is committed */
	g_mutex_unlock(&fs->staged->lock);
	return !commit || staged_commit_renamed(fs, st, folder_id, name, err);
}

gboolean
staged_setattr(MfFs *fs, gint64 id, const struct stat *attr, int to_set,
               struct stat *sb, GError **err)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = g_hash_table_lookup(fs->staged->table, &id);
	gboolean ok = st != NULL;
	if (!ok)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such file");
	if (ok && (to_set & FUSE_SET_ATTR_SIZE)) {
		ok = truncate(st->path, attr->st_size) == 0;
		if (!ok)
			g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s: %s",
			            st->name, g_strerror(errno));
		else
			st->dirty = TRUE;
	}
	if (ok && (to_set & FUSE_SET_ATTR_MTIME))
		st->mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW)
		            ? g_get_real_time() / G_USEC_PER_SEC
		            : attr->st_mtime;
	if (ok)
		staged_attr_locked(fs, st, sb);
	g_mutex_unlock(&fs->staged->lock);
	return ok;
}

void
staged_wrote(MfFs *fs, StagedHandle *h)
{
	g_mutex_lock(&fs->staged->lock);
	h->st->dirty = TRUE;
	g_mutex_unlock(&fs->staged->lock);
}

gint64
staged_handle_id(const StagedHandle *h)
{
	return h->st->id;
}

gboolean
staged_set_flags(MfFs *fs, gint64 id, const char *flags)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = g_hash_table_lookup(fs->staged->table, &id);
	if (st) {
		g_free(st->flags);
		st->flags = g_strdup(flags);
	}
	g_mutex_unlock(&fs->staged->lock);
	return st != NULL;
}

char *
staged_get_flags(MfFs *fs, gint64 id, gboolean *found)
{
	g_mutex_lock(&fs->staged->lock);
	Staged *st = g_hash_table_lookup(fs->staged->table, &id);
	char *flags = st ? g_strdup(st->flags) : NULL;
	g_mutex_unlock(&fs->staged->lock);
	*found = st != NULL;
	return flags;
}
