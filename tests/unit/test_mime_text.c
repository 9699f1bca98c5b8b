/* test_mime_text.c - unit tests for cache/mime_text.c and
 * cache/html_text.c: text of each transfer encoding and charset, HTML
 * rendered, the part a multipart/alternative shows, attachments by name
 * (RFC 2231, the same name twice, '/' and control characters), a
 * forwarded message, broken trees, and the limits of nesting and parts. */
#include <check.h>
#include <string.h>

#include "cache/html_text.h"
#include "cache/mime_text.h"

static MimeText *
view_of(const char *raw)
{
	return mime_text_new(raw, strlen(raw));
}

static const char *
text_of(const MimeText *v)
{
	return g_bytes_get_data(v->text, NULL);
}

#define HEAD "From: A <a@x>\r\nTo: B <b@x>\r\nSubject: s\r\n" \
	"MIME-Version: 1.0\r\n"

static const struct {
	const char *raw;
	const char *want; /* in the text */
} texts[] = {
	{ HEAD "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSBiYXNlNjQ=\r\n",
	  "\n\nGr\u00fc\u00dfe base64\n" },
	{ HEAD "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "caf=C3=A9 so=\r\nft\r\n", "caf\u00e9 soft\n" },
	{ HEAD "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
	  "K\xf6ln\r\n", "K\u00f6ln\n" },
	{ HEAD "Content-Type: text/plain; charset=Shift_JIS\r\n\r\n"
	  "\x93\xfa\x96\x7b\r\n", "\u65e5\u672c\n" },
	/* No charset and not UTF-8: Windows-1252. */
	{ HEAD "Content-Type: text/plain\r\n\r\n\x93q\x94\r\n",
	  "\u201cq\u201d" },
	{ "Subject: =?UTF-8?B?w5xiZXI=?=\r\nFrom: =?ISO-8859-1?Q?J=F6rg?= "
	  "<j@x>\r\n\r\nbody\r\n",
	  "From: J\u00f6rg <j@x>\nSubject: \u00dcber\n\nbody\n" },
	{ HEAD "Content-Type: text/html\r\n\r\n<html><head><style>x{}</style>"
	  "</head><body><h1>Title</h1><p>one&nbsp;<b>two</b>\r\n   three</p>"
	  "<script>bad()</script><a href=\"https://e.x/\">link</a></body>"
	  "</html>\r\n", "Title\none\u00a0two three\nlink <https://e.x/>\n" },
	{ HEAD "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	  "--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
	  "--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b--\r\n",
	  "\n\nplain\n" },
	{ HEAD "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	  "--b\r\nContent-Type: text/html\r\n\r\n<p>only html</p>\r\n--b--\r\n",
	  "\n\nonly html\n" },
	/* Never closed: what came is shown. */
	{ HEAD "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Type: text/plain\r\n\r\nunclosed\r\n", "unclosed" },
	/* Not MIME at all. */
	{ "no header here\r\n", "no header here" },
};

START_TEST(test_text)
{
	MimeText *v = view_of(texts[_i].raw);
	const char *t = text_of(v);

	ck_assert_msg(strstr(t, texts[_i].want) != NULL, "%s\n---\n%s", t,
	              texts[_i].want);
	ck_assert(g_utf8_validate(t, -1, NULL));
	ck_assert_ptr_null(strchr(t, '\r'));
	mime_text_free(v);
}
END_TEST

START_TEST(test_attachments)
{
	static const char raw[] = HEAD
		"Content-Type: multipart/mixed; boundary=m\r\n\r\n"
		"--m\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
		"--m\r\nContent-Type: application/pdf\r\nContent-Disposition: "
		"attachment;\r\n filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n"
		"--m\r\nContent-Type: text/plain\r\nContent-Disposition: "
		"attachment; filename=\"same.txt\"\r\n\r\none\r\n"
		"--m\r\nContent-Type: text/plain\r\nContent-Disposition: "
		"attachment; filename=\"same.txt\"\r\n\r\ntwo\r\n"
		"--m\r\nContent-Type: application/octet-stream\r\n"
		"Content-Disposition: attachment;\r\n"
		" filename*=us-ascii''a%2Fb%01c\r\n\r\nx\r\n"
		"--m\r\nContent-Type: image/png\r\n\r\nnoname\r\n--m--\r\n";
	static const char *const names[] = {
		"r\u00e9sum\u00e9.pdf", "same.txt", "same-2.txt", "a_b_c",
		"part-7", /* the 7th part of the tree */
	};
	MimeText *v = view_of(raw);

	ck_assert_uint_eq(v->attachments->len, G_N_ELEMENTS(names));
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		const MimeAttachment *a = v->attachments->pdata[i];
		ck_assert_str_eq(a->name, names[i]);
	}
	const MimeAttachment *pdf = v->attachments->pdata[0];
	ck_assert_uint_eq(g_bytes_get_size(pdf->data), 4);
	ck_assert(memcmp(g_bytes_get_data(pdf->data, NULL), "\0\1\2\377", 4)
	          == 0);
	ck_assert_str_eq(pdf->content_type, "application/pdf");
	const MimeAttachment *two = v->attachments->pdata[2];
	/* The CRLF before a boundary belongs to the boundary. */
	ck_assert_uint_eq(g_bytes_get_size(two->data), 3);
	ck_assert_ptr_nonnull(strstr(text_of(v), "body\n"));
	ck_assert_ptr_nonnull(strstr(text_of(v), "[attachment: same-2.txt "
	                             "(text/plain, 3 bytes)]\n"));
	mime_text_free(v);
}
END_TEST

