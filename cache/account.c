/* account.c - an account's folders, listings and bodies: served from
 * snapshots and the store, refreshed from the server through a pool of
 * backend sessions, with an offline state and backoff. */
#include "cache/account.h"
#include "cache/account_int.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/store.h"
#include "cache/journal.h"
#include "cache/push.h"
#include "cache/storeall.h"
#include "net/conn.h"
#include "net/mf_error.h"

#define BACKOFF_MIN_US (2 * G_USEC_PER_SEC)
#define BACKOFF_MAX_US (30 * G_USEC_PER_SEC)
/* A folder nobody asked for in this long is polled only every
 * POLL_SLOW_ROUNDS polls. */
#define POLL_RECENT_US (10 * 60 * G_USEC_PER_SEC)
#define POLL_SLOW_ROUNDS 10

void
account_params_clear(MfAccountParams *p)
{
	if (!p)
		return;
	g_free(p->name);
	g_free(p->cache_dir);
	backend_params_clear(&p->backend);
	memset(p, 0, sizeof *p);
}

/* --- listings --------------------------------------------------------- */

MfListing *
listing_ref(MfListing *l)
{
	g_atomic_int_inc(&l->ref);
	return l;
}

void
listing_unref(MfListing *l)
{
	if (!l || !g_atomic_int_dec_and_test(&l->ref))
		return;
	g_array_unref(l->msgs);
	listing_free_names(l);
	g_free(l);
}

guint32
listing_uidvalidity(const MfListing *l)
{
	return l->uidvalidity;
}

gint64
listing_generation(const MfListing *l)
{
	return l->gen;
}

guint
listing_count(const MfListing *l)
{
	return l->msgs->len;
}

const MfRemoteMessage *
listing_at(const MfListing *l, guint i)
{
	return &g_array_index(l->msgs, MfRemoteMessage, i);
}

const MfRemoteMessage *
listing_find(const MfListing *l, guint32 uid)
{
	guint lo = 0, hi = l->msgs->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const MfRemoteMessage *m = listing_at(l, mid);
		if (m->uid == uid)
			return m;
		if (m->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* --- online state ------------------------------------------------------ */

gboolean
account_is_online(MfAccount *a)
{
	g_mutex_lock(&a->lock);
	gboolean on = a->online;
	g_mutex_unlock(&a->lock);
	return on;
}

static gpointer
account_probe_thread(gpointer data)
{
	MfAccount *a = data;
	g_autoptr(GError) err = NULL;

	if (!account_connect(a, &err))
		g_debug("account %s still offline: %s", a->p.name, err->message);
	else
		journal_replay(a);
	g_mutex_lock(&a->lock);
	a->probing = FALSE;
	g_mutex_unlock(&a->lock);
	return NULL;
}

/* TRUE if requests may use the network now.  While the account is offline
 * they may not, so that nothing waits on a dead server; instead, once the
 * backoff has passed, a background probe tries to reconnect. */
gboolean
account_may_try(MfAccount *a)
{
	g_mutex_lock(&a->lock);
	gboolean ok = a->online && !a->forced_offline;
	if (!ok && !a->probing && !a->closing && !a->forced_offline &&
	    g_get_monotonic_time() >= a->offline_until) {
		if (a->probe)
			g_thread_join(a->probe);
		a->probing = TRUE;
		a->probe = g_thread_new("mailfs-probe", account_probe_thread, a);
	}
	g_mutex_unlock(&a->lock);
	return ok;
}

static void
account_set_last_error_locked(MfAccount *a, const GError *err)
{
	g_free(a->last_error);
	a->last_error = g_strdup(err->message);
	a->last_error_at = g_get_real_time() / G_USEC_PER_SEC;
}

void
account_record_error(MfAccount *a, const GError *err)
{
	g_mutex_lock(&a->lock);
	account_set_last_error_locked(a, err);
	g_mutex_unlock(&a->lock);
}

/* Records the outcome of a network operation. */
static void
account_note(MfAccount *a, const GError *err)
{
	g_mutex_lock(&a->lock);
	if (err)
		account_set_last_error_locked(a, err);
	if (!err) {
		if (!a->online) {
			g_message("account %s is online", a->p.name);
			a->state_since = g_get_real_time() / G_USEC_PER_SEC;
		}
		a->online = TRUE;
		a->backoff = 0;
		a->last_refresh = g_get_real_time() / G_USEC_PER_SEC;
	} else if (mf_error_is_transient(err) || err->code == MF_ERROR_TLS ||
	           err->code == MF_ERROR_AUTH) {
		if (a->online || a->backoff == 0)
			g_warning("account %s is offline: %s", a->p.name,
			          err->message);
		if (a->online)
			a->state_since = g_get_real_time() / G_USEC_PER_SEC;
		a->online = FALSE;
		gint64 min = a->p.backoff_min_ms
		             ? (gint64)a->p.backoff_min_ms * 1000 : BACKOFF_MIN_US;
		a->backoff = CLAMP(a->backoff * 2, min, BACKOFF_MAX_US);
		a->offline_until = g_get_monotonic_time() + a->backoff;
	}
	g_mutex_unlock(&a->lock);
}

/* The folders poll ROUND refreshes (incrementally): those with a listing
 * that someone looked at lately, the others only every POLL_SLOW_ROUNDS
 * rounds (so that mail filed there by the server still moves their
 * mtime), every one for a backend that downloads what it lists (POP3).
 * With a->lock held. */
static GArray *
account_poll_todo_locked(MfAccount *a, guint round)
{
	GHashTableIter it;
	gpointer k, v;
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(gint64));
	gint64 now = g_get_monotonic_time();
	gboolean all = round % POLL_SLOW_ROUNDS == 0 ||
	               (a->backend->caps & MF_BACKEND_CAP_STORE_ALL);

	g_hash_table_iter_init(&it, a->folders);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		FolderState *fs = v;
		if (fs->listing && (all || (fs->used_at &&
		                            now - fs->used_at < POLL_RECENT_US)))
			g_array_append_val(todo, *(gint64 *)k);
	}
	return todo;
}

