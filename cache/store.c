/* store.c - the index of one account's cache: SQLite (WAL) tables of
 * folders, listings, generations, POP3 keys and pending changes.  Bodies
 * are in store_body.c; store.h has the layout and crash rules. */
#include "cache/store.h"
#include "cache/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"




static const char pragmas[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;";

gboolean
store_db_error(Store *s, GError **err, const char *what)
{
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cache index %s: %s: %s",
	            s->dir, what, sqlite3_errmsg(s->db));
	return FALSE;
}

gboolean
store_exec(Store *s, const char *sql, GError **err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cache index %s: %s", s->dir,
	            msg ? msg : "error");
	sqlite3_free(msg);
	return FALSE;
}

sqlite3_stmt *
store_prepare(Store *s, const char *sql, GError **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_error(s, err, "prepare");
		return NULL;
	}
	return st;
}

gboolean
store_mkdir(const char *path, GError **err)
{
	if (g_mkdir_with_parents(path, 0700) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot create cache directory %s: %s", path,
		            g_strerror(e));
		return FALSE;
	}
	if (chmod(path, 0700) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot chmod %s: %s",
		            path, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

gboolean
store_mkdir_once(const char *path, GError **err)
{
	/* The common case, on the path of every body: it exists. */
	if (mkdir(path, 0700) != 0 && errno == EEXIST)
		return TRUE;
	return store_mkdir(path, err);
}

/* Removes leftovers of bodies that were being written at a crash.  Another
 * process of the same cache (a mount while `mailfs sync` starts) may be
 * writing some: each holds a lock on its file (store_body_begin()), so a
 * file is removed only under its lock. */
static void
store_clean_tmp(const char *tmp_dir)
{
	g_autoptr(GDir) d = g_dir_open(tmp_dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(tmp_dir, name, NULL);
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlink(p);
		close(fd);
	}
}

/* Moves the damaged index of S (with its -wal and -shm), its bodies/,
 * written/ and pending/ out of the way, into a new DIR/damaged-TIME-XXXXXX/,
 * and says so in one line: nothing in it is trusted again (their files are
 * named by folder ids or rows only the index knew), nothing in it is
 * deleted (it may hold the only copy of mail).  FALSE with ERR if it
 * cannot be moved. */
static gboolean
store_set_aside(Store *s, const char *why, GError **err)
{
	static const char *const names[] = {
		"index.sqlite", "index.sqlite-wal", "index.sqlite-shm",
		"bodies", "written", "pending",
	};
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");
	g_autofree char *aside = g_strdup_printf("%s/damaged-%s-XXXXXX",
	                                         s->dir, stamp);
	int e = 0;

	sqlite3_close(s->db);
	s->db = NULL;
	if (!g_mkdtemp_full(aside, 0700))
		e = errno;
	for (gsize i = 0; i < G_N_ELEMENTS(names) && !e; i++) {
		g_autofree char *from = g_build_filename(s->dir, names[i], NULL);
		g_autofree char *to = g_build_filename(aside, names[i], NULL);
		if (rename(from, to) != 0 && errno != ENOENT)
			e = errno;
	}
	if (e) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cache index %s/"
		            "index.sqlite is damaged (%s) and cannot be moved "
		            "aside: %s; remove %s to start afresh", s->dir, why,
		            g_strerror(e), s->dir);
		return FALSE;
	}
	/* An error, not a warning: it must pass a muted log (mount). */
	g_critical("cache index %s/index.sqlite is damaged (%s); it was "
	           "moved, with the cached bodies, to %s and a new index is "
	           "filled from the server; delete that directory once nothing "
	           "in it is needed (it keeps changes not yet on the server and "
	           "POP3 mail kept only in the cache)", s->dir, why, aside);
	return store_mkdir(s->bodies_dir, err);
}

/* Opens the index at DB and checks it (PRAGMA quick_check, and the
 * schema); a damaged one is set aside and a new one made.  SQLite reports
 * damage as SQLITE_CORRUPT or SQLITE_NOTADB, or as quick_check rows. */
