/* notify.c - the sd_notify(3) datagram, without libsystemd. */
#include "fs/notify.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills *ADDR from NAME; the address length, or 0 if NAME is unusable. */
static socklen_t
notify_address(const char *name, struct sockaddr_un *addr)
{
	size_t n = strlen(name);

	memset(addr, 0, sizeof *addr);
	addr->sun_family = AF_UNIX;
	if (n < 2 || n >= sizeof addr->sun_path || (name[0] != '/' &&
	                                            name[0] != '@'))
		return 0;
	memcpy(addr->sun_path, name, n);
	if (name[0] == '@')
		addr->sun_path[0] = '\0'; /* abstract: no NUL at the end */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                   (name[0] == '/'));
}

gboolean
notify_send(const char *state)
{
	const char *name = g_getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr;
	socklen_t len = name ? notify_address(name, &addr) : 0;

	if (len == 0)
		return FALSE;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FALSE;
	ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	                      (struct sockaddr *)&addr, len);
	close(fd);
	return sent == (ssize_t)strlen(state);
}
