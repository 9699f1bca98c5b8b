/* test_imap_parser.c - unit tests for the IMAP response parser. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/imap_parser.h"
#include "net/mf_error.h"

/* ---- Driving the parser ---------------------------------------------- */

typedef enum {
	FEED_ALL,    /* the whole input in one call */
	FEED_BYTES,  /* one byte per call */
	FEED_RANDOM, /* random chunk sizes from a fixed seed */
} FeedMode;

typedef struct {
	ImapParseStatus status; /* DONE, ERROR, or NEED_MORE if input ran out */
	ImapResponse *resp;
	GError *err;
	size_t end;             /* input offset right after the response */
	GPtrArray *streamed;    /* GByteArray* per streamed literal */
} Run;

static void
run_clear(Run *r)
{
	imap_response_free(r->resp);
	g_clear_error(&r->err);
	if (r->streamed)
		g_ptr_array_unref(r->streamed);
	memset(r, 0, sizeof(*r));
}

static size_t
next_chunk(FeedMode mode, GRand *rnd, size_t left)
{
	size_t n = left;

	if (mode == FEED_BYTES)
		n = 1;
	else if (mode == FEED_RANDOM)
		n = (size_t)g_rand_int_range(rnd, 1, 24);
	return MIN(n, left);
}

/* Feeds IN to P in MODE until a response is done, an error occurs or the
 * input runs out.  Streamed literals are collected in r->streamed. */
static void
run_parser(ImapParser *p, const char *in, size_t len, FeedMode mode,
           guint32 seed, Run *r)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(seed);
	size_t pos = 0;
	guint64 lit_left = 0;

	memset(r, 0, sizeof(*r));
	r->streamed = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
	r->status = IMAP_PARSE_NEED_MORE;
	while (pos < len) {
		size_t n = next_chunk(mode, rnd, len - pos);
		size_t used = (size_t)-1;
		ImapParseStatus st;

		if (lit_left > 0) {
			n = (size_t)MIN((guint64)n, lit_left);
			g_byte_array_append(r->streamed->pdata[r->streamed->len - 1],
			                    (const guint8 *)in + pos, (guint)n);
			pos += n;
			lit_left -= n;
			if (lit_left == 0)
				imap_parser_literal_done(p);
			continue;
		}
		st = imap_parser_feed(p, in + pos, n, &used, &r->err);
		if (st == IMAP_PARSE_ERROR) {
			ck_assert_ptr_nonnull(r->err);
			ck_assert(g_error_matches(r->err, MF_ERROR, MF_ERROR_PROTOCOL));
			ck_assert_uint_eq(used, (size_t)-1); /* untouched on failure */
			r->status = st;
			return;
		}
		ck_assert_uint_le(used, n);
		pos += used;
		if (st == IMAP_PARSE_DONE) {
			r->status = st;
			r->resp = imap_parser_take(p);
			r->end = pos;
			return;
		}
		if (st == IMAP_PARSE_LITERAL) {
			lit_left = imap_parser_literal_size(p);
			ck_assert_uint_gt(lit_left, 0);
			g_ptr_array_add(r->streamed, g_byte_array_new());
		} else {
			ck_assert_uint_eq(used, n);
		}
	}
}

/* ---- Canonical form of a parsed response ----------------------------- */

static void
serialize_bytes(GString *out, const char *s, size_t len)
{
	g_string_append_c(out, '"');
	for (size_t i = 0; i < len; i++) {
		guchar c = (guchar)s[i];

		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (char)c);
	}
	g_string_append_c(out, '"');
}

static void serialize_list(GString *out, GPtrArray *list, GPtrArray *streamed);

/* STREAMED non-NULL: print an EXTERNAL value as the string the caller
 * streamed, so streamed and inline parses give the same text. */
static void
serialize_value(GString *out, const ImapValue *v, GPtrArray *streamed)
{
	if (v->damaged) {
		ck_assert(v->type == IMAP_VALUE_ATOM ||
		          v->type == IMAP_VALUE_STRING);
		g_string_append_c(out, '!');
	}
	switch (v->type) {
	case IMAP_VALUE_ATOM:
		ck_assert_uint_eq(strlen(v->str), v->len);
		g_string_append_printf(out, "ATOM:%s", v->str);
		break;
	case IMAP_VALUE_STRING:
		ck_assert_int_eq(v->str[v->len], '\0');
		g_string_append(out, "STR:");
		serialize_bytes(out, v->str, v->len);
		break;
	case IMAP_VALUE_NIL:
		ck_assert_ptr_null(v->str);
		g_string_append(out, "NIL");
		break;
	case IMAP_VALUE_LIST:
		g_string_append_c(out, '(');
		serialize_list(out, v->list, streamed);
		g_string_append_c(out, ')');
		break;
	case IMAP_VALUE_EXTERNAL:
		if (streamed) {
			GByteArray *b;

			ck_assert_uint_lt(v->ext_index, streamed->len);
			b = streamed->pdata[v->ext_index];
			ck_assert_uint_eq(b->len, v->len);
			g_string_append(out, "STR:");
			serialize_bytes(out, (const char *)b->data, b->len);
		} else {
			g_string_append_printf(out, "EXT:%zu#%u", v->len, v->ext_index);
		}
		break;
	}
}

static void
serialize_list(GString *out, GPtrArray *list, GPtrArray *streamed)
{
	for (guint i = 0; i < list->len; i++) {
		if (i > 0)
			g_string_append_c(out, ' ');
		serialize_value(out, list->pdata[i], streamed);
	}
}

/* "<tag> [STATUS] [[code]] [args...] [TEXT:"..."]", checking the shape
 * promised by the header along the way. */
static char *
serialize(const ImapResponse *r, GPtrArray *streamed)
{
	GString *out = g_string_new(NULL);

	ck_assert_ptr_nonnull(r->args);
	ck_assert_int_eq(r->kind == IMAP_RESP_TAGGED, r->tag != NULL);
	if (r->kind == IMAP_RESP_TAGGED)
		g_string_append(out, r->tag);
	else
		g_string_append(out, r->kind == IMAP_RESP_UNTAGGED ? "*" : "+");
	if (r->status || r->kind == IMAP_RESP_CONTINUATION) {
		ck_assert_uint_eq(r->args->len, 0);
		ck_assert_ptr_nonnull(r->text);
	} else {
		ck_assert_ptr_null(r->text);
		ck_assert_ptr_null(r->code);
		ck_assert_uint_gt(r->args->len, 0);
	}
	if (r->status)
		g_string_append_printf(out, " %s", r->status);
	if (r->code) {
		g_string_append(out, " [");
		serialize_list(out, r->code, streamed);
		g_string_append_c(out, ']');
	}
	if (r->args->len > 0) {
		g_string_append_c(out, ' ');
		serialize_list(out, r->args, streamed);
	}
	if (r->text) {
		g_string_append(out, " TEXT:");
		serialize_bytes(out, r->text, strlen(r->text));
	}
	return g_string_free(out, FALSE);
}

