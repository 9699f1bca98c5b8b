/* pop3_parser.c - incremental, bounded POP3 response parser and the pure
 * helpers for UIDL, LIST and STAT lines (no I/O). */
#include "net/pop3_parser.h"

#include <string.h>

#include "net/mf_error.h"

const Pop3ParserLimits pop3_parser_default_limits = {
	.status_max = 8 * 1024,
	.list_line_max = 4 * 1024,
	.list_lines_max = 1000000,
	.text_line_max = 1024 * 1024,
	.text_max = G_GUINT64_CONSTANT(1) << 30,
};

/* Where the parser is within one response. */
typedef enum {
	PHASE_STATUS, /* waiting for the status line */
	PHASE_DATA,   /* data lines until "." */
	PHASE_FAILED, /* an error was reported: unusable */
} Pop3Phase;

struct Pop3Parser {
	Pop3ParserLimits lim;
	Pop3Expect expect;
	Pop3Phase phase;
	GString *line;         /* the line being read, at most max + 2 bytes */
	gboolean line_done;    /* line holds a reported result */
	size_t out_off;        /* start of the status text or unstuffed line */
	Pop3StatusKind status; /* of the last status line */
	guint64 lines;         /* data lines of this response so far */
	guint64 bytes;         /* message text bytes (CRLF) so far */
};

Pop3Parser *
pop3_parser_new(const Pop3ParserLimits *limits)
{
	Pop3Parser *p = g_new0(Pop3Parser, 1);

	p->lim = limits ? *limits : pop3_parser_default_limits;
	p->expect = POP3_EXPECT_STATUS;
	p->phase = PHASE_STATUS;
	p->line = g_string_sized_new(256);
	return p;
}

void
pop3_parser_free(Pop3Parser *p)
{
	if (!p)
		return;
	g_string_free(p->line, TRUE);
	g_free(p);
}

void
pop3_parser_expect(Pop3Parser *p, Pop3Expect what)
{
	g_return_if_fail(p != NULL && p->phase == PHASE_STATUS);
	p->expect = what;
}

