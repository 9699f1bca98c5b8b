/* outbox_send.c - sends one spooled message over a kept SMTP session and
 * saves the copy in Sent. */
#include "cache/outbox_send.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/outbox_msg.h"
#include "net/mf_error.h"
#include "net/smtp_client.h"

/* Larger outbox files are refused rather than read into memory. */
#define OUTBOX_MESSAGE_MAX (64u << 20)

struct OutboxSender {
	const MfOutboxParams *p; /* owned by the MfOutbox */
	MfAccount *account;
	GMutex lock;           /* guards smtp against outbox_sender_interrupt */
	MfSmtpClient *smtp;
	gboolean stopping;
};

OutboxSender *
outbox_sender_new(const MfOutboxParams *p, MfAccount *account)
{
	OutboxSender *s = g_new0(OutboxSender, 1);
	g_mutex_init(&s->lock);
	s->p = p;
	s->account = account;
	return s;
}

void
outbox_sender_idle(OutboxSender *s)
{
	g_mutex_lock(&s->lock);
	MfSmtpClient *c = g_steal_pointer(&s->smtp);
	g_mutex_unlock(&s->lock);
	smtp_client_free(c);
}

void
outbox_sender_interrupt(OutboxSender *s)
{
	g_mutex_lock(&s->lock);
	s->stopping = TRUE;
	if (s->smtp)
		smtp_client_interrupt(s->smtp);
	g_mutex_unlock(&s->lock);
}

void
outbox_sender_free(OutboxSender *s)
{
	if (!s)
		return;
	outbox_sender_idle(s);
	g_mutex_clear(&s->lock);
	g_free(s);
}

gboolean
outbox_sender_connected(const OutboxSender *s)
{
	return s->smtp != NULL;
}

/* One login: the parameters, and the client once it is in. */
typedef struct {
	MfSmtpClientParams sp;
	MfSmtpClient *c;
} SmtpLogin;

static gboolean
outbox_sender_login_cb(const char *token, void *ud, GError **err)
{
	SmtpLogin *l = ud;

	l->sp.secret = token;
	l->c = smtp_client_connect(&l->sp, err);
	l->sp.secret = NULL;
	return l->c != NULL;
}

/* A new session, logged in with the password or an access token. */
static MfSmtpClient *
outbox_sender_session(OutboxSender *s, GError **err)
{
	const MfServerParams *srv = &s->p->smtp;
	SmtpLogin l = { .sp = {
		.server = srv,
		/* Borrowed from the account when the outbox has none of
		 * its own: the daemon keeps one copy. */
		.secret = srv->password || !s->account
		          ? srv->password : account_password(s->account),
	} };

	if (!s->p->tokens || !srv->user)
		return smtp_client_connect(&l.sp, err);
	if (!tokens_use(s->p->tokens, outbox_sender_login_cb, &l, err))
		return NULL;
	return l.c;
}

static gboolean
outbox_sender_connect(OutboxSender *s, GError **err)
{
	if (s->smtp && smtp_client_state(s->smtp) == SMTP_STATE_READY)
		return TRUE;
	outbox_sender_idle(s);
	MfSmtpClient *c = outbox_sender_session(s, err);
	g_mutex_lock(&s->lock);
	s->smtp = c;
	if (c && s->stopping)
		smtp_client_interrupt(c);
	g_mutex_unlock(&s->lock);
	return c != NULL;
}

/* Reads the whole spooled file (bounded). */
static GBytes *
outbox_sender_read(const char *path, GError **err)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	struct stat st;

	if (stat(path, &st) == 0 && (guint64)st.st_size > OUTBOX_MESSAGE_MAX) {
		g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
		            "message is larger than %u MiB",
		            OUTBOX_MESSAGE_MAX >> 20);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &len, err)) {
		g_prefix_error(err, "cannot read the outbox file: ");
		if (*err) {
			(*err)->domain = MF_ERROR;
			(*err)->code = MF_ERROR_LOCAL;
		}
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&data), len);
}

/* Writes DATA to PATH durably and returns an fd open for reading. */
static int
outbox_sender_write_sent(const char *path, GBytes *data, GError **err)
{
	gsize len;
	const char *p = g_bytes_get_data(data, &len);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		goto fail;
	for (gsize off = 0; off < len;) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (gsize)n;
	}
	if (fsync(fd) == 0)
		return fd;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "cannot write %s: %s", path,
	            g_strerror(e));
	return -1;
}

