/* fuzz_url.c - libFuzzer target for net/url: the input, up to its first
 * NUL, is a server URL from the config file.  A URL that parses must print
 * (url_to_string) as one that parses again to the same scheme, host and
 * port; a failure must leave the output untouched. */
#include <string.h>

#include "net/mf_error.h"
#include "net/url.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autofree char *s = g_strndup((const char *)data, len);
	g_autoptr(GError) err = NULL;
	MfUrl u = { .scheme = URL_SMTPS, .host = NULL, .port = 7 };

	if (!url_parse(s, &u, &err)) {
		g_assert(err != NULL && err->code == MF_ERROR_CONFIG);
		g_assert(u.host == NULL && u.port == 7);
		return 0;
	}
	g_assert(u.host != NULL && *u.host != '\0' && u.port != 0);
	g_assert(url_scheme_name(u.scheme) != NULL);

	g_autofree char *str = url_to_string(&u);
	MfUrl v = { 0 };

	if (!url_parse(str, &v, NULL)) {
		g_printerr("url: \"%s\" parses, but its string \"%s\" does "
		           "not\n", s, str);
		abort();
	}
	g_assert(v.scheme == u.scheme && v.port == u.port &&
	         v.implicit_tls == u.implicit_tls);
	g_assert(strcmp(v.host, u.host) == 0);
	url_clear(&v);
	url_clear(&u);
	g_assert(u.host == NULL);
	return 0;
}
