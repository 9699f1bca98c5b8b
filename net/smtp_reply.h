/* smtp_reply.h - a pure, incremental, bounded parser for SMTP server replies
 * (RFC 5321 section 4.2, enhanced status codes of RFC 3463).  No I/O: bytes
 * go in, and it answers "done", "need more" or "error".
 *
 * A reply is one or more lines with the same three-digit code; every line
 * but the last has "-" after the code, the last has " " or nothing:
 *   "250-mail.example.com\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
 * Codes follow the grammar of RFC 5321: first digit 2..5, second 0..5.
 * Lines end in CRLF (a bare LF is tolerated; a CR elsewhere is not).  Text
 * may hold UTF-8 but no control characters other than tab.
 *
 * An enhanced status code ("5.1.1") at the start of the first line's text is
 * recognised when its class matches the reply's first digit; it is taken out
 * of the text of every line that repeats it.
 */
#ifndef MAILFS_SMTP_REPLY_H
#define MAILFS_SMTP_REPLY_H

#include <glib.h>

typedef struct {
	size_t line_max;  /* bytes of one line, CRLF included */
	guint lines_max;  /* lines in one reply */
} SmtpReplyLimits;

/* 4096-byte lines, 256 lines per reply. */
extern const SmtpReplyLimits smtp_reply_default_limits;

typedef struct {
	guint code;        /* 200..559 */
	char *enhanced;    /* "5.1.1", or NULL when the reply had none */
	GPtrArray *lines;  /* char*, text of each line after the code, the
	                    * separator and the enhanced code; valid UTF-8
	                    * (invalid bytes replaced); owned */
} SmtpReply;

typedef enum {
	SMTP_REPLY_NEED_MORE, /* all input consumed, reply incomplete */
	SMTP_REPLY_DONE,      /* a reply is complete: take it */
	SMTP_REPLY_ERROR,     /* ERR set (MF_ERROR_PROTOCOL); parser unusable
	                       * until smtp_reply_parser_reset() */
} SmtpReplyStatus;

typedef struct SmtpReplyParser SmtpReplyParser;

/* LIMITS NULL: smtp_reply_default_limits. */
SmtpReplyParser *smtp_reply_parser_new(const SmtpReplyLimits *limits);
void smtp_reply_parser_free(SmtpReplyParser *p); /* accepts NULL */

/* Feeds LEN bytes.  *CONSUMED is set to how many were used: on DONE it
 * stops right after the reply's last line, and the rest belongs to the next
 * reply (pipelined replies are parsed one at a time). */
SmtpReplyStatus smtp_reply_parser_feed(SmtpReplyParser *p, const char *data,
                                       size_t len, size_t *consumed,
                                       GError **err);

/* After SMTP_REPLY_DONE: hands the reply to the caller and makes the
 * parser ready for the next one. */
SmtpReply *smtp_reply_parser_take(SmtpReplyParser *p);

/* Forgets any partial reply and a previous error. */
void smtp_reply_parser_reset(SmtpReplyParser *p);

void smtp_reply_free(SmtpReply *r); /* accepts NULL */

/* For people: "550 5.1.1 <x@y>: Recipient address rejected"; the lines of
 * a multi-line reply are joined with a space.  Owned by the caller. */
char *smtp_reply_to_string(const SmtpReply *r);

/* The reply's class: 2 (success), 3 (intermediate), 4 (temporary failure)
 * or 5 (permanent failure). */
guint smtp_reply_class(const SmtpReply *r);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpReplyParser, smtp_reply_parser_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpReply, smtp_reply_free)

#endif
