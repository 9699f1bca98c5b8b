/* config_oauth2.h - the keys of OAuth 2.0 sign-in: `auth` and the
 * oauth2_* keys of an account and the presets of the big providers.
 *
 * An account has a token source when it sets oauth2_token_command (a
 * helper prints access tokens) or oauth2_client_id (mailfs's own client,
 * with its endpoints from oauth2_provider, oauth2_issuer or
 * oauth2_token_url and oauth2_device_url).  It then needs no password,
 * and logs in with OAUTHBEARER or XOAUTH2 (auth = oauth2 unless auth
 * names one).  Commands and the keys that say where the refresh token is
 * sent are taken only from a file nobody else can change, as
 * password_command is.  The parsers and checks are declared in
 * config_int.h (the rows of the keys are in config_keys.c's table); the
 * token source is made by mount_tokens() (mount.h).
 */
#ifndef MAILFS_CONFIG_OAUTH2_H
#define MAILFS_CONFIG_OAUTH2_H

#include <glib.h>
#include "net/sasl.h"

typedef struct {
	SaslAuth auth;        /* the auth key, or its default */
	gboolean auth_set;    /* the file gave auth */
	char *provider;       /* "google", "microsoft", or NULL */
	char *issuer;
	char *token_url;
	char *device_url;
	char *client_id;
	char *client_secret_command;
	char *scope;
	char *token_command;
	char *refresh_token_command;
	char *refresh_token_file; /* $XDG_DATA_HOME/mailfs/NAME.refresh-token
	                           * for the built-in client (not a key) */
} MfOAuth2Config;

#endif
