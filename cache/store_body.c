/* store_body.c - the bodies of the cache: one file per message, written
 * to tmp/ and moved into bodies/ (one at a time durably, or in batches
 * with one syncfs), recorded in the index with size, SHA-256 (computed as
 * the bytes are written) and the file's mtime; checked when opened (size
 * always, the hash when the file is not the one recorded), read times
 * kept for eviction past the budget. */
#include "cache/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"

struct StoreBody {
	int fd;
	char *tmp_path;
	GChecksum *sum;
	guint64 size;
	gint64 stamp;   /* the file's mtime once in place */
};

gint64
store_body_stamp(const struct stat *st)
{
	return (gint64)st->st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) +
	       st->st_mtim.tv_nsec;
}

/* B's mtime, now that its bytes are all written. */
static void
store_body_take_stamp(StoreBody *b)
{
	struct stat st;

	b->stamp = fstat(b->fd, &st) == 0 ? store_body_stamp(&st) : 0;
}

char *
store_body_path(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid)
{
	return g_strdup_printf("%s/%" G_GINT64_FORMAT "/%u-%u.eml",
	                       s->bodies_dir, folder_id, uidvalidity, uid);
}

/* A new temporary file in S's tmp/, locked until it is closed: the
 * store_clean_tmp() of another process sharing the cache removes only
 * files it can lock.  Should it remove this one between its creation and
 * the lock, another is made.  -1 with errno set on failure. */
static int
store_body_tmp(Store *s, char **path)
{
	for (;;) {
		char *tmpl = g_build_filename(s->tmp_dir, "body-XXXXXX", NULL);
		int fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
		struct stat st;

		if (fd >= 0) {
			while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
				;
		}
		/* A file system without flock leaves the file unlocked. */
		if (fd < 0 || fstat(fd, &st) != 0 || st.st_nlink > 0) {
			*path = tmpl;
			return fd;
		}
		close(fd); /* removed by a cleaner before it was locked */
		g_free(tmpl);
	}
}

StoreBody *
store_body_begin(Store *s, GError **err)
{
	g_autofree char *tmpl = NULL;
	int fd = store_body_tmp(s, &tmpl);

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
                  guint32 uid, const StoreBodyRow *r, GError **err)
{
	sqlite3_stmt *st = store_prepare(s,
		"INSERT OR REPLACE INTO bodies (folder, uidvalidity, uid, size,"
		" sha256, atime, stamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", err);
	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->size);
	sqlite3_bind_blob(st, 5, r->sha, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, g_get_real_time());
	sqlite3_bind_int64(st, 7, r->stamp);
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
	else if (!store_mkdir_once(dir, err))
		return FALSE;
	else if (rename(b->tmp_path, final) != 0)
		e = errno;
	store_body_take_stamp(b);
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
	StoreBodyRow row;
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
	BatchRow r = { folder_id, uidvalidity, uid, { .size = b->size } };
	gsize len = sizeof r.row.sha;
	gboolean ok = store_mkdir_once(dir, err);

	if (ok && rename(b->tmp_path, final) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot store %s: %s",
		            final, g_strerror(e));
		ok = FALSE;
	}
	if (ok) {
		g_clear_pointer(&b->tmp_path, g_free);
		g_checksum_get_digest(b->sum, r.row.sha, &len);
		store_body_take_stamp(b);
		r.row.stamp = b->stamp;
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
		                       &r->row, err))
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
	StoreBodyRow r = { .size = b->size };
	gsize sha_len = sizeof r.sha;
	gboolean ok;

	g_checksum_get_digest(b->sum, r.sha, &sha_len);
	g_mutex_lock(&s->lock);
	ok = store_body_place(s, b, final, err);
	r.stamp = b->stamp;
	ok = ok && store_body_record(s, folder_id, uidvalidity, uid, &r, err);
	g_mutex_unlock(&s->lock);
	store_body_abort(b);
	return ok;
}

