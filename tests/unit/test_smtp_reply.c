/* test_smtp_reply.c - tables of SMTP replies fed to net/smtp_reply.c whole
 * and one byte at a time, plus the limits and pipelined replies. */
#include <check.h>
#include <string.h>

#include "net/mf_error.h"
#include "net/smtp_reply.h"

typedef struct {
	const char *in;
	guint code;            /* 0: an error is expected */
	const char *enhanced;  /* NULL: none */
	const char *joined;    /* smtp_reply_to_string(), or error substring */
	guint n_lines;
} ReplyCase;

static const ReplyCase cases[] = {
	{ "220 mail.example.com ESMTP\r\n", 220, NULL,
	  "220 mail.example.com ESMTP", 1 },
	{ "250\r\n", 250, NULL, "250", 1 },
	{ "250 \r\n", 250, NULL, "250", 1 },
	{ "250 ok\n", 250, NULL, "250 ok", 1 },
	{ "250-mail.example.com\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
	  "250 PIPELINING\r\n", 250, NULL,
	  "250 mail.example.com SIZE 1000 8BITMIME PIPELINING", 4 },
	{ "250-\r\n250 last\r\n", 250, NULL, "250 last", 2 },
	{ "550 5.1.1 <x@y>: Recipient address rejected\r\n", 550, "5.1.1",
	  "550 5.1.1 <x@y>: Recipient address rejected", 1 },
	{ "451-4.3.0 first\r\n451 4.3.0 second\r\n", 451, "4.3.0",
	  "451 4.3.0 first second", 2 },
	{ "250 2.0.0\r\n", 250, "2.0.0", "250 2.0.0", 1 },
	{ "250 2.100.999 ok\r\n", 250, "2.100.999", "250 2.100.999 ok", 1 },
	/* not enhanced codes: wrong class, too many digits, no space */
	{ "550 4.1.1 odd\r\n", 550, NULL, "550 4.1.1 odd", 1 },
	{ "550 5.1000.1 odd\r\n", 550, NULL, "550 5.1000.1 odd", 1 },
	{ "550 5.1.1: odd\r\n", 550, NULL, "550 5.1.1: odd", 1 },
	{ "250-2.0.0 a\r\n250 2.0.1 b\r\n", 250, "2.0.0",
	  "250 2.0.0 a 2.0.1 b", 2 },
	{ "250 tab\there \xc3\xa9\r\n", 250, NULL,
	  "250 tab\there \xc3\xa9", 1 },
	{ "250 bad \xff utf8\r\n", 250, NULL, "250 bad \xef\xbf\xbd utf8", 1 },
	{ "554\r\n", 554, NULL, "554", 1 },
	/* garbage */
	{ "abc hello\r\n", 0, NULL, "three-digit code", 0 },
	{ "25 short\r\n", 0, NULL, "three-digit code", 0 },
	{ "\r\n", 0, NULL, "three-digit code", 0 },
	{ "2x0 ok\r\n", 0, NULL, "three-digit code", 0 },
	{ "199 ok\r\n", 0, NULL, "out of range", 0 },
	{ "600 ok\r\n", 0, NULL, "out of range", 0 },
	{ "260 ok\r\n", 0, NULL, "out of range", 0 },
	{ "099 ok\r\n", 0, NULL, "out of range", 0 },
	{ "250ok\r\n", 0, NULL, "no space or hyphen", 0 },
	{ "2500 ok\r\n", 0, NULL, "no space or hyphen", 0 },
	{ "250-a\r\n251 b\r\n", 0, NULL, "changed from 250 to 251", 0 },
	{ "250 a\rb\r\n", 0, NULL, "control character 0x0d", 0 },
	{ "250 a\r\r\n", 0, NULL, "control character 0x0d", 0 },
	{ "250 \x1b[31m\r\n", 0, NULL, "control character 0x1b", 0 },
	{ "250 \x7f\r\n", 0, NULL, "control character 0x7f", 0 },
};

