/* url.c - parse and print the server URLs of the config file. */
#include "net/url.h"

#include <arpa/inet.h>
#include <string.h>

#include "net/mf_error.h"

/* Longest URL and host name accepted (a DNS name has at most 253 bytes). */
#define URL_MAX_LEN 1024
#define URL_HOST_MAX 253
#define URL_LABEL_MAX 63

typedef struct {
	const char *name;
	UrlScheme scheme;
	guint16 port;
	gboolean implicit_tls;
} UrlSchemeInfo;

/* Indexed by UrlScheme. */
static const UrlSchemeInfo url_schemes[] = {
	[URL_IMAP] = { "imap", URL_IMAP, 143, FALSE },
	[URL_IMAPS] = { "imaps", URL_IMAPS, 993, TRUE },
	[URL_POP3] = { "pop3", URL_POP3, 110, FALSE },
	[URL_POP3S] = { "pop3s", URL_POP3S, 995, TRUE },
	[URL_SMTP] = { "smtp", URL_SMTP, 587, FALSE },
	[URL_SMTPS] = { "smtps", URL_SMTPS, 465, TRUE },
};

/* Finds the scheme named by the LEN bytes at S, case-insensitively. */
static const UrlSchemeInfo *
url_find_scheme(const char *s, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(url_schemes); i++) {
		if (strlen(url_schemes[i].name) == len &&
		    g_ascii_strncasecmp(url_schemes[i].name, s, len) == 0)
			return &url_schemes[i];
	}
	return NULL;
}

/* TRUE when the scheme text is short and plain enough to quote back. */
static gboolean
url_scheme_printable(const char *s, size_t len)
{
	if (len == 0 || len > 16)
		return FALSE;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '-' &&
		    s[i] != '.')
			return FALSE;
	}
	return TRUE;
}

/* Names the first character of REST that cannot be part of a server URL. */
static gboolean
url_fail_char(const char *rest, GError **err)
{
	switch (*rest) {
	case '@':
		return mf_error_config(err, "user name in URL (put it in the "
		                       "user key)");
	case '/':
		return mf_error_config(err, "URL has a path");
	case '?':
		return mf_error_config(err, "URL has a query");
	case '#':
		return mf_error_config(err, "URL has a fragment");
	case ' ':
	case '\t':
		return mf_error_config(err, "URL contains a space");
	default:
		return mf_error_config(err, "unexpected character in URL");
	}
}

/* TRUE when the LEN bytes at S contain only digits and dots. */
static gboolean
url_looks_numeric(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]) && s[i] != '.')
			return FALSE;
	}
	return TRUE;
}

/* Checks a DNS name of non-empty labels of letters, digits, '-' and '_'. */
static gboolean
url_check_dns_name(const char *s, size_t len, GError **err)
{
	size_t label = 0;

	if (len > URL_HOST_MAX)
		return mf_error_config(err, "host name is too long");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return mf_error_config(err, "empty label in "
				                       "host name");
			label = 0;
		} else if (g_ascii_isalnum(s[i]) || s[i] == '-' ||
		           s[i] == '_') {
			if (++label > URL_LABEL_MAX)
				return mf_error_config(err, "label in host "
				                       "name is too long");
		} else {
			return url_fail_char(s + i, err);
		}
	}
	if (label == 0)
		return mf_error_config(err, "empty label in host name");
	return TRUE;
}

/* Reads the host at *P (a name, IPv4, or [IPv6]) into *HOST and advances
 * *P past it. */
static gboolean
url_parse_host(const char **p, char **host, GError **err)
{
	const char *s = *p;

	if (*s == '[') {
		const char *end = strchr(s, ']');
		struct in6_addr a6;
		if (!end)
			return mf_error_config(err, "missing ']' after IPv6 "
			                       "address");
		g_autofree char *h = g_strndup(s + 1, (gsize)(end - s - 1));
		if (inet_pton(AF_INET6, h, &a6) != 1)
			return mf_error_config(err, "bad IPv6 address");
		*host = g_steal_pointer(&h);
		*p = end + 1;
		return TRUE;
	}
	size_t len = strcspn(s, ":/?#@ \t");
	if (s[len] == '@')
		return url_fail_char(s + len, err);
	if (len == 0)
		return mf_error_config(err, "URL has no host");
	g_autofree char *h = g_strndup(s, len);
	if (url_looks_numeric(s, len)) {
		struct in_addr a4;
		if (inet_pton(AF_INET, h, &a4) != 1)
			return mf_error_config(err, "bad IPv4 address");
	} else if (!url_check_dns_name(s, len, err)) {
		return FALSE;
	}
	*host = g_steal_pointer(&h);
	*p = s + len;
	return TRUE;
}

