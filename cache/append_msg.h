/* append_msg.h - what a file written into a folder must be to become a
 * message there, and the form in which it is appended.  Pure: no I/O, no
 * state; the caller holds the whole file in memory (a folder takes files
 * up to 64 MiB). */
#ifndef MAILFS_APPEND_MSG_H
#define MAILFS_APPEND_MSG_H

#include <glib.h>

/* Checks that DATA (LEN bytes) can be appended as a message: it is not
 * empty, holds no NUL byte, and starts with a header field ("Name:
 * value").  Else MF_ERROR_BADMSG saying which. */
gboolean append_msg_check(const char *data, gsize len, GError **err);

/* The Message-ID of DATA's header ("<...>"), or NULL; owned. */
char *append_msg_message_id(const char *data, gsize len);

/* DATA as it is appended: every line ending CRLF, and a Message-ID field
 * (made up, "<random@mailfs>") put first when the header has none, so
 * that an append whose reply was lost can be found on the server.
 * *MSGID gets the Message-ID; returns the bytes (owned). */
GBytes *append_msg_prepare(const char *data, gsize len, char **msgid);

#endif
