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
const MfAccountParams *account_params(MfAccount *a);

/* TRUE if the network may be used now (online, not stopped by the user);
 * while offline, starts the background reconnect when its time has come. */
gboolean account_may_try(MfAccount *a);
/* Sets ERR to MF_ERROR_OFFLINE for A. */
void account_set_offline_error(MfAccount *a, GError **err);

/* Makes the next use of the tree / FOLDER_ID's listing ask the server. */
void account_expire_tree(MfAccount *a);
void account_expire_listing(MfAccount *a, gint64 folder_id);

/* Replaces FOLDER_ID's listing by a copy without UID (FLAGS NULL) or with
 * UID's flags set to FLAGS, so that a change shows at once; FALSE if the
 * listing does not hold UID. */
gboolean account_edit_listing(MfAccount *a, gint64 folder_id, guint32 uid,
                              const char *flags);

/* The folder and UIDVALIDITY of listing generation GEN. */
gboolean account_generation_folder(MfAccount *a, gint64 gen,
                                   gint64 *folder_id, guint32 *uidvalidity);
const MfBackend *account_backend(MfAccount *a);
guint account_max_connections(MfAccount *a);

#endif
