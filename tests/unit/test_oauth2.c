/* test_oauth2.c - net/oauth2.c against a scripted HTTPS server on loopback
 * (one request, one canned answer): the exact form each grant POSTs and
 * that no secret is in its URL, what each answer becomes (tokens,
 * pending, slow down, refused, try later, broken), a redirect not
 * followed, an answer too large, certificates checked, http:// refused. */
#include <check.h>
#include <string.h>

#include "fake_server.h"
#include "net/mf_error.h"
#include "net/oauth2.h"

static FakeCert server_cert;

/* The last request the server read, whole; set by its thread before it
 * ends (fake_server_finish joins it). */
static char *last_request;

/* Reads one HTTP request (head, then a body of its Content-Length) and
 * sends the answer S->script. */
static void
serve_http(FakeServer *s)
{
	size_t body = 0;
	g_autofree char *line = NULL;

	while ((line = fake_read_line(s)) && *line) {
		if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
			body = strtoul(line + 15, NULL, 10);
		g_clear_pointer(&line, g_free);
	}
	char buf[1024];
	while (body > 0) {
		gssize n = fake_recv(s, buf, MIN(body, sizeof buf));
		if (n <= 0)
			break;
		body -= (size_t)n;
	}
	g_free(last_request);
	last_request = g_strdup(s->received->str);
	fake_send_str(s, s->script);
}

/* An answer with STATUS (e.g. "200 OK") and a JSON BODY. */
static char *
answer(const char *status, const char *body)
{
	return g_strdup_printf("HTTP/1.1 %s\r\nContent-Type: application/json"
	                       "\r\nContent-Length: %zu\r\nConnection: close"
	                       "\r\n\r\n%s", status, strlen(body), body);
}

typedef struct {
	FakeServer *s;
	char *reply;
	char *token_url;
	char *device_url;
	OAuth2Endpoint e;
} Rig;

static void
rig_start(Rig *r, const char *status, const char *body)
{
	r->reply = answer(status, body);
	r->s = fake_server_start(serve_http, r->reply, 0, &server_cert, TRUE);
	r->token_url = g_strdup_printf("https://127.0.0.1:%u/token",
	                               (unsigned)r->s->port);
	r->device_url = g_strdup_printf("https://127.0.0.1:%u/device",
	                                (unsigned)r->s->port);
	r->e = (OAuth2Endpoint){ .token_url = r->token_url,
	                         .device_url = r->device_url,
	                         .client_id = "cid",
	                         .client_secret = "s&cret",
	                         .scope = "mail send",
	                         .ca_file = server_cert.pem_path,
	                         .timeout_ms = 5000 };
}

/* The request the server got: its first line and its body. */
static void
rig_finish(Rig *r, char **first, char **body)
{
	fake_server_finish(r->s, NULL);
	const char *req = last_request ? last_request : "";
	const char *eol = strstr(req, "\r\n");
	const char *sep = strstr(req, "\r\n\r\n");
	if (first)
		*first = eol ? g_strndup(req, eol - req) : g_strdup(req);
	if (body)
		*body = g_strdup(sep ? sep + 4 : "");
	g_clear_pointer(&last_request, g_free);
	g_free(r->reply);
	g_free(r->token_url);
	g_free(r->device_url);
}

START_TEST(test_refresh_ok)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *first = NULL, *body = NULL;

	rig_start(&r, "200 OK", "{\"access_token\":\"at-1\",\"token_type\":"
	          "\"Bearer\",\"expires_in\":\"3599\",\"refresh_token\":"
	          "\"rt-2\",\"scope\":\"mail\"}");
	OAuth2Status st = oauth2_refresh(&r.e, "rt/1=", &t, &err);
	rig_finish(&r, &first, &body);
	ck_assert_msg(st == OAUTH2_OK, "%s", err ? err->message : "");
	ck_assert_str_eq(t.access_token, "at-1");
	ck_assert_str_eq(t.refresh_token, "rt-2");
	ck_assert_int_eq(t.expires_in, 3599);
	ck_assert_str_eq(first, "POST /token HTTP/1.1");
	ck_assert_str_eq(body, "grant_type=refresh_token&client_id=cid&"
	                 "client_secret=s%26cret&refresh_token=rt%2F1%3D&"
	                 "scope=mail%20send");
	oauth2_tokens_clear(&t);
	ck_assert_ptr_null(t.access_token);
}
END_TEST

START_TEST(test_refresh_refused)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;

	rig_start(&r, "400 Bad Request", "{\"error\":\"invalid_grant\","
	          "\"error_description\":\"Token has been expired or "
	          "revoked.\"}");
	OAuth2Status st = oauth2_refresh(&r.e, "rt", &t, &err);
	rig_finish(&r, NULL, NULL);
	ck_assert_int_eq(st, OAUTH2_REFUSED);
	assert_error(err, MF_ERROR_AUTH, "/token refused the refresh token: "
	             "invalid_grant: Token has been expired or revoked.");
	ck_assert_ptr_null(t.access_token);
}
END_TEST

