/* test_pop3_parser.c - unit tests for the POP3 response parser and its
 * UIDL / LIST / STAT line helpers: tables fed whole, byte by byte and in
 * random chunks. */
#include <check.h>
#include <string.h>

#include "net/mf_error.h"
#include "net/pop3_parser.h"

/* ---- Driving the parser ---------------------------------------------- */

typedef enum {
	FEED_ALL,    /* the whole input in one call */
	FEED_BYTES,  /* one byte per call */
	FEED_RANDOM, /* random chunk sizes from a fixed seed */
} FeedMode;

static size_t
next_chunk(FeedMode mode, GRand *rnd, size_t left)
{
	size_t n = left;

	if (mode == FEED_BYTES)
		n = 1;
	else if (mode == FEED_RANDOM)
		n = (size_t)g_rand_int_range(rnd, 1, 12);
	return MIN(n, left);
}

/* Appends LINE to T with brackets, escaping what is not printable. */
static void
append_escaped(GString *t, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r')
			g_string_append(t, "\\r");
		else if (ch < 0x20 || ch >= 0x7f)
			g_string_append_printf(t, "\\x%02x", ch);
		else
			g_string_append_c(t, (char)ch);
	}
}

static const char *const kind_names[] = {
	[POP3_STATUS_OK] = "OK", [POP3_STATUS_ERR] = "ERR",
	[POP3_STATUS_CONT] = "CONT",
};

/* Records one event in T; TRUE while the response goes on. */
static gboolean
record(Pop3Parser *p, Pop3ParseStatus st, Pop3Expect expect, GString *t)
{
	const char *text;
	size_t len;

	switch (st) {
	case POP3_PARSE_STATUS: {
		Pop3StatusKind k = pop3_parser_status(p, &text);
		g_string_append_printf(t, "%s(", kind_names[k]);
		append_escaped(t, text, strlen(text));
		g_string_append_c(t, ')');
		return k == POP3_STATUS_OK && expect != POP3_EXPECT_STATUS;
	}
	case POP3_PARSE_LINE:
		text = pop3_parser_line(p, &len);
		g_string_append_c(t, '[');
		append_escaped(t, text, len);
		g_string_append_c(t, ']');
		return TRUE;
	case POP3_PARSE_END:
		g_string_append_c(t, '.');
		return FALSE;
	case POP3_PARSE_ERROR:
		g_string_append_c(t, '!');
		return FALSE;
	case POP3_PARSE_NEED_MORE:
		break;
	}
	return TRUE;
}

typedef struct {
	GString *trace; /* events: OK(text) [line] . ! and "~" if input ran out */
	GError *err;
	size_t end;     /* input offset right after the response */
} Run;

static void
run_clear(Run *r)
{
	g_string_free(r->trace, TRUE);
	g_clear_error(&r->err);
}

/* Feeds IN (LEN bytes) expecting EXPECT until the response is over, an
 * error occurs or the input runs out. */
static void
run_parser(const Pop3ParserLimits *lim, Pop3Expect expect, const char *in,
           size_t len, FeedMode mode, guint32 seed, Run *r)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(seed);
	g_autoptr(Pop3Parser) p = pop3_parser_new(lim);
	size_t pos = 0;
	size_t chunk = 0, fed = 0;

	memset(r, 0, sizeof *r);
	r->trace = g_string_new(NULL);
	pop3_parser_expect(p, expect);
	for (;;) {
		size_t used = 99;
		if (fed == chunk) {
			if (pos == len) {
				g_string_append_c(r->trace, '~');
				break;
			}
			chunk = next_chunk(mode, rnd, len - pos);
			fed = 0;
		}
		Pop3ParseStatus st = pop3_parser_feed(p, in + pos, chunk - fed,
		                                      &used, &r->err);
		ck_assert_uint_le(used, chunk - fed);
		pos += used;
		fed += used;
		if (!record(p, st, expect, r->trace))
			break;
		if (st == POP3_PARSE_NEED_MORE)
			ck_assert_uint_eq(fed, chunk);
	}
	r->end = pos;
}

/* ---- Response tables --------------------------------------------------- */

/* Small limits: 16-byte lines, 3 listing lines, 40 bytes of text. */
static const Pop3ParserLimits small = {
	.status_max = 16, .list_line_max = 16, .list_lines_max = 3,
	.text_line_max = 16, .text_max = 40,
};

typedef struct {
	const char *in;
	size_t len;              /* 0: strlen(in) */
	Pop3Expect expect;
	const Pop3ParserLimits *lim;
	const char *trace;
	const char *rest;        /* input left after the response ("" none) */
	const char *err;         /* substring of the error message */
} Case;

