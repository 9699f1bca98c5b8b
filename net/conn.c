/* conn.c - one TCP connection with optional TLS, idle timeout, deadline and
 * bounded buffered reads; the only project file that uses OpenSSL. */
#include "net/conn.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/mf_error.h"

#define CONN_BUF_SIZE (64 * 1024)        /* one read, one sink piece */
#define CONN_BUF_MAX (16 * 1024 * 1024)  /* unconsumed data we keep at most */
#define CONN_SHA256_LEN 32

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define conn_get_peer_cert SSL_get1_peer_certificate
#else
#define conn_get_peer_cert SSL_get_peer_certificate
#endif

struct Conn {
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
	gboolean redact;        /* sent lines are traced as "[redacted]" */
};

static ConnTraceFn conn_default_trace;

#define TRACE_LINES 8
#define TRACE_WIDTH 200

/* Traces DATA as at most TRACE_LINES printable lines. */
static void
conn_trace(const Conn *c, const char *dir, const char *data, size_t len)
{
	char line[TRACE_WIDTH + 1];
	size_t pos = 0;

	if (!c->trace || len == 0)
		return;
	if (c->redact && dir[0] == 'C') {
		c->trace(dir, "[redacted]", c->name);
		return;
	}
	for (int n = 0; pos < len && n < TRACE_LINES; n++) {
		size_t w = 0;
		while (pos < len && data[pos] != '\n') {
			if (w < TRACE_WIDTH && data[pos] != '\r')
				line[w++] = g_ascii_isprint(data[pos]) ? data[pos]
				                                       : '.';
			pos++;
		}
		pos += pos < len; /* the LF */
		line[w] = '\0';
		c->trace(dir, line, c->name);
	}
	if (pos < len) {
		g_autofree char *more = g_strdup_printf("... %zu more bytes",
		                                        len - pos);
		c->trace(dir, more, c->name);
	}
}

void
conn_set_default_trace(ConnTraceFn fn)
{
	conn_default_trace = fn;
}

void
conn_set_redact(Conn *c, gboolean redact)
{
	c->redact = redact;
}

/* Outcome of one non-blocking transfer attempt. */
typedef enum {
	CONN_STEP_DONE,   /* some bytes moved */
	CONN_STEP_WAIT,   /* poll for *events, then try again */
	CONN_STEP_FAILED, /* ERR is set */
} ConnStep;

/* --- messages --- */

/* "30 s" or "0.3 s". */
static char *
conn_format_secs(gint64 us)
{
	gint64 ms = MAX(us, 0) / 1000;

	if (ms % 1000 == 0)
		return g_strdup_printf("%" G_GINT64_FORMAT " s", ms / 1000);
	return g_strdup_printf("%.1f s", (double)ms / 1000.0);
}

/* strerror() text starting in lower case, to follow a colon. */
static char *
conn_errno_text(int errnum)
{
	char *s = g_strdup(g_strerror(errnum));

	s[0] = g_ascii_tolower(s[0]);
	return s;
}

/* Takes the OpenSSL error queue of this thread, returning its first entry
 * as text, and leaves the queue empty. */
static char *
conn_ssl_error_text(void)
{
	unsigned long e = ERR_get_error();
	char text[256];

	ERR_clear_error();
	if (e == 0)
		return g_strdup("unknown error");
	if (ERR_reason_error_string(e) != NULL)
		return g_strdup(ERR_reason_error_string(e));
	ERR_error_string_n(e, text, sizeof text);
	return g_strdup(text);
}

static ConnStep
conn_fail_eof(Conn *c, GError **err)
{
	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "connection closed by server %s", c->name);
	return CONN_STEP_FAILED;
}

static ConnStep
conn_fail_errno(Conn *c, const char *what, int errnum, GError **err)
{
	g_autofree char *cause = conn_errno_text(errnum);

	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION, "error %s %s: %s",
	            what, c->name, cause);
	return CONN_STEP_FAILED;
}

static gboolean
conn_check_usable(const Conn *c, GError **err)
{
	if (!c->broken)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "connection to %s is no longer usable after an earlier error",
	            c->name);
	return FALSE;
}

