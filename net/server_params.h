/* server_params.h - how to reach and log in to one server: its URL, how
 * to trust its certificate, the user, the password, how to log in and the
 * timeout.  One struct for the IMAP, POP3 and SMTP clients (each client's
 * params borrow one) and for what cache/ keeps of a mailbox server and of
 * the SMTP server; server_params_clear() is the one place that wipes the
 * password.  Pure.
 */
#ifndef MAILFS_SERVER_PARAMS_H
#define MAILFS_SERVER_PARAMS_H

#include <glib.h>

#include "net/conn.h"
#include "net/sasl.h"
#include "net/url.h"

/* The strings belong to the struct when it was filled by
 * server_params_copy() (or by hand with copies); the clients only borrow
 * one. */
typedef struct {
	MfUrl url;             /* the server and its scheme */
	char *ca_file;         /* PEM bundle to trust; NULL: system store */
	char *tls_fingerprint; /* "sha256:..." pin, or NULL (see conn.h) */
	char *user;            /* NULL: do not log in (SMTP only) */
	char *password;        /* NULL with an OAuth2 auth, or when the
	                        * caller sends one of its own; never logged */
	SaslAuth auth;         /* how to log in (net/sasl.h) */
	int timeout_ms;        /* connect, and each command's replies */
} MfServerParams;

/* *DST becomes a deep copy of SRC (the password too); DST's old contents
 * are not freed. */
void server_params_copy(MfServerParams *dst, const MfServerParams *src);

/* Wipes (explicit_bzero) and frees P's password only; accepts NULL. */
void server_params_forget_password(MfServerParams *p);

/* Frees what *P owns, the password wiped first, and zeroes it; accepts
 * NULL. */
void server_params_clear(MfServerParams *p);

/* The TLS settings of P for conn_open_url(): the strings are borrowed
 * from P, the host is the URL's. */
MfConnTlsConfig server_params_tls(const MfServerParams *p);

#endif
