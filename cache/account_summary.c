/* account_summary.c - the summaries of a folder's messages: from the
 * store, else from header fields fetched in bulk (UID FETCH ... HEADER.
 * FIELDS, never bodies), else from the headers of cached bodies. */
#include "cache/account_view.h"

#include <unistd.h>

#include "cache/account_int.h"
#include "cache/store_summary.h"
#include "net/mf_error.h"

typedef struct {
	const char *folder;      /* server name */
	guint32 uidvalidity;
	GArray *missing;         /* MfRemoteMessage without a summary */
	GHashTable *have;        /* uid -> MfSummary*, the table being made */
	GPtrArray *fresh;        /* MfSummary* to store (borrowed from HAVE) */
} SummaryCtx;

static void
account_summary_header_cb(guint32 uid, const char *hdr, size_t len, void *ud)
{
	SummaryCtx *c = ud;
	MfSummary *s = summary_from_header(uid, hdr, len);
	MfSummary *old = g_hash_table_lookup(c->have, GUINT_TO_POINTER(uid));

	/* A UID sent twice: the replaced one is freed, so FRESH, which
	 * borrows from HAVE, must not keep it. */
	if (old)
		g_ptr_array_remove_fast(c->fresh, old);
	g_hash_table_replace(c->have, GUINT_TO_POINTER(uid), s);
	g_ptr_array_add(c->fresh, s);
}

static gboolean
account_summary_fetch_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	SummaryCtx *c = ud;

	g_ptr_array_set_size(c->fresh, 0); /* a retry starts over */
	return a->backend->fetch_headers(
		s, c->folder, c->uidvalidity,
		(const MfRemoteMessage *)c->missing->data, c->missing->len,
		SUMMARY_FIELDS, account_summary_header_cb, c, err);
}

/* The header of the cached body of UID, if there is one. */
static void
account_summary_from_body(MfAccount *a, gint64 folder_id, SummaryCtx *c,
                          guint32 uid)
{
	int fd = store_body_open(a->store, folder_id, c->uidvalidity, uid,
	                         FALSE, NULL);
	g_autofree char *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return;
	buf = g_malloc(SUMMARY_HEADER_MAX);
	n = pread(fd, buf, SUMMARY_HEADER_MAX, 0);
	close(fd);
	if (n >= 0)
		account_summary_header_cb(uid, buf, (size_t)n, c);
}

/* Fills C->have for C->missing: from the server, else from bodies. */
static void
account_summary_fill(MfAccount *a, gint64 folder_id, SummaryCtx *c)
{
	g_autoptr(GError) err = NULL;

	if (a->backend->fetch_headers && account_may_try(a) &&
	    !account_with_session(a, account_summary_fetch_cb, c, &err)) {
		g_message("summary of %s: %s", c->folder, err->message);
		g_ptr_array_set_size(c->fresh, 0);
	}
	for (guint i = 0; i < c->missing->len; i++) {
		guint32 uid = g_array_index(c->missing, MfRemoteMessage, i).uid;
		if (!g_hash_table_contains(c->have, GUINT_TO_POINTER(uid)))
			account_summary_from_body(a, folder_id, c, uid);
	}
}

static GArray *
account_summary_missing(const MfListing *l, GHashTable *have)
{
	GArray *missing = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));

	for (guint i = 0; i < listing_count(l); i++) {
		const MfRemoteMessage *m = listing_at(l, i);
		if (!g_hash_table_contains(have, GUINT_TO_POINTER(m->uid)))
			g_array_append_val(missing, *m);
	}
	return missing;
}

static char *
account_summary_folder(MfAccount *a, gint64 folder_id)
{
	MfTree *t = account_tree(a);
	const MfFolder *f = tree_folder(t, folder_id);
	char *name = f ? g_strdup(f->name) : NULL;

	tree_unref(t);
	return name;
}

/* The rows of L in its order, taken from HAVE (or empty ones). */
static GPtrArray *
account_summary_rows(const MfListing *l, GHashTable *have)
{
	GPtrArray *out = g_ptr_array_new_full(listing_count(l),
	                                      (GDestroyNotify)summary_free);

	for (guint i = 0; i < listing_count(l); i++) {
		guint32 uid = listing_at(l, i)->uid;
		gpointer key = GUINT_TO_POINTER(uid);
		MfSummary *s = NULL;
		if (!g_hash_table_steal_extended(have, key, NULL,
		                                 (gpointer *)&s))
			s = summary_new(uid, NULL, NULL, FALSE);
		g_ptr_array_add(out, s);
	}
	return out;
}

GPtrArray *
account_summaries(MfAccount *a, gint64 folder_id, const MfListing *l)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *folder = account_summary_folder(a, folder_id);
	SummaryCtx c = { folder, listing_uidvalidity(l) };

	c.have = store_summaries_load(a->store, folder_id, c.uidvalidity, &err);
	if (!c.have) {
		g_warning("summaries: %s", err->message);
		c.have = g_hash_table_new_full(NULL, NULL, NULL,
		                               (GDestroyNotify)summary_free);
	}
	c.missing = account_summary_missing(l, c.have);
	c.fresh = g_ptr_array_new();
	if (c.missing->len && folder) {
		account_summary_fill(a, folder_id, &c);
		g_clear_error(&err);
		if (!store_summaries_save(a->store, folder_id, c.uidvalidity,
		                          c.fresh, &err))
			g_warning("summaries: %s", err->message);
	}
	GPtrArray *rows = account_summary_rows(l, c.have);
	/* What is left of the table: messages that left the folder. */
	store_summaries_forget(a->store, folder_id, c.uidvalidity, c.have);
	g_ptr_array_unref(c.fresh);
	g_array_unref(c.missing);
	g_hash_table_unref(c.have);
	return rows;
}