/* Every poll_interval: the folder tree and the listings in use lately
 * (the others less often) are refreshed, incrementally: bytes for a
 * folder that did not change.  New mail shows even without push or a
 * user's request. */
static gpointer
account_poll_thread(gpointer data)
{
	MfAccount *a = data;
	guint round = 0;

	/* Changes left from the last run (a crash, an unmount while
	 * offline) go first. */
	if (account_may_try(a))
		journal_replay(a);
	g_mutex_lock(&a->lock);
	while (!a->closing) {
		gint64 end = g_get_monotonic_time() +
		             (gint64)MAX(a->p.poll_interval, 1) * G_USEC_PER_SEC;
		while (!a->closing &&
		       g_cond_wait_until(&a->poll_cond, &a->lock, end))
			;
		if (a->closing)
			break;
		g_autoptr(GArray) todo = account_poll_todo_locked(a, ++round);
		g_mutex_unlock(&a->lock);
		if (account_may_try(a)) {
			journal_replay(a);
			tree_unref(account_tree(a));
			for (guint i = 0; i < todo->len; i++)
				listing_unref(account_listing_quiet(
					a, g_array_index(todo, gint64, i), NULL));
		}
		g_mutex_lock(&a->lock);
	}
	g_mutex_unlock(&a->lock);
	return NULL;
}

void
account_start_polling(MfAccount *a)
{
	g_mutex_lock(&a->lock);
	if (!a->poller)
		a->poller = g_thread_new("mailfs-poll", account_poll_thread, a);
	g_mutex_unlock(&a->lock);
	MfTree *t = account_tree(a);
	const MfFolder *inbox = tree_find(t, "INBOX");
	push_start(a, inbox ? inbox->id : 0);
	tree_unref(t);
}

void
account_set_trace(MfTraceFn fn)
{
	conn_set_default_trace(fn);
}

void
account_set_listing_hook(MfAccount *a, MfListingHook hook, void *ud)
{
	g_mutex_lock(&a->lock);
	a->hook = hook;
	a->hook_ud = ud;
	g_mutex_unlock(&a->lock);
}

void
account_evict(MfAccount *a)
{
	guint n = store_evict(a->store, a->p.cache_max);

	if (n > 0)
		g_message("cache of %s over its budget: %u bodies evicted",
		          a->p.name, n);
}

void
account_go_offline(MfAccount *a, const GError *why)
{
	account_note(a, why);
}

gboolean
account_cache_exists(const MfAccountParams *p)
{
	return store_exists(p->cache_dir);
}

void
account_set_offline_error(MfAccount *a, GError **err)
{
	g_set_error(err, MF_ERROR, MF_ERROR_OFFLINE,
	            "account %s is offline", a->p.name);
}

/* --- session pool ------------------------------------------------------ */

static MfSession *
pool_acquire(MfAccount *a, gboolean *reused, GError **err)
{
	gint64 deadline = g_get_monotonic_time() +
	                  (gint64)a->p.backend.server.timeout_ms * 1000;
	MfSession *s = NULL;
	gboolean may_connect = FALSE;

	g_mutex_lock(&a->pool_lock);
	for (;;) {
		if ((s = g_queue_pop_head(&a->idle)))
			break;
		if (a->sessions < a->p.max_connections) {
			a->sessions++;
			may_connect = TRUE;
			break;
		}
		if (!g_cond_wait_until(&a->pool_cond, &a->pool_lock, deadline))
			break;
	}
	g_mutex_unlock(&a->pool_lock);
	*reused = s != NULL;
	if (s)
		return s;
	if (!may_connect) {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "account %s: all %u connections stayed busy",
		            a->p.name, a->p.max_connections);
		return NULL;
	}
	s = a->backend->connect(&a->p.backend, err);
	if (s && a->backend->describe) {
		char *d = a->backend->describe(s);
		g_mutex_lock(&a->lock);
		g_free(a->tls);
		a->tls = d;
		g_mutex_unlock(&a->lock);
	}
	if (!s) {
		g_mutex_lock(&a->pool_lock);
		a->sessions--;
		g_cond_signal(&a->pool_cond);
		g_mutex_unlock(&a->pool_lock);
	}
	return s;
}

