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
	MfOutboxParams p;
	MfAccount *account;
	GThread *sender;
	gboolean stopping;
	guint64 wake_seq;      /* bumped whenever the sender should look */
	OutboxSender *snd;     /* the sender thread's, while it runs */
	GHashTable *broken;    /* gint64 ids whose write_error could not be
	                        * stored (a full disk): never queued either */
	guint sent;            /* messages sent since opened */
	char *last_error;      /* "NAME: why", the last failure; or NULL */
	gint64 last_error_at;
	gboolean told_sent_folder; /* the log said where copies go */
};

static void outbox_fail_locked(MfOutbox *o, const MfOutboxEntry *e,
                               const char *error);

/* The table as first made (schema 0); outbox_migrations take it on. */
static const char outbox_schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL, state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT, mtime INTEGER NOT NULL);";

/* Entry N takes schema N to N + 1 (PRAGMA user_version). */
static const char *const outbox_migrations[] = {
	/* 1: why a file's data are not to be sent; which of a failed
	 * message's two files were removed (OutboxPart bits). */
	"ALTER TABLE outbox ADD COLUMN write_error TEXT;"
	"ALTER TABLE outbox ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;",
};
#define OUTBOX_SCHEMA G_N_ELEMENTS(outbox_migrations)

#define ENTRY_COLUMNS \
	"id, name, state, attempts, next_try, error, mtime, write_error, removed"

#define BOTH_PARTS (OUTBOX_PART_FILE | OUTBOX_PART_ERROR)

/* Why a message found AWAITING at open is not sent again. */
#define OUTBOX_CRASH_REASON \
	"mailfs stopped while waiting for the server's reply to this " \
	"message: it may have been delivered; to send it again anyway, " \
	"move it back into outbox/"

void
outbox_params_clear(MfOutboxParams *p)
{
	server_params_clear(&p->smtp);
	tokens_unref(p->tokens);
	g_free(p->from);
	g_free(p->sent_folder);
	memset(p, 0, sizeof *p);
}

void
outbox_entry_clear(MfOutboxEntry *e)
{
	g_free(e->name);
	g_free(e->error);
	g_free(e->write_error);
	memset(e, 0, sizeof *e);
}

static void
outbox_entry_free(MfOutboxEntry *e)
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

/* The code of a local failure with errno E: a full disk is NOSPACE. */
static MfErrorCode
outbox_errno_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? MF_ERROR_NOSPACE : MF_ERROR_LOCAL;
}

/* Sets ERR for a failed system call: "cannot WHAT PATH: strerror". */
static gboolean
outbox_errno_fail(GError **err, int e, const char *what, const char *path)
{
	g_set_error(err, MF_ERROR, outbox_errno_code(e), "cannot %s %s: %s",
	            what, path, g_strerror(e));
	return FALSE;
}

/* True while a message is on its way: it cannot be changed or removed. */
static gboolean
outbox_state_busy(MfOutboxState st)
{
	return st == OUTBOX_SENDING || st == OUTBOX_AWAITING;
}

static gboolean
outbox_state_editable(MfOutboxState st)
{
	return st == OUTBOX_EDITING || st == OUTBOX_QUEUED;
}

/* --- database --------------------------------------------------------- */

