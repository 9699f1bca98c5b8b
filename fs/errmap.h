/* errmap.h - the one place where mailfs errors become errno values. */
#ifndef MAILFS_ERRMAP_H
#define MAILFS_ERRMAP_H

#include <glib.h>

/* The errno a FUSE reply should carry for ERR (EIO for anything that is
 * not a mailfs error). */
int errmap_to_errno(const GError *err);

/* Whether E, met on a path of a FUSE mount, says its daemon is gone: the
 * kernel answers ENOTCONN once the connection is gone, and ECONNABORTED
 * to a request that was waiting when it went. */
gboolean errmap_daemon_gone(int e);

#endif
