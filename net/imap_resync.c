/* imap_resync.c - what the IMAP client needs to learn only what changed
 * in a mailbox (RFC 7162 CONDSTORE/QRESYNC, RFC 4731 ESEARCH): ENABLE,
 * EXAMINE with QRESYNC, CHANGEDSINCE, VANISHED, UID SEARCH as ranges,
 * STATUS. */
#include "net/imap_client_int.h"

#include <string.h>

#include "net/mf_error.h"

/* A VANISHED or ESEARCH set has at most this many ranges. */
#define RESYNC_RANGES_MAX 1000000u

ImapResyncMode
imap_client_resync_mode(const MfImapClient *c)
{
	if (c->qresync_on)
		return IMAP_RESYNC_QRESYNC;
	return (c->caps & IMAP_CAP_CONDSTORE) ? IMAP_RESYNC_CONDSTORE
	                                      : IMAP_RESYNC_NONE;
}

/* "* ENABLED QRESYNC CONDSTORE" */
static gboolean
imap_resync_enabled_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	if (r->status || r->args->len < 1 ||
	    !imap_value_is_atom(r->args->pdata[0], "ENABLED"))
		return TRUE;
	for (guint i = 1; i < r->args->len; i++) {
		if (imap_value_is_atom(r->args->pdata[i], "QRESYNC"))
			c->qresync_on = c->modseq_on = TRUE;
		if (imap_value_is_atom(r->args->pdata[i], "CONDSTORE"))
			c->modseq_on = TRUE;
	}
	return TRUE;
}

gboolean
imap_client_enable(MfImapClient *c, GError **err)
{
	ImapHandler h = { .untagged = imap_resync_enabled_cb,
	                  .no_code = MF_ERROR_PROTOCOL };
	GError *e = NULL;

	if (!(c->caps & IMAP_CAP_ENABLE) || !(c->caps & IMAP_CAP_CONDSTORE))
		return TRUE;
	const char *cmd = (c->caps & IMAP_CAP_QRESYNC) ? "ENABLE QRESYNC"
	                                               : "ENABLE CONDSTORE";
	if (imap_client_run(c, &h, "ENABLE", cmd, &e))
		return TRUE;
	/* A server that refuses goes on without: only a broken session is
	 * an error. */
	if (c->state == IMAP_STATE_BROKEN || c->state == IMAP_STATE_LOGOUT) {
		g_propagate_error(err, e);
		return FALSE;
	}
	g_debug("%s", e->message);
	g_error_free(e);
	return TRUE;
}

gboolean
imap_client_change_fetch(const ImapResponse *r, const ImapChangeSink *sink)
{
	const ImapValue *l = imap_client_fetch_list(r);
	guint32 uid;

	if (!l)
		return FALSE;
	const ImapValue *vf = imap_client_fetch_item(l, "FLAGS");
	if (!vf || vf->type != IMAP_VALUE_LIST ||
	    !imap_value_get_u32(imap_client_fetch_item(l, "UID"), &uid) ||
	    uid == 0)
		return FALSE;
	g_autoptr(GString) problem = g_string_new(NULL);
	g_autofree char *flags = imap_client_join_flags(vf, problem);
	if (sink && sink->flags)
		sink->flags(uid, flags, sink->ud);
	return TRUE;
}

int
imap_client_change_vanished(const ImapResponse *r, const ImapChangeSink *sink)
{
	GPtrArray *a = r->args;

	if (r->status || a->len < 2 ||
	    !imap_value_is_atom(a->pdata[0], "VANISHED"))
		return -1;
	const ImapValue *set = a->pdata[a->len - 1];
	if (a->len > 3 || (a->len == 3 &&
	                   ((const ImapValue *)a->pdata[1])->type !=
	                   IMAP_VALUE_LIST) || set->type != IMAP_VALUE_ATOM)
		return 0;
	g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	if (!imap_seqset_parse(set->str, set->len, RESYNC_RANGES_MAX, ranges))
		return 0;
	if (sink && sink->vanished)
		sink->vanished((const ImapRange *)ranges->data, ranges->len,
		               sink->ud);
	return 1;
}

