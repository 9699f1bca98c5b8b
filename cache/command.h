/* command.h - runs a command of the user's config (password_command,
 * oauth2_token_command, oauth2_client_secret_command,
 * oauth2_refresh_token_command) with /bin/sh -c, for at most a timeout,
 * in its own process group (a timeout kills everything it started).
 *
 * Secrets never go through argv or the environment: what the command
 * needs is written to its stdin, and what it prints is read from its
 * stdout, into buffers that are wiped.  What it prints is read until the
 * command (the shell) ends, not until the pipe closes: a background child
 * that keeps stdout open does not make it wait.  Only its first line is
 * kept; what follows is read and dropped, so that a command that prints
 * more (pass prints the whole entry) is not stopped by SIGPIPE.
 *
 * Errors are MF_ERROR_CONFIG, with a message that follows the command's
 * name: "exited with status 1", "timed out after 30 s", "printed an empty
 * first line", ...  The caller puts the name in front.
 */
#ifndef MAILFS_COMMAND_H
#define MAILFS_COMMAND_H

#include <glib.h>

/* Largest output read before its first line ends. */
#define COMMAND_OUTPUT_MAX (64 * 1024)

typedef struct {
	guint timeout_s;    /* 0: 30 */
	const char *arg;    /* the command's $1, or NULL for none */
	const char *input;  /* written to its stdin (at most 60 KiB), then
	                     * closed; NULL: stdin is /dev/null */
} CommandOptions;

/* Runs CMD as O says; with FIRST_LINE, its output's first line (without
 * CR/LF; it must not be empty nor hold a NUL) goes to *FIRST_LINE, owned,
 * to be freed with command_wipe_free().  The exit status must be 0. */
gboolean command_run(const char *cmd, const CommandOptions *o,
                     char **first_line, GError **err);

/* Wipes and frees S; accepts NULL. */
void command_wipe_free(char *s);

#endif
