/* verify_cmd.h - `mailfs verify`: check every cached body (cache/verify.h). */
#ifndef MAILFS_VERIFY_CMD_H
#define MAILFS_VERIFY_CMD_H

int verify_cmd_main(int argc, char **argv);

#endif
