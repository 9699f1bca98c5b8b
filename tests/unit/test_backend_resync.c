/* test_backend_resync.c - the IMAP backend's incremental listing
 * (cache/backend_imap_resync.c) against a scripted fake server: QRESYNC
 * with VANISHED and changed flags, a HIGHESTMODSEQ that goes back or a
 * new UIDVALIDITY (a full listing), CONDSTORE whose count disagrees
 * (ESEARCH names what is left), an unchanged folder (nothing more is
 * asked), a STATUS probe without CONDSTORE, and push: FETCH replies
 * without UID asked again by number after an EXPUNGE renumbered them. */
#include <check.h>
#include <string.h>

#include "cache/backend.h"
#include "fake_server.h"
#include "fake_session.h"
#include "net/mf_error.h"
#include "net/url.h"

static FakeCert server_cert;

typedef FakeStep Step;

#define START(steps) fake_server_start(fake_run_steps, steps, \
	G_N_ELEMENTS(steps), &server_cert, TRUE)
#define CAPS_QR "IMAP4rev1 AUTH=PLAIN SASL-IR IDLE ENABLE CONDSTORE QRESYNC"
#define GREETING(caps) { NULL, "* OK [CAPABILITY " caps "] fake\r\n" }
#define LOGIN { "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", \
	"A1 OK logged in\r\n" }
#define ENABLED(what) { "A2 ENABLE " what, "* ENABLED " what "\r\n" \
	"A2 OK enabled\r\n" }
#define DATE "INTERNALDATE \"01-Jan-2024 10:00:00 +0000\""
#define META(tag, set) tag " UID FETCH " set \
	" (UID FLAGS RFC822.SIZE INTERNALDATE)"
#define LOGOUT(tag) { tag " LOGOUT", "* BYE bye\r\n" tag " OK done\r\n" }

static MfSession *
session_open_ms(FakeServer *s, guint timeout_ms)
{
	return fake_session_open(s, &server_cert, timeout_ms);
}

static MfSession *
session_open(FakeServer *s)
{
	return session_open_ms(s, 3000);
}

/* The cache knows UIDs 1, 2, 3, 5 of UIDVALIDITY 42 at MODSEQ (0: none)
 * and UIDNEXT 9, all without flags. */
static MfRemoteMessage known_msgs[] = {
	{ 1, 10, 0, "", NULL }, { 2, 20, 0, "", NULL },
	{ 3, 30, 0, "", NULL }, { 5, 50, 0, "", NULL },
};

static MfFolderKnown
known(guint64 modseq)
{
	for (gsize i = 0; i < G_N_ELEMENTS(known_msgs); i++)
		known_msgs[i].flags = g_intern_string("");
	return (MfFolderKnown){
		.status = { 42, 9, 4, modseq },
		.msgs = known_msgs, .n = G_N_ELEMENTS(known_msgs),
	};
}

static void
resync_ok(MfSession *ses, const MfFolderKnown *k, MfFolderDelta *d)
{
	g_autoptr(GError) err = NULL;

	ck_assert_msg(backend_imap.resync_messages(ses, "INBOX", k, d, &err),
	              "resync: %s", err ? err->message : "?");
}

static const MfRemoteMessage *
at(GArray *a, guint i)
{
	return &g_array_index(a, MfRemoteMessage, i);
}

static guint32
gone_at(const MfFolderDelta *d, guint i)
{
	return g_array_index(d->gone, guint32, i);
}

static const Step qresync_steps[] = {
	GREETING(CAPS_QR), LOGIN, ENABLED("QRESYNC"),
	{ "A3 EXAMINE \"INBOX\" (QRESYNC (42 100 1:8))",
	  "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n* OK [UIDNEXT 10] x\r\n"
	  "* OK [HIGHESTMODSEQ 120] x\r\n* VANISHED (EARLIER) 2:3,7\r\n"
	  "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (110))\r\n"
	  "* 2 FETCH (UID 5 FLAGS () MODSEQ (111))\r\n"
	  "* 3 FETCH (UID 9 FLAGS (\\Flagged) MODSEQ (119))\r\n"
	  "A3 OK [READ-ONLY] done\r\n" },
	{ META("A4", "9"), "* 3 FETCH (UID 9 FLAGS (\\Flagged) RFC822.SIZE 90 "
	  DATE " MODSEQ (119))\r\nA4 OK done\r\n" },
	LOGOUT("A5"),
};

