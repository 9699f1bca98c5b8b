/* config.c - read and check the account configuration file; fetch passwords. */
#include "fs/config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/mf_error.h"

/* Largest config file read, and largest password_command output kept. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_COMMAND_OUTPUT_MAX (64 * 1024)
#define CONFIG_GROUP_PREFIX "account "

/* What the key parsers need to know about the file being read. */
typedef struct {
	const char *path;
	gboolean is_private; /* ours, no group/other permission bits */
} ConfigFile;

/* Checks VALUE (comment stripped and trimmed, unless the key is raw) and
 * stores it in CFG; on failure sets ERR to a message without the file,
 * group or key, which the caller adds. */
typedef gboolean (*ConfigKeyFn)(const ConfigFile *f, MfAccountConfig *cfg,
                                const char *value, GError **err);

typedef struct {
	const char *name;
	gboolean raw; /* taken exactly as GKeyFile gives it */
	ConfigKeyFn parse;
} ConfigKey;

static gboolean
config_fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Sets ERR to MF_ERROR_CONFIG with the formatted message; returns FALSE. */
static gboolean
config_fail(GError **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, MF_ERROR, MF_ERROR_CONFIG, msg);
	g_free(msg);
	return FALSE;
}

/* Wipes and frees a string that may hold a secret. */
static void
config_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

/* $HOME when it is set and absolute, else what GLib thinks; owned.  Read
 * each time, as GLib caches its answer. */
static char *
config_home_dir(void)
{
	const char *home = g_getenv("HOME");

	if (home && g_path_is_absolute(home))
		return g_strdup(home);
	return g_strdup(g_get_home_dir());
}

/* $VAR when it is set and absolute, else ~/FALLBACK; owned. */
static char *
config_xdg_dir(const char *var, const char *fallback)
{
	const char *dir = g_getenv(var);

	if (dir && g_path_is_absolute(dir))
		return g_strdup(dir);
	g_autofree char *home = config_home_dir();
	return g_build_filename(home, fallback, NULL);
}

/* PATH with a leading "~" or "~/" replaced by the home directory; owned. */
static char *
config_expand_home(const char *path)
{
	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/'))
		return g_strdup(path);
	g_autofree char *home = config_home_dir();
	return g_build_filename(home, path + 1, NULL);
}

char *
config_default_path(void)
{
	g_autofree char *base = config_xdg_dir("XDG_CONFIG_HOME", ".config");

	return g_build_filename(base, "mailfs", "config", NULL);
}

/* ---- values ---- */

