/* fake_session.c - an IMAP backend session to a fake server (see
 * fake_session.h). */
#include "fake_session.h"

#include "net/url.h"

MfSession *
fake_session_open(FakeServer *s, const FakeCert *cert, guint timeout_ms)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *text = g_strdup_printf("imaps://127.0.0.1:%u",
	                                        (unsigned)s->port);
	MfBackendParams p = { .server = {
		.tls_fingerprint = cert->fpr_plain,
		.user = (char *)"alice",
		.password = (char *)"secret",
		.timeout_ms = timeout_ms,
	} };

	g_assert(url_parse(text, &p.server.url, NULL));
	MfSession *ses = backend_imap.connect(&p, &err);
	url_clear(&p.server.url);
	ck_assert_msg(ses != NULL, "connect: %s", err ? err->message : "?");
	return ses;
}
