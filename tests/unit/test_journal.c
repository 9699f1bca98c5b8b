/* test_journal.c - the journal of changes (cache/journal.c) and the names
 * given through the mount (cache/account_names.c) against a fake backend
 * held in memory: appends whose reply was lost are found, not appended
 * twice; a replacement removes the old message only after the new one is
 * there, and not at all when the append is refused; a change made offline
 * shows under its name at once and gets its real UID when replayed; a
 * change for a folder recreated with a new UIDVALIDITY is dropped; a
 * cached body that fails its checksum is fetched again. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/account.h"
#include "cache/account_change.h"
#include "cache/journal.h"
#include "net/mf_error.h"

/* --- a mail server in memory -------------------------------------------- */

typedef struct {
	guint32 uid;
	GBytes *body;
	char *flags;
} FakeMessage;

typedef struct {
	char *name;
	guint32 uidvalidity;
	guint32 uidnext;
	GArray *msgs; /* FakeMessage */
} FakeFolder;

static struct {
	GMutex lock;
	GPtrArray *folders;   /* FakeFolder* */
	gboolean down;        /* connect fails */
	gboolean lose_reply;  /* the next append is stored, then UNSURE */
	gboolean refuse;      /* appends are refused */
	guint appends, searches, fetches;
	guint resyncs, fulls;  /* resync_messages calls; full listings */
} fake;

struct MfSession {
	int unused;
};

static FakeFolder *
fake_folder(const char *name)
{
	for (guint i = 0; i < fake.folders->len; i++) {
		FakeFolder *f = fake.folders->pdata[i];
		if (strcmp(f->name, name) == 0)
			return f;
	}
	g_error("fake: no folder %s", name); /* a broken test */
}

static void
fake_add_folder(const char *name, guint32 uidvalidity)
{
	FakeFolder *f = g_new0(FakeFolder, 1);

	f->name = g_strdup(name);
	f->uidvalidity = uidvalidity;
	f->uidnext = 1;
	f->msgs = g_array_new(FALSE, TRUE, sizeof(FakeMessage));
	g_ptr_array_add(fake.folders, f);
}

static guint32
fake_store(FakeFolder *f, const char *data, gsize len, const char *flags)
{
	FakeMessage m = { .uid = f->uidnext++,
	                  .body = g_bytes_new(data, len),
	                  .flags = g_strdup(flags ? flags : "") };
	g_array_append_val(f->msgs, m);
	return m.uid;
}

/* How many messages of FOLDER hold NEEDLE. */
static guint
fake_count(const char *folder, const char *needle)
{
	FakeFolder *f = fake_folder(folder);
	guint n = 0;

	for (guint i = 0; i < f->msgs->len; i++) {
		gsize len;
		const char *d = g_bytes_get_data(
			g_array_index(f->msgs, FakeMessage, i).body, &len);
		g_autofree char *s = g_strndup(d, len);
		n += strstr(s, needle) != NULL;
	}
	return n;
}

static gboolean
fake_down(GError **err)
{
	if (!fake.down)
		return FALSE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION, "fake: down");
	return TRUE;
}

static MfSession *
fake_connect(const MfBackendParams *p, GError **err)
{
	if (fake_down(err))
		return NULL;
	return g_new0(MfSession, 1);
}

static void
fake_disconnect(MfSession *s)
{
	g_free(s);
}

static gboolean
fake_list_folders(MfSession *s, GPtrArray **out, GError **err)
{
	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	*out = g_ptr_array_new_with_free_func((GDestroyNotify)remote_folder_free);
	for (guint i = 0; i < fake.folders->len; i++) {
		FakeFolder *f = fake.folders->pdata[i];
		MfRemoteFolder *r = g_new0(MfRemoteFolder, 1);
		r->name = g_strdup(f->name);
		r->path = g_strdup(f->name);
		r->flags = strcmp(f->name, "Trash") == 0 ? MF_FOLDER_TRASH : 0;
		g_ptr_array_add(*out, r);
	}
	g_mutex_unlock(&fake.lock);
	return TRUE;
}

