/* test_mf_error.c - unit tests for net/mf_error.c: the check that keeps
 * "FALSE if and only if the error is set" where steps are run. */
#include <check.h>
#include <string.h>

#include "net/mf_error.h"

static guint criticals;
static char *last_critical;

static GLogWriterOutput
count_cb(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer ud)
{
	if (!(level & G_LOG_LEVEL_CRITICAL))
		return G_LOG_WRITER_HANDLED;
	criticals++;
	for (gsize i = 0; i < n; i++)
		if (strcmp(fields[i].key, "MESSAGE") == 0) {
			g_free(last_critical);
			last_critical = g_strdup(fields[i].value);
		}
	return G_LOG_WRITER_HANDLED;
}

static void
setup(void)
{
	static gsize once;

	if (g_once_init_enter(&once)) {
		g_log_set_writer_func(count_cb, NULL, NULL);
		g_once_init_leave(&once, 1);
	}
	criticals = 0;
}

START_TEST(test_kept)
{
	GError *err = NULL;

	ck_assert(mf_error_check(TRUE, &err, "step"));
	ck_assert_ptr_null(err);
	g_set_error(&err, MF_ERROR, MF_ERROR_CONNECTION, "reset");
	ck_assert(!mf_error_check(FALSE, &err, "step"));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONNECTION));
	ck_assert_str_eq(err->message, "reset");
	g_error_free(err);
	ck_assert_uint_eq(criticals, 0);
}
END_TEST

/* push_session() returned FALSE without an error: the push loop then
 * read err->message (issue 13, 10). */
START_TEST(test_false_without_error)
{
	GError *err = NULL;

	ck_assert(!mf_error_check(FALSE, &err, "push"));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_LOCAL));
	ck_assert_str_eq(err->message,
	                 "internal error: push failed without saying why");
	ck_assert_uint_eq(criticals, 1);
	ck_assert_str_eq(last_critical, "push failed without an error (a bug)");
	g_error_free(err);
}
END_TEST

/* storeall_list() returned TRUE with the error set. */
START_TEST(test_true_with_error)
{
	GError *err = NULL;

	g_set_error(&err, MF_ERROR, MF_ERROR_MESSAGE, "DELE refused");
	ck_assert(mf_error_check(TRUE, &err, "a session step"));
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(criticals, 1);
	ck_assert_str_eq(last_critical, "a session step succeeded with an "
	                 "error set (a bug): DELE refused");
}
END_TEST

static Suite *
mf_error_suite(void)
{
	Suite *s = suite_create("mf_error");
	TCase *tc = tcase_create("check");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_kept);
	tcase_add_test(tc, test_false_without_error);
	tcase_add_test(tc, test_true_with_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mf_error_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
