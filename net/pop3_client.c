/* pop3_client.c - blocking POP3 client: greeting, CAPA, STLS, SASL
 * (net/sasl.c) or USER/PASS, STAT, UIDL+LIST, RETR/TOP streaming, DELE, NOOP and QUIT, over
 * one MfConn and one Pop3Parser. */
#include "net/pop3_client.h"

#include <string.h>

#include "net/mf_error.h"
#include "net/sasl.h"

#define POP3_DEFAULT_MESSAGE_MAX (G_GUINT64_CONSTANT(1) << 30)
/* A long reply gets this many extra seconds per MiB received. */
#define POP3_SECONDS_PER_MIB 2
/* Message text is handed to the sink in pieces of about this size. */
#define POP3_PIECE (64 * 1024)
/* RFC 5034: longer AUTH commands must send their response separately. */
#define POP3_AUTH_LINE_MAX 255
/* Server text quoted in error messages is cut to this length. */
#define POP3_QUOTE_MAX 200

struct MfPop3Client {
	MfConn *conn;
	Pop3Parser *parser;
	Pop3State state;
	guint caps;
	guint sasl_mechs;   /* SASL_BIT()s of CAPA's SASL line */
	char *url;          /* for messages */
	int timeout_ms;
	gint64 reply_start; /* when the current reply was first awaited */
	guint64 received;   /* bytes of the current reply so far */
};

/* Called for each data line of a multi-line reply. */
typedef gboolean (*Pop3LineFn)(MfPop3Client *c, const char *line, size_t len,
                               void *ud, GError **err);

static const char *const state_names[] = {
	[POP3_STATE_GREETING] = "greeting",
	[POP3_STATE_AUTHORIZATION] = "authorization",
	[POP3_STATE_TRANSACTION] = "transaction",
	[POP3_STATE_QUIT] = "quit", [POP3_STATE_BROKEN] = "broken",
};

/* The one place the protocol state changes. */
static void
pop3_client_set_state(MfPop3Client *c, Pop3State st)
{
	if (c->state != st)
		g_debug("pop3 %s: %s -> %s", c->url, state_names[c->state],
		        state_names[st]);
	c->state = st;
}

static gboolean
pop3_client_fail(MfPop3Client *c)
{
	pop3_client_set_state(c, POP3_STATE_BROKEN);
	return FALSE;
}

/* A printable, bounded copy of server TEXT for error messages. */
static char *
pop3_client_quote(const char *text)
{
	GString *out = g_string_new(NULL);

	for (const char *p = text; *p && out->len < POP3_QUOTE_MAX; p++)
		g_string_append_c(out, (unsigned char)*p < 0x20 ? '?' : *p);
	if (strlen(text) > out->len)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

static gboolean
pop3_client_usable(MfPop3Client *c, GError **err)
{
	if (c->state == POP3_STATE_AUTHORIZATION ||
	    c->state == POP3_STATE_TRANSACTION)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
	            "%s: connection is closed", c->url);
	return FALSE;
}

/* The deadline of the current reply: the timeout from its start, plus
 * time in proportion to what has arrived, so big messages may take
 * longer but a server trickling bytes cannot hold us forever. */
static void
pop3_client_deadline(MfPop3Client *c)
{
	gint64 extra = (gint64)(c->received >> 20) * POP3_SECONDS_PER_MIB;

	conn_set_deadline(c->conn, c->reply_start +
	                  (gint64)c->timeout_ms * 1000 + extra * G_USEC_PER_SEC);
}

/* A reply is now awaited: its deadline starts. */
static void
pop3_client_begin_reply(MfPop3Client *c)
{
	c->reply_start = g_get_monotonic_time();
	c->received = 0;
	pop3_client_deadline(c);
}

/* Feeds received bytes to the parser until it reports something; never
 * returns NEED_MORE.  On ERROR the client is broken. */
