/* mime_text.h - a message as text for people and programs (the views of
 * mail): its main headers decoded (From, To, Cc, Date, Subject), then its
 * body as UTF-8 (text/plain preferred, else HTML rendered to text by
 * cache/html_text.c), every transfer encoding and charset decoded by
 * GMime; and its attachments, each under a sanitised, unique file name
 * with its exact decoded bytes.  A message/rfc822 part is an attachment
 * NAME.eml (its raw bytes) and NAME.txt (its text, made the same way).
 *
 * Pure: bytes in, a view out; no I/O.  Bounded: at most MIME_PARTS_MAX
 * parts and MIME_DEPTH_MAX levels of nesting are looked at; what lies
 * beyond is left out, and the text says so.  Everything returned belongs
 * to the caller. */
#ifndef MAILFS_MIME_TEXT_H
#define MAILFS_MIME_TEXT_H

#include <glib.h>

#define MIME_PARTS_MAX 500
#define MIME_DEPTH_MAX 16
/* A file name is cut to this many bytes (at a character boundary). */
#define MIME_NAME_MAX 200

typedef struct {
	char *name;         /* unique in its message, no '/', no controls */
	char *content_type; /* "image/png" */
	GBytes *data;       /* the decoded bytes */
} MimeAttachment;

typedef struct {
	GBytes *text;            /* headers, an empty line, the body: UTF-8 */
	GPtrArray *attachments;  /* MimeAttachment*, in the message's order */
	char *from;              /* decoded From, "" if none */
	char *recipients;        /* decoded To and Cc, "" if none */
	char *subject;           /* decoded Subject, "" if none */
} MimeText;

/* The view of the message DATA (LEN bytes).  Never NULL: a message GMime
 * cannot parse at all is shown as its raw bytes made valid UTF-8. */
MimeText *mime_text_new(const char *data, size_t len);
void mime_text_free(MimeText *v); /* accepts NULL */
/* Bytes held by V (text and attachments), for cache budgets. */
gsize mime_text_size(const MimeText *v);

/* NAME as a file name: '/' and control characters made '_', invalid
 * UTF-8 repaired, "." and ".." and "" made "_", cut to MIME_NAME_MAX
 * bytes.  Owned. */
char *mime_text_sanitize_name(const char *name);

#endif
