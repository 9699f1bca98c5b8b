/* imap_parser.c - incremental, bounded IMAP response parser (no I/O). */
#include "net/imap_parser.h"

#include <string.h>

#include "net/mf_error.h"

const ImapParserLimits imap_parser_default_limits = {
	.line_max = 1024 * 1024,
	.literal_max = G_GUINT64_CONSTANT(4) << 30,
	.literal_inline_max = 64 * 1024,
	.depth_max = 32,
	.items_max = 1000000,
};

/* Where the parser is within one response.  Every byte outside literal data
 * is handled by exactly one state; a state may hand the byte on to the next
 * state ("again") instead of consuming it. */
typedef enum {
	ST_TAG,          /* first word: tag, "*" or "+" */
	ST_TOKEN,        /* between tokens of a data response or a code */
	ST_ATOM,         /* inside an atom */
	ST_SECTION,      /* inside "[...]" of an atom such as BODY[...] */
	ST_TILDE,        /* "~" at token start: literal8 or an atom */
	ST_QUOTED,       /* inside a quoted string */
	ST_QUOTED_ESC,   /* after a backslash inside a quoted string */
	ST_LIT_SIZE,     /* after "{": digits */
	ST_LIT_PLUS,     /* after "{N+": expects "}" */
	ST_LIT_EOL,      /* after "}": expects CRLF or LF */
	ST_LIT_LF,       /* after "}\r": expects LF */
	ST_LIT_DATA,     /* copying an inline literal */
	ST_LIT_EXTERNAL, /* caller is streaming a literal */
	ST_STATUS_SEP,   /* after a status word */
	ST_RESP_TEXT,    /* start of resp-text: "[" code or text */
	ST_AFTER_CODE,   /* after the "]" closing a code */
	ST_TEXT,         /* free text up to the end of the line */
	ST_LF,           /* after a CR that ends the line */
	ST_DONE,         /* response complete, waiting for take() */
	ST_ERROR,        /* unusable */
} ParserState;

/* Outcome of one byte in one state. */
typedef enum {
	STEP_NEXT,  /* byte consumed */
	STEP_AGAIN, /* state changed, give the same byte to the new state */
	STEP_FAIL,  /* p->error is set */
} StepResult;

struct ImapParser {
	ImapParserLimits lim;
	ParserState state;
	ImapResponse *resp;   /* the response being built */
	GPtrArray *stack;     /* open containers: [0] args or code, then lists */
	GString *tok;         /* bytes of the current tag, atom, string, text */
	size_t line_len;      /* non-literal bytes of this response so far */
	guint64 inline_len;   /* inline literal bytes of this response */
	guint items;          /* tokens of this response so far */
	guint section_depth;  /* "[" nesting inside an atom */
	guint ext_count;      /* streamed literals of this response so far */
	guint64 lit_size;     /* size of the current literal */
	guint64 lit_left;     /* inline literal bytes still to copy */
	gboolean lit_digits;  /* at least one digit seen after "{" */
	gboolean in_code;     /* tokens go into a "[CODE ...]" */
	gboolean expect_status; /* next top-level token may be a status word */
	gboolean in_text;     /* ST_TEXT was entered: tok holds the text */
	gboolean tok_damaged; /* the current token broke its syntax */
	char *error;          /* message of the error that stopped the parser */
};

static const char *const status_words[] = {
	"OK", "NO", "BAD", "BYE", "PREAUTH",
};

static StepResult
parser_fail(ImapParser *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static StepResult
parser_fail(ImapParser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_free(p->error);
	p->error = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	p->state = ST_ERROR;
	return STEP_FAIL;
}

static void
parser_damage(ImapParser *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The current token breaks its syntax in a way that leaves the framing of
 * the response intact: it is kept as sent and marked damaged, and the
 * response carries the first such reason. */
static void
parser_damage(ImapParser *p, const char *fmt, ...)
{
	va_list ap;

	p->tok_damaged = TRUE;
	if (p->resp->damage)
		return;
	va_start(ap, fmt);
	p->resp->damage = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

static GPtrArray *
value_array_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)imap_value_free);
}

void
imap_value_free(ImapValue *v)
{
	if (!v)
		return;
	g_free(v->str);
	if (v->list)
		g_ptr_array_unref(v->list);
	g_free(v);
}

void
imap_response_free(ImapResponse *r)
{
	if (!r)
		return;
	g_free(r->tag);
	g_free(r->status);
	g_free(r->text);
	g_free(r->damage);
	if (r->args)
		g_ptr_array_unref(r->args);
	if (r->code)
		g_ptr_array_unref(r->code);
	g_free(r);
}

