/* test_pop3_client.c - tests of net/pop3_client.c against a scripted fake
 * POP3 server in a thread on loopback: exact bytes sent, STLS, login
 * failures, UIDL refusal, RETR streaming, timeouts and limits. */
#include <check.h>
#include <string.h>

#include "fake_server.h"
#include "net/mf_error.h"
#include "net/pop3_client.h"
#include "net/url.h"

/* Made in main() before the test forks; the client pins it. */
static FakeCert server_cert;

/* --- the scripted server --- */

/* One step: wait for the client to send EXPECT (a line without CRLF;
 * NULL: do not wait), then send REPLY (if any), then run ACT (if any). */
typedef FakeStep Step;

/* The steps, then whatever else comes, up to EOF. */
static void
run_script(FakeServer *s)
{
	fake_follow_steps(s);
	fake_drain(s);
}

#define START(steps, tls) fake_server_start(run_script, steps, \
	G_N_ELEMENTS(steps), &server_cert, tls)

/* --- the client side --- */

typedef struct {
	const char *scheme;
	const char *user;
	const char *password;
	SaslAuth auth;
	int timeout_ms;
	guint64 message_max;
} Opts;

static MfPop3Client *
client_connect(FakeServer *s, const Opts *o, GError **err)
{
	g_autofree char *text = g_strdup_printf("%s://127.0.0.1:%u", o->scheme,
	                                        (unsigned)s->port);
	MfServerParams srv = {
		.tls_fingerprint = (char *)server_cert.fpr_plain,
		.user = (char *)(o->user ? o->user : "alice"),
		.auth = o->auth,
		.timeout_ms = o->timeout_ms ? o->timeout_ms : 3000,
	};
	MfPop3ClientParams p = {
		.server = &srv,
		.secret = o->password ? o->password : "secret",
		.message_max = o->message_max,
	};

	g_assert(url_parse(text, &srv.url, NULL));
	MfPop3Client *c = pop3_client_connect(&p, err);
	url_clear(&srv.url);
	return c;
}

static MfPop3Client *
connect_ok(FakeServer *s, const Opts *o)
{
	g_autoptr(GError) err = NULL;
	MfPop3Client *c = client_connect(s, o, &err);

	ck_assert_msg(c != NULL, "connect: %s", err ? err->message : "?");
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_TRANSACTION);
	return c;
}

static const Opts pop3s = { .scheme = "pop3s" };
static const Opts pop3 = { .scheme = "pop3" };

/* Collects streamed message text. */
typedef struct {
	GByteArray *data;
	guint pieces;
	size_t largest;
	guint fail_after; /* fail on this piece (1-based); 0: never */
} Sink;

static gboolean
sink_write_cb(const char *data, size_t len, void *ud, GError **err)
{
	Sink *k = ud;

	k->pieces++;
	k->largest = MAX(k->largest, len);
	if (k->fail_after && k->pieces == k->fail_after) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "disk full");
		return FALSE;
	}
	g_byte_array_append(k->data, (const guint8 *)data, (guint)len);
	return TRUE;
}

static void
sink_init(Sink *k)
{
	memset(k, 0, sizeof *k);
	k->data = g_byte_array_new();
}

static void
sink_clear(Sink *k)
{
	g_byte_array_unref(k->data);
}

#define GREETING { NULL, "+OK POP3 ready <1.2@test>\r\n", NULL }
#define CAPA_SASL { "CAPA", "+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\n" \
	"RESP-CODES\r\nUSER\r\n.\r\n", NULL }
#define CAPA_USER { "CAPA", "+OK\r\nUIDL\r\nUSER\r\n.\r\n", NULL }
#define AUTH_OK { "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "+OK logged in\r\n", \
	NULL }
#define QUIT_OK { "QUIT", "+OK bye\r\n", NULL }

/* --- session, login --- */

static const Step session_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "STAT", "+OK 2 350\r\n", NULL },
	{ "UIDL", "+OK\r\n2 uid-two\r\n1 uid-one\r\n.\r\n", NULL },
	{ "LIST", "+OK 2 messages\r\n1 120\r\n2 230 extra\r\n.\r\n", NULL },
	{ "RETR 1", "+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\nbody\n"
	  ".\r\n", NULL },
	{ "TOP 2 0", "+OK\r\nSubject: y\r\n\r\n.\r\n", NULL },
	{ "DELE 1", "+OK marked\r\n", NULL },
	{ "NOOP", "+OK\r\n", NULL },
	QUIT_OK,
};

