/* test_imap_auth.c - how net/imap_client.c logs in, against a scripted
 * fake server on loopback: the exact AUTHENTICATE lines of each mechanism
 * (with and without SASL-IR), the answer to a server's OAuth error and
 * the line the error becomes, LOGIN when no mechanism fits, and refusals
 * before anything is sent. */
#include <check.h>
#include <string.h>

#include "fake_server.h"
#include "net/imap_client.h"
#include "net/mf_error.h"
#include "net/url.h"

/* Made in main() before the test forks; the client pins it. */
static FakeCert server_cert;

#define TOKEN "ya29.a0AfB_token-1"

/* One step: wait for the client to send EXPECT (a line without CRLF;
 * NULL: do not wait; the exact bytes are checked at the end), then send
 * REPLY (if any). */
typedef FakeStep Step;

#define START(steps) fake_server_start(fake_run_steps, steps, \
	G_N_ELEMENTS(steps), &server_cert, TRUE)

#define CAPS_OAUTH "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER"
#define GREETING_IR { NULL, "* OK [CAPABILITY " CAPS_OAUTH " SASL-IR] hi\r\n" }
#define GREETING_NO_IR { NULL, "* OK [CAPABILITY " CAPS_OAUTH "] hi\r\n" }
#define LOGOUT(tag) { tag " LOGOUT", "* BYE\r\n" tag " OK bye\r\n" }
/* Dovecot's: {"status":"401","schemes":"bearer","scope":"mail"} */
#define ERR_401 "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJ" \
	"tYWlsIn0="
#define NO_AUTH "NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"

static MfImapClient *
client_connect(FakeServer *s, SaslAuth auth, const char *secret,
               GError **err)
{
	g_autofree char *text = g_strdup_printf("imaps://127.0.0.1:%u",
	                                        (unsigned)s->port);
	MfServerParams srv = {
		.tls_fingerprint = (char *)server_cert.fpr_plain,
		.user = (char *)"alice@example.com",
		.auth = auth,
		.timeout_ms = 3000,
	};
	MfImapClientParams p = { .server = &srv, .secret = secret };

	g_assert(url_parse(text, &srv.url, NULL));
	MfImapClient *c = imap_client_connect(&p, err);
	url_clear(&srv.url);
	return c;
}

/* The base64 line of MSG (LEN bytes). */
static char *
b64(const char *msg, size_t len)
{
	return g_base64_encode((const guchar *)msg, len);
}

#define XOAUTH2_MSG "user=alice@example.com\001auth=Bearer " TOKEN "\001\001"

static char xoauth2_line[256];

static const Step xoauth2_steps[] = {
	GREETING_IR,
	{ xoauth2_line, "A1 OK [CAPABILITY " CAPS_OAUTH " IDLE] Logged in\r\n" },
	LOGOUT("A2"),
};

START_TEST(test_xoauth2_initial)
{
	g_autofree char *m = b64(XOAUTH2_MSG, sizeof XOAUTH2_MSG - 1);
	g_autoptr(GError) err = NULL;

	g_snprintf(xoauth2_line, sizeof xoauth2_line,
	           "A1 AUTHENTICATE XOAUTH2 %s", m);
	FakeServer *s = START(xoauth2_steps);
	MfImapClient *c = client_connect(s, SASL_AUTH_XOAUTH2, TOKEN, &err);
	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	ck_assert_int_eq(imap_client_state(c), IMAP_STATE_AUTH);
	ck_assert(imap_client_caps(c) & IMAP_CAP_IDLE);
	imap_client_free(c);
	g_autofree char *want = g_strdup_printf("%s\r\nA2 LOGOUT\r\n",
	                                        xoauth2_line);
	fake_server_finish(s, want);
}
END_TEST

static char bearer_line[256];

static const Step bearer_steps[] = {
	GREETING_IR,
	{ bearer_line, "A1 OK Logged in\r\n" },
	LOGOUT("A2"),
};