/* Returns S to the pool, or drops it if ERR says it is unusable. */
static void
pool_release(MfAccount *a, MfSession *s, const GError *err)
{
	gboolean drop = (err && err->domain == MF_ERROR &&
	                 (err->code == MF_ERROR_CONNECTION ||
	                  err->code == MF_ERROR_UNSURE ||
	                  err->code == MF_ERROR_PROTOCOL ||
	                  err->code == MF_ERROR_CANCELLED)) ||
	                (a->backend->reusable && !a->backend->reusable(s));

	if (drop)
		a->backend->disconnect(s);
	g_mutex_lock(&a->pool_lock);
	if (drop)
		a->sessions--;
	else
		g_queue_push_head(&a->idle, s);
	g_cond_signal(&a->pool_cond);
	g_mutex_unlock(&a->pool_lock);
}

/* Runs FN on a pooled session.  A reused session that turns out to be dead
 * (the server dropped an idle connection) is replaced once. */
gboolean
account_with_session(MfAccount *a, SessionFn fn, void *ud, GError **err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		GError *e = NULL;
		gboolean reused = FALSE;
		gint64 start = g_get_monotonic_time();
		MfSession *s = pool_acquire(a, &reused, &e);
		gboolean ok = mf_error_check(s && fn(a, s, ud, &e), &e,
		                             "a session step");
		/* A dead idle connection fails at once; a timeout already
		 * cost the user the whole timeout and is not tried twice. */
		gboolean quick = g_get_monotonic_time() - start <
		                 (gint64)a->p.backend.server.timeout_ms * 500;

		if (s)
			pool_release(a, s, e);
		if (!ok && attempt == 0 && reused && quick &&
		    e->code == MF_ERROR_CONNECTION) {
			g_clear_error(&e);
			continue;
		}
		account_note(a, ok ? NULL : e);
		if (!ok)
			g_propagate_error(err, e);
		return ok;
	}
	g_assert_not_reached();
}


/* --- open / close ------------------------------------------------------ */

static void
folder_state_free(FolderState *fs)
{
	g_mutex_clear(&fs->refresh);
	listing_unref(fs->listing);
	g_free(fs);
}

/* The backend that speaks URL's protocol, or NULL for one that holds no
 * mailbox (smtp://). */
static const MfBackend *
account_backend_for_url(const MfUrl *url)
{
	switch (url->scheme) {
	case URL_IMAP:
	case URL_IMAPS:
		return &backend_imap;
	case URL_POP3:
	case URL_POP3S:
		return &backend_pop3;
	case URL_SMTP:
	case URL_SMTPS:
		break;
	}
	return NULL;
}

MfAccount *
account_open(const MfAccountParams *p, const MfBackend *backend, GError **err)
{
	if (!backend)
		backend = account_backend_for_url(&p->backend.server.url);
	if (!backend) {
		mf_error_config(err, "account %s: no mailbox protocol in its "
		                "URL", p->name);
		return NULL;
	}
	Store *store = store_open(p->cache_dir, err);

	if (!store)
		return NULL;
	g_autoptr(GPtrArray) rows = store_folders_load(store, err);
	if (!rows) {
		store_close(store);
		return NULL;
	}
	MfAccount *a = g_new0(MfAccount, 1);
	a->p = *p; /* shallow: the params are copied below */
	a->p.name = g_strdup(p->name);
	a->p.cache_dir = g_strdup(p->cache_dir);
	backend_params_copy(&a->p.backend, &p->backend);
	a->backend = backend;
	a->store = store;
	g_mutex_init(&a->lock);
	g_mutex_init(&a->tree_refresh);
	g_mutex_init(&a->journal);
	g_mutex_init(&a->pool_lock);
	g_cond_init(&a->pool_cond);
	g_cond_init(&a->inflight_done);
	g_cond_init(&a->poll_cond);
	g_queue_init(&a->idle);
	a->tree = tree_build(rows);
	a->folders = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
	                                   (GDestroyNotify)folder_state_free);
	a->verified = g_hash_table_new(NULL, NULL);
	a->inflight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                    NULL);
	a->gens = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
	                                g_free);
	a->online = TRUE;
	a->state_since = g_get_real_time() / G_USEC_PER_SEC;
	a->push = push_new();
	return a;
}

