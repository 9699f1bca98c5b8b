/* store.c - the on-disk cache of one account: a SQLite index (WAL) and one
 * file per message body.  See store.h for the layout and crash rules. */
#include "cache/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"

typedef struct {
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;
	gint64 atime;
} Touch;

struct Store {
	GMutex lock;
	sqlite3 *db;
	GArray *touched;  /* Touch: reads not yet written to the index */
	char *dir;
	char *tmp_dir;
	char *bodies_dir;
};

struct StoreBody {
	int fd;
	char *tmp_path;
	GChecksum *sum;
	guint64 size;
};

static void store_touch_flush(Store *s);

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS folders ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE, path TEXT NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  present INTEGER NOT NULL DEFAULT 1,"
	"  uidvalidity INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS messages ("
	"  folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  size INTEGER NOT NULL, date INTEGER NOT NULL, flags TEXT NOT NULL,"
	"  key TEXT,"
	"  PRIMARY KEY (folder, uid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS pending ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, op INTEGER NOT NULL,"
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, dest INTEGER NOT NULL, flags TEXT,"
	"  path TEXT, date INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS keys ("
	"  folder INTEGER NOT NULL, key TEXT NOT NULL, uid INTEGER NOT NULL,"
	"  PRIMARY KEY (folder, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS generations ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  UNIQUE (folder, uidvalidity));"
	"CREATE TABLE IF NOT EXISTS bodies ("
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, size INTEGER NOT NULL, sha256 BLOB NOT NULL,"
	"  atime INTEGER NOT NULL DEFAULT 0,"
	"  pinned INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS bodies_atime ON bodies (pinned, atime);";

static gboolean
store_db_error(Store *s, GError **err, const char *what)
{
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cache index %s: %s: %s",
	            s->dir, what, sqlite3_errmsg(s->db));
	return FALSE;
}

static gboolean
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

static sqlite3_stmt *
store_prepare(Store *s, const char *sql, GError **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_error(s, err, "prepare");
		return NULL;
	}
	return st;
}

static gboolean
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

/* Removes leftovers of bodies that were being written at a crash. */
static void
store_clean_tmp(const char *tmp_dir)
{
	g_autoptr(GDir) d = g_dir_open(tmp_dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(tmp_dir, name, NULL);
		unlink(p);
	}
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
	mode_t old = umask(077);
	int rc = sqlite3_open_v2(db, &s->db, SQLITE_OPEN_READWRITE |
	                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		store_db_error(s, err, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (!store_exec(s, schema, err))
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
			"UPDATE folders SET uidvalidity = %u WHERE id = %"
			G_GINT64_FORMAT, folder_id, uidvalidity, folder_id);
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

static char *
store_body_path(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid)
{
	return g_strdup_printf("%s/%" G_GINT64_FORMAT "/%u-%u.eml",
	                       s->bodies_dir, folder_id, uidvalidity, uid);
}

StoreBody *
store_body_begin(Store *s, GError **err)
{
	g_autofree char *tmpl = g_build_filename(s->tmp_dir, "body-XXXXXX",
	                                         NULL);
	int fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot create a file in %s: %s", s->tmp_dir,
		            g_strerror(e));
		return NULL;
	}
	StoreBody *b = g_new0(StoreBody, 1);
	b->fd = fd;
	b->tmp_path = g_steal_pointer(&tmpl);
	b->sum = g_checksum_new(G_CHECKSUM_SHA256);
	return b;
}

gboolean
store_body_write(StoreBody *b, const char *data, size_t len, GError **err)
{
	g_checksum_update(b->sum, (const guchar *)data, (gssize)len);
	b->size += len;
	while (len > 0) {
		ssize_t n = write(b->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
			            "cannot write to the cache: %s", g_strerror(e));
			return FALSE;
		}
		data += n;
		len -= (size_t)n;
	}
	return TRUE;
}

guint64
store_body_size(const StoreBody *b)
{
	return b->size;
}

void
store_body_abort(StoreBody *b)
{
	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	if (b->tmp_path)
		unlink(b->tmp_path);
	g_free(b->tmp_path);
	g_checksum_free(b->sum);
	g_free(b);
}

static gboolean
store_body_record(Store *s, gint64 folder_id, guint32 uidvalidity,
                  guint32 uid, guint64 size, const guint8 *sha, GError **err)
{
	sqlite3_stmt *st = store_prepare(s,
		"INSERT OR REPLACE INTO bodies (folder, uidvalidity, uid, size,"
		" sha256, atime) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", err);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
	sqlite3_bind_blob(st, 5, sha, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, g_get_real_time());
	gboolean ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? TRUE : store_db_error(s, err, "record body");
}

