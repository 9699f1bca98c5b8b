/* fake_session.h - an IMAP backend session (cache/backend_imap.c) logged
 * in to a fake server as alice, for the unit tests of the backend. */
#ifndef MAILFS_TESTS_FAKE_SESSION_H
#define MAILFS_TESTS_FAKE_SESSION_H

#include "cache/backend.h"
#include "fake_server.h"

/* Connects to S over implicit TLS, trusting CERT by its fingerprint, with
 * TIMEOUT_MS per command; fails the test if that does not work.  Owned:
 * close it with backend_imap.close(). */
MfSession *fake_session_open(FakeServer *s, const FakeCert *cert,
                             guint timeout_ms);

#endif
