/* ctl_ops.c - .mailfs/status, .mailfs/ctl and .mailfs/log. */
#include "fs/ctl_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fs/log.h"

/* The files of .mailfs/, by inode. */
enum {
	INO_CTL_STATUS = INO_CTL_DIR + 1,
	INO_CTL_CTL,
	INO_CTL_LOG,
};

static const struct {
	const char *name;
	fuse_ino_t ino;
	mode_t perm;
} ctl_files[] = {
	{ "status", INO_CTL_STATUS, 0444 },
	/* Readable (it reads empty) so that grep -r and backups walking the
	 * mount do not stop at it. */
	{ "ctl", INO_CTL_CTL, 0644 },
	{ "log", INO_CTL_LOG, 0444 },
};

/* This module's state (fs->ctl): status and log as last shown. */
struct CtlState {
	GMutex lock;      /* "ctl_lock": a leaf */
	char *text[2];    /* .mailfs/status and log as last shown */
	gint64 taken[2];  /* when (monotonic µs) */
};

/* What an open ctl file reads: a snapshot taken at open. */
typedef struct {
	char *text;
	size_t len;
} CtlHandle;

static void
ctl_handle_free(gpointer p)
{
	CtlHandle *h = p;

	g_free(h->text);
	g_free(h);
}

static void
ctl_ops_time(GString *s, const char *key, gint64 t)
{
	if (t <= 0) {
		g_string_append_printf(s, "%s: never\n", key);
		return;
	}
	GDateTime *d = g_date_time_new_from_unix_local(t);
	g_autofree char *iso = g_date_time_format_iso8601(d);
	g_date_time_unref(d);
	g_string_append_printf(s, "%s: %s\n", key, iso);
}

/* At most this many outbox files get a line of their own. */
#define CTL_OUTBOX_FILES_MAX 20

/* One "outbox_file: NAME: STATE" line per file of outbox/ that is more
 * than being written (what its xattr user.mailfs.status says). */
static void
ctl_ops_outbox_files(MfFs *fs, GString *s)
{
	g_autoptr(GPtrArray) files = outbox_list(fs->outbox, FALSE);
	guint shown = 0, more = 0;

	for (guint i = 0; i < files->len; i++) {
		const MfOutboxEntry *e = files->pdata[i];
		if (e->state == OUTBOX_EDITING && !e->write_error)
			continue;
		if (shown == CTL_OUTBOX_FILES_MAX) {
			more++;
			continue;
		}
		g_autofree char *st = outbox_status(e);
		g_string_append_printf(s, "outbox_file: %s: %s\n", e->name, st);
		shown++;
	}
	if (more)
		g_string_append_printf(s, "outbox_file: ... and %u more\n",
		                       more);
}

/* The outbox lines; *ERROR and *AT get its last failure (owned). */
static void
ctl_ops_outbox_status(MfFs *fs, GString *s, char **error, gint64 *at)
{
	OutboxSummary sum;

	if (!fs->outbox) {
		g_string_append(s, "outbox: none\n");
		return;
	}
	outbox_summary(fs->outbox, &sum);
	g_string_append_printf(s, "outbox_queued: %u\n", sum.queued);
	g_string_append_printf(s, "outbox_oldest_age: %" G_GINT64_FORMAT "\n",
	                       sum.oldest ? g_get_real_time() / G_USEC_PER_SEC -
	                                    sum.oldest : 0);
	g_string_append_printf(s, "outbox_failed: %u\n", sum.failed);
	g_string_append_printf(s, "outbox_sent: %u\n", sum.sent);
	g_string_append_printf(s, "outbox_copy_pending: %u\n",
	                       sum.copy_pending);
	ctl_ops_outbox_files(fs, s);
	*error = g_steal_pointer(&sum.last_error);
	*at = sum.last_error_at;
	outbox_summary_clear(&sum);
}

/* How the last session was secured, without the server that the backend
 * puts in front ("imaps://host:993, TLSv1.3 ...") and status shows on
 * its own line. */
static const char *
ctl_ops_tls(const MfAccountStatus *st)
{
	size_t n = strlen(st->server);

	if (!st->tls)
		return "unknown";
	if (strncmp(st->tls, st->server, n) == 0 &&
	    strncmp(st->tls + n, ", ", 2) == 0)
		return st->tls + n + 2;
	return st->tls;
}

