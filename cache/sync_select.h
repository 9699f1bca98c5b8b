/* sync_select.h - which folders `mailfs sync` takes: folder patterns in
 * the manner of mbsync's Patterns.  Pure: strings in, choices out.
 *
 * A pattern is matched against a folder's display path ("Archive/2024"):
 * '*' matches any run of characters, '/' included; '%' any run without
 * '/'; every other character itself (case counts).  "!PATTERN" takes out
 * what PATTERN matches.  Patterns are applied in order and the last one
 * that matches a folder decides; when the first pattern is a "!" one,
 * every folder is taken to begin with.  With RECURSE, a pattern that
 * matches a folder matches its subfolders too ("Archive" takes
 * Archive/2024; "!Archive" leaves both out).
 */
#ifndef MAILFS_SYNC_SELECT_H
#define MAILFS_SYNC_SELECT_H

#include <glib.h>

/* TRUE if the display path PATH matches PATTERN (without its "!"). */
gboolean sync_select_match(const char *pattern, const char *path);

/* Sets SELECTED[i] for each of the N display paths PATHS that PATTERNS
 * (NULL-terminated; NULL or empty: every folder) select.  A pattern
 * without '*' or '%' and without "!" must name one of PATHS exactly:
 * otherwise MF_ERROR_NOTFOUND naming it, and SELECTED is left as it
 * was. */
gboolean sync_select_folders(const char *const *paths, guint n,
                             const char *const *patterns, gboolean recurse,
                             gboolean *selected, GError **err);

#endif
