/* account_search.c - the searches of .mailfs/search/: on the server (UID SEARCH
 * in each folder) while online, else in the local full-text index of
 * cached bodies (store_search.c), filled first with the cached bodies it
 * does not hold yet. */
#include "cache/account_view.h"

#include <unistd.h>

#include "cache/account_int.h"
#include "cache/mime_text.h"
#include "cache/store_search.h"
#include "net/mf_error.h"

/* A body larger than this is not indexed. */
#define SEARCH_BODY_MAX (64u << 20)

typedef struct {
	const char *folder;  /* server name */
	guint32 uidvalidity;
	const char *criteria;
	gboolean utf8;
	GArray *uids;        /* what the server found */
} RemoteSearch;

static gboolean
account_search_remote_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	RemoteSearch *r = ud;

	g_clear_pointer(&r->uids, g_array_unref);
	return a->backend->search(s, r->folder, r->uidvalidity, r->criteria,
	                          r->utf8, &r->uids, err);
}

/* Adds the selectable folders below PARENT to OUT, depth first. */
static void
account_search_collect(MfTree *t, gint64 parent, GPtrArray *out, int depth)
{
	g_autoptr(GPtrArray) kids = tree_children(t, parent);

	for (guint i = 0; i < kids->len && depth < 64; i++) {
		const MfFolder *f = kids->pdata[i];
		if (!(f->flags & MF_FOLDER_NOSELECT))
			g_ptr_array_add(out, (gpointer)f);
		account_search_collect(t, f->id, out, depth + 1);
	}
}

/* The folders QUERY looks in: a new array of MfFolder* borrowed from T;
 * NULL with ERR if its in: names none. */
static GPtrArray *
account_search_folders(MfTree *t, const SearchQuery *q, GError **err)
{
	const char *in = search_query_folder(q);
	GPtrArray *out = g_ptr_array_new();

	if (in) {
		g_autofree char *path = g_strdelimit(g_strdup(in), ":", '/');
		const MfFolder *f = tree_find(t, path);
		if (!f || (f->flags & MF_FOLDER_NOSELECT)) {
			g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
			            "search: no folder %s", in);
			g_ptr_array_unref(out);
			return NULL;
		}
		g_ptr_array_add(out, (gpointer)f);
		return out;
	}
	account_search_collect(t, 0, out, 0);
	return out;
}

static void
account_search_add_hit(GArray *hits, gint64 folder_id,
                       const MfListing *l, guint32 uid)
{
	MfSearchHit h = { folder_id, listing_generation(l), uid };

	if (listing_find(l, uid))
		g_array_append_val(hits, h);
}

/* Adds what the server finds in F (listing L) to HITS. */
static gboolean
account_search_remote_folder(MfAccount *a, const MfFolder *f,
                             const MfListing *l, const SearchQuery *q,
                             GArray *hits, GError **err)
{
	g_autofree char *criteria = NULL;
	RemoteSearch r = { f->name, listing_uidvalidity(l) };

	criteria = search_query_imap(q, &r.utf8);
	r.criteria = criteria;
	if (!account_with_session(a, account_search_remote_cb, &r, err))
		return FALSE;
	g_array_sort(r.uids, store_uid_compare);
	for (guint i = 0; i < r.uids->len; i++)
		account_search_add_hit(hits, f->id, l, g_array_index(r.uids, guint32, i));
	g_array_unref(r.uids);
	return TRUE;
}

/* Indexes the text of the cached body of UID. */
static void
account_search_index_one(MfAccount *a, gint64 folder_id,
                         guint32 uidvalidity, guint32 uid)
{
	int fd = store_body_open(a->store, folder_id, uidvalidity, uid, FALSE,
	                         NULL);
	g_autoptr(GError) err = NULL;
	GByteArray *b;
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return;
	b = g_byte_array_new();
	while (b->len < SEARCH_BODY_MAX && (n = read(fd, buf, sizeof buf)) > 0)
		g_byte_array_append(b, (const guint8 *)buf, (guint)n);
	close(fd);
	MimeText *v = mime_text_new((const char *)b->data, b->len);
	g_byte_array_unref(b);
	StoreSearchText t = { v->from, v->recipients, v->subject,
	                      g_bytes_get_data(v->text, NULL) };
	if (!store_search_add(a->store, folder_id, uidvalidity, uid, &t, &err))
		g_warning("search index: %s", err->message);
	mime_text_free(v);
}

