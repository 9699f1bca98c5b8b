/* test_outbox_msg.c - tables for cache/outbox_msg.c: envelopes from
 * address fields, exact output bytes, added fields, rejected input, line
 * limits, 8-bit and UTF-8 flags, and editor scratch-file names. */
#include <check.h>
#include <string.h>

#include "cache/outbox_msg.h"
#include "net/mf_error.h"

#define HOST "host.example"
/* A header that needs nothing added. */
#define FULL "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <m@x>\n"

typedef struct {
	const char *in;
	const char *from;    /* the account's from setting */
	const char *sender;  /* expected envelope sender */
	const char *rcpts;   /* expected recipients joined with " " */
	gboolean b8, utf8;
} EnvCase;

static const EnvCase env_cases[] = {
	/* groups */
	{ FULL "From: a@x.example\nTo: undisclosed-recipients:;\n"
	  "Bcc: b@y.example\n\nhi\n", NULL, "a@x.example", "b@y.example",
	  FALSE, FALSE },
	{ FULL "From: a@x.example\nTo: Team: a@x, \"Doe, John\" <j@x>;\n\n",
	  NULL, "a@x.example", "a@x j@x", FALSE, FALSE },
	{ FULL "From: a@x.example\nTo: Team: a@x;, Other: ;, z@w\n\n",
	  NULL, "a@x.example", "a@x z@w", FALSE, FALSE },
	/* comments, quoted names, encoded words, angle brackets */
	{ FULL "From: Me <me@x> (myself)\nTo: a@x (Alice), b@y (Bob, Jr.)\n\n",
	  NULL, "me@x", "a@x b@y", FALSE, FALSE },
	{ FULL "From: me@x\nTo: =?UTF-8?B?w6lsw6g=?= <u@x>\n\n", NULL, "me@x",
	  "u@x", FALSE, FALSE },
	{ FULL "From: me@x\nTo: \"Smith, Ann\" <ann@x>,\n  <bob@y>\n\n",
	  NULL, "me@x", "ann@x bob@y", FALSE, FALSE },
	{ FULL "From: me@x\nTo: a@x,,b@y\n\n", NULL, "me@x", "a@x b@y",
	  FALSE, FALSE },
	/* several fields, duplicates ignoring case, order of appearance */
	{ FULL "From: me@x\nBcc: Z@z\nTo: A@X.example\n"
	  "Cc: a@x.example, b@y\nbcc: B@Y, z@Z\n\n",
	  NULL, "me@x", "Z@z A@X.example b@y", FALSE, FALSE },
	/* the configured from is the sender, whatever From says */
	{ FULL "From: Other <other@x>\nTo: a@x\n\n", "Me <me@x>", "me@x",
	  "a@x", FALSE, FALSE },
	{ FULL "To: a@x\n\n", "me@x", "me@x", "a@x", FALSE, FALSE },
	/* flags */
	{ FULL "From: me@x\nTo: a@x\n\ncaf\xc3\xa9\n", NULL, "me@x", "a@x",
	  TRUE, FALSE },
	{ FULL "From: me@x\nSubject: caf\xc3\xa9\nTo: a@x\n\n", NULL, "me@x",
	  "a@x", TRUE, FALSE },
	{ FULL "From: me@x\nTo: J\xc3\xb6rg <j\xc3\xb6rg@x>\n\n", NULL, "me@x",
	  "j\xc3\xb6rg@x", TRUE, TRUE },
	{ FULL "From: me@x\nTo: a@x\nBcc: j\xc3\xb6rg@x\n\n", NULL, "me@x",
	  "a@x j\xc3\xb6rg@x", FALSE, TRUE },
	{ FULL "To: a@x\n\n", "m\xc3\xa9@x", "m\xc3\xa9@x", "a@x", TRUE,
	  TRUE },
};

static char *
join_rcpts(const GPtrArray *a)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < a->len; i++)
		g_string_append_printf(s, i ? " %s" : "%s",
		                       (const char *)a->pdata[i]);
	return g_string_free(s, FALSE);
}

