/* backend.h - the one contract between the cache and a mail protocol.
 *
 * IMAP (backend_imap.c) implements it now; POP3 will implement the same
 * table.  Code above a backend never asks which protocol it speaks: it
 * looks at the capability mask instead.
 *
 * Memory: everything a slot returns belongs to the caller; everything it
 * takes stays the caller's.  A session is used by one thread at a time.
 * Errors are MF_ERROR codes; after MF_ERROR_CONNECTION or
 * MF_ERROR_PROTOCOL the session is dropped and never used again.
 */
#ifndef MAILFS_BACKEND_H
#define MAILFS_BACKEND_H

#include <glib.h>
#include "cache/tokens.h"
#include "net/sasl.h"
#include "net/server_params.h"
#include "net/url.h"

/* What a backend can do. */
enum {
	MF_BACKEND_CAP_FOLDERS = 1u << 0, /* more than one mailbox */
	MF_BACKEND_CAP_FLAGS   = 1u << 1, /* per-message flags */
	MF_BACKEND_CAP_APPEND  = 1u << 2, /* messages can be added */
	/* Every message is downloaded into the store as soon as it is
	 * listed, and what is stored is the listing (POP3: the cache is the
	 * mailbox).  Messages are named by key, not by a server UID: the
	 * store assigns their UIDs, and UIDVALIDITY is always 1. */
	MF_BACKEND_CAP_STORE_ALL = 1u << 3,
	/* delete_messages works (POP3: DELE then QUIT). */
	MF_BACKEND_CAP_DELETE  = 1u << 4,
	/* Messages can be moved and flagged, folders made and removed. */
	MF_BACKEND_CAP_WRITE   = 1u << 5,
};

/* Folder flags. */
enum {
	MF_FOLDER_NOSELECT = 1u << 0, /* a directory that holds no messages */
	MF_FOLDER_SENT     = 1u << 1,
	MF_FOLDER_TRASH    = 1u << 2,
	MF_FOLDER_DRAFTS   = 1u << 3,
	MF_FOLDER_ARCHIVE  = 1u << 4,
	MF_FOLDER_JUNK     = 1u << 5,
};

typedef struct {
	char *name;  /* the server's name for it, the key (IMAP: wire form) */
	char *path;  /* display path: UTF-8 components joined by '/' */
	guint flags; /* MF_FOLDER_* */
} MfRemoteFolder;

typedef struct {
	guint32 uidvalidity; /* a change means: every UID is new */
	guint32 uidnext;
	guint32 count;
	guint64 highestmodseq; /* CONDSTORE's; 0: none (or not known) */
} MfFolderStatus;

typedef struct {
	guint32 uid;
	guint64 size;        /* exact size of the body in bytes */
	gint64 date;         /* Unix time the message arrived */
	const char *flags;   /* space-separated, interned (g_intern_string) */
	const char *key;     /* STORE_ALL backends: the server's stable name
	                      * (POP3 UIDL), interned; NULL otherwise */
} MfRemoteMessage;

/* What the cache knows of a folder, for resync_messages. */
typedef struct {
	MfFolderStatus status;       /* as of its last listing; uidvalidity 0:
	                              * never listed */
	const MfRemoteMessage *msgs; /* that listing, sorted by UID; borrowed */
	guint n;
	/* Flags changed by others must show: without a cheap way to learn
	 * them (no CONDSTORE), list everything (the first listing of a run,
	 * a refresh the user asked for). */
	gboolean check_flags;
} MfFolderKnown;

/* What resync_messages found.  FULL: CHANGED is the whole listing (the
 * known one no longer applies: a new UIDVALIDITY, a HIGHESTMODSEQ that
 * went back, or no cheaper way).  Else CHANGED holds the new messages
 * and the known ones whose flags changed (complete entries), GONE the
 * UIDs (guint32, ascending) of known messages no longer there. */
typedef struct {
	MfFolderStatus status; /* now */
	gboolean full;
	GArray *changed;       /* MfRemoteMessage sorted by UID; owned */
	GArray *gone;          /* guint32; owned; NULL when FULL */
} MfFolderDelta;

void folder_delta_clear(MfFolderDelta *d);

/* Changes a push connection reports, by UID, valid during the call:
 * a message's flags now; UIDs FIRST to LAST gone; and, once the folder is
 * open and before the wait, what it holds (to compare with a listing). */