typedef struct {
	ImapSelectInfo info;        /* first: imap_client_select_with() */
	const ImapChangeSink *sink;
} QresyncCtx;

static gboolean
imap_resync_examine_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	QresyncCtx *q = ud;
	int v = imap_client_change_vanished(r, q->sink);

	if (v == 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: malformed VANISHED", c->url);
		return FALSE;
	}
	if (v < 0 && !imap_client_change_fetch(r, q->sink))
		return imap_client_examine_cb(c, r, &q->info, err);
	return TRUE;
}

gboolean
imap_client_examine_qresync(MfImapClient *c, const char *mailbox,
                            guint32 uidvalidity, guint64 modseq,
                            const char *known, const ImapChangeSink *sink,
                            ImapSelectInfo *out, GError **err)
{
	QresyncCtx q = { .sink = sink };
	ImapHandler h = { .untagged = imap_resync_examine_cb,
	                  .no_code = MF_ERROR_MAILBOX, .ud = &q };
	g_autofree char *params = g_strdup_printf(
		" (QRESYNC (%u %" G_GUINT64_FORMAT "%s%s))", uidvalidity, modseq,
		known ? " " : "", known ? known : "");

	g_assert(c->qresync_on); /* a caller's mistake, not a runtime error */
	return imap_client_select_with(c, mailbox, FALSE, params, &h, out, err);
}

static gboolean
imap_resync_changed_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	int v = imap_client_change_vanished(r, ud);

	if (v == 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: malformed VANISHED", c->url);
		return FALSE;
	}
	if (v < 0)
		imap_client_change_fetch(r, ud);
	return TRUE;
}

gboolean
imap_client_fetch_changed(MfImapClient *c, const char *uidset, guint64 modseq,
                          const ImapChangeSink *sink, GError **err)
{
	ImapHandler h = { .untagged = imap_resync_changed_cb,
	                  .no_code = MF_ERROR_MAILBOX, .tolerate_damage = TRUE,
	                  .ud = (void *)sink };
	g_autofree char *cmd = g_strdup_printf(
		"UID FETCH %s (UID FLAGS) (CHANGEDSINCE %" G_GUINT64_FORMAT ")",
		uidset, modseq);

	return imap_client_run(c, &h, "UID FETCH", cmd, err);
}

gboolean
imap_client_fetch_seq_flags(MfImapClient *c, const char *seqset,
                            const ImapChangeSink *sink, GError **err)
{
	ImapHandler h = { .untagged = imap_resync_changed_cb,
	                  .no_code = MF_ERROR_MAILBOX, .tolerate_damage = TRUE,
	                  .ud = (void *)sink };
	g_autofree char *cmd = g_strdup_printf("FETCH %s (UID FLAGS)", seqset);

	return imap_client_run(c, &h, "FETCH", cmd, err);
}

typedef struct {
	GArray *ranges;
	gboolean answered; /* a SEARCH or ESEARCH reply came */
} SearchCtx;

/* "* ESEARCH (TAG "A5") UID ALL 1:3,5" (no ALL: nothing found). */
static gboolean
imap_resync_esearch(MfImapClient *c, const ImapResponse *r, GArray *ranges,
                    GError **err)
{
	GPtrArray *a = r->args;

	for (guint i = 1; i + 1 < a->len; i++) {
		const ImapValue *v = a->pdata[i + 1];
		if (!imap_value_is_atom(a->pdata[i], "ALL"))
			continue;
		if (v->type == IMAP_VALUE_ATOM &&
		    imap_seqset_parse(v->str, v->len, RESYNC_RANGES_MAX, ranges))
			return TRUE;
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: malformed ESEARCH", c->url);
		return FALSE;
	}
	return TRUE;
}

