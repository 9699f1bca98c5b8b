/* account_body.c - message bodies of an account: served from the store
 * (checked once per run, then opened straight from their files), else
 * fetched by one thread while others asking for the same body wait; when
 * a folder's messages are read one after the other, the next few
 * uncached ones come in the same UID FETCH (read-ahead). */
#include "cache/account_int.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/body_sink.h"
#include "net/mf_error.h"

/* Read-ahead: after RA_AFTER messages of a folder read one after the
 * other in listing order, the next uncached ones come with the one asked
 * for, RA_FIRST at first, twice as many each time the reader keeps on,
 * up to RA_MAX messages and RA_MAX_BYTES (and an eighth of the cache
 * budget, so that what is read ahead never pushes out what was read). */
#define RA_AFTER 4
#define RA_FIRST 8
#define RA_MAX 64
#define RA_MAX_BYTES (4u << 20)

typedef struct {
	MfAccount *a;
	const MfFolder *folder;
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;            /* the body asked for */
	GArray *want;           /* MfRemoteMessage: it, then read-ahead ones */
	gboolean stored;        /* UID's body is stored */
	GError *refused;        /* UID's body came but was not stored: why */
	StoreBatch *batch;      /* with read-ahead: one syncfs for them all */
	BodySink sink;
} FetchCtx;

/* A body is served only if it has the size the listing gives, which is
 * what stat shows and where the kernel ends reads: a longer body would
 * be cut there without a word, a shorter one may be a cut body. */
static gboolean
account_body_size_ok(guint64 listed, guint64 size, GError **err)
{
	if (size == listed)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
	            "the server announced %" G_GUINT64_FORMAT " bytes "
	            "(RFC822.SIZE) but its body has %" G_GUINT64_FORMAT
	            "; not served", listed, size);
	return FALSE;
}

/* Logs why the body of UID in FOLDER_ID is not served.  The tree is the
 * current one: this must not wait for a refresh. */
static void
account_body_warn(MfAccount *a, gint64 folder_id, guint32 uid,
                  const GError *why)
{
	g_mutex_lock(&a->lock);
	MfTree *t = tree_ref(a->tree);
	g_mutex_unlock(&a->lock);
	const MfFolder *f = tree_folder(t, folder_id);

	g_warning("folder %s, UID %u: %s", f ? f->path : "?", uid,
	          why->message);
	tree_unref(t);
}

/* The listed entry of UID among what C fetches, or NULL. */
static const MfRemoteMessage *
account_fetch_wanted(const FetchCtx *c, guint32 uid)
{
	for (guint i = 0; i < c->want->len; i++) {
		const MfRemoteMessage *m = &g_array_index(c->want,
		                                          MfRemoteMessage, i);
		if (m->uid == uid)
			return m;
	}
	return NULL;
}

/* Keeps a body asked for whose size is the listed one.  Refusing the
 * one asked for does not fail the fetch: the server's reply to it is
 * still to be read. */
static gboolean
account_sink_accept(guint32 uid, guint64 size, void *ud)
{
	FetchCtx *c = ud;
	const MfRemoteMessage *m = account_fetch_wanted(c, uid);

	if (!m || (uid == c->uid && c->refused))
		return FALSE;
	if (uid == c->uid)
		return account_body_size_ok(m->size, size, &c->refused);
	return m->size == size; /* else refused when it is read */
}

static void
account_sink_stored(guint32 uid, guint64 size, void *ud)
{
	FetchCtx *c = ud;

	if (uid == c->uid)
		c->stored = TRUE;
}

static gboolean
account_fetch_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	FetchCtx *c = ud;

	c->sink = (BodySink){ .store = a->store, .batch = c->batch,
	                      .folder_id = c->folder_id,
	                      .uidvalidity = c->uidvalidity,
	                      .accept = account_sink_accept,
	                      .stored = account_sink_stored, .ud = c };
	return a->backend->fetch_bodies(s, c->folder->name, c->uidvalidity,
	                                (const MfRemoteMessage *)c->want->data,
	                                c->want->len, &body_sink, &c->sink,
	                                err);
}

/* Commits what C's batch holds (also after a failed fetch: what came is
 * kept); OK, or FALSE with ERR if the commit fails. */