START_TEST(test_envelope)
{
	const EnvCase *c = &env_cases[_i];
	g_autoptr(GError) err = NULL;
	g_autoptr(OutboxMsg) m = outbox_msg_prepare(c->in, strlen(c->in),
	                                            c->from, HOST, &err);

	ck_assert_msg(m != NULL, "case %d: %s", _i, err ? err->message : "");
	ck_assert_str_eq(m->sender, c->sender);
	g_autofree char *r = join_rcpts(m->rcpts);
	ck_assert_str_eq(r, c->rcpts);
	ck_assert_int_eq(m->needs_8bit, c->b8);
	ck_assert_int_eq(m->needs_utf8, c->utf8);
}
END_TEST

typedef struct {
	const char *in;
	size_t len;         /* 0: strlen(in) */
	const char *from;
	int code;
	const char *needle;
} ErrCase;

static const ErrCase err_cases[] = {
	{ "", 0, "me@x", MF_ERROR_MESSAGE, "the file is empty" },
	{ "\x7f" "ELF\x02\x01\x01\0\0\0", 10, "me@x", MF_ERROR_MESSAGE,
	  "NUL bytes" },
	{ "To: a@x\n\nbody\0more\n", 19, "me@x", MF_ERROR_MESSAGE,
	  "NUL bytes" },
	{ "hello world\nthis is just text\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "does not start with a header field" },
	{ " To: a@x\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "does not start with a header field" },
	{ ": a@x\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "does not start with a header field" },
	{ "To: a@x\nSubject: hi\nDear Ann,\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "line 3 is neither a header field nor the blank line" },
	{ "To: a@x\r\nBad Header: x\r\n\r\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "line 2 is neither" },
	/* recipients */
	{ "From: me@x\nSubject: x\n\nbody\n", 0, NULL, MF_ERROR_MESSAGE,
	  "no recipients" },
	{ "To: undisclosed-recipients:;\nCc:\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "no recipients" },
	{ "To: foo\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "the To field holds \"foo\", which is not an address" },
	{ "To: a@x; b@y\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "the To field cannot be read as a list of addresses: \"a@x; b@y\"" },
	{ "Cc: Doe, John <j@x>\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "the Cc field" },
	{ "To: a@x, b@y c@z\n\n", 0, "me@x", MF_ERROR_MESSAGE, "the To field" },
	{ "To: a@x, John Smith\n\n", 0, "me@x", MF_ERROR_MESSAGE,
	  "cannot be read" },
	/* sender */
	{ "To: a@x\n\n", 0, NULL, MF_ERROR_MESSAGE,
	  "no sender: the message has no From field and the account has no "
	  "from address" },
	{ "From: nobody\nTo: a@x\n\n", 0, NULL, MF_ERROR_MESSAGE,
	  "the From field holds \"nobody\"" },
	{ "From:\nTo: a@x\n\n", 0, NULL, MF_ERROR_MESSAGE,
	  "the From field holds no address" },
	{ "To: a@x\n\n", 0, "not an address", MF_ERROR_CONFIG,
	  "the from setting" },
};

START_TEST(test_errors)
{
	const ErrCase *c = &err_cases[_i];
	g_autoptr(GError) err = NULL;
	size_t len = c->len ? c->len : strlen(c->in);
	OutboxMsg *m = outbox_msg_prepare(c->in, len, c->from, HOST, &err);

	ck_assert_msg(m == NULL, "case %d accepted", _i);
	ck_assert(err != NULL && err->domain == MF_ERROR);
	ck_assert_msg(err->code == c->code, "case %d: code %d: %s", _i,
	              err->code, err->message);
	ck_assert_msg(strstr(err->message, c->needle) != NULL,
	              "'%s' not in '%s'", c->needle, err->message);
}
END_TEST

static void
assert_data(const OutboxMsg *m, const char *want)
{
	size_t n = 0;
	const char *d = g_bytes_get_data(m->data, &n);
	g_autofree char *got = g_strndup(d, n);

	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(n, strlen(want));
}

typedef struct {
	const char *in;
	const char *out;
} DataCase;

static const DataCase data_cases[] = {
	/* Bcc fields go, with their continuation lines, any case */
	{ FULL "From: a@x\nBcc: b@y,\n  c@z\nTo: t@x\nBCC: e@f\n"
	  "Subject: long\n subject\n\nbody\n.line\n",
	  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n"
	  "From: a@x\r\nTo: t@x\r\nSubject: long\r\n subject\r\n\r\n"
	  "body\r\n.line\r\n" },
	{ FULL "Bcc: b@y\nFrom: a@x\n\nbody",
	  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n"
	  "From: a@x\r\n\r\nbody\r\n" },
	/* line ends: LF, CRLF, lone CR all become CRLF; nothing else moves */
	{ "date: x\r\nmessage-id: <y>\r\nfrom: a@x\r\nto: b@y\r\n"
	  "Subject: =?UTF-8?Q?caf=C3=A9?=  two  spaces \r\n\r\n"
	  "a\rb\n\nc\r\n\r\n",
	  "date: x\r\nmessage-id: <y>\r\nfrom: a@x\r\nto: b@y\r\n"
	  "Subject: =?UTF-8?Q?caf=C3=A9?=  two  spaces \r\n\r\n"
	  "a\r\nb\r\n\r\nc\r\n\r\n" },
	/* a header with no body and no blank line gets the blank line */
	{ FULL "From: a@x\nTo: b@y",
	  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n"
	  "From: a@x\r\nTo: b@y\r\n\r\n" },
	/* obsolete white space before the colon is still a field */
	{ FULL "From : a@x\nTo\t: b@y\n\n",
	  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n"
	  "From : a@x\r\nTo\t: b@y\r\n\r\n" },
};

START_TEST(test_data)
{
	const DataCase *c = &data_cases[_i];
	g_autoptr(GError) err = NULL;
	g_autoptr(OutboxMsg) m = outbox_msg_prepare(c->in, strlen(c->in),
	                                            NULL, HOST, &err);

	ck_assert_msg(m != NULL, "%s", err ? err->message : "");
	assert_data(m, c->out);
}
END_TEST

/* Date, Message-ID and From are put in front only when missing. */
START_TEST(test_added_fields)
{
	static const char in[] = "To: b@y\nSubject: s\n\nbody\n";
	g_autoptr(GError) err = NULL;
	g_autoptr(OutboxMsg) m = outbox_msg_prepare(in, strlen(in),
	                                            "Me <me@x>",
	                                            "bad host!.example", &err);
	size_t n = 0;

	ck_assert(m != NULL);
	g_autofree char *got = g_strndup(g_bytes_get_data(m->data, &n),
	                                 g_bytes_get_size(m->data));
	ck_assert_msg(g_regex_match_simple(
		"^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [1-9][0-9]? "
		"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
		"20[0-9][0-9] "
		"[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}\r\n"
		"From: Me <me@x>\r\n"
		"Message-ID: <[0-9a-f]+\\.[0-9a-f]{24}@badhost\\.example>\r\n"
		"To: b@y\r\nSubject: s\r\n\r\nbody\r\n$", got, 0, 0),
		"%s", got);

	/* two Message-IDs differ */
	g_autoptr(OutboxMsg) m2 = outbox_msg_prepare(in, strlen(in), "me@x",
	                                             HOST, &err);
	g_autofree char *got2 = g_strndup(g_bytes_get_data(m2->data, &n), n);
	const char *id1 = strstr(got, "Message-ID:");
	const char *id2 = strstr(got2, "Message-ID:");
	ck_assert(strncmp(id1, id2, 60) != 0);
	ck_assert(strstr(got2, "\r\nFrom: me@x\r\n") != NULL);
}
END_TEST

/* A non-ASCII display name in the configured from is encoded in the From
 * field we add. */
START_TEST(test_added_from_encoded)
{
	static const char in[] = FULL "To: b@y\n\n";
	g_autoptr(OutboxMsg) m = outbox_msg_prepare(in, strlen(in),
	                                            "J\xc3\xb6rg <j@x>", HOST,
	                                            NULL);
	size_t n = 0;

	ck_assert(m != NULL);
	g_autofree char *got = g_strndup(g_bytes_get_data(m->data, &n),
	                                 g_bytes_get_size(m->data));
	ck_assert_msg(g_str_has_prefix(got, "From: =?") &&
	              strstr(got, "?= <j@x>\r\n") != NULL, "%s", got);
	ck_assert(!m->needs_8bit);
}
END_TEST

/* 998 octets before the line end pass, 999 fail, with the line number;
 * the body counts as much as the header. */
START_TEST(test_line_limit)
{
	for (size_t n = 998; n <= 999; n++) {
		GString *in = g_string_new(FULL "From: a@x\nTo: b@y\n\n"
		                           "short\n");
		g_autoptr(GError) err = NULL;
		for (size_t i = 0; i < n; i++)
			g_string_append_c(in, 'x');
		g_string_append(in, "\r\nend\n");
		g_autoptr(OutboxMsg) m = outbox_msg_prepare(in->str, in->len,
		                                            NULL, HOST, &err);
		if (n == 998) {
			ck_assert_msg(m != NULL, "%s", err->message);
		} else {
			ck_assert(m == NULL);
			ck_assert_str_eq(err->message,
			                 "line 7 is longer than 998 octets");
		}
		g_string_free(in, TRUE);
	}
	/* a long header line too, and a lone CR ends a line */
	GString *in = g_string_new("To: b@y\rSubject: ");
	g_autoptr(GError) err = NULL;
	while (in->len < 8 + 999)
		g_string_append_c(in, 's');
	g_string_append(in, "\n\n");
	ck_assert(outbox_msg_prepare(in->str, in->len, "a@x", HOST, &err) ==
	          NULL);
	ck_assert_str_eq(err->message, "line 2 is longer than 998 octets");
	g_string_free(in, TRUE);
}
END_TEST

/* Several threads prepare at once (GMime is initialised once). */
static gpointer
prepare_thread_cb(gpointer data)
{
	static const char in[] = "From: a@x\nTo: Team: b@y, \"C, D\" <c@z>;\n"
	                         "Cc: =?UTF-8?B?w6lsw6g=?= <e@f>\n\nbody\n";

	for (int i = 0; i < 300; i++) {
		OutboxMsg *m = outbox_msg_prepare(in, strlen(in), NULL, HOST,
		                                  NULL);
		if (!m || m->rcpts->len != 3)
			return GINT_TO_POINTER(1);
		outbox_msg_free(m);
	}
	return NULL;
}

START_TEST(test_threads)
{
	GThread *t[4];

	for (int i = 0; i < 4; i++)
		t[i] = g_thread_new("prep", prepare_thread_cb, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_null(g_thread_join(t[i]));
	outbox_msg_free(NULL);
}
END_TEST

static const struct {
	const char *name;
	gboolean scratch;
} scratch_cases[] = {
	{ ".hidden", TRUE }, { ".msg.eml.swp", TRUE }, { "msg.eml~", TRUE },
	{ "msg.swp", TRUE }, { "msg.swx", TRUE }, { "msg.tmp", TRUE },
	{ "msg.swo", TRUE }, { "msg.swn", TRUE }, { "msg.swz", FALSE },
	{ "4913", TRUE }, { "#msg.eml#", TRUE }, { "msg.eml", FALSE },
	{ "49130", FALSE }, { "x4913", FALSE }, { "swp", FALSE },
	{ "msg.swp.eml", FALSE }, { "#", FALSE }, { "a#", FALSE },
	{ "tmp", FALSE }, { "letter", FALSE },
};

START_TEST(test_scratch_names)
{
	ck_assert_msg(outbox_msg_is_scratch_name(scratch_cases[_i].name) ==
	              scratch_cases[_i].scratch, "%s",
	              scratch_cases[_i].name);
}
END_TEST

static Suite *
outbox_msg_suite(void)
{
	Suite *s = suite_create("outbox_msg");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_envelope, 0, G_N_ELEMENTS(env_cases));
	tcase_add_loop_test(tc, test_errors, 0, G_N_ELEMENTS(err_cases));
	tcase_add_loop_test(tc, test_data, 0, G_N_ELEMENTS(data_cases));
	tcase_add_test(tc, test_added_fields);
	tcase_add_test(tc, test_added_from_encoded);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_threads);
	tcase_add_loop_test(tc, test_scratch_names, 0,
	                    G_N_ELEMENTS(scratch_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(outbox_msg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