void
account_close(MfAccount *a)
{
	MfSession *s;

	if (!a)
		return;
	g_mutex_lock(&a->lock);
	a->closing = TRUE;
	GThread *probe = g_steal_pointer(&a->probe);
	GThread *poller = g_steal_pointer(&a->poller);
	GThreadPool *refresher = g_steal_pointer(&a->refresher);
	g_cond_broadcast(&a->poll_cond);
	g_mutex_unlock(&a->lock);
	if (refresher)
		g_thread_pool_free(refresher, TRUE, TRUE);
	if (probe)
		g_thread_join(probe);
	if (poller)
		g_thread_join(poller);
	push_free(a, g_steal_pointer(&a->push));
	while ((s = g_queue_pop_head(&a->idle)))
		a->backend->disconnect(s);
	tree_unref(a->tree);
	g_hash_table_unref(a->folders);
	g_hash_table_unref(a->verified);
	g_hash_table_unref(a->inflight);
	g_hash_table_unref(a->gens);
	if (a->moved)
		g_hash_table_unref(a->moved);
	if (a->renamed)
		g_hash_table_unref(a->renamed);
	store_close(a->store);
	g_mutex_clear(&a->lock);
	g_mutex_clear(&a->tree_refresh);
	g_mutex_clear(&a->journal);
	g_mutex_clear(&a->pool_lock);
	g_cond_clear(&a->pool_cond);
	g_cond_clear(&a->inflight_done);
	g_cond_clear(&a->poll_cond);
	g_free(a->last_error);
	g_free(a->tls);
	account_params_clear(&a->p);
	g_free(a);
}

/* --- the folder tree ---------------------------------------------------- */

static MfTree *account_tree_now(MfAccount *a);
static void account_refresh_listing_bg(MfAccount *a, gint64 folder_id);

static gboolean
account_refresh_tree_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	g_autoptr(GPtrArray) remote = NULL;

	if (!a->backend->list_folders(s, &remote, err))
		return FALSE;
	tree_escape_reserved(remote);
	tree_add_implicit_parents(remote);
	g_autoptr(GPtrArray) rows = store_folders_update(a->store, remote, err);
	if (!rows)
		return FALSE;
	MfTree *t = tree_build(rows);
	g_mutex_lock(&a->lock);
	MfTree *old = a->tree;
	if (!tree_same_paths(old, t))
		a->tree_mtime = g_get_real_time() / G_USEC_PER_SEC;
	a->tree = t;
	a->tree_refreshed_at = g_get_monotonic_time();
	g_mutex_unlock(&a->lock);
	tree_unref(old);
	return TRUE;
}

/* How long a tree or listing stays fresh: for a backend whose every
 * listing downloads new mail (POP3), the poll interval. */
static gint64
account_fresh_us(MfAccount *a)
{
	guint secs = (a->backend->caps & MF_BACKEND_CAP_STORE_ALL)
	             ? a->p.poll_interval : a->p.refresh_interval;
	return (gint64)MAX(secs, 1) * G_USEC_PER_SEC;
}

static gboolean
account_is_stale(MfAccount *a, gint64 refreshed_at)
{
	return refreshed_at == 0 ||
	       g_get_monotonic_time() - refreshed_at >= account_fresh_us(a);
}

gboolean
account_refresh_tree_now(MfAccount *a, GError **err)
{
	return account_connect(a, err);
}

gboolean
account_connect(MfAccount *a, GError **err)
{
	g_mutex_lock(&a->tree_refresh);
	gboolean ok = account_with_session(a, account_refresh_tree_cb, NULL, err);
	g_mutex_unlock(&a->tree_refresh);
	return ok;
}

/* Refreshes in the background: ITEM is a folder id + 1 (1: the tree). */
static void
account_refresh_worker(gpointer item, gpointer ud)
{
	MfAccount *a = ud;
	gint64 id = (gint64)GPOINTER_TO_SIZE(item) - 1;

	if (id == 0)
		tree_unref(account_tree_now(a));
	else
		account_refresh_listing_bg(a, id);
	g_mutex_lock(&a->lock);
	if (id == 0)
		a->tree_queued = FALSE;
	else
		account_folder_state(a, id)->queued = FALSE;
	g_mutex_unlock(&a->lock);
}

/* Has FOLDER_ID's listing (0: the tree) refreshed in the background,
 * unless that is under way already.  Called with a->lock held. */
static void
account_queue_refresh_locked(MfAccount *a, gint64 folder_id)
{
	gboolean *queued = folder_id ? &account_folder_state(a, folder_id)->queued
	                             : &a->tree_queued;

	if (*queued || a->closing)
		return;
	if (!a->refresher)
		a->refresher = g_thread_pool_new(account_refresh_worker, a, 2,
		                                 FALSE, NULL);
	*queued = TRUE;
	g_thread_pool_push(a->refresher, GSIZE_TO_POINTER((gsize)folder_id + 1),
	                   NULL);
}

