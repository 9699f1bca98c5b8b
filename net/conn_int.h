/* conn_int.h - the insides of MfConn, shared by conn.c and conn_tls.c only. */
#ifndef MAILFS_CONN_INT_H
#define MAILFS_CONN_INT_H

#include <openssl/ssl.h>

#include "net/conn.h"

struct MfConn {
	int fd;
	char *host;             /* as given to conn_connect() */
	char *name;             /* "host:port" for messages */
	int timeout_ms;         /* idle limit of every wait */
	gint64 deadline_us;     /* absolute limit (monotonic), 0 for none */
	gint64 deadline_set_us; /* when it was set, to report its length */
	char *buf;              /* unconsumed input is buf[off, off + len) */
	size_t cap;
	size_t off;
	size_t len;
	SSL_CTX *ctx;
	SSL *ssl;               /* set from the start of the handshake on */
	gboolean tls_up;        /* handshake (and pin check) succeeded */
	gboolean peer_eof;      /* the socket reported EOF (for the BIO) */
	int io_errno;           /* last socket error seen by the BIO */
	gboolean broken;        /* an earlier failure desynchronised the stream */
	ConnTraceFn trace;      /* protocol trace (--debug), or NULL */
	guint64 received;       /* bytes received in plain text in all */
	char *tls_hint;         /* the implicit-TLS URL of a plain-text URL
	                         * (conn_open_url), for a silent server */
	char hello[8];          /* the first bytes of the TLS handshake the
	                         * server sent: plain text is no TLS server */
	size_t hello_len;
	gboolean redact;        /* sent lines are traced as "[redacted]" */
};

/* Outcome of one non-blocking transfer attempt. */
typedef enum {
	CONN_STEP_DONE,   /* some bytes moved */
	CONN_STEP_WAIT,   /* poll for *events, then try again */
	CONN_STEP_FAILED, /* ERR is set */
} ConnStep;

/* conn.c: each sets ERR, and the first two mark C broken. */
ConnStep conn_fail_eof(MfConn *c, GError **err);
ConnStep conn_fail_errno(MfConn *c, const char *what, int errnum,
                         GError **err);
/* FALSE with ERR when an earlier failure made C unusable. */
gboolean conn_check_usable(const MfConn *c, GError **err);
/* FALSE with ERR when the deadline has passed. */
gboolean conn_check_deadline(MfConn *c, GError **err);
/* Waits for EVENTS on the socket within the idle timeout and the deadline. */
gboolean conn_wait(MfConn *c, short events, GError **err);

/* conn_tls.c: TRUE when the server answered the TLS handshake in plain
 * text (a greeting such as "* OK" or "220"): a port that starts in plain
 * text. */
gboolean conn_tls_peer_is_plain(const MfConn *c);

/* conn_tls.c: classifies a failed SSL_read/SSL_write/SSL_connect return
 * value RC; WHAT is "reading from" or "writing to". */
ConnStep conn_tls_step_error(MfConn *c, int rc, const char *what,
                             short *events, GError **err);

#endif
