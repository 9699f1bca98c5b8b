/* storeall.c - listing a folder of a STORE_ALL backend (POP3): every
 * message the server lists is downloaded into the store at once, and the
 * listing is what is stored.  Messages no longer on the server stay listed
 * and become the only copy (pinned).  With leave_on_server off, messages
 * are deleted on the server only once their bodies are durable here, and
 * only when what arrived agrees with the size the server announced. */
#include "cache/storeall.h"

#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/body_sink.h"
#include "cache/gmime_auto.h"
#include "net/mf_error.h"

#define STOREALL_UIDVALIDITY 1
#define HEADER_READ_MAX 65536

/* Logs "message KEY: WHY" once per process: the same message is met
 * again at every check. */
static void G_GNUC_PRINTF(2, 3)
storeall_warn_once(const char *key, const char *fmt, ...)
{
	static GMutex lock;
	static GHashTable *said;
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *line = g_strdup_printf("message %s: %s", key, why);
	g_mutex_lock(&lock);
	if (!said)
		said = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
		                             NULL);
	gboolean first = !g_hash_table_contains(said, line);
	if (first)
		g_hash_table_add(said, g_strdup(line));
	g_mutex_unlock(&lock);
	if (first)
		g_warning("%s", line);
}

typedef struct {
	MfAccount *a;
	gint64 folder_id;
	StoreBatch *batch;
	GArray *want;       /* MfRemoteMessage: what is being fetched */
} StoreAllCtx;

/* The server's name for UID among C's messages. */
static const char *
storeall_key_of(const StoreAllCtx *c, guint32 uid)
{
	for (guint i = 0; i < c->want->len; i++) {
		const MfRemoteMessage *m = &g_array_index(c->want,
		                                          MfRemoteMessage, i);
		if (m->uid == uid)
			return m->key;
	}
	return "?";
}

/* An empty body is not stored: the server is asked again at the next
 * check (and, not stored, it is never deleted there). */
static gboolean
storeall_accept_cb(guint32 uid, guint64 size, void *ud)
{
	StoreAllCtx *c = ud;

	if (size == 0)
		storeall_warn_once(storeall_key_of(c, uid), "it arrived empty: "
		                   "not stored, and kept on the server (asked "
		                   "for again at the next check)");
	return size > 0;
}

