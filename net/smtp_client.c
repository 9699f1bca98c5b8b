/* smtp_client.c - blocking SMTP client: greeting, EHLO, STARTTLS, AUTH,
 * then mail transactions (pipelined when offered) with streamed,
 * dot-stuffed data, over one MfConn and one SmtpReplyParser. */
#include "net/smtp_client.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"
#include "net/sasl.h"
#include "net/smtp_reply.h"

/* Data going out gets this many extra seconds per MiB on its deadline. */
#define SMTP_SECONDS_PER_MIB 2
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its brackets. */
#define SMTP_ADDR_MAX 254
/* RFC 4954 4: keep "AUTH PLAIN <initial response>" within 512 octets. */
#define SMTP_AUTH_LINE_MAX 500
#define SMTP_CHUNK (64 * 1024)

struct MfSmtpClient {
	MfConn *conn;            /* NULL once BROKEN */
	SmtpReplyParser *parser;
	SmtpState state;
	guint ext;             /* SMTP_EXT_* */
	guint sasl_mechs;      /* SASL_BIT()s of the AUTH keyword */
	guint64 size_max;      /* SIZE; 0: none announced */
	gboolean implicit_tls;
	char *url;             /* for messages */
	char *ehlo_name;
	int timeout_ms;
	gboolean unknown;      /* the last message may have been delivered */
};

static const char *const state_names[] = {
	[SMTP_STATE_GREETING] = "greeting", [SMTP_STATE_HELLO] = "hello",
	[SMTP_STATE_READY] = "ready", [SMTP_STATE_MAIL] = "mail",
	[SMTP_STATE_DATA] = "data", [SMTP_STATE_QUIT] = "quit",
	[SMTP_STATE_BROKEN] = "broken",
};

/* The one place the protocol state changes.  A broken session's connection
 * is closed at once, so that the server drops any open transaction. */
static void
smtp_client_set_state(MfSmtpClient *c, SmtpState st)
{
	if (c->state != st)
		g_debug("smtp %s: %s -> %s", c->url, state_names[c->state],
		        state_names[st]);
	c->state = st;
	if (st == SMTP_STATE_BROKEN)
		g_clear_pointer(&c->conn, conn_close);
}

static gboolean
smtp_client_fail(MfSmtpClient *c)
{
	smtp_client_set_state(c, SMTP_STATE_BROKEN);
	return FALSE;
}

static void
smtp_client_deadline(MfSmtpClient *c, gint64 extra_s)
{
	conn_set_deadline(c->conn, g_get_monotonic_time() +
	                  (gint64)c->timeout_ms * 1000 +
	                  extra_s * G_USEC_PER_SEC);
}

static gboolean
smtp_client_usable(MfSmtpClient *c, GError **err)
{
	if (c->conn)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "%s: connection is closed", c->url);
	return FALSE;
}

/* Reads one complete reply, within the deadline already set.  A 421 reply
 * (the server is closing the channel) leaves the session broken. */
static SmtpReply *
smtp_client_read_more(MfSmtpClient *c, GError **err)
{
	if (!smtp_client_usable(c, err))
		return NULL;
	for (;;) {
		size_t avail = 0, used = 0;
		const char *buf = conn_peek(c->conn, &avail);
		SmtpReplyStatus st = SMTP_REPLY_NEED_MORE;

		if (avail > 0) {
			st = smtp_reply_parser_feed(c->parser, buf, avail,
			                            &used, err);
			conn_consume(c->conn, used);
		}
		if (st == SMTP_REPLY_DONE)
			break;
		if (st == SMTP_REPLY_ERROR) {
			g_prefix_error(err, "%s: ", c->url);
			smtp_client_fail(c);
			return NULL;
		}
		if (!conn_fill(c->conn, err)) {
			smtp_client_fail(c);
			return NULL;
		}
	}
	SmtpReply *r = smtp_reply_parser_take(c->parser);
	if (r->code == 421)
		smtp_client_fail(c);
	return r;
}

/* Reads one reply with a fresh deadline. */
static SmtpReply *
smtp_client_read(MfSmtpClient *c, GError **err)
{
	if (!smtp_client_usable(c, err))
		return NULL;
	smtp_client_deadline(c, 0);
	return smtp_client_read_more(c, err);
}