/* A snapshot that is stale only because time passed is served as it is
 * and refreshed in the background: a slow or stopped server never holds
 * up what the cache can answer.  One never refreshed in this run, or
 * expired by a change made here, is refreshed by the asker. */
static gboolean
account_refresh_now_locked(MfAccount *a, gint64 refreshed_at, gint64 folder_id)
{
	if (refreshed_at == 0 || !account_is_stale(a, refreshed_at))
		return refreshed_at == 0;
	account_queue_refresh_locked(a, folder_id);
	return FALSE;
}

MfTree *
account_tree(MfAccount *a)
{
	g_mutex_lock(&a->lock);
	gboolean now = account_refresh_now_locked(a, a->tree_refreshed_at, 0);
	g_mutex_unlock(&a->lock);

	if (now && account_may_try(a))
		return account_tree_now(a);
	g_mutex_lock(&a->lock);
	MfTree *t = tree_ref(a->tree);
	g_mutex_unlock(&a->lock);
	return t;
}

static MfTree *
account_tree_now(MfAccount *a)
{
	g_mutex_lock(&a->lock);
	gboolean stale = account_is_stale(a, a->tree_refreshed_at);
	g_mutex_unlock(&a->lock);

	/* One thread refreshes; the others use the tree they have. */
	if (stale && account_may_try(a) && g_mutex_trylock(&a->tree_refresh)) {
		g_autoptr(GError) err = NULL;
		g_mutex_lock(&a->lock);
		stale = account_is_stale(a, a->tree_refreshed_at);
		g_mutex_unlock(&a->lock);
		if (stale && !account_with_session(a, account_refresh_tree_cb,
		                                   NULL, &err))
			g_debug("folder list not refreshed: %s", err->message);
		g_mutex_unlock(&a->tree_refresh);
	}
	g_mutex_lock(&a->lock);
	MfTree *t = tree_ref(a->tree);
	g_mutex_unlock(&a->lock);
	return t;
}

/* --- folder listings ---------------------------------------------------- */

/* The state of FOLDER_ID, created on first use.  Called with a->lock
 * held. */
FolderState *
account_folder_state(MfAccount *a, gint64 folder_id)
{
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);

	if (fs)
		return fs;
	fs = g_new0(FolderState, 1);
	g_mutex_init(&fs->refresh);
	g_hash_table_insert(a->folders, g_memdup2(&folder_id, sizeof folder_id),
	                    fs);
	return fs;
}

static void
account_load_stored_listing(MfAccount *a, gint64 folder_id, FolderState *fs)
{
	g_autoptr(GError) err = NULL;
	guint32 uv = 0;
	GArray *msgs = NULL;

	if (!store_messages_load(a->store, folder_id, &uv, &msgs, &err)) {
		g_warning("%s", err->message);
		return;
	}
	gint64 gen = uv ? store_generation(a->store, folder_id, uv, &err) : 0;
	if (gen == 0) {
		if (err)
			g_warning("%s", err->message);
		g_array_unref(msgs);
		return;
	}
	MfListing *l = listing_new(a, folder_id, gen, uv, msgs, NULL);
	guint64 modseq = 0;
	guint32 uidnext = 0;
	store_folder_sync_get(a->store, folder_id, &modseq, &uidnext);
	g_mutex_lock(&a->lock);
	if (!fs->listing) {
		fs->listing = g_steal_pointer(&l);
		fs->modseq = modseq;
		fs->uidnext = uidnext;
		fs->check_flags = TRUE;
	}
	g_mutex_unlock(&a->lock);
	listing_unref(l);
}

typedef struct {
	const MfFolder *folder;
	FolderState *fs;
} RefreshCtx;

static gboolean
account_refresh_listing_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	RefreshCtx *c = ud;
	MfFolderStatus st = { 0 };
	GArray *msgs = NULL;

	if (a->backend->caps & MF_BACKEND_CAP_STORE_ALL) {
		g_mutex_lock(&a->lock);
		MfListing *cur = c->fs->listing ? listing_ref(c->fs->listing)
		                                : NULL;
		g_mutex_unlock(&a->lock);
		gboolean ok = storeall_list(a, s, c->folder, cur,
		                            a->p.leave_on_server, &st, &msgs, err);
		listing_unref(cur);
		if (!ok)
			return FALSE;
		return account_install_listing(a, c->folder, c->fs, &st, msgs,
		                               FALSE, err);
	}
	return account_relist(a, s, c->folder, c->fs, err);
}

/* The background refresh of FOLDER_ID's listing; skipped when another
 * is under way. */
