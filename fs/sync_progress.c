/* sync_progress.c - the progress line of `mailfs sync`, cut to fit. */
#include "fs/sync_progress.h"

#include <string.h>

char *
sync_progress_count(guint n, const char *word)
{
	return g_strdup_printf("%u %s%s", n, word, n == 1 ? "" : "s");
}

void
sync_rate_add(SyncRate *r, gint64 now, guint64 bytes)
{
	r->at[r->next] = now;
	r->bytes[r->next] = bytes;
	r->next = (r->next + 1) % SYNC_RATE_SAMPLES;
	r->count = MIN(r->count + 1, SYNC_RATE_SAMPLES);
}

double
sync_rate_get(const SyncRate *r, gint64 window_us)
{
	if (r->count < 2)
		return 0.0;
	guint newest = (r->next + SYNC_RATE_SAMPLES - 1) % SYNC_RATE_SAMPLES;
	guint oldest = newest;
	/* The oldest sample still inside the window. */
	for (guint k = 1; k < r->count; k++) {
		guint i = (newest + SYNC_RATE_SAMPLES - k) % SYNC_RATE_SAMPLES;
		if (r->at[newest] - r->at[i] > window_us)
			break;
		oldest = i;
	}
	gint64 span = r->at[newest] - r->at[oldest];
	if (span < 200 * 1000)
		return 0.0;
	return (double)(r->bytes[newest] - r->bytes[oldest]) * 1e6 /
	       (double)span;
}

/* "5s", "3m05s", "2h07m"; "--" when unknown. */
static char *
sync_progress_eta(const SyncProgressLine *l)
{
	if (l->rate <= 0 || l->bytes >= l->bytes_total)
		return g_strdup(l->bytes >= l->bytes_total ? "0s" : "--");
	double secs = (double)(l->bytes_total - l->bytes) / l->rate;
	guint64 s = secs > 359999 ? 359999 : (guint64)(secs + 0.5);

	if (s < 60)
		return g_strdup_printf("%us", (guint)s);
	if (s < 3600)
		return g_strdup_printf("%um%02us", (guint)(s / 60),
		                       (guint)(s % 60));
	return g_strdup_printf("%uh%02um", (guint)(s / 3600),
	                       (guint)(s / 60 % 60));
}

static guint
sync_progress_percent(const SyncProgressLine *l)
{
	if (l->bytes_total > 0)
		return (guint)(MIN(l->bytes, l->bytes_total) * 100 /
		               l->bytes_total);
	return l->total ? (guint)((guint64)MIN(l->done, l->total) * 100 /
	                          l->total) : 100;
}

/* The fields after the folder, in the order shown. */
enum { F_MSGS, F_BYTES, F_PCT, F_RATE, F_ETA, F_COUNT };

static void
sync_progress_fields(const SyncProgressLine *l, char *f[F_COUNT])
{
	f[F_MSGS] = g_strdup_printf("%u/%u msgs", l->done, l->total);
	f[F_BYTES] = g_strdup_printf("%.1f/%.1f MB", (double)l->bytes / 1e6,
	                             (double)l->bytes_total / 1e6);
	f[F_PCT] = g_strdup_printf("%u%%", sync_progress_percent(l));
	f[F_RATE] = l->rate > 0 ? g_strdup_printf("%.1f MB/s", l->rate / 1e6)
	                        : g_strdup("-- MB/s");
	g_autofree char *eta = sync_progress_eta(l);
	f[F_ETA] = g_strdup_printf("ETA %s", eta);
}

/* The columns the kept fields of F take, two spaces between them. */
static gsize
sync_progress_width(char *f[F_COUNT], const gboolean keep[F_COUNT])
{
	gsize w = 0, n = 0;

	for (int i = 0; i < F_COUNT; i++)
		if (keep[i]) {
			w += strlen(f[i]);
			n++;
		}
	return w + (n ? 2 * (n - 1) : 0);
}

/* FOLDER in at most ROOM columns: its end, after "...", when too long;
 * owned. */
static char *
sync_progress_folder(const char *folder, gsize room)
{
	glong n = g_utf8_strlen(folder, -1);

	if ((gsize)n <= room)
		return g_strdup(folder);
	return g_strconcat("...", g_utf8_offset_to_pointer(
		folder, n - (glong)(room - 3)), NULL);
}

char *
sync_progress_format(const SyncProgressLine *l, guint width)
{
	static const int drop_order[] = { F_RATE, F_BYTES, F_ETA, F_MSGS };
	char *f[F_COUNT];
	gboolean keep[F_COUNT] = { TRUE, TRUE, TRUE, TRUE, TRUE };
	gsize avail = width > 1 ? width - 1 : 0;
	g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);

	sync_progress_fields(l, f);
	gsize d = 0;
	for (; d < G_N_ELEMENTS(drop_order) &&
	       sync_progress_width(f, keep) > avail; d++)
		keep[drop_order[d]] = FALSE;
	gsize used = sync_progress_width(f, keep);
	/* The folder, if every field and a few columns of it fit. */
	if (d == 0 && l->folder && *l->folder && used + 2 + 6 <= avail)
		g_ptr_array_add(parts, sync_progress_folder(l->folder,
		                                            avail - used - 2));
	for (int i = 0; i < F_COUNT; i++) {
		if (keep[i])
			g_ptr_array_add(parts, g_steal_pointer(&f[i]));
		g_free(f[i]);
	}
	g_ptr_array_add(parts, NULL);
	char *line = g_strjoinv("  ", (char **)parts->pdata);
	/* Only the percentage left, on a tiny terminal: cut it. */
	if ((gsize)g_utf8_strlen(line, -1) > avail)
		*g_utf8_offset_to_pointer(line, (glong)avail) = '\0';
	return line;
}
