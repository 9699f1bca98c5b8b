/* account_int.h - an account's insides, for the cache/ modules that make
 * up or work with an account (account*.c, journal.c, push.c, sync.c,
 * storeall.c).  Not for fs/: it uses account.h. */
#ifndef MAILFS_ACCOUNT_INT_H
#define MAILFS_ACCOUNT_INT_H

#include "cache/account.h"
#include "cache/store.h"

typedef struct Push Push;

struct MfListing {
	gint ref;
	gint64 gen;           /* store generation of (folder, uidvalidity) */
	guint32 uidvalidity;
	GArray *msgs;         /* MfRemoteMessage, sorted by UID */
	GHashTable *aliases;  /* uid -> names given through the mount, */
	GHashTable *by_name;  /*   and name -> the same; NULL: none */
	gint64 mtime;         /* Unix time its names last changed; 0 */
};

/* A new listing of MSGS (taken) for FOLDER_ID, with the names its
 * messages have in the store (names of messages no longer listed are
 * forgotten).  PREV, the listing it follows (or NULL), gives the mtime
 * when the names stay the same (account_names.c). */
MfListing *listing_new(MfAccount *a, gint64 folder_id, gint64 gen,
                       guint32 uidvalidity, GArray *msgs,
                       const MfListing *prev);
void listing_free_names(MfListing *l);
/* Makes FOLDER_ID's listing show the names now in the store. */
void account_names_reload(MfAccount *a, gint64 folder_id);
/* The bytes as written of message UID, if it has them: their path and
 * *SIZE; else NULL. */
const char *listing_written(const MfListing *l, guint32 uid, guint64 *size);
/* Opens the written file PATH, which must hold SIZE bytes. */
int account_open_written(MfAccount *a, const char *path, guint64 size,
                         GError **err);

/* Per-folder state, created on first use and kept until close. */
typedef struct {
	GMutex refresh;       /* one refresh of this folder at a time */
	MfListing *listing;   /* guarded by MfAccount.lock; NULL: not loaded */
	gint64 refreshed_at;  /* monotonic time of the last server listing */
	gboolean queued;      /* a background refresh is queued or running */
	/* What the listing was made at, for an incremental refresh
	 * (account_resync.c): guarded by MfAccount.lock. */
	guint64 modseq;       /* the server's HIGHESTMODSEQ; 0: unknown */
	guint32 uidnext;      /* its UIDNEXT; 0: unknown */
	gboolean check_flags; /* without CONDSTORE, list every message's
	                       * flags next time (first time in a run, or
	                       * the user asked for a refresh) */
	gint64 used_at;       /* monotonic time a user last asked for it */
} FolderState;

struct MfAccount {
	MfAccountParams p;
	const MfBackend *backend;
	Store *store;

	GMutex lock;             /* guards the fields below up to "hook_ud";
	                          * lock order: docs/HACKING.md */
	MfTree *tree;
	gint64 tree_refreshed_at;
	gint64 tree_mtime;       /* real time folders last came or went; 0 */
	GHashTable *folders;     /* gint64* id -> FolderState* */
	GHashTable *verified;    /* bodies checked this run, a set of
	                          * GSIZE_TO_POINTER(generation << 32 | UID) */
	GHashTable *gens;        /* generation -> folder id, known so far */
	GHashTable *inflight;    /* bodies being fetched */
	GCond inflight_done;
	gboolean online;
	gint64 offline_until;    /* no probe before this (monotonic) */
	gint64 backoff;
	GThread *probe;          /* reconnects in the background, or NULL */
	GThread *poller;         /* refreshes listings in use, or NULL */
	GCond poll_cond;         /* wakes the poller to stop */
	gboolean probing;        /* probe is running */
	gboolean forced_offline; /* the user said "offline" */
	gint64 state_since;      /* real time of the last online change */
	gint64 last_refresh;     /* real time of the last server refresh */
	char *last_error;        /* the last failure, for status */
	gint64 last_error_at;
	char *tls;               /* how the last session was made */
	gboolean closing;        /* no new probes */
	GThreadPool *refresher;  /* background refreshes, made on first use */
	gboolean tree_queued;    /* one of the tree is queued or running */

	GHashTable *moved;       /* messages moved here: old -> new name */
	GHashTable *renamed;     /* folders renamed here: old -> new id */
	MfListingHook hook;      /* told when a listing is replaced */
	void *hook_ud;

