/* outbox.c - the outbox queue: files and states on disk, and the sender
 * thread that hands queued messages to SMTP and saves the Sent copy.  See
 * outbox.h for the states and the exactly-once rule. */
#include "cache/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/outbox_msg.h"
#include "cache/outbox_send.h"
#include "net/mf_error.h"

#define GRACE_US (500 * 1000)       /* a queued file waits this long */
#define RETRY_MIN_US (5 * G_USEC_PER_SEC)
#define RETRY_MAX_US (300 * G_USEC_PER_SEC)
#define OUTBOX_STOP_GRACE_US (20 * G_USEC_PER_SEC)

struct MfOutbox {
	GMutex lock;           /* the database and the fields below */
	GCond wake;
	sqlite3 *db;
	char *dir;
	char *spool;
	OutboxParams p;
	MfAccount *account;
	GThread *sender;
	gboolean stopping;
	guint64 wake_seq;      /* bumped whenever the sender should look */
	OutboxSender *snd;     /* the sender thread's, while it runs */
};

static void outbox_fail_locked(MfOutbox *o, const OutboxEntry *e,
                               const char *error);

static const char outbox_schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL, state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT, mtime INTEGER NOT NULL);";

#define ENTRY_COLUMNS "id, name, state, attempts, next_try, error, mtime"

void
outbox_params_clear(OutboxParams *p)
{
	url_clear(&p->smtp);
	g_free(p->ca_file);
	g_free(p->tls_fingerprint);
	g_free(p->user);
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		g_free(p->password);
	}
	g_free(p->from);
	memset(p, 0, sizeof *p);
}

void
outbox_entry_clear(OutboxEntry *e)
{
	g_free(e->name);
	g_free(e->error);
	memset(e, 0, sizeof *e);
}

static void
outbox_entry_free(OutboxEntry *e)
{
	outbox_entry_clear(e);
	g_free(e);
}

static char *
outbox_path(MfOutbox *o, gint64 id, const char *suffix)
{
	return g_strdup_printf("%s/%" G_GINT64_FORMAT "%s", o->spool, id,
	                       suffix ? suffix : "");
}

/* --- database --------------------------------------------------------- */

static gboolean
outbox_db_fail(MfOutbox *o, GError **err)
{
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "outbox %s: %s", o->dir,
	            sqlite3_errmsg(o->db));
	return FALSE;
}

/* Runs SQL with up to three int64 and one text parameter (?1..?4). */
static gboolean
outbox_exec(MfOutbox *o, const char *sql, gint64 a, gint64 b, gint64 c,
            const char *text, GError **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
		return outbox_db_fail(o, err);
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	if (text)
		sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? TRUE
	                                             : outbox_db_fail(o, err);
}

static void
outbox_row(MfOutbox *o, sqlite3_stmt *st, OutboxEntry *e)
{
	struct stat sb;

	e->id = sqlite3_column_int64(st, 0);
	e->name = g_strdup((const char *)sqlite3_column_text(st, 1));
	e->state = (OutboxState)sqlite3_column_int(st, 2);
	e->attempts = (guint)sqlite3_column_int(st, 3);
	e->next_try = sqlite3_column_int64(st, 4);
	e->error = g_strdup((const char *)sqlite3_column_text(st, 5));
	e->mtime = sqlite3_column_int64(st, 6);
	g_autofree char *path = outbox_path(o, e->id, NULL);
	e->size = stat(path, &sb) == 0 ? (guint64)sb.st_size : 0;
}

/* Rows matching WHERE, which may end in ORDER BY or LIMIT (with ?1 int
 * and ?2 text), locked by the caller. */
static GPtrArray *
outbox_select(MfOutbox *o, const char *where, gint64 a, const char *text)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT " ENTRY_COLUMNS " FROM outbox WHERE %s", where);
	GPtrArray *out =
		g_ptr_array_new_with_free_func((GDestroyNotify)outbox_entry_free);
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
		return out;
	sqlite3_bind_int64(st, 1, a);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		OutboxEntry *e = g_new0(OutboxEntry, 1);
		outbox_row(o, st, e);
		g_ptr_array_add(out, e);
	}
	sqlite3_finalize(st);
	return out;
}