static gboolean
smtp_client_write(MfSmtpClient *c, const char *buf, size_t len, GError **err)
{
	if (!smtp_client_usable(c, err))
		return FALSE;
	smtp_client_deadline(c, 0);
	if (!conn_write(c->conn, buf, len, err))
		return smtp_client_fail(c);
	return TRUE;
}

/* Sends LINE (CRLF included) and reads the reply. */
static SmtpReply *
smtp_client_command(MfSmtpClient *c, const char *line, GError **err)
{
	if (!smtp_client_write(c, line, strlen(line), err))
		return NULL;
	return smtp_client_read(c, err);
}

/* Sets ERR from a refusal R of WHAT: 4xx (and 421) are MF_ERROR_CONNECTION,
 * 5xx are CODE_5XX, anything else is a protocol error. */
static gboolean
smtp_client_refused(MfSmtpClient *c, const SmtpReply *r, const char *what,
                    int code_5xx, GError **err)
{
	g_autofree char *text = smtp_reply_to_string(r);
	int code = MF_ERROR_PROTOCOL;

	if (smtp_reply_class(r) == 4)
		code = MF_ERROR_CONNECTION;
	else if (smtp_reply_class(r) == 5)
		code = code_5xx;
	g_set_error(err, MF_ERROR, code, "%s: %s %s: %s", c->url, what,
	            code == MF_ERROR_PROTOCOL ? "got an unexpected reply"
	                                      : smtp_reply_class(r) == 4
	                                      ? "deferred" : "refused",
	            text);
	if (code == MF_ERROR_PROTOCOL)
		smtp_client_fail(c);
	return FALSE;
}

/* Runs COMMAND and expects reply code WANT. */
static gboolean
smtp_client_expect(MfSmtpClient *c, const char *command, guint want,
                   const char *what, int code_5xx, GError **err)
{
	g_autoptr(SmtpReply) r = smtp_client_command(c, command, err);

	if (!r)
		return FALSE;
	if (r->code != want)
		return smtp_client_refused(c, r, what, code_5xx, err);
	return TRUE;
}

/* --- EHLO and its extensions --- */

/* The mechanisms WORDS (from FROM on) name, into C. */
static void
smtp_client_auth_mechs(MfSmtpClient *c, char **words, guint from)
{
	for (guint i = from; words[i]; i++) {
		SaslMech m = sasl_mech_from_name(words[i]);
		if (m == SASL_NONE)
			continue;
		c->sasl_mechs |= SASL_BIT(m);
		if (m == SASL_PLAIN)
			c->ext |= SMTP_EXT_AUTH_PLAIN;
		else if (m == SASL_LOGIN)
			c->ext |= SMTP_EXT_AUTH_LOGIN;
	}
}

/* "SIZE" or "SIZE n" (RFC 1870; 0 or absent: no fixed limit). */
static void
smtp_client_note_size(MfSmtpClient *c, char **words)
{
	guint64 n = 0;

	c->ext |= SMTP_EXT_SIZE;
	c->size_max = 0;
	if (words[1] && g_ascii_string_to_unsigned(words[1], 10, 0, G_MAXUINT64,
	                                           &n, NULL))
		c->size_max = n;
}

