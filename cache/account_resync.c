/* account_resync.c - incremental refreshes of a folder's listing: what
 * the backend found changed (resync_messages) or the server pushed
 * (flags, expunges) is merged into the listing in memory, so that an
 * unchanged folder costs a few bytes and a flag change no re-listing. */
#include "cache/account_int.h"

#include <string.h>

#include "cache/store.h"
#include "net/imap_seqset.h"
#include "net/mf_error.h"

/* BASE (sorted by UID) without the UIDs of GONE (sorted guint32), with
 * the entries of CHANGED (sorted) replacing or joining its own: a new
 * array. */
static GArray *
resync_merge(GArray *base, GArray *changed, GArray *gone)
{
	guint nb = base->len, nc = changed ? changed->len : 0;
	guint ng = gone ? gone->len : 0, i = 0, j = 0, g = 0;
	GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(MfRemoteMessage),
	                                nb + nc);
	const MfRemoteMessage *b = (const MfRemoteMessage *)base->data;
	const MfRemoteMessage *c = nc ? (const MfRemoteMessage *)changed->data
	                              : NULL;

	while (i < nb || j < nc) {
		const MfRemoteMessage *m;
		if (j < nc && (i >= nb || c[j].uid <= b[i].uid)) {
			if (i < nb && b[i].uid == c[j].uid)
				i++;
			m = &c[j++];
		} else {
			m = &b[i++];
		}
		while (g < ng && g_array_index(gone, guint32, g) < m->uid)
			g++;
		if (g < ng && g_array_index(gone, guint32, g) == m->uid)
			continue;
		g_array_append_vals(out, m, 1);
	}
	return out;
}

/* Installs a listing: stored as a difference, with what it was made at,
 * then swapped in. */
gboolean
account_install_listing(MfAccount *a, const MfFolder *f, FolderState *fs,
                        const MfFolderStatus *st, GArray *msgs,
                        gboolean flags_only, GError **err)
{
	g_autoptr(GError) serr = NULL;
	gint64 gen = store_generation(a->store, f->id, st->uidvalidity, err);

	if (gen == 0) {
		g_array_unref(msgs);
		return FALSE;
	}
	g_mutex_lock(&a->lock);
	MfListing *old = fs->listing ? listing_ref(fs->listing) : NULL;
	g_mutex_unlock(&a->lock);
	GArray *prev = old && old->uidvalidity == st->uidvalidity ? old->msgs
	                                                         : NULL;
	if (old && old->uidvalidity != st->uidvalidity)
		g_message("folder %s: UIDVALIDITY changed; listing it anew",
		          f->path);
	if (!store_messages_save(a->store, f->id, st->uidvalidity, prev, msgs,
	                         &serr))
		g_warning("listing of %s not stored: %s", f->path,
		          serr->message);
	else
		store_folder_sync_set(a->store, f->id, st->highestmodseq,
		                      st->uidnext, NULL);
	MfListing *l = listing_new(a, f->id, gen, st->uidvalidity, msgs, old);
	listing_unref(old);
	old = NULL;
	g_mutex_lock(&a->lock);
	old = fs->listing;
	fs->listing = listing_ref(l);
	fs->refreshed_at = g_get_monotonic_time();
	fs->modseq = st->highestmodseq;
	fs->uidnext = st->uidnext;
	/* Under the lock, so that a hook being removed is never called
	 * afterwards; hooks only queue work.  Flags name nothing. */
	if (old && a->hook && !(flags_only && old->gen == l->gen))
		a->hook(f->id, old, l, a->hook_ud);
	g_mutex_unlock(&a->lock);
	listing_unref(old);
	listing_unref(l);
	return TRUE;
}

/* What FS knows, for the backend; a reference to the listing it read
 * goes to *CUR (NULL: none). */
static void
resync_known(MfAccount *a, FolderState *fs, MfFolderKnown *k,
             MfListing **cur)
{
	memset(k, 0, sizeof *k);
	g_mutex_lock(&a->lock);
	*cur = fs->listing ? listing_ref(fs->listing) : NULL;
	if (*cur) {
		k->status.uidvalidity = (*cur)->uidvalidity;
		k->status.uidnext = fs->uidnext;
		k->status.count = (*cur)->msgs->len;
		k->status.highestmodseq = fs->modseq;
		k->msgs = (const MfRemoteMessage *)(*cur)->msgs->data;
		k->n = (*cur)->msgs->len;
	}
	k->check_flags = fs->check_flags || !*cur;
	g_mutex_unlock(&a->lock);
}

/* Nothing changed: the listing stays, only the time and what it was
 * made at are new. */
static void
resync_unchanged(MfAccount *a, const MfFolder *f, FolderState *fs,
                 const MfFolderStatus *st)
{
	g_mutex_lock(&a->lock);
	gboolean moved = fs->modseq != st->highestmodseq ||
	                 fs->uidnext != st->uidnext;
	fs->refreshed_at = g_get_monotonic_time();
	fs->modseq = st->highestmodseq;
	fs->uidnext = st->uidnext;
	g_mutex_unlock(&a->lock);
	if (moved)
		store_folder_sync_set(account_store(a), f->id, st->highestmodseq,
		                      st->uidnext, NULL);
}

