/* test_command.c - cache/command.c: the first line kept, stdin given and
 * $1 set, a command that does not read its stdin, the exit status and the
 * timeout, a background child that keeps stdout open. */
#include <check.h>
#include <signal.h>
#include <string.h>

#include "cache/command.h"
#include "net/mf_error.h"

static char *
run_ok(const char *cmd, const CommandOptions *o)
{
	g_autoptr(GError) err = NULL;
	char *line = NULL;

	ck_assert_msg(command_run(cmd, o, &line, &err), "%s: %s", cmd,
	              err ? err->message : "");
	return line;
}

static void
run_fails(const char *cmd, const CommandOptions *o, const char *why)
{
	g_autoptr(GError) err = NULL;
	char *line = (char *)"untouched";

	ck_assert(!command_run(cmd, o, &line, &err));
	ck_assert_str_eq(line, "untouched");
	ck_assert_int_eq(err->code, MF_ERROR_CONFIG);
	ck_assert_msg(strstr(err->message, why), "%s: %s", cmd, err->message);
}

START_TEST(test_first_line)
{
	g_autofree char *a = run_ok("printf 'tok\\r\\nsecond\\n'", NULL);
	g_autofree char *b = run_ok("printf last", NULL);

	ck_assert_str_eq(a, "tok");
	ck_assert_str_eq(b, "last");
	run_fails("printf '\\n'", NULL, "printed an empty first line");
	run_fails("exit 4", NULL, "exited with status 4");
	run_fails("kill -9 $$", NULL, "was killed by signal 9");
}
END_TEST

/* The input arrives on stdin, the action as $1; neither in argv of the
 * command text. */
START_TEST(test_input_and_arg)
{
	CommandOptions o = { .arg = "store", .input = "rt-secret\n" };
	g_autofree char *a = run_ok("read -r t; echo \"$1:$t\"", &o);
	CommandOptions none = { 0 };
	g_autofree char *b = run_ok("echo \"[$1]\"; cat", &none);

	ck_assert_str_eq(a, "store:rt-secret");
	ck_assert_str_eq(b, "[]"); /* stdin is /dev/null */
}
END_TEST

/* A command that leaves without reading its input is judged by its exit
 * status; the SIGPIPE of writing to it does not kill us. */
START_TEST(test_input_unread)
{
	g_autofree char *big = g_strnfill(50 * 1024, 'x');
	CommandOptions o = { .input = big };
	g_autofree char *a = run_ok("exec 0<&-; echo ok", &o);

	ck_assert_str_eq(a, "ok");
}
END_TEST

START_TEST(test_input_unread_status)
{
	g_autofree char *big = g_strnfill(50 * 1024, 'x');
	CommandOptions o = { .input = big };

	signal(SIGPIPE, SIG_DFL);
	run_fails("exit 2", &o, "exited with status 2");
	ck_assert(command_run("exec 0<&-; true", &o, NULL, NULL));
	g_autofree char *huge = g_strnfill(61 * 1024, 'x');
	CommandOptions h = { .input = huge };
	run_fails("cat >/dev/null", &h, "more than 60 KiB");
}
END_TEST

START_TEST(test_timeout)
{
	CommandOptions o = { .timeout_s = 1 };
	gint64 t0 = g_get_monotonic_time();

	run_fails("sleep 30", &o, "timed out after 1 s");
	ck_assert_int_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC);
	/* a background child keeping stdout open does not make it wait */
	t0 = g_get_monotonic_time();
	g_autofree char *a = run_ok("echo pw; sleep 10 2>/dev/null &", &o);
	ck_assert_str_eq(a, "pw");
	ck_assert_int_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC);
}
END_TEST

static Suite *
command_suite(void)
{
	Suite *s = suite_create("command");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_first_line);
	tcase_add_test(tc, test_input_and_arg);
	tcase_add_test(tc, test_input_unread);
	tcase_add_test(tc, test_input_unread_status);
	tcase_add_test(tc, test_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(command_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
