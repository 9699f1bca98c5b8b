/* status_cmd.c - `mailfs status`: finds mailfs mounts in mountinfo and
 * prints their .mailfs/status, never waiting forever on a stuck daemon. */
#include "fs/status_cmd.h"
#include "fs/errmap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/cli.h"
#include "fs/ctl_ops.h"
#include "fs/log.h"
#include "net/mf_error.h"

#define STATUS_MOUNTINFO "/proc/self/mountinfo"
#define STATUS_FSTYPE "fuse.mailfs"
#define STATUS_FSNAME_PREFIX "mailfs:"
/* Largest status text read; the real one is well under 1 KiB. */
#define STATUS_TEXT_MAX (64 * 1024)
/* How long `mailfs status` waits for a daemon's answer. */
#define STATUS_TIMEOUT_MS 10000
/* How long a killed reader may take to go (a loaded machine is slow to
 * run it to its end). */
#define STATUS_REAP_MS 5000

void
status_mount_free(StatusMount *m)
{
	if (!m)
		return;
	g_free(m->mountpoint);
	g_free(m->account);
	g_free(m);
}

/* The user_id=UID of a FUSE mount's super options SUPER, or -1. */
static gint64
status_cmd_owner(const char *super)
{
	g_auto(GStrv) opts = g_strsplit(super, ",", -1);
	guint64 uid;

	for (guint i = 0; opts[i]; i++)
		if (g_str_has_prefix(opts[i], "user_id=") &&
		    g_ascii_string_to_unsigned(opts[i] + strlen("user_id="), 10,
		                               0, G_MAXUINT32, &uid, NULL))
			return (gint64)uid;
	return -1;
}

/* FIELD with mountinfo's octal escapes (\040 for a space, ...) decoded;
 * owned. */
static char *
status_cmd_unescape(const char *field)
{
	GString *s = g_string_new(NULL);

	for (const char *p = field; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
		    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			g_string_append_c(s, (char)((p[1] - '0') << 6 |
			                            (p[2] - '0') << 3 |
			                            (p[3] - '0')));
			p += 3;
		} else {
			g_string_append_c(s, *p);
		}
	}
	return g_string_free(s, FALSE);
}

/* The mailfs mount described by one mountinfo LINE, or NULL.  Fields:
 * id parent dev root MOUNTPOINT options [optional...] - FSTYPE SOURCE
 * superoptions. */
static StatusMount *
status_cmd_parse_line(const char *line)
{
	g_auto(GStrv) f = g_strsplit(line, " ", -1);
	guint n = g_strv_length(f);
	guint dash = 6;

	while (dash < n && strcmp(f[dash], "-") != 0)
		dash++;
	if (dash + 2 >= n || strcmp(f[dash + 1], STATUS_FSTYPE) != 0)
		return NULL;
	g_autofree char *source = status_cmd_unescape(f[dash + 2]);
	StatusMount *m = g_new0(StatusMount, 1);
	m->mountpoint = status_cmd_unescape(f[4]);
	m->account = g_strdup(g_str_has_prefix(source, STATUS_FSNAME_PREFIX)
	                      ? source + strlen(STATUS_FSNAME_PREFIX)
	                      : source);
	m->owner = dash + 3 < n ? status_cmd_owner(f[dash + 3]) : -1;
	return m;
}

GPtrArray *
status_cmd_parse_mountinfo(const char *text)
{
	GDestroyNotify free_fn = (GDestroyNotify)status_mount_free;
	GPtrArray *out = g_ptr_array_new_with_free_func(free_fn);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (guint i = 0; lines[i]; i++) {
		StatusMount *m = status_cmd_parse_line(lines[i]);
		if (m)
			g_ptr_array_add(out, m);
	}
	return out;
}

char *
status_cmd_value(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			return g_strndup(v, strcspn(v, "\n"));
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* The mailfs mounts of this mount namespace. */
static GPtrArray *
status_cmd_mounts(GError **err)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;

	if (!g_file_get_contents(STATUS_MOUNTINFO, &text, NULL, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot read %s: %s",
		            STATUS_MOUNTINFO, e->message);
		return NULL;
	}
	return status_cmd_parse_mountinfo(text);
}