/* --- waiting --- */

/* Waits until FD is ready for EVENTS or the monotonic time END_US: 1 when
 * ready (or in error, which the next transfer reports), 0 when timed out,
 * -1 on a poll failure with errno set. */
static int
conn_poll_until(int fd, short events, gint64 end_us)
{
	for (;;) {
		gint64 left = end_us - g_get_monotonic_time();
		struct pollfd p = { .fd = fd, .events = events };
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)MIN((left + 999) / 1000, INT_MAX));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static gboolean
conn_fail_deadline(Conn *c, GError **err)
{
	g_autofree char *secs =
		conn_format_secs(c->deadline_us - c->deadline_set_us);

	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "timed out after %s (operation deadline) talking to %s",
	            secs, c->name);
	return FALSE;
}

static gboolean
conn_check_deadline(Conn *c, GError **err)
{
	if (c->deadline_us == 0 || g_get_monotonic_time() < c->deadline_us)
		return TRUE;
	return conn_fail_deadline(c, err);
}

/* Waits for EVENTS on the socket within the idle timeout and the deadline. */
static gboolean
conn_wait(Conn *c, short events, GError **err)
{
	gint64 end = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;
	gboolean by_deadline = c->deadline_us != 0 && c->deadline_us < end;
	int rc = conn_poll_until(c->fd, events, by_deadline ? c->deadline_us
	                                                    : end);
	g_autofree char *secs = NULL;

	if (rc > 0)
		return TRUE;
	if (rc < 0) {
		conn_fail_errno(c, "waiting for", errno, err);
		return FALSE;
	}
	if (by_deadline)
		return conn_fail_deadline(c, err);
	secs = conn_format_secs((gint64)c->timeout_ms * 1000);
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "timed out after %s waiting for %s", secs, c->name);
	return FALSE;
}

/* --- a socket BIO that never raises SIGPIPE --- */

static int
conn_bio_write_cb(BIO *b, const char *data, int len)
{
	Conn *c = BIO_get_data(b);
	ssize_t n = send(c->fd, data, (size_t)len, MSG_NOSIGNAL);

	BIO_clear_retry_flags(b);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		BIO_set_retry_write(b);
	else
		c->io_errno = errno;
	return -1;
}

static int
conn_bio_read_cb(BIO *b, char *data, int len)
{
	Conn *c = BIO_get_data(b);
	ssize_t n = recv(c->fd, data, (size_t)len, 0);

	BIO_clear_retry_flags(b);
	if (n > 0)
		return (int)n;
	if (n == 0) {
		c->peer_eof = TRUE;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		BIO_set_retry_read(b);
	else
		c->io_errno = errno;
	return -1;
}

static long
conn_bio_ctrl_cb(BIO *b, int cmd, long num, void *ptr)
{
	Conn *c = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return c != NULL && c->peer_eof;
	default:
		return 0;
	}
}

static int
conn_bio_create_cb(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static gpointer
conn_bio_method_init_cb(gpointer data)
{
	int type = BIO_get_new_index();
	BIO_METHOD *m;

	g_assert(type != -1);
	m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "mailfs socket");
	g_assert(m != NULL);
	BIO_meth_set_write(m, conn_bio_write_cb);
	BIO_meth_set_read(m, conn_bio_read_cb);
	BIO_meth_set_ctrl(m, conn_bio_ctrl_cb);
	BIO_meth_set_create(m, conn_bio_create_cb);
	return m;
}

/* The BIO method, created once for the process and never freed. */
static BIO_METHOD *
conn_bio_method(void)
{
	static GOnce once = G_ONCE_INIT;

	return g_once(&once, conn_bio_method_init_cb, NULL);
}

/* --- transfers --- */

/* Classifies a failed SSL_read/SSL_write/SSL_connect return value RC. */
static ConnStep
conn_tls_step_error(Conn *c, int rc, const char *what, short *events,
                    GError **err)
{
	int e = SSL_get_error(c->ssl, rc);
	g_autofree char *text = NULL;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return CONN_STEP_WAIT;
	}
	if (e == SSL_ERROR_SYSCALL && c->io_errno != 0)
		return conn_fail_errno(c, what, c->io_errno, err);
	if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ||
	    c->peer_eof) {
		ERR_clear_error();
		return conn_fail_eof(c, err);
	}
	text = conn_ssl_error_text();
	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION, "TLS error %s %s: %s",
	            what, c->name, text);
	return CONN_STEP_FAILED;
}

