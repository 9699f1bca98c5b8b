/* pop3_parser.h - a pure, incremental, bounded parser for POP3 server
 * responses (RFC 1939, with CAPA from RFC 2449 and SASL from RFC 5034).
 * It does no I/O: bytes go in, and it answers "need more", "status",
 * "line", "end" or "error".
 *
 * A response is one status line ("+OK text", "-ERR text", or the SASL
 * continuation "+ base64"), followed, for a multi-line command answered
 * with +OK, by data lines and the terminating line ".".  The caller says
 * before each response which kind it expects (pop3_parser_expect()):
 *
 *   expect LIST, feed "+OK 2 messages\r\n1 abc\r\n..dot\r\n.\r\n"
 *   -> STATUS (OK, text "2 messages"), LINE "1 abc", LINE ".dot", END
 *
 * Data lines are returned dot-unstuffed (a leading "." is removed) and
 * without their line end; a line may end in CRLF or a bare LF.  Every line
 * is bounded (limits below): a status line by status_max, a listing line
 * (CAPA, UIDL, LIST) by list_line_max with at most list_lines_max lines, a
 * message text line (RETR, TOP) by text_line_max with at most text_max
 * bytes in all, counted as delivered: each line plus CRLF.  Status and
 * listing lines may not contain NUL bytes; message text may.
 *
 * Any violation is MF_ERROR_PROTOCOL and leaves the parser unusable.
 */
#ifndef MAILFS_POP3_PARSER_H
#define MAILFS_POP3_PARSER_H

#include <glib.h>

/* The longest unique-id RFC 1939 allows. */
#define POP3_UIDL_MAX 70

typedef struct {
	size_t status_max;     /* bytes of a status line, without CRLF */
	size_t list_line_max;  /* bytes of a CAPA/UIDL/LIST line */
	guint64 list_lines_max; /* lines of one listing */
	size_t text_line_max;  /* bytes of a RETR/TOP line, without CRLF */
	guint64 text_max;      /* bytes of one message text, CRLF line ends */
} Pop3ParserLimits;

/* Sensible defaults: 8 KiB status, 4 KiB listing lines, 1,000,000
 * listing lines, 1 MiB message lines (RFC 5322 says 998, real mail has
 * longer ones), 1 GiB message text. */
extern const Pop3ParserLimits pop3_parser_default_limits;

typedef enum {
	POP3_EXPECT_STATUS, /* a single-line response (also the greeting) */
	POP3_EXPECT_LIST,   /* +OK followed by a listing: CAPA, UIDL, LIST */
	POP3_EXPECT_TEXT,   /* +OK followed by message text: RETR, TOP */
} Pop3Expect;

typedef enum {
	POP3_STATUS_OK,   /* "+OK" */
	POP3_STATUS_ERR,  /* "-ERR" */
	POP3_STATUS_CONT, /* "+ " or a bare "+": SASL continuation */
} Pop3StatusKind;

typedef enum {
	POP3_PARSE_NEED_MORE, /* all input consumed, nothing complete yet */
	POP3_PARSE_STATUS,    /* a status line: pop3_parser_status(); for a
	                       * multi-line expectation, an OK status is
	                       * followed by LINE results and END */
	POP3_PARSE_LINE,      /* a data line: pop3_parser_line() */
	POP3_PARSE_END,       /* the "." terminator: the response is over */
	POP3_PARSE_ERROR,     /* ERR set (MF_ERROR_PROTOCOL); parser unusable */
} Pop3ParseStatus;

typedef struct Pop3Parser Pop3Parser;

/* LIMITS is copied; NULL means the defaults. */
Pop3Parser *pop3_parser_new(const Pop3ParserLimits *limits);
void pop3_parser_free(Pop3Parser *p); /* accepts NULL */

/* Sets what the next response is.  Only between responses: after
 * creation, after END, or after a STATUS that ends its response (any
 * status of EXPECT_STATUS, a non-OK status otherwise). */
void pop3_parser_expect(Pop3Parser *p, Pop3Expect what);

/* Feeds LEN bytes.  *CONSUMED is set to how many were used (on ERROR
 * too); the rest belongs to what comes next: call again with it.  The
 * result of STATUS or LINE stays valid until the next call. */
Pop3ParseStatus pop3_parser_feed(Pop3Parser *p, const char *data, size_t len,
                                 size_t *consumed, GError **err);

/* After STATUS: the kind, and the text after the indicator and its space
 * (NUL-terminated, possibly empty), owned by the parser. */
Pop3StatusKind pop3_parser_status(const Pop3Parser *p, const char **text);

/* After LINE: the unstuffed line without its line end; NUL-terminated but
 * message text may also hold NULs, so use *LEN.  Owned by the parser. */
const char *pop3_parser_line(const Pop3Parser *p, size_t *len);

/* --- Pure helpers for the contents of lines (NUL-terminated) --- */

/* "N UID" of a UIDL listing or a single-message UIDL reply: N a message
 * number (1..2^32-1), UID 1..70 characters of 0x21..0x7E; trailing
 * blanks are allowed, further words are not.  UID must hold
 * POP3_UIDL_MAX + 1 bytes.  On failure: MF_ERROR_PROTOCOL saying what is
 * wrong, outputs untouched. */
gboolean pop3_parser_parse_uidl(const char *line, guint32 *num, char *uid,
                                GError **err);

/* "N SIZE" of a LIST listing (N >= 1), or "COUNT SIZE" of a STAT reply
 * (COUNT may be 0 when ALLOW_ZERO); anything after a blank that follows
 * SIZE is ignored, as RFC 1939 allows.  Overflow is an error. */
gboolean pop3_parser_parse_num_size(const char *line, gboolean allow_zero,
                                    guint32 *num, guint64 *size,
                                    GError **err);

/* TRUE if UID is a valid unique-id (length and characters). */
gboolean pop3_parser_uidl_valid(const char *uid, size_t len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Pop3Parser, pop3_parser_free)

#endif
