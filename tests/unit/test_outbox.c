/* test_outbox.c - the outbox queue (cache/outbox.c) and its sender, as a
 * state machine on disk: each test puts the queue in a state (through the
 * API, or by writing the row as a crash would have left it), opens it
 * again and checks what happens.  The SMTP side talks to a fake server in
 * a thread on loopback (fake_server.c); the copy in Sent goes to the fake
 * account_append_special() below instead of IMAP. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "cache/backend.h"
#include "cache/outbox.h"
#include "fake_server.h"
#include "net/mf_error.h"

/* Made once in main(); the sender pins it. */
static FakeCert test_cert;

#define MESSAGE "From: a@x.example\r\nTo: b@y.example\r\n" \
	"Subject: test\r\n\r\nHello.\r\n"
#define WAIT_S 10.0

/* --- the fake account: copies "saved in Sent" --- */

static GMutex copies_lock;
static GPtrArray *copies; /* char *: the bytes of each copy */
static int copies_fail;   /* how many copies to refuse first */

/* The password an outbox without one borrows from its account. */
const char *
account_password(MfAccount *a)
{
	return "account-password";
}

gboolean
account_append_special(MfAccount *a, guint special, const char *path,
                       const char *flags, gint64 date, int fd, guint64 size,
                       char **used, GError **err)
{
	g_autofree char *buf = g_malloc0(size + 1);

	ck_assert_uint_eq(special, MF_FOLDER_SENT);
	ck_assert_ptr_null(path);
	ck_assert_str_eq(flags, "\\Seen");
	ck_assert_int_eq(pread(fd, buf, size, 0), (ssize_t)size);
	g_mutex_lock(&copies_lock);
	gboolean ok = copies_fail == 0;
	if (ok)
		g_ptr_array_add(copies, g_steal_pointer(&buf));
	else
		copies_fail--;
	g_mutex_unlock(&copies_lock);
	if (!ok)
		g_set_error(err, MF_ERROR, MF_ERROR_OFFLINE, "offline");
	else if (used)
		*used = g_strdup("Sent");
	return ok;
}

static guint
copies_count(void)
{
	g_mutex_lock(&copies_lock);
	guint n = copies->len;
	g_mutex_unlock(&copies_lock);
	return n;
}

/* --- a queue in a fresh directory --- */

typedef struct {
	char *dir;
	MfOutboxParams p;
	MfOutbox *o;
} Queue;

static void
queue_open(Queue *q)
{
	g_autoptr(GError) err = NULL;

	/* Any non-NULL account: only account_append_special() sees it. */
	q->o = outbox_open(q->dir, &q->p, (MfAccount *)&copies, &err);
	ck_assert_msg(q->o != NULL, "%s", err ? err->message : "");
}

/* A queue in a new directory, sending to 127.0.0.1:PORT (0: nowhere). */
static Queue *
queue_new(guint16 port, gboolean save_sent)
{
	Queue *q = g_new0(Queue, 1);
	GError *err = NULL;

	q->dir = g_dir_make_tmp("mailfs-test-outbox-XXXXXX", &err);
	ck_assert_msg(q->dir != NULL, "%s", err ? err->message : "");
	q->p.smtp.url.scheme = URL_SMTPS;
	q->p.smtp.url.host = (char *)"127.0.0.1";
	q->p.smtp.url.port = port ? port : 1;
	q->p.smtp.url.implicit_tls = TRUE;
	q->p.smtp.tls_fingerprint = test_cert.fpr_plain;
	q->p.smtp.user = (char *)"user";
	q->p.smtp.password = (char *)"pass";
	q->p.smtp.timeout_ms = 3000;
	q->p.save_sent = save_sent;
	queue_open(q);
	copies = g_ptr_array_new_with_free_func(g_free);
	copies_fail = 0;
	return q;
}

/* Closes the queue as a crash would leave it: nothing more is written
 * (the sender is not running, or is stopped first). */
static void
queue_close(Queue *q)
{
	outbox_close(q->o);
	q->o = NULL;
}

static void
remove_tree(const char *path)
{
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(path, name, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			remove_tree(p);
		else
			g_unlink(p);
	}
	g_rmdir(path);
}

static void
queue_free(Queue *q)
{
	queue_close(q);
	remove_tree(q->dir);
	g_free(q->dir);
	g_free(q);
	g_clear_pointer(&copies, g_ptr_array_unref);
}

/* Runs SQL on the queue's database from another connection: on a closed
 * queue, as a crash image would have it. */
