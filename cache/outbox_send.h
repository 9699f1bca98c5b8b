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

OutboxSender *outbox_sender_new(const OutboxParams *p, MfAccount *account);
void outbox_sender_free(OutboxSender *s); /* accepts NULL */
gboolean outbox_sender_connected(const OutboxSender *s);
/* Makes the session's blocked I/O fail at once (at unmount); from any
 * thread. */
void outbox_sender_interrupt(OutboxSender *s);

/* Ends the SMTP session, if any (QUIT). */
void outbox_sender_idle(OutboxSender *s);

/* Prepares the message in SPOOL (recipients, Bcc removed, Date and
 * Message-ID added), writes what will go out to SENT_PATH (durably), and
 * sends it.  The moment the server accepts it, MARK_SENT(UD) is called,
 * before anything else.  Returns ACCEPTED, RETRY or REFUSED; *ERROR gets
 * the reason for the last two (the server's reply when there is one). */
OutboxOutcome outbox_sender_send(OutboxSender *s, const char *spool,
                                 const char *sent_path,
                                 gboolean (*mark_sent)(void *ud), void *ud,
                                 char **error);

/* Appends SENT_PATH to the account's \Sent folder: DONE, or RETRY with
 * *ERROR. */
OutboxOutcome outbox_sender_copy(OutboxSender *s, const char *sent_path,
                                 char **error);

#endif