/* Moves the first of ROWS into *E; FALSE, and *E untouched, if none. */
static gboolean
outbox_take_first(GPtrArray *rows, OutboxEntry *e)
{
	if (rows->len == 0)
		return FALSE;
	OutboxEntry *first = rows->pdata[0];
	*e = *first;
	memset(first, 0, sizeof *first);
	return TRUE;
}

#define VISIBLE_WHERE(failed) \
	((failed) ? "state = 4 ORDER BY id" : "state IN (0, 1, 2) ORDER BY id")

static gboolean
outbox_lookup_locked(MfOutbox *o, gboolean failed, const char *name,
                     OutboxEntry *e)
{
	g_autofree char *where = g_strdup_printf("%s AND name = ?2",
	                                         failed ? "state = 4"
	                                                : "state IN (0, 1, 2)");
	g_autoptr(GPtrArray) rows = outbox_select(o, where, 0, name);
	return outbox_take_first(rows, e);
}

static gboolean
outbox_set_state(MfOutbox *o, gint64 id, OutboxState st, GError **err)
{
	return outbox_exec(o, "UPDATE outbox SET state = ?2 WHERE id = ?1", id,
	                   st, 0, NULL, err);
}

/* --- open / close ------------------------------------------------------ */

/* Files a crash left EDITING with data were closed after writing: queue
 * them.  SENDING means the transaction did not end: queue again. */
static void
outbox_recover(MfOutbox *o)
{
	g_autoptr(GPtrArray) rows = outbox_select(o, "state IN (0, 2)", 0, NULL);

	for (guint i = 0; i < rows->len; i++) {
		const OutboxEntry *e = rows->pdata[i];
		if (e->state == OUTBOX_EDITING &&
		    (e->size == 0 || outbox_msg_is_scratch_name(e->name)))
			continue;
		outbox_set_state(o, e->id, OUTBOX_QUEUED, NULL);
	}
}

MfOutbox *
outbox_open(const char *dir, const OutboxParams *p, MfAccount *account,
            GError **err)
{
	MfOutbox *o = g_new0(MfOutbox, 1);
	g_autofree char *db = NULL;

	g_mutex_init(&o->lock);
	g_cond_init(&o->wake);
	o->dir = g_strdup(dir);
	o->spool = g_build_filename(dir, "spool", NULL);
	o->account = account;
	o->p = *p;
	o->p.smtp.host = g_strdup(p->smtp.host);
	o->p.ca_file = g_strdup(p->ca_file);
	o->p.tls_fingerprint = g_strdup(p->tls_fingerprint);
	o->p.user = g_strdup(p->user);
	o->p.password = g_strdup(p->password);
	o->p.from = g_strdup(p->from);
	if (g_mkdir_with_parents(o->spool, 0700) != 0 || chmod(dir, 0700) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot create outbox %s: %s", dir, g_strerror(e));
		goto fail;
	}
	db = g_build_filename(dir, "outbox.sqlite", NULL);
	mode_t old = umask(077);
	int rc = sqlite3_open_v2(db, &o->db, SQLITE_OPEN_READWRITE |
	                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK ||
	    sqlite3_exec(o->db, outbox_schema, NULL, NULL, NULL) != SQLITE_OK) {
		outbox_db_fail(o, err);
		goto fail;
	}
	sqlite3_busy_timeout(o->db, 10000);
	outbox_recover(o);
	return o;
fail:
	outbox_close(o);
	return NULL;
}

void
outbox_close(MfOutbox *o)
{
	if (!o)
		return;
	g_mutex_lock(&o->lock);
	o->stopping = TRUE;
	g_cond_broadcast(&o->wake);
	/* A message on its way gets a while to finish, so that a server
	 * slow to confirm is not cut off (the outcome would be unknown). */
	gint64 end = g_get_monotonic_time() + OUTBOX_STOP_GRACE_US;
	while (o->snd && g_cond_wait_until(&o->wake, &o->lock, end))
		;
	if (o->snd)
		outbox_sender_interrupt(o->snd);
	g_mutex_unlock(&o->lock);
	if (o->sender)
		g_thread_join(o->sender);
	if (o->db)
		sqlite3_close(o->db);
	outbox_params_clear(&o->p);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->wake);
	g_free(o->dir);
	g_free(o->spool);
	g_free(o);
}

/* --- what fs/ sees ------------------------------------------------------ */

