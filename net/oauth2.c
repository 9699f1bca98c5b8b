/* oauth2.c - requests to OAuth 2.0 endpoints through libcurl: discovery,
 * the device grant and the refresh grant (see oauth2.h). */
#include "net/oauth2.h"

#include <curl/curl.h>
#include <string.h>

#include "net/json.h"
#include "net/mf_error.h"

#define OAUTH2_DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
/* Longest piece of a server's error text shown in a message. */
#define OAUTH2_SHOWN_MAX 200

static void
oauth2_wipe(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

void
oauth2_tokens_clear(OAuth2Tokens *t)
{
	oauth2_wipe(t->access_token);
	oauth2_wipe(t->refresh_token);
	memset(t, 0, sizeof *t);
}

void
oauth2_device_code_clear(OAuth2DeviceCode *d)
{
	oauth2_wipe(d->device_code);
	g_free(d->user_code);
	g_free(d->verification_uri);
	g_free(d->verification_uri_complete);
	memset(d, 0, sizeof *d);
}

/* --- one HTTPS request ------------------------------------------------- */

/* libcurl's global set-up, once, before the first handle. */
static gpointer
oauth2_global_init(gpointer unused)
{
	return GINT_TO_POINTER(curl_global_init(CURL_GLOBAL_DEFAULT) ==
	                       CURLE_OK);
}

static gboolean
oauth2_curl_ready(GError **err)
{
	static GOnce once = G_ONCE_INIT;

	if (GPOINTER_TO_INT(g_once(&once, oauth2_global_init, NULL)))
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
	            "cannot set up libcurl for HTTPS");
	return FALSE;
}

/* An endpoint's answer. */
typedef struct {
	long status;
	GByteArray *body;
	gboolean too_big;
} OAuth2Answer;

static void
oauth2_answer_clear(OAuth2Answer *a)
{
	if (a->body && a->body->len)
		explicit_bzero(a->body->data, a->body->len);
	if (a->body)
		g_byte_array_unref(a->body);
	memset(a, 0, sizeof *a);
}

static size_t
oauth2_write_cb(char *data, size_t size, size_t n, void *ud)
{
	OAuth2Answer *a = ud;
	size_t len = size * n;

	if (a->body->len + len > OAUTH2_ANSWER_MAX) {
		a->too_big = TRUE;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	g_byte_array_append(a->body, (const guint8 *)data, (guint)len);
	return len;
}

static gboolean
oauth2_check_url(const char *url, GError **err)
{
	if (g_ascii_strncasecmp(url, "https://", 8) == 0 && url[8])
		return TRUE;
	mf_error_config(err, "%s: not an https:// URL (tokens go over HTTPS "
	                "only)", url);
	return FALSE;
}

/* The connection's rules: HTTPS, no redirects, certificates as for the
 * mail connections, the timeout, and where the answer goes. */
static void
oauth2_setup(CURL *h, const char *url, const char *ca_file, int timeout_ms,
             OAuth2Answer *a, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file) {
		/* like the mail connections: instead of the system store */
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mailfs/" MAILFS_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, oauth2_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

/* The error of a request to URL that ended with RC. */
static void
oauth2_curl_error(const char *url, CURLcode rc, const char *errbuf,
                  const OAuth2Answer *a, GError **err)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	int code = MF_ERROR_CONNECTION;

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ISSUER_ERROR:
		code = MF_ERROR_TLS;
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		code = MF_ERROR_CONFIG;
		break;
	case CURLE_WRITE_ERROR:
		if (a->too_big) {
			code = MF_ERROR_PROTOCOL;
			why = "the answer is larger than 64 KiB";
		}
		break;
	default:
		break;
	}
	g_set_error(err, MF_ERROR, code, "%s: %s", url, why);
}

