/* test_backend_imap.c - the IMAP backend (cache/backend_imap.c over
 * net/imap_client.c) against a scripted fake server on loopback: what a
 * listing makes of replies the server got wrong (one message's harm stays
 * with that message, a UID listed twice is listed once), and what a body
 * fetch makes of bodies that do not come, come unasked or come twice. */
#include <check.h>
#include <string.h>

#include "cache/backend.h"
#include "fake_server.h"
#include "fake_session.h"
#include "net/mf_error.h"
#include "net/url.h"

/* Made in main() before the test forks; the client pins it. */
static FakeCert server_cert;

/* --- the scripted server --- */

/* One step: wait for the client to send EXPECT (a line without CRLF;
 * NULL: do not wait), then send REPLY (if any). */
typedef FakeStep Step;

#define START(steps) fake_server_start(fake_run_steps, steps, \
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

/* The number of warnings holding every one of the NULL-ended words. */
static guint
warned(const char *word, ...)
{
	guint n = 0;

	for (guint i = 0; i < warnings->len; i++) {
		const char *w = warnings->pdata[i];
		gboolean all = TRUE;
		va_list ap;

		va_start(ap, word);
		for (const char *x = word; x && all; x = va_arg(ap, const char *))
			all = strstr(w, x) != NULL;
		va_end(ap);
		n += all;
	}
	return n;
}

/* --- the client side --- */

static MfSession *
session_open(FakeServer *s)
{
	return fake_session_open(s, &server_cert, 3000);
}

static GArray *
list_ok(MfSession *ses)
{
	g_autoptr(GError) err = NULL;
	MfFolderStatus st = { 0 };
	GArray *msgs = NULL;

	ck_assert_msg(backend_imap.list_messages(ses, "INBOX", &st, &msgs, &err),
	              "list: %s", err ? err->message : "?");
	ck_assert_uint_eq(st.uidvalidity, 42);
	ck_assert_uint_eq(st.count, msgs->len);
	return msgs;
}

static const MfRemoteMessage *
msg_at(GArray *msgs, guint i)
{
	return &g_array_index(msgs, MfRemoteMessage, i);
}

/* --- listings --- */

static const Step bad_items_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ META("A3"),
	  "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10 " DATE ")\r\n"
	  /* a flag with a bad escape, and a flag that is a string */
	  "* 2 FETCH (UID 2 FLAGS (\\Seen \"\\q\" $ok \"a b\") RFC822.SIZE 20 "
	  DATE ")\r\n"
	  "* 3 FETCH (UID 3 FLAGS () RFC822.SIZE 30 INTERNALDATE "
	  "\"32-Foo-2024 99:00:00 +0000\")\r\n"
	  "* 4 FETCH (UID x4 FLAGS () RFC822.SIZE 40 " DATE ")\r\n"
	  "* 5 FETCH (UID 5 FLAGS () RFC822.SIZE big " DATE ")\r\n"
	  "* 6 FETCH (UID 6 FLAGS (a\x01" "b \\Answered) RFC822.SIZE 60 "
	  "INTERNALDATE NIL)\r\n"
	  "* 7 FETCH (UID 7 FLAGS (\\Seen))\r\n" /* unsolicited: ignored */
	  "* 8 FETCH (UID 8 RFC822.SIZE 80 " DATE ")\r\n"
	  "A3 OK done\r\n" },
	/* The session is still good for the next listing. */
	EXAMINE("A4"),
	{ META("A5"), "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 " DATE ")\r\n"
	  "A5 OK done\r\n" },
	{ "A6 LOGOUT", "* BYE bye\r\nA6 OK done\r\n" },
};

