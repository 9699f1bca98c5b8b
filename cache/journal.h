/* journal.h - every message change made through the mount (remove, move,
 * flags, append) is first recorded durably in the store, then run against
 * the server in the order it was made.  While the account is offline the
 * change stays recorded, shows at once in the local listings, and is run
 * when the account is back online (journal_replay).
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
	JOURNAL_MOVE,
	JOURNAL_FLAGS,
	JOURNAL_APPEND,     /* path: the file (moved into the store) */
} JournalOp;

/* Records P and runs the journal up to it.  TRUE when the server has the
 * change, or when it could not be reached (the change waits; the local
 * listing shows it already).  FALSE with ERR when the server refused it:
 * it is then forgotten.  For JOURNAL_APPEND, P->path is a file the journal
 * takes over (renamed into the store). */
gboolean journal_submit(MfAccount *a, StorePending *p, GError **err);

/* Runs every recorded change that can run now. */
void journal_replay(MfAccount *a);

/* How many changes wait for the server. */
guint journal_count(MfAccount *a);

#endif
