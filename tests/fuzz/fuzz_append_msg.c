/* fuzz_append_msg.c - libFuzzer target for cache/append_msg: the input is
 * a file written into a folder.  Whatever it is, a file the check accepts
 * must prepare into bytes whose every line ends in CRLF, that hold its
 * lines in order, and whose Message-ID is found again in them (what finds
 * an append after a lost reply); a refused file is refused as BADMSG. */
#include <string.h>

#include "cache/append_msg.h"
#include "net/mf_error.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Every '\n' of OUT follows a '\r', and OUT without its '\r's before
 * '\n' ends with IN without its own (a Message-ID line may come first). */
static void
fuzz_check_crlf(const char *in, gsize len, const char *out, gsize out_len)
{
	GString *a = g_string_new(NULL), *b = g_string_new(NULL);

	for (gsize i = 0; i < out_len; i++) {
		g_assert(out[i] != '\n' || (i > 0 && out[i - 1] == '\r'));
		if (!(out[i] == '\r' && i + 1 < out_len && out[i + 1] == '\n'))
			g_string_append_c(b, out[i]);
	}
	for (gsize i = 0; i < len; i++)
		if (!(in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'))
			g_string_append_c(a, in[i]);
	g_assert(b->len >= a->len);
	g_assert(memcmp(b->str + b->len - a->len, a->str, a->len) == 0);
	g_string_free(a, TRUE);
	g_string_free(b, TRUE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *in = (const char *)data;
	g_autoptr(GError) err = NULL;

	if (!append_msg_check(in, len, &err)) {
		g_assert(g_error_matches(err, MF_ERROR, MF_ERROR_BADMSG));
		return 0;
	}
	g_autofree char *msgid = NULL;
	GBytes *b = append_msg_prepare(in, len, &msgid);
	gsize out_len = 0;
	const char *out = g_bytes_get_data(b, &out_len);
	g_assert(msgid && msgid[0] == '<');
	g_autofree char *again = append_msg_message_id(out, out_len);
	g_assert(again && strcmp(again, msgid) == 0);
	fuzz_check_crlf(in, len, out, out_len);
	g_bytes_unref(b);
	return 0;
}