/* Reads the decimal port after ':' at *P (1..65535) and advances *P. */
static gboolean
url_parse_port(const char **p, guint16 *port, GError **err)
{
	const char *s = *p;
	guint32 v = 0;
	size_t n = 0;

	while (g_ascii_isdigit(s[n])) {
		v = v * 10 + (guint32)(s[n] - '0');
		if (v > 65535)
			return mf_error_config(err, "port is larger than 65535");
		n++;
	}
	if (n == 0 && (s[0] == '\0' || s[0] == '/'))
		return mf_error_config(err, "missing port number after ':'");
	if (n == 0 || g_ascii_isalnum(s[n]) || s[n] == ':' || s[n] == '.')
		return mf_error_config(err, "bad port number");
	if (v == 0)
		return mf_error_config(err, "port 0 is not allowed");
	*port = (guint16)v;
	*p = s + n;
	return TRUE;
}

/* Reads "SCHEME://" at the start of S; returns what follows or NULL. */
static const char *
url_parse_scheme(const char *s, const UrlSchemeInfo **info, GError **err)
{
	const char *sep = strstr(s, "://");

	if (!sep) {
		mf_error_config(err, "not a URL (expected "
		                "SCHEME://HOST[:PORT])");
		return NULL;
	}
	size_t len = (size_t)(sep - s);
	*info = url_find_scheme(s, len);
	if (*info)
		return sep + 3;
	if (url_scheme_printable(s, len))
		mf_error_config(err, "unknown URL scheme '%.*s'", (int)len, s);
	else
		mf_error_config(err, "unknown URL scheme");
	return NULL;
}

gboolean
url_parse(const char *s, MfUrl *out, GError **err)
{
	const UrlSchemeInfo *info = NULL;
	g_autofree char *host = NULL;

	g_return_val_if_fail(s != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	if (strlen(s) > URL_MAX_LEN)
		return mf_error_config(err, "URL is too long");
	const char *p = url_parse_scheme(s, &info, err);
	if (!p)
		return FALSE;
	if (memchr(p, '@', strcspn(p, "/?#")))
		return mf_error_config(err, "user name in URL (put it in the "
		                       "user key)");
	if (!url_parse_host(&p, &host, err))
		return FALSE;
	guint16 port = info->port;
	if (*p == ':') {
		p++;
		if (!url_parse_port(&p, &port, err))
			return FALSE;
	}
	if (*p == '/' && p[1] == '\0')
		p++;
	if (*p != '\0')
		return url_fail_char(p, err);
	out->scheme = info->scheme;
	out->host = g_steal_pointer(&host);
	out->port = port;
	out->implicit_tls = info->implicit_tls;
	return TRUE;
}

void
url_clear(MfUrl *u)
{
	if (!u)
		return;
	g_free(u->host);
	memset(u, 0, sizeof(*u));
}

char *
url_to_string(const MfUrl *u)
{
	g_return_val_if_fail(u != NULL && u->host != NULL, NULL);
	if (strchr(u->host, ':'))
		return g_strdup_printf("%s://[%s]:%u", url_scheme_name(u->scheme),
		                       u->host, (unsigned)u->port);
	return g_strdup_printf("%s://%s:%u", url_scheme_name(u->scheme), u->host,
	                       (unsigned)u->port);
}

const char *
url_scheme_name(UrlScheme s)
{
	g_return_val_if_fail((size_t)s < G_N_ELEMENTS(url_schemes), "?");
	return url_schemes[s].name;
}
