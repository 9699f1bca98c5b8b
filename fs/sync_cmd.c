/* sync_cmd.c - the `mailfs sync` command: options, progress display,
 * Ctrl-C, and the closing summary. */
#include "fs/sync_cmd.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cache/sync.h"
#include "fs/config.h"
#include "fs/log.h"
#include "fs/mount.h"

static volatile gint sync_cancel;

static void
sync_cmd_sigint(int sig)
{
	sync_cancel = 1;
}

typedef struct {
	gboolean tty;
	gboolean quiet;
	gint64 started;
	gint64 last_draw;
} Display;

static double
display_rate(const Display *d, guint64 bytes)
{
	double secs = (double)(g_get_monotonic_time() - d->started) / 1e6;
	return secs > 0.01 ? (double)bytes / secs / 1e6 : 0.0;
}

static void
sync_cmd_progress_cb(const MfSyncProgress *p, void *ud)
{
	Display *d = ud;
	gint64 now = g_get_monotonic_time();

	if (d->quiet)
		return;
	/* Folder names come from the server. */
	g_autofree char *folder = log_safe_text(p->folder, FALSE);
	if (!d->tty) {
		if (p->folder_finished)
			printf("%s: %u messages fetched (%u/%u in all, "
			       "%.1f MB)\n", folder, p->folder_total,
			       p->done, p->total, (double)p->bytes / 1e6);
		return;
	}
	if (!p->folder_finished && now - d->last_draw < 100000 &&
	    p->done != p->total)
		return;
	d->last_draw = now;
	printf("\r\033[K%s %u/%u | all %u/%u msgs, %.1f/%.1f MB, %.1f MB/s",
	       folder, p->folder_done, p->folder_total, p->done, p->total,
	       (double)p->bytes / 1e6, (double)p->bytes_total / 1e6,
	       display_rate(d, p->bytes));
	fflush(stdout);
}

static int
sync_cmd_summary(const MfSyncResult *r, const Display *d)
{
	double secs = (double)(g_get_monotonic_time() - d->started) / 1e6;

	if (d->tty && !d->quiet)
		printf("\n");
	if (!d->quiet || r->failed)
		printf("%u messages fetched (%.1f MB) in %.1f s; %u were "
		       "already cached\n", r->fetched, (double)r->bytes / 1e6,
		       secs, r->cached);
	if (sync_cancel) {
		fprintf(stderr, "mailfs sync: interrupted; the %u messages "
		        "fetched are kept\n", r->fetched);
		return 130;
	}
	if (r->failed == 0)
		return 0;
	fprintf(stderr, "mailfs sync: %u messages could not be fetched:\n",
	        r->failed);
	for (guint i = 0; i < r->failures->len; i++) {
		g_autofree char *why =
			log_safe_text(r->failures->pdata[i], FALSE);
		fprintf(stderr, "  %s\n", why);
	}
	return 1;
}

static int
sync_cmd_run(MfAccountConfig *cfg, char **folders, gboolean quiet)
{
	g_autoptr(GError) err = NULL;
	MfAccountParams p;
	MfSyncResult res = { 0 };
	Display d = { isatty(STDOUT_FILENO), quiet, g_get_monotonic_time(), 0 };

	mount_protect_process();
	char *password = config_take_password(cfg, &err);
	if (!password) {
		mount_say(cfg, "", err, "");
		return 1;
	}
	mount_params(cfg, password, &p);
	MfAccount *a = account_open(&p, NULL, &err);
	account_params_clear(&p);
	if (!a) {
		mount_say(cfg, "", err, "");
		return 1;
	}
	struct sigaction sa = { .sa_handler = sync_cmd_sigint };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc;
	if (!sync_run(a, (const char *const *)folders, sync_cmd_progress_cb, &d,
	              &sync_cancel, &res, &err)) {
		mount_say(cfg, "", err, "");
		rc = 1;
	} else {
		rc = sync_cmd_summary(&res, &d);
	}
	sync_result_clear(&res);
	account_close(a);
	return rc;
}

int
sync_cmd_main(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	gboolean quiet = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "account", 'a', 0, G_OPTION_ARG_STRING, &account,
		  "account to sync", "NAME" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
		  "print nothing but failures", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("[FOLDER…]");
	g_autoptr(GError) err = NULL;

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx, "Download every message not yet "
	                             "cached, so the account reads offline.");
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "mailfs: sync: %s\nTry 'mailfs --help'.\n",
		        err->message);
		return 2;
	}
	if (!config)
		config = config_default_path();
	g_autoptr(MfAccountConfig) cfg =
		config_load_account(config, account, &err);
	if (!cfg) {
		fprintf(stderr, "mailfs: %s\n", err->message);
		return 1;
	}
	log_setup("mailfs", FALSE, FALSE);
	signal(SIGPIPE, SIG_IGN);
	return sync_cmd_run(cfg, argv + 1, quiet);
}
