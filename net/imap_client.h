/* imap_client.h - a blocking IMAP4rev1 client over one MfConn.
 *
 * An explicit state machine (see ImapState); imap_client_set_state() is the
 * one place that changes it.  Commands are sent one at a time; untagged
 * data is handed to per-command handlers.  Message bodies are streamed to
 * caller-supplied sinks and never held whole in memory.  A client is used
 * by one thread at a time.  After any MF_ERROR_CONNECTION or
 * MF_ERROR_PROTOCOL error, and after a caller's callback failed in the
 * middle of a command, the client is in IMAP_STATE_BROKEN and must be
 * freed.
 */
#ifndef MAILFS_IMAP_CLIENT_H
#define MAILFS_IMAP_CLIENT_H

#include <glib.h>
#include "net/conn.h"
#include "net/imap_seqset.h"
#include "net/sasl.h"
#include "net/server_params.h"
#include "net/url.h"

typedef enum {
	IMAP_STATE_GREETING,      /* connected, waiting for the greeting */
	IMAP_STATE_NOT_AUTH,      /* greeted (and TLS up), not logged in */
	IMAP_STATE_AUTH,          /* logged in, no mailbox selected */
	IMAP_STATE_SELECTED,      /* a mailbox is selected (read-only) */
	IMAP_STATE_LOGOUT,        /* LOGOUT sent or BYE received */
	IMAP_STATE_BROKEN,        /* I/O or protocol failure: unusable */
} ImapState;

/* Capabilities the code above may act on. */
enum {
	IMAP_CAP_IMAP4REV1   = 1u << 0,
	IMAP_CAP_STARTTLS    = 1u << 1,
	IMAP_CAP_AUTH_PLAIN  = 1u << 2,
	IMAP_CAP_SASL_IR     = 1u << 3,
	IMAP_CAP_LOGINDISABLED = 1u << 4,
	IMAP_CAP_IDLE        = 1u << 5,
	IMAP_CAP_UIDPLUS     = 1u << 6,
	IMAP_CAP_MOVE        = 1u << 7,
	IMAP_CAP_CONDSTORE   = 1u << 8,
	IMAP_CAP_QRESYNC     = 1u << 9,
	IMAP_CAP_SPECIAL_USE = 1u << 10,
	IMAP_CAP_LITERALPLUS = 1u << 11,
	IMAP_CAP_ENABLE      = 1u << 12,
	IMAP_CAP_ESEARCH     = 1u << 13,
};

/* Mailbox attributes from LIST. */
enum {
	IMAP_MBOX_NOSELECT    = 1u << 0, /* \Noselect or \NonExistent */
	IMAP_MBOX_NOINFERIORS = 1u << 1,
	IMAP_MBOX_SENT        = 1u << 2,
	IMAP_MBOX_TRASH       = 1u << 3,
	IMAP_MBOX_DRAFTS      = 1u << 4,
	IMAP_MBOX_ARCHIVE     = 1u << 5,
	IMAP_MBOX_JUNK        = 1u << 6,
};

typedef struct {
	char *name;   /* as on the wire (modified UTF-7), unquoted */
	char delim;   /* hierarchy delimiter, '\0' for NIL */
	guint attrs;  /* IMAP_MBOX_* */
} ImapMailbox;

typedef struct {
	guint32 uidvalidity;
	guint32 uidnext;
	guint32 exists;
	guint64 highestmodseq; /* 0 without CONDSTORE */
} ImapSelectInfo;

typedef struct {
	const MfServerParams *server; /* imap:// (STARTTLS required) or
	                               * imaps://, with a user (borrowed) */
	const char *secret;        /* the password, or the access token with
	                            * an OAuth2 auth: what is sent, not
	                            * SERVER->password; not kept after
	                            * connect returns */
	guint64 literal_max;       /* largest message accepted; 0: 1 GiB */
} MfImapClientParams;

typedef struct MfImapClient MfImapClient;