/* A NUL-terminated copy of LEN bytes that may themselves hold NULs. */
static char *
bytes_dup(const char *s, size_t len)
{
	char *d = g_malloc(len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static void
parser_reset(ImapParser *p)
{
	imap_response_free(p->resp);
	p->resp = g_new0(ImapResponse, 1);
	p->resp->args = value_array_new();
	g_ptr_array_set_size(p->stack, 0);
	g_ptr_array_add(p->stack, p->resp->args);
	g_string_truncate(p->tok, 0);
	p->state = ST_TAG;
	p->line_len = 0;
	p->inline_len = 0;
	p->items = 0;
	p->section_depth = 0;
	p->ext_count = 0;
	p->lit_size = p->lit_left = 0;
	p->lit_digits = FALSE;
	p->in_code = p->expect_status = p->in_text = FALSE;
	p->tok_damaged = FALSE;
}

ImapParser *
imap_parser_new(const ImapParserLimits *limits)
{
	ImapParser *p = g_new0(ImapParser, 1);

	p->lim = limits ? *limits : imap_parser_default_limits;
	p->stack = g_ptr_array_new();
	p->tok = g_string_new(NULL);
	parser_reset(p);
	return p;
}

void
imap_parser_free(ImapParser *p)
{
	if (!p)
		return;
	imap_response_free(p->resp);
	g_ptr_array_unref(p->stack);
	g_string_free(p->tok, TRUE);
	g_free(p->error);
	g_free(p);
}

static GPtrArray *
parser_container(ImapParser *p)
{
	return p->stack->pdata[p->stack->len - 1];
}

/* Counts one more token against items_max. */
static StepResult
parser_count_item(ImapParser *p)
{
	if (++p->items > p->lim.items_max)
		return parser_fail(p, "IMAP response has more than %u items",
		                   p->lim.items_max);
	return STEP_NEXT;
}

static gboolean
parser_is_status_word(const ImapValue *v, const char **word)
{
	for (size_t i = 0; i < G_N_ELEMENTS(status_words); i++) {
		if (imap_value_is_atom(v, status_words[i])) {
			*word = status_words[i];
			return TRUE;
		}
	}
	return FALSE;
}

/* The first top-level token decides whether this is a status response
 * ("* OK ...", "A1 NO ...") or a data response ("* 3 EXISTS").  Takes V;
 * returns TRUE if V was the status word (and was consumed). */
static gboolean
parser_check_status(ImapParser *p, ImapValue *v, StepResult *res)
{
	const char *word;

	p->expect_status = FALSE;
	*res = STEP_NEXT;
	if (parser_is_status_word(v, &word)) {
		p->resp->status = g_strdup(word);
		p->state = ST_STATUS_SEP;
		imap_value_free(v);
		return TRUE;
	}
	if (p->resp->kind == IMAP_RESP_TAGGED) {
		imap_value_free(v);
		*res = parser_fail(p, "IMAP tagged response without OK/NO/BAD status");
		return TRUE;
	}
	return FALSE;
}

/* Appends a finished value to the open container.  Takes V. */
static StepResult
parser_append(ImapParser *p, ImapValue *v)
{
	StepResult res;

	if (p->expect_status && p->stack->len == 1 &&
	    parser_check_status(p, v, &res))
		return res;
	g_ptr_array_add(parser_container(p), v);
	return STEP_NEXT;
}

/* Turns the bytes collected in tok into an ATOM, NIL or STRING value. */
static StepResult
parser_finish_token(ImapParser *p, ImapValueType type)
{
	ImapValue *v = g_new0(ImapValue, 1);

	v->type = type;
	if (type == IMAP_VALUE_ATOM && p->tok->len == 3 &&
	    g_ascii_strncasecmp(p->tok->str, "NIL", 3) == 0) {
		v->type = IMAP_VALUE_NIL;
	} else {
		v->str = bytes_dup(p->tok->str, p->tok->len);
		v->len = p->tok->len;
	}
	v->damaged = p->tok_damaged;
	p->tok_damaged = FALSE;
	g_string_truncate(p->tok, 0);
	p->state = ST_TOKEN;
	return parser_append(p, v);
}

/* The end of the response line: checks that nothing is left open. */
static StepResult
parser_line_end(ImapParser *p)
{
	ImapResponse *r = p->resp;

	if (p->in_code)
		return parser_fail(p, "IMAP response code not terminated by ']'");
	if (p->stack->len > 1)
		return parser_fail(p, "IMAP list not terminated by ')'");
	if (p->expect_status)
		return parser_fail(p, "IMAP response has nothing after the tag");
	if (r->status || r->kind == IMAP_RESP_CONTINUATION) {
		r->text = p->in_text ? bytes_dup(p->tok->str, p->tok->len)
		                     : g_strdup("");
	}
	g_string_truncate(p->tok, 0);
	p->state = ST_DONE;
	return STEP_NEXT;
}

/* CR or LF where a line may end.  Returns FALSE if C is neither. */
static gboolean
parser_eol(ImapParser *p, guchar c, StepResult *res)
{
	if (c == '\r') {
		p->state = ST_LF;
		*res = STEP_NEXT;
		return TRUE;
	}
	if (c == '\n') {
		*res = parser_line_end(p);
		return TRUE;
	}
	return FALSE;
}

static gboolean
is_ctl(guchar c)
{
	return c < 0x20 || c == 0x7f;
}

static gboolean
is_tag_char(guchar c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

/* The tag ends at the first space: "*", "+" or an alphanumeric tag. */
static StepResult
parser_tag_end(ImapParser *p, guchar c)
{
	const char *tag = p->tok->str;

	if (p->tok->len == 0)
		return parser_fail(p, c == ' ' ? "IMAP response starts with a space"
		                               : "empty IMAP response line");
	if (strcmp(tag, "+") == 0) {
		p->resp->kind = IMAP_RESP_CONTINUATION;
		p->state = ST_RESP_TEXT;
	} else {
		if (strcmp(tag, "*") == 0) {
			p->resp->kind = IMAP_RESP_UNTAGGED;
		} else {
			p->resp->kind = IMAP_RESP_TAGGED;
			p->resp->tag = g_strdup(tag);
		}
		if (c != ' ')
			return parser_fail(p, "IMAP response has nothing after the tag");
		p->expect_status = TRUE;
		p->state = ST_TOKEN;
	}
	g_string_truncate(p->tok, 0);
	return c == ' ' ? STEP_NEXT : STEP_AGAIN;
}

static StepResult
parser_step_tag(ImapParser *p, guchar c)
{
	const char *tag = p->tok->str;

	if (c == ' ' || c == '\r' || c == '\n')
		return parser_tag_end(p, c);
	if (strcmp(tag, "*") == 0 || strcmp(tag, "+") == 0 ||
	    (p->tok->len > 0 && !is_tag_char(c)) ||
	    (p->tok->len == 0 && !is_tag_char(c) && c != '*' && c != '+'))
		return parser_fail(p, "IMAP response has a malformed tag "
		                   "(byte 0x%02x)", c);
	g_string_append_c(p->tok, c);
	return STEP_NEXT;
}

static StepResult
parser_open_list(ImapParser *p)
{
	ImapValue *v;

	if (p->stack->len - 1 >= p->lim.depth_max)
		return parser_fail(p, "IMAP list nesting exceeds %u levels",
		                   p->lim.depth_max);
	if (parser_count_item(p) == STEP_FAIL)
		return STEP_FAIL;
	v = g_new0(ImapValue, 1);
	v->type = IMAP_VALUE_LIST;
	v->list = value_array_new();
	/* A list as the first token of a tagged response is an error. */
	if (parser_append(p, v) == STEP_FAIL)
		return STEP_FAIL;
	g_ptr_array_add(p->stack, v->list);
	return STEP_NEXT;
}

static StepResult
parser_close_list(ImapParser *p)
{
	if (p->stack->len <= 1)
		return parser_fail(p, "IMAP response has an unbalanced ')'");
	g_ptr_array_remove_index(p->stack, p->stack->len - 1);
	return STEP_NEXT;
}

/* "]" at the top level of a code ends it; the text follows. */
static StepResult
parser_close_code(ImapParser *p)
{
	if (p->stack->len > 1)
		return parser_fail(p, "IMAP response code has an unterminated list");
	p->in_code = FALSE;
	p->state = ST_AFTER_CODE;
	return STEP_NEXT;
}

static StepResult
parser_start(ImapParser *p, ParserState state)
{
	g_string_truncate(p->tok, 0);
	p->tok_damaged = FALSE;
	p->state = state;
	return parser_count_item(p);
}

static StepResult
parser_step_token(ImapParser *p, guchar c)
{
	StepResult res;

	if (parser_eol(p, c, &res))
		return res;
	switch (c) {
	case ' ':
		return STEP_NEXT;
	case '(':
		return parser_open_list(p);
	case ')':
		return parser_close_list(p);
	case '"':
		return parser_start(p, ST_QUOTED);
	case ']':
		if (p->in_code)
			return parser_close_code(p);
		break;
	case '{':
	case '~':
		if (p->in_code)
			break;
		if (parser_start(p, c == '{' ? ST_LIT_SIZE : ST_TILDE) == STEP_FAIL)
			return STEP_FAIL;
		p->lit_size = 0;
		p->lit_digits = FALSE;
		return STEP_NEXT;
	default:
		break;
	}
	if (parser_start(p, ST_ATOM) == STEP_FAIL)
		return STEP_FAIL;
	return STEP_AGAIN;
}

static StepResult
parser_step_atom(ImapParser *p, guchar c)
{
	if (c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n' ||
	    (c == ']' && p->in_code)) {
		if (parser_finish_token(p, IMAP_VALUE_ATOM) == STEP_FAIL)
			return STEP_FAIL;
		return STEP_AGAIN;
	}
	if (is_ctl(c))
		parser_damage(p, "IMAP atom contains control byte 0x%02x", c);
	if (c == '[' && !p->in_code) {
		p->section_depth = 1;
		p->state = ST_SECTION;
	}
	g_string_append_c(p->tok, c);
	return STEP_NEXT;
}

/* Inside BODY[...]: spaces and parentheses belong to the atom. */
static StepResult
parser_step_section(ImapParser *p, guchar c)
{
	if (c == '\r' || c == '\n')
		return parser_fail(p, "IMAP atom has an unterminated '['");
	if (is_ctl(c))
		parser_damage(p, "IMAP atom contains control byte 0x%02x", c);
	if (c == '[')
		p->section_depth++;
	else if (c == ']' && --p->section_depth == 0)
		p->state = ST_ATOM;
	g_string_append_c(p->tok, c);
	return STEP_NEXT;
}

static StepResult
parser_step_tilde(ImapParser *p, guchar c)
{
	if (c == '{') {
		p->state = ST_LIT_SIZE;
		return STEP_NEXT;
	}
	/* "~peter/mail": an atom that starts with a tilde. */
	g_string_append_c(p->tok, '~');
	p->state = ST_ATOM;
	return STEP_AGAIN;
}

static StepResult
parser_step_quoted(ImapParser *p, guchar c)
{
	if (p->state == ST_QUOTED_ESC) {
		p->state = ST_QUOTED;
		if (c == '\r' || c == '\n')
			return STEP_AGAIN; /* a line break: not an escape */
		if (c != '\\' && c != '"') {
			parser_damage(p, "IMAP quoted string has an invalid "
			              "escape (byte 0x%02x)", c);
			g_string_append_c(p->tok, '\\');
		}
	} else if (c == '"') {
		return parser_finish_token(p, IMAP_VALUE_STRING);
	} else if (c == '\\') {
		p->state = ST_QUOTED_ESC;
		return STEP_NEXT;
	} else if (c == '\r' || c == '\n' || c == '\0') {
		return parser_fail(p, "IMAP quoted string contains %s",
		                   c ? "a line break" : "a NUL byte");
	}
	g_string_append_c(p->tok, c);
	return STEP_NEXT;
}

/* The literal header "{N}\r\n" is complete: copy it inline or hand it to
 * the caller. */
static StepResult
parser_literal_begin(ImapParser *p)
{
	ImapValue *v;

	/* Inline literals of one response share the line budget, so that
	 * many small ones cannot pile up in memory: past it they are
	 * streamed like large ones. */
	if (p->lit_size <= p->lim.literal_inline_max &&
	    p->inline_len + p->lit_size <= p->lim.line_max) {
		p->inline_len += p->lit_size;
		p->lit_left = p->lit_size;
		p->state = ST_LIT_DATA;
		g_string_set_size(p->tok, (gsize)p->lit_size);
		g_string_truncate(p->tok, 0);
		if (p->lit_left == 0)
			return parser_finish_token(p, IMAP_VALUE_STRING);
		return STEP_NEXT;
	}
	v = g_new0(ImapValue, 1);
	v->type = IMAP_VALUE_EXTERNAL;
	v->len = (size_t)p->lit_size;
	v->ext_index = p->ext_count++;
	p->state = ST_LIT_EXTERNAL;
	return parser_append(p, v);
}

static StepResult
parser_literal_size_end(ImapParser *p)
{
	if (!p->lit_digits)
		return parser_fail(p, "IMAP literal has no size");
	if (p->lit_size > p->lim.literal_max)
		return parser_fail(p, "IMAP literal of %" G_GUINT64_FORMAT
		                   " bytes exceeds %" G_GUINT64_FORMAT " bytes",
		                   p->lit_size, p->lim.literal_max);
	if (p->lit_size > G_MAXSIZE)
		return parser_fail(p, "IMAP literal too large for this system");
	p->state = ST_LIT_EOL;
	return STEP_NEXT;
}

static StepResult
parser_step_literal_head(ImapParser *p, guchar c)
{
	switch (p->state) {
	case ST_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			if (p->lit_size > (G_MAXUINT64 - (c - '0')) / 10)
				return parser_fail(p, "IMAP literal size overflows");
			p->lit_size = p->lit_size * 10 + (c - '0');
			p->lit_digits = TRUE;
			return STEP_NEXT;
		}
		if (c == '+' && p->lit_digits) {
			p->state = ST_LIT_PLUS;
			return STEP_NEXT;
		}
		if (c == '}')
			return parser_literal_size_end(p);
		break;
	case ST_LIT_PLUS:
		if (c == '}')
			return parser_literal_size_end(p);
		break;
	case ST_LIT_EOL:
	case ST_LIT_LF:
		/* CRLF, or a bare LF */
		if (c == '\r' && p->state == ST_LIT_EOL) {
			p->state = ST_LIT_LF;
			return STEP_NEXT;
		}
		if (c == '\n')
			return parser_literal_begin(p);
		return parser_fail(p, "IMAP literal size not followed by CRLF");
	default:
		g_assert_not_reached();
	}
	return parser_fail(p, "IMAP literal has a malformed size (byte 0x%02x)", c);
}

/* After a status word: " text", "\r\n" or nothing else. */
static StepResult
parser_step_status_sep(ImapParser *p, guchar c)
{
	StepResult res;

	if (parser_eol(p, c, &res))
		return res;
	if (c != ' ')
		return parser_fail(p, "IMAP status response has junk after %s",
		                   p->resp->status);
	p->state = ST_RESP_TEXT;
	return STEP_NEXT;
}

static StepResult
parser_step_resp_text(ImapParser *p, guchar c)
{
	StepResult res;

	if (parser_eol(p, c, &res))
		return res;
	if (p->state == ST_AFTER_CODE && c == ' ') {
		p->state = ST_TEXT;
		p->in_text = TRUE;
		return STEP_NEXT;
	}
	if (p->state == ST_RESP_TEXT && c == '[') {
		p->resp->code = value_array_new();
		g_ptr_array_set_size(p->stack, 0);
		g_ptr_array_add(p->stack, p->resp->code);
		p->in_code = TRUE;
		p->state = ST_TOKEN;
		return STEP_NEXT;
	}
	p->state = ST_TEXT;
	p->in_text = TRUE;
	return STEP_AGAIN;
}

static StepResult
parser_step_text(ImapParser *p, guchar c)
{
	StepResult res;

	if (parser_eol(p, c, &res))
		return res;
	if (c == '\0')
		return parser_fail(p, "IMAP response text contains a NUL byte");
	g_string_append_c(p->tok, c);
	return STEP_NEXT;
}

static StepResult
parser_step(ImapParser *p, guchar c)
{
	switch (p->state) {
	case ST_TAG:
		return parser_step_tag(p, c);
	case ST_TOKEN:
		return parser_step_token(p, c);
	case ST_ATOM:
		return parser_step_atom(p, c);
	case ST_SECTION:
		return parser_step_section(p, c);
	case ST_TILDE:
		return parser_step_tilde(p, c);
	case ST_QUOTED:
	case ST_QUOTED_ESC:
		return parser_step_quoted(p, c);
	case ST_LIT_SIZE:
	case ST_LIT_PLUS:
	case ST_LIT_EOL:
	case ST_LIT_LF:
		return parser_step_literal_head(p, c);
	case ST_STATUS_SEP:
		return parser_step_status_sep(p, c);
	case ST_RESP_TEXT:
	case ST_AFTER_CODE:
		return parser_step_resp_text(p, c);
	case ST_TEXT:
		return parser_step_text(p, c);
	case ST_LF:
		if (c != '\n')
			return parser_fail(p, "IMAP response has a CR not "
			                   "followed by LF");
		return parser_line_end(p);
	default:
		g_assert_not_reached();
	}
}

/* Copies inline literal bytes; returns how many were used. */
static size_t
parser_copy_literal(ImapParser *p, const char *data, size_t len)
{
	size_t n = len;

	if (n > p->lit_left)
		n = (size_t)p->lit_left;
	g_string_append_len(p->tok, data, (gssize)n);
	p->lit_left -= n;
	if (p->lit_left == 0)
		parser_finish_token(p, IMAP_VALUE_STRING);
	return n;
}

/* One byte outside literal data: counts it against line_max and runs it
 * through the states until one consumes it. */
static StepResult
parser_byte(ImapParser *p, guchar c)
{
	StepResult res;

	if (++p->line_len > p->lim.line_max)
		return parser_fail(p, "IMAP response line exceeds %zu bytes",
		                   p->lim.line_max);
	if (c == '\0' && p->state != ST_QUOTED)
		return parser_fail(p, "IMAP response contains a NUL byte");
	do
		res = parser_step(p, c);
	while (res == STEP_AGAIN);
	return res;
}

ImapParseStatus
imap_parser_feed(ImapParser *p, const char *data, size_t len,
                 size_t *consumed, GError **err)
{
	size_t i = 0;

	g_return_val_if_fail(p != NULL, IMAP_PARSE_ERROR);
	g_return_val_if_fail(data != NULL || len == 0, IMAP_PARSE_ERROR);
	g_return_val_if_fail(consumed != NULL, IMAP_PARSE_ERROR);

	while (p->state != ST_ERROR && p->state != ST_DONE &&
	       p->state != ST_LIT_EXTERNAL && i < len) {
		if (p->state == ST_LIT_DATA)
			i += parser_copy_literal(p, data + i, len - i);
		else if (parser_byte(p, (guchar)data[i++]) == STEP_FAIL)
			break;
	}
	switch (p->state) {
	case ST_ERROR:
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL, "%s", p->error);
		return IMAP_PARSE_ERROR;
	case ST_DONE:
		*consumed = i;
		return IMAP_PARSE_DONE;
	case ST_LIT_EXTERNAL:
		*consumed = i;
		return IMAP_PARSE_LITERAL;
	default:
		*consumed = i;
		return IMAP_PARSE_NEED_MORE;
	}
}

guint64
imap_parser_literal_size(const ImapParser *p)
{
	g_return_val_if_fail(p != NULL && p->state == ST_LIT_EXTERNAL, 0);
	return p->lit_size;
}

void
imap_parser_literal_done(ImapParser *p)
{
	g_return_if_fail(p != NULL && p->state == ST_LIT_EXTERNAL);
	p->state = ST_TOKEN;
}

ImapResponse *
imap_parser_take(ImapParser *p)
{
	ImapResponse *r;

	g_return_val_if_fail(p != NULL && p->state == ST_DONE, NULL);
	r = g_steal_pointer(&p->resp);
	parser_reset(p);
	return r;
}

/* Decimal digits only, no sign; FALSE on overflow past MAX. */
static gboolean
value_parse_decimal(const ImapValue *v, guint64 max, guint64 *out)
{
	guint64 n = 0;

	if (!v || v->type != IMAP_VALUE_ATOM || v->len == 0)
		return FALSE;
	for (size_t i = 0; i < v->len; i++) {
		guint d;

		if (v->str[i] < '0' || v->str[i] > '9')
			return FALSE;
		d = (guint)(v->str[i] - '0');
		if (n > (max - d) / 10)
			return FALSE;
		n = n * 10 + d;
	}
	*out = n;
	return TRUE;
}

gboolean
imap_value_get_u32(const ImapValue *v, guint32 *out)
{
	guint64 n;

	if (!value_parse_decimal(v, G_MAXUINT32, &n))
		return FALSE;
	*out = (guint32)n;
	return TRUE;
}

gboolean
imap_value_get_u64(const ImapValue *v, guint64 *out)
{
	guint64 n;

	if (!value_parse_decimal(v, G_MAXUINT64, &n))
		return FALSE;
	*out = n;
	return TRUE;
}

gboolean
imap_value_is_atom(const ImapValue *v, const char *word)
{
	g_return_val_if_fail(word != NULL, FALSE);
	return v && v->type == IMAP_VALUE_ATOM && v->len == strlen(word) &&
	       g_ascii_strncasecmp(v->str, word, v->len) == 0;
}

const char *
imap_value_str(const ImapValue *v)
{
	if (!v || (v->type != IMAP_VALUE_ATOM && v->type != IMAP_VALUE_STRING))
		return NULL;
	return v->str;
}
