/* store_search.c - the full-text index of cached bodies (FTS5). */
#include "cache/store_search.h"

#include "cache/store_int.h"
#include "net/mf_error.h"

/* The UIDs SQL (?1 folder, ?2 uidvalidity, ?3 MATCH if any) selects. */
static GHashTable *
store_search_uids(Store *s, const char *sql, gint64 folder_id,
                  guint32 uidvalidity, const char *match, GError **err)
{
	GHashTable *out = g_hash_table_new(NULL, NULL);
	int rc = SQLITE_ERROR;

	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s, sql, err);
	if (st) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		if (match)
			sqlite3_bind_text(st, 3, match, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			g_hash_table_add(out, GUINT_TO_POINTER(
				(guint32)sqlite3_column_int64(st, 0)));
		if (rc != SQLITE_DONE)
			store_db_error(s, err, "search");
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	if (rc != SQLITE_DONE)
		g_clear_pointer(&out, g_hash_table_unref);
	return out;
}

GHashTable *
store_search_indexed(Store *s, gint64 folder_id, guint32 uidvalidity,
                     GError **err)
{
	return store_search_uids(s, "SELECT uid FROM search_indexed WHERE "
	                         "folder = ?1 AND uidvalidity = ?2",
	                         folder_id, uidvalidity, NULL, err);
}

GHashTable *
store_search_match(Store *s, gint64 folder_id, guint32 uidvalidity,
                   const char *match, GError **err)
{
	return store_search_uids(s, "SELECT uid FROM search_text WHERE "
	                         "folder = ?1 AND uidvalidity = ?2 AND "
	                         "search_text MATCH ?3",
	                         folder_id, uidvalidity, match, err);
}

/* Runs SQL with the message's key and, from ?4, T's fields; lock held. */
static gboolean
store_search_run(Store *s, const char *sql, gint64 folder_id,
                 guint32 uidvalidity, guint32 uid, const StoreSearchText *t)
{
	sqlite3_stmt *st = store_prepare(s, sql, NULL);
	gboolean ok;

	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	if (t) {
		sqlite3_bind_text(st, 4, t->sender, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, t->recipients, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, t->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, t->body, -1, SQLITE_STATIC);
	}
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok;
}

/* Adds the rows of the message unless it is in already; lock held, in
 * a transaction.  FALSE (no error set) when a statement failed. */
static gboolean
store_search_insert(Store *s, gint64 folder_id, guint32 uidvalidity,
                    guint32 uid, const StoreSearchText *t)
{
	if (!store_search_run(s, "INSERT OR IGNORE INTO search_indexed "
	                      "VALUES (?1, ?2, ?3)", folder_id, uidvalidity,
	                      uid, NULL))
		return FALSE;
	if (sqlite3_changes(s->db) == 0)
		return TRUE; /* indexed already */
	return store_search_run(s, "INSERT INTO search_text (folder, "
	                        "uidvalidity, uid, sender, recipients, "
	                        "subject, body) VALUES (?1, ?2, ?3, ?4, ?5, "
	                        "?6, ?7)", folder_id, uidvalidity, uid, t);
}

gboolean
store_search_add(Store *s, gint64 folder_id, guint32 uidvalidity,
                 guint32 uid, const StoreSearchText *t, GError **err)
{
	gboolean ok = FALSE;

	g_mutex_lock(&s->lock);
	if (store_exec(s, "BEGIN IMMEDIATE", err)) {
		if (!store_search_insert(s, folder_id, uidvalidity, uid, t))
			store_db_error(s, err, "index a message");
		else
			ok = store_exec(s, "COMMIT", err);
		if (!ok)
			store_exec(s, "ROLLBACK", NULL);
	}
	g_mutex_unlock(&s->lock);
	return ok;
}