GPtrArray *
outbox_list(MfOutbox *o, gboolean failed)
{
	g_mutex_lock(&o->lock);
	GPtrArray *rows = outbox_select(o, VISIBLE_WHERE(failed), 0, NULL);
	g_mutex_unlock(&o->lock);
	return rows;
}

gboolean
outbox_lookup(MfOutbox *o, gboolean failed, const char *name, OutboxEntry *e)
{
	g_mutex_lock(&o->lock);
	gboolean found = outbox_lookup_locked(o, failed, name, e);
	g_mutex_unlock(&o->lock);
	return found;
}

gboolean
outbox_get(MfOutbox *o, gint64 id, OutboxEntry *e)
{
	g_mutex_lock(&o->lock);
	g_autoptr(GPtrArray) rows = outbox_select(o, "id = ?1", id, NULL);
	gboolean found = outbox_take_first(rows, e);
	g_mutex_unlock(&o->lock);
	return found;
}

static gboolean
outbox_errno_fail(GError **err, const char *what, const char *path)
{
	int e = errno;
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot %s %s: %s", what,
	            path, g_strerror(e));
	return FALSE;
}

int
outbox_create(MfOutbox *o, const char *name, gint64 *id, GError **err)
{
	OutboxEntry old;
	int fd = -1;

	g_mutex_lock(&o->lock);
	if (outbox_lookup_locked(o, FALSE, name, &old)) {
		outbox_entry_clear(&old);
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY, "%s exists", name);
	} else if (outbox_exec(o, "INSERT INTO outbox (name, state, mtime) "
	                       "VALUES (?4, 0, ?1)", g_get_real_time() / 1000000,
	                       0, 0, name, err)) {
		gint64 new_id = sqlite3_last_insert_rowid(o->db);
		g_autofree char *path = outbox_path(o, new_id, NULL);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			outbox_errno_fail(err, "create", path);
			outbox_exec(o, "DELETE FROM outbox WHERE id = ?1", new_id,
			            0, 0, NULL, NULL);
		} else {
			*id = new_id;
		}
	}
	g_mutex_unlock(&o->lock);
	return fd;
}

int
outbox_open_file(MfOutbox *o, gint64 id, int flags, GError **err)
{
	OutboxEntry e;
	int fd = -1;
	gboolean writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);

	g_mutex_lock(&o->lock);
	g_autoptr(GPtrArray) rows = outbox_select(o, "id = ?1", id, NULL);
	if (!outbox_take_first(rows, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such file");
		g_mutex_unlock(&o->lock);
		return -1;
	}
	if (writing && e.state != OUTBOX_EDITING &&
	    e.state != OUTBOX_QUEUED) {
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "%s is being sent", e.name);
	} else {
		g_autofree char *path = outbox_path(o, id, NULL);
		fd = open(path, (flags & (O_ACCMODE | O_TRUNC | O_APPEND)) |
		          O_CLOEXEC);
		if (fd < 0)
			outbox_errno_fail(err, "open", path);
		else if (writing)
			outbox_set_state(o, id, OUTBOX_EDITING, NULL);
	}
	outbox_entry_clear(&e);
	g_mutex_unlock(&o->lock);
	return fd;
}