#define S POP3_EXPECT_STATUS
#define L POP3_EXPECT_LIST
#define T POP3_EXPECT_TEXT

static const Case cases[] = {
	/* status lines */
	{ "+OK POP3 ready\r\n", 0, S, NULL, "OK(POP3 ready)", "", NULL },
	{ "+OK\r\n", 0, S, NULL, "OK()", "", NULL },
	{ "+OK bare lf\nrest", 0, S, NULL, "OK(bare lf)", "rest", NULL },
	{ "+ok lower case\r\n", 0, S, NULL, "OK(lower case)", "", NULL },
	{ "-ERR no such message\r\n", 0, S, NULL, "ERR(no such message)", "",
	  NULL },
	{ "-ERR\r\n", 0, S, NULL, "ERR()", "", NULL },
	{ "+ \r\n", 0, S, NULL, "CONT()", "", NULL },
	{ "+\r\n", 0, S, NULL, "CONT()", "", NULL },
	{ "+ dGVzdA==\r\n", 0, S, NULL, "CONT(dGVzdA==)", "", NULL },
	{ "+OK  two  spaces\r\n", 0, S, NULL, "OK( two  spaces)", "", NULL },
	{ "+OK\r\n+OK next\r\n", 0, S, NULL, "OK()", "+OK next\r\n", NULL },
	{ "+OK partial", 0, S, NULL, "~", "", NULL },
	{ "* OK IMAP4rev1 ready\r\n", 0, S, NULL, "!", NULL, "neither" },
	{ "220 smtp.example ESMTP\r\n", 0, S, NULL, "!", NULL, "neither" },
	{ "+OKAY\r\n", 0, S, NULL, "!", NULL, "neither" },
	{ "-ER\r\n", 0, S, NULL, "!", NULL, "neither" },
	{ "OK\r\n", 0, S, NULL, "!", NULL, "neither" },
	{ "\r\n", 0, S, NULL, "!", NULL, "neither" },
	{ "+OK a\0b\r\n", 9, S, NULL, "!", NULL, "NUL" },
	{ "+OK 123456789012\r\n", 0, S, &small, "OK(123456789012)", "", NULL },
	{ "+OK 1234567890123\r\n", 0, S, &small, "!", NULL, "longer than 16" },
	{ "+OK 1234567890123", 0, S, &small, "~", NULL, NULL },
	{ "+OK 1234567890123456789", 0, S, &small, "!", NULL, "longer than" },
	/* listings */
	{ "+OK 2 messages\r\n1 abc\r\n2 def\r\n.\r\n", 0, L, NULL,
	  "OK(2 messages)[1 abc][2 def].", "", NULL },
	{ "+OK\r\n..x\r\n.y\r\n..\r\n.\r\n", 0, L, NULL, "OK()[.x][y][.].", "",
	  NULL },
	{ "+OK\n1 a\n.\nX", 0, L, NULL, "OK()[1 a].", "X", NULL },
	{ "+OK\r\n.\r\n-ERR x", 0, L, NULL, "OK().", "-ERR x", NULL },
	{ "+OK\r\n. \r\n\r\n.\r\n", 0, L, NULL, "OK()[ ][].", "", NULL },
	{ "-ERR nope\r\n1 x\r\n", 0, L, NULL, "ERR(nope)", "1 x\r\n", NULL },
	{ "+ abc\r\n1 x\r\n", 0, L, NULL, "CONT(abc)", "1 x\r\n", NULL },
	{ "+OK\r\n1 a\r\n", 0, L, NULL, "OK()[1 a]~", "", NULL },
	{ "+OK\r\n1 a\r\n.", 0, L, NULL, "OK()[1 a]~", "", NULL },
	{ "+OK\r\na\r\nb\r\nc\r\n.\r\n", 0, L, &small, "OK()[a][b][c].", "",
	  NULL },
	{ "+OK\r\na\r\nb\r\nc\r\nd\r\n.\r\n", 0, L, &small, "OK()[a][b][c]!",
	  NULL, "longer than 3 lines" },
	{ "+OK\r\n1234567890123456\r\n.\r\n", 0, L, &small,
	  "OK()[1234567890123456].", "", NULL },
	{ "+OK\r\n.1234567890123456\r\n.\r\n", 0, L, &small,
	  "OK()[1234567890123456].", "", NULL },
	{ "+OK\r\n12345678901234567\r\n.\r\n", 0, L, &small, "OK()!", NULL,
	  "longer than 16" },
	{ "+OK\r\n1 a\0\r\n.\r\n", 13, L, NULL, "OK()!", NULL, "NUL" },
	/* message text */
	{ "+OK 120 octets\r\nSubject: hi\r\n\r\n..dot\r\nbody\n.\r\n", 0, T,
	  NULL, "OK(120 octets)[Subject: hi][][.dot][body].", "", NULL },
	{ "+OK\r\na\0b\r\n.\r\n", 13, T, NULL, "OK()[a\\x00b].", "", NULL },
	{ "+OK\r\na\rb\r\n.\r\n", 0, T, NULL, "OK()[a\\rb].", "", NULL },
	{ "+OK\r\nend\r\n.\r\n+OK", 0, T, NULL, "OK()[end].", "+OK", NULL },
	{ "-ERR no such message\r\n", 0, T, NULL, "ERR(no such message)", "",
	  NULL },
	{ "+OK\r\n12345678901234567\r\n.\r\n", 0, T, &small, "OK()!", NULL,
	  "longer than 16" },
	{ "+OK\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, T,
	  &small, "OK()!", NULL, "longer than 16" },
	/* 40 bytes of text exactly: 2 lines of 16 + CRLF, one of 2 + CRLF */
	{ "+OK\r\n1234567890123456\r\n1234567890123456\r\nxx\r\n.\r\n", 0,
	  T, &small, "OK()[1234567890123456][1234567890123456][xx].", "",
	  NULL },
	{ "+OK\r\n1234567890123456\r\n1234567890123456\r\nxxx\r\n.\r\n", 0,
	  T, &small, "OK()[1234567890123456][1234567890123456]!", NULL,
	  "larger than the limit of 40" },
};