static void
db_exec(Queue *q, const char *sql)
{
	g_autofree char *path = g_build_filename(q->dir, "outbox.sqlite", NULL);
	sqlite3 *db = NULL;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
	sqlite3_close(db);
}

static char *
spool_path(Queue *q, gint64 id, const char *suffix)
{
	return g_strdup_printf("%s/spool/%" G_GINT64_FORMAT "%s", q->dir, id,
	                       suffix);
}

/* A file NAME with DATA, written and (with RELEASE) closed as cp does;
 * returns its id. */
static gint64
put(Queue *q, const char *name, const char *data, gboolean release)
{
	g_autoptr(GError) err = NULL;
	gint64 id = 0;
	int fd = outbox_create(q->o, name, &id, &err);

	ck_assert_msg(fd >= 0, "%s", err ? err->message : "");
	gssize n = outbox_write(q->o, id, fd, data, strlen(data), 0, &err);
	ck_assert_int_eq(n, (gssize)strlen(data));
	ck_assert(outbox_flush(q->o, id, fd, &err));
	if (release)
		ck_assert(outbox_release(q->o, id, fd, TRUE, &err));
	else
		close(fd);
	return id;
}

/* Entry ID's state, or -1 if there is none. */
static int
state_of(Queue *q, gint64 id)
{
	MfOutboxEntry e;

	if (!outbox_get(q->o, id, &e))
		return -1;
	int st = (int)e.state;
	outbox_entry_clear(&e);
	return st;
}

static char *
error_of(Queue *q, gint64 id)
{
	MfOutboxEntry e;

	ck_assert(outbox_get(q->o, id, &e));
	char *error = g_strdup(e.error);
	outbox_entry_clear(&e);
	return error;
}

/* Waits up to WAIT_S for entry ID to be in state WANT (-1: gone). */
static void
wait_state(Queue *q, gint64 id, int want)
{
	gint64 start = g_get_monotonic_time();

	while (state_of(q, id) != want && elapsed_s(start) < WAIT_S)
		g_usleep(20 * 1000);
	ck_assert_int_eq(state_of(q, id), want);
}

/* Waits up to WAIT_S for entry ID to have made N attempts. */
static void
wait_attempts(Queue *q, gint64 id, guint n)
{
	gint64 start = g_get_monotonic_time();
	guint attempts = 0;
	MfOutboxEntry e;

	while (attempts < n && elapsed_s(start) < WAIT_S) {
		ck_assert(outbox_get(q->o, id, &e));
		attempts = e.attempts;
		outbox_entry_clear(&e);
		g_usleep(20 * 1000);
	}
	ck_assert_uint_eq(attempts, n);
}

static guint
list_len(Queue *q, gboolean failed)
{
	g_autoptr(GPtrArray) rows = outbox_list(q->o, failed);
	return rows->len;
}

/* --- lookups ---------------------------------------------------------- */

/* Issue 13 item 9: a lookup that finds nothing leaves the entry as it
 * was, so a caller never frees what it did not get. */
START_TEST(test_not_found_leaves_entry_alone)
{
	Queue *q = queue_new(0, FALSE);
	MfOutboxEntry e;

	memset(&e, 0x5a, sizeof e);
	MfOutboxEntry before = e;
	ck_assert(!outbox_get(q->o, 4242, &e));
	ck_assert(!outbox_lookup(q->o, FALSE, "nothing.eml", &e));
	ck_assert(!outbox_lookup(q->o, TRUE, "nothing.eml", &e));
	ck_assert(memcmp(&e, &before, sizeof e) == 0);
	g_autoptr(GError) err = NULL;
	ck_assert_int_lt(outbox_open_file(q->o, 4242, O_RDONLY, &err), 0);
	assert_error(err, MF_ERROR_NOTFOUND, "no such file");
	g_clear_error(&err);
	ck_assert(!outbox_truncate(q->o, 4242, 0, &err));
	assert_error(err, MF_ERROR_NOTFOUND, "no such file");
	g_clear_error(&err);
	ck_assert(!outbox_unlink(q->o, FALSE, "nothing.eml", OUTBOX_PART_FILE,
	                         &err));
	assert_error(err, MF_ERROR_NOTFOUND, "nothing.eml");
	g_clear_error(&err);
	ck_assert(!outbox_rename(q->o, FALSE, "nothing.eml", FALSE, "x.eml",
	                         &err));
	assert_error(err, MF_ERROR_NOTFOUND, "nothing.eml");
	queue_free(q);
}
END_TEST

