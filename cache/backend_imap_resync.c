/* backend_imap_resync.c - the IMAP backend's incremental listing
 * (resync_messages) and push with changes (idle_changes): QRESYNC, else
 * CONDSTORE, else a STATUS probe, each checked against the message count
 * the server reports and reconciled by UID SEARCH when they disagree. */
#include "cache/backend_imap_int.h"

#include <stdlib.h>
#include <string.h>

#include "net/mf_error.h"

/* Messages covered by one UID SEARCH: its reply is one line. */
#define SEARCH_WINDOW 50000u

/* What the server reported changed, by UID. */
typedef struct {
	GHashTable *flags;  /* uid -> interned flags */
	GArray *vanished;   /* ImapRange */
} Changes;

static void
resync_flags_cb(guint32 uid, const char *flags, void *ud)
{
	Changes *ch = ud;
	g_hash_table_replace(ch->flags, GUINT_TO_POINTER(uid),
	                     (gpointer)g_intern_string(flags));
}

static void
resync_vanished_cb(const ImapRange *r, guint n, void *ud)
{
	Changes *ch = ud;
	g_array_append_vals(ch->vanished, r, n);
}

/* The known message UID, or NULL. */
static const MfRemoteMessage *
resync_known(const MfFolderKnown *k, guint32 uid)
{
	guint lo = 0, hi = k->n;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (k->msgs[mid].uid == uid)
			return &k->msgs[mid];
		if (k->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* How many known messages the server could still hold (stand-ins for
 * changes not yet made have UIDs at or above UIDNEXT). */
static guint
resync_real_count(const MfFolderKnown *k, guint32 uidnext)
{
	guint n = k->n;

	while (n > 0 && uidnext && k->msgs[n - 1].uid >= uidnext)
		n--;
	return n;
}

static gboolean
resync_full(MfSession *s, const char *folder, MfFolderDelta *d, GError **err)
{
	d->full = TRUE;
	return backend_imap_list_messages(s, folder, &d->status, &d->changed,
	                                  err);
}

static gint
resync_u32_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
	return x < y ? -1 : x > y;
}

static gint
resync_msg_cmp(gconstpointer a, gconstpointer b)
{
	return resync_u32_cmp(&((const MfRemoteMessage *)a)->uid,
	                      &((const MfRemoteMessage *)b)->uid);
}

/* Sorts the guint32 of U and drops repeats. */
static void
resync_sort_unique(GArray *u)
{
	guint32 *v = (guint32 *)u->data;
	guint n = 0;

	g_array_sort(u, resync_u32_cmp);
	for (guint i = 0; i < u->len; i++)
		if (n == 0 || v[n - 1] != v[i])
			v[n++] = v[i];
	g_array_set_size(u, n);
}

/* Known messages in RANGES (normalized) go to D->gone. */
static void
resync_gone_in(const MfFolderKnown *k, GArray *ranges, MfFolderDelta *d)
{
	const ImapRange *r = (const ImapRange *)ranges->data;

	for (guint i = 0; ranges->len && i < k->n; i++)
		if (imap_seqset_contains(r, ranges->len, k->msgs[i].uid))
			g_array_append_val(d->gone, k->msgs[i].uid);
}

/* Changed flags of known messages go to D->changed; the UIDs of new ones
 * to NEWUIDS. */
static void
resync_sort_changes(const MfFolderKnown *k, Changes *ch, MfFolderDelta *d,
                    GArray *newuids)
{
	GHashTableIter it;
	gpointer key, val;

	g_hash_table_iter_init(&it, ch->flags);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		guint32 uid = GPOINTER_TO_UINT(key);
		const MfRemoteMessage *m = resync_known(k, uid);
		if (!m) {
			g_array_append_val(newuids, uid);
		} else if (m->flags != val) {
			MfRemoteMessage c = *m;
			c.flags = val;
			g_array_append_val(d->changed, c);
		}
	}
}

/* The UIDs the selected folder holds among the known ones and above,
 * searched in windows of SEARCH_WINDOW known messages. */