START_TEST(test_session)
{
	FakeServer *s = START(session_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	g_autoptr(GArray) list = NULL;
	guint32 count = 0;
	guint64 size = 0, got = 0;
	Sink k;

	ck_assert_uint_eq(pop3_client_caps(c) & (POP3_CAP_SASL_PLAIN |
	                  POP3_CAP_UIDL | POP3_CAP_TOP | POP3_CAP_STLS),
	                  POP3_CAP_SASL_PLAIN | POP3_CAP_UIDL | POP3_CAP_TOP);
	g_autofree char *desc = pop3_client_describe(c);
	ck_assert_ptr_nonnull(strstr(desc, "pop3s://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(desc, "TLS"));
	ck_assert(pop3_client_stat(c, &count, &size, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(size, 350);
	ck_assert(pop3_client_uidl(c, &list, &err));
	ck_assert_uint_eq(list->len, 2);
	Pop3Entry *e = &g_array_index(list, Pop3Entry, 0);
	ck_assert_uint_eq(e->num, 1);
	ck_assert_str_eq(e->uidl, "uid-one");
	ck_assert_uint_eq(e->size, 120);
	e = &g_array_index(list, Pop3Entry, 1);
	ck_assert_uint_eq(e->num, 2);
	ck_assert_str_eq(e->uidl, "uid-two");
	ck_assert_uint_eq(e->size, 230);
	sink_init(&k);
	ck_assert(pop3_client_retr(c, 1, sink_write_cb, &k, &got, &err));
	ck_assert_uint_eq(got, k.data->len);
	ck_assert_uint_eq(k.data->len, 26);
	ck_assert(memcmp(k.data->data, "Subject: x\r\n\r\n.dot\r\nbody\r\n",
	                 k.data->len) == 0);
	g_byte_array_set_size(k.data, 0);
	ck_assert(pop3_client_top(c, 2, 0, sink_write_cb, &k, NULL, &err));
	ck_assert_uint_eq(k.data->len, 14);
	sink_clear(&k);
	ck_assert(pop3_client_dele(c, 1, &err));
	ck_assert(pop3_client_noop(c, &err));
	ck_assert_msg(pop3_client_quit(c, &err), "%s", err ? err->message : "");
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_QUIT);
	ck_assert(!pop3_client_noop(c, &err));
	assert_error(err, MF_ERROR_CONNECTION, "closed");
	pop3_client_free(c);
	fake_server_finish(s, "CAPA\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	                   "STAT\r\nUIDL\r\nLIST\r\nRETR 1\r\nTOP 2 0\r\n"
	                   "DELE 1\r\nNOOP\r\nQUIT\r\n");
}
END_TEST

static const Step user_pass_steps[] = {
	GREETING, CAPA_USER,
	{ "USER alice", "+OK\r\n", NULL },
	{ "PASS pass word", "+OK\r\n", NULL },
};

/* Without SASL PLAIN: USER/PASS, with a space in the password. */
START_TEST(test_user_pass)
{
	FakeServer *s = START(user_pass_steps, TRUE);
	Opts o = { .scheme = "pop3s", .password = "pass word" };
	MfPop3Client *c = connect_ok(s, &o);

	pop3_client_free(c);
	fake_server_finish(s, "CAPA\r\nUSER alice\r\nPASS pass word\r\n");
}
END_TEST

static const Step pass_err_steps[] = {
	GREETING, CAPA_USER,
	{ "USER alice", "+OK\r\n", NULL },
	{ "PASS secret", "-ERR [AUTH] invalid login\r\n", NULL },
};

START_TEST(test_pass_refused)
{
	FakeServer *s = START(pass_err_steps, TRUE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3s, &err));
	assert_error(err, MF_ERROR_AUTH, "[AUTH] invalid login");
	fake_server_finish(s, "CAPA\r\nUSER alice\r\nPASS secret\r\n");
}
END_TEST

static const Step sasl_err_steps[] = {
	GREETING, CAPA_SASL,
	{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "-ERR [AUTH] go away\r\n", NULL },
};

START_TEST(test_sasl_refused)
{
	FakeServer *s = START(sasl_err_steps, TRUE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3s, &err));
	assert_error(err, MF_ERROR_AUTH, "go away");
	fake_server_finish(s, NULL);
}
END_TEST

static char long_b64[512];

static const Step sasl_cont_steps[] = {
	GREETING, CAPA_SASL,
	{ "AUTH PLAIN", "+ \r\n", NULL },
	{ long_b64, "+OK\r\n", NULL },
};

/* Credentials too long for an initial response go after the "+ ". */
START_TEST(test_sasl_continuation)
{
	char user[201];
	Opts o = { .scheme = "pop3s", .user = user };
	char raw[220];

	memset(user, 'u', 200);
	user[200] = '\0';
	raw[0] = '\0';
	memcpy(raw + 1, user, 200);
	raw[201] = '\0';
	memcpy(raw + 202, "secret", 6);
	g_autofree char *b64 = g_base64_encode((const guchar *)raw, 208);
	g_strlcpy(long_b64, b64, sizeof long_b64);
	FakeServer *s = START(sasl_cont_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &o);
	pop3_client_free(c);
	g_autofree char *want = g_strdup_printf("CAPA\r\nAUTH PLAIN\r\n%s\r\n",
	                                        b64);
	fake_server_finish(s, want);
}
END_TEST

static const Step sasl_cancel_steps[] = {
	GREETING, CAPA_SASL,
	{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "+ more?\r\n", NULL },
	{ "*", "-ERR cancelled\r\n", NULL },
};

/* A server asking for more than PLAIN has is cancelled with "*". */
START_TEST(test_sasl_cancel)
{
	FakeServer *s = START(sasl_cancel_steps, TRUE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3s, &err));
	assert_error(err, MF_ERROR_AUTH, "cancelled");
	fake_server_finish(s, "CAPA\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	                   "*\r\n");
}
END_TEST

/* --- OAuth2 --- */

#define CAPA_OAUTH { "CAPA", "+OK\r\nUIDL\r\nSASL PLAIN XOAUTH2 " \
	"OAUTHBEARER\r\n.\r\n", NULL }
#define TOKEN "at-kJ8s_d7-Q"

static char oauth_line[512];

static const Step bearer_steps[] = {
	GREETING, CAPA_OAUTH,
	{ oauth_line, "+OK logged in\r\n", NULL },
};

/* auth = oauth2: OAUTHBEARER, with the initial response, host and port. */
START_TEST(test_oauthbearer)
{
	Opts o = { .scheme = "pop3s", .password = TOKEN,
	           .auth = SASL_AUTH_OAUTH2 };
	FakeServer *s = START(bearer_steps, TRUE);
	g_autofree char *msg = g_strdup_printf(
		"n,a=alice,\001host=127.0.0.1\001port=%u\001auth=Bearer " TOKEN
		"\001\001", (unsigned)s->port);
	g_autofree char *b64 = g_base64_encode((const guchar *)msg,
	                                       strlen(msg));

	g_snprintf(oauth_line, sizeof oauth_line, "AUTH OAUTHBEARER %s", b64);
	MfPop3Client *c = connect_ok(s, &o);
	pop3_client_free(c);
	g_autofree char *want = g_strdup_printf("CAPA\r\n%s\r\n", oauth_line);
	fake_server_finish(s, want);
}
END_TEST

static char long_token[301];
static char long_answer[512];

static const Step xoauth2_long_steps[] = {
	GREETING, CAPA_OAUTH,
	{ "AUTH XOAUTH2", "+ \r\n", NULL },
	{ long_answer, "+OK logged in\r\n", NULL },
};

/* A token too long for the 255 octets of an AUTH line goes after "+ ". */
START_TEST(test_xoauth2_long_token)
{
	Opts o = { .scheme = "pop3s", .password = long_token,
	           .auth = SASL_AUTH_XOAUTH2 };

	memset(long_token, 'T', 300);
	g_autofree char *msg = g_strdup_printf(
		"user=alice\001auth=Bearer %s\001\001", long_token);
	g_autofree char *b64 = g_base64_encode((const guchar *)msg,
	                                       strlen(msg));
	g_strlcpy(long_answer, b64, sizeof long_answer);
	FakeServer *s = START(xoauth2_long_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &o);
	pop3_client_free(c);
	g_autofree char *want = g_strdup_printf("CAPA\r\nAUTH XOAUTH2\r\n"
	                                        "%s\r\n", b64);
	fake_server_finish(s, want);
}
END_TEST

static const Step xoauth2_refused_steps[] = {
	GREETING, CAPA_OAUTH,
	{ oauth_line, "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2Nv"
	  "cGUiOiJtYWlsIn0=\r\n", NULL },
	{ "", "-ERR [AUTH] Authentication failed.\r\n", NULL },
};

/* The server's error report is answered with an empty line and said in
 * the refusal. */
START_TEST(test_xoauth2_refused)
{
	Opts o = { .scheme = "pop3s", .password = TOKEN,
	           .auth = SASL_AUTH_XOAUTH2 };
	static const char msg[] = "user=alice\001auth=Bearer " TOKEN
	                          "\001\001";
	g_autofree char *b64 = g_base64_encode((const guchar *)msg,
	                                       sizeof msg - 1);
	g_autoptr(GError) err = NULL;

	g_snprintf(oauth_line, sizeof oauth_line, "AUTH XOAUTH2 %s", b64);
	FakeServer *s = START(xoauth2_refused_steps, TRUE);
	ck_assert_ptr_null(client_connect(s, &o, &err));
	assert_error(err, MF_ERROR_AUTH, "authentication refused: [AUTH] "
	             "Authentication failed. (OAuth error: invalid or expired "
	             "token (status 401, scope mail))");
	ck_assert(strstr(err->message, TOKEN) == NULL);
	g_autofree char *want = g_strdup_printf("CAPA\r\n%s\r\n\r\n",
	                                        oauth_line);
	fake_server_finish(s, want);
}
END_TEST

/* A server without OAuth mechanisms: the token is never sent. */
START_TEST(test_no_oauth_offered)
{
	static const Step steps[] = { GREETING, CAPA_SASL };
	Opts o = { .scheme = "pop3s", .password = TOKEN,
	           .auth = SASL_AUTH_OAUTH2 };
	g_autoptr(GError) err = NULL;
	FakeServer *s = START(steps, TRUE);

	ck_assert_ptr_null(client_connect(s, &o, &err));
	assert_error(err, MF_ERROR_AUTH, "neither OAUTHBEARER nor XOAUTH2");
	fake_server_finish(s, "CAPA\r\n");
}
END_TEST

static const Step capa_only_steps[] = { GREETING, CAPA_USER };

START_TEST(test_bad_credentials)
{
	FakeServer *s = START(capa_only_steps, TRUE);
	Opts o = { .scheme = "pop3s", .user = "alice\r\nDELE 1" };
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &o, &err));
	assert_error(err, MF_ERROR_AUTH, "line break");
	fake_server_finish(s, "CAPA\r\n");
}
END_TEST

