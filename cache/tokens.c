/* tokens.c - an account's access tokens: from its command, or renewed at
 * the token endpoint with the stored refresh token (see tokens.h). */
#include "cache/tokens_int.h"

#include <string.h>

#include "cache/command.h"
#include "net/mf_error.h"
#include "net/oauth2.h"

/* An access token is renewed this long before it expires, or within half
 * its lifetime of its end when that is shorter. */
#define TOKENS_MARGIN_MAX_US (60 * G_USEC_PER_SEC)

void
tokens_free(char *token)
{
	command_wipe_free(token);
}

MfTokens *
tokens_new(const MfTokenParams *p)
{
	MfTokens *t = g_new0(MfTokens, 1);

	t->ref = 1;
	g_mutex_init(&t->lock);
	t->account = g_strdup(p->account);
	t->token_command = g_strdup(p->token_command);
	t->issuer = g_strdup(p->issuer);
	t->token_url = g_strdup(p->token_url);
	t->device_url = g_strdup(p->device_url);
	t->client_id = g_strdup(p->client_id);
	t->client_secret_command = g_strdup(p->client_secret_command);
	t->scope = g_strdup(p->scope);
	t->refresh_token_file = g_strdup(p->refresh_token_file);
	t->refresh_token_command = g_strdup(p->refresh_token_command);
	t->ca_file = g_strdup(p->ca_file);
	t->timeout_s = p->timeout_s ? p->timeout_s : 30;
	t->store_name = t->refresh_token_command
	                ? g_strdup("kept by oauth2_refresh_token_command")
	                : g_strdup(t->refresh_token_file);
	t->discovered = t->token_url != NULL;
	return t;
}

MfTokens *
tokens_ref(MfTokens *t)
{
	g_atomic_int_inc(&t->ref);
	return t;
}

/* The access token in hand goes (wiped). */
static void
tokens_forget_locked(MfTokens *t)
{
	command_wipe_free(t->access);
	t->access = NULL;
	t->expires = 0;
}

void
tokens_unref(MfTokens *t)
{
	if (!t || !g_atomic_int_dec_and_test(&t->ref))
		return;
	tokens_forget_locked(t);
	char **strs[] = { &t->account, &t->token_command, &t->issuer,
	                  &t->token_url, &t->device_url, &t->client_id,
	                  &t->client_secret_command, &t->scope,
	                  &t->refresh_token_file, &t->refresh_token_command,
	                  &t->ca_file, &t->store_name, &t->refused,
	                  &t->refused_why };
	for (gsize i = 0; i < G_N_ELEMENTS(strs); i++)
		g_free(*strs[i]);
	g_mutex_clear(&t->lock);
	g_free(t);
}

const char *
tokens_store_name(const MfTokens *t)
{
	return t->store_name;
}

/* --- the endpoint ---------------------------------------------------- */

/* The token endpoint (and the device endpoint), found from the issuer
 * the first time they are needed. */
static gboolean
tokens_endpoints_locked(MfTokens *t, GError **err)
{
	char *token = NULL, *device = NULL;

	if (t->discovered)
		return TRUE;
	if (!oauth2_discover(t->issuer, t->ca_file, (int)t->timeout_s * 1000,
	                     &token, &device, err)) {
		g_prefix_error(err, "cannot find the token endpoint of "
		               "oauth2_issuer: ");
		return FALSE;
	}
	t->token_url = token;
	if (!t->device_url)
		t->device_url = device;
	else
		g_free(device);
	t->discovered = TRUE;
	return TRUE;
}

/* The client secret, when the client has one (run each time, wiped). */
static gboolean
tokens_client_secret(MfTokens *t, char **secret, GError **err)
{
	CommandOptions o = { .timeout_s = t->timeout_s };
	GError *e = NULL;

	*secret = NULL;
	if (!t->client_secret_command)
		return TRUE;
	if (command_run(t->client_secret_command, &o, secret, &e))
		return TRUE;
	e->code = MF_ERROR_AUTH;
	g_propagate_prefixed_error(err, e, "oauth2_client_secret_command ");
	return FALSE;
}

static OAuth2Endpoint
tokens_endpoint(const MfTokens *t, const char *secret)
{
	return (OAuth2Endpoint){
		.token_url = t->token_url, .device_url = t->device_url,
		.client_id = t->client_id, .client_secret = secret,
		.scope = t->scope, .ca_file = t->ca_file,
		.timeout_ms = (int)t->timeout_s * 1000,
	};
}

/* The tokens handed out: the access token is kept with its lifetime, a
 * new refresh token stored. */
