/* smtp_client.h - a blocking SMTP submission client over one MfConn.
 *
 * smtps:// uses implicit TLS; smtp:// must be upgraded with STARTTLS before
 * anything else: without it the client refuses to authenticate or send
 * (MF_ERROR_TLS).  EHLO is used; HELO only when EHLO is refused, and then
 * no extension is available (so smtp:// fails, and AUTH is impossible).
 * With a password, AUTH PLAIN is preferred, then AUTH LOGIN; with an access
 * token, OAUTHBEARER, then XOAUTH2 (as MfSmtpClientParams.server->auth says:
 * sasl_choose()).
 *
 * One session sends many messages, one after the other.  The protocol state
 * is explicit (SmtpState) and changes in one function only.  A client is
 * used by one thread at a time.
 *
 * Sending a message and its outcome, for the outbox queue:
 *   - smtp_client_send*() returns TRUE exactly when the server gave its
 *     final 2xx to the message data: the message was accepted, once.
 *   - otherwise ERR says why, and its code says what to do with the message:
 *       MF_ERROR_MESSAGE   permanent: this message will never be accepted
 *                          as it is (a 5xx reply to MAIL, RCPT, DATA or the
 *                          data; or refused locally before MAIL: larger
 *                          than the server's SIZE, 8-bit data or UTF-8
 *                          addresses the server cannot take, bad address).
 *                          The message goes to failed/.
 *       MF_ERROR_CONNECTION temporary: a 4xx reply, or the connection
 *                          failed, dropped or timed out.  Retry later.
 *       other codes        the session is at fault, not the message
 *                          (MF_ERROR_PROTOCOL: garbage from the server;
 *                          MF_ERROR_TLS, MF_ERROR_AUTH: the user must act).
 *                          Keep the message queued.
 *     smtp_client_error_is_permanent() tells the first case.  Server replies
 *     are quoted whole in ERR's message: "smtps://h:465: recipient <x@y>
 *     refused: 550 5.1.1 <x@y>: Recipient address rejected".
 *   - Recipients: if any RCPT gets a 5xx, the whole message fails
 *     permanently with the first such reply (nothing is sent to the others);
 *     otherwise if any gets a 4xx, it fails temporarily.
 *   - If the connection is lost after the final "." was written but before
 *     the server answered, the message may or may not have been delivered;
 *     this is MF_ERROR_CONNECTION (retrying may deliver it twice), and the
 *     message says "may have been delivered".
 * After a refused transaction (4xx or 5xx) the session is reset (RSET if
 * needed) and stays usable: smtp_client_state() is SMTP_STATE_READY.  After
 * an I/O or protocol failure, a 421 reply, a failure while the data was
 * going out, or a recipient refused once DATA was already accepted with
 * PIPELINING (the connection is dropped so the server discards the
 * transaction), the client is SMTP_STATE_BROKEN and must be freed; the
 * caller connects again for the next message.
 */
#ifndef MAILFS_SMTP_CLIENT_H
#define MAILFS_SMTP_CLIENT_H

#include <glib.h>
#include "net/conn.h"
#include "net/sasl.h"
#include "net/server_params.h"
#include "net/url.h"

typedef enum {
	SMTP_STATE_GREETING, /* connected, waiting for the 220 greeting */
	SMTP_STATE_HELLO,    /* greeted: EHLO, STARTTLS and AUTH happen here */
	SMTP_STATE_READY,    /* session set up, no mail transaction open */
	SMTP_STATE_MAIL,     /* MAIL FROM sent: a transaction is open */
	SMTP_STATE_DATA,     /* DATA accepted (354): the data is going out */
	SMTP_STATE_QUIT,     /* QUIT sent */
	SMTP_STATE_BROKEN,   /* I/O or protocol failure: unusable */
} SmtpState;

/* Service extensions from the EHLO reply. */
enum {
	SMTP_EXT_STARTTLS     = 1u << 0,
	SMTP_EXT_SIZE         = 1u << 1,
	SMTP_EXT_8BITMIME     = 1u << 2,
	SMTP_EXT_SMTPUTF8     = 1u << 3,
	SMTP_EXT_PIPELINING   = 1u << 4,
	SMTP_EXT_AUTH_PLAIN   = 1u << 5,
	SMTP_EXT_AUTH_LOGIN   = 1u << 6,
	SMTP_EXT_ENHANCEDSTATUSCODES = 1u << 7,
};

