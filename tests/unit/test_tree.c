/* test_tree.c - folder tree snapshots and implicit parents. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cache/tree.h"

static MfRemoteFolder *
remote(const char *name, const char *path, guint flags)
{
	MfRemoteFolder *f = g_new0(MfRemoteFolder, 1);
	f->name = g_strdup(name);
	f->path = g_strdup(path);
	f->flags = flags;
	return f;
}

static StoreFolder *
row(gint64 id, const char *path, guint flags)
{
	StoreFolder *f = g_new0(StoreFolder, 1);
	f->id = id;
	f->name = g_strdup(path);
	f->path = g_strdup(path);
	f->flags = flags;
	return f;
}

static GPtrArray *
rows_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)store_folder_free);
}

START_TEST(test_implicit_parents)
{
	GPtrArray *r = g_ptr_array_new_with_free_func(
		(GDestroyNotify)remote_folder_free);

	g_ptr_array_add(r, remote("INBOX", "INBOX", 0));
	g_ptr_array_add(r, remote("Projects/Alpha/Docs", "Projects/Alpha/Docs", 0));
	g_ptr_array_add(r, remote("Archive", "Archive", 0));
	g_ptr_array_add(r, remote("Archive/2024", "Archive/2024", 0));
	tree_add_implicit_parents(r);
	ck_assert_uint_eq(r->len, 6);
	const MfRemoteFolder *p = r->pdata[4], *q = r->pdata[5];
	ck_assert_str_eq(p->path, "Projects");
	ck_assert_str_eq(q->path, "Projects/Alpha");
	ck_assert_uint_eq(p->flags, MF_FOLDER_NOSELECT);
	ck_assert_int_eq(p->name[0], '\x01');
	g_ptr_array_unref(r);
}
END_TEST

START_TEST(test_lookup)
{
	GPtrArray *r = rows_new();

	g_ptr_array_add(r, row(1, "INBOX", 0));
	g_ptr_array_add(r, row(2, "Archive", 0));
	g_ptr_array_add(r, row(3, "Archive/2024", 0));
	g_ptr_array_add(r, row(4, "Archive/2024/Q1", 0));
	g_ptr_array_add(r, row(5, "Orphan/Child", 0));
	MfTree *t = tree_build(r);
	g_ptr_array_unref(r);

	ck_assert_int_eq(tree_child(t, 0, "Archive")->id, 2);
	ck_assert_int_eq(tree_child(t, 2, "2024")->id, 3);
	ck_assert_int_eq(tree_child(t, 3, "Q1")->id, 4);
	ck_assert_str_eq(tree_child(t, 3, "Q1")->leaf, "Q1");
	ck_assert_ptr_null(tree_child(t, 0, "2024"));
	ck_assert_ptr_null(tree_child(t, 1, "2024"));
	ck_assert_ptr_null(tree_child(t, 99, "x"));
	ck_assert_ptr_null(tree_child(t, 0, "Orphan/Child"));
	ck_assert_int_eq(tree_find(t, "Archive/2024/Q1")->id, 4);
	ck_assert_int_eq(tree_folder(t, 3)->parent, 2);

	GPtrArray *top = tree_children(t, 0);
	ck_assert_uint_eq(top->len, 2);
	g_ptr_array_unref(top);
	GPtrArray *kids = tree_children(t, 2);
	ck_assert_uint_eq(kids->len, 1);
	g_ptr_array_unref(kids);

	MfTree *t2 = tree_ref(t);
	tree_unref(t);
	ck_assert_int_eq(tree_folder(t2, 1)->id, 1);
	tree_unref(t2);
	tree_unref(NULL);
}
END_TEST

static MfRemoteFolder *
remote_at(const char *path)
{
	MfRemoteFolder *f = g_new0(MfRemoteFolder, 1);
	f->name = g_strdup(path);
	f->path = g_strdup(path);
	return f;
}

/* Server folders never take the mount's own names, and no two show
 * alike; the display name leads back to the server's. */
START_TEST(test_reserved_names)
{
	static const char *const in[][2] = {
		{ "outbox", "outbox_" }, { "outbox_", "outbox__" },
		{ ".mailfs", ".mailfs_" }, { "outbox/sub", "outbox_/sub" },
		{ "outboxes", "outboxes" }, { "INBOX/outbox", "INBOX/outbox" },
		{ "Outbox", "Outbox" }, { "_outbox", "_outbox" },
		{ "outbox_x", "outbox_x" },
	};
	GPtrArray *r = g_ptr_array_new_with_free_func(
		(GDestroyNotify)remote_folder_free);

	for (gsize i = 0; i < G_N_ELEMENTS(in); i++)
		g_ptr_array_add(r, remote_at(in[i][0]));
	tree_escape_reserved(r);
	for (gsize i = 0; i < G_N_ELEMENTS(in); i++) {
		const MfRemoteFolder *f = r->pdata[i];
		ck_assert_str_eq(f->path, in[i][1]);
		if (strchr(in[i][0], '/'))
			continue;
		g_autofree char *back = tree_unescape_top(f->path);
		ck_assert_str_eq(back, in[i][0]);
	}
	g_ptr_array_unref(r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_implicit_parents);
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_reserved_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
