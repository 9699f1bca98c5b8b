/* tokens_store.c - where a refresh token is kept: a file only the user can
 * read, or the user's oauth2_refresh_token_command (see tokens.h). */
#include "cache/tokens_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/command.h"
#include "net/mf_error.h"

#define TOKENS_FILE_MAX (64 * 1024)

static char *
tokens_no_token(MfTokens *t, GError **err)
{
	g_set_error(err, MF_ERROR, MF_ERROR_AUTH,
	            "no refresh token yet (%s): run `mailfs login %s`",
	            t->store_name, t->account);
	return NULL;
}

/* --- the command ---------------------------------------------------- */

static char *
tokens_command_read(MfTokens *t, GError **err)
{
	CommandOptions o = { .timeout_s = t->timeout_s, .arg = "get" };
	GError *e = NULL;
	char *rt = NULL;

	if (command_run(t->refresh_token_command, &o, &rt, &e))
		return rt;
	if (strstr(e->message, "empty first line")) {
		g_error_free(e);
		return tokens_no_token(t, err);
	}
	e->code = MF_ERROR_AUTH;
	g_propagate_prefixed_error(err, e, "oauth2_refresh_token_command get ");
	return NULL;
}

static gboolean
tokens_command_write(MfTokens *t, const char *refresh, GError **err)
{
	g_autofree char *input = g_strdup_printf("%s\n", refresh);
	CommandOptions o = { .timeout_s = t->timeout_s, .arg = "store",
	                     .input = input };
	GError *e = NULL;
	gboolean ok = command_run(t->refresh_token_command, &o, NULL, &e);

	explicit_bzero(input, strlen(input));
	if (!ok) {
		g_propagate_prefixed_error(err, e,
		                           "oauth2_refresh_token_command store ");
		return FALSE;
	}
	/* A command that ignores "store" would hand back an old token. */
	char *back = tokens_command_read(t, err);
	ok = back && strcmp(back, refresh) == 0;
	if (back && !ok)
		mf_error_config(err, "oauth2_refresh_token_command did not "
		                "keep the token: its get prints another (it "
		                "is run with $1 = store, the token on its "
		                "stdin)");
	command_wipe_free(back);
	return ok;
}

/* --- the file -------------------------------------------------------- */

/* Checks that the open file FD at PATH is ours and private. */
static gboolean
tokens_file_private(int fd, const char *path, GError **err)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		mf_error_config(err,
		                "%s is not a regular file", path);
		return FALSE;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		mf_error_config(err, "%s may be read or changed by others "
		                "(mode %04o, owner %u): refused; chmod 600 "
		                "it, or run `mailfs login` again", path,
		                (unsigned)(st.st_mode & 07777),
		                (unsigned)st.st_uid);
		return FALSE;
	}
	return TRUE;
}

/* The first line of the file FD, wiped buffer; owned. */
static char *
tokens_file_line(int fd, const char *path, GError **err)
{
	g_autofree char *buf = g_malloc(TOKENS_FILE_MAX + 1);
	ssize_t n;

	while ((n = read(fd, buf, TOKENS_FILE_MAX)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s: %s", path,
		            g_strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	size_t len = strcspn(buf, "\r\n");
	char *line = len ? g_strndup(buf, len) : NULL;
	explicit_bzero(buf, (size_t)n);
	return line;
}

static char *
tokens_file_read(MfTokens *t, GError **err)
{
	const char *path = t->refresh_token_file;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT)
		return tokens_no_token(t, err);
	if (fd < 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s: %s", path,
		            g_strerror(errno));
		return NULL;
	}
	char *rt = NULL;
	GError *e = NULL;
	if (tokens_file_private(fd, path, &e))
		rt = tokens_file_line(fd, path, &e);
	close(fd);
	if (!rt && !e)
		return tokens_no_token(t, err);
	if (e)
		g_propagate_error(err, e);
	return rt;
}

/* Writes all of DATA to FD. */
static gboolean
tokens_write_all(int fd, const char *data)
{
	size_t len = strlen(data), done = 0;

	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		done += (size_t)n;
	}
	return TRUE;
}

/* Makes the directory of PATH (0700) and syncs it after a rename. */
static gboolean
tokens_dir(const char *path, gboolean sync, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);

	if (!sync && g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot create %s: %s",
		            dir, g_strerror(errno));
		return FALSE;
	}
	if (sync) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return TRUE;
}

/* Written to a new private file beside it, synced, renamed into place. */
static gboolean
tokens_file_write(MfTokens *t, const char *refresh, GError **err)
{
	const char *path = t->refresh_token_file;
	g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
	g_autofree char *line = g_strdup_printf("%s\n", refresh);

	if (!tokens_dir(path, FALSE, err))
		return FALSE;
	int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	gboolean ok = fd >= 0 && tokens_write_all(fd, line) && fsync(fd) == 0;
	int e = errno;
	explicit_bzero(line, strlen(line));
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = FALSE;
		e = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = FALSE;
		e = errno;
	}
	if (!ok) {
		if (fd >= 0)
			unlink(tmp);
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot write the refresh token to %s: %s", path,
		            g_strerror(e));
		return FALSE;
	}
	return tokens_dir(path, TRUE, err);
}

char *
tokens_store_read(MfTokens *t, GError **err)
{
	if (t->refresh_token_command)
		return tokens_command_read(t, err);
	return tokens_file_read(t, err);
}

gboolean
tokens_store_write(MfTokens *t, const char *refresh, GError **err)
{
	if (t->refresh_token_command)
		return tokens_command_write(t, refresh, err);
	return tokens_file_write(t, refresh, err);
}
