/* imap_client.c - blocking IMAP client: greeting, STARTTLS, login, LIST,
 * EXAMINE, metadata and body fetches, over one MfConn and one ImapParser. */
#include "net/imap_client.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "net/imap_client_int.h"
#include "net/imap_date.h"
#include "net/imap_parser.h"
#include "net/mf_error.h"

#define IMAP_DEFAULT_LITERAL_MAX (1ull << 30)

static const char *const state_names[] = {
	[IMAP_STATE_GREETING] = "greeting", [IMAP_STATE_NOT_AUTH] = "not-auth",
	[IMAP_STATE_AUTH] = "auth", [IMAP_STATE_SELECTED] = "selected",
	[IMAP_STATE_LOGOUT] = "logout", [IMAP_STATE_BROKEN] = "broken",
};

/* The one place the protocol state changes. */
void
imap_client_set_state(MfImapClient *c, ImapState st)
{
	if (c->state != st)
		g_debug("imap %s: %s -> %s", c->url, state_names[c->state],
		        state_names[st]);
	c->state = st;
	if (st != IMAP_STATE_SELECTED)
		g_clear_pointer(&c->selected, g_free);
}

gboolean
imap_client_fail(MfImapClient *c, GError **err)
{
	imap_client_set_state(c, IMAP_STATE_BROKEN);
	return FALSE;
}

static const struct {
	const char *name;
	guint bit;
} cap_table[] = {
	{ "IMAP4REV1", IMAP_CAP_IMAP4REV1 }, { "STARTTLS", IMAP_CAP_STARTTLS },
	{ "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN }, { "SASL-IR", IMAP_CAP_SASL_IR },
	{ "LOGINDISABLED", IMAP_CAP_LOGINDISABLED }, { "IDLE", IMAP_CAP_IDLE },
	{ "UIDPLUS", IMAP_CAP_UIDPLUS }, { "MOVE", IMAP_CAP_MOVE },
	{ "CONDSTORE", IMAP_CAP_CONDSTORE }, { "QRESYNC", IMAP_CAP_QRESYNC },
	{ "SPECIAL-USE", IMAP_CAP_SPECIAL_USE },
	{ "LITERAL+", IMAP_CAP_LITERALPLUS }, { "ENABLE", IMAP_CAP_ENABLE },
	{ "ESEARCH", IMAP_CAP_ESEARCH },
};

/* The SASL mechanism of an "AUTH=NAME" capability V, as a SASL_BIT. */
static guint
imap_client_sasl_cap(const ImapValue *v)
{
	const char *s = imap_value_str(v);

	if (v->type != IMAP_VALUE_ATOM || g_ascii_strncasecmp(s, "AUTH=", 5))
		return 0;
	SaslMech m = sasl_mech_from_name(s + 5);
	return m == SASL_NONE ? 0 : SASL_BIT(m);
}

/* Sets the capabilities from a token list, skipping the first FROM. */
static void
imap_client_set_caps(MfImapClient *c, GPtrArray *tokens, guint from)
{
	guint caps = 0, mechs = 0;

	for (guint i = from; i < tokens->len; i++) {
		const ImapValue *v = tokens->pdata[i];
		for (gsize k = 0; k < G_N_ELEMENTS(cap_table); k++)
			if (imap_value_is_atom(v, cap_table[k].name))
				caps |= cap_table[k].bit;
		mechs |= imap_client_sasl_cap(v);
	}
	c->caps = caps;
	c->sasl_mechs = mechs;
}

/* Picks up "[CAPABILITY ...]" from any status response. */
/* COPYUID comes in the tagged OK of COPY, and in an untagged OK before
 * the expunges of MOVE (RFC 6851). */
static void
imap_client_note_copyuid(MfImapClient *c, const ImapResponse *r)
{
	if (r->code->len == 4 &&
	    imap_value_is_atom(r->code->pdata[0], "COPYUID") &&
	    imap_value_get_u32(r->code->pdata[1], &c->copyuid_validity) &&
	    !imap_value_get_u32(r->code->pdata[3], &c->copyuid))
		c->copyuid = 0; /* a set: more than one message */
}

static void
imap_client_note_code(MfImapClient *c, const ImapResponse *r)
{
	if (!r->code || r->code->len == 0)
		return;
	if (imap_value_is_atom(r->code->pdata[0], "CAPABILITY"))
		imap_client_set_caps(c, r->code, 1);
	else if (r->status && g_ascii_strcasecmp(r->status, "OK") == 0)
		imap_client_note_copyuid(c, r);
}

void
imap_client_deadline(MfImapClient *c, gint64 extra_s)
{
	conn_set_deadline(c->conn, g_get_monotonic_time() +
	                  (gint64)c->timeout_ms * 1000 + extra_s * G_USEC_PER_SEC);
}

static gboolean
imap_client_stream_literal(MfImapClient *c, const ImapHandler *h, GError **err)
{
	guint64 size = imap_parser_literal_size(c->parser);

	if (!h || !h->literal) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: unexpected literal of %" G_GUINT64_FORMAT
		            " bytes", c->url, size);
		return FALSE;
	}
	imap_client_deadline(c, (gint64)(size >> 20) * IMAP_SECONDS_PER_MIB);
	if (!h->literal(c, size, h->ud, err))
		return FALSE;
	imap_parser_literal_done(c->parser);
	return TRUE;
}

