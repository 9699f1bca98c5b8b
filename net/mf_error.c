/* mf_error.c - the mailfs error domain. */
#include "net/mf_error.h"

#include <stdarg.h>

G_DEFINE_QUARK(mailfs-error-quark, mf_error)

gboolean
mf_error_config(GError **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, MF_ERROR, MF_ERROR_CONFIG, msg);
	return FALSE;
}

gboolean
mf_error_is_transient(const GError *err)
{
	return err && err->domain == MF_ERROR &&
	       (err->code == MF_ERROR_CONNECTION || err->code == MF_ERROR_OFFLINE ||
	        err->code == MF_ERROR_UNSURE);
}

gboolean
mf_error_check(gboolean ok, GError **err, const char *what)
{
	g_return_val_if_fail(err != NULL, ok);
	if (!ok && !*err) {
		g_critical("%s failed without an error (a bug)", what);
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "internal error: %s "
		            "failed without saying why", what);
	} else if (ok && *err) {
		g_critical("%s succeeded with an error set (a bug): %s", what,
		           (*err)->message);
		g_clear_error(err);
	}
	return ok;
}
