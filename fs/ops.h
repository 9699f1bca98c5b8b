/* ops.h - the FUSE low-level operations of a mounted account: the mail
 * tree (ops.c) and outbox/ (outbox_ops.c).  Inode numbers: see node.h. */
#ifndef MAILFS_OPS_H
#define MAILFS_OPS_H

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "cache/account.h"
#include "cache/outbox.h"

typedef struct {
	MfAccount *account;
	MfOutbox *outbox; /* outbox/ when the account has smtp; or NULL */
	uid_t uid;        /* owner shown for every file */
	gid_t gid;
	time_t started;   /* mtime of directories */
	gboolean expunge; /* rm expunges instead of moving to \Trash */
	gboolean read_only; /* read_only = yes: ro_ops.c */
	gboolean no_open;   /* ... and the kernel sends no OPEN */
	GMutex ctl_lock;
	char *ctl_text[2];    /* .mailfs/status and log as last shown */
	gint64 ctl_taken[2];  /* when (monotonic µs) */
	char *staging;    /* directory of files being written into folders */
	GMutex staged_lock;
	GHashTable *staged; /* id -> Staged (staged.c) */
	GHashTable *staged_mtimes; /* folder id -> last change (staged.c) */
	gint64 staged_next;
	struct Inval *inval; /* kernel entry invalidations (inval.h) */
	GMutex handles_lock;
	GHashTable *handles; /* open file handles -> their free function */
	struct ViewFs *views; /* .mailfs/view/: fs/view_ops.c */
} MfFs;

extern const struct fuse_lowlevel_ops ops_table;

#endif
