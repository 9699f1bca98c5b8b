/* test_config_oauth2.c - the auth and oauth2_* keys of fs/config_oauth2.c
 * read from real files: the presets, the defaults (auth, where the
 * refresh token is kept), and the exact errors of keys that do not go
 * together or come from a file others can change. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/config.h"
#include "net/mf_error.h"

static char *tmpdir;
static char *conf_path;

static void
setup(void)
{
	tmpdir = g_dir_make_tmp("mailfs-config-oauth2-XXXXXX", NULL);
	ck_assert_ptr_nonnull(tmpdir);
	conf_path = g_build_filename(tmpdir, "config", NULL);
	g_setenv("HOME", tmpdir, TRUE);
	g_unsetenv("XDG_CACHE_HOME");
	g_unsetenv("XDG_DATA_HOME");
}

static void
teardown(void)
{
	g_remove(conf_path);
	g_rmdir(tmpdir);
	g_free(conf_path);
	g_free(tmpdir);
}

static void
write_config(const char *text, mode_t mode)
{
	ck_assert(g_file_set_contents(conf_path, text, -1, NULL));
	ck_assert_int_eq(chmod(conf_path, mode), 0);
}

static MfAccountConfig *
expect_ok(const char *text, mode_t mode)
{
	GError *err = NULL;

	write_config(text, mode);
	MfAccountConfig *cfg = config_load_account(conf_path, NULL, &err);
	ck_assert_msg(cfg != NULL, "refused: %s", err ? err->message : "?");
	return cfg;
}

/* TEXT must fail with "PATH: [account work] " and WANT. */
static void
expect_error(const char *text, mode_t mode, const char *want)
{
	GError *err = NULL;

	write_config(text, mode);
	MfAccountConfig *cfg = config_load_account(conf_path, NULL, &err);
	ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
	ck_assert(g_error_matches(err, MF_ERROR, MF_ERROR_CONFIG));
	g_autofree char *full = g_strdup_printf("%s: [account work] %s",
	                                        conf_path, want);
	ck_assert_str_eq(err->message, full);
	g_error_free(err);
}

#define BASE "[account work]\nimap = imaps://imap.gmail.com\n" \
	"user = alice@gmail.com\n"

START_TEST(test_google_preset)
{
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "oauth2_provider = Google\noauth2_client_id = 123.apps\n"
		"oauth2_client_secret_command = pass show google/secret\n",
		0600);
	const MfOAuth2Config *o = &cfg->oauth2;

	ck_assert_str_eq(o->provider, "google");
	ck_assert_str_eq(o->token_url, "https://oauth2.googleapis.com/token");
	ck_assert_str_eq(o->device_url,
	                 "https://oauth2.googleapis.com/device/code");
	ck_assert_str_eq(o->scope, "https://mail.google.com/");
	ck_assert_str_eq(o->client_id, "123.apps");
	ck_assert_str_eq(o->client_secret_command, "pass show google/secret");
	ck_assert_int_eq(o->auth, SASL_AUTH_OAUTH2);
	ck_assert_ptr_null(cfg->password);
	ck_assert_ptr_null(cfg->password_command);
	g_autofree char *want = g_build_filename(
		tmpdir, ".local", "share", "mailfs", "work.refresh-token", NULL);
	ck_assert_str_eq(o->refresh_token_file, want);
}
END_TEST

/* Keys the file gives win over the preset's; XDG_DATA_HOME is used. */
START_TEST(test_microsoft_preset_overridden)
{
	g_setenv("XDG_DATA_HOME", "/srv/data", TRUE);
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "oauth2_provider = microsoft\noauth2_client_id = abc\n"
		"oauth2_token_url = https://login.microsoftonline.com/T/oauth2/"
		"v2.0/token\nauth = xoauth2\n", 0644);
	const MfOAuth2Config *o = &cfg->oauth2;

	ck_assert_str_eq(o->token_url, "https://login.microsoftonline.com/T/"
	                 "oauth2/v2.0/token");
	ck_assert_str_eq(o->device_url, "https://login.microsoftonline.com/"
	                 "common/oauth2/v2.0/devicecode");
	ck_assert(strstr(o->scope, "offline_access"));
	ck_assert(strstr(o->scope, "IMAP.AccessAsUser.All"));
	ck_assert(strstr(o->scope, "POP.AccessAsUser.All"));
	ck_assert(strstr(o->scope, "SMTP.Send"));
	ck_assert_int_eq(o->auth, SASL_AUTH_XOAUTH2);
	ck_assert_str_eq(o->refresh_token_file,
	                 "/srv/data/mailfs/work.refresh-token");
}
END_TEST

/* An issuer: the endpoints are found at mount time, not filled in. */
START_TEST(test_issuer)
{
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "oauth2_issuer = https://id.example.com\n"
		"oauth2_client_id = c\noauth2_scope = mail\n", 0600);

	ck_assert_str_eq(cfg->oauth2.issuer, "https://id.example.com");
	ck_assert_ptr_null(cfg->oauth2.token_url);
	ck_assert_str_eq(cfg->oauth2.scope, "mail");
}
END_TEST