/* A response the parser kept despite damage is refused unless H takes
 * damaged untagged data. */
static ImapResponse *
imap_client_check_damage(MfImapClient *c, ImapResponse *r, const ImapHandler *h,
                         GError **err)
{
	if (!r->damage || (h && h->tolerate_damage && !r->status &&
	                   r->kind == IMAP_RESP_UNTAGGED))
		return r;
	g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL, "%s: %s", c->url,
	            r->damage);
	imap_response_free(r);
	return NULL;
}

/* Reads one complete response, streaming large literals through H. */
ImapResponse *
imap_client_read(MfImapClient *c, const ImapHandler *h, GError **err)
{
	ImapResponse *r;

	imap_client_deadline(c, 0);
	for (;;) {
		size_t avail = 0, used = 0;
		const char *buf = conn_peek(c->conn, &avail);
		ImapParseStatus st = IMAP_PARSE_NEED_MORE;

		if (avail > 0) {
			st = imap_parser_feed(c->parser, buf, avail, &used, err);
			conn_consume(c->conn, used);
		}
		switch (st) {
		case IMAP_PARSE_DONE:
			r = imap_parser_take(c->parser);
			r = imap_client_check_damage(c, r, h, err);
			if (!r)
				goto fail;
			return r;
		case IMAP_PARSE_LITERAL:
			if (!imap_client_stream_literal(c, h, err))
				goto fail;
			break;
		case IMAP_PARSE_NEED_MORE:
			if (!conn_fill(c->conn, err))
				goto fail;
			break;
		case IMAP_PARSE_ERROR:
			g_prefix_error(err, "%s: ", c->url);
			goto fail;
		}
	}
fail:
	imap_client_fail(c, err);
	return NULL;
}

gboolean
imap_client_send(MfImapClient *c, const char *line, GError **err)
{
	if (!conn_write(c->conn, line, strlen(line), err))
		return imap_client_fail(c, err);
	return TRUE;
}

/* An untagged response that is not data for the running command. */
static gboolean
imap_client_untagged(MfImapClient *c, ImapResponse *r, const ImapHandler *h,
                     GError **err)
{
	if (r->status) {
		imap_client_note_code(c, r);
		if (g_ascii_strcasecmp(r->status, "BYE") == 0) {
			imap_client_set_state(c, IMAP_STATE_LOGOUT);
			g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
			            "%s: server closed the session: %s", c->url,
			            r->text ? r->text : "");
			return FALSE;
		}
	} else if (r->args->len > 0 &&
	           imap_value_is_atom(r->args->pdata[0], "CAPABILITY")) {
		imap_client_set_caps(c, r->args, 1);
	}
	if (h && h->untagged)
		return h->untagged(c, r, h->ud, err);
	return TRUE;
}

/* The MfErrorCode for a tagged NO: the handler's, made precise for a
 * mailbox command by the RFC 5530 response codes that say why. */
static int
imap_client_no_code(const ImapResponse *r, const ImapHandler *h)
{
	int code = h ? h->no_code : MF_ERROR_PROTOCOL;

	if ((code != MF_ERROR_MAILBOX && code != MF_ERROR_REFUSED) ||
	    !r->code || r->code->len == 0)
		return code;
	if (imap_value_is_atom(r->code->pdata[0], "ALREADYEXISTS"))
		return MF_ERROR_EXISTS;
	if (imap_value_is_atom(r->code->pdata[0], "NONEXISTENT"))
		return MF_ERROR_NOTFOUND;
	if (imap_value_is_atom(r->code->pdata[0], "NOPERM"))
		return MF_ERROR_READONLY;
	return code;
}

static gboolean
imap_client_tagged(MfImapClient *c, ImapResponse *r, const char *tag,
                   const char *what, const ImapHandler *h, GError **err)
{
	if (strcmp(r->tag, tag) != 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: reply to unknown tag %s", c->url, r->tag);
		return imap_client_fail(c, err);
	}
	imap_client_note_code(c, r);
	if (r->status && g_ascii_strcasecmp(r->status, "OK") == 0) {
		if (r->code && r->code->len == 3 &&
		    imap_value_is_atom(r->code->pdata[0], "APPENDUID") &&
		    (!imap_value_get_u32(r->code->pdata[1],
		                         &c->appenduid_validity) ||
		     !imap_value_get_u32(r->code->pdata[2], &c->appenduid)))
			c->appenduid = 0;
		return TRUE;
	}
	if (r->status && g_ascii_strcasecmp(r->status, "NO") == 0) {
		g_set_error(err, MF_ERROR, imap_client_no_code(r, h),
		            "%s: %s refused: %s", c->url, what,
		            r->text ? r->text : "");
		return FALSE;
	}
	g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL, "%s: %s failed: %s %s",
	            c->url, what, r->status ? r->status : "?",
	            r->text ? r->text : "");
	return FALSE;
}

