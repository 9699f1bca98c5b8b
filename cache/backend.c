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
backend_params_copy(MfBackendParams *dst, const MfBackendParams *src)
{
	*dst = *src;
	server_params_copy(&dst->server, &src->server);
	dst->tokens = src->tokens ? tokens_ref(src->tokens) : NULL;
}

void
backend_params_clear(MfBackendParams *p)
{
	if (!p)
		return;
	server_params_clear(&p->server);
	tokens_unref(p->tokens);
	memset(p, 0, sizeof *p);
}

gboolean
backend_login(const MfBackendParams *p, MfTokenLoginFn login, void *ud,
              GError **err)
{
	if (p->tokens)
		return tokens_use(p->tokens, login, ud, err);
	return login(p->server.password ? p->server.password : "", ud, err);
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
