/* test_search_query.c - unit tests for cache/search_query.c: each query
 * fed whole, one byte at a time and cut in two at every place gives the
 * same IMAP criteria and FTS5 match, or the same error. */
#include <check.h>
#include <string.h>

#include "cache/search_query.h"
#include "net/mf_error.h"

static const struct {
	const char *query;
	const char *imap;  /* NULL: an error, whose message holds FTS */
	const char *fts;
} cases[] = {
	{ "from:alice", "FROM \"alice\"", "sender : \"alice\"" },
	{ "FROM:alice To:bob", "FROM \"alice\" TO \"bob\"",
	  "sender : \"alice\" AND recipients : \"bob\"" },
	{ "subject:\"two words\" budget",
	  "SUBJECT \"two words\" TEXT \"budget\"",
	  "subject : \"two words\" AND \"budget\"" },
	{ "  spaced   out  ", "TEXT \"spaced\" TEXT \"out\"",
	  "\"spaced\" AND \"out\"" },
	{ "since:2024-01-31 before:2024-03-01",
	  "SINCE 31-Jan-2024 BEFORE 1-Mar-2024", NULL },
	{ "flagged UNSEEN", "FLAGGED UNSEEN", NULL },
	{ "\"flagged\"", "TEXT \"flagged\"", "\"flagged\"" },
	{ "in:Archive:2024", "ALL", NULL },
	{ "in:INBOX x", "TEXT \"x\"", "\"x\"" },
	{ "\"a \\\"q\\\" b\\\\\"", "TEXT \"a \\\"q\\\" b\\\\\"",
	  "\"a \"\"q\"\" b\\\"" },
	{ "caf\u00e9", "TEXT \"caf\u00e9\"", "\"caf\u00e9\"" },
	{ "url:x", NULL, "unknown key" },
	{ "from:", NULL, "empty value" },
	{ "from:\"\"", NULL, "empty value" },
	{ "since:2024-02-30", NULL, "not a day" },
	{ "since:24-01-01", NULL, "not a day" },
	{ "before:2024-1-011", NULL, "not a day" },
	{ "\"open", NULL, "unterminated quote" },
	{ "\"esc\\", NULL, "unterminated quote" },
	{ "", NULL, "empty" },
	{ "   ", NULL, "empty" },
	{ "a\tb", NULL, "control character" },
	{ "a b c d e f g h i j k l m n o p q", NULL, "too many terms" },
};

/* Parses Q in pieces cut at CUTS (ascending, ending with strlen(Q)). */
static SearchQuery *
parse_cut(const char *q, const size_t *cuts, guint n, GError **err)
{
	SearchQuery *sq = search_query_new();
	size_t from = 0;

	for (guint i = 0; i < n; i++) {
		if (!search_query_feed(sq, q + from, cuts[i] - from, err)) {
			search_query_free(sq);
			return NULL;
		}
		from = cuts[i];
	}
	if (!search_query_finish(sq, err)) {
		search_query_free(sq);
		return NULL;
	}
	return sq;
}

static void
check_result(guint c, SearchQuery *q, GError *err)
{
	if (!cases[c].imap) {
		ck_assert_msg(q == NULL, "%s: accepted", cases[c].query);
		ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_REFUSED));
		ck_assert_msg(strstr(err->message, cases[c].fts), "%s: %s",
		              cases[c].query, err->message);
		return;
	}
	ck_assert_msg(q != NULL, "%s: %s", cases[c].query,
	              err ? err->message : "");
	gboolean utf8;
	g_autofree char *imap = search_query_imap(q, &utf8);
	g_autofree char *fts = search_query_fts(q);
	ck_assert_str_eq(imap, cases[c].imap);
	ck_assert_int_eq(utf8, strstr(cases[c].query, "\u00e9") != NULL);
	if (cases[c].fts)
		ck_assert_str_eq(fts, cases[c].fts);
	else
		ck_assert_ptr_null(fts);
}

START_TEST(test_whole)
{
	GError *err = NULL;
	SearchQuery *q = search_query_parse(cases[_i].query, &err);

	check_result(_i, q, err);
	search_query_free(q);
	g_clear_error(&err);
}
END_TEST

START_TEST(test_byte_at_a_time)
{
	size_t len = strlen(cases[_i].query);
	g_autofree size_t *cuts = g_new(size_t, len + 1);
	GError *err = NULL;

	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	SearchQuery *q = parse_cut(cases[_i].query, cuts, (guint)len, &err);
	check_result(_i, q, err);
	search_query_free(q);
	g_clear_error(&err);
}
END_TEST

START_TEST(test_every_cut)
{
	size_t len = strlen(cases[_i].query);

	for (size_t at = 0; at <= len; at++) {
		size_t cuts[2] = { at, len };
		GError *err = NULL;
		SearchQuery *q = parse_cut(cases[_i].query, cuts, 2, &err);
		check_result(_i, q, err);
		search_query_free(q);
		g_clear_error(&err);
	}
}
END_TEST

START_TEST(test_terms)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(SearchQuery) q = search_query_parse(
		"in:A since:1970-01-02 in:B x", &err);

	ck_assert_uint_eq(search_query_count(q), 4);
	ck_assert_str_eq(search_query_folder(q), "B");
	ck_assert_int_eq(search_query_term(q, 1)->key, SEARCH_SINCE);
	ck_assert_int_eq(search_query_term(q, 1)->day, 86400);
}
END_TEST

START_TEST(test_too_long)
{
	g_autoptr(GError) err = NULL;
	char buf[SEARCH_QUERY_MAX + 2];

	memset(buf, 'a', sizeof buf - 1);
	buf[sizeof buf - 1] = '\0';
	ck_assert_ptr_null(search_query_parse(buf, &err));
	ck_assert_ptr_nonnull(strstr(err->message, "too long"));
	buf[SEARCH_QUERY_MAX] = '\0';
	g_clear_error(&err);
	SearchQuery *q = search_query_parse(buf, &err);
	ck_assert_ptr_nonnull(q);
	search_query_free(q);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("search_query");
	TCase *tc = tcase_create("search_query");

	tcase_add_loop_test(tc, test_whole, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(tc, test_byte_at_a_time, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(tc, test_every_cut, 0, G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_terms);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
