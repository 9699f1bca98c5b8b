/* test_sasl.c - net/sasl.c: the exact bytes every mechanism sends, the
 * order of its messages and answers, the choice of a mechanism, and the
 * servers' OAuth error reports turned into one line (whole, and every
 * prefix of them, as a cut line would arrive). */
#include <check.h>
#include <string.h>

#include "net/mf_error.h"
#include "net/sasl.h"

/* The bytes base64 text B64 stands for. */
static GBytes *
unb64(const char *b64)
{
	gsize n = 0;
	guchar *raw = g_base64_decode(b64, &n);

	return g_bytes_new_take(raw, n);
}

static void
assert_b64_bytes(const char *b64, const char *want, size_t want_len)
{
	g_autoptr(GBytes) got = unb64(b64);
	gsize n;
	const char *p = g_bytes_get_data(got, &n);

	ck_assert_msg(n == want_len && memcmp(p, want, n) == 0,
	              "%s is not the %zu bytes wanted", b64, want_len);
}

static SaslExchange *
new_x(SaslMech m, const char *user, const char *secret, const char *host,
      guint port)
{
	g_autoptr(GError) err = NULL;
	SaslExchange *x = sasl_exchange_new(m, user, secret, host, port, &err);

	ck_assert_msg(x != NULL, "%s", err ? err->message : "");
	ck_assert_int_eq(sasl_exchange_mech(x), m);
	return x;
}

START_TEST(test_plain_bytes)
{
	g_autoptr(SaslExchange) x = new_x(SASL_PLAIN, "alice", "secret",
	                                  NULL, 0);

	/* the same line the clients' transcripts have always had */
	ck_assert_str_eq(sasl_exchange_initial(x, 0), "AGFsaWNlAHNlY3JldA==");
	ck_assert(sasl_exchange_initial(x, 0) == NULL); /* sent once */
	ck_assert(sasl_exchange_respond(x, "") == NULL);
	ck_assert(sasl_exchange_problem(x) == NULL);
}
END_TEST

/* Too long for the command line: the first challenge gets it. */
START_TEST(test_plain_after_challenge)
{
	g_autoptr(SaslExchange) x = new_x(SASL_PLAIN, "alice", "secret",
	                                  NULL, 0);

	ck_assert(sasl_exchange_initial(x, 19) == NULL);
	ck_assert_str_eq(sasl_exchange_respond(x, ""), "AGFsaWNlAHNlY3JldA==");
	ck_assert(sasl_exchange_respond(x, "") == NULL);
	g_autoptr(SaslExchange) y = new_x(SASL_PLAIN, "alice", "secret",
	                                  NULL, 0);
	ck_assert_str_eq(sasl_exchange_initial(y, 20), "AGFsaWNlAHNlY3JldA==");
}
END_TEST

START_TEST(test_login_bytes)
{
	g_autoptr(SaslExchange) x = new_x(SASL_LOGIN, "user", "pass", NULL, 0);

	ck_assert(sasl_exchange_initial(x, 0) == NULL);
	ck_assert_str_eq(sasl_exchange_respond(x, "VXNlcm5hbWU6"), "dXNlcg==");
	ck_assert_str_eq(sasl_exchange_respond(x, "UGFzc3dvcmQ6"), "cGFzcw==");
	ck_assert(sasl_exchange_respond(x, "") == NULL);
}
END_TEST

START_TEST(test_xoauth2_bytes)
{
	static const char want[] =
		"user=alice@example.com\001auth=Bearer ya29.tok-EN_~+/=\001\001";
	g_autoptr(SaslExchange) x = new_x(SASL_XOAUTH2, "alice@example.com",
	                                  "ya29.tok-EN_~+/=", "imap.x", 993);
	const char *b64 = sasl_exchange_initial(x, 0);

	ck_assert(b64 != NULL);
	assert_b64_bytes(b64, want, sizeof want - 1);
	ck_assert_str_eq(b64, "dXNlcj1hbGljZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5"
	                      "YTI5LnRvay1FTl9+Ky89AQE=");
}
END_TEST

