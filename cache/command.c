/* command.c - the user's commands, run with /bin/sh -c under a timeout,
 * their first line of output kept (see command.h). */
#include "cache/command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/mf_error.h"

#define COMMAND_INPUT_MAX (60 * 1024)

void
command_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

/* In the forked child: runs ARGV with stdin IN and stdout OUT, in its own
 * process group so that a timeout kills everything it started.  Only
 * async-signal-safe calls here. */
static void G_GNUC_NORETURN
command_child(char *const argv[], int in, int out)
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

/* The pipes of a command: its stdin (to write INPUT to, or /dev/null) and
 * its stdout. */
typedef struct {
	int in[2];
	int out[2];
} CommandPipes;

static void
command_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
command_pipes_close(CommandPipes *p)
{
	for (int i = 0; i < 2; i++) {
		command_close(&p->in[i]);
		command_close(&p->out[i]);
	}
}

static gboolean
command_pipes_open(CommandPipes *p, gboolean input, GError **err)
{
	p->in[0] = p->in[1] = p->out[0] = p->out[1] = -1;
	gboolean ok = pipe2(p->out, O_CLOEXEC) == 0;
	if (ok && input)
		ok = pipe2(p->in, O_CLOEXEC) == 0;
	else if (ok)
		ok = (p->in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
	if (ok)
		return TRUE;
	int e = errno;
	command_pipes_close(p);
	return mf_error_config(err, "cannot run: %s", g_strerror(e));
}

/* Starts CMD (with $1 ARG when not NULL); *P's parent ends stay open. */
static pid_t
command_spawn(const char *cmd, const char *arg, CommandPipes *p,
              GError **err)
{
	char *argv[] = { "sh", "-c", (char *)cmd, arg ? "mailfs" : NULL,
	                 (char *)arg, NULL };
	pid_t pid = fork();

	if (pid == 0)
		command_child(argv, p->in[0], p->out[1]);
	int e = errno;
	command_close(&p->in[0]);
	command_close(&p->out[1]);
	if (pid < 0) {
		mf_error_config(err, "cannot run: %s", g_strerror(e));
		return -1;
	}
	setpgid(pid, pid); /* also done by the child; whichever runs first */
	fcntl(p->out[0], F_SETFL, fcntl(p->out[0], F_GETFL) | O_NONBLOCK);
	return pid;
}

/* Writes INPUT to FD and closes it.  A command that leaves without
 * reading it is judged by its exit status, so EPIPE is no error here; the
 * SIGPIPE it raises (sent to this thread) is taken back before it is
 * unblocked, whoever else ignores it or not. */
static void
command_feed(int *fd, const char *input)
{
	sigset_t pipe_set, old;
	struct timespec now = { 0, 0 };
	size_t len = strlen(input), done = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (done < len) {
		ssize_t n = write(*fd, input + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	command_close(fd);
	while (sigtimedwait(&pipe_set, NULL, &now) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Milliseconds left until DEADLINE (monotonic microseconds), at least 0. */
static int
command_ms_left(gint64 deadline)
{
	gint64 left = deadline - g_get_monotonic_time();

	return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* What a command printed, as far as it has been read. */
typedef struct {
	char *buf;        /* COMMAND_OUTPUT_MAX + 1 bytes */
	gsize len;
	gboolean eof;     /* every writer closed the pipe */
	gboolean too_long; /* more than the maximum before any newline */
	gboolean failed;  /* read() failed */
} CommandOutput;

/* Reads what the non-blocking FD holds now into O.  Once the first line
 * is complete, what follows is read and dropped. */
static void
command_output_read(CommandOutput *o, int fd)
{
	char drop[4096];
	gsize taken = 0;

	/* Bounded, so that a command that never stops printing is still
	 * timed out by the caller. */
	while (!o->eof && !o->too_long && !o->failed && taken < 256 * 1024) {
		gboolean full = o->len == COMMAND_OUTPUT_MAX + 1;
		ssize_t got = full ? read(fd, drop, sizeof drop)
		                   : read(fd, o->buf + o->len,
		                          COMMAND_OUTPUT_MAX + 1 - o->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			o->failed = errno != EAGAIN;
			return;
		}
		taken += (gsize)got;
		if (got == 0)
			o->eof = TRUE;
		else if (!full)
			o->len += (gsize)got;
		if (o->len > COMMAND_OUTPUT_MAX &&
		    !memchr(o->buf, '\n', COMMAND_OUTPUT_MAX))
			o->too_long = TRUE;
	}
	explicit_bzero(drop, sizeof drop);
}

/* 1 once PID has ended (*STATUS set), 0 while it runs, -1 on error. */
static int
command_reaped(pid_t pid, int *status)
{
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) < 0 && errno == EINTR)
		;
	return r == pid ? 1 : r == 0 ? 0 : -1;
}

/* Collects the output of PID from FD until the command (the shell) has
 * ended, or DEADLINE.  What it printed is in the pipe by the time it
 * ends, so its end is what counts, not the pipe's.  Returns as
 * command_reaped(), with 0 meaning the time is up. */
static int
command_collect(pid_t pid, int fd, gint64 deadline, CommandOutput *o,
                int *status)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		int ended = command_reaped(pid, status);
		command_output_read(o, fd);
		if (ended != 0 || o->too_long || o->failed)
			return ended;
		int ms = command_ms_left(deadline);
		if (ms == 0)
			return 0;
		/* Woken by output; a few ms at most, to notice the end. */
		if (poll(&pfd, o->eof ? 0 : 1, MIN(ms, 10)) < 0 && errno != EINTR)
			return -1;
	}
}

/* Kills PID and its process group and reaps it. */
static void
command_kill(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static gboolean
command_check_status(int status, GError **err)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return TRUE;
	if (WIFEXITED(status))
		return mf_error_config(err, "exited with status %d",
		                       WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return mf_error_config(err, "was killed by signal %d",
		                       WTERMSIG(status));
	return mf_error_config(err, "ended abnormally");
}

/* How the run ended, as an error when it did not end well. */
static gboolean
command_judge(int ended, int status, const CommandOutput *o, guint timeout,
              GError **err)
{
	if (o->too_long)
		return mf_error_config(err, "printed more than 64 KiB");
	if (o->failed)
		return mf_error_config(err, "could not be read from");
	if (ended < 0)
		return mf_error_config(err, "could not be waited for");
	if (ended == 0)
		return mf_error_config(err, "timed out after %u s", timeout);
	return command_check_status(status, err);
}

/* Runs CMD as O says; what it printed goes to OUT. */
static gboolean
command_exec(const char *cmd, const CommandOptions *o, CommandOutput *out,
             GError **err)
{
	guint timeout = o && o->timeout_s ? o->timeout_s : 30;
	const char *input = o ? o->input : NULL;
	gint64 deadline = g_get_monotonic_time() +
	                  (gint64)timeout * G_USEC_PER_SEC;
	CommandPipes p;
	int status = 0;

	if (input && strlen(input) > COMMAND_INPUT_MAX)
		return mf_error_config(err, "cannot be given more than 60 KiB");
	if (!command_pipes_open(&p, input != NULL, err))
		return FALSE;
	pid_t pid = command_spawn(cmd, o ? o->arg : NULL, &p, err);
	if (pid < 0) {
		command_pipes_close(&p);
		return FALSE;
	}
	if (input)
		command_feed(&p.in[1], input);
	int ended = command_collect(pid, p.out[0], deadline, out, &status);
	command_pipes_close(&p);
	if (ended != 1)
		command_kill(pid);
	return command_judge(ended, status, out, timeout, err);
}

/* The first line of the LEN bytes at BUF, without CR/LF; owned. */
static char *
command_first_line(const char *buf, gsize len, GError **err)
{
	const char *nl = memchr(buf, '\n', len);
	gsize n = nl ? (gsize)(nl - buf) : len;

	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
		n--;
	if (n == 0) {
		mf_error_config(err, "printed an empty first line");
		return NULL;
	}
	if (memchr(buf, '\0', n)) {
		mf_error_config(err, "printed a NUL byte");
		return NULL;
	}
	return g_strndup(buf, n);
}

gboolean
command_run(const char *cmd, const CommandOptions *o, char **first_line,
            GError **err)
{
	CommandOutput out = { .buf = g_malloc(COMMAND_OUTPUT_MAX + 1) };
	char *line = NULL;
	gboolean ok = command_exec(cmd, o, &out, err);

	if (ok && first_line) {
		line = command_first_line(out.buf, out.len, err);
		ok = line != NULL;
	}
	explicit_bzero(out.buf, COMMAND_OUTPUT_MAX + 1);
	g_free(out.buf);
	if (ok && first_line)
		*first_line = line;
	return ok;
}
