/* test_store.c - the store's schema versions and migrations (a cache made
 * by an older mailfs is brought up to date, keeping what it holds), the
 * names given through the mount (store_names.c), and the integrity of
 * cached bodies (checked when their file changed, and by store_verify). */
#include <check.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/store.h"
#include "cache/store_search.h"
#include "cache/store_summary.h"
#include "net/mf_error.h"

/* index.sqlite as mailfs wrote it before caches had versions. */
static const char v1_cache[] =
	"CREATE TABLE folders (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE, path TEXT NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 1,"
	"  uidvalidity INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE messages (folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  size INTEGER NOT NULL, date INTEGER NOT NULL, flags TEXT NOT NULL,"
	"  key TEXT, PRIMARY KEY (folder, uid)) WITHOUT ROWID;"
	"CREATE TABLE pending (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  op INTEGER NOT NULL, folder INTEGER NOT NULL,"
	"  uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  dest INTEGER NOT NULL, flags TEXT, path TEXT, date INTEGER NOT NULL);"
	"INSERT INTO folders (name, path, uidvalidity) VALUES ('INBOX', 'INBOX', 7);"
	"INSERT INTO messages VALUES (1, 5, 100, 1700000000, '\\Seen', NULL);"
	"INSERT INTO pending (op, folder, uidvalidity, uid, dest, flags, path,"
	"  date) VALUES (3, 1, 7, 5, 0, '\\Flagged', NULL, 0);";

/* What version 2 added to it (names, pending's new columns). */
static const char v2_more[] =
	"CREATE TABLE names (folder INTEGER NOT NULL,"
	"  uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL, name TEXT NOT NULL,"
	"  size INTEGER NOT NULL DEFAULT 0, written TEXT,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX names_by_name ON names (folder, uidvalidity, name);"
	"ALTER TABLE pending ADD COLUMN name TEXT;"
	"ALTER TABLE pending ADD COLUMN written TEXT;"
	"ALTER TABLE pending ADD COLUMN replace_uv INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pending ADD COLUMN replace_uid INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pending ADD COLUMN msgid TEXT;"
	"ALTER TABLE pending ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE keys (folder INTEGER NOT NULL, key TEXT NOT NULL,"
	"  uid INTEGER NOT NULL, PRIMARY KEY (folder, key)) WITHOUT ROWID;"
	"CREATE TABLE generations (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  UNIQUE (folder, uidvalidity));"
	"CREATE TABLE bodies (folder INTEGER NOT NULL,"
	"  uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  size INTEGER NOT NULL, sha256 BLOB NOT NULL,"
	"  atime INTEGER NOT NULL DEFAULT 0, pinned INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;"
	"PRAGMA user_version = 2;";

static char *
make_dir(void)
{
	char *dir = g_dir_make_tmp("mailfs-store-XXXXXX", NULL);
	ck_assert_ptr_nonnull(dir);
	return dir;
}

static void
remove_dir(char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	g_free(dir);
}

