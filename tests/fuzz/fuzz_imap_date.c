/* fuzz_imap_date.c - libFuzzer target for net/imap_date: the input, up to
 * its first NUL, is an INTERNALDATE from a server.  A date that parses must
 * format (in UTC) as one that parses to the same time; one that does not
 * parse leaves the output untouched. */
#include <string.h>

#include "net/imap_date.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autofree char *s = g_strndup((const char *)data, len);
	gint64 t = 42, back = 7;
	char buf[40];

	if (!imap_date_parse(s, &t)) {
		g_assert(t == 42);
		return 0;
	}
	imap_date_format(t, buf);
	if (!imap_date_parse(buf, &back) || back != t) {
		g_printerr("imap_date: \"%s\" is %" G_GINT64_FORMAT ", formatted "
		           "\"%s\", which parses to %" G_GINT64_FORMAT "\n", s, t,
		           buf, back);
		abort();
	}
	return 0;
}