static ConnStep
conn_recv_step(Conn *c, char *buf, size_t size, size_t *n, short *events,
               GError **err)
{
	ssize_t r;

	if (c->ssl != NULL) {
		ERR_clear_error();
		c->io_errno = 0;
		r = SSL_read(c->ssl, buf, (int)MIN(size, INT_MAX));
		if (r <= 0)
			return conn_tls_step_error(c, (int)r, "reading from",
			                           events, err);
	} else {
		r = recv(c->fd, buf, size, 0);
		if (r == 0)
			return conn_fail_eof(c, err);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return conn_fail_errno(c, "reading from", errno, err);
		if (r < 0) {
			*events = POLLIN;
			return CONN_STEP_WAIT;
		}
	}
	*n = (size_t)r;
	return CONN_STEP_DONE;
}

static ConnStep
conn_send_step(Conn *c, const char *buf, size_t size, size_t *n,
               short *events, GError **err)
{
	ssize_t r;

	if (c->ssl != NULL) {
		ERR_clear_error();
		c->io_errno = 0;
		r = SSL_write(c->ssl, buf, (int)MIN(size, INT_MAX));
		if (r <= 0)
			return conn_tls_step_error(c, (int)r, "writing to",
			                           events, err);
	} else {
		r = send(c->fd, buf, size, MSG_NOSIGNAL);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return conn_fail_errno(c, "writing to", errno, err);
		if (r < 0) {
			*events = POLLOUT;
			return CONN_STEP_WAIT;
		}
	}
	*n = (size_t)r;
	return CONN_STEP_DONE;
}

/* Receives at least one byte into BUF (at most SIZE). */
static gboolean
conn_recv(Conn *c, char *buf, size_t size, size_t *n, GError **err)
{
	for (;;) {
		short events = 0;
		ConnStep step;

		if (!conn_check_deadline(c, err))
			return FALSE;
		step = conn_recv_step(c, buf, size, n, &events, err);
		if (step == CONN_STEP_DONE)
			return TRUE;
		if (step == CONN_STEP_FAILED || !conn_wait(c, events, err))
			return FALSE;
	}
}

gboolean
conn_write(Conn *c, const void *buf, size_t len, GError **err)
{	conn_trace(c, "C", buf, len);

	const char *p = buf;
	size_t done = 0;

	g_return_val_if_fail(c != NULL, FALSE);
	g_return_val_if_fail(buf != NULL || len == 0, FALSE);
	if (!conn_check_usable(c, err))
		return FALSE;
	while (done < len) {
		short events = 0;
		size_t n = 0;
		ConnStep step = CONN_STEP_FAILED;

		if (conn_check_deadline(c, err))
			step = conn_send_step(c, p + done, len - done, &n,
			                      &events, err);
		if (step == CONN_STEP_DONE)
			done += n;
		else if (step == CONN_STEP_FAILED || !conn_wait(c, events, err)) {
			c->broken = TRUE; /* a part may have been sent */
			return FALSE;
		}
	}
	return TRUE;
}

/* --- buffered reading --- */

/* Makes free space at the end of the buffer: moves unconsumed bytes to the
 * front, and grows the buffer only when a caller left it full. */
static gboolean
conn_make_room(Conn *c, GError **err)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len);
		c->off = 0;
	}
	if (c->len < c->cap)
		return TRUE;
	if (c->cap >= CONN_BUF_MAX) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "more than %d bytes from %s left unconsumed",
		            CONN_BUF_MAX, c->name);
		return FALSE;
	}
	c->cap *= 2;
	c->buf = g_realloc(c->buf, c->cap);
	return TRUE;
}

const char *
conn_peek(Conn *c, size_t *len)
{
	g_return_val_if_fail(c != NULL && len != NULL, NULL);
	*len = c->len;
	return c->buf + c->off;
}

