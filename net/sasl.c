/* sasl.c - SASL PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER: the choice of a
 * mechanism, the client's messages, and the servers' OAuth errors. */
#include "net/sasl.h"

#include <string.h>

#include "net/json.h"
#include "net/mf_error.h"

/* Longest value of the server's error shown in a problem line. */
#define SASL_SHOWN_MAX 120

static const char *const mech_names[] = {
	[SASL_NONE] = "none", [SASL_PLAIN] = "PLAIN", [SASL_LOGIN] = "LOGIN",
	[SASL_XOAUTH2] = "XOAUTH2", [SASL_OAUTHBEARER] = "OAUTHBEARER",
};

static const struct {
	const char *name;
	SaslAuth auth;
} auth_names[] = {
	{ "password", SASL_AUTH_PASSWORD }, { "oauth2", SASL_AUTH_OAUTH2 },
	{ "plain", SASL_AUTH_PLAIN }, { "login", SASL_AUTH_LOGIN },
	{ "xoauth2", SASL_AUTH_XOAUTH2 },
	{ "oauthbearer", SASL_AUTH_OAUTHBEARER },
};

static const char *
sasl_auth_name(SaslAuth auth)
{
	for (gsize i = 0; i < G_N_ELEMENTS(auth_names); i++)
		if (auth_names[i].auth == auth)
			return auth_names[i].name;
	return "?";
}

const char *
sasl_mech_name(SaslMech m)
{
	return mech_names[m];
}

SaslMech
sasl_mech_from_name(const char *name)
{
	for (guint m = SASL_PLAIN; m <= SASL_OAUTHBEARER; m++)
		if (g_ascii_strcasecmp(name, mech_names[m]) == 0)
			return (SaslMech)m;
	return SASL_NONE;
}