static void
account_refresh_listing_bg(MfAccount *a, gint64 folder_id)
{
	g_autoptr(GError) err = NULL;
	g_mutex_lock(&a->lock);
	MfTree *t = tree_ref(a->tree);
	FolderState *fs = account_folder_state(a, folder_id);
	gboolean stale = account_is_stale(a, fs->refreshed_at);
	g_mutex_unlock(&a->lock);
	const MfFolder *f = tree_folder(t, folder_id);
	RefreshCtx c = { f, fs };

	if (f && stale && account_may_try(a) && g_mutex_trylock(&fs->refresh)) {
		if (!account_with_session(a, account_refresh_listing_cb, &c,
		                          &err))
			g_debug("listing of %s not refreshed: %s", f->path,
			        err->message);
		g_mutex_unlock(&fs->refresh);
	}
	tree_unref(t);
}

static gboolean
account_refresh_listing(MfAccount *a, const MfFolder *f, FolderState *fs,
                        GError **err)
{
	RefreshCtx c = { f, fs };
	gboolean ok = TRUE;

	g_mutex_lock(&fs->refresh);
	g_mutex_lock(&a->lock);
	gboolean stale = account_is_stale(a, fs->refreshed_at);
	g_mutex_unlock(&a->lock);
	if (stale && account_may_try(a))
		ok = account_with_session(a, account_refresh_listing_cb, &c, err);
	g_mutex_unlock(&fs->refresh);
	return ok;
}

static MfListing *
account_listing_as(MfAccount *a, gint64 folder_id, gboolean use,
                   GError **err)
{
	g_autoptr(GError) net_err = NULL;
	MfTree *t = account_tree(a);
	const MfFolder *f = tree_folder(t, folder_id);
	MfListing *l = NULL;

	if (!f || (f->flags & MF_FOLDER_NOSELECT)) {
		tree_unref(t);
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "no such folder %" G_GINT64_FORMAT, folder_id);
		return NULL;
	}
	if (a->push && use)
		push_watch(a, folder_id);
	g_mutex_lock(&a->lock);
	FolderState *fs = account_folder_state(a, folder_id);
	gboolean loaded = fs->listing != NULL;
	if (use)
		fs->used_at = g_get_monotonic_time();
	g_mutex_unlock(&a->lock);
	if (!loaded)
		account_load_stored_listing(a, folder_id, fs);
	g_mutex_lock(&a->lock);
	gboolean now = !fs->listing ||
	               account_refresh_now_locked(a, fs->refreshed_at,
	                                          folder_id);
	g_mutex_unlock(&a->lock);
	if (now && !account_refresh_listing(a, f, fs, &net_err))
		g_debug("listing of %s not refreshed: %s", f->path,
		        net_err->message);
	tree_unref(t);
	g_mutex_lock(&a->lock);
	if (fs->listing)
		l = listing_ref(fs->listing);
	g_mutex_unlock(&a->lock);
	if (!l && net_err)
		g_propagate_error(err, g_steal_pointer(&net_err));
	else if (!l)
		account_set_offline_error(a, err);
	return l;
}

MfListing *
account_listing(MfAccount *a, gint64 folder_id, GError **err)
{
	return account_listing_as(a, folder_id, TRUE, err);
}

MfListing *
account_listing_quiet(MfAccount *a, gint64 folder_id, GError **err)
{
	return account_listing_as(a, folder_id, FALSE, err);
}

void
account_refresh_soon(MfAccount *a, gint64 folder_id)
{
	g_mutex_lock(&a->lock);
	account_folder_state(a, folder_id)->refreshed_at = 0;
	account_queue_refresh_locked(a, folder_id);
	g_mutex_unlock(&a->lock);
}

Store *
account_store(MfAccount *a)
{
	return a->store;
}

const MfBackend *
account_backend(MfAccount *a)
{
	return a->backend;
}

guint
account_max_connections(MfAccount *a)
{
	return a->p.max_connections;
}

typedef struct {
	const char *folder;
	const char *flags;
	gint64 date;
	int fd;
	guint64 size;
} AppendCtx;

static gboolean
account_append_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	AppendCtx *c = ud;
	return a->backend->append(s, c->folder, c->flags, c->date, c->fd,
	                          c->size, NULL, NULL, err);
}

/* Says that there is no folder PATH, or none for SPECIAL. */
static void
account_no_special(MfAccount *a, guint special, const char *path,
                   GError **err)
{
	const char *name = account_special_name(special);

	const char *fix = special == MF_FOLDER_SENT
	                  ? " (set sent_folder, or save_sent = no)" : "";

	if (path)
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX, "account %s has "
		            "no folder '%s'%s", a->p.name, path, fix);
	else
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX, "account %s has "
		            "no folder marked \\%s, and none called %s at the "
		            "top%s", a->p.name, name ? name : "special",
		            name ? name : "so", fix);
}

