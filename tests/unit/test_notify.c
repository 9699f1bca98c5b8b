/* test_notify.c - unit tests for fs/notify.c: the datagram reaches a
 * socket named by a path or an abstract name, and nothing happens
 * without $NOTIFY_SOCKET. */
#include <check.h>
#include <glib/gstdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs/notify.h"

/* A datagram socket bound to NAME (a path, or "@name"). */
static int
bound_socket(const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memcpy(a.sun_path, name, n);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                            (name[0] != '@'));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	return fd;
}

static void
expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(test_path_socket)
{
	g_autofree char *dir = g_dir_make_tmp("mailfs-notify-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "notify", NULL);
	int fd = bound_socket(path);

	g_setenv("NOTIFY_SOCKET", path, TRUE);
	ck_assert(notify_send("READY=1\nSTATUS=mounted"));
	expect_datagram(fd, "READY=1\nSTATUS=mounted");
	close(fd);
	g_unlink(path);
	g_rmdir(dir);
}
END_TEST

START_TEST(test_abstract_socket)
{
	g_autofree char *name = g_strdup_printf("@mailfs-test-notify-%d",
	                                        (int)getpid());
	int fd = bound_socket(name);

	g_setenv("NOTIFY_SOCKET", name, TRUE);
	ck_assert(notify_send("STOPPING=1"));
	expect_datagram(fd, "STOPPING=1");
	close(fd);
}
END_TEST

START_TEST(test_no_socket)
{
	g_unsetenv("NOTIFY_SOCKET");
	ck_assert(!notify_send("READY=1"));
	g_setenv("NOTIFY_SOCKET", "relative/path", TRUE);
	ck_assert(!notify_send("READY=1"));
	g_setenv("NOTIFY_SOCKET", "/nonexistent/mailfs/notify", TRUE);
	ck_assert(!notify_send("READY=1"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("send");

	tcase_add_test(tc, test_path_socket);
	tcase_add_test(tc, test_abstract_socket);
	tcase_add_test(tc, test_no_socket);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