static Pop3ParseStatus
pop3_parser_fail(Pop3Parser *p, GError **err, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static Pop3ParseStatus
pop3_parser_fail(Pop3Parser *p, GError **err, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	p->phase = PHASE_FAILED;
	g_string_truncate(p->line, 0);
	g_set_error_literal(err, MF_ERROR, MF_ERROR_PROTOCOL, msg);
	return POP3_PARSE_ERROR;
}

/* The longest line (without CRLF, after unstuffing) the current phase
 * accepts. */
static size_t
pop3_parser_line_max(const Pop3Parser *p)
{
	if (p->phase == PHASE_STATUS)
		return p->lim.status_max;
	if (p->expect == POP3_EXPECT_LIST)
		return p->lim.list_line_max;
	return p->lim.text_line_max;
}

/* A printable, short copy of the start of S for error messages. */
static char *
pop3_parser_excerpt(const char *s, size_t len)
{
	GString *out = g_string_new(NULL);

	for (size_t i = 0; i < len && i < 40; i++) {
		unsigned char ch = (unsigned char)s[i];
		g_string_append_c(out, ch >= 0x20 && ch < 0x7f ? (char)ch : '?');
	}
	if (len > 40)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

/* TRUE if S starts with WORD (any case) followed by a space or its end. */
static gboolean
pop3_parser_has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	return g_ascii_strncasecmp(s, word, n) == 0 &&
	       (s[n] == '\0' || s[n] == ' ');
}

static Pop3ParseStatus
pop3_parser_status_line(Pop3Parser *p, GError **err)
{
	const char *s = p->line->str;
	size_t n = p->line->len;
	size_t off;

	if (n > p->lim.status_max)
		return pop3_parser_fail(p, err, "POP3 status line longer than "
		                        "%zu bytes", p->lim.status_max);
	if (memchr(s, '\0', n))
		return pop3_parser_fail(p, err, "POP3 status line holds a NUL "
		                        "byte");
	if (pop3_parser_has_word(s, "+OK")) {
		p->status = POP3_STATUS_OK;
		off = 3;
	} else if (pop3_parser_has_word(s, "-ERR")) {
		p->status = POP3_STATUS_ERR;
		off = 4;
	} else if (s[0] == '+' && (s[1] == '\0' || s[1] == ' ')) {
		p->status = POP3_STATUS_CONT;
		off = 1;
	} else {
		g_autofree char *ex = pop3_parser_excerpt(s, n);
		return pop3_parser_fail(p, err, "not a POP3 response (neither "
		                        "+OK nor -ERR): \"%s\"", ex);
	}
	p->out_off = off + (s[off] == ' ');
	if (p->status == POP3_STATUS_OK && p->expect != POP3_EXPECT_STATUS) {
		p->phase = PHASE_DATA;
		p->lines = 0;
		p->bytes = 0;
	} else {
		p->expect = POP3_EXPECT_STATUS;
	}
	return POP3_PARSE_STATUS;
}

static Pop3ParseStatus
pop3_parser_data_line(Pop3Parser *p, GError **err)
{
	const char *s = p->line->str;
	size_t off = s[0] == '.' ? 1 : 0;
	size_t n = p->line->len - off;

	if (off == 1 && n == 0) {
		p->phase = PHASE_STATUS;
		p->expect = POP3_EXPECT_STATUS;
		return POP3_PARSE_END;
	}
	if (n > pop3_parser_line_max(p))
		return pop3_parser_fail(p, err, "POP3 data line longer than %zu "
		                        "bytes", pop3_parser_line_max(p));
	if (p->expect == POP3_EXPECT_LIST) {
		if (memchr(s + off, '\0', n))
			return pop3_parser_fail(p, err, "POP3 listing holds a "
			                        "NUL byte");
		if (++p->lines > p->lim.list_lines_max)
			return pop3_parser_fail(p, err, "POP3 listing longer "
			                        "than %" G_GUINT64_FORMAT " lines",
			                        p->lim.list_lines_max);
	} else {
		if ((guint64)n + 2 > p->lim.text_max - p->bytes)
			return pop3_parser_fail(p, err, "message larger than "
			                        "the limit of %" G_GUINT64_FORMAT
			                        " bytes", p->lim.text_max);
		p->bytes += (guint64)n + 2;
	}
	p->out_off = off;
	return POP3_PARSE_LINE;
}

/* A line end was seen: strips the CR and interprets the line. */
static Pop3ParseStatus
pop3_parser_line_end(Pop3Parser *p, GError **err)
{
	if (p->line->len > 0 && p->line->str[p->line->len - 1] == '\r')
		g_string_truncate(p->line, p->line->len - 1);
	p->line_done = TRUE;
	if (p->phase == PHASE_STATUS)
		return pop3_parser_status_line(p, err);
	return pop3_parser_data_line(p, err);
}

Pop3ParseStatus
pop3_parser_feed(Pop3Parser *p, const char *data, size_t len,
                 size_t *consumed, GError **err)
{
	size_t i = 0;

	g_return_val_if_fail(p != NULL && consumed != NULL, POP3_PARSE_ERROR);
	g_return_val_if_fail(data != NULL || len == 0, POP3_PARSE_ERROR);
	*consumed = 0;
	if (p->phase == PHASE_FAILED)
		return pop3_parser_fail(p, err, "POP3 parser used after an "
		                        "error");
	if (p->line_done) {
		g_string_truncate(p->line, 0);
		p->line_done = FALSE;
	}
	while (i < len) {
		const char *lf = memchr(data + i, '\n', len - i);
		size_t take = lf ? (size_t)(lf - (data + i)) : len - i;
		/* Room for the line, a stuffing dot and a CR. */
		size_t room = pop3_parser_line_max(p) + 2 - p->line->len;

		if (take > room) {
			*consumed = i + take;
			return pop3_parser_fail(p, err, "POP3 line longer than "
			                        "%zu bytes", pop3_parser_line_max(p));
		}
		g_string_append_len(p->line, data + i, (gssize)take);
		i += take;
		if (lf) {
			*consumed = i + 1;
			return pop3_parser_line_end(p, err);
		}
	}
	*consumed = i;
	return POP3_PARSE_NEED_MORE;
}

Pop3StatusKind
pop3_parser_status(const Pop3Parser *p, const char **text)
{
	g_return_val_if_fail(p != NULL && p->line_done, POP3_STATUS_ERR);
	if (text)
		*text = p->line->str + p->out_off;
	return p->status;
}

const char *
pop3_parser_line(const Pop3Parser *p, size_t *len)
{
	g_return_val_if_fail(p != NULL && p->line_done, NULL);
	if (len)
		*len = p->line->len - p->out_off;
	return p->line->str + p->out_off;
}

/* --- line contents --- */

static gboolean
pop3_parser_is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Parses decimal digits at *S into *OUT, at most MAX; advances *S. */
static gboolean
pop3_parser_number(const char **s, guint64 max, guint64 *out)
{
	const char *p = *s;
	guint64 v = 0;

	if (!g_ascii_isdigit(*p))
		return FALSE;
	for (; g_ascii_isdigit(*p); p++) {
		guint64 d = (guint64)(*p - '0');
		if (v > (max - d) / 10)
			return FALSE;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return TRUE;
}

/* Parses the leading message number and the blanks after it. */
static gboolean
pop3_parser_msgnum(const char **s, gboolean allow_zero, guint32 *num,
                   GError **err)
{
	guint64 v;

	if (!pop3_parser_number(s, G_MAXUINT32, &v) || (v == 0 && !allow_zero) ||
	    !pop3_parser_is_blank(**s)) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "bad message number in POP3 line");
		return FALSE;
	}
	while (pop3_parser_is_blank(**s))
		(*s)++;
	*num = (guint32)v;
	return TRUE;
}