static gboolean
fake_list_messages(MfSession *s, const char *folder, MfFolderStatus *st,
                   GArray **msgs, GError **err)
{
	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	FakeFolder *f = fake_folder(folder);
	st->uidvalidity = f->uidvalidity;
	st->uidnext = f->uidnext;
	st->count = f->msgs->len;
	*msgs = g_array_new(FALSE, TRUE, sizeof(MfRemoteMessage));
	for (guint i = 0; i < f->msgs->len; i++) {
		FakeMessage *m = &g_array_index(f->msgs, FakeMessage, i);
		MfRemoteMessage r = { .uid = m->uid,
		                      .size = g_bytes_get_size(m->body),
		                      .date = 1700000000,
		                      .flags = g_intern_string(m->flags) };
		g_array_append_val(*msgs, r);
	}
	g_mutex_unlock(&fake.lock);
	return TRUE;
}

static gint
fake_uid_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = ((const MfRemoteMessage *)a)->uid;
	guint32 y = ((const MfRemoteMessage *)b)->uid;
	return x < y ? -1 : x > y;
}

/* The message UID of F, or NULL. */
static FakeMessage *
fake_find_uid(FakeFolder *f, guint32 uid)
{
	for (guint i = 0; i < f->msgs->len; i++)
		if (g_array_index(f->msgs, FakeMessage, i).uid == uid)
			return &g_array_index(f->msgs, FakeMessage, i);
	return NULL;
}

/* What changed since K, as a server with QRESYNC would say: a new
 * UIDVALIDITY is a full listing, else the known messages it no longer
 * has (stand-ins too), and the new or changed ones. */
static void
fake_delta(FakeFolder *f, const MfFolderKnown *k, MfFolderDelta *d)
{
	d->changed = g_array_new(FALSE, TRUE, sizeof(MfRemoteMessage));
	d->gone = g_array_new(FALSE, TRUE, sizeof(guint32));
	for (guint i = 0; i < k->n; i++) {
		FakeMessage *m = fake_find_uid(f, k->msgs[i].uid);
		MfRemoteMessage c = k->msgs[i];
		if (!m)
			g_array_append_val(d->gone, c.uid);
		else if (strcmp(m->flags, c.flags) != 0) {
			c.flags = g_intern_string(m->flags);
			g_array_append_val(d->changed, c);
		}
	}
	for (guint i = 0; i < f->msgs->len; i++) {
		FakeMessage *m = &g_array_index(f->msgs, FakeMessage, i);
		MfRemoteMessage key = { .uid = m->uid };
		if (bsearch(&key, k->msgs, k->n, sizeof key, fake_uid_cmp))
			continue;
		MfRemoteMessage r = { .uid = m->uid,
		                      .size = g_bytes_get_size(m->body),
		                      .date = 1700000000,
		                      .flags = g_intern_string(m->flags) };
		g_array_append_val(d->changed, r);
	}
	g_array_sort(d->changed, fake_uid_cmp);
	d->status = (MfFolderStatus){ f->uidvalidity, f->uidnext, f->msgs->len,
	                              0 };
}

static gboolean
fake_resync(MfSession *s, const char *folder, const MfFolderKnown *k,
            MfFolderDelta *d, GError **err)
{
	memset(d, 0, sizeof *d);
	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	FakeFolder *f = fake_folder(folder);
	gboolean full = k->status.uidvalidity != f->uidvalidity;
	fake.resyncs++;
	fake.fulls += full;
	if (!full)
		fake_delta(f, k, d);
	g_mutex_unlock(&fake.lock);
	d->full = full;
	return !full || fake_list_messages(s, folder, &d->status, &d->changed,
	                                   err);
}

/* Removes UID from FOLDER; returns its message (caller owns). */
static gboolean
fake_take(FakeFolder *f, guint32 uid, FakeMessage *out)
{
	for (guint i = 0; i < f->msgs->len; i++) {
		if (g_array_index(f->msgs, FakeMessage, i).uid != uid)
			continue;
		*out = g_array_index(f->msgs, FakeMessage, i);
		g_array_remove_index(f->msgs, i);
		return TRUE;
	}
	return FALSE;
}

static gboolean
fake_gone(GError **err)
{
	g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "fake: no such message");
	return FALSE;
}

static gboolean
fake_delete(MfSession *s, const char *folder, guint32 uidvalidity,
            const MfRemoteMessage *msgs, guint n, GError **err)
{
	FakeMessage m;

	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	gboolean ok = fake_folder(folder)->uidvalidity == uidvalidity &&
	              fake_take(fake_folder(folder), msgs[0].uid, &m);
	g_mutex_unlock(&fake.lock);
	if (!ok)
		return fake_gone(err);
	g_bytes_unref(m.body);
	g_free(m.flags);
	return TRUE;
}

