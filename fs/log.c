/* log.c - a GLib log writer for the mailfs daemon. */
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "net/mf_error.h"

static gboolean log_syslog;
static gboolean log_debug;
static gboolean log_muted;
static char *log_ident;
/* stderr is a stream of the journal: lines carry their priority. */
static gboolean log_journal;
/* The least important priority written to stderr, syslog and the file. */
static int log_level = LOG_INFO;
static int log_file_fd = -1;

/* The recent lines, for .mailfs/log. */
#define LOG_RECENT_MAX 200
static GMutex log_lock;
static GQueue log_lines = G_QUEUE_INIT;

static void
log_remember(int prio, const char *msg)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
	};
	GDateTime *now = g_date_time_new_now_local();
	g_autofree char *when = g_date_time_format(now, "%F %T");

	g_date_time_unref(now);
	g_mutex_lock(&log_lock);
	g_queue_push_tail(&log_lines, g_strdup_printf("%s %s: %s", when,
	                                              names[prio], msg));
	while (log_lines.length > LOG_RECENT_MAX)
		g_free(g_queue_pop_head(&log_lines));
	g_mutex_unlock(&log_lock);
}

char *
log_recent(void)
{
	GString *s = g_string_new(NULL);

	g_mutex_lock(&log_lock);
	for (GList *l = log_lines.head; l; l = l->next)
		g_string_append_printf(s, "%s\n", (const char *)l->data);
	g_mutex_unlock(&log_lock);
	return g_string_free(s, FALSE);
}

static int
log_priority(GLogLevelFlags level)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		return LOG_ERR;
	if (level & G_LOG_LEVEL_WARNING)
		return LOG_WARNING;
	if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
		return LOG_INFO;
	return LOG_DEBUG;
}

const char *
log_stderr_prefix(int prio)
{
	static const char *const prefixes[] = {
		"<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>",
	};

	if (!log_journal || prio < 0 || prio > LOG_DEBUG)
		return "";
	return prefixes[prio];
}

/* Appends "TIME LEVEL: MSG" to the log file, in one write. */
static void
log_to_file(int prio, const char *msg)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
	};
	GDateTime *now = g_date_time_new_now_local();
	g_autofree char *when = g_date_time_format(now, "%F %T");

	g_date_time_unref(now);
	g_autofree char *line = g_strdup_printf("%s %s: %s\n", when,
	                                        names[prio] ? names[prio]
	                                                    : "info", msg);
	/* O_APPEND: each line lands whole, whoever else writes there. */
	if (write(log_file_fd, line, strlen(line)) < 0)
		return; /* nowhere left to say so */
}

/* Writes MSG to syslog or stderr, and to the log file. */
static void
log_emit(int prio, const char *msg)
{
	if (prio > log_level)
		return;
	if (log_file_fd >= 0)
		log_to_file(prio, msg);
	if (log_syslog)
		syslog(prio, "%s", msg);
	else
		fprintf(stderr, "%s%s: %s\n", log_stderr_prefix(prio),
		        log_ident, msg);
}

static void
log_append_hex(GString *s, const char *bytes, gsize n)
{
	for (gsize i = 0; i < n; i++)
		g_string_append_printf(s, "\\x%02x", (guchar)bytes[i]);
}

char *
log_safe_text(const char *text, gboolean keep_newlines)
{
	gsize len = strlen(text);
	GString *s = g_string_sized_new(len);

	for (const char *p = text, *end = text + len; p < end;) {
		guchar c = (guchar)*p;
		if (c < 0x80) {
			gboolean ctl = (c < 0x20 && !(keep_newlines && c == '\n')) ||
			               c == 0x7f;
			if (ctl)
				log_append_hex(s, p, 1);
			else
				g_string_append_c(s, (char)c);
			p++;
			continue;
		}
		gunichar u = g_utf8_get_char_validated(p, end - p);
		if (u == (gunichar)-1 || u == (gunichar)-2) {
			log_append_hex(s, p, 1); /* not UTF-8: that byte */
			p++;
			continue;
		}
		gsize n = (gsize)(g_utf8_next_char(p) - p);
		if (u >= 0x80 && u <= 0x9f)
			log_append_hex(s, p, n);
		else
			g_string_append_len(s, p, (gssize)n);
		p += n;
	}
	return g_string_free(s, FALSE);
}

static GLogWriterOutput
log_writer_cb(GLogLevelFlags level, const GLogField *fields, gsize n,
              gpointer ud)
{
	const char *msg = NULL;
	int prio = log_priority(level);

	if ((prio == LOG_DEBUG && !log_debug && log_level < LOG_DEBUG) ||
	    (log_muted && prio != LOG_ERR))
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n; i++)
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			msg = fields[i].value;
	if (!msg)
		return G_LOG_WRITER_UNHANDLED;
	/* Messages carry what servers said: cleaned once, for every sink. */
	g_autofree char *safe = log_safe_text(msg, FALSE);
	if (prio < LOG_DEBUG || log_debug)
		log_remember(prio, safe);
	log_emit(prio, safe);
	return G_LOG_WRITER_HANDLED;
}

