/* outbox_send.h - one outbox message through SMTP, and its copy in Sent.
 * Keeps one SMTP session open across messages; used by the sender thread
 * only.  outbox.c decides what happens to the file afterwards. */
#ifndef MAILFS_OUTBOX_SEND_H
#define MAILFS_OUTBOX_SEND_H

#include <glib.h>

#include "cache/account.h"
#include "cache/outbox.h"

typedef enum {
	OUTBOX_DONE,     /* sent (and the copy saved, where asked): forget it */
	OUTBOX_ACCEPTED, /* the server accepted it; the Sent copy is pending */
	OUTBOX_RETRY,    /* temporary failure: try again later */
	OUTBOX_REFUSED,  /* refused for good: to failed/ */
} OutboxOutcome;

typedef struct OutboxSender OutboxSender;

OutboxSender *outbox_sender_new(const MfOutboxParams *p, MfAccount *account);
void outbox_sender_free(OutboxSender *s); /* accepts NULL */
gboolean outbox_sender_connected(const OutboxSender *s);
/* Makes the session's blocked I/O fail at once (at unmount); from any
 * thread. */
void outbox_sender_interrupt(OutboxSender *s);

/* Ends the SMTP session, if any (QUIT). */
void outbox_sender_idle(OutboxSender *s);

/* What the sender records of a message on its way, at two moments. */
typedef struct {
	/* Just before the final "." goes out: TRUE once recorded durably.
	 * FALSE (with ERR) withholds the "." (the server then discards the
	 * message) and the attempt ends in RETRY. */
	gboolean (*awaiting)(void *ud, GError **err);
	/* Right after the server accepted it, before anything else. */
	gboolean (*sent)(void *ud);
	void *ud;
} OutboxMarks;

/* Prepares the message in SPOOL (recipients, Bcc removed, Date and
 * Message-ID added), writes what will go out to SENT_PATH (durably), and
 * sends it, calling MARKS at the two moments they name.  Returns ACCEPTED,
 * with *REPORT (owned) saying what was sent for the log, as msmtp does:
 * "from=<a@b> recipients=<c@d>,<e@f> size=N reply=250 ..."; or RETRY or
 * REFUSED, with *ERROR the reason (the server's reply when there is one).
 * A message that may have been delivered (the connection lost after the
 * ".") is REFUSED with a reason saying so. */
OutboxOutcome outbox_sender_send(OutboxSender *s, const char *spool,
                                 const char *sent_path,
                                 const OutboxMarks *marks, char **report,
                                 char **error);

/* Appends SENT_PATH to FOLDER (display path) or, when NULL, the account's
 * \Sent folder (account_append_special): DONE, with *USED the folder
 * (owned), or RETRY with *ERROR. */
OutboxOutcome outbox_sender_copy(OutboxSender *s, const char *sent_path,
                                 const char *folder, char **used,
                                 char **error);

#endif
