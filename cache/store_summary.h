/* store_summary.h - the summaries of messages kept in the index (table
 * summaries, schema version 3), so that a folder's summary is built from
 * the server's header fields once and then served from here. */
#ifndef MAILFS_STORE_SUMMARY_H
#define MAILFS_STORE_SUMMARY_H

#include "cache/store.h"
#include "cache/summary.h"

/* The stored summaries of (FOLDER_ID, UIDVALIDITY): a new table of
 * GUINT_TO_POINTER(uid) -> MfSummary* (owned by the table). */
GHashTable *store_summaries_load(Store *s, gint64 folder_id,
                                 guint32 uidvalidity, GError **err);
/* Stores ROWS (MfSummary*, borrowed) for (FOLDER_ID, UIDVALIDITY) in one
 * transaction, replacing rows of the same UIDs. */
gboolean store_summaries_save(Store *s, gint64 folder_id,
                              guint32 uidvalidity, GPtrArray *rows,
                              GError **err);
/* Forgets the summaries of UIDS (GUINT_TO_POINTER keys of the table) of
 * (FOLDER_ID, UIDVALIDITY): messages that left the folder.  Best
 * effort. */
void store_summaries_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                            GHashTable *uids);

#endif
