/* backend_imap_write.c - the changing half of the IMAP backend: moving,
 * deleting and flagging messages, folders, and push (IDLE). */
#include "cache/backend_imap_int.h"

#include <string.h>

#include "net/mf_error.h"
#include "net/mutf7.h"

gboolean
backend_imap_delete_messages(MfSession *s, const char *folder,
                             guint32 uidvalidity, const MfRemoteMessage *msgs,
                             guint n, GError **err)
{
	if (!backend_imap_open(s, folder, uidvalidity, TRUE, err))
		return FALSE;
	g_autofree char *set = backend_imap_uidset(msgs, n);
	return imap_client_uid_expunge(s->imap, set, err);
}

gboolean
backend_imap_move_messages(MfSession *s, const char *folder,
                           guint32 uidvalidity, const MfRemoteMessage *msgs,
                           guint n, const char *dest,
                           guint32 *dest_uidvalidity, guint32 *new_uid,
                           GError **err)
{
	if (!backend_imap_open(s, folder, uidvalidity, TRUE, err))
		return FALSE;
	g_autofree char *set = backend_imap_uidset(msgs, n);
	return imap_client_uid_move(s->imap, set, dest, dest_uidvalidity,
	                            new_uid, err);
}

gboolean
backend_imap_find_message_id(MfSession *s, const char *folder,
                             const char *msgid, guint32 *uidvalidity,
                             GArray **uids, GError **err)
{
	ImapSelectInfo info;

	/* Examined anew: a message that just arrived must be seen. */
	if (!imap_client_examine(s->imap, folder, TRUE, &info, err))
		return FALSE;
	*uidvalidity = info.uidvalidity;
	return imap_client_uid_search_header(s->imap, "Message-ID", msgid, uids,
	                                     err);
}

gboolean
backend_imap_append(MfSession *s, const char *folder, const char *flags,
                    gint64 date, int fd, guint64 size, guint32 *uidvalidity,
                    guint32 *uid, GError **err)
{
	return imap_client_append(s->imap, folder, flags, date, fd, size,
	                          uidvalidity, uid, err);
}

gboolean
backend_imap_set_flags(MfSession *s, const char *folder, guint32 uidvalidity,
                       guint32 uid, const char *flags, GError **err)
{
	char set[16];

	if (!backend_imap_open(s, folder, uidvalidity, TRUE, err))
		return FALSE;
	g_snprintf(set, sizeof set, "%u", uid);
	return imap_client_uid_set_flags(s->imap, set, flags, err);
}

/* PARENT + delimiter + LEAF in modified UTF-7. */
static char *
backend_imap_child_name(MfSession *s, const char *parent, const char *leaf,
                        GError **err)
{
	char delim;
	g_autofree char *enc = mutf7_encode(leaf, err);

	if (!enc)
		return NULL;
	if (!parent)
		return g_steal_pointer(&enc);
	if (!imap_client_delimiter(s->imap, &delim, err))
		return NULL;
	if (strchr(leaf, delim)) {
		mf_error_config(err, "a folder name cannot contain '%c' on "
		                "this server", delim);
		return NULL;
	}
	return g_strdup_printf("%s%c%s", parent, delim, enc);
}

gboolean
backend_imap_create_folder(MfSession *s, const char *parent, const char *leaf,
                           GError **err)
{
	g_autofree char *name = backend_imap_child_name(s, parent, leaf, err);
	return name && imap_client_create(s->imap, name, err);
}

gboolean
backend_imap_delete_folder(MfSession *s, const char *name, GError **err)
{
	return imap_client_delete(s->imap, name, err);
}

gboolean
backend_imap_rename_folder(MfSession *s, const char *name, const char *parent,
                           const char *leaf, GError **err)
{
	g_autofree char *to = backend_imap_child_name(s, parent, leaf, err);
	return to && imap_client_rename(s->imap, name, to, err);
}

void
backend_imap_interrupt(MfSession *s)
{
	imap_client_interrupt(s->imap);
}