/* Cuts VALUE at its comment: a '#' at the start or after whitespace. */
static void
config_strip_comment(char *value)
{
	for (char *p = value; *p; p++) {
		if (*p == '#' && (p == value || g_ascii_isspace(p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/* TRUE when S holds an ASCII control character other than tab. */
static gboolean
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
		return config_fail(err, "'%.32s' is not a number from %u to %u",
		                   s, min, max);
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
		config_fail(err, "URL scheme must be %s:// or %s://, not %s://",
		            url_scheme_name(plain), url_scheme_name(tls),
		            url_scheme_name(u.scheme));
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
		return config_fail(err, "a literal password is only accepted from "
		                   "a file that no other user can read (chmod 600 "
		                   "%s), or use password_command", f->path);
	if (*value == '\0')
		return config_fail(err, "empty value");
	if (config_has_control(value))
		return config_fail(err, "value contains a control character");
	cfg->password = g_strdup(value);
	return TRUE;
}

static gboolean
config_key_password_command(const ConfigFile *f, MfAccountConfig *cfg,
                            const char *value, GError **err)
{
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
		return config_fail(err, "'%.200s' is not an address like "
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
		return config_fail(err, "'%.200s' must be an absolute path or "
		                   "start with ~/", value);
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
	return config_fail(err, "must be sha256: followed by 64 hex digits "
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

/* "2G", "500M", "64K", "1T" (powers of 1024) or plain bytes into *OUT. */
static gboolean
config_parse_size(const char *value, guint64 *out, GError **err)
{
	static const char units[] = "KMGT";
	guint64 v = 0;
	size_t n;

	for (n = 0; g_ascii_isdigit(value[n]); n++) {
		if (v > (G_MAXUINT64 - 9) / 10)
			goto bad;
		v = v * 10 + (guint64)(value[n] - '0');
	}
	if (n == 0)
		goto bad;
	if (value[n] != '\0') {
		const char *u = strchr(units, g_ascii_toupper(value[n]));
		if (!u || value[n + 1] != '\0')
			goto bad;
		for (const char *k = units; k <= u; k++) {
			if (v > G_MAXUINT64 / 1024)
				goto bad;
			v *= 1024;
		}
	}
	*out = v;
	return TRUE;
bad:
	return config_fail(err, "'%.32s' is not a size like 500M or 2G", value);
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
		return config_fail(err, "'%.32s' is below 1K", value);
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
	return config_fail(err, "'%.32s' is not yes or no", value);
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
		return config_fail(err, "'%.32s' is not trash or expunge", value);
	return TRUE;
}

static gboolean
config_key_poll_interval(const ConfigFile *f, MfAccountConfig *cfg,
                         const char *value, GError **err)
{
	return config_parse_uint(value, 1, 86400, &cfg->poll_interval, err);
}

/* Every key an account may have.  Add a key here and in MfAccountConfig. */
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
};

static const ConfigKey *
config_find_key(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* ---- accounts ---- */

/* Looks up KEY of GROUP, cleans its value and hands it to its parser. */
static gboolean
config_parse_key(const ConfigFile *f, GKeyFile *kf, const char *group,
                 const char *key, MfAccountConfig *cfg, GError **err)
{
	const ConfigKey *k = config_find_key(key);
	gboolean ok;

	if (!k)
		return config_fail(err, "unknown key");
	char *value = g_key_file_get_value(kf, group, key, NULL);
	g_assert(value != NULL);
	if (!g_utf8_validate(value, -1, NULL)) {
		ok = config_fail(err, "value is not valid UTF-8");
	} else if (k->raw) {
		ok = k->parse(f, cfg, value, err);
	} else {
		config_strip_comment(value);
		g_strstrip(value);
		if (*value == '\0')
			ok = config_fail(err, "empty value");
		else if (config_has_control(value))
			ok = config_fail(err, "value contains a control character");
		else
			ok = k->parse(f, cfg, value, err);
	}
	config_wipe_free(value);
	return ok;
}

/* Checks the keys that must (or must not) appear together.  The message
 * starts with the key it is about. */
static gboolean
config_check_required(const MfAccountConfig *cfg, GError **err)
{
	if (!cfg->user)
		return config_fail(err, "user: required key is missing");
	if (cfg->has_imap && cfg->has_pop3)
		return config_fail(err, "pop3: an account reads mail by imap or "
		                   "by pop3, not both");
	if (!cfg->has_imap && !cfg->has_pop3)
		return config_fail(err, "imap: required key is missing (an "
		                   "account needs imap or pop3)");
	if (cfg->password && cfg->password_command)
		return config_fail(err, "password: give password or "
		                   "password_command, not both");
	if (!cfg->password && !cfg->password_command)
		return config_fail(err, "password_command: required key is "
		                   "missing (or password)");
	return TRUE;
}

/* Fills in what the file left out. */
static void
config_set_defaults(MfAccountConfig *cfg)
{
	if (!cfg->cache_dir) {
		g_autofree char *base =
			config_xdg_dir("XDG_CACHE_HOME", ".cache");
		cfg->cache_dir = g_build_filename(base, "mailfs", cfg->name,
		                                  NULL);
	}
	if (!cfg->timeout)
		cfg->timeout = 30;
	if (!cfg->max_connections)
		cfg->max_connections = 4;
	if (!cfg->poll_interval)
		cfg->poll_interval = 60;
	if (!cfg->message_max)
		cfg->message_max = 1ull << 30;

	if (!cfg->refresh_interval)
		cfg->refresh_interval = 5;
}

/* Parses every key of GROUP ("account NAME") into *CFG. */
static gboolean
config_parse_keys(const ConfigFile *f, GKeyFile *kf, const char *group,
                  MfAccountConfig *cfg, GError **err)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	GError *e = NULL;

	for (size_t i = 0; keys && keys[i]; i++) {
		if (!g_hash_table_add(seen, keys[i]))
			config_fail(&e, "given more than once");
		else
			config_parse_key(f, kf, group, keys[i], cfg, &e);
		if (e) {
			g_propagate_prefixed_error(err, e, "%s: [%s] %s: ",
			                           f->path, group, keys[i]);
			return FALSE;
		}
	}
	if (!config_check_required(cfg, &e)) {
		g_propagate_prefixed_error(err, e, "%s: [%s] ", f->path, group);
		return FALSE;
	}
	return TRUE;
}

/* TRUE when GROUP is "account NAME", NAME of letters, digits, "-_.". */
static gboolean
config_group_is_valid(const char *group)
{
	const char *name = group + strlen(CONFIG_GROUP_PREFIX);

	if (!g_str_has_prefix(group, CONFIG_GROUP_PREFIX) || *name == '\0' ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return FALSE;
	for (const char *p = name; *p; p++) {
		if (!g_ascii_isalnum(*p) && !strchr("-_.", *p))
			return FALSE;
	}
	return TRUE;
}

/* Checks GROUP and returns its account, or NULL with ERR. */
static MfAccountConfig *
config_parse_account(const ConfigFile *f, GKeyFile *kf, const char *group,
                     GError **err)
{
	if (!config_group_is_valid(group)) {
		config_fail(err, "%s: [%s]: unknown group; accounts are "
		            "[account NAME], NAME made of letters, digits, '-', "
		            "'_' and '.'", f->path, group);
		return NULL;
	}
	g_autoptr(MfAccountConfig) cfg = g_new0(MfAccountConfig, 1);
	cfg->name = g_strdup(group + strlen(CONFIG_GROUP_PREFIX));
	cfg->file = g_strdup(f->path);
	/* Defaults the keys may turn off. */
	cfg->save_sent = TRUE;
	cfg->leave_on_server = TRUE;
	if (!config_parse_keys(f, kf, group, cfg, err))
		return NULL;
	config_set_defaults(cfg);
	return g_steal_pointer(&cfg);
}

/* Returns the names of ACCOUNTS joined by ", "; owned. */
static char *
config_join_names(GPtrArray *accounts)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < accounts->len; i++) {
		const MfAccountConfig *a = g_ptr_array_index(accounts, i);
		g_string_append_printf(s, "%s%s", i ? ", " : "", a->name);
	}
	return g_string_free(s, FALSE);
}

/* Takes the account NAME (or the only one) out of ACCOUNTS. */
static MfAccountConfig *
config_choose(const char *path, GPtrArray *accounts, const char *name,
              GError **err)
{
	g_autofree char *names = config_join_names(accounts);

	if (!name && accounts->len == 1)
		return g_ptr_array_steal_index(accounts, 0);
	if (!name) {
		config_fail(err, "%s: several accounts (%s): choose one with "
		            "--account", path, names);
		return NULL;
	}
	for (guint i = 0; i < accounts->len; i++) {
		const MfAccountConfig *a = g_ptr_array_index(accounts, i);
		if (strcmp(a->name, name) == 0)
			return g_ptr_array_steal_index(accounts, i);
	}
	config_fail(err, "%s: no account '%.100s' (accounts: %s)", path, name,
	            names);
	return NULL;
}

/* Parses every group of KF into ACCOUNTS; there must be at least one. */
static gboolean
config_parse_all(const ConfigFile *f, GKeyFile *kf, GPtrArray *accounts,
                 GError **err)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (size_t i = 0; groups && groups[i]; i++) {
		MfAccountConfig *a = config_parse_account(f, kf, groups[i], err);
		if (!a)
			return FALSE;
		g_ptr_array_add(accounts, a);
	}
	if (accounts->len == 0)
		return config_fail(err, "%s: no accounts (add a group [account "
		                   "NAME])", f->path);
	return TRUE;
}

/* ---- the file ---- */

/* Reads at most CONFIG_FILE_MAX bytes of the open FD into *DATA. */
static gboolean
config_read_fd(const char *path, int fd, char **data, gsize *len,
               GError **err)
{
	char *buf = g_malloc(CONFIG_FILE_MAX + 1);
	gsize n = 0;

	while (n <= CONFIG_FILE_MAX) {
		ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			explicit_bzero(buf, n);
			g_free(buf);
			return config_fail(err, "%s: cannot read: %s", path,
			                   g_strerror(e));
		}
		if (r == 0)
			break;
		n += (gsize)r;
	}
	if (n > CONFIG_FILE_MAX) {
		explicit_bzero(buf, n);
		g_free(buf);
		return config_fail(err, "%s: file is larger than 1 MiB", path);
	}
	*data = buf;
	*len = n;
	return TRUE;
}

/* Reads PATH into *DATA and tells whether only we can read it. */
static gboolean
config_read_file(const char *path, char **data, gsize *len,
                 gboolean *is_private, GError **err)
{
	struct stat st;
	gboolean ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return config_fail(err, "%s: cannot read: %s", path,
		                   g_strerror(errno));
	if (fstat(fd, &st) != 0)
		ok = config_fail(err, "%s: cannot read: %s", path,
		                 g_strerror(errno));
	else if (!S_ISREG(st.st_mode))
		ok = config_fail(err, "%s: not a regular file", path);
	else
		ok = config_read_fd(path, fd, data, len, err);
	close(fd);
	if (ok)
		*is_private = st.st_uid == geteuid() && (st.st_mode & 077) == 0;
	return ok;
}

MfAccountConfig *
config_load_account(const char *path, const char *name, GError **err)
{
	ConfigFile f = { .path = path };
	char *data = NULL;
	gsize len = 0;
	GError *e = NULL;

	g_return_val_if_fail(path != NULL, NULL);
	if (!config_read_file(path, &data, &len, &f.is_private, err))
		return NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	gboolean loaded = g_key_file_load_from_data(
		kf, data, len, G_KEY_FILE_KEEP_TRANSLATIONS, &e);
	explicit_bzero(data, len);
	g_free(data);
	if (!loaded) {
		config_fail(err, "%s: %s", path, e->message);
		g_error_free(e);
		return NULL;
	}
	g_autoptr(GPtrArray) accounts =
		g_ptr_array_new_with_free_func((GDestroyNotify)config_account_free);
	if (!config_parse_all(&f, kf, accounts, err))
		return NULL;
	return config_choose(path, accounts, name, err);
}

/* ---- password_command ---- */

/* In the forked child: runs CMD with stdin IN and stdout OUT, in its own
 * process group so that a timeout kills everything it started.  Only
 * async-signal-safe calls here. */
static void G_GNUC_NORETURN
config_child(char *const argv[], int in, int out)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
		_exit(127);
	if (in == STDIN_FILENO)
		fcntl(STDIN_FILENO, F_SETFD, 0);
	if (out == STDOUT_FILENO)
		fcntl(STDOUT_FILENO, F_SETFD, 0);
	execve("/bin/sh", argv, environ);
	_exit(127);
}

/* Starts CMD; *FD reads its stdout. */
static pid_t
config_spawn(const char *cmd, int *fd, GError **err)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	int pfd[2];
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (devnull < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
		int e = errno;
		if (devnull >= 0)
			close(devnull);
		config_fail(err, "cannot run: %s", g_strerror(e));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0)
		config_child(argv, devnull, pfd[1]);
	int e = errno;
	close(devnull);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		config_fail(err, "cannot run: %s", g_strerror(e));
		return -1;
	}
	setpgid(pid, pid); /* also done by the child; whichever runs first */
	*fd = pfd[0];
	return pid;
}