static const struct {
	const char *keyword;
	guint bit;
} ext_table[] = {
	{ "STARTTLS", SMTP_EXT_STARTTLS }, { "8BITMIME", SMTP_EXT_8BITMIME },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
	{ "PIPELINING", SMTP_EXT_PIPELINING },
	{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
};

/* One "keyword params" line of an EHLO reply. */
static void
smtp_client_note_ext(MfSmtpClient *c, const char *line)
{
	g_auto(GStrv) words = g_strsplit_set(line, " ", 64);

	if (!words[0])
		return;
	if (g_ascii_strcasecmp(words[0], "SIZE") == 0)
		smtp_client_note_size(c, words);
	else if (g_ascii_strcasecmp(words[0], "AUTH") == 0)
		smtp_client_auth_mechs(c, words, 1);
	else if (g_ascii_strncasecmp(words[0], "AUTH=", 5) == 0) {
		/* the pre-standard form some servers still send */
		smtp_client_auth_mechs(c, words, 1);
		char *first[] = { words[0] + 5, NULL };
		smtp_client_auth_mechs(c, first, 0);
	}
	for (gsize k = 0; k < G_N_ELEMENTS(ext_table); k++)
		if (g_ascii_strcasecmp(words[0], ext_table[k].keyword) == 0)
			c->ext |= ext_table[k].bit;
}

/* EHLO, or HELO when EHLO is refused (no extensions then). */
static gboolean
smtp_client_hello(MfSmtpClient *c, GError **err)
{
	g_autofree char *ehlo = g_strdup_printf("EHLO %s\r\n", c->ehlo_name);
	g_autoptr(SmtpReply) r = smtp_client_command(c, ehlo, err);

	if (!r)
		return FALSE;
	c->ext = 0;
	c->sasl_mechs = 0;
	c->size_max = 0;
	if (r->code == 250) {
		for (guint i = 1; i < r->lines->len; i++)
			smtp_client_note_ext(c, r->lines->pdata[i]);
		return TRUE;
	}
	if (smtp_reply_class(r) != 5)
		return smtp_client_refused(c, r, "EHLO", MF_ERROR_CONNECTION,
		                           err);
	g_debug("smtp %s: EHLO refused, trying HELO", c->url);
	g_autofree char *helo = g_strdup_printf("HELO %s\r\n", c->ehlo_name);
	return smtp_client_expect(c, helo, 250, "HELO", MF_ERROR_CONNECTION,
	                          err);
}

static gboolean
smtp_client_greeting(MfSmtpClient *c, GError **err)
{
	g_autoptr(SmtpReply) r = smtp_client_read(c, err);

	if (!r)
		return FALSE;
	if (r->code != 220) {
		g_autofree char *text = smtp_reply_to_string(r);
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: server refused the session: %s", c->url, text);
		return smtp_client_fail(c);
	}
	smtp_client_set_state(c, SMTP_STATE_HELLO);
	return TRUE;
}

static gboolean
smtp_client_starttls(MfSmtpClient *c, const MfConnTlsConfig *tls, GError **err)
{
	if (!(c->ext & SMTP_EXT_STARTTLS)) {
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "%s: server does not offer STARTTLS; refusing to "
		            "authenticate or send mail without TLS", c->url);
		return FALSE;
	}
	if (!smtp_client_expect(c, "STARTTLS\r\n", 220, "STARTTLS",
	                        MF_ERROR_TLS, err))
		return FALSE;
	if (!conn_start_tls(c->conn, tls, err))
		return smtp_client_fail(c);
	/* RFC 3207: forget everything learnt before TLS and ask again. */
	return smtp_client_hello(c, err);
}

/* --- AUTH (RFC 4954) --- */

/* Checks the final AUTH reply R (NULL: reading it failed, ERR is set) of
 * the exchange X. */
static gboolean
smtp_client_auth_done(MfSmtpClient *c, const SmtpReply *r, SaslExchange *x,
                      GError **err)
{
	if (!r)
		return FALSE;
	if (r->code == 235)
		return TRUE;
	if (r->code == 334) {
		/* A challenge we have no answer for: cancel the exchange. */
		smtp_reply_free(smtp_client_command(c, "*\r\n", NULL));
		g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
		            "%s: authentication failed: unexpected challenge",
		            c->url);
		return FALSE;
	}
	smtp_client_refused(c, r, "authentication", MF_ERROR_AUTH, err);
	sasl_exchange_explain(x, *err);
	return FALSE;
}

/* Sends FIRST, then " " and THEN (when not NULL), then CRLF, and reads
 * the reply; the line is wiped, it carries credentials. */
static SmtpReply *
smtp_client_answer(MfSmtpClient *c, const char *first, const char *then,
                   GError **err)
{
	g_autofree char *line = g_strdup_printf("%s%s%s\r\n", first,
	                                        then ? " " : "",
	                                        then ? then : "");
	SmtpReply *r = smtp_client_command(c, line, err);

	explicit_bzero(line, strlen(line));
	return r;
}

