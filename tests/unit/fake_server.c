/* fake_server.c - scaffolding shared by the unit tests that talk to a fake
 * server on loopback: certificates, the server thread, assertions, main(). */
#include "fake_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/mf_error.h"

/* --- certificates --- */

static EVP_PKEY *fake_key;
static char *tmp_dir;
static GPtrArray *all_certs; /* of FakeCert *, to free */

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *key = NULL;

	g_assert(pctx != NULL);
	g_assert(EVP_PKEY_keygen_init(pctx) == 1);
	g_assert(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(
			 pctx, NID_X9_62_prime256v1) == 1);
	g_assert(EVP_PKEY_keygen(pctx, &key) == 1);
	EVP_PKEY_CTX_free(pctx);
	return key;
}

static void
add_san(X509 *x, const char *san)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	g_assert(ext != NULL);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

static X509 *
make_cert(const char *cn, const char *san, long serial, long from_s,
          long to_s)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);

	g_assert(X509_set_version(x, 2) == 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	g_assert(X509_set_pubkey(x, fake_key) == 1);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	g_assert(X509_set_issuer_name(x, name) == 1);
	if (san != NULL)
		add_san(x, san);
	g_assert(X509_sign(x, fake_key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	g_assert(f != NULL);
	g_assert(PEM_write_X509(f, x) == 1);
	fclose(f);
}

static void
set_fingerprints(FakeCert *tc)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	GString *colon = g_string_new("sha256:");
	GString *plain = g_string_new("sha256:");

	g_assert(X509_digest(tc->cert, EVP_sha256(), md, &len) == 1 &&
	         len == 32);
	for (unsigned int i = 0; i < len; i++) {
		g_string_append_printf(colon, i ? ":%02X" : "%02X", md[i]);
		g_string_append_printf(plain, "%02x", md[i]);
	}
	tc->fingerprint = g_string_free(colon, FALSE);
	tc->fpr_plain = g_string_free(plain, FALSE);
}

void
fake_cert_init(FakeCert *tc, const char *cn, const char *san, long from_s,
               long to_s)
{
	g_autofree char *file = NULL;

	if (all_certs == NULL) {
		tmp_dir = g_dir_make_tmp("fake_server-XXXXXX", NULL);
		g_assert(tmp_dir != NULL);
		fake_key = make_key();
		all_certs = g_ptr_array_new();
	}
	g_ptr_array_add(all_certs, tc);
	file = g_strdup_printf("cert%u.pem", all_certs->len);
	tc->cert = make_cert(cn, san, all_certs->len, from_s, to_s);
	tc->pem_path = g_build_filename(tmp_dir, file, NULL);
	write_pem(tc->pem_path, tc->cert);
	set_fingerprints(tc);
}

static void
free_certs(void)
{
	for (guint i = 0; i < all_certs->len; i++) {
		FakeCert *tc = all_certs->pdata[i];

		g_unlink(tc->pem_path);
		g_free(tc->pem_path);
		g_free(tc->fingerprint);
		g_free(tc->fpr_plain);
		X509_free(tc->cert);
	}
	g_ptr_array_free(all_certs, TRUE);
	g_rmdir(tmp_dir);
	g_free(tmp_dir);
	EVP_PKEY_free(fake_key);
}

/* --- the server --- */

void
fake_fail(FakeServer *s, const char *fmt, ...)
{
	va_list ap;

	if (s->error != NULL)
		return;
	va_start(ap, fmt);
	s->error = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

gboolean
fake_send(FakeServer *s, const void *data, size_t len)
{
	if (s->ssl != NULL)
		return SSL_write(s->ssl, data, (int)len) == (int)len;
	return send(s->fd, data, len, MSG_NOSIGNAL) == (ssize_t)len;
}

gboolean
fake_send_str(FakeServer *s, const char *str)
{
	return fake_send(s, str, strlen(str));
}

gssize
fake_recv(FakeServer *s, char *buf, size_t n)
{
	gssize r = s->ssl != NULL ? SSL_read(s->ssl, buf, (int)n)
	                          : recv(s->fd, buf, n, 0);

	if (r > 0)
		g_string_append_len(s->received, buf, r);
	return r;
}

char *
fake_read_line(FakeServer *s)
{
	g_autoptr(GString) line = g_string_new(NULL);
	char ch;

	for (;;) {
		if (fake_recv(s, &ch, 1) != 1)
			return NULL;
		if (ch == '\n')
			break;
		g_string_append_c(line, ch);
	}
	if (line->len > 0 && line->str[line->len - 1] == '\r')
		g_string_truncate(line, line->len - 1);
	return g_string_free(g_steal_pointer(&line), FALSE);
}

void
fake_drain(FakeServer *s)
{
	char buf[512];

	while (fake_recv(s, buf, sizeof buf) > 0)
		;
}

gboolean
fake_follow_steps(FakeServer *s)
{
	const FakeStep *steps = s->script;

	for (gsize i = 0; i < s->n_steps; i++) {
		const FakeStep *st = &steps[i];
		if (st->expect) {
			g_autofree char *line = fake_read_line(s);
			if (!line || strcmp(line, st->expect) != 0) {
				fake_fail(s, "step %zu: got '%s', want '%s'", i,
				          line ? line : "(EOF)", st->expect);
				return FALSE;
			}
		}
		if (st->reply && !fake_send_str(s, st->reply))
			return FALSE;
		if (st->act)
			st->act(s);
	}
	return TRUE;
}

void
fake_run_steps(FakeServer *s)
{
	if (fake_follow_steps(s))
		fake_drain(s);
}

gboolean
fake_tls_accept(FakeServer *s)
{
	s->ssl = SSL_new(s->ctx);
	SSL_set_fd(s->ssl, s->fd);
	if (SSL_accept(s->ssl) == 1)
		return TRUE;
	ERR_clear_error();
	SSL_free(s->ssl);
	s->ssl = NULL;
	return FALSE;
}

static gpointer
server_thread_cb(gpointer data)
{
	FakeServer *s = data;
	sigset_t set;
	struct timeval tv = { .tv_sec = 10 };

	/* Only the client under test must be immune to SIGPIPE by itself. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	g_atomic_int_set(&s->fd, accept(s->lfd, NULL, NULL));
	g_assert(s->fd >= 0);
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (!s->tls_at_once || fake_tls_accept(s))
		s->fn(s);
	if (s->ssl != NULL)
		SSL_free(s->ssl);
	ERR_clear_error();
	close(s->fd);
	return NULL;
}

static void
server_listen(FakeServer *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert(s->lfd >= 0);
	g_assert(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
	g_assert(listen(s->lfd, 4) == 0);
	g_assert(getsockname(s->lfd, (struct sockaddr *)&sa, &sl) == 0);
	s->port = ntohs(sa.sin_port);
}

FakeServer *
fake_server_start(FakeServerFn fn, const void *script, gsize n_steps,
                  const FakeCert *cert, gboolean tls_at_once)
{
	FakeServer *s = g_new0(FakeServer, 1);

	server_listen(s);
	if (cert != NULL) {
		s->ctx = SSL_CTX_new(TLS_server_method());
		g_assert(SSL_CTX_use_certificate(s->ctx, cert->cert) == 1);
		g_assert(SSL_CTX_use_PrivateKey(s->ctx, fake_key) == 1);
	}
	s->fd = -1;
	s->tls_at_once = tls_at_once;
	s->fn = fn;
	s->script = script;
	s->n_steps = n_steps;
	s->received = g_string_new(NULL);
	s->thread = g_thread_new("fake-server", server_thread_cb, s);
	return s;
}

void
fake_server_finish(FakeServer *s, const char *want)
{
	g_thread_join(s->thread);
	ck_assert_msg(s->error == NULL, "%s", s->error);
	if (want != NULL)
		ck_assert_str_eq(s->received->str, want);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
	g_string_free(s->received, TRUE);
	g_free(s);
}

/* --- assertions and main() --- */

const char *assert_error_secret;

void
assert_error(const GError *err, int code, const char *needle)
{
	ck_assert_msg(err != NULL, "expected an error containing '%s'", needle);
	ck_assert_msg(err->domain == MF_ERROR && err->code == code,
	              "wrong error code %d (want %d): %s", err->code, code,
	              err->message);
	ck_assert_msg(strstr(err->message, needle) != NULL,
	              "'%s' not in '%s'", needle, err->message);
	if (assert_error_secret != NULL)
		ck_assert_msg(strstr(err->message, assert_error_secret) == NULL,
		              "password in '%s'", err->message);
}

double
elapsed_s(gint64 since)
{
	return (double)(g_get_monotonic_time() - since) / 1e6;
}

int
fake_run_suite(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free_certs();
	return failed == 0 ? 0 : 1;
}
