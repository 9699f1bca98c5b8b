/* imap_write.c - IMAP commands that change the server: moving, expunging
 * and flagging messages by UID, and creating, deleting and renaming
 * mailboxes.  Every message command names its UIDs: a bare EXPUNGE, which
 * would also remove other clients' \Deleted messages, is never sent. */
#include "net/imap_client_int.h"

#include <string.h>

#include "net/mf_error.h"

static gboolean
imap_write_simple(MfImapClient *c, int no_code, const char *what,
                  const char *cmd, GError **err)
{
	ImapHandler h = { .no_code = no_code };
	return imap_client_run(c, &h, what, cmd, err);
}

static char *
imap_write_quote_or_fail(MfImapClient *c, const char *name, GError **err)
{
	char *q = imap_client_quote(name);

	if (!q)
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
		            "%s: unusable mailbox name", c->url);
	return q;
}

gboolean
imap_client_uid_expunge(MfImapClient *c, const char *uidset, GError **err)
{
	if (!(c->caps & IMAP_CAP_UIDPLUS)) {
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "%s: server lacks UIDPLUS: refusing to expunge, as "
		            "a plain EXPUNGE could remove other messages",
		            c->url);
		return FALSE;
	}
	g_autofree char *store = g_strdup_printf(
		"UID STORE %s +FLAGS.SILENT (\\Deleted)", uidset);
	g_autofree char *expunge = g_strdup_printf("UID EXPUNGE %s", uidset);
	return imap_write_simple(c, MF_ERROR_MESSAGE, "UID STORE", store, err) &&
	       imap_write_simple(c, MF_ERROR_MESSAGE, "UID EXPUNGE", expunge,
	                         err);
}

static gboolean
imap_write_copy_or_move(MfImapClient *c, const char *uidset, const char *q,
                        GError **err)
{
	c->copyuid = 0;
	c->copyuid_validity = 0;
	if (c->caps & IMAP_CAP_MOVE) {
		g_autofree char *cmd = g_strdup_printf("UID MOVE %s %s", uidset, q);
		return imap_write_simple(c, MF_ERROR_MAILBOX, "UID MOVE", cmd,
		                         err);
	}
	if (!(c->caps & IMAP_CAP_UIDPLUS)) {
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "%s: server has neither MOVE nor UIDPLUS: refusing "
		            "to move, as removing the original would need a "
		            "plain EXPUNGE", c->url);
		return FALSE;
	}
	g_autofree char *copy = g_strdup_printf("UID COPY %s %s", uidset, q);
	return imap_write_simple(c, MF_ERROR_MAILBOX, "UID COPY", copy, err) &&
	       imap_client_uid_expunge(c, uidset, err);
}

gboolean
imap_client_uid_move(MfImapClient *c, const char *uidset, const char *dest,
                     guint32 *dest_uidvalidity, guint32 *new_uid,
                     GError **err)
{
	g_autofree char *q = imap_write_quote_or_fail(c, dest, err);

	if (!q || !imap_write_copy_or_move(c, uidset, q, err))
		return FALSE;
	if (dest_uidvalidity)
		*dest_uidvalidity = c->copyuid ? c->copyuid_validity : 0;
	if (new_uid)
		*new_uid = c->copyuid;
	return TRUE;
}

static gboolean
imap_write_search_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	GArray *uids = ud;
	guint32 uid;

	if (r->args->len == 0 || !imap_value_is_atom(r->args->pdata[0], "SEARCH"))
		return TRUE;
	for (guint i = 1; i < r->args->len; i++)
		if (imap_value_get_u32(r->args->pdata[i], &uid))
			g_array_append_val(uids, uid);
	return TRUE;
}

static gint
imap_write_u32_compare(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
	return x < y ? -1 : x > y;
}