/* Feeds IN in pieces of STEP bytes; returns the status of the last feed
 * and the reply or error. */
static SmtpReplyStatus
feed_all(SmtpReplyParser *p, const char *in, size_t len, size_t step,
         SmtpReply **out, size_t *used_total, GError **err)
{
	size_t off = 0;
	SmtpReplyStatus st = SMTP_REPLY_NEED_MORE;

	while (off < len) {
		size_t n = MIN(step, len - off), used = 0;
		st = smtp_reply_parser_feed(p, in + off, n, &used, err);
		ck_assert_uint_le(used, n);
		off += used;
		if (st == SMTP_REPLY_ERROR)
			break;
		if (st == SMTP_REPLY_DONE) {
			*out = smtp_reply_parser_take(p);
			break;
		}
		ck_assert_uint_eq(used, n);
	}
	*used_total = off;
	return st;
}

static void
check_case(const ReplyCase *c, size_t step)
{
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(NULL);
	g_autoptr(SmtpReply) r = NULL;
	g_autoptr(GError) err = NULL;
	size_t len = strlen(c->in), used = 0;
	SmtpReplyStatus st = feed_all(p, c->in, len, step, &r, &used, &err);

	if (c->code == 0) {
		ck_assert_msg(st == SMTP_REPLY_ERROR, "'%s' parsed", c->in);
		ck_assert(err && err->code == MF_ERROR_PROTOCOL);
		ck_assert_msg(strstr(err->message, c->joined) != NULL,
		              "'%s' not in '%s'", c->joined, err->message);
		return;
	}
	ck_assert_msg(st == SMTP_REPLY_DONE, "'%s': status %d: %s", c->in, st,
	              err ? err->message : "");
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(r->code, c->code);
	ck_assert_uint_eq(r->lines->len, c->n_lines);
	if (c->enhanced)
		ck_assert_str_eq(r->enhanced, c->enhanced);
	else
		ck_assert_ptr_null(r->enhanced);
	g_autofree char *s = smtp_reply_to_string(r);
	ck_assert_str_eq(s, c->joined);
	ck_assert_uint_eq(smtp_reply_class(r), c->code / 100);
}

START_TEST(test_table_whole)
{
	check_case(&cases[_i], 1 << 20);
}
END_TEST

START_TEST(test_table_bytewise)
{
	check_case(&cases[_i], 1);
}
END_TEST

START_TEST(test_table_pairs)
{
	check_case(&cases[_i], 2);
}
END_TEST

