/* sync_progress.h - the progress line of `mailfs sync` on a terminal, and
 * the rate it shows: pure, so that both have unit tests. */
#ifndef MAILFS_SYNC_PROGRESS_H
#define MAILFS_SYNC_PROGRESS_H

#include <glib.h>

typedef struct {
	const char *folder;    /* printable (log_safe_text), or NULL */
	guint done, total;     /* messages fetched, to fetch */
	guint64 bytes, bytes_total;
	double rate;           /* bytes per second now; <= 0: not known */
} SyncProgressLine;

/* The line for L, at most WIDTH - 1 columns (a terminal of WIDTH columns
 * does not wrap it): "FOLDER  812/3000 msgs  21.4/55.0 MB  39%  12.3 MB/s
 * ETA 0:03".  What does not fit goes, least useful first: the folder
 * (shortened from its start first), the rate, the bytes, the ETA, the
 * messages; the percentage stays.  Owned. */
char *sync_progress_format(const SyncProgressLine *l, guint width);

/* "1 message" or "N messages", and the like: WORD, with "s" unless N is
 * 1; owned. */
char *sync_progress_count(guint n, const char *word);

/* The rate of the last few seconds, not since the start: samples of
 * (time, bytes done) in a ring. */
#define SYNC_RATE_SAMPLES 64
typedef struct {
	gint64 at[SYNC_RATE_SAMPLES];    /* monotonic microseconds */
	guint64 bytes[SYNC_RATE_SAMPLES];
	guint next, count;
} SyncRate;

/* Records that BYTES were done at NOW (monotonic microseconds). */
void sync_rate_add(SyncRate *r, gint64 now, guint64 bytes);
/* Bytes per second over the samples of the last WINDOW_US before the
 * newest; 0 until two samples at least 0.2 s apart are known. */
double sync_rate_get(const SyncRate *r, gint64 window_us);

#endif
