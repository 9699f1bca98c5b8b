/* fake_server.h - scaffolding shared by the unit tests that talk to a fake
 * server on loopback: self-signed certificates made in memory, a
 * one-connection server in a thread that follows a per-test script
 * function, error assertions and the main() that runs one suite. */
#ifndef MAILFS_TESTS_FAKE_SERVER_H
#define MAILFS_TESTS_FAKE_SERVER_H

#include <check.h>
#include <glib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* --- certificates, made in main() and inherited by the test forks --- */

typedef struct {
	X509 *cert;
	char *pem_path;     /* the certificate alone, to use as ca_file */
	char *fingerprint;  /* "sha256:AB:CD:..." as openssl x509 prints it */
	char *fpr_plain;    /* "sha256:abcd..." as conn.c reports it */
} FakeCert;

/* Makes TC a self-signed certificate for CN with subjectAltName SAN (NULL:
 * none), valid from FROM_S to TO_S seconds from now; all certificates share
 * one key.  fake_run_suite() frees them. */
void fake_cert_init(FakeCert *tc, const char *cn, const char *san,
                    long from_s, long to_s);

/* --- a one-connection server in a thread --- */

typedef struct FakeServer FakeServer;
typedef void (*FakeServerFn)(FakeServer *s);

struct FakeServer {
	int lfd;
	int fd;
	guint16 port;
	SSL_CTX *ctx;        /* set: TLS with the caller's certificate */
	gboolean tls_at_once;
	SSL *ssl;            /* once the server side of TLS is up */
	FakeServerFn fn;
	const void *script;  /* for FN: the steps it follows, if any */
	gsize n_steps;       /* for FN: how many, if it counts them */
	GString *received;   /* every byte the client sent */
	char *error;         /* the first deviation from the script */
	GThread *thread;
};

/* Listens on 127.0.0.1 and serves one connection with FN, which may follow
 * SCRIPT of N_STEPS steps; with CERT and TLS_AT_ONCE the TLS handshake comes
 * first (else FN may start TLS itself: STARTTLS).  The server never waits
 * longer than 10 s for a byte from the client. */
FakeServer *fake_server_start(FakeServerFn fn, const void *script,
                              gsize n_steps, const FakeCert *cert,
                              gboolean tls_at_once);

/* Waits for the server to finish (the client must have closed), checks
 * that it saw no deviation from its script and, with WANT, that the client
 * sent exactly WANT; frees S. */
void fake_server_finish(FakeServer *s, const char *want);

/* Records the first deviation from the script; later ones are dropped. */
void fake_fail(FakeServer *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Sends LEN bytes of DATA; FALSE if not all went out. */
gboolean fake_send(FakeServer *s, const void *data, size_t len);
gboolean fake_send_str(FakeServer *s, const char *str);

/* Reads up to N bytes into BUF as recv() does, adding them to received. */
gssize fake_recv(FakeServer *s, char *buf, size_t n);

/* Reads one line without its CRLF; NULL on EOF. */
char *fake_read_line(FakeServer *s);

/* Reads and ignores whatever comes, up to EOF. */
void fake_drain(FakeServer *s);

/* One step of a line-by-line script: a line the client must send next
 * (without CRLF; NULL: none), then a reply (NULL: none), then ACT (NULL:
 * nothing more). */
typedef struct {
	const char *expect;
	const char *reply;
	void (*act)(FakeServer *s);
} FakeStep;

/* Follows S->script, S->n_steps FakeSteps; FALSE at the first deviation
 * (recorded with fake_fail) or a send that failed. */
gboolean fake_follow_steps(FakeServer *s);

/* A FakeServerFn: fake_follow_steps(), then whatever comes, up to EOF. */
void fake_run_steps(FakeServer *s);

/* The server side of the TLS handshake; FALSE (and no TLS) if it fails. */
gboolean fake_tls_accept(FakeServer *s);

/* --- assertions and main() --- */

/* A text no error message may contain (a password); NULL: none. */
extern const char *assert_error_secret;

/* Checks that ERR is an MF_ERROR with CODE whose message holds NEEDLE. */
void assert_error(const GError *err, int code, const char *needle);

/* Seconds since SINCE, a g_get_monotonic_time() value. */
double elapsed_s(gint64 since);

/* Runs SUITE, frees the certificates; the exit status for main(). */
int fake_run_suite(Suite *suite);

#endif
