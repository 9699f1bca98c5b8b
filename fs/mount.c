/* mount.c - from a config to a running mount: check the server, mount
 * through /dev/fuse, daemonize, serve requests until unmounted. */
#include "fs/mount.h"
#include "fs/errmap.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cache/account.h"
#include "cache/lock.h"
#include "fs/cli.h"
#include "fs/ctl_ops.h"
#include "fs/folder_ops.h"
#include "fs/inval.h"
#include "fs/log.h"
#include "fs/node.h"
#include "fs/notify.h"
#include "fs/ops.h"
#include "fs/status_cmd.h"
#include "fs/view_ops.h"
#include "net/mf_error.h"

void
mount_say(const MfAccountConfig *cfg, const char *what, const GError *err,
          const char *after)
{
	const MfUrl *u = cfg->has_imap ? &cfg->imap : &cfg->pop3;
	g_autofree char *server = url_to_string(u);
	g_autofree char *safe = log_safe_text(err->message, FALSE);
	const char *msg = safe;
	size_t n = strlen(server);

	/* Lower layers often start with the server already. */
	if (strncmp(msg, server, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		msg += n + 2;
	fprintf(stderr, "%smailfs: account '%s' (%s): %s%s%s\n",
	        log_stderr_prefix(LOG_ERR), cfg->name, server, what, msg,
	        after);
}

/* Prints ERR about CFG's account; returns the exit status it means. */
static int
mount_fail(const MfAccountConfig *cfg, const GError *err)
{
	mount_say(cfg, "", err, "");
	return cli_exit_status(err);
}

/* *S: how to reach URL as CFG says, in new copies (PASSWORD taken). */
static void
mount_server(const MfAccountConfig *cfg, const MfUrl *url, char *password,
             MfServerParams *s)
{
	s->url = *url;
	s->url.host = g_strdup(url->host);
	s->ca_file = g_strdup(cfg->ca_file);
	s->tls_fingerprint = g_strdup(cfg->tls_fingerprint);
	s->user = g_strdup(cfg->user);
	s->password = password;
	s->auth = cfg->oauth2.auth;
	s->timeout_ms = (int)cfg->timeout * 1000;
}

void
mount_params(const MfAccountConfig *cfg, char *password, MfAccountParams *p)
{
	memset(p, 0, sizeof *p);
	p->name = g_strdup(cfg->name);
	p->cache_dir = g_strdup(cfg->cache_dir);
	p->max_connections = cfg->max_connections;
	p->refresh_interval = cfg->refresh_interval;
	p->cache_max = cfg->cache_max;
	p->leave_on_server = cfg->leave_on_server;
	p->delete_expunge = cfg->delete_expunge;
	p->poll_interval = cfg->poll_interval;
	p->backoff_min_ms = cfg->test_reconnect_ms;
	mount_server(cfg, cfg->has_imap ? &cfg->imap : &cfg->pop3, password,
	             &p->backend.server);
	p->backend.message_max = cfg->message_max;
}

MfTokens *
mount_tokens(const MfAccountConfig *cfg)
{
	const MfOAuth2Config *o = &cfg->oauth2;

	if (!o->token_command && !o->client_id)
		return NULL;
	MfTokenParams t = {
		.account = cfg->name,
		.token_command = o->token_command,
		.issuer = o->issuer,
		.token_url = o->token_url,
		.device_url = o->device_url,
		.client_id = o->client_id,
		.client_secret_command = o->client_secret_command,
		.scope = o->scope,
		.refresh_token_file = o->refresh_token_file,
		.refresh_token_command = o->refresh_token_command,
		.ca_file = cfg->ca_file,
		.timeout_s = cfg->timeout,
	};
	return tokens_new(&t);
}

gboolean
mount_credentials(MfAccountConfig *cfg, MfAccountParams *p, GError **err)
{
	MfTokens *tokens = mount_tokens(cfg);
	char *password = NULL;

	if (!tokens && !(password = config_take_password(cfg, err)))
		return FALSE;
	mount_params(cfg, password, p);
	p->backend.tokens = tokens;
	return TRUE;
}

/* Logs in and lists the folders, so that a mount that cannot work fails
 * before anything is mounted. */
gboolean
mount_check(const MfAccountConfig *cfg, const MfAccountParams *p,
            GError **err)
{
	MfAccount *a = account_open(p, NULL, err);

	if (!a)
		return FALSE;
	gboolean ok = account_connect(a, err);
	account_close(a);
	return ok;
}

/* ---- the mount point ---- */

/* Prints why CFG's account cannot be mounted on MP; returns 1. */
static int G_GNUC_PRINTF(3, 4)
mount_refuse(const MfAccountConfig *cfg, const char *mp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%smailfs: account '%s': cannot mount on %s: %s\n",
	        log_stderr_prefix(LOG_ERR), cfg->name, mp, why);
	return CLI_EXIT_FAILURE;
}

/* 1 if the directory MP holds anything, 0 if not, -errno if it cannot
 * be read. */
static int
mount_dir_has_entries(const char *mp)
{
	DIR *d = opendir(mp);
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	while (!found && (e = readdir(d)))
		found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return found;
}

/* Detaches the mount on MP (lazily: what still uses it keeps it until it
 * lets go).  TRUE when it is gone. */
static gboolean
mount_detach(const char *mp)
{
	const char *argv[] = { "fusermount3", "-u", "-z", mp, NULL };
	int status = 0;

	if (geteuid() == 0)
		return umount2(mp, MNT_DETACH) == 0;
	return g_spawn_sync(NULL, (char **)argv, NULL,
	                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
	                    G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL,
	                    &status, NULL) &&
	       g_spawn_check_wait_status(status, NULL);
}

/* The mailfs mount LIVE on MP: refused, unless its daemon is gone (a
 * crash, a kill): then it is detached, and mounting goes on.  1 after
 * one line saying why not, 0 to go on. */
static int
mount_check_existing(const MfAccountConfig *cfg, const char *mp,
                     const StatusMount *live)
{
	struct stat st;

	if (stat(mp, &st) == 0 || !errmap_daemon_gone(errno))
		return mount_refuse(cfg, mp, "mailfs is already mounted there "
		                    "(account %s); unmount it first with "
		                    "'mailfs umount %s'", live->account, mp);
	if (!mount_detach(mp))
		return mount_refuse(cfg, mp, "a mailfs mount whose daemon is "
		                    "gone is in the way, and cannot be "
		                    "detached: try 'mailfs umount %s'", mp);
	fprintf(stderr, "%smailfs: account '%s': the mount on %s had lost its "
	        "daemon; detached it\n", log_stderr_prefix(LOG_WARNING),
	        cfg->name, mp);
	return 0;
}

/* Checks that MP can take the mount: a directory, empty unless NONEMPTY,
 * and not a mailfs mount already (the kernel would stack a second one on
 * it, or the first request would fail).  With MAKE, a missing MP is made
 * (it is the config's mount_point).  Prints one line and returns 1 when
 * it cannot; 0 when it can. */
static int
mount_check_point(const MfAccountConfig *cfg, const char *mp,
                  gboolean nonempty, gboolean make)
{
	StatusMount *live = status_cmd_find_mount(mp, NULL);
	struct stat st;

	if (live) {
		int rc = mount_check_existing(cfg, mp, live);
		status_mount_free(live);
		if (rc != 0)
			return rc;
	}
	if (make && stat(mp, &st) != 0 && errno == ENOENT &&
	    g_mkdir_with_parents(mp, 0700) != 0)
		return mount_refuse(cfg, mp, "cannot make it: %s",
		                    g_strerror(errno));
	if (stat(mp, &st) != 0)
		return mount_refuse(cfg, mp, "%s", g_strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mount_refuse(cfg, mp, "not a directory");
	int full = nonempty ? 0 : mount_dir_has_entries(mp);
	if (full < 0)
		return mount_refuse(cfg, mp, "%s", g_strerror(-full));
	if (full > 0)
		return mount_refuse(cfg, mp, "the directory is not empty (to "
		                    "hide what it holds while mounted, add "
		                    "-o nonempty)");
	return 0;
}

/* The -o values OPTS without "nonempty", which mailfs handles itself and
 * libfuse 3 no longer knows; *NONEMPTY says whether it was there.  Each
 * value is a comma-separated list (a comma escaped with '\\' does not
 * separate).  A new vector. */
static char **
mount_fuse_opts(char **opts, gboolean *nonempty)
{
	GPtrArray *out = g_ptr_array_new();

	*nonempty = FALSE;
	for (char **o = opts; o && *o; o++) {
		GString *kept = g_string_new(NULL);
		for (const char *p = *o; *p;) {
			size_t n = 0;
			while (p[n] && p[n] != ',')
				n += p[n] == '\\' && p[n + 1] ? 2 : 1;
			if (n == strlen("nonempty") && !strncmp(p, "nonempty", n))
				*nonempty = TRUE;
			else if (n > 0)
				g_string_append_printf(kept, "%s%.*s",
				                       kept->len ? "," : "", (int)n, p);
			p += p[n] ? n + 1 : n;
		}
		if (kept->len)
			g_ptr_array_add(out, g_string_free(kept, FALSE));
		else
			g_string_free(kept, TRUE);
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

/* ---- mounting ---- */

static struct fuse_session *
mount_session(const MfAccountConfig *cfg, char **fuse_opts, gboolean debug,
              MfFs *fs)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	g_autofree char *base = g_strdup_printf(
		"fsname=mailfs:%s,subtype=mailfs,default_permissions", cfg->name);

	fuse_opt_add_arg(&args, "mailfs");
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, base);
	for (char **opt = fuse_opts; opt && *opt; opt++) {
		fuse_opt_add_arg(&args, "-o");
		fuse_opt_add_arg(&args, *opt);
	}
	if (debug)
		fuse_opt_add_arg(&args, "-d");
	struct fuse_session *se =
		fuse_session_new(&args, &ops_table, sizeof ops_table, fs);
	fuse_opt_free_args(&args);
	return se;
}

/* Opens the outbox of CFG's account (which must have smtp). */
static MfOutbox *
mount_outbox(const MfAccountConfig *cfg, const MfAccountParams *p,
             MfAccount *account, GError **err)
{
	MfOutboxParams op = {
		/* the shared tokens, and no password: the account's, one
		 * copy in the daemon */
		.tokens = p->backend.tokens ? tokens_ref(p->backend.tokens)
		                            : NULL,
		.from = g_strdup(cfg->from),
		.save_sent = cfg->save_sent,
		.sent_folder = g_strdup(cfg->sent_folder),
		.retry_min_ms = cfg->test_outbox_retry_ms,
	};
	g_autofree char *dir = g_build_filename(cfg->cache_dir, "outbox", NULL);

	mount_server(cfg, &cfg->smtp, NULL, &op.smtp);
	MfOutbox *o = outbox_open(dir, &op, account, err); /* it copies OP */
	outbox_params_clear(&op);
	return o;
}

/* Wipes and drops P's password once the account and the outbox hold
 * theirs: the daemon keeps no copy of its own. */
static void
mount_forget_password(MfAccountParams *p)
{
	server_params_forget_password(&p->backend.server);
}

/* Runs the FUSE loop until unmounted or told to stop (SIGTERM, SIGINT,
 * SIGHUP: the caller unmounts); 0 then, 1 if the loop failed. */
static int
mount_loop(struct fuse_session *se, const MfAccountConfig *cfg,
           const char *mp, gboolean offline)
{
	g_autofree char *ready = g_strdup_printf(
		"READY=1\nSTATUS=account %s mounted on %s%s", cfg->name, mp,
		offline ? " (offline)" : "");
	struct fuse_loop_config *lc = fuse_loop_cfg_create();

	g_message("account %s mounted on %s%s", cfg->name, mp,
	          offline ? " offline, from the cache" : "");
	notify_send(ready);
	fuse_loop_cfg_set_clone_fd(lc, 0);
	/* Two idle workers: more only wait on the same /dev/fuse queue and
	 * contend for its lock on each request (a warm grep -r through the
	 * mount measured 10-25% slower with 10); busy ones are added as
	 * requests block on the network. */
	fuse_loop_cfg_set_idle_threads(lc, 2);
	/* A signal number when a signal ended it: a clean stop. */
	int rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	notify_send("STOPPING=1");
	return rc < 0 ? 1 : 0;
}

static int
mount_serve(struct fuse_session *se, MfFs *fs, const MfAccountConfig *cfg,
            const char *mp, MfAccountParams *p, const GError *offline)
{
	g_autoptr(GError) err = NULL;

	fs->account = account_open(p, NULL, &err);
	if (fs->account && cfg->has_smtp)
		fs->outbox = mount_outbox(cfg, p, fs->account, &err);
	mount_forget_password(p);
	if (!fs->account || (cfg->has_smtp && !fs->outbox)) {
		g_warning("%s", err->message);
		account_close(fs->account);
		return 1;
	}
	if (fs->outbox)
		outbox_start(fs->outbox);
	g_autofree char *staging =
		g_build_filename(cfg->cache_dir, "staging", NULL);
	folder_ops_init(fs, staging);
	ctl_ops_init(fs);
	view_ops_init(fs);
	node_handles_init(fs);
	Inval *iv = inval_start(se);
	fs->inval = iv;
	account_set_listing_hook(fs->account, inval_listing_cb, iv);
	account_start_polling(fs->account);
	if (offline)
		account_go_offline(fs->account, offline);
	int rc = mount_loop(se, cfg, mp, offline != NULL);
	account_set_listing_hook(fs->account, NULL, NULL);
	fs->inval = NULL;
	inval_stop(iv);
	folder_ops_cleanup(fs);
	ctl_ops_cleanup(fs);
	view_ops_cleanup(fs);
	node_handles_free_all(fs);
	outbox_close(fs->outbox);
	fs->outbox = NULL;
	account_close(fs->account);
	fs->account = NULL;
	return rc;
}

/* The daemon's memory stays in proportion to what it lists, however long
 * it runs: big arrays (a listing of 1,000,000 messages is 40 MB) are
 * always mapped on their own and given back when freed, and grow in
 * place (glibc raises its mmap threshold to the size of each big block
 * freed, after which they come from the heap and leave holes there);
 * and FUSE's worker threads share two arenas instead of one each, where
 * what one thread freed would wait for that thread. */
static void
mount_tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 2);
}

