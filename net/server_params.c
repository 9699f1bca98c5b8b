/* server_params.c - copying and wiping the parameters of one server (see
 * server_params.h). */
#include "net/server_params.h"

#include <string.h>

void
server_params_copy(MfServerParams *dst, const MfServerParams *src)
{
	*dst = *src;
	dst->url.host = g_strdup(src->url.host);
	dst->ca_file = g_strdup(src->ca_file);
	dst->tls_fingerprint = g_strdup(src->tls_fingerprint);
	dst->user = g_strdup(src->user);
	dst->password = g_strdup(src->password);
}

void
server_params_forget_password(MfServerParams *p)
{
	if (!p || !p->password)
		return;
	explicit_bzero(p->password, strlen(p->password));
	g_clear_pointer(&p->password, g_free);
}

void
server_params_clear(MfServerParams *p)
{
	if (!p)
		return;
	server_params_forget_password(p);
	url_clear(&p->url);
	g_free(p->ca_file);
	g_free(p->tls_fingerprint);
	g_free(p->user);
	memset(p, 0, sizeof *p);
}

MfConnTlsConfig
server_params_tls(const MfServerParams *p)
{
	MfConnTlsConfig tls = {
		.ca_file = p->ca_file,
		.fingerprint = p->tls_fingerprint,
		.host = p->url.host,
	};
	return tls;
}