/* Any other refusal is a failure the user must look at, said as is. */
START_TEST(test_refresh_bad_client)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;

	rig_start(&r, "401 Unauthorized", "{\"error\":\"invalid_client\","
	          "\"error_description\":\"bad\\u001b[31m secret\"}");
	OAuth2Status st = oauth2_refresh(&r.e, "rt", &t, &err);
	rig_finish(&r, NULL, NULL);
	ck_assert_int_eq(st, OAUTH2_FAILED);
	assert_error(err, MF_ERROR_AUTH, "invalid_client: bad?[31m secret");
}
END_TEST

START_TEST(test_server_trouble_is_temporary)
{
	static const char *const statuses[] = { "503 Service Unavailable",
	                                        "500 Oops", "429 Slow" };

	for (gsize i = 0; i < G_N_ELEMENTS(statuses); i++) {
		Rig r;
		OAuth2Tokens t = { 0 };
		g_autoptr(GError) err = NULL;

		rig_start(&r, statuses[i], "<html>down</html>");
		ck_assert_int_eq(oauth2_refresh(&r.e, "rt", &t, &err),
		                 OAUTH2_FAILED);
		rig_finish(&r, NULL, NULL);
		assert_error(err, MF_ERROR_CONNECTION, "trying again later");
	}
}
END_TEST

START_TEST(test_redirect_not_followed)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *reply = g_strdup(
		"HTTP/1.1 302 Found\r\nLocation: https://evil.example/token\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n");

	rig_start(&r, "200 OK", "{}");
	g_free(r.reply);
	r.reply = g_steal_pointer(&reply);
	r.s->script = r.reply;
	ck_assert_int_eq(oauth2_refresh(&r.e, "rt", &t, &err), OAUTH2_FAILED);
	rig_finish(&r, NULL, NULL);
	assert_error(err, MF_ERROR_PROTOCOL, "answered HTTP 302 with something "
	             "that is not a JSON object");
}
END_TEST

START_TEST(test_answer_too_large)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;
	g_autoptr(GString) big = g_string_new("{\"access_token\":\"");

	for (int i = 0; i < 70 * 1024; i++)
		g_string_append_c(big, 'a');
	g_string_append(big, "\"}");
	rig_start(&r, "200 OK", big->str);
	ck_assert_int_eq(oauth2_refresh(&r.e, "rt", &t, &err), OAUTH2_FAILED);
	rig_finish(&r, NULL, NULL);
	assert_error(err, MF_ERROR_PROTOCOL, "larger than 64 KiB");
}
END_TEST

START_TEST(test_not_bearer)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;

	rig_start(&r, "200 OK", "{\"access_token\":\"x\",\"token_type\":\"mac\"}");
	ck_assert_int_eq(oauth2_refresh(&r.e, "rt", &t, &err), OAUTH2_FAILED);
	rig_finish(&r, NULL, NULL);
	assert_error(err, MF_ERROR_PROTOCOL, "not a bearer token");
	ck_assert_ptr_null(t.access_token);
}
END_TEST

/* Without ca_file the system store is used, which does not know the
 * server's self-signed certificate. */
START_TEST(test_certificate_checked)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;

	rig_start(&r, "200 OK", "{\"access_token\":\"x\"}");
	r.e.ca_file = NULL;
	ck_assert_int_eq(oauth2_refresh(&r.e, "rt", &t, &err), OAUTH2_FAILED);
	rig_finish(&r, NULL, NULL);
	assert_error(err, MF_ERROR_TLS, "/token: ");
}
END_TEST

START_TEST(test_https_only)
{
	OAuth2Endpoint e = { .token_url = "http://127.0.0.1:1/token",
	                     .client_id = "c", .timeout_ms = 1000 };
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;

	ck_assert_int_eq(oauth2_refresh(&e, "rt", &t, &err), OAUTH2_FAILED);
	assert_error(err, MF_ERROR_CONFIG, "not an https:// URL");
}
END_TEST

START_TEST(test_unreachable)
{
	OAuth2Endpoint e = { .token_url = "https://127.0.0.1:1/token",
	                     .client_id = "c", .timeout_ms = 2000 };
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;

	ck_assert_int_eq(oauth2_refresh(&e, "rt", &t, &err), OAUTH2_FAILED);
	assert_error(err, MF_ERROR_CONNECTION, "https://127.0.0.1:1/token: ");
}
END_TEST

