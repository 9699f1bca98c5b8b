/* fuzz_sasl_problem.c - libFuzzer target for the decoder of the servers'
 * OAuth error reports (net/sasl.c, with net/json.c under it).  The input,
 * up to its first NUL, is the text of an error challenge as a server sends
 * it; the same bytes base64-encoded are a report whose JSON is the input,
 * so that the JSON reader is fuzzed as well.  Every line must be one line
 * of printable ASCII; an exchange that meets the challenge must say the
 * same as the decoder; an object that parses must keep what json.h
 * promises. */
#include <string.h>

#include "net/json.h"
#include "net/mf_error.h"
#include "net/sasl.h"

#include "tests/fuzz/fuzz_common.h"

static void
check_line(const char *line)
{
	g_assert(line != NULL && line[0] != '\0');
	for (const char *p = line; *p; p++)
		g_assert((guchar)*p >= 0x20 && (guchar)*p < 0x7f);
	g_assert(strlen(line) <= 400);
}

/* What the exchange says about CHALLENGE is what the decoder says. */
static void
check_exchange(SaslMech mech, const char *challenge, const char *line)
{
	g_autoptr(SaslExchange) x = sasl_exchange_new(mech, "u", "tok", "h",
	                                              1, NULL);

	g_assert(sasl_exchange_initial(x, 0) != NULL);
	const char *answer = sasl_exchange_respond(x, challenge);
	g_assert(answer != NULL);
	g_assert(strcmp(answer, mech == SASL_XOAUTH2 ? "" : "AQ==") == 0);
	g_assert(strcmp(sasl_exchange_problem(x), line) == 0);
	g_assert(sasl_exchange_respond(x, challenge) == NULL);
}

static void
check_json(const uint8_t *data, size_t len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonObject) o = json_object_parse((const char *)data, len,
	                                            &err);

	if (!o) {
		g_assert(err != NULL && err->code == MF_ERROR_PROTOCOL);
		return;
	}
	g_assert(json_object_size(o) <= JSON_MEMBERS_MAX);
	for (guint i = 0; i < json_object_size(o); i++) {
		JsonKind kind;
		const char *value = NULL;
		const char *key = json_object_key_at(o, i, &kind, &value);
		gint64 n;

		g_assert(g_utf8_validate(key, -1, NULL));
		g_assert((value != NULL) ==
		         (kind == JSON_STRING || kind == JSON_NUMBER));
		if (kind == JSON_STRING)
			g_assert(g_utf8_validate(value, -1, NULL));
		if (json_object_int(o, key, &n) && kind == JSON_NUMBER)
			g_assert(n == g_ascii_strtoll(value, NULL, 10));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autofree char *text = g_strndup((const char *)data, len);
	g_autofree char *line = sasl_oauth_problem(text);
	g_autofree char *b64 = g_base64_encode(data, len);
	g_autofree char *line2 = sasl_oauth_problem(b64);

	check_line(line);
	check_line(line2);
	check_exchange(SASL_XOAUTH2, text, line);
	check_exchange(SASL_OAUTHBEARER, b64, line2);
	check_json(data, len);
	return 0;
}
