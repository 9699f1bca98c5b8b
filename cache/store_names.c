/* store_names.c - names given to messages through the mount (a file
 * written as draft.eml keeps that name once it is a message on the
 * server), and the bytes as they were written, which such a message
 * reads back. */
#include "cache/store_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "net/mf_error.h"

void
store_name_clear(StoreName *n)
{
	g_free(n->name);
	g_free(n->written);
}

GArray *
store_names_load(Store *s, gint64 folder_id, guint32 uidvalidity,
                 GError **err)
{
	GArray *out = g_array_new(FALSE, TRUE, sizeof(StoreName));
	int rc = SQLITE_ERROR;

	g_array_set_clear_func(out, (GDestroyNotify)store_name_clear);
	g_mutex_lock(&s->lock);
	sqlite3_stmt *st = store_prepare(s,
		"SELECT uid, name, size, written FROM names WHERE folder = ?1 "
		"AND uidvalidity = ?2 ORDER BY uid", err);
	if (st) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			StoreName n = {
				.uid = (guint32)sqlite3_column_int64(st, 0),
				.name = g_strdup((const char *)
				                 sqlite3_column_text(st, 1)),
				.size = (guint64)sqlite3_column_int64(st, 2),
				.written = g_strdup((const char *)
				                    sqlite3_column_text(st, 3)),
			};
			g_array_append_val(out, n);
		}
		if (rc != SQLITE_DONE)
			store_db_error(s, err, "read names");
		sqlite3_finalize(st);
	}
	g_mutex_unlock(&s->lock);
	if (rc != SQLITE_DONE)
		g_clear_pointer(&out, g_array_unref);
	return out;
}

/* Deletes the written files of the rows WHERE selects; called with the
 * lock held, before those rows are deleted. */
static void
store_names_unlink_written(Store *s, const char *where, gint64 folder_id,
                           guint32 uidvalidity, guint32 uid)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT written FROM names WHERE written IS NOT NULL AND %s",
		where);
	sqlite3_stmt *st = store_prepare(s, sql, NULL);

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	while (sqlite3_step(st) == SQLITE_ROW)
		unlink((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Runs SQL (parameters ?1 folder, ?2 uidvalidity, ?3 uid, ?4 name,
 * ?5 size, ?6 written); called with the lock held. */
static gboolean
store_names_run(Store *s, const char *sql, gint64 folder_id,
                guint32 uidvalidity, guint32 uid, const StoreName *n,
                GError **err)
{
	sqlite3_stmt *st = store_prepare(s, sql, err);

	if (!st)
		return FALSE;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	if (n) {
		sqlite3_bind_text(st, 4, n->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)n->size);
		sqlite3_bind_text(st, 6, n->written, -1, SQLITE_STATIC);
	}
	gboolean ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? TRUE : store_db_error(s, err, "write a name");
}

#define NAMES_OTHER "folder = ?1 AND uidvalidity = ?2 AND name = ?4 " \
                    "AND uid != ?3"
#define NAMES_THIS "folder = ?1 AND uidvalidity = ?2 AND uid = ?3"

gboolean
store_name_set(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
               const StoreName *n, GError **err)
{
	g_mutex_lock(&s->lock);
	/* A name is one message's: another message that had it loses it. */
	sqlite3_stmt *st = store_prepare(s,
		"SELECT written FROM names WHERE written IS NOT NULL AND "
		"written IS NOT ?5 AND " NAMES_OTHER, NULL);
	if (st) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		sqlite3_bind_int64(st, 3, uid);
		sqlite3_bind_text(st, 4, n->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, n->written, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			unlink((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	gboolean ok = store_names_run(s, "DELETE FROM names WHERE "
	                              NAMES_OTHER, folder_id, uidvalidity,
	                              uid, n, err) &&
	              store_names_run(s, "INSERT OR REPLACE INTO names "
	                              "(folder, uidvalidity, uid, name, size, "
	                              "written) VALUES (?1, ?2, ?3, ?4, ?5, "
	                              "?6)", folder_id, uidvalidity, uid, n,
	                              err);
	g_mutex_unlock(&s->lock);
	return ok;
}

gboolean
store_name_move(Store *s, gint64 folder_id, guint32 uidvalidity, guint32 uid,
                gint64 to_folder, guint32 to_uidvalidity, guint32 to_uid,
                const char *name, GError **err)
{
	g_autofree char *sql = g_strdup_printf(
		"UPDATE OR REPLACE names SET folder = %" G_GINT64_FORMAT
		", uidvalidity = %u, uid = %u%s WHERE " NAMES_THIS, to_folder,
		to_uidvalidity, to_uid, name ? ", name = ?4" : "");
	StoreName n = { .name = (char *)name };

	g_mutex_lock(&s->lock);
	gboolean ok = store_names_run(s, sql, folder_id, uidvalidity, uid,
	                              name ? &n : NULL, err);
	g_mutex_unlock(&s->lock);
	return ok;
}

void
store_name_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                  guint32 uid)
{
	g_mutex_lock(&s->lock);
	store_names_unlink_written(s, NAMES_THIS, folder_id, uidvalidity, uid);
	store_names_run(s, "DELETE FROM names WHERE " NAMES_THIS, folder_id,
	                uidvalidity, uid, NULL, NULL);
	g_mutex_unlock(&s->lock);
}

void
store_names_prune(Store *s, gint64 folder_id, guint32 uidvalidity,
                  GArray *names, GArray *msgs)
{
	/* A UID above the listing's last may be of a message too new for
	 * it (appended while it was being fetched): not gone. */
	guint32 last = msgs->len
		? g_array_index(msgs, MfRemoteMessage, msgs->len - 1).uid : 0;

	for (guint i = 0; names && i < names->len; i++) {
		guint32 uid = g_array_index(names, StoreName, i).uid;
		MfRemoteMessage key = { .uid = uid };
		guint at;
		if (uid < last &&
		    !g_array_binary_search(msgs, &key, store_uid_compare, &at))
			store_name_forget(s, folder_id, uidvalidity, uid);
	}
}

char *
store_written_path(Store *s, gint64 folder_id)
{
	g_autofree char *dir = g_build_filename(s->dir, "written", NULL);

	if (g_mkdir_with_parents(dir, 0700) != 0)
		return NULL;
	return g_strdup_printf("%s/%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
	                       "-%08x", dir, folder_id, g_get_real_time(),
	                       g_random_int());
}