gboolean
outbox_flush(MfOutbox *o, gint64 id, int fd, GError **err)
{
	if (fsync(fd) != 0) {
		int e = errno;
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot save the outbox file: %s", g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

/* Queues ID now (locked by the caller). */
static gboolean
outbox_queue_locked(MfOutbox *o, gint64 id, GError **err)
{
	gint64 now = g_get_real_time();

	if (!outbox_exec(o, "UPDATE outbox SET state = 1, attempts = 0, "
	                 "next_try = ?2, error = NULL, mtime = ?3 WHERE id = ?1",
	                 id, now + GRACE_US, now / 1000000, NULL, err))
		return FALSE;
	o->wake_seq++;
	g_cond_broadcast(&o->wake);
	return TRUE;
}

gboolean
outbox_release(MfOutbox *o, gint64 id, int fd, gboolean written, GError **err)
{
	OutboxEntry e;
	gboolean ok = TRUE;

	if (written && fsync(fd) != 0)
		ok = outbox_errno_fail(err, "save", "the outbox file");
	close(fd);
	if (!ok || !written)
		return ok;
	g_mutex_lock(&o->lock);
	g_autoptr(GPtrArray) rows = outbox_select(o, "id = ?1", id, NULL);
	if (outbox_take_first(rows, &e)) {
		if (e.state == OUTBOX_EDITING && !outbox_msg_is_scratch_name(e.name))
			ok = outbox_queue_locked(o, id, err);
		outbox_entry_clear(&e);
	}
	g_mutex_unlock(&o->lock);
	return ok;
}

gboolean
outbox_truncate(MfOutbox *o, gint64 id, off_t size, GError **err)
{
	g_autofree char *path = outbox_path(o, id, NULL);
	OutboxEntry e;
	gboolean ok = FALSE;

	g_mutex_lock(&o->lock);
	g_autoptr(GPtrArray) rows = outbox_select(o, "id = ?1", id, NULL);
	if (!outbox_take_first(rows, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such file");
		g_mutex_unlock(&o->lock);
		return FALSE;
	}
	if (e.state != OUTBOX_EDITING && e.state != OUTBOX_QUEUED)
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "%s is being sent", e.name);
	else if (truncate(path, size) != 0)
		outbox_errno_fail(err, "truncate", path);
	else
		ok = outbox_set_state(o, id, OUTBOX_EDITING, err);
	outbox_entry_clear(&e);
	g_mutex_unlock(&o->lock);
	return ok;
}

static void
outbox_remove_files(MfOutbox *o, gint64 id)
{
	g_autofree char *path = outbox_path(o, id, NULL);
	g_autofree char *sent = outbox_path(o, id, ".sent");
	unlink(path);
	unlink(sent);
}

gboolean
outbox_unlink(MfOutbox *o, gboolean failed, const char *name, GError **err)
{
	OutboxEntry e;
	gboolean ok = FALSE;

	g_mutex_lock(&o->lock);
	if (!outbox_lookup_locked(o, failed, name, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no %s", name);
		g_mutex_unlock(&o->lock);
		return FALSE;
	}
	if (e.state == OUTBOX_SENDING) {
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "%s is being sent", name);
	} else {
		ok = outbox_exec(o, "DELETE FROM outbox WHERE id = ?1", e.id, 0,
		                 0, NULL, err);
		if (ok)
			outbox_remove_files(o, e.id);
	}
	outbox_entry_clear(&e);
	g_mutex_unlock(&o->lock);
	return ok;
}

static gboolean
outbox_rename_locked(MfOutbox *o, const OutboxEntry *e, gboolean to_failed,
                     const char *to, GError **err)
{
	OutboxEntry clash;

	if (outbox_lookup_locked(o, to_failed, to, &clash)) {
		gboolean busy = clash.state == OUTBOX_SENDING;
		if (!busy)
			outbox_exec(o, "DELETE FROM outbox WHERE id = ?1", clash.id,
			            0, 0, NULL, NULL);
		if (!busy)
			outbox_remove_files(o, clash.id);
		outbox_entry_clear(&clash);
		if (busy) {
			g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
			            "%s is being sent", to);
			return FALSE;
		}
	}
	if (!outbox_exec(o, "UPDATE outbox SET name = ?4 WHERE id = ?1", e->id,
	                 0, 0, to, err))
		return FALSE;
	if (to_failed)
		return outbox_set_state(o, e->id, OUTBOX_FAILED, err);
	if (outbox_msg_is_scratch_name(to))
		return outbox_set_state(o, e->id, OUTBOX_EDITING, err);
	return outbox_queue_locked(o, e->id, err);
}

gboolean
outbox_rename(MfOutbox *o, gboolean from_failed, const char *from,
              gboolean to_failed, const char *to, GError **err)
{
	OutboxEntry e;
	gboolean ok = FALSE;

	g_mutex_lock(&o->lock);
	if (!outbox_lookup_locked(o, from_failed, from, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no %s", from);
		g_mutex_unlock(&o->lock);
		return FALSE;
	}
	if (e.state == OUTBOX_SENDING)
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "%s is being sent", from);
	else if (to_failed && !from_failed)
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "only mailfs moves files into failed/");
	else
		ok = outbox_rename_locked(o, &e, to_failed, to, err);
	outbox_entry_clear(&e);
	g_mutex_unlock(&o->lock);
	return ok;
}