static gboolean
resync_search(MfSession *s, const MfFolderKnown *k, guint real,
              guint32 top, GArray *present, GError **err)
{
	for (guint i = 0; i == 0 || i < real; i += SEARCH_WINDOW) {
		guint32 lo = i == 0 ? 1 : k->msgs[i].uid;
		guint32 hi = i + SEARCH_WINDOW >= real
		             ? top : k->msgs[i + SEARCH_WINDOW].uid - 1;
		if (hi < lo)
			continue;
		g_autofree char *set = g_strdup_printf("%u:%u", lo, hi);
		if (!imap_client_uid_search(s->imap, set, present, err))
			return FALSE;
	}
	imap_seqset_normalize(present);
	return TRUE;
}

/* The count the server reported disagrees with the known listing and
 * the changes: the UIDs it holds say which known ones are gone and which
 * are new. */
static gboolean
resync_reconcile(MfSession *s, const MfFolderKnown *k, guint32 uidnext,
                 MfFolderDelta *d, GArray *newuids, GError **err)
{
	g_autoptr(GArray) present = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	guint real = resync_real_count(k, uidnext);
	guint32 top = MAX(uidnext > 1 ? uidnext - 1 : 1,
	                  real ? k->msgs[real - 1].uid : 1);
	const ImapRange *r;

	if (!resync_search(s, k, real, top, present, err))
		return FALSE;
	r = (const ImapRange *)present->data;
	g_array_set_size(d->gone, 0);
	for (guint i = 0; i < k->n; i++)
		if (!imap_seqset_contains(r, present->len, k->msgs[i].uid))
			g_array_append_val(d->gone, k->msgs[i].uid);
	g_array_set_size(newuids, 0);
	for (guint i = 0; i < present->len; i++)
		for (guint64 u = r[i].first; u <= MIN(r[i].last, top); u++)
			if (!resync_known(k, (guint32)u)) {
				guint32 v = (guint32)u;
				g_array_append_val(newuids, v);
			}
	return TRUE;
}

/* NEWUIDS without those D->changed (sorted) holds already. */
static void
resync_drop_fetched(GArray *newuids, const MfFolderDelta *d)
{
	guint n = 0;
	guint32 *u = (guint32 *)newuids->data;

	for (guint i = 0; i < newuids->len; i++) {
		MfRemoteMessage key = { .uid = u[i] };
		if (!bsearch(&key, d->changed->data, d->changed->len,
		             sizeof key, resync_msg_cmp))
			u[n++] = u[i];
	}
	g_array_set_size(newuids, n);
}

/* A step the server did not answer (it said OK to a UID SEARCH or
 * STATUS without the data): list everything instead, as before. */
static gboolean
resync_fallback(MfSession *s, const char *folder, MfFolderDelta *d,
                GError **err)
{
	if (!err || !*err || !g_error_matches(*err, MF_ERROR, MF_ERROR_REFUSED) ||
	    imap_client_state(s->imap) == IMAP_STATE_BROKEN)
		return FALSE;
	g_debug("%s; listing %s in full", (*err)->message, folder);
	g_clear_error(err);
	folder_delta_clear(d);
	return resync_full(s, folder, d, err);
}

/* From what the server reported (CH) and the folder's state now (INFO),
 * D gets the changes; the count decides whether that is the whole
 * story or the UIDs must be searched.  D->changed may hold new messages
 * fetched already. */
static gboolean
resync_finish(MfSession *s, const char *folder, const MfFolderKnown *k,
              Changes *ch, const ImapSelectInfo *info, MfFolderDelta *d,
              GError **err)
{
	g_autoptr(GArray) newuids = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint real = resync_real_count(k, info->uidnext), gone_real = 0;
	guint fetched = d->changed->len;

	imap_seqset_normalize(ch->vanished);
	resync_gone_in(k, ch->vanished, d);
	resync_sort_changes(k, ch, d, newuids);
	for (guint i = 0; i < d->gone->len; i++)
		gone_real += g_array_index(d->gone, guint32, i) < info->uidnext;
	if ((guint64)real - gone_real + newuids->len + fetched != info->exists &&
	    !resync_reconcile(s, k, info->uidnext, d, newuids, err))
		return resync_fallback(s, folder, d, err);
	/* Stand-ins are never on the server. */
	for (guint i = real; i < k->n; i++)
		g_array_append_val(d->gone, k->msgs[i].uid);
	resync_sort_unique(d->gone);
	g_array_sort(d->changed, resync_msg_cmp);
	resync_sort_unique(newuids);
	resync_drop_fetched(newuids, d);
	if (newuids->len) {
		g_autofree char *set = imap_seqset_format(
			(const guint32 *)newuids->data, newuids->len);
		if (!backend_imap_fetch_listing(s, folder, set, d->changed, err))
			return FALSE;
		g_array_sort(d->changed, resync_msg_cmp);
	}
	d->status = (MfFolderStatus){ info->uidvalidity, info->uidnext,
	                              info->exists, info->highestmodseq };
	return TRUE;
}