/* GETs URL, or POSTs the form POST to it; *A gets the status and body. */
static gboolean
oauth2_request(const char *url, const char *ca_file, int timeout_ms,
               const char *post, OAuth2Answer *a, GError **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = curl_slist_append(NULL,
	                                            "Accept: application/json");

	if (!oauth2_check_url(url, err) || !oauth2_curl_ready(err)) {
		curl_slist_free_all(hdrs);
		return FALSE;
	}
	CURL *h = curl_easy_init();
	a->body = g_byte_array_new();
	oauth2_setup(h, url, ca_file, timeout_ms, a, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (post) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	else
		oauth2_curl_error(url, rc, errbuf, a, err);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK;
}

/* --- forms and answers ------------------------------------------------- */

/* Adds KEY=VALUE (URL-encoded) to FORM; the copy libcurl made is wiped. */
static void
oauth2_form_add(GString *form, const char *key, const char *value)
{
	if (!value)
		return;
	char *enc = curl_easy_escape(NULL, value, 0);

	g_string_append_printf(form, "%s%s=%s", form->len ? "&" : "", key,
	                       enc ? enc : "");
	if (enc) {
		explicit_bzero(enc, strlen(enc));
		curl_free(enc);
	}
}

/* The client's own fields: client_id, client_secret (a confidential
 * client, RFC 6749 2.3.1 in the body) and the scope. */
static GString *
oauth2_form_new(const OAuth2Endpoint *e, const char *grant)
{
	GString *form = g_string_sized_new(512);

	oauth2_form_add(form, "grant_type", grant);
	oauth2_form_add(form, "client_id", e->client_id);
	oauth2_form_add(form, "client_secret", e->client_secret);
	return form;
}

static void
oauth2_form_free(GString *form)
{
	explicit_bzero(form->str, form->allocated_len);
	g_string_free(form, TRUE);
}

/* POSTs FORM to URL for GRANT (named in the trace) and wipes it. */
static gboolean
oauth2_post(const OAuth2Endpoint *e, const char *url, const char *grant,
            GString *form, OAuth2Answer *a, GError **err)
{
	gboolean ok = oauth2_request(url, e->ca_file, e->timeout_ms, form->str,
	                             a, err);

	oauth2_form_free(form);
	g_debug("oauth2: POST %s (%s): %s%ld", url, grant,
	        ok ? "HTTP " : "failed", ok ? a->status : 0L);
	return ok;
}

/* Appends LEN bytes of S with every byte outside printable ASCII as '?',
 * cut to OAUTH2_SHOWN_MAX. */
static void
oauth2_append_shown(GString *out, const char *s)
{
	size_t len = strlen(s), n = MIN(len, OAUTH2_SHOWN_MAX);

	for (size_t i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		g_string_append_c(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (len > n)
		g_string_append(out, "...");
}

/* The answer as a JSON object. */
static JsonObject *
oauth2_answer_json(const char *url, const OAuth2Answer *a, GError **err)
{
	JsonObject *o = json_object_parse((const char *)a->body->data,
	                                  a->body->len, NULL);

	if (!o)
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: answered HTTP %ld with something that is not "
		            "a JSON object", url, a->status);
	return o;
}

/* ERR from an OAuth error answer O (RFC 6749 5.2): "URL refused WHAT:
 * error: description". */
static void
oauth2_refusal(const char *url, const char *what, const JsonObject *o,
               GError **err)
{
	const char *error = json_object_string(o, "error");
	const char *desc = json_object_string(o, "error_description");
	g_autoptr(GString) msg = g_string_new(NULL);

	g_string_append_printf(msg, "%s refused %s: ", url, what);
	oauth2_append_shown(msg, error ? error : "(no error code)");
	if (desc) {
		g_string_append(msg, ": ");
		oauth2_append_shown(msg, desc);
	}
	g_set_error_literal(err, MF_ERROR, MF_ERROR_AUTH, msg->str);
}

/* The status an error answer's code ERROR means for a grant. */
static OAuth2Status
oauth2_error_status(const char *error, gboolean device)
{
	static const char *const refused[] = { "invalid_grant", "access_denied",
	                                       "expired_token" };

	if (!error)
		return OAUTH2_FAILED;
	if (device && strcmp(error, "authorization_pending") == 0)
		return OAUTH2_PENDING;
	if (device && strcmp(error, "slow_down") == 0)
		return OAUTH2_SLOW_DOWN;
	for (gsize i = 0; i < G_N_ELEMENTS(refused); i++)
		if (strcmp(error, refused[i]) == 0 && (device || i == 0))
			return OAUTH2_REFUSED;
	return OAUTH2_FAILED;
}

/* An answer that is not a success: the server's trouble (try later) or a
 * refusal. */
static OAuth2Status
oauth2_judge_failure(const char *url, const char *what, const OAuth2Answer *a,
                     gboolean device, GError **err)
{
	if (a->status >= 500 || a->status == 429) {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: answered HTTP %ld; trying again later", url,
		            a->status);
		return OAUTH2_FAILED;
	}
	g_autoptr(JsonObject) o = oauth2_answer_json(url, a, err);
	if (!o)
		return OAUTH2_FAILED;
	OAuth2Status st = oauth2_error_status(json_object_string(o, "error"),
	                                      device);
	if (st == OAUTH2_PENDING || st == OAUTH2_SLOW_DOWN)
		return st;
	oauth2_refusal(url, what, o, err);
	return st;
}

/* The tokens of a success answer O. */
static gboolean
oauth2_read_tokens(const char *url, const JsonObject *o, OAuth2Tokens *out,
                   GError **err)
{
	const char *at = json_object_string(o, "access_token");
	const char *type = json_object_string(o, "token_type");
	const char *rt = json_object_string(o, "refresh_token");
	gint64 expires = 0;

	if (!at || !*at) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: the answer holds no access_token", url);
		return FALSE;
	}
	if (type && g_ascii_strcasecmp(type, "bearer") != 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: the token is not a bearer token", url);
		return FALSE;
	}
	if (json_object_has(o, "expires_in", NULL) &&
	    (!json_object_int(o, "expires_in", &expires) || expires < 0)) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: expires_in is not a number of seconds", url);
		return FALSE;
	}
	out->access_token = g_strdup(at);
	out->refresh_token = rt && *rt ? g_strdup(rt) : NULL;
	out->expires_in = expires;
	return TRUE;
}