START_TEST(test_token_command)
{
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "oauth2_token_command = oama access alice@gmail.com\n"
		"auth = oauthbearer\n", 0600);

	ck_assert_str_eq(cfg->oauth2.token_command,
	                 "oama access alice@gmail.com");
	ck_assert_int_eq(cfg->oauth2.auth, SASL_AUTH_OAUTHBEARER);
	ck_assert_ptr_null(cfg->oauth2.refresh_token_file);
}
END_TEST

START_TEST(test_refresh_token_command)
{
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "oauth2_provider = google\noauth2_client_id = c\n"
		"oauth2_refresh_token_command = secret-tool-wrapper\n", 0600);

	ck_assert_str_eq(cfg->oauth2.refresh_token_command,
	                 "secret-tool-wrapper");
	ck_assert_ptr_null(cfg->oauth2.refresh_token_file);
}
END_TEST

/* Without any OAuth2 key nothing changes: a password, auth = password. */
START_TEST(test_password_account)
{
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "password_command = pass show mail\n", 0600);

	ck_assert_int_eq(cfg->oauth2.auth, SASL_AUTH_PASSWORD);
	ck_assert_ptr_null(cfg->oauth2.refresh_token_file);
	g_autoptr(MfAccountConfig) plain = expect_ok(
		BASE "password_command = p\nauth = plain\n", 0600);
	ck_assert_int_eq(plain->oauth2.auth, SASL_AUTH_PLAIN);
}
END_TEST

static const struct {
	const char *keys;
	const char *want;
} bad[] = {
	{ "oauth2_token_command = t\noauth2_client_id = c\n"
	  "oauth2_provider = google\n",
	  "oauth2_token_command: give oauth2_token_command or the built-in "
	  "client (oauth2_client_id), not both" },
	{ "oauth2_client_id = c\n",
	  "oauth2_client_id: the built-in client needs oauth2_provider, "
	  "oauth2_issuer or oauth2_token_url" },
	{ "oauth2_provider = google\n",
	  "oauth2_client_id: required key is missing (with oauth2_provider)" },
	{ "oauth2_token_command = t\noauth2_scope = mail\n",
	  "oauth2_client_id: required key is missing (with oauth2_scope)" },
	{ "oauth2_token_command = t\npassword_command = p\n",
	  "password_command: give a password or an OAuth2 token source "
	  "(oauth2_token_command), not both" },
	{ "password_command = p\nauth = xoauth2\n",
	  "auth: logs in with an access token, but the account has no "
	  "oauth2_token_command nor oauth2_client_id" },
	{ "oauth2_token_command = t\nauth = login\n",
	  "auth: logs in with a password, but the account gets OAuth2 tokens "
	  "(use oauth2, xoauth2 or oauthbearer)" },
	{ "oauth2_token_command = t\nauth = kerberos\n",
	  "auth: 'kerberos' is not password, oauth2, plain, login, xoauth2 or "
	  "oauthbearer" },
	{ "oauth2_provider = yahoo\n",
	  "oauth2_provider: 'yahoo' is not google or microsoft" },
	{ "oauth2_client_id = c\noauth2_token_url = http://id.example/token\n",
	  "oauth2_token_url: 'http://id.example/token' is not an https:// URL" },
	{ "oauth2_client_id = c\noauth2_issuer = https://\n",
	  "oauth2_issuer: 'https://' is not an https:// URL" },
	{ "", "password_command: required key is missing (or password)" },
};

START_TEST(test_bad)
{
	g_autofree char *text = g_strconcat(BASE, bad[_i].keys, NULL);

	expect_error(text, 0600, bad[_i].want);
}
END_TEST

/* Keys that run commands or decide where the refresh token goes are not
 * taken from a file others can change. */
START_TEST(test_untrusted_file)
{
	static const char *const keys[] = {
		"oauth2_token_command = t\n",
		"oauth2_client_id = c\noauth2_provider = google\n",
		"oauth2_client_id = c\noauth2_token_url = https://x/t\n",
		"oauth2_client_id = c\noauth2_issuer = https://x\n",
		"oauth2_client_id = c\noauth2_device_url = https://x/d\n",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree char *text = g_strconcat(BASE, keys[i], NULL);
		GError *err = NULL;

		write_config(text, 0666);
		ck_assert_ptr_null(config_load_account(conf_path, NULL, &err));
		ck_assert_msg(strstr(err->message, "only accepted from a file "
		                     "that no other user can change"), "%s",
		              err->message);
		g_error_free(err);
	}
	/* readable by others is fine: nothing in it is a secret */
	g_autoptr(MfAccountConfig) cfg = expect_ok(
		BASE "oauth2_client_id = c\noauth2_provider = google\n", 0644);
	ck_assert_str_eq(cfg->oauth2.client_id, "c");
}
END_TEST

static Suite *
config_oauth2_suite(void)
{
	Suite *s = suite_create("config_oauth2");
	TCase *tc = tcase_create("keys");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_google_preset);
	tcase_add_test(tc, test_microsoft_preset_overridden);
	tcase_add_test(tc, test_issuer);
	tcase_add_test(tc, test_token_command);
	tcase_add_test(tc, test_refresh_token_command);
	tcase_add_test(tc, test_password_account);
	tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad));
	tcase_add_test(tc, test_untrusted_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_oauth2_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