gboolean
account_append_special(MfAccount *a, guint special, const char *path,
                       const char *flags, gint64 date, int fd,
                       guint64 size, char **used, GError **err)
{
	MfTree *t = account_tree(a);
	const MfFolder *f = path ? tree_find(t, path)
	                         : account_special_folder(t, special);

	if (f && (f->flags & MF_FOLDER_NOSELECT))
		f = NULL;
	g_autofree char *name = f ? g_strdup(f->name) : NULL;
	g_autofree char *shown = f ? g_strdup(f->path) : NULL;
	gint64 id = f ? f->id : 0;
	tree_unref(t);
	if (!a->backend->append || !name) {
		account_no_special(a, special, path, err);
		return FALSE;
	}
	if (!account_may_try(a)) {
		account_set_offline_error(a, err);
		return FALSE;
	}
	AppendCtx c = { name, flags, date, fd, size };
	if (!account_with_session(a, account_append_cb, &c, err))
		return FALSE;
	account_expire_listing(a, id);
	if (used)
		*used = g_steal_pointer(&shown);
	return TRUE;
}

void
account_expire_listing(MfAccount *a, gint64 folder_id)
{
	g_mutex_lock(&a->lock);
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);
	if (fs)
		fs->refreshed_at = 0;
	g_mutex_unlock(&a->lock);
}

void
account_status(MfAccount *a, MfAccountStatus *out)
{
	memset(out, 0, sizeof *out);
	out->server = url_to_string(&a->p.backend.server.url);
	out->cache_bytes = store_total_bytes(a->store);
	out->cache_max = a->p.cache_max;
	g_mutex_lock(&a->lock);
	out->online = a->online && !a->forced_offline;
	out->forced_offline = a->forced_offline;
	out->state_since = a->state_since;
	out->last_refresh = a->last_refresh;
	out->tls = g_strdup(a->tls);
	out->last_error = g_strdup(a->last_error);
	out->last_error_at = a->last_error_at;
	out->push = a->push && push_active(a);
	g_mutex_unlock(&a->lock);
}

void
account_status_clear(MfAccountStatus *st)
{
	g_free(st->server);
	g_free(st->tls);
	g_free(st->last_error);
	memset(st, 0, sizeof *st);
}

void
account_refresh_all(MfAccount *a)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&a->lock);
	a->tree_refreshed_at = 0;
	g_hash_table_iter_init(&it, a->folders);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		((FolderState *)v)->refreshed_at = 0;
		((FolderState *)v)->check_flags = TRUE;
	}
	a->offline_until = 0; /* and reconnect now if offline */
	g_cond_broadcast(&a->poll_cond);
	g_mutex_unlock(&a->lock);
	account_may_try(a);
}

void
account_set_forced_offline(MfAccount *a, gboolean offline)
{
	g_mutex_lock(&a->lock);
	if (a->forced_offline != offline)
		g_message("account %s: network use %s by request", a->p.name,
		          offline ? "stopped" : "resumed");
	a->forced_offline = offline;
	a->state_since = g_get_real_time() / G_USEC_PER_SEC;
	a->offline_until = 0;
	g_mutex_unlock(&a->lock);
	if (offline)
		push_pause(a);
}

void
account_expire_tree(MfAccount *a)
{
	g_mutex_lock(&a->lock);
	a->tree_refreshed_at = 0;
	g_mutex_unlock(&a->lock);
}

void
account_swap_listing_locked(MfAccount *a, gint64 folder_id, FolderState *fs,
                            GArray *msgs, gboolean names_changed)
{
	MfListing *old = fs->listing;
	MfListing *l = listing_new(a, folder_id, old->gen, old->uidvalidity,
	                           msgs, old);

	fs->listing = listing_ref(l);
	if (a->hook && names_changed)
		a->hook(folder_id, old, l, a->hook_ud);
	g_mutex_unlock(&a->lock);
	if (!store_messages_save(a->store, folder_id, l->uidvalidity, old->msgs,
	                         l->msgs, NULL))
		g_warning("a change to a listing not stored");
	listing_unref(old);
	listing_unref(l);
}

gboolean
account_edit_listing(MfAccount *a, gint64 folder_id, guint32 uid,
                     const char *flags)
{
	g_mutex_lock(&a->lock);
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);
	MfListing *old = fs ? fs->listing : NULL;
	if (!old || !listing_find(old, uid)) {
		g_mutex_unlock(&a->lock);
		return FALSE;
	}
	GArray *msgs = g_array_sized_new(FALSE, FALSE, sizeof(MfRemoteMessage),
	                                 old->msgs->len);
	for (guint i = 0; i < old->msgs->len; i++) {
		MfRemoteMessage m = g_array_index(old->msgs, MfRemoteMessage, i);
		if (m.uid == uid && !flags)
			continue;
		if (m.uid == uid)
			m.flags = g_intern_string(flags);
		g_array_append_val(msgs, m);
	}
	account_swap_listing_locked(a, folder_id, fs, msgs, TRUE);
	return TRUE;
}

/* The loaded (or stored) listing state of FOLDER_ID, with a->lock held;
 * NULL if it was never listed. */
