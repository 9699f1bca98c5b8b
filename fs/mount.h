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
	char **fuse_opts;   /* values of -o, NULL-terminated, or NULL */
} MountOptions;

/* Mounts CFG's account on O->mountpoint.  Returns only when the mount is
 * over (foreground) or, in the parent, once the mount is ready or has
 * failed; the result is the process exit status.  Failures are printed as
 * one line naming the account, the server and the cause. */
int mount_run(const MfAccountConfig *cfg, const MountOptions *o);

/* Fills *P, the account parameters below fs/, from CFG; P takes
 * PASSWORD.  Clear with account_params_clear(). */
void mount_params(const MfAccountConfig *cfg, char *password,
                  MfAccountParams *p);

/* The backend that serves CFG's account. */
const MfBackend *mount_backend(const MfAccountConfig *cfg);

/* Prints one line about CFG's account and server: WHAT, the cause, AFTER. */
void mount_say(const MfAccountConfig *cfg, const char *what,
               const GError *err, const char *after);

/* Unmounts MOUNTPOINT.  Returns the exit status; prints the cause. */
int mount_unmount(const char *mountpoint);

#endif
