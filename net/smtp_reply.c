/* smtp_reply.c - incremental SMTP reply parser: one line buffer bounded by
 * the limits, lines checked as they complete. */
#include "net/smtp_reply.h"

#include <string.h>

#include "net/mf_error.h"

const SmtpReplyLimits smtp_reply_default_limits = {
	.line_max = 4096,
	.lines_max = 256,
};

struct SmtpReplyParser {
	SmtpReplyLimits lim;
	GString *line;     /* the line being received, terminator included */
	SmtpReply *reply;  /* lines so far; NULL before the first */
	gboolean done;     /* reply complete, waiting for take() */
	char *error;       /* set once parsing failed */
};

SmtpReplyParser *
smtp_reply_parser_new(const SmtpReplyLimits *limits)
{
	SmtpReplyParser *p = g_new0(SmtpReplyParser, 1);

	p->lim = limits ? *limits : smtp_reply_default_limits;
	g_return_val_if_fail(p->lim.line_max >= 8 && p->lim.lines_max >= 1,
	                     p);
	p->line = g_string_sized_new(128);
	return p;
}

void
smtp_reply_free(SmtpReply *r)
{
	if (!r)
		return;
	g_free(r->enhanced);
	if (r->lines)
		g_ptr_array_unref(r->lines);
	g_free(r);
}

void
smtp_reply_parser_reset(SmtpReplyParser *p)
{
	g_string_truncate(p->line, 0);
	g_clear_pointer(&p->reply, smtp_reply_free);
	g_clear_pointer(&p->error, g_free);
	p->done = FALSE;
}

void
smtp_reply_parser_free(SmtpReplyParser *p)
{
	if (!p)
		return;
	smtp_reply_parser_reset(p);
	g_string_free(p->line, TRUE);
	g_free(p);
}

static gboolean
smtp_reply_fail(SmtpReplyParser *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
smtp_reply_fail(SmtpReplyParser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_free(p->error);
	p->error = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return FALSE;
}

/* Length of an RFC 3463 code "c.sss.ddd" of class CLASS at the start of S
 * (followed by a space or the end), or 0. */
static size_t
smtp_reply_enhanced_len(const char *s, char class)
{
	size_t i = 0;

	if (s[0] != class || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (g_ascii_isdigit(s[i]) && i - start < 4)
			i++;
		if (i == start || i - start > 3)
			return 0;
		if (part == 0 && s[i++] != '.')
			return 0;
	}
	return s[i] == ' ' || s[i] == '\0' ? i : 0;
}

/* Stores TEXT (the part after "ddd-") as the next line of the reply,
 * taking out the enhanced status code. */
static void
smtp_reply_add_text(SmtpReplyParser *p, const char *text)
{
	SmtpReply *r = p->reply;
	char class = (char)('0' + r->code / 100);
	size_t n = smtp_reply_enhanced_len(text, class);

	if (r->lines->len == 0 && n > 0)
		r->enhanced = g_strndup(text, n);
	if (n > 0 && r->enhanced && strlen(r->enhanced) == n &&
	    strncmp(text, r->enhanced, n) == 0) {
		text += n;
		while (*text == ' ')
			text++;
	}
	g_ptr_array_add(r->lines, g_utf8_make_valid(text, -1));
}

/* Checks the characters of a line (terminator removed). */
static gboolean
smtp_reply_check_chars(SmtpReplyParser *p, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return smtp_reply_fail(p, "control character 0x%02x in "
			                       "SMTP reply", ch);
	}
	return TRUE;
}

/* Parses "ddd" at the start of S, by the grammar of RFC 5321 4.2. */
static gboolean
smtp_reply_parse_code(SmtpReplyParser *p, const char *s, size_t len,
                      guint *code)
{
	if (len < 3 || !g_ascii_isdigit(s[0]) || !g_ascii_isdigit(s[1]) ||
	    !g_ascii_isdigit(s[2]))
		return smtp_reply_fail(p, "SMTP reply line does not start "
		                       "with a three-digit code");
	if (s[0] < '2' || s[0] > '5' || s[1] > '5')
		return smtp_reply_fail(p, "SMTP reply code %.3s is out of "
		                       "range", s);
	*code = (guint)(s[0] - '0') * 100 + (guint)(s[1] - '0') * 10 +
	        (guint)(s[2] - '0');
	return TRUE;
}

/* Handles one complete line S of LEN bytes, without its terminator. */
static gboolean
smtp_reply_line(SmtpReplyParser *p, const char *s, size_t len)
{
	guint code = 0;
	gboolean last;

	if (!smtp_reply_check_chars(p, s, len) ||
	    !smtp_reply_parse_code(p, s, len, &code))
		return FALSE;
	if (len > 3 && s[3] != '-' && s[3] != ' ')
		return smtp_reply_fail(p, "no space or hyphen after SMTP "
		                       "reply code %u", code);
	last = len == 3 || s[3] == ' ';
	if (!p->reply) {
		p->reply = g_new0(SmtpReply, 1);
		p->reply->code = code;
		p->reply->lines = g_ptr_array_new_with_free_func(g_free);
	} else if (p->reply->code != code) {
		return smtp_reply_fail(p, "SMTP reply code changed from %u to "
		                       "%u within one reply", p->reply->code,
		                       code);
	}
	if (p->reply->lines->len >= p->lim.lines_max)
		return smtp_reply_fail(p, "SMTP reply has more than %u lines",
		                       p->lim.lines_max);
	smtp_reply_add_text(p, len > 3 ? s + 4 : "");
	p->done = last;
	return TRUE;
}

/* Ends the line in the buffer (its LF just arrived). */
static gboolean
smtp_reply_end_line(SmtpReplyParser *p)
{
	GString *l = p->line;
	size_t len = l->len - 1;
	gboolean ok;

	if (len > 0 && l->str[len - 1] == '\r')
		len--;
	l->str[len] = '\0';
	ok = smtp_reply_line(p, l->str, len);
	g_string_truncate(l, 0);
	return ok;
}

SmtpReplyStatus
smtp_reply_parser_feed(SmtpReplyParser *p, const char *data, size_t len,
                       size_t *consumed, GError **err)
{
	size_t i = 0;

	g_return_val_if_fail(!p->done, SMTP_REPLY_ERROR);
	while (!p->error && !p->done && i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;

		if (p->line->len + n > p->lim.line_max) {
			smtp_reply_fail(p, "SMTP reply line longer than %zu "
			                "bytes", p->lim.line_max);
			break;
		}
		g_string_append_len(p->line, data + i, (gssize)n);
		i += n;
		if (nl)
			smtp_reply_end_line(p);
	}
	*consumed = i;
	if (p->error) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL, "%s", p->error);
		return SMTP_REPLY_ERROR;
	}
	return p->done ? SMTP_REPLY_DONE : SMTP_REPLY_NEED_MORE;
}

SmtpReply *
smtp_reply_parser_take(SmtpReplyParser *p)
{
	g_return_val_if_fail(p->done, NULL);
	p->done = FALSE;
	return g_steal_pointer(&p->reply);
}

char *
smtp_reply_to_string(const SmtpReply *r)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "%u", r->code);
	if (r->enhanced)
		g_string_append_printf(s, " %s", r->enhanced);
	for (guint i = 0; i < r->lines->len; i++) {
		const char *t = r->lines->pdata[i];
		if (*t)
			g_string_append_printf(s, " %s", t);
	}
	return g_string_free(s, FALSE);
}

guint
smtp_reply_class(const SmtpReply *r)
{
	return r->code / 100;
}
