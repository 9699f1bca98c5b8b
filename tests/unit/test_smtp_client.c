/* test_smtp_client.c - net/smtp_client.c against a scripted fake SMTP
 * server in a thread on loopback: each step names the exact bytes the
 * client must send next and the reply to give.  TLS uses a self-signed
 * certificate made in memory and pinned by fingerprint. */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "fake_server.h"
#include "net/mf_error.h"
#include "net/smtp_client.h"

/* Made once in main(); the client pins it. */
static FakeCert test_cert;

/* --- the fake server --- */

typedef enum {
	ACT_NONE,
	ACT_TLS,     /* after the reply, the TLS handshake (STARTTLS) */
	ACT_HANGUP,  /* after the reply, close at once */
	ACT_SILENT,  /* after the reply, read and ignore until EOF */
	ACT_END,     /* the end of the script */
} Act;

typedef struct {
	const char *expect; /* exact bytes the client sends next, or NULL */
	const char *reply;  /* sent after them, or NULL */
	Act act;
} Step;

/* Reads exactly strlen(WANT) bytes and compares. */
static gboolean
script_expect(FakeServer *f, guint step, const char *want)
{
	size_t n = strlen(want), got = 0;
	g_autofree char *buf = g_malloc(n + 1);

	while (got < n) {
		gssize r = fake_recv(f, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (got == n && memcmp(buf, want, n) == 0)
		return TRUE;
	fake_fail(f, "step %u: expected\n[%s]\ngot\n[%s]", step, want, buf);
	return FALSE;
}

/* After the script: anything but EOF is an error. */
static void
script_expect_eof(FakeServer *f)
{
	char buf[512];
	gssize r;

	while ((r = fake_recv(f, buf, sizeof buf - 1)) > 0) {
		buf[r] = '\0';
		fake_fail(f, "unexpected after script: [%s]", buf);
	}
}

static gboolean
script_tls(FakeServer *f)
{
	if (fake_tls_accept(f))
		return TRUE;
	fake_fail(f, "TLS handshake failed");
	return FALSE;
}

/* Runs the steps; FALSE when the connection is to be closed at once. */
static gboolean
script_run(FakeServer *f)
{
	const Step *steps = f->script;

	for (guint i = 0; steps[i].act != ACT_END; i++) {
		const Step *st = &steps[i];
		if (st->expect && !script_expect(f, i, st->expect))
			return FALSE;
		if (st->reply)
			fake_send_str(f, st->reply);
		if (st->act == ACT_TLS && !script_tls(f))
			return FALSE;
		if (st->act == ACT_HANGUP)
			return FALSE;
		if (st->act == ACT_SILENT) {
			fake_drain(f);
			return FALSE;
		}
	}
	return TRUE;
}

/* The steps, then nothing more from the client up to EOF. */
static void
follow_script(FakeServer *f)
{
	if (script_run(f))
		script_expect_eof(f);
}

/* A server following STEPS; with TLS_AT_ONCE, smtps://. */
static FakeServer *
fake_start(const Step *steps, gboolean tls_at_once)
{
	return fake_server_start(follow_script, steps, 0, &test_cert,
	                         tls_at_once);
}

/* The password (or token) and auth fake_connect() gives; tests may
 * change them. */
static const char *fake_password = "pass";
static SaslAuth fake_auth = SASL_AUTH_PASSWORD;

static MfSmtpClient *
fake_connect(FakeServer *f, gboolean implicit, const char *user, int timeout_ms,
             GError **err)
{
	MfServerParams srv = {
		.url = { .scheme = implicit ? URL_SMTPS : URL_SMTP,
		         .host = (char *)"127.0.0.1", .port = f->port,
		         .implicit_tls = implicit },
		.tls_fingerprint = (char *)test_cert.fpr_plain,
		.user = (char *)user,
		.auth = fake_auth,
		.timeout_ms = timeout_ms,
	};
	MfSmtpClientParams p = {
		.server = &srv,
		.secret = fake_password,
		.ehlo_name = "client.example",
	};

	return smtp_client_connect(&p, err);
}

#define GREETING { NULL, "220 fake.example ESMTP\r\n", ACT_NONE }
#define EHLO_LINE "EHLO client.example\r\n"
#define EHLO_FULL { EHLO_LINE, "250-fake.example\r\n250-PIPELINING\r\n" \
	"250-SIZE 100000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250 AUTH LOGIN PLAIN\r\n", ACT_NONE }
/* base64 of "\0user\0pass" */
#define AUTH_PLAIN { "AUTH PLAIN AHVzZXIAcGFzcw==\r\n", \
	"235 2.7.0 Authentication successful\r\n", ACT_NONE }
