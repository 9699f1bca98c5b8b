/* test_imap_date.c - INTERNALDATE parsing and formatting. */
#include <check.h>
#include <stdlib.h>

#include "net/imap_date.h"

static const struct {
	const char *in;
	gint64 want;
} good[] = {
	{ "01-Jan-1970 00:00:00 +0000", 0 },
	{ "17-Jul-1996 02:44:25 -0700", 837596665 },
	{ " 7-Jul-1996 02:44:25 +0000", 836707465 },
	{ "7-Jul-1996 02:44:25 +0000", 836707465 },
	{ "07-jul-1996 02:44:25 +0000", 836707465 },
	{ "29-Feb-2024 23:59:59 +0130", 1709245799 },
	{ "31-Dec-2099 12:00:00 -1200", 4102444800 },
};

static const char *const bad[] = {
	"", "17-Jul-1996", "17-Jux-1996 02:44:25 -0700",
	"17-Jul-1996 02:44:25 0700", "17-Jul-1996 24:00:00 +0000",
	"17-Jul-1996 02:60:00 +0000", "17-Jul-1996 02:44:25 +0060",
	"32-Jul-1996 02:44:25 +0000", "00-Jul-1996 02:44:25 +0000",
	"17-Jul-96 02:44:25 +0000", "17-Jul-1996 02:44:25 +0000 ",
	"17-Jul-1996  2:44:25 +0000", "aa-Jul-1996 02:44:25 +0000",
};

START_TEST(test_good)
{
	gint64 t = -1;

	ck_assert_msg(imap_date_parse(good[_i].in, &t), "%s", good[_i].in);
	ck_assert_int_eq(t, good[_i].want);
}
END_TEST

START_TEST(test_bad)
{
	gint64 t = 42;

	ck_assert_msg(!imap_date_parse(bad[_i], &t), "%s", bad[_i]);
	ck_assert_int_eq(t, 42);
}
END_TEST

START_TEST(test_round_trip)
{
	char buf[40];
	gint64 t;

	for (gint64 x = 0; x < 4000000000; x += 123456789) {
		ck_assert(imap_date_parse(imap_date_format(x, buf), &t));
		ck_assert_int_eq(t, x);
	}
	ck_assert_str_eq(imap_date_format(837596665, buf),
	                 "17-Jul-1996 09:44:25 +0000");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("imap_date");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_good, 0, G_N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad));
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
