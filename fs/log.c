/* log.c - a GLib log writer for the mailfs daemon. */
#include "fs/log.h"

#include <stdio.h>
#include <syslog.h>

static gboolean log_syslog;
static gboolean log_debug;
static gboolean log_muted;
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