/* Issue 13 item 17: each refusal has its own code (errmap gives EEXIST,
 * EBUSY, EACCES), for a message on its way in either state. */
START_TEST(test_precise_error_codes)
{
	static const char *const busy[] = {
		"UPDATE outbox SET state = 2 WHERE name = 'a.eml'",
		"UPDATE outbox SET state = 5 WHERE name = 'a.eml'",
	};
	Queue *q = queue_new(0, FALSE);
	g_autoptr(GError) err = NULL;
	gint64 id = put(q, "a.eml", MESSAGE, TRUE);
	gint64 other = 0;

	ck_assert_int_lt(outbox_create(q->o, "a.eml", &other, &err), 0);
	assert_error(err, MF_ERROR_EXISTS, "a.eml exists");
	g_clear_error(&err);
	put(q, "c.eml", MESSAGE, TRUE);
	ck_assert(!outbox_rename(q->o, FALSE, "c.eml", TRUE, "c.eml", &err));
	assert_error(err, MF_ERROR_READONLY, "failed/");
	g_clear_error(&err);
	for (guint i = 0; i < G_N_ELEMENTS(busy); i++) {
		db_exec(q, busy[i]); /* the sender's doing, seen live */
		ck_assert(!outbox_unlink(q->o, FALSE, "a.eml", OUTBOX_PART_FILE,
		                         &err));
		assert_error(err, MF_ERROR_BUSY, "being sent");
		g_clear_error(&err);
		ck_assert_int_lt(outbox_open_file(q->o, id, O_WRONLY, &err), 0);
		assert_error(err, MF_ERROR_BUSY, "being sent");
		g_clear_error(&err);
		ck_assert(!outbox_truncate(q->o, id, 0, &err));
		assert_error(err, MF_ERROR_BUSY, "being sent");
		g_clear_error(&err);
		ck_assert(!outbox_rename(q->o, FALSE, "a.eml", FALSE, "b.eml",
		                         &err));
		assert_error(err, MF_ERROR_BUSY, "being sent");
		g_clear_error(&err);
		ck_assert(!outbox_rename(q->o, FALSE, "c.eml", FALSE, "a.eml",
		                         &err));
		assert_error(err, MF_ERROR_BUSY, "being sent");
		g_clear_error(&err);
		int fd = outbox_open_file(q->o, id, O_RDONLY, &err);
		ck_assert_int_ge(fd, 0);
		close(fd);
		ck_assert_uint_eq(list_len(q, FALSE), 2);
	}
	queue_free(q);
}
END_TEST

/* --- crash states, found again at open -------------------------------- */

/* EDITING with data (closed, its RELEASE lost to the crash) is queued;
 * empty and scratch files stay EDITING. */