/* Two pipelined replies in one buffer come out one at a time. */
START_TEST(test_pipelined)
{
	static const char in[] = "250 2.1.0 Ok\r\n550-5.1.1 no\r\n"
	                         "550 5.1.1 such user\r\n354 go\r\n";
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(NULL);
	static const guint want[] = { 250, 550, 354 };
	size_t off = 0, len = strlen(in);

	for (size_t k = 0; k < G_N_ELEMENTS(want); k++) {
		size_t used = 0;
		ck_assert_int_eq(smtp_reply_parser_feed(p, in + off, len - off,
		                                        &used, NULL),
		                 SMTP_REPLY_DONE);
		off += used;
		g_autoptr(SmtpReply) r = smtp_reply_parser_take(p);
		ck_assert_uint_eq(r->code, want[k]);
	}
	ck_assert_uint_eq(off, len);
	size_t used = 7;
	ck_assert_int_eq(smtp_reply_parser_feed(p, in, 0, &used, NULL),
	                 SMTP_REPLY_NEED_MORE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* A line of exactly line_max bytes (CRLF included) passes; one more
 * byte fails, whether fed whole or byte by byte. */
static void
check_line_max(size_t total, gboolean ok, size_t step)
{
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(NULL);
	g_autoptr(SmtpReply) r = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *in = g_malloc(total + 1);
	size_t used = 0;

	memcpy(in, "250 ", 4);
	memset(in + 4, 'x', total - 6);
	memcpy(in + total - 2, "\r\n", 3);
	SmtpReplyStatus st = feed_all(p, in, total, step, &r, &used, &err);
	if (ok) {
		ck_assert_int_eq(st, SMTP_REPLY_DONE);
		ck_assert_uint_eq(strlen(r->lines->pdata[0]), total - 6);
	} else {
		ck_assert_int_eq(st, SMTP_REPLY_ERROR);
		ck_assert(strstr(err->message, "longer than 4096") != NULL);
	}
}

START_TEST(test_line_max)
{
	check_line_max(4096, TRUE, 1);
	check_line_max(4096, TRUE, 4096);
	check_line_max(4097, FALSE, 1);
	check_line_max(4097, FALSE, 4097);
	check_line_max(100000, FALSE, 1000);
}
END_TEST

/* 256 lines pass, 257 fail; custom limits are honoured. */
START_TEST(test_lines_max)
{
	for (guint n = 256; n <= 257; n++) {
		g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(NULL);
		g_autoptr(SmtpReply) r = NULL;
		g_autoptr(GError) err = NULL;
		GString *in = g_string_new(NULL);
		size_t used = 0;

		for (guint i = 1; i < n; i++)
			g_string_append(in, "250-line\r\n");
		g_string_append(in, "250 end\r\n");
		SmtpReplyStatus st = feed_all(p, in->str, in->len, 1, &r,
		                              &used, &err);
		ck_assert_int_eq(st, n == 256 ? SMTP_REPLY_DONE
		                              : SMTP_REPLY_ERROR);
		if (err)
			ck_assert(strstr(err->message, "more than 256 lines"));
		g_string_free(in, TRUE);
	}
	SmtpReplyLimits lim = { .line_max = 10, .lines_max = 1 };
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(&lim);
	size_t used = 0;
	g_autoptr(GError) err = NULL;
	ck_assert_int_eq(smtp_reply_parser_feed(p, "250-a\r\n250 b\r\n", 14,
	                                        &used, &err),
	                 SMTP_REPLY_ERROR);
	ck_assert(strstr(err->message, "more than 1 lines"));
}
END_TEST

/* A NUL byte is garbage, not the end of the text. */
START_TEST(test_nul)
{
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(NULL);
	g_autoptr(GError) err = NULL;
	size_t used = 0;

	ck_assert_int_eq(smtp_reply_parser_feed(p, "250 a\0b\r\n", 9, &used,
	                                        &err),
	                 SMTP_REPLY_ERROR);
	ck_assert(strstr(err->message, "control character 0x00") != NULL);
}
END_TEST

/* After an error the parser stays failed until reset. */
START_TEST(test_error_sticks)
{
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(NULL);
	size_t used = 0;
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;

	ck_assert_int_eq(smtp_reply_parser_feed(p, "xyz\r\n", 5, &used, &e1),
	                 SMTP_REPLY_ERROR);
	ck_assert_int_eq(smtp_reply_parser_feed(p, "250 ok\r\n", 8, &used,
	                                        &e2),
	                 SMTP_REPLY_ERROR);
	ck_assert(e2 != NULL);
	smtp_reply_parser_reset(p);
	ck_assert_int_eq(smtp_reply_parser_feed(p, "250 ok\r\n", 8, &used,
	                                        NULL),
	                 SMTP_REPLY_DONE);
	smtp_reply_free(smtp_reply_parser_take(p));
	smtp_reply_free(NULL);
	smtp_reply_parser_free(NULL);
}
END_TEST

static Suite *
smtp_reply_suite(void)
{
	Suite *s = suite_create("smtp_reply");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table_whole, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(tc, test_table_bytewise, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(tc, test_table_pairs, 0, G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_line_max);
	tcase_add_test(tc, test_lines_max);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_error_sticks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtp_reply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