/* Answers a "+" of AUTHENTICATE whose text is CHALLENGE (may be NULL)
 * with X's answer, or "*" when it has none. */
static gboolean
imap_client_sasl_answer(MfImapClient *c, SaslExchange *x, const char *challenge,
                        GError **err)
{
	const char *answer = sasl_exchange_respond(x, challenge ? challenge : "");
	g_autofree char *line = g_strdup_printf("%s\r\n", answer ? answer : "*");
	gboolean ok = imap_client_send(c, line, err);

	explicit_bzero(line, strlen(line));
	return ok;
}

/* Sends "TAG COMMAND" and reads replies up to the tagged one.  WHAT names
 * the command in messages (the command itself may hold a password). */
gboolean
imap_client_run(MfImapClient *c, const ImapHandler *h, const char *what,
                const char *command, GError **err)
{
	char tag[16];
	gboolean cont_sent = FALSE;

	if (c->state == IMAP_STATE_BROKEN || c->state == IMAP_STATE_LOGOUT) {
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: connection is closed", c->url);
		return FALSE;
	}
	g_snprintf(tag, sizeof tag, "A%u", ++c->tag_seq);
	g_autofree char *line = g_strdup_printf("%s %s\r\n", tag, command);
	imap_client_deadline(c, 0); /* the last one may have passed idly */
	gboolean ok = imap_client_send(c, line, err);
	explicit_bzero(line, strlen(line));
	if (!ok)
		return FALSE;
	for (;;) {
		g_autoptr(ImapResponse) r = imap_client_read(c, h, err);
		if (!r)
			return FALSE;
		if (r->kind == IMAP_RESP_TAGGED)
			return imap_client_tagged(c, r, tag, what, h, err);
		if (r->kind == IMAP_RESP_CONTINUATION && h && h->sasl) {
			if (!imap_client_sasl_answer(c, h->sasl, r->text, err))
				return FALSE;
			continue;
		}
		if (r->kind == IMAP_RESP_CONTINUATION && h && h->cont &&
		    !cont_sent) {
			cont_sent = TRUE;
			if (!h->cont(c, h->ud, err))
				return imap_client_fail(c, err);
			continue;
		}
		if (r->kind == IMAP_RESP_CONTINUATION) {
			/* Cancel what we cannot continue. */
			if (!imap_client_send(c, "*\r\n", err))
				return FALSE;
			continue;
		}
		/* The rest of the command's replies are left unread: the
		 * session cannot go on. */
		if (!imap_client_untagged(c, r, h, err))
			return imap_client_fail(c, err);
	}
}

/* Quotes S as an IMAP quoted string; NULL if it needs a literal. */
char *
imap_client_quote(const char *s)
{
	GString *q = g_string_new("\"");

	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '\r' || ch == '\n' || ch >= 0x80) {
			g_string_free(q, TRUE);
			return NULL;
		}
		if (ch == '"' || ch == '\\')
			g_string_append_c(q, '\\');
		g_string_append_c(q, (char)ch);
	}
	g_string_append_c(q, '"');
	return g_string_free(q, FALSE);
}

static gboolean
imap_client_greeting(MfImapClient *c, GError **err)
{
	g_autoptr(ImapResponse) r = imap_client_read(c, NULL, err);

	if (!r)
		return FALSE;
	if (r->kind == IMAP_RESP_UNTAGGED && r->status &&
	    (g_ascii_strcasecmp(r->status, "OK") == 0 ||
	     g_ascii_strcasecmp(r->status, "PREAUTH") == 0)) {
		imap_client_note_code(c, r);
		imap_client_set_state(c, g_ascii_strcasecmp(r->status, "OK") == 0
		                      ? IMAP_STATE_NOT_AUTH : IMAP_STATE_AUTH);
		return TRUE;
	}
	if (r->status && g_ascii_strcasecmp(r->status, "BYE") == 0)
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
		            "%s: server refused the connection: %s", c->url,
		            r->text ? r->text : "");
	else
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: not an IMAP server (bad greeting)", c->url);
	return imap_client_fail(c, err);
}

static gboolean
imap_client_capability(MfImapClient *c, GError **err)
{
	ImapHandler h = { .no_code = MF_ERROR_PROTOCOL };
	return imap_client_run(c, &h, "CAPABILITY", "CAPABILITY", err);
}

static gboolean
imap_client_starttls(MfImapClient *c, const MfConnTlsConfig *tls, GError **err)
{
	ImapHandler h = { .no_code = MF_ERROR_TLS };

	if (c->caps == 0 && !imap_client_capability(c, err))
		return FALSE;
	if (!(c->caps & IMAP_CAP_STARTTLS)) {
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "%s: server does not offer STARTTLS; refusing to "
		            "log in without TLS", c->url);
		return FALSE;
	}
	if (!imap_client_run(c, &h, "STARTTLS", "STARTTLS", err))
		return FALSE;
	if (!conn_start_tls(c->conn, tls, err))
		return imap_client_fail(c, err);
	c->caps = 0; /* must be asked again over TLS */
	return TRUE;
}