static gboolean
fake_move(MfSession *s, const char *folder, guint32 uidvalidity,
          const MfRemoteMessage *msgs, guint n, const char *dest,
          guint32 *dest_uv, guint32 *new_uid, GError **err)
{
	FakeMessage m;

	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	FakeFolder *to = fake_folder(dest);
	gboolean ok = fake_folder(folder)->uidvalidity == uidvalidity &&
	              fake_take(fake_folder(folder), msgs[0].uid, &m);
	if (ok) {
		m.uid = to->uidnext++;
		g_array_append_val(to->msgs, m);
		*dest_uv = to->uidvalidity;
		*new_uid = m.uid;
	}
	g_mutex_unlock(&fake.lock);
	return ok ? TRUE : fake_gone(err);
}

static gboolean
fake_set_flags(MfSession *s, const char *folder, guint32 uidvalidity,
               guint32 uid, const char *flags, GError **err)
{
	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	FakeFolder *f = fake_folder(folder);
	gboolean ok = FALSE;
	for (guint i = 0; f->uidvalidity == uidvalidity && i < f->msgs->len;
	     i++) {
		FakeMessage *m = &g_array_index(f->msgs, FakeMessage, i);
		if (m->uid == uid) {
			g_free(m->flags);
			m->flags = g_strdup(flags);
			ok = TRUE;
		}
	}
	g_mutex_unlock(&fake.lock);
	return ok ? TRUE : fake_gone(err);
}

static gboolean
fake_append(MfSession *s, const char *folder, const char *flags, gint64 date,
            int fd, guint64 size, guint32 *uv, guint32 *uid, GError **err)
{
	g_autofree char *data = g_malloc(size + 1);

	if (fake_down(err))
		return FALSE;
	if (pread(fd, data, size, 0) != (ssize_t)size) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "fake: short read");
		return FALSE;
	}
	g_mutex_lock(&fake.lock);
	fake.appends++;
	gboolean refuse = fake.refuse, lose = fake.lose_reply;
	fake.lose_reply = FALSE;
	FakeFolder *f = fake_folder(folder);
	guint32 got = refuse ? 0 : fake_store(f, data, size, flags);
	*uv = f->uidvalidity;
	g_mutex_unlock(&fake.lock);
	if (refuse) {
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX, "fake: refused");
		return FALSE;
	}
	if (lose) {
		g_set_error(err, MF_ERROR, MF_ERROR_UNSURE, "fake: reply lost");
		return FALSE;
	}
	*uid = got;
	return TRUE;
}

static gboolean
fake_find(MfSession *s, const char *folder, const char *msgid, guint32 *uv,
          GArray **uids, GError **err)
{
	if (fake_down(err))
		return FALSE;
	g_mutex_lock(&fake.lock);
	fake.searches++;
	FakeFolder *f = fake_folder(folder);
	*uv = f->uidvalidity;
	*uids = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint i = 0; i < f->msgs->len; i++) {
		FakeMessage *m = &g_array_index(f->msgs, FakeMessage, i);
		gsize len;
		const char *d = g_bytes_get_data(m->body, &len);
		g_autofree char *text = g_strndup(d, len);
		if (strstr(text, msgid))
			g_array_append_val(*uids, m->uid);
	}
	g_mutex_unlock(&fake.lock);
	return TRUE;
}

static gboolean
fake_fetch(MfSession *s, const char *folder, guint32 uidvalidity,
           const MfRemoteMessage *msgs, guint n, const MfBodySink *sink,
           void *ud, GError **err)
{
	if (fake_down(err))
		return FALSE;
	for (guint i = 0; i < n; i++) {
		g_mutex_lock(&fake.lock);
		FakeFolder *f = fake_folder(folder);
		GBytes *body = NULL;
		for (guint j = 0; j < f->msgs->len; j++)
			if (g_array_index(f->msgs, FakeMessage, j).uid ==
			    msgs[i].uid)
				body = g_bytes_ref(g_array_index(
					f->msgs, FakeMessage, j).body);
		fake.fetches++;
		g_mutex_unlock(&fake.lock);
		if (!body)
			continue;
		gsize len;
		const char *data = g_bytes_get_data(body, &len);
		gpointer k = sink->open(len, ud, err);
		gboolean ok = k && sink->write(k, data, len, err) &&
		              sink->finish(k, msgs[i].uid, ud, err);
		if (k && !ok)
			sink->abort(k);
		g_bytes_unref(body);
		if (!ok)
			return FALSE;
	}
	return TRUE;
}

