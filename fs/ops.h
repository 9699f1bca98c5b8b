/* ops.h - the FUSE low-level operations of a mounted account: the mail
 * tree (ops.c) and outbox/ (outbox_ops.c).  Inode numbers: see node.h. */
#ifndef MAILFS_OPS_H
#define MAILFS_OPS_H

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "cache/account.h"
#include "cache/outbox.h"

/* Each fs module keeps its own state, created by its init function and
 * freed by its cleanup; MfFs holds only what the whole mount shares. */
typedef struct CtlState CtlState;       /* ctl_ops.c: .mailfs/ snapshots */
typedef struct StagedState StagedState; /* staged.c: files being written */
typedef struct NodeHandles NodeHandles; /* node.c: open file handles */

typedef struct {
	MfAccount *account;
	MfOutbox *outbox; /* outbox/ when the account has smtp; or NULL */
	uid_t uid;        /* owner shown for every file */
	gid_t gid;
	time_t started;   /* mtime of directories */
	gboolean expunge; /* rm expunges instead of moving to \Trash */
	gboolean read_only; /* read_only = yes: ro_ops.c */
	gboolean no_open;   /* ... and the kernel sends no OPEN */
	CtlState *ctl;        /* ctl_ops_init() */
	StagedState *staged;  /* staged_init(), by folder_ops_init() */
	NodeHandles *handles; /* node_handles_init() */
	struct Inval *inval; /* kernel entry invalidations (inval.h) */
	struct ViewFs *views; /* .mailfs/view/: fs/view_ops.c */
} MfFs;

extern const struct fuse_lowlevel_ops ops_table;

#endif
