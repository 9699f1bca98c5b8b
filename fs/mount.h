/* mount.h - mounting one account: check the server, mount, daemonize, run
 * the FUSE loop until unmounted. */
#ifndef MAILFS_MOUNT_H
#define MAILFS_MOUNT_H

#include <glib.h>
#include "cache/account.h"
#include "fs/config.h"

typedef struct {
	const char *mountpoint;
	gboolean foreground;
	gboolean debug;
	gboolean read_only; /* --read-only, or read_only = yes */
	gboolean make_mountpoint; /* the config's mount_point: made if missing */
	char **fuse_opts;   /* values of -o, NULL-terminated, or NULL;
	                     * "nonempty" among them is mailfs's own */
} MountOptions;

/* Mounts CFG's account on O->mountpoint.  Returns only when the mount is
 * over (foreground) or, in the parent, once the mount is ready or has
 * failed; the result is the process exit status.  Failures are printed as
 * one line naming the account, the server and the cause.  Refused before
 * anything else: a mount point that is not a directory, not empty
 * (unless -o nonempty) or already a mailfs mount; then a cache directory
 * another mount holds (lock.h).  The password is taken out of CFG (one
 * copy is left, with the account; the outbox keeps its own). */
int mount_run(MfAccountConfig *cfg, const MountOptions *o);

/* For a process that will hold the password: no core dumps, and other
 * processes of the user cannot attach to it or read its memory
 * (PR_SET_DUMPABLE 0; /proc/PID then belongs to root). */
void mount_protect_process(void);

/* Fills *P, the account parameters below fs/, from CFG; P takes
 * PASSWORD.  Clear with account_params_clear(). */
void mount_params(const MfAccountConfig *cfg, char *password,
                  MfAccountParams *p);

/* The token source of CFG's account (cache/tokens.h), or NULL when it
 * logs in with a password.  Owned. */
MfTokens *mount_tokens(const MfAccountConfig *cfg);

/* mount_params() with what the account logs in with: its token source,
 * or the password taken out of CFG (config_take_password).  FALSE with
 * ERR (MF_ERROR_CONFIG) when the password cannot be had. */
gboolean mount_credentials(MfAccountConfig *cfg, MfAccountParams *p,
                           GError **err);

/* Logs in to the server of P (CFG's account) and lists its folders, as a
 * mount does before anything is mounted; the account's store is opened
 * (made if missing).  Errors as account_connect(). */
gboolean mount_check(const MfAccountConfig *cfg, const MfAccountParams *p,
                     GError **err);

/* Prints one line about CFG's account and server: WHAT, the cause, AFTER. */
void mount_say(const MfAccountConfig *cfg, const char *what,
               const GError *err, const char *after);

/* Unmounts MOUNTPOINT.  Returns the exit status; prints the cause. */
int mount_unmount(const char *mountpoint);

#endif
