/* login_cmd.c - the `mailfs login` command: the code to enter shown, the
 * sign-in awaited, the refresh token kept, then one login to the mail
 * server with the new access token, to see that it takes it. */
#include "fs/login_cmd.h"

#include <signal.h>
#include <stdio.h>

#include "cache/account.h"
#include "cache/tokens.h"
#include "fs/cli.h"
#include "fs/config.h"
#include "fs/log.h"
#include "fs/mount.h"

/* Shows what the user is to do; server text, made printable. */
static void
login_cmd_show_cb(const MfSignIn *s, void *ud)
{
	const MfAccountConfig *cfg = ud;
	g_autofree char *uri = log_safe_text(s->verification_uri, FALSE);
	g_autofree char *code = log_safe_text(s->user_code, FALSE);

	printf("To sign in account '%s', open\n\n    %s\n\nand enter the "
	       "code\n\n    %s\n\n", cfg->name, uri, code);
	if (s->verification_uri_complete) {
		g_autofree char *full =
			log_safe_text(s->verification_uri_complete, FALSE);
		printf("(or open %s)\n", full);
	}
	printf("The code is valid for %" G_GINT64_FORMAT " minutes. Waiting "
	       "for the sign-in...\n", MAX(s->expires_in / 60, 1));
	fflush(stdout);
}

/* One login to the mail server with the tokens T, as a mount would (and
 * its folders listed). */
static gboolean
login_cmd_check(const MfAccountConfig *cfg, MfTokens *t, GError **err)
{
	MfAccountParams p;

	mount_params(cfg, NULL, &p);
	p.backend.tokens = tokens_ref(t);
	log_mute(TRUE);
	gboolean ok = mount_check(cfg, &p, err);
	log_mute(FALSE);
	account_params_clear(&p);
	return ok;
}

static int
login_cmd_run(MfAccountConfig *cfg)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(MfTokens) t = mount_tokens(cfg);

	if (!t) {
		fprintf(stderr, "mailfs: login: account '%s' logs in with a "
		        "password: there is nothing to sign in to (OAuth 2.0 "
		        "needs oauth2_client_id, see mailfs.conf(5))\n",
		        cfg->name);
		return CLI_EXIT_CONFIG;
	}
	if (!tokens_sign_in(t, login_cmd_show_cb, cfg, &err)) {
		mount_say(cfg, "sign-in failed: ", err, "");
		return cli_exit_status(err);
	}
	printf("Signed in; the refresh token is %s%s.\n",
	       g_str_has_prefix(tokens_store_name(t), "/") ? "in " : "",
	       tokens_store_name(t));
	if (!login_cmd_check(cfg, t, &err)) {
		mount_say(cfg, "signed in, but the mail server refused the "
		          "new token: ", err, "");
		return cli_exit_status(err);
	}
	printf("The mail server takes the token: account '%s' can be "
	       "mounted.\n", cfg->name);
	return CLI_EXIT_OK;
}

int
login_cmd_main(int argc, char **argv)
{
	g_autofree char *config = NULL;
	g_autofree char *account = NULL;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
		  "config file", "FILE" },
		{ "account", 'a', 0, G_OPTION_ARG_STRING, &account,
		  "account to sign in (default: the default one)", "NAME" },
		{ NULL },
	};
	g_autoptr(GError) err = NULL;
	int status = 0;

	if (!cli_parse("login", entries, "", "Sign an account in with OAuth "
	               "2.0 (the device authorization grant: a code to\n"
	               "enter in a browser) and keep its refresh token.",
	               &argc, &argv, &status))
		return status;
	if (argc > 1)
		return cli_usage_error("login", "too many arguments");
	if (!config)
		config = config_default_path();
	g_autoptr(MfAccountConfig) cfg =
		config_load_account(config, account, &err);
	if (!cfg)
		return cli_config_error("login", err);
	log_setup("mailfs", FALSE, FALSE);
	signal(SIGPIPE, SIG_IGN);
	mount_protect_process();
	return login_cmd_run(cfg);
}
