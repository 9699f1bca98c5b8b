/* view_content.c - what the views of mail hold: folder summaries (from
 * the account's message summaries and its listing) and message views
 * (cache/mime_text.c over the message's body), each kept in memory: a
 * summary until its folder's listing is replaced, message views within
 * a budget, least recently used out first. */
#include "fs/view_int.h"

#include <errno.h>
#include <unistd.h>

#include "cache/account_view.h"
#include "cache/mime_text.h"
#include "net/mf_error.h"

/* Bytes of message views kept. */
#define VIEW_CACHE_MAX (64u << 20)
/* A body larger than this is not decoded (its text says so). */
#define VIEW_BODY_MAX (256u << 20)

typedef struct {
	MfListing *listing;  /* what it was built from (a reference) */
	GBytes *tsv, *jsonl;
} ViewSummary;

typedef struct {
	guint64 key;
	MimeText *view;
	GList *link;         /* in ViewFs.lru */
} ViewMsg;

static void
view_content_summary_free(ViewSummary *s)
{
	listing_unref(s->listing);
	g_bytes_unref(s->tsv);
	g_bytes_unref(s->jsonl);
	g_free(s);
}

static void
view_content_msg_free(ViewMsg *m)
{
	mime_text_free(m->view);
	g_free(m);
}

void
view_content_init(MfFs *fs)
{
	struct ViewFs *v = g_new0(struct ViewFs, 1);

	g_mutex_init(&v->lock);
	v->summaries = g_hash_table_new_full(
		g_int64_hash, g_int64_equal, g_free,
		(GDestroyNotify)view_content_summary_free);
	v->msgs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
	                                (GDestroyNotify)view_content_msg_free);
	g_queue_init(&v->lru);
	fs->views = v;
}

void
view_content_cleanup(MfFs *fs)
{
	struct ViewFs *v = fs->views;

	if (!v)
		return;
	view_search_free_all(v);
	g_queue_clear(&v->lru);
	g_hash_table_unref(v->msgs);
	g_hash_table_unref(v->summaries);
	g_mutex_clear(&v->lock);
	g_free(v);
	fs->views = NULL;
}

/* Both forms of the summary of listing L of FOLDER_ID. */
static ViewSummary *
view_content_summary_build(MfFs *fs, gint64 folder_id, MfListing *l)
{
	g_autoptr(GPtrArray) rows = account_summaries(fs->account, folder_id,
	                                              l);
	GString *tsv = g_string_new(SUMMARY_TSV_HEADER);
	GString *json = g_string_new(NULL);
	char buf[NODE_NAME_MAX];
	ViewSummary *s = g_new0(ViewSummary, 1);

	for (guint i = 0; i < listing_count(l); i++) {
		const MfRemoteMessage *m = listing_at(l, i);
		guint64 size = m->size;
		listing_alias(l, m, &size);
		SummaryFile f = { node_msg_name(l, m, buf), m->date,
		                  m->flags, size };
		summary_tsv_line(tsv, &f, rows->pdata[i]);
		summary_json_line(json, &f, rows->pdata[i]);
	}
	s->listing = listing_ref(l);
	s->tsv = g_string_free_to_bytes(tsv);
	s->jsonl = g_string_free_to_bytes(json);
	return s;
}

static GBytes *
view_content_summary_pick(const ViewSummary *s, gboolean json)
{
	return g_bytes_ref(json ? s->jsonl : s->tsv);
}

GBytes *
view_content_summary(MfFs *fs, gint64 folder_id, gboolean json, GError **err)
{
	struct ViewFs *v = fs->views;
	MfListing *l = account_listing(fs->account, folder_id, err);
	GBytes *out = NULL;

	if (!l)
		return NULL;
	g_mutex_lock(&v->lock);
	ViewSummary *s = g_hash_table_lookup(v->summaries, &folder_id);
	if (s && s->listing == l)
		out = view_content_summary_pick(s, json);
	g_mutex_unlock(&v->lock);
	if (!out) {
		s = view_content_summary_build(fs, folder_id, l);
		out = view_content_summary_pick(s, json);
		g_mutex_lock(&v->lock);
		g_hash_table_replace(v->summaries, g_memdup2(&folder_id,
		                                             sizeof folder_id),
		                     s);
		g_mutex_unlock(&v->lock);
	}
	listing_unref(l);
	return out;
}

