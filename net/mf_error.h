/* mf_error.h - the one GError domain used by every layer of mailfs.
 *
 * Codes are graded by blast radius (one message, one mailbox, the account)
 * and by retry class (connection problems are retried later; TLS, auth and
 * config problems are not retried until the user acts).  Exactly one
 * function, errmap_to_errno() in fs/errmap.c, turns these into errno values.
 */
#ifndef MAILFS_MF_ERROR_H
#define MAILFS_MF_ERROR_H

#include <glib.h>

#define MF_ERROR (mf_error_quark())

typedef enum {
	MF_ERROR_MESSAGE,    /* one message is gone or unreadable */
	MF_ERROR_MAILBOX,    /* one mailbox is gone or cannot be opened */
	MF_ERROR_CONFIG,     /* the configuration is wrong: user must act */
	MF_ERROR_CONNECTION, /* connect failed, dropped, or timed out: retry later */
	MF_ERROR_TLS,        /* handshake or certificate failure: not retried */
	MF_ERROR_AUTH,       /* credentials refused: not retried */
	MF_ERROR_PROTOCOL,   /* server broke the protocol or a limit */
	MF_ERROR_OFFLINE,    /* not attempted: account offline, data not cached */
	MF_ERROR_CANCELLED,  /* the operation was stopped on purpose */
	MF_ERROR_LOCAL,      /* local disk or system failure */
	MF_ERROR_NOTFOUND,   /* no such folder or message */
	MF_ERROR_READONLY,   /* the operation is not allowed here */
	MF_ERROR_EXISTS,     /* the name is taken */
	MF_ERROR_NOTEMPTY,   /* the folder still holds something */
	MF_ERROR_REFUSED,    /* the server refused the name or the change */
	MF_ERROR_BADMSG,     /* what was written is not a message */
	MF_ERROR_NOSPACE,    /* the local disk (or quota) is full */
	MF_ERROR_BUSY,       /* in use (being sent): try again later */
	MF_ERROR_PERM,       /* this change cannot be made here (no Trash) */
	/* The connection broke after the server may have done the change
	 * (an APPEND whose literal went out): retry later, but only after
	 * finding out whether it was done. */
	MF_ERROR_UNSURE,
} MfErrorCode;

GQuark mf_error_quark(void);

/* Sets ERR (may be NULL) to MF_ERROR_CONFIG with the message FMT formats,
 * and returns FALSE: the one way a config error is made from printf
 * (fs/config*.c, net/url.c, cache/command.c, ...). */
gboolean mf_error_config(GError **err, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

/* TRUE for errors after which the account is treated as offline and the
 * request may be retried later from the cache or the network. */
gboolean mf_error_is_transient(const GError *err);

/* The contract of every step that returns a gboolean and sets a GError:
 * FALSE if and only if the error is set.  Checked where steps are run (a
 * session step, the push loop), so that a step that breaks it (a bug) is
 * caught there and not where the error is read: it is logged as critical,
 * naming WHAT, and the result made whole: FALSE without an error gets an
 * MF_ERROR_LOCAL one ("internal error"), TRUE with one loses it.  Returns
 * the result to go on with.  ERR must not be NULL. */
gboolean mf_error_check(gboolean ok, GError **err, const char *what);

#endif