static FolderState *
account_loaded_state_locked(MfAccount *a, gint64 folder_id)
{
	FolderState *fs = account_folder_state(a, folder_id);

	if (!fs->listing) {
		g_mutex_unlock(&a->lock);
		account_load_stored_listing(a, folder_id, fs);
		g_mutex_lock(&a->lock);
	}
	return fs->listing ? fs : NULL;
}

gboolean
account_show_move(MfAccount *a, gint64 src_id, guint32 uidvalidity,
                  guint32 uid, gint64 dest_id, guint32 ghost_uid)
{
	g_mutex_lock(&a->lock);
	FolderState *src = g_hash_table_lookup(a->folders, &src_id);
	const MfRemoteMessage *found = src && src->listing
	                               ? listing_find(src->listing, uid) : NULL;
	MfRemoteMessage m = found ? *found : (MfRemoteMessage){ 0 };
	FolderState *dst = found ? account_loaded_state_locked(a, dest_id)
	                         : NULL;
	if (!dst || listing_find(dst->listing, ghost_uid)) {
		g_mutex_unlock(&a->lock);
		return FALSE;
	}
	guint32 dest_uv = dst->listing->uidvalidity;
	GArray *msgs = g_array_copy(dst->listing->msgs);
	m.uid = ghost_uid;
	g_array_append_val(msgs, m);
	g_array_sort(msgs, store_uid_compare);
	account_swap_listing_locked(a, dest_id, dst, msgs, TRUE);
	store_body_link(a->store, src_id, uidvalidity, uid, dest_id, dest_uv,
	                ghost_uid);
	return TRUE;
}

gboolean
account_show_append(MfAccount *a, gint64 folder_id, const MfRemoteMessage *m,
                    guint32 *uidvalidity)
{
	g_mutex_lock(&a->lock);
	FolderState *dst = account_loaded_state_locked(a, folder_id);
	if (!dst || listing_find(dst->listing, m->uid)) {
		g_mutex_unlock(&a->lock);
		return FALSE;
	}
	*uidvalidity = dst->listing->uidvalidity;
	GArray *msgs = g_array_copy(dst->listing->msgs);
	g_array_append_val(msgs, *m);
	g_array_sort(msgs, store_uid_compare);
	account_swap_listing_locked(a, folder_id, dst, msgs, TRUE);
	return TRUE;
}

/* Generations never change meaning, so they are remembered once looked
 * up: this is on the path of every open. */
typedef struct {
	gint64 folder_id;
	guint32 uidvalidity;
} GenInfo;

gboolean
account_generation_folder(MfAccount *a, gint64 gen, gint64 *folder_id,
                          guint32 *uidvalidity)
{
	GenInfo info;

	g_mutex_lock(&a->lock);
	GenInfo *known = g_hash_table_lookup(a->gens, &gen);
	if (known)
		info = *known;
	g_mutex_unlock(&a->lock);
	if (!known) {
		if (!store_generation_lookup(a->store, gen, &info.folder_id,
		                             &info.uidvalidity))
			return FALSE;
		g_mutex_lock(&a->lock);
		g_hash_table_replace(a->gens, g_memdup2(&gen, sizeof gen),
		                     g_memdup2(&info, sizeof info));
		g_mutex_unlock(&a->lock);
	}
	*folder_id = info.folder_id;
	if (uidvalidity)
		*uidvalidity = info.uidvalidity;
	return TRUE;
}

const char *
account_password(MfAccount *a)
{
	return a->p.backend.server.password;
}

const MfAccountParams *
account_params(MfAccount *a)
{
	return &a->p;
}

GMutex *
account_journal_lock(MfAccount *a)
{
	return &a->journal;
}

guint
account_caps(MfAccount *a)
{
	return a->backend->caps;
}

Push *
account_push(MfAccount *a)
{
	return a->push;
}

const MfBackendParams *
account_backend_params(MfAccount *a)
{
	return &a->p.backend;
}

gint64
account_find_folder_cached(MfAccount *a, gint64 parent, const char *name)
{
	MfTree *t = account_tree(a);
	const MfFolder *f = tree_child(t, parent, name);
	gint64 id = f ? f->id : 0;

	tree_unref(t);
	return id;
}

gint64
account_find_folder(MfAccount *a, gint64 parent, const char *name)
{
	MfTree *t = account_tree(a);
	const MfFolder *f = tree_child(t, parent, name);
	gint64 id = f ? f->id : 0;

	tree_unref(t);
	if (id || !account_may_try(a))
		return id;
	/* A folder made a moment ago (here or by another client) may not be
	 * in a tree listed just before: ask once more before saying no. */
	if (!account_refresh_tree_now(a, NULL))
		return 0;
	t = account_tree(a);
	f = tree_child(t, parent, name);
	id = f ? f->id : 0;
	tree_unref(t);
	return id;
}