static gboolean
store_open_index(Store *s, const char *db, gboolean may_set_aside,
                 GError **err)
{
	g_autofree char *why = NULL;
	sqlite3_stmt *st = NULL;
	mode_t old = umask(077);
	int rc = sqlite3_open_v2(db, &s->db, SQLITE_OPEN_READWRITE |
	                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	umask(old);
	if (rc != SQLITE_OK)
		return store_db_error(s, err, "open");
	sqlite3_busy_timeout(s->db, 10000);
	rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW &&
	    g_strcmp0((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		/* "*** in database main ***\nPage 6: ...": the last line */
		const char *t = (const char *)sqlite3_column_text(st, 0);
		why = g_strescape(strrchr(t, '\n') ? strrchr(t, '\n') + 1 : t,
		                  NULL);
	}
	sqlite3_finalize(st);
	if (!why && (rc & 0xff) != SQLITE_CORRUPT &&
	    (rc & 0xff) != SQLITE_NOTADB) {
		if (rc != SQLITE_ROW)
			return store_db_error(s, err, "check");
		return store_exec(s, pragmas, err) &&
		       store_schema_apply(s, err);
	}
	if (!why)
		why = g_strdup(sqlite3_errstr(rc));
	if (!may_set_aside) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cache index %s/"
		            "index.sqlite is damaged (%s)", s->dir, why);
		return FALSE;
	}
	return store_set_aside(s, why, err) &&
	       store_open_index(s, db, FALSE, err);
}

Store *
store_open(const char *dir, GError **err)
{
	Store *s = g_new0(Store, 1);
	g_autofree char *db = NULL;

	g_mutex_init(&s->lock);
	s->touched = g_array_new(FALSE, FALSE, sizeof(Touch));
	s->dir = g_strdup(dir);
	s->tmp_dir = g_build_filename(dir, "tmp", NULL);
	s->bodies_dir = g_build_filename(dir, "bodies", NULL);
	if (!store_mkdir(dir, err) || !store_mkdir(s->tmp_dir, err) ||
	    !store_mkdir(s->bodies_dir, err))
		goto fail;
	store_clean_tmp(s->tmp_dir);
	db = g_build_filename(dir, "index.sqlite", NULL);
	if (!store_open_index(s, db, TRUE, err))
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(Store *s)
{
	if (!s)
		return;
	if (s->db) {
		store_touch_flush(s);
		sqlite3_finalize(s->body_row);
		sqlite3_close(s->db);
	}
	g_array_unref(s->touched);
	g_mutex_clear(&s->lock);
	g_free(s->dir);
	g_free(s->tmp_dir);
	g_free(s->bodies_dir);
	g_free(s);
}

gboolean
store_exists(const char *dir)
{
	g_autofree char *db = g_build_filename(dir, "index.sqlite", NULL);
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	gboolean found = FALSE;

	if (!g_file_test(db, G_FILE_TEST_IS_REGULAR))
		return FALSE;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT 1 FROM folders LIMIT 1", -1, &st,
	                       NULL) == SQLITE_OK)
		found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	sqlite3_close(h);
	return found;
}

void
store_folder_free(StoreFolder *f)
{
	if (!f)
		return;
	g_free(f->name);
	g_free(f->path);
	g_free(f);
}

static GPtrArray *
store_folders_load_locked(Store *s, GError **err)
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT id, name, path, flags, uidvalidity FROM folders "
		"WHERE present = 1 ORDER BY path", err);
	if (!st)
		return NULL;
	GPtrArray *out =
		g_ptr_array_new_with_free_func((GDestroyNotify)store_folder_free);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		StoreFolder *f = g_new0(StoreFolder, 1);
		f->id = sqlite3_column_int64(st, 0);
		f->name = g_strdup((const char *)sqlite3_column_text(st, 1));
		f->path = g_strdup((const char *)sqlite3_column_text(st, 2));
		f->flags = (guint)sqlite3_column_int(st, 3);
		f->uidvalidity = (guint32)sqlite3_column_int64(st, 4);
		g_ptr_array_add(out, f);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		g_ptr_array_unref(out);
		store_db_error(s, err, "read folders");
		return NULL;
	}
	return out;
}

GPtrArray *
store_folders_load(Store *s, GError **err)
{
	g_mutex_lock(&s->lock);
	GPtrArray *out = store_folders_load_locked(s, err);
	g_mutex_unlock(&s->lock);
	return out;
}