/* PATH made absolute, with symbolic links resolved when that works (it
 * does not on a mount whose daemon is gone); owned. */
static char *
status_cmd_abspath(const char *path)
{
	char *real = realpath(path, NULL);

	if (real) {
		char *copy = g_strdup(real);
		free(real);
		return copy;
	}
	return g_canonicalize_filename(path, NULL);
}

StatusMount *
status_cmd_find_mount(const char *path, GError **err)
{
	g_autoptr(GPtrArray) mounts = status_cmd_mounts(err);
	g_autofree char *abs = status_cmd_abspath(path);

	if (!mounts)
		return NULL;
	/* The last one wins: it is the one on top. */
	for (guint i = mounts->len; i-- > 0;) {
		StatusMount *m = g_ptr_array_index(mounts, i);
		if (strcmp(m->mountpoint, abs) == 0)
			return g_ptr_array_steal_index(mounts, i);
	}
	return NULL;
}

/* ---- reading the status file with a time limit ---- */

/* In the forked child: copies PATH to OUT and exits 0, or exits with the
 * errno.  Only async-signal-safe calls. */
static void G_GNUC_NORETURN
status_cmd_child(const char *path, int out)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		_exit(errno & 0xff);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			_exit(errno & 0xff);
		if (r == 0)
			_exit(0);
		for (ssize_t done = 0; done < r;) {
			ssize_t w = write(out, buf + done, (size_t)(r - done));
			if (w < 0 && errno != EINTR)
				_exit(0); /* the parent gave up */
			done += w > 0 ? w : 0;
		}
	}
}

/* Reads FD until EOF, STATUS_TEXT_MAX bytes or UNTIL (monotonic us) into
 * S; FALSE on timeout. */
static gboolean
status_cmd_collect(int fd, gint64 until, GString *s)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[4096];

	for (;;) {
		gint64 left = until - g_get_monotonic_time();
		if (left <= 0)
			return FALSE;
		int r = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (r <= 0)
			continue; /* EINTR, or the loop sees the time is up */
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || s->len + (size_t)n > STATUS_TEXT_MAX)
			return TRUE;
		g_string_append_len(s, buf, n);
	}
}

/* Waits for PID, killing it first when KILL; a process stuck in a FUSE
 * request its daemon has already taken cannot die until the daemon
 * answers, so this gives up after STATUS_REAP_MS.  Returns the wait
 * status, or -1. */
static int
status_cmd_reap(pid_t pid, gboolean kill_it)
{
	gint64 until = g_get_monotonic_time() + STATUS_REAP_MS * 1000;
	int status;

	if (kill_it)
		kill(pid, SIGKILL);
	do {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		g_usleep(10 * 1000);
	} while (g_get_monotonic_time() < until);
	return -1;
}

/* Sets ERR for errno E met reading MOUNTPOINT's status. */
static void
status_cmd_read_error(const char *mountpoint, int e, GError **err)
{
	if (errmap_daemon_gone(e))
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s: the mailfs "
		            "daemon is gone (%s); clean up with 'mailfs umount "
		            "%s'", mountpoint, g_strerror(e), mountpoint);
	else
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s/%s/status: %s",
		            mountpoint, CTL_DIR_NAME, g_strerror(e));
}

/* The read happens in a child process: if the daemon does not answer,
 * the child is killed, which withdraws its request, so that the mount is
 * not left busy (a thread stuck in the read would make umount fail). */
