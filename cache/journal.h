/* journal.h - every message change made through the mount (remove, move,
 * flags, append) is first recorded durably in the store, then run against
 * the server in the order it was made.  While the account is offline the
 * change stays recorded, shows at once in the local listings, and is run
 * when the account is back online (journal_replay).
 *
 * Exactly once: an append is marked as begun (durably) before it is sent;
 * one whose outcome was not seen (a lost reply, a crash) is looked for on
 * the server by its Message-ID before it is sent again.  An append or a
 * move that replaces a message (a file written or moved onto an existing
 * name) becomes the removal of that message once it has succeeded, in the
 * same record: the old message goes only after the new one is there.
 *
 * Conflicts favour the server: a change whose message is gone there (or
 * whose folder was recreated) is dropped with a log line.  Folder changes
 * (mkdir, rmdir, rename) are not journaled: offline they fail. */
#ifndef MAILFS_JOURNAL_H
#define MAILFS_JOURNAL_H

#include "cache/account.h"
#include "cache/store.h"

typedef enum {
	JOURNAL_REMOVE = 1, /* to \Trash, or expunge when dest_id is 1 */
	JOURNAL_MOVE,       /* to dest_id, called name (NULL: as it was) */
	JOURNAL_FLAGS,
	JOURNAL_APPEND,     /* path: the file to send (moved into the store);
	                     * written: the file as written, kept under name;
	                     * dest_id 1: the message it replaces is expunged
	                     * (the new one begins with all its bytes) */
} JournalOp;

/* Records P and runs the journal up to it.  TRUE when the server has the
 * change, or when it could not be reached (the change waits; the local
 * listing shows it already).  FALSE with ERR when the server refused it:
 * it is then forgotten.  For JOURNAL_APPEND, P->path and P->written are
 * files the journal takes over. */
gboolean journal_submit(MfAccount *a, StorePending *p, GError **err);

/* Runs every recorded change that can run now. */
void journal_replay(MfAccount *a);

/* How many changes wait for the server. */
guint journal_count(MfAccount *a);

/* While a change waits, what it makes shows under a stand-in UID that
 * counts down from the top, where servers' UIDs do not go. */
guint32 journal_ghost_uid(gint64 change_id);
/* The change that stand-in UID stands for, or 0 if UID is a server's. */
gint64 journal_ghost_change(guint32 uid);

/* Forgets the waiting append ID (the file was removed before it reached
 * the server).  FALSE if it is not waiting any more (or being run). */
gboolean journal_cancel(MfAccount *a, gint64 change_id);

#endif
