/* status_cmd.h - `mailfs status [MOUNTPOINT]`: the .mailfs/status of one
 * mailfs mount or of every one, and the helpers `mailfs umount` uses to
 * find out what a mount still has queued. */
#ifndef MAILFS_STATUS_CMD_H
#define MAILFS_STATUS_CMD_H

#include <glib.h>

/* One mailfs mount, from /proc/self/mountinfo. */
typedef struct {
	char *mountpoint; /* absolute, unescaped */
	char *account;    /* NAME of the fsname "mailfs:NAME" */
	gint64 owner;     /* uid of the user who mounted it (the user_id
	                   * FUSE shows), or -1 if not shown */
} StatusMount;

void status_mount_free(StatusMount *m); /* accepts NULL */

/* Pure: the mailfs mounts (fstype "fuse.mailfs") in TEXT, the contents of
 * a mountinfo file, in its order; a new array of StatusMount* (free func
 * set).  Malformed lines are skipped. */
GPtrArray *status_cmd_parse_mountinfo(const char *text);

/* Pure: the value of KEY in TEXT made of "key: value" lines, or NULL;
 * owned by the caller. */
char *status_cmd_value(const char *text, const char *key);

/* The mailfs mount whose mount point is PATH (made absolute, symbolic
 * links resolved when possible), or NULL if PATH is not one; owned by the
 * caller.  MF_ERROR_LOCAL if mountinfo cannot be read. */
StatusMount *status_cmd_find_mount(const char *path, GError **err);

/* Reads MOUNTPOINT/.mailfs/status, giving up after TIMEOUT_MS so that a
 * daemon that does not answer cannot hang the caller.  Returns the text
 * (owned) or NULL with ERR: MF_ERROR_LOCAL with the cause (a daemon that
 * is gone reads as "Transport endpoint is not connected"),
 * MF_ERROR_CONNECTION on timeout. */
char *status_cmd_read(const char *mountpoint, int timeout_ms, GError **err);

/* How many messages the mailfs mount at MOUNTPOINT still has queued in
 * its outbox (outbox_queued of its status); 0 when it is not a mailfs
 * mount, has no outbox or does not answer within TIMEOUT_MS. */
guint status_cmd_queued(const char *mountpoint, int timeout_ms);

/* `mailfs status`: ARGV[0] is "status".  Without MOUNTPOINT, the mounts of
 * the user who runs it (another user's daemon would refuse it).  Returns
 * the exit status. */
int status_cmd_main(int argc, char **argv);

#endif
