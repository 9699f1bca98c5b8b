/* summary.h - one line of a folder summary (the views of mail): who sent
 * a message, its subject decoded to UTF-8 and whether it has attachments,
 * read from its header fields alone (never a body), and the two forms a
 * summary is shown in: TSV with a header line, and JSON Lines.
 *
 * Pure: no I/O, no state.  Everything returned belongs to the caller. */
#ifndef MAILFS_SUMMARY_H
#define MAILFS_SUMMARY_H

#include <glib.h>

/* The header fields a summary is made from (IMAP HEADER.FIELDS). */
#define SUMMARY_FIELDS "FROM SUBJECT CONTENT-TYPE CONTENT-DISPOSITION"
/* A header block is read up to this many bytes. */
#define SUMMARY_HEADER_MAX 65536

typedef struct {
	guint32 uid;
	char *sender;     /* "Name <addr>" decoded, UTF-8; "" if none */
	char *subject;    /* decoded, UTF-8; "" if none */
	gboolean attach;  /* multipart/mixed, or one part that is no text */
} MfSummary;

/* The summary of message UID from its header block HDR (LEN bytes, at
 * most SUMMARY_HEADER_MAX of it read; it may hold other fields and the
 * body after an empty line, which is ignored).  Never fails: what cannot
 * be read is left empty.  Owned. */
MfSummary *summary_from_header(guint32 uid, const char *hdr, size_t len);
/* A summary from stored values (each copied). */
MfSummary *summary_new(guint32 uid, const char *sender, const char *subject,
                       gboolean attach);
void summary_free(MfSummary *s); /* accepts NULL */

/* What the file system knows of the message besides its summary. */
typedef struct {
	const char *name;  /* its file name in the folder */
	gint64 date;       /* arrival (Unix time) */
	const char *flags; /* space-separated IMAP flags */
	guint64 size;      /* bytes of the .eml */
} SummaryFile;

/* The header line of the TSV form. */
#define SUMMARY_TSV_HEADER \
	"name\tdate\tfrom\tsubject\tflags\tsize\tattachments\n"
/* Appends one TSV line (tabs, line ends and control characters inside a
 * field become spaces; date as 2024-01-31T12:00:00Z; attachments "yes" or
 * "no").  S may be NULL (fields unknown: empty). */
void summary_tsv_line(GString *out, const SummaryFile *f, const MfSummary *s);
/* Appends one JSON object and "\n": {"name", "date", "from", "subject",
 * "flags": [...], "size", "attachments": true/false}. */
void summary_json_line(GString *out, const SummaryFile *f,
                       const MfSummary *s);

#endif
