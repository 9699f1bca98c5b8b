/* test_mutf7.c - unit tests for modified UTF-7 mailbox names. */
#include <check.h>
#include <stdlib.h>

#include "net/mf_error.h"
#include "net/mutf7.h"

/* Pairs that must convert both ways: modified UTF-7, UTF-8. */
static const struct {
	const char *mutf7;
	const char *utf8;
} both_ways[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "Archive/2024 Q1", "Archive/2024 Q1" },
	{ "&-", "&" },
	{ "Tom &- Jerry", "Tom & Jerry" },
	{ "&-&-", "&&" },
	{ "Entw&APw-rfe", "Entw\xc3\xbc" "rfe" },                 /* Entwürfe */
	{ "&AOQ-", "\xc3\xa4" },                                  /* ä */
	{ "&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc" },             /* äöü: 3 units */
	{ "&AOQA9g-", "\xc3\xa4\xc3\xb6" },                       /* 2 units */
	{ "&AOQ-&-&AOQ-", "\xc3\xa4&\xc3\xa4" },
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	  "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" }, /* 日本語 */
	{ "&U,BTFw-", "\xe5\x8f\xb0\xe5\x8c\x97" },               /* 台北 */
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },                       /* U+1F600 */
	{ "Mail &2D3eAA- box", "Mail \xf0\x9f\x98\x80 box" },
	{ "&2D3eANg93gE-", "\xf0\x9f\x98\x80\xf0\x9f\x98\x81" },  /* two astral */
	{ "&AAk-", "\t" },                                        /* control char */
	{ "&AH8-", "\x7f" },
	{ "&BB8EQAQ4BDIENQRC-", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	{ "a&AOQ-b&APY-c", "a\xc3\xa4" "b\xc3\xb6" "c" },
	{ "&,,8-", "\xef\xbf\xbf" },                               /* U+FFFF */
	{ "&2,,f,w-", "\xf4\x8f\xbf\xbf" },                        /* U+10FFFF */
};

START_TEST(test_decode_table)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *out = mutf7_decode(both_ways[_i].mutf7, &err);

	ck_assert_msg(out != NULL, "decode %s: %s", both_ways[_i].mutf7,
	              err ? err->message : "?");
	ck_assert_str_eq(out, both_ways[_i].utf8);
}
END_TEST

START_TEST(test_encode_table)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *out = mutf7_encode(both_ways[_i].utf8, &err);

	ck_assert_msg(out != NULL, "encode #%d failed", _i);
	ck_assert_str_eq(out, both_ways[_i].mutf7);
}
END_TEST

static const char *const rejected[] = {
	"&",               /* unterminated shift */
	"abc&AOQ",         /* unterminated base64 run */
	"&AOQ",
	"&AGE-",           /* "a" must be written directly */
	"&ACY-",           /* "&" must be written as "&-" */
	"&ACA-",           /* space is printable ASCII */
	"&AOQ-&AOQ-",      /* two adjacent runs: should have been one */
	"&AOQ/-",          /* "/" is not modified base64 (that is ",") */
	"&AO=-",           /* padding is not allowed */
	"&AO Q-",
	"&AOR-",           /* non-zero leftover bits */
	"&AOQA-",          /* a whole extra base64 char of leftover */
	"&A-",             /* fewer than 16 bits */
	"&2D0-",           /* lone high surrogate */
	"&2D3YPQ-",        /* high followed by high */
	"&3gA-",           /* lone low surrogate */
	"&2D0-&3gA-",      /* pair split over two runs */
	"&AAA-",           /* NUL */
	"Entw\xc3\xbcrfe", /* raw 8-bit */
	"tab\there",       /* raw control character */
	"&AOQ-\x7f",
};

START_TEST(test_decode_rejects)
{
	g_autoptr(GError) err = NULL;
	char *out = mutf7_decode(rejected[_i], &err);

	ck_assert_msg(out == NULL, "accepted \"%s\" as \"%s\"", rejected[_i], out);
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_PROTOCOL));
}
END_TEST

START_TEST(test_encode_rejects_invalid_utf8)
{
	static const char *const bad[] = {
		"\xc3", "a\xffz", "\xed\xa0\x80", /* encoded surrogate */
		"\xc0\xaf",                       /* overlong "/" */
	};

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;

		ck_assert_ptr_null(mutf7_encode(bad[i], &err));
		ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	}
}
END_TEST

/* Every character class mixed in every order round-trips. */
START_TEST(test_round_trip)
{
	static const char *const parts[] = {
		"a", "&", " ", "-", "\xc3\xa4", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
		"\t", "~", "/",
	};
	const guint n = G_N_ELEMENTS(parts);

	for (guint i = 0; i < n * n * n; i++) {
		g_autofree char *in = g_strconcat(parts[i % n], parts[i / n % n],
		                                  parts[i / n / n], NULL);
		g_autofree char *enc = mutf7_encode(in, NULL);
		g_autofree char *dec = NULL;
		g_autoptr(GError) err = NULL;

		ck_assert_ptr_nonnull(enc);
		dec = mutf7_decode(enc, &err);
		ck_assert_msg(dec != NULL, "%s -> %s: %s", in, enc,
		              err ? err->message : "?");
		ck_assert_str_eq(dec, in);
	}
}
END_TEST

static Suite *
mutf7_suite(void)
{
	Suite *s = suite_create("mutf7");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_decode_table, 0, G_N_ELEMENTS(both_ways));
	tcase_add_loop_test(tc, test_encode_table, 0, G_N_ELEMENTS(both_ways));
	tcase_add_loop_test(tc, test_decode_rejects, 0, G_N_ELEMENTS(rejected));
	tcase_add_test(tc, test_encode_rejects_invalid_utf8);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mutf7_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