static gboolean
outbox_db_fail(MfOutbox *o, GError **err)
{
	int rc = sqlite3_errcode(o->db);

	g_set_error(err, MF_ERROR, rc == SQLITE_FULL ? MF_ERROR_NOSPACE
	                                             : MF_ERROR_LOCAL,
	            "outbox %s: %s", o->dir, sqlite3_errmsg(o->db));
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

/* Runs SQL on row ID (?1) with two texts (?2, ?3). */
static gboolean
outbox_exec_texts(MfOutbox *o, const char *sql, gint64 id, const char *t1,
                  const char *t2, GError **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
		return outbox_db_fail(o, err);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, t1, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, t2, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? TRUE : outbox_db_fail(o, err);
}

static void
outbox_row(MfOutbox *o, sqlite3_stmt *st, MfOutboxEntry *e)
{
	struct stat sb;

	e->id = sqlite3_column_int64(st, 0);
	e->name = g_strdup((const char *)sqlite3_column_text(st, 1));
	e->state = (MfOutboxState)sqlite3_column_int(st, 2);
	e->attempts = (guint)sqlite3_column_int(st, 3);
	e->next_try = sqlite3_column_int64(st, 4);
	e->error = g_strdup((const char *)sqlite3_column_text(st, 5));
	e->mtime = sqlite3_column_int64(st, 6);
	e->write_error = g_strdup((const char *)sqlite3_column_text(st, 7));
	e->removed = (guint)sqlite3_column_int(st, 8) & BOTH_PARTS;
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
		MfOutboxEntry *e = g_new0(MfOutboxEntry, 1);
		outbox_row(o, st, e);
		g_ptr_array_add(out, e);
	}
	sqlite3_finalize(st);
	return out;
}

/* Moves the first of ROWS into *E; FALSE, and *E untouched, if none. */
static gboolean
outbox_take_first(GPtrArray *rows, MfOutboxEntry *e)
{
	if (rows->len == 0)
		return FALSE;
	MfOutboxEntry *first = rows->pdata[0];
	*e = *first;
	memset(first, 0, sizeof *first);
	return TRUE;
}

/* Which rows outbox/ and outbox/failed/ show. */
#define OUTBOX_WHERE "state IN (0, 1, 2, 5)"
#define FAILED_WHERE "state = 4"

static gboolean
outbox_lookup_locked(MfOutbox *o, gboolean failed, const char *name,
                     MfOutboxEntry *e)
{
	g_autofree char *where = g_strdup_printf("%s AND name = ?2",
	                                         failed ? FAILED_WHERE
	                                                : OUTBOX_WHERE);
	g_autoptr(GPtrArray) rows = outbox_select(o, where, 0, name);
	return outbox_take_first(rows, e);
}

static gboolean
outbox_get_locked(MfOutbox *o, gint64 id, MfOutboxEntry *e)
{
	g_autoptr(GPtrArray) rows = outbox_select(o, "id = ?1", id, NULL);
	return outbox_take_first(rows, e);
}

/* Whether E's data are not to be sent (a write or flush failed). */
static gboolean
outbox_is_broken_locked(MfOutbox *o, const MfOutboxEntry *e)
{
	return e->write_error || g_hash_table_contains(o->broken, &e->id);
}

static gboolean
outbox_set_state(MfOutbox *o, gint64 id, MfOutboxState st, GError **err)
{
	return outbox_exec(o, "UPDATE outbox SET state = ?2 WHERE id = ?1", id,
	                   st, 0, NULL, err);
}

/* --- open / close ------------------------------------------------------ */

/* After a crash: files left EDITING with data were closed after writing
 * (each close made them durable), unless a write failed: queue them.
 * SENDING never got to the final ".": queue again.  AWAITING may have
 * been delivered: to failed/, saying so. */
static void
outbox_recover(MfOutbox *o)
{
	g_autoptr(GPtrArray) rows = outbox_select(o, "state IN (0, 2, 5)", 0,
	                                          NULL);

	for (guint i = 0; i < rows->len; i++) {
		const MfOutboxEntry *e = rows->pdata[i];
		if (e->state == OUTBOX_AWAITING)
			outbox_fail_locked(o, e, OUTBOX_CRASH_REASON);
		else if (e->state == OUTBOX_SENDING ||
		         (e->size > 0 && !e->write_error &&
		          !outbox_msg_is_scratch_name(e->name)))
			outbox_set_state(o, e->id, OUTBOX_QUEUED, NULL);
	}
}