gboolean
sasl_auth_from_name(const char *name, SaslAuth *out)
{
	for (gsize i = 0; i < G_N_ELEMENTS(auth_names); i++) {
		if (g_ascii_strcasecmp(name, auth_names[i].name) == 0) {
			*out = auth_names[i].auth;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
sasl_auth_is_oauth2(SaslAuth auth)
{
	return auth == SASL_AUTH_OAUTH2 || auth == SASL_AUTH_XOAUTH2 ||
	       auth == SASL_AUTH_OAUTHBEARER;
}

/* The first of A, B that OFFERED holds, or SASL_NONE. */
static SaslMech
sasl_first(guint offered, SaslMech a, SaslMech b)
{
	if (offered & SASL_BIT(a))
		return a;
	if (b != SASL_NONE && (offered & SASL_BIT(b)))
		return b;
	return SASL_NONE;
}

static gboolean
sasl_impossible(GError **err, const char *what)
{
	g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
	            "authentication impossible: server offers %s", what);
	return FALSE;
}

gboolean
sasl_choose(guint offered, SaslAuth auth, gboolean own_login, SaslMech *out,
            GError **err)
{
	static const SaslMech exact[] = {
		[SASL_AUTH_PLAIN] = SASL_PLAIN, [SASL_AUTH_LOGIN] = SASL_LOGIN,
		[SASL_AUTH_XOAUTH2] = SASL_XOAUTH2,
		[SASL_AUTH_OAUTHBEARER] = SASL_OAUTHBEARER,
	};
	SaslMech m;

	switch (auth) {
	case SASL_AUTH_PASSWORD:
		m = sasl_first(offered, SASL_PLAIN, own_login ? SASL_NONE
		                                              : SASL_LOGIN);
		if (m == SASL_NONE && !own_login)
			return sasl_impossible(err, "neither AUTH PLAIN nor "
			                       "AUTH LOGIN");
		break;
	case SASL_AUTH_OAUTH2:
		m = sasl_first(offered, SASL_OAUTHBEARER, SASL_XOAUTH2);
		if (m == SASL_NONE)
			return sasl_impossible(err, "neither OAUTHBEARER nor "
			                       "XOAUTH2 (auth = oauth2)");
		break;
	default:
		m = exact[auth];
		if (!(offered & SASL_BIT(m))) {
			g_autofree char *what = g_strdup_printf(
				"no %s (auth = %s)", mech_names[m],
				sasl_auth_name(auth));
			return sasl_impossible(err, what);
		}
		break;
	}
	*out = m;
	return TRUE;
}

/* --- the exchange ------------------------------------------------------ */

struct SaslExchange {
	SaslMech mech;
	GString *msg[2];   /* the client's messages, in order */
	guint n_msgs;
	guint sent;        /* how many of them went out */
	gboolean answered; /* the OAuth error challenge was answered */
	char *out;         /* the last answer (base64) */
	char *problem;
};

static void
sasl_wipe_string(GString *s)
{
	if (!s)
		return;
	explicit_bzero(s->str, s->allocated_len);
	g_string_free(s, TRUE);
}

static void
sasl_wipe(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

void
sasl_exchange_free(SaslExchange *x)
{
	if (!x)
		return;
	for (guint i = 0; i < x->n_msgs; i++)
		sasl_wipe_string(x->msg[i]);
	sasl_wipe(x->out);
	g_free(x->problem);
	g_free(x);
}

SaslMech
sasl_exchange_mech(const SaslExchange *x)
{
	return x->mech;
}

/* A bearer token (RFC 6750 b64token is narrower): printable ASCII, no
 * space, and none of the separators of the two messages. */
static gboolean
sasl_token_ok(const char *t)
{
	for (; *t; t++)
		if ((guchar)*t <= 0x20 || (guchar)*t >= 0x7f)
			return FALSE;
	return TRUE;
}

static gboolean
sasl_has_control(const char *s)
{
	for (; *s; s++)
		if ((guchar)*s < 0x20 || *s == 0x7f)
			return TRUE;
	return FALSE;
}

static gboolean
sasl_check(SaslMech mech, const char *user, const char *secret,
           GError **err)
{
	const char *why = NULL;
	gboolean oauth = mech == SASL_XOAUTH2 || mech == SASL_OAUTHBEARER;

	if (!*user)
		why = "the user name is empty";
	else if (oauth && !*secret)
		why = "the access token is empty";
	else if (oauth && !sasl_token_ok(secret))
		why = "the access token holds spaces or characters that are not "
		      "printable ASCII";
	else if (oauth && sasl_has_control(user))
		why = "the user name holds a control character";
	if (!why)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
	            "authentication impossible: %s", why);
	return FALSE;
}

/* RFC 7628 3.1 (RFC 5801 saslname): ',' and '=' escaped. */
static void
sasl_append_saslname(GString *s, const char *user)
{
	for (const char *p = user; *p; p++) {
		if (*p == ',')
			g_string_append(s, "=2C");
		else if (*p == '=')
			g_string_append(s, "=3D");
		else
			g_string_append_c(s, *p);
	}
}

static GString *
sasl_message_oauthbearer(const char *user, const char *token,
                         const char *host, guint port)
{
	GString *s = g_string_sized_new(256);

	g_string_append(s, "n,a=");
	sasl_append_saslname(s, user);
	g_string_append(s, ",\001");
	if (host && port)
		g_string_append_printf(s, "host=%s\001port=%u\001", host, port);
	g_string_append_printf(s, "auth=Bearer %s\001\001", token);
	return s;
}

/* The messages of MECH, in order, into X. */
static void
sasl_make_messages(SaslExchange *x, const char *user, const char *secret,
                   const char *host, guint port)
{
	GString *s;

	switch (x->mech) {
	case SASL_PLAIN:
		s = g_string_sized_new(strlen(user) + strlen(secret) + 2);
		g_string_append_c(s, '\0');
		g_string_append(s, user);
		g_string_append_c(s, '\0');
		g_string_append(s, secret);
		x->msg[x->n_msgs++] = s;
		break;
	case SASL_LOGIN:
		x->msg[x->n_msgs++] = g_string_new(user);
		x->msg[x->n_msgs++] = g_string_new(secret);
		break;
	case SASL_XOAUTH2:
		s = g_string_sized_new(256);
		g_string_append_printf(s, "user=%s\001auth=Bearer %s\001\001",
		                       user, secret);
		x->msg[x->n_msgs++] = s;
		break;
	case SASL_OAUTHBEARER:
		x->msg[x->n_msgs++] =
			sasl_message_oauthbearer(user, secret, host, port);
		break;
	case SASL_NONE:
		g_assert_not_reached();
	}
}

SaslExchange *
sasl_exchange_new(SaslMech mech, const char *user, const char *secret,
                  const char *host, guint port, GError **err)
{
	g_return_val_if_fail(mech != SASL_NONE, NULL);
	if (!sasl_check(mech, user, secret, err))
		return NULL;
	SaslExchange *x = g_new0(SaslExchange, 1);
	x->mech = mech;
	sasl_make_messages(x, user, secret, host, port);
	return x;
}

/* X->out becomes the base64 of DATA, LEN; the old answer is wiped. */
static const char *
sasl_answer(SaslExchange *x, const char *data, size_t len)
{
	sasl_wipe(x->out);
	x->out = g_base64_encode((const guchar *)data, len);
	return x->out;
}

const char *
sasl_exchange_initial(SaslExchange *x, size_t max)
{
	if (x->mech == SASL_LOGIN || x->sent > 0)
		return NULL;
	/* base64 makes 4 bytes of every 3 */
	if (max && (x->msg[0]->len + 2) / 3 * 4 > max)
		return NULL;
	x->sent = 1;
	return sasl_answer(x, x->msg[0]->str, x->msg[0]->len);
}

const char *
sasl_exchange_respond(SaslExchange *x, const char *challenge)
{
	gboolean oauth = x->mech == SASL_XOAUTH2 ||
	                 x->mech == SASL_OAUTHBEARER;

	if (x->sent < x->n_msgs) {
		const GString *m = x->msg[x->sent++];
		return sasl_answer(x, m->str, m->len);
	}
	if (!oauth || x->answered)
		return NULL;
	/* The error report of RFC 7628 3.2.2: answered so that the server
	 * can fail the command. */
	x->answered = TRUE;
	g_free(x->problem);
	x->problem = sasl_oauth_problem(challenge);
	return x->mech == SASL_XOAUTH2 ? sasl_answer(x, "", 0)
	                               : sasl_answer(x, "\001", 1);
}

const char *
sasl_exchange_problem(const SaslExchange *x)
{
	return x->problem;
}

void
sasl_exchange_explain(const SaslExchange *x, GError *err)
{
	if (!err || !x->problem)
		return;
	char *msg = g_strdup_printf("%s (OAuth error: %s)", err->message,
	                            x->problem);
	g_free(err->message);
	err->message = msg;
}

/* --- the servers' OAuth errors ----------------------------------------- */

/* Appends S (LEN bytes) with every byte outside printable ASCII as '?',
 * cut to SASL_SHOWN_MAX. */
static void
sasl_append_shown(GString *out, const char *s, size_t len)
{
	size_t n = MIN(len, SASL_SHOWN_MAX);

	for (size_t i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		g_string_append_c(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (len > n)
		g_string_append(out, "...");
}

static gboolean
sasl_is_base64(const char *s, size_t len)
{
	size_t pad = 0;

	if (len % 4 != 0)
		return FALSE;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || !(g_ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '/'))
			return FALSE;
	}
	return pad <= 2;
}

static char *
sasl_unreadable(const char *why, const char *s, size_t len)
{
	GString *out = g_string_new("an error the server sent ");

	g_string_append(out, why);
	if (len) {
		g_string_append(out, ": ");
		sasl_append_shown(out, s, len);
	}
	return g_string_free(out, FALSE);
}

/* What a status of RFC 7628 3.2.2 (RFC 6750 error codes, or the HTTP
 * status Gmail and Dovecot send) means. */
static const char *
sasl_status_meaning(const char *status)
{
	static const struct {
		const char *status;
		const char *meaning;
	} table[] = {
		{ "invalid_token", "invalid or expired token" },
		{ "401", "invalid or expired token" },
		{ "insufficient_scope", "scope missing" },
		{ "403", "scope missing" },
		{ "invalid_request", "invalid request" },
		{ "400", "invalid request" },
	};

	for (gsize i = 0; status && i < G_N_ELEMENTS(table); i++)
		if (g_ascii_strcasecmp(status, table[i].status) == 0)
			return table[i].meaning;
	return "token refused";
}

/* The text of member KEY of O when it is a string or a number. */
static const char *
sasl_member_text(const JsonObject *o, const char *key)
{
	for (guint i = 0; i < json_object_size(o); i++) {
		JsonKind kind;
		const char *value = NULL;
		const char *k = json_object_key_at(o, i, &kind, &value);
		if (strcmp(k, key) == 0)
			return kind == JSON_STRING || kind == JSON_NUMBER ? value
			                                                  : NULL;
	}
	return NULL;
}

static char *
sasl_describe(const JsonObject *o)
{
	const char *status = sasl_member_text(o, "status");
	const char *scope = sasl_member_text(o, "scope");
	GString *out = g_string_new(sasl_status_meaning(status));

	if (!status && !scope)
		return g_string_free(out, FALSE);
	g_string_append(out, " (");
	if (status) {
		g_string_append(out, "status ");
		sasl_append_shown(out, status, strlen(status));
	}
	if (scope) {
		g_string_append(out, status ? ", scope " : "scope ");
		sasl_append_shown(out, scope, strlen(scope));
	}
	g_string_append_c(out, ')');
	return g_string_free(out, FALSE);
}

char *
sasl_oauth_problem(const char *challenge)
{
	size_t len = strlen(challenge);

	while (len > 0 && challenge[len - 1] == ' ')
		len--;
	if (len == 0)
		return g_strdup("token refused (the server gave no reason)");
	if (!sasl_is_base64(challenge, len))
		return sasl_unreadable("is not base64", challenge, len);
	g_autofree char *b64 = g_strndup(challenge, len);
	gsize n = 0;
	g_autofree guchar *raw = g_base64_decode(b64, &n);
	g_autoptr(JsonObject) o = json_object_parse((const char *)raw, n, NULL);
	if (!o)
		return sasl_unreadable("is not a JSON object",
		                       (const char *)raw, n);
	return sasl_describe(o);
}
