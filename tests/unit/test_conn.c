/* test_conn.c - tests of net/conn.c against tiny loopback servers run in a
 * thread: plaintext, TLS and STARTTLS, with certificates made in memory. */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_server.h"
#include "net/conn.h"
#include "net/mf_error.h"

/* Made in main() and inherited by the test forks. */
static FakeCert cert_good;    /* localhost, 127.0.0.1 */
static FakeCert cert_expired; /* localhost, expired yesterday */
static FakeCert cert_wrong;   /* wrong.example only */

/* A server for FN; with CERT the TLS handshake comes first (unless FN
 * starts TLS itself: STARTTLS). */
static FakeServer *
server_start(FakeServerFn fn, const FakeCert *cert, gboolean tls_at_once)
{
	return fake_server_start(fn, NULL, 0, cert, tls_at_once);
}

static MfConn *
connect_ok(FakeServer *s, const char *host, int timeout_ms)
{
	g_autoptr(GError) err = NULL;
	MfConn *c = conn_connect(host, s->port, timeout_ms, &err);

	ck_assert_msg(c != NULL, "connect: %s", err ? err->message : "?");
	return c;
}

/* --- plaintext --- */

static void
serve_lines(FakeServer *s)
{
	fake_send_str(s, "* OK hello\r\nsecond\n\r\n");
	g_usleep(20000);
	fake_send_str(s, "split ");
	g_usleep(20000);
	fake_send_str(s, "line\r");
	g_usleep(20000);
	fake_send_str(s, "\n12345\r\n");
	fake_send(s, "with\0nul\r\n", 10);
}

