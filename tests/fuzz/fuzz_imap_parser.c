/* fuzz_imap_parser.c - libFuzzer target for net/imap_parser: the input is a
 * server's byte stream, fed whole and in random chunks, with the default
 * limits and with tiny ones (so that streamed literals, nesting, item and
 * line limits are reached); both feedings must give the same transcript. */
#include "net/imap_parser.h"
#include "net/mf_error.h"

#include "tests/fuzz/fuzz_common.h"

static const ImapParserLimits tiny_limits = {
	.line_max = 256,
	.literal_max = 4096,
	.literal_inline_max = 8,
	.depth_max = 4,
	.items_max = 64,
};

static void append_values(GString *t, const GPtrArray *vals);

/* Checks what a consumer may rely on, and records V. */
static void
append_value(GString *t, const ImapValue *v)
{
	guint32 u32;
	guint64 u64;

	switch (v->type) {
	case IMAP_VALUE_ATOM:
	case IMAP_VALUE_STRING:
		g_assert(v->str != NULL && v->str[v->len] == '\0');
		g_assert(imap_value_str(v) == v->str);
		g_string_append(t, v->type == IMAP_VALUE_ATOM ? "A" : "S");
		fuzz_append_bytes(t, v->str, v->len);
		if (imap_value_get_u32(v, &u32))
			g_string_append_printf(t, "=%u", u32);
		if (imap_value_get_u64(v, &u64))
			g_string_append_printf(t, "=%" G_GUINT64_FORMAT, u64);
		if (imap_value_is_atom(v, "FETCH"))
			g_string_append(t, "!");
		break;
	case IMAP_VALUE_NIL:
		g_assert(imap_value_str(v) == NULL);
		g_string_append(t, "NIL");
		break;
	case IMAP_VALUE_LIST:
		g_assert(v->list != NULL);
		g_string_append(t, "(");
		append_values(t, v->list);
		g_string_append(t, ")");
		break;
	case IMAP_VALUE_EXTERNAL:
		g_string_append_printf(t, "X%zu#%u", v->len, v->ext_index);
		break;
	default:
		g_assert_not_reached();
	}
}

static void
append_values(GString *t, const GPtrArray *vals)
{
	for (guint i = 0; i < vals->len; i++) {
		g_string_append_c(t, ' ');
		append_value(t, vals->pdata[i]);
	}
}

static void
append_response(GString *t, const ImapResponse *r)
{
	g_string_append_printf(t, "R%d ", (int)r->kind);
	g_assert((r->kind == IMAP_RESP_TAGGED) == (r->tag != NULL));
	if (r->tag)
		fuzz_append_bytes(t, r->tag, strlen(r->tag));
	g_string_append_printf(t, " %s", r->status ? r->status : "-");
	g_assert(r->args != NULL);
	g_assert(!r->status || r->args->len == 0);
	append_values(t, r->args);
	if (r->code) {
		g_string_append(t, " [");
		append_values(t, r->code);
		g_string_append(t, "]");
	}
	if (r->text) {
		g_string_append(t, " T");
		fuzz_append_bytes(t, r->text, strlen(r->text));
	}
	g_string_append_c(t, '\n');
}

/* Feeds DATA as a server would deliver it: whole when RND is NULL, else in
 * chunks of 1..16 bytes.  Streamed literals are skipped like a client that
 * writes them to a file.  Records every event in T. */
static void
run(const uint8_t *data, size_t len, const ImapParserLimits *lim,
    FuzzRand *rnd, GString *t)
{
	g_autoptr(ImapParser) p = imap_parser_new(lim);
	size_t pos = 0, avail = 0;
	guint64 skip = 0;

	for (;;) {
		if (pos == avail) {
			if (avail == len)
				break;
			avail += rnd ? fuzz_rand_chunk(rnd, 16, len - avail)
			             : len - avail;
		}
		if (skip > 0) {
			size_t n = MIN(skip, (guint64)(avail - pos));

			pos += n;
			skip -= n;
			if (skip == 0)
				imap_parser_literal_done(p);
			continue;
		}

		g_autoptr(GError) err = NULL;
		size_t used = 0;
		ImapParseStatus st = imap_parser_feed(p, (const char *)data + pos,
		                                      avail - pos, &used, &err);

		switch (st) {
		case IMAP_PARSE_ERROR:
			g_assert(err != NULL && err->domain == MF_ERROR &&
			         err->code == MF_ERROR_PROTOCOL);
			g_string_append_printf(t, "E %s\n", err->message);
			return;
		case IMAP_PARSE_DONE: {
			g_autoptr(ImapResponse) r = imap_parser_take(p);

			g_assert(r != NULL && err == NULL);
			append_response(t, r);
			break;
		}
		case IMAP_PARSE_LITERAL:
			/* Large literals, and small ones once the response's
			 * inline budget (line_max) is spent, are streamed. */
			skip = imap_parser_literal_size(p);
			g_assert(skip <= lim->literal_max);
			g_string_append_printf(t, "L%" G_GUINT64_FORMAT "\n", skip);
			if (skip == 0)
				imap_parser_literal_done(p);
			break;
		case IMAP_PARSE_NEED_MORE:
			g_assert(used == avail - pos);
			break;
		}
		g_assert(used <= avail - pos);
		pos += used;
	}
	g_string_append(t, skip ? "short literal\n" : "end\n");
}

static void
check_limits(const uint8_t *data, size_t len, const ImapParserLimits *lim)
{
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) chunked = g_string_new(NULL);
	FuzzRand rnd;

	fuzz_rand_init(&rnd, data, len);
	run(data, len, lim, NULL, whole);
	run(data, len, lim, &rnd, chunked);
	fuzz_expect_same("imap_parser", whole, chunked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	check_limits(data, len, &imap_parser_default_limits);
	check_limits(data, len, &tiny_limits);
	return 0;
}
