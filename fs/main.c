/* main.c - the mailfs command line: mount, umount, sync, status, login,
 * --help, --version. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/config.h"
#include "fs/login_cmd.h"
#include "fs/mount.h"
#include "fs/status_cmd.h"
#include "fs/sync_cmd.h"

static const char usage_text[] =
	"Usage: mailfs COMMAND [OPTIONS]\n"
	"\n"
	"Mount a mail account as a directory tree.\n"
	"\n"
	"Commands:\n"
	"  mount [--config FILE] [--account NAME] [-f|--foreground] [-d|--debug]\n"
	"        [-r|--read-only] [-o FUSE_OPTIONS] MOUNTPOINT\n"
	"                  mount an account; returns once the mount is ready;\n"
	"                  --read-only refuses every change and reads faster\n"
	"  umount MOUNTPOINT\n"
	"                  unmount it (says if messages are still queued)\n"
	"  status [MOUNTPOINT]\n"
	"                  show the state of a mount (online or offline, last\n"
	"                  refresh, outbox queue, cache, last error), or of\n"
	"                  every mailfs mount; also in MOUNTPOINT/.mailfs/status\n"
	"  sync [--config FILE] [--account NAME] [--quiet] [FOLDER...]\n"
	"                  download every message not yet cached, so that the\n"
	"                  account reads offline (all folders by default)\n"
	"  login [--config FILE] [--account NAME]\n"
	"                  sign an OAuth 2.0 account in (a code to enter in a\n"
	"                  browser) and keep its refresh token\n"
	"  help            show this help\n"
	"\n"
	"Options:\n"
	"  -h, --help      show this help\n"
	"  -V, --version   show the version\n"
	"\n"
	"The config file is $XDG_CONFIG_HOME/mailfs/config (~/.config/mailfs/config)\n"
	"unless --config is given; see mailfs(1).\n";

static int G_GNUC_PRINTF(1, 2)
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mailfs: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'mailfs --help'.\n");
	va_end(ap);
	return 2;
}

static int
cmd_mount(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	g_auto(GStrv) opts = NULL;
	gboolean foreground = FALSE, debug = FALSE, read_only = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "account", 'a', 0, G_OPTION_ARG_STRING, &account,
		  "account to mount", "NAME" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
		  "stay in the foreground, log to stderr", NULL },
		{ "debug", 'd', 0, G_OPTION_ARG_NONE, &debug,
		  "log debug lines", NULL },
		{ "read-only", 'r', 0, G_OPTION_ARG_NONE, &read_only,
		  "refuse every change; reads reach the daemon less", NULL },
		{ "options", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &opts,
		  "FUSE mount options", "OPTS" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("MOUNTPOINT");
	g_autoptr(GError) err = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx, "Mount a mail account.");
	if (!g_option_context_parse(ctx, &argc, &argv, &err))
		return usage_error("mount: %s", err->message);
	if (argc != 2)
		return usage_error("mount: %s", argc < 2
		                   ? "missing MOUNTPOINT" : "too many arguments");
	if (!config)
		config = config_default_path();
	g_autoptr(MfAccountConfig) cfg =
		config_load_account(config, account, &err);
	if (!cfg) {
		fprintf(stderr, "mailfs: %s\n", err->message);
		return 1;
	}
	MountOptions o = { .mountpoint = argv[1], .foreground = foreground,
	                   .debug = debug, .read_only = read_only,
	                   .fuse_opts = opts };
	return mount_run(cfg, &o);
}

static int
cmd_umount(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("umount: %s", argc < 2 ? "missing MOUNTPOINT"
		                                          : "too many arguments");
	if (argv[1][0] == '-')
		return usage_error("umount: unknown option %s", argv[1]);
	return mount_unmount(argv[1]);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "missing command");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("mailfs %s\n", MAILFS_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "mount"))
		return cmd_mount(argc - 1, argv + 1);
	if (!strcmp(cmd, "sync"))
		return sync_cmd_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return status_cmd_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "login"))
		return login_cmd_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "umount") || !strcmp(cmd, "unmount"))
		return cmd_umount(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", cmd);
}
