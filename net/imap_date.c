/* imap_date.c - INTERNALDATE parsing and formatting. */
#include "net/imap_date.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Reads exactly N decimal digits at *P (a leading space counts as a zero
 * when SPACE_OK) and advances *P. */
static gboolean
read_digits(const char **p, int n, gboolean space_ok, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];
		if (ch == ' ' && space_ok && i == 0)
			continue;
		if (ch < '0' || ch > '9')
			return FALSE;
		v = v * 10 + (ch - '0');
	}
	*p += n;
	*out = v;
	return TRUE;
}

static gboolean
expect(const char **p, char ch)
{
	if (**p != ch)
		return FALSE;
	(*p)++;
	return TRUE;
}

static int
parse_month(const char **p)
{
	for (int m = 0; m < 12; m++) {
		if (g_ascii_strncasecmp(*p, months[m], 3) == 0) {
			*p += 3;
			return m;
		}
	}
	return -1;
}

gboolean
imap_date_parse(const char *s, gint64 *out)
{
	const char *p = s;
	int day, mon, year, hh, mm, ss, zone;
	char sign;

	if (!s)
		return FALSE;
	/* The day is "7" (some servers), " 7" or "07". */
	if (p[0] >= '0' && p[0] <= '9' && p[1] == '-') {
		day = p[0] - '0';
		p++;
	} else if (!read_digits(&p, 2, TRUE, &day)) {
		return FALSE;
	}
	if (!expect(&p, '-') || (mon = parse_month(&p)) < 0 ||
	    !expect(&p, '-') || !read_digits(&p, 4, FALSE, &year) ||
	    !expect(&p, ' ') || !read_digits(&p, 2, FALSE, &hh) ||
	    !expect(&p, ':') || !read_digits(&p, 2, FALSE, &mm) ||
	    !expect(&p, ':') || !read_digits(&p, 2, FALSE, &ss) ||
	    !expect(&p, ' '))
		return FALSE;
	sign = *p++;
	if ((sign != '+' && sign != '-') || !read_digits(&p, 4, FALSE, &zone) ||
	    *p != '\0')
		return FALSE;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 ||
	    zone % 100 > 59 || year < 1900)
		return FALSE;

	struct tm tm = {
		.tm_year = year - 1900, .tm_mon = mon, .tm_mday = day,
		.tm_hour = hh, .tm_min = mm, .tm_sec = ss,
	};
	gint64 t = (gint64)timegm(&tm);
	gint64 offset = (zone / 100) * 3600 + (zone % 100) * 60;
	*out = sign == '+' ? t - offset : t + offset;
	return TRUE;
}

char *
imap_date_format(gint64 t, char buf[static 40])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	snprintf(buf, 40, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
	return buf;
}