/* The whole body of FD, up to VIEW_BODY_MAX bytes. */
static GBytes *
view_content_read_body(int fd, GError **err)
{
	GByteArray *b = g_byte_array_new();
	char buf[65536];
	ssize_t n;

	while (b->len < VIEW_BODY_MAX &&
	       (n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
			            "cannot read a message: %s",
			            g_strerror(errno));
			g_byte_array_unref(b);
			return NULL;
		}
		g_byte_array_append(b, (const guint8 *)buf, (guint)n);
	}
	return g_byte_array_free_to_bytes(b);
}

/* Drops the least recently used views past the budget; lock held. */
static void
view_content_cache_trim(struct ViewFs *v)
{
	while (v->bytes > VIEW_CACHE_MAX && v->lru.length > 1) {
		ViewMsg *m = g_queue_pop_head(&v->lru);
		v->bytes -= mime_text_size(m->view);
		g_hash_table_remove(v->msgs, &m->key);
	}
}

/* The cached view of KEY, made most recently used; lock held. */
static ViewMsg *
view_content_cache_get(struct ViewFs *v, guint64 key)
{
	ViewMsg *m = g_hash_table_lookup(v->msgs, &key);

	if (m) {
		g_queue_unlink(&v->lru, m->link);
		g_queue_push_tail_link(&v->lru, m->link);
	}
	return m;
}

static void
view_content_cache_put(struct ViewFs *v, guint64 key, MimeText *view)
{
	if (view_content_cache_get(v, key)) {
		mime_text_free(view); /* another thread made it meanwhile */
		return;
	}
	ViewMsg *m = g_new0(ViewMsg, 1);
	m->key = key;
	m->view = view;
	g_queue_push_tail(&v->lru, m);
	m->link = v->lru.tail;
	g_hash_table_insert(v->msgs, &m->key, m);
	v->bytes += mime_text_size(view);
	view_content_cache_trim(v);
}

/* Makes sure the view of the message is cached. */
static gboolean
view_content_message_load(MfFs *fs, gint64 gen, guint32 uid, GError **err)
{
	struct ViewFs *v = fs->views;
	guint64 key = ((guint64)gen << 32) | uid;

	g_mutex_lock(&v->lock);
	gboolean have = view_content_cache_get(v, key) != NULL;
	g_mutex_unlock(&v->lock);
	if (have)
		return TRUE;
	int fd = account_open_message(fs->account, gen, uid, err);
	if (fd < 0)
		return FALSE;
	GBytes *body = view_content_read_body(fd, err);
	close(fd);
	if (!body)
		return FALSE;
	gsize len;
	const char *data = g_bytes_get_data(body, &len);
	MimeText *view = mime_text_new(data ? data : "", len);
	g_bytes_unref(body);
	g_mutex_lock(&v->lock);
	view_content_cache_put(v, key, view);
	g_mutex_unlock(&v->lock);
	return TRUE;
}

/* Runs with the message's view under the lock: FN copies what it needs. */
typedef gpointer (*ViewMsgFn)(const MimeText *view, guint sub);

static gpointer
view_content_message_with(MfFs *fs, gint64 gen, guint32 uid, guint sub,
                          ViewMsgFn fn, GError **err)
{
	struct ViewFs *v = fs->views;
	guint64 key = ((guint64)gen << 32) | uid;
	gpointer out = NULL;

	for (int tries = 0; !out && tries < 2; tries++) {
		if (!view_content_message_load(fs, gen, uid, err))
			return NULL;
		g_mutex_lock(&v->lock);
		ViewMsg *m = view_content_cache_get(v, key);
		if (m)
			out = fn(m->view, sub);
		g_mutex_unlock(&v->lock);
		if (m && !out)
			break;
	}
	if (!out)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such part");
	return out;
}

static gpointer
view_content_pick_bytes(const MimeText *view, guint sub)
{
	if (sub == VSUB_TEXT)
		return g_bytes_ref(view->text);
	guint i = sub - VSUB_PART0;
	if (sub < VSUB_PART0 || i >= view->attachments->len)
		return NULL;
	const MimeAttachment *a = view->attachments->pdata[i];
	return g_bytes_ref(a->data);
}

static gpointer
view_content_pick_names(const MimeText *view, guint sub)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < view->attachments->len; i++) {
		const MimeAttachment *a = view->attachments->pdata[i];
		g_ptr_array_add(names, g_strdup(a->name));
	}
	return names;
}

GBytes *
view_content_message_bytes(MfFs *fs, gint64 gen, guint32 uid, guint sub,
                           GError **err)
{
	return view_content_message_with(fs, gen, uid, sub,
	                                 view_content_pick_bytes, err);
}

GPtrArray *
view_content_message_names(MfFs *fs, gint64 gen, guint32 uid, GError **err)
{
	return view_content_message_with(fs, gen, uid, 0,
	                                 view_content_pick_names, err);
}