/* Google's answer says verification_url and no interval. */
START_TEST(test_device_start)
{
	Rig r;
	OAuth2DeviceCode d = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *first = NULL, *body = NULL;

	rig_start(&r, "200 OK", "{\"device_code\":\"dc\",\"user_code\":"
	          "\"ABCD-EFGH\",\"verification_url\":\"https://g.co/device\","
	          "\"expires_in\":1800}");
	gboolean ok = oauth2_device_start(&r.e, &d, &err);
	rig_finish(&r, &first, &body);
	ck_assert_msg(ok, "%s", err ? err->message : "");
	ck_assert_str_eq(d.device_code, "dc");
	ck_assert_str_eq(d.user_code, "ABCD-EFGH");
	ck_assert_str_eq(d.verification_uri, "https://g.co/device");
	ck_assert_ptr_null(d.verification_uri_complete);
	ck_assert_int_eq(d.expires_in, 1800);
	ck_assert_int_eq(d.interval, 5);
	ck_assert_str_eq(first, "POST /device HTTP/1.1");
	ck_assert_str_eq(body, "client_id=cid&client_secret=s%26cret&"
	                 "scope=mail%20send");
	oauth2_device_code_clear(&d);
}
END_TEST

static const struct {
	const char *status, *body;
	OAuth2Status want;
	int code; /* of the error, for REFUSED and FAILED */
} polls[] = {
	{ "400 Bad Request", "{\"error\":\"authorization_pending\"}",
	  OAUTH2_PENDING, 0 },
	{ "400 Bad Request", "{\"error\":\"slow_down\"}", OAUTH2_SLOW_DOWN, 0 },
	{ "400 Bad Request", "{\"error\":\"access_denied\"}", OAUTH2_REFUSED,
	  MF_ERROR_AUTH },
	{ "400 Bad Request", "{\"error\":\"expired_token\"}", OAUTH2_REFUSED,
	  MF_ERROR_AUTH },
	{ "400 Bad Request", "{\"error\":\"invalid_scope\"}", OAUTH2_FAILED,
	  MF_ERROR_AUTH },
	{ "200 OK", "{\"access_token\":\"at\",\"refresh_token\":\"rt\","
	  "\"expires_in\":60}", OAUTH2_OK, 0 },
};

START_TEST(test_device_poll)
{
	Rig r;
	OAuth2Tokens t = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *body = NULL;

	rig_start(&r, polls[_i].status, polls[_i].body);
	OAuth2Status st = oauth2_device_poll(&r.e, "dc/1", &t, &err);
	rig_finish(&r, NULL, &body);
	ck_assert_int_eq(st, polls[_i].want);
	ck_assert_str_eq(body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
	                 "grant-type%3Adevice_code&client_id=cid&client_secret="
	                 "s%26cret&device_code=dc%2F1");
	if (polls[_i].code)
		assert_error(err, polls[_i].code, "refused the sign-in");
	else
		ck_assert_ptr_null(err);
	if (st == OAUTH2_OK)
		ck_assert_str_eq(t.refresh_token, "rt");
	oauth2_tokens_clear(&t);
}
END_TEST

START_TEST(test_discover)
{
	Rig r;
	g_autofree char *token = NULL, *device = NULL, *first = NULL;
	g_autoptr(GError) err = NULL;

	rig_start(&r, "200 OK", "{\"issuer\":\"x\",\"token_endpoint\":"
	          "\"https://id.example/t\",\"device_authorization_endpoint\":"
	          "\"https://id.example/d\"}");
	g_autofree char *issuer = g_strdup_printf("https://127.0.0.1:%u/",
	                                          (unsigned)r.s->port);
	gboolean ok = oauth2_discover(issuer, server_cert.pem_path, 5000,
	                              &token, &device, &err);
	rig_finish(&r, &first, NULL);
	ck_assert_msg(ok, "%s", err ? err->message : "");
	ck_assert_str_eq(token, "https://id.example/t");
	ck_assert_str_eq(device, "https://id.example/d");
	ck_assert_str_eq(first, "GET /.well-known/openid-configuration "
	                 "HTTP/1.1");
}
END_TEST

static Suite *
oauth2_suite(void)
{
	Suite *s = suite_create("oauth2");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_refresh_ok);
	tcase_add_test(tc, test_refresh_refused);
	tcase_add_test(tc, test_refresh_bad_client);
	tcase_add_test(tc, test_server_trouble_is_temporary);
	tcase_add_test(tc, test_redirect_not_followed);
	tcase_add_test(tc, test_answer_too_large);
	tcase_add_test(tc, test_not_bearer);
	tcase_add_test(tc, test_certificate_checked);
	tcase_add_test(tc, test_https_only);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_device_start);
	tcase_add_loop_test(tc, test_device_poll, 0, G_N_ELEMENTS(polls));
	tcase_add_test(tc, test_discover);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	fake_cert_init(&server_cert, "localhost", "IP:127.0.0.1", -3600, 86400);
	assert_error_secret = "s&cret";
	return fake_run_suite(oauth2_suite());
}
