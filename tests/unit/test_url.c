/* test_url.c - unit tests for net/url.c: tables of valid and invalid URLs. */
#include <check.h>
#include <string.h>

#include "net/mf_error.h"
#include "net/url.h"

typedef struct {
	const char *in;
	UrlScheme scheme;
	const char *host;
	guint16 port;
	gboolean implicit_tls;
	const char *printed; /* url_to_string() */
} GoodUrl;

static const GoodUrl good_urls[] = {
	{ "imap://mail.example.com", URL_IMAP, "mail.example.com", 143, FALSE,
	  "imap://mail.example.com:143" },
	{ "imaps://mail.example.com", URL_IMAPS, "mail.example.com", 993, TRUE,
	  "imaps://mail.example.com:993" },
	{ "pop3://h", URL_POP3, "h", 110, FALSE, "pop3://h:110" },
	{ "pop3s://h", URL_POP3S, "h", 995, TRUE, "pop3s://h:995" },
	{ "smtp://h", URL_SMTP, "h", 587, FALSE, "smtp://h:587" },
	{ "smtps://h", URL_SMTPS, "h", 465, TRUE, "smtps://h:465" },
	{ "IMAPS://Mail.Example.COM", URL_IMAPS, "Mail.Example.COM", 993, TRUE,
	  "imaps://Mail.Example.COM:993" },
	{ "smtp://mail.example.com:587", URL_SMTP, "mail.example.com", 587,
	  FALSE, "smtp://mail.example.com:587" },
	{ "imaps://mail.example.com:1993/", URL_IMAPS, "mail.example.com", 1993,
	  TRUE, "imaps://mail.example.com:1993" },
	{ "imaps://mail.example.com/", URL_IMAPS, "mail.example.com", 993, TRUE,
	  "imaps://mail.example.com:993" },
	{ "imap://127.0.0.1:10143", URL_IMAP, "127.0.0.1", 10143, FALSE,
	  "imap://127.0.0.1:10143" },
	{ "imaps://[::1]:1993", URL_IMAPS, "::1", 1993, TRUE,
	  "imaps://[::1]:1993" },
	{ "imaps://[2001:db8::42]", URL_IMAPS, "2001:db8::42", 993, TRUE,
	  "imaps://[2001:db8::42]:993" },
	{ "imaps://[::ffff:10.0.0.1]/", URL_IMAPS, "::ffff:10.0.0.1", 993, TRUE,
	  "imaps://[::ffff:10.0.0.1]:993" },
	{ "imap://localhost:1", URL_IMAP, "localhost", 1, FALSE,
	  "imap://localhost:1" },
	{ "imap://localhost:65535", URL_IMAP, "localhost", 65535, FALSE,
	  "imap://localhost:65535" },
	{ "imap://a-b_c.example:00143", URL_IMAP, "a-b_c.example", 143, FALSE,
	  "imap://a-b_c.example:143" },
};

typedef struct {
	const char *in;
	const char *needle; /* expected in the error message */
} BadUrl;

static const BadUrl bad_urls[] = {
	{ "", "not a URL" },
	{ "mail.example.com", "not a URL" },
	{ "http://mail.example.com", "unknown URL scheme 'http'" },
	{ "://mail.example.com", "unknown URL scheme" },
	{ "imapx://h", "unknown URL scheme 'imapx'" },
	{ "imap:/h", "not a URL" },
	{ "imaps://", "no host" },
	{ "imaps:///", "no host" },
	{ "imaps://:993", "no host" },
	{ "imaps://h:", "missing port" },
	{ "imaps://h:/", "missing port" },
	{ "imaps://h:0", "port 0" },
	{ "imaps://h:65536", "larger than 65535" },
	{ "imaps://h:99999999999999999999", "larger than 65535" },
	{ "imaps://h:-1", "bad port" },
	{ "imaps://h:+1", "bad port" },
	{ "imaps://h:99x", "bad port" },
	{ "imaps://h:9 9", "space" },
	{ "imaps://h:993:1", "bad port" },
	{ "imaps://alice@h", "user name" },
	{ "imaps://alice:pw@h:993", "user name" },
	{ "imaps://@h", "user name" },
	{ "imaps://h/INBOX", "path" },
	{ "imaps://h//", "path" },
	{ "imaps://h:993/x", "path" },
	{ "imaps://h?x=1", "query" },
	{ "imaps://h/?x=1", "path" },
	{ "imaps://h#frag", "fragment" },
	{ "imaps://h x", "space" },
	{ "imaps:// h", "no host" },
	{ "imaps://h ", "space" },
	{ "imaps://h..example", "empty label" },
	{ "imaps://.example", "empty label" },
	{ "imaps://example.", "empty label" },
	{ "imaps://ex!ample", "unexpected character" },
	{ "imaps://999.1.1.1", "bad IPv4" },
	{ "imaps://1.2.3", "bad IPv4" },
	{ "imaps://[::1", "missing ']'" },
	{ "imaps://[zz::1]", "bad IPv6" },
	{ "imaps://[1.2.3.4]", "bad IPv6" },
	{ "imaps://[fe80::1%eth0]", "bad IPv6" },
	{ "imaps://[::1]x", "unexpected character" },
	{ "imaps://::1", "no host" },
};