/* AUTH with MECH (RFC 4954), the initial response on the command line
 * when it fits, every challenge answered by the exchange. */
static gboolean
smtp_client_auth_sasl(MfSmtpClient *c, const MfSmtpClientParams *p,
                      SaslMech mech, GError **err)
{
	g_autoptr(SaslExchange) x = sasl_exchange_new(
		mech, p->server->user, p->secret ? p->secret : "",
		p->server->url.host, p->server->url.port, err);

	if (!x) {
		g_prefix_error(err, "%s: ", c->url);
		return FALSE;
	}
	g_autofree char *cmd = g_strdup_printf("AUTH %s", sasl_mech_name(mech));
	/* a space before it, CRLF after */
	const char *ir = sasl_exchange_initial(x, SMTP_AUTH_LINE_MAX -
	                                          strlen(cmd) - 3);
	g_autoptr(SmtpReply) r = smtp_client_answer(c, cmd, ir, err);
	while (r && r->code == 334) {
		const char *answer = sasl_exchange_respond(x, r->lines->pdata[0]);
		if (!answer)
			break;
		g_clear_pointer(&r, smtp_reply_free);
		r = smtp_client_answer(c, answer, NULL, err);
	}
	return smtp_client_auth_done(c, r, x, err);
}

static gboolean
smtp_client_auth(MfSmtpClient *c, const MfSmtpClientParams *p, GError **err)
{
	SaslMech mech;

	if (!sasl_choose(c->sasl_mechs, p->server->auth, FALSE, &mech, err)) {
		g_prefix_error(err, "%s: ", c->url);
		return FALSE;
	}
	/* What is sent during AUTH carries credentials: never traced. */
	conn_set_redact(c->conn, TRUE);
	gboolean ok = smtp_client_auth_sasl(c, p, mech, err);
	conn_set_redact(c->conn, FALSE);
	return ok;
}

/* --- connection --- */

static MfSmtpClient *
smtp_client_new(const MfSmtpClientParams *p, MfConn *conn)
{
	MfSmtpClient *c = g_new0(MfSmtpClient, 1);

	c->conn = conn;
	c->parser = smtp_reply_parser_new(NULL);
	c->state = SMTP_STATE_GREETING;
	c->implicit_tls = p->server->url.implicit_tls;
	c->url = url_to_string(&p->server->url);
	c->ehlo_name = g_strdup(p->ehlo_name ? p->ehlo_name : "localhost");
	c->timeout_ms = p->server->timeout_ms;
	return c;
}

/* Greeting, EHLO, STARTTLS and AUTH. */
static gboolean
smtp_client_setup(MfSmtpClient *c, const MfSmtpClientParams *p,
                  const MfConnTlsConfig *tls, GError **err)
{
	if (!smtp_client_greeting(c, err) || !smtp_client_hello(c, err))
		return FALSE;
	if (!c->implicit_tls && !smtp_client_starttls(c, tls, err))
		return FALSE;
	if (p->server->user && !smtp_client_auth(c, p, err))
		return FALSE;
	smtp_client_set_state(c, SMTP_STATE_READY);
	return TRUE;
}

MfSmtpClient *
smtp_client_connect(const MfSmtpClientParams *p, GError **err)
{
	const MfUrl *url = &p->server->url;
	MfConnTlsConfig tls = server_params_tls(p->server);

	g_return_val_if_fail(url->scheme == URL_SMTP ||
	                     url->scheme == URL_SMTPS, NULL);
	MfConn *conn = conn_open_url(url, &tls, p->server->timeout_ms, err);
	if (!conn)
		return NULL;
	g_autoptr(MfSmtpClient) c = smtp_client_new(p, conn);
	if (!smtp_client_setup(c, p, &tls, err))
		return NULL;
	return g_steal_pointer(&c);
}

void
smtp_client_free(MfSmtpClient *c)
{
	if (!c)
		return;
	if (c->conn && c->state != SMTP_STATE_GREETING &&
	    c->state != SMTP_STATE_DATA) {
		/* Say goodbye, but do not wait long for the answer. */
		c->timeout_ms = MIN(c->timeout_ms, 1000);
		smtp_client_set_state(c, SMTP_STATE_QUIT);
		smtp_reply_free(smtp_client_command(c, "QUIT\r\n", NULL));
	}
	conn_close(c->conn);
	smtp_reply_parser_free(c->parser);
	g_free(c->url);
	g_free(c->ehlo_name);
	g_free(c);
}

