/* fuzz_smtp_reply.c - libFuzzer target for net/smtp_reply: the input is a
 * server's byte stream of (possibly pipelined) replies, fed whole and in
 * random chunks, with default and tiny limits; both feedings must give the
 * same replies.  Every reply is checked against what the header promises. */
#include <string.h>

#include "net/mf_error.h"
#include "net/smtp_reply.h"

#include "tests/fuzz/fuzz_common.h"

static const SmtpReplyLimits tiny_limits = {
	.line_max = 48,
	.lines_max = 4,
};

static void
append_reply(GString *t, const SmtpReply *r)
{
	g_autofree char *s = smtp_reply_to_string(r);
	guint cls = smtp_reply_class(r);

	g_assert(r->code >= 200 && r->code <= 559);
	g_assert(cls >= 2 && cls <= 5);
	g_assert(r->lines != NULL && r->lines->len >= 1);
	if (r->enhanced)
		g_assert((guint)(r->enhanced[0] - '0') == cls);
	g_string_append_printf(t, "R%u %s", r->code,
	                       r->enhanced ? r->enhanced : "-");
	for (guint i = 0; i < r->lines->len; i++) {
		const char *line = r->lines->pdata[i];

		g_assert(g_utf8_validate(line, -1, NULL));
		g_string_append_c(t, ' ');
		fuzz_append_bytes(t, line, strlen(line));
	}
	g_assert(g_utf8_validate(s, -1, NULL));
	g_string_append_c(t, '\n');
}

static void
run(const uint8_t *data, size_t len, const SmtpReplyLimits *lim,
    FuzzRand *rnd, GString *t)
{
	g_autoptr(SmtpReplyParser) p = smtp_reply_parser_new(lim);
	size_t pos = 0, avail = 0;

	while (pos < len) {
		g_autoptr(GError) err = NULL;
		size_t used = 0;
		SmtpReplyStatus st;

		if (pos == avail)
			avail += rnd ? fuzz_rand_chunk(rnd, 16, len - avail)
			             : len - avail;
		st = smtp_reply_parser_feed(p, (const char *)data + pos,
		                            avail - pos, &used, &err);
		g_assert(used <= avail - pos);
		pos += used;
		if (st == SMTP_REPLY_ERROR) {
			g_assert(err != NULL && err->code == MF_ERROR_PROTOCOL);
			g_string_append_printf(t, "E %s\n", err->message);
			/* The client gives up on the connection here; the reset
			 * must still leave a usable parser. */
			smtp_reply_parser_reset(p);
			return;
		}
		if (st == SMTP_REPLY_DONE) {
			g_autoptr(SmtpReply) r = smtp_reply_parser_take(p);

			append_reply(t, r);
		} else {
			g_assert(pos == avail);
		}
	}
	g_string_append(t, "end\n");
}

static void
check_limits(const uint8_t *data, size_t len, const SmtpReplyLimits *lim)
{
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) chunked = g_string_new(NULL);
	FuzzRand rnd;

	fuzz_rand_init(&rnd, data, len);
	run(data, len, lim, NULL, whole);
	run(data, len, lim, &rnd, chunked);
	fuzz_expect_same("smtp_reply", whole, chunked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	check_limits(data, len, NULL);
	check_limits(data, len, &tiny_limits);
	return 0;
}
