/* config.c - read and check the account configuration file; fetch passwords. */
#include "fs/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cache/command.h"
#include "net/mf_error.h"

/* Largest config file read. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_GROUP_PREFIX "account "

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

char *
config_xdg_dir(const char *var, const char *fallback)
{
	const char *dir = g_getenv(var);

	if (dir && g_path_is_absolute(dir))
		return g_strdup(dir);
	g_autofree char *home = config_home_dir();
	return g_build_filename(home, fallback, NULL);
}

char *
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

/* ---- accounts ---- */

/* Looks up KEY of GROUP, cleans its value and hands it to its parser. */
static gboolean
config_parse_key(const ConfigFile *f, GKeyFile *kf, const char *group,
                 const char *key, MfAccountConfig *cfg, GError **err)
{
	const ConfigKey *k = config_find_key(key);
	gboolean ok;

	if (!k && config_nearest_key(key))
		return mf_error_config(err, "unknown key (did you mean %s?)",
		                       config_nearest_key(key));
	if (!k)
		return mf_error_config(err, "unknown key");
	char *value = g_key_file_get_value(kf, group, key, NULL);
	g_assert(value != NULL);
	if (!g_utf8_validate(value, -1, NULL)) {
		ok = mf_error_config(err, "value is not valid UTF-8");
	} else if (k->raw) {
		ok = k->parse(f, cfg, value, err);
	} else {
		config_strip_comment(value);
		g_strstrip(value);
		if (*value == '\0')
			ok = mf_error_config(err, "empty value");
		else if (config_has_control(value))
			ok = mf_error_config(err, "value contains a control "
			                     "character");
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
		return mf_error_config(err, "user: required key is missing");
	if (cfg->has_imap && cfg->has_pop3)
		return mf_error_config(err, "pop3: an account reads mail by "
		                       "imap or by pop3, not both");
	if (!cfg->has_imap && !cfg->has_pop3)
		return mf_error_config(err, "imap: required key is missing (an "
		                       "account needs imap or pop3)");
	if (cfg->password && cfg->password_command)
		return mf_error_config(err, "password: give password or "
		                       "password_command, not both");
	if (!config_oauth2_check(cfg, err))
		return FALSE;
	if (!cfg->password && !cfg->password_command &&
	    !config_oauth2_has_tokens(cfg))
		return mf_error_config(err, "password_command: required key is "
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
	if (!cfg->log_level)
		cfg->log_level = LOG_INFO;
	if (!cfg->mount_point) {
		g_autofree char *home = config_home_dir();
		cfg->mount_point = g_build_filename(home, "mailfs", cfg->name,
		                                    NULL);
	}
	config_oauth2_defaults(cfg);
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
			mf_error_config(&e, "given more than once");
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
		mf_error_config(err, "%s: [%s]: unknown group; accounts are "
		                "[account NAME], NAME made of letters, "
		                "digits, '-', '_' and '.'", f->path, group);
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

/* Sets ERR to MF_ERROR_NOTFOUND (a usage error) with the message. */
static void G_GNUC_PRINTF(2, 3)
config_fail_usage(GError **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, MF_ERROR, MF_ERROR_NOTFOUND, msg);
}

/* The index of the account NAME in ACCOUNTS, or -1. */
static gint
config_index(GPtrArray *accounts, const char *name)
{
	for (guint i = 0; name && i < accounts->len; i++) {
		const MfAccountConfig *a = g_ptr_array_index(accounts, i);
		if (strcmp(a->name, name) == 0)
			return (gint)i;
	}
	return -1;
}

/* Takes the account NAME (or the only one, or DEFAULT_NAME) out of
 * ACCOUNTS. */
static MfAccountConfig *
config_choose(const char *path, GPtrArray *accounts, const char *name,
              const char *default_name, GError **err)
{
	g_autofree char *names = config_join_names(accounts);

	if (!name && accounts->len == 1)
		return g_ptr_array_steal_index(accounts, 0);
	if (!name && !default_name) {
		config_fail_usage(err, "%s: several accounts (%s) and no "
		                  "default: choose one with --account, or add "
		                  "default = NAME above the groups", path, names);
		return NULL;
	}
	gint i = config_index(accounts, name ? name : default_name);
	if (i >= 0)
		return g_ptr_array_steal_index(accounts, (guint)i);
	config_fail_usage(err, "%s: no account '%.100s' (accounts: %s)", path,
	                  name ? name : default_name, names);
	return NULL;
}

/* The default account: the top line `default = NAME` or the one account
 * with `default = yes` (the two must agree), or NULL for none; borrowed
 * from S or ACCOUNTS. */
static gboolean
config_find_default(const ConfigFileSyntax *s, GPtrArray *accounts,
                    const char **out, GError **err)
{
	const char *name = s->default_name;
	g_autofree char *names = config_join_names(accounts);

	if (name && config_index(accounts, name) < 0)
		return mf_error_config(err, "%s:%u: default: no account "
		                       "'%.100s' (accounts: %s)", s->path,
		                       s->default_line, name, names);
	for (guint i = 0; i < accounts->len; i++) {
		const MfAccountConfig *a = g_ptr_array_index(accounts, i);
		if (!a->is_default || (name && strcmp(name, a->name) == 0))
			continue;
		if (name)
			return mf_error_config(err, "%s: [account %s] "
			                       "default: the default is "
			                       "already %s", s->path, a->name,
			                       name);
		name = a->name;
	}
	*out = name;
	return TRUE;
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
		return mf_error_config(err, "%s: no accounts (add a group "
		                       "[account NAME])", f->path);
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
			return mf_error_config(err, "%s: cannot read: %s", path,
			                       g_strerror(e));
		}
		if (r == 0)
			break;
		n += (gsize)r;
	}
	if (n > CONFIG_FILE_MAX) {
		explicit_bzero(buf, n);
		g_free(buf);
		return mf_error_config(err, "%s: file is larger than 1 MiB",
		                       path);
	}
	*data = buf;
	*len = n;
	return TRUE;
}