typedef struct {
	void (*flags)(guint32 uid, const char *flags, void *ud);
	void (*gone)(guint32 first, guint32 last, void *ud);
	void (*opened)(const MfFolderStatus *st, void *ud);
	void *ud;
} MfChangeSink;

/* Where fetched bodies go: open() when one starts, write() per piece,
 * finish() when complete with its UID, abort() if it never completes. */
typedef struct {
	gpointer (*open)(guint64 size, void *ud, GError **err);
	gboolean (*write)(gpointer sink, const char *data, size_t len,
	                  GError **err);
	gboolean (*finish)(gpointer sink, guint32 uid, void *ud, GError **err);
	void (*abort)(gpointer sink);
} MfBodySink;

/* One message's header block (HDR, LEN bytes, valid during the call). */
typedef void (*MfHeaderFn)(guint32 uid, const char *hdr, size_t len,
                           void *ud);

/* How to reach and log in to the server. */
typedef struct {
	MfServerParams server; /* owned; its password is wiped by
	                        * backend_params_clear() */
	MfTokens *tokens;    /* with an OAuth2 auth: where the access tokens
	                      * come from (a reference, dropped by
	                      * backend_params_clear); else NULL */
	guint64 message_max; /* largest body accepted; 0: default */
} MfBackendParams;

/* *DST becomes a deep copy of SRC (a reference of its tokens). */
void backend_params_copy(MfBackendParams *dst, const MfBackendParams *src);
/* server_params_clear() and the tokens' reference dropped; accepts NULL. */
void backend_params_clear(MfBackendParams *p);

/* Logs in with P's secret: LOGIN (UD) is called with P's access token
 * (tokens_use(): once more with a new one if the server refuses it) or,
 * without tokens, with its password. */
gboolean backend_login(const MfBackendParams *p, MfTokenLoginFn login,
                       void *ud, GError **err);

typedef struct MfSession MfSession;

