/* notify.h - telling systemd how the service is doing: the notification
 * protocol of sd_notify(3), written out (one datagram to the AF_UNIX
 * socket that $NOTIFY_SOCKET names), so mailfs needs no libsystemd. */
#ifndef MAILFS_NOTIFY_H
#define MAILFS_NOTIFY_H

#include <glib.h>

/* Sends STATE ("READY=1\nSTATUS=...", newline-separated assignments) to
 * $NOTIFY_SOCKET, a path or, starting with '@', an abstract socket name.
 * Without the variable (not run by systemd as Type=notify), does nothing
 * and returns FALSE; FALSE too when the datagram cannot be sent, which is
 * never an error for the caller. */
gboolean notify_send(const char *state);

#endif