static gboolean
store_folders_write(Store *s, GPtrArray *remote, GError **err)
{
	sqlite3_stmt *st = store_prepare(s,
		"INSERT INTO folders (name, path, flags, present) "
		"VALUES (?1, ?2, ?3, 1) ON CONFLICT(name) DO UPDATE SET "
		"path = ?2, flags = ?3, present = 1", err);
	if (!st)
		return FALSE;
	for (guint i = 0; i < remote->len; i++) {
		const MfRemoteFolder *f = remote->pdata[i];
		sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, f->path, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, (int)f->flags);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return store_db_error(s, err, "write folder");
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return TRUE;
}

GPtrArray *
store_folders_update(Store *s, GPtrArray *remote, GError **err)
{
	GPtrArray *out = NULL;

	g_mutex_lock(&s->lock);
	if (store_exec(s, "BEGIN IMMEDIATE; UPDATE folders SET present = 0;",
	               err)) {
		if (store_folders_write(s, remote, err) &&
		    store_exec(s, "COMMIT", err))
			out = store_folders_load_locked(s, err);
		else
			store_exec(s, "ROLLBACK", NULL);
	}
	g_mutex_unlock(&s->lock);
	return out;
}

static guint32
store_folder_uidvalidity(Store *s, gint64 folder_id)
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT uidvalidity FROM folders WHERE id = ?1", NULL);
	guint32 v = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, folder_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (guint32)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

gboolean
store_messages_load(Store *s, gint64 folder_id, guint32 *uidvalidity,
                    GArray **msgs, GError **err)
{
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT uid, size, date, flags, key FROM messages WHERE "
		"folder = ?1 ORDER BY uid", err);
	if (!st) {
		g_mutex_unlock(&s->lock);
		return FALSE;
	}
	sqlite3_bind_int64(st, 1, folder_id);
	GArray *out = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		MfRemoteMessage m = {
			.uid = (guint32)sqlite3_column_int64(st, 0),
			.size = (guint64)sqlite3_column_int64(st, 1),
			.date = sqlite3_column_int64(st, 2),
			.flags = g_intern_string(
				(const char *)sqlite3_column_text(st, 3)),
			.key = g_intern_string(
				(const char *)sqlite3_column_text(st, 4)),
		};
		g_array_append_val(out, m);
	}
	sqlite3_finalize(st);
	guint32 v = store_folder_uidvalidity(s, folder_id);
	g_mutex_unlock(&s->lock);
	if (rc != SQLITE_DONE) {
		g_array_unref(out);
		return store_db_error(s, err, "read listing");
	}
	*uidvalidity = v;
	*msgs = out;
	return TRUE;
}

