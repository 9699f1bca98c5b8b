/* node_name.h - the names the mount gives messages that were not named
 * through it: "<uid>.<gen>.eml", and "<uid>-<key>.eml" for a message named
 * by a key (a POP3 UIDL).  Pure; node.h says which name a message gets. */
#ifndef MAILFS_NODE_NAME_H
#define MAILFS_NODE_NAME_H

#include <glib.h>

/* Longest name (with its NUL) node_name_format() writes. */
#define NODE_NAME_MAX 96

/* Writes into BUF "<UID>.<GEN>.eml" when KEY is NULL, else
 * "<UID>-<KEY>.eml" with KEY cut to 64 characters and anything but
 * letters, digits, '.', '_' and '-' made '_': stable, safe to type in a
 * shell.  Returns BUF. */
const char *node_name_format(guint32 uid, gint64 gen, const char *key,
                             char buf[NODE_NAME_MAX]);

/* The UID NAME starts with, as both forms do (digits, no leading zero
 * needed: the caller compares the name it formats), or 0 when it starts
 * with none in 1..2^32-1. */
guint32 node_name_uid(const char *name);

/* The UID and generation of a name "<uid>.<gen>.eml" exactly as
 * node_name_format() writes it (no leading zeros, both at least 1, GEN at
 * most 2^31-1); FALSE otherwise, *UID and *GEN untouched. */
gboolean node_parse_msg_name(const char *name, guint32 *uid, gint64 *gen);

#endif
