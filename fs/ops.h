/* ops.h - the FUSE low-level operations of a mounted account.
 *
 * Inode numbers are computed, not allocated, so they are stable across
 * remounts and need no table (forget is a no-op):
 *   1                     the mount root
 *   2                     outbox/
 *   0x100 + folder id     a folder (folder ids are < 2^31)
 *   gen << 32 | uid       a message: gen names (folder, UIDVALIDITY)
 */
#ifndef MAILFS_OPS_H
#define MAILFS_OPS_H

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "cache/account.h"

typedef struct {
	MfAccount *account;
	gboolean outbox;  /* show outbox/ at the root */
	uid_t uid;        /* owner shown for every file */
	gid_t gid;
	time_t started;   /* mtime of directories */
} MfFs;

extern const struct fuse_lowlevel_ops ops_table;

#endif