static gboolean
store_body_place(Store *s, StoreBody *b, const char *final, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(final);
	int e = 0;

	if (fsync(b->fd) != 0)
		e = errno;
	else if (!store_mkdir(dir, err))
		return FALSE;
	else if (rename(b->tmp_path, final) != 0)
		e = errno;
	if (e) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot store %s: %s", final, g_strerror(e));
		return FALSE;
	}
	g_clear_pointer(&b->tmp_path, g_free);
	return TRUE;
}

typedef struct {
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;
	guint64 size;
	guint8 sha[32];
} BatchRow;

struct StoreBatch {
	GArray *rows; /* BatchRow */
};

StoreBatch *
store_batch_new(void)
{
	StoreBatch *b = g_new0(StoreBatch, 1);
	b->rows = g_array_new(FALSE, FALSE, sizeof(BatchRow));
	return b;
}

guint
store_batch_count(const StoreBatch *batch)
{
	return batch->rows->len;
}

void
store_batch_free(StoreBatch *batch)
{
	if (!batch)
		return;
	g_array_unref(batch->rows);
	g_free(batch);
}

gboolean
store_batch_add(Store *s, StoreBatch *batch, StoreBody *b, gint64 folder_id,
                guint32 uidvalidity, guint32 uid, GError **err)
{
	g_autofree char *final = store_body_path(s, folder_id, uidvalidity, uid);
	g_autofree char *dir = g_path_get_dirname(final);
	BatchRow r = { folder_id, uidvalidity, uid, b->size, { 0 } };
	gsize len = sizeof r.sha;
	gboolean ok = store_mkdir(dir, err);

	if (ok && rename(b->tmp_path, final) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot store %s: %s",
		            final, g_strerror(e));
		ok = FALSE;
	}
	if (ok) {
		g_clear_pointer(&b->tmp_path, g_free);
		g_checksum_get_digest(b->sum, r.sha, &len);
		g_array_append_val(batch->rows, r);
	}
	store_body_abort(b);
	return ok;
}

static gboolean
store_batch_rows(Store *s, StoreBatch *batch, GError **err)
{
	for (guint i = 0; i < batch->rows->len; i++) {
		const BatchRow *r = &g_array_index(batch->rows, BatchRow, i);
		if (!store_body_record(s, r->folder_id, r->uidvalidity, r->uid,
		                       r->size, r->sha, err))
			return FALSE;
	}
	return TRUE;
}

gboolean
store_batch_commit(Store *s, StoreBatch *batch, GError **err)
{
	gboolean ok = FALSE;
	int fd;

	if (batch->rows->len == 0)
		return TRUE;
	fd = open(s->bodies_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot flush the cache to disk: %s", g_strerror(e));
		return FALSE;
	}
	close(fd);
	g_mutex_lock(&s->lock);
	if (store_exec(s, "BEGIN IMMEDIATE", err)) {
		ok = store_batch_rows(s, batch, err) &&
		     store_exec(s, "COMMIT", err);
		if (!ok)
			store_exec(s, "ROLLBACK", NULL);
	}
	g_mutex_unlock(&s->lock);
	g_array_set_size(batch->rows, 0);
	return ok;
}

GHashTable *
store_bodies_cached(Store *s, gint64 folder_id, guint32 uidvalidity,
                    GError **err)
{
	GHashTable *set = g_hash_table_new(NULL, NULL);

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT uid FROM bodies WHERE folder = ?1 AND uidvalidity = ?2",
		err);
	if (st) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		while (sqlite3_step(st) == SQLITE_ROW)
			g_hash_table_add(set, GUINT_TO_POINTER(
				(guint)sqlite3_column_int64(st, 0)));
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	if (!st) {
		g_hash_table_unref(set);
		return NULL;
	}
	return set;
}

gboolean
store_body_commit(Store *s, StoreBody *b, gint64 folder_id,
                  guint32 uidvalidity, guint32 uid, GError **err)
{
	g_autofree char *final = store_body_path(s, folder_id, uidvalidity, uid);
	guint8 sha[32];
	gsize sha_len = sizeof sha;
	gboolean ok;

	g_checksum_get_digest(b->sum, sha, &sha_len);
	g_mutex_lock(&s->lock);
	ok = store_body_place(s, b, final, err) &&
	     store_body_record(s, folder_id, uidvalidity, uid, b->size, sha,
	                       err);
	g_mutex_unlock(&s->lock);
	store_body_abort(b);
	return ok;
}

