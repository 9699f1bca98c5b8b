/* login_cmd.h - `mailfs login`: signs an account in with OAuth 2.0 (the
 * device authorization grant) and keeps its refresh token. */
#ifndef MAILFS_LOGIN_CMD_H
#define MAILFS_LOGIN_CMD_H

/* The command with its ARGC, ARGV (argv[0] is "login"); the exit status:
 * 0 signed in (and the server takes the token), 1 refused or failed, 2 a
 * usage error. */
int login_cmd_main(int argc, char **argv);

#endif
