/* sync.c - bulk download of uncached bodies: folders listed, missing
 * bodies cut into chunks, chunks fetched by parallel workers. */
#include "cache/sync.h"

#include <string.h>

#include "cache/account_int.h"
#include "cache/body_sink.h"
#include "cache/sync_select.h"
#include "net/mf_error.h"

#define CHUNK_MESSAGES 250
#define CHUNK_BYTES (8u << 20)

typedef struct {
	const MfFolder *folder; /* borrowed from SyncRun.tree */
	guint32 uidvalidity;
	guint total;            /* messages to fetch */
	guint done;             /* guarded by SyncRun.lock */
} FolderJob;

typedef struct {
	FolderJob *job;
	GArray *msgs;           /* MfRemoteMessage, ascending UIDs */
	guint64 bytes;
} Chunk;

typedef struct {
	MfAccount *a;
	const MfSyncSelect *sel;
	MfTree *tree;
	GPtrArray *jobs;        /* FolderJob* */
	GPtrArray *chunks;      /* Chunk* */
	gint next_chunk;        /* atomic */
	GMutex lock;            /* progress, result */
	MfSyncProgress prog;
	MfSyncProgressFn cb;
	void *ud;
	volatile gint *cancel;
	MfSyncResult *res;
} SyncRun;

/* One chunk being fetched by one worker. */
typedef struct {
	SyncRun *run;
	Chunk *chunk;
	StoreBatch *batch;
	GHashTable *waiting;    /* uid -> MfRemoteMessage* of the chunk, until
	                         * its body is stored or refused */
	guint stored;           /* bodies of the chunk stored */
	guint refused;          /* bodies that came but are not stored */
	GError *refusal;        /* why the first of them was refused */
	BodySink sink;          /* into BATCH */
} ChunkCtx;

void
sync_result_clear(MfSyncResult *r)
{
	if (r->failures)
		g_ptr_array_unref(r->failures);
	memset(r, 0, sizeof *r);
}

static void
chunk_free(Chunk *c)
{
	g_array_unref(c->msgs);
	g_free(c);
}

static gboolean
sync_cancelled(SyncRun *run)
{
	return run->cancel && g_atomic_int_get(run->cancel);
}

/* Tells the progress callback; with RUN's lock held. */
static void
sync_progress_locked(SyncRun *run, FolderJob *job)
{
	run->prog.folder = job->folder->path;
	run->prog.folder_done = job->done;
	run->prog.folder_total = job->total;
	run->prog.folder_finished = job->done == job->total;
	if (run->cb)
		run->cb(&run->prog, run->ud);
}

/* MSGS more bodies of JOB, of BYTES in all, are stored. */
static void
sync_report(SyncRun *run, FolderJob *job, guint64 bytes, guint msgs)
{
	g_mutex_lock(&run->lock);
	job->done += msgs;
	run->prog.done += msgs;
	run->prog.bytes += bytes;
	sync_progress_locked(run, job);
	g_mutex_unlock(&run->lock);
}

/* N messages of JOB, of BYTES in all, were deleted on the server before
 * they could be fetched: there is nothing to fetch, so they leave the
 * totals instead of counting as fetched. */
static void
sync_gone(SyncRun *run, FolderJob *job, guint n, guint64 bytes)
{
	g_mutex_lock(&run->lock);
	job->total -= n;
	run->prog.total -= n;
	run->prog.bytes_total -= MIN(bytes, run->prog.bytes_total);
	run->res->gone += n;
	sync_progress_locked(run, job);
	g_mutex_unlock(&run->lock);
}

static gboolean
sync_sink_go_on(void *ud, GError **err)
{
	ChunkCtx *c = ud;

	if (!sync_cancelled(c->run))
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CANCELLED, "interrupted");
	return FALSE;
}

/* A body whose size is not the listed one is not stored: the mount
 * would not serve it (account_body.c).  Refused without failing the
 * fetch, whose replies are still to be read. */
static void
sync_sink_refuse(ChunkCtx *c, guint32 uid, guint64 listed, guint64 size)
{
	if (c->refused++ > 0)
		return;
	c->refusal = g_error_new(MF_ERROR, MF_ERROR_MESSAGE,
	                         "UID %u: the server announced %"
	                         G_GUINT64_FORMAT " bytes (RFC822.SIZE) but "
	                         "its body has %" G_GUINT64_FORMAT, uid,
	                         listed, size);
}

/* Keeps the body of UID if it is one of the chunk's still waiting. */
static gboolean
sync_sink_accept(guint32 uid, guint64 size, void *ud)
{
	ChunkCtx *c = ud;
	const MfRemoteMessage *m = g_hash_table_lookup(c->waiting,
	                                               GUINT_TO_POINTER(uid));

	if (m && m->size != size)
		sync_sink_refuse(c, uid, m->size, size);
	g_hash_table_remove(c->waiting, GUINT_TO_POINTER(uid));
	return m && m->size == size;
}