/* POSTs FORM (taken) for tokens and judges the answer. */
static OAuth2Status
oauth2_token_request(const OAuth2Endpoint *e, const char *grant,
                     const char *what, GString *form, OAuth2Tokens *out,
                     GError **err)
{
	OAuth2Answer a = { 0 };
	OAuth2Status st = OAUTH2_FAILED;
	gboolean device = strcmp(grant, OAUTH2_DEVICE_GRANT) == 0;

	if (!oauth2_post(e, e->token_url, grant, form, &a, err))
		goto out;
	if (a.status != 200) {
		st = oauth2_judge_failure(e->token_url, what, &a, device, err);
		goto out;
	}
	JsonObject *o = oauth2_answer_json(e->token_url, &a, err);
	if (o && oauth2_read_tokens(e->token_url, o, out, err))
		st = OAUTH2_OK;
	json_object_free(o);
out:
	oauth2_answer_clear(&a);
	return st;
}

/* --- the grants -------------------------------------------------------- */

OAuth2Status
oauth2_refresh(const OAuth2Endpoint *e, const char *refresh_token,
               OAuth2Tokens *out, GError **err)
{
	GString *form = oauth2_form_new(e, "refresh_token");

	oauth2_form_add(form, "refresh_token", refresh_token);
	oauth2_form_add(form, "scope", e->scope);
	return oauth2_token_request(e, "refresh_token", "the refresh token",
	                            form, out, err);
}

OAuth2Status
oauth2_device_poll(const OAuth2Endpoint *e, const char *device_code,
                   OAuth2Tokens *out, GError **err)
{
	GString *form = oauth2_form_new(e, OAUTH2_DEVICE_GRANT);

	oauth2_form_add(form, "device_code", device_code);
	return oauth2_token_request(e, OAUTH2_DEVICE_GRANT, "the sign-in", form,
	                            out, err);
}

/* The codes of a success answer O of the device endpoint URL. */
static gboolean
oauth2_read_device_code(const char *url, const JsonObject *o,
                        OAuth2DeviceCode *out, GError **err)
{
	const char *dc = json_object_string(o, "device_code");
	const char *uc = json_object_string(o, "user_code");
	/* Google says verification_url */
	const char *uri = json_object_string(o, "verification_uri");
	const char *full = json_object_string(o, "verification_uri_complete");
	gint64 expires = 0, interval = 5;

	if (!uri)
		uri = json_object_string(o, "verification_url");
	if (!dc || !uc || !uri || !json_object_int(o, "expires_in", &expires) ||
	    (json_object_has(o, "interval", NULL) &&
	     !json_object_int(o, "interval", &interval))) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: the answer lacks device_code, user_code, "
		            "verification_uri or expires_in", url);
		return FALSE;
	}
	out->device_code = g_strdup(dc);
	out->user_code = g_strdup(uc);
	out->verification_uri = g_strdup(uri);
	out->verification_uri_complete = g_strdup(full);
	out->expires_in = expires;
	out->interval = CLAMP(interval, 1, 60);
	return TRUE;
}