/* Connects, reads the greeting, upgrades with STARTTLS on imap:// (refusing
 * to log in if it is not offered), logs in (with a password: AUTHENTICATE
 * PLAIN when offered, else LOGIN; with a token: OAUTHBEARER or XOAUTH2, as
 * P->server->auth and the server's AUTH= say: sasl_choose()) and learns the
 * capabilities.  Errors: MF_ERROR_CONNECTION, MF_ERROR_TLS, MF_ERROR_AUTH
 * (message includes the server's text, and for a refused token what its
 * error report said), MF_ERROR_PROTOCOL. */
MfImapClient *imap_client_connect(const MfImapClientParams *p, GError **err);

/* Sends LOGOUT (best effort, short wait) and frees; accepts NULL. */
void imap_client_free(MfImapClient *c);

ImapState imap_client_state(const MfImapClient *c);
guint imap_client_caps(const MfImapClient *c);
/* The wire name of the selected mailbox, or NULL; borrowed. */
const char *imap_client_selected(const MfImapClient *c);
/* "imaps://host:993, TLSv1.3 ..." for status displays; owned by caller. */
char *imap_client_describe(const MfImapClient *c);

/* LIST "" "*".  *OUT receives a new array of ImapMailbox* (free with
 * imap_mailbox_free, set as the array's free func). */
gboolean imap_client_list(MfImapClient *c, GPtrArray **out, GError **err);
void imap_mailbox_free(ImapMailbox *m);

/* EXAMINEs MAILBOX (wire name) unless it is already selected and FORCE is
 * FALSE.  MF_ERROR_MAILBOX when the server says NO. */
gboolean imap_client_examine(MfImapClient *c, const char *mailbox,
                             gboolean force, ImapSelectInfo *out,
                             GError **err);

/* SELECTs (WRITABLE) or EXAMINEs MAILBOX, unless it is already selected
 * in a mode that suffices and FORCE is FALSE. */
gboolean imap_client_select(MfImapClient *c, const char *mailbox,
                            gboolean writable, gboolean force,
                            ImapSelectInfo *out, GError **err);

/* One message of a metadata listing, valid during the callback only. */
typedef struct {
	guint32 uid;
	guint64 size;
	gint64 internaldate;
	const char *flags;   /* space-separated atoms */
	/* FALSE: the reply has no usable UID (then uid is 0) or RFC822.SIZE,
	 * and the message cannot be listed. */
	gboolean usable;
	/* NULL, or what the server got wrong in this message's reply, for a
	 * log line: a bad INTERNALDATE (internaldate is then 0), flags that
	 * are not atoms (left out of flags), why it is not usable.  Holds
	 * server text, escaped. */
	const char *problem;
} ImapMeta;

/* UID FETCH UIDSET (UID FLAGS RFC822.SIZE INTERNALDATE) on the selected
 * mailbox.  CB is called once per message reply; a reply that is wrong
 * in part (a bad date, a flag with a bad escape) is reported through
 * ImapMeta.problem and never fails the listing of the other messages. */
typedef void (*ImapMetaFn)(const ImapMeta *m, void *ud);
gboolean imap_client_fetch_meta(MfImapClient *c, const char *uidset,
                                ImapMetaFn cb, void *ud, GError **err);

/* UID FETCH UIDSET (UID): the UIDs of UIDSET the selected mailbox still
 * holds, added to *UIDS (a set of GUINT_TO_POINTER(uid)). */
gboolean imap_client_fetch_uids(MfImapClient *c, const char *uidset,
                                GHashTable *uids, GError **err);

/* Body sinks: open is called when a body of SIZE bytes starts arriving
 * (the UID may not be known yet), write for each piece, and finish once the
 * message's response is complete with its UID.  A body that does not end up
 * finished is aborted.  Any callback may fail with ERR to stop the fetch. */
typedef struct {
	gpointer (*open)(guint64 size, void *ud, GError **err);
	gboolean (*write)(gpointer sink, const char *data, size_t len,
	                  GError **err);
	gboolean (*finish)(gpointer sink, guint32 uid, void *ud, GError **err);
	void (*abort)(gpointer sink);
} ImapBodySink;

/* UID FETCH UIDSET (UID BODY.PEEK[]) on the selected mailbox: many
 * messages per round trip; never sets \Seen.  Messages the server no longer
 * has are simply not reported. */