typedef enum {
	CONFIG_READ_OK,
	CONFIG_READ_TIMEOUT,
	CONFIG_READ_TOO_LONG,
	CONFIG_READ_ERROR,
} ConfigReadResult;

/* Milliseconds left until DEADLINE (monotonic microseconds), at least 0. */
static int
config_ms_left(gint64 deadline)
{
	gint64 left = deadline - g_get_monotonic_time();

	return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* Reads FD to its end into BUF (CONFIG_COMMAND_OUTPUT_MAX bytes at most)
 * before DEADLINE. */
static ConfigReadResult
config_read_output(int fd, gint64 deadline, char *buf, gsize *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	gsize n = 0;

	for (;;) {
		int ms = config_ms_left(deadline);
		if (ms == 0)
			return CONFIG_READ_TIMEOUT;
		int r = poll(&pfd, 1, ms);
		if (r < 0 && errno != EINTR)
			return CONFIG_READ_ERROR;
		if (r <= 0)
			continue;
		ssize_t got = read(fd, buf + n, CONFIG_COMMAND_OUTPUT_MAX + 1 - n);
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			return CONFIG_READ_ERROR;
		if (got == 0)
			break;
		if (got > 0)
			n += (gsize)got;
		if (n > CONFIG_COMMAND_OUTPUT_MAX)
			return CONFIG_READ_TOO_LONG;
	}
	*len = n;
	return CONFIG_READ_OK;
}

/* Waits for PID until DEADLINE: 1 when it ended (*STATUS set), 0 on
 * timeout, -1 on error. */
static int
config_wait(pid_t pid, gint64 deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (config_ms_left(deadline) == 0)
			return 0;
		g_usleep(10 * 1000);
	}
}

