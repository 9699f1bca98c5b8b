/* mf_error.c - the mailfs error domain. */
#include "net/mf_error.h"

G_DEFINE_QUARK(mailfs-error-quark, mf_error)

gboolean
mf_error_is_transient(const GError *err)
{
	return err && err->domain == MF_ERROR &&
	       (err->code == MF_ERROR_CONNECTION || err->code == MF_ERROR_OFFLINE ||
	        err->code == MF_ERROR_UNSURE);
}