static OutboxOutcome
outbox_sender_outcome(GError *err, char **error)
{
	*error = g_strdup(err->message);
	if (err->domain == MF_ERROR && err->code == MF_ERROR_MESSAGE)
		return OUTBOX_REFUSED;
	return OUTBOX_RETRY;
}

/* The log's account of M, sent with the server's REPLY; owned. */
static char *
outbox_sender_report(const OutboxMsg *m, const char *reply)
{
	GString *r = g_string_new(NULL);
	gsize size = 0;

	g_bytes_get_data(m->data, &size);
	g_string_append_printf(r, "from=<%s> recipients=", m->sender);
	for (guint i = 0; i < m->rcpts->len; i++)
		g_string_append_printf(r, "%s<%s>", i ? "," : "",
		                       (const char *)m->rcpts->pdata[i]);
	g_string_append_printf(r, " size=%" G_GSIZE_FORMAT " reply=%s", size,
	                       reply && *reply ? reply : "(none)");
	return g_string_free(r, FALSE);
}

static OutboxOutcome
outbox_sender_transmit(OutboxSender *s, OutboxMsg *m, int fd,
                       const OutboxMarks *marks, char **report,
                       char **error)
{
	g_autofree char *reply = NULL;
	g_autoptr(GError) err = NULL;
	SmtpEnvelope env = {
		.from = m->sender,
		.rcpts = (const char *const *)m->rcpts->pdata,
		.n_rcpts = m->rcpts->len,
		.flags = (m->needs_8bit ? SMTP_BODY_8BIT : 0) |
		         (m->needs_utf8 ? SMTP_BODY_UTF8 : 0),
	};

	if (!outbox_sender_connect(s, &err))
		return outbox_sender_outcome(err, error);
	if (!smtp_client_send_fd_before_dot(s->smtp, &env, fd, marks->awaiting,
	                                    marks->ud, &reply, &err)) {
		gboolean unknown = smtp_client_outcome_unknown(s->smtp);
		gboolean permanent = smtp_client_error_is_permanent(err);
		if (smtp_client_state(s->smtp) == SMTP_STATE_BROKEN)
			outbox_sender_idle(s);
		/* Sending again might deliver it twice: the user decides. */
		if (unknown) {
			*error = g_strdup_printf("%s; to send it again anyway, "
			                         "move it back into outbox/",
			                         err->message);
			return OUTBOX_REFUSED;
		}
		*error = g_strdup(err->message);
		return permanent ? OUTBOX_REFUSED : OUTBOX_RETRY;
	}
	if (!marks->sent(marks->ud))
		g_warning("outbox: message sent but its state not saved");
	*report = outbox_sender_report(m, reply);
	return OUTBOX_ACCEPTED;
}

OutboxOutcome
outbox_sender_send(OutboxSender *s, const char *spool, const char *sent_path,
                   const OutboxMarks *marks, char **report, char **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) raw = outbox_sender_read(spool, &err);

	if (!raw)
		return outbox_sender_outcome(err, error);
	gsize len;
	const char *bytes = g_bytes_get_data(raw, &len);
	OutboxMsg *m = outbox_msg_prepare(bytes, len, s->p->from,
	                                  g_get_host_name(), &err);
	if (!m)
		return outbox_sender_outcome(err, error);
	int fd = outbox_sender_write_sent(sent_path, m->data, &err);
	OutboxOutcome r = fd < 0 ? outbox_sender_outcome(err, error)
	                         : outbox_sender_transmit(s, m, fd, marks,
	                                                  report, error);
	if (fd >= 0)
		close(fd);
	outbox_msg_free(m);
	return r;
}

OutboxOutcome
outbox_sender_copy(OutboxSender *s, const char *sent_path, const char *folder,
                   char **used, char **error)
{
	g_autoptr(GError) err = NULL;
	struct stat st;
	int fd = open(sent_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		/* Nothing left to copy: do not keep retrying. */
		if (fd >= 0)
			close(fd);
		return OUTBOX_DONE;
	}
	gboolean ok = account_append_special(s->account, MF_FOLDER_SENT,
	                                     folder, "\\Seen",
	                                     g_get_real_time() / G_USEC_PER_SEC,
	                                     fd, (guint64)st.st_size, used,
	                                     &err);
	close(fd);
	if (ok)
		return OUTBOX_DONE;
	*error = g_strdup(err->message);
	return OUTBOX_RETRY;
}