char *
status_cmd_read(const char *mountpoint, int timeout_ms, GError **err)
{
	g_autofree char *path =
		g_build_filename(mountpoint, CTL_DIR_NAME, "status", NULL);
	g_autoptr(GString) s = g_string_new(NULL);
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		status_cmd_read_error(mountpoint, errno, err);
		return NULL;
	}
	pid_t pid = fork();
	if (pid == 0)
		status_cmd_child(path, pfd[1]);
	int e = errno;
	close(pfd[1]);
	gboolean done = pid > 0 && status_cmd_collect(
		pfd[0], g_get_monotonic_time() + (gint64)timeout_ms * 1000, s);
	close(pfd[0]);
	int status = pid > 0 ? status_cmd_reap(pid, !done) : -1;
	if (pid < 0)
		status_cmd_read_error(mountpoint, e, err);
	else if (!done)
		g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION, "%s: the "
		            "mailfs daemon did not answer within %d s",
		            mountpoint, timeout_ms / 1000);
	else if (status == -1 || !WIFEXITED(status))
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s: cannot read "
		            "the status", mountpoint);
	else if (WEXITSTATUS(status) != 0)
		status_cmd_read_error(mountpoint, WEXITSTATUS(status), err);
	else
		return g_string_free(g_steal_pointer(&s), FALSE);
	return NULL;
}

guint
status_cmd_queued(const char *mountpoint, int timeout_ms)
{
	StatusMount *m = status_cmd_find_mount(mountpoint, NULL);
	guint64 n = 0;

	if (!m)
		return 0;
	g_autofree char *text =
		status_cmd_read(m->mountpoint, timeout_ms, NULL);
	g_autofree char *v = text ? status_cmd_value(text, "outbox_queued")
	                          : NULL;
	status_mount_free(m);
	if (!v || !g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT, &n, NULL))
		return 0;
	return (guint)n;
}

/* ---- the command ---- */

/* Prints the status of M, after a header line when HEADER. */
static int
status_cmd_print(const StatusMount *m, gboolean header, gboolean first)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;

	if (header)
		printf("%s== %s (account %s)\n", first ? "" : "\n",
		       m->mountpoint, m->account);
	fflush(stdout);
	text = status_cmd_read(m->mountpoint, STATUS_TIMEOUT_MS, &err);
	if (!text) {
		fprintf(stderr, "mailfs: %s\n", err->message);
		return 1;
	}
	/* Whatever answers there (an older daemon, or not mailfs at all),
	 * nothing reaches the terminal raw. */
	g_autofree char *safe = log_safe_text(text, TRUE);
	fputs(safe, stdout);
	return 0;
}

static int
status_cmd_one(const char *path)
{
	g_autoptr(GError) err = NULL;
	StatusMount *m = status_cmd_find_mount(path, &err);

	if (!m && err) {
		fprintf(stderr, "mailfs: %s\n", err->message);
		return 1;
	}
	if (!m) {
		fprintf(stderr, "mailfs: %s is not a mailfs mount point\n",
		        path);
		return 1;
	}
	int rc = status_cmd_print(m, FALSE, TRUE);
	status_mount_free(m);
	return rc;
}

/* Takes out of MOUNTS those another user made: their daemons answer
 * only their owner (and whoever they allow). */
static void
status_cmd_keep_own(GPtrArray *mounts)
{
	for (guint i = mounts->len; i-- > 0;) {
		const StatusMount *m = g_ptr_array_index(mounts, i);
		if (m->owner >= 0 && m->owner != (gint64)getuid())
			g_ptr_array_remove_index(mounts, i);
	}
}

static int
status_cmd_all(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) mounts = status_cmd_mounts(&err);
	int rc = 0;

	if (!mounts) {
		fprintf(stderr, "mailfs: %s\n", err->message);
		return 1;
	}
	status_cmd_keep_own(mounts);
	if (mounts->len == 0) {
		printf("no mailfs mounts\n");
		return 0;
	}
	for (guint i = 0; i < mounts->len; i++) {
		StatusMount *m = g_ptr_array_index(mounts, i);
		rc |= status_cmd_print(m, TRUE, i == 0);
	}
	return rc;
}

int
status_cmd_main(int argc, char **argv)
{
	int status = 0;

	if (!cli_parse("status", NULL, "[MOUNTPOINT]", "Show the state of a "
	               "mailfs mount (MOUNTPOINT/.mailfs/status),\nor of each "
	               "of yours.", &argc, &argv, &status))
		return status;
	if (argc > 2)
		return cli_usage_error("status", "too many arguments");
	return argc == 2 ? status_cmd_one(argv[1]) : status_cmd_all();
}