static void
sync_sink_stored(guint32 uid, guint64 size, void *ud)
{
	ChunkCtx *c = ud;

	c->stored++;
	sync_report(c->run, c->chunk->job, size, 1);
}

static gboolean
sync_fetch_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	ChunkCtx *c = ud;
	Chunk *ch = c->chunk;

	return account_backend(a)->fetch_bodies(s, ch->job->folder->name,
	                                        ch->job->uidvalidity,
	                                        (const MfRemoteMessage *)
	                                        ch->msgs->data,
	                                        ch->msgs->len, &body_sink,
	                                        &c->sink, err);
}

static void
sync_fail(SyncRun *run, Chunk *ch, guint failed, const GError *err)
{
	g_mutex_lock(&run->lock);
	run->res->failed += failed;
	g_ptr_array_add(run->res->failures,
	                g_strdup_printf("%s: %u messages not fetched: %s",
	                                ch->job->folder->path, failed,
	                                err->message));
	g_mutex_unlock(&run->lock);
}

/* The messages of CH, by UID, waiting for their bodies. */
static GHashTable *
sync_chunk_waiting(Chunk *ch)
{
	GHashTable *w = g_hash_table_new(NULL, NULL);

	for (guint i = 0; i < ch->msgs->len; i++) {
		MfRemoteMessage *m = &g_array_index(ch->msgs, MfRemoteMessage,
		                                    i);
		g_hash_table_insert(w, GUINT_TO_POINTER(m->uid), m);
	}
	return w;
}

static guint64
sync_waiting_bytes(GHashTable *waiting)
{
	GHashTableIter it;
	gpointer v;
	guint64 bytes = 0;

	g_hash_table_iter_init(&it, waiting);
	while (g_hash_table_iter_next(&it, NULL, &v))
		bytes += ((const MfRemoteMessage *)v)->size;
	return bytes;
}

/* What became of the bodies of CH that were not stored: refused, failed
 * with ERR (OK FALSE), or gone from the server. */
static void
sync_chunk_rest(SyncRun *run, ChunkCtx *c, gboolean ok, const GError *err)
{
	Chunk *ch = c->chunk;
	guint left = ch->msgs->len - c->stored - c->refused;

	if (c->refused > 0) {
		if (c->refused > 1)
			g_prefix_error(&c->refusal, "%u bodies differ from the "
			               "size announced, first ", c->refused);
		sync_fail(run, ch, c->refused, c->refusal);
	}
	if (left == 0 || g_error_matches(err, MF_ERROR, MF_ERROR_CANCELLED))
		return;
	if (!ok)
		sync_fail(run, ch, left, err);
	else
		sync_gone(run, ch->job, left, sync_waiting_bytes(c->waiting));
}

/* Fetches one chunk and commits what arrived, even after a failure. */
static void
sync_chunk(SyncRun *run, Chunk *ch, StoreBatch *batch)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GError) cerr = NULL;
	ChunkCtx c = { run, ch, batch, sync_chunk_waiting(ch), 0, 0, NULL,
	               { 0 } };
	c.sink = (BodySink){ .store = account_store(run->a), .batch = batch,
	                     .folder_id = ch->job->folder->id,
	                     .uidvalidity = ch->job->uidvalidity,
	                     .go_on = sync_sink_go_on,
	                     .accept = sync_sink_accept,
	                     .stored = sync_sink_stored, .ud = &c };
	gboolean ok = account_with_session(run->a, sync_fetch_cb, &c, &err);

	if (!store_batch_commit(account_store(run->a), batch, &cerr)) {
		ok = FALSE;
		c.stored = 0;
		g_clear_error(&err);
		err = g_steal_pointer(&cerr);
	}
	account_evict(run->a);
	g_mutex_lock(&run->lock);
	run->res->fetched += c.stored;
	g_mutex_unlock(&run->lock);
	sync_chunk_rest(run, &c, ok, err);
	g_clear_error(&c.refusal);
	g_hash_table_unref(c.waiting);
}

static gpointer
sync_worker(gpointer data)
{
	SyncRun *run = data;
	StoreBatch *batch = store_batch_new();
	gint i;

	while (!sync_cancelled(run) &&
	       (i = g_atomic_int_add(&run->next_chunk, 1)) <
	       (gint)run->chunks->len)
		sync_chunk(run, run->chunks->pdata[i], batch);
	store_batch_free(batch);
	return NULL;
}

/* FALSE when SEL leaves M out: too large, or too old. */
static gboolean
sync_wanted(const MfSyncSelect *sel, const MfRemoteMessage *m)
{
	if (sel->max_size && m->size > sel->max_size)
		return FALSE;
	return !(sel->min_date && m->date > 0 && m->date < sel->min_date);
}

/* Cuts the uncached messages of JOB's listing that SEL wants into
 * chunks. */