/* AUTHENTICATE with MECH, the initial response on the command line when
 * the server takes one (SASL-IR). */
static gboolean
imap_client_authenticate(MfImapClient *c, const MfImapClientParams *p,
                         SaslMech mech, GError **err)
{
	g_autoptr(SaslExchange) x = sasl_exchange_new(
		mech, p->server->user, p->secret, p->server->url.host,
		p->server->url.port, err);

	if (!x) {
		g_prefix_error(err, "%s: ", c->url);
		return FALSE;
	}
	ImapHandler h = { .no_code = MF_ERROR_AUTH, .sasl = x };
	const char *ir = (c->caps & IMAP_CAP_SASL_IR)
	                 ? sasl_exchange_initial(x, 0) : NULL;
	g_autofree char *cmd = g_strdup_printf("AUTHENTICATE %s%s%s",
	                                       sasl_mech_name(mech),
	                                       ir ? " " : "", ir ? ir : "");
	gboolean ok = imap_client_run(c, &h, "authentication", cmd, err);
	explicit_bzero(cmd, strlen(cmd));
	if (!ok)
		sasl_exchange_explain(x, *err);
	return ok;
}

/* The LOGIN command. */
static gboolean
imap_client_login_command(MfImapClient *c, const char *user, const char *pass,
                          GError **err)
{
	ImapHandler h = { .no_code = MF_ERROR_AUTH };
	g_autofree char *qu = imap_client_quote(user);
	g_autofree char *qp = imap_client_quote(pass);

	if (!qu || !qp) {
		if (qp)
			explicit_bzero(qp, strlen(qp));
		g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
		            "%s: authentication impossible: credentials hold "
		            "characters LOGIN cannot carry", c->url);
		return FALSE;
	}
	g_autofree char *cmd = g_strdup_printf("LOGIN %s %s", qu, qp);
	explicit_bzero(qp, strlen(qp));
	gboolean ok = imap_client_run(c, &h, "authentication", cmd, err);
	explicit_bzero(cmd, strlen(cmd));
	return ok;
}

static gboolean
imap_client_login(MfImapClient *c, const MfImapClientParams *p, GError **err)
{
	SaslMech mech;

	if (c->caps == 0 && !imap_client_capability(c, err))
		return FALSE;
	if (p->server->auth == SASL_AUTH_PASSWORD &&
	    (c->caps & IMAP_CAP_LOGINDISABLED) &&
	    !(c->sasl_mechs & (SASL_BIT(SASL_PLAIN) | SASL_BIT(SASL_LOGIN)))) {
		g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
		            "%s: authentication impossible: server disables "
		            "LOGIN and offers no AUTH=PLAIN", c->url);
		return FALSE;
	}
	if (!sasl_choose(c->sasl_mechs, p->server->auth,
	                 !(c->caps & IMAP_CAP_LOGINDISABLED), &mech, err)) {
		g_prefix_error(err, "%s: ", c->url);
		return FALSE;
	}
	if (mech == SASL_NONE)
		return imap_client_login_command(c, p->server->user, p->secret,
		                                 err);
	return imap_client_authenticate(c, p, mech, err);
}

static MfImapClient *
imap_client_new(const MfImapClientParams *p, MfConn *conn)
{
	MfImapClient *c = g_new0(MfImapClient, 1);
	ImapParserLimits lim = imap_parser_default_limits;

	lim.literal_max = p->literal_max ? p->literal_max
	                                 : IMAP_DEFAULT_LITERAL_MAX;
	c->conn = conn;
	c->parser = imap_parser_new(&lim);
	c->state = IMAP_STATE_GREETING;
	c->url = url_to_string(&p->server->url);
	c->timeout_ms = p->server->timeout_ms;
	return c;
}

MfImapClient *
imap_client_connect(const MfImapClientParams *p, GError **err)
{
	const MfUrl *url = &p->server->url;
	MfConnTlsConfig tls = server_params_tls(p->server);

	g_return_val_if_fail(url->scheme == URL_IMAP ||
	                     url->scheme == URL_IMAPS, NULL);
	MfConn *conn = conn_open_url(url, &tls, p->server->timeout_ms, err);
	if (!conn)
		return NULL;
	g_autoptr(MfImapClient) c = imap_client_new(p, conn);
	if (!imap_client_greeting(c, err))
		return NULL;
	if (!url->implicit_tls && c->state == IMAP_STATE_AUTH) {
		g_set_error(err, MF_ERROR, MF_ERROR_TLS,
		            "%s: server skipped login (PREAUTH) before TLS; "
		            "refusing a plaintext session", c->url);
		return NULL;
	}
	if (!url->implicit_tls && !imap_client_starttls(c, &tls, err))
		return NULL;
	if (c->state == IMAP_STATE_NOT_AUTH) {
		/* What is sent while logging in carries credentials. */
		conn_set_redact(c->conn, TRUE);
		gboolean ok = imap_client_login(c, p, err);
		conn_set_redact(c->conn, FALSE);
		if (!ok)
			return NULL;
		imap_client_set_state(c, IMAP_STATE_AUTH);
	}
	if (c->caps == 0 && !imap_client_capability(c, err))
		return NULL;
	if (!imap_client_enable(c, err))
		return NULL;
	return g_steal_pointer(&c);
}