static void
check_case(const Case *c, FeedMode mode, guint32 seed)
{
	size_t len = c->len ? c->len : strlen(c->in);
	Run r;

	run_parser(c->lim, c->expect, c->in, len, mode, seed, &r);
	ck_assert_msg(strcmp(r.trace->str, c->trace) == 0,
	              "input '%s' mode %d: trace '%s', want '%s'", c->in, mode,
	              r.trace->str, c->trace);
	if (c->err) {
		ck_assert_msg(r.err && r.err->domain == MF_ERROR &&
		              r.err->code == MF_ERROR_PROTOCOL,
		              "input '%s': want a protocol error", c->in);
		ck_assert_msg(strstr(r.err->message, c->err) != NULL,
		              "input '%s': error '%s' lacks '%s'", c->in,
		              r.err->message, c->err);
	} else {
		ck_assert_msg(r.err == NULL, "input '%s': unexpected error %s",
		              c->in, r.err ? r.err->message : "");
	}
	if (c->rest) {
		ck_assert_uint_eq(len - r.end, strlen(c->rest));
		ck_assert(memcmp(c->in + r.end, c->rest, len - r.end) == 0);
	}
	run_clear(&r);
}

START_TEST(test_table_all)
{
	check_case(&cases[_i], FEED_ALL, 0);
}
END_TEST

START_TEST(test_table_bytes)
{
	check_case(&cases[_i], FEED_BYTES, 0);
}
END_TEST

START_TEST(test_table_random)
{
	for (guint32 seed = 1; seed <= 20; seed++)
		check_case(&cases[_i], FEED_RANDOM, seed);
}
END_TEST

/* ---- Sequences, reuse and bounds ------------------------------------- */

static Pop3ParseStatus
feed_all(Pop3Parser *p, const char **in, GError **err)
{
	size_t used = 0;
	Pop3ParseStatus st = pop3_parser_feed(p, *in, strlen(*in), &used, err);

	*in += used;
	return st;
}

/* One parser for a whole session: greeting, listing, status, text. */
START_TEST(test_session)
{
	g_autoptr(Pop3Parser) p = pop3_parser_new(NULL);
	const char *in = "+OK hi\r\n+OK\r\n1 a\r\n.\r\n-ERR no\r\n"
	                 "+OK\r\n..\r\n.\r\n+OK 1 2\r\n";
	const char *text;
	size_t len;

	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	ck_assert_int_eq(pop3_parser_status(p, &text), POP3_STATUS_OK);
	ck_assert_str_eq(text, "hi");
	pop3_parser_expect(p, POP3_EXPECT_LIST);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_LINE);
	ck_assert_str_eq(pop3_parser_line(p, &len), "1 a");
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_END);
	pop3_parser_expect(p, POP3_EXPECT_TEXT);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	ck_assert_int_eq(pop3_parser_status(p, &text), POP3_STATUS_ERR);
	pop3_parser_expect(p, POP3_EXPECT_TEXT);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_LINE);
	ck_assert_str_eq(pop3_parser_line(p, &len), ".");
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_END);
	/* Back to single-line status responses by itself. */
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	ck_assert_int_eq(pop3_parser_status(p, &text), POP3_STATUS_OK);
	ck_assert_str_eq(text, "1 2");
	ck_assert_str_eq(in, "");
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_NEED_MORE);
}
END_TEST