START_TEST(test_good)
{
	const GoodUrl *t = &good_urls[_i];
	MfUrl u = { 0 };
	GError *err = NULL;

	ck_assert_msg(url_parse(t->in, &u, &err), "%s: %s", t->in,
	              err ? err->message : "");
	ck_assert_int_eq(u.scheme, t->scheme);
	ck_assert_str_eq(u.host, t->host);
	ck_assert_uint_eq(u.port, t->port);
	ck_assert_int_eq(u.implicit_tls, t->implicit_tls);
	char *s = url_to_string(&u);
	ck_assert_str_eq(s, t->printed);
	g_free(s);
	url_clear(&u);
	ck_assert_ptr_null(u.host);
	ck_assert_uint_eq(u.port, 0);
}
END_TEST

START_TEST(test_bad)
{
	const BadUrl *t = &bad_urls[_i];
	MfUrl u = { .scheme = URL_SMTPS, .host = NULL, .port = 7 };
	GError *err = NULL;

	ck_assert_msg(!url_parse(t->in, &u, &err), "accepted '%s'", t->in);
	ck_assert_ptr_nonnull(err);
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	ck_assert_msg(strstr(err->message, t->needle), "'%s': message '%s' "
	              "lacks '%s'", t->in, err->message, t->needle);
	/* *OUT is untouched on failure. */
	ck_assert_int_eq(u.scheme, URL_SMTPS);
	ck_assert_ptr_null(u.host);
	ck_assert_uint_eq(u.port, 7);
	g_error_free(err);
}
END_TEST

START_TEST(test_too_long)
{
	MfUrl u = { 0 };
	GError *err = NULL;
	GString *s = g_string_new("imaps://");

	for (int i = 0; i < 300; i++)
		g_string_append(s, "abc.");
	g_string_append(s, "com");
	ck_assert(!url_parse(s->str, &u, &err));
	ck_assert_ptr_nonnull(strstr(err->message, "too long"));
	g_clear_error(&err);
	g_string_free(s, TRUE);

	/* A 64-character label is one too many. */
	char *host = g_strnfill(64, 'a');
	char *url = g_strdup_printf("imaps://%s.com", host);
	ck_assert(!url_parse(url, &u, &err));
	ck_assert_ptr_nonnull(strstr(err->message, "too long"));
	g_clear_error(&err);
	g_free(url);
	host[63] = '\0';
	url = g_strdup_printf("imaps://%s.com", host);
	ck_assert(url_parse(url, &u, &err));
	url_clear(&u);
	g_free(url);
	g_free(host);
}
END_TEST

START_TEST(test_scheme_names)
{
	ck_assert_str_eq(url_scheme_name(URL_IMAP), "imap");
	ck_assert_str_eq(url_scheme_name(URL_IMAPS), "imaps");
	ck_assert_str_eq(url_scheme_name(URL_POP3), "pop3");
	ck_assert_str_eq(url_scheme_name(URL_POP3S), "pop3s");
	ck_assert_str_eq(url_scheme_name(URL_SMTP), "smtp");
	ck_assert_str_eq(url_scheme_name(URL_SMTPS), "smtps");
	url_clear(NULL);
}
END_TEST

static Suite *
url_suite(void)
{
	Suite *s = suite_create("url");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_good, 0, G_N_ELEMENTS(good_urls));
	tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad_urls));
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_scheme_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(url_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
