/* outbox.h - the durable queue behind MOUNT/outbox/ and its sender.
 *
 * Layout under DIR (cache_dir/outbox, 0700; files 0600):
 *   outbox.sqlite   one row per file: name, state, attempts, next try,
 *                   last error, why its data cannot be trusted, which of a
 *                   failed message's two files were removed
 *                   (synchronous=FULL: a state change is on disk before the
 *                   call that made it returns; PRAGMA user_version is the
 *                   schema version, migrated forward at open)
 *   spool/ID        the file's bytes, as the user wrote them
 *   spool/ID.sent   the bytes that went out, kept until the Sent copy is saved
 *
 * States:
 *   EDITING   being written (or a scratch file: never sent)
 *   QUEUED    waiting to be sent (next_try says when)
 *   SENDING   a transaction with the server is under way; the final "."
 *             has not been sent, so the server cannot have taken it
 *   AWAITING  the whole message and its final "." are (or are being) sent:
 *             the server may take it at any moment, mailfs waits for its
 *             reply
 *   SENT      accepted by the server; waiting for the copy in Sent
 *   FAILED    refused for good, or its outcome unknown; shown in
 *             outbox/failed/ as NAME with NAME.error beside it
 *
 * A file becomes QUEUED when it is released after writing (its last close)
 * or renamed into outbox/ (also from failed/, to retry); its data were made
 * durable at each close (FLUSH).  Scratch files of editors
 * (outbox_msg_is_scratch_name) stay EDITING.
 *
 * A file whose write or flush failed (a full disk: MF_ERROR_NOSPACE) is
 * never queued: not at its release, not by a rename, not after a crash.
 * Its data are dropped at once (the space is given back), it stays EDITING
 * with the reason in write_error, and writing it again from the start
 * (open with O_TRUNC, or truncating it to 0) clears that.
 *
 * Exactly once: the row goes to AWAITING in one durable write before the
 * final "." is sent (if that write fails, the "." is withheld and the
 * connection dropped: the server discards the message), and to SENT in one
 * durable write right after the server's 2xx.  After a crash, SENDING is
 * queued again (the server cannot have the message), AWAITING goes to
 * failed/ with a reason saying it may have been delivered (it is never sent
 * again unless the user moves it back), SENT only waits for its Sent copy.
 * So mailfs never sends a message twice on its own: a message whose
 * outcome is unknown (a crash or a lost connection after the ".") waits in
 * failed/ until the user moves it back.  What remains: the copy in Sent is
 * saved twice if mailfs stops, or the APPEND's reply is lost, between the
 * IMAP server taking it and mailfs forgetting the message.
 *
 * Errors: MF_ERROR_NOTFOUND no such entry; MF_ERROR_EXISTS the name is
 * taken; MF_ERROR_BUSY the message is on its way (SENDING, AWAITING);
 * MF_ERROR_READONLY not allowed (a move into failed/); MF_ERROR_NOSPACE
 * the disk is full; MF_ERROR_LOCAL any other disk or database failure.
 *
 * The log: one line per message sent (sender, recipients, size, the
 * server's reply), one when it goes to failed/, and one when an attempt
 * fails for now, or a copy in Sent cannot be saved, with a reason other
 * than the last one (a message retried for an hour for the same reason
 * is one line, not twelve).
 *
 * Thread-safe; the sender is one background thread per account.
 */
#ifndef MAILFS_OUTBOX_H
#define MAILFS_OUTBOX_H

#include <glib.h>
#include <sys/types.h>

#include "cache/account.h"
#include "cache/tokens.h"
#include "net/server_params.h"

/* The values are stored: never renumber them. */
typedef enum {
	OUTBOX_EDITING = 0,
	OUTBOX_QUEUED = 1,
	OUTBOX_SENDING = 2,
	OUTBOX_SENT = 3,
	OUTBOX_FAILED = 4,
	OUTBOX_AWAITING = 5,
} MfOutboxState;

/* The two files a FAILED entry shows in outbox/failed/. */
typedef enum {
	OUTBOX_PART_FILE = 1u << 0,  /* NAME: the message */
	OUTBOX_PART_ERROR = 1u << 1, /* NAME.error: why it failed */
} OutboxPart;

typedef struct {
	MfServerParams smtp;   /* smtp:// or smtps://; its password, wiped by
	                        * outbox_params_clear(), NULL: the account's
	                        * (account_password); its user NULL: no AUTH */
	MfTokens *tokens;      /* with an OAuth2 auth: the access tokens (a
	                        * reference: outbox_open takes one of its
	                        * own, outbox_params_clear drops it) */
	char *from;            /* or NULL */
	gboolean save_sent;    /* append a copy to the \Sent folder */
	char *sent_folder;     /* ... or to this one (display path); NULL:
	                        * the \Sent one, else a top-level Sent */
	guint retry_min_ms;    /* the first retry of a send that failed for
	                        * now, doubling up to 5 min; 0: 5 s (the
	                        * tests make it shorter) */
} MfOutboxParams;

/* server_params_clear(), the tokens' reference dropped, the rest freed. */
void outbox_params_clear(MfOutboxParams *p);

/* One row, as the functions below fill it in; the caller owns the strings
 * and frees them with outbox_entry_clear().  A function that finds no
 * entry leaves *E as it was. */
typedef struct {
	gint64 id;
	char *name;
	MfOutboxState state;
	guint64 size;
	gint64 mtime;          /* seconds */
	guint attempts;
	gint64 next_try;       /* microseconds (real time); when QUEUED */
	char *error;           /* last error, or NULL */
	char *write_error;     /* why its data are not to be sent, or NULL */
	guint removed;         /* FAILED: OutboxPart bits of the files gone */
} MfOutboxEntry;

void outbox_entry_clear(MfOutboxEntry *e);