gboolean
conn_fill(Conn *c, GError **err)
{
	size_t room;
	size_t n = 0;

	g_return_val_if_fail(c != NULL, FALSE);
	if (!conn_check_usable(c, err) || !conn_make_room(c, err))
		return FALSE;
	room = MIN(c->cap - c->len, CONN_BUF_SIZE);
	if (!conn_recv(c, c->buf + c->len, room, &n, err))
		return FALSE;
	c->len += n;
	return TRUE;
}

void
conn_consume(Conn *c, size_t n)
{
	g_return_if_fail(c != NULL);
	g_return_if_fail(n <= c->len);
	conn_trace(c, "S", c->buf + c->off, n);
	c->off += n;
	c->len -= n;
	if (c->len == 0)
		c->off = 0;
}

static gboolean
conn_fail_line_too_long(Conn *c, size_t max, GError **err)
{
	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
	            "line too long: %s sent more than %zu bytes without a line end",
	            c->name, max);
	return FALSE;
}

gboolean
conn_read_line(Conn *c, size_t max, char **line, size_t *len, GError **err)
{
	/* One byte more than MAX may be a CR that is stripped later. */
	size_t limit = max < G_MAXSIZE ? max + 1 : max;
	g_autoptr(GString) acc = NULL;

	g_return_val_if_fail(c != NULL && line != NULL && len != NULL, FALSE);
	if (!conn_check_usable(c, err))
		return FALSE;
	acc = g_string_sized_new(MIN(c->len, limit) + 1);
	for (;;) {
		const char *start = c->buf + c->off;
		const char *lf = memchr(start, '\n', c->len);
		size_t take = lf != NULL ? (size_t)(lf - start) : c->len;

		if (take > limit - acc->len)
			return conn_fail_line_too_long(c, max, err);
		g_string_append_len(acc, start, (gssize)take);
		conn_consume(c, take + (lf != NULL));
		if (lf != NULL)
			break;
		if (!conn_fill(c, err)) {
			c->broken = c->broken || acc->len > 0;
			return FALSE;
		}
	}
	if (acc->len > 0 && acc->str[acc->len - 1] == '\r')
		g_string_truncate(acc, acc->len - 1);
	if (acc->len > max)
		return conn_fail_line_too_long(c, max, err);
	*len = acc->len;
	*line = g_string_free(g_steal_pointer(&acc), FALSE);
	return TRUE;
}

gboolean
conn_read_exact(Conn *c, guint64 len, ConnSinkFn sink, void *ud,
                GError **err)
{
	guint64 left = len;

	g_return_val_if_fail(c != NULL && sink != NULL, FALSE);
	if (!conn_check_usable(c, err))
		return FALSE;
	while (left > 0) {
		size_t n;

		if (c->len == 0 && !conn_fill(c, err)) {
			c->broken = c->broken || left < len;
			return FALSE;
		}
		n = (size_t)MIN(left, (guint64)MIN(c->len, CONN_BUF_SIZE));
		if (!sink(c->buf + c->off, n, ud, err)) {
			c->broken = TRUE;
			if (err != NULL && *err == NULL)
				g_set_error_literal(err, MF_ERROR, MF_ERROR_LOCAL,
				                    "reading stopped by the receiver");
			return FALSE;
		}
		conn_consume(c, n);
		left -= n;
	}
	return TRUE;
}

/* --- connecting --- */

/* "host:port", or "[v6addr]:port". */
static char *
conn_format_name(const char *host, guint16 port)
{
	if (strchr(host, ':') != NULL)
		return g_strdup_printf("[%s]:%u", host, (unsigned)port);
	return g_strdup_printf("%s:%u", host, (unsigned)port);
}

static gboolean
conn_resolve(const char *host, guint16 port, struct addrinfo **out,
             GError **err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	char service[8];
	int rc;

	g_snprintf(service, sizeof service, "%u", (unsigned)port);
	rc = getaddrinfo(host, service, &hints, out);
	if (rc == 0)
		return TRUE;
	if (rc == EAI_SYSTEM) {
		g_autofree char *cause = conn_errno_text(errno);

		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "cannot resolve host '%s': %s", host, cause);
	} else {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "cannot resolve host '%s': %s", host,
		            gai_strerror(rc));
	}
	return FALSE;
}

