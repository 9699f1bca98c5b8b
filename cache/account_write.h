/* account_write.h - the changes a user makes through the mount, on an
 * account whose backend has MF_BACKEND_CAP_WRITE (IMAP).  Each change is
 * made on the server, then shows at once: a removed or moved message
 * leaves its listing, and the listings and tree it affects are asked for
 * anew.
 *
 * Errors: MF_ERROR_READONLY (the account or server cannot, e.g. a bare
 * EXPUNGE would be needed), MF_ERROR_NOTFOUND, MF_ERROR_EXISTS,
 * MF_ERROR_NOTEMPTY, MF_ERROR_OFFLINE while offline, and what the server
 * said (MF_ERROR_MAILBOX, MF_ERROR_MESSAGE). */
#ifndef MAILFS_ACCOUNT_WRITE_H
#define MAILFS_ACCOUNT_WRITE_H

#include "cache/account.h"

/* Folders: LEAF is a UTF-8 name; PARENT_ID 0 is the top. */
gboolean account_create_folder(MfAccount *a, gint64 parent_id,
                               const char *leaf, GError **err);
/* Only an empty folder (no messages, no subfolders): else
 * MF_ERROR_NOTEMPTY. */
gboolean account_delete_folder(MfAccount *a, gint64 folder_id, GError **err);
gboolean account_rename_folder(MfAccount *a, gint64 folder_id,
                               gint64 parent_id, const char *leaf,
                               GError **err);

#endif