/* --- STLS --- */

static void
act_tls(FakeServer *s)
{
	fake_tls_accept(s);
}

static const Step stls_steps[] = {
	GREETING,
	{ "CAPA", "+OK\r\nSTLS\r\nUSER\r\n.\r\n", NULL },
	{ "STLS", "+OK begin TLS\r\n", act_tls },
	CAPA_SASL, AUTH_OK,
};

START_TEST(test_stls)
{
	FakeServer *s = START(stls_steps, FALSE);
	MfPop3Client *c = connect_ok(s, &pop3);

	ck_assert(!(pop3_client_caps(c) & POP3_CAP_STLS));
	ck_assert(pop3_client_caps(c) & POP3_CAP_SASL_PLAIN);
	pop3_client_free(c);
	fake_server_finish(s, "CAPA\r\nSTLS\r\nCAPA\r\n"
	                   "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
}
END_TEST

static const Step no_stls_steps[] = {
	GREETING,
	{ "CAPA", "+OK\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\n.\r\n", NULL },
};

/* pop3:// without STLS: refused before any credential is sent. */
START_TEST(test_stls_not_offered)
{
	FakeServer *s = START(no_stls_steps, FALSE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3, &err));
	assert_error(err, MF_ERROR_TLS, "does not offer STLS");
	fake_server_finish(s, "CAPA\r\n");
}
END_TEST