/* Reads the index row of a body; FALSE if there is none. */
static gboolean
store_body_row(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
               guint64 *size, guint8 sha[32])
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT size, sha256 FROM bodies WHERE folder = ?1 AND "
		"uidvalidity = ?2 AND uid = ?3", NULL);
	gboolean found = FALSE;

	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 1) == 32) {
		*size = (guint64)sqlite3_column_int64(st, 0);
		memcpy(sha, sqlite3_column_blob(st, 1), 32);
		found = TRUE;
	}
	sqlite3_finalize(st);
	return found;
}

static gboolean
store_body_hash_ok(int fd, const guint8 want[32])
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	char buf[65536];
	guint8 got[32];
	gsize got_len = sizeof got;
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
		g_checksum_update(sum, (const guchar *)buf, n);
		off += n;
	}
	if (n < 0)
		return FALSE;
	g_checksum_get_digest(sum, got, &got_len);
	return memcmp(got, want, 32) == 0;
}

static void
store_body_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                  guint32 uid, const char *path)
{
	g_autofree char *sql = g_strdup_printf(
		"DELETE FROM bodies WHERE folder = %" G_GINT64_FORMAT
		" AND uidvalidity = %u AND uid = %u", folder_id, uidvalidity, uid);
	store_exec(s, sql, NULL);
	unlink(path);
}

int
store_body_open(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
                gboolean verify, GError **err)
{
	g_autofree char *path = store_body_path(s, folder_id, uidvalidity, uid);
	guint64 size = 0;
	guint8 sha[32];
	struct stat st;
	int fd = -1;

	g_mutex_lock(&s->lock);
	if (store_body_row(s, folder_id, uidvalidity, uid, &size, sha)) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) != 0 ||
		                (guint64)st.st_size != size ||
		                (verify && !store_body_hash_ok(fd, sha)))) {
			g_warning("cached body %s is damaged; fetching it again",
			          path);
			close(fd);
			fd = -1;
			store_body_forget(s, folder_id, uidvalidity, uid, path);
		}
	}
	g_mutex_unlock(&s->lock);
	if (fd >= 0)
		store_body_touch(s, folder_id, uidvalidity, uid);
	if (fd < 0)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "message %u is not cached", uid);
	return fd;
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

/* Writes the read times gathered since the last flush, in one
 * transaction; they only order eviction, so losing some is harmless. */
static void
store_touch_flush(Store *s)
{
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = s->touched->len ? store_prepare(s,
		"UPDATE bodies SET atime = ?4 WHERE folder = ?1 AND "
		"uidvalidity = ?2 AND uid = ?3", NULL) : NULL;
	if (st && store_exec(s, "BEGIN IMMEDIATE", NULL)) {
		for (guint i = 0; i < s->touched->len; i++) {
			const Touch *t = &g_array_index(s->touched, Touch, i);
			sqlite3_bind_int64(st, 1, t->folder_id);
			sqlite3_bind_int64(st, 2, t->uidvalidity);
			sqlite3_bind_int64(st, 3, t->uid);
			sqlite3_bind_int64(st, 4, t->atime);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		store_exec(s, "COMMIT", NULL);
	}
	sqlite3_finalize(st);
	g_array_set_size(s->touched, 0);
	g_mutex_unlock(&s->lock);
}

static guint64
store_total_unpinned(Store *s)
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT COALESCE(SUM(size), 0) FROM bodies WHERE pinned = 0",
		NULL);
	guint64 total = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		total = (guint64)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return total;
}

/* Deletes least recently read bodies until TOTAL is at most TARGET. */
static guint
store_evict_oldest(Store *s, guint64 total, guint64 target)
{
	sqlite3_stmt *st = store_prepare(s,
		"SELECT folder, uidvalidity, uid, size FROM bodies "
		"WHERE pinned = 0 ORDER BY atime LIMIT 1000", NULL);
	g_autoptr(GArray) victims = g_array_new(FALSE, FALSE, sizeof(Touch));
	guint n = 0;

	while (st && total > target && sqlite3_step(st) == SQLITE_ROW) {
		Touch t = { sqlite3_column_int64(st, 0),
		            (guint32)sqlite3_column_int64(st, 1),
		            (guint32)sqlite3_column_int64(st, 2), 0 };
		total -= MIN(total, (guint64)sqlite3_column_int64(st, 3));
		g_array_append_val(victims, t);
	}
	sqlite3_finalize(st);
	for (guint i = 0; i < victims->len; i++, n++) {
		const Touch *t = &g_array_index(victims, Touch, i);
		g_autofree char *path = store_body_path(s, t->folder_id,
		                                        t->uidvalidity, t->uid);
		store_body_forget(s, t->folder_id, t->uidvalidity, t->uid, path);
	}
	return n;
}

