/* sync_select.c - folder patterns for `mailfs sync` ('*', '%', "!"). */
#include "cache/sync_select.h"

#include <string.h>

#include "net/mf_error.h"

gboolean
sync_select_match(const char *pattern, const char *path)
{
	for (; *pattern; pattern++, path++) {
		if (*pattern == '*' || *pattern == '%') {
			/* Every split of the rest, shortest run first. */
			for (const char *p = path;; p++) {
				if (sync_select_match(pattern + 1, p))
					return TRUE;
				if (!*p || (*pattern == '%' && *p == '/'))
					return FALSE;
			}
		}
		if (*pattern != *path)
			return FALSE;
	}
	return *path == '\0';
}

/* TRUE if PATTERN matches PATH or, with RECURSE, a folder above it. */
static gboolean
sync_select_covers(const char *pattern, const char *path, gboolean recurse)
{
	if (sync_select_match(pattern, path))
		return TRUE;
	if (!recurse)
		return FALSE;
	g_autofree char *up = g_strdup(path);
	for (char *slash = strrchr(up, '/'); slash; slash = strrchr(up, '/')) {
		*slash = '\0';
		if (sync_select_match(pattern, up))
			return TRUE;
	}
	return FALSE;
}

/* TRUE unless PATTERN is a plain name that is none of the N PATHS. */
static gboolean
sync_select_check_name(const char *pattern, const char *const *paths,
                       guint n, GError **err)
{
	if (pattern[0] == '!' || strpbrk(pattern, "*%"))
		return TRUE;
	for (guint i = 0; i < n; i++)
		if (strcmp(paths[i], pattern) == 0)
			return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no folder '%s'",
	            pattern);
	return FALSE;
}

gboolean
sync_select_folders(const char *const *paths, guint n,
                    const char *const *patterns, gboolean recurse,
                    gboolean *selected, GError **err)
{
	gboolean all = !patterns || !patterns[0] || patterns[0][0] == '!';

	for (guint p = 0; patterns && patterns[p]; p++)
		if (!sync_select_check_name(patterns[p], paths, n, err))
			return FALSE;
	for (guint i = 0; i < n; i++) {
		selected[i] = all;
		for (guint p = 0; patterns && patterns[p]; p++) {
			gboolean out = patterns[p][0] == '!';
			if (sync_select_covers(patterns[p] + out, paths[i],
			                       recurse))
				selected[i] = !out;
		}
	}
	return TRUE;
}
