/* tokens_int.h - what tokens.c and tokens_store.c share; not for
 * elsewhere. */
#ifndef MAILFS_TOKENS_INT_H
#define MAILFS_TOKENS_INT_H

#include "cache/tokens.h"

struct MfTokens {
	gint ref;
	/* The parameters, copied; fixed once made. */
	char *account;
	char *token_command;
	char *issuer;
	char *token_url;       /* found by discovery when NULL at first */
	char *device_url;
	char *client_id;
	char *client_secret_command;
	char *scope;
	char *refresh_token_file;
	char *refresh_token_command;
	char *ca_file;
	guint timeout_s;
	char *store_name;      /* for people */
	/* Under lock: */
	GMutex lock;
	gboolean discovered;
	char *access;          /* the access token in hand, or NULL */
	gint64 expires;        /* monotonic µs it expires at; 0: unknown */
	gint64 margin;         /* µs before that it is renewed */
	char *refused;         /* SHA-256 of a refresh token refused, or NULL */
	char *refused_why;     /* and what the endpoint said */
	gboolean warned_down;  /* said once that the endpoint is down */
};

/* The refresh token from the store (owned, wipe with tokens_free).
 * NULL with MF_ERROR_AUTH ("... run `mailfs login NAME`") when it holds
 * none, or ERR from the file or the command. */
char *tokens_store_read(MfTokens *t, GError **err);

/* Stores REFRESH (the file, written anew and renamed into place; or the
 * command's "store", then checked with its "get"). */
gboolean tokens_store_write(MfTokens *t, const char *refresh, GError **err);

#endif
