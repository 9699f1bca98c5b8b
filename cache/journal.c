/* journal.c - the ordered, durable record of message changes, and its
 * replay against the server. */
#include "cache/journal.h"

#include "cache/account_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"

static gboolean
journal_append(MfAccount *a, const StorePending *p, GError **err)
{
	struct stat st;
	int fd = open(p->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "the file to append is gone: %s", p->path);
		return FALSE;
	}
	gboolean ok = account_exec_append(a, p->folder_id, fd,
	                                  (guint64)st.st_size, p->date,
	                                  p->flags, err);
	close(fd);
	return ok;
}

/* Runs one change against the server. */
static gboolean
journal_exec(MfAccount *a, const StorePending *p, GError **err)
{
	switch ((JournalOp)p->op) {
	case JOURNAL_REMOVE:
		return account_exec_remove(a, p->folder_id, p->uidvalidity,
		                           p->uid, p->dest_id == 1, err);
	case JOURNAL_MOVE:
		return account_exec_move(a, p->folder_id, p->uidvalidity, p->uid,
		                         p->dest_id, err);
	case JOURNAL_FLAGS:
		return account_exec_flags(a, p->folder_id, p->uidvalidity,
		                          p->uid, p->flags, err);
	case JOURNAL_APPEND:
		return journal_append(a, p, err);
	}
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "unknown change %d", p->op);
	return FALSE;
}

static gboolean
journal_must_wait(const GError *err)
{
	return mf_error_is_transient(err);
}

static void
journal_forget(MfAccount *a, const StorePending *p)
{
	if (p->path)
		unlink(p->path);
	store_pending_remove(account_store(a), p->id);
}

/* Runs the journal in order up to UPTO (0: all).  Returns the outcome of
 * UPTO in *ERR (NULL: done or waiting); FALSE if the run stopped early
 * because the server cannot be reached. */
static gboolean
journal_run(MfAccount *a, gint64 upto, GError **err)
{
	g_autoptr(GArray) all = store_pending_list(account_store(a));

	for (guint i = 0; i < all->len; i++) {
		const StorePending *p = &g_array_index(all, StorePending, i);
		g_autoptr(GError) e = NULL;
		if (upto && p->id > upto)
			break;
		if (journal_exec(a, p, &e)) {
			journal_forget(a, p);
			continue;
		}
		if (journal_must_wait(e))
			return FALSE;
		if (p->id == upto)
			g_propagate_error(err, g_steal_pointer(&e));
		else
			g_warning("offline change %" G_GINT64_FORMAT " dropped: "
			          "%s", p->id, e->message);
		journal_forget(a, p);
	}
	return TRUE;
}

/* Makes a waiting change show in the local listing. */
static void
journal_show_locally(MfAccount *a, const StorePending *p)
{
	/* Stand-in UIDs count down from the top, where servers do not go. */
	if (p->op == JOURNAL_MOVE)
		account_show_move(a, p->folder_id, p->uidvalidity, p->uid,
		                  p->dest_id, G_MAXUINT32 - (guint32)p->id);
	if (p->op == JOURNAL_FLAGS)
		account_edit_listing(a, p->folder_id, p->uid, p->flags);
	else if (p->op != JOURNAL_APPEND)
		account_edit_listing(a, p->folder_id, p->uid, NULL);
}

/* Moves the file to append into the store, so that it survives. */
static gboolean
journal_take_file(MfAccount *a, StorePending *p, GError **err)
{
	g_autofree char *dir = store_pending_dir(account_store(a));
	g_autofree char *dst = g_strdup_printf("%s/%" G_GINT64_FORMAT "-%u",
	                                       dir, g_get_real_time(),
	                                       g_random_int());
	int fd = open(p->path, O_RDONLY | O_CLOEXEC);
	gboolean ok = fd >= 0 && fsync(fd) == 0 && rename(p->path, dst) == 0;

	if (fd >= 0)
		close(fd);
	if (!ok) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot keep the file to append: %s",
		            g_strerror(errno));
		return FALSE;
	}
	g_free(p->path);
	p->path = g_steal_pointer(&dst);
	return TRUE;
}

gboolean
journal_submit(MfAccount *a, StorePending *p, GError **err)
{
	GMutex *lock = account_journal_lock(a);
	gboolean ok;

	if (p->op == JOURNAL_APPEND && !journal_take_file(a, p, err))
		return FALSE;
	g_mutex_lock(lock);
	p->id = store_pending_add(account_store(a), p, err);
	ok = p->id != 0;
	if (ok && (!account_may_try(a) || !journal_run(a, p->id, err))) {
		g_message("change kept until the server can be reached");
		journal_show_locally(a, p);
	} else if (ok && err && *err) {
		ok = FALSE;
	}
	g_mutex_unlock(lock);
	return ok;
}

void
journal_replay(MfAccount *a)
{
	GMutex *lock = account_journal_lock(a);

	g_mutex_lock(lock);
	if (account_may_try(a))
		journal_run(a, 0, NULL);
	g_mutex_unlock(lock);
}

guint
journal_count(MfAccount *a)
{
	g_autoptr(GArray) all = store_pending_list(account_store(a));
	return all->len;
}