START_TEST(test_lines)
{
	FakeServer *s = server_start(serve_lines, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	static const char *want[] = { "* OK hello", "second", "", "split line" };
	g_autoptr(GError) err = NULL;
	char *line = NULL;
	size_t len = 99;
	g_autofree char *desc = conn_describe_tls(c);

	ck_assert_str_eq(desc, "plaintext");
	ck_assert(!conn_is_tls(c));
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
		ck_assert(conn_read_line(c, 100, &line, &len, &err));
		ck_assert_str_eq(line, want[i]);
		ck_assert_uint_eq(len, strlen(want[i]));
		g_free(line);
	}
	/* exactly MAX bytes is fine; NUL bytes are kept */
	ck_assert(conn_read_line(c, 5, &line, &len, &err));
	ck_assert_str_eq(line, "12345");
	g_free(line);
	ck_assert(conn_read_line(c, 8, &line, &len, &err));
	ck_assert_uint_eq(len, 8);
	ck_assert(memcmp(line, "with\0nul", 9) == 0);
	g_free(line);
	line = NULL;
	ck_assert(!conn_read_line(c, 100, &line, &len, &err));
	assert_error(err, MF_ERROR_CONNECTION, "connection closed by server");
	ck_assert_ptr_null(line);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

static void
serve_long_line(FakeServer *s)
{
	char buf[200];

	memset(buf, 'x', sizeof buf);
	fake_send(s, buf, sizeof buf);
	fake_send_str(s, "\r\n");
	fake_drain(s);
}

START_TEST(test_line_too_long)
{
	FakeServer *s = server_start(serve_long_line, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	char *line = NULL;
	size_t len = 0;

	ck_assert(!conn_read_line(c, 50, &line, &len, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "line too long");
	ck_assert_ptr_null(line);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* 199 bytes and a CR fit a limit of 199, not of 198. */
START_TEST(test_line_limit_edge)
{
	FakeServer *s = server_start(serve_long_line, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	char *line = NULL;
	size_t len = 0;

	ck_assert(!conn_read_line(c, 199, &line, &len, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "line too long");
	conn_close(c);
	fake_server_finish(s, NULL);

	s = server_start(serve_long_line, NULL, FALSE);
	c = connect_ok(s, "127.0.0.1", 2000);
	ck_assert(conn_read_line(c, 200, &line, &len, NULL));
	ck_assert_uint_eq(len, 200);
	g_free(line);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

static void
serve_hello_world(FakeServer *s)
{
	fake_send_str(s, "hello ");
	g_usleep(30000);
	fake_send_str(s, "world");
}

START_TEST(test_peek_fill_consume)
{
	FakeServer *s = server_start(serve_hello_world, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	const char *p;
	size_t len = 99;

	p = conn_peek(c, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 0);
	while (len < 11) {
		ck_assert(conn_fill(c, &err));
		p = conn_peek(c, &len);
	}
	ck_assert_uint_eq(len, 11);
	ck_assert(memcmp(p, "hello world", 11) == 0);
	conn_consume(c, 6);
	p = conn_peek(c, &len);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(p, "world", 5) == 0);
	conn_consume(c, 5);
	conn_peek(c, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert(!conn_fill(c, &err));
	assert_error(err, MF_ERROR_CONNECTION, "closed");
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

#define BIG_LEN (1024 * 1024)

static void
serve_big(FakeServer *s)
{
	g_autofree char *data = g_malloc(BIG_LEN);

	for (size_t i = 0; i < BIG_LEN; i++)
		data[i] = (char)(i % 251);
	fake_send_str(s, "* 1 FETCH {1048576}\r\n");
	for (size_t off = 0; off < BIG_LEN; off += 10000)
		fake_send(s, data + off, MIN(10000, BIG_LEN - off));
	fake_send_str(s, "TAIL\r\n");
	fake_drain(s);
}

typedef struct {
	guint64 total;
	size_t max_piece;
	gboolean bad_data;
	guint64 fail_after; /* 0: never */
} Sink;

static gboolean
sink_cb(const char *data, size_t len, void *ud, GError **err)
{
	Sink *k = ud;

	for (size_t i = 0; i < len; i++)
		if ((guint8)data[i] != (k->total + i) % 251)
			k->bad_data = TRUE;
	k->total += len;
	k->max_piece = MAX(k->max_piece, len);
	if (k->fail_after != 0 && k->total >= k->fail_after) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "disk full");
		return FALSE;
	}
	return TRUE;
}

START_TEST(test_read_exact)
{
	FakeServer *s = server_start(serve_big, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	Sink k = { 0 };
	char *line;
	size_t len;

	ck_assert(conn_read_line(c, 100, &line, &len, &err));
	g_free(line);
	ck_assert_msg(conn_read_exact(c, BIG_LEN, sink_cb, &k, &err), "%s",
	              err ? err->message : "");
	ck_assert_uint_eq(k.total, BIG_LEN);
	ck_assert(!k.bad_data);
	ck_assert_uint_le(k.max_piece, 64 * 1024);
	ck_assert(conn_read_line(c, 100, &line, &len, &err));
	ck_assert_str_eq(line, "TAIL");
	g_free(line);
	/* a zero-length read needs nothing from the network */
	ck_assert(conn_read_exact(c, 0, sink_cb, &k, &err));
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_read_exact_abort)
{
	FakeServer *s = server_start(serve_big, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	Sink k = { .fail_after = 1 };
	char *line = NULL;
	size_t len;

	ck_assert(conn_read_line(c, 100, &line, &len, &err));
	g_free(line);
	ck_assert(!conn_read_exact(c, BIG_LEN, sink_cb, &k, &err));
	assert_error(err, MF_ERROR_LOCAL, "disk full");
	g_clear_error(&err);
	ck_assert(!conn_read_line(c, 100, &line, &len, &err));
	assert_error(err, MF_ERROR_CONNECTION, "no longer usable");
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_refused)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	g_autoptr(GError) err = NULL;
	gint64 t0;
	MfConn *c;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	close(fd); /* bound but never listening: the port is closed */
	t0 = g_get_monotonic_time();
	c = conn_connect("127.0.0.1", ntohs(sa.sin_port), 5000, &err);
	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_CONNECTION, "connection refused");
	ck_assert(strstr(err->message, "127.0.0.1:") != NULL);
	ck_assert(elapsed_s(t0) < 1.0);
}
END_TEST

static void
serve_silence(FakeServer *s)
{
	fake_drain(s);
}

START_TEST(test_idle_timeout)
{
	FakeServer *s = server_start(serve_silence, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 300);
	g_autoptr(GError) err = NULL;
	char *line = NULL;
	size_t len;
	gint64 t0 = g_get_monotonic_time();
	double t;

	ck_assert(!conn_read_line(c, 100, &line, &len, &err));
	t = elapsed_s(t0);
	assert_error(err, MF_ERROR_CONNECTION, "timed out after 0.3 s");
	ck_assert_msg(t >= 0.29 && t < 1.0, "took %.3f s", t);
	/* nothing was consumed: the connection may be used again */
	g_clear_error(&err);
	ck_assert(!conn_fill(c, &err));
	assert_error(err, MF_ERROR_CONNECTION, "timed out");
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

static void
serve_trickle(FakeServer *s)
{
	for (int i = 0; i < 50; i++) {
		if (send(s->fd, "x", 1, MSG_NOSIGNAL) != 1)
			return;
		g_usleep(100000);
	}
}

START_TEST(test_deadline)
{
	FakeServer *s = server_start(serve_trickle, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	char *line = NULL;
	size_t len;
	gint64 t0 = g_get_monotonic_time();
	double t;

	conn_set_deadline(c, t0 + 500000);
	ck_assert(!conn_read_line(c, 10000, &line, &len, &err));
	t = elapsed_s(t0);
	assert_error(err, MF_ERROR_CONNECTION, "timed out after 0.5 s");
	ck_assert_msg(t >= 0.49 && t < 0.8, "took %.3f s", t);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* Never reads; returns when the test shuts its socket down (a client
 * whose unsent data fills the window never gets its FIN through). */
static void
serve_no_read(FakeServer *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLRDHUP };

	(void)poll(&p, 1, 5000);
}

START_TEST(test_write_timeout)
{
	FakeServer *s = server_start(serve_no_read, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 300);
	g_autoptr(GError) err = NULL;
	size_t size = 256 * 1024 * 1024;
	g_autofree char *buf = g_malloc0(size);
	gint64 t0 = g_get_monotonic_time();

	ck_assert(!conn_write(c, buf, size, &err));
	assert_error(err, MF_ERROR_CONNECTION, "timed out after 0.3 s");
	ck_assert_msg(elapsed_s(t0) < 2.0, "took %.3f s", elapsed_s(t0));
	conn_close(c);
	shutdown(g_atomic_int_get(&s->fd), SHUT_RD);
	fake_server_finish(s, NULL);
}
END_TEST

static void
serve_200k(FakeServer *s)
{
	char buf[1000];

	for (int i = 0; i < 200; i++) {
		memset(buf, 'a' + i % 26, sizeof buf);
		fake_send(s, buf, sizeof buf);
	}
	fake_drain(s);
}

/* A caller that keeps data unconsumed gets it all: the buffer grows. */
START_TEST(test_fill_grows)
{
	FakeServer *s = server_start(serve_200k, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);
	g_autoptr(GError) err = NULL;
	const char *p;
	size_t len = 0;
	size_t last = 0;
	gboolean same = TRUE;

	while (len < 200000) {
		ck_assert(conn_fill(c, &err));
		p = conn_peek(c, &len);
		ck_assert_uint_le(len - last, 64 * 1024);
		last = len;
	}
	ck_assert_uint_eq(len, 200000);
	for (size_t i = 0; i < len; i++)
		same = same && p[i] == 'a' + (int)(i / 1000) % 26;
	ck_assert(same); /* one check: each ck_assert costs a system call */
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* A listener with a full backlog that never accepts drops new SYNs, so
 * one of a few connections must time out. */
START_TEST(test_connect_timeout)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	MfConn *conns[8] = { NULL };
	gboolean timed_out = FALSE;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
	ck_assert(listen(lfd, 0) == 0);
	ck_assert(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	for (size_t i = 0; i < G_N_ELEMENTS(conns) && !timed_out; i++) {
		g_autoptr(GError) err = NULL;
		gint64 t0 = g_get_monotonic_time();

		conns[i] = conn_connect("127.0.0.1", ntohs(sa.sin_port), 200,
		                        &err);
		if (conns[i] != NULL)
			continue;
		assert_error(err, MF_ERROR_CONNECTION, "timed out after 0.2 s");
		ck_assert(elapsed_s(t0) >= 0.19 && elapsed_s(t0) < 0.8);
		timed_out = TRUE;
	}
	ck_assert(timed_out);
	for (size_t i = 0; i < G_N_ELEMENTS(conns); i++)
		conn_close(conns[i]);
	close(lfd);
}
END_TEST

static void
serve_close_at_once(FakeServer *s)
{
}

/* Writing to a closed peer fails cleanly, without SIGPIPE. */
static void
write_until_error(MfConn *c)
{
	g_autoptr(GError) err = NULL;
	char buf[4096] = { 0 };
	int i;

	for (i = 0; i < 2000; i++) {
		if (!conn_write(c, buf, sizeof buf, &err))
			break;
		g_usleep(1000);
	}
	ck_assert_msg(i < 2000, "writes never failed");
	ck_assert(err != NULL && err->code == MF_ERROR_CONNECTION);
	g_clear_error(&err);
	ck_assert(!conn_write(c, "x", 1, &err));
	assert_error(err, MF_ERROR_CONNECTION, "no longer usable");
}

START_TEST(test_write_closed_peer)
{
	FakeServer *s = server_start(serve_close_at_once, NULL, FALSE);
	MfConn *c = connect_ok(s, "127.0.0.1", 2000);

	fake_server_finish(s, NULL);
	write_until_error(c);
	conn_close(c);
}
END_TEST

/* --- TLS --- */

static void
serve_echo(FakeServer *s)
{
	g_autofree char *line = fake_read_line(s);
	g_autofree char *reply = g_strdup_printf("you said %s\r\n",
	                                         line ? line : "");

	fake_send_str(s, reply);
	fake_drain(s);
}

static void
check_echo(MfConn *c)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *line = NULL;
	size_t len;

	ck_assert(conn_write(c, "ping\r\n", 6, &err));
	ck_assert_msg(conn_read_line(c, 100, &line, &len, &err), "%s",
	              err ? err->message : "");
	ck_assert_str_eq(line, "you said ping");
}

/* Connects to a TLS server with CERT and runs conn_start_tls() with TLS;
 * returns the client (NULL and *ERR on failure), with *S the server. */
static MfConn *
tls_connect(const FakeCert *cert, const char *host, const MfConnTlsConfig *tls,
            FakeServerFn fn, FakeServer **s, GError **err)
{
	MfConn *c;

	*s = server_start(fn, cert, TRUE);
	c = connect_ok(*s, host, 2000);
	if (conn_start_tls(c, tls, err))
		return c;
	conn_close(c);
	return NULL;
}

START_TEST(test_tls_ca_file)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path, .host = "localhost" };
	g_autoptr(GError) err = NULL;
	g_autofree char *desc = NULL;
	FakeServer *s;
	MfConn *c = tls_connect(&cert_good, "localhost", &tls, serve_echo, &s, &err);

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	ck_assert(conn_is_tls(c));
	desc = conn_describe_tls(c);
	ck_assert_msg(g_str_has_prefix(desc, "TLSv1."), "%s", desc);
	ck_assert(strchr(desc, ' ') != NULL);
	check_echo(c);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_tls_ip_address)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path, .host = "127.0.0.1" };
	g_autoptr(GError) err = NULL;
	FakeServer *s;
	MfConn *c = tls_connect(&cert_good, "127.0.0.1", &tls, serve_echo, &s, &err);

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	check_echo(c);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

/* Certificates that must be refused, and the reason the user is told. */
START_TEST(test_tls_verify_fails)
{
	static const struct {
		const FakeCert *cert;
		const FakeCert *ca; /* NULL: the system store */
		const char *host;
		const char *reason;
	} cases[] = {
		{ &cert_good, NULL, "localhost", "self-signed certificate" },
		{ &cert_wrong, &cert_wrong, "localhost", "host name mismatch" },
		/* it names localhost and 127.0.0.1 but not 127.0.0.2 */
		{ &cert_good, &cert_good, "127.0.0.2", "IP address mismatch" },
		{ &cert_expired, &cert_expired, "localhost",
		  "certificate has expired" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		MfConnTlsConfig tls = {
			.ca_file = cases[i].ca ? cases[i].ca->pem_path : NULL,
			.host = cases[i].host,
		};
		g_autoptr(GError) err = NULL;
		g_autofree char *want = g_strdup_printf(
			"TLS certificate verification failed for %s: %s",
			cases[i].host, cases[i].reason);
		FakeServer *s;
		MfConn *c = tls_connect(cases[i].cert, "127.0.0.1", &tls,
		                      serve_echo, &s, &err);

		ck_assert_ptr_null(c);
		assert_error(err, MF_ERROR_TLS, want);
		fake_server_finish(s, NULL);
	}
}
END_TEST

START_TEST(test_tls_pin_ok)
{
	/* the chain is not checked: expired and self-signed is fine if pinned */
	g_autofree char *lower = g_ascii_strdown(cert_expired.fingerprint, -1);
	const char *pins[] = { cert_expired.fingerprint, lower,
	                       cert_expired.fpr_plain };

	for (size_t i = 0; i < G_N_ELEMENTS(pins); i++) {
		MfConnTlsConfig tls = { .fingerprint = pins[i], .host = "other" };
		g_autoptr(GError) err = NULL;
		FakeServer *s;
		MfConn *c = tls_connect(&cert_expired, "localhost", &tls,
		                      serve_echo, &s, &err);

		ck_assert_msg(c != NULL, "%s: %s", pins[i],
		              err ? err->message : "");
		check_echo(c);
		conn_close(c);
		fake_server_finish(s, NULL);
	}
}
END_TEST

START_TEST(test_tls_pin_mismatch)
{
	MfConnTlsConfig tls = { .fingerprint = cert_good.fingerprint,
	                      .host = "localhost" };
	g_autoptr(GError) err = NULL;
	FakeServer *s;
	MfConn *c = tls_connect(&cert_wrong, "localhost", &tls, serve_echo, &s,
	                      &err);

	ck_assert_ptr_null(c);
	assert_error(err, MF_ERROR_TLS, "fingerprint mismatch");
	assert_error(err, MF_ERROR_TLS, cert_wrong.fpr_plain);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_tls_pin_invalid)
{
	const char *bad[] = { "sha256:zz", "md5:00", "sha256:",
	                      "AB:CD", "sha256:0123456789abcdef" };

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		MfConnTlsConfig tls = { .fingerprint = bad[i], .host = "localhost" };
		g_autoptr(GError) err = NULL;
		FakeServer *s;
		MfConn *c = tls_connect(&cert_good, "localhost", &tls,
		                      serve_echo, &s, &err);

		ck_assert_ptr_null(c);
		assert_error(err, MF_ERROR_CONFIG, "invalid TLS fingerprint");
		fake_server_finish(s, NULL);
	}
}
END_TEST

static void
serve_tls_bye(FakeServer *s)
{
	fake_send_str(s, "* BYE\r\n");
	g_usleep(20000);
	SSL_shutdown(s->ssl);
}

static void
serve_tls_bye_rude(FakeServer *s)
{
	fake_send_str(s, "* BYE\r\n");
	g_usleep(20000);
}

START_TEST(test_tls_eof)
{
	FakeServerFn fns[] = { serve_tls_bye, serve_tls_bye_rude };

	for (size_t i = 0; i < G_N_ELEMENTS(fns); i++) {
		MfConnTlsConfig tls = { .ca_file = cert_good.pem_path,
		                      .host = "localhost" };
		g_autoptr(GError) err = NULL;
		g_autofree char *line = NULL;
		size_t len;
		FakeServer *s;
		MfConn *c = tls_connect(&cert_good, "localhost", &tls, fns[i],
		                      &s, &err);

		ck_assert_msg(c != NULL, "%s", err ? err->message : "");
		ck_assert(conn_read_line(c, 100, &line, &len, &err));
		ck_assert_str_eq(line, "* BYE");
		ck_assert(!conn_fill(c, &err));
		assert_error(err, MF_ERROR_CONNECTION,
		             "connection closed by server");
		conn_close(c);
		fake_server_finish(s, NULL);
	}
}
END_TEST

START_TEST(test_tls_write_closed_peer)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path, .host = "localhost" };
	g_autoptr(GError) err = NULL;
	FakeServer *s;
	MfConn *c = tls_connect(&cert_good, "localhost", &tls,
	                      serve_close_at_once, &s, &err);

	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	fake_server_finish(s, NULL);
	write_until_error(c);
	conn_close(c);
}
END_TEST

START_TEST(test_tls_handshake_plain_server)
{
	/* a plaintext greeting where a TLS handshake was expected */
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path, .host = "localhost" };
	g_autoptr(GError) err = NULL;
	FakeServer *s = server_start(serve_lines, NULL, FALSE);
	MfConn *c = connect_ok(s, "localhost", 2000);

	ck_assert(!conn_start_tls(c, &tls, &err));
	ck_assert(err != NULL);
	assert_error(err, err->code, "TLS handshake with localhost failed");
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_tls_handshake_timeout)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path, .host = "localhost" };
	FakeServer *s = server_start(serve_silence, NULL, FALSE);
	MfConn *c = connect_ok(s, "localhost", 300);
	g_autoptr(GError) err = NULL;
	gint64 t0 = g_get_monotonic_time();

	ck_assert(!conn_start_tls(c, &tls, &err));
	assert_error(err, MF_ERROR_CONNECTION, "timed out after 0.3 s");
	ck_assert(elapsed_s(t0) < 1.0);
	ck_assert(!conn_is_tls(c));
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

static gpointer
tls_echo_thread_cb(gpointer data)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path, .host = "localhost" };
	g_autoptr(GError) err = NULL;
	FakeServer *s;

	for (int i = 0; i < 5; i++) {
		MfConn *c = tls_connect(&cert_good, "localhost", &tls, serve_echo,
		                      &s, &err);

		if (c == NULL)
			return g_strdup(err->message);
		check_echo(c);
		conn_close(c);
		fake_server_finish(s, NULL);
	}
	return NULL;
}