SmtpState
smtp_client_state(const MfSmtpClient *c)
{
	return c->state;
}

guint
smtp_client_extensions(const MfSmtpClient *c)
{
	return c->ext;
}

guint64
smtp_client_size_max(const MfSmtpClient *c)
{
	return c->size_max;
}

char *
smtp_client_describe(const MfSmtpClient *c)
{
	g_autofree char *tls = c->conn ? conn_describe_tls(c->conn)
	                               : g_strdup("closed");
	return g_strdup_printf("%s, %s", c->url, tls);
}

/* --- sending a message --- */

/* Where the message data comes from: FD (read with pread from offset 0)
 * or, when FD is -1, DATA in memory; and who hears of the final "."
 * before it goes (BEFORE_DOT may be NULL). */
typedef struct {
	int fd;
	const char *data;
	guint64 size;
	SmtpBeforeDotFn before_dot;
	void *ud;
} SmtpSource;

/* Dot-stuffing and line-end repair across pieces of data. */
typedef struct {
	gboolean line_start;
	gboolean pending_cr;
} SmtpStuffer;

/* Encodes LEN bytes of IN into OUT, which has room for 2 * LEN + 2 bytes:
 * CRLF, LF and lone CR all become CRLF; a "." starting a line is doubled. */
static size_t
smtp_client_stuff(SmtpStuffer *st, const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		if (st->pending_cr) {
			st->pending_cr = FALSE;
			out[o++] = '\r';
			out[o++] = '\n';
			st->line_start = TRUE;
			if (ch == '\n')
				continue;
		}
		if (ch == '\r' || ch == '\n') {
			st->pending_cr = ch == '\r';
			if (ch == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				st->line_start = TRUE;
			}
			continue;
		}
		if (st->line_start && ch == '.')
			out[o++] = '.';
		out[o++] = ch;
		st->line_start = FALSE;
	}
	return o;
}

/* The end of the data: a last line end if missing, then ".\r\n". */
static size_t
smtp_client_stuff_end(const SmtpStuffer *st, char *out)
{
	size_t o = 0;

	if (st->pending_cr || !st->line_start) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* Reads up to N bytes at OFF; 0 at the end. */
static gssize
smtp_client_source_read(const SmtpSource *src, guint64 off, char *buf,
                        size_t n, GError **err)
{
	if (src->fd < 0) {
		size_t left = off < src->size ? (size_t)(src->size - off) : 0;
		n = MIN(n, left);
		if (n > 0)
			memcpy(buf, src->data + off, n);
		return (gssize)n;
	}
	for (;;) {
		gssize got = pread(src->fd, buf, n, (off_t)off);
		if (got >= 0)
			return got;
		if (errno != EINTR)
			break;
	}
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
	            "cannot read the message to send: %s", g_strerror(errno));
	return -1;
}

/* Streams the message data and its terminator. */
static gboolean
smtp_client_stream(MfSmtpClient *c, const SmtpSource *src, GError **err)
{
	g_autofree char *in = g_malloc(SMTP_CHUNK);
	g_autofree char *out = g_malloc(2 * SMTP_CHUNK + 8);
	SmtpStuffer st = { .line_start = TRUE };
	guint64 off = 0;
	gssize n;
	size_t o;

	while ((n = smtp_client_source_read(src, off, in, SMTP_CHUNK,
	                                    err)) > 0) {
		off += (guint64)n;
		o = smtp_client_stuff(&st, in, (size_t)n, out);
		if (!conn_write(c->conn, out, o, err))
			return FALSE;
	}
	if (n < 0)
		return FALSE;
	if (src->before_dot && !src->before_dot(src->ud, err))
		return FALSE;
	o = smtp_client_stuff_end(&st, out);
	return conn_write(c->conn, out, o, err);
}

#define SMTP_FINAL_REPLY_MS (10 * 60 * 1000)