static gboolean
store_message_put(sqlite3_stmt *ins, gint64 folder_id,
                  const MfRemoteMessage *m)
{
	sqlite3_bind_int64(ins, 1, folder_id);
	sqlite3_bind_int64(ins, 2, m->uid);
	sqlite3_bind_int64(ins, 3, (sqlite3_int64)m->size);
	sqlite3_bind_int64(ins, 4, m->date);
	sqlite3_bind_text(ins, 5, m->flags ? m->flags : "", -1, SQLITE_STATIC);
	if (m->key)
		sqlite3_bind_text(ins, 6, m->key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(ins, 6);
	gboolean ok = sqlite3_step(ins) == SQLITE_DONE;
	sqlite3_reset(ins);
	return ok;
}

static gboolean
store_message_del(sqlite3_stmt *del, gint64 folder_id, guint32 uid)
{
	sqlite3_bind_int64(del, 1, folder_id);
	sqlite3_bind_int64(del, 2, uid);
	gboolean ok = sqlite3_step(del) == SQLITE_DONE;
	sqlite3_reset(del);
	return ok;
}

/* Writes the difference between two UID-sorted listings. */
static gboolean
store_messages_diff(sqlite3_stmt *ins, sqlite3_stmt *del, gint64 folder_id,
                    GArray *old, GArray *msgs)
{
	guint i = 0, j = 0, n_old = old ? old->len : 0;

	while (i < n_old || j < msgs->len) {
		const MfRemoteMessage *a = i < n_old
			? &g_array_index(old, MfRemoteMessage, i) : NULL;
		const MfRemoteMessage *b = j < msgs->len
			? &g_array_index(msgs, MfRemoteMessage, j) : NULL;
		gboolean ok = TRUE;
		if (a && (!b || a->uid < b->uid)) {
			ok = store_message_del(del, folder_id, a->uid);
			i++;
		} else if (b && (!a || b->uid < a->uid)) {
			ok = store_message_put(ins, folder_id, b);
			j++;
		} else if (a && b) {
			/* Interned flags compare by pointer. */
			if (a->flags != b->flags || a->size != b->size)
				ok = store_message_put(ins, folder_id, b);
			i++;
			j++;
		}
		if (!ok)
			return FALSE;
	}
	return TRUE;
}

static gboolean
store_messages_write(Store *s, gint64 folder_id, guint32 uidvalidity,
                     GArray *old, GArray *msgs, GError **err)
{
	sqlite3_stmt *ins = store_prepare(s,
		"INSERT OR REPLACE INTO messages (folder, uid, size, date, flags,"
		" key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", err);
	sqlite3_stmt *del = store_prepare(s,
		"DELETE FROM messages WHERE folder = ?1 AND uid = ?2", err);
	gboolean ok = ins && del;

	if (ok && store_folder_uidvalidity(s, folder_id) != uidvalidity) {
		g_autofree char *sql = g_strdup_printf(
			"DELETE FROM messages WHERE folder = %" G_GINT64_FORMAT ";"
			"UPDATE folders SET uidvalidity = %u, highestmodseq = 0,"
			" uidnext = 0 WHERE id = %" G_GINT64_FORMAT, folder_id,
			uidvalidity, folder_id);
		ok = store_exec(s, sql, err);
		old = NULL;
	}
	if (ok && !store_messages_diff(ins, del, folder_id, old, msgs))
		ok = store_db_error(s, err, "write listing");
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	return ok;
}

gboolean
store_messages_save(Store *s, gint64 folder_id, guint32 uidvalidity,
                    GArray *old, GArray *msgs, GError **err)
{
	gboolean ok = FALSE;

	g_mutex_lock(&s->lock);
	if (store_exec(s, "BEGIN IMMEDIATE", err)) {
		ok = store_messages_write(s, folder_id, uidvalidity, old, msgs,
		                          err) && store_exec(s, "COMMIT", err);
		if (!ok)
			store_exec(s, "ROLLBACK", NULL);
	}
	g_mutex_unlock(&s->lock);
	return ok;
}

gboolean
store_folder_sync_get(Store *s, gint64 folder_id, guint64 *highestmodseq,
                      guint32 *uidnext)
{
	gboolean found = FALSE;

	*highestmodseq = 0;
	*uidnext = 0;
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT highestmodseq, uidnext FROM folders WHERE id = ?1", NULL);
	if (st) {
		sqlite3_bind_int64(st, 1, folder_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*highestmodseq = (guint64)sqlite3_column_int64(st, 0);
			*uidnext = (guint32)sqlite3_column_int64(st, 1);
			found = TRUE;
		}
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&s->lock);
	return found;
}

gboolean
store_folder_sync_set(Store *s, gint64 folder_id, guint64 highestmodseq,
                      guint32 uidnext, GError **err)
{
	g_autofree char *sql = g_strdup_printf(
		"UPDATE folders SET highestmodseq = %" G_GINT64_FORMAT
		", uidnext = %u WHERE id = %" G_GINT64_FORMAT,
		(gint64)MIN(highestmodseq, (guint64)G_MAXINT64), uidnext,
		folder_id);

	g_mutex_lock(&s->lock);
	gboolean ok = store_exec(s, sql, err);
	g_mutex_unlock(&s->lock);
	return ok;
}

static gint64
store_generation_find(Store *s, gint64 folder_id, guint32 uidvalidity)
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT id FROM generations WHERE folder = ?1 AND "
		"uidvalidity = ?2", NULL);
	gint64 id = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

