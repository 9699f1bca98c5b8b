/* fuzz_storeall_date.c - libFuzzer target for storeall_header_date()
 * (cache/storeall.c): the input is a stored POP3 message, written to a
 * file as the store would hold it.  The answer (a time, -1 for none; a
 * date before 1970 is negative too, and its caller takes it for none) is
 * the same for the same file, -1 for a message whose header holds no
 * "Date:", and the same when bytes follow the header's end. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/storeall.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static char *path; /* one file, rewritten for each input */

static void
drop_file(void)
{
	unlink(path);
}

static void
put(const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	g_assert(fd >= 0);
	g_assert(len == 0 || write(fd, data, len) == (ssize_t)len);
	close(fd);
}

/* TRUE when the header (up to the first empty line) holds "Date:" at the
 * start of a line, in any case. */
static gboolean
has_date_line(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return FALSE; /* the empty line, or the end of the text */
		if (len - i >= 5 && g_ascii_strncasecmp(s + i, "Date:", 5) == 0)
			return TRUE;
		const char *nl = memchr(s + i, '\n', len - i);
		if (!nl)
			return FALSE;
		i = (size_t)(nl - s) + 1;
	}
	return FALSE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!path) {
		int fd = g_file_open_tmp("fuzz-storeall-XXXXXX", &path, NULL);
		g_assert(fd >= 0);
		close(fd);
		atexit(drop_file);
	}
	len = MIN(len, 60000); /* inside the 64 KiB read, with room to add */
	put(data, len);
	gint64 t = storeall_header_date(path);
	g_assert(storeall_header_date(path) == t);
	if (!has_date_line((const char *)data, len))
		g_assert(t == -1);
	/* A body after the header changes nothing. */
	const char *end = g_strstr_len((const char *)data, (gssize)len,
	                               "\n\n");
	if (end && !memchr(data, '\0', len)) {
		g_autofree uint8_t *more = g_malloc(len + 16);
		memcpy(more, data, len);
		memcpy(more + len, "\nDate: x\n\nbody", 14);
		put(more, len + 14);
		g_assert(storeall_header_date(path) == t);
	}
	return 0;
}
