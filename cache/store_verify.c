/* store_verify.c - the full check of a cache's bodies (`mailfs verify`):
 * every body file read and hashed against its row; what fails is
 * forgotten, so it is fetched again and never served. */
#include "cache/store_int.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "net/mf_error.h"

typedef struct {
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;
	StoreBodyRow row;
} VerifyRow;

/* Every body row, in the order of the files on disk (folder, then UID). */
static GArray *
store_verify_rows(Store *s, GError **err)
{
	GArray *rows = g_array_new(FALSE, FALSE, sizeof(VerifyRow));

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT folder, uidvalidity, uid, size, sha256, stamp "
		"FROM bodies ORDER BY folder, uidvalidity, uid", err);
	int rc = SQLITE_DONE;

	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		VerifyRow r = {
			.folder_id = sqlite3_column_int64(st, 0),
			.uidvalidity = (guint32)sqlite3_column_int64(st, 1),
			.uid = (guint32)sqlite3_column_int64(st, 2),
			.row.size = (guint64)sqlite3_column_int64(st, 3),
			.row.stamp = sqlite3_column_int64(st, 5),
		};
		if (sqlite3_column_bytes(st, 4) == 32)
			memcpy(r.row.sha, sqlite3_column_blob(st, 4), 32);
		g_array_append_val(rows, r);
	}
	/* A list cut short (busy, I/O) would let verify say all is well. */
	gboolean ok = st && (rc == SQLITE_DONE ||
	                     !store_db_error(s, err, "list the bodies"));
	sqlite3_finalize(st);
	g_mutex_unlock(&s->lock);
	if (!ok)
		g_clear_pointer(&rows, g_array_unref);
	return rows;
}

/* TRUE if the file of R holds its bytes; *STAMP gets the file's mtime. */
static gboolean
store_verify_one(const char *path, const VerifyRow *r, gint64 *stamp)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	gboolean ok = fd >= 0 && fstat(fd, &st) == 0 &&
	              (guint64)st.st_size == r->row.size &&
	              store_body_hash_ok(fd, r->row.sha);

	if (ok)
		*stamp = store_body_stamp(&st);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Records the outcome for R, unless its row changed meanwhile (a mount
 * fetched the body again): a good file gets its mtime recorded, a bad
 * one is forgotten.  TRUE if R was damaged. */
static gboolean
store_verify_settle(Store *s, const VerifyRow *r, const char *path,
                    gboolean good, gint64 stamp)
{
	StoreBodyRow now;
	gboolean damaged = FALSE;

	g_mutex_lock(&s->lock);
	if (store_body_row(s, r->folder_id, r->uidvalidity, r->uid, &now) &&
	    memcmp(now.sha, r->row.sha, 32) == 0 && now.size == r->row.size) {
		if (good && now.stamp != stamp)
			store_body_set_stamp(s, r->folder_id, r->uidvalidity,
			                     r->uid, stamp);
		/* Only the file judged: a body fetched again meanwhile (same
		 * bytes, another file) has another stamp. */
		if (!good && now.stamp == r->row.stamp) {
			store_body_forget(s, r->folder_id, r->uidvalidity,
			                  r->uid, path);
			damaged = TRUE;
		}
	}
	g_mutex_unlock(&s->lock);
	if (damaged)
		g_warning("cached body %s is damaged; removed (it is fetched "
		          "again when read)", path);
	return damaged;
}

gboolean
store_verify(Store *s, StoreVerifyFn progress, void *ud, guint *checked,
             guint *damaged, GError **err)
{
	g_autoptr(GArray) rows = store_verify_rows(s, err);
	guint bad = 0;

	if (!rows)
		return FALSE;
	for (guint i = 0; i < rows->len; i++) {
		const VerifyRow *r = &g_array_index(rows, VerifyRow, i);
		g_autofree char *path = store_body_path(s, r->folder_id,
		                                        r->uidvalidity, r->uid);
		gint64 stamp = 0;
		gboolean good = store_verify_one(path, r, &stamp);
		bad += store_verify_settle(s, r, path, good, stamp);
		if (progress)
			progress(i + 1, rows->len, ud);
	}
	*checked = rows->len;
	*damaged = bad;
	return TRUE;
}