gint64
store_generation(Store *s, gint64 folder_id, guint32 uidvalidity, GError **err)
{
	g_mutex_lock(&s->lock);
	gint64 id = store_generation_find(s, folder_id, uidvalidity);
	if (id == 0) {
		g_autofree char *sql = g_strdup_printf(
			"INSERT INTO generations (folder, uidvalidity) VALUES "
			"(%" G_GINT64_FORMAT ", %u)", folder_id, uidvalidity);
		if (store_exec(s, sql, err))
			id = sqlite3_last_insert_rowid(s->db);
	}
	g_mutex_unlock(&s->lock);
	return id;
}

gboolean
store_generation_lookup(Store *s, gint64 gen, gint64 *folder_id,
                        guint32 *uidvalidity)
{
	gboolean found = FALSE;

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT folder, uidvalidity FROM generations WHERE id = ?1",
		NULL);
	if (st) {
		sqlite3_bind_int64(st, 1, gen);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*folder_id = sqlite3_column_int64(st, 0);
			*uidvalidity = (guint32)sqlite3_column_int64(st, 1);
			found = TRUE;
		}
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	return found;
}


static gboolean
store_key_lookup(Store *s, sqlite3_stmt *get, gint64 folder_id,
                 const char *key, guint32 *uid)
{
	sqlite3_bind_int64(get, 1, folder_id);
	sqlite3_bind_text(get, 2, key, -1, SQLITE_STATIC);
	gboolean found = sqlite3_step(get) == SQLITE_ROW;
	if (found)
		*uid = (guint32)sqlite3_column_int64(get, 0);
	sqlite3_reset(get);
	return found;
}

static guint32
store_key_next_uid(Store *s, gint64 folder_id)
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT COALESCE(MAX(uid), 0) FROM keys WHERE folder = ?1", NULL);
	guint32 uid = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, folder_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		uid = (guint32)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return uid + 1;
}

