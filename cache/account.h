/* account.h - one mail account as the file system sees it: the folder tree
 * and folder listings (from the server when online and stale, else from
 * the store), and message bodies (from the store, else fetched once and
 * stored).  This is the only interface fs/ uses below it.
 *
 * Threads: every function may be called from any FUSE worker thread.
 * Snapshots (MfTree, MfListing) are immutable and reference-counted: a
 * refresh builds a new one and swaps it in, so readers never block on the
 * network unless the data they ask for is stale.  Network work is done on
 * pooled backend sessions (at most max_connections), one thread per session.
 *
 * Offline: when the server cannot be reached (MF_ERROR_CONNECTION), the
 * account goes offline for a backoff period (2 s doubling to 60 s); in that
 * time nothing touches the network, listings come from the store and an
 * uncached body fails at once with MF_ERROR_OFFLINE.
 */
#ifndef MAILFS_ACCOUNT_H
#define MAILFS_ACCOUNT_H

#include <glib.h>
#include "cache/backend.h"
#include "cache/tree.h"

typedef struct {
	char *name;              /* account name, for messages */
	MfBackendParams backend; /* how to reach the server */
	char *cache_dir;
	guint max_connections;
	guint refresh_interval;  /* seconds a tree or listing stays fresh */
	guint64 cache_max;       /* bytes of bodies kept; 0: no limit */
	gboolean leave_on_server; /* STORE_ALL backends: keep mail there */
	gboolean delete_expunge; /* rm (and replacing) expunges, not Trash */
	guint poll_interval;     /* seconds between background checks */
	guint backoff_min_ms;    /* offline, the first wait before a probe
	                          * reconnects, doubling up to 30 s; 0: 2 s
	                          * (the tests make it shorter) */
} MfAccountParams;

void account_params_clear(MfAccountParams *p);

typedef struct MfListing MfListing;
typedef struct MfAccount MfAccount;

/* Opens the store and loads what it knows; does not touch the network.
 * BACKEND speaks to the server; NULL: the one for P's URL (the file
 * system never chooses a protocol). */
MfAccount *account_open(const MfAccountParams *p, const MfBackend *backend,
                        GError **err);
void account_close(MfAccount *a); /* accepts NULL */

/* The account's password (its one copy, wiped at account_close), for the
 * outbox of the same account to log in with; NULL if none. */
const char *account_password(MfAccount *a);

/* Connects and refreshes the folder tree now (used when mounting). */
gboolean account_connect(MfAccount *a, GError **err);

gboolean account_is_online(MfAccount *a);

/* What the account's backend can do: MF_BACKEND_CAP_*. */
guint account_caps(MfAccount *a);

/* Called when a refresh replaces folder FOLDER_ID's listing OLD by NEW
 * (both valid during the call only), from the thread that refreshed, with
 * the account's lock held: it must not block nor call back into the
 * account (the file system only queues names to invalidate).  Not called
 * when only flags changed (the same messages of the same generation, so
 * the same names). */
typedef void (*MfListingHook)(gint64 folder_id, const MfListing *old,
                              const MfListing *new_listing, void *ud);
void account_set_listing_hook(MfAccount *a, MfListingHook hook, void *ud);

/* The protocol trace (--debug): every connection opened after this, to
 * the mailbox server or the SMTP server, by any account or outbox of the
 * process, calls FN with DIR ("C" sent, "S" received) and each
 * line, those that carry credentials as "[redacted]"; NULL: no trace.
 * Set before any connection is opened. */
typedef void (*MfTraceFn)(const char *dir, const char *line, void *ud);
void account_set_trace(MfTraceFn fn);

/* What `.mailfs/status` shows. */
typedef struct {
	gboolean online;        /* using the network now */
	gboolean forced_offline; /* the user stopped network use */
	gint64 state_since;     /* Unix time of the last change of online */
	char *server;           /* "imaps://host:993" */
	char *tls;              /* how the last session was made, or NULL */
	gint64 last_refresh;    /* Unix time of the last server success; 0 */
	gboolean push;          /* new mail is pushed (IDLE) */
	guint64 cache_bytes;    /* bytes of cached bodies */
	guint64 cache_max;      /* their budget; 0: none */
	char *last_error;       /* the last failure, or NULL */
	gint64 last_error_at;
} MfAccountStatus;

void account_status(MfAccount *a, MfAccountStatus *out);
void account_status_clear(MfAccountStatus *st);

/* Makes the tree and every listing stale and wakes the poller (and a
 * reconnect when offline): the ctl command "refresh". */
void account_refresh_all(MfAccount *a);

/* Stops (TRUE) or resumes all network use: the ctl commands "offline"
 * and "online". */
void account_set_forced_offline(MfAccount *a, gboolean offline);

/* Starts the background work of a mount: a thread that refreshes the
 * folder tree and every listing in use each poll_interval seconds, and
 * push (IDLE) on INBOX and the folder looked at last, where the server
 * can. */
void account_start_polling(MfAccount *a);

