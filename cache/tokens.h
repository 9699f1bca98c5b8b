/* tokens.h - an account's OAuth 2.0 access tokens: where they come from,
 * where the one in use is kept, when it is renewed.  One MfTokens per
 * account, shared (by reference) by every backend session and the outbox.
 *
 * Two sources:
 *   - oauth2_token_command: run at every login, its first line is the
 *     token; the command (a helper such as mutt_oauth2.py or oama) keeps
 *     and renews tokens itself, so nothing is kept here.
 *   - the built-in client: a refresh token, kept in a file only the user
 *     can read (refresh_token_file) or by refresh_token_command, is traded
 *     at the token endpoint (net/oauth2.c) for access tokens.  The access
 *     token in use is kept in memory only (never on disk, never in the
 *     cache), one copy, and renewed before it expires (within half its
 *     lifetime, at most a minute, of its end) and once more when a server
 *     refuses it.  The refresh token is read from its store at
 *     every renewal, so that a `mailfs login` while mounted is seen at
 *     the next one; a new one the endpoint hands out (rotation) is stored
 *     at once.  A refresh token the endpoint refuses is remembered (its
 *     hash) and not sent again until the store holds another one.
 *
 * Errors of tokens_get() and tokens_use(): MF_ERROR_AUTH (no refresh
 * token yet, the refresh token or the client was refused, the token
 * command failed: the user must act; the message ends in "run `mailfs
 * login NAME`" when that is what it takes), MF_ERROR_CONNECTION (the
 * token endpoint cannot be reached and the access token in hand has
 * expired: try later), MF_ERROR_TLS, MF_ERROR_CONFIG, MF_ERROR_PROTOCOL.
 *
 * Threads: any; one lock, held across a renewal (others wait for it
 * rather than renew too), which takes no other lock.
 */
#ifndef MAILFS_TOKENS_H
#define MAILFS_TOKENS_H

#include <glib.h>

/* Where an account's tokens come from; every string is copied. */
typedef struct {
	const char *account;          /* for messages and `mailfs login` */
	const char *token_command;    /* oauth2_token_command, or NULL: the
	                               * built-in client below */
	const char *issuer;           /* discovery, when token_url is NULL */
	const char *token_url;
	const char *device_url;       /* or NULL (discovery may find it) */
	const char *client_id;
	const char *client_secret_command; /* or NULL: a public client */
	const char *scope;            /* or NULL */
	const char *refresh_token_file;    /* used without the command */
	const char *refresh_token_command; /* "$1" is get or store */
	const char *ca_file;          /* HTTPS: NULL for the system store */
	guint timeout_s;              /* each request, and each command */
} MfTokenParams;

typedef struct MfTokens MfTokens;

MfTokens *tokens_new(const MfTokenParams *p);
MfTokens *tokens_ref(MfTokens *t);
void tokens_unref(MfTokens *t); /* accepts NULL; wipes what it held */

/* An access token to log in with, owned: wipe it with tokens_free().
 * *FRESH (may be NULL) is TRUE when it was made for this call (renewed or
 * printed by the command), FALSE when it is the one in hand. */
char *tokens_get(MfTokens *t, gboolean *fresh, GError **err);

/* Wipes and frees a token from tokens_get(); accepts NULL. */
void tokens_free(char *token);

/* A server refused TOKEN: if it is the one in hand, it is forgotten, so
 * that the next tokens_get() renews it. */
void tokens_refused(MfTokens *t, const char *token);

/* Logs in with a token: LOGIN (UD) is called with one; when it fails with
 * MF_ERROR_AUTH and the token was not made for this call, it is refused
 * (tokens_refused) and LOGIN called once more with a new one. */
typedef gboolean (*MfTokenLoginFn)(const char *token, void *ud,
                                   GError **err);
gboolean tokens_use(MfTokens *t, MfTokenLoginFn login, void *ud,
                    GError **err);

/* What the user is shown at `mailfs login`. */
typedef struct {
	const char *user_code;
	const char *verification_uri;
	const char *verification_uri_complete; /* or NULL */
	gint64 expires_in;                     /* seconds */
} MfSignIn;

typedef void (*MfSignInFn)(const MfSignIn *s, void *ud);

/* `mailfs login`: the device authorization grant (RFC 8628).  SHOW (UD)
 * is called once with the code the user enters; then the token endpoint
 * is asked every interval until the user approves (or refuses, or the
 * code expires), and the refresh token is stored.  MF_ERROR_CONFIG with
 * oauth2_token_command or without a device authorization endpoint;
 * MF_ERROR_AUTH when the sign-in is refused or expires. */
gboolean tokens_sign_in(MfTokens *t, MfSignInFn show, void *ud,
                        GError **err);

/* Where the refresh token is kept, for people: the file, or "the command
 * oauth2_refresh_token_command"; borrowed. */
const char *tokens_store_name(const MfTokens *t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MfTokens, tokens_unref)

#endif