static Pop3ParseStatus
pop3_client_next(MfPop3Client *c, GError **err)
{
	for (;;) {
		size_t avail = 0, used = 0;
		const char *buf = conn_peek(c->conn, &avail);
		Pop3ParseStatus st = POP3_PARSE_NEED_MORE;

		if (avail > 0) {
			st = pop3_parser_feed(c->parser, buf, avail, &used, err);
			conn_consume(c->conn, used);
			c->received += used;
		}
		if (st == POP3_PARSE_ERROR) {
			g_prefix_error(err, "%s: ", c->url);
			break;
		}
		if (st != POP3_PARSE_NEED_MORE)
			return st;
		pop3_client_deadline(c);
		if (!conn_fill(c->conn, err))
			break;
	}
	pop3_client_fail(c);
	return POP3_PARSE_ERROR;
}

static gboolean
pop3_client_send(MfPop3Client *c, const char *line, GError **err)
{
	if (!conn_write(c->conn, line, strlen(line), err))
		return pop3_client_fail(c);
	return TRUE;
}

/* Reads a status line (the next thing the server must send). */
static gboolean
pop3_client_status(MfPop3Client *c, Pop3StatusKind *kind, const char **text,
                   GError **err)
{
	Pop3ParseStatus st = pop3_client_next(c, err);

	if (st == POP3_PARSE_ERROR)
		return FALSE;
	if (st != POP3_PARSE_STATUS) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: data where a status line was due", c->url);
		return pop3_client_fail(c);
	}
	*kind = pop3_parser_status(c->parser, text);
	return TRUE;
}

/* Sends CMD (a full line; may hold a password) and reads its status
 * line, expecting EXPECT to follow an +OK. */
static gboolean
pop3_client_request(MfPop3Client *c, Pop3Expect expect, const char *cmd,
                    Pop3StatusKind *kind, const char **text, GError **err)
{
	if (!pop3_client_usable(c, err))
		return FALSE;
	pop3_parser_expect(c->parser, expect);
	pop3_client_begin_reply(c);
	if (!pop3_client_send(c, cmd, err))
		return FALSE;
	return pop3_client_status(c, kind, text, err);
}

/* Turns a status other than +OK into ERR with CODE; a continuation where
 * none belongs, and CODE MF_ERROR_PROTOCOL, break the client. */
static gboolean
pop3_client_refused(MfPop3Client *c, Pop3StatusKind kind, const char *what,
                    const char *text, int code, GError **err)
{
	g_autofree char *q = pop3_client_quote(text);

	if (kind == POP3_STATUS_CONT) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: unexpected continuation in reply to %s", c->url,
		            what);
		return pop3_client_fail(c);
	}
	g_set_error(err, MF_ERROR, code, "%s: %s refused: %s", c->url, what, q);
	if (code == MF_ERROR_PROTOCOL)
		return pop3_client_fail(c);
	return FALSE;
}

/* A single-line command; on +OK, *TEXT (may be NULL) gets a copy of the
 * server's text.  WHAT names the command in messages. */
static gboolean
pop3_client_simple(MfPop3Client *c, const char *what, const char *cmd,
                   int code, char **text, GError **err)
{
	Pop3StatusKind kind;
	const char *t;

	if (!pop3_client_request(c, POP3_EXPECT_STATUS, cmd, &kind, &t, err))
		return FALSE;
	if (kind != POP3_STATUS_OK)
		return pop3_client_refused(c, kind, what, t, code, err);
	if (text)
		*text = g_strdup(t);
	return TRUE;
}

/* Passes the data lines of a multi-line reply to CB up to the ".". */
static gboolean
pop3_client_lines(MfPop3Client *c, Pop3LineFn cb, void *ud, GError **err)
{
	for (;;) {
		Pop3ParseStatus st = pop3_client_next(c, err);
		const char *line;
		size_t len;

		if (st == POP3_PARSE_ERROR)
			return FALSE;
		if (st == POP3_PARSE_END)
			return TRUE;
		g_assert(st == POP3_PARSE_LINE);
		line = pop3_parser_line(c->parser, &len);
		if (!cb(c, line, len, ud, err)) {
			if (err && !*err)
				g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
				            "%s: reading stopped by the receiver",
				            c->url);
			return pop3_client_fail(c);
		}
	}
}

