/* verify_cmd.c - the `mailfs verify` command: options, a progress line
 * on a terminal, the summary.  Exit status 0 when every body was good, 1
 * when some were damaged (they were removed) or the check failed. */
#include "fs/verify_cmd.h"

#include <stdio.h>
#include <unistd.h>

#include "cache/verify.h"
#include "fs/cli.h"
#include "fs/config.h"
#include "fs/log.h"
#include "fs/mount.h"

static void
verify_cmd_progress(guint done, guint total, void *ud)
{
	if (done % 1000 != 0 && done != total)
		return;
	printf("\rchecked %u of %u bodies", done, total);
	if (done == total)
		printf("\r\033[K");
	fflush(stdout);
}

static int
verify_cmd_run(const MfAccountConfig *cfg, gboolean quiet)
{
	g_autoptr(GError) err = NULL;
	MfVerifyResult r;
	gboolean tty = !quiet && isatty(STDOUT_FILENO);

	if (!verify_cache(cfg->cache_dir, tty ? verify_cmd_progress : NULL,
	                  NULL, &r, &err)) {
		g_autofree char *msg = log_safe_text(err->message, FALSE);
		fprintf(stderr, "mailfs: verify: %s\n", msg);
		return CLI_EXIT_FAILURE;
	}
	if (!quiet || r.damaged)
		printf("%u bodies checked, %u damaged%s\n", r.checked,
		       r.damaged, r.damaged ? " (removed: they are fetched "
		       "again when read)" : "");
	return r.damaged ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int
verify_cmd_main(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	gboolean quiet = FALSE;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "account", 'a', 0, G_OPTION_ARG_STRING, &account,
		  "account to check (default: the default one)", "NAME" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
		  "print nothing unless a body is damaged", NULL },
		{ NULL },
	};
	int status = 0;

	if (!cli_parse("verify", entries, "", "Read every cached message "
	               "of the account and check it against the\nSHA-256 "
	               "recorded when it was stored; a damaged one is "
	               "removed, so it\nis fetched again when read.", &argc,
	               &argv, &status))
		return status;
	if (argc > 1)
		return cli_usage_error("verify", "too many arguments");
	g_autofree char *path = config ? g_strdup(config)
	                               : config_default_path();
	g_autoptr(GError) err = NULL;
	mount_protect_process();
	log_setup("mailfs", FALSE, FALSE);
	g_autoptr(MfAccountConfig) cfg = config_load_account(path, account,
	                                                     &err);
	if (!cfg)
		return cli_config_error("verify", err);
	return verify_cmd_run(cfg, quiet);
}
