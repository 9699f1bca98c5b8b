/* test_imap_view.c - the backend slots of the views of mail
 * (cache/backend_imap_view.c over net/imap_view.c) against a scripted
 * fake server on loopback: header fields in bulk (inline and streamed
 * literals, NIL, a block over 64 KiB cut, unsolicited FETCH data and
 * items not asked for ignored) and UID SEARCH (with CHARSET, a refusal). */
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
#define GREETING { NULL, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] " \
	"fake\r\n" }
#define LOGIN { "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", \
	"A1 OK logged in\r\n" }
#define EXAMINE(tag) { tag " EXAMINE \"INBOX\"", "* 3 EXISTS\r\n" \
	"* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n" \
	tag " OK [READ-ONLY] done\r\n" }
#define FIELDS "FROM SUBJECT"
#define HEADERS(tag, set) tag " UID FETCH " set \
	" (UID BODY.PEEK[HEADER.FIELDS (" FIELDS ")])"

static MfSession *
session_open(FakeServer *s)
{
	return fake_session_open(s, &server_cert, 3000);
}

/* "UID:LEN:first 20 bytes" of each header block. */
static void
header_cb(guint32 uid, const char *hdr, size_t len, void *ud)
{
	g_ptr_array_add(ud, g_strdup_printf("%u:%zu:%.*s", uid, len,
	                                    (int)MIN(len, 20), hdr));
}

static gboolean
fetch_headers(MfSession *ses, const guint32 *uids, guint n, GPtrArray *got,
              GError **err)
{
	g_autofree MfRemoteMessage *msgs = g_new0(MfRemoteMessage, n);

	for (guint i = 0; i < n; i++)
		msgs[i].uid = uids[i];
	return backend_imap.fetch_headers(ses, "INBOX", 42, msgs, n, FIELDS,
	                                  header_cb, got, err);
}

static char big_reply[128 * 1024];
static Step headers_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ HEADERS("A3", "1:3,5"), NULL /* big_reply */ },
	{ "A4 LOGOUT", "* BYE bye\r\nA4 OK done\r\n" },
};

START_TEST(test_headers)
{
	GString *r = g_string_new(NULL);
	GString *big = g_string_new("Subject: ");

	while (big->len < 70000)
		g_string_append(big, "long ");
	g_string_append(big, "\r\n\r\n");
	g_string_append(r, "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (FROM "
	                "SUBJECT)] {14}\r\nSubject: one\r\n)\r\n");
	g_string_append(r, "* 2 FETCH (FLAGS (\\Seen))\r\n"); /* unsolicited */
	g_string_append_printf(r, "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (FROM "
	                       "SUBJECT)] {%zu}\r\n%s)\r\n", big->len,
	                       big->str);
	g_string_append(r, "* 3 FETCH (UID 3 BODY[HEADER.FIELDS (FROM "
	                "SUBJECT)] NIL)\r\n");
	g_string_append(r, "* 4 FETCH (UID 5 BODY[HEADER.FIELDS (FROM "
	                "SUBJECT)] \"From: q\")\r\n");
	g_string_append(r, "A3 OK done\r\n");
	ck_assert_uint_lt(r->len, sizeof big_reply);
	memcpy(big_reply, r->str, r->len + 1);
	headers_steps[3].reply = big_reply;

	FakeServer *s = START(headers_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(g_free);
	static const guint32 uids[] = { 1, 2, 3, 5 };

	ck_assert_msg(fetch_headers(ses, uids, 4, got, &err), "%s",
	              err ? err->message : "");
	ck_assert_uint_eq(got->len, 4);
	ck_assert_str_eq(got->pdata[0], "1:14:Subject: one\r\n");
	ck_assert_str_eq(got->pdata[1], "2:65536:Subject: long long l");
	ck_assert_str_eq(got->pdata[2], "3:0:");
	ck_assert_str_eq(got->pdata[3], "5:7:From: q");
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
	g_string_free(r, TRUE);
	g_string_free(big, TRUE);
}
END_TEST

static const Step search_steps[] = {
	GREETING, LOGIN, EXAMINE("A2"),
	{ "A3 UID SEARCH FROM \"alice\" UNSEEN",
	  "* SEARCH 7 3 5\r\nA3 OK done\r\n" },
	{ "A4 UID SEARCH CHARSET UTF-8 TEXT \"caf\xc3\xa9\"",
	  "* SEARCH\r\nA4 OK done\r\n" },
	{ "A5 UID SEARCH BADKEY", "A5 NO [BADCHARSET] no\r\n" },
	{ "A6 LOGOUT", "* BYE bye\r\nA6 OK done\r\n" },
};

START_TEST(test_search)
{
	FakeServer *s = START(search_steps);
	MfSession *ses = session_open(s);
	g_autoptr(GError) err = NULL;
	GArray *uids = NULL;

	ck_assert(backend_imap.search(ses, "INBOX", 42,
	                              "FROM \"alice\" UNSEEN", FALSE, &uids,
	                              &err));
	ck_assert_uint_eq(uids->len, 3);
	ck_assert_uint_eq(g_array_index(uids, guint32, 0), 7);
	g_array_unref(uids);
	ck_assert(backend_imap.search(ses, "INBOX", 42, "TEXT \"caf\xc3\xa9\"",
	                              TRUE, &uids, &err));
	ck_assert_uint_eq(uids->len, 0);
	g_array_unref(uids);
	uids = NULL;
	ck_assert(!backend_imap.search(ses, "INBOX", 42, "BADKEY", FALSE,
	                               &uids, &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_REFUSED));
	ck_assert_ptr_null(uids);
	backend_imap.disconnect(ses);
	fake_server_finish(s, NULL);
}
END_TEST

static Suite *
imap_view_suite(void)
{
	Suite *s = suite_create("imap_view");
	TCase *t = tcase_create("imap_view");

	tcase_set_timeout(t, 20);
	tcase_add_test(t, test_headers);
	tcase_add_test(t, test_search);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	fake_cert_init(&server_cert, "imap.test", NULL, -3600, 86400);
	return fake_run_suite(imap_view_suite());
}