/* ---- Valid responses ------------------------------------------------- */

typedef struct {
	const char *in;
	size_t len;
	const char *want;
} Case;

#define T(in, want) { in, sizeof(in) - 1, want }

static const Case good[] = {
	T("* 3 EXISTS\r\n", "* ATOM:3 ATOM:EXISTS"),
	T("* 3 EXISTS\n", "* ATOM:3 ATOM:EXISTS"),
	T("* 12 FETCH (UID 7 RFC822.SIZE 1234 FLAGS (\\Seen $Label1) "
	  "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {5}\r\nhello)\r\n",
	  "* ATOM:12 ATOM:FETCH (ATOM:UID ATOM:7 ATOM:RFC822.SIZE ATOM:1234 "
	  "ATOM:FLAGS (ATOM:\\Seen ATOM:$Label1) ATOM:INTERNALDATE "
	  "STR:\"17-Jul-1996 02:44:25 -0700\" ATOM:BODY[] STR:\"hello\")"),
	T("* LIST (\\HasNoChildren \\Noselect) \"/\" \"Archive/2024\"\r\n",
	  "* ATOM:LIST (ATOM:\\HasNoChildren ATOM:\\Noselect) STR:\"/\" "
	  "STR:\"Archive/2024\""),
	T("* LIST () \".\" INBOX\r\n", "* ATOM:LIST () STR:\".\" ATOM:INBOX"),
	T("* LIST () NIL \"x\"\r\n", "* ATOM:LIST () NIL STR:\"x\""),
	T("* LIST (\\Sent) \"/\" {8}\r\nSent &A-\r\n",
	  "* ATOM:LIST (ATOM:\\Sent) STR:\"/\" STR:\"Sent &A-\""),
	T("* LIST () \"/\" ~peter/mail/&U,BTFw-\r\n",
	  "* ATOM:LIST () STR:\"/\" ATOM:~peter/mail/&U,BTFw-"),
	T("* LIST () \"/\" [Gmail]/Sent\r\n",
	  "* ATOM:LIST () STR:\"/\" ATOM:[Gmail]/Sent"),
	T("* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n",
	  "* ATOM:LIST () STR:\"/\" STR:\"Entw\\xc3\\xbcrfe\""),
	T("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
	  "* OK [ATOM:UIDVALIDITY ATOM:3857529045] TEXT:\"UIDs valid\""),
	T("A1 OK [READ-ONLY] EXAMINE completed\r\n",
	  "A1 OK [ATOM:READ-ONLY] TEXT:\"EXAMINE completed\""),
	T("A1 OK [READ-ONLY]\r\n", "A1 OK [ATOM:READ-ONLY] TEXT:\"\""),
	T("A1 OK\r\n", "A1 OK TEXT:\"\""),
	T("A1 OK \r\n", "A1 OK TEXT:\"\""),
	T("a.b-1 no [TRYCREATE] No such mailbox\r\n",
	  "a.b-1 NO [ATOM:TRYCREATE] TEXT:\"No such mailbox\""),
	T("* ok lower case\r\n", "* OK TEXT:\"lower case\""),
	T("* PREAUTH\r\n", "* PREAUTH TEXT:\"\""),
	T("* BYE shutting down\r\n", "* BYE TEXT:\"shutting down\""),
	T("* OK [CAPABILITY IMAP4rev1 IDLE] Dovecot ready.\r\n",
	  "* OK [ATOM:CAPABILITY ATOM:IMAP4rev1 ATOM:IDLE] "
	  "TEXT:\"Dovecot ready.\""),
	T("* OK [PERMANENTFLAGS (\\Answered \\*)] Flags permitted.\r\n",
	  "* OK [ATOM:PERMANENTFLAGS (ATOM:\\Answered ATOM:\\*)] "
	  "TEXT:\"Flags permitted.\""),
	T("A3 OK [COPYUID 9 1:3 5:7] Done\r\n",
	  "A3 OK [ATOM:COPYUID ATOM:9 ATOM:1:3 ATOM:5:7] TEXT:\"Done\""),
	T("* NO [ALERT] disk full\r\n", "* NO [ATOM:ALERT] TEXT:\"disk full\""),
	T("* OK [ALERT]text\r\n", "* OK [ATOM:ALERT] TEXT:\"text\""),
	T("* OK [HIGHESTMODSEQ 715194045007]\r\n",
	  "* OK [ATOM:HIGHESTMODSEQ ATOM:715194045007] TEXT:\"\""),
	T("* NO [BADCHARSET (\"UTF-8\" US-ASCII)] x\r\n",
	  "* NO [ATOM:BADCHARSET (STR:\"UTF-8\" ATOM:US-ASCII)] TEXT:\"x\""),
	T("* BYE [REFERRAL imap://user;AUTH=*@SERVER2/] go\r\n",
	  "* BYE [ATOM:REFERRAL ATOM:imap://user;AUTH=*@SERVER2/] TEXT:\"go\""),
	T("A4 BAD text ( with \"quote [bracket ] ) and {5}\r\n",
	  "A4 BAD TEXT:\"text ( with \\\"quote [bracket ] ) and {5}\""),
	T("* OK caf\xc3\xa9\tand [x\r\n",
	  "* OK TEXT:\"caf\\xc3\\xa9\\x09and [x\""),
	T("* OK  two spaces\r\n", "* OK TEXT:\" two spaces\""),
	T("+ idling\r\n", "+ TEXT:\"idling\""),
	T("+\r\n", "+ TEXT:\"\""),
	T("+\n", "+ TEXT:\"\""),
	T("+ \r\n", "+ TEXT:\"\""),
	T("+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzmeTxXH1xHxy6BCeIXiwgsS2wRI=\r\n",
	  "+ TEXT:\"YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzmeTxXH1xHxy6BCeIXiwgsS2wRI=\""),
	T("+ [ALERT] hi\r\n", "+ [ATOM:ALERT] TEXT:\"hi\""),
	T("* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n",
	  "* ATOM:CAPABILITY ATOM:IMAP4rev1 ATOM:STARTTLS ATOM:AUTH=PLAIN"),
	T("* ESEARCH (TAG \"A2\") UID ALL 1:5\r\n",
	  "* ATOM:ESEARCH (ATOM:TAG STR:\"A2\") ATOM:UID ATOM:ALL ATOM:1:5"),
	T("* VANISHED (EARLIER) 1:3\r\n",
	  "* ATOM:VANISHED (ATOM:EARLIER) ATOM:1:3"),
	T("* SEARCH\r\n", "* ATOM:SEARCH"),
	T("* SEARCH  2  3 \r\n", "* ATOM:SEARCH ATOM:2 ATOM:3"),
	T("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
	  "* ATOM:FLAGS (ATOM:\\Answered ATOM:\\Flagged ATOM:\\Deleted "
	  "ATOM:\\Seen ATOM:\\Draft)"),
	T("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
	  "* ATOM:STATUS ATOM:blurdybloop (ATOM:MESSAGES ATOM:231 "
	  "ATOM:UIDNEXT ATOM:44292)"),
	T("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
	  "* ATOM:NAMESPACE ((STR:\"\" STR:\"/\")) NIL NIL"),
	T("* X NILS nil NIL \"NIL\" NIL5 (NIL)\r\n",
	  "* ATOM:X ATOM:NILS NIL NIL STR:\"NIL\" ATOM:NIL5 (NIL)"),
	T("* X \"a\\\\b\\\"c\" \"\" \"(\" \"{5}\"\r\n",
	  "* ATOM:X STR:\"a\\\\b\\\"c\" STR:\"\" STR:\"(\" STR:\"{5}\""),
	T("* 2 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	  "\"IMAP4rev1 WG mtg summary and minutes\" "
	  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
	  "((NIL NIL \"imap\" \"cac.washington.edu\")) "
	  "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
	  "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
	  "\"<B27397-0100000@cac.washington.edu>\"))\r\n",
	  "* ATOM:2 ATOM:FETCH (ATOM:ENVELOPE ("
	  "STR:\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
	  "STR:\"IMAP4rev1 WG mtg summary and minutes\" "
	  "((STR:\"Terry Gray\" NIL STR:\"gray\" STR:\"cac.washington.edu\")) "
	  "((NIL NIL STR:\"imap\" STR:\"cac.washington.edu\")) "
	  "((NIL NIL STR:\"minutes\" STR:\"CNRI.Reston.VA.US\") "
	  "(STR:\"John Klensin\" NIL STR:\"KLENSIN\" STR:\"MIT.EDU\")) NIL NIL "
	  "STR:\"<B27397-0100000@cac.washington.edu>\"))"),
	T("* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	  "\"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" NIL "
	  "\"<x@y>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODYSTRUCTURE ((STR:\"TEXT\" STR:\"PLAIN\" "
	  "(STR:\"CHARSET\" STR:\"US-ASCII\") NIL NIL STR:\"7BIT\" ATOM:1152 "
	  "ATOM:23) (STR:\"TEXT\" STR:\"PLAIN\" NIL STR:\"<x@y>\" "
	  "STR:\"Compiler diff\" STR:\"BASE64\" ATOM:4554 ATOM:73) "
	  "STR:\"MIXED\"))"),
	T("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT DATE)] {24}\r\n"
	  "Subject: hi\r\nDate: x\r\n\r\n)\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[HEADER.FIELDS (SUBJECT DATE)] "
	  "STR:\"Subject: hi\\r\\nDate: x\\r\\n\\r\\n\")"),
	T("* 1 FETCH (BODY[1.2]<0> \"x\" BINARY[] ~{3}\r\na\0b)\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[1.2]<0> STR:\"x\" ATOM:BINARY[] "
	  "STR:\"a\\x00b\")"),
	T("* 1 FETCH (BODY[] {0}\r\n FLAGS ())\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"\" ATOM:FLAGS ())"),
	T("* 1 FETCH (BODY[] {0}\n)\n", "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"\")"),
	T("* 1 FETCH (BODY[] {5+}\r\nhello)\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"hello\")"),
	T("* 1 FETCH (BODY[] {007}\r\nhello!!)\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"hello!!\")"),
	T("* 1 FETCH (BODY[] {11}\r\na)\r\n{3}\r\n\"()\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"a)\\r\\n{3}\\r\\n\\\"(\")"),
	T("* 5 FETCH (BODY[TEXT]<0> {3}\r\nabc FLAGS (\\Seen) UID 9)\r\n",
	  "* ATOM:5 ATOM:FETCH (ATOM:BODY[TEXT]<0> STR:\"abc\" ATOM:FLAGS "
	  "(ATOM:\\Seen) ATOM:UID ATOM:9)"),
	T("* 1 FETCH (X-GM-LABELS (\"\\\\Important\" \"[Gmail]/Sent\"))\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:X-GM-LABELS (STR:\"\\\\Important\" "
	  "STR:\"[Gmail]/Sent\"))"),
	T("* 1 FETCH (BODY[] {2}\r\n\r\n BODY[1] {2}\r\n\0\xff)\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"\\r\\n\" ATOM:BODY[1] "
	  "STR:\"\\x00\\xff\")"),
	T("* {2}\r\nOK\r\n", "* STR:\"OK\""),
	T("* \"OK\" x\r\n", "* STR:\"OK\" ATOM:x"),
	T("* OKAY x\r\n", "* ATOM:OKAY ATOM:x"),
	T("* 1 OK\r\n", "* ATOM:1 ATOM:OK"),
	T("* ~ ~{1}\r\n~\r\n", "* ATOM:~ STR:\"~\""),
	T("* X a]b a[b]c\r\n", "* ATOM:X ATOM:a]b ATOM:a[b]c"),
	T("* ID (\"name\" \"Dovecot\" \"x\" NIL)\r\n",
	  "* ATOM:ID (STR:\"name\" STR:\"Dovecot\" STR:\"x\" NIL)"),
};