gboolean
pop3_parser_uidl_valid(const char *uid, size_t len)
{
	if (len == 0 || len > POP3_UIDL_MAX)
		return FALSE;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)uid[i] < 0x21 || (unsigned char)uid[i] > 0x7e)
			return FALSE;
	return TRUE;
}

gboolean
pop3_parser_parse_uidl(const char *line, guint32 *num, char *uid,
                       GError **err)
{
	const char *s = line;
	const char *start;
	guint32 n;

	g_return_val_if_fail(line != NULL && num != NULL && uid != NULL, FALSE);
	if (!pop3_parser_msgnum(&s, FALSE, &n, err))
		return FALSE;
	start = s;
	while (*s && !pop3_parser_is_blank(*s))
		s++;
	size_t len = (size_t)(s - start);
	while (pop3_parser_is_blank(*s))
		s++;
	if (*s != '\0' || !pop3_parser_uidl_valid(start, len)) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "invalid unique-id for message %u (RFC 1939 wants "
		            "1 to %d characters 0x21..0x7E)", n, POP3_UIDL_MAX);
		return FALSE;
	}
	memcpy(uid, start, len);
	uid[len] = '\0';
	*num = n;
	return TRUE;
}

gboolean
pop3_parser_parse_num_size(const char *line, gboolean allow_zero,
                           guint32 *num, guint64 *size, GError **err)
{
	const char *s = line;
	guint32 n;
	guint64 v;

	g_return_val_if_fail(line != NULL && num != NULL && size != NULL,
	                     FALSE);
	if (!pop3_parser_msgnum(&s, allow_zero, &n, err))
		return FALSE;
	if (!pop3_parser_number(&s, G_MAXUINT64, &v) ||
	    (*s != '\0' && !pop3_parser_is_blank(*s))) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "bad size for message %u in POP3 line", n);
		return FALSE;
	}
	*num = n;
	*size = v;
	return TRUE;
}