/* Sends the data after a 354 and reads the verdict on it. */
static gboolean
smtp_client_data(MfSmtpClient *c, const SmtpSource *src, char **reply,
                 GError **err)
{
	gint64 extra = (gint64)(src->size >> 20) * SMTP_SECONDS_PER_MIB;

	c->unknown = FALSE;
	smtp_client_deadline(c, extra);
	if (!smtp_client_stream(c, src, err))
		return smtp_client_fail(c);
	/* From here a lost connection leaves the outcome unknown, so the
	 * server gets the 10 minutes RFC 5321 (4.5.3.2.6) gives it for the
	 * final reply: giving up earlier and sending again could deliver the
	 * message twice. */
	int old = conn_set_timeout(c->conn, MAX(c->timeout_ms,
	                                        SMTP_FINAL_REPLY_MS));
	conn_set_deadline(c->conn, 0);
	g_autoptr(SmtpReply) r = smtp_client_read_more(c, err);
	if (c->conn) /* a failed read closes it */
		conn_set_timeout(c->conn, old);
	c->unknown = r == NULL;
	if (!r) {
		g_prefix_error(err, "%s: no reply after the message was sent "
		               "(it may have been delivered): ", c->url);
		return FALSE;
	}
	if (c->state == SMTP_STATE_DATA)
		smtp_client_set_state(c, SMTP_STATE_READY);
	if (smtp_reply_class(r) != 2)
		return smtp_client_refused(c, r, "message", MF_ERROR_MESSAGE,
		                           err);
	if (reply)
		*reply = smtp_reply_to_string(r);
	return TRUE;
}

/* Checks one envelope address (WHAT names it in messages); sets
 * *NON_ASCII when it needs SMTPUTF8.  The address itself is not quoted in
 * errors: it may be what is wrong. */
static gboolean
smtp_client_check_addr(MfSmtpClient *c, const char *addr, const char *what,
                       gboolean *non_ascii, GError **err)
{
	const char *why = NULL;
	size_t len = strlen(addr);

	if (len > SMTP_ADDR_MAX)
		why = "is too long";
	else if (!g_utf8_validate(addr, (gssize)len, NULL))
		why = "is not valid UTF-8";
	for (const char *p = addr; !why && *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>' ||
		    (ch == ' ' && addr[0] != '"'))
			why = "holds a character not allowed in an address";
		if (ch >= 0x80)
			*non_ascii = TRUE;
	}
	if (!why)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE, "%s: the %s address %s",
	            c->url, what, why);
	return FALSE;
}

/* The envelope addresses: a sender (maybe "") and non-empty recipients. */
static gboolean
smtp_client_check_addrs(MfSmtpClient *c, const SmtpEnvelope *env,
                        gboolean *non_ascii, GError **err)
{
	if (!smtp_client_check_addr(c, env->from, "sender", non_ascii, err))
		return FALSE;
	for (guint i = 0; i < env->n_rcpts; i++) {
		g_autofree char *what = g_strdup_printf("recipient %u", i + 1);
		if (!*env->rcpts[i]) {
			g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
			            "%s: the %s address is empty", c->url,
			            what);
			return FALSE;
		}
		if (!smtp_client_check_addr(c, env->rcpts[i], what, non_ascii,
		                            err))
			return FALSE;
	}
	return TRUE;
}

/* What can be refused before a word goes out: addresses, size, and
 * extensions the message needs.  *UTF8: SMTPUTF8 is needed. */
