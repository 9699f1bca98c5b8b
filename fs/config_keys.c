/* config_keys.c - the known keys of an account, each with its value parser. */
#include "fs/config_int.h"

#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* ---- values ---- */

gboolean
config_has_control(const char *s)
{
	for (; *s; s++) {
		if (((guchar)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return TRUE;
	}
	return FALSE;
}

/* Parses decimal S into *OUT, which must lie in MIN..MAX. */
static gboolean
config_parse_uint(const char *s, guint min, guint max, guint *out,
                  GError **err)
{
	guint64 v = 0;
	size_t n;

	for (n = 0; g_ascii_isdigit(s[n]); n++) {
		v = v * 10 + (guint64)(s[n] - '0');
		if (v > max)
			break;
	}
	if (n == 0 || s[n] != '\0' || v < min || v > max)
		return mf_error_config(err, "'%.32s' is not a number from %u "
		                       "to %u", s, min, max);
	*out = (guint)v;
	return TRUE;
}

/* Parses URL S into *DST, whose scheme must be PLAIN or TLS. */
static gboolean
config_parse_url(const char *s, UrlScheme plain, UrlScheme tls, MfUrl *dst,
                 gboolean *has, GError **err)
{
	MfUrl u = { 0 };

	if (!url_parse(s, &u, err))
		return FALSE;
	if (u.scheme != plain && u.scheme != tls) {
		mf_error_config(err, "URL scheme must be %s:// or %s://, not "
		                "%s://", url_scheme_name(plain),
		                url_scheme_name(tls), url_scheme_name(u.scheme));
		url_clear(&u);
		return FALSE;
	}
	*dst = u;
	*has = TRUE;
	return TRUE;
}

/* ---- one parser per key ---- */

static gboolean
config_key_imap(const ConfigFile *f, MfAccountConfig *cfg, const char *value,
                GError **err)
{
	return config_parse_url(value, URL_IMAP, URL_IMAPS, &cfg->imap,
	                        &cfg->has_imap, err);
}

static gboolean
config_key_pop3(const ConfigFile *f, MfAccountConfig *cfg, const char *value,
                GError **err)
{
	return config_parse_url(value, URL_POP3, URL_POP3S, &cfg->pop3,
	                        &cfg->has_pop3, err);
}

static gboolean
config_key_smtp(const ConfigFile *f, MfAccountConfig *cfg, const char *value,
                GError **err)
{
	return config_parse_url(value, URL_SMTP, URL_SMTPS, &cfg->smtp,
	                        &cfg->has_smtp, err);
}

static gboolean
config_key_user(const ConfigFile *f, MfAccountConfig *cfg, const char *value,
                GError **err)
{
	cfg->user = g_strdup(value);
	return TRUE;
}

/* The literal password; never echoed in a message. */
static gboolean
config_key_password(const ConfigFile *f, MfAccountConfig *cfg,
                    const char *value, GError **err)
{
	if (!f->is_private)
		return mf_error_config(err, "a literal password is only "
		                       "accepted from a file that no other "
		                       "user can read (chmod 600 %s), or use "
		                       "password_command", f->path);
	if (*value == '\0')
		return mf_error_config(err, "empty value");
	if (config_has_control(value))
		return mf_error_config(err, "value contains a control "
		                       "character");
	cfg->password = g_strdup(value);
	return TRUE;
}

/* Whoever can change the file can make us run any command, or send the
 * password to a server of theirs: like the literal password, it is only
 * accepted from a file nobody else can write. */
gboolean
config_require_trusted(const ConfigFile *f, GError **err)
{
	if (!f->is_trusted && f->owner != geteuid() && f->owner != 0)
		return mf_error_config(err, "only accepted from a file of "
		                       "your own (it belongs to uid %u: chown "
		                       "%u %s, or copy it)", (unsigned)f->owner,
		                       (unsigned)geteuid(), f->path);
	if (!f->is_trusted)
		return mf_error_config(err, "only accepted from a file that "
		                       "no other user can change (mode %04o: "
		                       "chmod go-w %s)", (unsigned)f->mode,
		                       f->path);
	return TRUE;
}

static gboolean
config_key_password_command(const ConfigFile *f, MfAccountConfig *cfg,
                            const char *value, GError **err)
{
	if (!config_require_trusted(f, err))
		return FALSE;
	cfg->password_command = g_strdup(value);
	return TRUE;
}

/* A light check: one '@' with something on both sides. */
static gboolean
config_key_from(const ConfigFile *f, MfAccountConfig *cfg, const char *value,
                GError **err)
{
	const char *at = strchr(value, '@');

	if (!at || at == value || at[1] == '\0' || strchr(at + 1, '@'))
		return mf_error_config(err, "'%.200s' is not an address like "
		                       "alice@example.com", value);
	cfg->from = g_strdup(value);
	return TRUE;
}

/* Expands "~/" in VALUE into *OUT, which must be absolute. */
static gboolean
config_parse_path(const char *value, char **out, GError **err)
{
	g_autofree char *path = config_expand_home(value);

	if (!g_path_is_absolute(path))
		return mf_error_config(err, "'%.200s' must be an absolute "
		                       "path or start with ~/", value);
	*out = g_steal_pointer(&path);
	return TRUE;
}

static gboolean
config_key_ca_file(const ConfigFile *f, MfAccountConfig *cfg,
                   const char *value, GError **err)
{
	return config_parse_path(value, &cfg->ca_file, err);
}

static gboolean
config_key_cache_dir(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	return config_parse_path(value, &cfg->cache_dir, err);
}

/* "sha256:" and 64 hex digits, optionally with ':' between byte pairs;
 * stored as "sha256:" and 64 lower-case digits. */
static gboolean
config_key_tls_fingerprint(const ConfigFile *f, MfAccountConfig *cfg,
                           const char *value, GError **err)
{
	static const char prefix[] = "sha256:";
	g_autoptr(GString) out = g_string_new(prefix);
	size_t digits = 0;

	if (g_ascii_strncasecmp(value, prefix, strlen(prefix)) != 0)
		goto bad;
	for (const char *p = value + strlen(prefix); *p; p++) {
		if (g_ascii_isxdigit(*p) && ++digits <= 64)
			g_string_append_c(out, g_ascii_tolower(*p));
		else if (*p != ':' || digits == 0 || digits % 2 != 0 ||
		         p[-1] == ':' || p[1] == '\0')
			goto bad;
	}
	if (digits != 64)
		goto bad;
	cfg->tls_fingerprint = g_string_free(g_steal_pointer(&out), FALSE);
	return TRUE;
bad:
	return mf_error_config(err, "must be sha256: followed by 64 hex digits "
	                       "(colons between pairs allowed)");
}

static gboolean
config_key_timeout(const ConfigFile *f, MfAccountConfig *cfg,
                   const char *value, GError **err)
{
	return config_parse_uint(value, 1, 3600, &cfg->timeout, err);
}

static gboolean
config_key_max_connections(const ConfigFile *f, MfAccountConfig *cfg,
                           const char *value, GError **err)
{
	return config_parse_uint(value, 1, 16, &cfg->max_connections, err);
}

static gboolean
config_key_refresh_interval(const ConfigFile *f, MfAccountConfig *cfg,
                            const char *value, GError **err)
{
	return config_parse_uint(value, 1, 86400, &cfg->refresh_interval, err);
}

/* The power of 1024 that the unit at U stands for ("K", "KB", "KiB", and
 * so on up to T, in any case; "B" or nothing: 0), or -1. */
static int
config_size_unit(const char *u)
{
	static const char units[] = "KMGT";
	const char *at = *u ? strchr(units, g_ascii_toupper(*u)) : NULL;

	if (*u == '\0' || g_ascii_strcasecmp(u, "B") == 0)
		return 0;
	if (!at)
		return -1;
	if (u[1] == '\0' || g_ascii_strcasecmp(u + 1, "B") == 0 ||
	    g_ascii_strcasecmp(u + 1, "iB") == 0)
		return (int)(at - units) + 1;
	return -1;
}

/* "2G", "2GB", "2GiB", "500M", "64K", "1T" (all powers of 1024) or plain
 * bytes into *OUT. */
static gboolean
config_parse_size(const char *value, guint64 *out, GError **err)
{
	guint64 v = 0;
	size_t n;

	for (n = 0; g_ascii_isdigit(value[n]); n++) {
		if (v > (G_MAXUINT64 - 9) / 10)
			goto bad;
		v = v * 10 + (guint64)(value[n] - '0');
	}
	int power = config_size_unit(value + n);
	if (n == 0 || power < 0)
		goto bad;
	for (int i = 0; i < power; i++) {
		if (v > G_MAXUINT64 / 1024)
			goto bad;
		v *= 1024;
	}
	*out = v;
	return TRUE;
bad:
	return mf_error_config(err, "'%.32s' is not a size like 500M or 2G",
	                       value);
}

/* "0" means no limit. */
static gboolean
config_key_cache_max(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	return config_parse_size(value, &cfg->cache_max, err);
}

/* The largest message mailfs accepts from a server (it is streamed to
 * disk whatever its size; this bounds the disk it may take). */
static gboolean
config_key_message_max(const ConfigFile *f, MfAccountConfig *cfg,
                       const char *value, GError **err)
{
	guint64 v = 0;

	if (!config_parse_size(value, &v, err))
		return FALSE;
	if (v < 1024)
		return mf_error_config(err, "'%.32s' is below 1K", value);
	cfg->message_max = v;
	return TRUE;
}

/* yes/no, true/false, on/off, 1/0 into *OUT. */
static gboolean
config_parse_bool(const char *value, gboolean *out, GError **err)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (guint i = 0; yes[i]; i++) {
		if (g_ascii_strcasecmp(value, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(value, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	}
	return mf_error_config(err, "'%.32s' is not yes or no", value);
}

static gboolean
config_key_save_sent(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	return config_parse_bool(value, &cfg->save_sent, err);
}

static gboolean
config_key_leave_on_server(const ConfigFile *f, MfAccountConfig *cfg,
                           const char *value, GError **err)
{
	return config_parse_bool(value, &cfg->leave_on_server, err);
}

static gboolean
config_key_read_only(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	return config_parse_bool(value, &cfg->read_only, err);
}

/* delete = trash | expunge */
static gboolean
config_key_delete(const ConfigFile *f, MfAccountConfig *cfg,
                  const char *value, GError **err)
{
	if (g_ascii_strcasecmp(value, "trash") == 0)
		cfg->delete_expunge = FALSE;
	else if (g_ascii_strcasecmp(value, "expunge") == 0)
		cfg->delete_expunge = TRUE;
	else
		return mf_error_config(err, "'%.32s' is not trash or expunge",
		                       value);
	return TRUE;
}

static gboolean
config_key_poll_interval(const ConfigFile *f, MfAccountConfig *cfg,
                         const char *value, GError **err)
{
	return config_parse_uint(value, 1, 86400, &cfg->poll_interval, err);
}

/* ---- what `mailfs mount` and `mailfs sync` do by default ---- */

static gboolean
config_key_default(const ConfigFile *f, MfAccountConfig *cfg,
                   const char *value, GError **err)
{
	return config_parse_bool(value, &cfg->is_default, err);
}

static gboolean
config_key_mount_point(const ConfigFile *f, MfAccountConfig *cfg,
                       const char *value, GError **err)
{
	return config_parse_path(value, &cfg->mount_point, err);
}

/* Folder patterns separated by blanks, quoted as in a shell when a name
 * holds one: Archive* '!Junk' "Old mail". */
static gboolean
config_key_sync_folders(const ConfigFile *f, MfAccountConfig *cfg,
                        const char *value, GError **err)
{
	g_auto(GStrv) words = NULL;

	if (!g_shell_parse_argv(value, NULL, &words, NULL))
		return mf_error_config(err, "'%.100s' is not a list of folder "
		                       "patterns (quote a name that holds a "
		                       "space or a quote)", value);
	for (char **w = words; *w; w++)
		if (**w == '\0' || strcmp(*w, "!") == 0)
			return mf_error_config(err, "an empty folder pattern");
	cfg->sync_folders = g_steal_pointer(&words);
	return TRUE;
}

static gboolean
config_key_max_message_size(const ConfigFile *f, MfAccountConfig *cfg,
                            const char *value, GError **err)
{
	return config_parse_size(value, &cfg->max_message_size, err);
}

/* Days: "90", "90d", "12w", "6m" (30 days) or "1y" (365 days); 0: no
 * limit. */
static gboolean
config_key_max_age(const ConfigFile *f, MfAccountConfig *cfg,
                   const char *value, GError **err)
{
	static const char units[] = "dwmy";
	static const guint days[] = { 1, 7, 30, 365 };
	g_autofree char *num = g_strdup(value);
	size_t n = strlen(num);
	const char *u = n ? strchr(units, g_ascii_tolower(num[n - 1])) : NULL;
	guint v = 0;

	if (u && *u)
		num[n - 1] = '\0';
	if (!config_parse_uint(num, 0, 36500, &v, NULL) ||
	    (guint64)v * days[u && *u ? u - units : 0] > 36500)
		return mf_error_config(err, "'%.32s' is not an age like 90 "
		                       "(days), 12w, 6m or 1y, up to 100 years",
		                       value);
	cfg->max_age = v * days[u && *u ? u - units : 0];
	return TRUE;
}

/* ---- logging and sending ---- */

static gboolean
config_key_log_file(const ConfigFile *f, MfAccountConfig *cfg,
                    const char *value, GError **err)
{
	return config_parse_path(value, &cfg->log_file, err);
}

static gboolean
config_key_log_level(const ConfigFile *f, MfAccountConfig *cfg,
                     const char *value, GError **err)
{
	static const struct {
		const char *name;
		int prio;
	} levels[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
		if (g_ascii_strcasecmp(value, levels[i].name) == 0) {
			cfg->log_level = levels[i].prio;
			return TRUE;
		}
	}
	return mf_error_config(err, "'%.32s' is not error, warning, info or "
	                       "debug", value);
}

/* A folder's display path, as shown in the mount: "Sent" or
 * "Archive/Sent". */
static gboolean
config_key_sent_folder(const ConfigFile *f, MfAccountConfig *cfg,
                       const char *value, GError **err)
{
	if (value[0] == '/' || g_str_has_suffix(value, "/") ||
	    strstr(value, "//"))
		return mf_error_config(err, "'%.100s' is not a folder as the "
		                       "mount shows it, such as Sent or "
		                       "Archive/Sent", value);
	cfg->sent_folder = g_strdup(value);
	return TRUE;
}

/* Every key an account may have.  Add a key here, in MfAccountConfig and
 * in docs/mailfs.conf.5 (tests/check_config_keys.py compares them). */
static const ConfigKey config_keys[] = {
	{ "imap", FALSE, config_key_imap },
	{ "pop3", FALSE, config_key_pop3 },
	{ "smtp", FALSE, config_key_smtp },
	{ "user", FALSE, config_key_user },
	{ "password", TRUE, config_key_password },
	{ "password_command", FALSE, config_key_password_command },
	{ "from", FALSE, config_key_from },
	{ "ca_file", FALSE, config_key_ca_file },
	{ "tls_fingerprint", FALSE, config_key_tls_fingerprint },
	{ "cache_dir", FALSE, config_key_cache_dir },
	{ "timeout", FALSE, config_key_timeout },
	{ "max_connections", FALSE, config_key_max_connections },
	{ "refresh_interval", FALSE, config_key_refresh_interval },
	{ "cache_max", FALSE, config_key_cache_max },
	{ "message_max", FALSE, config_key_message_max },
	{ "save_sent", FALSE, config_key_save_sent },
	{ "leave_on_server", FALSE, config_key_leave_on_server },
	{ "poll_interval", FALSE, config_key_poll_interval },
	{ "delete", FALSE, config_key_delete },
	{ "read_only", FALSE, config_key_read_only },
	/* the default account, mount point and prefetch */
	{ "default", FALSE, config_key_default },
	{ "mount_point", FALSE, config_key_mount_point },
	{ "sync_folders", FALSE, config_key_sync_folders },
	{ "max_message_size", FALSE, config_key_max_message_size },
	{ "max_age", FALSE, config_key_max_age },
	/* logging and sending */
	{ "log_file", FALSE, config_key_log_file },
	{ "log_level", FALSE, config_key_log_level },
	{ "sent_folder", FALSE, config_key_sent_folder },
	/* OAuth 2.0 sign-in (config_oauth2.c) */
	{ "auth", FALSE, config_key_auth },
	{ "oauth2_provider", FALSE, config_key_provider },
	{ "oauth2_issuer", FALSE, config_key_issuer },
	{ "oauth2_token_url", FALSE, config_key_token_url },
	{ "oauth2_device_url", FALSE, config_key_device_url },
	{ "oauth2_client_id", FALSE, config_key_client_id },
	{ "oauth2_client_secret_command", FALSE, config_key_secret_command },
	{ "oauth2_scope", FALSE, config_key_scope },
	{ "oauth2_token_command", FALSE, config_key_token_command },
	{ "oauth2_refresh_token_command", FALSE, config_key_refresh_command },
};

/* ---- hidden test knobs ---- */

static gboolean
config_key_test_outbox_retry(const ConfigFile *f, MfAccountConfig *cfg,
                             const char *value, GError **err)
{
	return config_parse_uint(value, 1, 3600 * 1000,
	                         &cfg->test_outbox_retry_ms, err);
}

static gboolean
config_key_test_reconnect(const ConfigFile *f, MfAccountConfig *cfg,
                          const char *value, GError **err)
{
	return config_parse_uint(value, 1, 3600 * 1000, &cfg->test_reconnect_ms,
	                         err);
}

/* Keys for the tests only, so that they need not wait as long as a user's
 * mount does: found like the others, but neither documented nor offered
 * by "did you mean" (and not compared with the man page). */
static const ConfigKey config_test_keys[] = {
	{ "test_outbox_retry_ms", FALSE, config_key_test_outbox_retry },
	{ "test_reconnect_ms", FALSE, config_key_test_reconnect },
};

const ConfigKey *
config_find_key(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	for (size_t i = 0; i < G_N_ELEMENTS(config_test_keys); i++) {
		if (strcmp(config_test_keys[i].name, name) == 0)
			return &config_test_keys[i];
	}
	return NULL;
}

/* The edit distance of A and B (insertions, deletions, substitutions and
 * swaps of neighbours), counted up to LIMIT + 1. */
static guint
config_distance(const char *a, const char *b, guint limit)
{
	size_t la = strlen(a), lb = strlen(b);
	guint rows[3][64];

	if (la >= 63 || lb >= 63)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = (guint)j;
	for (size_t i = 1; i <= la; i++) {
		guint *prev2 = rows[(i + 1) % 3], *prev = rows[(i + 2) % 3];
		guint *cur = rows[i % 3];
		cur[0] = (guint)i;
		for (size_t j = 1; j <= lb; j++) {
			guint sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			cur[j] = MIN(sub, MIN(prev[j], cur[j - 1]) + 1);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1])
				cur[j] = MIN(cur[j], prev2[j - 2] + 1);
		}
	}
	return MIN(rows[la % 3][lb], limit + 1);
}

const char *
config_nearest_key(const char *name)
{
	/* Short names are one letter off at most: "foo" is not "from". */
	guint limit = strlen(name) <= 4 ? 1 : 2;
	const char *best = NULL;
	guint best_d = limit + 1;

	for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		guint d = config_distance(name, config_keys[i].name, limit);
		if (d < best_d) {
			best = config_keys[i].name;
			best_d = d;
		}
	}
	return best;
}