void
mount_protect_process(void)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		g_warning("cannot disable core dumps: %s", g_strerror(errno));
	setrlimit(RLIMIT_CORE, &none);
}

/* Checks the server (login and folder list) before anything is mounted.
 * FALSE, after one line on stderr, when mounting makes no sense; TRUE
 * with *ERR set when it is unreachable but the cache can be served. */
static gboolean
mount_reach(const MfAccountConfig *cfg, const MfAccountParams *p,
            GError **err)
{
	log_mute(TRUE);
	gboolean reached = mount_check(cfg, p, err);
	log_mute(FALSE);
	if (reached)
		return TRUE;
	/* Unreachable is not fatal when there is a cache to serve; TLS,
	 * authentication and config problems always are. */
	if (!mf_error_is_transient(*err) || !account_cache_exists(p)) {
		mount_say(cfg, "", *err, mf_error_is_transient(*err)
		          ? " (and no cache to serve offline)" : "");
		return FALSE;
	}
	mount_say(cfg, "offline (", *err, "); serving the cache");
	return TRUE;
}

/* Mounts SE on O->mountpoint (MP made absolute), daemonizes (LOCK goes
 * with the daemon) and serves until unmounted. */
static int
mount_fuse(struct fuse_session *se, MfFs *fs, const MfAccountConfig *cfg,
           const MountOptions *o, const char *mp, CacheLock *lock,
           MfAccountParams *p, const GError *offline)
{
	int rc = 1;

	if (fuse_set_signal_handlers(se) != 0)
		return rc;
	if (fuse_session_mount(se, o->mountpoint) == 0) {
		fuse_daemonize(o->foreground);
		lock_set_pid(lock);
		if (!o->foreground)
			log_setup("mailfs", TRUE, o->debug);
		rc = mount_serve(se, fs, cfg, mp, p, offline);
		fuse_session_unmount(se);
		g_message("account %s unmounted from %s", cfg->name, mp);
	} else {
		mount_refuse(cfg, o->mountpoint, "the kernel refused the mount "
		             "(see the line above)");
	}
	fuse_remove_signal_handlers(se);
	return rc;
}

