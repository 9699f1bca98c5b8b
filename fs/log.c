/* log.c - a GLib log writer for the mailfs daemon. */
#include "fs/log.h"

#include <stdio.h>
#include <syslog.h>

static gboolean log_syslog;
static gboolean log_debug;
static gboolean log_muted;

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
static char *log_ident;

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

static GLogWriterOutput
log_writer_cb(GLogLevelFlags level, const GLogField *fields, gsize n,
              gpointer ud)
{
	const char *msg = NULL;
	int prio = log_priority(level);

	if ((prio == LOG_DEBUG && !log_debug) || (log_muted && prio != LOG_ERR))
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n; i++)
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			msg = fields[i].value;
	if (!msg)
		return G_LOG_WRITER_UNHANDLED;
	log_remember(prio, msg);
	if (log_syslog)
		syslog(prio, "%s", msg);
	else
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	return G_LOG_WRITER_HANDLED;
}

void
log_setup(const char *ident, gboolean to_syslog, gboolean debug)
{
	g_free(log_ident);
	log_ident = g_strdup(ident);
	log_syslog = to_syslog;
	log_debug = debug;
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