/* Connections in several threads at once, each with its own thread. */
START_TEST(test_tls_parallel)
{
	GThread *threads[4];

	for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("client", tls_echo_thread_cb, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
		g_autofree char *fail = g_thread_join(threads[i]);

		ck_assert_msg(fail == NULL, "%s", fail);
	}
}
END_TEST

/* --- STARTTLS --- */

static void
serve_starttls(FakeServer *s)
{
	g_autofree char *cmd = NULL;

	fake_send_str(s, "* OK ready\r\n");
	cmd = fake_read_line(s);
	if (cmd == NULL || strcmp(cmd, "a STARTTLS") != 0)
		return;
	fake_send_str(s, "a OK begin TLS\r\n");
	if (fake_tls_accept(s))
		serve_echo(s);
}

START_TEST(test_starttls)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path };
	FakeServer *s = server_start(serve_starttls, &cert_good, FALSE);
	MfConn *c = connect_ok(s, "localhost", 2000);
	g_autoptr(GError) err = NULL;
	char *line;
	size_t len;

	ck_assert(conn_read_line(c, 100, &line, &len, &err));
	ck_assert_str_eq(line, "* OK ready");
	g_free(line);
	ck_assert(conn_write(c, "a STARTTLS\r\n", 12, &err));
	ck_assert(conn_read_line(c, 100, &line, &len, &err));
	ck_assert_str_eq(line, "a OK begin TLS");
	g_free(line);
	/* tls.host unset: the name given to conn_connect() is checked */
	ck_assert_msg(conn_start_tls(c, &tls, &err), "%s",
	              err ? err->message : "");
	ck_assert(conn_is_tls(c));
	check_echo(c);
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

