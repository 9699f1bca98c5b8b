/* storeall.c - listing a folder of a STORE_ALL backend (POP3): every
 * message the server lists is downloaded into the store at once, and the
 * listing is what is stored.  Messages no longer on the server stay listed
 * and become the only copy (pinned).  With leave_on_server off, messages
 * are deleted on the server only once their bodies are durable here. */
#include "cache/storeall.h"

#include <fcntl.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"

#define STOREALL_UIDVALIDITY 1
#define HEADER_READ_MAX 65536

typedef struct {
	MfAccount *a;
	gint64 folder_id;
	StoreBatch *batch;
} StoreAllCtx;

static gpointer
storeall_open_cb(guint64 size, void *ud, GError **err)
{
	StoreAllCtx *c = ud;
	return store_body_begin(account_store(c->a), err);
}

static gboolean
storeall_write_cb(gpointer sink, const char *data, size_t len, GError **err)
{
	return store_body_write(sink, data, len, err);
}

static gboolean
storeall_finish_cb(gpointer sink, guint32 uid, void *ud, GError **err)
{
	StoreAllCtx *c = ud;
	return store_batch_add(account_store(c->a), c->batch, sink, c->folder_id,
	                       STOREALL_UIDVALIDITY, uid, err);
}

static void
storeall_abort_cb(gpointer sink)
{
	store_body_abort(sink);
}

static const MfBodySink storeall_sink = {
	.open = storeall_open_cb,
	.write = storeall_write_cb,
	.finish = storeall_finish_cb,
	.abort = storeall_abort_cb,
};

/* The Date header of the message in PATH, or -1. */
static gint64
storeall_header_date(const char *path)
{
	static gsize init;
	g_autofree char *buf = g_malloc(HEADER_READ_MAX + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, HEADER_READ_MAX) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (g_once_init_enter(&init)) {
		g_mime_init();
		g_once_init_leave(&init, 1);
	}
	/* Header lines up to the first empty line; Date may be folded. */
	for (char *line = buf; *line && *line != '\r' && *line != '\n';) {
		char *end = strchr(line, '\n');
		if (g_ascii_strncasecmp(line, "Date:", 5) == 0) {
			GString *v = g_string_new_len(line + 5, end ? end - line - 5
			                                            : -1);
			for (char *c = end; c && (c[1] == ' ' || c[1] == '\t');
			     c = strchr(c + 1, '\n'))
				g_string_append_len(v, c + 1, strcspn(c + 1, "\n"));
			GDateTime *t = g_mime_utils_header_decode_date(v->str);
			g_string_free(v, TRUE);
			gint64 secs = t ? g_date_time_to_unix(t) : -1;
			if (t)
				g_date_time_unref(t);
			return secs;
		}
		if (!end)
			break;
		line = end + 1;
	}
	return -1;
}

/* The listing entry of a stored body: exact size, date from its header
 * (or now, when it has none). */
static gboolean
storeall_describe(MfAccount *a, gint64 folder_id, MfRemoteMessage *m)
{
	g_autofree char *path = store_body_file(account_store(a), folder_id,
	                                        STOREALL_UIDVALIDITY, m->uid);
	struct stat st;

	if (stat(path, &st) != 0)
		return FALSE;
	m->size = (guint64)st.st_size;
	m->date = storeall_header_date(path);
	if (m->date < 0)
		m->date = g_get_real_time() / G_USEC_PER_SEC;
	m->flags = g_intern_string("");
	return TRUE;
}

static gboolean
storeall_fetch(MfAccount *a, MfSession *s, const MfFolder *f, GArray *want,
               GError **err)
{
	StoreAllCtx c = { a, f->id, store_batch_new() };
	gboolean ok = want->len == 0 ||
	              account_backend(a)->fetch_bodies(
	                      s, f->name, STOREALL_UIDVALIDITY,
	                      (const MfRemoteMessage *)want->data, want->len,
	                      &storeall_sink, &c, err);
	/* Keep what arrived even if the fetch broke off. */
	g_autoptr(GError) cerr = NULL;
	if (!store_batch_commit(account_store(a), c.batch, &cerr) && ok) {
		g_propagate_error(err, g_steal_pointer(&cerr));
		ok = FALSE;
	}
	store_batch_free(c.batch);
	return ok;
}

