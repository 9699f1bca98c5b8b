/* search_query.h - the query language of .mailfs/search/ (the views of
 * mail): a file name that says which messages to find, e.g.
 *   from:alice subject:"quarterly report" since:2024-01-01 unseen budget
 * Terms are separated by spaces and all must hold:
 *   from:V to:V subject:V   the field holds V (IMAP FROM, TO, SUBJECT)
 *   since:YYYY-MM-DD        arrived on or after that day (IMAP SINCE)
 *   before:YYYY-MM-DD       arrived before that day (IMAP BEFORE)
 *   in:FOLDER               only in FOLDER (its path with ':' for '/',
 *                           as a file name holds no '/'); else all
 *   flagged  unseen         by flag (IMAP FLAGGED, UNSEEN)
 *   WORD                    the header or body holds WORD (IMAP TEXT)
 * Keys and the two flag words in any case.  A value (or WORD) may be
 * quoted with "..." (a \" or \\ inside), so that it holds spaces; an
 * empty value, an unknown key, a bad date, a control character, more than
 * SEARCH_TERMS_MAX terms or SEARCH_QUERY_MAX bytes are errors
 * (MF_ERROR_REFUSED, saying what is wrong).
 *
 * Pure and incremental: bytes in (any cut), terms out. */
#ifndef MAILFS_SEARCH_QUERY_H
#define MAILFS_SEARCH_QUERY_H

#include <glib.h>

#define SEARCH_QUERY_MAX 255
#define SEARCH_TERMS_MAX 16

typedef enum {
	SEARCH_FROM, SEARCH_TO, SEARCH_SUBJECT, SEARCH_TEXT,
	SEARCH_SINCE, SEARCH_BEFORE, SEARCH_IN, SEARCH_FLAGGED, SEARCH_UNSEEN,
} SearchKey;

typedef struct {
	SearchKey key;
	char *value;  /* FROM, TO, SUBJECT, TEXT, IN: UTF-8; else NULL */
	gint64 day;   /* SINCE, BEFORE: Unix time of that day's 00:00 UTC */
} SearchTerm;

typedef struct SearchQuery SearchQuery;

SearchQuery *search_query_new(void);
void search_query_free(SearchQuery *q); /* accepts NULL */
/* Takes LEN more bytes of the query.  FALSE with ERR on an error (the
 * query is then unusable). */
gboolean search_query_feed(SearchQuery *q, const char *data, size_t len,
                           GError **err);
/* Ends the query: FALSE with ERR if it is incomplete or empty. */
gboolean search_query_finish(SearchQuery *q, GError **err);
/* The whole of TEXT at once: a new query, or NULL with ERR. */
SearchQuery *search_query_parse(const char *text, GError **err);

/* After finish: the terms (borrowed), in the query's order. */
guint search_query_count(const SearchQuery *q);
const SearchTerm *search_query_term(const SearchQuery *q, guint i);
/* The folder of an in: term (the last one), or NULL: borrowed. */
const char *search_query_folder(const SearchQuery *q);

/* The IMAP SEARCH criteria ("FROM \"alice\" UNSEEN", "ALL" when only in:
 * is given); *UTF8 says whether a value is not ASCII (send CHARSET
 * UTF-8).  Owned. */
char *search_query_imap(const SearchQuery *q, gboolean *utf8);
/* An SQLite FTS5 MATCH expression over the columns sender, recipients,
 * subject and body for the text terms, or NULL if there are none.
 * Owned. */
char *search_query_fts(const SearchQuery *q);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SearchQuery, search_query_free)

#endif