void
imap_client_free(MfImapClient *c)
{
	if (!c)
		return;
	if (c->state != IMAP_STATE_BROKEN && c->state != IMAP_STATE_LOGOUT &&
	    c->state != IMAP_STATE_GREETING) {
		/* Say goodbye, but do not wait long for the answer. */
		c->timeout_ms = MIN(c->timeout_ms, 1000);
		imap_client_run(c, NULL, "LOGOUT", "LOGOUT", NULL);
	}
	conn_close(c->conn);
	imap_parser_free(c->parser);
	g_free(c->selected);
	g_free(c->url);
	g_free(c);
}

ImapState
imap_client_state(const MfImapClient *c)
{
	return c->state;
}

const char *
imap_client_selected(const MfImapClient *c)
{
	return c->state == IMAP_STATE_SELECTED ? c->selected : NULL;
}

guint
imap_client_caps(const MfImapClient *c)
{
	return c->caps;
}

char *
imap_client_describe(const MfImapClient *c)
{
	g_autofree char *tls = conn_describe_tls(c->conn);
	return g_strdup_printf("%s, %s", c->url, tls);
}

gboolean
imap_client_noop(MfImapClient *c, GError **err)
{
	ImapHandler h = { .no_code = MF_ERROR_PROTOCOL };
	return imap_client_run(c, &h, "NOOP", "NOOP", err);
}

void
imap_mailbox_free(ImapMailbox *m)
{
	if (!m)
		return;
	g_free(m->name);
	g_free(m);
}

static const struct {
	const char *name;
	guint bit;
} mbox_attr_table[] = {
	{ "\\Noselect", IMAP_MBOX_NOSELECT },
	{ "\\NonExistent", IMAP_MBOX_NOSELECT },
	{ "\\Noinferiors", IMAP_MBOX_NOINFERIORS },
	{ "\\Sent", IMAP_MBOX_SENT }, { "\\Trash", IMAP_MBOX_TRASH },
	{ "\\Drafts", IMAP_MBOX_DRAFTS }, { "\\Archive", IMAP_MBOX_ARCHIVE },
	{ "\\Junk", IMAP_MBOX_JUNK },
};

static guint
imap_client_mbox_attrs(const ImapValue *list)
{
	guint attrs = 0;

	for (guint i = 0; i < list->list->len; i++)
		for (gsize k = 0; k < G_N_ELEMENTS(mbox_attr_table); k++)
			if (imap_value_is_atom(list->list->pdata[i],
			                       mbox_attr_table[k].name))
				attrs |= mbox_attr_table[k].bit;
	return attrs;
}

/* "* LIST (attrs) delim name" */
static gboolean
imap_client_list_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	GPtrArray *out = ud;
	GPtrArray *a = r->args;

	if (a->len < 4 || !imap_value_is_atom(a->pdata[0], "LIST"))
		return TRUE;
	const ImapValue *attrs = a->pdata[1], *delim = a->pdata[2];
	const char *name = imap_value_str(a->pdata[3]);
	if (attrs->type != IMAP_VALUE_LIST || !name ||
	    (delim->type != IMAP_VALUE_NIL && (!imap_value_str(delim) ||
	                                       delim->len != 1))) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: malformed LIST reply", c->url);
		return FALSE;
	}
	ImapMailbox *m = g_new0(ImapMailbox, 1);
	m->name = g_ascii_strcasecmp(name, "INBOX") == 0 ? g_strdup("INBOX")
	                                                 : g_strdup(name);
	m->delim = delim->type == IMAP_VALUE_NIL ? '\0' : delim->str[0];
	m->attrs = imap_client_mbox_attrs(attrs);
	g_ptr_array_add(out, m);
	return TRUE;
}

gboolean
imap_client_list(MfImapClient *c, GPtrArray **out, GError **err)
{
	g_autoptr(GPtrArray) list =
		g_ptr_array_new_with_free_func((GDestroyNotify)imap_mailbox_free);
	ImapHandler h = { .untagged = imap_client_list_cb,
	                  .no_code = MF_ERROR_PROTOCOL, .ud = list };
	const char *cmd = (c->caps & IMAP_CAP_SPECIAL_USE)
	                  ? "LIST \"\" \"*\" RETURN (SPECIAL-USE)"
	                  : "LIST \"\" \"*\"";

	if (!imap_client_run(c, &h, "LIST", cmd, err))
		return FALSE;
	*out = g_steal_pointer(&list);
	return TRUE;
}