static gboolean
smtp_client_precheck(MfSmtpClient *c, const SmtpEnvelope *env, guint64 size,
                     gboolean *utf8, GError **err)
{
	if (c->state != SMTP_STATE_READY) {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: session is not usable (%s)", c->url,
		            state_names[c->state]);
		return FALSE;
	}
	if (env->n_rcpts == 0 || env->n_rcpts > SMTP_CLIENT_RCPTS_MAX) {
		g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
		            "%s: a message needs 1 to %u recipients, not %u",
		            c->url, SMTP_CLIENT_RCPTS_MAX, env->n_rcpts);
		return FALSE;
	}
	*utf8 = (env->flags & SMTP_BODY_UTF8) != 0;
	if (!smtp_client_check_addrs(c, env, utf8, err))
		return FALSE;
	const char *missing = NULL;
	if (*utf8 && !(c->ext & SMTP_EXT_SMTPUTF8))
		missing = "non-ASCII addresses, but the server does not "
		          "offer SMTPUTF8";
	else if ((env->flags & SMTP_BODY_8BIT) && !(c->ext & SMTP_EXT_8BITMIME))
		missing = "8-bit data, but the server does not offer 8BITMIME";
	if (missing) {
		g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
		            "%s: cannot send: the message has %s", c->url,
		            missing);
		return FALSE;
	}
	if (c->size_max > 0 && size > c->size_max) {
		g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
		            "%s: message of %" G_GUINT64_FORMAT " bytes is "
		            "larger than the server's limit of %"
		            G_GUINT64_FORMAT " bytes (SIZE)", c->url, size,
		            c->size_max);
		return FALSE;
	}
	return TRUE;
}

static char *
smtp_client_mail_line(MfSmtpClient *c, const SmtpEnvelope *env, guint64 size,
                      gboolean utf8)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "MAIL FROM:<%s>", env->from);
	if (c->ext & SMTP_EXT_SIZE)
		g_string_append_printf(s, " SIZE=%" G_GUINT64_FORMAT, size);
	if (env->flags & SMTP_BODY_8BIT)
		g_string_append(s, " BODY=8BITMIME");
	if (utf8)
		g_string_append(s, " SMTPUTF8");
	g_string_append(s, "\r\n");
	return g_string_free(s, FALSE);
}

/* Ends a refused transaction so the session can go on. */
static void
smtp_client_rset(MfSmtpClient *c)
{
	if (c->state != SMTP_STATE_MAIL)
		return;
	g_autoptr(SmtpReply) r = smtp_client_command(c, "RSET\r\n", NULL);
	if (r && r->code == 250)
		smtp_client_set_state(c, SMTP_STATE_READY);
	else
		smtp_client_fail(c);
}

/* Index of the worst RCPT reply among REPLIES[1..N-1): the first 5xx, else
 * the first 4xx; 0 when all were accepted. */
static guint
smtp_client_worst_rcpt(GPtrArray *replies, guint n)
{
	guint worst = 0;

	for (guint i = 1; i < MIN(replies->len, n - 1); i++) {
		const SmtpReply *r = replies->pdata[i];
		guint cls = smtp_reply_class(r);
		if (cls == 2)
			continue;
		if (worst == 0 || (cls == 5 && smtp_reply_class(
				replies->pdata[worst]) != 5))
			worst = i;
	}
	return worst;
}

/* Judges the replies to MAIL, RCPT... and DATA (N commands; fewer replies
 * when sending stopped early).  TRUE when the data may go. */
static gboolean
smtp_client_verdict(MfSmtpClient *c, const SmtpEnvelope *env,
                    GPtrArray *replies, guint n, GError **err)
{
	const SmtpReply *mail = replies->pdata[0];
	const SmtpReply *data = replies->len == n ? replies->pdata[n - 1]
	                                          : NULL;
	guint worst = smtp_client_worst_rcpt(replies, n);

	if (smtp_reply_class(mail) != 2) {
		g_autofree char *what = g_strdup_printf("sender <%s>",
		                                        env->from);
		smtp_client_refused(c, mail, what, MF_ERROR_MESSAGE, err);
	} else if (worst > 0) {
		g_autofree char *what = g_strdup_printf(
			"recipient <%s>", env->rcpts[worst - 1]);
		smtp_client_refused(c, replies->pdata[worst], what,
		                    MF_ERROR_MESSAGE, err);
	} else if (!data) {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: session ended during the envelope", c->url);
	} else if (data->code != 354) {
		smtp_client_refused(c, data, "DATA", MF_ERROR_MESSAGE, err);
	} else {
		smtp_client_set_state(c, SMTP_STATE_DATA);
		return TRUE;
	}
	if (data && data->code == 354)
		smtp_client_fail(c); /* no way to abort DATA but to hang up */
	else
		smtp_client_rset(c);
	return FALSE;
}

/* Whether command I of N still goes out in lock-step mode, given the
 * replies so far: not after a refused MAIL, no DATA after a bad RCPT. */