/* Checks the mount point and what the config asks of the log; then the
 * FUSE session for FUSE_OPTS, made before the password is asked for, so
 * that a bad -o is a usage error at once.  NULL after one line saying
 * why, with *RC the exit status. */
static struct fuse_session *
mount_prepare(MfAccountConfig *cfg, const MountOptions *o, char **fuse_opts,
              gboolean nonempty, MfFs *fs, int *rc)
{
	g_autoptr(GError) err = NULL;

	*rc = mount_check_point(cfg, o->mountpoint, nonempty,
	                        o->make_mountpoint);
	if (*rc != 0)
		return NULL;
	if (!log_configure(cfg->log_level, cfg->log_file, &err)) {
		*rc = mount_fail(cfg, err);
		return NULL;
	}
	struct fuse_session *se = mount_session(cfg, fuse_opts, o->debug, fs);
	if (se)
		return se;
	*rc = CLI_EXIT_USAGE;
	g_autofree char *given = g_strjoinv(",", o->fuse_opts);
	mount_refuse(cfg, o->mountpoint, "FUSE does not take the options "
	             "-o %s (see the line above)", given);
	return NULL;
}

int
mount_run(MfAccountConfig *cfg, const MountOptions *o)
{
	g_autoptr(GError) err = NULL;
	gboolean nonempty;
	g_auto(GStrv) fuse_opts = mount_fuse_opts(o->fuse_opts, &nonempty);
	g_autofree char *mp = g_canonicalize_filename(o->mountpoint, NULL);
	MfFs fs = { .uid = getuid(), .gid = getgid(), .started = time(NULL),
	            .expunge = cfg->delete_expunge,
	            .read_only = cfg->read_only || o->read_only };
	MfAccountParams p;
	int rc;

	mount_protect_process();
	mount_tune_malloc();
	signal(SIGPIPE, SIG_IGN);
	log_setup("mailfs", FALSE, o->debug);
	struct fuse_session *se = mount_prepare(cfg, o, fuse_opts, nonempty,
	                                        &fs, &rc);
	if (!se)
		return rc;
	/* Before the password is asked for: a second mount is refused at
	 * once. */
	g_autoptr(CacheLock) lock = lock_take(cfg->cache_dir, mp, &err);
	if (!lock || !mount_credentials(cfg, &p, &err)) {
		fuse_session_destroy(se);
		return mount_fail(cfg, err);
	}
	if (o->debug)
		account_set_trace(log_trace_cb);
	if (mount_reach(cfg, &p, &err))
		rc = mount_fuse(se, &fs, cfg, o, mp, lock, &p, err);
	else
		rc = cli_exit_status(err);
	account_params_clear(&p);
	fuse_session_destroy(se);
	return rc;
}

