/* storeall.h - folder listings of STORE_ALL backends (POP3), where the
 * store is the mailbox.  Used by account.c only. */
#ifndef MAILFS_STOREALL_H
#define MAILFS_STOREALL_H

#include "cache/account_int.h"

/* Lists folder F on session S: downloads every message not yet stored
 * (committed in one batch; a body that arrives empty is not stored), and
 * returns in *OUT the listing: the messages of OLD plus every stored one
 * the server lists, with exact sizes and the dates of their Date headers.
 * Bodies the server does not have (any more) are pinned.  Without
 * LEAVE_ON_SERVER, every stored message is pinned and then deleted on the
 * server (the session ends), except one whose stored body disagrees with
 * the size the server lists (storeall_size_agrees()): that one stays
 * there, and the log says why.  A failed download keeps what arrived,
 * deletes nothing, and still returns the listing; so does a failed
 * deletion; both are logged.  FALSE, with ERR, only when no listing could
 * be made (the server's list, or the store, failed). */
gboolean storeall_list(MfAccount *a, MfSession *s, const MfFolder *f,
                       const MfListing *old, gboolean leave_on_server,
                       MfFolderStatus *st, GArray **out, GError **err);

/* The shape of a stored body: what storeall_size_agrees() needs. */
typedef struct {
	guint64 bytes;
	guint64 lines;  /* '\n' bytes */
	guint64 dotted; /* lines that start with '.' (sent dot-stuffed) */
} StoreAllShape;

/* Reads the file PATH for its shape.  MF_ERROR_LOCAL if it cannot. */
gboolean storeall_shape_of(const char *path, StoreAllShape *shape,
                           GError **err);

/* Pure: TRUE if LISTED, the size a server announced for a message (POP3
 * LIST), fits what arrived, GOT (line ends made CRLF, dot-unstuffed):
 * GOT is not empty, and LISTED lies between its size counted with
 * one-byte line ends less a missing final line end, and its size with
 * the dot-stuffing counted too. */
gboolean storeall_size_agrees(guint64 listed, const StoreAllShape *got);

/* The time (Unix seconds) of the Date header of the message in the file
 * PATH, as GMime reads it, from the header lines of its first 64 KiB; -1
 * when it cannot be read, has no Date header before the first empty line,
 * or GMime makes nothing of it.  Public for its fuzz target. */
gint64 storeall_header_date(const char *path);

#endif
