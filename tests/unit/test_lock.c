/* test_lock.c - unit tests for cache/lock.c: one holder per cache
 * directory, named in the refusal; the lock follows the open file across
 * fork and ends with its last holder. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/lock.h"
#include "net/mf_error.h"

static char *tmpdir;
static char *cache;

static void
setup(void)
{
	tmpdir = g_dir_make_tmp("mailfs-lock-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	cache = g_build_filename(tmpdir, "a", "cache", NULL);
}

static void
teardown(void)
{
	g_autofree char *lock = g_build_filename(cache, "lock", NULL);
	g_autofree char *a = g_build_filename(tmpdir, "a", NULL);

	g_remove(lock);
	g_rmdir(cache);
	g_rmdir(a);
	g_rmdir(tmpdir);
	g_free(cache);
	g_free(tmpdir);
}

/* The refusal of a second taker, while PID holds it on /mnt/one. */
static void
assert_busy(pid_t pid)
{
	GError *err = NULL;
	g_autofree char *want = g_strdup_printf(
		"cache directory %s is in use by mailfs pid %d, mounted on "
		"/mnt/one", cache, (int)pid);

	ck_assert_ptr_null(lock_take(cache, "/mnt/two", &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_BUSY));
	ck_assert_str_eq(err->message, want);
	g_error_free(err);
}

START_TEST(test_one_holder)
{
	GError *err = NULL;
	struct stat st;
	CacheLock *l = lock_take(cache, "/mnt/one", &err);

	ck_assert_msg(l != NULL, "%s", err ? err->message : "");
	ck_assert_int_eq(stat(cache, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	/* Another open of the file conflicts, even in this process. */
	assert_busy(getpid());
	lock_release(l);
	l = lock_take(cache, "/mnt/two", &err);
	ck_assert_ptr_nonnull(l);
	lock_release(l);
	lock_release(NULL);
}
END_TEST

/* As across fuse_daemonize(): the parent takes it, the child keeps it
 * when the parent lets go, says it holds it, and its end frees it. */
START_TEST(test_follows_the_daemon)
{
	GError *err = NULL;
	CacheLock *l = lock_take(cache, "/mnt/one", &err);
	int go[2], ready[2];

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid_t child = fork();
	if (child == 0) {
		char c;
		lock_set_pid(l);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char c;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	lock_release(l);
	assert_busy(child);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	l = lock_take(cache, "/mnt/two", &err);
	ck_assert_msg(l != NULL, "%s", err ? err->message : "");
	lock_release(l);
}
END_TEST

START_TEST(test_cannot_create)
{
	GError *err = NULL;
	g_autofree char *file = g_build_filename(tmpdir, "a", NULL);

	ck_assert(g_file_set_contents(file, "", 0, NULL));
	ck_assert_ptr_null(lock_take(cache, "/mnt/one", &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_LOCAL));
	ck_assert_ptr_nonnull(strstr(err->message, "cannot create cache "
	                             "directory"));
	g_error_free(err);
	g_remove(file);
}
END_TEST

typedef struct {
	const char *text;
	const char *want;
} HolderCase;

static const HolderCase holders[] = {
	{ "1234 /mnt/mail\n", "pid 1234, mounted on /mnt/mail" },
	{ "1234 /mnt/a b\n", "pid 1234, mounted on /mnt/a b" },
	{ "1234\n", "pid 1234" },
	{ "1234 \n", "pid 1234" },
	{ "", "pid unknown" },
	{ "x 12", "pid unknown" },
	{ "0 /m", "pid unknown" },
	{ "99999999999 /m", "pid unknown" },
};

START_TEST(test_describe_holder)
{
	char *got = lock_describe_holder(holders[_i].text);

	ck_assert_str_eq(got, holders[_i].want);
	g_free(got);
}
END_TEST

static Suite *
lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_one_holder);
	tcase_add_test(tc, test_follows_the_daemon);
	tcase_add_test(tc, test_cannot_create);
	tcase_add_loop_test(tc, test_describe_holder, 0, G_N_ELEMENTS(holders));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lock_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