START_TEST(test_unusable_after_error)
{
	g_autoptr(Pop3Parser) p = pop3_parser_new(NULL);
	g_autoptr(GError) err = NULL;
	const char *in = "bogus\r\n+OK\r\n";

	ck_assert_int_eq(feed_all(p, &in, &err), POP3_PARSE_ERROR);
	g_clear_error(&err);
	ck_assert_int_eq(feed_all(p, &in, &err), POP3_PARSE_ERROR);
	ck_assert(err && err->code == MF_ERROR_PROTOCOL);
}
END_TEST

/* An endless line fails once the limit is passed, having buffered no more
 * than the limit: the default 1 MiB message line. */
START_TEST(test_endless_line)
{
	g_autoptr(Pop3Parser) p = pop3_parser_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *chunk = g_malloc(64 * 1024);
	const char *in = "+OK\r\n";
	guint64 fed = 0;
	Pop3ParseStatus st = POP3_PARSE_NEED_MORE;

	memset(chunk, 'x', 64 * 1024);
	pop3_parser_expect(p, POP3_EXPECT_TEXT);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	while (fed < 64 * 1024 * 1024) {
		size_t used = 0;
		st = pop3_parser_feed(p, chunk, 64 * 1024, &used, &err);
		fed += used;
		if (st != POP3_PARSE_NEED_MORE)
			break;
	}
	ck_assert_int_eq(st, POP3_PARSE_ERROR);
	ck_assert(err && err->code == MF_ERROR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(err->message, "longer than 1048576"));
	ck_assert_uint_le(fed, 1024 * 1024 + 64 * 1024);
}
END_TEST

/* A long message text streams line by line up to the total limit. */
START_TEST(test_text_total_limit)
{
	Pop3ParserLimits lim = pop3_parser_default_limits;
	g_autoptr(Pop3Parser) p = NULL;
	g_autoptr(GError) err = NULL;
	const char *in = "+OK\r\n";
	guint lines = 0;
	Pop3ParseStatus st;

	lim.text_max = 1000;
	p = pop3_parser_new(&lim);
	pop3_parser_expect(p, POP3_EXPECT_TEXT);
	ck_assert_int_eq(feed_all(p, &in, NULL), POP3_PARSE_STATUS);
	/* 9 bytes per line with CRLF: 111 lines fit, the 112th does not. */
	do {
		const char *line = "1234567\r\n";
		size_t used = 0;
		st = pop3_parser_feed(p, line, strlen(line), &used, &err);
		lines += st == POP3_PARSE_LINE;
	} while (st == POP3_PARSE_LINE);
	ck_assert_int_eq(st, POP3_PARSE_ERROR);
	ck_assert_uint_eq(lines, 111);
}
END_TEST

/* ---- UIDL, LIST and STAT lines ---------------------------------------- */

typedef struct {
	const char *line;
	gboolean ok;
	guint32 num;
	const char *uid;
} UidlCase;

#define UID70 "000001234567890abcdefghijklmnopqrstuvwxyz" \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ___"

static const UidlCase uidl_cases[] = {
	{ "1 abc", TRUE, 1, "abc" },
	{ "01 x", TRUE, 1, "x" },
	{ "4294967295 z", TRUE, 4294967295u, "z" },
	{ "7  spaced  ", TRUE, 7, "spaced" },
	{ "2 !~", TRUE, 2, "!~" },
	/* 70 characters: the most RFC 1939 allows; then 71 */
	{ "3 " UID70, TRUE, 3, UID70 },
	{ "3 " UID70 "_", FALSE, 0, NULL },
	{ "4294967296 z", FALSE, 0, NULL },
	{ "99999999999999999999999 z", FALSE, 0, NULL },
	{ "0 abc", FALSE, 0, NULL },
	{ "-1 abc", FALSE, 0, NULL },
	{ "+1 abc", FALSE, 0, NULL },
	{ "a b", FALSE, 0, NULL },
	{ "1", FALSE, 0, NULL },
	{ "1 ", FALSE, 0, NULL },
	{ "1abc", FALSE, 0, NULL },
	{ "", FALSE, 0, NULL },
	{ "1 abc def", FALSE, 0, NULL },
	{ "1 ab\x01" "c", FALSE, 0, NULL },
	{ "1 ab\x7f", FALSE, 0, NULL },
	{ "1 caf\xc3\xa9", FALSE, 0, NULL },
};

