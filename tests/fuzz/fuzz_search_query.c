/* fuzz_search_query.c - libFuzzer target for cache/search_query.c: the
 * input is a query (a file name looked up in .mailfs/search/).  Fed whole
 * and in chunks it must give the same transcript (the IMAP criteria, the
 * FTS5 match, or the error); what it accepts has 1 to SEARCH_TERMS_MAX
 * terms and criteria without a control character or a bare line end. */
#include <stdint.h>
#include <string.h>

#include "cache/search_query.h"
#include "net/mf_error.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
transcript(GString *t, SearchQuery *q, gboolean ok, GError *err)
{
	if (!ok) {
		g_assert(g_error_matches(err, MF_ERROR, MF_ERROR_REFUSED));
		g_string_append_printf(t, "error %s", err->message);
		return;
	}
	gboolean utf8;
	g_autofree char *imap = search_query_imap(q, &utf8);
	g_autofree char *fts = search_query_fts(q);
	g_assert(search_query_count(q) >= 1 &&
	         search_query_count(q) <= SEARCH_TERMS_MAX);
	for (const char *p = imap; *p; p++)
		g_assert((guchar)*p >= 0x20 && *p != 0x7f);
	fuzz_append_bytes(t, imap, strlen(imap));
	g_string_append_printf(t, " %d ", utf8);
	if (fts)
		fuzz_append_bytes(t, fts, strlen(fts));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *in = (const char *)data;
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) chunked = g_string_new(NULL);
	GError *err = NULL;
	FuzzRand r;

	SearchQuery *q = search_query_new();
	gboolean ok = search_query_feed(q, in, len, &err) &&
	              search_query_finish(q, &err);
	transcript(whole, q, ok, err);
	search_query_free(q);
	g_clear_error(&err);

	fuzz_rand_init(&r, data, len);
	q = search_query_new();
	ok = TRUE;
	for (size_t off = 0; ok && off < len;) {
		size_t n = fuzz_rand_chunk(&r, 8, len - off);
		ok = search_query_feed(q, in + off, n, &err);
		off += n;
	}
	ok = ok && search_query_finish(q, &err);
	transcript(chunked, q, ok, err);
	search_query_free(q);
	g_clear_error(&err);
	fuzz_expect_same("search_query", whole, chunked);
	return 0;
}