static const Step no_capa_steps[] = {
	GREETING,
	{ "CAPA", "-ERR unknown command\r\n", NULL },
};

START_TEST(test_no_capa_plaintext)
{
	FakeServer *s = START(no_capa_steps, FALSE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3, &err));
	assert_error(err, MF_ERROR_TLS, "does not offer STLS");
	fake_server_finish(s, "CAPA\r\n");
}
END_TEST

static const Step stls_inject_steps[] = {
	GREETING,
	{ "CAPA", "+OK\r\nSTLS\r\n.\r\n", NULL },
	{ "STLS", "+OK begin TLS\r\n+OK injected\r\n", act_tls },
};

/* Plaintext sent right after the STLS reply must not be taken as TLS. */
START_TEST(test_stls_injection)
{
	FakeServer *s = START(stls_inject_steps, FALSE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3, &err));
	ck_assert(err != NULL);
	ck_assert_ptr_nonnull(strstr(err->message, "injection"));
	fake_server_finish(s, "CAPA\r\nSTLS\r\n");
}
END_TEST

static const Step stls_err_steps[] = {
	GREETING,
	{ "CAPA", "+OK\r\nSTLS\r\n.\r\n", NULL },
	{ "STLS", "-ERR not now\r\n", NULL },
};

START_TEST(test_stls_refused)
{
	FakeServer *s = START(stls_err_steps, FALSE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3, &err));
	assert_error(err, MF_ERROR_TLS, "not now");
	fake_server_finish(s, "CAPA\r\nSTLS\r\n");
}
END_TEST

