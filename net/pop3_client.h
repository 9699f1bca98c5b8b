/* pop3_client.h - a blocking POP3 client (RFC 1939, CAPA and STLS from
 * RFC 2449 / 2595, SASL from RFC 5034) over one MfConn.
 *
 * An explicit state machine (see Pop3State); pop3_client_set_state() is
 * the one place that changes it.  Commands are sent one at a time and
 * every reply goes through one Pop3Parser.  Message text is streamed to a
 * caller-supplied sink line by line and never held whole in memory.  A
 * client is used by one thread at a time.  After any MF_ERROR_CONNECTION
 * or MF_ERROR_PROTOCOL error the client is in POP3_STATE_BROKEN and must
 * be freed.
 *
 * Deletions: the server removes messages marked with DELE only when it
 * answers QUIT with +OK (its UPDATE state).  So the caller must call
 * pop3_client_quit() to commit deletions, and must never DELE a message
 * it has not yet stored safely (fsynced) itself.  Freeing the client
 * without pop3_client_quit() just closes the connection, and the server
 * then deletes nothing.
 *
 * Message numbers are only valid for one session; the unique-ids from
 * pop3_client_uidl() are what identifies a message across sessions.
 * Servers without UIDL are refused.
 */
#ifndef MAILFS_POP3_CLIENT_H
#define MAILFS_POP3_CLIENT_H

#include <glib.h>
#include "net/conn.h"
#include "net/pop3_parser.h"
#include "net/sasl.h"
#include "net/server_params.h"
#include "net/url.h"

typedef enum {
	POP3_STATE_GREETING,      /* connected, waiting for the greeting */
	POP3_STATE_AUTHORIZATION, /* greeted (and TLS up), not logged in */
	POP3_STATE_TRANSACTION,   /* logged in: the maildrop is locked */
	POP3_STATE_QUIT,          /* QUIT sent: session over */
	POP3_STATE_BROKEN,        /* I/O or protocol failure: unusable */
} Pop3State;

/* Capabilities from CAPA (all unknown if the server has no CAPA). */
enum {
	POP3_CAP_CAPA       = 1u << 0, /* the server answered CAPA */
	POP3_CAP_STLS       = 1u << 1,
	POP3_CAP_UIDL       = 1u << 2,
	POP3_CAP_TOP        = 1u << 3,
	POP3_CAP_USER       = 1u << 4,
	POP3_CAP_SASL_PLAIN = 1u << 5,
	POP3_CAP_PIPELINING = 1u << 6,
	POP3_CAP_RESP_CODES = 1u << 7,
};

typedef struct {
	const MfServerParams *server; /* pop3:// (STLS required) or pop3s://,
	                               * with a user (borrowed); a long reply
	                               * gets 2 s more than its timeout per
	                               * MiB received */
	const char *secret;   /* the password, or the access token with an
	                       * OAuth2 auth: what is sent, not
	                       * SERVER->password; not kept after connect
	                       * returns */
	guint64 message_max;  /* largest message text accepted; 0: 1 GiB */
} MfPop3ClientParams;

/* One message of the maildrop. */
typedef struct {
	guint32 num;                    /* message number, this session only */
	char uidl[POP3_UIDL_MAX + 1];   /* unique-id, NUL-terminated */
	guint64 size;                   /* size from LIST: the server's own
	                                 * count, which may differ from the
	                                 * bytes RETR delivers (CRLF) */
} Pop3Entry;

typedef struct MfPop3Client MfPop3Client;

/* Connects (implicit TLS for pop3s://), reads the greeting, asks CAPA,
 * upgrades with STLS on pop3:// (refusing with MF_ERROR_TLS before any
 * credential is sent if STLS is not offered), authenticates (with a
 * password: SASL PLAIN when offered, else USER/PASS; with a token: SASL
 * OAUTHBEARER or XOAUTH2, as P->server->auth and CAPA's SASL line say:
 * sasl_choose()) and checks that UIDL is supported when
 * the server announces capabilities.  Errors: MF_ERROR_CONNECTION
 * (including a "-ERR" greeting: server busy), MF_ERROR_TLS, MF_ERROR_AUTH
 * (with the server's text; never the password), MF_ERROR_PROTOCOL (not a
 * POP3 server, no UIDL, broken replies). */
MfPop3Client *pop3_client_connect(const MfPop3ClientParams *p, GError **err);

/* Closes WITHOUT QUIT (so nothing marked with DELE is deleted) and frees;
 * accepts NULL.  Call pop3_client_quit() first to commit deletions. */
void pop3_client_free(MfPop3Client *c);

Pop3State pop3_client_state(const MfPop3Client *c);
guint pop3_client_caps(const MfPop3Client *c);
/* "pop3s://host:995, TLSv1.3 ..." for status displays; owned by caller. */
char *pop3_client_describe(const MfPop3Client *c);

/* STAT: number of messages and their total size (server's count). */
gboolean pop3_client_stat(MfPop3Client *c, guint32 *count, guint64 *size,
                          GError **err);

/* UIDL and LIST: every message not marked deleted, as a new GArray of
 * Pop3Entry sorted by number.  MF_ERROR_PROTOCOL when the server does not
 * support UIDL ("server does not support UIDL; refusing to download
 * without stable message ids (duplicates)"), sends an invalid or a
 * duplicate unique-id, or LIST and UIDL disagree. */
gboolean pop3_client_uidl(MfPop3Client *c, GArray **out, GError **err);

/* Receives a piece of message text; returns FALSE with ERR to stop (the
 * client is then broken, as the rest of the reply was not read). */
typedef gboolean (*Pop3WriteFn)(const char *data, size_t len, void *ud,
                                GError **err);

/* RETR NUM: streams the message to WRITE, dot-unstuffed, every line
 * ending in CRLF (a bare LF from the server becomes CRLF), in pieces of
 * at most 64 KiB except for single lines that are longer (up to 1 MiB).
 * *SIZE (may be NULL) receives the number of bytes written.  Errors:
 * MF_ERROR_MESSAGE for -ERR (no such message; the client stays usable),
 * MF_ERROR_PROTOCOL if the text exceeds message_max or a line exceeds
 * 1 MiB (the caller should skip messages whose LIST size is far above
 * message_max), MF_ERROR_CONNECTION on timeout, or the sink's error. */
gboolean pop3_client_retr(MfPop3Client *c, guint32 num, Pop3WriteFn write,
                          void *ud, guint64 *size, GError **err);

/* TOP NUM LINES: like retr, for the header and LINES body lines; needs
 * the TOP capability or a server that accepts it. */
gboolean pop3_client_top(MfPop3Client *c, guint32 num, guint lines,
                         Pop3WriteFn write, void *ud, guint64 *size,
                         GError **err);

/* DELE NUM: marks the message deleted, committed only by
 * pop3_client_quit().  MF_ERROR_MESSAGE for -ERR. */
gboolean pop3_client_dele(MfPop3Client *c, guint32 num, GError **err);

/* NOOP, which also keeps the connection alive. */
gboolean pop3_client_noop(MfPop3Client *c, GError **err);

/* QUIT: the server deletes the messages marked with DELE and ends the
 * session; the connection is closed either way (free the client after).
 * Fails with MF_ERROR_MAILBOX if the server answers -ERR (deletions
 * were not all committed), MF_ERROR_CONNECTION if no answer came
 * (whether they were committed is unknown). */
gboolean pop3_client_quit(MfPop3Client *c, GError **err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MfPop3Client, pop3_client_free)

#endif
