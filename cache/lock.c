/* lock.c - one mount per cache directory: flock on cache_dir/lock, and
 * the holder's pid and mount point in the file. */
#include "cache/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "net/mf_error.h"

#define LOCK_FILE "lock"
#define LOCK_TEXT_MAX 4096
/* How long to wait for a holder that has just taken the lock to say who
 * it is. */
#define LOCK_HOLDER_WAIT_US (200 * 1000)

struct CacheLock {
	int fd;
	char *mountpoint;
};

/* Replaces the file's text with "PID MOUNTPOINT\n". */
static void
lock_write(const CacheLock *l)
{
	g_autofree char *text = g_strdup_printf("%ld %s\n", (long)getpid(),
	                                        l->mountpoint);
	size_t n = strlen(text);

	if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, text, n, 0) != (ssize_t)n)
		g_warning("cannot write the lock file of the cache: %s",
		          g_strerror(errno));
}

/* The file's text, waiting a moment for a holder that has not written it
 * yet; owned. */
static char *
lock_read(int fd)
{
	char buf[LOCK_TEXT_MAX + 1];
	gint64 until = g_get_monotonic_time() + LOCK_HOLDER_WAIT_US;
	ssize_t n;

	while ((n = pread(fd, buf, LOCK_TEXT_MAX, 0)) == 0 &&
	       g_get_monotonic_time() < until)
		g_usleep(10 * 1000);
	buf[n > 0 ? n : 0] = '\0';
	return g_strdup(buf);
}

char *
lock_describe_holder(const char *text)
{
	guint64 pid = 0;
	char *end = NULL;

	if (g_ascii_isdigit(text[0]))
		pid = g_ascii_strtoull(text, &end, 10);
	if (pid == 0 || pid > G_MAXINT32)
		return g_strdup("pid unknown");
	if (*end != ' ' || end[1] == '\0' || end[1] == '\n')
		return g_strdup_printf("pid %" G_GUINT64_FORMAT, pid);
	g_autofree char *mp = g_strndup(end + 1, strcspn(end + 1, "\n"));
	return g_strdup_printf("pid %" G_GUINT64_FORMAT ", mounted on %s", pid,
	                       mp);
}

/* flock that is retried when interrupted; the errno, or 0. */
static int
lock_flock(int fd)
{
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

/* Sets ERR for a lock that FD's file (in DIR) says is held. */
static void
lock_busy(const char *dir, int fd, GError **err)
{
	g_autofree char *text = lock_read(fd);
	g_autofree char *holder = lock_describe_holder(text);

	g_set_error(err, MF_ERROR, MF_ERROR_BUSY, "cache directory %s is in "
	            "use by mailfs %s", dir, holder);
}

/* Locks the open FD of DIR's lock file; FALSE with ERR when it cannot. */
static gboolean
lock_fd(const char *dir, int fd, GError **err)
{
	int e = lock_flock(fd);

	if (e == 0)
		return TRUE;
	if (e == EWOULDBLOCK) {
		lock_busy(dir, fd, err);
		return FALSE;
	}
	if (e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS) {
		g_warning("cache directory %s cannot be locked (%s): a second "
		          "mount of it would not be refused", dir, g_strerror(e));
		return TRUE;
	}
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot lock cache "
	            "directory %s: %s", dir, g_strerror(e));
	return FALSE;
}

CacheLock *
lock_take(const char *dir, const char *mountpoint, GError **err)
{
	g_autofree char *path = g_build_filename(dir, LOCK_FILE, NULL);

	g_return_val_if_fail(dir != NULL && mountpoint != NULL, NULL);
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot create cache "
		            "directory %s: %s", dir, g_strerror(errno));
		return NULL;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	              O_NOCTTY, 0600);
	if (fd < 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot open %s: %s",
		            path, g_strerror(errno));
		return NULL;
	}
	if (!lock_fd(dir, fd, err)) {
		close(fd);
		return NULL;
	}
	CacheLock *l = g_new0(CacheLock, 1);
	l->fd = fd;
	l->mountpoint = g_strdup(mountpoint);
	lock_write(l);
	return l;
}

void
lock_set_pid(CacheLock *l)
{
	if (l)
		lock_write(l);
}

void
lock_release(CacheLock *l)
{
	if (!l)
		return;
	/* close(), not LOCK_UN: that would release it for a child too. */
	close(l->fd);
	g_free(l->mountpoint);
	g_free(l);
}