gboolean
imap_client_uid_search_header(MfImapClient *c, const char *field,
                              const char *value, GArray **uids, GError **err)
{
	g_autofree char *q = imap_client_quote(value);
	GArray *found = g_array_new(FALSE, FALSE, sizeof(guint32));
	ImapHandler h = { .untagged = imap_write_search_cb, .ud = found,
	                  .no_code = MF_ERROR_PROTOCOL };

	if (!q) {
		g_array_unref(found);
		g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
		            "%s: cannot search for %s", c->url, field);
		return FALSE;
	}
	g_autofree char *cmd = g_strdup_printf("UID SEARCH HEADER %s %s", field,
	                                       q);
	if (!imap_client_run(c, &h, "UID SEARCH", cmd, err)) {
		g_array_unref(found);
		return FALSE;
	}
	g_array_sort(found, imap_write_u32_compare);
	*uids = found;
	return TRUE;
}

gboolean
imap_client_uid_set_flags(MfImapClient *c, const char *uidset,
                          const char *flags, GError **err)
{
	g_autofree char *cmd = g_strdup_printf("UID STORE %s FLAGS.SILENT (%s)",
	                                       uidset, flags ? flags : "");
	return imap_write_simple(c, MF_ERROR_MESSAGE, "UID STORE", cmd, err);
}

gboolean
imap_client_create(MfImapClient *c, const char *name, GError **err)
{
	g_autofree char *q = imap_write_quote_or_fail(c, name, err);
	g_autofree char *cmd = q ? g_strdup_printf("CREATE %s", q) : NULL;

	return q && imap_write_simple(c, MF_ERROR_REFUSED, "CREATE", cmd, err);
}

gboolean
imap_client_delete(MfImapClient *c, const char *name, GError **err)
{
	g_autofree char *q = imap_write_quote_or_fail(c, name, err);
	g_autofree char *cmd = q ? g_strdup_printf("DELETE %s", q) : NULL;

	if (!q)
		return FALSE;
	/* A selected mailbox cannot be deleted everywhere. */
	if (c->selected && strcmp(c->selected, name) == 0 &&
	    !imap_write_simple(c, MF_ERROR_MAILBOX, "CLOSE", "CLOSE", err))
		return FALSE;
	imap_client_set_state(c, IMAP_STATE_AUTH);
	return imap_write_simple(c, MF_ERROR_MAILBOX, "DELETE", cmd, err);
}

gboolean
imap_client_rename(MfImapClient *c, const char *from, const char *to,
                   GError **err)
{
	g_autofree char *qf = imap_write_quote_or_fail(c, from, err);
	g_autofree char *qt = qf ? imap_write_quote_or_fail(c, to, err) : NULL;

	if (!qt)
		return FALSE;
	g_autofree char *cmd = g_strdup_printf("RENAME %s %s", qf, qt);
	imap_client_set_state(c, IMAP_STATE_AUTH);
	return imap_write_simple(c, MF_ERROR_REFUSED, "RENAME", cmd, err);
}

static gboolean
imap_write_delim_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	const ImapValue *d;

	if (r->args->len >= 3 && imap_value_is_atom(r->args->pdata[0], "LIST")) {
		d = r->args->pdata[2];
		if (d->type == IMAP_VALUE_STRING && d->len == 1)
			c->delim = d->str[0];
		else if (d->type == IMAP_VALUE_NIL)
			c->delim = '/'; /* flat: any character would do */
	}
	return TRUE;
}

gboolean
imap_client_delimiter(MfImapClient *c, char *delim, GError **err)
{
	ImapHandler h = { .untagged = imap_write_delim_cb,
	                  .no_code = MF_ERROR_PROTOCOL };

	if (!c->delim &&
	    !imap_client_run(c, &h, "LIST", "LIST \"\" \"\"", err))
		return FALSE;
	if (!c->delim) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: server did not say its hierarchy delimiter",
		            c->url);
		return FALSE;
	}
	*delim = c->delim;
	return TRUE;
}
