/* cli.h - what every mailfs command has in common: its options (with
 * -h/--help), usage errors, and the exit status a failure gives.
 *
 * Exit statuses (documented in mailfs(1), EXIT STATUS; the systemd unit
 * does not restart on CLI_EXIT_CONFIG and CLI_EXIT_NOPERM):
 *   0   success
 *   1   any other failure (the mount point, the cache, a sync that left
 *       messages out, not a mailfs mount)
 *   2   usage: a wrong option or argument, no such account, several and
 *       none chosen
 *   69  EX_UNAVAILABLE: the server cannot be used as configured (TLS,
 *       certificate, not the protocol expected, a missing extension)
 *   75  EX_TEMPFAIL: the server cannot be reached now (refused, timeout,
 *       DNS): try again later
 *   77  EX_NOPERM: the server refused the login
 *   78  EX_CONFIG: the config file (or what it names) must be fixed
 *   130 interrupted
 */
#ifndef MAILFS_CLI_H
#define MAILFS_CLI_H

#include <glib.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNAVAILABLE = 69,
	CLI_EXIT_TEMPFAIL = 75,
	CLI_EXIT_NOPERM = 77,
	CLI_EXIT_CONFIG = 78,
	CLI_EXIT_INTERRUPTED = 130,
};

/* The exit status for a command that failed with ERR (as above). */
int cli_exit_status(const GError *err);

/* Prints "mailfs: CMD: MESSAGE" and "Try 'mailfs CMD --help'." (CMD NULL:
 * "mailfs: MESSAGE", "Try 'mailfs --help'.") to stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Parses the options of the command CMD ("mount", ...) in *ARGC and *ARGV
 * (ARGV[0] is CMD) with ENTRIES, which this adds -h/--help to.  ARGS
 * ("MOUNTPOINT") and SUMMARY are shown by --help, whose usage line is
 * "mailfs CMD [OPTION...] ARGS".  Returns TRUE to go on; FALSE when the
 * command is over, with its exit status in *STATUS: 0 after --help
 * (printed to stdout), CLI_EXIT_USAGE after an unknown or malformed
 * option (one line on stderr, then a hint). */
gboolean cli_parse(const char *cmd, const GOptionEntry *entries,
                   const char *args, const char *summary, int *argc,
                   char ***argv, int *status);

/* The one error line for a config that cannot be used, "mailfs: MESSAGE"
 * on stderr (the message names the file, and for an unknown account the
 * accounts there); returns its exit status: CLI_EXIT_USAGE for
 * MF_ERROR_NOTFOUND (no such account, or several and none chosen), else
 * CLI_EXIT_CONFIG.  CMD is the command, for callers' symmetry. */
int cli_config_error(const char *cmd, const GError *err);

#endif