static void
tokens_keep_locked(MfTokens *t, OAuth2Tokens *got, const char *old_refresh)
{
	g_autoptr(GError) err = NULL;

	tokens_forget_locked(t);
	t->access = g_steal_pointer(&got->access_token);
	if (got->expires_in > 0) {
		gint64 life = got->expires_in * G_USEC_PER_SEC;
		t->expires = g_get_monotonic_time() + life;
		t->margin = MIN(TOKENS_MARGIN_MAX_US, life / 2);
	}
	g_debug("account %s: new access token, for %" G_GINT64_FORMAT " s",
	        t->account, got->expires_in);
	if (got->refresh_token && g_strcmp0(got->refresh_token, old_refresh) &&
	    !tokens_store_write(t, got->refresh_token, &err))
		g_warning("account %s: the new refresh token the server handed "
		          "out could not be kept: %s", t->account, err->message);
}

static char *
tokens_hash(const char *refresh)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, refresh, -1);
}

/* A refresh token refused before is not sent again: the same error. */
static gboolean
tokens_known_refused_locked(MfTokens *t, const char *hash, GError **err)
{
	if (!t->refused || strcmp(t->refused, hash) != 0)
		return FALSE;
	g_set_error_literal(err, MF_ERROR, MF_ERROR_AUTH, t->refused_why);
	return TRUE;
}

/* The endpoint refused the refresh token of HASH (taken) with ERR: what
 * to do is said, and remembered. */
static void
tokens_note_refused_locked(MfTokens *t, char *hash, GError *err)
{
	char *msg = g_strdup_printf("cannot renew the access token: %s; run "
	                            "`mailfs login %s`", err->message,
	                            t->account);

	g_free(err->message);
	err->message = msg;
	g_free(t->refused);
	g_free(t->refused_why);
	t->refused = hash;
	t->refused_why = g_strdup(msg);
}

/* Trades the stored refresh token for a new access token. */
static gboolean
tokens_renew_locked(MfTokens *t, GError **err)
{
	OAuth2Tokens got = { 0 };
	char *secret = NULL;

	if (!tokens_endpoints_locked(t, err))
		return FALSE;
	char *refresh = tokens_store_read(t, err);
	if (!refresh)
		return FALSE;
	char *hash = tokens_hash(refresh);
	OAuth2Status st = OAUTH2_FAILED;
	gboolean asked = FALSE;
	if (!tokens_known_refused_locked(t, hash, err) &&
	    tokens_client_secret(t, &secret, err)) {
		OAuth2Endpoint e = tokens_endpoint(t, secret);
		st = oauth2_refresh(&e, refresh, &got, err);
		asked = TRUE;
	}
	if (st == OAUTH2_OK)
		tokens_keep_locked(t, &got, refresh);
	if (st == OAUTH2_REFUSED && err && *err)
		tokens_note_refused_locked(t, g_steal_pointer(&hash), *err);
	else if (st == OAUTH2_FAILED && asked)
		g_prefix_error(err, "cannot renew the access token: ");
	g_free(hash);
	tokens_free(secret);
	tokens_free(refresh);
	oauth2_tokens_clear(&got);
	return st == OAUTH2_OK;
}

/* --- tokens for a login ---------------------------------------------- */

static char *
tokens_from_command(MfTokens *t, GError **err)
{
	CommandOptions o = { .timeout_s = t->timeout_s };
	GError *e = NULL;
	char *token = NULL;

	if (command_run(t->token_command, &o, &token, &e))
		return token;
	e->code = MF_ERROR_AUTH;
	g_propagate_prefixed_error(err, e, "oauth2_token_command ");
	return NULL;
}

/* TRUE when the access token in hand is still good to log in with. */
static gboolean
tokens_usable_locked(const MfTokens *t, gint64 now, gint64 margin)
{
	return t->access && (t->expires == 0 || now < t->expires - margin);
}

/* The token endpoint is down, but the token in hand has not expired: it
 * is used while it lasts, said once. */
static char *
tokens_while_down_locked(MfTokens *t, GError *why)
{
	gint64 left = (t->expires - g_get_monotonic_time()) / G_USEC_PER_SEC;

	if (!t->warned_down)
		g_warning("account %s: %s; the access token in hand is used "
		          "while it lasts (%" G_GINT64_FORMAT " s)", t->account,
		          why->message, left);
	t->warned_down = TRUE;
	return g_strdup(t->access);
}

char *
tokens_get(MfTokens *t, gboolean *fresh, GError **err)
{
	gboolean made = TRUE;
	char *token = NULL;
	GError *e = NULL;

	if (t->token_command) {
		token = tokens_from_command(t, err);
		goto out;
	}
	g_mutex_lock(&t->lock);
	gint64 now = g_get_monotonic_time();
	if (tokens_usable_locked(t, now, t->margin)) {
		made = FALSE;
		token = g_strdup(t->access);
	} else if (tokens_renew_locked(t, &e)) {
		t->warned_down = FALSE;
		token = g_strdup(t->access);
	} else if (mf_error_is_transient(e) && tokens_usable_locked(t, now, 0)) {
		made = FALSE;
		token = tokens_while_down_locked(t, e);
		g_clear_error(&e);
	}
	g_mutex_unlock(&t->lock);
	if (e)
		g_propagate_error(err, e);
out:
	if (token && fresh)
		*fresh = made;
	return token;
}