gboolean
oauth2_device_start(const OAuth2Endpoint *e, OAuth2DeviceCode *out,
                    GError **err)
{
	GString *form = g_string_sized_new(256);
	OAuth2Answer a = { 0 };
	gboolean ok = FALSE;

	g_return_val_if_fail(e->device_url != NULL, FALSE);
	oauth2_form_add(form, "client_id", e->client_id);
	oauth2_form_add(form, "client_secret", e->client_secret);
	oauth2_form_add(form, "scope", e->scope);
	if (!oauth2_post(e, e->device_url, "device_authorization", form, &a,
	                 err))
		goto out;
	if (a.status != 200) {
		oauth2_judge_failure(e->device_url, "the device authorization",
		                     &a, FALSE, err);
		goto out;
	}
	JsonObject *o = oauth2_answer_json(e->device_url, &a, err);
	ok = o && oauth2_read_device_code(e->device_url, o, out, err);
	json_object_free(o);
out:
	oauth2_answer_clear(&a);
	return ok;
}

/* --- discovery --------------------------------------------------------- */

/* The metadata document at URL, or NULL; *MISSING when it answered 404. */
static JsonObject *
oauth2_metadata(const char *url, const char *ca_file, int timeout_ms,
                gboolean *missing, GError **err)
{
	OAuth2Answer a = { 0 };
	JsonObject *o = NULL;

	*missing = FALSE;
	if (oauth2_request(url, ca_file, timeout_ms, NULL, &a, err)) {
		g_debug("oauth2: GET %s: HTTP %ld", url, a.status);
		*missing = a.status == 404;
		if (a.status == 200)
			o = oauth2_answer_json(url, &a, err);
		else
			g_set_error(err, MF_ERROR, a.status >= 500
			            ? MF_ERROR_CONNECTION : MF_ERROR_CONFIG,
			            "%s: answered HTTP %ld", url, a.status);
	}
	oauth2_answer_clear(&a);
	return o;
}

/* RFC 8414 3: "https://host/.well-known/oauth-authorization-server/path". */
static char *
oauth2_rfc8414_url(const char *issuer)
{
	const char *host = issuer + strlen("https://");
	const char *path = strchr(host, '/');

	if (!path)
		return g_strdup_printf("%s/.well-known/oauth-authorization-server",
		                       issuer);
	return g_strdup_printf("https://%.*s/.well-known/"
	                       "oauth-authorization-server%s",
	                       (int)(path - host), host, path);
}

gboolean
oauth2_discover(const char *issuer, const char *ca_file, int timeout_ms,
                char **token_url, char **device_url, GError **err)
{
	g_autofree char *base = g_strdup(issuer);
	gboolean missing;

	if (!oauth2_check_url(issuer, err))
		return FALSE;
	while (g_str_has_suffix(base, "/"))
		base[strlen(base) - 1] = '\0';
	g_autofree char *oidc = g_strdup_printf(
		"%s/.well-known/openid-configuration", base);
	g_autoptr(JsonObject) o = oauth2_metadata(oidc, ca_file, timeout_ms,
	                                          &missing, err);
	if (!o && missing) {
		g_autofree char *url = oauth2_rfc8414_url(base);
		g_clear_error(err);
		o = oauth2_metadata(url, ca_file, timeout_ms, &missing, err);
	}
	if (!o)
		return FALSE;
	const char *token = json_object_string(o, "token_endpoint");
	if (!token) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: the issuer's metadata name no token_endpoint",
		            issuer);
		return FALSE;
	}
	*token_url = g_strdup(token);
	*device_url = g_strdup(json_object_string(
		o, "device_authorization_endpoint"));
	return TRUE;
}
