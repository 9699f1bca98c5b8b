/* oauth2.h - the client of OAuth 2.0 authorization servers over HTTPS
 * (libcurl): finding the endpoints of an issuer (RFC 8414 and OpenID
 * Connect Discovery), the device authorization grant (RFC 8628), and new
 * access tokens from a refresh token (RFC 6749 section 6).
 *
 * Nothing is kept here: what an endpoint hands out belongs to the caller,
 * who wipes it (oauth2_tokens_clear, oauth2_device_code_clear).  Every
 * call blocks for at most the endpoint's timeout_ms.
 *
 * The connection: HTTPS only, no redirects, the certificate checked as
 * for the mail connections (chain and host name against ca_file, or the
 * system store when it is NULL; TLS 1.2 or later).  Answers are bounded
 * (OAUTH2_ANSWER_MAX).  Secrets go in the POST body, never in the URL, and
 * the body is wiped after use.  Nothing of a request or an answer is
 * traced: --debug shows one line per request, its URL, grant and HTTP
 * status.
 *
 * Errors: MF_ERROR_CONNECTION (the endpoint cannot be reached, timed out,
 * or answered 5xx or 429: try again later), MF_ERROR_TLS (its
 * certificate), MF_ERROR_AUTH (the endpoint refused: the OAuth error and
 * its description are in the message), MF_ERROR_PROTOCOL (an answer that
 * is not what the RFCs say), MF_ERROR_CONFIG (a URL that is not https://).
 * Messages start with the endpoint's URL.
 */
#ifndef MAILFS_OAUTH2_H
#define MAILFS_OAUTH2_H

#include <glib.h>

#define OAUTH2_ANSWER_MAX (64 * 1024)

/* Where and as whom to ask; every string is the caller's. */
typedef struct {
	const char *token_url;
	const char *device_url;    /* NULL: the device grant is unknown */
	const char *client_id;
	const char *client_secret; /* NULL: a public client */
	const char *scope;         /* NULL: the server's default */
	const char *ca_file;       /* NULL: the system store */
	int timeout_ms;
} OAuth2Endpoint;

/* What a token endpoint hands out; wiped by oauth2_tokens_clear(). */
typedef struct {
	char *access_token;
	char *refresh_token;  /* NULL when the answer had none */
	gint64 expires_in;    /* seconds; 0 when the server did not say */
} OAuth2Tokens;

void oauth2_tokens_clear(OAuth2Tokens *t);

/* The start of a device authorization; oauth2_device_code_clear(). */
typedef struct {
	char *device_code;
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete; /* or NULL */
	gint64 expires_in;    /* seconds the codes live */
	gint64 interval;      /* seconds between polls; 5 when not said */
} OAuth2DeviceCode;

void oauth2_device_code_clear(OAuth2DeviceCode *d);

typedef enum {
	OAUTH2_OK,        /* *OUT holds the tokens */
	OAUTH2_PENDING,   /* authorization_pending: poll again later */
	OAUTH2_SLOW_DOWN, /* slow_down: poll again, 5 s later than so far */
	/* The grant itself was refused (refresh: invalid_grant; device:
	 * access_denied, expired_token, invalid_grant): MF_ERROR_AUTH. */
	OAUTH2_REFUSED,
	OAUTH2_FAILED,    /* anything else: ERR says what */
} OAuth2Status;

/* The token and device authorization endpoints of ISSUER, from its
 * metadata ("/.well-known/openid-configuration", else RFC 8414's
 * "/.well-known/oauth-authorization-server"); *DEVICE_URL is NULL when it
 * names none.  Both owned. */
gboolean oauth2_discover(const char *issuer, const char *ca_file,
                         int timeout_ms, char **token_url, char **device_url,
                         GError **err);

/* Starts a device authorization (RFC 8628 3.1) for E's client and scope. */
gboolean oauth2_device_start(const OAuth2Endpoint *e, OAuth2DeviceCode *out,
                             GError **err);

/* Asks once whether the user has approved DEVICE_CODE (RFC 8628 3.4). */
OAuth2Status oauth2_device_poll(const OAuth2Endpoint *e,
                                const char *device_code, OAuth2Tokens *out,
                                GError **err);

/* A new access token from REFRESH_TOKEN (RFC 6749 6); *OUT's
 * refresh_token is set when the server rotates it. */
OAuth2Status oauth2_refresh(const OAuth2Endpoint *e,
                            const char *refresh_token, OAuth2Tokens *out,
                            GError **err);

#endif