void
tokens_refused(MfTokens *t, const char *token)
{
	g_mutex_lock(&t->lock);
	if (t->access && strcmp(t->access, token) == 0)
		tokens_forget_locked(t);
	g_mutex_unlock(&t->lock);
}

gboolean
tokens_use(MfTokens *t, MfTokenLoginFn login, void *ud, GError **err)
{
	gboolean fresh = TRUE;
	char *token = tokens_get(t, &fresh, err);
	GError *e = NULL;

	if (!token)
		return FALSE;
	gboolean ok = login(token, ud, &e);
	if (!ok && e->code == MF_ERROR_AUTH && !fresh) {
		g_debug("account %s: the server refused the access token (%s); "
		        "getting a new one", t->account, e->message);
		tokens_refused(t, token);
		GError *why = NULL;
		char *again = tokens_get(t, NULL, &why);
		if (!again) {
			/* why it cannot be renewed says more */
			g_clear_error(&e);
			e = why;
		} else if (strcmp(again, token) != 0) {
			g_clear_error(&e);
			ok = login(again, ud, &e);
		}
		tokens_free(again);
	}
	tokens_free(token);
	if (!ok)
		g_propagate_error(err, e);
	return ok;
}

/* --- mailfs login ---------------------------------------------------- */

/* Asks every interval whether the user approved D, until the code
 * expires; *GOT gets the tokens. */
static gboolean
tokens_poll(MfTokens *t, const OAuth2Endpoint *e, const OAuth2DeviceCode *d,
            OAuth2Tokens *got, GError **err)
{
	gint64 end = g_get_monotonic_time() + d->expires_in * G_USEC_PER_SEC;
	gint64 interval = d->interval;

	for (;;) {
		g_usleep((gulong)(interval * G_USEC_PER_SEC));
		if (g_get_monotonic_time() > end) {
			g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
			            "the code expired before the sign-in was "
			            "approved; run `mailfs login %s` again",
			            t->account);
			return FALSE;
		}
		OAuth2Status st = oauth2_device_poll(e, d->device_code, got, err);
		if (st == OAUTH2_OK)
			return TRUE;
		if (st == OAUTH2_SLOW_DOWN)
			interval += 5;
		else if (st != OAUTH2_PENDING)
			return FALSE;
	}
}

/* The device grant with the endpoint E; *GOT gets the tokens. */
static gboolean
tokens_device_grant(MfTokens *t, const OAuth2Endpoint *e, MfSignInFn show,
                    void *ud, OAuth2Tokens *got, GError **err)
{
	OAuth2DeviceCode d = { 0 };

	if (!oauth2_device_start(e, &d, err))
		return FALSE;
	MfSignIn s = { .user_code = d.user_code,
	               .verification_uri = d.verification_uri,
	               .verification_uri_complete = d.verification_uri_complete,
	               .expires_in = d.expires_in };
	show(&s, ud);
	gboolean ok = tokens_poll(t, e, &d, got, err);
	oauth2_device_code_clear(&d);
	if (ok && !got->refresh_token) {
		g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
		            "the sign-in was approved, but %s handed out no "
		            "refresh token (does oauth2_scope ask for offline "
		            "access?)", e->token_url);
		ok = FALSE;
	}
	return ok;
}

static gboolean
tokens_can_sign_in(MfTokens *t, GError **err)
{
	const char *why = NULL;

	if (t->token_command)
		why = "gets its tokens from oauth2_token_command: there is "
		      "nothing to sign in to";
	else if (!t->device_url)
		why = "has no device authorization endpoint (oauth2_device_url, "
		      "or an oauth2_issuer that names one)";
	if (!why)
		return TRUE;
	mf_error_config(err, "account %s %s", t->account,
	                why);
	return FALSE;
}

gboolean
tokens_sign_in(MfTokens *t, MfSignInFn show, void *ud, GError **err)
{
	OAuth2Tokens got = { 0 };
	char *secret = NULL;
	gboolean ok = FALSE;

	g_mutex_lock(&t->lock);
	if (!t->token_command && !tokens_endpoints_locked(t, err))
		goto out;
	if (!tokens_can_sign_in(t, err) ||
	    !tokens_client_secret(t, &secret, err))
		goto out;
	OAuth2Endpoint e = tokens_endpoint(t, secret);
	ok = tokens_device_grant(t, &e, show, ud, &got, err) &&
	     tokens_store_write(t, got.refresh_token, err);
	if (ok) {
		tokens_keep_locked(t, &got, got.refresh_token);
		g_clear_pointer(&t->refused, g_free);
	}
out:
	g_mutex_unlock(&t->lock);
	tokens_free(secret);
	oauth2_tokens_clear(&got);
	return ok;
}
