/* sync.h - fetch every body of an account (or of some folders) that the
 * cache does not hold yet, so that everything reads offline.
 *
 * Bodies are fetched many per round trip (one UID FETCH per chunk) on up
 * to max_connections sessions in parallel, written without one fsync each
 * and committed per chunk (see store_batch_*), so an interrupted sync keeps
 * every chunk it finished.  Safe beside a running mount of the same cache:
 * SQLite arbitrates the index, and a body written twice is the same bytes.
 */
#ifndef MAILFS_SYNC_H
#define MAILFS_SYNC_H

#include <glib.h>
#include "cache/account.h"

typedef struct {
	const char *folder;    /* display path of the folder being worked on */
	guint folder_done;     /* its messages fetched so far */
	guint folder_total;    /* its messages to fetch */
	guint done;            /* messages fetched, all folders */
	guint total;           /* messages to fetch, all folders */
	guint64 bytes;         /* bytes fetched so far */
	guint64 bytes_total;   /* bytes to fetch */
	gboolean folder_finished; /* this call reports FOLDER complete */
} MfSyncProgress;

/* Called from worker threads, one call at a time. */
typedef void (*MfSyncProgressFn)(const MfSyncProgress *p, void *ud);

/* What a sync takes. */
typedef struct {
	const char *const *patterns; /* folder patterns, see sync_select.h
	                              * (NULL or empty: every folder) */
	gboolean recurse;            /* a folder's subfolders come with it */
	guint64 max_size;            /* larger messages are left out; 0: no
	                              * limit */
	gint64 min_date;             /* messages that arrived before (Unix
	                              * time) are left out; 0: no limit (a
	                              * message of unknown date is taken) */
} MfSyncSelect;

typedef struct {
	guint fetched;       /* bodies fetched and stored by this run */
	guint cached;        /* bodies already cached before */
	guint skipped;       /* not cached, left out by max_size or min_date */
	/* Bodies that could not be fetched: the server failed, or answered
	 * without a body it still has, or sent one whose size is not the
	 * RFC822.SIZE it announced (such a body is not stored: a mount
	 * would not serve it). */
	guint failed;
	guint gone;          /* listed, but deleted on the server before
	                      * they could be fetched: not failures */
	guint64 bytes;       /* bytes fetched */
	GPtrArray *failures; /* char*: "FOLDER: reason", one per failed chunk
	                      * or folder; owned, free with sync_result_clear */
} MfSyncResult;

void sync_result_clear(MfSyncResult *r);

/* Syncs what SEL selects (NULL: every message of every folder), each
 * folder once however many patterns name it.  Returns FALSE with ERR only
 * if the sync could not start (a pattern naming no folder:
 * MF_ERROR_NOTFOUND; the server unreachable); failures of single folders
 * or chunks are counted in RES.  CANCEL, when it becomes non-zero, stops
 * the sync after the chunks in progress are committed. */
gboolean sync_run(MfAccount *a, const MfSyncSelect *sel,
                  MfSyncProgressFn cb, void *ud, volatile gint *cancel,
                  MfSyncResult *res, GError **err);

#endif