	GMutex tree_refresh;     /* one tree refresh at a time */
	GMutex journal;          /* one journal run at a time */
	Push *push;              /* IDLE watches (push.c) */
	GMutex pool_lock;        /* guards the pool */
	GCond pool_cond;
	GQueue idle;             /* MfSession* ready for use */
	guint sessions;          /* connected sessions, idle or in use */

	/* Read-ahead (account_body.c), guarded by "lock": the message read
	 * last (folder, index in its listing) and how many to fetch with
	 * the next one read after it. */
	gint64 ra_folder;
	guint ra_last;
	guint ra_run;            /* reads in a row in listing order */
	guint ra_window;
};

typedef gboolean (*SessionFn)(MfAccount *a, MfSession *s, void *ud,
                              GError **err);

/* --- incremental refresh (account_resync.c) --- */

/* Lists folder F anew on S (a refresh under fs->refresh): through the
 * backend's resync_messages when it has one, with what FS knows, else
 * list_messages; an unchanged folder keeps its listing. */
gboolean account_relist(MfAccount *a, MfSession *s, const MfFolder *f,
                        FolderState *fs, GError **err);
/* Makes MSGS (taken), listed with status ST, F's listing: stored, the
 * hook told (unless FLAGS_ONLY: the same messages, other flags, so no
 * name changed), the state FS knows updated. */
gboolean account_install_listing(MfAccount *a, const MfFolder *f,
                                 FolderState *fs, const MfFolderStatus *st,
                                 GArray *msgs, gboolean flags_only,
                                 GError **err);
/* Applies changes pushed by the server to FOLDER_ID's listing, if it is
 * of UIDVALIDITY: CHANGED (MfRemoteMessage with uid and flags; others
 * than those listed are ignored) and GONE (ImapRange of
 * net/imap_seqset.h; sorted here).  No server round trip. */
void account_apply_pushed(MfAccount *a, gint64 folder_id,
                          guint32 uidvalidity, GArray *changed, GArray *gone);
/* The loaded listing state of FOLDER_ID, for push: FALSE if none.
 * *ST gets what the listing was made at (count: its messages). */
gboolean account_listing_state(MfAccount *a, gint64 folder_id,
                               MfFolderStatus *st);
/* Has FOLDER_ID refreshed in the background now. */
void account_refresh_soon(MfAccount *a, gint64 folder_id);
/* account_listing() for the background (poll, push): does not count as
 * a use of the folder. */
MfListing *account_listing_quiet(MfAccount *a, gint64 folder_id,
                                 GError **err);
/* Swaps in MSGS (taken) as FOLDER_ID's listing (the same generation as
 * its current one), tells the hook (with NAMES_CHANGED: when only flags
 * changed, it has nothing to do) and stores it.  Called with a->lock
 * held; returns with it released. */
void account_swap_listing_locked(MfAccount *a, gint64 folder_id,
                                 FolderState *fs, GArray *msgs,
                                 gboolean names_changed);
/* The state of FOLDER_ID, created on first use; with a->lock held. */
FolderState *account_folder_state(MfAccount *a, gint64 folder_id);

/* Runs FN on a pooled session (at most max_connections at once), records
 * the outcome in the online state, and retries once on a fresh session if
 * a reused one turns out to be dead. */
gboolean account_with_session(MfAccount *a, SessionFn fn, void *ud,
                              GError **err);

Store *account_store(MfAccount *a);
Push *account_push(MfAccount *a);
/* How to reach the server, for connections outside the pool (push). */
const MfBackendParams *account_backend_params(MfAccount *a);
const MfAccountParams *account_params(MfAccount *a);

/* TRUE if the network may be used now (online, not stopped by the user);
 * while offline, starts the background reconnect when its time has come. */
gboolean account_may_try(MfAccount *a);
/* Sets ERR to MF_ERROR_OFFLINE for A. */
void account_set_offline_error(MfAccount *a, GError **err);

/* Lists the folders on the server now, waiting for a refresh already
 * under way rather than skipping (after a change to the folders). */
gboolean account_refresh_tree_now(MfAccount *a, GError **err);

/* Makes the next use of the tree / FOLDER_ID's listing ask the server. */
void account_expire_tree(MfAccount *a);
void account_expire_listing(MfAccount *a, gint64 folder_id);

/* Replaces FOLDER_ID's listing by a copy without UID (FLAGS NULL) or with
 * UID's flags set to FLAGS, so that a change shows at once; FALSE if the
 * listing does not hold UID. */