/* Evicts least recently read bodies past the cache budget. */
void account_evict(MfAccount *a);

/* Marks the account offline because of WHY (a transient error), as if a
 * request had just failed: requests are served from the store and a
 * background probe reconnects. */
void account_go_offline(MfAccount *a, const GError *why);

/* TRUE if P's cache directory holds a store with a folder tree, i.e.
 * something to serve offline. */
gboolean account_cache_exists(const MfAccountParams *p);

/* The folder tree, refreshed first if it is stale and the account is
 * online.  Never NULL; release with tree_unref(). */
MfTree *account_tree(MfAccount *a);

/* The id of the folder NAME inside PARENT (0: the top), or 0.  A name
 * not in the tree makes it be listed anew once, while online. */
gint64 account_find_folder(MfAccount *a, gint64 parent, const char *name);
/* The same without asking the server anew when NAME is missing. */
gint64 account_find_folder_cached(MfAccount *a, gint64 parent,
                                  const char *name);

/* The listing of FOLDER_ID, refreshed first if stale and online.  NULL
 * with ERR if the folder is unknown or was never listed and cannot be. */
MfListing *account_listing(MfAccount *a, gint64 folder_id, GError **err);

MfListing *listing_ref(MfListing *l);
void listing_unref(MfListing *l); /* accepts NULL */
guint32 listing_uidvalidity(const MfListing *l);
guint listing_count(const MfListing *l);
const MfRemoteMessage *listing_at(const MfListing *l, guint i);
const MfRemoteMessage *listing_find(const MfListing *l, guint32 uid);

/* Messages are named by (generation, UID): the generation is the listing's
 * id for its (folder, UIDVALIDITY), never reused. */
gint64 listing_generation(const MfListing *l);

/* The name M was given through the mount (written under it, or renamed to
 * it), or NULL: the file system names it by its UID.  When M reads back
 * the bytes as written, *SIZE (may be NULL) becomes their size. */
const char *listing_alias(const MfListing *l, const MfRemoteMessage *m,
                          guint64 *size);
/* The message that was given NAME through the mount, or NULL. */
const MfRemoteMessage *listing_find_name(const MfListing *l,
                                         const char *name);
/* Unix time the listing's set of names last changed (0: not since the
 * mount started). */
gint64 listing_mtime(const MfListing *l);
/* When FOLDER_ID (0: the top) last changed as a directory: its listing
 * in memory (without asking the server), or the folder tree; 0 if
 * neither did since the mount started. */
gint64 account_folder_mtime(MfAccount *a, gint64 folder_id);

/* A message moved to another folder through this mount is another
 * message there; the kernel may still name it by its old inode for a
 * moment: that leads to *NEW_GEN and *NEW_UID.  FALSE if it was not moved
 * here. */
gboolean account_moved_to(MfAccount *a, gint64 gen, guint32 uid,
                          gint64 *new_gen, guint32 *new_uid);
/* The same for a folder renamed through this mount: the id it has now
 * (FOLDER_ID itself when it was not renamed). */
gint64 account_folder_now(MfAccount *a, gint64 folder_id);

/* Gives message UID of generation GEN the name NAME in its folder (no
 * server change): another message of the folder that had the name loses
 * it.  MF_ERROR_NOTFOUND if the generation is unknown. */
gboolean account_name_message(MfAccount *a, gint64 gen, guint32 uid,
                              const char *name, GError **err);

/* The folder and UIDVALIDITY of listing generation GEN. */
gboolean account_generation_folder(MfAccount *a, gint64 gen,
                                   gint64 *folder_id, guint32 *uidvalidity);

/* Copies the metadata of message UID of generation GEN into *OUT; the
 * listing is refreshed first if stale.  MF_ERROR_NOTFOUND if it is gone. */
gboolean account_message(MfAccount *a, gint64 gen, guint32 uid,
                         MfRemoteMessage *out, GError **err);

/* A read-only fd holding the exact body of the message; the caller closes
 * it.  Fetched from the server and stored when not yet cached.
 * MF_ERROR_OFFLINE when offline and not cached; MF_ERROR_NOTFOUND when the
 * server no longer has it. */
int account_open_message(MfAccount *a, gint64 gen, guint32 uid, GError **err);

/* Appends SIZE bytes from FD, with FLAGS and DATE, to the folder PATH
 * (display path) or, when PATH is NULL, to the first folder with
 * special-use flag SPECIAL (MF_FOLDER_SENT, ...), or else the top-level
 * folder named after it ("Sent", "Trash", ...: what servers that mark
 * none have).  *USED (may be NULL) receives the display path of the
 * folder, owned.  MF_ERROR_MAILBOX if there is no such folder (the
 * message says so) or it cannot take the message; MF_ERROR_OFFLINE while
 * offline. */
gboolean account_append_special(MfAccount *a, guint special,
                                const char *path, const char *flags,
                                gint64 date, int fd, guint64 size,
                                char **used, GError **err);

#endif
