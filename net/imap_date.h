/* imap_date.h - IMAP INTERNALDATE ("17-Jul-1996 02:44:25 -0700") to and
 * from Unix time.  Pure functions. */
#ifndef MAILFS_IMAP_DATE_H
#define MAILFS_IMAP_DATE_H

#include <glib.h>

/* Parses an INTERNALDATE (the day may be space-padded).  Returns FALSE and
 * leaves *OUT untouched when S is malformed or out of range. */
gboolean imap_date_parse(const char *s, gint64 *out);

/* Formats T as an INTERNALDATE in UTC ("+0000") into BUF (at least 40
 * bytes).  Returns BUF. */
char *imap_date_format(gint64 t, char buf[static 40]);

#endif
