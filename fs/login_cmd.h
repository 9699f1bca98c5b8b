/* login_cmd.h - `mailfs login`: signs an account in with OAuth 2.0 (the
 * device authorization grant) and keeps its refresh token. */
#ifndef MAILFS_LOGIN_CMD_H
#define MAILFS_LOGIN_CMD_H

/* The command with its ARGC, ARGV (argv[0] is "login"); the exit status
 * (cli.h): 0 signed in and the server takes the token; 77 the sign-in or
 * the token refused; 75 a server or the provider unreachable; 78 the
 * config (a password account, no device endpoint); 2 a usage error. */
int login_cmd_main(int argc, char **argv);

#endif
