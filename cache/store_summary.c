/* store_summary.c - message summaries in the index (table summaries). */
#include "cache/store_summary.h"

#include "cache/store_int.h"
#include "net/mf_error.h"

static void
store_summaries_read(sqlite3_stmt *st, GHashTable *out)
{
	while (sqlite3_step(st) == SQLITE_ROW) {
		guint32 uid = (guint32)sqlite3_column_int64(st, 0);
		MfSummary *m = summary_new(
			uid, (const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			sqlite3_column_int(st, 3) != 0);
		g_hash_table_replace(out, GUINT_TO_POINTER(uid), m);
	}
}

GHashTable *
store_summaries_load(Store *s, gint64 folder_id, guint32 uidvalidity,
                     GError **err)
{
	GHashTable *out = g_hash_table_new_full(
		NULL, NULL, NULL, (GDestroyNotify)summary_free);

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT uid, sender, subject, attach FROM summaries "
		"WHERE folder = ?1 AND uidvalidity = ?2", err);
	if (st) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		store_summaries_read(st, out);
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	if (!st)
		g_clear_pointer(&out, g_hash_table_unref);
	return out;
}

/* Inserts ROWS with ST; called with the lock held in a transaction. */
static gboolean
store_summaries_insert(sqlite3_stmt *st, gint64 folder_id,
                       guint32 uidvalidity, GPtrArray *rows)
{
	for (guint i = 0; i < rows->len; i++) {
		const MfSummary *m = rows->pdata[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		sqlite3_bind_int64(st, 3, m->uid);
		sqlite3_bind_text(st, 4, m->sender, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, m->subject, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, m->attach);
		if (sqlite3_step(st) != SQLITE_DONE)
			return FALSE;
	}
	return TRUE;
}

gboolean
store_summaries_save(Store *s, gint64 folder_id, guint32 uidvalidity,
                     GPtrArray *rows, GError **err)
{
	gboolean ok = FALSE;

	if (rows->len == 0)
		return TRUE;
	g_mutex_lock(&s->lock);
	if (!store_exec(s, "BEGIN IMMEDIATE", err))
		goto out;
	sqlite3_stmt *st = store_prepare(s,
		"INSERT OR REPLACE INTO summaries (folder, uidvalidity, uid, "
		"sender, subject, attach) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", err);
	ok = st && store_summaries_insert(st, folder_id, uidvalidity, rows);
	if (st && !ok)
		store_db_error(s, err, "store summaries");
	sqlite3_finalize(st);
	if (ok)
		ok = store_exec(s, "COMMIT", err);
	if (!ok)
		store_exec(s, "ROLLBACK", NULL);
out:
	g_mutex_unlock(&s->lock);
	return ok;
}

void
store_summaries_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                       GHashTable *uids)
{
	GHashTableIter it;
	gpointer uid;

	if (g_hash_table_size(uids) == 0)
		return;
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"DELETE FROM summaries WHERE folder = ?1 AND uidvalidity = ?2 "
		"AND uid = ?3", NULL);
	if (st && store_exec(s, "BEGIN IMMEDIATE", NULL)) {
		g_hash_table_iter_init(&it, uids);
		while (g_hash_table_iter_next(&it, &uid, NULL)) {
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, folder_id);
			sqlite3_bind_int64(st, 2, uidvalidity);
			sqlite3_bind_int64(st, 3, GPOINTER_TO_UINT(uid));
			sqlite3_step(st);
		}
		store_exec(s, "COMMIT", NULL);
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&s->lock);
}
