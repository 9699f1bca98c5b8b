/* main.c - the mailfs command line: mount, umount, sync, status, login,
 * --help, --version. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs/cli.h"
#include "fs/config.h"
#include "fs/log.h"
#include "fs/login_cmd.h"
#include "fs/mount.h"
#include "fs/status_cmd.h"
#include "fs/sync_cmd.h"
#include "fs/verify_cmd.h"

#ifndef MAILFS_SANITIZE
#define MAILFS_SANITIZE "none"
#endif

static const char usage_text[] =
	"Usage: mailfs COMMAND [OPTIONS]\n"
	"\n"
	"Mount a mail account as a directory tree.\n"
	"\n"
	"Commands:\n"
	"  mailfs mount [--config FILE] [--account NAME] [-f] [-d] [-r]\n"
	"        [-o FUSE_OPTIONS] [MOUNTPOINT]\n"
	"                  mount an account (the default one when not named)\n"
	"                  on MOUNTPOINT (default: its mount_point,\n"
	"                  ~/mailfs/NAME); returns once the mount is ready;\n"
	"                  --read-only refuses every change and reads faster\n"
	"  mailfs umount [--config FILE] [--account NAME] [MOUNTPOINT]\n"
	"                  unmount it (says if messages are still queued)\n"
	"  mailfs status [MOUNTPOINT]\n"
	"                  show the state of a mount (online or offline, last\n"
	"                  refresh, outbox queue, cache, last error), or of\n"
	"                  each of your mailfs mounts; also in\n"
	"                  MOUNTPOINT/.mailfs/status\n"
	"  mailfs sync [--config FILE] [--account NAME | --all] [--quiet]\n"
	"        [--no-recurse] [PATTERN...]\n"
	"                  download every message not yet cached (in the\n"
	"                  folders matching the patterns, such as 'Archive*'\n"
	"                  '!Junk', and their subfolders), so that the\n"
	"                  account reads offline\n"
	"  mailfs verify [--config FILE] [--account NAME] [--quiet]\n"
	"                  check every cached message against the SHA-256\n"
	"                  recorded when it was stored; damaged ones are\n"
	"                  removed and fetched again when read\n"
	"  mailfs login [--config FILE] [--account NAME]\n"
	"                  sign an OAuth 2.0 account in (a code to enter in a\n"
	"                  browser) and keep its refresh token\n"
	"  mailfs help [COMMAND]\n"
	"                  show this help, or the options of COMMAND\n"
	"\n"
	"Options:\n"
	"  -h, --help      show this help (after a command: its options)\n"
	"  -V, --version   show the version, the build's features and the\n"
	"                  config file\n"
	"\n"
	"The config file is $XDG_CONFIG_HOME/mailfs/config (~/.config/mailfs/config)\n"
	"unless --config is given; see mailfs(1) and mailfs.conf(5).\n";

/* The options every command that reads the config file takes. */
#define MAIN_CONFIG_ENTRIES(config, account, what)                      \
	{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &(config),           \
	  "config file", "FILE" },                                       \
	{ "account", 'a', 0, G_OPTION_ARG_STRING, &(account),           \
	  what, "NAME" }

/* The account NAME (NULL: the default) of the config file CONFIG (NULL:
 * the default path), or NULL after printing why; *STATUS then says how
 * to exit. */
static MfAccountConfig *
main_load_account(const char *cmd, const char *config, const char *name,
                  int *status)
{
	g_autofree char *path = config ? g_strdup(config)
	                               : config_default_path();
	g_autoptr(GError) err = NULL;
	MfAccountConfig *cfg = config_load_account(path, name, &err);

	if (!cfg)
		*status = cli_config_error(cmd, err);
	return cfg;
}