START_TEST(test_crash_editing)
{
	Queue *q = queue_new(0, FALSE);
	gint64 data = put(q, "data.eml", MESSAGE, FALSE);
	gint64 scratch = put(q, ".data.eml.swp", MESSAGE, FALSE);
	gint64 empty = 0;
	g_autoptr(GError) err = NULL;

	int fd = outbox_create(q->o, "empty.eml", &empty, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(state_of(q, data), OUTBOX_EDITING);
	queue_close(q);
	queue_open(q);
	ck_assert_int_eq(state_of(q, data), OUTBOX_QUEUED);
	ck_assert_int_eq(state_of(q, scratch), OUTBOX_EDITING);
	ck_assert_int_eq(state_of(q, empty), OUTBOX_EDITING);
	ck_assert_uint_eq(list_len(q, FALSE), 3);
	queue_free(q);
}
END_TEST

/* Makes writes past LIMIT bytes fail (EFBIG) in this test's process. */
static void
limit_file_size(rlim_t limit)
{
	struct rlimit rl = { limit, limit };

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void
unlimit_file_size(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	setrlimit(RLIMIT_FSIZE, &rl);
}

/* Writes a message of SIZE bytes to NAME the way cp does, the file size
 * limited to LIMIT: the write that crosses it fails.  Returns its id and
 * leaves *FD open. */
static gint64
put_failing(Queue *q, const char *name, size_t size, rlim_t limit, int *fd,
            GError **err)
{
	g_autofree char *data = g_malloc(size);
	gint64 id = 0;
	size_t off = 0;

	memset(data, 'x', size);
	memcpy(data, MESSAGE, strlen(MESSAGE));
	*fd = outbox_create(q->o, name, &id, err);
	ck_assert_int_ge(*fd, 0);
	limit_file_size(limit);
	gssize n = 0;
	while (off < size &&
	       (n = outbox_write(q->o, id, *fd, data + off, MIN(size - off,
	                         64 * 1024), (off_t)off, err)) > 0)
		off += (size_t)n;
	unlimit_file_size();
	ck_assert_int_lt(n, 0);
	ck_assert_uint_ge(off, limit);
	return id;
}

/* Issue 13 item 1: a file whose write failed is never queued: not when
 * it is closed (flush and release succeed), not after a crash, not when
 * renamed; its data are dropped.  Writing it again from the start makes
 * it a normal file. */
START_TEST(test_failed_write_never_queued)
{
	Queue *q = queue_new(0, FALSE);
	g_autoptr(GError) err = NULL;
	int fd;
	gint64 id = put_failing(q, "big.eml", 256 * 1024, 100 * 1024, &fd,
	                        &err);
	struct stat st;

	assert_error(err, MF_ERROR_LOCAL, "File too large");
	g_clear_error(&err);
	ck_assert(outbox_flush(q->o, id, fd, &err));
	ck_assert(outbox_release(q->o, id, fd, TRUE, &err));
	ck_assert_int_eq(state_of(q, id), OUTBOX_EDITING);
	g_autofree char *spool = spool_path(q, id, "");
	ck_assert_int_eq(stat(spool, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	MfOutboxEntry e;
	ck_assert(outbox_get(q->o, id, &e));
	g_autofree char *status = outbox_status(&e);
	outbox_entry_clear(&e);
	ck_assert_msg(g_str_has_prefix(status, "editing: not sent: a write "
	                               "failed: File too large"), "%s", status);

	/* A crash now, or a rename: still not queued. */
	queue_close(q);
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_EDITING);
	ck_assert(outbox_rename(q->o, FALSE, "big.eml", FALSE, "other.eml",
	                        &err));
	ck_assert_int_eq(state_of(q, id), OUTBOX_EDITING);

	/* Written again from the start (cp over it: O_TRUNC): queued. */
	fd = outbox_open_file(q->o, id, O_WRONLY | O_TRUNC, &err);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(outbox_write(q->o, id, fd, MESSAGE, strlen(MESSAGE), 0,
	                              &err), (gssize)strlen(MESSAGE));
	ck_assert(outbox_release(q->o, id, fd, TRUE, &err));
	ck_assert_int_eq(state_of(q, id), OUTBOX_QUEUED);
	queue_free(q);
}
END_TEST

/* A failed write and then kill -9 before the close: not queued at the
 * next open.  Truncating to 0 also clears the mark. */
START_TEST(test_failed_write_then_crash)
{
	Queue *q = queue_new(0, FALSE);
	g_autoptr(GError) err = NULL;
	int fd;
	gint64 id = put_failing(q, "crash.eml", 200 * 1024, 64 * 1024, &fd,
	                        &err);

	/* The writer goes on (the space is back): the file has data again,
	 * but not the data meant to be sent. */
	g_clear_error(&err);
	ck_assert_int_eq(outbox_write(q->o, id, fd, MESSAGE, strlen(MESSAGE), 0,
	                              &err), (gssize)strlen(MESSAGE));
	close(fd); /* no flush, no release: the daemon died */
	queue_close(q);
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_EDITING);
	ck_assert_uint_eq(list_len(q, FALSE), 1);
	ck_assert(outbox_truncate(q->o, id, 0, &err));
	fd = outbox_open_file(q->o, id, O_WRONLY, &err);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(outbox_write(q->o, id, fd, MESSAGE, strlen(MESSAGE), 0,
	                              &err), (gssize)strlen(MESSAGE));
	ck_assert(outbox_release(q->o, id, fd, TRUE, &err));
	ck_assert_int_eq(state_of(q, id), OUTBOX_QUEUED);
	queue_free(q);
}
END_TEST

/* SENDING never got to the final ".": queued again. */
START_TEST(test_crash_sending)
{
	Queue *q = queue_new(0, FALSE);
	gint64 id = put(q, "s.eml", MESSAGE, TRUE);

	queue_close(q);
	db_exec(q, "UPDATE outbox SET state = 2");
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_QUEUED);
	ck_assert_uint_eq(list_len(q, FALSE), 1);
	queue_free(q);
}
END_TEST

/* Issue 13 item 2: AWAITING (the "." sent, no reply yet) may have been
 * delivered: to failed/ with that reason, under a free name, never queued
 * again by itself; moving it back into outbox/ queues it. */
START_TEST(test_crash_awaiting)
{
	Queue *q = queue_new(0, FALSE);
	gint64 old = put(q, "w.eml", MESSAGE, TRUE);
	gint64 id = put(q, "w2.eml", MESSAGE, TRUE);
	g_autofree char *sent = spool_path(q, id, ".sent");
	g_autoptr(GError) err = NULL;

	ck_assert(g_file_set_contents(sent, MESSAGE, -1, NULL));
	queue_close(q);
	g_autofree char *sql = g_strdup_printf(
		"UPDATE outbox SET state = 4, error = 'refused' WHERE id = %"
		G_GINT64_FORMAT "; UPDATE outbox SET state = 5, name = 'w.eml' "
		"WHERE id = %" G_GINT64_FORMAT, old, id);
	db_exec(q, sql);
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_FAILED);
	g_autofree char *error = error_of(q, id);
	ck_assert_msg(strstr(error, "may have been delivered") &&
	              strstr(error, "move it back into outbox/"), "%s", error);
	ck_assert(!g_file_test(sent, G_FILE_TEST_EXISTS));
	MfOutboxEntry e;
	ck_assert(outbox_lookup(q->o, TRUE, "w.eml.1", &e));
	ck_assert_int_eq(e.id, id);
	outbox_entry_clear(&e);
	ck_assert_uint_eq(list_len(q, FALSE), 0);
	ck_assert_uint_eq(list_len(q, TRUE), 2);
	queue_close(q);
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_FAILED);
	ck_assert(outbox_rename(q->o, TRUE, "w.eml.1", FALSE, "w.eml", &err));
	ck_assert_int_eq(state_of(q, id), OUTBOX_QUEUED);
	queue_free(q);
}
END_TEST