/* A multi-line command whose -ERR is an error of CODE. */
static gboolean
pop3_client_multi(MfPop3Client *c, Pop3Expect expect, const char *what,
                  const char *cmd, int code, Pop3LineFn cb, void *ud,
                  GError **err)
{
	Pop3StatusKind kind;
	const char *text;

	if (!pop3_client_request(c, expect, cmd, &kind, &text, err))
		return FALSE;
	if (kind != POP3_STATUS_OK)
		return pop3_client_refused(c, kind, what, text, code, err);
	return pop3_client_lines(c, cb, ud, err);
}

/* --- session setup --- */

static gboolean
pop3_client_greeting(MfPop3Client *c, GError **err)
{
	g_autoptr(GError) local = NULL;
	Pop3StatusKind kind;
	const char *text;

	pop3_client_begin_reply(c);
	if (!pop3_client_status(c, &kind, &text, &local)) {
		if (local->code != MF_ERROR_PROTOCOL) {
			g_propagate_error(err, g_steal_pointer(&local));
			return FALSE;
		}
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: not a POP3 server (bad greeting)", c->url);
		return FALSE;
	}
	if (kind == POP3_STATUS_OK) {
		pop3_client_set_state(c, POP3_STATE_AUTHORIZATION);
		return TRUE;
	}
	g_autofree char *q = pop3_client_quote(text);
	if (kind == POP3_STATUS_ERR)
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: server refused the connection: %s", c->url, q);
	else
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: not a POP3 server (bad greeting)", c->url);
	return pop3_client_fail(c);
}

static const struct {
	const char *name;
	guint bit;
} cap_table[] = {
	{ "STLS", POP3_CAP_STLS }, { "UIDL", POP3_CAP_UIDL },
	{ "TOP", POP3_CAP_TOP }, { "USER", POP3_CAP_USER },
	{ "PIPELINING", POP3_CAP_PIPELINING },
	{ "RESP-CODES", POP3_CAP_RESP_CODES },
};

/* What CAPA says. */
typedef struct {
	guint caps;
	guint sasl_mechs;
} Pop3Capa;

/* One CAPA line: a capability name and its arguments. */
static gboolean
pop3_client_capa_cb(MfPop3Client *c, const char *line, size_t len, void *ud,
                    GError **err)
{
	Pop3Capa *capa = ud;
	g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);

	if (!words[0])
		return TRUE;
	for (gsize k = 0; k < G_N_ELEMENTS(cap_table); k++)
		if (g_ascii_strcasecmp(words[0], cap_table[k].name) == 0)
			capa->caps |= cap_table[k].bit;
	if (g_ascii_strcasecmp(words[0], "SASL") != 0)
		return TRUE;
	for (guint i = 1; words[i]; i++) {
		SaslMech m = sasl_mech_from_name(words[i]);
		if (m != SASL_NONE)
			capa->sasl_mechs |= SASL_BIT(m);
		if (m == SASL_PLAIN)
			capa->caps |= POP3_CAP_SASL_PLAIN;
	}
	return TRUE;
}

/* CAPA; a server without it simply has no known capabilities. */
static gboolean
pop3_client_capa(MfPop3Client *c, GError **err)
{
	Pop3Capa capa = { .caps = POP3_CAP_CAPA };
	Pop3StatusKind kind;
	const char *text;

	if (!pop3_client_request(c, POP3_EXPECT_LIST, "CAPA\r\n", &kind, &text,
	                         err))
		return FALSE;
	if (kind == POP3_STATUS_ERR) {
		c->caps = c->sasl_mechs = 0;
		return TRUE;
	}
	if (kind != POP3_STATUS_OK)
		return pop3_client_refused(c, kind, "CAPA", text,
		                           MF_ERROR_PROTOCOL, err);
	if (!pop3_client_lines(c, pop3_client_capa_cb, &capa, err))
		return FALSE;
	c->caps = capa.caps;
	c->sasl_mechs = capa.sasl_mechs;
	return TRUE;
}

static gboolean
pop3_client_stls(MfPop3Client *c, const MfConnTlsConfig *tls, GError **err)
{
	if (!(c->caps & POP3_CAP_STLS)) {
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "%s: server does not offer STLS; refusing to log in "
		            "without TLS", c->url);
		return FALSE;
	}
	if (!pop3_client_simple(c, "STLS", "STLS\r\n", MF_ERROR_TLS, NULL, err))
		return FALSE;
	if (!conn_start_tls(c->conn, tls, err))
		return pop3_client_fail(c);
	/* What was said before TLS may have been forged: ask again. */
	return pop3_client_capa(c, err);
}