/* Kills PID and its process group and reaps it. */
static void
config_kill(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Checks how the command ended; the message starts after "password_command". */
static gboolean
config_check_status(int status, GError **err)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return TRUE;
	if (WIFEXITED(status))
		return config_fail(err, "exited with status %d",
		                   WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return config_fail(err, "was killed by signal %d",
		                   WTERMSIG(status));
	return config_fail(err, "ended abnormally");
}

/* Runs CMD for at most TIMEOUT seconds; its output goes to BUF. */
static gboolean
config_run(const char *cmd, guint timeout, char *buf, gsize *len,
           GError **err)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout * G_USEC_PER_SEC;
	int fd = -1;
	int status = 0;
	pid_t pid = config_spawn(cmd, &fd, err);

	if (pid < 0)
		return FALSE;
	ConfigReadResult rr = config_read_output(fd, deadline, buf, len);
	close(fd);
	int w = rr == CONFIG_READ_OK ? config_wait(pid, deadline, &status) : 0;
	if (w != 1)
		config_kill(pid);
	if (rr == CONFIG_READ_TOO_LONG)
		return config_fail(err, "printed more than 64 KiB");
	if (rr == CONFIG_READ_ERROR)
		return config_fail(err, "could not be read from");
	if (w < 0)
		return config_fail(err, "could not be waited for");
	if (w == 0)
		return config_fail(err, "timed out after %u s", timeout);
	return config_check_status(status, err);
}

