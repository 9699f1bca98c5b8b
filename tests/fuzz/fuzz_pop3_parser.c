/* fuzz_pop3_parser.c - libFuzzer target for net/pop3_parser: the input is a
 * server's byte stream; the expected kind of each response (status, listing,
 * message text) comes from a generator seeded by the input.  The stream is
 * fed whole and in random chunks, with default and tiny limits, and both
 * feedings must give the same transcript.  Listing lines also go through the
 * UIDL / LIST / STAT helpers. */
#include <string.h>

#include "net/mf_error.h"
#include "net/pop3_parser.h"

#include "tests/fuzz/fuzz_common.h"

static const Pop3ParserLimits tiny_limits = {
	.status_max = 64,
	.list_line_max = 32,
	.list_lines_max = 8,
	.text_line_max = 64,
	.text_max = 512,
};

/* Runs a listing or status line through the pure helpers. */
static void
check_helpers(GString *t, const char *line)
{
	guint32 num = 0;
	guint64 size = 0;
	char uid[POP3_UIDL_MAX + 1];

	if (pop3_parser_parse_uidl(line, &num, uid, NULL)) {
		g_assert(strlen(uid) >= 1 && strlen(uid) <= POP3_UIDL_MAX);
		g_assert(pop3_parser_uidl_valid(uid, strlen(uid)));
		g_string_append_printf(t, " U%u:%s", num, uid);
	}
	if (pop3_parser_parse_num_size(line, TRUE, &num, &size, NULL))
		g_string_append_printf(t, " N%u:%" G_GUINT64_FORMAT, num, size);
}

/* Records one result; returns TRUE when the response is over. */
static gboolean
record(Pop3Parser *p, Pop3ParseStatus st, Pop3Expect expect, GString *t)
{
	const char *text;
	size_t len;

	switch (st) {
	case POP3_PARSE_STATUS: {
		Pop3StatusKind k = pop3_parser_status(p, &text);

		g_string_append_printf(t, "S%d ", (int)k);
		fuzz_append_bytes(t, text, strlen(text));
		check_helpers(t, text);
		g_string_append_c(t, '\n');
		return k != POP3_STATUS_OK || expect == POP3_EXPECT_STATUS;
	}
	case POP3_PARSE_LINE:
		text = pop3_parser_line(p, &len);
		g_assert(text != NULL && text[len] == '\0');
		g_string_append(t, "L ");
		fuzz_append_bytes(t, text, len);
		if (expect == POP3_EXPECT_LIST) {
			g_assert(strlen(text) == len);
			check_helpers(t, text);
		}
		g_string_append_c(t, '\n');
		return FALSE;
	case POP3_PARSE_END:
		g_string_append(t, "END\n");
		return TRUE;
	default:
		return FALSE;
	}
}

static void
run(const uint8_t *data, size_t len, const Pop3ParserLimits *lim,
    FuzzRand *rnd, GString *t)
{
	g_autoptr(Pop3Parser) p = pop3_parser_new(lim);
	FuzzRand script;
	size_t pos = 0, avail = 0;
	Pop3Expect expect;

	fuzz_rand_init(&script, data, len > 8 ? 8 : len);
	expect = (Pop3Expect)(fuzz_rand_next(&script) % 3);
	pop3_parser_expect(p, expect);
	while (pos < len) {
		g_autoptr(GError) err = NULL;
		size_t used = 0;
		Pop3ParseStatus st;

		if (pos == avail)
			avail += rnd ? fuzz_rand_chunk(rnd, 16, len - avail)
			             : len - avail;
		st = pop3_parser_feed(p, (const char *)data + pos, avail - pos,
		                      &used, &err);
		g_assert(used <= avail - pos);
		pos += used;
		if (st == POP3_PARSE_ERROR) {
			g_assert(err != NULL && err->code == MF_ERROR_PROTOCOL);
			g_string_append_printf(t, "E %s\n", err->message);
			return;
		}
		if (st == POP3_PARSE_NEED_MORE) {
			g_assert(pos == avail);
			continue;
		}
		if (record(p, st, expect, t)) {
			expect = (Pop3Expect)(fuzz_rand_next(&script) % 3);
			pop3_parser_expect(p, expect);
		}
	}
	g_string_append(t, "end\n");
}

static void
check_limits(const uint8_t *data, size_t len, const Pop3ParserLimits *lim)
{
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) chunked = g_string_new(NULL);
	FuzzRand rnd;

	fuzz_rand_init(&rnd, data, len);
	run(data, len, lim, NULL, whole);
	run(data, len, lim, &rnd, chunked);
	fuzz_expect_same("pop3_parser", whole, chunked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	check_limits(data, len, NULL);
	check_limits(data, len, &tiny_limits);
	return 0;
}