/* Answers each "+ " of the exchange X with its answer, or "*" (cancel)
 * when it has none; then judges the status. */
static gboolean
pop3_client_sasl_steps(MfPop3Client *c, SaslExchange *x, Pop3StatusKind kind,
                       const char *text, GError **err)
{
	while (kind == POP3_STATUS_CONT) {
		const char *answer = sasl_exchange_respond(x, text ? text : "");
		g_autofree char *line = g_strdup_printf("%s\r\n",
		                                        answer ? answer : "*");
		pop3_client_begin_reply(c);
		gboolean ok = pop3_client_send(c, line, err);
		explicit_bzero(line, strlen(line));
		if (!ok || !pop3_client_status(c, &kind, &text, err))
			return FALSE;
	}
	if (kind == POP3_STATUS_OK)
		return TRUE;
	pop3_client_refused(c, kind, "authentication", text, MF_ERROR_AUTH,
	                    err);
	sasl_exchange_explain(x, *err);
	return FALSE;
}

/* AUTH with MECH, the initial response on the command line when it fits
 * (RFC 5034), else after the server's "+ ". */
static gboolean
pop3_client_auth_sasl(MfPop3Client *c, const MfPop3ClientParams *p,
                      SaslMech mech, GError **err)
{
	g_autoptr(SaslExchange) x = sasl_exchange_new(
		mech, p->server->user, p->secret, p->server->url.host,
		p->server->url.port, err);
	Pop3StatusKind kind;
	const char *text;

	if (!x) {
		g_prefix_error(err, "%s: ", c->url);
		return FALSE;
	}
	const char *name = sasl_mech_name(mech);
	/* "AUTH NAME " before it, CRLF after */
	const char *ir = sasl_exchange_initial(
		x, POP3_AUTH_LINE_MAX - strlen(name) - 8);
	g_autofree char *cmd = g_strdup_printf("AUTH %s%s%s\r\n", name,
	                                       ir ? " " : "", ir ? ir : "");
	gboolean ok = pop3_client_request(c, POP3_EXPECT_STATUS, cmd, &kind,
	                                  &text, err) &&
	              pop3_client_sasl_steps(c, x, kind, text, err);
	explicit_bzero(cmd, strlen(cmd));
	return ok;
}

static gboolean
pop3_client_user_pass(MfPop3Client *c, const char *user, const char *pass,
                      GError **err)
{
	if (strpbrk(pass, "\r\n")) {
		g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
		            "%s: authentication impossible: the password holds "
		            "a line break", c->url);
		return FALSE;
	}
	g_autofree char *ucmd = g_strdup_printf("USER %s\r\n", user);
	if (!pop3_client_simple(c, "USER", ucmd, MF_ERROR_AUTH, NULL, err))
		return FALSE;
	g_autofree char *pcmd = g_strdup_printf("PASS %s\r\n", pass);
	gboolean ok = pop3_client_simple(c, "authentication", pcmd,
	                                 MF_ERROR_AUTH, NULL, err);
	explicit_bzero(pcmd, strlen(pcmd));
	return ok;
}

static gboolean
pop3_client_login(MfPop3Client *c, const MfPop3ClientParams *p, GError **err)
{
	SaslMech mech;
	gboolean ok;

	if (strpbrk(p->server->user, "\r\n")) {
		g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
		            "%s: authentication impossible: the user name holds "
		            "a line break", c->url);
		return FALSE;
	}
	if (!sasl_choose(c->sasl_mechs, p->server->auth, TRUE, &mech, err)) {
		g_prefix_error(err, "%s: ", c->url);
		return FALSE;
	}
	/* What is sent while logging in carries credentials: not traced. */
	conn_set_redact(c->conn, TRUE);
	if (mech != SASL_NONE)
		ok = pop3_client_auth_sasl(c, p, mech, err);
	else
		ok = pop3_client_user_pass(c, p->server->user, p->secret, err);
	conn_set_redact(c->conn, FALSE);
	if (ok)
		pop3_client_set_state(c, POP3_STATE_TRANSACTION);
	return ok;
}