static void
resync_delta_init(MfFolderDelta *d)
{
	memset(d, 0, sizeof *d);
	d->changed = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));
	d->gone = g_array_new(FALSE, FALSE, sizeof(guint32));
}

/* The known modseq no longer applies: a new UIDVALIDITY, or a
 * HIGHESTMODSEQ that went back (the server lost state) or is none. */
static gboolean
resync_invalid(const MfFolderKnown *k, const ImapSelectInfo *info)
{
	if (info->uidvalidity != k->status.uidvalidity)
		return TRUE;
	if (!k->status.highestmodseq)
		return FALSE;
	return info->highestmodseq == 0 ||
	       info->highestmodseq < k->status.highestmodseq;
}

static gboolean
resync_qresync(MfSession *s, const char *folder, const MfFolderKnown *k,
               Changes *ch, MfFolderDelta *d, GError **err)
{
	ImapSelectInfo info;
	ImapChangeSink sink = { resync_flags_cb, resync_vanished_cb, ch };
	guint32 top = k->status.uidnext > 1 ? k->status.uidnext - 1 : 0;
	g_autofree char *known = top ? g_strdup_printf("1:%u", top) : NULL;

	if (!imap_client_examine_qresync(s->imap, folder, k->status.uidvalidity,
	                                 k->status.highestmodseq, known, &sink,
	                                 &info, err))
		return FALSE;
	if (resync_invalid(k, &info))
		return resync_full(s, folder, d, err);
	resync_delta_init(d);
	return resync_finish(s, folder, k, ch, &info, d, err);
}

/* Nothing changed at all since K. */
static gboolean
resync_same(const MfFolderKnown *k, const ImapSelectInfo *info)
{
	return info->uidvalidity == k->status.uidvalidity &&
	       info->uidnext == k->status.uidnext &&
	       info->highestmodseq == k->status.highestmodseq &&
	       info->exists == resync_real_count(k, info->uidnext);
}

static void
resync_unchanged(const ImapSelectInfo *info, MfFolderDelta *d)
{
	resync_delta_init(d);
	d->status = (MfFolderStatus){ info->uidvalidity, info->uidnext,
	                              info->exists, info->highestmodseq };
}

static gboolean
resync_condstore(MfSession *s, const char *folder, const MfFolderKnown *k,
                 Changes *ch, MfFolderDelta *d, GError **err)
{
	ImapSelectInfo info;
	ImapChangeSink sink = { resync_flags_cb, resync_vanished_cb, ch };

	if (!imap_client_examine(s->imap, folder, TRUE, &info, err))
		return FALSE;
	if (resync_invalid(k, &info))
		return resync_full(s, folder, d, err);
	if (resync_same(k, &info)) {
		resync_unchanged(&info, d);
		return TRUE;
	}
	if (info.exists > 0 &&
	    !imap_client_fetch_changed(s->imap, "1:*", k->status.highestmodseq,
	                               &sink, err))
		return FALSE;
	resync_delta_init(d);
	return resync_finish(s, folder, k, ch, &info, d, err);
}

/* The messages from UID FROM on ("FROM:*" also names the last message
 * when there is none above), appended to OUT. */
static gboolean
resync_fetch_new(MfSession *s, const char *folder, guint32 from, GArray *out,
                 GError **err)
{
	g_autofree char *set = g_strdup_printf("%u:*", from);
	g_autoptr(GArray) got = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));

	if (!backend_imap_fetch_listing(s, folder, set, got, err))
		return FALSE;
	for (guint i = 0; i < got->len; i++)
		if (g_array_index(got, MfRemoteMessage, i).uid >= from)
			g_array_append_val(out, g_array_index(got, MfRemoteMessage,
			                                      i));
	return TRUE;
}