/* Brings the index up to date with the cached bodies of listing L. */
static void
account_search_index_folder(MfAccount *a, gint64 folder_id,
                            const MfListing *l)
{
	guint32 uv = listing_uidvalidity(l);
	g_autoptr(GHashTable) cached = store_bodies_cached(a->store, folder_id,
	                                                   uv, NULL);
	g_autoptr(GHashTable) done = store_search_indexed(a->store, folder_id,
	                                                  uv, NULL);

	if (!cached || !done)
		return;
	for (guint i = 0; i < listing_count(l); i++) {
		gpointer uid = GUINT_TO_POINTER(listing_at(l, i)->uid);
		if (g_hash_table_contains(cached, uid) &&
		    !g_hash_table_contains(done, uid))
			account_search_index_one(a, folder_id, uv, listing_at(l, i)->uid);
	}
}

/* Whether message M passes the terms the index does not hold: flags and
 * days. */
static gboolean
account_search_local_terms(const SearchQuery *q, const MfRemoteMessage *m)
{
	g_auto(GStrv) flags = g_strsplit(m->flags ? m->flags : "", " ", -1);
	gboolean seen = g_strv_contains((const char *const *)flags, "\\Seen");
	gboolean flagged = g_strv_contains((const char *const *)flags,
	                                   "\\Flagged");

	for (guint i = 0; i < search_query_count(q); i++) {
		const SearchTerm *t = search_query_term(q, i);
		if ((t->key == SEARCH_FLAGGED && !flagged) ||
		    (t->key == SEARCH_UNSEEN && seen) ||
		    (t->key == SEARCH_SINCE && m->date < t->day) ||
		    (t->key == SEARCH_BEFORE && m->date >= t->day))
			return FALSE;
	}
	return TRUE;
}

/* Adds what the local index finds in F (listing L) to HITS. */
static gboolean
account_search_local_folder(MfAccount *a, const MfFolder *f,
                            const MfListing *l, const SearchQuery *q,
                            GArray *hits, GError **err)
{
	g_autofree char *match = search_query_fts(q);
	g_autoptr(GHashTable) found = NULL;

	if (match) {
		account_search_index_folder(a, f->id, l);
		found = store_search_match(a->store, f->id,
		                           listing_uidvalidity(l), match, err);
		if (!found)
			return FALSE;
	}
	for (guint i = 0; i < listing_count(l); i++) {
		const MfRemoteMessage *m = listing_at(l, i);
		if ((!found || g_hash_table_contains(found,
		                                     GUINT_TO_POINTER(m->uid))) &&
		    account_search_local_terms(q, m))
			account_search_add_hit(hits, f->id, l, m->uid);
	}
	return TRUE;
}

/* Searches every folder of FOLDERS, on the server when REMOTE. */
static gboolean
account_search_folders_run(MfAccount *a, GPtrArray *folders,
                           const SearchQuery *q, gboolean remote,
                           GArray *hits, GError **err)
{
	for (guint i = 0; i < folders->len; i++) {
		const MfFolder *f = folders->pdata[i];
		g_autoptr(GError) e = NULL;
		MfListing *l = account_listing(a, f->id, &e);
		gboolean ok;
		if (!l)
			continue; /* never listed: nothing to name */
		ok = remote ? account_search_remote_folder(a, f, l, q, hits, err)
		            : account_search_local_folder(a, f, l, q, hits, err);
		listing_unref(l);
		if (!ok)
			return FALSE;
	}
	return TRUE;
}

GArray *
account_search(MfAccount *a, const SearchQuery *q, gboolean *local,
               GError **err)
{
	MfTree *t = account_tree(a);
	GPtrArray *folders = account_search_folders(t, q, err);
	GArray *hits = g_array_new(FALSE, FALSE, sizeof(MfSearchHit));
	g_autoptr(GError) e = NULL;
	gboolean ok = FALSE;

	*local = !a->backend->search || !account_may_try(a);
	if (folders && !*local) {
		ok = account_search_folders_run(a, folders, q, TRUE, hits, &e);
		if (!ok && (g_error_matches(e, MF_ERROR, MF_ERROR_CONNECTION) ||
		            g_error_matches(e, MF_ERROR, MF_ERROR_OFFLINE))) {
			g_array_set_size(hits, 0);
			g_clear_error(&e);
			*local = TRUE;
		} else if (!ok) {
			g_propagate_error(err, g_steal_pointer(&e));
		}
	}
	if (folders && *local)
		ok = account_search_folders_run(a, folders, q, FALSE, hits, err);
	if (folders)
		g_ptr_array_unref(folders);
	tree_unref(t);
	if (!ok)
		g_clear_pointer(&hits, g_array_unref);
	return hits;
}