/* SAID: why, in the server's words, or NULL. */
static gboolean
pop3_client_no_uidl(MfPop3Client *c, const char *said, GError **err)
{
	g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
	            "%s: server does not support UIDL; refusing to download "
	            "without stable message ids (duplicates)%s%s", c->url,
	            said ? "; UIDL got: " : "", said ? said : "");
	return pop3_client_fail(c);
}

/* A server that lists capabilities must list UIDL, if not before login
 * then after it (RFC 2449 lets capabilities change with the state).  A
 * server without CAPA is judged by its answer to UIDL itself. */
static gboolean
pop3_client_check_uidl(MfPop3Client *c, GError **err)
{
	if (!(c->caps & POP3_CAP_CAPA) || (c->caps & POP3_CAP_UIDL))
		return TRUE;
	if (!pop3_client_capa(c, err))
		return FALSE;
	if ((c->caps & POP3_CAP_CAPA) && !(c->caps & POP3_CAP_UIDL))
		return pop3_client_no_uidl(c, NULL, err);
	return TRUE;
}

static MfPop3Client *
pop3_client_new(const MfPop3ClientParams *p, MfConn *conn)
{
	MfPop3Client *c = g_new0(MfPop3Client, 1);
	Pop3ParserLimits lim = pop3_parser_default_limits;

	lim.text_max = p->message_max ? p->message_max
	                              : POP3_DEFAULT_MESSAGE_MAX;
	c->conn = conn;
	c->parser = pop3_parser_new(&lim);
	c->state = POP3_STATE_GREETING;
	c->url = url_to_string(&p->server->url);
	c->timeout_ms = p->server->timeout_ms;
	return c;
}

MfPop3Client *
pop3_client_connect(const MfPop3ClientParams *p, GError **err)
{
	MfConnTlsConfig tls;
	MfConn *conn;

	g_return_val_if_fail(p != NULL && p->server != NULL, NULL);
	const MfUrl *url = &p->server->url;
	g_return_val_if_fail(url->scheme == URL_POP3 ||
	                     url->scheme == URL_POP3S, NULL);
	g_return_val_if_fail(p->server->user != NULL && p->secret != NULL,
	                     NULL);
	tls = server_params_tls(p->server);
	conn = conn_open_url(url, &tls, p->server->timeout_ms, err);
	if (!conn)
		return NULL;
	g_autoptr(MfPop3Client) c = pop3_client_new(p, conn);
	if (!pop3_client_greeting(c, err) || !pop3_client_capa(c, err))
		return NULL;
	if (!url->implicit_tls && !pop3_client_stls(c, &tls, err))
		return NULL;
	if (!pop3_client_login(c, p, err) ||
	    !pop3_client_check_uidl(c, err))
		return NULL;
	return g_steal_pointer(&c);
}

void
pop3_client_free(MfPop3Client *c)
{
	if (!c)
		return;
	conn_close(c->conn);
	pop3_parser_free(c->parser);
	g_free(c->url);
	g_free(c);
}

Pop3State
pop3_client_state(const MfPop3Client *c)
{
	return c->state;
}

guint
pop3_client_caps(const MfPop3Client *c)
{
	return c->caps;
}

char *
pop3_client_describe(const MfPop3Client *c)
{
	g_autofree char *tls = conn_describe_tls(c->conn);
	return g_strdup_printf("%s, %s", c->url, tls);
}

/* --- commands --- */

gboolean
pop3_client_stat(MfPop3Client *c, guint32 *count, guint64 *size, GError **err)
{
	g_autofree char *text = NULL;
	guint32 n;
	guint64 s;

	if (!pop3_client_simple(c, "STAT", "STAT\r\n", MF_ERROR_PROTOCOL, &text,
	                        err))
		return FALSE;
	if (!pop3_parser_parse_num_size(text, TRUE, &n, &s, err)) {
		g_prefix_error(err, "%s: STAT: ", c->url);
		return pop3_client_fail(c);
	}
	*count = n;
	*size = s;
	return TRUE;
}