/* No CONDSTORE: a STATUS probe says whether anything came or went; flag
 * changes by others show at the next full listing (or through push). */
static gboolean
resync_plain(MfSession *s, const char *folder, const MfFolderKnown *k,
             Changes *ch, MfFolderDelta *d, GError **err)
{
	ImapSelectInfo info;
	const char *sel = imap_client_selected(s->imap);
	gboolean examined = sel && strcmp(sel, folder) == 0;

	if (k->check_flags || !k->status.uidnext)
		return resync_full(s, folder, d, err);
	if (examined ? !imap_client_examine(s->imap, folder, TRUE, &info, err)
	             : !imap_client_status(s->imap, folder, &info, err))
		return resync_fallback(s, folder, d, err);
	info.highestmodseq = k->status.highestmodseq;
	if (info.uidvalidity != k->status.uidvalidity)
		return resync_full(s, folder, d, err);
	if (resync_same(k, &info)) {
		resync_unchanged(&info, d);
		return TRUE;
	}
	if (!examined && !imap_client_examine(s->imap, folder, TRUE, &info, err))
		return FALSE;
	info.highestmodseq = k->status.highestmodseq;
	resync_delta_init(d);
	if (info.uidnext > k->status.uidnext && info.exists > 0 &&
	    !resync_fetch_new(s, folder, k->status.uidnext, d->changed, err))
		return FALSE;
	return resync_finish(s, folder, k, ch, &info, d, err);
}

gboolean
backend_imap_resync(MfSession *s, const char *folder,
                    const MfFolderKnown *k, MfFolderDelta *d, GError **err)
{
	g_autoptr(GHashTable) flags = g_hash_table_new(NULL, NULL);
	g_autoptr(GArray) vanished = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	Changes ch = { flags, vanished };
	ImapResyncMode mode = imap_client_resync_mode(s->imap);
	gboolean ok;

	memset(d, 0, sizeof *d);
	/* A folder listed without a HIGHESTMODSEQ (NOMODSEQ, or by an older
	 * mailfs) is probed as if the server had no CONDSTORE. */
	if (!k->status.highestmodseq)
		mode = IMAP_RESYNC_NONE;
	if (k->status.uidvalidity == 0)
		ok = resync_full(s, folder, d, err);
	else if (mode == IMAP_RESYNC_QRESYNC)
		ok = resync_qresync(s, folder, k, &ch, d, err);
	else if (mode == IMAP_RESYNC_CONDSTORE)
		ok = resync_condstore(s, folder, k, &ch, d, err);
	else
		ok = resync_plain(s, folder, k, &ch, d, err);
	if (!ok)
		folder_delta_clear(d);
	return ok;
}

/* --- push with changes --- */

static void
push_flags_cb(guint32 uid, const char *flags, void *ud)
{
	const MfChangeSink *sink = ud;
	if (sink->flags)
		sink->flags(uid, flags, sink->ud);
}

static void
push_vanished_cb(const ImapRange *r, guint n, void *ud)
{
	const MfChangeSink *sink = ud;
	for (guint i = 0; sink->gone && i < n; i++)
		sink->gone(r[i].first, r[i].last, sink->ud);
}

gboolean
backend_imap_idle_changes(MfSession *s, const char *folder, int max_seconds,
                          const MfChangeSink *sink, gboolean *relist,
                          GError **err)
{
	ImapChangeSink is = { push_flags_cb, push_vanished_cb, (void *)sink };
	ImapIdleReport rep;

	*relist = FALSE;
	if (g_strcmp0(s->watching, folder) != 0) {
		ImapSelectInfo info;
		if (!imap_client_examine(s->imap, folder, TRUE, &info, err))
			return FALSE;
		g_free(s->watching);
		s->watching = g_strdup(folder);
		MfFolderStatus st = { info.uidvalidity, info.uidnext,
		                      info.exists, info.highestmodseq };
		if (sink->opened)
			sink->opened(&st, sink->ud);
	}
	if (!imap_client_idle_changes(s->imap, max_seconds, &is, &rep, err))
		return FALSE;
	*relist = rep.exists || rep.resync;
	return TRUE;
}
