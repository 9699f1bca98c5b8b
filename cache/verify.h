/* verify.h - `mailfs verify`: the full integrity check of an account's
 * cache.  Bodies are hashed as they are written, and an open checks the
 * hash again only when the file is not the one recorded (another mtime);
 * this reads every body and compares it with its SHA-256.  A body that
 * fails is removed, so it is fetched again and never served.  Safe while
 * the account is mounted (the store is shared as with `mailfs sync`). */
#ifndef MAILFS_VERIFY_H
#define MAILFS_VERIFY_H

#include <glib.h>

typedef struct {
	guint checked;  /* bodies read and hashed */
	guint damaged;  /* of them, removed */
} MfVerifyResult;

/* Called after each body with the number done and the total. */
typedef void (*MfVerifyProgress)(guint done, guint total, void *ud);

/* Checks every body of the cache in CACHE_DIR.  MF_ERROR_NOTFOUND if it
 * holds no cache, MF_ERROR_LOCAL if it cannot be read. */
gboolean verify_cache(const char *cache_dir, MfVerifyProgress progress,
                      void *ud, MfVerifyResult *out, GError **err);

#endif
