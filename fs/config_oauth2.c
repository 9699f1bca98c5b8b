/* config_oauth2.c - the `auth` and oauth2_* keys of an account, checked
 * together, and the presets of Google and Microsoft (see
 * config_oauth2.h). */
#include "fs/config_int.h"

#include <string.h>

/* What a preset fills in when the file does not say. */
typedef struct {
	const char *name;
	const char *token_url;
	const char *device_url;
	const char *scope;
} OAuth2Preset;

/* The scopes cover IMAP, POP3 and SMTP.  Microsoft's "common" endpoints
 * take work, school and personal accounts of apps registered for all of
 * them; an app of one tenant sets its own URLs (mailfs.conf(5)). */
static const OAuth2Preset presets[] = {
	{ "google", "https://oauth2.googleapis.com/token",
	  "https://oauth2.googleapis.com/device/code",
	  "https://mail.google.com/" },
	{ "microsoft",
	  "https://login.microsoftonline.com/common/oauth2/v2.0/token",
	  "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
	  "offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
	  "https://outlook.office.com/POP.AccessAsUser.All "
	  "https://outlook.office.com/SMTP.Send" },
};

static const OAuth2Preset *
config_oauth2_preset(const char *name)
{
	for (gsize i = 0; name && i < G_N_ELEMENTS(presets); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

/* ---- one parser per key (their rows are in config_keys.c) ---- */

gboolean
config_key_auth(const ConfigFile *f, MfAccountConfig *cfg, const char *value,
                GError **err)
{
	if (!sasl_auth_from_name(value, &cfg->oauth2.auth))
		return mf_error_config(err, "'%.32s' is not password, oauth2, "
		                       "plain, login, xoauth2 or oauthbearer",
		                       value);
	cfg->oauth2.auth_set = TRUE;
	return TRUE;
}

gboolean
config_key_provider(const ConfigFile *f, MfAccountConfig *cfg,
                    const char *value, GError **err)
{
	g_autofree char *lower = g_ascii_strdown(value, -1);

	if (!config_require_trusted(f, err))
		return FALSE;
	if (!config_oauth2_preset(lower))
		return mf_error_config(err, "'%.32s' is not google or "
		                       "microsoft", value);
	cfg->oauth2.provider = g_steal_pointer(&lower);
	return TRUE;
}

/* An endpoint: https:// only, and only from a file nobody else can
 * change (it decides where the refresh token goes). */
static gboolean
config_parse_endpoint(const ConfigFile *f, const char *value, char **out,
                      GError **err)
{
	if (!config_require_trusted(f, err))
		return FALSE;
	if (g_ascii_strncasecmp(value, "https://", 8) != 0 || !value[8] ||
	    strpbrk(value, " \t"))
		return mf_error_config(err, "'%.200s' is not an https:// URL",
		                       value);
	*out = g_strdup(value);
	return TRUE;
}

gboolean
config_key_issuer(const ConfigFile *f, MfAccountConfig *cfg,
                  const char *value, GError **err)
{
	return config_parse_endpoint(f, value, &cfg->oauth2.issuer, err);
}

gboolean
config_key_token_url(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	return config_parse_endpoint(f, value, &cfg->oauth2.token_url, err);
}

gboolean
config_key_device_url(const ConfigFile *f, MfAccountConfig *cfg,
                      const char *value, GError **err)
{
	return config_parse_endpoint(f, value, &cfg->oauth2.device_url, err);
}

gboolean
config_key_client_id(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	cfg->oauth2.client_id = g_strdup(value);
	return TRUE;
}

gboolean
config_key_scope(const ConfigFile *f, MfAccountConfig *cfg,
                 const char *value, GError **err)
{
	cfg->oauth2.scope = g_strdup(value);
	return TRUE;
}

/* A command, as password_command: from a file nobody else can change. */
static gboolean
config_parse_command(const ConfigFile *f, const char *value, char **out,
                     GError **err)
{
	if (!config_require_trusted(f, err))
		return FALSE;
	*out = g_strdup(value);
	return TRUE;
}

gboolean
config_key_token_command(const ConfigFile *f, MfAccountConfig *cfg,
                         const char *value, GError **err)
{
	return config_parse_command(f, value, &cfg->oauth2.token_command, err);
}

gboolean
config_key_secret_command(const ConfigFile *f, MfAccountConfig *cfg,
                          const char *value, GError **err)
{
	return config_parse_command(f, value,
	                            &cfg->oauth2.client_secret_command, err);
}

gboolean
config_key_refresh_command(const ConfigFile *f, MfAccountConfig *cfg,
                           const char *value, GError **err)
{
	return config_parse_command(f, value,
	                            &cfg->oauth2.refresh_token_command, err);
}

/* ---- the keys together ---- */

gboolean
config_oauth2_has_tokens(const MfAccountConfig *cfg)
{
	return cfg->oauth2.token_command || cfg->oauth2.client_id;
}

/* The keys of the built-in client, when it is not used: the first
 * given, or NULL. */
static const char *
config_oauth2_client_key(const MfOAuth2Config *o)
{
	if (o->provider)
		return "oauth2_provider";
	if (o->issuer)
		return "oauth2_issuer";
	if (o->token_url)
		return "oauth2_token_url";
	if (o->device_url)
		return "oauth2_device_url";
	if (o->client_secret_command)
		return "oauth2_client_secret_command";
	if (o->scope)
		return "oauth2_scope";
	if (o->refresh_token_command)
		return "oauth2_refresh_token_command";
	return NULL;
}

static gboolean
config_oauth2_check_client(const MfOAuth2Config *o, GError **err)
{
	const char *other = config_oauth2_client_key(o);

	if (o->token_command && o->client_id)
		return mf_error_config(err, "oauth2_token_command: give "
		                       "oauth2_token_command or the built-in "
		                       "client (oauth2_client_id), not both");
	if (!o->client_id && other)
		return mf_error_config(err, "oauth2_client_id: required key is "
		                       "missing (with %s)", other);
	if (o->client_id && !o->provider && !o->issuer && !o->token_url)
		return mf_error_config(err, "oauth2_client_id: the built-in "
		                       "client needs oauth2_provider, "
		                       "oauth2_issuer or oauth2_token_url");
	return TRUE;
}

gboolean
config_oauth2_check(const MfAccountConfig *cfg, GError **err)
{
	const MfOAuth2Config *o = &cfg->oauth2;
	gboolean tokens = config_oauth2_has_tokens(cfg);

	if (!config_oauth2_check_client(o, err))
		return FALSE;
	if (tokens && (cfg->password || cfg->password_command))
		return mf_error_config(err, "%s: give a password or an OAuth2 "
		                       "token source (%s), not both",
		                       cfg->password 		                       ? "password" : "password_command",
		                       o->token_command ? "oauth2_token_command" 		                                    : "oauth2_client_id");
	if (o->auth_set && sasl_auth_is_oauth2(o->auth) && !tokens)
		return mf_error_config(err, "auth: logs in with an access "
		                       "token, but the account has no "
		                       "oauth2_token_command nor "
		                       "oauth2_client_id");
	if (o->auth_set && !sasl_auth_is_oauth2(o->auth) && tokens)
		return mf_error_config(err, "auth: logs in with a password, "
		                       "but the account gets OAuth2 tokens "
		                       "(use oauth2, xoauth2 or oauthbearer)");
	return TRUE;
}

/* ---- defaults ---- */

void
config_oauth2_defaults(MfAccountConfig *cfg)
{
	MfOAuth2Config *o = &cfg->oauth2;
	const OAuth2Preset *p = config_oauth2_preset(o->provider);

	if (!o->auth_set)
		o->auth = config_oauth2_has_tokens(cfg) ? SASL_AUTH_OAUTH2
		                                        : SASL_AUTH_PASSWORD;
	if (p && !o->token_url && !o->issuer)
		o->token_url = g_strdup(p->token_url);
	if (p && !o->device_url && !o->issuer)
		o->device_url = g_strdup(p->device_url);
	if (p && !o->scope)
		o->scope = g_strdup(p->scope);
	if (o->client_id && !o->refresh_token_command &&
	    !o->refresh_token_file) {
		g_autofree char *base = config_xdg_dir("XDG_DATA_HOME",
		                                       ".local/share");
		g_autofree char *name = g_strdup_printf("%s.refresh-token",
		                                        cfg->name);
		o->refresh_token_file = g_build_filename(base, "mailfs", name,
		                                         NULL);
	}
}

void
config_oauth2_clear(MfOAuth2Config *o)
{
	char **strs[] = { &o->provider, &o->issuer, &o->token_url,
	                  &o->device_url, &o->client_id,
	                  &o->client_secret_command, &o->scope,
	                  &o->token_command, &o->refresh_token_command,
	                  &o->refresh_token_file };

	for (gsize i = 0; i < G_N_ELEMENTS(strs); i++)
		g_clear_pointer(strs[i], g_free);
}