static const guint32 seeds[] = { 1, 42, 1234567 };

/* Parses one table entry with LIMITS in every feed mode and compares. */
static void
check_case(const Case *c, const ImapParserLimits *limits)
{
	for (guint mode = FEED_ALL; mode <= FEED_RANDOM; mode++) {
		guint nseeds = mode == FEED_RANDOM ? G_N_ELEMENTS(seeds) : 1;

		for (guint s = 0; s < nseeds; s++) {
			g_autoptr(ImapParser) p = imap_parser_new(limits);
			g_autofree char *got = NULL;
			Run r;

			run_parser(p, c->in, c->len, mode, seeds[s], &r);
			ck_assert_msg(r.status == IMAP_PARSE_DONE,
			              "mode %u: %s: status %d (%s)", mode, c->want,
			              r.status, r.err ? r.err->message : "");
			ck_assert_uint_eq(r.end, c->len);
			got = serialize(r.resp, r.streamed);
			ck_assert_str_eq(got, c->want);
			ck_assert_ptr_null(r.resp->damage);
			run_clear(&r);
		}
	}
}

START_TEST(test_good_table)
{
	check_case(&good[_i], NULL);
}
END_TEST

/* With tiny inline limits the literals are streamed by the caller but the
 * tree says the same. */
START_TEST(test_good_table_streamed)
{
	ImapParserLimits lim = imap_parser_default_limits;

	lim.literal_inline_max = 0;
	check_case(&good[_i], &lim);
	lim.literal_inline_max = 2;
	check_case(&good[_i], &lim);
}
END_TEST