static gboolean
account_fetch_commit(MfAccount *a, FetchCtx *c, gboolean ok, GError **err)
{
	g_autoptr(GError) cerr = NULL;

	if (!c->batch)
		return ok;
	if (!store_batch_commit(a->store, c->batch, &cerr)) {
		c->stored = FALSE;
		if (ok)
			g_propagate_error(err, g_steal_pointer(&cerr));
		ok = FALSE;
	}
	g_clear_pointer(&c->batch, store_batch_free);
	return ok;
}

static gboolean
account_fetch_body(MfAccount *a, FetchCtx *c, GError **err)
{
	MfTree *t = account_tree(a);
	gboolean ok;

	c->folder = tree_folder(t, c->folder_id);
	if (!c->folder) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "folder is gone");
		ok = FALSE;
	} else {
		/* Several bodies are made durable together, as sync does:
		 * one fsync each would cost more than the fetch. */
		c->batch = c->want->len > 1 ? store_batch_new() : NULL;
		ok = account_with_session(a, account_fetch_cb, c, err);
		ok = account_fetch_commit(a, c, ok, err);
	}
	if (ok && c->refused) {
		g_propagate_error(err, g_steal_pointer(&c->refused));
		ok = FALSE;
	} else if (ok && !c->stored) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "message %u is no longer on the server", c->uid);
		ok = FALSE;
	}
	g_clear_error(&c->refused);
	tree_unref(t);
	return ok;
}

/* Waits until no other thread fetches KEY, then claims it. */
static void
account_claim(MfAccount *a, const char *key)
{
	g_mutex_lock(&a->lock);
	while (g_hash_table_contains(a->inflight, key))
		g_cond_wait(&a->inflight_done, &a->lock);
	g_hash_table_add(a->inflight, g_strdup(key));
	g_mutex_unlock(&a->lock);
}

static void
account_unclaim(MfAccount *a, const char *key)
{
	g_mutex_lock(&a->lock);
	g_hash_table_remove(a->inflight, key);
	g_cond_broadcast(&a->inflight_done);
	g_mutex_unlock(&a->lock);
}

/* Claims KEY if no other thread fetches it; FALSE (nothing claimed)
 * otherwise. */
static gboolean
account_try_claim(MfAccount *a, const char *key)
{
	g_mutex_lock(&a->lock);
	gboolean free = !g_hash_table_contains(a->inflight, key);
	if (free)
		g_hash_table_add(a->inflight, g_strdup(key));
	g_mutex_unlock(&a->lock);
	return free;
}

static void
account_unclaim_all(MfAccount *a, GPtrArray *keys)
{
	for (guint i = 0; i < keys->len; i++)
		account_unclaim(a, keys->pdata[i]);
}

static char *
account_body_key(gint64 folder_id, guint32 uidvalidity, guint32 uid)
{
	return g_strdup_printf("%" G_GINT64_FORMAT "/%u/%u", folder_id,
	                       uidvalidity, uid);
}

/* Notes that message I of FOLDER_ID's listing is being read; returns how
 * many to read ahead with it if it must be fetched: 0 unless the RA_AFTER
 * read before were of the same folder, each just after the one before
 * (or one further). */
static guint
account_ra_note(MfAccount *a, gint64 folder_id, guint i)
{
	g_mutex_lock(&a->lock);
	gboolean seq = a->ra_folder == folder_id && i > a->ra_last &&
	               i - a->ra_last <= 2;
	a->ra_run = seq ? a->ra_run + 1 : 0;
	a->ra_window = a->ra_run < RA_AFTER ? 0
	             : a->ra_window ? MIN(a->ra_window * 2, RA_MAX) : RA_FIRST;
	a->ra_folder = folder_id;
	a->ra_last = i;
	guint w = a->ra_window;
	g_mutex_unlock(&a->lock);
	return w;
}

/* TRUE if M of L is worth reading ahead: not read back as written, and
 * no body file yet. */
static gboolean
account_ra_wanted(MfAccount *a, const MfListing *l, gint64 folder_id,
                  const MfRemoteMessage *m)
{
	guint64 size;

	if (listing_written(l, m->uid, &size))
		return FALSE;
	g_autofree char *path = store_body_file(a->store, folder_id,
	                                        l->uidvalidity, m->uid);
	return access(path, F_OK) != 0;
}

/* What to fetch for MSG (of L, index I): it, then up to WINDOW of the
 * uncached messages after it that no other thread fetches, each claimed
 * (their keys added to CLAIMED). */