typedef struct MfOutbox MfOutbox;

/* Opens (creating or migrating) the queue in DIR and recovers from a
 * crash (see the states above).  ACCOUNT (may be NULL) receives the copies
 * in Sent. */
MfOutbox *outbox_open(const char *dir, const MfOutboxParams *p,
                      MfAccount *account, GError **err);
/* Starts the sender thread. */
void outbox_start(MfOutbox *o);
/* Stops the sender (after the message in progress) and frees. */
void outbox_close(MfOutbox *o); /* accepts NULL */

/* The entries shown in outbox/ (FAILED FALSE: EDITING, QUEUED, SENDING
 * and AWAITING) or in outbox/failed/ (FAILED TRUE: FAILED with at least
 * one of its files left): a new array of MfOutboxEntry* (free func set). */
GPtrArray *outbox_list(MfOutbox *o, gboolean failed);
/* Fills *E with the entry NAME of outbox/ or outbox/failed/ (for failed/,
 * whichever of its files are left: see E->removed); FALSE if none. */
gboolean outbox_lookup(MfOutbox *o, gboolean failed, const char *name,
                       MfOutboxEntry *e);
/* Fills *E with entry ID, in any state; FALSE if none. */
gboolean outbox_get(MfOutbox *o, gint64 id, MfOutboxEntry *e);

/* A new file NAME in outbox/ (EDITING), open read-write: returns its fd
 * and id, or -1 with ERR (MF_ERROR_EXISTS if NAME exists). */
int outbox_create(MfOutbox *o, const char *name, gint64 *id, GError **err);
/* Opens entry ID with open(2) FLAGS: the fd, or -1 with ERR.  Writing is
 * refused while it is on its way or gone (MF_ERROR_BUSY) and takes a
 * QUEUED file back to EDITING; O_TRUNC clears write_error. */
int outbox_open_file(MfOutbox *o, gint64 id, int flags, GError **err);
/* Writes LEN bytes of BUF at OFF to entry ID through FD: how many were
 * written, or -1 with ERR (MF_ERROR_NOSPACE when the disk is full).  A
 * failed write sets write_error (see above). */
gssize outbox_write(MfOutbox *o, gint64 id, int fd, const void *buf,
                    size_t len, off_t off, GError **err);
/* Reads up to LEN bytes at OFF from FD: how many, or -1 with ERR. */
gssize outbox_read(int fd, void *buf, size_t len, off_t off, GError **err);
/* The same from entry ID without an fd of the caller's (opened and closed
 * here): how many, or -1 with ERR as outbox_open_file() and outbox_read()
 * say. */
gssize outbox_read_entry(MfOutbox *o, gint64 id, void *buf, size_t len,
                         off_t off, GError **err);
/* Closes FD (from outbox_create() or outbox_open_file()) without what
 * outbox_release() does: for a handle that is dropped, not released (the
 * mount ends); accepts -1.  fs/ never does I/O on a spool file itself. */
void outbox_discard_fd(int fd);
/* At each close: makes written data durable.  Fails if it cannot, and
 * then the entry's data are not to be sent (write_error). */
gboolean outbox_flush(MfOutbox *o, gint64 id, int fd, GError **err);
/* At the last close: queues the entry if it was written, its name is not
 * a scratch name and no write or flush of it failed.  Closes FD. */
gboolean outbox_release(MfOutbox *o, gint64 id, int fd, gboolean written,
                        GError **err);
/* Truncates entry ID to SIZE (0 clears write_error).  MF_ERROR_BUSY while
 * it is on its way. */
gboolean outbox_truncate(MfOutbox *o, gint64 id, off_t size, GError **err);
/* Removes PART of the entry NAME.  In outbox/ (FAILED FALSE) PART is
 * OUTBOX_PART_FILE and the entry goes (sending it is cancelled);
 * MF_ERROR_BUSY while it is on its way.  In failed/ each of NAME and
 * NAME.error is removed on its own, and the entry goes with the second.
 * MF_ERROR_NOTFOUND if there is no such file. */
gboolean outbox_unlink(MfOutbox *o, gboolean failed, const char *name,
                       OutboxPart part, GError **err);
/* Renames within outbox/, within failed/, and from failed/ into outbox/
 * (which queues it, as does renaming a scratch name to a real one, unless
 * its write_error is set).  An entry already named TO is replaced.
 * MF_ERROR_BUSY if either is on its way; MF_ERROR_READONLY into failed/
 * from outbox/. */
gboolean outbox_rename(MfOutbox *o, gboolean from_failed, const char *from,
                       gboolean to_failed, const char *to, GError **err);

/* For the xattr user.mailfs.status, owned by the caller: "editing",
 * "editing: not sent: WRITE_ERROR", "queued", "queued: retry at HH:MM:SS
 * after: ERROR", "sending", "sending: waiting for the server's reply",
 * "sent", "failed: ERROR". */
char *outbox_status(const MfOutboxEntry *e);

/* What .mailfs/status shows of the outbox. */
typedef struct {
	guint queued;          /* in outbox/, to be sent or on their way */
	gint64 oldest;         /* mtime of the oldest of them; 0: none */
	guint copy_pending;    /* sent, their copy in Sent not saved yet */
	guint sent;            /* sent since the outbox was opened */
	guint failed;          /* in failed/ */
	char *last_error;      /* the last failure to send a message or to
	                        * save its copy, with its name; or NULL */
	gint64 last_error_at;  /* Unix time */
} OutboxSummary;

/* Fills *S; clear it with outbox_summary_clear(). */
void outbox_summary(MfOutbox *o, OutboxSummary *s);
void outbox_summary_clear(OutboxSummary *s);

/* Tries every queued message now (the ctl command "flush"). */
void outbox_kick(MfOutbox *o);

#endif