static gboolean
wait_copies(guint n)
{
	gint64 start = g_get_monotonic_time();

	while (copies_count() < n && elapsed_s(start) < WAIT_S)
		g_usleep(20 * 1000);
	return copies_count() == n;
}

/* SENT with the Sent copy pending: never sent again; the copy is saved
 * (once, after a refusal), then the entry goes. */
START_TEST(test_crash_sent_copy_pending)
{
	Queue *q = queue_new(0, TRUE);
	gint64 id = put(q, "c.eml", MESSAGE, TRUE);
	g_autofree char *spool = spool_path(q, id, "");
	g_autofree char *sent = spool_path(q, id, ".sent");

	ck_assert(g_file_set_contents(sent, "the bytes sent\r\n", -1, NULL));
	g_unlink(spool);
	queue_close(q);
	db_exec(q, "UPDATE outbox SET state = 3, next_try = 0");
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_SENT);
	ck_assert_uint_eq(list_len(q, FALSE), 0);
	/* Sent: not queued (outbox/ is empty), its copy pending. */
	OutboxSummary sum;
	outbox_summary(q->o, &sum);
	ck_assert_uint_eq(sum.queued, 0);
	ck_assert_uint_eq(sum.copy_pending, 1);
	ck_assert_uint_eq(sum.sent, 0);
	ck_assert_ptr_null(sum.last_error);
	outbox_summary_clear(&sum);
	copies_fail = 1;
	outbox_start(q->o);
	wait_attempts(q, id, 1);
	ck_assert_int_eq(state_of(q, id), OUTBOX_SENT);
	ck_assert_uint_eq(copies_count(), 0);
	outbox_summary(q->o, &sum);
	ck_assert_str_eq(sum.last_error, "c.eml: offline");
	ck_assert_int_gt(sum.last_error_at, 0);
	outbox_summary_clear(&sum);
	outbox_kick(q->o);
	ck_assert(wait_copies(1));
	wait_state(q, id, -1);
	outbox_summary(q->o, &sum);
	ck_assert_uint_eq(sum.copy_pending, 0);
	outbox_summary_clear(&sum);
	ck_assert_str_eq(copies->pdata[0], "the bytes sent\r\n");
	ck_assert(!g_file_test(sent, G_FILE_TEST_EXISTS));
	queue_free(q);
}
END_TEST

/* FAILED stays FAILED; NAME and NAME.error are removed one at a time, in
 * either order, durably; the entry goes with the second. */