typedef struct {
	const char *name;
	guint caps;
	/* Connects and logs in. */
	MfSession *(*connect)(const MfBackendParams *p, GError **err);
	/* Logs out (best effort) and frees; accepts NULL. */
	void (*disconnect)(MfSession *s);
	/* Every folder on the server, as a new array of MfRemoteFolder*
	 * freed by remote_folder_free. */
	gboolean (*list_folders)(MfSession *s, GPtrArray **out, GError **err);
	/* The status and every message of FOLDER: *MSGS is a new GArray of
	 * MfRemoteMessage sorted by UID. */
	gboolean (*list_messages)(MfSession *s, const char *folder,
	                          MfFolderStatus *status, GArray **msgs,
	                          GError **err);
	/* What changed in FOLDER since KNOWN (see MfFolderDelta): with
	 * QRESYNC or CONDSTORE only the changes cross the wire, else a STATUS
	 * probe and the new messages.  NULL: list_messages only. */
	gboolean (*resync_messages)(MfSession *s, const char *folder,
	                            const MfFolderKnown *known,
	                            MfFolderDelta *out, GError **err);
	/* Streams the bodies of MSGS (N of them, ascending UIDs; found by
	 * uid, or by key for STORE_ALL backends) of FOLDER to SINK, whose
	 * finish() gets each one's uid.  Fails with MF_ERROR_MAILBOX if
	 * FOLDER's UIDVALIDITY is no longer UIDVALIDITY.  Messages the
	 * server no longer has are skipped; one it still has but does not
	 * send fails the call with MF_ERROR_MESSAGE, after the bodies that
	 * came were finished. */
	gboolean (*fetch_bodies)(MfSession *s, const char *folder,
	                         guint32 uidvalidity, const MfRemoteMessage *msgs,
	                         guint n, const MfBodySink *sink, void *ud,
	                         GError **err);
	/* Deletes MSGS of FOLDER from the server for good (IMAP: by UID,
	 * expunging only those; POP3: by key, DELE then QUIT, after which the
	 * session is spent).  NULL without MF_BACKEND_CAP_DELETE. */
	gboolean (*delete_messages)(MfSession *s, const char *folder,
	                            guint32 uidvalidity,
	                            const MfRemoteMessage *msgs, guint n,
	                            GError **err);
	/* The slots below are NULL without MF_BACKEND_CAP_WRITE. */
	/* Moves MSGS of FOLDER to DEST (server names).  When one message
	 * moves and the server says where it went, *DEST_UIDVALIDITY and
	 * *NEW_UID (either may be NULL) get its UID in DEST, else 0. */
	gboolean (*move_messages)(MfSession *s, const char *folder,
	                          guint32 uidvalidity, const MfRemoteMessage *msgs,
	                          guint n, const char *dest,
	                          guint32 *dest_uidvalidity, guint32 *new_uid,
	                          GError **err);
	/* The UIDs of the messages of FOLDER whose Message-ID is MSGID: *UIDS
	 * gets a new ascending array of guint32, *UIDVALIDITY the folder's. */
	gboolean (*find_message_id)(MfSession *s, const char *folder,
	                            const char *msgid, guint32 *uidvalidity,
	                            GArray **uids, GError **err);
	/* Replaces the flags of one message. */
	gboolean (*set_flags)(MfSession *s, const char *folder,
	                      guint32 uidvalidity, guint32 uid, const char *flags,
	                      GError **err);
	/* Creates folder LEAF (UTF-8) inside PARENT (server name; NULL: at
	 * the top). */
	gboolean (*create_folder)(MfSession *s, const char *parent,
	                          const char *leaf, GError **err);
	gboolean (*delete_folder)(MfSession *s, const char *name, GError **err);
	/* Renames folder NAME to LEAF inside PARENT (NULL: the top). */
	gboolean (*rename_folder)(MfSession *s, const char *name,
	                          const char *parent, const char *leaf,
	                          GError **err);
	/* Waits up to MAX_SECONDS for a change in FOLDER (push), handing
	 * flag changes and expunges to SINK as they come: *RELIST is set when
	 * something came that SINK was not told (new messages, an expunge it
	 * cannot name), and the folder should be listed again.  NULL when the
	 * server cannot push. */
	gboolean (*idle_changes)(MfSession *s, const char *folder,
	                         int max_seconds, const MfChangeSink *sink,
	                         gboolean *relist, GError **err);
	/* Makes a blocked idle_changes() fail at once; from any thread. */
	void (*interrupt)(MfSession *s);
	/* Adds SIZE bytes read from FD (from offset 0) to FOLDER with FLAGS
	 * (space-separated, or NULL) and DATE; *UIDVALIDITY and *UID (either
	 * may be NULL) get its UID when the server says (else 0).  NULL
	 * without MF_BACKEND_CAP_APPEND. */
	gboolean (*append)(MfSession *s, const char *folder, const char *flags,
	                   gint64 date, int fd, guint64 size,
	                   guint32 *uidvalidity, guint32 *uid, GError **err);
	/* FALSE if S must not be used again after the current operation
	 * (POP3 sees the mailbox as it was at login).  NULL: reusable. */
	gboolean (*reusable)(MfSession *s);
	/* "imaps://host:993, TLSv1.3 ..." ; owned by the caller. */
	char *(*describe)(MfSession *s);
	/* Views of mail (backend_imap_view.c).  Calls CB with the header
	 * fields FIELDS (space-separated names) of each of MSGS (N, ascending
	 * UIDs) of FOLDER that the server still has, fetched in bulk without
	 * bodies; MF_ERROR_MAILBOX if its UIDVALIDITY is no longer
	 * UIDVALIDITY.  NULL: the backend cannot (the summary then reads the
	 * headers of cached bodies). */
	gboolean (*fetch_headers)(MfSession *s, const char *folder,
	                          guint32 uidvalidity,
	                          const MfRemoteMessage *msgs, guint n,
	                          const char *fields, MfHeaderFn cb, void *ud,
	                          GError **err);
	/* The UIDs of FOLDER's messages that the IMAP SEARCH CRITERIA
	 * (with CHARSET UTF-8 when UTF8) finds: a new array of guint32.
	 * NULL: the backend cannot (searches use the local index). */
	gboolean (*search)(MfSession *s, const char *folder,
	                   guint32 uidvalidity, const char *criteria,
	                   gboolean utf8, GArray **uids, GError **err);
} MfBackend;

extern const MfBackend backend_imap;
extern const MfBackend backend_pop3;

void remote_folder_free(MfRemoteFolder *f);

#endif