gboolean
store_body_row(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
               StoreBodyRow *r)
{
	if (!s->body_row &&
	    sqlite3_prepare_v3(s->db, "SELECT size, sha256, stamp FROM bodies "
	                       "WHERE folder = ?1 AND uidvalidity = ?2 AND "
	                       "uid = ?3", -1, SQLITE_PREPARE_PERSISTENT,
	                       &s->body_row, NULL) != SQLITE_OK)
		return FALSE;
	sqlite3_stmt *st = s->body_row;
	gboolean found = FALSE;

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 1) == 32) {
		r->size = (guint64)sqlite3_column_int64(st, 0);
		memcpy(r->sha, sqlite3_column_blob(st, 1), 32);
		r->stamp = sqlite3_column_int64(st, 2);
		found = TRUE;
	}
	sqlite3_reset(st);
	return found;
}

void
store_body_set_stamp(Store *s, gint64 folder_id, guint32 uidvalidity,
                     guint32 uid, gint64 stamp)
{
	g_autofree char *sql = g_strdup_printf(
		"UPDATE bodies SET stamp = %" G_GINT64_FORMAT " WHERE folder = %"
		G_GINT64_FORMAT " AND uidvalidity = %u AND uid = %u", stamp,
		folder_id, uidvalidity, uid);
	store_exec(s, sql, NULL);
}

gboolean
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

void
store_body_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                  guint32 uid, const char *path)
{
	g_autofree char *sql = g_strdup_printf(
		"DELETE FROM bodies WHERE folder = %" G_GINT64_FORMAT
		" AND uidvalidity = %u AND uid = %u", folder_id, uidvalidity, uid);
	store_exec(s, sql, NULL);
	unlink(path);
}

/* TRUE if FD (of ST) holds the body R records: the size always; the
 * SHA-256 when VERIFY is set and the file is not the one recorded (its
 * mtime is another, or none was recorded), which then is recorded. */
static gboolean
store_body_check(Store *s, gint64 folder_id, guint32 uidvalidity,
                 guint32 uid, int fd, const StoreBodyRow *r,
                 gboolean verify)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || (guint64)st.st_size != r->size)
		return FALSE;
	gint64 stamp = store_body_stamp(&st);
	if (!verify || (r->stamp != 0 && stamp == r->stamp))
		return TRUE;
	if (!store_body_hash_ok(fd, r->sha))
		return FALSE;
	store_body_set_stamp(s, folder_id, uidvalidity, uid, stamp);
	return TRUE;
}

int
store_body_open(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
                gboolean verify, GError **err)
{
	g_autofree char *path = store_body_path(s, folder_id, uidvalidity, uid);
	StoreBodyRow r;
	int fd = -1;

	g_mutex_lock(&s->lock);
	if (store_body_row(s, folder_id, uidvalidity, uid, &r)) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && !store_body_check(s, folder_id, uidvalidity, uid,
		                                 fd, &r, verify)) {
			g_warning("cached body %s is damaged; fetching it again",
			          path);
			close(fd);
			fd = -1;
			store_body_forget(s, folder_id, uidvalidity, uid, path);
		}
	}
	g_mutex_unlock(&s->lock);
	if (fd < 0)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "message %u is not cached", uid);
	return fd;
}

/* Writes the read times gathered since the last flush, in one
 * transaction; they only order eviction, so losing some is harmless. */
void
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
	StoreBodyRow r;
	gboolean ok = FALSE;

	g_mutex_lock(&s->lock);
	if (store_body_row(s, folder_id, uidvalidity, uid, &r) &&
	    store_mkdir_once(dir, NULL) && (link(from, to) == 0 || errno == EEXIST))
		ok = store_body_record(s, to_folder, to_uidvalidity, to_uid, &r,
		                       NULL);
	g_mutex_unlock(&s->lock);
	return ok;
}