/* --- greeting --- */

static const Step imap_greeting_steps[] = {
	{ NULL, "* OK IMAP4rev1 ready\r\n", NULL },
};

START_TEST(test_greeting_imap)
{
	FakeServer *s = START(imap_greeting_steps, FALSE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "not a POP3 server");
	fake_server_finish(s, "");
}
END_TEST

static const Step err_greeting_steps[] = {
	{ NULL, "-ERR [SYS/TEMP] too many connections\r\n", NULL },
};

START_TEST(test_greeting_err)
{
	FakeServer *s = START(err_greeting_steps, TRUE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3s, &err));
	assert_error(err, MF_ERROR_CONNECTION, "too many connections");
	fake_server_finish(s, "");
}
END_TEST

static void
act_sleep(FakeServer *s)
{
	g_usleep(1500 * 1000);
}

static const Step silent_steps[] = {
	{ NULL, NULL, act_sleep },
};

START_TEST(test_greeting_silent)
{
	FakeServer *s = START(silent_steps, FALSE);
	Opts o = { .scheme = "pop3", .timeout_ms = 300 };
	g_autoptr(GError) err = NULL;
	gint64 t0 = g_get_monotonic_time();

	ck_assert_ptr_null(client_connect(s, &o, &err));
	assert_error(err, MF_ERROR_CONNECTION, "timed out");
	ck_assert(elapsed_s(t0) < 1.0);
	fake_server_finish(s, "");
}
END_TEST

/* --- UIDL --- */

static const Step no_uidl_steps[] = {
	GREETING,
	{ "CAPA", "+OK\r\nUSER\r\n.\r\n", NULL },
	{ "USER alice", "+OK\r\n", NULL },
	{ "PASS secret", "+OK\r\n", NULL },
	{ "CAPA", "+OK\r\nUSER\r\nTOP\r\n.\r\n", NULL },
};

/* CAPA without UIDL, before and after login: refused at connect. */
START_TEST(test_no_uidl_capa)
{
	FakeServer *s = START(no_uidl_steps, TRUE);
	g_autoptr(GError) err = NULL;

	ck_assert_ptr_null(client_connect(s, &pop3s, &err));
	assert_error(err, MF_ERROR_PROTOCOL,
	             "server does not support UIDL; refusing to download "
	             "without stable message ids (duplicates)");
	fake_server_finish(s, "CAPA\r\nUSER alice\r\nPASS secret\r\nCAPA\r\n");
}
END_TEST

static const Step late_uidl_steps[] = {
	GREETING,
	{ "CAPA", "+OK\r\nUSER\r\n.\r\n", NULL },
	{ "USER alice", "+OK\r\n", NULL },
	{ "PASS secret", "+OK\r\n", NULL },
	{ "CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n", NULL },
};

