/* conn.h - one network connection: TCP, then optionally TLS (implicit, or
 * upgraded in place by STARTTLS), with timeouts and bounded buffered reads.
 *
 * With conn_tls.c (its TLS set-up), the only code that includes OpenSSL
 * headers.  It knows nothing of any mail protocol.  A MfConn is used by one
 * thread at a time.
 *
 * Errors (domain MF_ERROR): MF_ERROR_CONNECTION for DNS failure, refused
 * connections, timeouts, resets and EOF; MF_ERROR_TLS for handshake and
 * certificate failures (the message says what is wrong with the
 * certificate: "self-signed certificate", "certificate has expired",
 * "host name mismatch", "fingerprint mismatch", ...); MF_ERROR_PROTOCOL when
 * a line exceeds the caller's limit.
 */
#ifndef MAILFS_CONN_H
#define MAILFS_CONN_H

#include <glib.h>
#include <stdint.h>

#include "net/url.h"

typedef struct MfConn MfConn;

typedef struct {
	const char *ca_file;     /* PEM bundle to trust; NULL: system store */
	const char *fingerprint; /* "sha256:" + 64 hex digits (colons allowed);
	                          * when set, the leaf certificate must have this
	                          * SHA-256 digest and the chain is not checked */
	const char *host;        /* the name the certificate must match */
} MfConnTlsConfig;

/* Resolves HOST and connects to PORT within TIMEOUT_MS (applies to each
 * address tried).  TIMEOUT_MS also becomes the idle timeout of every later
 * read and write.  TCP_NODELAY is set.  Returns a new MfConn or NULL. */
MfConn *conn_connect(const char *host, guint16 port, int timeout_ms,
                     GError **err);

/* A MfConn over FD, a connected non-blocking (SOCK_NONBLOCK: every wait is
 * a poll) stream socket, taken, in plain text, named
 * NAME in messages, with TIMEOUT_MS as its idle timeout.  conn_connect()
 * ends with it; tests and fuzz targets play the server at the other end
 * of a socketpair(). */
MfConn *conn_new_fd(int fd, const char *name, int timeout_ms);

/* Connects to URL's host and port and, for an implicit-TLS scheme, runs
 * the handshake at once.  TLS->host is set to the URL's host when NULL
 * (the caller keeps TLS for a later STARTTLS).  Errors as below. */
MfConn *conn_open_url(const MfUrl *url, MfConnTlsConfig *tls, int timeout_ms,
                    GError **err);

/* Runs the TLS client handshake on C (implicit TLS right after connect, or
 * STARTTLS after the protocol said so), verifying chain and host name, or
 * the pinned fingerprint.  Bytes already buffered from the plaintext phase
 * are an error (a STARTTLS injection attempt).  Minimum TLS 1.2. */
gboolean conn_start_tls(MfConn *c, const MfConnTlsConfig *tls, GError **err);

/* Absolute deadline (g_get_monotonic_time() microseconds) after which every
 * read and write fails with MF_ERROR_CONNECTION "timed out"; 0 clears it.
 * Guards against servers that trickle bytes slowly. */
void conn_set_deadline(MfConn *c, gint64 deadline_us);

/* Writes all LEN bytes or fails. */
gboolean conn_write(MfConn *c, const void *buf, size_t len, GError **err);

/* Reads one line ending in LF into *LINE (NUL-terminated, CRLF or LF
 * stripped, owned by the caller) with its length in *LEN.  A line longer
 * than MAX bytes is MF_ERROR_PROTOCOL "line too long"; EOF before LF is
 * MF_ERROR_CONNECTION.  Never buffers more than MAX bytes for one line. */
gboolean conn_read_line(MfConn *c, size_t max, char **line, size_t *len,
                        GError **err);

/* Buffered access for incremental parsers: conn_peek() returns the bytes
 * already received and not yet consumed (possibly none); conn_fill() waits
 * for more and appends at most the internal buffer size (64 KiB), failing
 * on EOF, error or timeout; conn_consume() drops N bytes from the front. */
const char *conn_peek(MfConn *c, size_t *len);
gboolean conn_fill(MfConn *c, GError **err);
void conn_consume(MfConn *c, size_t n);

/* Reads exactly LEN bytes, handing them to SINK in pieces of at most 64 KiB.
 * SINK returns FALSE (with ERR set) to abort; the connection is then no
 * longer usable.  Memory used is bounded whatever LEN is. */
typedef gboolean (*ConnSinkFn)(const char *data, size_t len, void *ud,
                               GError **err);
gboolean conn_read_exact(MfConn *c, guint64 len, ConnSinkFn sink, void *ud,
                         GError **err);

gboolean conn_is_tls(const MfConn *c);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "plaintext"; owned by the caller. */
char *conn_describe_tls(const MfConn *c);

/* Changes the idle timeout of every later wait; returns the old one. */
int conn_set_timeout(MfConn *c, int timeout_ms);

/* Waits up to TIMEOUT_MS for input (buffered or on the socket), ignoring
 * the deadline, for callers that wait on purpose (IMAP IDLE).  1 when a
 * read would not block (data, EOF or error: the read tells), 0 when the
 * time ran out. */
int conn_wait_input(MfConn *c, int timeout_ms);

/* Shuts the socket down so that a read or write blocked in another thread
 * fails at once (as a closed connection).  The only call that may be made
 * from a thread other than C's user; C must still be closed by its user. */
void conn_interrupt(MfConn *c);

/* The protocol trace (--debug): DIR is "C" for what mailfs sends, "S" for
 * what it receives; UD is the connection's "host:port".  Connections made
 * after conn_set_default_trace() trace through FN (NULL: none).  Clients
 * set redact around lines that carry credentials: while set, every sent
 * piece is traced as "[redacted]". */
typedef void (*ConnTraceFn)(const char *dir, const char *line, void *ud);
void conn_set_default_trace(ConnTraceFn fn);
void conn_set_redact(MfConn *c, gboolean redact);

/* Closes and frees C; accepts NULL. */
void conn_close(MfConn *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MfConn, conn_close)

#endif