/* The first line of the LEN bytes at BUF, without CR/LF; owned. */
static char *
config_first_line(const char *buf, gsize len, GError **err)
{
	const char *nl = memchr(buf, '\n', len);
	gsize n = nl ? (gsize)(nl - buf) : len;

	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
		n--;
	if (n == 0) {
		config_fail(err, "printed an empty first line");
		return NULL;
	}
	if (memchr(buf, '\0', n)) {
		config_fail(err, "printed a NUL byte");
		return NULL;
	}
	return g_strndup(buf, n);
}

/* The first line of password_command's output. */
static char *
config_run_password_command(const MfAccountConfig *cfg, GError **err)
{
	char *buf = g_malloc(CONFIG_COMMAND_OUTPUT_MAX + 1);
	gsize len = 0;
	char *pw = NULL;
	GError *e = NULL;
	guint timeout = cfg->timeout ? cfg->timeout : 30;

	if (config_run(cfg->password_command, timeout, buf, &len, &e))
		pw = config_first_line(buf, len, &e);
	explicit_bzero(buf, CONFIG_COMMAND_OUTPUT_MAX + 1);
	g_free(buf);
	if (e)
		g_propagate_prefixed_error(err, e, "[account %s] password_command ",
		                           cfg->name);
	return pw;
}

char *
config_get_password(const MfAccountConfig *cfg, GError **err)
{
	g_return_val_if_fail(cfg != NULL, NULL);
	if (cfg->password)
		return g_strdup(cfg->password);
	if (cfg->password_command)
		return config_run_password_command(cfg, err);
	config_fail(err, "[account %s] has neither password nor "
	            "password_command", cfg->name);
	return NULL;
}

void
config_password_free(char *password)
{
	config_wipe_free(password);
}

void
config_account_free(MfAccountConfig *cfg)
{
	if (!cfg)
		return;
	g_free(cfg->name);
	g_free(cfg->file);
	url_clear(&cfg->imap);
	url_clear(&cfg->pop3);
	url_clear(&cfg->smtp);
	g_free(cfg->user);
	config_wipe_free(cfg->password);
	g_free(cfg->password_command);
	g_free(cfg->from);
	g_free(cfg->ca_file);
	g_free(cfg->tls_fingerprint);
	g_free(cfg->cache_dir);
	g_free(cfg);
}