/* UIDL announced only after login is fine. */
START_TEST(test_uidl_after_login)
{
	FakeServer *s = START(late_uidl_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);

	ck_assert(pop3_client_caps(c) & POP3_CAP_UIDL);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step uidl_err_steps[] = {
	GREETING,
	{ "CAPA", "-ERR what?\r\n", NULL },
	{ "USER alice", "+OK\r\n", NULL },
	{ "PASS secret", "+OK\r\n", NULL },
	{ "UIDL", "-ERR unknown command\r\n", NULL },
};

/* No CAPA at all: the answer to UIDL decides. */
START_TEST(test_no_uidl_command)
{
	FakeServer *s = START(uidl_err_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	GArray *list = NULL;

	ck_assert_uint_eq(pop3_client_caps(c), 0);
	ck_assert(!pop3_client_uidl(c, &list, &err));
	ck_assert_ptr_null(list);
	assert_error(err, MF_ERROR_PROTOCOL,
	             "server does not support UIDL; refusing to download "
	             "without stable message ids (duplicates); UIDL got: "
	             "unknown command");
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_BROKEN);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

typedef struct {
	const char *uidl;
	const char *list;
	const char *error;
} UidlCase;

static const UidlCase uidl_cases[] = {
	{ "+OK\r\n1 a b\r\n.\r\n", NULL, "invalid unique-id for message 1" },
	{ "+OK\r\n1 caf\xc3\xa9\r\n.\r\n", NULL, "invalid unique-id" },
	{ "+OK\r\n1 0123456789012345678901234567890123456789012345678901234567"
	  "8901234567890\r\n.\r\n", NULL, "invalid unique-id" },
	{ "+OK\r\n1 x\r\n2 x\r\n.\r\n", NULL, "\"x\" to two messages" },
	{ "+OK\r\n1 x\r\n1 y\r\n.\r\n", NULL, "message 1 twice" },
	{ "+OK\r\n4294967296 x\r\n.\r\n", NULL, "bad message number" },
	{ "+OK\r\n1 x\r\n.\r\n", "+OK\r\n1 5\r\n2 7\r\n.\r\n",
	  "disagree about message 2" },
	{ "+OK\r\n1 x\r\n2 y\r\n.\r\n", "+OK\r\n1 5\r\n.\r\n",
	  "disagree about message 2" },
	{ "+OK\r\n1 x\r\n.\r\n", "+OK\r\n1 5\r\n1 5\r\n.\r\n",
	  "disagree about message 1" },
	{ "+OK\r\n1 x\r\n.\r\n", "+OK\r\n1 18446744073709551616\r\n.\r\n",
	  "bad size" },
	{ "+OK\r\n1 x\r\n.\r\n", "-ERR no\r\n", "LIST refused: no" },
};

static const UidlCase *uidl_case;

static void
act_uidl_case(FakeServer *s)
{
	g_autofree char *line = fake_read_line(s);

	if (line && strcmp(line, "UIDL") == 0 &&
	    fake_send_str(s, uidl_case->uidl) && uidl_case->list) {
		g_free(line);
		line = fake_read_line(s);
		if (line && strcmp(line, "LIST") == 0)
			fake_send_str(s, uidl_case->list);
	}
}

static const Step uidl_case_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK, { NULL, NULL, act_uidl_case },
};

START_TEST(test_uidl_bad)
{
	uidl_case = &uidl_cases[_i];
	FakeServer *s = START(uidl_case_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	GArray *list = NULL;

	ck_assert(!pop3_client_uidl(c, &list, &err));
	ck_assert_ptr_null(list);
	assert_error(err, MF_ERROR_PROTOCOL, uidl_case->error);
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_BROKEN);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* --- RETR --- */

static GString *big_wire;     /* what the server sends after +OK */
static GString *big_expected; /* what the sink must receive */

/* A ~300 KB message: short and long lines, dot-stuffed ones, a bare LF
 * line end, an empty line and a 100 KB line. */
static void
make_big_message(void)
{
	if (big_wire)
		return;
	big_wire = g_string_new(NULL);
	big_expected = g_string_new(NULL);
	for (guint i = 0; big_expected->len < 300 * 1024; i++) {
		g_autofree char *line = NULL;
		if (i == 100)
			line = g_strnfill(100 * 1024, 'L');
		else if (i % 7 == 0)
			line = g_strdup_printf(".line %u starts with a dot", i);
		else if (i % 11 == 0)
			line = g_strdup("");
		else
			line = g_strdup_printf("line %u %s", i,
			                       "abcdefghijklmnopqrstuvwxyz0123456789");
		if (line[0] == '.')
			g_string_append_c(big_wire, '.');
		g_string_append(big_wire, line);
		g_string_append(big_wire, i == 50 ? "\n" : "\r\n");
		g_string_append(big_expected, line);
		g_string_append(big_expected, "\r\n");
	}
	g_string_append(big_wire, ".\r\n");
}

static void
act_send_big(FakeServer *s)
{
	fake_send(s, big_wire->str, big_wire->len);
}

static const Step retr_big_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "RETR 3", "+OK message follows\r\n", act_send_big },
	{ "NOOP", "+OK\r\n", NULL },
};

START_TEST(test_retr_big)
{
	make_big_message();
	FakeServer *s = START(retr_big_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	guint64 got = 0;
	Sink k;

	sink_init(&k);
	ck_assert_msg(pop3_client_retr(c, 3, sink_write_cb, &k, &got, &err),
	              "%s", err ? err->message : "");
	ck_assert_uint_eq(k.data->len, big_expected->len);
	ck_assert(memcmp(k.data->data, big_expected->str, k.data->len) == 0);
	ck_assert_uint_eq(got, big_expected->len);
	/* Pieces of at most 64 KiB, except the 100 KB line on its own. */
	ck_assert_uint_eq(k.largest, 100 * 1024);
	ck_assert_uint_lt(k.pieces, 20);
	ck_assert(pop3_client_noop(c, &err));
	sink_clear(&k);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step retr_err_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "RETR 9", "-ERR no such message\r\n", NULL },
	{ "DELE 9", "-ERR no such message\r\n", NULL },
	{ "NOOP", "+OK\r\n", NULL },
};