/* Every proper prefix of a good response leaves the parser wanting more,
 * in particular a response cut off in the middle of a literal. */
START_TEST(test_good_prefixes_need_more)
{
	const Case *c = &good[_i];

	for (size_t cut = 0; cut < c->len; cut++) {
		g_autoptr(ImapParser) p = imap_parser_new(NULL);
		Run r;

		run_parser(p, c->in, cut, FEED_ALL, 0, &r);
		ck_assert_msg(r.status == IMAP_PARSE_NEED_MORE, "%s cut at %zu: %d",
		              c->want, cut, r.status);
		run_clear(&r);
	}
}
END_TEST

/* ---- Errors ---------------------------------------------------------- */

typedef struct {
	const char *in;
	size_t len;
	const char *msg; /* substring of the error message */
} ErrCase;

#define E(in, msg) { in, sizeof(in) - 1, msg }

static const ErrCase bad[] = {
	E("\r\n", "empty"),
	E("\n", "empty"),
	E(" * 3 EXISTS\r\n", "starts with a space"),
	E("*\r\n", "nothing after the tag"),
	E("* \r\n", "nothing after the tag"),
	E("*  \r\n", "nothing after the tag"),
	E("A1\r\n", "nothing after the tag"),
	E("A1 3 EXISTS\r\n", "without OK/NO/BAD"),
	E("A1 (OK)\r\n", "without OK/NO/BAD"),
	E("A1 {2}\r\nOK\r\n", "without OK/NO/BAD"),
	E("(foo) bar\r\n", "malformed tag"),
	E("*x 3 EXISTS\r\n", "malformed tag"),
	E("+x\r\n", "malformed tag"),
	E("A\"1 OK\r\n", "malformed tag"),
	E("A+1 OK\r\n", "malformed tag"),
	E("A\x01 OK\r\n", "malformed tag"),
	E("\xff OK\r\n", "malformed tag"),
	E("* OK(x)\r\n", "junk after OK"),
	E("* 1 FETCH (FLAGS (\\Seen)))\r\n", "unbalanced ')'"),
	E("* )\r\n", "unbalanced ')'"),
	E("* 1 FETCH (FLAGS (\\Seen)\r\n", "list not terminated"),
	E("* 1 FETCH (\n", "list not terminated"),
	E("* X \"a\\\r\n", "line break"),
	E("* X \"a\\\nb\"\r\n", "line break"),
	E("* X \"a\\\0b\"\r\n", "NUL"),
	E("* X \"ab\r\n", "line break"),
	E("* X \"a\nb\"\r\n", "line break"),
	E("* X \"a\0b\"\r\n", "NUL"),
	E("* X a\0b\r\n", "NUL"),
	E("* OK a\0b\r\n", "NUL"),
	E("\0 OK\r\n", "NUL"),
	E("* OK a\rb\r\n", "CR not followed by LF"),
	E("* X a\r\r\n", "CR not followed by LF"),
	E("* X {18446744073709551616}\r\n", "overflows"),
	E("* X {99999999999999999999999999}\r\n", "overflows"),
	E("* X {18446744073709551615}\r\n", "exceeds"),
	E("* X { 5}\r\n", "malformed size"),
	E("* X {+5}\r\n", "malformed size"),
	E("* X {-5}\r\n", "malformed size"),
	E("* X {5 }\r\n", "malformed size"),
	E("* X {5++}\r\n", "malformed size"),
	E("* X {0x5}\r\n", "malformed size"),
	E("* X {}\r\n", "no size"),
	E("* X {+}\r\n", "malformed size"),
	E("* X {5}x\r\nhello\r\n", "not followed by CRLF"),
	E("* X {5}\rhello\r\n", "not followed by CRLF"),
	E("* X {5} \r\nhello\r\n", "not followed by CRLF"),
	E("* X ~{5\r\nhello\r\n", "malformed size"),
	E("* OK [ALERT text\r\n", "code not terminated"),
	E("* OK [\r\n", "code not terminated"),
	E("* OK [BADCHARSET (x] y\r\n", "unterminated list"),
	E("* OK [X )] y\r\n", "unbalanced ')'"),
	E("* X BODY[HEADER\r\n", "unterminated '['"),
};

START_TEST(test_bad_table)
{
	const ErrCase *c = &bad[_i];

	for (guint mode = FEED_ALL; mode <= FEED_RANDOM; mode++) {
		g_autoptr(ImapParser) p = imap_parser_new(NULL);
		g_autoptr(GError) again = NULL;
		size_t used = 77;
		Run r;

		run_parser(p, c->in, c->len, mode, 99, &r);
		ck_assert_msg(r.status == IMAP_PARSE_ERROR, "mode %u: \"%s\": %d",
		              mode, c->in, r.status);
		ck_assert_msg(strstr(r.err->message, c->msg) != NULL,
		              "\"%s\": got \"%s\", want \"%s\"", c->in,
		              r.err->message, c->msg);
		/* The parser stays unusable. */
		ck_assert_int_eq(imap_parser_feed(p, "* 1 EXISTS\r\n", 12, &used, &again),
		                 IMAP_PARSE_ERROR);
		ck_assert(g_error_matches(again, MF_ERROR, MF_ERROR_PROTOCOL));
		ck_assert_uint_eq(used, 77);
		run_clear(&r);
	}
}
END_TEST

