/* fuzz_mutf7.c - libFuzzer target for net/mutf7: the input, up to its first
 * NUL, is decoded as a server's mailbox name and, when it is UTF-8, encoded
 * as a user's folder name.  Both directions must round-trip exactly: the
 * decoder refuses non-canonical forms, so encode(decode(x)) == x. */
#include <string.h>

#include "net/mf_error.h"
#include "net/mutf7.h"

#include "tests/fuzz/fuzz_common.h"

static void
check_decode(const char *in)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *utf8 = mutf7_decode(in, &err);

	if (!utf8) {
		g_assert(err != NULL && err->code == MF_ERROR_PROTOCOL);
		return;
	}
	g_assert(g_utf8_validate(utf8, -1, NULL));

	g_autofree char *again = mutf7_encode(utf8, NULL);

	g_assert(again != NULL);
	if (strcmp(again, in) != 0) {
		g_printerr("mutf7: \"%s\" decodes to \"%s\", which encodes "
		           "to \"%s\"\n", in, utf8, again);
		abort();
	}
}

static void
check_encode(const char *in)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *enc = mutf7_encode(in, &err);

	if (!enc) {
		g_assert(!g_utf8_validate(in, -1, NULL));
		g_assert(err != NULL && err->code == MF_ERROR_CONFIG);
		return;
	}
	for (const char *c = enc; *c; c++)
		g_assert(*c >= 0x20 && *c <= 0x7e);

	g_autofree char *back = mutf7_decode(enc, NULL);

	g_assert(back != NULL && strcmp(back, in) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autofree char *s = g_strndup((const char *)data, len);

	check_decode(s);
	check_encode(s);
	return 0;
}
