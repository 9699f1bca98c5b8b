/* account_int.h - what other cache/ modules (sync.c) use of an account's
 * insides.  Not for fs/. */
#ifndef MAILFS_ACCOUNT_INT_H
#define MAILFS_ACCOUNT_INT_H

#include "cache/account.h"
#include "cache/store.h"

typedef gboolean (*SessionFn)(MfAccount *a, MfSession *s, void *ud,
                              GError **err);

/* Runs FN on a pooled session (at most max_connections at once), records
 * the outcome in the online state, and retries once on a fresh session if
 * a reused one turns out to be dead. */
gboolean account_with_session(MfAccount *a, SessionFn fn, void *ud,
                              GError **err);

Store *account_store(MfAccount *a);
const MfBackend *account_backend(MfAccount *a);
guint account_max_connections(MfAccount *a);

#endif