START_TEST(test_failed_two_files)
{
	static const OutboxPart orders[2][2] = {
		{ OUTBOX_PART_ERROR, OUTBOX_PART_FILE },
		{ OUTBOX_PART_FILE, OUTBOX_PART_ERROR },
	};

	for (guint i = 0; i < 2; i++) {
		Queue *q = queue_new(0, FALSE);
		gint64 id = put(q, "f.eml", MESSAGE, TRUE);
		g_autofree char *spool = spool_path(q, id, "");
		g_autoptr(GError) err = NULL;
		OutboxSummary sum;
		MfOutboxEntry e;

		queue_close(q);
		db_exec(q, "UPDATE outbox SET state = 4, error = '550 no'");
		queue_open(q);
		ck_assert_int_eq(state_of(q, id), OUTBOX_FAILED);
		ck_assert(outbox_unlink(q->o, TRUE, "f.eml", orders[i][0], &err));
		queue_close(q);
		queue_open(q);
		ck_assert(outbox_lookup(q->o, TRUE, "f.eml", &e));
		ck_assert_uint_eq(e.removed, orders[i][0]);
		outbox_entry_clear(&e);
		ck_assert(!outbox_unlink(q->o, TRUE, "f.eml", orders[i][0],
		                         &err));
		assert_error(err, MF_ERROR_NOTFOUND, "f.eml");
		g_clear_error(&err);
		ck_assert(g_file_test(spool, G_FILE_TEST_EXISTS) ==
		          (orders[i][0] == OUTBOX_PART_ERROR));
		outbox_summary(q->o, &sum);
		ck_assert_uint_eq(sum.failed, orders[i][0] == OUTBOX_PART_ERROR);
		outbox_summary_clear(&sum);
		ck_assert(outbox_unlink(q->o, TRUE, "f.eml", orders[i][1], &err));
		ck_assert_int_eq(state_of(q, id), -1);
		ck_assert(!g_file_test(spool, G_FILE_TEST_EXISTS));
		ck_assert_uint_eq(list_len(q, TRUE), 0);
		queue_free(q);
	}
}
END_TEST

/* A schema 0 database (before write_error and removed) is migrated. */
START_TEST(test_migrates_schema_0)
{
	Queue *q = queue_new(0, FALSE);
	gint64 id = put(q, "m.eml", MESSAGE, TRUE);

	queue_close(q);
	db_exec(q, "CREATE TABLE old AS SELECT id, name, state, attempts, "
	        "next_try, error, mtime FROM outbox; DROP TABLE outbox; "
	        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
	        "name TEXT NOT NULL, state INTEGER NOT NULL, attempts INTEGER "
	        "NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0, "
	        "error TEXT, mtime INTEGER NOT NULL); INSERT INTO outbox "
	        "SELECT * FROM old; DROP TABLE old; PRAGMA user_version = 0;");
	queue_open(q);
	ck_assert_int_eq(state_of(q, id), OUTBOX_QUEUED);
	g_autoptr(GError) err = NULL;
	ck_assert(outbox_unlink(q->o, FALSE, "m.eml", OUTBOX_PART_FILE, &err));
	queue_free(q);
}
END_TEST

/* --- through SMTP ------------------------------------------------------ */

typedef enum {
	AT_DOT_REPLY,   /* answer REPLY */
	AT_DOT_HANGUP,  /* close without a word: the outcome is unknown */
	AT_DOT_HOLD,    /* tell the test, wait for its go, then REPLY */
} AtDot;

typedef struct {
	Queue *q;
	gint64 id;
	AtDot at_dot;
	const char *reply;   /* to the final "." */
	int state_at_dot;    /* the entry's state when the "." arrived */
	guint messages;      /* how many "." seen */
	GMutex lock;
	GCond cond;
	gboolean held, go;
} SmtpFake;

/* Reads the message data up to its "." line. */
static gboolean
smtp_fake_data(FakeServer *f)
{
	for (;;) {
		g_autofree char *line = fake_read_line(f);
		if (!line)
			return FALSE;
		if (strcmp(line, ".") == 0)
			return TRUE;
	}
}

static void
smtp_fake_hold(SmtpFake *sf)
{
	g_mutex_lock(&sf->lock);
	sf->held = TRUE;
	g_cond_broadcast(&sf->cond);
	while (!sf->go)
		g_cond_wait(&sf->cond, &sf->lock);
	g_mutex_unlock(&sf->lock);
}

/* The final ".": note the state it finds, then do as told; FALSE to
 * hang up. */
