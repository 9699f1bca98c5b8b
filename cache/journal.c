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

/* Stand-in UIDs take the top 2^24 values of the UID space. */
#define GHOST_SPAN (1u << 24)

guint32
journal_ghost_uid(gint64 change_id)
{
	return G_MAXUINT32 - (guint32)(change_id % GHOST_SPAN);
}

gint64
journal_ghost_change(guint32 uid)
{
	return uid > G_MAXUINT32 - GHOST_SPAN ? (gint64)(G_MAXUINT32 - uid) : 0;
}

static gboolean
journal_must_wait(const GError *err)
{
	return mf_error_is_transient(err);
}

static guint64
journal_file_size(const char *path)
{
	struct stat st;
	return path && stat(path, &st) == 0 ? (guint64)st.st_size : 0;
}

static gboolean
journal_send_append(MfAccount *a, const StorePending *p, guint32 *uv,
                    guint32 *uid, GError **err)
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
	                                  p->flags, uv, uid, err);
	close(fd);
	return ok;
}

/* The result of P is on the server as (UV, UID) (UID 0: unknown): it
 * takes P's name and written bytes, and the stand-in leaves the
 * listing. */
static void
journal_settled(MfAccount *a, StorePending *p, gint64 folder_id, guint32 uv,
                guint32 uid)
{
	g_autoptr(GError) err = NULL;
	StoreName n = { .uid = uid, .name = p->name, .written = p->written,
	                .size = journal_file_size(p->written) };

	if (uid && p->name &&
	    !store_name_set(account_store(a), folder_id, uv, uid, &n, &err))
		g_warning("%s keeps its server name: %s", p->name, err->message);
	else if (!uid && p->name)
		g_message("%s: the server did not say which UID it got, so it "
		          "shows under that UID", p->name);
	if (!uid && p->written)
		unlink(p->written);
	g_clear_pointer(&p->written, g_free); /* the name owns it now */
	account_edit_listing(a, folder_id, journal_ghost_uid(p->id), NULL);
	account_names_reload(a, folder_id);
}

/* Finds P's message on the server by its Message-ID. */
static gboolean
journal_find(MfAccount *a, const StorePending *p, guint32 *uv, guint32 *uid,
             GError **err)
{
	*uv = *uid = 0;
	return !p->msgid ||
	       account_exec_find(a, p->folder_id, p->msgid, uv, uid, err);
}

/* Once what P made is there, the message it replaces goes: P becomes its
 * removal (durably) and runs as that. */
static gboolean
journal_then_replace(MfAccount *a, StorePending *p, gint64 folder_id,
                     GError **err)
{
	if (!p->replace_uid)
		return TRUE;
	gboolean expunge = account_params(a)->delete_expunge ||
	                   (p->op == JOURNAL_APPEND && p->dest_id == 1);
	if (p->path)
		unlink(p->path);
	g_clear_pointer(&p->path, g_free);
	p->op = JOURNAL_REMOVE;
	p->folder_id = folder_id;
	p->uidvalidity = p->replace_uv;
	p->uid = p->replace_uid;
	p->dest_id = expunge ? 1 : 0;
	p->replace_uv = p->replace_uid = 0;
	if (!store_pending_update(account_store(a), p, err))
		return FALSE;
	GError *e = NULL;
	if (account_exec_remove(a, p->folder_id, p->uidvalidity, p->uid,
	                        p->dest_id == 1, &e))
		return TRUE;
	if (journal_must_wait(e)) {
		g_propagate_error(err, e);
		return FALSE;
	}
	/* The new message is there; the old one could not go. */
	g_warning("the message replaced by %s stays: %s", p->name ? p->name
	          : "a new one", e->message);
	g_error_free(e);
	return TRUE;
}

static gboolean
journal_append(MfAccount *a, StorePending *p, GError **err)
{
	guint32 uv = 0, uid = 0;

	/* Begun before (a reply lost, a crash): it may be there already. */
	if (p->tries > 0 && !journal_find(a, p, &uv, &uid, err))
		return FALSE;
	if (uid) {
		g_message("%s: found on the server from an earlier try; not "
		          "appended again", p->name ? p->name : p->msgid);
	} else {
		p->tries++;
		if (!store_pending_update(account_store(a), p, err) ||
		    !journal_send_append(a, p, &uv, &uid, err))
			return FALSE;
		if (!uid)
			journal_find(a, p, &uv, &uid, NULL);
	}
	journal_settled(a, p, p->folder_id, uv, uid);
	return journal_then_replace(a, p, p->folder_id, err);
}

