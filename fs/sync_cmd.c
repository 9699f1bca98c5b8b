/* sync_cmd.c - the `mailfs sync` command: options, which folders and
 * messages, the progress display, Ctrl-C, and the closing summary. */
#include "fs/sync_cmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cache/sync.h"
#include "fs/cli.h"
#include "fs/config.h"
#include "fs/log.h"
#include "fs/mount.h"
#include "fs/sync_progress.h"

/* How often the progress line is drawn at most, and the span its rate
 * is measured over. */
#define SYNC_DRAW_US (100 * 1000)
#define SYNC_RATE_WINDOW_US (5 * G_USEC_PER_SEC)

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
	SyncRate rate;
} Display;

/* The width of the terminal on stdout, or $COLUMNS, or 80. */
static guint
display_width(void)
{
	struct winsize ws;
	const char *cols = g_getenv("COLUMNS");
	guint64 n = 0;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (cols && g_ascii_string_to_unsigned(cols, 10, 1, 1000, &n, NULL))
		return (guint)n;
	return 80;
}

/* Redraws the progress line in place. */
static void
display_draw(Display *d, const MfSyncProgress *p, const char *folder,
             gint64 now)
{
	sync_rate_add(&d->rate, now, p->bytes);
	SyncProgressLine l = {
		.folder = folder, .done = p->done, .total = p->total,
		.bytes = p->bytes, .bytes_total = p->bytes_total,
		.rate = sync_rate_get(&d->rate, SYNC_RATE_WINDOW_US),
	};
	g_autofree char *line = sync_progress_format(&l, display_width());

	printf("\r%s\033[K", line);
	fflush(stdout);
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
		g_autofree char *n = NULL;
		if (p->folder_finished) {
			n = sync_progress_count(p->folder_total, "message");
			printf("%s: %s fetched (%u/%u in all, %.1f MB)\n", folder,
			       n, p->done, p->total, (double)p->bytes / 1e6);
		}
		return;
	}
	if (!p->folder_finished && now - d->last_draw < SYNC_DRAW_US &&
	    p->done != p->total)
		return;
	d->last_draw = now;
	display_draw(d, p, folder, now);
}

static int
sync_cmd_summary(const MfSyncResult *r, const Display *d)
{
	double secs = (double)(g_get_monotonic_time() - d->started) / 1e6;
	g_autofree char *fetched = sync_progress_count(r->fetched, "message");

	if (d->tty && !d->quiet)
		printf("\n");
	if (!d->quiet || r->failed) {
		printf("%s fetched (%.1f MB) in %.1f s; %u %s already cached",
		       fetched, (double)r->bytes / 1e6, secs, r->cached,
		       r->cached == 1 ? "was" : "were");
		if (r->skipped)
			printf("; %u left out (max_message_size, max_age)",
			       r->skipped);
		printf("\n");
	}
	if (sync_cancel) {
		fprintf(stderr, "mailfs sync: interrupted; the %s fetched %s "
		        "kept\n", fetched, r->fetched == 1 ? "is" : "are");
		return CLI_EXIT_INTERRUPTED;
	}
	if (r->failed == 0)
		return CLI_EXIT_OK;
	g_autofree char *failed = sync_progress_count(r->failed, "message");
	fprintf(stderr, "mailfs sync: %s could not be fetched:\n", failed);
	for (guint i = 0; i < r->failures->len; i++) {
		g_autofree char *why =
			log_safe_text(r->failures->pdata[i], FALSE);
		fprintf(stderr, "  %s\n", why);
	}
	return CLI_EXIT_FAILURE;
}

/* What to sync: the command line's patterns, else the account's
 * sync_folders; the account's limits. */
typedef struct {
	char **patterns;     /* of the command line, or NULL */
	gboolean no_recurse;
	gboolean quiet;
} SyncOptions;

static void
sync_cmd_select(const MfAccountConfig *cfg, const SyncOptions *o,
                MfSyncSelect *sel)
{
	sel->patterns = (const char *const *)(o->patterns && o->patterns[0]
	                                      ? o->patterns
	                                      : cfg->sync_folders);
	sel->recurse = !o->no_recurse;
	sel->max_size = cfg->max_message_size;
	sel->min_date = cfg->max_age ? g_get_real_time() / G_USEC_PER_SEC -
	                               (gint64)cfg->max_age * 86400 : 0;
}

