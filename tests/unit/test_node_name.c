/* test_node_name.c - the names the mount gives messages (fs/node_name.c):
 * "<uid>.<gen>.eml" read back exactly, "<uid>-<key>.eml" made safe. */
#include <check.h>
#include <stdlib.h>

#include "fs/node_name.h"

static const struct {
	const char *name;
	guint32 uid;  /* 0: not a generation name */
	gint64 gen;
	guint32 lead; /* node_name_uid() */
} names[] = {
	{ "1.2.eml", 1, 2, 1 },
	{ "4294967295.2147483647.eml", 4294967295u, 2147483647, 4294967295u },
	{ "4294967296.1.eml", 0, 0, 0 },
	{ "5.2147483648.eml", 0, 0, 5 },
	{ "0.1.eml", 0, 0, 0 },
	{ "01.1.eml", 0, 0, 1 },
	{ "1.01.eml", 0, 0, 1 },
	{ "1.0.eml", 0, 0, 1 },
	{ "5..eml", 0, 0, 5 },
	{ "5.1.eml ", 0, 0, 5 },
	{ "5.1.EML", 0, 0, 5 },
	{ "5.1", 0, 0, 5 },
	{ "+5.1.eml", 0, 0, 0 },
	{ " 5.1.eml", 0, 0, 0 },
	{ "12-AAAB2c3d.eml", 0, 0, 12 },
	{ "draft.eml", 0, 0, 0 },
	{ "", 0, 0, 0 },
};

START_TEST(test_parse)
{
	guint32 uid = 7;
	gint64 gen = 9;
	gboolean ok = node_parse_msg_name(names[_i].name, &uid, &gen);

	ck_assert_msg(ok == (names[_i].uid != 0), "%s", names[_i].name);
	ck_assert_uint_eq(uid, ok ? names[_i].uid : 7);
	ck_assert_int_eq(gen, ok ? names[_i].gen : 9);
	ck_assert_uint_eq(node_name_uid(names[_i].name), names[_i].lead);
}
END_TEST

START_TEST(test_format)
{
	char buf[NODE_NAME_MAX];
	g_autofree char *long_key = g_strnfill(100, 'k');
	g_autofree char *want = g_strdup_printf("4294967295-%.64s.eml",
	                                        long_key);

	ck_assert_str_eq(node_name_format(3, 17, NULL, buf), "3.17.eml");
	ck_assert_str_eq(node_name_format(3, 17, "a b/c\xc3\xa9.d_e-f", buf),
	                 "3-a_b_c__.d_e-f.eml");
	ck_assert_str_eq(node_name_format(4294967295u, 1, long_key, buf), want);
	ck_assert_str_eq(node_name_format(9, 1, "", buf), "9-.eml");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("node_name");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_parse, 0, G_N_ELEMENTS(names));
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
