/* store.h - the local state of one account on disk.
 *
 * Layout under the cache directory (directories 0700, files 0600):
 *   index.sqlite      SQLite in WAL mode: folders, listings, body records
 *   bodies/F/V-U.eml  the body of UID U, UIDVALIDITY V, of folder id F
 *   tmp/              bodies being written; emptied at open
 *
 * A body file is trusted only when the index has a row for it with its size
 * and SHA-256; the row is written after the file is complete, durable and
 * renamed into place, so a crash leaves at worst a file the index does not
 * know (fetched again, overwritten) and never a row without its bytes.
 * Folder ids and generation ids are never reused (AUTOINCREMENT), so they
 * can name inodes.
 *
 * Bodies are evicted least recently read first when they outgrow the
 * budget (store_evict); pinned bodies (the only copy of a message) never
 * are.  A Store is shared by threads; every call takes its lock.
 */
#ifndef MAILFS_STORE_H
#define MAILFS_STORE_H

#include <glib.h>
#include "cache/backend.h"

typedef struct Store Store;

typedef struct {
	gint64 id;           /* stable, never reused */
	char *name;          /* the server's name */
	char *path;          /* display path */
	guint flags;         /* MF_FOLDER_* */
	guint32 uidvalidity; /* of the stored listing; 0 if never listed */
} StoreFolder;

/* Opens (creating) the store in DIR.  The index is checked first (PRAGMA
 * quick_check): a damaged one is moved, with bodies/, written/ and
 * pending/, into a new DIR/damaged-TIME-XXXXXX/, which is logged as an
 * error, and a new empty index is made.  MF_ERROR_LOCAL on failure, also when a damaged
 * index cannot be moved. */
Store *store_open(const char *dir, GError **err);
void store_close(Store *s); /* accepts NULL */

/* TRUE if DIR holds a store with at least one folder. */
gboolean store_exists(const char *dir);

/* The folders last seen on the server, as a new array of StoreFolder*. */
GPtrArray *store_folders_load(Store *s, GError **err);

/* Records REMOTE (MfRemoteFolder*) as the folders now on the server:
 * known names keep their ids, new ones get new ids, missing ones are
 * marked absent (their rows and bodies stay).  Returns the present
 * folders like store_folders_load(). */
GPtrArray *store_folders_update(Store *s, GPtrArray *remote, GError **err);
void store_folder_free(StoreFolder *f);

/* The stored listing of FOLDER_ID: *MSGS gets a new GArray of
 * MfRemoteMessage sorted by UID, *UIDVALIDITY its UIDVALIDITY (0 if the
 * folder was never listed). */
gboolean store_messages_load(Store *s, gint64 folder_id, guint32 *uidvalidity,
                             GArray **msgs, GError **err);

/* Replaces the stored listing of FOLDER_ID by MSGS (sorted by UID), in one
 * transaction, writing only what changed since OLD (the listing the caller
 * last loaded or saved, or NULL).  A new UIDVALIDITY drops the old rows
 * first; it never deletes a body file on its own. */
gboolean store_messages_save(Store *s, gint64 folder_id, guint32 uidvalidity,
                             GArray *old, GArray *msgs, GError **err);

/* The HIGHESTMODSEQ and UIDNEXT the stored listing of FOLDER_ID was
 * made at, for an incremental refresh; both 0 when unknown (and after a
 * new UIDVALIDITY, until set).  Set after the listing is saved: a crash
 * in between makes the next refresh ask for a little more. */
gboolean store_folder_sync_get(Store *s, gint64 folder_id,
                               guint64 *highestmodseq, guint32 *uidnext);
gboolean store_folder_sync_set(Store *s, gint64 folder_id,
                               guint64 highestmodseq, guint32 uidnext,
                               GError **err);

/* Generations: one id per (folder, UIDVALIDITY), never reused, so that
 * (generation, UID) names one immutable message for good.  Returns 0 with
 * ERR on failure. */
gint64 store_generation(Store *s, gint64 folder_id, guint32 uidvalidity,
                        GError **err);