char *
outbox_status(const OutboxEntry *e)
{
	GDateTime *t;

	switch (e->state) {
	case OUTBOX_EDITING:
		return g_strdup("editing");
	case OUTBOX_SENDING:
		return g_strdup("sending");
	case OUTBOX_SENT:
		return g_strdup("sent");
	case OUTBOX_FAILED:
		return g_strdup_printf("failed: %s", e->error ? e->error : "");
	case OUTBOX_QUEUED:
		if (!e->error)
			return g_strdup("queued");
		t = g_date_time_new_from_unix_local(e->next_try / G_USEC_PER_SEC);
		g_autofree char *when = g_date_time_format(t, "%H:%M:%S");
		g_date_time_unref(t);
		return g_strdup_printf("queued: retry at %s after: %s", when,
		                       e->error);
	}
	return g_strdup("unknown");
}

void
outbox_kick(MfOutbox *o)
{
	g_mutex_lock(&o->lock);
	outbox_exec(o, "UPDATE outbox SET next_try = 0 WHERE state IN (1, 3)",
	            0, 0, 0, NULL, NULL);
	o->wake_seq++;
	g_cond_broadcast(&o->wake);
	g_mutex_unlock(&o->lock);
}

/* --- the sender ----------------------------------------------------------- */

static gint64
outbox_backoff(guint attempts)
{
	gint64 d = RETRY_MIN_US;

	for (guint i = 1; i < attempts && d < RETRY_MAX_US; i++)
		d *= 2;
	return MIN(d, RETRY_MAX_US);
}

/* The next entry due (QUEUED or SENT), marked SENDING if QUEUED; or FALSE
 * with *WAIT_UNTIL set to when to look again. */
static gboolean
outbox_next_due(MfOutbox *o, OutboxEntry *e, gint64 *wait_until)
{
	gint64 now = g_get_real_time();
	g_autoptr(GPtrArray) rows = outbox_select(o,
		"state IN (1, 3) ORDER BY next_try LIMIT 1", 0, NULL);

	*wait_until = now + 60 * G_USEC_PER_SEC;
	if (!outbox_take_first(rows, e))
		return FALSE;
	if (e->next_try > now) {
		*wait_until = e->next_try;
		outbox_entry_clear(e);
		return FALSE;
	}
	if (e->state == OUTBOX_QUEUED)
		outbox_set_state(o, e->id, OUTBOX_SENDING, NULL);
	return TRUE;
}

/* Records the outcome of one attempt (locked by the caller). */
static void
outbox_settle(MfOutbox *o, const OutboxEntry *e, OutboxOutcome outcome,
              const char *error)
{
	gint64 retry = g_get_real_time() + outbox_backoff(e->attempts + 1);
	OutboxState back = e->state == OUTBOX_SENT ? OUTBOX_SENT : OUTBOX_QUEUED;

	switch (outcome) {
	case OUTBOX_DONE:
		outbox_exec(o, "DELETE FROM outbox WHERE id = ?1", e->id, 0, 0,
		            NULL, NULL);
		outbox_remove_files(o, e->id);
		break;
	case OUTBOX_ACCEPTED: /* already SENT on disk; Sent copy pending */
	case OUTBOX_RETRY:
		outbox_exec(o, "UPDATE outbox SET state = ?2, attempts = "
		            "attempts + 1, next_try = ?3, error = ?4 WHERE id = ?1",
		            e->id, outcome == OUTBOX_ACCEPTED ? OUTBOX_SENT : back,
		            retry, error, NULL);
		break;
	case OUTBOX_REFUSED:
		outbox_fail_locked(o, e, error);
		break;
	}
	o->wake_seq++;
}

/* Moves E to failed/ under a name not used there yet. */
static void
outbox_fail_locked(MfOutbox *o, const OutboxEntry *e, const char *error)
{
	g_autofree char *name = g_strdup(e->name);
	OutboxEntry clash;

	for (guint n = 1; outbox_lookup_locked(o, TRUE, name, &clash); n++) {
		outbox_entry_clear(&clash);
		g_free(name);
		name = g_strdup_printf("%s.%u", e->name, n);
	}
	outbox_exec(o, "UPDATE outbox SET state = 4, name = ?4, error = NULL "
	            "WHERE id = ?1", e->id, 0, 0, name, NULL);
	outbox_exec(o, "UPDATE outbox SET error = ?4 WHERE id = ?1", e->id, 0,
	            0, error ? error : "refused", NULL);
	g_autofree char *sent = outbox_path(o, e->id, ".sent");
	unlink(sent);
	g_warning("outbox: %s refused: %s", e->name, error ? error : "");
}

