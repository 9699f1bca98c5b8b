/* verify.c - `mailfs verify` (see verify.h) on top of store_verify(). */
#include "cache/verify.h"

#include "cache/store.h"
#include "net/mf_error.h"

gboolean
verify_cache(const char *cache_dir, MfVerifyProgress progress, void *ud,
             MfVerifyResult *out, GError **err)
{
	if (!store_exists(cache_dir)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "no cache in %s (nothing was mounted or synced "
		            "there)", cache_dir);
		return FALSE;
	}
	Store *s = store_open(cache_dir, err);
	MfVerifyResult r = { 0 };

	if (!s)
		return FALSE;
	gboolean ok = store_verify(s, (StoreVerifyFn)progress, ud, &r.checked,
	                           &r.damaged, err);
	store_close(s);
	if (ok)
		*out = r;
	return ok;
}