static GArray *
account_ra_want(MfAccount *a, const MfListing *l, gint64 folder_id,
                guint i, guint window, GPtrArray *claimed)
{
	GArray *want = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));
	const MfRemoteMessage *msg = listing_at(l, i);
	guint64 budget = a->p.cache_max ? MIN(RA_MAX_BYTES, a->p.cache_max / 8)
	                                : RA_MAX_BYTES;
	guint64 bytes = 0;

	g_array_append_val(want, *msg);
	for (guint k = i + 1; k < listing_count(l) && k <= i + 2 * window &&
	     want->len <= window; k++) {
		const MfRemoteMessage *m = listing_at(l, k);
		if (bytes + m->size > budget ||
		    !account_ra_wanted(a, l, folder_id, m))
			continue;
		char *key = account_body_key(folder_id, l->uidvalidity, m->uid);
		if (!account_try_claim(a, key)) {
			g_free(key);
			continue;
		}
		g_ptr_array_add(claimed, key);
		g_array_append_val(want, *m);
		bytes += m->size;
	}
	return want;
}

/* The key of message UID of generation GEN in the set of bodies checked
 * in this run: its inode number, one word (the set holds every body read
 * since the mount, so it must stay small). */
static gpointer
account_verified_key(gint64 gen, guint32 uid)
{
	return GSIZE_TO_POINTER(((gsize)gen << 32) | uid);
}

/* Records a read for the eviction order; only needed with a budget. */
static void
account_touch(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
              guint32 uid)
{
	if (a->p.cache_max)
		store_body_touch(a->store, folder_id, uidvalidity, uid);
}

/* Opens a body checked earlier in this run straight from its file: the
 * hot path of a warm grep, with no index lookup (the caller checks the
 * size).  -1 if it must be looked up (not checked yet, or gone since). */
static int
account_open_verified(MfAccount *a, gint64 gen, gint64 folder_id,
                      guint32 uidvalidity, guint32 uid)
{
	gpointer key = account_verified_key(gen, uid);

	g_mutex_lock(&a->lock);
	gboolean known = g_hash_table_contains(a->verified, key);
	g_mutex_unlock(&a->lock);
	if (!known)
		return -1;
	g_autofree char *path = store_body_file(a->store, folder_id,
	                                        uidvalidity, uid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		account_touch(a, folder_id, uidvalidity, uid);
		return fd;
	}
	g_mutex_lock(&a->lock);
	g_hash_table_remove(a->verified, key);
	g_mutex_unlock(&a->lock);
	return -1;
}

/* Remembers that the body of UID of generation GEN passed its checks in
 * this run. */
static void
account_mark_verified(MfAccount *a, gint64 gen, guint32 uid)
{
	g_mutex_lock(&a->lock);
	g_hash_table_add(a->verified, account_verified_key(gen, uid));
	g_mutex_unlock(&a->lock);
}

/* A stored body of MSG, or -1: none, or (with ERR set) one that is not
 * served because its size is not the listed one.  That is logged when
 * the body is first checked in this run, not on every open. */
static int
account_open_stored(MfAccount *a, const MfListing *l, gint64 folder_id,
                    const MfRemoteMessage *msg, GError **err)
{
	g_autoptr(GError) why = NULL;
	guint32 uidvalidity = l->uidvalidity;
	gboolean fresh = FALSE;
	struct stat st;
	int fd = account_open_verified(a, l->gen, folder_id, uidvalidity,
	                               msg->uid);

	if (fd < 0) {
		fd = store_body_open(a->store, folder_id, uidvalidity, msg->uid,
		                     TRUE, NULL);
		fresh = fd >= 0;
		if (fresh) {
			account_mark_verified(a, l->gen, msg->uid);
			account_touch(a, folder_id, uidvalidity, msg->uid);
		}
	}
	if (fd < 0 || fstat(fd, &st) != 0 ||
	    account_body_size_ok(msg->size, (guint64)st.st_size, &why))
		return fd;
	close(fd);
	if (fresh)
		account_body_warn(a, folder_id, msg->uid, why);
	g_propagate_error(err, g_steal_pointer(&why));
	return -1;
}

/* Fetches message I of L (and WINDOW more to read ahead) and opens it;
 * its key is claimed. */