typedef struct {
	MfOutbox *o;
	gint64 id;
} MarkCtx;

/* Right after the server accepted the message: SENT, durably, first. */
static gboolean
outbox_mark_sent_cb(void *ud)
{
	MarkCtx *m = ud;
	g_autofree char *path = outbox_path(m->o, m->id, NULL);

	g_mutex_lock(&m->o->lock);
	gboolean ok = outbox_set_state(m->o, m->id, OUTBOX_SENT, NULL);
	g_mutex_unlock(&m->o->lock);
	unlink(path);
	return ok;
}

static OutboxOutcome
outbox_copy(MfOutbox *o, OutboxSender *snd, gint64 id, char **error)
{
	g_autofree char *sent = outbox_path(o, id, ".sent");

	if (!o->p.save_sent || !o->account)
		return OUTBOX_DONE;
	return outbox_sender_copy(snd, sent, error);
}

static void
outbox_send_entry(MfOutbox *o, OutboxSender *snd, const OutboxEntry *e)
{
	g_autofree char *spool = outbox_path(o, e->id, NULL);
	g_autofree char *sent = outbox_path(o, e->id, ".sent");
	g_autofree char *error = NULL;
	MarkCtx m = { o, e->id };
	OutboxOutcome r;

	if (e->state == OUTBOX_SENT) {
		r = outbox_copy(o, snd, e->id, &error);
	} else {
		r = outbox_sender_send(snd, spool, sent, outbox_mark_sent_cb, &m,
		                       &error);
		if (r == OUTBOX_ACCEPTED) {
			g_message("outbox: %s sent", e->name);
			g_clear_pointer(&error, g_free);
			r = outbox_copy(o, snd, e->id, &error);
			if (r != OUTBOX_DONE)
				r = OUTBOX_ACCEPTED;
		}
	}
	if (r == OUTBOX_ACCEPTED && error)
		g_warning("outbox: copy of %s not saved in Sent yet: %s",
		          e->name, error);
	g_mutex_lock(&o->lock);
	outbox_settle(o, e, r, error);
	g_mutex_unlock(&o->lock);
}

static gpointer
outbox_sender_thread(gpointer data)
{
	MfOutbox *o = data;
	OutboxSender *snd = outbox_sender_new(&o->p, o->account);
	OutboxEntry e;
	gint64 until;

	g_mutex_lock(&o->lock);
	o->snd = snd;
	while (!o->stopping) {
		if (outbox_next_due(o, &e, &until)) {
			g_mutex_unlock(&o->lock);
			outbox_send_entry(o, snd, &e);
			outbox_entry_clear(&e);
			g_mutex_lock(&o->lock);
			continue;
		}
		guint64 seq = o->wake_seq;
		if (outbox_sender_connected(snd)) {
			g_mutex_unlock(&o->lock);
			outbox_sender_idle(snd);
			g_mutex_lock(&o->lock);
		}
		gint64 end = g_get_monotonic_time() + (until - g_get_real_time());
		while (!o->stopping && seq == o->wake_seq &&
		       g_cond_wait_until(&o->wake, &o->lock, end))
			;
	}
	o->snd = NULL;
	g_cond_broadcast(&o->wake);
	g_mutex_unlock(&o->lock);
	outbox_sender_free(snd);
	return NULL;
}

void
outbox_start(MfOutbox *o)
{
	if (!o->sender)
		o->sender = g_thread_new("mailfs-outbox", outbox_sender_thread, o);
}

void
outbox_summary(MfOutbox *o, guint *queued, gint64 *oldest, guint *failed)
{
	g_mutex_lock(&o->lock);
	g_autoptr(GPtrArray) q = outbox_select(o,
		"state IN (1, 2, 3) ORDER BY mtime", 0, NULL);
	g_autoptr(GPtrArray) f = outbox_select(o, "state = 4", 0, NULL);
	g_mutex_unlock(&o->lock);
	*queued = q->len;
	*oldest = q->len ? ((OutboxEntry *)q->pdata[0])->mtime : 0;
	*failed = f->len;
}