static int
user_version(const char *dir)
{
	g_autofree char *db = g_build_filename(dir, "index.sqlite", NULL);
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st,
	                                    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void
write_db(const char *dir, const char *sql)
{
	g_autofree char *db = g_build_filename(dir, "index.sqlite", NULL);
	sqlite3 *h = NULL;

	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/* Makes the index of DIR look as version 2 left it: no summaries nor
 * search index (3), no HIGHESTMODSEQ nor UIDNEXT (4), bodies without their
 * files' mtimes (5). */
static void
make_v2(const char *dir)
{
	write_db(dir, "DROP TABLE summaries; DROP TABLE search_text; "
	         "DROP TABLE search_indexed; "
	         "ALTER TABLE folders DROP COLUMN highestmodseq; "
	         "ALTER TABLE folders DROP COLUMN uidnext; "
	         "ALTER TABLE bodies DROP COLUMN stamp; "
	         "PRAGMA user_version = 2;");
	ck_assert_int_eq(user_version(dir), 2);
}

/* A cache of schema 2 (before incremental refreshes) keeps its listing
 * and knows no HIGHESTMODSEQ nor UIDNEXT: the first refresh lists all. */
START_TEST(test_v2_cache_gets_sync_state)
{
	char *dir = make_dir();
	GError *err = NULL;
	guint32 uv = 0, uidnext = 9;
	guint64 modseq = 9;
	GArray *msgs = NULL;

	write_db(dir, v1_cache);
	write_db(dir, v2_more);
	ck_assert_int_eq(user_version(dir), 2);
	Store *s = store_open(dir, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(user_version(dir), store_schema_latest());
	ck_assert(store_messages_load(s, 1, &uv, &msgs, &err));
	ck_assert_uint_eq(uv, 7);
	ck_assert_uint_eq(msgs->len, 1);
	ck_assert(store_folder_sync_get(s, 1, &modseq, &uidnext));
	ck_assert_uint_eq(modseq, 0);
	ck_assert_uint_eq(uidnext, 0);
	ck_assert(store_folder_sync_set(s, 1, 12345678901ull, 6, &err));
	ck_assert(store_folder_sync_get(s, 1, &modseq, &uidnext));
	ck_assert_uint_eq(modseq, 12345678901ull);
	ck_assert_uint_eq(uidnext, 6);
	/* The same UIDVALIDITY keeps them; a new one forgets them. */
	ck_assert(store_messages_save(s, 1, 7, msgs, msgs, &err));
	ck_assert(store_folder_sync_get(s, 1, &modseq, &uidnext));
	ck_assert_uint_eq(uidnext, 6);
	ck_assert(store_messages_save(s, 1, 8, NULL, msgs, &err));
	ck_assert(store_folder_sync_get(s, 1, &modseq, &uidnext));
	ck_assert_uint_eq(modseq, 0);
	ck_assert_uint_eq(uidnext, 0);
	g_array_unref(msgs);
	store_close(s);
	remove_dir(dir);
}
END_TEST

START_TEST(test_new_cache_has_latest_version)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);

	ck_assert_ptr_nonnull(s);
	store_close(s);
	ck_assert_int_eq(user_version(dir), store_schema_latest());
	/* Opening again changes nothing. */
	s = store_open(dir, &err);
	ck_assert_ptr_nonnull(s);
	store_close(s);
	ck_assert_int_eq(user_version(dir), store_schema_latest());
	remove_dir(dir);
}
END_TEST

START_TEST(test_v1_cache_is_migrated)
{
	char *dir = make_dir();
	GError *err = NULL;
	guint32 uv = 0;
	GArray *msgs = NULL;

	write_db(dir, v1_cache);
	ck_assert_int_eq(user_version(dir), 0);
	Store *s = store_open(dir, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(user_version(dir), store_schema_latest());
	/* What the old cache held is still there... */
	ck_assert(store_messages_load(s, 1, &uv, &msgs, &err));
	ck_assert_uint_eq(uv, 7);
	ck_assert_uint_eq(msgs->len, 1);
	ck_assert_uint_eq(g_array_index(msgs, MfRemoteMessage, 0).uid, 5);
	g_array_unref(msgs);
	GArray *pend = store_pending_list(s);
	ck_assert_uint_eq(pend->len, 1);
	StorePending *p = &g_array_index(pend, StorePending, 0);
	ck_assert_str_eq(p->flags, "\\Flagged");
	ck_assert_ptr_null(p->name);
	ck_assert_uint_eq(p->tries, 0);
	/* ... and the new columns take values. */
	p->tries = 2;
	p->name = g_strdup("draft.eml");
	ck_assert(store_pending_update(s, p, &err));
	g_array_unref(pend);
	pend = store_pending_list(s);
	ck_assert_uint_eq(g_array_index(pend, StorePending, 0).tries, 2);
	ck_assert_str_eq(g_array_index(pend, StorePending, 0).name, "draft.eml");
	g_array_unref(pend);
	store_close(s);
	remove_dir(dir);
}
END_TEST

/* A cache of version 2 (before summaries) gets the table summaries. */
START_TEST(test_v2_cache_gets_summaries)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);

	ck_assert_ptr_nonnull(s);
	store_close(s);
	make_v2(dir);
	s = store_open(dir, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(user_version(dir), store_schema_latest());
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(
		(GDestroyNotify)summary_free);
	g_ptr_array_add(rows, summary_new(4, "A <a@x>", "hi", TRUE));
	ck_assert(store_summaries_save(s, 1, 7, rows, &err));
	GHashTable *got = store_summaries_load(s, 1, 7, &err);
	ck_assert_uint_eq(g_hash_table_size(got), 1);
	MfSummary *m = g_hash_table_lookup(got, GUINT_TO_POINTER(4));
	ck_assert_str_eq(m->sender, "A <a@x>");
	ck_assert_str_eq(m->subject, "hi");
	ck_assert(m->attach);
	g_hash_table_unref(got);
	got = store_summaries_load(s, 1, 8, &err); /* another UIDVALIDITY */
	ck_assert_uint_eq(g_hash_table_size(got), 0);
	g_hash_table_unref(got);
	got = store_summaries_load(s, 1, 7, &err);
	store_summaries_forget(s, 1, 7, got); /* the message left */
	g_hash_table_unref(got);
	got = store_summaries_load(s, 1, 7, &err);
	ck_assert_uint_eq(g_hash_table_size(got), 0);
	g_hash_table_unref(got);
	/* ... and the full-text index. */
	StoreSearchText t = { "J\u00f6rg <j@x>", "a@x", "Quarterly report",
	                      "the zebrafinch sings" };
	ck_assert(store_search_add(s, 1, 7, 4, &t, &err));
	ck_assert(store_search_add(s, 1, 7, 4, &t, &err)); /* once only */
	got = store_search_match(s, 1, 7, "\"zebrafinch\" AND subject : "
	                         "\"report\"", &err);
	ck_assert_uint_eq(g_hash_table_size(got), 1);
	g_hash_table_unref(got);
	got = store_search_match(s, 1, 7, "sender : \"j\u00f6rg\"", &err);
	ck_assert_uint_eq(g_hash_table_size(got), 1);
	g_hash_table_unref(got);
	got = store_search_indexed(s, 1, 7, &err);
	ck_assert(g_hash_table_contains(got, GUINT_TO_POINTER(4)));
	g_hash_table_unref(got);
	store_close(s);
	remove_dir(dir);
}
END_TEST

START_TEST(test_newer_cache_is_refused)
{
	char *dir = make_dir();
	GError *err = NULL;
	g_autofree char *sql = g_strdup_printf("PRAGMA user_version = %d",
	                                       store_schema_latest() + 1);

	write_db(dir, sql);
	ck_assert_ptr_null(store_open(dir, &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_LOCAL));
	ck_assert_ptr_nonnull(strstr(err->message, "newer mailfs"));
	g_error_free(err);
	remove_dir(dir);
}
END_TEST

static char *
written_file(Store *s, const char *text)
{
	char *path = store_written_path(s, 1);
	ck_assert(g_file_set_contents(path, text, -1, NULL));
	return path;
}

START_TEST(test_names)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);
	g_autofree char *w1 = written_file(s, "one");
	g_autofree char *w2 = written_file(s, "two");
	StoreName a = { .uid = 10, .name = "a.eml", .size = 3, .written = w1 };
	StoreName b = { .uid = 11, .name = "a.eml", .size = 3, .written = w2 };

	ck_assert(store_name_set(s, 1, 7, 10, &a, &err));
	GArray *names = store_names_load(s, 1, 7, &err);
	ck_assert_uint_eq(names->len, 1);
	ck_assert_str_eq(g_array_index(names, StoreName, 0).name, "a.eml");
	g_array_unref(names);
	/* The name moves to another message: the first one's bytes go. */
	ck_assert(store_name_set(s, 1, 7, 11, &b, &err));
	ck_assert(!g_file_test(w1, G_FILE_TEST_EXISTS));
	names = store_names_load(s, 1, 7, &err);
	ck_assert_uint_eq(names->len, 1);
	ck_assert_uint_eq(g_array_index(names, StoreName, 0).uid, 11);
	g_array_unref(names);
	/* A move keeps the bytes, under the new place and name. */
	ck_assert(store_name_move(s, 1, 7, 11, 2, 9, 40, "b.eml", &err));
	names = store_names_load(s, 2, 9, &err);
	ck_assert_uint_eq(names->len, 1);
	ck_assert_str_eq(g_array_index(names, StoreName, 0).name, "b.eml");
	ck_assert_str_eq(g_array_index(names, StoreName, 0).written, w2);
	/* A listing without UID 40 (but with a later one) forgets it. */
	GArray *msgs = g_array_new(FALSE, TRUE, sizeof(MfRemoteMessage));
	MfRemoteMessage later = { .uid = 41 };
	g_array_append_val(msgs, later);
	store_names_prune(s, 2, 9, names, msgs);
	g_array_unref(names);
	names = store_names_load(s, 2, 9, &err);
	ck_assert_uint_eq(names->len, 0);
	ck_assert(!g_file_test(w2, G_FILE_TEST_EXISTS));
	g_array_unref(names);
	g_array_unref(msgs);
	store_close(s);
	remove_dir(dir);
}
END_TEST