static const MfBackend fake_backend = {
	.name = "fake",
	.caps = MF_BACKEND_CAP_FOLDERS | MF_BACKEND_CAP_FLAGS |
	        MF_BACKEND_CAP_APPEND | MF_BACKEND_CAP_DELETE |
	        MF_BACKEND_CAP_WRITE,
	.connect = fake_connect,
	.disconnect = fake_disconnect,
	.list_folders = fake_list_folders,
	.list_messages = fake_list_messages,
	.resync_messages = fake_resync,
	.delete_messages = fake_delete,
	.move_messages = fake_move,
	.set_flags = fake_set_flags,
	.append = fake_append,
	.find_message_id = fake_find,
	.fetch_bodies = fake_fetch,
};

/* --- the account under test ---------------------------------------------- */

static char *cache_dir;
static MfAccount *the_account;

static void
setup(void)
{
	GError *err = NULL;
	MfAccountParams p = { .name = "t", .max_connections = 2,
	                      .refresh_interval = 3600, .poll_interval = 3600 };

	memset(&fake, 0, sizeof fake);
	g_mutex_init(&fake.lock);
	fake.folders = g_ptr_array_new();
	fake_add_folder("INBOX", 100);
	fake_add_folder("Work", 200);
	fake_add_folder("Trash", 300);
	cache_dir = g_dir_make_tmp("mailfs-journal-XXXXXX", NULL);
	p.cache_dir = cache_dir;
	the_account = account_open(&p, &fake_backend, &err);
	ck_assert_ptr_nonnull(the_account);
	ck_assert(account_connect(the_account, &err));
}

static void
teardown(void)
{
	account_close(the_account);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", cache_dir);
	ck_assert_int_eq(system(cmd), 0);
	g_free(cache_dir);
	for (guint i = 0; i < fake.folders->len; i++) {
		FakeFolder *f = fake.folders->pdata[i];
		for (guint j = 0; j < f->msgs->len; j++) {
			FakeMessage *m = &g_array_index(f->msgs, FakeMessage, j);
			g_bytes_unref(m->body);
			g_free(m->flags);
		}
		g_array_unref(f->msgs);
		g_free(f->name);
		g_free(f);
	}
	g_ptr_array_free(fake.folders, TRUE);
	g_mutex_clear(&fake.lock);
}

static gint64
folder_id(const char *name)
{
	gint64 id = account_find_folder(the_account, 0, name);
	ck_assert_int_ne(id, 0);
	return id;
}

/* Writes TEXT to a file as a user would; the path is owned. */
static char *
user_file(const char *text)
{
	char *path = g_build_filename(cache_dir, "user-file", NULL);
	ck_assert(g_file_set_contents(path, text, -1, NULL));
	return path;
}

/* The UID (and generation) of the message called NAME in FOLDER, or 0. */
static guint32
named(const char *folder, const char *name, gint64 *gen)
{
	GError *err = NULL;
	MfListing *l = account_listing(the_account, folder_id(folder), &err);
	const MfRemoteMessage *m = l ? listing_find_name(l, name) : NULL;
	guint32 uid = m ? m->uid : 0;

	if (gen && l)
		*gen = listing_generation(l);
	listing_unref(l);
	g_clear_error(&err);
	return uid;
}

/* Reads what the mount would show for FOLDER's NAME. */
static char *
read_named(const char *folder, const char *name)
{
	GError *err = NULL;
	gint64 gen = 0;
	guint32 uid = named(folder, name, &gen);
	ck_assert_uint_ne(uid, 0);
	int fd = account_open_message(the_account, gen, uid, &err);
	ck_assert_int_ge(fd, 0);
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	ck_assert_int_ge(n, 0);
	return g_strndup(buf, (gsize)n);
}

static void
expire(const char *folder)
{
	account_refresh_all(the_account);
	listing_unref(account_listing(the_account, folder_id(folder), NULL));
}

static gboolean
add(const char *folder, const char *name, const char *text, gint64 rgen,
    guint32 ruid, GError **err)
{
	g_autofree char *path = user_file(text);
	return account_add_message(the_account, folder_id(folder), name, path, 0,
	                           NULL, rgen, ruid, err);
}

