/* imap_seqset.h - IMAP UID sets ("1:3,7,9:12", RFC 9051 sequence-set
 * without "*") as they come in VANISHED and ESEARCH replies: a pure,
 * bounded parser to ranges, and ranges back to text.  No I/O. */
#ifndef MAILFS_IMAP_SEQSET_H
#define MAILFS_IMAP_SEQSET_H

#include <glib.h>

/* One range of UIDs, FIRST <= LAST, both > 0. */
typedef struct {
	guint32 first;
	guint32 last;
} ImapRange;

/* Appends the ranges of the LEN bytes at S (a uid-set: numbers 1 to
 * 2^32-1, "a:b" in either order, joined by ','; no "*", no spaces) to OUT
 * (a GArray of ImapRange) as written, each with first <= last.  FALSE,
 * with OUT as it was, for anything else or for more than MAX_RANGES
 * ranges.  The set is not sorted nor merged. */
gboolean imap_seqset_parse(const char *s, size_t len, guint max_ranges,
                           GArray *out);

/* The number of UIDs RANGES (N of them, not overlapping) hold. */
guint64 imap_seqset_count(const ImapRange *ranges, guint n);

/* TRUE if UID lies in one of RANGES (N of them, sorted by first, not
 * overlapping: imap_seqset_normalize). */
gboolean imap_seqset_contains(const ImapRange *ranges, guint n, guint32 uid);

/* The set of the N numbers at NUMS as text, "1:3,7" (owned): each run of
 * numbers that go up by one becomes "first:last"; the rest are listed in
 * the order given.  N > 0. */
char *imap_seqset_format(const guint32 *nums, guint n);

/* Sorts RANGES (ImapRange) by first UID and merges ranges that overlap or
 * touch. */
void imap_seqset_normalize(GArray *ranges);

#endif