START_TEST(test_list_bad_items)
{
	FakeServer *s = START(bad_items_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GArray) msgs = list_ok(ses);

	ck_assert_uint_eq(msgs->len, 5);
	ck_assert_uint_eq(msg_at(msgs, 0)->uid, 1);
	ck_assert_str_eq(msg_at(msgs, 0)->flags, "\\Seen");
	ck_assert_int_eq(msg_at(msgs, 0)->date, T0);
	ck_assert_uint_eq(msg_at(msgs, 1)->uid, 2);
	ck_assert_str_eq(msg_at(msgs, 1)->flags, "\\Seen $ok");
	ck_assert_uint_eq(msg_at(msgs, 1)->size, 20);
	ck_assert_uint_eq(msg_at(msgs, 2)->uid, 3);
	ck_assert_int_eq(msg_at(msgs, 2)->date, 0);
	ck_assert_uint_eq(msg_at(msgs, 2)->size, 30);
	ck_assert_uint_eq(msg_at(msgs, 3)->uid, 6);
	ck_assert_str_eq(msg_at(msgs, 3)->flags, "\\Answered");
	ck_assert_int_eq(msg_at(msgs, 3)->date, 0);
	ck_assert_uint_eq(msg_at(msgs, 4)->uid, 8);
	ck_assert_str_eq(msg_at(msgs, 4)->flags, "");
	/* One line per message the server got wrong, naming it. */
	ck_assert_uint_eq(warned("INBOX", "UID 2", "flag left out", "\\\\q",
	                         NULL), 1);
	ck_assert_uint_eq(warned("UID 2", "a b", NULL), 1);
	ck_assert_uint_eq(warned("UID 3", "INTERNALDATE", "32-Foo", NULL), 1);
	ck_assert_uint_eq(warned("not listed", "number 4", "x4", NULL), 1);
	ck_assert_uint_eq(warned("not listed", "RFC822.SIZE", "big", NULL), 1);
	ck_assert_uint_eq(warned("UID 6", "flag left out", "\\001", NULL), 1);
	ck_assert_uint_eq(warned("UID 6", "INTERNALDATE", "NIL", NULL), 1);
	ck_assert_uint_eq(warned("UID 7", NULL), 0);
	ck_assert_uint_eq(warnings->len, 5); /* UID 6: one line */

	g_autoptr(GArray) again = list_ok(ses);
	ck_assert_uint_eq(again->len, 1);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

static const Step twice_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ META("A3"),
	  "* 1 FETCH (UID 4 FLAGS () RFC822.SIZE 40 " DATE ")\r\n"
	  "* 2 FETCH (UID 7 FLAGS () RFC822.SIZE 70 " DATE ")\r\n"
	  "* 3 FETCH (UID 4 FLAGS (\\Seen) RFC822.SIZE 40 " DATE ")\r\n"
	  "* 4 FETCH (UID 2 FLAGS () RFC822.SIZE 20 " DATE ")\r\n"
	  "* 5 FETCH (UID 4 FLAGS (\\Flagged) RFC822.SIZE 40 " DATE ")\r\n"
	  "* 6 FETCH (UID 7 FLAGS () RFC822.SIZE 70 " DATE ")\r\n"
	  "A3 OK done\r\n" },
	{ "A4 LOGOUT", "* BYE bye\r\nA4 OK done\r\n" },
};

