/* cli.c - options, --help, usage errors and exit statuses shared by the
 * mailfs commands. */
#include "fs/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "fs/log.h"
#include "net/mf_error.h"

int
cli_exit_status(const GError *err)
{
	if (!err || err->domain != MF_ERROR)
		return CLI_EXIT_FAILURE;
	switch ((MfErrorCode)err->code) {
	case MF_ERROR_CONFIG:
		return CLI_EXIT_CONFIG;
	case MF_ERROR_AUTH:
		return CLI_EXIT_NOPERM;
	case MF_ERROR_CONNECTION:
	case MF_ERROR_OFFLINE:
	case MF_ERROR_UNSURE:
		return CLI_EXIT_TEMPFAIL;
	case MF_ERROR_TLS:
	case MF_ERROR_PROTOCOL:
		return CLI_EXIT_UNAVAILABLE;
	case MF_ERROR_CANCELLED:
		return CLI_EXIT_INTERRUPTED;
	default:
		return CLI_EXIT_FAILURE;
	}
}

/* "Try ..." after a usage error of CMD (or of no command). */
static void
cli_hint(const char *cmd)
{
	fprintf(stderr, "Try 'mailfs %s%s--help'.\n", cmd ? cmd : "",
	        cmd ? " " : "");
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%smailfs: %s%s%s\n", log_stderr_prefix(LOG_ERR),
	        cmd ? cmd : "", cmd ? ": " : "", msg);
	cli_hint(cmd);
	return CLI_EXIT_USAGE;
}

int
cli_config_error(const char *cmd, const GError *err)
{
	fprintf(stderr, "%smailfs: %s\n", log_stderr_prefix(LOG_ERR),
	        err->message);
	return g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND)
	       ? CLI_EXIT_USAGE : CLI_EXIT_CONFIG;
}

/* TEXT with GLib's "…" written as "...", which every terminal and locale
 * shows; owned. */
static char *
cli_plain_text(const char *text)
{
	g_auto(GStrv) parts = g_strsplit(text, "\u2026", -1);

	return g_strjoinv("...", parts);
}

/* Prints the --help of CTX, its usage line starting "mailfs CMD". */
static void
cli_print_help(GOptionContext *ctx, const char *cmd)
{
	g_autofree char *prg = g_strdup_printf("mailfs %s", cmd);

	g_set_prgname(prg);
	g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
	g_autofree char *plain = cli_plain_text(help);
	fputs(plain, stdout);
}

/* GLib's message for a bad option, starting in lower case as ours do. */
static char *
cli_option_message(const GError *err)
{
	g_autofree char *plain = cli_plain_text(err->message);

	if (plain[0] && g_ascii_isupper(plain[0]) &&
	    !g_ascii_isupper(plain[1]))
		plain[0] = g_ascii_tolower(plain[0]);
	return g_steal_pointer(&plain);
}

gboolean
cli_parse(const char *cmd, const GOptionEntry *entries, const char *args,
          const char *summary, int *argc, char ***argv, int *status)
{
	gboolean help = FALSE;
	const GOptionEntry help_entry[] = {
		{ "help", 'h', 0, G_OPTION_ARG_NONE, &help,
		  "show this help", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(args);
	g_autoptr(GError) err = NULL;

	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_set_summary(ctx, summary);
	if (entries)
		g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_add_main_entries(ctx, help_entry, NULL);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		g_autofree char *msg = cli_option_message(err);
		*status = cli_usage_error(cmd, "%s", msg);
		return FALSE;
	}
	if (!help)
		return TRUE;
	cli_print_help(ctx, cmd);
	*status = CLI_EXIT_OK;
	return FALSE;
}