/* Waits for a non-blocking connect() on FD to finish: 0 or an errno value,
 * ETIMEDOUT when TIMEOUT_MS passed. */
static int
conn_finish_connect(int fd, int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	int rc = conn_poll_until(fd, POLLOUT, end);
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (rc == 0)
		return ETIMEDOUT;
	if (rc < 0)
		return errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return errno;
	return soerr;
}

/* Connects to one address; returns the socket, or -1 with *CAUSE set. */
static int
conn_try_address(const struct addrinfo *a, int timeout_ms, char **cause)
{
	int one = 1;
	int fd = socket(a->ai_family,
	                a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                a->ai_protocol);
	int e = 0;

	if (fd < 0) {
		*cause = conn_errno_text(errno);
		return -1;
	}
	if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
		e = errno;
		if (e == EINPROGRESS || e == EINTR)
			e = conn_finish_connect(fd, timeout_ms);
	}
	if (e == ETIMEDOUT) {
		g_autofree char *secs = conn_format_secs((gint64)timeout_ms * 1000);

		*cause = g_strdup_printf("timed out after %s", secs);
	} else if (e != 0) {
		*cause = conn_errno_text(e);
	}
	if (e != 0) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

Conn *
conn_connect(const char *host, guint16 port, int timeout_ms, GError **err)
{
	g_autofree char *name = NULL;
	g_autofree char *cause = NULL;
	struct addrinfo *ai = NULL;
	int fd = -1;
	Conn *c;

	g_return_val_if_fail(host != NULL && *host != '\0', NULL);
	g_return_val_if_fail(timeout_ms > 0, NULL);
	name = conn_format_name(host, port);
	if (!conn_resolve(host, port, &ai, err))
		return NULL;
	for (const struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
		g_clear_pointer(&cause, g_free);
		fd = conn_try_address(a, timeout_ms, &cause);
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "cannot connect to %s: %s", name,
		            cause != NULL ? cause : "no address");
		return NULL;
	}
	c = g_new0(Conn, 1);
	c->fd = fd;
	c->host = g_strdup(host);
	c->name = g_steal_pointer(&name);
	c->timeout_ms = timeout_ms;
	c->trace = conn_default_trace;
	c->cap = CONN_BUF_SIZE;
	c->buf = g_malloc(c->cap);
	return c;
}

void
conn_set_deadline(Conn *c, gint64 deadline_us)
{
	g_return_if_fail(c != NULL);
	c->deadline_us = deadline_us;
	c->deadline_set_us = deadline_us != 0 ? g_get_monotonic_time() : 0;
}

/* --- TLS --- */

/* Parses "sha256:HEX" (colons and case in HEX ignored) into OUT. */
static gboolean
conn_parse_fingerprint(const char *text, guint8 *out, GError **err)
{
	guint8 md[CONN_SHA256_LEN];
	size_t n = 0;
	int hi = -1;

	if (g_ascii_strncasecmp(text, "sha256:", 7) != 0)
		goto bad;
	for (const char *p = text + 7; *p != '\0'; p++) {
		int v = g_ascii_xdigit_value(*p);

		if (*p == ':')
			continue;
		if (v < 0 || n == sizeof md)
			goto bad;
		if (hi < 0) {
			hi = v;
		} else {
			md[n++] = (guint8)(hi << 4 | v);
			hi = -1;
		}
	}
	if (n != sizeof md || hi >= 0)
		goto bad;
	memcpy(out, md, sizeof md);
	return TRUE;
bad:
	g_set_error(err, MF_ERROR, MF_ERROR_CONFIG,
	            "invalid TLS fingerprint '%s': expected \"sha256:\" and 64 "
	            "hexadecimal digits", text);
	return FALSE;
}

static char *
conn_format_fingerprint(const guint8 *md)
{
	GString *s = g_string_new("sha256:");

	for (size_t i = 0; i < CONN_SHA256_LEN; i++)
		g_string_append_printf(s, "%02x", md[i]);
	return g_string_free(s, FALSE);
}

