/* push.h - IDLE-based push for an account (see push.c).  Used by
 * account.c only. */
#ifndef MAILFS_PUSH_H
#define MAILFS_PUSH_H

#include "cache/account_int.h"

Push *push_new(void);
/* Stops the push threads (interrupting their connections) and frees. */
void push_free(MfAccount *a, Push *p);
/* Starts watching INBOX_ID, and a second folder chosen by push_watch(),
 * when the backend can push.  Each watch reconnects by itself with
 * backoff, and after a suspend. */
void push_start(MfAccount *a, gint64 inbox_id);
/* The user looked at FOLDER_ID: watch it too (at most one switch per 30
 * seconds, so that a recursive grep does not churn connections). */
void push_watch(MfAccount *a, gint64 folder_id);
/* Drops the watches' connections now (network use stopped by the user);
 * they come back when the account may use the network again. */
void push_pause(MfAccount *a);

/* TRUE while at least one watch is idling on the server. */
gboolean push_active(MfAccount *a);

#endif
