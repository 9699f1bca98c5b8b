/* test_summary.c - unit tests for cache/summary.c: summaries from header
 * blocks (RFC 2047 words, raw 8-bit, folded fields, what tells an
 * attachment) and the TSV and JSON Lines forms. */
#include <check.h>
#include <string.h>

#include "cache/summary.h"

static const struct {
	const char *hdr;
	const char *sender, *subject;
	gboolean attach;
} headers[] = {
	{ "From: Ann <ann@example.org>\r\nSubject: hello\r\n\r\n",
	  "Ann <ann@example.org>", "hello", FALSE },
	{ "Subject: =?UTF-8?B?w5xiZXI=?= =?UTF-8?Q?_alles?=\r\n"
	  "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\n",
	  "J\u00f6rg <j@example.org>", "\u00dcber alles", FALSE },
	{ "Subject: folded\r\n over two lines\r\n", "", "folded over two lines",
	  FALSE },
	{ "Content-Type: multipart/mixed; boundary=x\r\n", "", "", TRUE },
	{ "Content-Type: multipart/alternative; boundary=x\r\n", "", "", FALSE },
	{ "Content-Type: application/pdf\r\n", "", "", TRUE },
	{ "Content-Type: text/plain\r\nContent-Disposition: attachment\r\n",
	  "", "", TRUE },
	{ "Content-Type: text/html; charset=utf-8\r\n", "", "", FALSE },
	/* The body after the header block is not read. */
	{ "Subject: head\n\nSubject: body\n", "", "head", FALSE },
	{ "", "", "", FALSE },
	{ "garbage without a colon\r\n", "", "", FALSE },
	/* Raw UTF-8 is kept; bytes that are not UTF-8 become valid. */
	{ "Subject: caf\xc3\xa9\r\n", "", "caf\u00e9", FALSE },
};

START_TEST(test_from_header)
{
	const char *h = headers[_i].hdr;
	MfSummary *s = summary_from_header(7, h, strlen(h));

	ck_assert_uint_eq(s->uid, 7);
	ck_assert_str_eq(s->sender, headers[_i].sender);
	ck_assert_str_eq(s->subject, headers[_i].subject);
	ck_assert_int_eq(s->attach, headers[_i].attach);
	summary_free(s);
}
END_TEST

START_TEST(test_invalid_bytes)
{
	const char h[] = "Subject: a\xff\xfe b\r\n";
	MfSummary *s = summary_from_header(1, h, sizeof h - 1);

	ck_assert(g_utf8_validate(s->subject, -1, NULL));
	ck_assert_ptr_nonnull(strchr(s->subject, 'b'));
	summary_free(s);
}
END_TEST

START_TEST(test_every_prefix)
{
	/* Any cut of a block is read without harm. */
	const char h[] = "From: =?UTF-8?B?w5xiZXI=?= <a@b>\r\nSubject: "
	                 "=?UTF-8?Q?x?=\r\nContent-Type: multipart/mixed;\r\n"
	                 " boundary=\"q\"\r\n\r\n";

	for (size_t n = 0; n <= sizeof h - 1; n++) {
		MfSummary *s = summary_from_header(1, h, n);
		ck_assert(g_utf8_validate(s->sender, -1, NULL));
		ck_assert(g_utf8_validate(s->subject, -1, NULL));
		summary_free(s);
	}
}
END_TEST

START_TEST(test_tsv)
{
	GString *out = g_string_new(NULL);
	MfSummary *s = summary_new(3, "A\tB <a@b>", "line\r\nbreak", TRUE);
	SummaryFile f = { "3.1.eml", 86400, "\\Seen \\Flagged", 1234 };

	summary_tsv_line(out, &f, s);
	ck_assert_str_eq(out->str, "3.1.eml\t1970-01-02T00:00:00Z\tA B <a@b>\t"
	                 "line  break\t\\Seen \\Flagged\t1234\tyes\n");
	g_string_truncate(out, 0);
	f.flags = "";
	summary_tsv_line(out, &f, NULL);
	ck_assert_str_eq(out->str, "3.1.eml\t1970-01-02T00:00:00Z\t\t\t\t1234"
	                 "\tno\n");
	summary_free(s);
	g_string_free(out, TRUE);
}
END_TEST

START_TEST(test_json)
{
	GString *out = g_string_new(NULL);
	MfSummary *s = summary_new(3, "\"Q\" <q@x>", "a\\b\x01\u00e9", FALSE);
	SummaryFile f = { "3.1.eml", 0, "\\Seen  $Label1", 9 };

	summary_json_line(out, &f, s);
	ck_assert_str_eq(out->str,
	                 "{\"name\":\"3.1.eml\",\"date\":\"1970-01-01T00:00:00Z\","
	                 "\"from\":\"\\\"Q\\\" <q@x>\",\"subject\":"
	                 "\"a\\\\b\\u0001\u00e9\",\"flags\":[\"\\\\Seen\","
	                 "\"$Label1\"],\"size\":9,\"attachments\":false}\n");
	summary_free(s);
	g_string_free(out, TRUE);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("summary");
	TCase *tc = tcase_create("summary");

	tcase_add_loop_test(tc, test_from_header, 0, G_N_ELEMENTS(headers));
	tcase_add_test(tc, test_invalid_bytes);
	tcase_add_test(tc, test_every_prefix);
	tcase_add_test(tc, test_tsv);
	tcase_add_test(tc, test_json);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
