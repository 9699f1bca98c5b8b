/* inval.h - tells the kernel to forget directory entries that a listing
 * refresh removed (expunged messages, a mailbox recreated with a new
 * UIDVALIDITY), so that cached names never point at gone messages.
 *
 * Refreshes run inside FUSE requests, where notifying the kernel about the
 * same directory could deadlock; so names are queued and a thread of their
 * own sends the notifications. */
#ifndef MAILFS_INVAL_H
#define MAILFS_INVAL_H

#include <fuse_lowlevel.h>

#include "cache/account.h"

typedef struct Inval Inval; /* MfFs holds one (ops.h) */

Inval *inval_start(struct fuse_session *se);
/* Stops the thread after the queued notifications; accepts NULL. */
void inval_stop(Inval *iv);

/* Queues the name NAME in directory PARENT to be forgotten. */
void inval_entry(Inval *iv, fuse_ino_t parent, const char *name);

/* An MfListingHook: queues the names of OLD that no longer name the same
 * message in NEW (all of them when the generation changed).  UD is the
 * Inval. */
void inval_listing_cb(gint64 folder_id, const MfListing *old,
                      const MfListing *new_listing, void *ud);

#endif
