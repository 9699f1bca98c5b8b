/* url.h - server URLs of the config file: imap://, imaps://, pop3://,
 * pop3s://, smtp://, smtps://, with an optional port and an optional
 * trailing "/".  IPv6 literals go in brackets: imaps://[::1]:1993.  Pure. */
#ifndef MAILFS_URL_H
#define MAILFS_URL_H

#include <glib.h>

typedef enum {
	URL_IMAP,  /* 143, STARTTLS required */
	URL_IMAPS, /* 993, implicit TLS */
	URL_POP3,  /* 110, STLS required */
	URL_POP3S, /* 995, implicit TLS */
	URL_SMTP,  /* 587, STARTTLS required */
	URL_SMTPS, /* 465, implicit TLS */
} UrlScheme;

typedef struct {
	UrlScheme scheme;
	char *host;           /* without brackets; owned */
	guint16 port;         /* explicit or the scheme's default */
	gboolean implicit_tls;
} MfUrl;

/* Parses S into *OUT.  On failure returns FALSE with ERR (MF_ERROR_CONFIG,
 * message saying what is wrong: unknown scheme, empty host, bad port, user
 * info, path or query present) and leaves *OUT untouched. */
gboolean url_parse(const char *s, MfUrl *out, GError **err);

/* Frees what *U owns and zeroes it; accepts NULL. */
void url_clear(MfUrl *u);

/* "imaps://host:993", for messages; owned by the caller. */
char *url_to_string(const MfUrl *u);

/* The scheme's name ("imaps"). */
const char *url_scheme_name(UrlScheme s);

#endif