/* Reads F->path into *DATA and tells who may read and change it. */
static gboolean
config_read_file(ConfigFile *f, char **data, gsize *len, GError **err)
{
	const char *path = f->path;
	struct stat st;
	gboolean ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return mf_error_config(err, "%s: cannot read: %s", path,
		                       g_strerror(errno));
	if (fstat(fd, &st) != 0)
		ok = mf_error_config(err, "%s: cannot read: %s", path,
		                     g_strerror(errno));
	else if (!S_ISREG(st.st_mode))
		ok = mf_error_config(err, "%s: not a regular file", path);
	else
		ok = config_read_fd(path, fd, data, len, err);
	close(fd);
	if (!ok)
		return FALSE;
	f->owner = st.st_uid;
	f->mode = st.st_mode & 07777;
	f->is_private = st.st_uid == geteuid() && (st.st_mode & 077) == 0;
	f->is_trusted = (st.st_uid == geteuid() || st.st_uid == 0) &&
	                (st.st_mode & 022) == 0;
	return TRUE;
}

/* Reads PATH (checking every line, see config_syntax.c) into KF. */
static gboolean
config_load_keyfile(ConfigFile *f, ConfigFileSyntax *syn, GKeyFile *kf,
                    GError **err)
{
	char *data = NULL;
	gsize len = 0;
	GError *e = NULL;

	if (!config_read_file(f, &data, &len, err))
		return FALSE;
	gboolean loaded = config_syntax_check(syn, data, len, err) &&
		(g_key_file_load_from_data(kf, data, len,
		                           G_KEY_FILE_KEEP_TRANSLATIONS, &e) ||
		 mf_error_config(err, "%s: %s", f->path, e->message));
	explicit_bzero(data, len);
	g_free(data);
	g_clear_error(&e);
	return loaded;
}

/* Every account of PATH into ACCOUNTS, and the name of the default one
 * (or NULL) into *DEFAULT_NAME (owned). */
static gboolean
config_load(const char *path, GPtrArray *accounts, char **default_name,
            GError **err)
{
	ConfigFile f = { .path = path };
	ConfigFileSyntax syn = { .path = path };
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *def = NULL;

	gboolean ok = config_load_keyfile(&f, &syn, kf, err) &&
	              config_parse_all(&f, kf, accounts, err) &&
	              config_find_default(&syn, accounts, &def, err);
	if (ok)
		*default_name = g_strdup(def);
	config_syntax_clear(&syn);
	return ok;
}

GPtrArray *
config_load_all(const char *path, GError **err)
{
	g_autoptr(GPtrArray) accounts =
		g_ptr_array_new_with_free_func((GDestroyNotify)config_account_free);
	g_autofree char *def = NULL;

	g_return_val_if_fail(path != NULL, NULL);
	if (!config_load(path, accounts, &def, err))
		return NULL;
	return g_steal_pointer(&accounts);
}

MfAccountConfig *
config_load_account(const char *path, const char *name, GError **err)
{
	g_autoptr(GPtrArray) accounts =
		g_ptr_array_new_with_free_func((GDestroyNotify)config_account_free);
	g_autofree char *def = NULL;

	g_return_val_if_fail(path != NULL, NULL);
	if (!config_load(path, accounts, &def, err))
		return NULL;
	return config_choose(path, accounts, name, def, err);
}

/* ---- password_command ---- */

/* The first line of password_command's output (cache/command.c). */
static char *
config_run_password_command(const MfAccountConfig *cfg, GError **err)
{
	CommandOptions o = { .timeout_s = cfg->timeout ? cfg->timeout : 30 };
	char *pw = NULL;
	GError *e = NULL;

	if (!command_run(cfg->password_command, &o, &pw, &e))
		g_propagate_prefixed_error(err, e, "[account %s] password_command ",
		                           cfg->name);
	return pw;
}

char *
config_take_password(MfAccountConfig *cfg, GError **err)
{
	g_return_val_if_fail(cfg != NULL, NULL);
	if (cfg->password)
		return g_steal_pointer(&cfg->password);
	if (cfg->password_command)
		return config_run_password_command(cfg, err);
	mf_error_config(err, "[account %s] has neither password nor "
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
	g_free(cfg->mount_point);
	g_strfreev(cfg->sync_folders);
	g_free(cfg->log_file);
	g_free(cfg->sent_folder);
	config_oauth2_clear(&cfg->oauth2);
	g_free(cfg);
}