/* Old entries, plus every remote message now stored: the new listing. */
static GArray *
storeall_merge(MfAccount *a, const MfFolder *f, const MfListing *old,
               GArray *remote, GHashTable *have)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));
	g_autoptr(GHashTable) listed = g_hash_table_new(NULL, NULL);

	for (guint i = 0; old && i < listing_count(old); i++) {
		const MfRemoteMessage *m = listing_at(old, i);
		g_array_append_val(out, *m);
		g_hash_table_add(listed, GUINT_TO_POINTER(m->uid));
	}
	for (guint i = 0; i < remote->len; i++) {
		MfRemoteMessage m = g_array_index(remote, MfRemoteMessage, i);
		if (g_hash_table_contains(listed, GUINT_TO_POINTER(m.uid)) ||
		    !g_hash_table_contains(have, GUINT_TO_POINTER(m.uid)) ||
		    !storeall_describe(a, f->id, &m))
			continue;
		g_array_append_val(out, m);
	}
	g_array_sort(out, store_uid_compare);
	return out;
}

/* Pins every listed body that is not on the server (any more), or all of
 * them when ALL: the store holds the only copy. */
static void
storeall_pin(MfAccount *a, const MfFolder *f, GArray *msgs, GArray *remote,
             gboolean all)
{
	g_autoptr(GHashTable) on_server = g_hash_table_new(NULL, NULL);

	for (guint i = 0; i < remote->len; i++)
		g_hash_table_add(on_server, GUINT_TO_POINTER(
			g_array_index(remote, MfRemoteMessage, i).uid));
	for (guint i = 0; i < msgs->len; i++) {
		guint32 uid = g_array_index(msgs, MfRemoteMessage, i).uid;
		if (all || !g_hash_table_contains(on_server, GUINT_TO_POINTER(uid)))
			store_body_pin(account_store(a), f->id,
			               STOREALL_UIDVALIDITY, uid, NULL);
	}
}

/* Deletes from the server the messages of REMOTE that are stored. */
static gboolean
storeall_delete(MfAccount *a, MfSession *s, const MfFolder *f, GArray *remote,
                GHashTable *have, GError **err)
{
	g_autoptr(GArray) del = g_array_new(FALSE, FALSE,
	                                    sizeof(MfRemoteMessage));

	for (guint i = 0; i < remote->len; i++) {
		const MfRemoteMessage *m = &g_array_index(remote, MfRemoteMessage,
		                                          i);
		if (g_hash_table_contains(have, GUINT_TO_POINTER(m->uid)))
			g_array_append_val(del, *m);
	}
	if (del->len == 0 || !account_backend(a)->delete_messages)
		return TRUE;
	g_message("deleting %u stored messages from the server", del->len);
	return account_backend(a)->delete_messages(
		s, f->name, STOREALL_UIDVALIDITY,
		(const MfRemoteMessage *)del->data, del->len, err);
}

gboolean
storeall_list(MfAccount *a, MfSession *s, const MfFolder *f,
              const MfListing *old, gboolean leave_on_server,
              MfFolderStatus *st, GArray **out, GError **err)
{
	Store *store = account_store(a);
	g_autoptr(GArray) remote = NULL;

	if (!account_backend(a)->list_messages(s, f->name, st, &remote, err) ||
	    !store_keys_assign(store, f->id, remote, err))
		return FALSE;
	g_autoptr(GHashTable) have = store_bodies_cached(store, f->id,
	                                                 STOREALL_UIDVALIDITY, err);
	if (!have)
		return FALSE;
	g_autoptr(GArray) want = g_array_new(FALSE, FALSE,
	                                     sizeof(MfRemoteMessage));
	for (guint i = 0; i < remote->len; i++) {
		const MfRemoteMessage *m = &g_array_index(remote, MfRemoteMessage,
		                                          i);
		if (!g_hash_table_contains(have, GUINT_TO_POINTER(m->uid)))
			g_array_append_val(want, *m);
	}
	gboolean ok = storeall_fetch(a, s, f, want, err);
	g_hash_table_unref(g_steal_pointer(&have));
	have = store_bodies_cached(store, f->id, STOREALL_UIDVALIDITY, NULL);
	if (!have)
		return FALSE;
	GArray *msgs = storeall_merge(a, f, old, remote, have);
	storeall_pin(a, f, msgs, remote, !leave_on_server);
	if (ok && !leave_on_server)
		ok = storeall_delete(a, s, f, remote, have, err);
	st->uidvalidity = STOREALL_UIDVALIDITY;
	st->count = msgs->len;
	*out = msgs;
	return TRUE;
}