START_TEST(test_prune_spares_newer_uids)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);
	StoreName a = { .uid = 50, .name = "new.eml" };
	GArray *msgs = g_array_new(FALSE, TRUE, sizeof(MfRemoteMessage));
	MfRemoteMessage old = { .uid = 49 };

	g_array_append_val(msgs, old);
	ck_assert(store_name_set(s, 1, 7, 50, &a, &err));
	GArray *names = store_names_load(s, 1, 7, &err);
	/* A listing fetched before UID 50 was appended does not know it. */
	store_names_prune(s, 1, 7, names, msgs);
	g_array_unref(names);
	names = store_names_load(s, 1, 7, &err);
	ck_assert_uint_eq(names->len, 1);
	g_array_unref(names);
	g_array_unref(msgs);
	store_close(s);
	remove_dir(dir);
}
END_TEST

static const char body_text[] = "From: a@example.org\r\n\r\nhello\r\n";

/* Stores body_text as UID 9 of folder 1, UIDVALIDITY 7; its path. */
static char *
store_one_body(Store *s)
{
	GError *err = NULL;
	StoreBody *b = store_body_begin(s, &err);

	ck_assert_ptr_nonnull(b);
	ck_assert(store_body_write(b, body_text, strlen(body_text), &err));
	ck_assert(store_body_commit(s, b, 1, 7, 9, &err));
	return store_body_file(s, 1, 7, 9);
}

