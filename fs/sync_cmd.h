/* sync_cmd.h - `mailfs sync`: download everything for offline use. */
#ifndef MAILFS_SYNC_CMD_H
#define MAILFS_SYNC_CMD_H

int sync_cmd_main(int argc, char **argv);

#endif