#define DRAFT "Subject: draft\nMessage-ID: <d1@test>\n\nfirst\n"

/* Refreshes through resync_messages: an unchanged folder keeps its very
 * snapshot; flags changed, a message gone and one new are merged in; a
 * new UIDVALIDITY is listed in full. */
START_TEST(test_refresh_merges_changes)
{
	GError *err = NULL;
	FakeFolder *f = fake_folder("Work");
	gint64 id = folder_id("Work");

	for (int i = 0; i < 3; i++)
		fake_store(f, "Subject: x\n\nx\n", 14, "");
	MfListing *l1 = account_listing(the_account, id, &err);
	ck_assert_uint_eq(listing_count(l1), 3);
	ck_assert_uint_eq(fake.fulls, 1);
	expire("Work");
	MfListing *l2 = account_listing(the_account, id, &err);
	ck_assert_ptr_eq(l1, l2);
	ck_assert_uint_eq(fake.fulls, 1);
	g_mutex_lock(&fake.lock);
	FakeMessage *two = fake_find_uid(f, 2);
	ck_assert_ptr_nonnull(two);
	g_free(two->flags);
	two->flags = g_strdup("\\Seen");
	FakeMessage gone;
	ck_assert(fake_take(f, 1, &gone));
	g_bytes_unref(gone.body);
	g_free(gone.flags);
	g_mutex_unlock(&fake.lock);
	fake_store(f, "Subject: y\n\ny\n", 14, "$x");
	expire("Work");
	MfListing *l3 = account_listing(the_account, id, &err);
	ck_assert_uint_eq(listing_count(l3), 3);
	ck_assert_uint_eq(listing_at(l3, 0)->uid, 2);
	ck_assert_str_eq(listing_at(l3, 0)->flags, "\\Seen");
	ck_assert_uint_eq(listing_at(l3, 0)->size, 14);
	ck_assert_uint_eq(listing_at(l3, 2)->uid, 4);
	ck_assert_str_eq(listing_at(l3, 2)->flags, "$x");
	ck_assert_uint_eq(fake.fulls, 1);
	f->uidvalidity = 201;
	expire("Work");
	MfListing *l4 = account_listing(the_account, id, &err);
	ck_assert_uint_eq(listing_uidvalidity(l4), 201);
	ck_assert_uint_eq(fake.fulls, 2);
	ck_assert_uint_ge(fake.resyncs, 4);
	listing_unref(l1);
	listing_unref(l2);
	listing_unref(l3);
	listing_unref(l4);
}
END_TEST

START_TEST(test_append_keeps_name_and_bytes)
{
	GError *err = NULL;

	ck_assert(add("INBOX", "draft.eml", DRAFT, 0, 0, &err));
	ck_assert_uint_eq(fake_count("INBOX", "<d1@test>"), 1);
	expire("INBOX");
	ck_assert_uint_ne(named("INBOX", "draft.eml", NULL), 0);
	/* It reads back as written (LF), not as sent (CRLF). */
	g_autofree char *text = read_named("INBOX", "draft.eml");
	ck_assert_str_eq(text, DRAFT);
	ck_assert_uint_eq(journal_count(the_account), 0);
}
END_TEST

START_TEST(test_lost_reply_is_found_not_sent_again)
{
	GError *err = NULL;

	fake.lose_reply = TRUE;
	/* Recorded: the reply was lost, so it waits for the account. */
	ck_assert(add("INBOX", "lost.eml", "Subject: x\n\nlost\n", 0, 0, &err));
	ck_assert_uint_eq(fake_count("INBOX", "lost"), 1);
	ck_assert_uint_eq(journal_count(the_account), 1);
	account_refresh_all(the_account); /* reconnect now, then replay */
	for (int i = 0; i < 200 && journal_count(the_account) > 0; i++)
		g_usleep(20000);
	ck_assert_uint_eq(journal_count(the_account), 0);
	ck_assert_uint_eq(fake.appends, 1);
	ck_assert_uint_ge(fake.searches, 1);
	ck_assert_uint_eq(fake_count("INBOX", "lost"), 1);
	expire("INBOX");
	g_autofree char *text = read_named("INBOX", "lost.eml");
	ck_assert_str_eq(text, "Subject: x\n\nlost\n");
}
END_TEST