static void
serve_starttls_injection(FakeServer *s)
{
	fake_send_str(s, "a OK begin TLS\r\n* injected\r\n");
	fake_drain(s);
}

START_TEST(test_starttls_injection)
{
	MfConnTlsConfig tls = { .ca_file = cert_good.pem_path,
	                      .host = "localhost" };
	FakeServer *s = server_start(serve_starttls_injection, &cert_good,
	                             FALSE);
	MfConn *c = connect_ok(s, "localhost", 2000);
	g_autoptr(GError) err = NULL;
	char *line;
	size_t len = 0;

	while (len < 28) {
		ck_assert(conn_fill(c, &err));
		conn_peek(c, &len);
	}
	ck_assert(conn_read_line(c, 100, &line, &len, &err));
	g_free(line);
	ck_assert(!conn_start_tls(c, &tls, &err));
	assert_error(err, MF_ERROR_PROTOCOL, "injection");
	ck_assert(!conn_is_tls(c));
	conn_close(c);
	fake_server_finish(s, NULL);
}
END_TEST

START_TEST(test_close_null)
{
	conn_close(NULL);
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *plain = tcase_create("plaintext");
	TCase *tls = tcase_create("tls");

	tcase_set_timeout(plain, 10);
	tcase_set_timeout(tls, 10);
	tcase_add_test(plain, test_lines);
	tcase_add_test(plain, test_line_too_long);
	tcase_add_test(plain, test_line_limit_edge);
	tcase_add_test(plain, test_peek_fill_consume);
	tcase_add_test(plain, test_read_exact);
	tcase_add_test(plain, test_read_exact_abort);
	tcase_add_test(plain, test_refused);
	tcase_add_test(plain, test_idle_timeout);
	tcase_add_test(plain, test_deadline);
	tcase_add_test(plain, test_write_closed_peer);
	tcase_add_test(plain, test_write_timeout);
	tcase_add_test(plain, test_fill_grows);
	tcase_add_test(plain, test_connect_timeout);
	tcase_add_test(plain, test_close_null);
	tcase_add_test(tls, test_tls_ca_file);
	tcase_add_test(tls, test_tls_ip_address);
	tcase_add_test(tls, test_tls_verify_fails);
	tcase_add_test(tls, test_tls_pin_ok);
	tcase_add_test(tls, test_tls_pin_mismatch);
	tcase_add_test(tls, test_tls_pin_invalid);
	tcase_add_test(tls, test_tls_eof);
	tcase_add_test(tls, test_tls_write_closed_peer);
	tcase_add_test(tls, test_tls_handshake_plain_server);
	tcase_add_test(tls, test_tls_handshake_timeout);
	tcase_add_test(tls, test_tls_parallel);
	tcase_add_test(tls, test_starttls);
	tcase_add_test(tls, test_starttls_injection);
	suite_add_tcase(s, plain);
	suite_add_tcase(s, tls);
	return s;
}

int
main(void)
{
	fake_cert_init(&cert_good, "localhost", "DNS:localhost,IP:127.0.0.1",
	               -3600, 86400);
	fake_cert_init(&cert_expired, "localhost",
	               "DNS:localhost,IP:127.0.0.1", -2 * 86400, -86400);
	fake_cert_init(&cert_wrong, "wrong.example", "DNS:wrong.example",
	               -3600, 86400);
	return fake_run_suite(conn_suite());
}