static int
outbox_user_version(MfOutbox *o)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(o->db, "PRAGMA user_version", -1, &st,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Creates the table and takes it to OUTBOX_SCHEMA, one step per
 * transaction. */
static gboolean
outbox_migrate(MfOutbox *o, GError **err)
{
	if (sqlite3_exec(o->db, outbox_schema, NULL, NULL, NULL) != SQLITE_OK)
		return outbox_db_fail(o, err);
	int v = outbox_user_version(o);
	if (v < 0)
		return outbox_db_fail(o, err);
	if ((guint)v > OUTBOX_SCHEMA) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "outbox %s was made "
		            "by a newer mailfs (schema %d, this one knows %u)",
		            o->dir, v, (guint)OUTBOX_SCHEMA);
		return FALSE;
	}
	for (guint i = (guint)v; i < OUTBOX_SCHEMA; i++) {
		g_autofree char *sql = g_strdup_printf(
			"BEGIN; %s PRAGMA user_version = %u; COMMIT;",
			outbox_migrations[i], i + 1);
		if (sqlite3_exec(o->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			outbox_db_fail(o, err);
			sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
			return FALSE;
		}
	}
	return TRUE;
}

MfOutbox *
outbox_open(const char *dir, const MfOutboxParams *p, MfAccount *account,
            GError **err)
{
	MfOutbox *o = g_new0(MfOutbox, 1);
	g_autofree char *db = NULL;

	g_mutex_init(&o->lock);
	g_cond_init(&o->wake);
	o->dir = g_strdup(dir);
	o->spool = g_build_filename(dir, "spool", NULL);
	o->account = account;
	o->broken = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
	                                  NULL);
	o->p = *p;
	server_params_copy(&o->p.smtp, &p->smtp);
	o->p.tokens = p->tokens ? tokens_ref(p->tokens) : NULL;
	o->p.from = g_strdup(p->from);
	o->p.sent_folder = g_strdup(p->sent_folder);
	if (g_mkdir_with_parents(o->spool, 0700) != 0 || chmod(dir, 0700) != 0) {
		outbox_errno_fail(err, errno, "create outbox", dir);
		goto fail;
	}
	db = g_build_filename(dir, "outbox.sqlite", NULL);
	mode_t old = umask(077);
	int rc = sqlite3_open_v2(db, &o->db, SQLITE_OPEN_READWRITE |
	                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		outbox_db_fail(o, err);
		goto fail;
	}
	sqlite3_busy_timeout(o->db, 10000);
	if (!outbox_migrate(o, err))
		goto fail;
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
	if (o->broken)
		g_hash_table_destroy(o->broken);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->wake);
	g_free(o->dir);
	g_free(o->spool);
	g_free(o->last_error);
	g_free(o);
}

/* --- what fs/ sees ------------------------------------------------------ */

GPtrArray *
outbox_list(MfOutbox *o, gboolean failed)
{
	g_mutex_lock(&o->lock);
	GPtrArray *rows = outbox_select(o, failed ? FAILED_WHERE " ORDER BY id"
	                                          : OUTBOX_WHERE " ORDER BY id",
	                                0, NULL);
	g_mutex_unlock(&o->lock);
	return rows;
}

gboolean
outbox_lookup(MfOutbox *o, gboolean failed, const char *name, MfOutboxEntry *e)
{
	g_mutex_lock(&o->lock);
	gboolean found = outbox_lookup_locked(o, failed, name, e);
	g_mutex_unlock(&o->lock);
	return found;
}

gboolean
outbox_get(MfOutbox *o, gint64 id, MfOutboxEntry *e)
{
	g_mutex_lock(&o->lock);
	gboolean found = outbox_get_locked(o, id, e);
	g_mutex_unlock(&o->lock);
	return found;
}

