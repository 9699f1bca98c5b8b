/* test_imap_seqset.c - UID sets (net/imap_seqset.c) and the replies that
 * carry them, VANISHED, ESEARCH and FETCH with MODSEQ, as the response
 * parser (fed one byte at a time) hands them on. */
#include <check.h>
#include <string.h>

#include "net/imap_parser.h"
#include "net/imap_seqset.h"

/* The ranges of S as "a-b a-b ...", or "ERR". */
static char *
ranges_of(const char *s, guint max)
{
	g_autoptr(GArray) r = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	ImapRange keep = { 7, 7 };

	g_array_append_val(r, keep);
	if (!imap_seqset_parse(s, strlen(s), max, r)) {
		ck_assert_uint_eq(r->len, 1); /* left as it was */
		return g_strdup("ERR");
	}
	GString *out = g_string_new(NULL);
	for (guint i = 1; i < r->len; i++) {
		ImapRange *x = &g_array_index(r, ImapRange, i);
		g_string_append_printf(out, "%s%u-%u", i > 1 ? " " : "", x->first,
		                       x->last);
	}
	return g_string_free(out, FALSE);
}

#define RANGES(s, want) do { \
	g_autofree char *got_ = ranges_of(s, 100); \
	ck_assert_msg(strcmp(got_, want) == 0, "%s: got %s, want %s", s, \
	              got_, want); \
} while (0)

START_TEST(test_parse)
{
	RANGES("5", "5-5");
	RANGES("1:3,5,7:9", "1-3 5-5 7-9");
	RANGES("9:7", "7-9");
	RANGES("4294967295", "4294967295-4294967295");
	RANGES("1:4294967295", "1-4294967295");
	RANGES("", "ERR");
	RANGES("0", "ERR");
	RANGES("01", "ERR");
	RANGES("4294967296", "ERR");
	RANGES("99999999999999999999", "ERR");
	RANGES("1:", "ERR");
	RANGES(":1", "ERR");
	RANGES("1,", "ERR");
	RANGES(",1", "ERR");
	RANGES("1,,2", "ERR");
	RANGES("1:*", "ERR");
	RANGES("*", "ERR");
	RANGES("1 2", "ERR");
	RANGES("1:2:3", "ERR");
	RANGES("a", "ERR");
	g_autofree char *many = ranges_of("1,2,3", 2);
	ck_assert_str_eq(many, "ERR");
	g_autofree char *enough = ranges_of("1,2,3", 3);
	ck_assert_str_eq(enough, "1-1 2-2 3-3");
}
END_TEST

START_TEST(test_normalize_contains)
{
	g_autoptr(GArray) r = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	const char *s = "20:25,1:3,4,10:12,11:15,4294967295";

	ck_assert(imap_seqset_parse(s, strlen(s), 100, r));
	imap_seqset_normalize(r);
	ck_assert_uint_eq(r->len, 4);
	const ImapRange *x = (const ImapRange *)r->data;
	ck_assert_uint_eq(x[0].first, 1);
	ck_assert_uint_eq(x[0].last, 4);
	ck_assert_uint_eq(x[1].first, 10);
	ck_assert_uint_eq(x[1].last, 15);
	ck_assert_uint_eq(x[3].first, 4294967295u);
	ck_assert_uint_eq(imap_seqset_count(x, r->len), 4 + 6 + 6 + 1);
	ck_assert(imap_seqset_contains(x, r->len, 1));
	ck_assert(imap_seqset_contains(x, r->len, 4));
	ck_assert(!imap_seqset_contains(x, r->len, 5));
	ck_assert(imap_seqset_contains(x, r->len, 13));
	ck_assert(!imap_seqset_contains(x, r->len, 19));
	ck_assert(imap_seqset_contains(x, r->len, 25));
	ck_assert(!imap_seqset_contains(x, r->len, 26));
	ck_assert(imap_seqset_contains(x, r->len, 4294967295u));
	ck_assert(!imap_seqset_contains(x, 0, 1));
}
END_TEST

/* One response of IN, fed to a new parser one byte at a time. */
static ImapResponse *
parse_bytewise(const char *in)
{
	ImapParser *p = imap_parser_new(&imap_parser_default_limits);
	size_t len = strlen(in), pos = 0;
	ImapResponse *r = NULL;

	while (pos < len) {
		size_t used = 0;
		GError *err = NULL;
		ImapParseStatus st = imap_parser_feed(p, in + pos, 1, &used, &err);
		ck_assert_msg(st != IMAP_PARSE_ERROR, "%s: %s", in,
		              err ? err->message : "?");
		pos += used;
		if (st == IMAP_PARSE_DONE) {
			r = imap_parser_take(p);
			break;
		}
	}
	imap_parser_free(p);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(pos, len);
	return r;
}

