/* test_sync_progress.c - unit tests for fs/sync_progress.c: the progress
 * line fits its terminal, the rate is the recent one, counts agree. */
#include <check.h>
#include <string.h>

#include "fs/sync_progress.h"

static const SyncProgressLine sample = {
	.folder = "Archive/2024", .done = 812, .total = 3000,
	.bytes = 21400000, .bytes_total = 55000000, .rate = 12300000.0,
};

START_TEST(test_wide)
{
	g_autofree char *line = sync_progress_format(&sample, 120);

	ck_assert_str_eq(line, "Archive/2024  812/3000 msgs  21.4/55.0 MB  "
	                 "38%  12.3 MB/s  ETA 3s");
}
END_TEST

/* Every width from 1 to 120: never WIDTH columns or more, the percentage
 * always there once it fits, fields dropped in order. */
START_TEST(test_every_width)
{
	for (guint w = 1; w <= 120; w++) {
		g_autofree char *line = sync_progress_format(&sample, w);
		ck_assert_msg((guint)g_utf8_strlen(line, -1) < MAX(w, 1u) ||
		              (w == 1 && *line == '\0'),
		              "width %u: '%s'", w, line);
		if (w > 4)
			ck_assert_msg(strstr(line, "38%") != NULL,
			              "width %u: '%s'", w, line);
		if (strstr(line, "MB/s"))
			ck_assert(strstr(line, "msgs") && strstr(line, "ETA"));
		if (strstr(line, "Archive"))
			ck_assert(strstr(line, "MB/s"));
	}
	g_autofree char *at50 = sync_progress_format(&sample, 50);
	ck_assert_str_eq(at50, "812/3000 msgs  21.4/55.0 MB  38%  ETA 3s");
}
END_TEST

START_TEST(test_long_folder)
{
	SyncProgressLine l = sample;
	l.folder = "Very/Long/Folder/Name/Deep/Down/\u00c4rger";
	g_autofree char *line = sync_progress_format(&l, 80);

	ck_assert_uint_eq(g_utf8_strlen(line, -1), 79);
	ck_assert(g_str_has_prefix(line, "..."));
	ck_assert(strstr(line, "Down/\u00c4rger  812/3000 msgs") != NULL);
}
END_TEST

START_TEST(test_eta_and_unknown_rate)
{
	SyncProgressLine l = sample;
	l.rate = 0;
	g_autofree char *a = sync_progress_format(&l, 200);
	ck_assert(strstr(a, "-- MB/s  ETA --") != NULL);
	l.rate = 1000.0;
	g_autofree char *b = sync_progress_format(&l, 200);
	ck_assert(strstr(b, "ETA 9h20m") != NULL);
	l.rate = 300000.0;
	g_autofree char *c = sync_progress_format(&l, 200);
	ck_assert(strstr(c, "ETA 1m52s") != NULL);
	l.bytes = l.bytes_total;
	l.done = l.total;
	g_autofree char *d = sync_progress_format(&l, 200);
	ck_assert(strstr(d, "100%") && strstr(d, "ETA 0s"));
}
END_TEST

START_TEST(test_rate_is_recent)
{
	SyncRate r = { { 0 } };
	gint64 s = G_USEC_PER_SEC;

	ck_assert(sync_rate_get(&r, 5 * s) == 0.0);
	/* 10 MB/s for 20 s, then 1 MB/s for 10 s. */
	for (int t = 0; t <= 20; t++)
		sync_rate_add(&r, t * s, (guint64)t * 10000000);
	for (int t = 21; t <= 30; t++)
		sync_rate_add(&r, t * s, 200000000 + (guint64)(t - 20) * 1000000);
	double now = sync_rate_get(&r, 5 * s);
	ck_assert_msg(now > 0.99e6 && now < 1.01e6, "rate %f", now);
	/* More samples than the ring holds. */
	for (int t = 31; t < 200; t++)
		sync_rate_add(&r, t * s, 210000000 + (guint64)(t - 30) * 2000000);
	now = sync_rate_get(&r, 5 * s);
	ck_assert_msg(now > 1.99e6 && now < 2.01e6, "rate %f", now);
}
END_TEST

START_TEST(test_counts)
{
	g_autofree char *one = sync_progress_count(1, "message");
	g_autofree char *none = sync_progress_count(0, "message");
	g_autofree char *many = sync_progress_count(12, "message");

	ck_assert_str_eq(one, "1 message");
	ck_assert_str_eq(none, "0 messages");
	ck_assert_str_eq(many, "12 messages");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sync_progress");
	TCase *tc = tcase_create("line");

	tcase_add_test(tc, test_wide);
	tcase_add_test(tc, test_every_width);
	tcase_add_test(tc, test_long_folder);
	tcase_add_test(tc, test_eta_and_unknown_rate);
	tcase_add_test(tc, test_rate_is_recent);
	tcase_add_test(tc, test_counts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
