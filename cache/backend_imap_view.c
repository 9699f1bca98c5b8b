/* backend_imap_view.c - the IMAP backend's slots for the views of mail:
 * header fields in bulk for folder summaries, and UID SEARCH. */
#include "cache/backend_imap_int.h"

gboolean
backend_imap_fetch_headers(MfSession *s, const char *folder,
                           guint32 uidvalidity, const MfRemoteMessage *msgs,
                           guint n, const char *fields, MfHeaderFn cb,
                           void *ud, GError **err)
{
	if (n == 0)
		return TRUE;
	if (!backend_imap_open(s, folder, uidvalidity, FALSE, err))
		return FALSE;
	g_autofree char *set = backend_imap_uidset(msgs, n);
	return imap_client_fetch_headers(s->imap, set, fields, cb, ud, err);
}

gboolean
backend_imap_search(MfSession *s, const char *folder, guint32 uidvalidity,
                    const char *criteria, gboolean utf8, GArray **uids,
                    GError **err)
{
	if (!backend_imap_open(s, folder, uidvalidity, FALSE, err))
		return FALSE;
	return imap_client_uid_search_criteria(s->imap, criteria, utf8, uids,
	                                       err);
}
