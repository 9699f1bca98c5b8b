/* account_change.h - the changes a user makes to messages through the
 * mount, as the file system asks for them.  Each is checked, recorded in
 * the journal (journal.h) and run: at once when the server can be
 * reached, else when it can, showing in the local listings meanwhile.
 *
 * Messages are named by generation and UID (account.h).  Errors: the
 * server's refusal (MF_ERROR_MESSAGE, MF_ERROR_MAILBOX, MF_ERROR_PERM with
 * no Trash, ...), MF_ERROR_NOTFOUND, MF_ERROR_BADMSG, MF_ERROR_LOCAL or
 * MF_ERROR_NOSPACE; a change that waits for the server is not an error. */
#ifndef MAILFS_ACCOUNT_CHANGE_H
#define MAILFS_ACCOUNT_CHANGE_H

#include "cache/account.h"

/* Appends the file PATH (as the user wrote it; it stays the caller's) to
 * FOLDER_ID as a message called NAME there, with FLAGS (or NULL) and
 * DATE (0: now) as its arrival time.  It must be a message
 * (append_msg_check, else MF_ERROR_BADMSG).  When REPLACE_UID is not 0,
 * that message of generation REPLACE_GEN (of FOLDER_ID) is removed, the
 * way rm does, once the new one is there; expunged when the new one begins
 * with all its bytes (a file added to: nothing of it is lost). */
gboolean account_add_message(MfAccount *a, gint64 folder_id, const char *name,
                             const char *path, gint64 date, const char *flags,
                             gint64 replace_gen, guint32 replace_uid,
                             GError **err);

/* Removes the message (to Trash, or for good with EXPUNGE).  One that was
 * still waiting to be appended is simply not appended. */
gboolean account_remove_message(MfAccount *a, gint64 gen, guint32 uid,
                                gboolean expunge, GError **err);

/* Moves the message to DEST_ID, where it is called NAME (NULL: the name it
 * had); REPLACE_GEN/REPLACE_UID (0: none) is a message of DEST_ID it
 * replaces, removed once the move is done. */
gboolean account_move_message(MfAccount *a, gint64 gen, guint32 uid,
                              gint64 dest_id, const char *name,
                              gint64 replace_gen, guint32 replace_uid,
                              GError **err);

/* Replaces the message's flags and keywords (space-separated). */
gboolean account_flag_message(MfAccount *a, gint64 gen, guint32 uid,
                              const char *flags, GError **err);

#endif