char *
ctl_ops_status_text(MfFs *fs)
{
	MfAccountStatus st;
	GString *s = g_string_new(NULL);

	g_autofree char *outbox_error = NULL;
	gint64 outbox_error_at = 0;

	account_status(fs->account, &st);
	g_string_append_printf(s, "state: %s\n", st.online ? "online"
	                       : st.forced_offline ? "offline (by request)"
	                       : "offline");
	ctl_ops_time(s, "since", st.state_since);
	g_string_append_printf(s, "server: %s\n", st.server);
	g_string_append_printf(s, "tls: %s\n", ctl_ops_tls(&st));
	ctl_ops_time(s, "last_refresh", st.last_refresh);
	g_string_append_printf(s, "push: %s\n", st.push ? "active" : "off");
	ctl_ops_outbox_status(fs, s, &outbox_error, &outbox_error_at);
	g_string_append_printf(s, "cache_bytes: %" G_GUINT64_FORMAT "\n",
	                       st.cache_bytes);
	g_string_append_printf(s, "cache_max: %" G_GUINT64_FORMAT "\n",
	                       st.cache_max);
	/* The newer of the account's and the outbox's. */
	gboolean sending = outbox_error && outbox_error_at >= st.last_error_at;
	g_string_append_printf(s, "last_error: %s%s\n",
	                       sending ? "outbox: " : "",
	                       sending ? outbox_error : st.last_error
	                               ? st.last_error : "none");
	ctl_ops_time(s, "last_error_at", sending ? outbox_error_at
	                                         : st.last_error_at);
	account_status_clear(&st);
	/* Errors and TLS details carry what the server said. */
	g_autofree char *text = g_string_free(s, FALSE);
	return log_safe_text(text, TRUE);
}

static int
ctl_ops_find(fuse_ino_t ino)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ctl_files); i++)
		if (ctl_files[i].ino == ino)
			return (int)i;
	return -1;
}

/* read_only = yes sends no OPEN, so no open handle holds a snapshot of
 * status or log.  Each keeps its last text for a moment instead (one
 * `cat` reads one text), and shows its size and the time it was taken as
 * its attributes: a new text changes them, and the kernel then drops the
 * copy it cached.  A ctl command drops both at once. */
#define CTL_SNAPSHOT_US (500 * 1000)

static int
ctl_ops_snap_slot(fuse_ino_t ino)
{
	return ino == INO_CTL_STATUS ? 0 : ino == INO_CTL_LOG ? 1 : -1;
}

/* The text of SLOT, taken anew when older than CTL_SNAPSHOT_US; when it
 * was taken (real time, µs) to *TAKEN.  Called with fs->ctl->lock held. */
static const char *
ctl_ops_snapshot_locked(MfFs *fs, int slot, gint64 *taken)
{
	gint64 now = g_get_real_time();

	if (!fs->ctl->text[slot] || now - fs->ctl->taken[slot] >= CTL_SNAPSHOT_US ||
	    now < fs->ctl->taken[slot]) {
		g_free(fs->ctl->text[slot]);
		fs->ctl->text[slot] = slot == 0 ? ctl_ops_status_text(fs)
		                               : log_recent();
		fs->ctl->taken[slot] = now;
	}
	*taken = fs->ctl->taken[slot];
	return fs->ctl->text[slot];
}

static void
ctl_ops_forget_snapshots(MfFs *fs)
{
	g_mutex_lock(&fs->ctl->lock);
	for (int i = 0; i < 2; i++)
		g_clear_pointer(&fs->ctl->text[i], g_free);
	g_mutex_unlock(&fs->ctl->lock);
}

void
ctl_ops_init(MfFs *fs)
{
	fs->ctl = g_new0(CtlState, 1);
	g_mutex_init(&fs->ctl->lock);
}

void
ctl_ops_cleanup(MfFs *fs)
{
	ctl_ops_forget_snapshots(fs);
	g_mutex_clear(&fs->ctl->lock);
	g_clear_pointer(&fs->ctl, g_free);
}

static void
ctl_ops_attr(MfFs *fs, fuse_ino_t ino, struct stat *st)
{
	int i = ctl_ops_find(ino);
	int slot = ctl_ops_snap_slot(ino);
	gint64 taken = 0;
	size_t len = 0;

	if (i < 0) {
		node_dir_attr(fs, ino, FALSE, 0, st);
		return;
	}
	if (fs->read_only && slot >= 0) {
		g_mutex_lock(&fs->ctl->lock);
		len = strlen(ctl_ops_snapshot_locked(fs, slot, &taken));
		g_mutex_unlock(&fs->ctl->lock);
	}
	node_file_attr(fs, ino, ctl_files[i].perm, len,
	               taken ? taken / G_USEC_PER_SEC : fs->started, st);
	st->st_mtim.tv_nsec = (long)(taken % G_USEC_PER_SEC) * 1000;
}