gboolean imap_client_fetch_bodies(MfImapClient *c, const char *uidset,
                                  const ImapBodySink *sink, void *ud,
                                  GError **err);

/* APPENDs SIZE bytes read from FD (from offset 0) to MAILBOX with FLAGS
 * (space-separated, may be NULL) and DATE as INTERNALDATE.  *UIDVALIDITY
 * and *UID (either may be NULL) get the new message's when the server
 * reports them (UIDPLUS), else 0.  MF_ERROR_MAILBOX when the server
 * refuses; MF_ERROR_UNSURE when the connection broke after the message
 * went out (the server may have it). */
gboolean imap_client_append(MfImapClient *c, const char *mailbox,
                            const char *flags, gint64 date, int fd,
                            guint64 size, guint32 *uidvalidity,
                            guint32 *uid, GError **err);

/* Changes, by UID on the selected mailbox (imap_write.c).  None sends a
 * bare EXPUNGE: without UIDPLUS, expunging (and moving without MOVE) is
 * refused with MF_ERROR_READONLY rather than risk other clients'
 * \Deleted messages.  The mailbox must be selected writable. */
gboolean imap_client_uid_expunge(MfImapClient *c, const char *uidset,
                                 GError **err);
/* Moves UIDSET to DEST; *DEST_UIDVALIDITY and *NEW_UID (either may be
 * NULL) get the moved message's UIDVALIDITY and UID in DEST when the
 * server reports them (UIDPLUS) and one message moved, else 0. */
gboolean imap_client_uid_move(MfImapClient *c, const char *uidset,
                              const char *dest, guint32 *dest_uidvalidity,
                              guint32 *new_uid, GError **err);
/* UID SEARCH HEADER FIELD VALUE on the selected mailbox: the UIDs found
 * (a new array of guint32, ascending). */
gboolean imap_client_uid_search_header(MfImapClient *c, const char *field,
                                       const char *value, GArray **uids,
                                       GError **err);
/* Replaces the flags of UIDSET with FLAGS (space-separated). */
gboolean imap_client_uid_set_flags(MfImapClient *c, const char *uidset,
                                   const char *flags, GError **err);

/* Mailboxes, by wire name (modified UTF-7). */
gboolean imap_client_create(MfImapClient *c, const char *name, GError **err);
gboolean imap_client_delete(MfImapClient *c, const char *name, GError **err);
gboolean imap_client_rename(MfImapClient *c, const char *from, const char *to,
                            GError **err);
/* The server's hierarchy delimiter (LIST "" ""), asked once. */
gboolean imap_client_delimiter(MfImapClient *c, char *delim, GError **err);

/* Makes a blocked call on C fail at once; callable from any thread. */
void imap_client_interrupt(MfImapClient *c);

/* --- resynchronisation (imap_resync.c; RFC 7162) ---
 * Once logged in, the client sends ENABLE QRESYNC when the server
 * announces QRESYNC and ENABLE (else ENABLE CONDSTORE, or EXAMINE with
 * (CONDSTORE), when it announces CONDSTORE): FETCH replies then carry
 * MODSEQ, and with QRESYNC every FETCH its UID and expunges come as
 * VANISHED. */
typedef enum {
	IMAP_RESYNC_NONE,     /* neither: STATUS and listings only */
	IMAP_RESYNC_CONDSTORE, /* CHANGEDSINCE */
	IMAP_RESYNC_QRESYNC,  /* EXAMINE (QRESYNC ...), VANISHED */
} ImapResyncMode;
ImapResyncMode imap_client_resync_mode(const MfImapClient *c);

/* Changes the server reports by UID, valid during the call only: a
 * message's flags now (space-separated, without \Recent), UIDs gone. */
typedef struct {
	void (*flags)(guint32 uid, const char *flags, void *ud);
	void (*vanished)(const ImapRange *r, guint n, void *ud);
	void *ud;
} ImapChangeSink;

/* EXAMINE MAILBOX (QRESYNC (UIDVALIDITY MODSEQ [KNOWN])): the flags of
 * what changed since MODSEQ and VANISHED (EARLIER) go to SINK (only when
 * UIDVALIDITY is still the mailbox's).  KNOWN (or NULL) is the UID set
 * the caller knows.  Needs IMAP_RESYNC_QRESYNC. */