#define QUIT { "QUIT\r\n", "221 2.0.0 Bye\r\n", ACT_NONE }
#define END { NULL, NULL, ACT_END }

static const char *const rcpts2[] = { "b@y.example", "c@z.example" };

/* --- sending --- */

#define BODY_IN "Subject: dots\r\n\r\n.hidden\r\nbare lf\n..two\r\n" \
	"lone cr\r.\r\nend \xc3\xa9"
#define BODY_OUT "Subject: dots\r\n\r\n..hidden\r\nbare lf\r\n...two\r\n" \
	"lone cr\r\n..\r\nend \xc3\xa9\r\n.\r\n"

static const Step script_pipelined[] = {
	GREETING, EHLO_FULL, AUTH_PLAIN,
	{ "MAIL FROM:<a@x.example> SIZE=58 BODY=8BITMIME\r\n"
	  "RCPT TO:<b@y.example>\r\nRCPT TO:<c@z.example>\r\nDATA\r\n",
	  "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n",
	  ACT_NONE },
	{ BODY_OUT, "250 2.0.0 Ok: queued as 4F2A\r\n", ACT_NONE },
	QUIT, END,
};

/* MAIL, RCPT and DATA go out in one write (the server reads them all
 * before it answers); SIZE= and BODY=8BITMIME; dot-stuffing, line ends. */
START_TEST(test_pipelined)
{
	FakeServer *f = fake_start(script_pipelined, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, "user", 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 2, SMTP_BODY_8BIT };
	g_autofree char *reply = NULL;

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	ck_assert_uint_eq(strlen(BODY_IN), 58);
	ck_assert_uint_eq(smtp_client_extensions(c),
	                  SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
	                  SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
	                  SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_AUTH_LOGIN |
	                  SMTP_EXT_AUTH_PLAIN);
	ck_assert_uint_eq(smtp_client_size_max(c), 100000);
	ck_assert(smtp_client_send_data(c, &env, BODY_IN, strlen(BODY_IN),
	                                &reply, &err));
	ck_assert_str_eq(reply, "250 2.0.0 Ok: queued as 4F2A");
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_READY);
	g_autofree char *desc = smtp_client_describe(c);
	ck_assert_msg(g_str_has_prefix(desc, "smtps://127.0.0.1:") &&
	              strstr(desc, "TLS"), "%s", desc);
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_lockstep[] = {
	GREETING,
	{ EHLO_LINE, "250-fake.example\r\n250 AUTH=LOGIN\r\n", ACT_NONE },
	{ "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n", ACT_NONE },
	{ "dXNlcg==\r\n", "334 UGFzc3dvcmQ6\r\n", ACT_NONE },
	{ "cGFzcw==\r\n", "235 ok\r\n", ACT_NONE },
	/* first message: one recipient refused for good */
	{ "MAIL FROM:<a@x.example>\r\n", "250 ok\r\n", ACT_NONE },
	{ "RCPT TO:<b@y.example>\r\n", "250 ok\r\n", ACT_NONE },
	{ "RCPT TO:<c@z.example>\r\n",
	  "550 5.1.1 <c@z.example>: Recipient address rejected\r\n", ACT_NONE },
	{ "RSET\r\n", "250 ok\r\n", ACT_NONE },
	/* second message on the same session */
	{ "MAIL FROM:<>\r\n", "250 ok\r\n", ACT_NONE },
	{ "RCPT TO:<b@y.example>\r\n", "250 ok\r\n", ACT_NONE },
	{ "DATA\r\n", "354 go\r\n", ACT_NONE },
	{ "hi\r\n.\r\n", "250 queued\r\n", ACT_NONE },
	QUIT, END,
};

/* Without PIPELINING: one command at a time, AUTH LOGIN; a refused
 * recipient fails the message with the server's words, and the session
 * goes on with the next message. */
