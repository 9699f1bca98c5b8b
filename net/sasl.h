/* sasl.h - the SASL mechanisms the IMAP, POP3 and SMTP clients log in with:
 * PLAIN (RFC 4616), LOGIN, XOAUTH2 (Google's and Microsoft's) and
 * OAUTHBEARER (RFC 7628).  Pure: no I/O; one module for the three
 * protocols, which only frame what it makes.
 *
 * A client turns the mechanism names the server offers into a mask
 * (sasl_mech_from_name), asks sasl_choose() which one to use for the
 * account's SaslAuth, and runs one SaslExchange: the initial response
 * goes with the command when the protocol and its line length allow
 * (sasl_exchange_initial), and every challenge the server sends is
 * answered with sasl_exchange_respond().  Everything an exchange takes
 * and gives is base64 text, as all three protocols carry it.
 *
 * Secrets: the exchange keeps copies of the password or token and of
 * every message it made, and wipes them all when it is freed; the caller
 * wipes its own copies of what it sent (the command lines).
 *
 * A server that refuses an OAuth token answers the initial response
 * with a challenge holding its error (base64 of a JSON object, RFC 7628
 * 3.2.2); the exchange answers it as the mechanism requires (XOAUTH2: an
 * empty response; OAUTHBEARER: %x01), the server then fails the command,
 * and sasl_exchange_problem() says in one line what it objected to.
 */
#ifndef MAILFS_SASL_H
#define MAILFS_SASL_H

#include <glib.h>

typedef enum {
	SASL_NONE,        /* no SASL: the protocol's own login command */
	SASL_PLAIN,
	SASL_LOGIN,
	SASL_XOAUTH2,
	SASL_OAUTHBEARER,
} SaslMech;

#define SASL_BIT(m) (1u << (m))

/* How an account logs in: the `auth` config key. */
typedef enum {
	SASL_AUTH_PASSWORD,   /* PLAIN, else the protocol's own login (IMAP
	                       * LOGIN, POP3 USER/PASS), else LOGIN */
	SASL_AUTH_OAUTH2,     /* OAUTHBEARER, else XOAUTH2 */
	SASL_AUTH_PLAIN,      /* exactly this mechanism */
	SASL_AUTH_LOGIN,
	SASL_AUTH_XOAUTH2,
	SASL_AUTH_OAUTHBEARER,
} SaslAuth;

/* "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"; "none" for SASL_NONE. */
const char *sasl_mech_name(SaslMech m);

/* The mechanism NAME (any case), or SASL_NONE for one mailfs does not
 * speak. */
SaslMech sasl_mech_from_name(const char *name);

/* The SaslAuth of a config value ("password", "oauth2", "plain", "login",
 * "xoauth2", "oauthbearer"; any case) in *OUT; FALSE when unknown. */
gboolean sasl_auth_from_name(const char *name, SaslAuth *out);

/* TRUE when AUTH logs in with an access token instead of a password. */
gboolean sasl_auth_is_oauth2(SaslAuth auth);

/* The mechanism to log in with for AUTH among OFFERED (SASL_BIT mask),
 * into *OUT; SASL_NONE when the protocol's own login command is to be
 * used, which only happens for SASL_AUTH_PASSWORD and OWN_LOGIN (the
 * protocol has one and the server allows it).  MF_ERROR_AUTH
 * ("authentication impossible: server offers neither AUTH PLAIN nor AUTH
 * LOGIN") when none fits. */
gboolean sasl_choose(guint offered, SaslAuth auth, gboolean own_login,
                     SaslMech *out, GError **err);

typedef struct SaslExchange SaslExchange;

/* A new exchange of MECH (not SASL_NONE) for USER with SECRET (the
 * password, or the access token for the OAuth mechanisms); both are
 * copied.  HOST and PORT (NULL, 0: left out) go into OAUTHBEARER's
 * message.  MF_ERROR_AUTH ("authentication impossible: ...") when they
 * cannot be carried: an empty user name; for the OAuth mechanisms an
 * empty token, one that is not printable ASCII without spaces, or a user
 * name with a control character. */
SaslExchange *sasl_exchange_new(SaslMech mech, const char *user,
                                const char *secret, const char *host,
                                guint port, GError **err);

/* Wipes every copy and message and frees; accepts NULL. */
void sasl_exchange_free(SaslExchange *x);

SaslMech sasl_exchange_mech(const SaslExchange *x);

/* The initial response in base64, if the mechanism has one and it is at
 * most MAX bytes long (0: any length); it then counts as sent.  NULL
 * otherwise: the command goes without it, and the first challenge gets
 * it.  Borrowed until the next call on X. */
const char *sasl_exchange_initial(SaslExchange *x, size_t max);

/* The answer (base64, without CRLF) to the server's CHALLENGE (the base64
 * text after "+ " or "334 "; may be empty), or NULL when there is none
 * and the exchange must be cancelled with "*": a challenge after the
 * last message (PLAIN, LOGIN), or a second one after an OAuth error.
 * Borrowed until the next call on X. */
const char *sasl_exchange_respond(SaslExchange *x, const char *challenge);

/* After an OAuth mechanism's error challenge: what the server objected
 * to, in one line (sasl_oauth_problem); NULL before.  Borrowed. */
const char *sasl_exchange_problem(const SaslExchange *x);

/* When X has a problem, appends it to ERR's message (the command's
 * refusal): "...: authentication refused: NO ... (OAuth error: invalid or
 * expired token (status 401, scope mail))".  ERR may be NULL. */
void sasl_exchange_explain(const SaslExchange *x, GError *err);

/* One line saying what an OAuth error challenge CHALLENGE (base64 of a
 * JSON object with "status", "scope" and "schemes") means:
 *   "invalid or expired token (status 401, scope https://mail.google.com/)"
 *   "scope missing (status insufficient_scope, scope mail)"
 * Anything that is not such an object is said to be unreadable, with
 * its start.  Printable ASCII only, at most a few hundred bytes; owned. */
char *sasl_oauth_problem(const char *challenge);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SaslExchange, sasl_exchange_free)

#endif
