/* lock.h - the lock of a cache directory: one mount at a time, and so one
 * outbox sender.
 *
 * The lock is flock(LOCK_EX) on `cache_dir/lock`, taken by `mailfs mount`
 * before it asks for the password or checks the server, and held by its
 * daemon until it ends (the open file is inherited across
 * fuse_daemonize()'s fork; the kernel drops the lock when the last holder
 * ends, however it ends, so a lock is never stale).  The file says who
 * holds it: "PID MOUNTPOINT\n".  Whoever sends from cache_dir/outbox must
 * hold it.  `mailfs sync` does not take it and runs beside a mount: the
 * index is SQLite, shared safely between processes. */
#ifndef MAILFS_LOCK_H
#define MAILFS_LOCK_H

#include <glib.h>

typedef struct CacheLock CacheLock;

/* Takes the lock of DIR (created 0700 with its parents if missing) for a
 * mount on MOUNTPOINT, recording this process's pid.  Never waits.
 * Errors: MF_ERROR_BUSY when another process holds it, with a message
 * naming DIR, its pid and its mount point ("cache directory DIR is in use
 * by mailfs pid 1234, mounted on /mnt/mail"); MF_ERROR_LOCAL when the
 * directory or file cannot be made or locked.  A file system without
 * locks (flock answers ENOLCK or EOPNOTSUPP) gives a lock that locks
 * nothing, and a warning in the log. */
CacheLock *lock_take(const char *dir, const char *mountpoint, GError **err);

/* Records the calling process as the holder: for the daemon, whose pid
 * is not the one that took the lock.  Best effort (the lock itself holds
 * whatever this writes). */
void lock_set_pid(CacheLock *l);

/* Pure: the holder named by TEXT, the contents of a lock file, as "pid
 * 1234, mounted on /mnt/mail"; "pid unknown" when TEXT names none.
 * Owned by the caller. */
char *lock_describe_holder(const char *text);

/* Releases the lock (in this process: a child that inherited it still
 * holds it) and frees; accepts NULL. */
void lock_release(CacheLock *l);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CacheLock, lock_release)

#endif