static gboolean
smtp_fake_dot(FakeServer *f, SmtpFake *sf)
{
	sf->state_at_dot = state_of(sf->q, sf->id);
	sf->messages++;
	if (sf->at_dot == AT_DOT_HANGUP)
		return FALSE;
	if (sf->at_dot == AT_DOT_HOLD)
		smtp_fake_hold(sf);
	fake_send_str(f, sf->reply);
	return TRUE;
}

/* A small submission server: any envelope is accepted. */
static void
smtp_fake(FakeServer *f)
{
	SmtpFake *sf = (SmtpFake *)f->script;
	char *line;

	fake_send_str(f, "220 fake.example ESMTP\r\n");
	while ((line = fake_read_line(f))) {
		g_autofree char *cmd = line;
		if (g_str_has_prefix(cmd, "EHLO"))
			fake_send_str(f, "250-fake.example\r\n250-PIPELINING\r\n"
			              "250-8BITMIME\r\n250 AUTH PLAIN\r\n");
		else if (g_str_has_prefix(cmd, "AUTH PLAIN"))
			fake_send_str(f, "235 2.7.0 ok\r\n");
		else if (g_str_has_prefix(cmd, "MAIL") ||
		         g_str_has_prefix(cmd, "RCPT") ||
		         g_str_has_prefix(cmd, "RSET"))
			fake_send_str(f, "250 ok\r\n");
		else if (strcmp(cmd, "DATA") == 0) {
			fake_send_str(f, "354 go on\r\n");
			if (!smtp_fake_data(f) || !smtp_fake_dot(f, sf))
				return;
		} else if (strcmp(cmd, "QUIT") == 0) {
			fake_send_str(f, "221 bye\r\n");
			return;
		} else {
			fake_send_str(f, "500 what?\r\n");
		}
	}
}

static SmtpFake *
smtp_fake_new(AtDot at_dot, const char *reply)
{
	SmtpFake *sf = g_new0(SmtpFake, 1);

	sf->at_dot = at_dot;
	sf->reply = reply;
	sf->state_at_dot = -2;
	g_mutex_init(&sf->lock);
	g_cond_init(&sf->cond);
	return sf;
}

/* Starts a fake server and a queue sending to it, with one message
 * queued and due at once. */
static FakeServer *
smtp_fake_start(SmtpFake *sf, gboolean save_sent)
{
	FakeServer *f = fake_server_start(smtp_fake, sf, 0, &test_cert, TRUE);

	sf->q = queue_new(f->port, save_sent);
	sf->id = put(sf->q, "m.eml", MESSAGE, TRUE);
	outbox_kick(sf->q->o);
	outbox_start(sf->q->o);
	return f;
}

static void
smtp_fake_free(SmtpFake *sf)
{
	g_mutex_clear(&sf->lock);
	g_cond_clear(&sf->cond);
	g_free(sf);
}

/* The row is AWAITING, durably, when the server sees the final "."; a
 * 250 then makes it SENT and, with the copy saved, gone. */
START_TEST(test_send_awaiting_at_dot)
{
	SmtpFake *sf = smtp_fake_new(AT_DOT_REPLY, "250 2.0.0 queued\r\n");
	FakeServer *f = smtp_fake_start(sf, TRUE);

	ck_assert(wait_copies(1));
	wait_state(sf->q, sf->id, -1);
	ck_assert_int_eq(sf->state_at_dot, OUTBOX_AWAITING);
	ck_assert_uint_eq(sf->messages, 1);
	ck_assert(strstr(copies->pdata[0], "Subject: test\r\n"));
	queue_free(sf->q);
	fake_server_finish(f, NULL);
	smtp_fake_free(sf);
}
END_TEST

/* The connection lost after the ".": it may have been delivered, so it
 * goes to failed/ saying so, and is not sent again. */
START_TEST(test_send_lost_reply)
{
	SmtpFake *sf = smtp_fake_new(AT_DOT_HANGUP, NULL);
	FakeServer *f = smtp_fake_start(sf, FALSE);

	wait_state(sf->q, sf->id, OUTBOX_FAILED);
	g_autofree char *error = error_of(sf->q, sf->id);
	ck_assert_msg(strstr(error, "may have been delivered"), "%s", error);
	ck_assert_int_eq(sf->state_at_dot, OUTBOX_AWAITING);
	fake_server_finish(f, NULL);
	ck_assert_uint_eq(sf->messages, 1);
	queue_free(sf->q);
	smtp_fake_free(sf);
}
END_TEST