/* What the message needs from the server (from outbox_msg). */
typedef enum {
	SMTP_BODY_8BIT = 1u << 0, /* bytes >= 0x80: BODY=8BITMIME */
	SMTP_BODY_UTF8 = 1u << 1, /* UTF-8 addresses: SMTPUTF8 */
} SmtpBodyFlags;

typedef struct {
	const MfServerParams *server; /* smtp:// (STARTTLS required) or
	                               * smtps://; its user NULL: do not
	                               * authenticate (borrowed) */
	const char *secret;      /* the password, or the access token with an
	                          * OAuth2 auth: what is sent, not
	                          * SERVER->password; not kept after connect
	                          * returns */
	const char *ehlo_name;   /* our name in EHLO; NULL: "localhost" */
} MfSmtpClientParams;

/* A message's envelope.  Addresses are bare addr-specs ("a@example.com",
 * no angle brackets); FROM may be "" (the null reverse-path).  Addresses
 * with non-ASCII characters need SMTPUTF8 whatever FLAGS say. */
typedef struct {
	const char *from;
	const char *const *rcpts;
	guint n_rcpts;           /* 1..SMTP_CLIENT_RCPTS_MAX */
	SmtpBodyFlags flags;
} SmtpEnvelope;

#define SMTP_CLIENT_RCPTS_MAX 1000

typedef struct MfSmtpClient MfSmtpClient;

/* Connects, reads the greeting, says EHLO, upgrades with STARTTLS on
 * smtp:// (then EHLO again), and authenticates when P->server->user is set.
 * Errors: MF_ERROR_CONNECTION (also a 4xx or 554 greeting), MF_ERROR_TLS,
 * MF_ERROR_AUTH (message includes the server's reply), MF_ERROR_PROTOCOL. */
MfSmtpClient *smtp_client_connect(const MfSmtpClientParams *p, GError **err);

/* Sends QUIT (best effort, short wait) and frees; accepts NULL. */
void smtp_client_free(MfSmtpClient *c);

SmtpState smtp_client_state(const MfSmtpClient *c);
guint smtp_client_extensions(const MfSmtpClient *c);  /* SMTP_EXT_* */
/* The server's SIZE limit in bytes; 0 when it announced none. */
guint64 smtp_client_size_max(const MfSmtpClient *c);
/* "smtps://host:465, TLSv1.3 ..." for status displays; owned by caller. */
char *smtp_client_describe(const MfSmtpClient *c);

/* Sends one message whose data (header and body, CRLF line ends) is read
 * from FD from offset 0 to its end (a regular file: its size is the SIZE
 * declared).  The data is streamed in pieces, dot-stuffed, and terminated
 * with CRLF.CRLF; bare LF and lone CR are sent as CRLF.  Uses PIPELINING
 * for MAIL, RCPT and DATA when offered.  On success *REPLY (optional)
 * receives the server's final reply for people ("250 2.0.0 Ok: queued as
 * 4F2A"), owned by the caller.  See the top of this file for errors. */
gboolean smtp_client_send_fd(MfSmtpClient *c, const SmtpEnvelope *env,
                             int fd, char **reply, GError **err);

/* Called once per message when the whole data went out, just before the
 * final "." (from then on the server may take the message at any moment).
 * FALSE, with ERR set, withholds the ".": the connection is dropped (the
 * server discards the transaction, SMTP_STATE_BROKEN) and the send fails
 * with that error; the outcome is known (not delivered). */
typedef gboolean (*SmtpBeforeDotFn)(void *ud, GError **err);

/* smtp_client_send_fd() that calls BEFORE_DOT (UD) as said above. */
gboolean smtp_client_send_fd_before_dot(MfSmtpClient *c,
                                        const SmtpEnvelope *env, int fd,
                                        SmtpBeforeDotFn before_dot, void *ud,
                                        char **reply, GError **err);

/* The same with the data in memory. */
gboolean smtp_client_send_data(MfSmtpClient *c, const SmtpEnvelope *env,
                               const char *data, size_t len, char **reply,
                               GError **err);

/* TRUE when the last send failed after the whole message was sent, before
 * the server's verdict: it may have been delivered. */
gboolean smtp_client_outcome_unknown(const MfSmtpClient *c);

/* Makes a blocked call on C fail at once; callable from any thread. */
void smtp_client_interrupt(MfSmtpClient *c);

/* TRUE when ERR means the message itself was refused for good (it goes to
 * failed/); FALSE for NULL and for every other error. */
gboolean smtp_client_error_is_permanent(const GError *err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MfSmtpClient, smtp_client_free)

#endif