static gboolean
journal_move(MfAccount *a, StorePending *p, GError **err)
{
	if (!account_exec_move(a, p->folder_id, p->uidvalidity, p->uid,
	                       p->dest_id, journal_ghost_uid(p->id), p->name,
	                       err))
		return FALSE;
	account_edit_listing(a, p->dest_id, journal_ghost_uid(p->id), NULL);
	return journal_then_replace(a, p, p->dest_id, err);
}

/* Runs one change against the server. */
static gboolean
journal_exec(MfAccount *a, StorePending *p, GError **err)
{
	switch ((JournalOp)p->op) {
	case JOURNAL_REMOVE:
		return account_exec_remove(a, p->folder_id, p->uidvalidity,
		                           p->uid, p->dest_id == 1, err);
	case JOURNAL_MOVE:
		return journal_move(a, p, err);
	case JOURNAL_FLAGS:
		return account_exec_flags(a, p->folder_id, p->uidvalidity,
		                          p->uid, p->flags, err);
	case JOURNAL_APPEND:
		return journal_append(a, p, err);
	}
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "unknown change %d", p->op);
	return FALSE;
}

/* Removes P's record and its files (what it still owns). */
static void
journal_forget(MfAccount *a, const StorePending *p)
{
	if (p->path)
		unlink(p->path);
	if (p->written)
		unlink(p->written);
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
		StorePending *p = &g_array_index(all, StorePending, i);
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

/* Shows what append P will make, under its stand-in UID and name. */
static void
journal_show_append(MfAccount *a, const StorePending *p)
{
	MfRemoteMessage m = { .uid = journal_ghost_uid(p->id),
	                      .size = journal_file_size(p->path),
	                      .date = p->date,
	                      .flags = g_intern_string(p->flags ? p->flags
	                                                        : "") };
	guint32 uv = 0;

	if (!account_show_append(a, p->folder_id, &m, &uv))
		return;
	StoreName n = { .uid = m.uid, .name = p->name, .written = p->written,
	                .size = journal_file_size(p->written) };
	if (p->name)
		store_name_set(account_store(a), p->folder_id, uv, m.uid, &n,
		               NULL);
	account_names_reload(a, p->folder_id);
}

/* Makes a waiting change show in the local listing. */
static void
journal_show_locally(MfAccount *a, const StorePending *p)
{
	guint32 ghost = journal_ghost_uid(p->id);
	gint64 dest = p->op == JOURNAL_MOVE ? p->dest_id : p->folder_id;

	if (p->op == JOURNAL_MOVE &&
	    account_show_move(a, p->folder_id, p->uidvalidity, p->uid,
	                      p->dest_id, ghost) && p->name)
		account_name_message_in(a, p->dest_id, ghost, p->name);
	if (p->op == JOURNAL_APPEND)
		journal_show_append(a, p);
	if (p->op == JOURNAL_FLAGS)
		account_edit_listing(a, p->folder_id, p->uid, p->flags);
	else if (p->op != JOURNAL_APPEND)
		account_edit_listing(a, p->folder_id, p->uid, NULL);
	if (p->replace_uid)
		account_edit_listing(a, dest, p->replace_uid, NULL);
}

/* Shows the change ID as it is recorded now (a run may have done part
 * of it: an append that replaces, done but for the removal). */
static void
journal_show_waiting(MfAccount *a, gint64 id)
{
	g_autoptr(GArray) all = store_pending_list(account_store(a));

	for (guint i = 0; i < all->len; i++)
		if (g_array_index(all, StorePending, i).id == id)
			journal_show_locally(a, &g_array_index(all, StorePending,
			                                       i));
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
		int e = errno;
		g_set_error(err, MF_ERROR, e == ENOSPC || e == EDQUOT
		            ? MF_ERROR_NOSPACE : MF_ERROR_LOCAL,
		            "cannot keep the file to append: %s", g_strerror(e));
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
		journal_show_waiting(a, p->id);
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

gboolean
journal_cancel(MfAccount *a, gint64 change_id)
{
	GMutex *lock = account_journal_lock(a);
	g_autoptr(GArray) all = NULL;
	gboolean found = FALSE;

	/* Not while a run is under way: it may be sending that change. */
	if (!g_mutex_trylock(lock))
		return FALSE;
	all = store_pending_list(account_store(a));
	for (guint i = 0; i < all->len && !found; i++) {
		StorePending *p = &g_array_index(all, StorePending, i);
		if (p->id != change_id || p->op != JOURNAL_APPEND ||
		    p->tries > 0)
			continue;
		found = TRUE;
		journal_forget(a, p);
		account_edit_listing(a, p->folder_id, journal_ghost_uid(p->id),
		                     NULL);
	}
	g_mutex_unlock(lock);
	return found;
}