/* A 4xx to the ".": the server did not take it, so it is queued again. */
START_TEST(test_send_4xx_at_dot)
{
	SmtpFake *sf = smtp_fake_new(AT_DOT_REPLY, "451 4.3.0 later\r\n");
	FakeServer *f = smtp_fake_start(sf, FALSE);

	MfOutboxEntry e;

	wait_attempts(sf->q, sf->id, 1);
	ck_assert(outbox_get(sf->q->o, sf->id, &e));
	ck_assert_int_eq(e.state, OUTBOX_QUEUED);
	ck_assert_uint_eq(e.attempts, 1);
	ck_assert_msg(strstr(e.error, "451 4.3.0 later"), "%s", e.error);
	outbox_entry_clear(&e);
	queue_close(sf->q);
	fake_server_finish(f, NULL);
	queue_free(sf->q);
	smtp_fake_free(sf);
}
END_TEST

static void
copy_tree(const char *from, const char *to)
{
	g_autoptr(GDir) d = g_dir_open(from, 0, NULL);
	const char *name;

	ck_assert(d != NULL);
	ck_assert_int_eq(g_mkdir_with_parents(to, 0700), 0);
	while ((name = g_dir_read_name(d))) {
		g_autofree char *src = g_build_filename(from, name, NULL);
		g_autofree char *dst = g_build_filename(to, name, NULL);
		g_autofree char *data = NULL;
		gsize len;
		if (g_file_test(src, G_FILE_TEST_IS_DIR)) {
			copy_tree(src, dst);
			continue;
		}
		ck_assert(g_file_get_contents(src, &data, &len, NULL));
		ck_assert(g_file_set_contents(dst, data, (gssize)len, NULL));
	}
}

/* kill -9 while the server holds its reply to the ".": the disk as the
 * crash leaves it (copied at that moment) opens with the message in
 * failed/, not queued to be sent again. */
START_TEST(test_crash_while_reply_held)
{
	SmtpFake *sf = smtp_fake_new(AT_DOT_HOLD, "250 2.0.0 queued\r\n");
	FakeServer *f = smtp_fake_start(sf, FALSE);
	g_autofree char *image = g_strconcat(sf->q->dir, "-image", NULL);

	g_mutex_lock(&sf->lock);
	gint64 end = g_get_monotonic_time() + (gint64)(WAIT_S * G_USEC_PER_SEC);
	while (!sf->held && g_cond_wait_until(&sf->cond, &sf->lock, end))
		;
	ck_assert(sf->held);
	copy_tree(sf->q->dir, image);
	sf->go = TRUE;
	g_cond_broadcast(&sf->cond);
	g_mutex_unlock(&sf->lock);

	Queue crashed = { .dir = image, .p = sf->q->p };
	queue_open(&crashed);
	ck_assert_int_eq(state_of(&crashed, sf->id), OUTBOX_FAILED);
	g_autofree char *error = error_of(&crashed, sf->id);
	ck_assert_msg(strstr(error, "may have been delivered"), "%s", error);
	queue_close(&crashed);
	remove_tree(image);

	wait_state(sf->q, sf->id, -1); /* the live one got its 250 */
	queue_free(sf->q);
	fake_server_finish(f, NULL);
	ck_assert_uint_eq(sf->messages, 1);
	smtp_fake_free(sf);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *states = tcase_create("states");
	TCase *smtp = tcase_create("smtp");

	tcase_set_timeout(states, 30);
	tcase_add_test(states, test_not_found_leaves_entry_alone);
	tcase_add_test(states, test_precise_error_codes);
	tcase_add_test(states, test_crash_editing);
	tcase_add_test(states, test_failed_write_never_queued);
	tcase_add_test(states, test_failed_write_then_crash);
	tcase_add_test(states, test_crash_sending);
	tcase_add_test(states, test_crash_awaiting);
	tcase_add_test(states, test_crash_sent_copy_pending);
	tcase_add_test(states, test_failed_two_files);
	tcase_add_test(states, test_migrates_schema_0);
	suite_add_tcase(s, states);
	tcase_set_timeout(smtp, 30);
	tcase_add_test(smtp, test_send_awaiting_at_dot);
	tcase_add_test(smtp, test_send_lost_reply);
	tcase_add_test(smtp, test_send_4xx_at_dot);
	tcase_add_test(smtp, test_crash_while_reply_held);
	suite_add_tcase(s, smtp);
	return s;
}

int
main(void)
{
	g_mutex_init(&copies_lock);
	fake_cert_init(&test_cert, "localhost", NULL, -3600, 86400);
	return fake_run_suite(outbox_suite());
}