START_TEST(test_forwarded)
{
	static const char raw[] = HEAD
		"Content-Type: multipart/mixed; boundary=m\r\n\r\n"
		"--m\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
		"--m\r\nContent-Type: message/rfc822\r\n\r\n"
		"Subject: inner/one\r\nFrom: I <i@x>\r\n\r\ninner body\r\n"
		"--m--\r\n";
	MimeText *v = view_of(raw);

	ck_assert_uint_eq(v->attachments->len, 2);
	const MimeAttachment *eml = v->attachments->pdata[0];
	const MimeAttachment *txt = v->attachments->pdata[1];
	ck_assert_str_eq(eml->name, "inner_one.eml");
	ck_assert_str_eq(txt->name, "inner_one.txt");
	g_autofree char *t = g_strndup(g_bytes_get_data(txt->data, NULL),
	                               g_bytes_get_size(txt->data));
	ck_assert_ptr_nonnull(strstr(t, "Subject: inner/one\n"));
	ck_assert_ptr_nonnull(strstr(t, "inner body"));
	ck_assert_ptr_null(strstr(text_of(v), "inner body"));
	mime_text_free(v);
}
END_TEST

START_TEST(test_depth_limit)
{
	GString *raw = g_string_new("Content-Type: multipart/mixed; "
	                            "boundary=b0\r\n\r\n");
	for (int i = 1; i < 40; i++)
		g_string_append_printf(raw, "--b%d\r\nContent-Type: multipart/"
		                       "mixed; boundary=b%d\r\n\r\n", i - 1, i);
	g_string_append(raw, "--b39\r\nContent-Type: text/plain\r\n\r\n"
	                "deepest\r\n");
	MimeText *v = mime_text_new(raw->str, raw->len);

	ck_assert_ptr_null(strstr(text_of(v), "deepest"));
	ck_assert_ptr_nonnull(strstr(text_of(v), "[parts left out"));
	mime_text_free(v);
	g_string_free(raw, TRUE);
}
END_TEST

START_TEST(test_parts_limit)
{
	GString *raw = g_string_new("Content-Type: multipart/mixed; "
	                            "boundary=b\r\n\r\n");
	for (int i = 0; i < MIME_PARTS_MAX + 50; i++)
		g_string_append_printf(raw, "--b\r\nContent-Type: text/plain\r\n"
		                       "Content-Disposition: attachment; "
		                       "filename=f%d\r\n\r\n%d\r\n", i, i);
	g_string_append(raw, "--b--\r\n");
	MimeText *v = mime_text_new(raw->str, raw->len);

	ck_assert_uint_lt(v->attachments->len, MIME_PARTS_MAX);
	ck_assert_ptr_nonnull(strstr(text_of(v), "[parts left out"));
	mime_text_free(v);
	g_string_free(raw, TRUE);
}
END_TEST

static const struct {
	const char *in, *out;
} sanitized[] = {
	{ "a.pdf", "a.pdf" }, { "a/b", "a_b" }, { "a\x01" "b\x7f", "a_b_" },
	{ "", "_" }, { ".", "_" }, { "..", "_" }, { "...", "..." },
	{ "\xff" "x", "\ufffdx" }, { "caf\u00e9", "caf\u00e9" },
	{ "x\xc2\x85y", "x_y" },
};

START_TEST(test_sanitize)
{
	g_autofree char *s = mime_text_sanitize_name(sanitized[_i].in);

	ck_assert_str_eq(s, sanitized[_i].out);
}
END_TEST

START_TEST(test_long_name)
{
	GString *in = g_string_new(NULL);

	for (int i = 0; i < 300; i++)
		g_string_append(in, "\u00e9");
	g_autofree char *s = mime_text_sanitize_name(in->str);
	ck_assert_uint_le(strlen(s), MIME_NAME_MAX);
	ck_assert(g_utf8_validate(s, -1, NULL));
	g_string_free(in, TRUE);
}
END_TEST

START_TEST(test_every_prefix)
{
	/* Any cut of a message is read without harm. */
	const char *raw = texts[7].raw;

	for (size_t n = 0; n <= strlen(raw); n++) {
		MimeText *v = mime_text_new(raw, n);
		ck_assert(g_utf8_validate(text_of(v), -1, NULL));
		mime_text_free(v);
	}
}
END_TEST

START_TEST(test_html_nesting)
{
	GString *html = g_string_new(NULL);

	for (int i = 0; i < 5000; i++)
		g_string_append(html, "<div>");
	g_string_append(html, "deep");
	g_autofree char *t = html_text_render(html->str, html->len);
	ck_assert(g_utf8_validate(t, -1, NULL));
	g_string_free(html, TRUE);
	g_autofree char *e = html_text_render("", 0);
	ck_assert_str_eq(e, "");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mime_text");
	TCase *tc = tcase_create("mime_text");

	tcase_add_loop_test(tc, test_text, 0, G_N_ELEMENTS(texts));
	tcase_add_test(tc, test_attachments);
	tcase_add_test(tc, test_forwarded);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_parts_limit);
	tcase_add_loop_test(tc, test_sanitize, 0, G_N_ELEMENTS(sanitized));
	tcase_add_test(tc, test_long_name);
	tcase_add_test(tc, test_every_prefix);
	tcase_add_test(tc, test_html_nesting);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