/* ---- Damage: the token is kept as sent, the response says why ------- */

typedef struct {
	const char *in;
	size_t len;
	const char *want;   /* serialized; a damaged value starts with "!" */
	const char *damage; /* substring of the response's damage */
} DamageCase;

#define D(in, want, damage) { in, sizeof(in) - 1, want, damage }

static const DamageCase damaged[] = {
	D("* X \"a\\nb\"\r\n", "* ATOM:X !STR:\"a\\\\nb\"", "invalid escape"),
	D("* X a\x01z\r\n", "* ATOM:X !ATOM:a\x01z", "control byte 0x01"),
	D("* X a\x7fz\r\n", "* ATOM:X !ATOM:a\x7fz", "control byte 0x7f"),
	D("* X BODY[HEADER.FIELDS (A\x01)]\r\n",
	  "* ATOM:X !ATOM:BODY[HEADER.FIELDS (A\x01)]", "control byte 0x01"),
	/* Only the damaged value is marked; the first reason is kept. */
	D("* 1 FETCH (UID 5 FLAGS (\\Seen \"\\q\" b\tc) RFC822.SIZE 3)\r\n",
	  "* ATOM:1 ATOM:FETCH (ATOM:UID ATOM:5 ATOM:FLAGS (ATOM:\\Seen "
	  "!STR:\"\\\\q\" !ATOM:b\tc) ATOM:RFC822.SIZE ATOM:3)",
	  "invalid escape (byte 0x71)"),
	/* A damaged token does not leak its mark into the next one. */
	D("* X \"\\z\" \"ok\" a\x02 b\r\n",
	  "* ATOM:X !STR:\"\\\\z\" STR:\"ok\" !ATOM:a\x02 ATOM:b",
	  "invalid escape"),
};

START_TEST(test_damaged_table)
{
	const DamageCase *c = &damaged[_i];

	for (guint mode = FEED_ALL; mode <= FEED_RANDOM; mode++) {
		g_autoptr(ImapParser) p = imap_parser_new(NULL);
		g_autofree char *got = NULL;
		Run r;

		run_parser(p, c->in, c->len, mode, 5, &r);
		ck_assert_msg(r.status == IMAP_PARSE_DONE, "mode %u: %s: %d (%s)",
		              mode, c->want, r.status,
		              r.err ? r.err->message : "");
		ck_assert_uint_eq(r.end, c->len);
		got = serialize(r.resp, r.streamed);
		ck_assert_str_eq(got, c->want);
		ck_assert_ptr_nonnull(r.resp->damage);
		ck_assert_msg(strstr(r.resp->damage, c->damage) != NULL,
		              "got \"%s\", want \"%s\"", r.resp->damage,
		              c->damage);
		run_clear(&r);
		/* The next response starts clean. */
		run_parser(p, "* 1 EXISTS\r\n", 12, mode, 5, &r);
		ck_assert_int_eq(r.status, IMAP_PARSE_DONE);
		ck_assert_ptr_null(r.resp->damage);
		run_clear(&r);
	}
}
END_TEST

/* ---- Limits ---------------------------------------------------------- */

/* Feeds IN one byte at a time and returns how many bytes were accepted
 * before an error (or LEN if there was none). */
static size_t
bytes_until_error(const ImapParserLimits *lim, const char *in, size_t len,
                  GError **err)
{
	g_autoptr(ImapParser) p = imap_parser_new(lim);

	for (size_t i = 0; i < len; i++) {
		size_t used;

		if (imap_parser_feed(p, in + i, 1, &used, err) == IMAP_PARSE_ERROR)
			return i;
	}
	return len;
}

START_TEST(test_line_max)
{
	ImapParserLimits lim = imap_parser_default_limits;
	g_autoptr(GError) err = NULL;
	static const char line[] = "* SEARCH 1 2 3 4 5 6\r\n"; /* 22 bytes */

	lim.line_max = 22;
	check_case(&(Case)T("* SEARCH 1 2 3 4 5 6\r\n",
	                    "* ATOM:SEARCH ATOM:1 ATOM:2 ATOM:3 ATOM:4 ATOM:5 ATOM:6"),
	           &lim);
	lim.line_max = 21;
	ck_assert_uint_eq(bytes_until_error(&lim, line, sizeof(line) - 1, &err), 21);
	ck_assert_str_eq(err->message, "IMAP response line exceeds 21 bytes");

	/* Literal bytes do not count, inline or streamed. */
	lim.line_max = 32;
	check_case(&(Case)T("* 1 FETCH (BODY[] {40}\r\n"
	                    "0123456789012345678901234567890123456789)\r\n",
	                    "* ATOM:1 ATOM:FETCH (ATOM:BODY[] "
	                    "STR:\"0123456789012345678901234567890123456789\")"),
	           &lim);
	lim.literal_inline_max = 4;
	check_case(&(Case)T("* 1 FETCH (BODY[] {40}\r\n"
	                    "0123456789012345678901234567890123456789)\r\n",
	                    "* ATOM:1 ATOM:FETCH (ATOM:BODY[] "
	                    "STR:\"0123456789012345678901234567890123456789\")"),
	           &lim);
}
END_TEST

/* A server sending an endless line is stopped at the limit, whatever the
 * token it is in: nothing beyond line_max is buffered. */
START_TEST(test_line_max_endless)
{
	static const char *const heads[] = {
		"* X \"", "* X abc", "* X BODY[", "* OK ", "* OK [X ", "AAAA",
		"* X {00000",
	};
	const size_t big = 3 * 1024 * 1024;
	g_autofree char *buf = g_malloc(big);

	for (guint h = 0; h < G_N_ELEMENTS(heads); h++) {
		g_autoptr(ImapParser) p = imap_parser_new(NULL);
		g_autoptr(GError) err = NULL;
		size_t hl = strlen(heads[h]);
		size_t pos = 0, used;
		ImapParseStatus st = IMAP_PARSE_NEED_MORE;

		memcpy(buf, heads[h], hl);
		memset(buf + hl, heads[h][hl - 1] == '0' ? '0' : 'a', big - hl);
		while (pos < big && st == IMAP_PARSE_NEED_MORE) {
			st = imap_parser_feed(p, buf + pos, 4096, &used, &err);
			if (st == IMAP_PARSE_NEED_MORE)
				pos += used;
		}
		ck_assert_int_eq(st, IMAP_PARSE_ERROR);
		/* The error comes in the chunk holding byte line_max + 1. */
		ck_assert_uint_eq(pos / 4096, (1024 * 1024) / 4096);
		ck_assert_msg(strstr(err->message, "exceeds 1048576 bytes") ||
		              strstr(err->message, "overflows"), "%s", err->message);
	}
}
END_TEST