/* -ERR on RETR and DELE concern one message: the client stays usable. */
START_TEST(test_retr_err)
{
	FakeServer *s = START(retr_err_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	guint64 got = 77;
	Sink k;

	sink_init(&k);
	ck_assert(!pop3_client_retr(c, 9, sink_write_cb, &k, &got, &err));
	assert_error(err, MF_ERROR_MESSAGE, "no such message");
	ck_assert_uint_eq(got, 77);
	ck_assert_uint_eq(k.pieces, 0);
	g_clear_error(&err);
	ck_assert(!pop3_client_dele(c, 9, &err));
	assert_error(err, MF_ERROR_MESSAGE, "no such message");
	g_clear_error(&err);
	ck_assert(pop3_client_noop(c, &err));
	sink_clear(&k);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step retr_sink_fail_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "RETR 3", "+OK\r\n", act_send_big },
};

START_TEST(test_retr_sink_fails)
{
	make_big_message();
	FakeServer *s = START(retr_sink_fail_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	Sink k;

	sink_init(&k);
	k.fail_after = 2;
	ck_assert(!pop3_client_retr(c, 3, sink_write_cb, &k, NULL, &err));
	assert_error(err, MF_ERROR_LOCAL, "disk full");
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_BROKEN);
	sink_clear(&k);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_retr_too_big)
{
	make_big_message();
	FakeServer *s = START(retr_sink_fail_steps, TRUE);
	Opts o = { .scheme = "pop3s", .message_max = 200 * 1024 };
	MfPop3Client *c = connect_ok(s, &o);
	g_autoptr(GError) err = NULL;
	Sink k;

	sink_init(&k);
	ck_assert(!pop3_client_retr(c, 3, sink_write_cb, &k, NULL, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "larger than the limit of 204800");
	ck_assert_uint_le(k.data->len, 200 * 1024);
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_BROKEN);
	sink_clear(&k);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* Sends message lines slowly, forever (until the client goes away). */
static void
act_trickle(FakeServer *s)
{
	for (guint i = 1; fake_send_str(s, "a line of text\r\n"); i++)
		g_usleep(50 * 1000);
}

static const Step trickle_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "RETR 1", "+OK\r\n", act_trickle },
};

/* A reply that never ends runs into the deadline, though every single
 * wait is shorter than the idle timeout. */
START_TEST(test_reply_never_ends)
{
	FakeServer *s = START(trickle_steps, TRUE);
	Opts o = { .scheme = "pop3s", .timeout_ms = 600 };
	MfPop3Client *c = connect_ok(s, &o);
	g_autoptr(GError) err = NULL;
	gint64 t0 = g_get_monotonic_time();
	Sink k;

	sink_init(&k);
	ck_assert(!pop3_client_retr(c, 1, sink_write_cb, &k, NULL, &err));
	assert_error(err, MF_ERROR_CONNECTION, "timed out");
	ck_assert(elapsed_s(t0) >= 0.5);
	ck_assert(elapsed_s(t0) < 1.5);
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_BROKEN);
	sink_clear(&k);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step uidl_trickle_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "UIDL", "+OK\r\n1 a\r\n", act_sleep },
};

/* A listing that stops coming: the idle timeout. */
START_TEST(test_listing_stalls)
{
	FakeServer *s = START(uidl_trickle_steps, TRUE);
	Opts o = { .scheme = "pop3s", .timeout_ms = 400 };
	MfPop3Client *c = connect_ok(s, &o);
	g_autoptr(GError) err = NULL;
	GArray *list = NULL;
	gint64 t0 = g_get_monotonic_time();

	ck_assert(!pop3_client_uidl(c, &list, &err));
	ck_assert_ptr_null(list);
	assert_error(err, MF_ERROR_CONNECTION, "timed out");
	ck_assert(elapsed_s(t0) < 1.2);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* Sends one line that never ends, as fast as the client takes it. */
static void
act_endless_line(FakeServer *s)
{
	char chunk[16384];

	memset(chunk, 'x', sizeof chunk);
	while (fake_send(s, chunk, sizeof chunk))
		;
}

static const Step endless_line_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "RETR 1", "+OK\r\n", act_endless_line },
};

