/* conn.c - one TCP connection with optional TLS, idle timeout, deadline and
 * bounded buffered reads; with conn_tls.c the only files that use OpenSSL. */
#include "net/conn_int.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/mf_error.h"

#define CONN_BUF_SIZE (64 * 1024)        /* one read, one sink piece */
#define CONN_BUF_MAX (16 * 1024 * 1024)  /* unconsumed data we keep at most */

static ConnTraceFn conn_default_trace;

#define TRACE_LINES 8
#define TRACE_WIDTH 200

/* Traces DATA as at most TRACE_LINES printable lines. */
static void
conn_trace(const MfConn *c, const char *dir, const char *data, size_t len)
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
conn_set_redact(MfConn *c, gboolean redact)
{
	c->redact = redact;
}

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

ConnStep
conn_fail_eof(MfConn *c, GError **err)
{
	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "connection closed by server %s", c->name);
	return CONN_STEP_FAILED;
}

ConnStep
conn_fail_errno(MfConn *c, const char *what, int errnum, GError **err)
{
	g_autofree char *cause = conn_errno_text(errnum);

	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION, "error %s %s: %s",
	            what, c->name, cause);
	return CONN_STEP_FAILED;
}

gboolean
conn_check_usable(const MfConn *c, GError **err)
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

/* For a timeout: " (it sent nothing: ... try imaps://...)" when C's
 * server never said a word on a plain-text URL (it may wait for a TLS
 * hello), else ""; owned. */
static char *
conn_silent_hint(const MfConn *c)
{
	if (c->ssl || c->received > 0 || !c->tls_hint)
		return g_strdup("");
	return g_strdup_printf(" (it sent nothing: is this a port for TLS "
	                       "from the first byte? try %s)", c->tls_hint);
}

static gboolean
conn_fail_deadline(MfConn *c, GError **err)
{
	g_autofree char *secs =
		conn_format_secs(c->deadline_us - c->deadline_set_us);
	g_autofree char *hint = conn_silent_hint(c);

	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "timed out after %s (operation deadline) talking to %s%s",
	            secs, c->name, hint);
	return FALSE;
}

gboolean
conn_check_deadline(MfConn *c, GError **err)
{
	if (c->deadline_us == 0 || g_get_monotonic_time() < c->deadline_us)
		return TRUE;
	return conn_fail_deadline(c, err);
}

/* Waits for EVENTS on the socket within the idle timeout and the deadline. */
gboolean
conn_wait(MfConn *c, short events, GError **err)
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
	g_autofree char *hint = conn_silent_hint(c);
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "timed out after %s waiting for %s%s", secs, c->name, hint);
	return FALSE;
}

/* --- transfers --- */

static ConnStep
conn_recv_step(MfConn *c, char *buf, size_t size, size_t *n, short *events,
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
		c->received += (guint64)r;
	}
	*n = (size_t)r;
	return CONN_STEP_DONE;
}

static ConnStep
conn_send_step(MfConn *c, const char *buf, size_t size, size_t *n,
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
conn_recv(MfConn *c, char *buf, size_t size, size_t *n, GError **err)
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
conn_write(MfConn *c, const void *buf, size_t len, GError **err)
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
conn_make_room(MfConn *c, GError **err)
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
conn_peek(MfConn *c, size_t *len)
{
	g_return_val_if_fail(c != NULL && len != NULL, NULL);
	*len = c->len;
	return c->buf + c->off;
}

gboolean
conn_fill(MfConn *c, GError **err)
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
conn_consume(MfConn *c, size_t n)
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
conn_fail_line_too_long(MfConn *c, size_t max, GError **err)
{
	c->broken = TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
	            "line too long: %s sent more than %zu bytes without a line end",
	            c->name, max);
	return FALSE;
}

gboolean
conn_read_line(MfConn *c, size_t max, char **line, size_t *len, GError **err)
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
conn_read_exact(MfConn *c, guint64 len, ConnSinkFn sink, void *ud,
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

MfConn *
conn_connect(const char *host, guint16 port, int timeout_ms, GError **err)
{
	g_autofree char *name = NULL;
	g_autofree char *cause = NULL;
	struct addrinfo *ai = NULL;
	int fd = -1;
	MfConn *c;

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
	c = conn_new_fd(fd, name, timeout_ms);
	c->host = g_strdup(host);
	return c;
}

MfConn *
conn_new_fd(int fd, const char *name, int timeout_ms)
{
	MfConn *c = g_new0(MfConn, 1);

	c->fd = fd;
	c->name = g_strdup(name);
	c->timeout_ms = timeout_ms;
	c->trace = conn_default_trace;
	c->cap = CONN_BUF_SIZE;
	c->buf = g_malloc(c->cap);
	return c;
}

void
conn_set_deadline(MfConn *c, gint64 deadline_us)
{
	g_return_if_fail(c != NULL);
	c->deadline_us = deadline_us;
	c->deadline_set_us = deadline_us != 0 ? g_get_monotonic_time() : 0;
}

int
conn_set_timeout(MfConn *c, int timeout_ms)
{
	int old = c->timeout_ms;
	c->timeout_ms = timeout_ms;
	return old;
}

int
conn_wait_input(MfConn *c, int timeout_ms)
{
	if (c->len > 0 || (c->ssl && SSL_has_pending(c->ssl)))
		return 1;
	int rc = conn_poll_until(c->fd, POLLIN, g_get_monotonic_time() +
	                         (gint64)timeout_ms * 1000);
	return rc < 0 ? 1 : rc; /* a poll error shows in the next read */
}

/* The scheme of the same protocol with TLS the other way: "imap" for
 * imaps, "imaps" for imap, and so on. */
static const char *
conn_other_scheme(UrlScheme s)
{
	switch (s) {
	case URL_IMAP:
		return "imaps";
	case URL_IMAPS:
		return "imap";
	case URL_POP3:
		return "pop3s";
	case URL_POP3S:
		return "pop3";
	case URL_SMTP:
		return "smtps";
	case URL_SMTPS:
		return "smtp";
	default:
		return NULL;
	}
}

/* ERR, with a hint at the URL to try when the server of an implicit-TLS
 * URL spoke plain text. */
static void
conn_hint_plain(const MfConn *c, const MfUrl *url, GError **err)
{
	const char *other = conn_other_scheme(url->scheme);

	if (!err || !*err || !other || !conn_tls_peer_is_plain(c))
		return;
	char *msg = g_strdup_printf("%s: is this a STARTTLS port? try "
	                            "%s://%s", (*err)->message, other, c->name);
	g_free((*err)->message);
	(*err)->message = msg;
}

MfConn *
conn_open_url(const MfUrl *url, MfConnTlsConfig *tls, int timeout_ms,
              GError **err)
{
	const char *other = conn_other_scheme(url->scheme);

	if (!tls->host)
		tls->host = url->host;
	MfConn *c = conn_connect(url->host, url->port, timeout_ms, err);
	if (c && !url->implicit_tls && other)
		c->tls_hint = g_strdup_printf("%s://%s", other, c->name);
	if (c && url->implicit_tls && !conn_start_tls(c, tls, err)) {
		conn_hint_plain(c, url, err);
		conn_close(c);
		return NULL;
	}
	return c;
}

void
conn_interrupt(MfConn *c)
{
	if (c && c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

void
conn_close(MfConn *c)
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
	g_free(c->tls_hint);
	g_free(c);
}
