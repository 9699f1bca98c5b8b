/* test_backend_imap.c - the IMAP backend (cache/backend_imap.c over
 * net/imap_client.c) against a scripted fake server on loopback: what a
 * listing makes of replies the server got wrong (one message's harm stays
 * with that message, a UID listed twice is listed once), and what a body
 * fetch makes of bodies that do not come, come unasked or come twice. */
#include <check.h>
#include <string.h>

#include "cache/backend.h"
#include "fake_server.h"
#include "net/mf_error.h"
#include "net/url.h"

/* Made in main() before the test forks; the client pins it. */
static FakeCert server_cert;

/* --- the scripted server --- */

/* One step: wait for the client to send EXPECT (a line without CRLF;
 * NULL: do not wait), then send REPLY (if any). */
typedef struct {
	const char *expect;
	const char *reply;
} Step;

static void
run_script(FakeServer *s)
{
	const Step *steps = s->script;

	for (gsize i = 0; i < s->n_steps; i++) {
		const Step *st = &steps[i];
		if (st->expect) {
			g_autofree char *line = fake_read_line(s);
			if (!line || strcmp(line, st->expect) != 0) {
				fake_fail(s, "step %zu: got '%s', want '%s'", i,
				          line ? line : "(EOF)", st->expect);
				return;
			}
		}
		if (st->reply && !fake_send_str(s, st->reply))
			return;
	}
	fake_drain(s);
}

#define START(steps) fake_server_start(run_script, steps, \
	G_N_ELEMENTS(steps), &server_cert, TRUE)

#define GREETING { NULL, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] " \
	"fake\r\n" }
#define LOGIN { "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", \
	"A1 OK logged in\r\n" }
#define EXAMINE(tag) { tag " EXAMINE \"INBOX\"", "* 3 EXISTS\r\n" \
	"* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n" \
	tag " OK [READ-ONLY] done\r\n" }
#define META(tag) tag " UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"
#define DATE "INTERNALDATE \"01-Jan-2024 10:00:00 +0000\""
#define T0 G_GINT64_CONSTANT(1704103200) /* that date */

/* --- warnings: what the backend logs --- */

static GPtrArray *warnings;

static GLogWriterOutput
record_cb(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer ud)
{
	for (gsize i = 0; i < n; i++)
		if (strcmp(fields[i].key, "MESSAGE") == 0 &&
		    (level & G_LOG_LEVEL_WARNING))
			g_ptr_array_add(warnings, g_strdup(fields[i].value));
	return G_LOG_WRITER_HANDLED;
}

/* --- the client side --- */

static MfSession *
session_open(FakeServer *s)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *text = g_strdup_printf("imaps://127.0.0.1:%u",
	                                        (unsigned)s->port);
	MfBackendParams p = {
		.tls_fingerprint = server_cert.fpr_plain,
		.user = (char *)"alice",
		.password = (char *)"secret",
		.timeout_ms = 3000,
	};

	g_assert(url_parse(text, &p.url, NULL));
	MfSession *ses = backend_imap.connect(&p, &err);
	url_clear(&p.url);
	ck_assert_msg(ses != NULL, "connect: %s", err ? err->message : "?");
	return ses;
}

/* --- bodies --- */

typedef struct {
	GPtrArray *done;   /* "UID:bytes" per finished body */
	guint opened;
	gboolean fail_finish;
} Bodies;

static gpointer
body_open_cb(guint64 size, void *ud, GError **err)
{
	Bodies *b = ud;

	b->opened++;
	return g_string_new(NULL);
}

static gboolean
body_write_cb(gpointer sink, const char *data, size_t len, GError **err)
{
	g_string_append_len(sink, data, (gssize)len);
	return TRUE;
}

static gboolean
body_finish_cb(gpointer sink, guint32 uid, void *ud, GError **err)
{
	Bodies *b = ud;
	GString *str = sink;

	g_ptr_array_add(b->done, g_strdup_printf("%u:%s", uid, str->str));
	g_string_free(str, TRUE);
	if (b->fail_finish) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "disk full");
		return FALSE;
	}
	return TRUE;
}

static void
body_abort_cb(gpointer sink)
{
	g_string_free(sink, TRUE);
}

static const MfBodySink body_sink = {
	body_open_cb, body_write_cb, body_finish_cb, body_abort_cb,
};

static gboolean
fetch(MfSession *ses, const guint32 *uids, guint n, Bodies *b, GError **err)
{
	g_autofree MfRemoteMessage *msgs = g_new0(MfRemoteMessage, n);

	for (guint i = 0; i < n; i++)
		msgs[i].uid = uids[i];
	return backend_imap.fetch_bodies(ses, "INBOX", 42, msgs, n, &body_sink,
	                                 b, err);
}

static void
bodies_init(Bodies *b)
{
	memset(b, 0, sizeof *b);
	b->done = g_ptr_array_new_with_free_func(g_free);
}

#define BODY_CMD(tag, set) tag " UID FETCH " set " (UID BODY.PEEK[])"

/* A sink that fails in the middle of the replies leaves the session
 * unusable: the next command must not read the old command's reply. */
static const Step sink_fails_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ BODY_CMD("A3", "5:6"), "* 1 FETCH (UID 5 BODY[] {5}\r\nhello)\r\n"
	  "* 2 FETCH (UID 6 BODY[] {5}\r\nworld)\r\nA3 OK done\r\n" },
};

START_TEST(test_sink_failure_breaks_session)
{
	FakeServer *s = START(sink_fails_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	g_autoptr(GError) err2 = NULL;
	static const guint32 uids[] = { 5, 6 };
	Bodies b;

	bodies_init(&b);
	b.fail_finish = TRUE;
	ck_assert(!fetch(ses, uids, 2, &b, &err));
	assert_error(err, MF_ERROR_LOCAL, "disk full");
	ck_assert(!fetch(ses, uids, 2, &b, &err2));
	assert_error(err2, MF_ERROR_CONNECTION, "closed");
	ck_assert_uint_eq(b.done->len, 1);
	g_ptr_array_unref(b.done);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

static void
setup(void)
{
	warnings = g_ptr_array_new_with_free_func(g_free);
}

static void
teardown(void)
{
	g_ptr_array_unref(warnings);
}

static Suite *
backend_imap_suite(void)
{
	Suite *s = suite_create("backend_imap");
	TCase *t = tcase_create("imap");

	tcase_set_timeout(t, 20);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_sink_failure_breaks_session);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	fake_cert_init(&server_cert, "imap.test", NULL, -3600, 86400);
	assert_error_secret = "secret";
	g_log_set_writer_func(record_cb, NULL, NULL);
	return fake_run_suite(backend_imap_suite());
}