/* Flips one byte of PATH in place; with KEEP_MTIME its mtime is put
 * back, as a disk that rots bits would leave it. */
static void
damage(const char *path, gboolean keep_mtime)
{
	struct stat st;
	int fd = open(path, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(pwrite(fd, "J", 1, 20), 1);
	if (keep_mtime) {
		struct timespec t[2] = { st.st_atim, st.st_mtim };
		ck_assert_int_eq(futimens(fd, t), 0);
	}
	close(fd);
}

static gboolean
opens(Store *s)
{
	GError *err = NULL;
	int fd = store_body_open(s, 1, 7, 9, TRUE, &err);

	if (fd >= 0)
		close(fd);
	else
		ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND));
	g_clear_error(&err);
	return fd >= 0;
}

START_TEST(test_body_changed_file_is_checked)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);
	g_autofree char *path = store_one_body(s);

	ck_assert(opens(s));
	/* Written over (a new mtime): hashed at the next open, refused,
	 * forgotten. */
	usleep(20000);
	damage(path, FALSE);
	ck_assert(!opens(s));
	ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
	store_close(s);
	remove_dir(dir);
}
END_TEST

START_TEST(test_verify_finds_a_rotten_body)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);
	g_autofree char *path = store_one_body(s);
	guint checked = 0, damaged = 0;

	ck_assert(store_verify(s, NULL, NULL, &checked, &damaged, &err));
	ck_assert_uint_eq(checked, 1);
	ck_assert_uint_eq(damaged, 0);
	/* The same mtime: an open does not hash it (it was hashed as it was
	 * written), the full check does, and then it is never served. */
	damage(path, TRUE);
	ck_assert(opens(s));
	ck_assert(store_verify(s, NULL, NULL, &checked, &damaged, &err));
	ck_assert_uint_eq(damaged, 1);
	ck_assert(!opens(s));
	ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
	ck_assert(store_verify(s, NULL, NULL, &checked, &damaged, &err));
	ck_assert_uint_eq(checked, 0);
	store_close(s);
	remove_dir(dir);
}
END_TEST

START_TEST(test_v2_bodies_are_hashed_once)
{
	char *dir = make_dir();
	GError *err = NULL;
	Store *s = store_open(dir, &err);
	g_autofree char *path = store_one_body(s);

	store_close(s);
	make_v2(dir);
	s = store_open(dir, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(user_version(dir), store_schema_latest());
	/* No mtime recorded: the first open hashes it (good: served, and
	 * its mtime is recorded) ... */
	ck_assert(opens(s));
	store_close(s);
	make_v2(dir);
	s = store_open(dir, &err);
	/* ... and a damaged one, even with its old mtime, is refused. */
	damage(path, TRUE);
	ck_assert(!opens(s));
	store_close(s);
	remove_dir(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_new_cache_has_latest_version);
	tcase_add_test(tc, test_v1_cache_is_migrated);
	tcase_add_test(tc, test_v2_cache_gets_summaries);
	tcase_add_test(tc, test_v2_cache_gets_sync_state);
	tcase_add_test(tc, test_newer_cache_is_refused);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_prune_spares_newer_uids);
	tcase_add_test(tc, test_body_changed_file_is_checked);
	tcase_add_test(tc, test_verify_finds_a_rotten_body);
	tcase_add_test(tc, test_v2_bodies_are_hashed_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