START_TEST(test_qresync)
{
	FakeServer *s = START(qresync_steps);
	MfSession *ses = session_open(s);
	MfFolderKnown k = known(100);
	MfFolderDelta d;

	resync_ok(ses, &k, &d);
	ck_assert(!d.full);
	ck_assert_uint_eq(d.gone->len, 2);
	ck_assert_uint_eq(gone_at(&d, 0), 2);
	ck_assert_uint_eq(gone_at(&d, 1), 3);
	ck_assert_uint_eq(d.changed->len, 2); /* 5: its flags are the same */
	ck_assert_uint_eq(at(d.changed, 0)->uid, 1);
	ck_assert_str_eq(at(d.changed, 0)->flags, "\\Seen");
	ck_assert_uint_eq(at(d.changed, 0)->size, 10);
	ck_assert_uint_eq(at(d.changed, 1)->uid, 9);
	ck_assert_uint_eq(at(d.changed, 1)->size, 90);
	ck_assert_uint_eq(d.status.highestmodseq, 120);
	ck_assert_uint_eq(d.status.uidnext, 10);
	folder_delta_clear(&d);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

#define FULL_AFTER(tag, tag2) \
	{ tag " EXAMINE \"INBOX\"", "* 1 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n" \
	  "* OK [UIDNEXT 9] x\r\n* OK [HIGHESTMODSEQ 50] x\r\n" \
	  tag " OK done\r\n" }, \
	{ META(tag2, "1:*"), "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 " DATE \
	  ")\r\n" tag2 " OK done\r\n" }

/* The server lost its state (restored from a backup): its HIGHESTMODSEQ
 * is below the one known, so nothing known can be trusted. */
static const Step backwards_steps[] = {
	GREETING(CAPS_QR), LOGIN, ENABLED("QRESYNC"),
	{ "A3 EXAMINE \"INBOX\" (QRESYNC (42 100 1:8))",
	  "* 1 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n* OK [UIDNEXT 9] x\r\n"
	  "* OK [HIGHESTMODSEQ 50] x\r\nA3 OK [READ-ONLY] done\r\n" },
	FULL_AFTER("A4", "A5"),
	LOGOUT("A6"),
};

START_TEST(test_modseq_backwards)
{
	FakeServer *s = START(backwards_steps);
	MfSession *ses = session_open(s);
	MfFolderKnown k = known(100);
	MfFolderDelta d;

	resync_ok(ses, &k, &d);
	ck_assert(d.full);
	ck_assert_uint_eq(d.changed->len, 1);
	ck_assert_uint_eq(d.status.highestmodseq, 50);
	folder_delta_clear(&d);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* CONDSTORE alone: the same for a new UIDVALIDITY. */
static const Step uidvalidity_steps[] = {
	GREETING("IMAP4rev1 AUTH=PLAIN SASL-IR ENABLE CONDSTORE"), LOGIN,
	ENABLED("CONDSTORE"),
	{ "A3 EXAMINE \"INBOX\"", "* 1 EXISTS\r\n* OK [UIDVALIDITY 43] x\r\n"
	  "* OK [UIDNEXT 2] x\r\n* OK [HIGHESTMODSEQ 500] x\r\nA3 OK done\r\n" },
	{ "A4 EXAMINE \"INBOX\"", "* 1 EXISTS\r\n* OK [UIDVALIDITY 43] x\r\n"
	  "* OK [UIDNEXT 2] x\r\n* OK [HIGHESTMODSEQ 500] x\r\nA4 OK done\r\n" },
	{ META("A5", "1:*"), "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 " DATE
	  ")\r\nA5 OK done\r\n" },
	LOGOUT("A6"),
};

START_TEST(test_uidvalidity_changed)
{
	FakeServer *s = START(uidvalidity_steps);
	MfSession *ses = session_open(s);
	MfFolderKnown k = known(100);
	MfFolderDelta d;

	resync_ok(ses, &k, &d);
	ck_assert(d.full);
	ck_assert_uint_eq(d.status.uidvalidity, 43);
	ck_assert_uint_eq(d.changed->len, 1);
	folder_delta_clear(&d);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

#define CAPS_CS "IMAP4rev1 AUTH=PLAIN SASL-IR ENABLE CONDSTORE ESEARCH"

/* Three messages where four were known and none reported gone (CONDSTORE
 * has no VANISHED): ESEARCH says which are left. */
static const Step condstore_steps[] = {
	GREETING(CAPS_CS), LOGIN, ENABLED("CONDSTORE"),
	{ "A3 EXAMINE \"INBOX\"", "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 9] x\r\n* OK [HIGHESTMODSEQ 120] x\r\nA3 OK done\r\n" },
	{ "A4 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 100)",
	  "* 3 FETCH (UID 5 FLAGS (\\Flagged) MODSEQ (110))\r\nA4 OK done\r\n" },
	{ "A5 UID SEARCH RETURN (ALL) UID 1:8",
	  "* ESEARCH (TAG \"A5\") UID ALL 1,3,5\r\nA5 OK done\r\n" },
	/* Nothing changed since: EXAMINE is all it takes. */
	{ "A6 EXAMINE \"INBOX\"", "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 9] x\r\n* OK [HIGHESTMODSEQ 120] x\r\nA6 OK done\r\n" },
	LOGOUT("A7"),
};

START_TEST(test_condstore)
{
	FakeServer *s = START(condstore_steps);
	MfSession *ses = session_open(s);
	MfFolderKnown k = known(100);
	MfFolderDelta d;

	resync_ok(ses, &k, &d);
	ck_assert(!d.full);
	ck_assert_uint_eq(d.gone->len, 1);
	ck_assert_uint_eq(gone_at(&d, 0), 2);
	ck_assert_uint_eq(d.changed->len, 1);
	ck_assert_uint_eq(at(d.changed, 0)->uid, 5);
	ck_assert_str_eq(at(d.changed, 0)->flags, "\\Flagged");
	folder_delta_clear(&d);
	/* Now the cache knows 1, 3, 5 at 120. */
	MfRemoteMessage now[] = { known_msgs[0], known_msgs[2], known_msgs[3] };
	MfFolderKnown k2 = { .status = { 42, 9, 3, 120 }, .msgs = now, .n = 3 };
	resync_ok(ses, &k2, &d);
	ck_assert(!d.full);
	ck_assert_uint_eq(d.changed->len, 0);
	ck_assert_uint_eq(d.gone->len, 0);
	folder_delta_clear(&d);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* Neither: STATUS says nothing changed; then that one came and one went
 * (UID SEARCH without ESEARCH names what is left). */
static const Step plain_steps[] = {
	GREETING("IMAP4rev1 AUTH=PLAIN SASL-IR"), LOGIN,
	{ "A2 STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY)",
	  "* STATUS \"INBOX\" (MESSAGES 4 UIDNEXT 9 UIDVALIDITY 42)\r\n"
	  "A2 OK done\r\n" },
	{ "A3 STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY)",
	  "* STATUS \"INBOX\" (MESSAGES 4 UIDNEXT 11 UIDVALIDITY 42)\r\n"
	  "A3 OK done\r\n" },
	{ "A4 EXAMINE \"INBOX\"", "* 4 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 11] x\r\nA4 OK done\r\n" },
	{ META("A5", "9:*"), "* 4 FETCH (UID 10 FLAGS () RFC822.SIZE 100 "
	  DATE ")\r\nA5 OK done\r\n" },
	{ "A6 UID SEARCH UID 1:10", "* SEARCH 1 2 5 10\r\nA6 OK done\r\n" },
	LOGOUT("A7"),
};

START_TEST(test_plain_probe)
{
	FakeServer *s = START(plain_steps);
	MfSession *ses = session_open(s);
	MfFolderKnown k = known(0);
	MfFolderDelta d;

	resync_ok(ses, &k, &d);
	ck_assert(!d.full);
	ck_assert_uint_eq(d.changed->len + d.gone->len, 0);
	folder_delta_clear(&d);
	resync_ok(ses, &k, &d);
	ck_assert(!d.full);
	ck_assert_uint_eq(d.gone->len, 1);
	ck_assert_uint_eq(gone_at(&d, 0), 3);
	ck_assert_uint_eq(d.changed->len, 1);
	ck_assert_uint_eq(at(d.changed, 0)->uid, 10);
	ck_assert_uint_eq(at(d.changed, 0)->size, 100);
	ck_assert_uint_eq(d.status.uidnext, 11);
	folder_delta_clear(&d);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* A server that says OK to UID SEARCH without an answer: not "every
 * message gone", a full listing. */
static const Step mute_search_steps[] = {
	GREETING("IMAP4rev1 AUTH=PLAIN SASL-IR"), LOGIN,
	{ "A2 STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY)",
	  "* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 42)\r\n"
	  "A2 OK done\r\n" },
	{ "A3 EXAMINE \"INBOX\"", "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 9] x\r\nA3 OK done\r\n" },
	{ "A4 UID SEARCH UID 1:8", "A4 OK done\r\n" },
	{ "A5 EXAMINE \"INBOX\"", "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 9] x\r\nA5 OK done\r\n" },
	{ META("A6", "1:*"), "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 " DATE
	  ")\r\n* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 20 " DATE ")\r\n"
	  "* 3 FETCH (UID 5 FLAGS () RFC822.SIZE 50 " DATE ")\r\nA6 OK done\r\n" },
	LOGOUT("A7"),
};

START_TEST(test_mute_search_lists_all)
{
	FakeServer *s = START(mute_search_steps);
	MfSession *ses = session_open(s);
	MfFolderKnown k = known(0);
	MfFolderDelta d;

	resync_ok(ses, &k, &d);
	ck_assert(d.full);
	ck_assert_uint_eq(d.changed->len, 3);
	folder_delta_clear(&d);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* --- a listing too long for one timeout --- */

#define BIG_N 300000u
#define BIG_CHUNK 7500u

/* Logs in, answers EXAMINE, then sends BIG_N listing replies in chunks
 * with a pause after each: 2 s in all, twice the client's timeout.  With
 * n_steps 1 it stops for good after a third of them (a stalled server). */
static void
big_listing(FakeServer *s)
{
	static const char *const answers[] = {
		"A1 OK logged in\r\n",
		"* 300000 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
		"* OK [UIDNEXT 300001] x\r\nA2 OK done\r\n",
	};

	if (!fake_send_str(s, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN "
	                   "SASL-IR] fake\r\n"))
		return;
	for (gsize i = 0; i < G_N_ELEMENTS(answers) + 1; i++) {
		g_autofree char *line = fake_read_line(s);
		if (!line || (i < G_N_ELEMENTS(answers) &&
		              !fake_send_str(s, answers[i])))
			return;
	}
	for (guint u = 1; u <= BIG_N; u += BIG_CHUNK) {
		g_autoptr(GString) chunk = g_string_new(NULL);
		for (guint v = u; v < u + BIG_CHUNK; v++)
			g_string_append_printf(chunk, "* %u FETCH (UID %u FLAGS () "
			                       "RFC822.SIZE 100 " DATE ")\r\n",
			                       v, v);
		if (!fake_send(s, chunk->str, chunk->len))
			return;
		if (s->n_steps == 1 && u > BIG_N / 3) {
			g_usleep(4 * G_USEC_PER_SEC);
			return;
		}
		g_usleep(50 * 1000);
	}
	fake_send_str(s, "A3 OK done\r\n");
	fake_drain(s);
}

static MfSession *
session_short_timeout(FakeServer *s)
{
	return session_open_ms(s, 1000);
}

START_TEST(test_long_listing_flows)
{
	FakeServer *s = fake_server_start(big_listing, NULL, 0, &server_cert,
	                                  TRUE);
	MfSession *ses = session_short_timeout(s);
	g_autoptr(GError) err = NULL;
	g_autoptr(GArray) msgs = NULL;
	MfFolderStatus st = { 0 };
	gint64 start = g_get_monotonic_time();

	ck_assert_msg(backend_imap.list_messages(ses, "INBOX", &st, &msgs,
	                                         &err),
	              "list: %s", err ? err->message : "?");
	ck_assert_uint_eq(msgs->len, BIG_N);
	ck_assert_double_gt(elapsed_s(start), 1.5); /* > the timeout */
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_long_listing_stalls)
{
	FakeServer *s = fake_server_start(big_listing, NULL, 1, &server_cert,
	                                  TRUE);
	MfSession *ses = session_short_timeout(s);
	g_autoptr(GError) err = NULL;
	GArray *msgs = NULL;
	MfFolderStatus st = { 0 };
	gint64 start = g_get_monotonic_time();

	ck_assert(!backend_imap.list_messages(ses, "INBOX", &st, &msgs, &err));
	/* Timed out while the server stalled: had it not, the server's
	 * return would have closed the connection ("closed" instead). */
	assert_error(err, MF_ERROR_CONNECTION, "timed out");
	ck_assert_double_gt(elapsed_s(start), 1.0);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* --- push --- */

typedef struct {
	GString *log;
	MfFolderStatus opened;
} Heard;

static void
heard_flags(guint32 uid, const char *flags, void *ud)
{
	Heard *h = ud;
	g_string_append_printf(h->log, "flags %u [%s];", uid, flags);
}

static void
heard_gone(guint32 first, guint32 last, void *ud)
{
	Heard *h = ud;
	g_string_append_printf(h->log, "gone %u:%u;", first, last);
}

static void
heard_opened(const MfFolderStatus *st, void *ud)
{
	Heard *h = ud;
	h->opened = *st;
}

/* No QRESYNC: FETCH replies carry message numbers; the EXPUNGE of number
 * 2 that follows makes number 3 number 2 and drops number 2. */
static const Step idle_plain_steps[] = {
	GREETING("IMAP4rev1 AUTH=PLAIN SASL-IR IDLE"), LOGIN,
	{ "A2 EXAMINE \"INBOX\"", "* 4 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 9] x\r\nA2 OK done\r\n" },
	{ "A3 IDLE", "+ idling\r\n* 3 FETCH (FLAGS (\\Seen))\r\n" },
	{ "DONE", "* 2 FETCH (FLAGS (\\Deleted))\r\n* 2 EXPUNGE\r\n"
	  "A3 OK done\r\n" },
	{ "A4 FETCH 2 (UID FLAGS)", "* 2 FETCH (UID 3 FLAGS (\\Seen))\r\n"
	  "A4 OK done\r\n" },
	LOGOUT("A5"),
};

START_TEST(test_idle_plain)
{
	FakeServer *s = START(idle_plain_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GString) log = g_string_new(NULL);
	Heard h = { log, { 0 } };
	MfChangeSink sink = { heard_flags, heard_gone, heard_opened, &h };
	g_autoptr(GError) err = NULL;
	gboolean relist = FALSE;

	ck_assert_msg(backend_imap.idle_changes(ses, "INBOX", 60, &sink,
	                                        &relist, &err),
	              "idle: %s", err ? err->message : "?");
	ck_assert(relist); /* the expunge is not named by UID */
	ck_assert_uint_eq(h.opened.uidnext, 9);
	ck_assert_uint_eq(h.opened.count, 4);
	ck_assert_str_eq(log->str, "flags 3 [\\Seen];");
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

/* QRESYNC: flags and VANISHED by UID, applied without a listing. */
static const Step idle_qresync_steps[] = {
	GREETING(CAPS_QR), LOGIN, ENABLED("QRESYNC"),
	{ "A3 EXAMINE \"INBOX\"", "* 4 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
	  "* OK [UIDNEXT 9] x\r\n* OK [HIGHESTMODSEQ 7] x\r\nA3 OK done\r\n" },
	{ "A4 IDLE", "+ idling\r\n* 3 FETCH (UID 5 MODSEQ (8) FLAGS "
	  "(\\Seen \\Recent))\r\n" },
	{ "DONE", "* VANISHED 1:2\r\nA4 OK done\r\n" },
	LOGOUT("A5"),
};

START_TEST(test_idle_qresync)
{
	FakeServer *s = START(idle_qresync_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GString) log = g_string_new(NULL);
	Heard h = { log, { 0 } };
	MfChangeSink sink = { heard_flags, heard_gone, heard_opened, &h };
	g_autoptr(GError) err = NULL;
	gboolean relist = TRUE;

	ck_assert_msg(backend_imap.idle_changes(ses, "INBOX", 60, &sink,
	                                        &relist, &err),
	              "idle: %s", err ? err->message : "?");
	ck_assert(!relist);
	ck_assert_uint_eq(h.opened.highestmodseq, 7);
	ck_assert_str_eq(log->str, "flags 5 [\\Seen];gone 1:2;");
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

static Suite *
backend_resync_suite(void)
{
	Suite *s = suite_create("backend_resync");
	TCase *t = tcase_create("resync");

	tcase_set_timeout(t, 20);
	tcase_add_test(t, test_qresync);
	tcase_add_test(t, test_modseq_backwards);
	tcase_add_test(t, test_uidvalidity_changed);
	tcase_add_test(t, test_condstore);
	tcase_add_test(t, test_plain_probe);
	tcase_add_test(t, test_mute_search_lists_all);
	tcase_add_test(t, test_idle_plain);
	tcase_add_test(t, test_idle_qresync);
	tcase_add_test(t, test_long_listing_flows);
	tcase_add_test(t, test_long_listing_stalls);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	fake_cert_init(&server_cert, "imap.test", NULL, -3600, 86400);
	return fake_run_suite(backend_resync_suite());
}