START_TEST(test_literal_max)
{
	ImapParserLimits lim = imap_parser_default_limits;
	g_autoptr(GError) err = NULL;
	static const char big[] = "* 1 FETCH (BODY[] {107374182400}\r\n";

	/* A 100 GB literal fails as soon as its size is read. */
	ck_assert_uint_eq(bytes_until_error(NULL, big, sizeof(big) - 1, &err),
	                  strlen("* 1 FETCH (BODY[] {107374182400"));
	ck_assert_msg(strstr(err->message, "107374182400"), "%s", err->message);
	g_clear_error(&err);

	lim.literal_max = 10;
	lim.literal_inline_max = 4;
	check_case(&(Case)T("* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n",
	                    "* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"0123456789\")"),
	           &lim);
	ck_assert_uint_eq(bytes_until_error(&lim, "* X {11}\r\n", 10, &err),
	                  strlen("* X {11"));
	g_clear_error(&err);
	ck_assert_uint_eq(bytes_until_error(&lim, "* X ~{11+}\r\n", 12, &err),
	                  strlen("* X ~{11+"));
}
END_TEST

START_TEST(test_depth_max)
{
	ImapParserLimits lim = imap_parser_default_limits;
	g_autoptr(GError) err = NULL;
	GString *deep = g_string_new("* X ");

	lim.depth_max = 3;
	check_case(&(Case)T("* X (((a)) ())\r\n", "* ATOM:X (((ATOM:a)) ())"), &lim);
	check_case(&(Case)T("* OK [X ((a))] t\r\n",
	                    "* OK [ATOM:X ((ATOM:a))] TEXT:\"t\""), &lim);
	ck_assert_uint_eq(bytes_until_error(&lim, "* X ((((a))))\r\n", 15, &err), 7);
	ck_assert_str_eq(err->message, "IMAP list nesting exceeds 3 levels");
	g_clear_error(&err);

	/* Default limit: 32 levels are fine, 33 are not. */
	for (int i = 0; i < 33; i++)
		g_string_append_c(deep, '(');
	ck_assert_uint_eq(bytes_until_error(NULL, deep->str, deep->len, &err),
	                  deep->len - 1);
	g_string_free(deep, TRUE);
}
END_TEST

START_TEST(test_items_max)
{
	ImapParserLimits lim = imap_parser_default_limits;
	g_autoptr(GError) err = NULL;

	lim.items_max = 5;
	check_case(&(Case)T("* A B C D E\r\n",
	                    "* ATOM:A ATOM:B ATOM:C ATOM:D ATOM:E"), &lim);
	check_case(&(Case)T("* A (\"B\" {1}\r\nC NIL)\r\n",
	                    "* ATOM:A (STR:\"B\" STR:\"C\" NIL)"), &lim);
	check_case(&(Case)T("* OK [A B C D] text x y z\r\n",
	                    "* OK [ATOM:A ATOM:B ATOM:C ATOM:D] TEXT:\"text x y z\""),
	           &lim);
	ck_assert_uint_eq(bytes_until_error(&lim, "* A B C D E F\r\n", 15, &err), 12);
	ck_assert_str_eq(err->message, "IMAP response has more than 5 items");
	g_clear_error(&err);
	ck_assert_uint_eq(bytes_until_error(&lim, "* A (B (C D))\r\n", 15, &err), 10);
}
END_TEST

/* ---- Streamed literals and feed semantics ---------------------------- */

START_TEST(test_literal_streaming)
{
	static const char in[] =
		"* 1 FETCH (UID 5 BODY[] {10}\r\n0123456789 BODY[1] {3}\r\nabc "
		"BINARY[2] ~{6}\r\nxyzxyz)\r\n* 2 EXISTS\r\n";
	ImapParserLimits lim = imap_parser_default_limits;
	g_autoptr(ImapParser) p = NULL;
	g_autoptr(ImapResponse) r = NULL;
	g_autofree char *got = NULL;
	const char *at = in;
	size_t used;

	lim.literal_inline_max = 4;
	p = imap_parser_new(&lim);
	ck_assert_int_eq(imap_parser_feed(p, at, strlen(at), &used, NULL),
	                 IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, strlen("* 1 FETCH (UID 5 BODY[] {10}\r\n"));
	ck_assert_uint_eq(imap_parser_literal_size(p), 10);
	at += used;
	/* Until the caller is done with the literal the parser waits. */
	ck_assert_int_eq(imap_parser_feed(p, at, strlen(at), &used, NULL),
	                 IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, 0);
	at += 10;
	imap_parser_literal_done(p);
	ck_assert_int_eq(imap_parser_feed(p, at, strlen(at), &used, NULL),
	                 IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, strlen(" BODY[1] {3}\r\nabc BINARY[2] ~{6}\r\n"));
	ck_assert_uint_eq(imap_parser_literal_size(p), 6);
	at += used + 6;
	imap_parser_literal_done(p);
	ck_assert_int_eq(imap_parser_feed(p, at, strlen(at), &used, NULL),
	                 IMAP_PARSE_DONE);
	ck_assert_uint_eq(used, 3);
	at += used;
	ck_assert_str_eq(at, "* 2 EXISTS\r\n");
	r = imap_parser_take(p);
	got = serialize(r, NULL);
	ck_assert_str_eq(got, "* ATOM:1 ATOM:FETCH (ATOM:UID ATOM:5 ATOM:BODY[] "
	                 "EXT:10#0 ATOM:BODY[1] STR:\"abc\" ATOM:BINARY[2] EXT:6#1)");
}
END_TEST

