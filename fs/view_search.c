/* view_search.c - .mailfs/search/: looking up a query (search_query.h)
 * runs it (cache/account_search.c) and makes it a directory of symbolic
 * links, one per message found, to its file in its folder; the
 * directory lists the recent queries. */
#include "fs/view_int.h"

#include <string.h>

#include "cache/account_view.h"
#include "net/mf_error.h"

/* Recent queries kept (and listed). */
#define VIEW_QUERIES_MAX 32
/* Results are run again when older than this (µs). */
#define VIEW_QUERY_FRESH (1 * G_USEC_PER_SEC)

typedef struct {
	char *name;    /* its name in the query directory */
	char *target;  /* "../../../FOLDER/FILE" */
} ViewLink;

typedef struct {
	guint32 qid;
	char *text;
	GPtrArray *links; /* ViewLink* */
	gint64 at;        /* monotonic µs of the run */
} ViewQuery;

static void
view_search_link_free(ViewLink *l)
{
	g_free(l->name);
	g_free(l->target);
	g_free(l);
}

static void
view_search_query_free(ViewQuery *q)
{
	g_free(q->text);
	g_ptr_array_unref(q->links);
	g_free(q);
}

void
view_search_free_all(struct ViewFs *v)
{
	g_queue_clear_full(&v->queries, (GDestroyNotify)view_search_query_free);
}

/* The link of HIT, named uniquely among TAKEN. */
static ViewLink *
view_search_link(MfFs *fs, const MfTree *t, const MfSearchHit *hit,
                 GHashTable *taken)
{
	const MfFolder *f = tree_folder(t, hit->folder_id);
	g_autoptr(GError) err = NULL;
	MfListing *l = account_listing(fs->account, hit->folder_id, &err);
	const MfRemoteMessage *m = l ? listing_find(l, hit->uid) : NULL;
	char buf[NODE_NAME_MAX];
	ViewLink *link = NULL;

	if (f && m && listing_generation(l) == hit->gen) {
		const char *name = node_msg_name(l, m, buf);
		link = g_new0(ViewLink, 1);
		link->name = g_strdup(name);
		for (guint n = 2; g_hash_table_contains(taken, link->name); n++) {
			g_free(link->name);
			link->name = g_strdup_printf("%s~%u", name, n);
		}
		g_hash_table_add(taken, link->name);
		link->target = g_strdup_printf("../../../%s/%s", f->path, name);
	}
	listing_unref(l);
	return link;
}

/* Runs TEXT: its links (a new array), or NULL with ERR. */
static GPtrArray *
view_search_run(MfFs *fs, const char *text, GError **err)
{
	g_autoptr(SearchQuery) q = search_query_parse(text, err);
	gboolean local = FALSE;

	if (!q)
		return NULL;
	g_autoptr(GArray) hits = account_search(fs->account, q, &local, err);
	if (!hits)
		return NULL;
	GPtrArray *links = g_ptr_array_new_with_free_func(
		(GDestroyNotify)view_search_link_free);
	g_autoptr(GHashTable) taken = g_hash_table_new(g_str_hash,
	                                               g_str_equal);
	MfTree *t = account_tree(fs->account);
	for (guint i = 0; i < hits->len && links->len < VIEW_LINKS_MAX; i++) {
		ViewLink *l = view_search_link(fs, t,
		                               &g_array_index(hits, MfSearchHit,
		                                              i), taken);
		if (l)
			g_ptr_array_add(links, l);
	}
	tree_unref(t);
	g_debug("search \"%s\": %u found (%s)", text, links->len,
	        local ? "local index" : "server");
	return links;
}

/* The query called TEXT, or QID; lock held. */
static ViewQuery *
view_search_find_locked(struct ViewFs *v, const char *text, guint32 qid)
{
	for (GList *l = v->queries.head; l; l = l->next) {
		ViewQuery *q = l->data;
		if (text ? strcmp(q->text, text) == 0 : q->qid == qid)
			return q;
	}
	return NULL;
}