/* TRUE if D changes only flags of CUR's messages (none gone, none new). */
static gboolean
resync_flags_only(const MfListing *cur, const MfFolderDelta *d)
{
	if (!cur || d->gone->len)
		return FALSE;
	for (guint i = 0; i < d->changed->len; i++)
		if (!listing_find(cur, g_array_index(d->changed, MfRemoteMessage,
		                                     i).uid))
			return FALSE;
	return TRUE;
}

gboolean
account_relist(MfAccount *a, MfSession *s, const MfFolder *f,
               FolderState *fs, GError **err)
{
	const MfBackend *be = account_backend(a);
	MfFolderStatus st = { 0 };
	MfFolderDelta d;
	MfFolderKnown k;
	MfListing *cur = NULL;
	GArray *msgs = NULL;

	if (!be->resync_messages) {
		if (!be->list_messages(s, f->name, &st, &msgs, err))
			return FALSE;
		return account_install_listing(a, f, fs, &st, msgs, FALSE,
		                               err);
	}
	resync_known(a, fs, &k, &cur);
	gboolean ok = be->resync_messages(s, f->name, &k, &d, err);
	gboolean flags_only = ok && !d.full && resync_flags_only(cur, &d);
	if (ok && d.full)
		msgs = g_steal_pointer(&d.changed);
	else if (ok && (d.changed->len || d.gone->len))
		msgs = resync_merge(cur->msgs, d.changed, d.gone);
	g_debug("folder %s: %s refresh, %u changed, %u gone", f->path,
	        !ok ? "failed" : d.full ? "full" : "incremental",
	        ok && !d.full ? d.changed->len : 0,
	        ok && !d.full ? d.gone->len : 0);
	listing_unref(cur);
	if (ok) {
		g_mutex_lock(&a->lock);
		fs->check_flags = FALSE;
		g_mutex_unlock(&a->lock);
		if (msgs)
			ok = account_install_listing(a, f, fs, &d.status,
			                             g_steal_pointer(&msgs),
			                             !d.full && flags_only, err);
		else
			resync_unchanged(a, f, fs, &d.status);
	}
	folder_delta_clear(&d);
	return ok;
}

/* The pushed flag changes that differ from listing L, as complete
 * entries sorted by UID. */
static GArray *
resync_pushed_flags(const MfListing *l, GArray *changed)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));

	for (guint i = 0; changed && i < changed->len; i++) {
		const MfRemoteMessage *p = &g_array_index(changed,
		                                          MfRemoteMessage, i);
		const MfRemoteMessage *m = listing_find(l, p->uid);
		if (m && m->flags != p->flags) {
			MfRemoteMessage c = *m;
			c.flags = p->flags;
			g_array_append_val(out, c);
		}
	}
	g_array_sort(out, store_uid_compare);
	return out;
}

/* The UIDs of L within the ranges of GONE (normalized), sorted. */
static GArray *
resync_pushed_gone(const MfListing *l, GArray *gone)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(guint32));
	const ImapRange *r = gone ? (const ImapRange *)gone->data : NULL;

	for (guint i = 0; gone && gone->len && i < l->msgs->len; i++) {
		guint32 uid = g_array_index(l->msgs, MfRemoteMessage, i).uid;
		if (imap_seqset_contains(r, gone->len, uid))
			g_array_append_val(out, uid);
	}
	return out;
}

void
account_apply_pushed(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
                     GArray *changed, GArray *gone)
{
	g_mutex_lock(&a->lock);
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);
	MfListing *l = fs ? fs->listing : NULL;
	if (!l || l->uidvalidity != uidvalidity) {
		g_mutex_unlock(&a->lock);
		return;
	}
	if (gone)
		imap_seqset_normalize(gone);
	g_autoptr(GArray) flags = resync_pushed_flags(l, changed);
	g_autoptr(GArray) out = resync_pushed_gone(l, gone);
	if (flags->len == 0 && out->len == 0) {
		g_mutex_unlock(&a->lock);
		return;
	}
	g_debug("folder %" G_GINT64_FORMAT ": pushed %u flag changes, %u "
	        "gone", folder_id, flags->len, out->len);
	/* Only flags changed: no name did, so the hook has nothing to
	 * invalidate (on a folder of 100,000 messages it would cost most of
	 * the time). */
	account_swap_listing_locked(a, folder_id, fs,
	                            resync_merge(l->msgs, flags, out),
	                            out->len > 0);
}

gboolean
account_listing_state(MfAccount *a, gint64 folder_id, MfFolderStatus *st)
{
	g_mutex_lock(&a->lock);
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);
	gboolean have = fs && fs->listing;
	if (have) {
		st->uidvalidity = fs->listing->uidvalidity;
		st->uidnext = fs->uidnext;
		st->count = fs->listing->msgs->len;
		st->highestmodseq = fs->modseq;
	}
	g_mutex_unlock(&a->lock);
	return have;
}
