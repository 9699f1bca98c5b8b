/* outbox.h - the durable queue behind MOUNT/outbox/ and its sender.
 *
 * Layout under DIR (cache_dir/outbox, 0700; files 0600):
 *   outbox.sqlite   one row per file: name, state, attempts, next try,
 *                   last error (synchronous=FULL: a state change is on
 *                   disk before the call that made it returns)
 *   spool/ID        the file's bytes, as the user wrote them
 *   spool/ID.sent   the bytes that went out, kept until the Sent copy is saved
 *
 * States:
 *   EDITING   being written (or a scratch file: never sent)
 *   QUEUED    waiting to be sent (next_try says when)
 *   SENDING   a transaction with the server is under way
 *   SENT      accepted by the server; waiting for the copy in Sent
 *   FAILED    refused for good; shown in outbox/failed/ with NAME.error
 *
 * A file becomes QUEUED when it is released after writing (its last close)
 * or renamed into outbox/ (also from failed/, to retry); its data were made
 * durable at each close (FLUSH).  Scratch files of editors
 * (outbox_msg_is_scratch_name) stay EDITING.
 *
 * Exactly once: the row goes to SENT in one durable write right after the
 * server's final 250, before anything else; a file in SENT is never sent
 * again.  The only window for a double send is between the server's reply
 * and that write.
 *
 * Thread-safe; the sender is one background thread per account.
 */
#ifndef MAILFS_OUTBOX_H
#define MAILFS_OUTBOX_H

#include <glib.h>
#include <sys/types.h>

#include "cache/account.h"
#include "net/url.h"

typedef enum {
	OUTBOX_EDITING,
	OUTBOX_QUEUED,
	OUTBOX_SENDING,
	OUTBOX_SENT,
	OUTBOX_FAILED,
} OutboxState;

typedef struct {
	MfUrl smtp;            /* smtp:// or smtps:// (copied) */
	char *ca_file;
	char *tls_fingerprint;
	char *user;
	char *password;        /* wiped by outbox_params_clear() */
	char *from;            /* or NULL */
	int timeout_ms;
	gboolean save_sent;    /* append a copy to the \Sent folder */
} OutboxParams;

void outbox_params_clear(OutboxParams *p);

typedef struct {
	gint64 id;
	char *name;
	OutboxState state;
	guint64 size;
	gint64 mtime;          /* seconds */
	guint attempts;
	gint64 next_try;       /* seconds; when QUEUED */
	char *error;           /* last error, or NULL */
} OutboxEntry;

void outbox_entry_clear(OutboxEntry *e);

typedef struct MfOutbox MfOutbox;

/* Opens (creating) the queue in DIR.  ACCOUNT (may be NULL) receives the
 * copies in Sent.  Files left EDITING with data by a crash are queued. */
MfOutbox *outbox_open(const char *dir, const OutboxParams *p,
                      MfAccount *account, GError **err);
/* Starts the sender thread. */
void outbox_start(MfOutbox *o);
/* Stops the sender (after the message in progress) and frees. */
void outbox_close(MfOutbox *o); /* accepts NULL */

/* The entries shown in outbox/ (FAILED FALSE: EDITING and QUEUED and
 * SENDING) or in outbox/failed/ (FAILED TRUE): a new array of
 * OutboxEntry* (free func set). */
GPtrArray *outbox_list(MfOutbox *o, gboolean failed);
/* Fills *E with the entry NAME of outbox/ or outbox/failed/; FALSE, and
 * *E untouched, if there is none. */
gboolean outbox_lookup(MfOutbox *o, gboolean failed, const char *name,
                       OutboxEntry *e);
/* Fills *E with entry ID, in any state; FALSE, and *E untouched, if
 * there is none. */
gboolean outbox_get(MfOutbox *o, gint64 id, OutboxEntry *e);

/* A new file NAME in outbox/ (EDITING), open read-write: returns its fd
 * and id.  EEXIST-like MF_ERROR_READONLY if NAME exists. */
int outbox_create(MfOutbox *o, const char *name, gint64 *id, GError **err);
/* Opens entry ID with open(2) FLAGS.  Writing is refused while it is
 * being sent (MF_ERROR_READONLY) and takes a QUEUED file back to EDITING. */
int outbox_open_file(MfOutbox *o, gint64 id, int flags, GError **err);
/* At each close: makes written data durable.  Fails if it cannot. */
gboolean outbox_flush(MfOutbox *o, gint64 id, int fd, GError **err);
/* At the last close: queues the entry if it was written and its name is
 * not a scratch name.  Closes FD. */
gboolean outbox_release(MfOutbox *o, gint64 id, int fd, gboolean written,
                        GError **err);
gboolean outbox_truncate(MfOutbox *o, gint64 id, off_t size, GError **err);
/* Removes an entry (cancels sending it).  MF_ERROR_READONLY while it is
 * being sent; MF_ERROR_NOTFOUND if there is none. */
gboolean outbox_unlink(MfOutbox *o, gboolean failed, const char *name,
                       GError **err);
/* Renames within outbox/ and from failed/ into outbox/ (which queues it,
 * as does renaming a scratch name to a real one). */
gboolean outbox_rename(MfOutbox *o, gboolean from_failed, const char *from,
                       gboolean to_failed, const char *to, GError **err);

/* "queued", "sending", "queued: retry at HH:MM:SS after: ERROR",
 * "failed: ERROR" for the xattr user.mailfs.status; owned by the caller. */
char *outbox_status(const OutboxEntry *e);

/* How many messages wait to be sent (or for their Sent copy), the mtime
 * of the oldest (0: none), and how many are in failed/. */
void outbox_summary(MfOutbox *o, guint *queued, gint64 *oldest,
                    guint *failed);

/* Tries every queued message now (the ctl command "flush"). */
void outbox_kick(MfOutbox *o);

#endif