/* Untagged replies to EXAMINE. */
gboolean
imap_client_examine_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	ImapSelectInfo *info = ud;

	if (r->status && r->code && r->code->len >= 2) {
		const ImapValue *key = r->code->pdata[0], *val = r->code->pdata[1];
		if (imap_value_is_atom(key, "UIDVALIDITY"))
			imap_value_get_u32(val, &info->uidvalidity);
		else if (imap_value_is_atom(key, "UIDNEXT"))
			imap_value_get_u32(val, &info->uidnext);
		else if (imap_value_is_atom(key, "HIGHESTMODSEQ"))
			imap_value_get_u64(val, &info->highestmodseq);
	} else if (r->status && r->code && r->code->len == 1 &&
	           imap_value_is_atom(r->code->pdata[0], "NOMODSEQ")) {
		info->highestmodseq = 0;
	} else if (!r->status && r->args->len == 2 &&
	           imap_value_is_atom(r->args->pdata[1], "EXISTS")) {
		imap_value_get_u32(r->args->pdata[0], &info->exists);
	}
	return TRUE;
}

gboolean
imap_client_select_with(MfImapClient *c, const char *mailbox,
                        gboolean writable, const char *params,
                        const ImapHandler *more, ImapSelectInfo *out,
                        GError **err)
{
	ImapSelectInfo own = { 0 };
	ImapHandler h = { .untagged = imap_client_examine_cb,
	                  .no_code = MF_ERROR_MAILBOX, .ud = &own };
	g_autofree char *q = imap_client_quote(mailbox);
	const char *verb = writable ? "SELECT" : "EXAMINE";

	if (more)
		h = *more;
	ImapSelectInfo *info = h.ud; /* what MORE's ud starts with */
	if (!q) {
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
		            "%s: unusable mailbox name", c->url);
		return FALSE;
	}
	if (!params)
		params = (c->caps & IMAP_CAP_CONDSTORE) && !c->modseq_on
		         ? " (CONDSTORE)" : "";
	g_autofree char *cmd = g_strdup_printf("%s %s%s", verb, q, params);
	if (c->state == IMAP_STATE_SELECTED) /* never revives a broken one */
		imap_client_set_state(c, IMAP_STATE_AUTH);
	if (!imap_client_run(c, &h, verb, cmd, err))
		return FALSE;
	if (c->caps & IMAP_CAP_CONDSTORE)
		c->modseq_on = TRUE; /* by ENABLE, or by this (CONDSTORE) */
	if (info->uidvalidity == 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: %s %s gave no UIDVALIDITY", c->url, verb,
		            mailbox);
		return FALSE;
	}
	imap_client_set_state(c, IMAP_STATE_SELECTED);
	c->selected = g_strdup(mailbox);
	c->selected_rw = writable;
	c->selected_info = *info;
	if (out)
		*out = *info;
	return TRUE;
}

gboolean
imap_client_select(MfImapClient *c, const char *mailbox, gboolean writable,
                   gboolean force, ImapSelectInfo *out, GError **err)
{
	if (!force && c->selected && strcmp(c->selected, mailbox) == 0 &&
	    (c->selected_rw || !writable)) {
		if (out)
			*out = c->selected_info;
		return TRUE;
	}
	return imap_client_select_with(c, mailbox, writable, NULL, NULL, out,
	                               err);
}

gboolean
imap_client_examine(MfImapClient *c, const char *mailbox, gboolean force,
                    ImapSelectInfo *out, GError **err)
{
	return imap_client_select(c, mailbox, FALSE, force, out, err);
}

/* Finds the value following the atom KEY in a FETCH attribute list. */
const ImapValue *
imap_client_fetch_item(const ImapValue *list, const char *key)
{
	for (guint i = 0; i + 1 < list->list->len; i += 2)
		if (imap_value_is_atom(list->list->pdata[i], key))
			return list->list->pdata[i + 1];
	return NULL;
}

/* Returns the attribute list of "* N FETCH (...)", or NULL. */
const ImapValue *
imap_client_fetch_list(const ImapResponse *r)
{
	if (r->status || r->args->len != 3 ||
	    !imap_value_is_atom(r->args->pdata[1], "FETCH"))
		return NULL;
	const ImapValue *l = r->args->pdata[2];
	return l->type == IMAP_VALUE_LIST ? l : NULL;
}

/* VALUE as a short, printable quote for a problem report. */
static void
imap_client_show(GString *out, const ImapValue *v)
{
	const char *str = imap_value_str(v);

	if (!str) {
		g_string_append(out, v->type == IMAP_VALUE_NIL ? "NIL"
		                                               : "(a list)");
		return;
	}
	g_autofree char *head = g_strndup(str, MIN(v->len, 40));
	g_autofree char *esc = g_strescape(head, NULL);
	g_string_append_printf(out, "\"%s%s\"", esc, v->len > 40 ? "..." : "");
}

/* Adds one clause to a problem report. */
static void
imap_client_problem(GString *problem, const char *what, const ImapValue *v)
{
	if (problem->len)
		g_string_append(problem, "; ");
	g_string_append(problem, what);
	if (v) {
		g_string_append(problem, ": ");
		imap_client_show(problem, v);
	}
}

/* The flags of FLAGS, space-separated.  Only atoms are flags: a string
 * (which may hold spaces) or a damaged value is left out and reported in
 * PROBLEM. */