/* Makes the SSL_CTX: TLS >= 1.2 and, unless PINNED, chain verification
 * against TLS->ca_file or the system store. */
static SSL_CTX *
conn_tls_new_ctx(const ConnTlsConfig *tls, gboolean pinned, GError **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	g_autofree char *text = NULL;
	int ok;

	if (ctx == NULL) {
		text = conn_ssl_error_text();
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "cannot set up TLS: %s", text);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_verify(ctx, pinned ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (pinned)
		return ctx;
	ERR_clear_error();
	if (tls->ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok == 1)
		return ctx;
	text = conn_ssl_error_text();
	g_set_error(err, MF_ERROR, MF_ERROR_CONFIG,
	            "cannot load trusted certificates from '%s': %s",
	            tls->ca_file != NULL ? tls->ca_file : "system store", text);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Sets SNI and the name the certificate must carry (unless PINNED). */
static gboolean
conn_tls_set_host(SSL *ssl, const char *host, gboolean pinned)
{
	gboolean is_ip = g_hostname_is_ip_address(host);

	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		return FALSE;
	if (pinned)
		return TRUE;
	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, host) == 1;
}

static gboolean
conn_tls_setup(Conn *c, const ConnTlsConfig *tls, const char *host,
               gboolean pinned, GError **err)
{
	BIO *bio;

	c->ctx = conn_tls_new_ctx(tls, pinned, err);
	if (c->ctx == NULL)
		return FALSE;
	c->ssl = SSL_new(c->ctx);
	bio = c->ssl != NULL ? BIO_new(conn_bio_method()) : NULL;
	if (bio == NULL) {
		g_autofree char *text = conn_ssl_error_text();

		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "cannot set up TLS: %s", text);
		return FALSE;
	}
	BIO_set_data(bio, c);
	SSL_set_bio(c->ssl, bio, bio);
	/* Read what the socket has, not a record header and then its body:
	 * half the reads in a bulk fetch.  Data read ahead is not seen by
	 * poll(): conn_wait_input() asks SSL_has_pending() first. */
	SSL_set_read_ahead(c->ssl, 1);
	SSL_set_connect_state(c->ssl);
	if (conn_tls_set_host(c->ssl, host, pinned))
		return TRUE;
	ERR_clear_error();
	g_set_error(err, MF_ERROR, MF_ERROR_CONFIG,
	            "invalid TLS host name '%s'", host);
	return FALSE;
}

/* Readable reasons for the certificate problems users meet most, stable
 * across OpenSSL versions; OpenSSL's own text for the rest. */
static const char *
conn_verify_text(long result)
{
	switch (result) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "host name mismatch";
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "IP address mismatch";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "self-signed certificate";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "self-signed certificate in certificate chain";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate has expired";
	default:
		return X509_verify_cert_error_string(result);
	}
}

/* Turns the failed SSL_connect() that returned RC into ERR: certificate
 * and protocol problems are MF_ERROR_TLS, I/O failures keep their code. */
static void
conn_tls_handshake_error(Conn *c, int rc, const char *host, gboolean pinned,
                         GError **err)
{
	long vr = SSL_get_verify_result(c->ssl);
	g_autoptr(GError) io_err = NULL;
	g_autofree char *text = NULL;
	short events = 0;

	if (!pinned && vr != X509_V_OK) {
		ERR_clear_error();
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "TLS certificate verification failed for %s: %s",
		            host, conn_verify_text(vr));
	} else if (SSL_get_error(c->ssl, rc) == SSL_ERROR_SSL && !c->peer_eof) {
		text = conn_ssl_error_text();
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "TLS handshake with %s failed: %s", host, text);
	} else {
		conn_tls_step_error(c, rc, "reading from", &events, &io_err);
		g_set_error(err, MF_ERROR, io_err->code,
		            "TLS handshake with %s failed: %s", host,
		            io_err->message);
	}
}