static int
main_mount(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	g_auto(GStrv) opts = NULL;
	gboolean foreground = FALSE, debug = FALSE, read_only = FALSE;
	const GOptionEntry entries[] = {
		MAIN_CONFIG_ENTRIES(config, account, "account to mount"),
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
	int status = 0;

	if (!cli_parse("mount", entries, "[MOUNTPOINT]", "Mount a mail "
	               "account (the default one when none is named) on\n"
	               "MOUNTPOINT, or on its mount_point (~/mailfs/NAME unless "
	               "set; made if\nmissing).", &argc, &argv, &status))
		return status;
	if (argc > 2)
		return cli_usage_error("mount", "too many arguments");
	g_autoptr(MfAccountConfig) cfg =
		main_load_account("mount", config, account, &status);
	if (!cfg)
		return status;
	MountOptions o = { .mountpoint = argc == 2 ? argv[1]
	                                           : cfg->mount_point,
	                   .make_mountpoint = argc < 2,
	                   .foreground = foreground, .debug = debug,
	                   .read_only = read_only, .fuse_opts = opts };
	return mount_run(cfg, &o);
}

static int
main_umount(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	const GOptionEntry entries[] = {
		MAIN_CONFIG_ENTRIES(config, account, "unmount the mount_point "
		                    "of this account"),
		{ NULL },
	};
	int status = 0;

	if (!cli_parse("umount", entries, "[MOUNTPOINT]", "Unmount a mailfs "
	               "mount (MOUNTPOINT, or the mount_point of the "
	               "account).", &argc, &argv, &status))
		return status;
	if (argc > 2)
		return cli_usage_error("umount", "too many arguments");
	if (argc == 2)
		return mount_unmount(argv[1]);
	g_autoptr(MfAccountConfig) cfg =
		main_load_account("umount", config, account, &status);
	if (!cfg)
		return status;
	return mount_unmount(cfg->mount_point);
}

static int
main_version(int argc, char **argv)
{
	g_autofree char *config = config_default_path();

	printf("mailfs %s\n", MAILFS_VERSION);
#ifdef MAILFS_HAVE_OAUTH2
	printf("OAuth2: yes\n");
#else
	printf("OAuth2: no\n");
#endif
	printf("sanitizers: %s\n", MAILFS_SANITIZE);
	printf("config: %s%s\n", config,
	       access(config, F_OK) == 0 ? "" : " (not there)");
	return 0;
}

static int main_help(int argc, char **argv);

/* The commands (COMMAND: one with options and --help of its own) and
 * the global options: ARGV[0] is the name, as given. */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	gboolean command;
} main_commands[] = {
	{ "mount", main_mount, TRUE },
	{ "umount", main_umount, TRUE },
	{ "unmount", main_umount, TRUE },
	{ "status", status_cmd_main, TRUE },
	{ "sync", sync_cmd_main, TRUE },
	{ "verify", verify_cmd_main, TRUE },
	{ "login", login_cmd_main, TRUE },
	{ "help", main_help, FALSE },
	{ "--help", main_help, FALSE },
	{ "-h", main_help, FALSE },
	{ "--version", main_version, FALSE },
	{ "-V", main_version, FALSE },
};

/* `mailfs help`: this help; `mailfs help COMMAND`: COMMAND's. */
static int
main_help(int argc, char **argv)
{
	char *help_argv[] = { argc > 1 ? argv[1] : NULL, "--help", NULL };

	for (gsize i = 0; argc > 1 && i < G_N_ELEMENTS(main_commands); i++)
		if (main_commands[i].command &&
		    strcmp(argv[1], main_commands[i].name) == 0)
			return main_commands[i].run(2, help_argv);
	if (argc > 1)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	fputs(usage_text, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	/* From the first line on, stderr is known to be the journal's or
	 * not (each command may set the log up again). */
	log_setup("mailfs", FALSE, FALSE);
	if (argc < 2)
		return cli_usage_error(NULL, "missing command");
	for (gsize i = 0; i < G_N_ELEMENTS(main_commands); i++)
		if (strcmp(argv[1], main_commands[i].name) == 0)
			return main_commands[i].run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return cli_usage_error(NULL, "unknown option %s", argv[1]);
	return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
