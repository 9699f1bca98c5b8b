/* account_write.h - the changes a user makes through the mount, on an
 * account whose backend has MF_BACKEND_CAP_WRITE (IMAP).  Messages are
 * named by (generation, UID) as in account.h.  Each change is made on the
 * server, then shows at once: a removed or moved message leaves its
 * listing, and the listings and tree it affects are asked for anew.
 *
 * Errors: MF_ERROR_READONLY (the account or server cannot, e.g. a bare
 * EXPUNGE would be needed), MF_ERROR_NOTFOUND, MF_ERROR_EXISTS,
 * MF_ERROR_NOTEMPTY, MF_ERROR_OFFLINE while offline, and what the server
 * said (MF_ERROR_MAILBOX, MF_ERROR_MESSAGE). */
#ifndef MAILFS_ACCOUNT_WRITE_H
#define MAILFS_ACCOUNT_WRITE_H

#include "cache/account_int.h"

/* Moves the message to the \Trash folder, or expunges exactly it when
 * EXPUNGE is set or it already is in \Trash. */
gboolean account_remove_message(MfAccount *a, gint64 gen, guint32 uid,
                                gboolean expunge, GError **err);
/* Moves the message to folder DEST_ID (another folder). */
gboolean account_move_message(MfAccount *a, gint64 gen, guint32 uid,
                              gint64 dest_id, GError **err);
/* Replaces the message's flags and keywords (space-separated). */
gboolean account_set_flags(MfAccount *a, gint64 gen, guint32 uid,
                           const char *flags, GError **err);
/* Appends SIZE bytes of FD (CRLF line ends) to FOLDER_ID with DATE as
 * its INTERNALDATE. */
gboolean account_append_message(MfAccount *a, gint64 folder_id, int fd,
                                guint64 size, gint64 date, const char *flags,
                                GError **err);
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