/* ---- protocol trace ---- */

static const char *const log_verbs_all[] = { "LOGIN", "PASS", "APOP", NULL };
static const char *const log_verbs_mech[] = { "AUTHENTICATE", "AUTH", NULL };

static gboolean
log_is_one_of(const char *word, const char *const *list)
{
	for (; *list; list++)
		if (g_ascii_strcasecmp(word, *list) == 0)
			return TRUE;
	return FALSE;
}

/* TRUE if LINE is one word of base64 (a SASL response), other than a
 * command word such as QUIT, DATA, NOOP or DONE. */
static gboolean
log_is_sasl_response(const char *line)
{
	gboolean upper_only = TRUE;
	size_t n = 0;

	for (; line[n]; n++) {
		if (!g_ascii_isalnum(line[n]) && !strchr("+/=", line[n]))
			return FALSE;
		if (!g_ascii_isupper(line[n]))
			upper_only = FALSE;
	}
	return n >= 4 && !(upper_only && n <= 8);
}

/* How many bytes of LINE to keep before "[redacted]", or -1 to keep it
 * whole. */
static gssize
log_redact_at(const char *dir, const char *line)
{
	g_auto(GStrv) w = g_strsplit(line, " ", 4);
	guint n = g_strv_length(w);

	for (guint v = 0; v < 2 && v < n; v++) {
		gboolean all = log_is_one_of(w[v], log_verbs_all);
		gboolean mech = log_is_one_of(w[v], log_verbs_mech);
		guint keep = v + (mech ? 2 : 1); /* words kept */
		if ((!all && !mech) || n <= keep)
			continue;
		gssize at = 0;
		for (guint i = 0; i < keep; i++)
			at += (gssize)strlen(w[i]) + 1;
		return at;
	}
	if (strcmp(dir, "C") == 0 && log_is_sasl_response(line))
		return 0;
	return -1;
}

char *
log_redact_line(const char *dir, const char *line)
{
	gssize at = log_redact_at(dir, line);
	size_t len = strlen(line);
	size_t keep = at >= 0 ? (size_t)at : MIN(len, LOG_TRACE_MAX);
	g_autofree char *cut = g_strndup(line, keep);
	g_autofree char *safe = log_safe_text(cut, FALSE);
	GString *s = g_string_new(safe);

	if (at >= 0)
		g_string_append(s, "[redacted]");
	else if (keep < len)
		g_string_append_printf(s, "... (%zu bytes)", len);
	return g_string_free(s, FALSE);
}

void
log_trace_cb(const char *dir, const char *line, void *ud)
{
	if (!log_debug)
		return;
	g_autofree char *safe = log_redact_line(dir, line);
	g_autofree char *msg = g_strdup_printf("%s%s%s: %s",
	                                       ud ? (const char *)ud : "",
	                                       ud ? " " : "", dir, safe);
	log_emit(LOG_DEBUG, msg);
}

/* TRUE when stderr is the stream $JOURNAL_STREAM ("DEVICE:INODE") names:
 * systemd connected it to the journal (systemd.exec(5)). */
static gboolean
log_stderr_is_journal(void)
{
	const char *js = g_getenv("JOURNAL_STREAM");
	unsigned long long dev = 0, ino = 0;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return FALSE;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_setup(const char *ident, gboolean to_syslog, gboolean debug)
{
	g_free(log_ident);
	log_ident = g_strdup(ident);
	log_syslog = to_syslog;
	log_debug = debug;
	log_journal = !to_syslog && log_stderr_is_journal();
	if (debug)
		log_level = LOG_DEBUG;
	static gsize installed;

	if (to_syslog)
		openlog(log_ident, LOG_PID, LOG_MAIL);
	/* GLib accepts a writer once per process; later calls only switch
	 * where it writes. */
	if (g_once_init_enter(&installed)) {
		g_log_set_writer_func(log_writer_cb, NULL, NULL);
		g_once_init_leave(&installed, 1);
	}
}

void
log_mute(gboolean mute)
{
	log_muted = mute;
}

gboolean
log_configure(int level, const char *file, GError **err)
{
	if (level >= LOG_ERR && level <= LOG_DEBUG && !log_debug)
		log_level = level;
	if (!file)
		return TRUE;
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	              O_NOCTTY, 0600);
	if (fd < 0) {
		int e = errno;
		mf_error_config(err, "log_file %s: cannot open: %s", file,
		                g_strerror(e));
		return FALSE;
	}
	if (log_file_fd >= 0)
		close(log_file_fd);
	log_file_fd = fd;
	return TRUE;
}
