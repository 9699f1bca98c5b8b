/* storeall.h - folder listings of STORE_ALL backends (POP3), where the
 * store is the mailbox.  Used by account.c only. */
#ifndef MAILFS_STOREALL_H
#define MAILFS_STOREALL_H

#include "cache/account_int.h"

/* Lists folder F on session S: downloads every message not yet stored
 * (committed in one batch), and returns in *OUT the listing: the messages
 * of OLD plus every stored one the server lists, with exact sizes and the
 * dates of their Date headers.  Bodies the server does not have (any
 * more) are pinned.  Without LEAVE_ON_SERVER, every stored message is
 * pinned and then deleted on the server (the session ends).  A failed
 * download keeps what arrived and still returns the listing; a failed
 * deletion is an error. */
gboolean storeall_list(MfAccount *a, MfSession *s, const MfFolder *f,
                       const MfListing *old, gboolean leave_on_server,
                       MfFolderStatus *st, GArray **out, GError **err);

#endif