START_TEST(test_endless_line)
{
	FakeServer *s = START(endless_line_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;
	Sink k;

	sink_init(&k);
	ck_assert(!pop3_client_retr(c, 1, sink_write_cb, &k, NULL, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "longer than 1048576 bytes");
	ck_assert_uint_eq(k.pieces, 0);
	sink_clear(&k);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step garbage_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "NOOP", "OK fine\r\n", NULL },
};

START_TEST(test_reply_garbage)
{
	FakeServer *s = START(garbage_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;

	ck_assert(!pop3_client_noop(c, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "neither +OK nor -ERR");
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_BROKEN);
	g_clear_error(&err);
	ck_assert(!pop3_client_noop(c, &err));
	assert_error(err, MF_ERROR_CONNECTION, "closed");
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* --- deletions --- */

static const Step dele_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "DELE 1", "+OK\r\n", NULL },
};

/* Freed without QUIT: the server never sees QUIT, so deletes nothing. */
START_TEST(test_free_without_quit)
{
	FakeServer *s = START(dele_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;

	ck_assert(pop3_client_dele(c, 1, &err));
	pop3_client_free(c);
	pop3_client_free(NULL);
	fake_server_finish(s, "CAPA\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	                   "DELE 1\r\n");
}
END_TEST

static const Step quit_err_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "DELE 1", "+OK\r\n", NULL },
	{ "QUIT", "-ERR some deleted messages not removed\r\n", NULL },
};

START_TEST(test_quit_err)
{
	FakeServer *s = START(quit_err_steps, TRUE);
	MfPop3Client *c = connect_ok(s, &pop3s);
	g_autoptr(GError) err = NULL;

	ck_assert(pop3_client_dele(c, 1, &err));
	ck_assert(!pop3_client_quit(c, &err));
	assert_error(err, MF_ERROR_MAILBOX, "not removed");
	ck_assert_int_eq(pop3_client_state(c), POP3_STATE_QUIT);
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step quit_eof_steps[] = {
	GREETING, CAPA_SASL, AUTH_OK,
	{ "QUIT", NULL, NULL },
};

START_TEST(test_quit_no_answer)
{
	FakeServer *s = START(quit_eof_steps, TRUE);
	Opts o = { .scheme = "pop3s", .timeout_ms = 300 };
	MfPop3Client *c = connect_ok(s, &o);
	g_autoptr(GError) err = NULL;

	ck_assert(!pop3_client_quit(c, &err));
	assert_error(err, MF_ERROR_CONNECTION, "may not have been committed");
	pop3_client_free(c);
	fake_server_finish(s, NULL);
}
END_TEST

static Suite *
pop3_client_suite(void)
{
	Suite *s = suite_create("pop3_client");
	TCase *t = tcase_create("session");

	tcase_set_timeout(t, 20);
	tcase_add_test(t, test_session);
	tcase_add_test(t, test_user_pass);
	tcase_add_test(t, test_pass_refused);
	tcase_add_test(t, test_sasl_refused);
	tcase_add_test(t, test_sasl_continuation);
	tcase_add_test(t, test_sasl_cancel);
	tcase_add_test(t, test_bad_credentials);
	tcase_add_test(t, test_oauthbearer);
	tcase_add_test(t, test_xoauth2_long_token);
	tcase_add_test(t, test_xoauth2_refused);
	tcase_add_test(t, test_no_oauth_offered);
	tcase_add_test(t, test_stls);
	tcase_add_test(t, test_stls_not_offered);
	tcase_add_test(t, test_no_capa_plaintext);
	tcase_add_test(t, test_stls_injection);
	tcase_add_test(t, test_stls_refused);
	tcase_add_test(t, test_greeting_imap);
	tcase_add_test(t, test_greeting_err);
	tcase_add_test(t, test_greeting_silent);
	tcase_add_test(t, test_no_uidl_capa);
	tcase_add_test(t, test_uidl_after_login);
	tcase_add_test(t, test_no_uidl_command);
	tcase_add_loop_test(t, test_uidl_bad, 0, G_N_ELEMENTS(uidl_cases));
	tcase_add_test(t, test_retr_big);
	tcase_add_test(t, test_retr_err);
	tcase_add_test(t, test_retr_sink_fails);
	tcase_add_test(t, test_retr_too_big);
	tcase_add_test(t, test_reply_never_ends);
	tcase_add_test(t, test_listing_stalls);
	tcase_add_test(t, test_endless_line);
	tcase_add_test(t, test_reply_garbage);
	tcase_add_test(t, test_free_without_quit);
	tcase_add_test(t, test_quit_err);
	tcase_add_test(t, test_quit_no_answer);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	fake_cert_init(&server_cert, "pop3.test", NULL, -3600, 86400);
	assert_error_secret = "secret";
	return fake_run_suite(pop3_client_suite());
}