static gboolean
store_keys_write(Store *s, gint64 folder_id, GArray *msgs, GError **err)
{
	sqlite3_stmt *get = store_prepare(s,
		"SELECT uid FROM keys WHERE folder = ?1 AND key = ?2", err);
	sqlite3_stmt *put = store_prepare(s,
		"INSERT INTO keys (folder, key, uid) VALUES (?1, ?2, ?3)", err);
	guint32 next = store_key_next_uid(s, folder_id);
	gboolean ok = get && put && next > 0;

	for (guint i = 0; ok && i < msgs->len; i++) {
		MfRemoteMessage *m = &g_array_index(msgs, MfRemoteMessage, i);
		if (!m->key || store_key_lookup(s, get, folder_id, m->key, &m->uid))
			continue;
		m->uid = next++;
		sqlite3_bind_int64(put, 1, folder_id);
		sqlite3_bind_text(put, 2, m->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(put, 3, m->uid);
		ok = sqlite3_step(put) == SQLITE_DONE;
		sqlite3_reset(put);
	}
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	return ok ? TRUE : store_db_error(s, err, "assign UIDs");
}

gint
store_uid_compare(gconstpointer a, gconstpointer b)
{
	guint32 x = ((const MfRemoteMessage *)a)->uid;
	guint32 y = ((const MfRemoteMessage *)b)->uid;
	return x < y ? -1 : x > y;
}

gboolean
store_keys_assign(Store *s, gint64 folder_id, GArray *msgs, GError **err)
{
	gboolean ok = FALSE;

	g_mutex_lock(&s->lock);
	if (store_exec(s, "BEGIN IMMEDIATE", err)) {
		ok = store_keys_write(s, folder_id, msgs, err) &&
		     store_exec(s, "COMMIT", err);
		if (!ok)
			store_exec(s, "ROLLBACK", NULL);
	}
	g_mutex_unlock(&s->lock);
	if (ok)
		g_array_sort(msgs, store_uid_compare);
	return ok;
}


static char *
store_column_strdup(sqlite3_stmt *st, int col)
{
	return g_strdup((const char *)sqlite3_column_text(st, col));
}

/* Binds P's fields as ?1 .. ?14 of an INSERT or UPDATE of pending. */
static void
store_pending_bind(sqlite3_stmt *st, const StorePending *p)
{
	sqlite3_bind_int(st, 1, p->op);
	sqlite3_bind_int64(st, 2, p->folder_id);
	sqlite3_bind_int64(st, 3, p->uidvalidity);
	sqlite3_bind_int64(st, 4, p->uid);
	sqlite3_bind_int64(st, 5, p->dest_id);
	sqlite3_bind_text(st, 6, p->flags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, p->date);
	sqlite3_bind_text(st, 9, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, p->written, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, p->replace_uv);
	sqlite3_bind_int64(st, 12, p->replace_uid);
	sqlite3_bind_text(st, 13, p->msgid, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 14, (int)p->tries);
}

gint64
store_pending_add(Store *s, const StorePending *p, GError **err)
{
	gint64 id = 0;

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"INSERT INTO pending (op, folder, uidvalidity, uid, dest, flags,"
		" path, date, name, written, replace_uv, replace_uid, msgid, "
		"tries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
		"?12, ?13, ?14)", err);
	if (st) {
		store_pending_bind(st, p);
		/* synchronous=NORMAL may lose the last commits at a power
		 * cut; a change the user was told is done must not be. */
		if (sqlite3_step(st) == SQLITE_DONE &&
		    store_exec(s, "PRAGMA wal_checkpoint(FULL)", err))
			id = sqlite3_last_insert_rowid(s->db);
		else if (err && !*err)
			store_db_error(s, err, "record a change");
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	return id;
}

gboolean
store_pending_update(Store *s, const StorePending *p, GError **err)
{
	gboolean ok = FALSE;

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"UPDATE pending SET op = ?1, folder = ?2, uidvalidity = ?3, "
		"uid = ?4, dest = ?5, flags = ?6, path = ?7, date = ?8, "
		"name = ?9, written = ?10, replace_uv = ?11, replace_uid = ?12, "
		"msgid = ?13, tries = ?14 WHERE id = ?15", err);
	if (st) {
		store_pending_bind(st, p);
		sqlite3_bind_int64(st, 15, p->id);
		ok = sqlite3_step(st) == SQLITE_DONE &&
		     store_exec(s, "PRAGMA wal_checkpoint(FULL)", err);
		if (!ok && err && !*err)
			store_db_error(s, err, "record a change");
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	return ok;
}

GArray *
store_pending_list(Store *s)
{
	GArray *out = g_array_new(FALSE, TRUE, sizeof(StorePending));

	g_array_set_clear_func(out, (GDestroyNotify)store_pending_clear);
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT id, op, folder, uidvalidity, uid, dest, flags, path, date,"
		" name, written, replace_uv, replace_uid, msgid, tries"
		" FROM pending ORDER BY id", NULL);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		StorePending p = {
			.id = sqlite3_column_int64(st, 0),
			.op = sqlite3_column_int(st, 1),
			.folder_id = sqlite3_column_int64(st, 2),
			.uidvalidity = (guint32)sqlite3_column_int64(st, 3),
			.uid = (guint32)sqlite3_column_int64(st, 4),
			.dest_id = sqlite3_column_int64(st, 5),
			.flags = store_column_strdup(st, 6),
			.path = store_column_strdup(st, 7),
			.date = sqlite3_column_int64(st, 8),
			.name = store_column_strdup(st, 9),
			.written = store_column_strdup(st, 10),
			.replace_uv = (guint32)sqlite3_column_int64(st, 11),
			.replace_uid = (guint32)sqlite3_column_int64(st, 12),
			.msgid = store_column_strdup(st, 13),
			.tries = (guint)sqlite3_column_int(st, 14),
		};
		g_array_append_val(out, p);
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&s->lock);
	return out;
}

void
store_pending_remove(Store *s, gint64 id)
{
	g_autofree char *sql = g_strdup_printf(
		"DELETE FROM pending WHERE id = %" G_GINT64_FORMAT, id);

	g_mutex_lock(&s->lock);
	store_exec(s, sql, NULL);
	g_mutex_unlock(&s->lock);
}

void
store_pending_clear(StorePending *p)
{
	g_free(p->flags);
	g_free(p->path);
	g_free(p->name);
	g_free(p->written);
	g_free(p->msgid);
}

char *
store_pending_dir(Store *s)
{
	char *dir = g_build_filename(s->dir, "pending", NULL);
	g_mkdir_with_parents(dir, 0700);
	return dir;
}

