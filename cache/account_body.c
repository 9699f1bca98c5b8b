/* account_body.c - message bodies of an account: served from the store
 * (checked once per run, then opened straight from their files), else
 * fetched by one thread while others asking for the same body wait. */
#include "cache/account_int.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"

typedef struct {
	MfAccount *a;
	const MfFolder *folder;
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;
	guint64 size;           /* as listed: what stat shows */
	gboolean stored;
	const char *key;
	GError *refused;        /* the body came but was not stored: why */
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

static gpointer
account_sink_open(guint64 size, void *ud, GError **err)
{
	FetchCtx *c = ud;
	return store_body_begin(c->a->store, err);
}

static gboolean
account_sink_write(gpointer sink, const char *data, size_t len, GError **err)
{
	return store_body_write(sink, data, len, err);
}

static gboolean
account_sink_finish(gpointer sink, guint32 uid, void *ud, GError **err)
{
	FetchCtx *c = ud;

	if (uid != c->uid || c->refused) {
		store_body_abort(sink);
		return TRUE;
	}
	/* Refused without failing the fetch: the server's reply to it is
	 * still to be read. */
	if (!account_body_size_ok(c->size, store_body_size(sink),
	                          &c->refused)) {
		store_body_abort(sink);
		return TRUE;
	}
	if (!store_body_commit(c->a->store, sink, c->folder_id, c->uidvalidity,
	                       uid, err))
		return FALSE;
	c->stored = TRUE;
	return TRUE;
}

static void
account_sink_abort(gpointer sink)
{
	store_body_abort(sink);
}

static const MfBodySink account_sink = {
	.open = account_sink_open,
	.write = account_sink_write,
	.finish = account_sink_finish,
	.abort = account_sink_abort,
};

static gboolean
account_fetch_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	FetchCtx *c = ud;
	MfRemoteMessage m = { .uid = c->uid, .key = c->key };
	return a->backend->fetch_bodies(s, c->folder->name, c->uidvalidity,
	                                &m, 1, &account_sink, c, err);
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
		ok = account_with_session(a, account_fetch_cb, c, err);
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

/* Opens a body checked earlier in this run straight from its file: the
 * hot path of a warm grep, with no index lookup.  -1 if it must be looked
 * up (not checked yet, or gone since). */
static int
account_open_verified(MfAccount *a, const char *key, gint64 folder_id,
                      guint32 uidvalidity, guint32 uid)
{
	struct stat st;

	g_mutex_lock(&a->lock);
	gpointer size = g_hash_table_lookup(a->verified, key);
	g_mutex_unlock(&a->lock);
	if (!size)
		return -1;
	g_autofree char *path = store_body_file(a->store, folder_id,
	                                        uidvalidity, uid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (guint64)st.st_size + 1 == GPOINTER_TO_SIZE(size)) {
		store_body_touch(a->store, folder_id, uidvalidity, uid);
		return fd;
	}
	if (fd >= 0)
		close(fd);
	g_mutex_lock(&a->lock);
	g_hash_table_remove(a->verified, key);
	g_mutex_unlock(&a->lock);
	return -1;
}

/* Remembers that KEY's body (of FD) passed its checks in this run. */
static void
account_mark_verified(MfAccount *a, const char *key, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return;
	g_mutex_lock(&a->lock);
	g_hash_table_replace(a->verified, g_strdup(key),
	                     GSIZE_TO_POINTER((gsize)st.st_size + 1));
	g_mutex_unlock(&a->lock);
}

/* A stored body of MSG, or -1: none, or (with ERR set) one that is not
 * served because its size is not the listed one.  That is logged when
 * the body is first checked in this run, not on every open. */
static int
account_open_stored(MfAccount *a, const char *key, gint64 folder_id,
                    guint32 uidvalidity, const MfRemoteMessage *msg,
                    GError **err)
{
	g_autoptr(GError) why = NULL;
	gboolean fresh = FALSE;
	struct stat st;
	int fd = account_open_verified(a, key, folder_id, uidvalidity,
	                               msg->uid);

	if (fd < 0) {
		fd = store_body_open(a->store, folder_id, uidvalidity, msg->uid,
		                     TRUE, NULL);
		fresh = fd >= 0;
		if (fresh)
			account_mark_verified(a, key, fd);
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

/* The body of UID in FOLDER_ID/UIDVALIDITY: from the store, else fetched
 * by one thread while the others wait for it. */
static int
account_open_body(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
                  const MfRemoteMessage *msg, GError **err)
{
	guint32 uid = msg->uid;
	g_autofree char *key = g_strdup_printf("%" G_GINT64_FORMAT "/%u/%u",
	                                       folder_id, uidvalidity, uid);
	GError *e = NULL;
	int fd = account_open_stored(a, key, folder_id, uidvalidity, msg, &e);

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
	fd = account_open_stored(a, key, folder_id, uidvalidity, msg, &e);
	if (fd < 0 && !e) {
		FetchCtx c = { a, NULL, folder_id, uidvalidity, uid, msg->size,
		               FALSE, msg->key, NULL };
		if (account_fetch_body(a, &c, &e)) {
			fd = store_body_open(a->store, folder_id, uidvalidity,
			                     uid, FALSE, &e);
			if (fd >= 0)
				account_mark_verified(a, key, fd);
		} else if (g_error_matches(e, MF_ERROR, MF_ERROR_MESSAGE)) {
			account_body_warn(a, folder_id, uid, e);
		}
	}
	if (e)
		g_propagate_error(err, e);
	account_unclaim(a, key);
	if (fd >= 0)
		account_evict(a);
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
	else if (l)
		fd = account_open_body(a, folder_id, l->uidvalidity, m, err);
	listing_unref(l);
	return fd;
}