/* Keeps LINKS (taken) as the results of TEXT, the newest query: its id. */
static guint32
view_search_keep(struct ViewFs *v, const char *text, GPtrArray *links)
{
	g_mutex_lock(&v->lock);
	ViewQuery *q = view_search_find_locked(v, text, 0);
	if (q) {
		g_queue_remove(&v->queries, q);
		g_ptr_array_unref(q->links);
	} else {
		q = g_new0(ViewQuery, 1);
		q->text = g_strdup(text);
		q->qid = v->next_query++ % VIEW_QUERY_IDS;
	}
	q->links = links;
	q->at = g_get_monotonic_time();
	g_queue_push_tail(&v->queries, q);
	while (v->queries.length > VIEW_QUERIES_MAX)
		view_search_query_free(g_queue_pop_head(&v->queries));
	guint32 qid = q->qid;
	g_mutex_unlock(&v->lock);
	return qid;
}

fuse_ino_t
view_search_lookup(MfFs *fs, const char *name, GError **err)
{
	GPtrArray *links;

	/* What tools look for in any directory (.hidden, .git, ...) is no
	 * query: it would search every folder. */
	if (name[0] == '.') {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "not a query");
		return 0;
	}
	links = view_search_run(fs, name, err);
	if (!links)
		return 0;
	return view_ops_ino(VSUB_QUERY, 0, view_search_keep(fs->views, name, links));
}

void
view_search_fill_root(MfFs *fs, GArray *dir)
{
	struct ViewFs *v = fs->views;

	g_mutex_lock(&v->lock);
	for (GList *l = v->queries.head; l; l = l->next) {
		ViewQuery *q = l->data;
		dirlist_add(dir, q->text, view_ops_ino(VSUB_QUERY, 0, q->qid),
		            S_IFDIR);
	}
	g_mutex_unlock(&v->lock);
}

/* The text of query QID if its results are stale (owned), else NULL;
 * *KNOWN says whether it is known at all. */
static char *
view_search_stale(struct ViewFs *v, guint32 qid, gboolean *known)
{
	char *text = NULL;

	g_mutex_lock(&v->lock);
	ViewQuery *q = view_search_find_locked(v, NULL, qid);
	*known = q != NULL;
	if (q && g_get_monotonic_time() - q->at > VIEW_QUERY_FRESH)
		text = g_strdup(q->text);
	g_mutex_unlock(&v->lock);
	return text;
}

gboolean
view_search_fill_query(MfFs *fs, guint32 qid, GArray *dir)
{
	struct ViewFs *v = fs->views;
	gboolean known;
	g_autofree char *stale = view_search_stale(v, qid, &known);
	g_autoptr(GError) err = NULL;

	if (stale) {
		GPtrArray *links = view_search_run(fs, stale, &err);
		if (links)
			qid = view_search_keep(v, stale, links);
	}
	g_mutex_lock(&v->lock);
	ViewQuery *q = view_search_find_locked(v, NULL, qid);
	for (guint i = 0; q && i < q->links->len; i++) {
		const ViewLink *l = q->links->pdata[i];
		dirlist_add(dir, l->name, view_ops_ino(VSUB_LINK, 0,
		                                   qid << VIEW_LINK_SHIFT | i),
		            S_IFLNK);
	}
	g_mutex_unlock(&v->lock);
	return known;
}

fuse_ino_t
view_search_lookup_link(MfFs *fs, guint32 qid, const char *name)
{
	struct ViewFs *v = fs->views;
	fuse_ino_t ino = 0;

	g_mutex_lock(&v->lock);
	ViewQuery *q = view_search_find_locked(v, NULL, qid);
	for (guint i = 0; q && !ino && i < q->links->len; i++) {
		const ViewLink *l = q->links->pdata[i];
		if (strcmp(l->name, name) == 0)
			ino = view_ops_ino(VSUB_LINK, 0, qid << VIEW_LINK_SHIFT | i);
	}
	g_mutex_unlock(&v->lock);
	return ino;
}

char *
view_search_target(MfFs *fs, guint32 id)
{
	struct ViewFs *v = fs->views;
	guint32 qid = id >> VIEW_LINK_SHIFT, i = id & VIEW_LINKS_MAX;
	char *target = NULL;

	g_mutex_lock(&v->lock);
	ViewQuery *q = view_search_find_locked(v, NULL, qid);
	if (q && i < q->links->len)
		target = g_strdup(((ViewLink *)q->links->pdata[i])->target);
	g_mutex_unlock(&v->lock);
	return target;
}

gboolean
view_search_known(MfFs *fs, guint32 qid)
{
	g_mutex_lock(&fs->views->lock);
	gboolean known = view_search_find_locked(fs->views, NULL, qid) != NULL;
	g_mutex_unlock(&fs->views->lock);
	return known;
}