START_TEST(test_replace_removes_old_after_new)
{
	GError *err = NULL;
	gint64 gen = 0;

	ck_assert(add("INBOX", "draft.eml", DRAFT, 0, 0, &err));
	expire("INBOX");
	guint32 old = named("INBOX", "draft.eml", &gen);
	ck_assert(add("INBOX", "draft.eml", "Subject: draft\n\nsecond\n", gen,
	              old, &err));
	ck_assert_uint_eq(fake_count("INBOX", "second"), 1);
	ck_assert_uint_eq(fake_count("INBOX", "first"), 0);
	ck_assert_uint_eq(fake_count("Trash", "first"), 1);
	expire("INBOX");
	g_autofree char *text = read_named("INBOX", "draft.eml");
	ck_assert_str_eq(text, "Subject: draft\n\nsecond\n");
}
END_TEST

START_TEST(test_refused_replace_keeps_old)
{
	GError *err = NULL;
	gint64 gen = 0;

	ck_assert(add("INBOX", "draft.eml", DRAFT, 0, 0, &err));
	expire("INBOX");
	guint32 old = named("INBOX", "draft.eml", &gen);
	fake.refuse = TRUE;
	ck_assert(!add("INBOX", "draft.eml", "Subject: d\n\nsecond\n", gen, old,
	               &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_MAILBOX));
	g_clear_error(&err);
	ck_assert_uint_eq(fake_count("INBOX", "first"), 1);
	ck_assert_uint_eq(fake_count("Trash", "first"), 0);
	expire("INBOX");
	ck_assert_uint_eq(named("INBOX", "draft.eml", NULL), old);
	ck_assert_uint_eq(journal_count(the_account), 0);
}
END_TEST

START_TEST(test_not_a_message_is_refused)
{
	GError *err = NULL;

	ck_assert(!add("INBOX", "x", "just text\n", 0, 0, &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_BADMSG));
	g_clear_error(&err);
	ck_assert_uint_eq(fake.appends, 0);
	ck_assert_uint_eq(journal_count(the_account), 0);
}
END_TEST

START_TEST(test_offline_append_shows_then_settles)
{
	GError *err = NULL;
	GError *why = g_error_new(MF_ERROR, MF_ERROR_CONNECTION, "test");

	listing_unref(account_listing(the_account, folder_id("Work"), NULL));
	fake.down = TRUE;
	account_go_offline(the_account, why);
	g_error_free(why);
	ck_assert(add("Work", "offline.eml", "Subject: o\n\noffline\n", 0, 0,
	              &err));
	ck_assert_uint_eq(fake.appends, 0);
	/* Shown at once under its name, reading what was written. */
	guint32 ghost = named("Work", "offline.eml", NULL);
	ck_assert(journal_ghost_change(ghost) != 0);
	g_autofree char *text = read_named("Work", "offline.eml");
	ck_assert_str_eq(text, "Subject: o\n\noffline\n");
	fake.down = FALSE;
	account_refresh_all(the_account);
	for (int i = 0; i < 200 && journal_count(the_account) > 0; i++)
		g_usleep(20000);
	ck_assert_uint_eq(journal_count(the_account), 0);
	ck_assert_uint_eq(fake_count("Work", "offline"), 1);
	expire("Work");
	guint32 real = named("Work", "offline.eml", NULL);
	ck_assert_uint_ne(real, 0);
	ck_assert_int_eq(journal_ghost_change(real), 0);
}
END_TEST

START_TEST(test_move_keeps_name)
{
	GError *err = NULL;
	gint64 gen = 0;

	ck_assert(add("INBOX", "m.eml", "Subject: m\n\nmoved\n", 0, 0, &err));
	expire("INBOX");
	guint32 uid = named("INBOX", "m.eml", &gen);
	ck_assert(account_move_message(the_account, gen, uid, folder_id("Work"),
	                               "m.eml", 0, 0, &err));
	ck_assert_uint_eq(fake_count("INBOX", "moved"), 0);
	ck_assert_uint_eq(fake_count("Work", "moved"), 1);
	expire("Work");
	g_autofree char *text = read_named("Work", "m.eml");
	ck_assert_str_eq(text, "Subject: m\n\nmoved\n");
}
END_TEST