static const ImapValue *
arg(const ImapResponse *r, guint i)
{
	ck_assert_uint_lt(i, r->args->len);
	return r->args->pdata[i];
}

START_TEST(test_vanished_bytewise)
{
	g_autoptr(ImapResponse) r =
		parse_bytewise("* VANISHED (EARLIER) 1:3,5,7:9\r\n");
	g_autoptr(GArray) set = g_array_new(FALSE, FALSE, sizeof(ImapRange));

	ck_assert(imap_value_is_atom(arg(r, 0), "VANISHED"));
	ck_assert_int_eq(arg(r, 1)->type, IMAP_VALUE_LIST);
	ck_assert(imap_value_is_atom(arg(r, 1)->list->pdata[0], "EARLIER"));
	ck_assert(imap_seqset_parse(arg(r, 2)->str, arg(r, 2)->len, 10, set));
	ck_assert_uint_eq(imap_seqset_count((ImapRange *)set->data, set->len),
	                  7);
	g_autoptr(ImapResponse) now = parse_bytewise("* VANISHED 42\r\n");
	ck_assert_uint_eq(now->args->len, 2);
	ck_assert_str_eq(imap_value_str(arg(now, 1)), "42");
}
END_TEST

START_TEST(test_esearch_bytewise)
{
	g_autoptr(ImapResponse) r =
		parse_bytewise("* ESEARCH (TAG \"A5\") UID ALL 1:4,6:200000\r\n");
	g_autoptr(GArray) set = g_array_new(FALSE, FALSE, sizeof(ImapRange));

	ck_assert(imap_value_is_atom(arg(r, 0), "ESEARCH"));
	ck_assert_int_eq(arg(r, 1)->type, IMAP_VALUE_LIST);
	ck_assert(imap_value_is_atom(arg(r, 2), "UID"));
	ck_assert(imap_value_is_atom(arg(r, 3), "ALL"));
	ck_assert(imap_seqset_parse(arg(r, 4)->str, arg(r, 4)->len, 10, set));
	ck_assert_uint_eq(imap_seqset_count((ImapRange *)set->data, set->len),
	                  4 + 199995);
	/* Nothing found: no ALL at all. */
	g_autoptr(ImapResponse) none =
		parse_bytewise("* ESEARCH (TAG \"A6\") UID\r\n");
	ck_assert_uint_eq(none->args->len, 3);
}
END_TEST

/* Runs that go up by one become ranges; the rest stay as given. */
START_TEST(test_format)
{
	static const guint32 a[] = { 1, 2, 3, 7, 9, 10 };
	static const guint32 b[] = { 5 };
	static const guint32 c[] = { 8, 3, 4, 2 };
	static const guint32 d[] = { 4294967294u, 4294967295u };
	char *t;

	ck_assert_str_eq(t = imap_seqset_format(a, G_N_ELEMENTS(a)), "1:3,7,9:10");
	g_free(t);
	ck_assert_str_eq(t = imap_seqset_format(b, 1), "5");
	g_free(t);
	ck_assert_str_eq(t = imap_seqset_format(c, G_N_ELEMENTS(c)), "8,3:4,2");
	g_free(t);
	ck_assert_str_eq(t = imap_seqset_format(d, 2), "4294967294:4294967295");
	g_free(t);
}
END_TEST

START_TEST(test_fetch_modseq_bytewise)
{
	g_autoptr(ImapResponse) r = parse_bytewise(
		"* 4 FETCH (UID 4 MODSEQ (12345678901) FLAGS (\\Answered "
		"\\Recent))\r\n");
	const ImapValue *l = arg(r, 2);
	guint64 modseq = 0;

	ck_assert_int_eq(l->type, IMAP_VALUE_LIST);
	ck_assert(imap_value_is_atom(l->list->pdata[2], "MODSEQ"));
	const ImapValue *m = l->list->pdata[3];
	ck_assert_int_eq(m->type, IMAP_VALUE_LIST);
	ck_assert(imap_value_get_u64(m->list->pdata[0], &modseq));
	ck_assert_uint_eq(modseq, 12345678901ull);
	g_autoptr(ImapResponse) st = parse_bytewise(
		"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n");
	ck_assert(imap_value_is_atom(st->code->pdata[0], "HIGHESTMODSEQ"));
	g_autoptr(ImapResponse) no = parse_bytewise(
		"* OK [NOMODSEQ] Sorry, this mailbox format has no MODSEQ\r\n");
	ck_assert(imap_value_is_atom(no->code->pdata[0], "NOMODSEQ"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("imap_seqset");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_normalize_contains);
	tcase_add_test(tc, test_vanished_bytewise);
	tcase_add_test(tc, test_esearch_bytewise);
	tcase_add_test(tc, test_fetch_modseq_bytewise);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