/* A literal exactly at the inline limit stays inline; one more streams. */
START_TEST(test_literal_inline_boundary)
{
	ImapParserLimits lim = imap_parser_default_limits;
	g_autoptr(ImapParser) p = NULL;
	size_t used;

	lim.literal_inline_max = 5;
	p = imap_parser_new(&lim);
	ck_assert_int_eq(imap_parser_feed(p, "* X {5}\r\nhello\r\n", 16, &used, NULL),
	                 IMAP_PARSE_DONE);
	imap_response_free(imap_parser_take(p));
	ck_assert_int_eq(imap_parser_feed(p, "* X {6}\r\nhello!\r\n", 17, &used, NULL),
	                 IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, 9);
	ck_assert_uint_eq(imap_parser_literal_size(p), 6);
}
END_TEST

/* Several responses in one buffer come out one by one; an unfinished
 * literal at the end of the input is never reported as done. */
START_TEST(test_multiple_responses)
{
	static const char in[] = "* 1 EXISTS\r\n* OK [UNSEEN 2] x\n"
	                         "* 1 FETCH (BODY[] {3}\r\nabc)\r\nA1 OK done\r\n"
	                         "* 2 FETCH (BODY[] {100}\r\nabc";
	static const char *const want[] = {
		"* ATOM:1 ATOM:EXISTS", "* OK [ATOM:UNSEEN ATOM:2] TEXT:\"x\"",
		"* ATOM:1 ATOM:FETCH (ATOM:BODY[] STR:\"abc\")", "A1 OK TEXT:\"done\"",
	};
	g_autoptr(ImapParser) p = imap_parser_new(NULL);
	size_t pos = 0, used;

	for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
		g_autoptr(ImapResponse) r = NULL;
		g_autofree char *got = NULL;

		ck_assert_int_eq(imap_parser_feed(p, in + pos, sizeof(in) - 1 - pos,
		                                  &used, NULL), IMAP_PARSE_DONE);
		pos += used;
		/* Not taken yet: feeding again consumes nothing. */
		ck_assert_int_eq(imap_parser_feed(p, in + pos, sizeof(in) - 1 - pos,
		                                  &used, NULL), IMAP_PARSE_DONE);
		ck_assert_uint_eq(used, 0);
		r = imap_parser_take(p);
		got = serialize(r, NULL);
		ck_assert_str_eq(got, want[i]);
	}
	ck_assert_int_eq(imap_parser_feed(p, in + pos, sizeof(in) - 1 - pos,
	                                  &used, NULL), IMAP_PARSE_NEED_MORE);
	ck_assert_uint_eq(used, sizeof(in) - 1 - pos);
	ck_assert_int_eq(imap_parser_feed(p, "", 0, &used, NULL),
	                 IMAP_PARSE_NEED_MORE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* 20,000 FETCH responses, fed whole and one byte at a time: the parser
 * must be linear in its input. */
START_TEST(test_many_fetches)
{
	GString *in = g_string_new(NULL);
	GTimer *timer = g_timer_new();

	for (guint i = 1; i <= 20000; i++)
		g_string_append_printf(in, "* %u FETCH (UID %u RFC822.SIZE %u FLAGS "
		                       "(\\Seen $Label1) INTERNALDATE \"17-Jul-1996 "
		                       "02:44:25 -0700\" BODY[HEADER] {12}\r\n"
		                       "Subject: x\r\n)\r\n", i, i + 100, i * 7);
	for (guint mode = FEED_ALL; mode <= FEED_BYTES; mode++) {
		g_autoptr(ImapParser) p = imap_parser_new(NULL);
		size_t pos = 0;
		guint n = 0;

		while (pos < in->len) {
			size_t chunk = mode == FEED_ALL ? in->len - pos : 1, used;
			ImapParseStatus st = imap_parser_feed(p, in->str + pos, chunk,
			                                      &used, NULL);
			pos += used;
			if (st == IMAP_PARSE_DONE) {
				g_autoptr(ImapResponse) r = imap_parser_take(p);
				guint32 seq = 0;

				ck_assert(imap_value_get_u32(r->args->pdata[0], &seq));
				ck_assert_uint_eq(seq, ++n);
			} else {
				ck_assert_int_eq(st, IMAP_PARSE_NEED_MORE);
			}
		}
		ck_assert_uint_eq(n, 20000);
	}
	/* Generous: a quadratic parser takes minutes here. */
	ck_assert_double_lt(g_timer_elapsed(timer, NULL), 60.0);
	g_timer_destroy(timer);
	g_string_free(in, TRUE);
}
END_TEST

/* One long atom and one long inline literal, fed a byte at a time. */
START_TEST(test_long_tokens_bytewise)
{
	const size_t n = 512 * 1024;
	g_autofree char *in = g_malloc(n * 2 + 64);
	g_autoptr(ImapParser) p = imap_parser_new(NULL);
	g_autoptr(ImapResponse) r = NULL;
	ImapParserLimits lim = imap_parser_default_limits;
	size_t len = 0, used = 0;
	ImapValue *v;

	len += (size_t)sprintf(in, "* X ");
	memset(in + len, 'a', n);
	len += n;
	len += (size_t)sprintf(in + len, " {%zu}\r\n", lim.literal_inline_max);
	memset(in + len, 'b', lim.literal_inline_max);
	len += lim.literal_inline_max;
	len += (size_t)sprintf(in + len, "\r\n");
	for (size_t i = 0; i < len; i++) {
		ImapParseStatus st = imap_parser_feed(p, in + i, 1, &used, NULL);

		ck_assert_int_eq(st, i + 1 == len ? IMAP_PARSE_DONE
		                                  : IMAP_PARSE_NEED_MORE);
	}
	r = imap_parser_take(p);
	ck_assert_uint_eq(r->args->len, 3);
	v = r->args->pdata[1];
	ck_assert_uint_eq(v->len, n);
	v = r->args->pdata[2];
	ck_assert_int_eq(v->type, IMAP_VALUE_STRING);
	ck_assert_uint_eq(v->len, lim.literal_inline_max);
}
END_TEST

/* Garbage must never crash or leak: random bytes and mutated good
 * responses, with small limits so they are hit too. */
START_TEST(test_garbage)
{
	static const char alphabet[] = "* A1+OK()[]{}~\"\\ 0123 NIL\r\n\r\nx\0";
	ImapParserLimits lim = { 256, 64, 8, 4, 40 };
	g_autoptr(GRand) rnd = g_rand_new_with_seed(7);

	for (guint iter = 0; iter < 20000; iter++) {
		g_autoptr(ImapParser) p = imap_parser_new(&lim);
		char buf[200];
		size_t len = (size_t)g_rand_int_range(rnd, 1, sizeof(buf));
		const Case *c = &good[g_rand_int_range(rnd, 0, G_N_ELEMENTS(good))];
		Run r;

		if (iter % 2 && c->len <= sizeof(buf)) {
			len = c->len;
			memcpy(buf, c->in, len);
			for (int k = g_rand_int_range(rnd, 1, 4); k > 0; k--)
				buf[g_rand_int_range(rnd, 0, (gint32)len)] =
					alphabet[g_rand_int_range(rnd, 0, sizeof(alphabet) - 1)];
		} else {
			for (size_t i = 0; i < len; i++)
				buf[i] = alphabet[g_rand_int_range(rnd, 0, sizeof(alphabet) - 1)];
		}
		run_parser(p, buf, len, FEED_RANDOM, iter, &r);
		if (r.status == IMAP_PARSE_DONE) {
			g_free(serialize(r.resp, r.streamed));
			ck_assert_uint_le(r.end, len);
		}
		run_clear(&r);
	}
}
END_TEST

/* ---- Value helpers --------------------------------------------------- */

static ImapValue
atom(const char *s)
{
	return (ImapValue){ .type = IMAP_VALUE_ATOM, .str = (char *)s,
	                    .len = strlen(s) };
}

START_TEST(test_get_u32)
{
	static const struct {
		const char *s;
		gboolean ok;
		guint32 val;
	} cases[] = {
		{ "0", TRUE, 0 }, { "7", TRUE, 7 }, { "00042", TRUE, 42 },
		{ "4294967295", TRUE, G_MAXUINT32 }, { "4294967296", FALSE, 0 },
		{ "9999999999", FALSE, 0 }, { "42949672950", FALSE, 0 },
		{ "", FALSE, 0 }, { "+1", FALSE, 0 }, { "-1", FALSE, 0 },
		{ " 1", FALSE, 0 }, { "1 ", FALSE, 0 }, { "1a", FALSE, 0 },
		{ "0x10", FALSE, 0 }, { "1:3", FALSE, 0 },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		ImapValue v = atom(cases[i].s);
		guint32 out = 12345;

		ck_assert_int_eq(imap_value_get_u32(&v, &out), cases[i].ok);
		ck_assert_uint_eq(out, cases[i].ok ? cases[i].val : 12345);
	}
}
END_TEST

START_TEST(test_get_u64)
{
	static const struct {
		const char *s;
		gboolean ok;
		guint64 val;
	} cases[] = {
		{ "0", TRUE, 0 }, { "4294967296", TRUE, G_GUINT64_CONSTANT(4294967296) },
		{ "715194045007", TRUE, G_GUINT64_CONSTANT(715194045007) },
		{ "18446744073709551615", TRUE, G_MAXUINT64 },
		{ "018446744073709551615", TRUE, G_MAXUINT64 },
		{ "18446744073709551616", FALSE, 0 },
		{ "18446744073709551620", FALSE, 0 },
		{ "99999999999999999999", FALSE, 0 },
		{ "", FALSE, 0 }, { "+5", FALSE, 0 }, { "-0", FALSE, 0 },
		{ "5.0", FALSE, 0 },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		ImapValue v = atom(cases[i].s);
		guint64 out = 12345;

		ck_assert_int_eq(imap_value_get_u64(&v, &out), cases[i].ok);
		ck_assert_uint_eq(out, cases[i].ok ? cases[i].val : 12345);
	}
}
END_TEST

START_TEST(test_value_helpers)
{
	ImapValue a = atom("Fetch");
	ImapValue s = { .type = IMAP_VALUE_STRING, .str = (char *)"5", .len = 1 };
	ImapValue nil = { .type = IMAP_VALUE_NIL };
	ImapValue ext = { .type = IMAP_VALUE_EXTERNAL, .len = 5 };
	guint32 out32 = 1;
	guint64 out64 = 1;

	ck_assert(imap_value_is_atom(&a, "FETCH"));
	ck_assert(imap_value_is_atom(&a, "fetch"));
	ck_assert(!imap_value_is_atom(&a, "FETCHX"));
	ck_assert(!imap_value_is_atom(&a, "FETC"));
	ck_assert(!imap_value_is_atom(&s, "5"));
	ck_assert(!imap_value_is_atom(&nil, "NIL"));
	ck_assert(!imap_value_is_atom(NULL, "NIL"));
	ck_assert(!imap_value_get_u32(&s, &out32));
	ck_assert(!imap_value_get_u32(&nil, &out32));
	ck_assert(!imap_value_get_u64(&ext, &out64));
	ck_assert(!imap_value_get_u64(NULL, &out64));
	ck_assert_uint_eq(out32, 1);
	ck_assert_uint_eq(out64, 1);
	ck_assert_str_eq(imap_value_str(&a), "Fetch");
	ck_assert_str_eq(imap_value_str(&s), "5");
	ck_assert_ptr_null(imap_value_str(&nil));
	ck_assert_ptr_null(imap_value_str(&ext));
	ck_assert_ptr_null(imap_value_str(NULL));
	imap_value_free(NULL);
	imap_response_free(NULL);
	imap_parser_free(NULL);
}
END_TEST

/* ---- Suite ----------------------------------------------------------- */

static Suite *
imap_parser_suite(void)
{
	Suite *s = suite_create("imap_parser");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_good_table, 0, G_N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_good_table_streamed, 0, G_N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_good_prefixes_need_more, 0, G_N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_bad_table, 0, G_N_ELEMENTS(bad));
	tcase_add_loop_test(tc, test_damaged_table, 0, G_N_ELEMENTS(damaged));
	tcase_add_test(tc, test_line_max);
	tcase_add_test(tc, test_line_max_endless);
	tcase_add_test(tc, test_literal_max);
	tcase_add_test(tc, test_depth_max);
	tcase_add_test(tc, test_items_max);
	tcase_add_test(tc, test_literal_streaming);
	tcase_add_test(tc, test_literal_inline_boundary);
	tcase_add_test(tc, test_multiple_responses);
	tcase_add_test(tc, test_many_fetches);
	tcase_add_test(tc, test_long_tokens_bytewise);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_get_u32);
	tcase_add_test(tc, test_get_u64);
	tcase_add_test(tc, test_value_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(imap_parser_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