/* "* SEARCH 1 2 3" */
static gboolean
imap_resync_search(MfImapClient *c, const ImapResponse *r, GArray *ranges,
                   GError **err)
{
	for (guint i = 1; i < r->args->len; i++) {
		ImapRange one;
		if (!imap_value_get_u32(r->args->pdata[i], &one.first) ||
		    one.first == 0) {
			g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
			            "%s: malformed SEARCH", c->url);
			return FALSE;
		}
		one.last = one.first;
		g_array_append_val(ranges, one);
	}
	return TRUE;
}

static gboolean
imap_resync_search_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	SearchCtx *x = ud;

	if (r->status || r->args->len < 1)
		return TRUE;
	if (imap_value_is_atom(r->args->pdata[0], "ESEARCH")) {
		x->answered = TRUE;
		return imap_resync_esearch(c, r, x->ranges, err);
	}
	if (imap_value_is_atom(r->args->pdata[0], "SEARCH")) {
		x->answered = TRUE;
		return imap_resync_search(c, r, x->ranges, err);
	}
	return TRUE;
}

gboolean
imap_client_uid_search(MfImapClient *c, const char *uidset, GArray *ranges,
                       GError **err)
{
	SearchCtx x = { ranges, FALSE };
	ImapHandler h = { .untagged = imap_resync_search_cb,
	                  .no_code = MF_ERROR_REFUSED, .ud = &x };
	g_autofree char *cmd = g_strdup_printf(
		(c->caps & IMAP_CAP_ESEARCH) ? "UID SEARCH RETURN (ALL) UID %s"
		                             : "UID SEARCH UID %s", uidset);

	if (!imap_client_run(c, &h, "UID SEARCH", cmd, err))
		return FALSE;
	if (!x.answered) {
		/* An OK without an answer is not "none left". */
		g_set_error(err, MF_ERROR, MF_ERROR_REFUSED,
		            "%s: UID SEARCH gave no answer", c->url);
		return FALSE;
	}
	imap_seqset_normalize(ranges);
	return TRUE;
}

/* "* STATUS name (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 42)" */
static gboolean
imap_resync_status_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	ImapSelectInfo *info = ud;

	if (r->status || r->args->len != 3 ||
	    !imap_value_is_atom(r->args->pdata[0], "STATUS"))
		return TRUE;
	const ImapValue *l = r->args->pdata[2];
	if (l->type != IMAP_VALUE_LIST)
		return TRUE;
	for (guint i = 0; i + 1 < l->list->len; i += 2) {
		const ImapValue *k = l->list->pdata[i], *v = l->list->pdata[i + 1];
		if (imap_value_is_atom(k, "MESSAGES"))
			imap_value_get_u32(v, &info->exists);
		else if (imap_value_is_atom(k, "UIDNEXT"))
			imap_value_get_u32(v, &info->uidnext);
		else if (imap_value_is_atom(k, "UIDVALIDITY"))
			imap_value_get_u32(v, &info->uidvalidity);
		else if (imap_value_is_atom(k, "HIGHESTMODSEQ"))
			imap_value_get_u64(v, &info->highestmodseq);
	}
	return TRUE;
}

gboolean
imap_client_status(MfImapClient *c, const char *mailbox, ImapSelectInfo *out,
                   GError **err)
{
	ImapSelectInfo info = { 0 };
	ImapHandler h = { .untagged = imap_resync_status_cb,
	                  .no_code = MF_ERROR_REFUSED, .ud = &info };
	g_autofree char *q = imap_client_quote(mailbox);

	if (!q) {
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
		            "%s: unusable mailbox name", c->url);
		return FALSE;
	}
	g_autofree char *cmd = g_strdup_printf(
		"STATUS %s (MESSAGES UIDNEXT UIDVALIDITY%s)", q,
		(c->caps & IMAP_CAP_CONDSTORE) ? " HIGHESTMODSEQ" : "");
	if (!imap_client_run(c, &h, "STATUS", cmd, err))
		return FALSE;
	if (info.uidvalidity == 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_REFUSED,
		            "%s: STATUS %s gave no UIDVALIDITY", c->url, mailbox);
		return FALSE;
	}
	*out = info;
	return TRUE;
}