char *
imap_client_join_flags(const ImapValue *flags, GString *problem)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; flags && flags->type == IMAP_VALUE_LIST &&
	                  i < flags->list->len; i++) {
		const ImapValue *v = flags->list->pdata[i];
		if (v->type != IMAP_VALUE_ATOM || v->damaged) {
			imap_client_problem(problem, "flag left out", v);
			continue;
		}
		/* \Recent belongs to one session and no client can set it:
		 * showing it would make the flags differ by connection. */
		if (g_ascii_strcasecmp(v->str, "\\Recent") == 0)
			continue;
		if (s->len)
			g_string_append_c(s, ' ');
		g_string_append(s, v->str);
	}
	return g_string_free(s, FALSE);
}

typedef struct {
	ImapMetaFn cb;
	void *ud;
} MetaCtx;

/* UID and RFC822.SIZE of a FETCH reply: without them a message cannot be
 * listed. */
static gboolean
imap_client_meta_key(const ImapResponse *r, const ImapValue *l, ImapMeta *m,
                     GString *problem)
{
	const ImapValue *vu = imap_client_fetch_item(l, "UID");
	const ImapValue *vs = imap_client_fetch_item(l, "RFC822.SIZE");

	if (!vu || !imap_value_get_u32(vu, &m->uid) || m->uid == 0) {
		m->uid = 0;
		const char *seq = imap_value_str(r->args->pdata[0]);
		g_autofree char *what = g_strdup_printf(
			"the reply for message number %s has no usable UID",
			seq ? seq : "?");
		imap_client_problem(problem, what, vu);
		return FALSE;
	}
	if (!vs || !imap_value_get_u64(vs, &m->size)) {
		imap_client_problem(problem, "no usable RFC822.SIZE", vs);
		return FALSE;
	}
	return TRUE;
}

/* One message of a metadata listing.  A reply the server got wrong in
 * part still names its message where it can: a bad INTERNALDATE becomes
 * 0, a bad flag is left out, and the callback hears what was wrong. */
static gboolean
imap_client_meta_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	MetaCtx *mc = ud;
	const ImapValue *l = imap_client_fetch_list(r);
	g_autoptr(GString) problem = g_string_new(NULL);
	ImapMeta m = { 0 };

	if (!l)
		return TRUE;
	const ImapValue *vd = imap_client_fetch_item(l, "INTERNALDATE");
	if (!vd && !imap_client_fetch_item(l, "RFC822.SIZE"))
		return TRUE; /* an unsolicited FLAGS update */
	m.usable = imap_client_meta_key(r, l, &m, problem);
	if (!vd || (vd->type != IMAP_VALUE_STRING &&
	            vd->type != IMAP_VALUE_ATOM) || vd->damaged ||
	    !imap_date_parse(vd->str, &m.internaldate)) {
		m.internaldate = 0;
		imap_client_problem(problem, "no usable INTERNALDATE (0 used)",
		                    vd);
	}
	g_autofree char *flags = imap_client_join_flags(
		imap_client_fetch_item(l, "FLAGS"), problem);
	m.flags = flags;
	m.problem = problem->len ? problem->str : NULL;
	mc->cb(&m, mc->ud);
	return TRUE;
}

gboolean
imap_client_fetch_meta(MfImapClient *c, const char *uidset, ImapMetaFn cb,
                       void *ud, GError **err)
{
	MetaCtx m = { cb, ud };
	ImapHandler h = { .untagged = imap_client_meta_cb,
	                  .no_code = MF_ERROR_MAILBOX, .tolerate_damage = TRUE,
	                  .ud = &m };
	g_autofree char *cmd = g_strdup_printf(
		"UID FETCH %s (UID FLAGS RFC822.SIZE INTERNALDATE)", uidset);

	return imap_client_run(c, &h, "UID FETCH", cmd, err);
}

static gboolean
imap_client_uids_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	const ImapValue *l = imap_client_fetch_list(r);
	guint32 uid;

	if (l && imap_value_get_u32(imap_client_fetch_item(l, "UID"), &uid))
		g_hash_table_add(ud, GUINT_TO_POINTER(uid));
	return TRUE;
}

gboolean
imap_client_fetch_uids(MfImapClient *c, const char *uidset, GHashTable *uids,
                       GError **err)
{
	ImapHandler h = { .untagged = imap_client_uids_cb,
	                  .no_code = MF_ERROR_MAILBOX, .ud = uids };
	g_autofree char *cmd = g_strdup_printf("UID FETCH %s (UID)", uidset);

	return imap_client_run(c, &h, "UID FETCH", cmd, err);
}

typedef struct {
	const ImapBodySink *sink;
	void *ud;
	GPtrArray *pending; /* sinks of streamed literals, by ext_index */
} BodyCtx;

static gboolean
imap_client_sink_write_cb(const char *data, size_t len, void *ud, GError **err)
{
	BodyCtx *b = ud;
	gpointer s = b->pending->pdata[b->pending->len - 1];
	return b->sink->write(s, data, len, err);
}

static gboolean
imap_client_body_literal_cb(MfImapClient *c, guint64 size, void *ud,
                            GError **err)
{
	BodyCtx *b = ud;
	gpointer s = b->sink->open(size, b->ud, err);

	if (!s)
		return FALSE;
	g_ptr_array_add(b->pending, s);
	if (!conn_read_exact(c->conn, size, imap_client_sink_write_cb, b, err))
		return imap_client_fail(c, err);
	return TRUE;
}