void
ctl_ops_lookup(fuse_req_t req, Node parent, const char *name)
{
	MfFs *fs = node_fs(req);
	struct fuse_entry_param e = { .attr_timeout = 0.0,
	                              .entry_timeout = 1.0 };

	if (parent.kind == NODE_ROOT) {
		e.ino = INO_CTL_DIR;
	} else {
		for (gsize i = 0; i < G_N_ELEMENTS(ctl_files); i++)
			if (strcmp(ctl_files[i].name, name) == 0)
				e.ino = ctl_files[i].ino;
	}
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ctl_ops_attr(fs, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

void
ctl_ops_getattr(fuse_req_t req, Node n)
{
	struct stat st;

	if (n.id != INO_CTL_DIR && ctl_ops_find((fuse_ino_t)n.id) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ctl_ops_attr(node_fs(req), (fuse_ino_t)n.id, &st);
	fuse_reply_attr(req, &st, 0.0);
}

void
ctl_ops_fill(MfFs *fs, GArray *dir)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ctl_files); i++)
		dirlist_add(dir, ctl_files[i].name, ctl_files[i].ino, S_IFREG);
}

void
ctl_ops_open(fuse_req_t req, Node n, struct fuse_file_info *fi)
{
	MfFs *fs = node_fs(req);
	gboolean writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	CtlHandle *h = g_new0(CtlHandle, 1);

	if ((writing && n.id != INO_CTL_CTL) || ctl_ops_find(n.id) < 0) {
		g_free(h);
		fuse_reply_err(req, EACCES);
		return;
	}
	if (n.id == INO_CTL_STATUS)
		h->text = ctl_ops_status_text(fs);
	else if (n.id == INO_CTL_LOG)
		h->text = log_recent();
	h->len = h->text ? strlen(h->text) : 0;
	node_handle_track(fs, h, ctl_handle_free);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* sizes are unknown until read */
	if (fuse_reply_open(req, fi) != 0)
		node_handle_release(fs, h);
}

/* A read with no open handle (read_only = yes): from the snapshot. */
static void
ctl_ops_read_snapshot(fuse_req_t req, Node n, size_t size, off_t off)
{
	MfFs *fs = node_fs(req);
	int slot = ctl_ops_snap_slot((fuse_ino_t)n.id);
	gint64 taken;

	if (slot < 0) { /* ctl reads empty */
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	g_mutex_lock(&fs->ctl->lock);
	const char *text = ctl_ops_snapshot_locked(fs, slot, &taken);
	size_t len = strlen(text), start = MIN((size_t)off, len);
	g_autofree char *part = g_strndup(text + start, MIN(size, len - start));
	g_mutex_unlock(&fs->ctl->lock);
	fuse_reply_buf(req, part, strlen(part));
}

void
ctl_ops_read(fuse_req_t req, Node n, size_t size, off_t off,
             struct fuse_file_info *fi)
{
	CtlHandle *h = (CtlHandle *)(uintptr_t)fi->fh;
	MfFs *fs = node_fs(req);

	if (!h) {
		ctl_ops_read_snapshot(req, n, size, off);
		return;
	}

	if (!node_handle_get(fs, h)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	size_t start = MIN((size_t)off, h->len);
	fuse_reply_buf(req, h->text ? h->text + start : NULL,
	               MIN(size, h->len - start));
	node_handle_put(fs, h);
}

/* Runs one command; FALSE if it is not one. */
static gboolean
ctl_ops_command(MfFs *fs, const char *cmd)
{
	if (strcmp(cmd, "refresh") == 0)
		account_refresh_all(fs->account);
	else if (strcmp(cmd, "flush") == 0 && fs->outbox)
		outbox_kick(fs->outbox);
	else if (strcmp(cmd, "flush") == 0)
		; /* no outbox: nothing to send */
	else if (strcmp(cmd, "offline") == 0)
		account_set_forced_offline(fs->account, TRUE);
	else if (strcmp(cmd, "online") == 0)
		account_set_forced_offline(fs->account, FALSE);
	else
		return FALSE;
	ctl_ops_forget_snapshots(fs);
	g_message("ctl: %s", cmd);
	return TRUE;
}

void
ctl_ops_write(fuse_req_t req, Node n, const char *buf, size_t size,
              struct fuse_file_info *fi)
{
	g_autofree char *text = g_strndup(buf, MIN(size, 256));

	if (n.id != INO_CTL_CTL) {
		fuse_reply_err(req, EACCES);
		return;
	}
	g_strstrip(text);
	if (!ctl_ops_command(node_fs(req), text)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_write(req, size);
}

void
ctl_ops_release(fuse_req_t req, struct fuse_file_info *fi)
{
	node_handle_release(node_fs(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void
ctl_ops_setattr(fuse_req_t req, Node n, struct stat *attr, int to_set)
{
	/* `echo refresh > ctl` truncates first: nothing to truncate. */
	if (n.id == INO_CTL_CTL && !(to_set & ~(FUSE_SET_ATTR_SIZE |
	                                        FUSE_SET_ATTR_MTIME |
	                                        FUSE_SET_ATTR_MTIME_NOW |
	                                        FUSE_SET_ATTR_CTIME))) {
		ctl_ops_getattr(req, n);
		return;
	}
	fuse_reply_err(req, EACCES);
}