gboolean account_edit_listing(MfAccount *a, gint64 folder_id, guint32 uid,
                              const char *flags);

/* Shows message UID of SRC_ID (being moved while offline) in DEST_ID's
 * listing under the stand-in GHOST_UID until the server has done the move
 * and a refresh brings its real UID; its cached body reads there too. */
gboolean account_show_move(MfAccount *a, gint64 src_id, guint32 uidvalidity,
                           guint32 uid, gint64 dest_id, guint32 ghost_uid);

/* Records that message UID of generation GEN is now NEW_UID of NEW_GEN
 * (moved here): its old identity leads there (account_moved_to). */
void account_note_moved(MfAccount *a, gint64 gen, guint32 uid,
                        gint64 new_gen, guint32 new_uid);
/* Records that folder FOLDER_ID is now NEW_ID (renamed here). */
void account_note_renamed(MfAccount *a, gint64 folder_id, gint64 new_id);

/* Adds M (a stand-in for a message being appended while offline) to
 * FOLDER_ID's listing; *UIDVALIDITY gets the listing's.  FALSE if the
 * folder was never listed or already shows that UID. */
gboolean account_show_append(MfAccount *a, gint64 folder_id,
                             const MfRemoteMessage *m, guint32 *uidvalidity);
/* Gives message UID of FOLDER_ID's listing NAME (best effort). */
void account_name_message_in(MfAccount *a, gint64 folder_id, guint32 uid,
                             const char *name);

/* Held while the journal runs (journal.c). */
GMutex *account_journal_lock(MfAccount *a);


const MfBackend *account_backend(MfAccount *a);
guint account_max_connections(MfAccount *a);

/* Message changes, made on the server now.  The journal (journal.h)
 * records each change first and calls these; nothing else should.
 * Messages are named by folder, UIDVALIDITY and UID, checked on the
 * server, not in the local listing (which may no longer show them). */

/* Moves the message to the \Trash folder, or expunges exactly it when
 * EXPUNGE is set or it already is in \Trash. */
gboolean account_exec_remove(MfAccount *a, gint64 folder_id,
                             guint32 uidvalidity, guint32 uid,
                             gboolean expunge, GError **err);
/* Moves the message to folder DEST_ID (another folder), where it is
 * called NAME (NULL: the name it had).  GHOST (or 0) is the stand-in UID
 * it was shown under in DEST_ID while the move waited. */
gboolean account_exec_move(MfAccount *a, gint64 folder_id,
                           guint32 uidvalidity, guint32 uid, gint64 dest_id,
                           guint32 ghost, const char *name, GError **err);
/* The newest message of FOLDER_ID whose Message-ID is MSGID: *UID, or 0
 * if there is none (or the backend cannot search). */
gboolean account_exec_find(MfAccount *a, gint64 folder_id, const char *msgid,
                           guint32 *uidvalidity, guint32 *uid, GError **err);
/* Replaces the message's flags and keywords (space-separated). */
gboolean account_exec_flags(MfAccount *a, gint64 folder_id,
                            guint32 uidvalidity, guint32 uid,
                            const char *flags, GError **err);
/* Appends SIZE bytes of FD (CRLF line ends) to FOLDER_ID with DATE as
 * its INTERNALDATE; *UIDVALIDITY and *UID get where it went when the
 * server says (else 0). */
gboolean account_exec_append(MfAccount *a, gint64 folder_id, int fd,
                             guint64 size, gint64 date, const char *flags,
                             guint32 *uidvalidity, guint32 *uid,
                             GError **err);
/* Sets the last error shown in the status, for a failure that is not a
 * server's. */
void account_record_error(MfAccount *a, const GError *err);
/* The folder special-use flag SPECIAL (MF_FOLDER_SENT, ...) marks, or
 * else the top-level one called after it (Sent, Trash, Drafts: what most
 * clients make, and servers such as Cyrus leave unmarked); borrowed from
 * T, or NULL (account_write.c). */
const MfFolder *account_special_folder(MfTree *t, guint special);
/* "Sent", "Trash", "Drafts" for SPECIAL, or NULL (account_write.c). */
const char *account_special_name(guint special);
/* The UIDVALIDITY of FOLDER_ID's loaded listing; FALSE if none. */
gboolean account_listing_uidvalidity(MfAccount *a, gint64 folder_id,
                                     guint32 *uidvalidity);

#endif