/* Hands an inline or streamed body to its sink and finishes it. */
static gboolean
imap_client_body_finish(BodyCtx *b, const ImapValue *body, guint32 uid,
                        GError **err)
{
	gpointer s;

	if (body->type == IMAP_VALUE_EXTERNAL) {
		if (body->ext_index >= b->pending->len)
			return TRUE;
		s = g_steal_pointer(&b->pending->pdata[body->ext_index]);
	} else if (body->type == IMAP_VALUE_STRING) {
		s = b->sink->open(body->len, b->ud, err);
		if (!s)
			return FALSE;
		if (!b->sink->write(s, body->str, body->len, err)) {
			b->sink->abort(s);
			return FALSE;
		}
	} else {
		return TRUE; /* NIL: the message is gone */
	}
	return b->sink->finish(s, uid, b->ud, err);
}

static void
imap_client_abort_pending(BodyCtx *b)
{
	for (guint i = 0; i < b->pending->len; i++)
		if (b->pending->pdata[i])
			b->sink->abort(b->pending->pdata[i]);
	g_ptr_array_set_size(b->pending, 0);
}

static gboolean
imap_client_body_cb(MfImapClient *c, ImapResponse *r, void *ud, GError **err)
{
	BodyCtx *b = ud;
	const ImapValue *l = imap_client_fetch_list(r);
	const ImapValue *vu, *body;
	guint32 uid;
	gboolean ok = TRUE;

	if (l && (vu = imap_client_fetch_item(l, "UID")) &&
	    (body = imap_client_fetch_item(l, "BODY[]"))) {
		if (!imap_value_get_u32(vu, &uid)) {
			g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
			            "%s: malformed UID in FETCH", c->url);
			ok = FALSE;
		} else {
			ok = imap_client_body_finish(b, body, uid, err);
		}
	}
	imap_client_abort_pending(b);
	return ok;
}

gboolean
imap_client_fetch_bodies(MfImapClient *c, const char *uidset,
                         const ImapBodySink *sink, void *ud, GError **err)
{
	g_autoptr(GPtrArray) pending = g_ptr_array_new();
	BodyCtx b = { sink, ud, pending };
	ImapHandler h = { .untagged = imap_client_body_cb,
	                  .literal = imap_client_body_literal_cb,
	                  .no_code = MF_ERROR_MESSAGE, .ud = &b };
	g_autofree char *cmd =
		g_strdup_printf("UID FETCH %s (UID BODY.PEEK[])", uidset);

	gboolean ok = imap_client_run(c, &h, "UID FETCH", cmd, err);
	imap_client_abort_pending(&b);
	return ok;
}

typedef struct {
	int fd;
	guint64 size;
	gboolean started; /* the server said "+": the literal went out */
} AppendCtx;

/* Streams the message after the server's "+". */
static gboolean
imap_client_append_data_cb(MfImapClient *c, void *ud, GError **err)
{
	AppendCtx *a = ud;
	char buf[65536];
	guint64 off = 0;

	a->started = TRUE;
	imap_client_deadline(c, (gint64)(a->size >> 20) * IMAP_SECONDS_PER_MIB);
	while (off < a->size) {
		ssize_t n = pread(a->fd, buf, MIN(sizeof buf, a->size - off),
		                  (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
			            "cannot read the message to append: %s",
			            n < 0 ? g_strerror(errno) : "file shrank");
			return FALSE;
		}
		if (!conn_write(c->conn, buf, (size_t)n, err))
			return FALSE;
		off += (guint64)n;
	}
	return conn_write(c->conn, "\r\n", 2, err);
}

gboolean
imap_client_append(MfImapClient *c, const char *mailbox, const char *flags,
                   gint64 date, int fd, guint64 size, guint32 *uidvalidity,
                   guint32 *uid, GError **err)
{
	AppendCtx a = { fd, size, FALSE };
	GError *e = NULL;
	ImapHandler h = { .cont = imap_client_append_data_cb,
	                  .no_code = MF_ERROR_MAILBOX, .ud = &a };
	g_autofree char *q = imap_client_quote(mailbox);
	char datebuf[40];

	if (!q) {
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
		            "%s: unusable mailbox name", c->url);
		return FALSE;
	}
	g_autofree char *cmd = g_strdup_printf(
		"APPEND %s (%s) \"%s\" {%" G_GUINT64_FORMAT "}", q,
		flags ? flags : "", imap_date_format(date, datebuf), size);
	c->appenduid = 0;
	if (!imap_client_run(c, &h, "APPEND", cmd, &e)) {
		/* Cut after the literal: the server may have the message. */
		if (a.started && e->code == MF_ERROR_CONNECTION)
			e->code = MF_ERROR_UNSURE;
		g_propagate_error(err, e);
		return FALSE;
	}
	if (uidvalidity)
		*uidvalidity = c->appenduid ? c->appenduid_validity : 0;
	if (uid)
		*uid = c->appenduid;
	return TRUE;
}