/* Why MOUNTPOINT cannot be unmounted before fusermount3 is asked (which
 * speaks of /etc/mtab): NULL when it is a mailfs mount; owned. */
static char *
mount_not_unmountable(const char *mountpoint)
{
	StatusMount *m = status_cmd_find_mount(mountpoint, NULL);
	struct stat st;

	if (m) {
		status_mount_free(m);
		return NULL;
	}
	if (stat(mountpoint, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
		return g_strdup("no such directory");
	return g_strdup("nothing of mailfs is mounted there");
}

int
mount_unmount(const char *mountpoint)
{
	g_autofree char *out = NULL;
	g_autofree char *errs = NULL;
	g_autofree char *why = mount_not_unmountable(mountpoint);
	int status = 0;
	const char *argv[] = { "fusermount3", "-u", mountpoint, NULL };

	if (why) {
		fprintf(stderr, "mailfs: cannot unmount %s: %s\n", mountpoint,
		        why);
		return CLI_EXIT_FAILURE;
	}
	/* Asked first: once unmounted, the daemon is gone.  A daemon that
	 * does not answer must not stop the unmount: 3 s at most. */
	guint queued = status_cmd_queued(mountpoint, 3000);

	if (geteuid() == 0) {
		if (umount2(mountpoint, 0) != 0) {
			int e = errno;
			fprintf(stderr, "mailfs: cannot unmount %s: %s\n",
			        mountpoint, g_strerror(e));
			return CLI_EXIT_FAILURE;
		}
	} else if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
	                         NULL, NULL, &out, &errs, &status, NULL) ||
	           !g_spawn_check_wait_status(status, NULL)) {
		fprintf(stderr, "mailfs: cannot unmount %s: %s", mountpoint,
		        errs && *errs ? errs : "fusermount3 failed\n");
		return CLI_EXIT_FAILURE;
	}
	/* The spool is on disk in the cache directory. */
	if (queued)
		fprintf(stderr, "mailfs: %u %s still queued in outbox/; %s will "
		        "be sent at the next mount\n", queued,
		        queued == 1 ? "message is" : "messages are",
		        queued == 1 ? "it" : "they");
	return CLI_EXIT_OK;
}
