/* test_config.c - unit tests for fs/config.c: real files in a temporary
 * directory, the exact error messages, and password_command. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/config.h"
#include "net/mf_error.h"

static char *tmpdir;
static char *conf_path;

/* Each test runs in its own forked process, so the environment it sets
 * does not leak into the next test. */
static void
setup(void)
{
	tmpdir = g_dir_make_tmp("mailfs-config-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	conf_path = g_build_filename(tmpdir, "config", NULL);
	g_setenv("HOME", tmpdir, TRUE);
	g_unsetenv("XDG_CACHE_HOME");
	g_unsetenv("XDG_CONFIG_HOME");
}

static void
teardown(void)
{
	GDir *d = g_dir_open(tmpdir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		char *p = g_build_filename(tmpdir, name, NULL);
		if (g_rmdir(p) != 0)
			g_remove(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(tmpdir);
	g_free(conf_path);
	g_free(tmpdir);
}

/* Writes TEXT to the config file with MODE. */
static void
write_config(const char *text, mode_t mode)
{
	ck_assert(g_file_set_contents(conf_path, text, -1, NULL));
	ck_assert_int_eq(chmod(conf_path, mode), 0);
}

/* TEXT with every "PATH" replaced by the config file's path; owned. */
static char *
with_path(const char *text)
{
	char **parts = g_strsplit(text, "PATH", -1);
	char *s = g_strjoinv(conf_path, parts);

	g_strfreev(parts);
	return s;
}

/* Loads TEXT (written with MODE) and checks that it fails with exactly
 * WANT (where PATH stands for the file's path). */
static void
expect_error(const char *text, mode_t mode, const char *name,
             const char *want)
{
	GError *err = NULL;
	char *expected = with_path(want);

	write_config(text, mode);
	MfAccountConfig *cfg = config_load_account(conf_path, name, &err);
	ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	ck_assert_str_eq(err->message, expected);
	g_error_free(err);
	g_free(expected);
}

/* Loads TEXT and checks that it fails with the usage error WANT (as
 * expect_error): no such account, or several and none chosen. */
static void
expect_usage_error(const char *text, const char *name, const char *want)
{
	GError *err = NULL;
	char *expected = with_path(want);

	write_config(text, 0644);
	ck_assert_ptr_null(config_load_account(conf_path, name, &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_NOTFOUND));
	ck_assert_str_eq(err->message, expected);
	g_error_free(err);
	g_free(expected);
}

/* Loads TEXT and returns the account; the test fails if it is refused. */
static MfAccountConfig *
expect_ok(const char *text, mode_t mode, const char *name)
{
	GError *err = NULL;

	write_config(text, mode);
	MfAccountConfig *cfg = config_load_account(conf_path, name, &err);
	ck_assert_msg(cfg != NULL, "refused: %s", err ? err->message : "?");
	return cfg;
}

#define BASE "[account work]\nimap = imaps://mail.example.com\nuser = alice\n"
#define BASE_CMD BASE "password_command = pass show mail/work\n"

START_TEST(test_full_account)
{
	MfAccountConfig *cfg = expect_ok(
		"# my accounts\n"
		"[account work]\n"
		"imap = imaps://mail.example.com\n"
		"smtp = smtp://mail.example.com:2525\n"
		"user = alice\n"
		"password_command = pass show mail/work\n"
		"from = Alice <alice@example.com>\n"
		"ca_file = ~/ca.pem\n"
		"tls_fingerprint = SHA256:" "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:"
		"45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89\n"
		"cache_dir = /var/cache/mf\n"
		"timeout = 3600\n"
		"max_connections = 16\n"
		"refresh_interval = 86400\n"
		"cache_max = 2G\n"
		"read_only = yes\n",
		0644, NULL);
	char *ca = g_build_filename(tmpdir, "ca.pem", NULL);

	ck_assert_str_eq(cfg->name, "work");
	ck_assert_str_eq(cfg->file, conf_path);
	ck_assert(cfg->has_imap);
	ck_assert(!cfg->has_pop3);
	ck_assert_int_eq(cfg->imap.scheme, URL_IMAPS);
	ck_assert_str_eq(cfg->imap.host, "mail.example.com");
	ck_assert_uint_eq(cfg->imap.port, 993);
	ck_assert(cfg->has_smtp);
	ck_assert_int_eq(cfg->smtp.scheme, URL_SMTP);
	ck_assert_uint_eq(cfg->smtp.port, 2525);
	ck_assert_str_eq(cfg->user, "alice");
	ck_assert_ptr_null(cfg->password);
	ck_assert_str_eq(cfg->password_command, "pass show mail/work");
	ck_assert_str_eq(cfg->from, "Alice <alice@example.com>");
	ck_assert_str_eq(cfg->ca_file, ca);
	ck_assert_str_eq(cfg->tls_fingerprint, "sha256:abcdef0123456789abcdef"
	                 "0123456789abcdef0123456789abcdef0123456789");
	ck_assert_str_eq(cfg->cache_dir, "/var/cache/mf");
	ck_assert_uint_eq(cfg->timeout, 3600);
	ck_assert_uint_eq(cfg->max_connections, 16);
	ck_assert_uint_eq(cfg->refresh_interval, 86400);
	ck_assert_uint_eq(cfg->cache_max, 2ull << 30);
	ck_assert(cfg->read_only);
	config_account_free(cfg);
	g_free(ca);
}
END_TEST

START_TEST(test_defaults)
{
	MfAccountConfig *cfg = expect_ok(BASE_CMD, 0644, NULL);
	char *cache = g_build_filename(tmpdir, ".cache", "mailfs", "work", NULL);

	ck_assert(!cfg->has_smtp);
	ck_assert_ptr_null(cfg->from);
	ck_assert_ptr_null(cfg->ca_file);
	ck_assert_ptr_null(cfg->tls_fingerprint);
	ck_assert_str_eq(cfg->cache_dir, cache);
	ck_assert_uint_eq(cfg->timeout, 30);
	ck_assert_uint_eq(cfg->max_connections, 4);
	ck_assert_uint_eq(cfg->refresh_interval, 5);
	ck_assert_uint_eq(cfg->cache_max, 0);
	ck_assert(!cfg->read_only);
	ck_assert_uint_eq(cfg->test_outbox_retry_ms, 0);
	ck_assert_uint_eq(cfg->test_reconnect_ms, 0);
	config_account_free(cfg);

	/* XDG_CACHE_HOME counts when absolute, and is read each time. */
	g_setenv("XDG_CACHE_HOME", "/xdg/cache", TRUE);
	cfg = expect_ok(BASE_CMD, 0644, NULL);
	ck_assert_str_eq(cfg->cache_dir, "/xdg/cache/mailfs/work");
	config_account_free(cfg);
	g_setenv("XDG_CACHE_HOME", "relative", TRUE);
	cfg = expect_ok(BASE_CMD, 0644, NULL);
	ck_assert_str_eq(cfg->cache_dir, cache);
	config_account_free(cfg);
	g_free(cache);
}
END_TEST

START_TEST(test_default_path)
{
	char *want = g_build_filename(tmpdir, ".config", "mailfs", "config",
	                              NULL);
	char *path = config_default_path();

	ck_assert_str_eq(path, want);
	g_free(path);
	g_setenv("XDG_CONFIG_HOME", "/xdg/config", TRUE);
	path = config_default_path();
	ck_assert_str_eq(path, "/xdg/config/mailfs/config");
	g_free(path);
	g_setenv("XDG_CONFIG_HOME", "", TRUE);
	path = config_default_path();
	ck_assert_str_eq(path, want);
	g_free(path);
	g_free(want);
}
END_TEST

START_TEST(test_comments)
{
	MfAccountConfig *cfg = expect_ok(
		"[account work]\n"
		"imap = imaps://mail.example.com   # implicit TLS\n"
		"user = al#ice\t# not part of the name\n"
		"password = s3cret # kept whole\n"
		"from = alice@example.com #\n"
		"cache_dir = ~/mail cache # spaces inside stay\n"
		"timeout = 10 # seconds\n",
		0600, NULL);
	char *cache = g_build_filename(tmpdir, "mail cache", NULL);

	ck_assert_str_eq(cfg->imap.host, "mail.example.com");
	ck_assert_str_eq(cfg->user, "al#ice");
	ck_assert_str_eq(cfg->password, "s3cret # kept whole");
	ck_assert_str_eq(cfg->from, "alice@example.com");
	ck_assert_str_eq(cfg->cache_dir, cache);
	ck_assert_uint_eq(cfg->timeout, 10);
	config_account_free(cfg);
	g_free(cache);
}
END_TEST

START_TEST(test_pop3_account)
{
	MfAccountConfig *cfg = expect_ok(
		"[account home]\npop3 = pop3://pop.example.com:1110/\n"
		"user = bob\npassword_command = true\n", 0644, NULL);

	ck_assert(!cfg->has_imap);
	ck_assert(cfg->has_pop3);
	ck_assert_int_eq(cfg->pop3.scheme, URL_POP3);
	ck_assert_uint_eq(cfg->pop3.port, 1110);
	ck_assert(!cfg->pop3.implicit_tls);
	config_account_free(cfg);
}
END_TEST

typedef struct {
	const char *text;
	const char *want;
} BadConfig;

static const BadConfig bad_configs[] = {
	{ BASE_CMD "foo = 1\n", "PATH: [account work] foo: unknown key" },
	{ BASE_CMD "user[de] = x\n", "PATH: [account work] user[de]: unknown key" },
	{ BASE_CMD "user = bob\n",
	  "PATH: [account work] user: given more than once" },
	{ "[account work]\nimap = imaps://h\npassword_command = true\n",
	  "PATH: [account work] user: required key is missing" },
	{ BASE_CMD "pop3 = pop3s://h\n", "PATH: [account work] pop3: an account "
	  "reads mail by imap or by pop3, not both" },
	{ "[account work]\nuser = a\npassword_command = true\n",
	  "PATH: [account work] imap: required key is missing (an account "
	  "needs imap or pop3)" },
	{ BASE, "PATH: [account work] password_command: required key is "
	  "missing (or password)" },
	{ "[account work]\nimap = http://h\n",
	  "PATH: [account work] imap: unknown URL scheme 'http'" },
	{ "[account work]\nimap = imaps://h/INBOX\n",
	  "PATH: [account work] imap: URL has a path" },
	{ "[account work]\nimap = imaps://a@h\n",
	  "PATH: [account work] imap: user name in URL (put it in the user key)" },
	{ "[account work]\nimap = imaps://h:0\n",
	  "PATH: [account work] imap: port 0 is not allowed" },
	{ "[account work]\nimap = smtp://h\n", "PATH: [account work] imap: URL "
	  "scheme must be imap:// or imaps://, not smtp://" },
	{ "[account work]\npop3 = imaps://h\n", "PATH: [account work] pop3: URL "
	  "scheme must be pop3:// or pop3s://, not imaps://" },
	{ BASE_CMD "smtp = imap://h\n", "PATH: [account work] smtp: URL scheme "
	  "must be smtp:// or smtps://, not imap://" },
	{ BASE_CMD "read_only = maybe\n",
	  "PATH: [account work] read_only: 'maybe' is not yes or no" },
	{ BASE_CMD "timeout = 30s\n",
	  "PATH: [account work] timeout: '30s' is not a number from 1 to 3600" },
	{ BASE_CMD "timeout = -1\n",
	  "PATH: [account work] timeout: '-1' is not a number from 1 to 3600" },
	{ BASE_CMD "timeout = 0\n",
	  "PATH: [account work] timeout: '0' is not a number from 1 to 3600" },
	{ BASE_CMD "timeout = 3601\n",
	  "PATH: [account work] timeout: '3601' is not a number from 1 to 3600" },
	{ BASE_CMD "timeout = +5\n",
	  "PATH: [account work] timeout: '+5' is not a number from 1 to 3600" },
	{ BASE_CMD "timeout = 1 0\n",
	  "PATH: [account work] timeout: '1 0' is not a number from 1 to 3600" },
	{ BASE_CMD "timeout = 99999999999999999999999999\n",
	  "PATH: [account work] timeout: '99999999999999999999999999' is not a "
	  "number from 1 to 3600" },
	{ BASE_CMD "timeout =\n", "PATH: [account work] timeout: empty value" },
	{ BASE_CMD "timeout = # none\n",
	  "PATH: [account work] timeout: empty value" },
	{ BASE_CMD "max_connections = 17\n", "PATH: [account work] "
	  "max_connections: '17' is not a number from 1 to 16" },
	{ BASE_CMD "refresh_interval = 86401\n", "PATH: [account work] "
	  "refresh_interval: '86401' is not a number from 1 to 86400" },
	{ BASE_CMD "cache_max = 2X\n", "PATH: [account work] "
	  "cache_max: '2X' is not a size like 500M or 2G" },
	{ BASE_CMD "cache_max = G\n", "PATH: [account work] "
	  "cache_max: 'G' is not a size like 500M or 2G" },
	{ BASE_CMD "cache_max = 2GX\n", "PATH: [account work] "
	  "cache_max: '2GX' is not a size like 500M or 2G" },
	{ BASE_CMD "cache_max = 2iB\n", "PATH: [account work] "
	  "cache_max: '2iB' is not a size like 500M or 2G" },
	{ BASE_CMD "pasword_command = x\n", "PATH: [account work] "
	  "pasword_command: unknown key (did you mean password_command?)" },
	{ BASE_CMD "cachemax = 1G\n", "PATH: [account work] "
	  "cachemax: unknown key (did you mean cache_max?)" },
	{ BASE_CMD "tiemout = 1\n", "PATH: [account work] "
	  "tiemout: unknown key (did you mean timeout?)" },
	/* A hidden test knob is never offered. */
	{ BASE_CMD "test_outbox_retry = 1\n", "PATH: [account work] "
	  "test_outbox_retry: unknown key" },
	{ BASE_CMD "test_outbox_retry_ms = 0\n", "PATH: [account work] "
	  "test_outbox_retry_ms: '0' is not a number from 1 to 3600000" },
	{ BASE_CMD "max_age = 2x\n", "PATH: [account work] max_age: '2x' "
	  "is not an age like 90 (days), 12w, 6m or 1y, up to 100 years" },
	{ BASE_CMD "max_age = 101y\n", "PATH: [account work] max_age: '101y' "
	  "is not an age like 90 (days), 12w, 6m or 1y, up to 100 years" },
	{ BASE_CMD "log_level = loud\n", "PATH: [account work] log_level: "
	  "'loud' is not error, warning, info or debug" },
	{ BASE_CMD "sync_folders = \"Old\n", "PATH: [account work] "
	  "sync_folders: '\"Old' is not a list of folder patterns (quote a "
	  "name that holds a space or a quote)" },
	{ BASE_CMD "sync_folders = a ! b\n", "PATH: [account work] "
	  "sync_folders: an empty folder pattern" },
	{ BASE_CMD "sent_folder = /Sent\n", "PATH: [account work] "
	  "sent_folder: '/Sent' is not a folder as the mount shows it, such "
	  "as Sent or Archive/Sent" },
	{ BASE_CMD "mount_point = mail\n", "PATH: [account work] "
	  "mount_point: 'mail' must be an absolute path or start with ~/" },
	{ BASE_CMD "default = maybe\n", "PATH: [account work] default: "
	  "'maybe' is not yes or no" },
	{ BASE_CMD "cache_max = 99999999999T\n", "PATH: [account work] "
	  "cache_max: '99999999999T' is not a size like 500M or 2G" },
	{ BASE_CMD "tls_fingerprint = abcd\n", "PATH: [account work] "
	  "tls_fingerprint: must be sha256: followed by 64 hex digits "
	  "(colons between pairs allowed)" },
	{ BASE_CMD "tls_fingerprint = sha256:0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcde\n", "PATH: [account work] "
	  "tls_fingerprint: must be sha256: followed by 64 hex digits "
	  "(colons between pairs allowed)" },
	{ BASE_CMD "tls_fingerprint = sha256:0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef0\n", "PATH: [account work] "
	  "tls_fingerprint: must be sha256: followed by 64 hex digits "
	  "(colons between pairs allowed)" },
	{ BASE_CMD "tls_fingerprint = sha256:g123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef\n", "PATH: [account work] "
	  "tls_fingerprint: must be sha256: followed by 64 hex digits "
	  "(colons between pairs allowed)" },
	{ BASE_CMD "tls_fingerprint = sha256:0:123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef\n", "PATH: [account work] "
	  "tls_fingerprint: must be sha256: followed by 64 hex digits "
	  "(colons between pairs allowed)" },
	{ BASE_CMD "tls_fingerprint = sha1:0123456789abcdef0123456789abcdef"
	  "01234567\n", "PATH: [account work] "
	  "tls_fingerprint: must be sha256: followed by 64 hex digits "
	  "(colons between pairs allowed)" },
	{ BASE_CMD "cache_dir = cache\n", "PATH: [account work] cache_dir: "
	  "'cache' must be an absolute path or start with ~/" },
	{ BASE_CMD "cache_dir = ~bob/cache\n", "PATH: [account work] cache_dir: "
	  "'~bob/cache' must be an absolute path or start with ~/" },
	{ BASE_CMD "ca_file = ca.pem\n", "PATH: [account work] ca_file: "
	  "'ca.pem' must be an absolute path or start with ~/" },
	{ BASE_CMD "from = alice\n", "PATH: [account work] from: 'alice' is "
	  "not an address like alice@example.com" },
	{ BASE_CMD "from = @example.com\n", "PATH: [account work] from: "
	  "'@example.com' is not an address like alice@example.com" },
	{ BASE_CMD "from = a@b@c\n", "PATH: [account work] from: 'a@b@c' is "
	  "not an address like alice@example.com" },
	{ BASE_CMD "from = a\001@b\n",
	  "PATH: [account work] from: value contains a control character" },
	{ BASE_CMD "from = \xff@b\n",
	  "PATH: [account work] from: value is not valid UTF-8" },
	{ "[work]\nuser = a\n", "PATH: [work]: unknown group; accounts are "
	  "[account NAME], NAME made of letters, digits, '-', '_' and '.'" },
	{ "[account ]\nuser = a\n", "PATH: [account ]: unknown group; accounts "
	  "are [account NAME], NAME made of letters, digits, '-', '_' and '.'" },
	{ "[account a/b]\nuser = a\n", "PATH: [account a/b]: unknown group; "
	  "accounts are [account NAME], NAME made of letters, digits, '-', '_' "
	  "and '.'" },
	{ "[account ..]\nuser = a\n", "PATH: [account ..]: unknown group; "
	  "accounts are [account NAME], NAME made of letters, digits, '-', '_' "
	  "and '.'" },
	{ "[Account work]\nuser = a\n", "PATH: [Account work]: unknown group; "
	  "accounts are [account NAME], NAME made of letters, digits, '-', '_' "
	  "and '.'" },
	{ BASE_CMD "[other]\n", "PATH: [other]: unknown group; "
	  "accounts are [account NAME], NAME made of letters, digits, '-', '_' "
	  "and '.'" },
	{ "user = a\n", "PATH:1: user: outside any group (keys go below "
	  "[account NAME]; only default = NAME may come first)" },
	{ "# top\n\n  [account work\nuser = a\n", "PATH:3: '[account work' "
	  "is not a [group], a key = value line or a # comment" },
	{ BASE_CMD "imap imaps://x\n", "PATH:5: 'imap imaps://x' is not a "
	  "[group], a key = value line or a # comment" },
	{ BASE_CMD "= x\n", "PATH:5: a value without a key" },
	{ BASE_CMD "\n[account home]\nuser = b\n" BASE_CMD, "PATH:8: [account "
	  "work]: given twice (first at line 1); put the keys of an account "
	  "in one group" },
	{ "default = work\ndefault = work\n" BASE_CMD, "PATH:2: default: "
	  "given more than once (first at line 1)" },
	{ "default =   # none\n" BASE_CMD, "PATH:1: default: empty value" },
	{ "\ndefault = home\n" BASE_CMD, "PATH:2: default: no account 'home' "
	  "(accounts: work)" },
	{ "", "PATH: no accounts (add a group [account NAME])" },
	{ "# nothing\n\n", "PATH: no accounts (add a group [account NAME])" },
};

START_TEST(test_bad_config)
{
	expect_error(bad_configs[_i].text, 0644, NULL, bad_configs[_i].want);
}
END_TEST

#define HOME_ACCOUNT \
	"[account home]\npop3 = pop3s://h\nuser = a\npassword_command = true\n"

START_TEST(test_choose_account)
{
	const char *two = HOME_ACCOUNT BASE_CMD;

	expect_usage_error(two, NULL, "PATH: several accounts (home, work) and "
	                   "no default: choose one with --account, or add "
	                   "default = NAME above the groups");
	expect_usage_error(two, "x", "PATH: no account 'x' (accounts: home, "
	                   "work)");
	MfAccountConfig *cfg = expect_ok(two, 0644, "work");
	ck_assert_str_eq(cfg->name, "work");
	ck_assert(cfg->has_imap);
	config_account_free(cfg);
	cfg = expect_ok(two, 0644, "home");
	ck_assert_str_eq(cfg->name, "home");
	ck_assert(cfg->has_pop3);
	config_account_free(cfg);
	expect_usage_error(BASE_CMD, "home",
	                   "PATH: no account 'home' (accounts: work)");
	/* Every group is checked, not only the one chosen. */
	expect_error(HOME_ACCOUNT BASE "timeout = x\n", 0644, "home",
	             "PATH: [account work] timeout: 'x' is not a number from 1 "
	             "to 3600");
}
END_TEST

#define HOME_DEFAULT \
	"[account home]\npop3 = pop3s://h\nuser = a\npassword_command = true\n" \
	"default = yes\n"

START_TEST(test_default_account)
{
	const char *two = HOME_ACCOUNT BASE_CMD;
	g_autofree char *top = g_strconcat("# mine\n  default = work  # job\n\n",
	                                   two, NULL);
	MfAccountConfig *cfg = expect_ok(top, 0644, NULL);

	ck_assert_str_eq(cfg->name, "work");
	config_account_free(cfg);
	/* --account still chooses. */
	cfg = expect_ok(top, 0644, "home");
	ck_assert_str_eq(cfg->name, "home");
	config_account_free(cfg);
	/* default = yes in the group. */
	cfg = expect_ok(BASE_CMD HOME_DEFAULT, 0644, NULL);
	ck_assert_str_eq(cfg->name, "home");
	ck_assert(cfg->is_default);
	config_account_free(cfg);
	/* Both ways, agreeing. */
	cfg = expect_ok("default = home\n" BASE_CMD HOME_DEFAULT, 0644, NULL);
	ck_assert_str_eq(cfg->name, "home");
	config_account_free(cfg);
	expect_error("default = work\n" BASE_CMD HOME_DEFAULT, 0644, NULL,
	             "PATH: [account home] default: the default is already "
	             "work");
	expect_error(BASE_CMD "default = yes\n" HOME_DEFAULT, 0644, NULL,
	             "PATH: [account home] default: the default is already "
	             "work");
	/* default = no is no default. */
	expect_usage_error(BASE_CMD "default = no\n" HOME_ACCOUNT, NULL,
	                   "PATH: several accounts (work, home) and no "
	                   "default: choose one with --account, or add "
	                   "default = NAME above the groups");
}
END_TEST

START_TEST(test_load_all)
{
	GError *err = NULL;

	write_config(BASE_CMD HOME_ACCOUNT "[account x]\n", 0644);
	ck_assert_ptr_null(config_load_all(conf_path, &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	g_clear_error(&err);
	write_config(BASE_CMD HOME_ACCOUNT, 0644);
	GPtrArray *all = config_load_all(conf_path, &err);
	ck_assert_ptr_nonnull(all);
	ck_assert_uint_eq(all->len, 2);
	ck_assert_str_eq(((MfAccountConfig *)all->pdata[0])->name, "work");
	ck_assert_str_eq(((MfAccountConfig *)all->pdata[1])->name, "home");
	g_ptr_array_unref(all);
}
END_TEST

static const struct {
	const char *value;
	guint64 bytes;
} sizes[] = {
	{ "0", 0 }, { "1024", 1024 }, { "1024B", 1024 }, { "2k", 2048 },
	{ "2KB", 2048 }, { "2KiB", 2048 }, { "3m", 3u << 20 },
	{ "3MB", 3u << 20 }, { "2G", 2ull << 30 }, { "2GB", 2ull << 30 },
	{ "2GiB", 2ull << 30 }, { "2gib", 2ull << 30 }, { "1T", 1ull << 40 },
	{ "1tb", 1ull << 40 },
};

START_TEST(test_sizes)
{
	g_autofree char *text = g_strdup_printf(BASE_CMD "cache_max = %s\n"
	                                        "max_message_size = %s\n",
	                                        sizes[_i].value,
	                                        sizes[_i].value);
	MfAccountConfig *cfg = expect_ok(text, 0644, NULL);

	ck_assert_uint_eq(cfg->cache_max, sizes[_i].bytes);
	ck_assert_uint_eq(cfg->max_message_size, sizes[_i].bytes);
	config_account_free(cfg);
}
END_TEST

START_TEST(test_habit_keys)
{
	MfAccountConfig *cfg = expect_ok(
		BASE_CMD
		"mount_point = ~/mail\n"
		"sync_folders = INBOX 'Archive*' \"Old mail\" !Junk  # prefetch\n"
		"max_age = 12w\n"
		"log_file = ~/mailfs.log\n"
		"log_level = Warning\n"
		"sent_folder = Archive/Sent\n",
		0644, NULL);
	g_autofree char *mp = g_build_filename(tmpdir, "mail", NULL);
	g_autofree char *log = g_build_filename(tmpdir, "mailfs.log", NULL);
	const char *const want[] = { "INBOX", "Archive*", "Old mail", "!Junk",
	                             NULL };

	ck_assert_str_eq(cfg->mount_point, mp);
	ck_assert(g_strv_equal((const char *const *)cfg->sync_folders, want));
	ck_assert_uint_eq(cfg->max_age, 84);
	ck_assert_uint_eq(cfg->max_message_size, 0);
	ck_assert_str_eq(cfg->log_file, log);
	ck_assert_int_eq(cfg->log_level, LOG_WARNING);
	ck_assert_str_eq(cfg->sent_folder, "Archive/Sent");
	config_account_free(cfg);
	cfg = expect_ok(BASE_CMD "max_age = 90\n", 0644, NULL);
	g_autofree char *dflt = g_build_filename(tmpdir, "mailfs", "work", NULL);
	ck_assert_str_eq(cfg->mount_point, dflt);
	ck_assert_uint_eq(cfg->max_age, 90);
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_ptr_null(cfg->sync_folders);
	config_account_free(cfg);
	cfg = expect_ok(BASE_CMD "max_age = 1y\n", 0644, NULL);
	ck_assert_uint_eq(cfg->max_age, 365);
	config_account_free(cfg);
	/* The hidden test knob of the outbox's retries. */
	cfg = expect_ok(BASE_CMD "test_outbox_retry_ms = 250\n"
	                "test_reconnect_ms = 200\n", 0644, NULL);
	ck_assert_uint_eq(cfg->test_outbox_retry_ms, 250);
	ck_assert_uint_eq(cfg->test_reconnect_ms, 200);
	config_account_free(cfg);
}
END_TEST

#define PW_REFUSED "PATH: [account work] password: a literal password is " \
	"only accepted from a file that no other user can read (chmod 600 " \
	"PATH), or use password_command"

START_TEST(test_literal_password)
{
	const char *text = BASE "password = hunter2  \n";
	GError *err = NULL;

	expect_error(text, 0644, NULL, PW_REFUSED);
	expect_error(text, 0640, NULL, PW_REFUSED);
	expect_error(text, 0604, NULL, PW_REFUSED);
	MfAccountConfig *cfg = expect_ok(text, 0600, NULL);
	/* Taken exactly as GKeyFile gives it, trailing spaces included. */
	ck_assert_str_eq(cfg->password, "hunter2  ");
	char *pw = config_take_password(cfg, &err);
	ck_assert_str_eq(pw, "hunter2  ");
	/* Moved out, not copied: one copy is left. */
	ck_assert_ptr_null(cfg->password);
	ck_assert_ptr_null(config_take_password(cfg, &err));
	g_clear_error(&err);
	config_password_free(pw);
	config_account_free(cfg);
	cfg = expect_ok(text, 0400, NULL);
	config_account_free(cfg);

	/* Both password sources is an error too. */
	expect_error(BASE "password = x\npassword_command = true\n", 0600, NULL,
	             "PATH: [account work] password: give password or "
	             "password_command, not both");
	expect_error(BASE "password =\n", 0600, NULL,
	             "PATH: [account work] password: empty value");

	/* A private file owned by someone else is refused as well. */
	if (geteuid() == 0) {
		write_config(text, 0600);
		ck_assert_int_eq(chown(conf_path, 65534, 65534), 0);
		char *want = with_path(PW_REFUSED);
		ck_assert_ptr_null(config_load_account(conf_path, NULL, &err));
		ck_assert_str_eq(err->message, want);
		g_clear_error(&err);
		g_free(want);
		ck_assert_int_eq(chown(conf_path, 0, 0), 0);
	}
}
END_TEST

#define CMD_WRITABLE(mode) "PATH: [account work] password_command: only " \
	"accepted from a file that no other user can change (mode " mode \
	": chmod go-w PATH)"

/* password_command runs what the file says, and imap says where the
 * password goes: a file others can change is refused, as for a literal
 * password (issue 13, 12). */
START_TEST(test_command_file_trust)
{
	expect_error(BASE_CMD, 0664, NULL, CMD_WRITABLE("0664"));
	expect_error(BASE_CMD, 0646, NULL, CMD_WRITABLE("0646"));
	expect_error(BASE_CMD, 0666, NULL, CMD_WRITABLE("0666"));
	config_account_free(expect_ok(BASE_CMD, 0644, NULL));
	config_account_free(expect_ok(BASE_CMD, 0600, NULL));
	config_account_free(expect_ok(BASE_CMD, 0400, NULL));

	/* Someone else's file, even a private one; root's is trusted (root
	 * can change anything anyway). */
	if (geteuid() == 0) {
		GError *err = NULL;
		write_config(BASE_CMD, 0600);
		ck_assert_int_eq(chown(conf_path, 65534, 65534), 0);
		char *want = with_path("PATH: [account work] password_command: "
		                       "only accepted from a file of your own "
		                       "(it belongs to uid 65534: chown 0 PATH, "
		                       "or copy it)");
		ck_assert_ptr_null(config_load_account(conf_path, NULL, &err));
		ck_assert_str_eq(err->message, want);
		g_clear_error(&err);
		g_free(want);
		ck_assert_int_eq(chown(conf_path, 0, 0), 0);
	}
}
END_TEST

START_TEST(test_file_errors)
{
	GError *err = NULL;
	char *want = with_path("PATH: cannot read: No such file or directory");

	ck_assert_ptr_null(config_load_account(conf_path, NULL, &err));
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	ck_assert_str_eq(err->message, want);
	g_clear_error(&err);
	g_free(want);

	ck_assert_ptr_null(config_load_account(tmpdir, NULL, &err));
	want = g_strdup_printf("%s: not a regular file", tmpdir);
	ck_assert_str_eq(err->message, want);
	g_clear_error(&err);
	g_free(want);

	/* The size limit: 1 MiB of comments plus one byte. */
	char *big = g_strnfill(1024 * 1024 + 1, '#');
	big[0] = '\n';
	write_config(big, 0644);
	ck_assert_ptr_null(config_load_account(conf_path, NULL, &err));
	want = with_path("PATH: file is larger than 1 MiB");
	ck_assert_str_eq(err->message, want);
	g_clear_error(&err);
	g_free(want);
	g_free(big);
}
END_TEST

/* An account whose password comes from CMD, with TIMEOUT seconds. */
static MfAccountConfig *
command_account(const char *cmd, guint timeout)
{
	MfAccountConfig *cfg = g_new0(MfAccountConfig, 1);

	cfg->name = g_strdup("work");
	cfg->password_command = g_strdup(cmd);
	cfg->timeout = timeout;
	return cfg;
}

/* Runs CMD as password_command and returns what config_take_password
 * gave, or NULL with *ERR. */
static char *
run_command(const char *cmd, guint timeout, GError **err)
{
	MfAccountConfig *cfg = command_account(cmd, timeout);
	char *pw = config_take_password(cfg, err);

	config_account_free(cfg);
	return pw;
}

typedef struct {
	const char *cmd;
	const char *want;
} GoodCommand;

static const GoodCommand good_commands[] = {
	{ "printf 'secret\\nignored'", "secret" },
	{ "printf 'secret'", "secret" },
	{ "printf 'secret\\r\\n'", "secret" },
	{ "echo ' spaced pw '", " spaced pw " },
	{ "echo pw; echo oops >&2", "pw" },
	{ "read x; printf 'stdin:%s\\n' \"$x\"", "stdin:" },
	/* More after the first line than is ever kept. */
	{ "echo pw; head -c 200000 /dev/zero", "pw" },
	/* A background child that keeps stdout open does not count. */
	{ "sleep 3 2>/dev/null & printf 'hunter2\\n'", "hunter2" },
	{ "printf hunter2; sleep 3 2>/dev/null &", "hunter2" },
};

START_TEST(test_command_ok)
{
	GError *err = NULL;
	char *pw = run_command(good_commands[_i].cmd, 5, &err);

	ck_assert_msg(pw != NULL, "%s: %s", good_commands[_i].cmd,
	              err ? err->message : "");
	ck_assert_str_eq(pw, good_commands[_i].want);
	config_password_free(pw);
}
END_TEST

typedef struct {
	const char *cmd;
	const char *want;
} BadCommand;

static const BadCommand bad_commands[] = {
	{ "exit 3", "[account work] password_command exited with status 3" },
	{ "printf 'hunter2\\n'; exit 1",
	  "[account work] password_command exited with status 1" },
	{ "printf 'hunter2\\n'; kill -9 $$",
	  "[account work] password_command was killed by signal 9" },
	{ "true", "[account work] password_command printed an empty first line" },
	{ "printf '\\nhunter2\\n'",
	  "[account work] password_command printed an empty first line" },
	{ "printf 'hun\\000ter2\\n'",
	  "[account work] password_command printed a NUL byte" },
	{ "head -c 70000 /dev/zero | tr '\\000' a",
	  "[account work] password_command printed more than 64 KiB" },
	{ "/nonexistent/command",
	  "[account work] password_command exited with status 127" },
};

START_TEST(test_command_fails)
{
	GError *err = NULL;
	char *pw = run_command(bad_commands[_i].cmd, 5, &err);

	ck_assert_msg(pw == NULL, "%s gave a password", bad_commands[_i].cmd);
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	ck_assert_str_eq(err->message, bad_commands[_i].want);
	ck_assert_ptr_null(strstr(err->message, "hunter2"));
	g_error_free(err);
}
END_TEST

START_TEST(test_command_timeout)
{
	/* A command that hangs, one that closes stdout and then hangs, and
	 * one that prints without end. */
	static const char *const cmds[] = {
		"sleep 10",
		"printf hunter2; exec >&-; sleep 10",
		"echo hunter2; yes",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		GError *err = NULL;
		gint64 start = g_get_monotonic_time();
		char *pw = run_command(cmds[i], 1, &err);
		gint64 took = g_get_monotonic_time() - start;

		ck_assert_ptr_null(pw);
		ck_assert_str_eq(err->message,
		                 "[account work] password_command timed out after 1 s");
		ck_assert_msg(took >= G_USEC_PER_SEC * 9 / 10 &&
		              took < 2 * G_USEC_PER_SEC, "%s took %" G_GINT64_FORMAT
		              " us", cmds[i], took);
		g_error_free(err);
	}
}
END_TEST

/* The command of issue 13 (8): it prints the password and leaves a child
 * in a session of its own that holds stdout open for 30 s.  The password
 * comes at once, long before the timeout. */
START_TEST(test_command_background_child)
{
	GError *err = NULL;
	gint64 start = g_get_monotonic_time();
	char *pw = run_command("echo pw; setsid sleep 30 2>/dev/null &", 5, &err);
	gint64 took = g_get_monotonic_time() - start;

	ck_assert_msg(pw != NULL, "%s", err ? err->message : "");
	ck_assert_str_eq(pw, "pw");
	ck_assert_msg(took < G_USEC_PER_SEC, "took %" G_GINT64_FORMAT " us",
	              took);
	config_password_free(pw);
}
END_TEST

START_TEST(test_no_password_source)
{
	MfAccountConfig *cfg = g_new0(MfAccountConfig, 1);
	GError *err = NULL;

	cfg->name = g_strdup("work");
	ck_assert_ptr_null(config_take_password(cfg, &err));
	ck_assert_str_eq(err->message,
	                 "[account work] has neither password nor password_command");
	g_error_free(err);
	config_account_free(cfg);
	config_account_free(NULL);
	config_password_free(NULL);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	TCase *pw = tcase_create("password");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_account);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_default_path);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_pop3_account);
	tcase_add_loop_test(tc, test_bad_config, 0, G_N_ELEMENTS(bad_configs));
	tcase_add_test(tc, test_choose_account);
	tcase_add_test(tc, test_default_account);
	tcase_add_test(tc, test_load_all);
	tcase_add_loop_test(tc, test_sizes, 0, G_N_ELEMENTS(sizes));
	tcase_add_test(tc, test_habit_keys);
	tcase_add_test(tc, test_literal_password);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_command_file_trust);
	suite_add_tcase(s, tc);

	tcase_add_loop_test(pw, test_command_ok, 0, G_N_ELEMENTS(good_commands));
	tcase_add_loop_test(pw, test_command_fails, 0,
	                    G_N_ELEMENTS(bad_commands));
	tcase_add_test(pw, test_command_timeout);
	tcase_add_test(pw, test_command_background_child);
	tcase_add_test(pw, test_no_password_source);
	tcase_set_timeout(pw, 20);
	suite_add_tcase(s, pw);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