static gboolean
smtp_client_lockstep_next(GPtrArray *replies, guint i, guint n)
{
	if (i == 0)
		return TRUE;
	if (smtp_reply_class(replies->pdata[0]) != 2)
		return FALSE;
	return i < n - 1 || smtp_client_worst_rcpt(replies, n) == 0;
}

/* MAIL, RCPT... and DATA: all written at once with PIPELINING (RFC 2920),
 * else one at a time.  Then the replies are judged. */
static gboolean
smtp_client_envelope(MfSmtpClient *c, const SmtpEnvelope *env,
                     const char *mail, GError **err)
{
	guint n = env->n_rcpts + 2;
	gboolean pipe = (c->ext & SMTP_EXT_PIPELINING) != 0;
	g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) replies =
		g_ptr_array_new_with_free_func((GDestroyNotify)smtp_reply_free);
	g_autoptr(GString) batch = g_string_new(NULL);

	g_ptr_array_add(cmds, g_strdup(mail));
	for (guint i = 0; i < env->n_rcpts; i++)
		g_ptr_array_add(cmds, g_strdup_printf("RCPT TO:<%s>\r\n",
		                                      env->rcpts[i]));
	g_ptr_array_add(cmds, g_strdup("DATA\r\n"));
	for (guint i = 0; pipe && i < n; i++)
		g_string_append(batch, cmds->pdata[i]);
	if (pipe && !smtp_client_write(c, batch->str, batch->len, err))
		return FALSE;
	for (guint i = 0; i < n && c->state != SMTP_STATE_BROKEN; i++) {
		if (!pipe && !smtp_client_lockstep_next(replies, i, n))
			break;
		if (!pipe && !smtp_client_write(c, cmds->pdata[i],
		                                strlen(cmds->pdata[i]), err))
			return FALSE;
		if (i == 0)
			smtp_client_set_state(c, SMTP_STATE_MAIL);
		SmtpReply *r = smtp_client_read(c, err);
		if (!r)
			return FALSE;
		g_ptr_array_add(replies, r);
	}
	return smtp_client_verdict(c, env, replies, n, err);
}

static gboolean
smtp_client_send_source(MfSmtpClient *c, const SmtpEnvelope *env,
                        const SmtpSource *src, char **reply, GError **err)
{
	gboolean utf8 = FALSE;

	if (!smtp_client_precheck(c, env, src->size, &utf8, err))
		return FALSE;
	g_autofree char *mail = smtp_client_mail_line(c, env, src->size, utf8);
	if (!smtp_client_envelope(c, env, mail, err))
		return FALSE;
	return smtp_client_data(c, src, reply, err);
}

gboolean
smtp_client_send_data(MfSmtpClient *c, const SmtpEnvelope *env,
                      const char *data, size_t len, char **reply,
                      GError **err)
{
	SmtpSource src = { .fd = -1, .data = data, .size = len };

	return smtp_client_send_source(c, env, &src, reply, err);
}

gboolean
smtp_client_send_fd(MfSmtpClient *c, const SmtpEnvelope *env, int fd,
                    char **reply, GError **err)
{
	return smtp_client_send_fd_before_dot(c, env, fd, NULL, NULL, reply,
	                                      err);
}

gboolean
smtp_client_send_fd_before_dot(MfSmtpClient *c, const SmtpEnvelope *env,
                               int fd, SmtpBeforeDotFn before_dot, void *ud,
                               char **reply, GError **err)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot send: the message is not a readable "
		            "regular file");
		return FALSE;
	}
	SmtpSource src = { .fd = fd, .size = (guint64)sb.st_size,
	                   .before_dot = before_dot, .ud = ud };
	return smtp_client_send_source(c, env, &src, reply, err);
}

gboolean
smtp_client_error_is_permanent(const GError *err)
{
	return err && err->domain == MF_ERROR &&
	       err->code == MF_ERROR_MESSAGE;
}

void
smtp_client_interrupt(MfSmtpClient *c)
{
	conn_interrupt(c->conn);
}

gboolean
smtp_client_outcome_unknown(const MfSmtpClient *c)
{
	return c->unknown;
}