gint64
storeall_header_date(const char *path)
{
	g_autofree char *buf = g_malloc(HEADER_READ_MAX + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, HEADER_READ_MAX) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	summary_gmime_init();
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
	StoreAllCtx c = { a, f->id, store_batch_new(), want };
	BodySink k = { .store = account_store(a), .batch = c.batch,
	               .folder_id = f->id, .uidvalidity = STOREALL_UIDVALIDITY,
	               .accept = storeall_accept_cb, .ud = &c };
	gboolean ok = want->len == 0 ||
	              account_backend(a)->fetch_bodies(
	                      s, f->name, STOREALL_UIDVALIDITY,
	                      (const MfRemoteMessage *)want->data, want->len,
	                      &body_sink, &k, err);
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

gboolean
storeall_shape_of(const char *path, StoreAllShape *shape, GError **err)
{
	char buf[65536];
	gboolean line_start = TRUE;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	memset(shape, 0, sizeof *shape);
	if (fd < 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot read %s: %s",
		            path, g_strerror(errno));
		return FALSE;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < n; i++) {
			shape->dotted += line_start && buf[i] == '.';
			shape->lines += buf[i] == '\n';
			line_start = buf[i] == '\n';
		}
		shape->bytes += n > 0 ? (guint64)n : 0;
	}
	int e = errno;
	close(fd);
	if (n < 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot read %s: %s",
		            path, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

gboolean
storeall_size_agrees(guint64 listed, const StoreAllShape *got)
{
	guint64 low = got->bytes > got->lines + 2 ? got->bytes - got->lines - 2
	                                          : 0;

	return got->bytes > 0 && listed >= low &&
	       listed <= got->bytes + got->dotted;
}

/* TRUE if the stored body of M agrees with the size the server lists for
 * it now; if not, says why (once). */
static gboolean
storeall_may_delete(MfAccount *a, const MfFolder *f, const MfRemoteMessage *m)
{
	g_autofree char *path = store_body_file(account_store(a), f->id,
	                                        STOREALL_UIDVALIDITY, m->uid);
	g_autoptr(GError) e = NULL;
	StoreAllShape got;

	if (!storeall_shape_of(path, &got, &e)) {
		storeall_warn_once(m->key, "kept on the server: %s", e->message);
		return FALSE;
	}
	if (got.bytes == 0) {
		storeall_warn_once(m->key, "kept on the server: it arrived empty");
		return FALSE;
	}
	if (!storeall_size_agrees(m->size, &got)) {
		storeall_warn_once(m->key, "kept on the server: it arrived as %"
		                   G_GUINT64_FORMAT " bytes, but the server "
		                   "announced %" G_GUINT64_FORMAT " (a download "
		                   "cut short or damaged; remove it on the server "
		                   "by hand once it reads whole)", got.bytes,
		                   m->size);
		return FALSE;
	}
	return TRUE;
}

/* Deletes from the server the messages of REMOTE that are stored whole. */
static gboolean
storeall_delete(MfAccount *a, MfSession *s, const MfFolder *f, GArray *remote,
                GHashTable *have, GError **err)
{
	g_autoptr(GArray) del = g_array_new(FALSE, FALSE,
	                                    sizeof(MfRemoteMessage));

	for (guint i = 0; i < remote->len; i++) {
		const MfRemoteMessage *m = &g_array_index(remote, MfRemoteMessage,
		                                          i);
		if (g_hash_table_contains(have, GUINT_TO_POINTER(m->uid)) &&
		    storeall_may_delete(a, f, m))
			g_array_append_val(del, *m);
	}
	if (del->len == 0 || !account_backend(a)->delete_messages)
		return TRUE;
	g_message("deleting %u stored messages from the server", del->len);
	return account_backend(a)->delete_messages(
		s, f->name, STOREALL_UIDVALIDITY,
		(const MfRemoteMessage *)del->data, del->len, err);
}

/* The messages of REMOTE whose UIDs are not in HAVE; a new array. */
static GArray *
storeall_missing(GArray *remote, GHashTable *have)
{
	GArray *want = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));

	for (guint i = 0; i < remote->len; i++) {
		const MfRemoteMessage *m = &g_array_index(remote, MfRemoteMessage,
		                                          i);
		if (!g_hash_table_contains(have, GUINT_TO_POINTER(m->uid)))
			g_array_append_val(want, *m);
	}
	return want;
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
	g_autoptr(GArray) want = storeall_missing(remote, have);
	/* A download that broke off, or a deletion that failed, still
	 * leaves a listing of what is stored: said in the log, not
	 * returned (nothing is deleted after a broken download). */
	g_autoptr(GError) e = NULL;
	gboolean fetched = mf_error_check(storeall_fetch(a, s, f, want, &e),
	                                  &e, "a POP3 download");
	if (!fetched)
		g_warning("%s: downloading new messages: %s", f->path,
		          e->message);
	g_hash_table_unref(g_steal_pointer(&have));
	have = store_bodies_cached(store, f->id, STOREALL_UIDVALIDITY, err);
	if (!have)
		return FALSE;
	GArray *msgs = storeall_merge(a, f, old, remote, have);
	storeall_pin(a, f, msgs, remote, !leave_on_server);
	g_clear_error(&e);
	if (fetched && !leave_on_server &&
	    !mf_error_check(storeall_delete(a, s, f, remote, have, &e), &e,
	                    "a POP3 deletion"))
		g_warning("%s: deleting stored messages on the server: %s",
		          f->path, e->message);
	st->uidvalidity = STOREALL_UIDVALIDITY;
	st->count = msgs->len;
	*out = msgs;
	return TRUE;
}
