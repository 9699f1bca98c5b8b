/* fuzz_config.c - libFuzzer target for fs/config: the input is a config
 * file.  It is loaded twice from a memfd (through /proc/self/fd, so no
 * disk is touched): private (0600), and readable by others (0644), where a
 * literal password must never be accepted.  Loaded accounts must hold what
 * config.h promises.  password_command is never run. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/config.h"
#include "net/mf_error.h"

#include "tests/fuzz/fuzz_common.h"

static int memfd = -1;
static char memfd_path[64];

static void
check_account(const MfAccountConfig *c, gboolean private_file)
{
	g_assert(c->name != NULL && c->file != NULL && c->user != NULL);
	g_assert(c->has_imap != c->has_pop3);
	g_assert(!c->has_imap || c->imap.host != NULL);
	g_assert(!c->has_pop3 || c->pop3.host != NULL);
	g_assert(!c->has_smtp || c->smtp.host != NULL);
	g_assert(c->timeout >= 1 && c->timeout <= 3600);
	g_assert(c->max_connections >= 1 && c->max_connections <= 16);
	g_assert(c->cache_dir != NULL && g_path_is_absolute(c->cache_dir));
	if (c->password && !private_file) {
		g_printerr("config: literal password accepted from a file "
		           "others can read\n");
		abort();
	}
}

static void
load(mode_t mode, const char *name)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(MfAccountConfig) c = NULL;

	g_assert(fchmod(memfd, mode) == 0);
	c = config_load_account(memfd_path, name, &err);
	if (!c) {
		/* NOTFOUND: no such account, or several and no default. */
		g_assert(err != NULL && err->domain == MF_ERROR &&
		         (err->code == MF_ERROR_CONFIG ||
		          err->code == MF_ERROR_NOTFOUND));
		return;
	}
	g_assert(err == NULL);
	check_account(c, (mode & 077) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (memfd < 0) {
		memfd = memfd_create("mailfs-fuzz-config", MFD_CLOEXEC);
		g_assert(memfd >= 0);
		g_snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d",
		           memfd);
		/* Fixed, so "~/" and the default cache_dir expand the same
		 * way on every machine. */
		g_setenv("HOME", "/home/fuzz", TRUE);
		g_setenv("XDG_CACHE_HOME", "/home/fuzz/.cache", TRUE);
	}
	g_assert(ftruncate(memfd, 0) == 0);
	g_assert(pwrite(memfd, data, len, 0) == (ssize_t)len);
	load(0600, NULL);
	load(0644, NULL);
	load(0600, "work");
	return 0;
}
