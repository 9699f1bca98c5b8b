/* imap_seqset.c - UID sets of VANISHED and ESEARCH replies: parsing to
 * ranges (bounded), membership, merging. */
#include "net/imap_seqset.h"

/* A number of 1 to 2^32-1 at *P (before END); advances *P past it. */
static gboolean
imap_seqset_number(const char **p, const char *end, guint32 *out)
{
	guint64 v = 0;
	const char *q = *p;

	if (q >= end || !g_ascii_isdigit(*q) || *q == '0')
		return FALSE;
	while (q < end && g_ascii_isdigit(*q)) {
		v = v * 10 + (guint64)(*q - '0');
		if (v > G_MAXUINT32)
			return FALSE;
		q++;
	}
	*p = q;
	*out = (guint32)v;
	return TRUE;
}

/* One "a" or "a:b" at *P; advances *P past it. */
static gboolean
imap_seqset_range(const char **p, const char *end, ImapRange *r)
{
	guint32 a, b;

	if (!imap_seqset_number(p, end, &a))
		return FALSE;
	b = a;
	if (*p < end && **p == ':') {
		(*p)++;
		if (!imap_seqset_number(p, end, &b))
			return FALSE;
	}
	r->first = MIN(a, b);
	r->last = MAX(a, b);
	return TRUE;
}

gboolean
imap_seqset_parse(const char *s, size_t len, guint max_ranges, GArray *out)
{
	const char *p = s, *end = s + len;
	guint had = out->len;

	for (;;) {
		ImapRange r;
		if (out->len - had >= max_ranges ||
		    !imap_seqset_range(&p, end, &r))
			break;
		g_array_append_val(out, r);
		if (p == end)
			return TRUE;
		if (*p++ != ',')
			break;
	}
	g_array_set_size(out, had);
	return FALSE;
}

guint64
imap_seqset_count(const ImapRange *ranges, guint n)
{
	guint64 total = 0;

	for (guint i = 0; i < n; i++)
		total += (guint64)ranges[i].last - ranges[i].first + 1;
	return total;
}

gboolean
imap_seqset_contains(const ImapRange *ranges, guint n, guint32 uid)
{
	guint lo = 0, hi = n;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (uid < ranges[mid].first)
			hi = mid;
		else if (uid > ranges[mid].last)
			lo = mid + 1;
		else
			return TRUE;
	}
	return FALSE;
}

static gint
imap_seqset_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = ((const ImapRange *)a)->first;
	guint32 y = ((const ImapRange *)b)->first;
	return x < y ? -1 : x > y;
}

void
imap_seqset_normalize(GArray *ranges)
{
	ImapRange *r = (ImapRange *)ranges->data;
	guint n = 0;

	g_array_sort(ranges, imap_seqset_cmp);
	for (guint i = 0; i < ranges->len; i++) {
		if (n > 0 && (guint64)r[i].first <= (guint64)r[n - 1].last + 1) {
			r[n - 1].last = MAX(r[n - 1].last, r[i].last);
			continue;
		}
		r[n++] = r[i];
	}
	g_array_set_size(ranges, n);
}

char *
imap_seqset_format(const guint32 *nums, guint n)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < n;) {
		guint j = i;
		while (j + 1 < n && nums[j] != G_MAXUINT32 &&
		       nums[j + 1] == nums[j] + 1)
			j++;
		g_string_append_printf(s, "%s%u", s->len ? "," : "", nums[i]);
		if (j > i)
			g_string_append_printf(s, ":%u", nums[j]);
		i = j + 1;
	}
	return g_string_free(s, FALSE);
}
