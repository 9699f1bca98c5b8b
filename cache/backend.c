/* backend.c - helpers of the backend contract shared by every backend. */
#include "cache/backend.h"

#include <string.h>

void
remote_folder_free(MfRemoteFolder *f)
{
	if (!f)
		return;
	g_free(f->name);
	g_free(f->path);
	g_free(f);
}

void
backend_params_clear(MfBackendParams *p)
{
	if (!p)
		return;
	url_clear(&p->url);
	g_free(p->ca_file);
	g_free(p->tls_fingerprint);
	g_free(p->user);
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		g_free(p->password);
	}
	tokens_unref(p->tokens);
	memset(p, 0, sizeof *p);
}

gboolean
backend_login(const MfBackendParams *p, MfTokenLoginFn login, void *ud,
              GError **err)
{
	if (p->tokens)
		return tokens_use(p->tokens, login, ud, err);
	return login(p->password ? p->password : "", ud, err);
}

void
folder_delta_clear(MfFolderDelta *d)
{
	if (d->changed)
		g_array_unref(d->changed);
	if (d->gone)
		g_array_unref(d->gone);
	memset(d, 0, sizeof *d);
}