START_TEST(test_list_uid_twice)
{
	FakeServer *s = START(twice_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GArray) msgs = list_ok(ses);

	ck_assert_uint_eq(msgs->len, 3);
	ck_assert_uint_eq(msg_at(msgs, 0)->uid, 2);
	ck_assert_uint_eq(msg_at(msgs, 1)->uid, 4);
	ck_assert_str_eq(msg_at(msgs, 1)->flags, "\\Flagged"); /* the last */
	ck_assert_uint_eq(msg_at(msgs, 2)->uid, 7);
	ck_assert_uint_eq(warned("UID 4", "more than once", NULL), 1);
	ck_assert_uint_eq(warned("UID 7", "more than once", NULL), 1);
	ck_assert_uint_eq(warnings->len, 2);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* Damage is confined to listings: elsewhere it fails as it always did. */
static const Step damaged_status_steps[] = {
	GREETING, LOGIN,
	{ "A2 EXAMINE \"INBOX\"", "* OK [UIDVALIDITY 4\x01" "2] ok\r\n"
	  "A2 OK done\r\n" },
};

START_TEST(test_damage_elsewhere_refused)
{
	FakeServer *s = START(damaged_status_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	MfFolderStatus st;
	GArray *msgs = NULL;

	ck_assert(!backend_imap.list_messages(ses, "INBOX", &st, &msgs, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "control byte 0x01");
	ck_assert_ptr_null(msgs);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

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

/* Answered OK without the body, twice; the server still has it. */
static const Step no_body_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ BODY_CMD("A3", "5:6"), "* 1 FETCH (UID 5 BODY[] {5}\r\nhello)\r\n"
	  "* 2 FETCH (UID 6 FLAGS (\\Seen))\r\nA3 OK done\r\n" },
	{ "A4 NOOP", "A4 OK done\r\n" },
	{ BODY_CMD("A5", "6"), "* 2 FETCH (UID 6 BODY[] NIL)\r\n"
	  "A5 OK done\r\n" },
	{ "A6 UID FETCH 6 (UID)", "* 2 FETCH (UID 6)\r\nA6 OK done\r\n" },
	{ "A7 LOGOUT", "* BYE bye\r\nA7 OK done\r\n" },
};

START_TEST(test_fetch_ok_without_body)
{
	FakeServer *s = START(no_body_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	static const guint32 uids[] = { 5, 6 };
	Bodies b;

	bodies_init(&b);
	ck_assert(!fetch(ses, uids, 2, &b, &err));
	assert_error(err, MF_ERROR_MESSAGE, "did not send the body of UID 6");
	/* What came was handed on. */
	ck_assert_uint_eq(b.done->len, 1);
	ck_assert_str_eq(b.done->pdata[0], "5:hello");
	g_ptr_array_unref(b.done);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* Gone from the server: skipped, as the contract says. */
static const Step gone_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ BODY_CMD("A3", "6"), "A3 OK done\r\n" },
	{ "A4 NOOP", "A4 OK done\r\n" },
	{ BODY_CMD("A5", "6"), "A5 OK done\r\n" },
	{ "A6 UID FETCH 6 (UID)", "A6 OK done\r\n" },
	{ "A7 LOGOUT", "* BYE bye\r\nA7 OK done\r\n" },
};

START_TEST(test_fetch_gone)
{
	FakeServer *s = START(gone_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	static const guint32 uids[] = { 6 };
	Bodies b;

	bodies_init(&b);
	ck_assert_msg(fetch(ses, uids, 1, &b, &err), "%s",
	              err ? err->message : "");
	ck_assert_uint_eq(b.done->len, 0);
	g_ptr_array_unref(b.done);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* A body not asked for and a body sent twice are dropped. */
static const Step unasked_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ BODY_CMD("A3", "5"), "* 1 FETCH (UID 9 BODY[] {3}\r\nbad)\r\n"
	  "* 2 FETCH (UID 5 BODY[] {5}\r\nhello)\r\n"
	  "* 2 FETCH (UID 5 BODY[] {5}\r\nagain)\r\nA3 OK done\r\n" },
	{ "A4 LOGOUT", "* BYE bye\r\nA4 OK done\r\n" },
};

START_TEST(test_fetch_unasked_and_twice)
{
	FakeServer *s = START(unasked_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	static const guint32 uids[] = { 5 };
	Bodies b;

	bodies_init(&b);
	ck_assert_msg(fetch(ses, uids, 1, &b, &err), "%s",
	              err ? err->message : "");
	ck_assert_uint_eq(b.opened, 3);
	ck_assert_uint_eq(b.done->len, 1);
	ck_assert_str_eq(b.done->pdata[0], "5:hello");
	g_ptr_array_unref(b.done);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

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
	tcase_add_test(t, test_list_bad_items);
	tcase_add_test(t, test_list_uid_twice);
	tcase_add_test(t, test_damage_elsewhere_refused);
	tcase_add_test(t, test_fetch_ok_without_body);
	tcase_add_test(t, test_fetch_gone);
	tcase_add_test(t, test_fetch_unasked_and_twice);
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