/* Syncs CFG's account; the exit status. */
static int
sync_cmd_run(MfAccountConfig *cfg, const SyncOptions *o)
{
	g_autoptr(GError) err = NULL;
	MfAccountParams p;
	MfSyncResult res = { 0 };
	MfSyncSelect sel;
	Display d = { isatty(STDOUT_FILENO), o->quiet, g_get_monotonic_time(),
	              0, { { 0 } } };

	mount_protect_process();
	if (!mount_credentials(cfg, &p, &err)) {
		mount_say(cfg, "", err, "");
		return cli_exit_status(err);
	}
	MfAccount *a = account_open(&p, NULL, &err);
	account_params_clear(&p);
	if (!a) {
		mount_say(cfg, "", err, "");
		return cli_exit_status(err);
	}
	sync_cmd_select(cfg, o, &sel);
	int rc;
	if (!sync_run(a, &sel, sync_cmd_progress_cb, &d, &sync_cancel, &res,
	              &err)) {
		mount_say(cfg, "", err, "");
		rc = cli_exit_status(err);
	} else {
		rc = sync_cmd_summary(&res, &d);
	}
	sync_result_clear(&res);
	account_close(a);
	return rc;
}

/* Syncs every account of CONFIG, one after the other, each after a line
 * "== account NAME"; the first failure's exit status, or 0. */
static int
sync_cmd_all(const char *config, const SyncOptions *o)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) all = config_load_all(config, &err);
	int rc = 0;

	if (!all)
		return cli_config_error("sync", err);
	for (guint i = 0; i < all->len && !sync_cancel; i++) {
		MfAccountConfig *cfg = all->pdata[i];
		if (!o->quiet)
			printf("%s== account %s\n", i ? "\n" : "", cfg->name);
		fflush(stdout);
		int one = sync_cmd_run(cfg, o);
		if (rc == 0)
			rc = one;
	}
	return rc;
}

/* After the options: syncs ACCOUNT (NULL: the default) of CONFIG (NULL:
 * the default file), or with ALL every account. */
static int
sync_cmd_start(const char *config, const char *account, gboolean all,
               const SyncOptions *o)
{
	g_autofree char *path = config ? g_strdup(config)
	                               : config_default_path();
	g_autoptr(GError) err = NULL;
	struct sigaction sa = { .sa_handler = sync_cmd_sigint };

	mount_protect_process();
	log_setup("mailfs", FALSE, FALSE);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (all)
		return sync_cmd_all(path, o);
	g_autoptr(MfAccountConfig) cfg = config_load_account(path, account,
	                                                     &err);
	if (!cfg)
		return cli_config_error("sync", err);
	return sync_cmd_run(cfg, o);
}

int
sync_cmd_main(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	gboolean all = FALSE;
	SyncOptions o = { 0 };
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "account", 'a', 0, G_OPTION_ARG_STRING, &account,
		  "account to sync (default: the default one)", "NAME" },
		{ "all", 0, 0, G_OPTION_ARG_NONE, &all,
		  "sync every account of the config file", NULL },
		{ "no-recurse", 'n', 0, G_OPTION_ARG_NONE, &o.no_recurse,
		  "take the folders named, not their subfolders", NULL },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet,
		  "print nothing but failures", NULL },
		{ NULL },
	};
	int status = 0;

	if (!cli_parse("sync", entries, "[PATTERN...]", "Download every "
	               "message not yet cached, so the account reads offline:\n"
	               "of the folders the PATTERNs match ('*' any text, '%' "
	               "any but '/',\n'!' to leave out; default: the account's "
	               "sync_folders, or every\nfolder) and their subfolders.",
	               &argc, &argv, &status))
		return status;
	if (all && account)
		return cli_usage_error("sync", "--all and --account exclude "
		                       "each other");
	o.patterns = argv + 1;
	return sync_cmd_start(config, all ? NULL : account, all, &o);
}
