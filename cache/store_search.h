/* store_search.h - the full-text index of cached bodies (SQLite FTS5,
 * tables search_text and search_indexed, schema version 3), searched
 * by .mailfs/search/ while offline. */
#ifndef MAILFS_STORE_SEARCH_H
#define MAILFS_STORE_SEARCH_H

#include "cache/store.h"

typedef struct {
	const char *sender, *recipients, *subject, *body; /* UTF-8 */
} StoreSearchText;

/* UIDs (GUINT_TO_POINTER) of (FOLDER_ID, UIDVALIDITY) in the index: a
 * new set. */
GHashTable *store_search_indexed(Store *s, gint64 folder_id,
                                 guint32 uidvalidity, GError **err);
/* Adds message UID's text. */
gboolean store_search_add(Store *s, gint64 folder_id, guint32 uidvalidity,
                          guint32 uid, const StoreSearchText *t,
                          GError **err);
/* The UIDs of (FOLDER_ID, UIDVALIDITY) whose text matches the FTS5
 * expression MATCH: a new set. */
GHashTable *store_search_match(Store *s, gint64 folder_id,
                               guint32 uidvalidity, const char *match,
                               GError **err);

#endif
