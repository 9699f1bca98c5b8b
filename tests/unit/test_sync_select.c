/* test_sync_select.c - unit tests for cache/sync_select.c: pattern
 * matching and which folders a list of patterns selects. */
#include <check.h>

#include "cache/sync_select.h"
#include "net/mf_error.h"

static const struct {
	const char *pattern, *path;
	gboolean match;
} matches[] = {
	{ "INBOX", "INBOX", TRUE },
	{ "INBOX", "INBOX/x", FALSE },
	{ "INBOX", "inbox", FALSE },
	{ "*", "Archive/2024/Q1", TRUE },
	{ "%", "Archive", TRUE },
	{ "%", "Archive/2024", FALSE },
	{ "Archive*", "Archive", TRUE },
	{ "Archive*", "Archive2", TRUE },
	{ "Archive*", "Archive/2024", TRUE },
	{ "Archive%", "Archive/2024", FALSE },
	{ "Archive/%", "Archive/2024", TRUE },
	{ "Archive/%", "Archive/2024/Q1", FALSE },
	{ "*/Q1", "Archive/2024/Q1", TRUE },
	{ "%/Q1", "Archive/2024/Q1", FALSE },
	{ "A*4*", "Archive/2024/Q1", TRUE },
	{ "A*5*", "Archive/2024/Q1", FALSE },
	{ "Entw\u00fcrfe", "Entw\u00fcrfe", TRUE },
	{ "Entw%e", "Entw\u00fcrfe", TRUE },
	{ "", "", TRUE },
	{ "*", "", TRUE },
	{ "x", "", FALSE },
	{ "**%%", "a/b", TRUE },
};

START_TEST(test_match)
{
	ck_assert_msg(sync_select_match(matches[_i].pattern,
	                                matches[_i].path) == matches[_i].match,
	              "%s ~ %s", matches[_i].pattern, matches[_i].path);
}
END_TEST

static const char *const paths[] = {
	"INBOX", "Archive", "Archive/2024", "Archive/2024/Q1", "Junk",
	"Junk/Old", "Projects", "Projects/Alpha", "Sent",
};
#define N_PATHS G_N_ELEMENTS(paths)

/* The paths PATTERNS (one string, blank-separated) select, joined by
 * " ", or "error: MESSAGE". */
static char *
selection(const char *patterns, gboolean recurse)
{
	g_auto(GStrv) p = patterns ? g_strsplit(patterns, " ", -1) : NULL;
	gboolean chosen[N_PATHS];
	GError *err = NULL;
	GString *s = g_string_new(NULL);

	if (!sync_select_folders(paths, N_PATHS, (const char *const *)p,
	                         recurse, chosen, &err)) {
		ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND));
		g_string_printf(s, "error: %s", err->message);
		g_error_free(err);
		return g_string_free(s, FALSE);
	}
	for (guint i = 0; i < N_PATHS; i++)
		if (chosen[i])
			g_string_append_printf(s, "%s%s", s->len ? " " : "",
			                       paths[i]);
	return g_string_free(s, FALSE);
}

static const struct {
	const char *patterns;
	gboolean recurse;
	const char *want;
} selections[] = {
	{ NULL, TRUE, "INBOX Archive Archive/2024 Archive/2024/Q1 Junk "
	  "Junk/Old Projects Projects/Alpha Sent" },
	{ "INBOX", TRUE, "INBOX" },
	/* A folder brings its subfolders, unless told not to. */
	{ "Archive", TRUE, "Archive Archive/2024 Archive/2024/Q1" },
	{ "Archive", FALSE, "Archive" },
	{ "Archive/2024", TRUE, "Archive/2024 Archive/2024/Q1" },
	/* Everything but Junk (and what is below it). */
	{ "* !Junk", TRUE, "INBOX Archive Archive/2024 Archive/2024/Q1 "
	  "Projects Projects/Alpha Sent" },
	{ "* !Junk", FALSE, "INBOX Archive Archive/2024 Archive/2024/Q1 "
	  "Junk/Old Projects Projects/Alpha Sent" },
	/* A first "!" pattern starts from everything. */
	{ "!Junk !Archive*", TRUE, "INBOX Projects Projects/Alpha Sent" },
	/* The last matching pattern decides. */
	{ "!Archive Archive/2024/Q1", TRUE, "INBOX Archive/2024/Q1 Junk "
	  "Junk/Old Projects Projects/Alpha Sent" },
	{ "Archive/2024/Q1 !Archive", TRUE, "" },
	/* Named twice: still each folder once. */
	{ "INBOX INBOX Sent IN*", TRUE, "INBOX Sent" },
	{ "%", FALSE, "INBOX Archive Junk Projects Sent" },
	{ "Archive*", FALSE, "Archive Archive/2024 Archive/2024/Q1" },
	/* A wildcard that matches nothing is no error; a name is. */
	{ "Nothing*", TRUE, "" },
	{ "INBOX No/Such", TRUE, "error: no folder 'No/Such'" },
	{ "!No/Such", TRUE, "INBOX Archive Archive/2024 Archive/2024/Q1 "
	  "Junk Junk/Old Projects Projects/Alpha Sent" },
};

START_TEST(test_select)
{
	g_autofree char *got = selection(selections[_i].patterns,
	                                 selections[_i].recurse);

	ck_assert_str_eq(got, selections[_i].want);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sync_select");
	TCase *tc = tcase_create("select");

	tcase_add_loop_test(tc, test_match, 0, G_N_ELEMENTS(matches));
	tcase_add_loop_test(tc, test_select, 0, G_N_ELEMENTS(selections));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