int
outbox_create(MfOutbox *o, const char *name, gint64 *id, GError **err)
{
	MfOutboxEntry old;
	int fd = -1;

	g_mutex_lock(&o->lock);
	if (outbox_lookup_locked(o, FALSE, name, &old)) {
		outbox_entry_clear(&old);
		g_set_error(err, MF_ERROR, MF_ERROR_EXISTS, "%s exists", name);
	} else if (outbox_exec(o, "INSERT INTO outbox (name, state, mtime) "
	                       "VALUES (?4, 0, ?1)", g_get_real_time() / 1000000,
	                       0, 0, name, err)) {
		gint64 new_id = sqlite3_last_insert_rowid(o->db);
		g_autofree char *path = outbox_path(o, new_id, NULL);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			outbox_errno_fail(err, errno, "create", path);
			outbox_exec(o, "DELETE FROM outbox WHERE id = ?1", new_id,
			            0, 0, NULL, NULL);
		} else {
			*id = new_id;
		}
	}
	g_mutex_unlock(&o->lock);
	return fd;
}

/* Forgets that ID's data are not to be sent: they are written again
 * from the start (locked by the caller). */
static gboolean
outbox_unbreak_locked(MfOutbox *o, gint64 id, GError **err)
{
	g_hash_table_remove(o->broken, &id);
	return outbox_exec(o, "UPDATE outbox SET write_error = NULL "
	                   "WHERE id = ?1", id, 0, 0, NULL, err);
}

/* Checks that entry E may be written (locked by the caller). */
static gboolean
outbox_check_writable(const MfOutboxEntry *e, GError **err)
{
	if (outbox_state_editable(e->state))
		return TRUE;
	if (e->state == OUTBOX_FAILED)
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY, "%s is in failed/: "
		            "move it back into outbox/ to change it", e->name);
	else
		g_set_error(err, MF_ERROR, MF_ERROR_BUSY, "%s is being sent",
		            e->name);
	return FALSE;
}

int
outbox_open_file(MfOutbox *o, gint64 id, int flags, GError **err)
{
	MfOutboxEntry e;
	int fd = -1;
	gboolean writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);

	g_mutex_lock(&o->lock);
	if (!outbox_get_locked(o, id, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such file");
		g_mutex_unlock(&o->lock);
		return -1;
	}
	if (!writing || outbox_check_writable(&e, err)) {
		g_autofree char *path = outbox_path(o, id, NULL);
		fd = open(path, (flags & (O_ACCMODE | O_TRUNC | O_APPEND)) |
		          O_CLOEXEC);
		if (fd < 0)
			outbox_errno_fail(err, errno, "open", path);
		else if (writing)
			outbox_set_state(o, id, OUTBOX_EDITING, NULL);
		if (fd >= 0 && (flags & O_TRUNC))
			outbox_unbreak_locked(o, id, NULL);
	}
	outbox_entry_clear(&e);
	g_mutex_unlock(&o->lock);
	return fd;
}

/* A write or flush of ID through FD failed with errno ERRNUM: its data
 * will never be sent.  They are dropped first, so that the space they
 * took is free for the record of it; if even that cannot be stored, the
 * mark is kept in memory, and a crash leaves an empty file, which is not
 * queued either. */
static void
outbox_break(MfOutbox *o, gint64 id, int fd, const char *what, int errnum)
{
	g_autofree char *why = g_strdup_printf("%s failed: %s", what,
	                                       g_strerror(errnum));
	MfOutboxEntry e;

	if (fd >= 0 && ftruncate(fd, 0) != 0)
		g_debug("outbox: cannot drop the data of %" G_GINT64_FORMAT
		        ": %s", id, g_strerror(errno));
	g_mutex_lock(&o->lock);
	if (!g_hash_table_contains(o->broken, &id) &&
	    outbox_get_locked(o, id, &e)) {
		g_warning("outbox: %s will not be sent (%s): write it again or "
		          "remove it", e.name, why);
		outbox_entry_clear(&e);
	}
	gint64 *key = g_new(gint64, 1);
	*key = id;
	g_hash_table_add(o->broken, key);
	outbox_exec(o, "UPDATE outbox SET write_error = ?4 WHERE id = ?1 "
	            "AND write_error IS NULL", id, 0, 0, why, NULL);
	g_mutex_unlock(&o->lock);
}