static int
account_fetch_open(MfAccount *a, const MfListing *l, gint64 folder_id,
                   guint i, guint window, GError **err)
{
	g_autoptr(GPtrArray) claimed = g_ptr_array_new_with_free_func(g_free);
	guint32 uid = listing_at(l, i)->uid;
	FetchCtx c = { a, NULL, folder_id, l->uidvalidity, uid,
	               account_ra_want(a, l, folder_id, i, window, claimed),
	               FALSE, NULL, NULL, { 0 } };
	int fd = -1;

	if (account_fetch_body(a, &c, err)) {
		fd = store_body_open(a->store, folder_id, l->uidvalidity, uid,
		                     FALSE, err);
		if (fd >= 0) {
			account_mark_verified(a, l->gen, uid);
			account_touch(a, folder_id, l->uidvalidity, uid);
		}
	} else if (g_error_matches(*err, MF_ERROR, MF_ERROR_MESSAGE)) {
		account_body_warn(a, folder_id, uid, *err);
	}
	account_unclaim_all(a, claimed);
	g_array_unref(c.want);
	if (fd >= 0) /* the cache grew */
		account_evict(a);
	return fd;
}

/* The body of message I of L (FOLDER_ID): from the store, else fetched
 * by one thread while the others wait for it, with WINDOW more read
 * ahead. */
static int
account_open_body(MfAccount *a, const MfListing *l, gint64 folder_id,
                  guint i, guint window, GError **err)
{
	const MfRemoteMessage *msg = listing_at(l, i);
	guint32 uidvalidity = l->uidvalidity;
	g_autofree char *key = account_body_key(folder_id, uidvalidity,
	                                        msg->uid);
	GError *e = NULL;
	int fd = account_open_stored(a, l, folder_id, msg, &e);

	if (fd >= 0 || e) {
		if (e)
			g_propagate_error(err, e);
		return fd;
	}
	if (!account_may_try(a)) {
		account_set_offline_error(a, err);
		return -1;
	}
	account_claim(a, key);
	fd = account_open_stored(a, l, folder_id, msg, &e);
	if (fd < 0 && !e)
		fd = account_fetch_open(a, l, folder_id, i, window, &e);
	if (e)
		g_propagate_error(err, e);
	account_unclaim(a, key);
	return fd;
}

/* The current listing of GEN's folder, if it is still that generation. */
static MfListing *
account_generation_listing(MfAccount *a, gint64 gen, gint64 *folder_id,
                           GError **err)
{
	if (!account_generation_folder(a, gen, folder_id, NULL)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such message");
		return NULL;
	}
	MfListing *l = account_listing(a, *folder_id, err);
	if (l && l->gen != gen) {
		listing_unref(l);
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "the folder was recreated; message is gone");
		return NULL;
	}
	return l;
}

/* A message moved here to another folder: its new name, once. */
static gboolean
account_body_forward(MfAccount *a, MfListing **l, gint64 *gen, guint32 *uid,
                     gint64 *folder_id, GError **err)
{
	if (!*l || !account_moved_to(a, *gen, *uid, gen, uid))
		return FALSE;
	listing_unref(*l);
	g_clear_error(err);
	*l = account_generation_listing(a, *gen, folder_id, err);
	return *l != NULL;
}

gboolean
account_message(MfAccount *a, gint64 gen, guint32 uid, MfRemoteMessage *out,
                GError **err)
{
	gint64 folder_id;
	MfListing *l = account_generation_listing(a, gen, &folder_id, err);
	const MfRemoteMessage *m = l ? listing_find(l, uid) : NULL;

	if (!m && account_body_forward(a, &l, &gen, &uid, &folder_id, err))
		m = listing_find(l, uid);

	if (m) {
		*out = *m;
		listing_alias(l, m, &out->size);
	} else if (l)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "message %u is gone", uid);
	listing_unref(l);
	return m != NULL;
}

int
account_open_message(MfAccount *a, gint64 gen, guint32 uid, GError **err)
{
	gint64 folder_id;
	MfListing *l = account_generation_listing(a, gen, &folder_id, err);
	const MfRemoteMessage *m = l ? listing_find(l, uid) : NULL;

	if (!m && account_body_forward(a, &l, &gen, &uid, &folder_id, err))
		m = listing_find(l, uid);
	guint64 size = 0;
	const char *written = m ? listing_written(l, uid, &size) : NULL;
	int fd = -1;

	if (l && !m)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "message %u is gone", uid);
	else if (written)
		fd = account_open_written(a, written, size, err);
	else if (l) {
		guint i = (guint)(m - listing_at(l, 0));
		guint window = account_ra_note(a, folder_id, i);
		fd = account_open_body(a, l, folder_id, i, window, err);
	}
	listing_unref(l);
	return fd;
}

