/* errmap.h - the one place where mailfs errors become errno values. */
#ifndef MAILFS_ERRMAP_H
#define MAILFS_ERRMAP_H

#include <glib.h>

/* The errno a FUSE reply should carry for ERR (EIO for anything that is
 * not a mailfs error). */
int errmap_to_errno(const GError *err);

#endif