START_TEST(test_oauthbearer_bytes)
{
	static const char want[] = "n,a=a=3Db=2Cc@x,\001host=imap.example.com"
	                           "\001port=993\001auth=Bearer tok\001\001";
	static const char bare[] = "n,a=alice,\001auth=Bearer tok\001\001";
	g_autoptr(SaslExchange) x = new_x(SASL_OAUTHBEARER, "a=b,c@x", "tok",
	                                  "imap.example.com", 993);
	g_autoptr(SaslExchange) y = new_x(SASL_OAUTHBEARER, "alice", "tok",
	                                  NULL, 0);

	assert_b64_bytes(sasl_exchange_initial(x, 0), want, sizeof want - 1);
	assert_b64_bytes(sasl_exchange_initial(y, 0), bare, sizeof bare - 1);
}
END_TEST

/* RFC 7628 3.2.3: the error challenge is answered (XOAUTH2: empty,
 * OAUTHBEARER: %x01), a second one cancelled. */
START_TEST(test_oauth_error_answers)
{
	const char *err401 = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic"
	                     "2NvcGUiOiJtYWlsIn0=";
	g_autoptr(SaslExchange) x = new_x(SASL_XOAUTH2, "alice", "tok", NULL,
	                                  0);
	g_autoptr(SaslExchange) y = new_x(SASL_OAUTHBEARER, "alice", "tok",
	                                  NULL, 0);

	ck_assert(sasl_exchange_initial(x, 0) != NULL);
	ck_assert_str_eq(sasl_exchange_respond(x, err401), "");
	ck_assert_str_eq(sasl_exchange_problem(x),
	                 "invalid or expired token (status 401, scope mail)");
	ck_assert(sasl_exchange_respond(x, err401) == NULL);
	ck_assert(sasl_exchange_initial(y, 0) != NULL);
	ck_assert_str_eq(sasl_exchange_respond(y, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rv"
	                                          "a2VuIn0="), "AQ==");
	ck_assert_str_eq(sasl_exchange_problem(y),
	                 "invalid or expired token (status invalid_token)");
	ck_assert(sasl_exchange_respond(y, "") == NULL);
}
END_TEST

/* Without an initial response (no SASL-IR), the first challenge (empty)
 * gets the message, and the one after it is the error. */
START_TEST(test_oauth_without_initial)
{
	g_autoptr(SaslExchange) x = new_x(SASL_XOAUTH2, "u", "t", NULL, 0);

	ck_assert(sasl_exchange_initial(x, 8) == NULL);
	assert_b64_bytes(sasl_exchange_respond(x, ""),
	                 "user=u\001auth=Bearer t\001\001", 22);
	ck_assert(sasl_exchange_problem(x) == NULL);
	ck_assert_str_eq(sasl_exchange_respond(x, ""), "");
	ck_assert_str_eq(sasl_exchange_problem(x),
	                 "token refused (the server gave no reason)");
}
END_TEST