gboolean imap_client_examine_qresync(MfImapClient *c, const char *mailbox,
                                     guint32 uidvalidity, guint64 modseq,
                                     const char *known,
                                     const ImapChangeSink *sink,
                                     ImapSelectInfo *out, GError **err);
/* UID FETCH UIDSET (UID FLAGS) (CHANGEDSINCE MODSEQ) on the selected
 * mailbox: the flags of messages changed since, to SINK. */
gboolean imap_client_fetch_changed(MfImapClient *c, const char *uidset,
                                   guint64 modseq, const ImapChangeSink *sink,
                                   GError **err);
/* FETCH SEQSET (UID FLAGS) by sequence numbers, to SINK. */
gboolean imap_client_fetch_seq_flags(MfImapClient *c, const char *seqset,
                                     const ImapChangeSink *sink,
                                     GError **err);
/* The UIDs of UIDSET the selected mailbox holds, appended to RANGES
 * (ImapRange, normalized): UID SEARCH RETURN (ALL) with ESEARCH, else
 * UID SEARCH.  Keep UIDSET to at most ~50,000 messages: each reply is
 * one line.  MF_ERROR_REFUSED (the session still good) when the server
 * said OK without an answer. */
gboolean imap_client_uid_search(MfImapClient *c, const char *uidset,
                                GArray *ranges, GError **err);
/* STATUS MAILBOX (MESSAGES UIDNEXT UIDVALIDITY [HIGHESTMODSEQ]): OUT's
 * exists is MESSAGES.  MF_ERROR_REFUSED (the session still good) when
 * the answer has no UIDVALIDITY. */
gboolean imap_client_status(MfImapClient *c, const char *mailbox,
                            ImapSelectInfo *out, GError **err);

/* What a push wait saw besides changes handed to a sink. */
typedef struct {
	gboolean changed;  /* anything at all */
	gboolean exists;   /* an EXISTS: there may be new messages */
	gboolean resync;   /* a change the sink could not be told (an EXPUNGE
	                    * by sequence number): resynchronise */
} ImapIdleReport;
/* IDLE on the selected mailbox (imap_idle.c) for at most MAX_SECONDS,
 * handing flag changes and VANISHED to SINK (FETCH replies without UID
 * are asked again by sequence number after DONE); *REP says what else
 * came.  Returns TRUE when the server reported something or the time ran
 * out.  A suspend of the machine, a dropped connection or
 * imap_client_interrupt() from another thread end it with
 * MF_ERROR_CONNECTION. */
gboolean imap_client_idle_changes(MfImapClient *c, int max_seconds,
                                  const ImapChangeSink *sink,
                                  ImapIdleReport *rep, GError **err);

/* Sends NOOP, which also keeps the connection alive. */
gboolean imap_client_noop(MfImapClient *c, GError **err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MfImapClient, imap_client_free)

/* One message's header block of imap_client_fetch_headers(): HDR (LEN
 * bytes, valid during the call only; empty if the server sent NIL). */
typedef void (*ImapHeaderFn)(guint32 uid, const char *hdr, size_t len,
                             void *ud);
/* UID FETCH UIDSET (UID BODY.PEEK[HEADER.FIELDS (FIELDS)]) on the selected
 * mailbox (imap_view.c): the named header fields of many messages in one
 * command, never a body and never setting \Seen.  A block over 64 KiB is
 * cut.  FIELDS: space-separated field names. */
gboolean imap_client_fetch_headers(MfImapClient *c, const char *uidset,
                                   const char *fields, ImapHeaderFn cb,
                                   void *ud, GError **err);
/* UID SEARCH [CHARSET UTF-8] CRITERIA on the selected mailbox (with
 * CHARSET when UTF8): the UIDs found, a new array of guint32 in the
 * server's order.  MF_ERROR_REFUSED when the server says NO. */
gboolean imap_client_uid_search_criteria(MfImapClient *c,
                                         const char *criteria, gboolean utf8,
                                         GArray **uids, GError **err);

#endif