gboolean
pop3_client_noop(MfPop3Client *c, GError **err)
{
	return pop3_client_simple(c, "NOOP", "NOOP\r\n", MF_ERROR_PROTOCOL, NULL,
	                          err);
}

gboolean
pop3_client_dele(MfPop3Client *c, guint32 num, GError **err)
{
	char cmd[32];

	g_return_val_if_fail(num > 0, FALSE);
	g_snprintf(cmd, sizeof cmd, "DELE %u\r\n", num);
	return pop3_client_simple(c, "DELE", cmd, MF_ERROR_MESSAGE, NULL, err);
}

gboolean
pop3_client_quit(MfPop3Client *c, GError **err)
{
	Pop3StatusKind kind;
	const char *text;
	gboolean ok;

	ok = pop3_client_request(c, POP3_EXPECT_STATUS, "QUIT\r\n", &kind,
	                         &text, err);
	if (ok && kind != POP3_STATUS_OK) {
		g_autofree char *q = pop3_client_quote(text);
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
		            "%s: QUIT failed, deletions may not have been "
		            "committed: %s", c->url, q);
		ok = FALSE;
	} else if (!ok && c->state == POP3_STATE_BROKEN) {
		g_prefix_error(err, "QUIT got no answer, deletions may not "
		               "have been committed: ");
	}
	if (c->state != POP3_STATE_BROKEN)
		pop3_client_set_state(c, POP3_STATE_QUIT);
	return ok;
}

/* --- UIDL and LIST --- */

/* Marks an entry whose LIST size has not been seen yet. */
#define POP3_SIZE_UNSET G_MAXUINT64

static gint
pop3_client_entry_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = ((const Pop3Entry *)a)->num, y = ((const Pop3Entry *)b)->num;

	return x < y ? -1 : x > y;
}

static gboolean
pop3_client_uidl_cb(MfPop3Client *c, const char *line, size_t len, void *ud,
                    GError **err)
{
	GArray *list = ud;
	Pop3Entry e = { .size = POP3_SIZE_UNSET };

	if (!pop3_parser_parse_uidl(line, &e.num, e.uidl, err)) {
		g_prefix_error(err, "%s: UIDL: ", c->url);
		return FALSE;
	}
	g_array_append_val(list, e);
	return TRUE;
}

/* Sorts LIST by number and refuses repeated numbers or unique-ids. */
static gboolean
pop3_client_uidl_check(MfPop3Client *c, GArray *list, GError **err)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	g_array_sort(list, pop3_client_entry_cmp);
	for (guint i = 0; i < list->len; i++) {
		Pop3Entry *e = &g_array_index(list, Pop3Entry, i);
		if (i > 0 && g_array_index(list, Pop3Entry, i - 1).num == e->num) {
			g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
			            "%s: UIDL lists message %u twice", c->url,
			            e->num);
			return pop3_client_fail(c);
		}
		if (!g_hash_table_add(seen, e->uidl)) {
			g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
			            "%s: UIDL gives unique-id \"%s\" to two "
			            "messages; refusing to download without "
			            "stable message ids (duplicates)", c->url,
			            e->uidl);
			return pop3_client_fail(c);
		}
	}
	return TRUE;
}

static gboolean
pop3_client_list_cb(MfPop3Client *c, const char *line, size_t len, void *ud,
                    GError **err)
{
	GArray *list = ud;
	Pop3Entry key = { 0 };
	guint64 size;
	Pop3Entry *e;

	if (!pop3_parser_parse_num_size(line, FALSE, &key.num, &size, err)) {
		g_prefix_error(err, "%s: LIST: ", c->url);
		return FALSE;
	}
	e = bsearch(&key, list->data, list->len, sizeof(Pop3Entry),
	            pop3_client_entry_cmp);
	if (!e || e->size != POP3_SIZE_UNSET || size == POP3_SIZE_UNSET) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: LIST and UIDL disagree about message %u",
		            c->url, key.num);
		return FALSE;
	}
	e->size = size;
	return TRUE;
}