START_TEST(test_refused_credentials)
{
	static const struct {
		SaslMech m;
		const char *user, *secret, *why;
	} bad[] = {
		{ SASL_PLAIN, "", "pw", "user name is empty" },
		{ SASL_LOGIN, "", "pw", "user name is empty" },
		{ SASL_XOAUTH2, "u", "", "access token is empty" },
		{ SASL_XOAUTH2, "u", "two words", "spaces" },
		{ SASL_OAUTHBEARER, "u", "tok\001", "printable ASCII" },
		{ SASL_OAUTHBEARER, "u", "t\xc3\xa9", "printable ASCII" },
		{ SASL_XOAUTH2, "u\001x", "tok", "control character" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;
		SaslExchange *x = sasl_exchange_new(bad[i].m, bad[i].user,
		                                    bad[i].secret, NULL, 0, &err);
		ck_assert(x == NULL);
		ck_assert_int_eq(err->code, MF_ERROR_AUTH);
		ck_assert_msg(strstr(err->message, bad[i].why), "%s",
		              err->message);
	}
}
END_TEST

static const struct {
	guint offered;
	SaslAuth auth;
	gboolean own_login;
	SaslMech want;   /* SASL_NONE with err: an error */
	const char *err;
} choices[] = {
	{ SASL_BIT(SASL_PLAIN) | SASL_BIT(SASL_LOGIN), SASL_AUTH_PASSWORD,
	  FALSE, SASL_PLAIN, NULL },
	{ SASL_BIT(SASL_LOGIN), SASL_AUTH_PASSWORD, FALSE, SASL_LOGIN, NULL },
	{ SASL_BIT(SASL_LOGIN), SASL_AUTH_PASSWORD, TRUE, SASL_NONE, NULL },
	{ 0, SASL_AUTH_PASSWORD, TRUE, SASL_NONE, NULL },
	{ SASL_BIT(SASL_XOAUTH2), SASL_AUTH_PASSWORD, FALSE, SASL_NONE,
	  "neither AUTH PLAIN nor AUTH LOGIN" },
	{ SASL_BIT(SASL_XOAUTH2) | SASL_BIT(SASL_OAUTHBEARER) |
	  SASL_BIT(SASL_PLAIN), SASL_AUTH_OAUTH2, TRUE, SASL_OAUTHBEARER,
	  NULL },
	{ SASL_BIT(SASL_XOAUTH2) | SASL_BIT(SASL_PLAIN), SASL_AUTH_OAUTH2,
	  TRUE, SASL_XOAUTH2, NULL },
	{ SASL_BIT(SASL_PLAIN), SASL_AUTH_OAUTH2, TRUE, SASL_NONE,
	  "neither OAUTHBEARER nor XOAUTH2" },
	{ SASL_BIT(SASL_XOAUTH2) | SASL_BIT(SASL_OAUTHBEARER),
	  SASL_AUTH_XOAUTH2, TRUE, SASL_XOAUTH2, NULL },
	{ SASL_BIT(SASL_XOAUTH2), SASL_AUTH_OAUTHBEARER, TRUE, SASL_NONE,
	  "offers no OAUTHBEARER (auth = oauthbearer)" },
	{ SASL_BIT(SASL_PLAIN), SASL_AUTH_LOGIN, TRUE, SASL_NONE,
	  "offers no LOGIN (auth = login)" },
	{ SASL_BIT(SASL_LOGIN), SASL_AUTH_LOGIN, TRUE, SASL_LOGIN, NULL },
	{ SASL_BIT(SASL_PLAIN), SASL_AUTH_PLAIN, FALSE, SASL_PLAIN, NULL },
};

START_TEST(test_choose)
{
	g_autoptr(GError) err = NULL;
	SaslMech got = SASL_OAUTHBEARER + 1;
	gboolean ok = sasl_choose(choices[_i].offered, choices[_i].auth,
	                          choices[_i].own_login, &got, &err);

	if (choices[_i].err) {
		ck_assert(!ok);
		ck_assert_int_eq(got, SASL_OAUTHBEARER + 1);
		ck_assert_int_eq(err->code, MF_ERROR_AUTH);
		ck_assert_msg(strstr(err->message, choices[_i].err), "%s",
		              err->message);
		return;
	}
	ck_assert_msg(ok, "%s", err ? err->message : "");
	ck_assert_int_eq(got, choices[_i].want);
}
END_TEST

START_TEST(test_names)
{
	SaslAuth a = SASL_AUTH_PLAIN;

	ck_assert_int_eq(sasl_mech_from_name("xoauth2"), SASL_XOAUTH2);
	ck_assert_int_eq(sasl_mech_from_name("OAUTHBEARER"), SASL_OAUTHBEARER);
	ck_assert_int_eq(sasl_mech_from_name("CRAM-MD5"), SASL_NONE);
	ck_assert_int_eq(sasl_mech_from_name("none"), SASL_NONE);
	ck_assert_str_eq(sasl_mech_name(SASL_LOGIN), "LOGIN");
	ck_assert(sasl_auth_from_name("OAuth2", &a) && a == SASL_AUTH_OAUTH2);
	ck_assert(sasl_auth_from_name("password", &a) &&
	          a == SASL_AUTH_PASSWORD);
	ck_assert(!sasl_auth_from_name("kerberos", &a));
	ck_assert(a == SASL_AUTH_PASSWORD);
	ck_assert(sasl_auth_is_oauth2(SASL_AUTH_OAUTHBEARER));
	ck_assert(!sasl_auth_is_oauth2(SASL_AUTH_LOGIN));
}
END_TEST

/* What servers send (base64 of the JSON) and the line it becomes. */
static const struct {
	const char *json;    /* encoded by the test; NULL: use raw */
	const char *raw;
	const char *want;
} problems[] = {
	/* Gmail and Dovecot's XOAUTH2 */
	{ "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":"
	  "\"https://mail.google.com/\"}", NULL,
	  "invalid or expired token (status 401, scope "
	  "https://mail.google.com/)" },
	/* Dovecot's OAUTHBEARER */
	{ "{\"status\":\"invalid_token\"}", NULL,
	  "invalid or expired token (status invalid_token)" },
	{ "{\"status\":\"insufficient_scope\",\"scope\":\"mail send\"}", NULL,
	  "scope missing (status insufficient_scope, scope mail send)" },
	{ "{\"status\":403}", NULL, "scope missing (status 403)" },
	{ "{\"status\":\"invalid_request\"}", NULL,
	  "invalid request (status invalid_request)" },
	{ "{\"status\":\"teapot\",\"scope\":\"x\"}", NULL,
	  "token refused (status teapot, scope x)" },
	{ "{\"scope\":\"x\"}", NULL, "token refused (scope x)" },
	{ "{}", NULL, "token refused" },
	{ "{\"status\":{\"nested\":1}}", NULL, "token refused" },
	{ "{\"status\":\"4\\n01\\u001b[31m\\u00e9\"}", NULL,
	  "token refused (status 4?01?[31m?" "?)" },
	{ "[\"status\"]", NULL,
	  "an error the server sent is not a JSON object: [\"status\"]" },
	{ "status=401", NULL,
	  "an error the server sent is not a JSON object: status=401" },
	{ NULL, "not base64!", "an error the server sent is not base64: "
	  "not base64!" },
	{ NULL, "abc", "an error the server sent is not base64: abc" },
	{ NULL, "YQ==YQ==", "an error the server sent is not base64: YQ==YQ==" },
	{ NULL, "AAEC", "an error the server sent is not a JSON object: ???" },
	{ NULL, "", "token refused (the server gave no reason)" },
	{ NULL, "  ", "token refused (the server gave no reason)" },
	{ NULL, "e30= ", "token refused" },
};

static char *
problem_input(guint i)
{
	if (!problems[i].json)
		return g_strdup(problems[i].raw);
	return g_base64_encode((const guchar *)problems[i].json,
	                       strlen(problems[i].json));
}

static void
assert_one_printable_line(const char *line)
{
	ck_assert(line[0] != '\0');
	for (const char *p = line; *p; p++)
		ck_assert_msg((guchar)*p >= 0x20 && (guchar)*p < 0x7f,
		              "byte 0x%02x in %s", (guchar)*p, line);
	ck_assert_uint_le(strlen(line), 400);
}

START_TEST(test_problem_table)
{
	g_autofree char *in = problem_input(_i);
	g_autofree char *line = sasl_oauth_problem(in);

	ck_assert_str_eq(line, problems[_i].want);
	assert_one_printable_line(line);
}
END_TEST

/* A challenge cut anywhere (a line broken off) still makes one printable
 * line, and never the meaning of the whole. */
START_TEST(test_problem_prefixes)
{
	g_autofree char *in = problem_input(_i);
	size_t len = strlen(in);

	for (size_t n = 0; n < len; n++) {
		g_autofree char *cut = g_strndup(in, n);
		g_autofree char *line = sasl_oauth_problem(cut);

		assert_one_printable_line(line);
	}
}
END_TEST

START_TEST(test_problem_long_values)
{
	g_autoptr(GString) json = g_string_new("{\"status\":\"401\",\"scope\":\"");
	for (int i = 0; i < 5000; i++)
		g_string_append_c(json, 's');
	g_string_append(json, "\"}");
	g_autofree char *b64 = g_base64_encode((const guchar *)json->str,
	                                       json->len);
	g_autofree char *line = sasl_oauth_problem(b64);

	assert_one_printable_line(line);
	ck_assert(g_str_has_suffix(line, "...)"));
	g_autoptr(GString) junk = g_string_new(NULL);
	for (int i = 0; i < 5000; i++)
		g_string_append(junk, "!!!!");
	g_autofree char *line2 = sasl_oauth_problem(junk->str);
	assert_one_printable_line(line2);
}
END_TEST

static Suite *
sasl_suite(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_plain_bytes);
	tcase_add_test(tc, test_plain_after_challenge);
	tcase_add_test(tc, test_login_bytes);
	tcase_add_test(tc, test_xoauth2_bytes);
	tcase_add_test(tc, test_oauthbearer_bytes);
	tcase_add_test(tc, test_oauth_error_answers);
	tcase_add_test(tc, test_oauth_without_initial);
	tcase_add_test(tc, test_refused_credentials);
	tcase_add_loop_test(tc, test_choose, 0, G_N_ELEMENTS(choices));
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_problem_table, 0, G_N_ELEMENTS(problems));
	tcase_add_loop_test(tc, test_problem_prefixes, 0,
	                    G_N_ELEMENTS(problems));
	tcase_add_test(tc, test_problem_long_values);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sasl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
