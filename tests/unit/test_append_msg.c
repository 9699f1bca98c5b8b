/* test_append_msg.c - tables for cache/append_msg.c: which files become
 * messages, the Message-ID found or made, and the exact bytes appended. */
#include <check.h>
#include <string.h>

#include "cache/append_msg.h"
#include "net/mf_error.h"

typedef struct {
	const char *in;
	gsize len;         /* 0: strlen(in) */
	gboolean ok;
} CheckCase;

static const CheckCase check_cases[] = {
	{ "From: a@x\n\nhi\n", 0, TRUE },
	{ "Subject: only a header", 0, TRUE },
	{ "X-Weird-Name!#$: v\r\n\r\n", 0, TRUE },
	{ "", 0, FALSE },
	{ "hello\n", 0, FALSE },
	{ ": no name\n", 0, FALSE },
	{ " From: folded first\n", 0, FALSE },
	{ "From a@x Mon Jan  1 00:00:00 2024\nFrom: a@x\n", 0, FALSE },
	{ "From: a@x\n\nbin\0ary", 17, FALSE },
	{ "Name", 0, FALSE },
	{ "Name:", 0, TRUE },
};

START_TEST(test_check)
{
	const CheckCase *c = &check_cases[_i];
	gsize len = c->len ? c->len : strlen(c->in);
	GError *err = NULL;

	ck_assert_int_eq(append_msg_check(c->in, len, &err), c->ok);
	if (c->ok) {
		ck_assert_ptr_null(err);
	} else {
		ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_BADMSG));
		g_error_free(err);
	}
}
END_TEST

typedef struct {
	const char *in;
	const char *id; /* NULL: none */
} IdCase;

static const IdCase id_cases[] = {
	{ "Message-ID: <a@b>\n\n", "<a@b>" },
	{ "message-id:<a@b>\n", "<a@b>" },
	{ "From: x\nMessage-Id:\n  <folded@b>\n\n", "<folded@b>" },
	{ "Message-Id: <a\r\n b@c>\r\n", "<a b@c>" },
	{ "Message-Id: <a\n b@c>\n", "<a b@c>" },
	{ "From: x\n\nMessage-ID: <in-body@b>\n", NULL },
	{ "Message-ID: none\n", NULL },
	{ "Message-ID: <>\n", NULL },
	{ "X-Message-ID: <not@this>\n", NULL },
	{ "Message-IDs: <not@this>\n", NULL },
};

START_TEST(test_message_id)
{
	const IdCase *c = &id_cases[_i];
	char *id = append_msg_message_id(c->in, strlen(c->in));

	ck_assert_str_eq(id ? id : "(none)", c->id ? c->id : "(none)");
	g_free(id);
}
END_TEST

static char *
prepared(const char *in, char **msgid)
{
	GBytes *b = append_msg_prepare(in, strlen(in), msgid);
	gsize len;
	const char *data = g_bytes_get_data(b, &len);
	char *s = g_strndup(data, len);
	g_bytes_unref(b);
	return s;
}

START_TEST(test_prepare_keeps_id)
{
	char *id = NULL;
	char *out = prepared("Message-ID: <k@x>\nSubject: s\n\nl1\r\nl2\n", &id);

	ck_assert_str_eq(out, "Message-ID: <k@x>\r\nSubject: s\r\n\r\nl1\r\nl2\r\n");
	ck_assert_str_eq(id, "<k@x>");
	g_free(out);
	g_free(id);
}
END_TEST

START_TEST(test_prepare_adds_id)
{
	char *id = NULL, *id2 = NULL;
	char *out = prepared("Subject: s\n\nbody", &id);
	char *out2 = prepared("Subject: s\n\nbody", &id2);

	ck_assert(g_str_has_prefix(id, "<") && g_str_has_suffix(id, "@mailfs>"));
	ck_assert_str_ne(id, id2);
	g_autofree char *want = g_strdup_printf("Message-ID: %s\r\nSubject: "
	                                        "s\r\n\r\nbody", id);
	ck_assert_str_eq(out, want);
	/* What was added is found again, as after a lost reply. */
	char *again = append_msg_message_id(out, strlen(out));
	ck_assert_str_eq(again, id);
	g_free(again);
	g_free(out);
	g_free(out2);
	g_free(id);
	g_free(id2);
}
END_TEST

/* Every prefix of a file either is a message or is refused cleanly. */
START_TEST(test_prefixes)
{
	const char *in = "Subject: s\nMessage-ID: <p@x>\n\nbody\n";

	for (gsize n = 0; n <= strlen(in); n++) {
		GError *err = NULL;
		g_autofree char *copy = g_strndup(in, n);
		gboolean ok = append_msg_check(copy, n, &err);
		ck_assert_int_eq(ok, n >= strlen("Subject:"));
		g_clear_error(&err);
		g_autofree char *id = append_msg_message_id(copy, n);
		ck_assert_int_eq(id != NULL, n >= strlen("Subject: s\n"
		                                         "Message-ID: <p@x>"));
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("append_msg");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_check, 0, G_N_ELEMENTS(check_cases));
	tcase_add_loop_test(tc, test_message_id, 0, G_N_ELEMENTS(id_cases));
	tcase_add_test(tc, test_prepare_keeps_id);
	tcase_add_test(tc, test_prepare_adds_id);
	tcase_add_test(tc, test_prefixes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
