/* backend_imap_int.h - what the two files of the IMAP backend share:
 * backend_imap.c (reading) and backend_imap_write.c (changing). */
#ifndef MAILFS_BACKEND_IMAP_INT_H
#define MAILFS_BACKEND_IMAP_INT_H

#include "cache/backend.h"
#include "net/imap_client.h"

struct MfSession {
	MfImapClient *imap;
	char *watching;   /* the folder idle_changes examined, or NULL */
};

/* The full listing of FOLDER (backend_imap.c). */
gboolean backend_imap_list_messages(MfSession *s, const char *folder,
                                    MfFolderStatus *status, GArray **msgs,
                                    GError **err);
/* Appends the metadata of UIDSET of the selected FOLDER to OUT, sorted by
 * UID, one entry per UID. */
gboolean backend_imap_fetch_listing(MfSession *s, const char *folder,
                                    const char *uidset, GArray *out,
                                    GError **err);
/* resync_messages and idle_changes (backend_imap_resync.c). */
gboolean backend_imap_resync(MfSession *s, const char *folder,
                             const MfFolderKnown *known, MfFolderDelta *out,
                             GError **err);
gboolean backend_imap_idle_changes(MfSession *s, const char *folder,
                                   int max_seconds, const MfChangeSink *sink,
                                   gboolean *relist, GError **err);

/* "1:3,7,9:12" from the UIDs of MSGS (ascending); owned. */
char *backend_imap_uidset(const MfRemoteMessage *msgs, guint n);

/* Selects FOLDER (WRITABLE or not) and checks it still has UIDVALIDITY:
 * else MF_ERROR_MAILBOX, so that a UID never names another message. */
gboolean backend_imap_open(MfSession *s, const char *folder,
                           guint32 uidvalidity, gboolean writable,
                           GError **err);

gboolean backend_imap_delete_messages(MfSession *s, const char *folder,
                                      guint32 uidvalidity,
                                      const MfRemoteMessage *msgs, guint n,
                                      GError **err);
gboolean backend_imap_move_messages(MfSession *s, const char *folder,
                                    guint32 uidvalidity,
                                    const MfRemoteMessage *msgs, guint n,
                                    const char *dest,
                                    guint32 *dest_uidvalidity,
                                    guint32 *new_uid, GError **err);
gboolean backend_imap_find_message_id(MfSession *s, const char *folder,
                                      const char *msgid,
                                      guint32 *uidvalidity, GArray **uids,
                                      GError **err);
gboolean backend_imap_append(MfSession *s, const char *folder,
                             const char *flags, gint64 date, int fd,
                             guint64 size, guint32 *uidvalidity,
                             guint32 *uid, GError **err);
gboolean backend_imap_set_flags(MfSession *s, const char *folder,
                                guint32 uidvalidity, guint32 uid,
                                const char *flags, GError **err);
gboolean backend_imap_create_folder(MfSession *s, const char *parent,
                                    const char *leaf, GError **err);
gboolean backend_imap_delete_folder(MfSession *s, const char *name,
                                    GError **err);
gboolean backend_imap_rename_folder(MfSession *s, const char *name,
                                    const char *parent, const char *leaf,
                                    GError **err);
void backend_imap_interrupt(MfSession *s);

/* backend_imap_view.c: the slots of the views of mail. */
gboolean backend_imap_fetch_headers(MfSession *s, const char *folder,
                                    guint32 uidvalidity,
                                    const MfRemoteMessage *msgs, guint n,
                                    const char *fields, MfHeaderFn cb,
                                    void *ud, GError **err);
gboolean backend_imap_search(MfSession *s, const char *folder,
                             guint32 uidvalidity, const char *criteria,
                             gboolean utf8, GArray **uids, GError **err);

#endif