/* auth = oauth2 takes OAUTHBEARER when offered, with host and port. */
START_TEST(test_oauthbearer_preferred)
{
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(bearer_steps);
	g_autofree char *msg = g_strdup_printf(
		"n,a=alice@example.com,\001host=127.0.0.1\001port=%u\001"
		"auth=Bearer " TOKEN "\001\001", (unsigned)s->port);
	g_autofree char *m = b64(msg, strlen(msg));

	g_snprintf(bearer_line, sizeof bearer_line,
	           "A1 AUTHENTICATE OAUTHBEARER %s", m);
	MfImapClient *c = client_connect(s, SASL_AUTH_OAUTH2, TOKEN, &err);
	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	imap_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step refused_steps[] = {
	GREETING_IR,
	{ xoauth2_line, "+ " ERR_401 "\r\n" },
	{ "", "A1 " NO_AUTH },
};

/* The error challenge is answered with an empty line; the refusal says
 * what the server's report meant. */
START_TEST(test_xoauth2_refused)
{
	g_autofree char *m = b64(XOAUTH2_MSG, sizeof XOAUTH2_MSG - 1);
	g_autoptr(GError) err = NULL;

	g_snprintf(xoauth2_line, sizeof xoauth2_line,
	           "A1 AUTHENTICATE XOAUTH2 %s", m);
	FakeServer *s = START(refused_steps);
	ck_assert_ptr_null(client_connect(s, SASL_AUTH_XOAUTH2, TOKEN, &err));
	assert_error(err, MF_ERROR_AUTH, "authentication refused: "
	             "Authentication failed. (OAuth "
	             "error: invalid or expired token (status 401, scope "
	             "mail))");
	ck_assert(strstr(err->message, TOKEN) == NULL);
	g_autofree char *want = g_strdup_printf("%s\r\n\r\nA2 LOGOUT\r\n",
	                                        xoauth2_line);
	fake_server_finish(s, want);
}
END_TEST

static char no_ir_answer[256];

static const Step no_ir_steps[] = {
	GREETING_NO_IR,
	{ "A1 AUTHENTICATE OAUTHBEARER", "+ \r\n" },
	{ no_ir_answer, "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n" },
	{ "AQ==", "A1 " NO_AUTH },
};

/* Without SASL-IR the message goes after the first "+"; OAUTHBEARER
 * answers the error with %x01. */
START_TEST(test_oauthbearer_no_ir_refused)
{
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(no_ir_steps);
	g_autofree char *msg = g_strdup_printf(
		"n,a=alice@example.com,\001host=127.0.0.1\001port=%u\001"
		"auth=Bearer " TOKEN "\001\001", (unsigned)s->port);
	g_autofree char *m = b64(msg, strlen(msg));

	g_strlcpy(no_ir_answer, m, sizeof no_ir_answer);
	ck_assert_ptr_null(client_connect(s, SASL_AUTH_OAUTHBEARER, TOKEN,
	                                  &err));
	assert_error(err, MF_ERROR_AUTH, "(OAuth error: invalid or expired "
	             "token (status invalid_token))");
	g_autofree char *want = g_strdup_printf(
		"A1 AUTHENTICATE OAUTHBEARER\r\n%s\r\nAQ==\r\nA2 LOGOUT\r\n", m);
	fake_server_finish(s, want);
}
END_TEST

static const Step cancel_steps[] = {
	GREETING_IR,
	{ xoauth2_line, "+ " ERR_401 "\r\n" },
	{ "", "+ more\r\n" },
	{ "*", "A1 BAD cancelled\r\n" },
};

/* A second challenge after the error is cancelled. */
START_TEST(test_second_challenge_cancelled)
{
	g_autofree char *m = b64(XOAUTH2_MSG, sizeof XOAUTH2_MSG - 1);
	g_autoptr(GError) err = NULL;

	g_snprintf(xoauth2_line, sizeof xoauth2_line,
	           "A1 AUTHENTICATE XOAUTH2 %s", m);
	FakeServer *s = START(cancel_steps);
	ck_assert_ptr_null(client_connect(s, SASL_AUTH_XOAUTH2, TOKEN, &err));
	ck_assert(err != NULL);
	g_autofree char *want = g_strdup_printf("%s\r\n\r\n*\r\nA2 LOGOUT\r\n",
	                                        xoauth2_line);
	fake_server_finish(s, want);
}
END_TEST

static const Step plain_only_steps[] = {
	{ NULL, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n" },
	LOGOUT("A1"),
};

/* auth = oauth2 against a server without OAuth mechanisms: nothing sent
 * but LOGOUT. */
START_TEST(test_no_oauth_offered)
{
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(plain_only_steps);

	ck_assert_ptr_null(client_connect(s, SASL_AUTH_OAUTH2, TOKEN, &err));
	assert_error(err, MF_ERROR_AUTH, "127.0.0.1:");
	assert_error(err, MF_ERROR_AUTH, "authentication impossible: server "
	             "offers neither OAUTHBEARER nor XOAUTH2");
	fake_server_finish(s, "A1 LOGOUT\r\n");
}
END_TEST

/* A token that cannot be a bearer token is refused before it goes out. */
START_TEST(test_bad_token)
{
	static const Step x[] = { GREETING_IR, LOGOUT("A1") };
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(x);

	ck_assert_ptr_null(client_connect(s, SASL_AUTH_XOAUTH2, "two words",
	                                  &err));
	assert_error(err, MF_ERROR_AUTH, "the access token holds spaces");
	fake_server_finish(s, "A1 LOGOUT\r\n");
}
END_TEST

static const Step login_steps[] = {
	{ NULL, "* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN] hi\r\n" },
	{ "A1 LOGIN \"alice@example.com\" \"pw\"", "A1 OK in\r\n" },
	LOGOUT("A2"),
};

/* A password without AUTH=PLAIN: the LOGIN command, as before. */
START_TEST(test_password_login_command)
{
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(login_steps);
	MfImapClient *c = client_connect(s, SASL_AUTH_PASSWORD, "pw", &err);

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	imap_client_free(c);
	fake_server_finish(s, "A1 LOGIN \"alice@example.com\" \"pw\"\r\n"
	                   "A2 LOGOUT\r\n");
}
END_TEST

static const Step disabled_steps[] = {
	{ NULL, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=LOGIN] hi\r\n" },
	{ "A1 AUTHENTICATE LOGIN", "+ VXNlcm5hbWU6\r\n" },
	{ "YWxpY2VAZXhhbXBsZS5jb20=", "+ UGFzc3dvcmQ6\r\n" },
	{ "cHc=", "A1 OK in\r\n" },
	LOGOUT("A2"),
};

/* LOGIN disabled, AUTH=LOGIN offered: AUTHENTICATE LOGIN. */
START_TEST(test_password_authenticate_login)
{
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(disabled_steps);
	MfImapClient *c = client_connect(s, SASL_AUTH_PASSWORD, "pw", &err);

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	imap_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static Suite *
imap_auth_suite(void)
{
	Suite *s = suite_create("imap_auth");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_xoauth2_initial);
	tcase_add_test(tc, test_oauthbearer_preferred);
	tcase_add_test(tc, test_xoauth2_refused);
	tcase_add_test(tc, test_oauthbearer_no_ir_refused);
	tcase_add_test(tc, test_second_challenge_cancelled);
	tcase_add_test(tc, test_no_oauth_offered);
	tcase_add_test(tc, test_bad_token);
	tcase_add_test(tc, test_password_login_command);
	tcase_add_test(tc, test_password_authenticate_login);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	fake_cert_init(&server_cert, "imap.test", NULL, -3600, 86400);
	assert_error_secret = TOKEN;
	return fake_run_suite(imap_auth_suite());
}