START_TEST(test_lockstep_reuse)
{
	FakeServer *f = fake_start(script_lockstep, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, "user", 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 2, 0 };

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "recipient <c@z.example> refused: "
	             "550 5.1.1 <c@z.example>: Recipient address rejected");
	ck_assert(smtp_client_error_is_permanent(err));
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_READY);
	g_clear_error(&err);
	env.from = "";
	env.n_rcpts = 1;
	ck_assert(smtp_client_send_data(c, &env, "hi\r\n", 4, NULL, &err));
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_rcpt_550_354[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=2\r\nRCPT TO:<b@y.example>\r\n"
	  "RCPT TO:<c@z.example>\r\nDATA\r\n",
	  "250 ok\r\n550 5.1.1 <b@y.example>: Recipient address rejected\r\n"
	  "250 ok\r\n354 go\r\n", ACT_NONE },
	END,
};

/* With PIPELINING, a refused recipient while DATA was accepted: the client
 * hangs up rather than send anything, and the error is permanent. */
START_TEST(test_rcpt_550_after_354)
{
	FakeServer *f = fake_start(script_rcpt_550_354, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 2, 0 };

	ck_assert(c != NULL);
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "recipient <b@y.example> refused: "
	             "550 5.1.1 <b@y.example>: Recipient address rejected");
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_BROKEN);
	g_clear_error(&err);
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_CONNECTION, "not usable");
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_rcpt_451[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=2\r\nRCPT TO:<b@y.example>\r\n"
	  "RCPT TO:<c@z.example>\r\nDATA\r\n",
	  "250 ok\r\n451 4.3.0 try later\r\n550 5.1.1 no such user\r\n"
	  "554 5.5.1 no valid recipients\r\n", ACT_NONE },
	{ "RSET\r\n", "250 ok\r\n", ACT_NONE },
	{ "MAIL FROM:<a@x.example> SIZE=2\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "250 ok\r\n451 4.3.0 try later\r\n503 no rcpt\r\n",
	  ACT_NONE },
	{ "RSET\r\n", "250 ok\r\n", ACT_NONE },
	QUIT, END,
};

/* A 5xx recipient beats an earlier 4xx one; a 4xx alone is temporary.
 * Both times DATA was refused, so RSET keeps the session. */
START_TEST(test_rcpt_451)
{
	FakeServer *f = fake_start(script_rcpt_451, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 2, 0 };

	ck_assert(c != NULL);
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "recipient <c@z.example> refused: "
	             "550 5.1.1 no such user");
	g_clear_error(&err);
	env.n_rcpts = 1;
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_CONNECTION, "recipient <b@y.example> "
	             "deferred: 451 4.3.0 try later");
	ck_assert(!smtp_client_error_is_permanent(err));
	ck_assert(mf_error_is_transient(err));
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_READY);
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_mail_refused[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=2\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "553 5.7.1 sender not owned by user\r\n"
	  "503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n", ACT_NONE },
	{ "RSET\r\n", "250 ok\r\n", ACT_NONE },
	QUIT, END,
};