static gboolean
conn_tls_handshake(Conn *c, const char *host, gboolean pinned, GError **err)
{
	for (;;) {
		int rc;
		int e;

		if (!conn_check_deadline(c, err))
			return FALSE;
		ERR_clear_error();
		c->io_errno = 0;
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return TRUE;
		e = SSL_get_error(c->ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			conn_tls_handshake_error(c, rc, host, pinned, err);
			return FALSE;
		}
		if (!conn_wait(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		               err))
			return FALSE;
	}
}

static gboolean
conn_tls_check_pin(Conn *c, const guint8 *pin, GError **err)
{
	X509 *cert = conn_get_peer_cert(c->ssl);
	guint8 md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	g_autofree char *actual = NULL;
	int ok = cert != NULL && X509_digest(cert, EVP_sha256(), md, &md_len);

	X509_free(cert);
	if (!ok || md_len != CONN_SHA256_LEN) {
		ERR_clear_error();
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "TLS server %s presented no usable certificate",
		            c->name);
		return FALSE;
	}
	if (CRYPTO_memcmp(md, pin, CONN_SHA256_LEN) == 0)
		return TRUE;
	actual = conn_format_fingerprint(md);
	g_set_error(err, MF_ERROR, MF_ERROR_TLS,
	            "certificate fingerprint mismatch for %s: server presented %s",
	            c->name, actual);
	return FALSE;
}

gboolean
conn_start_tls(Conn *c, const ConnTlsConfig *tls, GError **err)
{
	guint8 pin[CONN_SHA256_LEN];
	gboolean pinned;
	const char *host;

	g_return_val_if_fail(c != NULL && tls != NULL, FALSE);
	g_return_val_if_fail(c->ssl == NULL, FALSE);
	pinned = tls->fingerprint != NULL;
	host = tls->host != NULL ? tls->host : c->host;
	if (pinned && !conn_parse_fingerprint(tls->fingerprint, pin, err))
		return FALSE;
	if (!conn_check_usable(c, err))
		return FALSE;
	if (c->len > 0) {
		c->broken = TRUE;
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s sent data before the TLS handshake began "
		            "(possible STARTTLS injection)", c->name);
		return FALSE;
	}
	if (!conn_tls_setup(c, tls, host, pinned, err) ||
	    !conn_tls_handshake(c, host, pinned, err) ||
	    (pinned && !conn_tls_check_pin(c, pin, err))) {
		c->broken = TRUE;
		return FALSE;
	}
	c->tls_up = TRUE;
	return TRUE;
}

gboolean
conn_is_tls(const Conn *c)
{
	g_return_val_if_fail(c != NULL, FALSE);
	return c->tls_up;
}

char *
conn_describe_tls(const Conn *c)
{
	g_return_val_if_fail(c != NULL, NULL);
	if (!c->tls_up)
		return g_strdup("plaintext");
	return g_strdup_printf("%s %s", SSL_get_version(c->ssl),
	                       SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
}

int
conn_set_timeout(Conn *c, int timeout_ms)
{
	int old = c->timeout_ms;
	c->timeout_ms = timeout_ms;
	return old;
}

int
conn_wait_input(Conn *c, int timeout_ms)
{
	if (c->len > 0 || (c->ssl && SSL_has_pending(c->ssl)))
		return 1;
	int rc = conn_poll_until(c->fd, POLLIN, g_get_monotonic_time() +
	                         (gint64)timeout_ms * 1000);
	return rc < 0 ? 1 : rc; /* a poll error shows in the next read */
}

Conn *
conn_open_url(const MfUrl *url, ConnTlsConfig *tls, int timeout_ms,
              GError **err)
{
	if (!tls->host)
		tls->host = url->host;
	Conn *c = conn_connect(url->host, url->port, timeout_ms, err);
	if (c && url->implicit_tls && !conn_start_tls(c, tls, err)) {
		conn_close(c);
		return NULL;
	}
	return c;
}

void
conn_interrupt(Conn *c)
{
	if (c && c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

void
conn_close(Conn *c)
{
	if (c == NULL)
		return;
	if (c->tls_up && !c->broken) {
		/* Sends close_notify if the socket takes it; never waits. */
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	g_free(c->buf);
	g_free(c->name);
	g_free(c->host);
	g_free(c);
}
