/* fuzz_mime_text.c - libFuzzer target for cache/mime_text.c (with
 * html_text.c) and cache/summary.c: the input is a message as a server
 * may send it.  Its view and its summary must come out whatever it holds:
 * the text valid UTF-8 without CR, attachment names sanitised (no '/',
 * no control character, not "", "." or "..", at most MIME_NAME_MAX bytes)
 * and unique, the summary fields valid UTF-8. */
#include <stdint.h>
#include <string.h>

#include "cache/mime_text.h"
#include "cache/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
check_name(const char *name, GHashTable *seen)
{
	g_assert(g_utf8_validate(name, -1, NULL));
	g_assert(*name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
	g_assert(strlen(name) <= MIME_NAME_MAX + 16); /* + "-N" */
	for (const char *p = name; *p; p++)
		g_assert(*p != '/' && (guchar)*p >= 0x20 && *p != 0x7f);
	g_assert(g_hash_table_add(seen, (gpointer)name));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *in = (const char *)data;
	MimeText *v = mime_text_new(in, len);
	gsize tlen = 0;
	const char *t = g_bytes_get_data(v->text, &tlen);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	g_assert(t && t[tlen] == '\0' && strlen(t) == tlen);
	g_assert(g_utf8_validate(t, (gssize)tlen, NULL));
	g_assert(!memchr(t, '\r', tlen));
	g_assert(v->attachments->len <= MIME_PARTS_MAX * 2);
	for (guint i = 0; i < v->attachments->len; i++) {
		const MimeAttachment *a = v->attachments->pdata[i];
		check_name(a->name, seen);
		g_assert(a->data && a->content_type);
	}
	MfSummary *s = summary_from_header(1, in, len);
	g_assert(g_utf8_validate(s->sender, -1, NULL));
	g_assert(g_utf8_validate(s->subject, -1, NULL));
	summary_free(s);
	mime_text_free(v);
	return 0;
}
