/* log.h - where log lines go: stderr in the foreground, syslog when
 * daemonized.  Debug lines only with --debug. */
#ifndef MAILFS_LOG_H
#define MAILFS_LOG_H

#include <glib.h>

void log_setup(const char *ident, gboolean to_syslog, gboolean debug);

/* The last lines logged (at most 200), one per line, oldest first;
 * owned by the caller. */
char *log_recent(void);

/* While muted only errors are written: for steps whose outcome the
 * caller reports itself. */
void log_mute(gboolean mute);

#endif