static void
sync_plan_folder(SyncRun *run, FolderJob *job, MfListing *l, GHashTable *have)
{
	Chunk *cur = NULL;

	for (guint i = 0; i < listing_count(l); i++) {
		const MfRemoteMessage *m = listing_at(l, i);
		if (g_hash_table_contains(have, GUINT_TO_POINTER(m->uid))) {
			run->res->cached++;
			continue;
		}
		if (!sync_wanted(run->sel, m)) {
			run->res->skipped++;
			continue;
		}
		if (!cur || cur->msgs->len >= CHUNK_MESSAGES ||
		    cur->bytes >= CHUNK_BYTES) {
			cur = g_new0(Chunk, 1);
			cur->job = job;
			cur->msgs = g_array_new(FALSE, FALSE,
			                        sizeof(MfRemoteMessage));
			g_ptr_array_add(run->chunks, cur);
		}
		g_array_append_val(cur->msgs, *m);
		cur->bytes += m->size;
		job->total++;
		run->prog.total++;
		run->prog.bytes_total += m->size;
	}
}

static void
sync_plan(SyncRun *run, const MfFolder *f)
{
	g_autoptr(GError) err = NULL;
	MfListing *l = account_listing(run->a, f->id, &err);
	GHashTable *have = NULL;

	if (l)
		have = store_bodies_cached(account_store(run->a), f->id,
		                           listing_uidvalidity(l), &err);
	if (!have) {
		run->res->failed++;
		g_ptr_array_add(run->res->failures,
		                g_strdup_printf("%s: cannot list: %s", f->path,
		                                err->message));
		listing_unref(l);
		return;
	}
	FolderJob *job = g_new0(FolderJob, 1);
	job->folder = f;
	job->uidvalidity = listing_uidvalidity(l);
	g_ptr_array_add(run->jobs, job);
	sync_plan_folder(run, job, l, have);
	g_hash_table_unref(have);
	listing_unref(l);
}

/* Every folder of RUN's tree, parents before their children; borrowed. */
static GPtrArray *
sync_all_folders(SyncRun *run)
{
	GPtrArray *out = g_ptr_array_new();
	g_autoptr(GPtrArray) stack = tree_children(run->tree, 0);

	while (stack->len > 0) {
		const MfFolder *f = g_ptr_array_steal_index(stack, 0);
		g_autoptr(GPtrArray) kids = tree_children(run->tree, f->id);
		g_ptr_array_extend(stack, kids, NULL, NULL);
		g_ptr_array_add(out, (gpointer)f);
	}
	return out;
}

/* The folders to sync, each once: those the patterns select that hold
 * messages. */
static GPtrArray *
sync_folders(SyncRun *run, GError **err)
{
	g_autoptr(GPtrArray) all = sync_all_folders(run);
	g_autofree const char **paths = g_new0(const char *, all->len + 1);
	g_autofree gboolean *chosen = g_new0(gboolean, all->len + 1);

	for (guint i = 0; i < all->len; i++)
		paths[i] = ((const MfFolder *)all->pdata[i])->path;
	if (!sync_select_folders(paths, all->len, run->sel->patterns,
	                         run->sel->recurse, chosen, err))
		return NULL;
	GPtrArray *out = g_ptr_array_new();
	for (guint i = 0; i < all->len; i++) {
		const MfFolder *f = all->pdata[i];
		if (chosen[i] && !(f->flags & MF_FOLDER_NOSELECT))
			g_ptr_array_add(out, (gpointer)f);
	}
	return out;
}

static void
sync_run_workers(SyncRun *run)
{
	guint n = MIN(account_max_connections(run->a), run->chunks->len);
	g_autoptr(GPtrArray) threads = g_ptr_array_new();

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(threads, g_thread_new("mailfs-sync",
		                                      sync_worker, run));
	for (guint i = 0; i < n; i++)
		g_thread_join(threads->pdata[i]);
}

gboolean
sync_run(MfAccount *a, const MfSyncSelect *sel, MfSyncProgressFn cb,
         void *ud, volatile gint *cancel, MfSyncResult *res, GError **err)
{
	static const MfSyncSelect everything = { .recurse = TRUE };
	SyncRun run = { .a = a, .sel = sel ? sel : &everything, .cb = cb,
	                .ud = ud, .cancel = cancel, .res = res };

	memset(res, 0, sizeof *res);
	res->failures = g_ptr_array_new_with_free_func(g_free);
	if (!account_connect(a, err))
		return FALSE;
	run.tree = account_tree(a);
	g_autoptr(GPtrArray) list = sync_folders(&run, err);
	if (!list) {
		tree_unref(run.tree);
		return FALSE;
	}
	g_mutex_init(&run.lock);
	run.jobs = g_ptr_array_new_with_free_func(g_free);
	run.chunks = g_ptr_array_new_with_free_func((GDestroyNotify)chunk_free);
	for (guint i = 0; i < list->len && !sync_cancelled(&run); i++)
		sync_plan(&run, list->pdata[i]);
	sync_run_workers(&run);
	res->bytes = run.prog.bytes;
	g_ptr_array_unref(run.chunks);
	g_ptr_array_unref(run.jobs);
	g_mutex_clear(&run.lock);
	tree_unref(run.tree);
	return TRUE;
}