START_TEST(test_mail_refused)
{
	FakeServer *f = fake_start(script_mail_refused, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };

	ck_assert(c != NULL);
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "sender <a@x.example> refused: "
	             "553 5.7.1 sender not owned by user");
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_local_refusals[] = {
	GREETING,
	{ EHLO_LINE, "250-fake.example\r\n250-SIZE 10\r\n250 PIPELINING\r\n",
	  ACT_NONE },
	{ "MAIL FROM:<a@x.example> SIZE=10\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE },
	{ "0123456789\r\n.\r\n", "250 ok\r\n", ACT_NONE },
	QUIT, END,
};

/* Refused before MAIL FROM: over SIZE, 8-bit without 8BITMIME, UTF-8
 * addresses without SMTPUTF8, bad addresses, no recipients.  Exactly SIZE
 * bytes pass. */
START_TEST(test_local_refusals)
{
	FakeServer *f = fake_start(script_local_refusals, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };
	static const char *const utf8_rcpt[] = { "j\xc3\xb6rg@y.example" };
	static const char *const bad_rcpt[] = { "b@y.example>\r\nRSET" };

	ck_assert(c != NULL);
	ck_assert_uint_eq(smtp_client_size_max(c), 10);
	ck_assert(!smtp_client_send_data(c, &env, "0123456789A", 11, NULL,
	                                 &err));
	assert_error(err, MF_ERROR_MESSAGE, "message of 11 bytes is larger "
	             "than the server's limit of 10 bytes (SIZE)");
	g_clear_error(&err);
	env.flags = SMTP_BODY_8BIT;
	ck_assert(!smtp_client_send_data(c, &env, "\xff", 1, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "does not offer 8BITMIME");
	g_clear_error(&err);
	env.flags = 0;
	env.rcpts = utf8_rcpt;
	ck_assert(!smtp_client_send_data(c, &env, "x", 1, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "does not offer SMTPUTF8");
	g_clear_error(&err);
	env.rcpts = bad_rcpt;
	ck_assert(!smtp_client_send_data(c, &env, "x", 1, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "not allowed in an address");
	g_clear_error(&err);
	env.n_rcpts = 0;
	ck_assert(!smtp_client_send_data(c, &env, "x", 1, NULL, &err));
	assert_error(err, MF_ERROR_MESSAGE, "1 to 1000 recipients, not 0");
	g_clear_error(&err);
	env.rcpts = rcpts2;
	env.n_rcpts = 1;
	ck_assert(smtp_client_send_data(c, &env, "0123456789", 10, NULL,
	                                &err));
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_utf8[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<j\xc3\xb6rg@x.example> SIZE=3 BODY=8BITMIME SMTPUTF8\r\n"
	  "RCPT TO:<b@y.example>\r\nDATA\r\n",
	  "250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE },
	{ "\xc3\xb6\r\n.\r\n", "250 ok\r\n", ACT_NONE },
	QUIT, END,
};

START_TEST(test_smtputf8)
{
	FakeServer *f = fake_start(script_utf8, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "j\xc3\xb6rg@x.example", rcpts2, 1,
	                     SMTP_BODY_8BIT };

	ck_assert(c != NULL);
	ck_assert(smtp_client_send_data(c, &env, "\xc3\xb6\n", 3, NULL, &err));
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

/* --- data phase outcomes --- */

static const Step script_data_554[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=0\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE },
	{ ".\r\n", "554 5.7.1 spam detected\r\n", ACT_NONE },
	QUIT, END,
};

/* An empty message is legal; the final 5xx is permanent and needs no
 * RSET. */
START_TEST(test_data_554)
{
	FakeServer *f = fake_start(script_data_554, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };
	char *reply = NULL;

	ck_assert(c != NULL);
	ck_assert(!smtp_client_send_data(c, &env, "", 0, &reply, &err));
	ck_assert_ptr_null(reply);
	assert_error(err, MF_ERROR_MESSAGE, "message refused: 554 5.7.1 spam "
	             "detected");
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_READY);
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_data_silent[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=4\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE },
	{ "hi\r\n.\r\n", NULL, ACT_SILENT },
	END,
};

/* No answer after the data (the client waits for it far longer than its
 * timeout, as RFC 5321 asks; here the server gives up first): temporary,
 * the message says it may have been delivered, and the client knows the
 * outcome is unknown. */
START_TEST(test_data_no_reply)
{
	FakeServer *f = fake_start(script_data_silent, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 500, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };

	ck_assert(c != NULL);
	ck_assert(!smtp_client_send_data(c, &env, "hi\r\n", 4, NULL, &err));
	assert_error(err, MF_ERROR_CONNECTION, "may have been delivered");
	ck_assert(smtp_client_outcome_unknown(c));
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_BROKEN);
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_421[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=2\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "421 4.3.2 shutting down\r\n", ACT_HANGUP },
	END,
};

START_TEST(test_421)
{
	FakeServer *f = fake_start(script_421, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };

	ck_assert(c != NULL);
	ck_assert(!smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	assert_error(err, MF_ERROR_CONNECTION, "421 4.3.2 shutting down");
	ck_assert_int_eq(smtp_client_state(c), SMTP_STATE_BROKEN);
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_fd[] = {
	GREETING, EHLO_FULL,
	{ "MAIL FROM:<a@x.example> SIZE=200000\r\nRCPT TO:<b@y.example>\r\n"
	  "DATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE },
	{ NULL, NULL, ACT_NONE }, /* the body is filled in by the test */
	QUIT, END,
};

/* A body larger than the read chunk, streamed from a file; "SIZE" without
 * a number means no limit but still SIZE=. */
START_TEST(test_send_fd)
{
	Step steps[G_N_ELEMENTS(script_fd)];
	GString *in = g_string_new(NULL), *out = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	char path[] = "/tmp/test_smtp_client-XXXXXX";
	int fd = mkstemp(path);

	for (guint i = 0; in->len < 200000; i++)
		g_string_append_printf(in, ".line %06u\n", i);
	g_string_truncate(in, 200000);
	for (size_t i = 0, ls = 1; i < in->len; i++) {
		if (ls && in->str[i] == '.')
			g_string_append_c(out, '.');
		if (in->str[i] == '\n')
			g_string_append_c(out, '\r');
		g_string_append_c(out, in->str[i]);
		ls = in->str[i] == '\n';
	}
	g_string_append(out, in->str[in->len - 1] == '\n' ? ".\r\n"
	                                                 : "\r\n.\r\n");
	memcpy(steps, script_fd, sizeof steps);
	steps[1].reply = "250-x\r\n250-PIPELINING\r\n250 SIZE\r\n";
	steps[3].expect = out->str;
	steps[3].reply = "250 ok\r\n";
	ck_assert(fd >= 0);
	ck_assert(write(fd, in->str, in->len) == (ssize_t)in->len);
	unlink(path);

	FakeServer *f = fake_start(steps, TRUE);
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };
	ck_assert(c != NULL);
	ck_assert_uint_eq(smtp_client_size_max(c), 0);
	ck_assert_msg(smtp_client_send_fd(c, &env, fd, NULL, &err), "%s",
	              err ? err->message : "");
	smtp_client_free(c);
	fake_server_finish(f, NULL);
	close(fd);
	g_string_free(in, TRUE);
	g_string_free(out, TRUE);
}
END_TEST

/* --- session setup --- */

static const Step script_no_starttls[] = {
	GREETING,
	{ EHLO_LINE, "250-fake.example\r\n250 AUTH PLAIN\r\n", ACT_NONE },
	QUIT, END,
};

/* smtp:// without STARTTLS: no AUTH, no mail; the password never goes
 * out. */
START_TEST(test_no_starttls)
{
	FakeServer *f = fake_start(script_no_starttls, FALSE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, FALSE, "user", 3000, &err);

	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_TLS, "does not offer STARTTLS");
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_starttls[] = {
	GREETING,
	{ EHLO_LINE, "250-fake.example\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
	  ACT_NONE },
	{ "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n", ACT_TLS },
	{ EHLO_LINE, "250-fake.example\r\n250-PIPELINING\r\n"
	  "250 AUTH PLAIN\r\n", ACT_NONE },
	AUTH_PLAIN,
	{ "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n",
	  "250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE },
	{ "hi\r\n.\r\n", "250 ok\r\n", ACT_NONE },
	QUIT, END,
};

/* STARTTLS, then EHLO again: what was offered before TLS is forgotten. */
START_TEST(test_starttls)
{
	FakeServer *f = fake_start(script_starttls, FALSE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, FALSE, "user", 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	ck_assert_uint_eq(smtp_client_extensions(c),
	                  SMTP_EXT_PIPELINING | SMTP_EXT_AUTH_PLAIN);
	ck_assert(smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_helo[] = {
	GREETING,
	{ EHLO_LINE, "502 5.5.2 command not recognized\r\n", ACT_NONE },
	{ "HELO client.example\r\n", "250 fake.example\r\n", ACT_NONE },
	QUIT, END,
};

/* EHLO refused: HELO works, but then STARTTLS cannot (smtp://) and AUTH
 * cannot (smtps:// with a user) happen. */
START_TEST(test_helo_fallback)
{
	FakeServer *f = fake_start(script_helo, FALSE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, FALSE, NULL, 3000, &err);

	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_TLS, "does not offer STARTTLS");
	fake_server_finish(f, NULL);
	g_clear_error(&err);

	f = fake_start(script_helo, TRUE);
	c = fake_connect(f, TRUE, "user", 3000, &err);
	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_AUTH, "neither AUTH PLAIN nor AUTH LOGIN");
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_helo_send[] = {
	GREETING,
	{ EHLO_LINE, "500 what?\r\n", ACT_NONE },
	{ "HELO client.example\r\n", "250 fake.example\r\n", ACT_NONE },
	{ "MAIL FROM:<a@x.example>\r\n", "250 ok\r\n", ACT_NONE },
	{ "RCPT TO:<b@y.example>\r\n", "250 ok\r\n", ACT_NONE },
	{ "DATA\r\n", "354 go\r\n", ACT_NONE },
	{ "hi\r\n.\r\n", "250 ok\r\n", ACT_NONE },
	QUIT, END,
};

START_TEST(test_helo_send)
{
	FakeServer *f = fake_start(script_helo_send, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);
	SmtpEnvelope env = { "a@x.example", rcpts2, 1, 0 };

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	ck_assert_uint_eq(smtp_client_extensions(c), 0);
	ck_assert(smtp_client_send_data(c, &env, "hi", 2, NULL, &err));
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_auth_fail[] = {
	GREETING, EHLO_FULL,
	{ "AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
	  "535 5.7.8 Error: authentication failed\r\n", ACT_NONE },
	QUIT, END,
};

START_TEST(test_auth_fail)
{
	FakeServer *f = fake_start(script_auth_fail, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, "user", 3000, &err);

	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_AUTH, "authentication refused: 535 5.7.8 "
	             "Error: authentication failed");
	fake_server_finish(f, NULL);
}
END_TEST

/* base64 of "\0user\0" and 400 'p' */
static char auth_long_line[600];

static const Step script_auth_long[] = {
	GREETING, EHLO_FULL,
	{ "AUTH PLAIN\r\n", "334 \r\n", ACT_NONE },
	{ auth_long_line, "235 2.7.0 ok\r\n", ACT_NONE },
	QUIT, END,
};

/* Credentials too long for one AUTH line go after an empty challenge. */
START_TEST(test_auth_plain_long)
{
	char pw[401], raw[407];
	g_autoptr(GError) err = NULL;

	memset(pw, 'p', 400);
	pw[400] = '\0';
	memcpy(raw, "\0user\0", 6);
	memcpy(raw + 6, pw, 401);
	g_autofree char *b64 = g_base64_encode((const guchar *)raw, 406);
	g_snprintf(auth_long_line, sizeof auth_long_line, "%s\r\n", b64);
	fake_password = pw;
	FakeServer *f = fake_start(script_auth_long, TRUE);
	MfSmtpClient *c = fake_connect(f, TRUE, "user", 3000, &err);
	fake_password = "pass";
	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

/* --- OAuth2 --- */

#define TOKEN "at-9fQ_x.y-z"
#define EHLO_OAUTH { EHLO_LINE, "250-fake.example\r\n" \
	"250 AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER\r\n", ACT_NONE }

static char oauth_line[512];

static const Step script_oauthbearer[] = {
	GREETING, EHLO_OAUTH,
	{ oauth_line, "235 2.7.0 Accepted\r\n", ACT_NONE },
	QUIT, END,
};

/* auth = oauth2: OAUTHBEARER with host and port, on the AUTH line. */
START_TEST(test_auth_oauthbearer)
{
	g_autoptr(GError) err = NULL;
	FakeServer *f = fake_start(script_oauthbearer, TRUE);
	g_autofree char *msg = g_strdup_printf(
		"n,a=user,\001host=127.0.0.1\001port=%u\001auth=Bearer " TOKEN
		"\001\001", (unsigned)f->port);
	g_autofree char *b64 = g_base64_encode((const guchar *)msg,
	                                       strlen(msg));

	g_snprintf(oauth_line, sizeof oauth_line, "AUTH OAUTHBEARER %s\r\n",
	           b64);
	fake_password = TOKEN;
	fake_auth = SASL_AUTH_OAUTH2;
	MfSmtpClient *c = fake_connect(f, TRUE, "user", 3000, &err);
	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	smtp_client_free(c);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_xoauth2_refused[] = {
	GREETING, EHLO_OAUTH,
	{ oauth_line, "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2"
	  "NvcGUiOiJtYWlsIn0=\r\n", ACT_NONE },
	{ "\r\n", "535 5.7.8 Username and Password not accepted\r\n",
	  ACT_NONE },
	QUIT, END,
};

/* The error challenge is answered with an empty line; the refusal says
 * what it meant. */
START_TEST(test_auth_xoauth2_refused)
{
	static const char msg[] = "user=user\001auth=Bearer " TOKEN "\001\001";
	g_autofree char *b64 = g_base64_encode((const guchar *)msg,
	                                       sizeof msg - 1);
	g_autoptr(GError) err = NULL;

	g_snprintf(oauth_line, sizeof oauth_line, "AUTH XOAUTH2 %s\r\n", b64);
	fake_password = TOKEN;
	fake_auth = SASL_AUTH_XOAUTH2;
	FakeServer *f = fake_start(script_xoauth2_refused, TRUE);
	ck_assert_ptr_null(fake_connect(f, TRUE, "user", 3000, &err));
	assert_error(err, MF_ERROR_AUTH, "authentication refused: 535 5.7.8 "
	             "Username and Password not accepted (OAuth error: invalid "
	             "or expired token (status 401, scope mail))");
	ck_assert(strstr(err->message, TOKEN) == NULL);
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_no_oauth[] = {
	GREETING, EHLO_FULL, QUIT, END,
};

/* Without an OAuth mechanism the token is never sent. */
START_TEST(test_auth_no_oauth_offered)
{
	g_autoptr(GError) err = NULL;
	FakeServer *f = fake_start(script_no_oauth, TRUE);

	fake_password = TOKEN;
	fake_auth = SASL_AUTH_OAUTHBEARER;
	ck_assert_ptr_null(fake_connect(f, TRUE, "user", 3000, &err));
	assert_error(err, MF_ERROR_AUTH, "offers no OAUTHBEARER");
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_greeting_554[] = {
	{ NULL, "554 5.7.1 go away\r\n", ACT_NONE },
	END,
};

static const Step script_garbage[] = {
	{ NULL, "220 hi\r\n", ACT_NONE },
	{ EHLO_LINE, "hello there\r\n", ACT_NONE },
	END,
};

START_TEST(test_greeting_and_garbage)
{
	FakeServer *f = fake_start(script_greeting_554, TRUE);
	g_autoptr(GError) err = NULL;
	MfSmtpClient *c = fake_connect(f, TRUE, NULL, 3000, &err);

	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_CONNECTION, "server refused the session: "
	             "554 5.7.1 go away");
	fake_server_finish(f, NULL);
	g_clear_error(&err);

	f = fake_start(script_garbage, TRUE);
	c = fake_connect(f, TRUE, NULL, 3000, &err);
	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_PROTOCOL, "three-digit code");
	fake_server_finish(f, NULL);
}
END_TEST

static const Step script_silent[] = {
	{ NULL, NULL, ACT_SILENT },
	END,
};

/* A server that never greets: the connect times out. */
START_TEST(test_silent_server)
{
	FakeServer *f = fake_start(script_silent, FALSE);
	g_autoptr(GError) err = NULL;
	gint64 t0 = g_get_monotonic_time();
	MfSmtpClient *c = fake_connect(f, FALSE, NULL, 300, &err);

	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_CONNECTION, "timed out");
	ck_assert(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
	fake_server_finish(f, NULL);
}
END_TEST

START_TEST(test_null_and_classes)
{
	g_autoptr(GError) e = g_error_new(MF_ERROR, MF_ERROR_AUTH, "x");

	smtp_client_free(NULL);
	ck_assert(!smtp_client_error_is_permanent(NULL));
	ck_assert(!smtp_client_error_is_permanent(e));
}
END_TEST

static Suite *
smtp_client_suite(void)
{
	Suite *s = suite_create("smtp_client");
	TCase *send = tcase_create("send");
	TCase *setup = tcase_create("setup");

	tcase_set_timeout(send, 30);
	tcase_set_timeout(setup, 30);
	tcase_add_test(send, test_pipelined);
	tcase_add_test(send, test_lockstep_reuse);
	tcase_add_test(send, test_rcpt_550_after_354);
	tcase_add_test(send, test_rcpt_451);
	tcase_add_test(send, test_mail_refused);
	tcase_add_test(send, test_local_refusals);
	tcase_add_test(send, test_smtputf8);
	tcase_add_test(send, test_data_554);
	tcase_add_test(send, test_data_no_reply);
	tcase_add_test(send, test_421);
	tcase_add_test(send, test_send_fd);
	tcase_add_test(setup, test_no_starttls);
	tcase_add_test(setup, test_starttls);
	tcase_add_test(setup, test_helo_fallback);
	tcase_add_test(setup, test_helo_send);
	tcase_add_test(setup, test_auth_fail);
	tcase_add_test(setup, test_auth_plain_long);
	tcase_add_test(setup, test_auth_oauthbearer);
	tcase_add_test(setup, test_auth_xoauth2_refused);
	tcase_add_test(setup, test_auth_no_oauth_offered);
	tcase_add_test(setup, test_greeting_and_garbage);
	tcase_add_test(setup, test_silent_server);
	tcase_add_test(setup, test_null_and_classes);
	suite_add_tcase(s, send);
	suite_add_tcase(s, setup);
	return s;
}

int
main(void)
{
	fake_cert_init(&test_cert, "localhost", NULL, -3600, 86400);
	return fake_run_suite(smtp_client_suite());
}