guint
store_evict(Store *s, guint64 budget)
{
	guint n = 0, step;

	if (budget == 0)
		return 0;
	store_touch_flush(s);
	g_mutex_lock(&s->lock);
	guint64 total = store_total_unpinned(s);
	if (total > budget) {
		/* Go a tenth below the budget so that eviction is rare. */
		guint64 target = budget - budget / 10;
		do {
			step = store_evict_oldest(s, total, target);
			n += step;
			total = store_total_unpinned(s);
		} while (step > 0 && total > target);
	}
	g_mutex_unlock(&s->lock);
	return n;
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

gboolean
store_body_pin(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
               GError **err)
{
	g_autofree char *sql = g_strdup_printf(
		"UPDATE bodies SET pinned = 1 WHERE folder = %" G_GINT64_FORMAT
		" AND uidvalidity = %u AND uid = %u", folder_id, uidvalidity, uid);

	g_mutex_lock(&s->lock);
	gboolean ok = store_exec(s, sql, err);
	g_mutex_unlock(&s->lock);
	return ok;
}

char *
store_body_file(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid)
{
	return store_body_path(s, folder_id, uidvalidity, uid);
}

guint64
store_total_bytes(Store *s)
{
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT COALESCE(SUM(size), 0) FROM bodies", NULL);
	guint64 total = 0;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		total = (guint64)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	g_mutex_unlock(&s->lock);
	return total;
}

gint64
store_pending_add(Store *s, const StorePending *p, GError **err)
{
	gint64 id = 0;

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"INSERT INTO pending (op, folder, uidvalidity, uid, dest, flags,"
		" path, date) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", err);
	if (st) {
		sqlite3_bind_int(st, 1, p->op);
		sqlite3_bind_int64(st, 2, p->folder_id);
		sqlite3_bind_int64(st, 3, p->uidvalidity);
		sqlite3_bind_int64(st, 4, p->uid);
		sqlite3_bind_int64(st, 5, p->dest_id);
		sqlite3_bind_text(st, 6, p->flags, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, p->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, p->date);
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

GArray *
store_pending_list(Store *s)
{
	GArray *out = g_array_new(FALSE, TRUE, sizeof(StorePending));

	g_array_set_clear_func(out, (GDestroyNotify)store_pending_clear);
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT id, op, folder, uidvalidity, uid, dest, flags, path, date"
		" FROM pending ORDER BY id", NULL);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		StorePending p = {
			.id = sqlite3_column_int64(st, 0),
			.op = sqlite3_column_int(st, 1),
			.folder_id = sqlite3_column_int64(st, 2),
			.uidvalidity = (guint32)sqlite3_column_int64(st, 3),
			.uid = (guint32)sqlite3_column_int64(st, 4),
			.dest_id = sqlite3_column_int64(st, 5),
			.flags = g_strdup((const char *)sqlite3_column_text(st, 6)),
			.path = g_strdup((const char *)sqlite3_column_text(st, 7)),
			.date = sqlite3_column_int64(st, 8),
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
}

char *
store_pending_dir(Store *s)
{
	char *dir = g_build_filename(s->dir, "pending", NULL);
	g_mkdir_with_parents(dir, 0700);
	return dir;
}

void
store_body_touch(Store *s, gint64 folder_id, guint32 uidvalidity,
                 guint32 uid)
{
	Touch t = { folder_id, uidvalidity, uid, g_get_real_time() };

	g_mutex_lock(&s->lock);
	g_array_append_val(s->touched, t);
	gboolean full = s->touched->len >= 1000;
	g_mutex_unlock(&s->lock);
	if (full)
		store_touch_flush(s);
}

gboolean
store_body_link(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
                gint64 to_folder, guint32 to_uidvalidity, guint32 to_uid)
{
	g_autofree char *from = store_body_path(s, folder_id, uidvalidity, uid);
	g_autofree char *to = store_body_path(s, to_folder, to_uidvalidity,
	                                      to_uid);
	g_autofree char *dir = g_path_get_dirname(to);
	guint64 size;
	guint8 sha[32];
	gboolean ok = FALSE;

	g_mutex_lock(&s->lock);
	if (store_body_row(s, folder_id, uidvalidity, uid, &size, sha) &&
	    store_mkdir(dir, NULL) && (link(from, to) == 0 || errno == EEXIST))
		ok = store_body_record(s, to_folder, to_uidvalidity, to_uid, size,
		                       sha, NULL);
	g_mutex_unlock(&s->lock);
	return ok;
}
