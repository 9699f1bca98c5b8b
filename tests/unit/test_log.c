/* test_log.c - unit tests for fs/log.c: what a server said never reaches
 * a terminal or the kept log with its control characters (issue 13, 11). */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs/log.h"

typedef struct {
	const char *in;
	gboolean keep_newlines;
	const char *want;
} SafeCase;

static const SafeCase safe_cases[] = {
	{ "plain text, UTF-8: gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93", FALSE,
	  "plain text, UTF-8: gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93" },
	{ "", FALSE, "" },
	/* CSI (colour, clear screen), OSC (window title) ended by BEL. */
	{ "a\x1b[31mred\x1b[0m", FALSE, "a\\x1b[31mred\\x1b[0m" },
	{ "\x1b[2J\x1b]0;owned\x07", FALSE, "\\x1b[2J\\x1b]0;owned\\x07" },
	{ "tab\there\rCR", FALSE, "tab\\x09here\\x0dCR" },
	{ "one\ntwo\n", FALSE, "one\\x0atwo\\x0a" },
	{ "one\ntwo\n", TRUE, "one\ntwo\n" },
	{ "one\r\ntwo", TRUE, "one\\x0d\ntwo" },
	{ "del\x7f", FALSE, "del\\x7f" },
	/* C1 controls: U+009B is CSI on its own. */
	{ "c1 \xc2\x9b" "2J \xc2\x85", FALSE, "c1 \\xc2\\x9b2J \\xc2\\x85" },
	{ "\xc2\xa0nbsp", FALSE, "\xc2\xa0nbsp" },
	/* Not UTF-8: a raw 8-bit CSI, an overlong '/', a cut sequence. */
	{ "raw \x9b" "2J", FALSE, "raw \\x9b2J" },
	{ "\xc0\xaf", FALSE, "\\xc0\\xaf" },
	{ "cut \xe2\x9c", FALSE, "cut \\xe2\\x9c" },
	{ "\xff\xfe", FALSE, "\\xff\\xfe" },
};

START_TEST(test_safe_text)
{
	const SafeCase *c = &safe_cases[_i];
	char *out = log_safe_text(c->in, c->keep_newlines);

	ck_assert_str_eq(out, c->want);
	g_free(out);
}
END_TEST

/* Nothing below 0x20 but the newline, no DEL, no C1, valid UTF-8. */
static void
assert_clean(const char *s)
{
	ck_assert_msg(g_utf8_validate(s, -1, NULL), "not UTF-8: %s", s);
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);
		ck_assert_msg(u == '\n' || (u >= 0x20 && u != 0x7f &&
		              (u < 0x80 || u > 0x9f)), "control U+%04X in %s",
		              u, s);
	}
}

START_TEST(test_safe_text_every_byte)
{
	char in[3] = { 0 };

	for (int b = 1; b < 256; b++) {
		for (int b2 = 0; b2 < 256; b2 += 17) {
			in[0] = (char)b;
			in[1] = (char)b2;
			char *out = log_safe_text(in, FALSE);
			assert_clean(out);
			ck_assert_ptr_null(strchr(out, '\n'));
			g_free(out);
		}
	}
}
END_TEST

/* The trace: redacted first, then cleaned. */
START_TEST(test_redact_cleans)
{
	char *out = log_redact_line("S", "* OK \x1b[31mhello\x1b]0;x\x07");

	ck_assert_str_eq(out, "* OK \\x1b[31mhello\\x1b]0;x\\x07");
	g_free(out);
	out = log_redact_line("C", "a1 LOGIN alice \x1bsecret");
	ck_assert_str_eq(out, "a1 LOGIN [redacted]");
	g_free(out);
}
END_TEST

/* Every sink of the log: stderr in the foreground, and the lines kept
 * for .mailfs/log. */
START_TEST(test_log_sinks_clean)
{
	char path[] = "/tmp/mailfs-test-log-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_setup("test", FALSE, FALSE);
	g_warning("server said: %s", "NO \x1b[2J\x1b]0;owned\x07 \xc2\x9b" "31m");
	g_message("multi\nline");
	fflush(stderr);

	char *kept = log_recent();
	assert_clean(kept);
	ck_assert_ptr_nonnull(strstr(kept, "warning: server said: NO "
	                             "\\x1b[2J\\x1b]0;owned\\x07 \\xc2\\x9b31m\n"));
	ck_assert_ptr_nonnull(strstr(kept, "info: multi\\x0aline\n"));
	g_free(kept);

	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	assert_clean(buf);
	ck_assert_str_eq(buf, "test: server said: NO \\x1b[2J\\x1b]0;owned"
	                 "\\x07 \\xc2\\x9b31m\ntest: multi\\x0aline\n");
	close(fd);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("safe");

	tcase_add_loop_test(tc, test_safe_text, 0, G_N_ELEMENTS(safe_cases));
	tcase_add_test(tc, test_safe_text_every_byte);
	tcase_add_test(tc, test_redact_cleans);
	tcase_add_test(tc, test_log_sinks_clean);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
