/* imap_view.c - what the read-only views of mail ask an IMAP server for
 * (cache/account_summary.c, cache/account_search.c): the few header
 * fields of many messages in one UID FETCH, for folder summaries (never
 * a body), and UID SEARCH, for .mailfs/search/. */
#include "net/imap_client_int.h"

#include <string.h>

#include "net/mf_error.h"

/* A streamed header block is kept up to this many bytes (the fields asked
 * for are small; a longer block is cut). */
#define VIEW_HEADER_MAX 65536

typedef struct {
	ImapHeaderFn cb;
	void *ud;
	GString *streamed; /* the last streamed literal, cut to the max */
	gboolean have_streamed;
} HeaderCtx;

static gboolean
imap_view_literal_write(const char *data, size_t len, void *ud, GError **err)
{
	HeaderCtx *h = ud;
	size_t room = VIEW_HEADER_MAX - MIN(h->streamed->len, VIEW_HEADER_MAX);

	g_string_append_len(h->streamed, data, (gssize)MIN(len, room));
	return TRUE;
}

static gboolean
imap_view_literal_cb(MfImapClient *c, guint64 size, void *ud, GError **err)
{
	HeaderCtx *h = ud;

	g_string_truncate(h->streamed, 0);
	h->have_streamed = TRUE;
	if (!conn_read_exact(c->conn, size, imap_view_literal_write, h, err))
		return imap_client_fail(c, err);
	return TRUE;
}

/* The value of the BODY[HEADER.FIELDS ...] item of a FETCH list. */
static const ImapValue *
imap_view_header_item(const ImapValue *l)
{
	for (guint i = 0; i + 1 < l->list->len; i += 2) {
		const ImapValue *k = l->list->pdata[i];
		if (k->type == IMAP_VALUE_ATOM &&
		    g_ascii_strncasecmp(k->str, "BODY[HEADER", 11) == 0)
			return l->list->pdata[i + 1];
	}
	return NULL;
}

static guint32
imap_view_uid(const ImapValue *l)
{
	guint32 uid = 0;

	for (guint i = 0; i + 1 < l->list->len; i += 2)
		if (imap_value_is_atom(l->list->pdata[i], "UID") &&
		    imap_value_get_u32(l->list->pdata[i + 1], &uid))
			return uid;
	return 0;
}

static gboolean
imap_view_header_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	HeaderCtx *h = ud;
	const ImapValue *l, *v;
	guint32 uid;

	if (r->status || r->args->len != 3 ||
	    !imap_value_is_atom(r->args->pdata[1], "FETCH") ||
	    (l = r->args->pdata[2])->type != IMAP_VALUE_LIST ||
	    !(v = imap_view_header_item(l)) || !(uid = imap_view_uid(l)))
		goto done;
	if (v->type == IMAP_VALUE_STRING)
		h->cb(uid, v->str, v->len, h->ud);
	else if (v->type == IMAP_VALUE_EXTERNAL && h->have_streamed)
		h->cb(uid, h->streamed->str, h->streamed->len, h->ud);
	else if (v->type == IMAP_VALUE_NIL)
		h->cb(uid, "", 0, h->ud);
done:
	h->have_streamed = FALSE;
	return TRUE;
}

gboolean
imap_client_fetch_headers(MfImapClient *c, const char *uidset,
                          const char *fields, ImapHeaderFn cb, void *ud,
                          GError **err)
{
	g_autoptr(GString) streamed = g_string_new(NULL);
	HeaderCtx hc = { cb, ud, streamed, FALSE };
	ImapHandler h = { .untagged = imap_view_header_cb,
	                  .literal = imap_view_literal_cb,
	                  .no_code = MF_ERROR_MAILBOX, .tolerate_damage = TRUE,
	                  .ud = &hc };
	g_autofree char *cmd = g_strdup_printf(
		"UID FETCH %s (UID BODY.PEEK[HEADER.FIELDS (%s)])", uidset,
		fields);

	return imap_client_run(c, &h, "UID FETCH", cmd, err);
}

static gboolean
imap_view_search_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	GArray *uids = ud;
	guint32 uid;

	if (r->status || r->args->len == 0 ||
	    !imap_value_is_atom(r->args->pdata[0], "SEARCH"))
		return TRUE;
	for (guint i = 1; i < r->args->len; i++)
		if (imap_value_get_u32(r->args->pdata[i], &uid))
			g_array_append_val(uids, uid);
	return TRUE;
}

gboolean
imap_client_uid_search_criteria(MfImapClient *c, const char *criteria,
                                gboolean utf8, GArray **uids, GError **err)
{
	GArray *found = g_array_new(FALSE, FALSE, sizeof(guint32));
	ImapHandler h = { .untagged = imap_view_search_cb, .ud = found,
	                  .no_code = MF_ERROR_REFUSED };
	g_autofree char *cmd = g_strdup_printf("UID SEARCH %s%s",
	                                       utf8 ? "CHARSET UTF-8 " : "",
	                                       criteria);

	if (!imap_client_run(c, &h, "UID SEARCH", cmd, err)) {
		g_array_unref(found);
		return FALSE;
	}
	*uids = found;
	return TRUE;
}