/* The folder and UIDVALIDITY of generation GEN; FALSE if unknown. */
gboolean store_generation_lookup(Store *s, gint64 gen, gint64 *folder_id,
                                 guint32 *uidvalidity);

/* Body writing: begin a temporary file, write to it, then commit it as the
 * body of (folder, uidvalidity, uid) or abort it. */
typedef struct StoreBody StoreBody;
StoreBody *store_body_begin(Store *s, GError **err);
gboolean store_body_write(StoreBody *b, const char *data, size_t len,
                          GError **err);
/* Makes the body durable (fsync), moves it into place and records it.
 * Frees B whatever happens. */
gboolean store_body_commit(Store *s, StoreBody *b, gint64 folder_id,
                           guint32 uidvalidity, guint32 uid, GError **err);
void store_body_abort(StoreBody *b); /* accepts NULL */

/* Bulk writing without one fsync per body: store_batch_add() moves a
 * finished body into place at once but records it only when
 * store_batch_commit() has made every body of the batch durable with one
 * syncfs() and then writes all their rows in one transaction.  A crash in
 * between leaves files that the index does not know: fetched again. */
typedef struct StoreBatch StoreBatch;
StoreBatch *store_batch_new(void);
gboolean store_batch_add(Store *s, StoreBatch *batch, StoreBody *b,
                         gint64 folder_id, guint32 uidvalidity, guint32 uid,
                         GError **err);
/* Commits and empties BATCH (it can be reused). */
gboolean store_batch_commit(Store *s, StoreBatch *batch, GError **err);
guint store_batch_count(const StoreBatch *batch);
void store_batch_free(StoreBatch *batch); /* accepts NULL; drops rows */

/* Gives every message of MSGS with a key its stable UID in FOLDER_ID,
 * assigning new UIDs (above all earlier ones) to keys never seen, then
 * sorts MSGS by UID. */
gboolean store_keys_assign(Store *s, gint64 folder_id, GArray *msgs,
                           GError **err);

/* Changes made through the mount, kept until the server has them (the
 * journal): they survive crashes and remounts, and are replayed in id
 * order. */
typedef struct {
	gint64 id;
	int op;              /* JournalOp of journal.h */
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;
	gint64 dest_id;      /* a folder id, or 1 for "expunge" removals */
	char *flags;         /* or NULL */
	char *path;          /* a file to append, or NULL */
	gint64 date;
	char *name;          /* the name the result gets (store_name_set) */
	char *written;       /* the file as written, read back under NAME */
	guint32 replace_uv;  /* a message of the destination that the */
	guint32 replace_uid; /*   result replaces (removed after), or 0 */
	char *msgid;         /* Message-ID, to find an append that may have */
	guint tries;         /*   arrived: TRIES counts attempts begun */
} StorePending;

/* Records P durably; returns its id, or 0 with ERR. */
gint64 store_pending_add(Store *s, const StorePending *p, GError **err);
/* Rewrites the change P->id with P's fields, durably. */
gboolean store_pending_update(Store *s, const StorePending *p, GError **err);
/* Every recorded change, oldest first (clear func set). */
GArray *store_pending_list(Store *s);
void store_pending_remove(Store *s, gint64 id);
void store_pending_clear(StorePending *p);
/* The directory for files waiting to be appended (created); owned. */
char *store_pending_dir(Store *s);

/* Names given to messages through the mount (store_names.c): a file
 * written into a folder keeps its name once it is a message, and reads
 * back the bytes as written (WRITTEN, SIZE). */
typedef struct {
	guint32 uid;
	char *name;
	guint64 size;        /* of WRITTEN */
	char *written;       /* a file under cache_dir/written/, or NULL:
	                      * the message reads as the server has it */
} StoreName;

void store_name_clear(StoreName *n);
/* The names of messages of (FOLDER_ID, UIDVALIDITY), by UID: a new array
 * of StoreName (clear func set); NULL with ERR. */
GArray *store_names_load(Store *s, gint64 folder_id, guint32 uidvalidity,
                         GError **err);
/* Gives message UID the name N->name (another message of the folder that
 * had it loses it, with its written file). */
