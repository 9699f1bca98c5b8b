/* conn_tls.c - TLS on an MfConn: set-up, certificate and pin checks,
 * handshake. */
#include "net/conn_int.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/mf_error.h"

#define CONN_SHA256_LEN 32

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define conn_get_peer_cert SSL_get1_peer_certificate
#else
#define conn_get_peer_cert SSL_get_peer_certificate
#endif

/* --- TLS error texts --- */

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

/* Classifies a failed SSL_read/SSL_write/SSL_connect return value RC. */
ConnStep
conn_tls_step_error(MfConn *c, int rc, const char *what, short *events,
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

/* --- a socket BIO that never raises SIGPIPE --- */

static int
conn_bio_write_cb(BIO *b, const char *data, int len)
{
	MfConn *c = BIO_get_data(b);
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
	MfConn *c = BIO_get_data(b);
	ssize_t n = recv(c->fd, data, (size_t)len, 0);

	BIO_clear_retry_flags(b);
	if (n > 0 && !c->tls_up && c->hello_len < sizeof c->hello) {
		size_t k = MIN((size_t)n, sizeof c->hello - c->hello_len);
		memcpy(c->hello + c->hello_len, data, k);
		c->hello_len += k;
	}
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
	MfConn *c = BIO_get_data(b);

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
	mf_error_config(err, "invalid TLS fingerprint '%s': expected "
	                "\"sha256:\" and 64 hexadecimal digits", text);
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
conn_tls_new_ctx(const MfConnTlsConfig *tls, gboolean pinned, GError **err)
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
	mf_error_config(err, "cannot load trusted certificates from '%s': %s",
	                tls->ca_file != NULL ? tls->ca_file : "system store",
	                text);
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
conn_tls_setup(MfConn *c, const MfConnTlsConfig *tls, const char *host,
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
	mf_error_config(err,
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

gboolean
conn_tls_peer_is_plain(const MfConn *c)
{
	if (c->hello_len < 3)
		return FALSE;
	for (size_t i = 0; i < c->hello_len; i++)
		if (c->hello[i] < 0x20 || c->hello[i] > 0x7e)
			return FALSE;
	return TRUE;
}

/* The SHA-256 fingerprint of the certificate C's server presented, also
 * when it did not verify; owned, or NULL. */
static char *
conn_tls_presented(MfConn *c)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);
	X509 *leaf = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0)
	                                             : NULL;
	guint8 md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!leaf || !X509_digest(leaf, EVP_sha256(), md, &md_len) ||
	    md_len != CONN_SHA256_LEN) {
		ERR_clear_error();
		return NULL;
	}
	return conn_format_fingerprint(md);
}

/* Turns the failed SSL_connect() that returned RC into ERR: certificate
 * and protocol problems are MF_ERROR_TLS, I/O failures keep their code.
 * A certificate that does not verify is named by its fingerprint, with
 * the two ways to trust it. */
static void
conn_tls_handshake_error(MfConn *c, int rc, const char *host, gboolean pinned,
                         GError **err)
{
	long vr = SSL_get_verify_result(c->ssl);
	g_autoptr(GError) io_err = NULL;
	g_autofree char *text = NULL;
	short events = 0;

	if (!pinned && vr != X509_V_OK) {
		ERR_clear_error();
		g_autofree char *fp = conn_tls_presented(c);
		/* A CA does not make a certificate for another name good. */
		gboolean name = vr == X509_V_ERR_HOSTNAME_MISMATCH ||
		                vr == X509_V_ERR_IP_ADDRESS_MISMATCH;
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "TLS certificate verification failed for %s: %s%s%s%s",
		            host, conn_verify_text(vr), fp ? " (certificate " : "",
		            fp ? fp : "", !fp ? "" : name ? "; to trust it anyway, "
		            "set tls_fingerprint to that)" : "; to trust it, set "
		            "tls_fingerprint to that, or ca_file to a PEM file of "
		            "it or of its CA)");
	} else if (conn_tls_peer_is_plain(c)) {
		ERR_clear_error();
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "TLS handshake with %s failed: the server answered "
		            "in plain text (\"%.*s...\"), not TLS", host,
		            (int)c->hello_len, c->hello);
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
conn_tls_handshake(MfConn *c, const char *host, gboolean pinned, GError **err)
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
conn_tls_check_pin(MfConn *c, const guint8 *pin, GError **err)
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
conn_start_tls(MfConn *c, const MfConnTlsConfig *tls, GError **err)
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
conn_is_tls(const MfConn *c)
{
	g_return_val_if_fail(c != NULL, FALSE);
	return c->tls_up;
}

char *
conn_describe_tls(const MfConn *c)
{
	g_return_val_if_fail(c != NULL, NULL);
	if (!c->tls_up)
		return g_strdup("plaintext");
	return g_strdup_printf("%s %s", SSL_get_version(c->ssl),
	                       SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
}
