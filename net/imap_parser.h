/* imap_parser.h - a pure, incremental, bounded parser for IMAP server
 * responses (RFC 9051 / 3501 syntax).  It does no I/O: bytes go in, and it
 * answers "done", "need more", "literal" or "error".
 *
 * One response is one line plus any literals it carries.  A response is
 * parsed into a tree of ImapValue:
 *   "* 3 FETCH (UID 7 FLAGS (\Seen) BODY[] {5}\r\nhello)\r\n"
 *   -> tag "*", args: ATOM "3", ATOM "FETCH",
 *      LIST(ATOM "UID", ATOM "7", ATOM "FLAGS", LIST(ATOM "\Seen"),
 *           ATOM "BODY[]", STRING "hello")
 * Status responses (OK, NO, BAD, BYE, PREAUTH, tagged or untagged) and
 * continuation requests ("+ ...") carry resp-text instead of arguments: the
 * optional "[CODE args]" is parsed into code (LIST of its tokens, e.g.
 * ATOM "UIDVALIDITY", ATOM "42"), the rest is kept raw in text.
 *
 * Atoms keep bracketed sections whole: BODY[HEADER.FIELDS (SUBJECT)]<0> is
 * one ATOM.  Numbers stay atoms; imap_value_get_u32/u64 convert them with
 * overflow checks.
 *
 * Literals up to limits.literal_inline_max are stored in the tree, as long
 * as the inline literals of one response stay within limits.line_max in
 * all.  Any other literal (up to limits.literal_max) is not buffered: the parser stops with
 * IMAP_PARSE_LITERAL and reports its size; the caller consumes exactly that
 * many bytes of the stream itself (typically writing them to a file), then
 * calls imap_parser_literal_done() and continues feeding.  The tree then
 * holds an EXTERNAL value with the size and its index among the external
 * literals of this response.
 *
 * Damage: a token that breaks its own syntax without touching the framing
 * of the response (an invalid escape such as "\q" in a quoted string, kept
 * as the two bytes sent; a control byte other than CR, LF and NUL in an
 * atom, kept) does not stop the parser.  The value is marked damaged and
 * the response says why in damage, so that a consumer can confine the
 * harm to the one item (a message of a listing) or refuse the whole
 * response.  Everything else that breaks the syntax is an error.
 */
#ifndef MAILFS_IMAP_PARSER_H
#define MAILFS_IMAP_PARSER_H

#include <glib.h>
#include <stdint.h>

typedef enum {
	IMAP_VALUE_ATOM,     /* also numbers, flags, NIL-free atoms */
	IMAP_VALUE_STRING,   /* quoted (unescaped) or inline literal */
	IMAP_VALUE_NIL,
	IMAP_VALUE_LIST,
	IMAP_VALUE_EXTERNAL, /* literal streamed by the caller */
} ImapValueType;

typedef struct ImapValue ImapValue;
struct ImapValue {
	ImapValueType type;
	char *str;         /* ATOM, STRING: NUL-terminated (may hold NULs) */
	size_t len;        /* ATOM, STRING: length; EXTERNAL: literal size */
	GPtrArray *list;   /* LIST: ImapValue*; owned */
	guint ext_index;   /* EXTERNAL: 0 for the first streamed literal */
	gboolean damaged;  /* ATOM, STRING: kept as sent, see "Damage" */
};

typedef enum {
	IMAP_RESP_UNTAGGED,     /* "* ..." */
	IMAP_RESP_TAGGED,       /* "A1 ..." */
	IMAP_RESP_CONTINUATION, /* "+ ..." */
} ImapRespKind;

typedef struct {
	ImapRespKind kind;
	char *tag;         /* TAGGED: the tag; else NULL */
	char *status;      /* "OK","NO","BAD","BYE","PREAUTH" (upper case) for
	                    * status responses; NULL otherwise */
	GPtrArray *args;   /* non-status untagged: all tokens after "*";
	                    * status: empty; owned, ImapValue* */
	GPtrArray *code;   /* resp-text-code tokens, e.g. UIDVALIDITY 42;
	                    * NULL when there was none */
	char *text;        /* human-readable resp-text (status, "+"); or NULL */
	char *damage;      /* why the first damaged value is damaged, or NULL */
} ImapResponse;

typedef struct {
	size_t line_max;           /* bytes of one response outside literals */
	guint64 literal_max;       /* largest literal accepted at all */
	size_t literal_inline_max; /* larger literals are streamed by caller */
	guint depth_max;           /* nesting of parenthesised lists */
	guint items_max;           /* tokens in one response, all levels */
} ImapParserLimits;

/* Sensible defaults: 1 MiB line, 4 GiB literal, 64 KiB inline, depth 32,
 * 1,000,000 items. */
extern const ImapParserLimits imap_parser_default_limits;

typedef enum {
	IMAP_PARSE_NEED_MORE, /* all input consumed, response incomplete */
	IMAP_PARSE_DONE,      /* a response is complete: imap_parser_take() */
	IMAP_PARSE_LITERAL,   /* caller must stream imap_parser_literal_size()
	                       * bytes itself, then imap_parser_literal_done() */
	IMAP_PARSE_ERROR,     /* ERR set (MF_ERROR_PROTOCOL); parser unusable */
} ImapParseStatus;

typedef struct ImapParser ImapParser;

ImapParser *imap_parser_new(const ImapParserLimits *limits);
void imap_parser_free(ImapParser *p); /* accepts NULL */

/* Feeds LEN bytes.  *CONSUMED is set to how many were used; on DONE and
 * LITERAL the rest belongs to what comes next.  Call again with the
 * remaining bytes (or new ones) until NEED_MORE. */
ImapParseStatus imap_parser_feed(ImapParser *p, const char *data, size_t len,
                                 size_t *consumed, GError **err);

/* After IMAP_PARSE_LITERAL: size of the literal the caller must consume. */
guint64 imap_parser_literal_size(const ImapParser *p);
/* The caller has consumed the literal; parsing resumes after it. */
void imap_parser_literal_done(ImapParser *p);

/* After IMAP_PARSE_DONE: hands the finished response to the caller and
 * resets the parser for the next one. */
ImapResponse *imap_parser_take(ImapParser *p);

void imap_response_free(ImapResponse *r); /* accepts NULL */
void imap_value_free(ImapValue *v);       /* accepts NULL */

/* Helpers for consumers.  get_u32/u64 fail (return FALSE, *OUT untouched)
 * unless V is an ATOM of decimal digits that fits. */
gboolean imap_value_get_u32(const ImapValue *v, guint32 *out);
gboolean imap_value_get_u64(const ImapValue *v, guint64 *out);
/* TRUE if V is an ATOM equal to WORD, ignoring ASCII case. */
gboolean imap_value_is_atom(const ImapValue *v, const char *word);
/* ATOM or STRING contents, or NULL (for NIL and lists). */
const char *imap_value_str(const ImapValue *v);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapParser, imap_parser_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapResponse, imap_response_free)

#endif