START_TEST(test_new_uidvalidity_drops_waiting_change)
{
	GError *err = NULL;
	GError *why = g_error_new(MF_ERROR, MF_ERROR_CONNECTION, "test");
	gint64 gen = 0;

	g_mutex_lock(&fake.lock);
	fake_store(fake_folder("Work"), "Subject: w\n\nold\n", 16, "");
	g_mutex_unlock(&fake.lock);
	expire("Work");
	MfListing *l = account_listing(the_account, folder_id("Work"), &err);
	guint32 uid = listing_at(l, 0)->uid;
	gen = listing_generation(l);
	listing_unref(l);
	fake.down = TRUE;
	account_go_offline(the_account, why);
	g_error_free(why);
	ck_assert(account_flag_message(the_account, gen, uid, "\\Flagged", &err));
	/* The folder is recreated meanwhile: UID 1 is another message. */
	g_mutex_lock(&fake.lock);
	FakeFolder *w = fake_folder("Work");
	w->uidvalidity = 201;
	for (guint i = 0; i < w->msgs->len; i++) {
		g_bytes_unref(g_array_index(w->msgs, FakeMessage, i).body);
		g_free(g_array_index(w->msgs, FakeMessage, i).flags);
	}
	g_array_set_size(w->msgs, 0);
	w->uidnext = 1;
	fake_store(w, "Subject: n\n\nnew\n", 16, "");
	g_mutex_unlock(&fake.lock);
	fake.down = FALSE;
	account_refresh_all(the_account);
	for (int i = 0; i < 200 && journal_count(the_account) > 0; i++)
		g_usleep(20000);
	ck_assert_uint_eq(journal_count(the_account), 0);
	ck_assert_str_eq(g_array_index(fake_folder("Work")->msgs, FakeMessage,
	                               0).flags, "");
}
END_TEST

/* Reads message UID of FOLDER through the account. */
static char *
read_uid(const char *folder, guint32 uid)
{
	GError *err = NULL;
	MfListing *l = account_listing(the_account, folder_id(folder), &err);
	gint64 gen = listing_generation(l);
	listing_unref(l);
	int fd = account_open_message(the_account, gen, uid, &err);
	ck_assert_int_ge(fd, 0);
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	close(fd);
	ck_assert_int_ge(n, 0);
	return g_strndup(buf, (gsize)n);
}

/* A cached body whose bytes changed on disk (same size) fails its
 * SHA-256 at the first open of the next run: it is fetched again, and
 * the bad bytes are never served. */
START_TEST(test_damaged_body_is_fetched_again)
{
	GError *err = NULL;
	const char *text = "Subject: c\n\nchecksummed body\n";
	MfAccountParams p = { .name = "t", .max_connections = 2,
	                      .refresh_interval = 3600, .poll_interval = 3600,
	                      .cache_dir = cache_dir };

	g_mutex_lock(&fake.lock);
	guint32 uid = fake_store(fake_folder("Work"), text, strlen(text), "");
	g_mutex_unlock(&fake.lock);
	g_autofree char *first = read_uid("Work", uid);
	ck_assert_str_eq(first, text);
	ck_assert_uint_eq(fake.fetches, 1);
	account_close(the_account);
	/* Flip one byte of the cached file, keeping its size. */
	g_autofree char *cmd = g_strdup_printf(
		"f=$(find '%s/bodies' -type f | head -1) && "
		"printf X | dd of=\"$f\" bs=1 seek=12 conv=notrunc 2>/dev/null",
		cache_dir);
	ck_assert_int_eq(system(cmd), 0);
	the_account = account_open(&p, &fake_backend, &err);
	ck_assert_ptr_nonnull(the_account);
	ck_assert(account_connect(the_account, &err));
	g_autofree char *again = read_uid("Work", uid);
	ck_assert_str_eq(again, text);
	ck_assert_uint_eq(fake.fetches, 2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_refresh_merges_changes);
	tcase_add_test(tc, test_append_keeps_name_and_bytes);
	tcase_add_test(tc, test_lost_reply_is_found_not_sent_again);
	tcase_add_test(tc, test_replace_removes_old_after_new);
	tcase_add_test(tc, test_refused_replace_keeps_old);
	tcase_add_test(tc, test_not_a_message_is_refused);
	tcase_add_test(tc, test_offline_append_shows_then_settles);
	tcase_add_test(tc, test_move_keeps_name);
	tcase_add_test(tc, test_new_uidvalidity_drops_waiting_change);
	tcase_add_test(tc, test_damaged_body_is_fetched_again);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