gboolean store_name_set(Store *s, gint64 folder_id, guint32 uidvalidity,
                        guint32 uid, const StoreName *n, GError **err);
/* Moves the name of one message to another (a move, or a stand-in UID
 * that got its real one), renaming it to NAME unless NULL. */
gboolean store_name_move(Store *s, gint64 folder_id, guint32 uidvalidity,
                         guint32 uid, gint64 to_folder,
                         guint32 to_uidvalidity, guint32 to_uid,
                         const char *name, GError **err);
/* Forgets the name of a message, deleting its written file. */
void store_name_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                       guint32 uid);
/* Forgets those of NAMES (as loaded) whose UID MSGS (a listing sorted by
 * UID) no longer has. */
void store_names_prune(Store *s, gint64 folder_id, guint32 uidvalidity,
                       GArray *names, GArray *msgs);
/* A new path for a written file of FOLDER_ID, in cache_dir/written/
 * (created); owned; NULL if the directory cannot be made. */
char *store_written_path(Store *s, gint64 folder_id);

/* The schema version this mailfs writes (PRAGMA user_version). */
int store_schema_latest(void);

/* Bytes of all stored bodies. */
guint64 store_total_bytes(Store *s);

/* Orders MfRemoteMessage by UID, for g_array_sort. */
gint store_uid_compare(gconstpointer a, gconstpointer b);

/* Marks a stored body as the only copy: never evicted. */
gboolean store_body_pin(Store *s, gint64 folder_id, guint32 uidvalidity,
                        guint32 uid, GError **err);

/* The path of a body's file (which may not exist); owned. */
char *store_body_file(Store *s, gint64 folder_id, guint32 uidvalidity,
                      guint32 uid);

/* Makes the stored body of (FOLDER_ID, UIDVALIDITY, UID) also the body of
 * (TO_FOLDER, TO_UIDVALIDITY, TO_UID), sharing the file.  FALSE if it is
 * not stored. */
gboolean store_body_link(Store *s, gint64 folder_id, guint32 uidvalidity,
                         guint32 uid, gint64 to_folder,
                         guint32 to_uidvalidity, guint32 to_uid);

/* Records that a body was just read (for eviction order), in memory; the
 * times reach the index in batches. */
void store_body_touch(Store *s, gint64 folder_id, guint32 uidvalidity,
                      guint32 uid);

/* Keeps the bodies that are not pinned within BUDGET bytes (0: no limit)
 * by deleting the least recently read ones, down to 90% of BUDGET.
 * Returns how many were deleted.  Reads are recorded by store_body_touch
 * (the account does so only when it has a budget). */
guint store_evict(Store *s, guint64 budget);

/* UIDs (as GUINT_TO_POINTER) of the bodies of (folder, uidvalidity) that
 * are recorded in the index: a new set. */
GHashTable *store_bodies_cached(Store *s, gint64 folder_id,
                                guint32 uidvalidity, GError **err);
guint64 store_body_size(const StoreBody *b);

/* Opens the stored body of (folder, uidvalidity, uid) read-only and returns
 * its fd.  The file's size must match the index; when VERIFY is TRUE its
 * SHA-256 is checked too, unless the file is the one recorded (the same
 * mtime: its bytes were hashed as they were written; store_verify checks
 * those).  A body that fails a check is forgotten (row and file removed)
 * and MF_ERROR_NOTFOUND is returned, as when there is none. */
int store_body_open(Store *s, gint64 folder_id, guint32 uidvalidity,
                    guint32 uid, gboolean verify, GError **err);

/* Checks every stored body against its size and SHA-256 (store_verify.c):
 * one that fails is forgotten (row and file removed, so it is fetched
 * again when read) and logged.  PROGRESS (may be NULL) is called after
 * each body with the number done and the total.  *CHECKED and *DAMAGED
 * get the counts. */
typedef void (*StoreVerifyFn)(guint done, guint total, void *ud);
gboolean store_verify(Store *s, StoreVerifyFn progress, void *ud,
                      guint *checked, guint *damaged, GError **err);

#endif