gssize
outbox_write(MfOutbox *o, gint64 id, int fd, const void *buf, size_t len,
             off_t off, GError **err)
{
	gssize n;

	do
		n = pwrite(fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	int e = errno;
	outbox_break(o, id, fd, "a write", e);
	outbox_errno_fail(err, e, "write", "the outbox file");
	return -1;
}

gssize
outbox_read(int fd, void *buf, size_t len, off_t off, GError **err)
{
	gssize n;

	do
		n = pread(fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		outbox_errno_fail(err, errno, "read", "the outbox file");
	return n;
}

gssize
outbox_read_entry(MfOutbox *o, gint64 id, void *buf, size_t len, off_t off,
                  GError **err)
{
	int fd = outbox_open_file(o, id, O_RDONLY, err);

	if (fd < 0)
		return -1;
	gssize n = outbox_read(fd, buf, len, off, err);
	close(fd);
	return n;
}

void
outbox_discard_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

gboolean
outbox_flush(MfOutbox *o, gint64 id, int fd, GError **err)
{
	if (fsync(fd) == 0)
		return TRUE;
	int e = errno;
	outbox_break(o, id, fd, "saving it", e);
	return outbox_errno_fail(err, e, "save", "the outbox file");
}

/* Queues ID now (locked by the caller). */
static gboolean
outbox_queue_locked(MfOutbox *o, gint64 id, GError **err)
{
	gint64 now = g_get_real_time();

	if (!outbox_exec(o, "UPDATE outbox SET state = 1, attempts = 0, "
	                 "next_try = ?2, error = NULL, removed = 0, "
	                 "mtime = ?3 WHERE id = ?1",
	                 id, now + GRACE_US, now / 1000000, NULL, err))
		return FALSE;
	o->wake_seq++;
	g_cond_broadcast(&o->wake);
	return TRUE;
}

/* Where a file that is not being written goes in outbox/ once named NAME:
 * queued, or EDITING when its name is a scratch name or its data are not
 * to be sent (locked by the caller). */
static gboolean
outbox_settle_name_locked(MfOutbox *o, const MfOutboxEntry *e,
                          const char *name, GError **err)
{
	if (outbox_msg_is_scratch_name(name) || outbox_is_broken_locked(o, e))
		return outbox_exec(o, "UPDATE outbox SET state = 0, removed = 0 "
		                   "WHERE id = ?1", e->id, 0, 0, NULL, err);
	return outbox_queue_locked(o, e->id, err);
}

gboolean
outbox_release(MfOutbox *o, gint64 id, int fd, gboolean written, GError **err)
{
	MfOutboxEntry e;
	gboolean ok = TRUE;

	if (written && fsync(fd) != 0) {
		int errnum = errno;
		outbox_break(o, id, fd, "saving it", errnum);
		ok = outbox_errno_fail(err, errnum, "save", "the outbox file");
	}
	close(fd);
	if (!ok || !written)
		return ok;
	g_mutex_lock(&o->lock);
	if (outbox_get_locked(o, id, &e)) {
		if (e.state == OUTBOX_EDITING)
			ok = outbox_settle_name_locked(o, &e, e.name, err);
		outbox_entry_clear(&e);
	}
	g_mutex_unlock(&o->lock);
	return ok;
}

gboolean
outbox_truncate(MfOutbox *o, gint64 id, off_t size, GError **err)
{
	g_autofree char *path = outbox_path(o, id, NULL);
	MfOutboxEntry e;
	gboolean ok = FALSE;

	g_mutex_lock(&o->lock);
	if (!outbox_get_locked(o, id, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no such file");
		g_mutex_unlock(&o->lock);
		return FALSE;
	}
	if (outbox_check_writable(&e, err)) {
		if (truncate(path, size) != 0)
			outbox_errno_fail(err, errno, "truncate", path);
		else if (outbox_set_state(o, id, OUTBOX_EDITING, err))
			ok = size > 0 || outbox_unbreak_locked(o, id, err);
	}
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

static gboolean
outbox_delete_locked(MfOutbox *o, gint64 id, GError **err)
{
	if (!outbox_exec(o, "DELETE FROM outbox WHERE id = ?1", id, 0, 0, NULL,
	                 err))
		return FALSE;
	outbox_remove_files(o, id);
	g_hash_table_remove(o->broken, &id);
	return TRUE;
}

/* Removes PART of the failed entry E; the entry goes with its last
 * file (locked by the caller). */
static gboolean
outbox_unlink_part_locked(MfOutbox *o, const MfOutboxEntry *e,
                          OutboxPart part, GError **err)
{
	if ((e->removed | part) == BOTH_PARTS)
		return outbox_delete_locked(o, e->id, err);
	if (!outbox_exec(o, "UPDATE outbox SET removed = ?2 WHERE id = ?1",
	                 e->id, e->removed | part, 0, NULL, err))
		return FALSE;
	if (part == OUTBOX_PART_FILE)
		outbox_remove_files(o, e->id);
	return TRUE;
}

gboolean
outbox_unlink(MfOutbox *o, gboolean failed, const char *name,
              OutboxPart part, GError **err)
{
	MfOutboxEntry e;
	gboolean ok = FALSE;

	g_mutex_lock(&o->lock);
	if (!outbox_lookup_locked(o, failed, name, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no %s", name);
		g_mutex_unlock(&o->lock);
		return FALSE;
	}
	if ((e.removed & part) || (!failed && part != OUTBOX_PART_FILE))
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no %s", name);
	else if (outbox_state_busy(e.state))
		g_set_error(err, MF_ERROR, MF_ERROR_BUSY,
		            "%s is being sent", name);
	else if (failed)
		ok = outbox_unlink_part_locked(o, &e, part, err);
	else
		ok = outbox_delete_locked(o, e.id, err);
	outbox_entry_clear(&e);
	g_mutex_unlock(&o->lock);
	return ok;
}

/* Makes room for E under the name TO: an entry already there is
 * replaced, unless it is on its way (locked by the caller). */
static gboolean
outbox_replace_locked(MfOutbox *o, const MfOutboxEntry *e, gboolean to_failed,
                      const char *to, GError **err)
{
	MfOutboxEntry clash;
	gboolean ok = TRUE;

	if (!outbox_lookup_locked(o, to_failed, to, &clash))
		return TRUE;
	if (clash.id != e->id && outbox_state_busy(clash.state)) {
		g_set_error(err, MF_ERROR, MF_ERROR_BUSY, "%s is being sent",
		            to);
		ok = FALSE;
	} else if (clash.id != e->id) {
		ok = outbox_delete_locked(o, clash.id, err);
	}
	outbox_entry_clear(&clash);
	return ok;
}

static gboolean
outbox_rename_locked(MfOutbox *o, const MfOutboxEntry *e, gboolean to_failed,
                     const char *to, GError **err)
{
	if (!outbox_replace_locked(o, e, to_failed, to, err) ||
	    !outbox_exec(o, "UPDATE outbox SET name = ?4 WHERE id = ?1", e->id,
	                 0, 0, to, err))
		return FALSE;
	if (to_failed) /* within failed/: NAME.error goes along */
		return TRUE;
	return outbox_settle_name_locked(o, e, to, err);
}

gboolean
outbox_rename(MfOutbox *o, gboolean from_failed, const char *from,
              gboolean to_failed, const char *to, GError **err)
{
	MfOutboxEntry e;
	gboolean ok = FALSE;

	g_mutex_lock(&o->lock);
	if (!outbox_lookup_locked(o, from_failed, from, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no %s", from);
		g_mutex_unlock(&o->lock);
		return FALSE;
	}
	if (e.removed & OUTBOX_PART_FILE)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "no %s", from);
	else if (outbox_state_busy(e.state))
		g_set_error(err, MF_ERROR, MF_ERROR_BUSY,
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
outbox_status(const MfOutboxEntry *e)
{
	GDateTime *t;

	switch (e->state) {
	case OUTBOX_EDITING:
		if (e->write_error)
			return g_strdup_printf("editing: not sent: %s",
			                       e->write_error);
		return g_strdup("editing");
	case OUTBOX_SENDING:
		return g_strdup("sending");
	case OUTBOX_AWAITING:
		return g_strdup("sending: waiting for the server's reply");
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
outbox_backoff(MfOutbox *o, guint attempts)
{
	gint64 d = o->p.retry_min_ms ? (gint64)o->p.retry_min_ms * 1000
	                             : RETRY_MIN_US;

	for (guint i = 1; i < attempts && d < RETRY_MAX_US; i++)
		d *= 2;
	return MIN(d, RETRY_MAX_US);
}

/* The next entry due (QUEUED or SENT), marked SENDING if QUEUED; or FALSE
 * with *WAIT_UNTIL set to when to look again. */
static gboolean
outbox_next_due(MfOutbox *o, MfOutboxEntry *e, gint64 *wait_until)
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
outbox_settle(MfOutbox *o, const MfOutboxEntry *e, OutboxOutcome outcome,
              const char *error)
{
	gint64 retry = g_get_real_time() + outbox_backoff(o, e->attempts + 1);
	MfOutboxState back = e->state == OUTBOX_SENT ? OUTBOX_SENT : OUTBOX_QUEUED;

	switch (outcome) {
	case OUTBOX_DONE:
		outbox_delete_locked(o, e->id, NULL);
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

/* Moves E to failed/ under a name not used there yet (by either of the
 * two files of an entry there), with ERROR as its NAME.error. */
static void
outbox_fail_locked(MfOutbox *o, const MfOutboxEntry *e, const char *error)
{
	g_autofree char *name = g_strdup(e->name);
	MfOutboxEntry clash;

	for (guint n = 1; outbox_lookup_locked(o, TRUE, name, &clash); n++) {
		outbox_entry_clear(&clash);
		g_free(name);
		name = g_strdup_printf("%s.%u", e->name, n);
	}
	outbox_exec_texts(o, "UPDATE outbox SET state = 4, name = ?2, "
	                  "error = ?3, removed = 0, write_error = NULL "
	                  "WHERE id = ?1", e->id, name,
	                  error ? error : "refused", NULL);
	g_autofree char *sent = outbox_path(o, e->id, ".sent");
	unlink(sent);
	g_warning("outbox: %s moved to failed/: %s", e->name,
	          error ? error : "refused");
}

typedef struct {
	MfOutbox *o;
	gint64 id;
} MarkCtx;

/* Before the final ".": from here the server may take the message. */
static gboolean
outbox_mark_awaiting_cb(void *ud, GError **err)
{
	MarkCtx *m = ud;

	g_mutex_lock(&m->o->lock);
	gboolean ok = outbox_set_state(m->o, m->id, OUTBOX_AWAITING, err);
	g_mutex_unlock(&m->o->lock);
	return ok;
}

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
	g_autofree char *folder = NULL;

	if (!o->p.save_sent || !o->account)
		return OUTBOX_DONE;
	OutboxOutcome r = outbox_sender_copy(snd, sent, o->p.sent_folder,
	                                     &folder, error);
	if (r == OUTBOX_DONE && folder && !o->told_sent_folder) {
		o->told_sent_folder = TRUE; /* the sender thread's own */
		g_message("outbox: copies of sent mail go to %s%s", folder,
		          o->p.sent_folder ? "" : " (sent_folder chooses "
		          "another)");
	}
	return r;
}

/* What the log and the status say of an attempt at E that ended in R
 * with ERROR (or none), with O's lock held.  A failure for now is logged
 * when its reason is not the one of the attempt before. */
static void
outbox_note_locked(MfOutbox *o, const MfOutboxEntry *e, OutboxOutcome r,
                   const char *error)
{
	if (r == OUTBOX_ACCEPTED || r == OUTBOX_DONE) {
		if (e->state != OUTBOX_SENT)
			o->sent++;
		if (!error)
			return;
	}
	if (!error)
		return;
	g_free(o->last_error);
	o->last_error = g_strdup_printf("%s: %s", e->name, error);
	o->last_error_at = g_get_real_time() / G_USEC_PER_SEC;
	if (r == OUTBOX_REFUSED || g_strcmp0(e->error, error) == 0)
		return; /* outbox_fail_locked says it; or said already */
	if (r == OUTBOX_RETRY && e->state != OUTBOX_SENT)
		g_warning("outbox: %s not sent yet (trying again in %u s, then "
		          "less often): %s", e->name, (guint)(outbox_backoff(
		          o, e->attempts + 1) / G_USEC_PER_SEC), error);
	else
		g_warning("outbox: %s was sent, but its copy is not saved yet "
		          "(trying again later): %s", e->name, error);
}

static void
outbox_send_entry(MfOutbox *o, OutboxSender *snd, const MfOutboxEntry *e)
{
	g_autofree char *spool = outbox_path(o, e->id, NULL);
	g_autofree char *sent = outbox_path(o, e->id, ".sent");
	g_autofree char *error = NULL;
	g_autofree char *report = NULL;
	MarkCtx m = { o, e->id };
	OutboxMarks marks = { outbox_mark_awaiting_cb, outbox_mark_sent_cb, &m };
	OutboxOutcome r;

	if (e->state == OUTBOX_SENT) {
		r = outbox_copy(o, snd, e->id, &error);
	} else {
		r = outbox_sender_send(snd, spool, sent, &marks, &report,
		                       &error);
		if (r == OUTBOX_ACCEPTED) {
			g_message("outbox: %s sent: %s", e->name, report);
			g_clear_pointer(&error, g_free);
			r = outbox_copy(o, snd, e->id, &error);
			if (r != OUTBOX_DONE)
				r = OUTBOX_ACCEPTED;
		}
	}
	g_mutex_lock(&o->lock);
	outbox_note_locked(o, e, r, error);
	outbox_settle(o, e, r, error);
	g_mutex_unlock(&o->lock);
}

static gpointer
outbox_sender_thread(gpointer data)
{
	MfOutbox *o = data;
	OutboxSender *snd = outbox_sender_new(&o->p, o->account);
	MfOutboxEntry e;
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
outbox_summary(MfOutbox *o, OutboxSummary *s)
{
	memset(s, 0, sizeof *s);
	g_mutex_lock(&o->lock);
	g_autoptr(GPtrArray) q = outbox_select(o,
		"state IN (1, 2, 5) ORDER BY mtime", 0, NULL);
	g_autoptr(GPtrArray) c = outbox_select(o, "state = 3", 0, NULL);
	g_autoptr(GPtrArray) f = outbox_select(o,
		"state = 4 AND (removed & 1) = 0", 0, NULL);
	s->sent = o->sent;
	s->last_error = g_strdup(o->last_error);
	s->last_error_at = o->last_error_at;
	g_mutex_unlock(&o->lock);
	s->queued = q->len;
	s->oldest = q->len ? ((MfOutboxEntry *)q->pdata[0])->mtime : 0;
	s->copy_pending = c->len;
	s->failed = f->len;
}

void
outbox_summary_clear(OutboxSummary *s)
{
	g_free(s->last_error);
	memset(s, 0, sizeof *s);
}