gboolean
pop3_client_uidl(MfPop3Client *c, GArray **out, GError **err)
{
	g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(Pop3Entry));
	Pop3StatusKind kind;
	const char *text;

	g_return_val_if_fail(out != NULL, FALSE);
	if (!pop3_client_request(c, POP3_EXPECT_LIST, "UIDL\r\n", &kind, &text,
	                         err))
		return FALSE;
	if (kind == POP3_STATUS_ERR) {
		g_autofree char *q = pop3_client_quote(text);
		return pop3_client_no_uidl(c, q, err);
	}
	if (kind != POP3_STATUS_OK)
		return pop3_client_refused(c, kind, "UIDL", text,
		                           MF_ERROR_PROTOCOL, err);
	if (!pop3_client_lines(c, pop3_client_uidl_cb, list, err) ||
	    !pop3_client_uidl_check(c, list, err) ||
	    !pop3_client_multi(c, POP3_EXPECT_LIST, "LIST", "LIST\r\n",
	                       MF_ERROR_PROTOCOL, pop3_client_list_cb, list,
	                       err))
		return FALSE;
	for (guint i = 0; i < list->len; i++) {
		const Pop3Entry *e = &g_array_index(list, Pop3Entry, i);
		if (e->size == POP3_SIZE_UNSET) {
			g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
			            "%s: LIST and UIDL disagree about message "
			            "%u", c->url, e->num);
			return pop3_client_fail(c);
		}
	}
	*out = g_steal_pointer(&list);
	return TRUE;
}

/* --- RETR and TOP --- */

typedef struct {
	Pop3WriteFn write;
	void *ud;
	GString *buf;   /* lines not yet handed on, at most POP3_PIECE */
	guint64 total;  /* bytes handed on or buffered */
} Pop3TextCtx;

static gboolean
pop3_client_text_flush(Pop3TextCtx *t, GError **err)
{
	gboolean ok = t->buf->len == 0 ||
	              t->write(t->buf->str, t->buf->len, t->ud, err);

	g_string_truncate(t->buf, 0);
	return ok;
}

/* One line of message text: out with CRLF, gathered into pieces. */
static gboolean
pop3_client_text_cb(MfPop3Client *c, const char *line, size_t len, void *ud,
                    GError **err)
{
	Pop3TextCtx *t = ud;

	t->total += len + 2;
	if (t->buf->len + len + 2 > POP3_PIECE &&
	    !pop3_client_text_flush(t, err))
		return FALSE;
	if (len + 2 > POP3_PIECE)
		return t->write(line, len, t->ud, err) &&
		       t->write("\r\n", 2, t->ud, err);
	g_string_append_len(t->buf, line, (gssize)len);
	g_string_append_len(t->buf, "\r\n", 2);
	return TRUE;
}

static gboolean
pop3_client_text(MfPop3Client *c, const char *what, const char *cmd,
                 Pop3WriteFn write, void *ud, guint64 *size, GError **err)
{
	g_autoptr(GString) buf = g_string_sized_new(POP3_PIECE);
	Pop3TextCtx t = { write, ud, buf, 0 };

	g_return_val_if_fail(write != NULL, FALSE);
	if (!pop3_client_multi(c, POP3_EXPECT_TEXT, what, cmd, MF_ERROR_MESSAGE,
	                       pop3_client_text_cb, &t, err))
		return FALSE;
	if (!pop3_client_text_flush(&t, err)) {
		if (err && !*err)
			g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
			            "%s: reading stopped by the receiver", c->url);
		return FALSE; /* the reply was complete: still usable */
	}
	if (size)
		*size = t.total;
	return TRUE;
}

gboolean
pop3_client_retr(MfPop3Client *c, guint32 num, Pop3WriteFn write, void *ud,
                 guint64 *size, GError **err)
{
	char cmd[32];

	g_return_val_if_fail(num > 0, FALSE);
	g_snprintf(cmd, sizeof cmd, "RETR %u\r\n", num);
	return pop3_client_text(c, "RETR", cmd, write, ud, size, err);
}

gboolean
pop3_client_top(MfPop3Client *c, guint32 num, guint lines, Pop3WriteFn write,
                void *ud, guint64 *size, GError **err)
{
	char cmd[48];

	g_return_val_if_fail(num > 0, FALSE);
	g_snprintf(cmd, sizeof cmd, "TOP %u %u\r\n", num, lines);
	return pop3_client_text(c, "TOP", cmd, write, ud, size, err);
}