START_TEST(test_uidl_lines)
{
	const UidlCase *c = &uidl_cases[_i];
	char uid[POP3_UIDL_MAX + 1] = "untouched";
	guint32 num = 42;
	g_autoptr(GError) err = NULL;
	gboolean ok = pop3_parser_parse_uidl(c->line, &num, uid, &err);

	ck_assert_msg(ok == c->ok, "'%s': got %d", c->line, ok);
	if (ok) {
		ck_assert_uint_eq(num, c->num);
		ck_assert_str_eq(uid, c->uid);
		ck_assert_ptr_null(err);
	} else {
		ck_assert_uint_eq(num, 42);
		ck_assert_str_eq(uid, "untouched");
		ck_assert(err && err->code == MF_ERROR_PROTOCOL);
	}
}
END_TEST

typedef struct {
	const char *line;
	gboolean allow_zero;
	gboolean ok;
	guint32 num;
	guint64 size;
} SizeCase;

static const SizeCase size_cases[] = {
	{ "1 120", FALSE, TRUE, 1, 120 },
	{ "1 120 extra words", FALSE, TRUE, 1, 120 },
	{ "2  0", FALSE, TRUE, 2, 0 },
	{ "1 18446744073709551615", FALSE, TRUE, 1, G_MAXUINT64 },
	{ "1 18446744073709551616", FALSE, FALSE, 0, 0 },
	{ "1 99999999999999999999999", FALSE, FALSE, 0, 0 },
	{ "4294967295 5", FALSE, TRUE, 4294967295u, 5 },
	{ "4294967296 5", FALSE, FALSE, 0, 0 },
	{ "0 0", FALSE, FALSE, 0, 0 },
	{ "0 0", TRUE, TRUE, 0, 0 },
	{ "3 1024", TRUE, TRUE, 3, 1024 },
	{ "1 120x", FALSE, FALSE, 0, 0 },
	{ "1 -5", FALSE, FALSE, 0, 0 },
	{ "1 ", FALSE, FALSE, 0, 0 },
	{ "1", FALSE, FALSE, 0, 0 },
	{ "", FALSE, FALSE, 0, 0 },
	{ "x 1", FALSE, FALSE, 0, 0 },
};

START_TEST(test_size_lines)
{
	const SizeCase *c = &size_cases[_i];
	guint32 num = 42;
	guint64 size = 42;
	g_autoptr(GError) err = NULL;
	gboolean ok = pop3_parser_parse_num_size(c->line, c->allow_zero, &num,
	                                         &size, &err);

	ck_assert_msg(ok == c->ok, "'%s': got %d", c->line, ok);
	if (ok) {
		ck_assert_uint_eq(num, c->num);
		ck_assert_uint_eq(size, c->size);
	} else {
		ck_assert_uint_eq(num, 42);
		ck_assert_uint_eq(size, 42);
		ck_assert(err && err->code == MF_ERROR_PROTOCOL);
	}
}
END_TEST

START_TEST(test_uidl_valid)
{
	ck_assert(pop3_parser_uidl_valid("a", 1));
	ck_assert(!pop3_parser_uidl_valid("", 0));
	ck_assert(!pop3_parser_uidl_valid("a b", 3));
	ck_assert(!pop3_parser_uidl_valid("a\0b", 3));
}
END_TEST

static Suite *
pop3_parser_suite(void)
{
	Suite *s = suite_create("pop3_parser");
	TCase *t = tcase_create("responses");
	TCase *l = tcase_create("lines");

	tcase_add_loop_test(t, test_table_all, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(t, test_table_bytes, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(t, test_table_random, 0, G_N_ELEMENTS(cases));
	tcase_add_test(t, test_session);
	tcase_add_test(t, test_unusable_after_error);
	tcase_add_test(t, test_endless_line);
	tcase_add_test(t, test_text_total_limit);
	tcase_add_loop_test(l, test_uidl_lines, 0, G_N_ELEMENTS(uidl_cases));
	tcase_add_loop_test(l, test_size_lines, 0, G_N_ELEMENTS(size_cases));
	tcase_add_test(l, test_uidl_valid);
	suite_add_tcase(s, t);
	suite_add_tcase(s, l);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pop3_parser_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
