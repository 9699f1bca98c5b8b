/* log.h - where log lines go: stderr in the foreground, syslog when
 * daemonized.  Debug lines only with --debug. */
#ifndef MAILFS_LOG_H
#define MAILFS_LOG_H

#include <glib.h>

/* Where lines go from now on: syslog (facility mail) when TO_SYSLOG, else
 * stderr as "IDENT: text", with the priority in front ("<4>", as
 * sd-daemon(3) describes) when stderr is the journal's stream
 * ($JOURNAL_STREAM).  DEBUG writes debug lines too.  May be called again
 * (once daemonized); the level and file of log_configure() stay. */
void log_setup(const char *ident, gboolean to_syslog, gboolean debug);

/* Writes only lines of syslog priority LEVEL (LOG_ERR .. LOG_DEBUG) or
 * more important to stderr, syslog and FILE (--debug overrides it), and
 * when FILE is not NULL also appends every such line to FILE ("TIME
 * LEVEL: text"), created 0600.  .mailfs/log keeps info lines whatever
 * the level.  MF_ERROR_CONFIG when FILE cannot be opened. */
gboolean log_configure(int level, const char *file, GError **err);

/* "<N>" for syslog priority PRIO when stderr is the journal's stream
 * (set by log_setup), else "": for lines written to stderr directly. */
const char *log_stderr_prefix(int prio);

/* The last lines logged (at most 200), one per line, oldest first;
 * owned by the caller. */
char *log_recent(void);

/* A protocol trace hook for the net layer (ConnTraceFn): DIR is "C" for a
 * line mailfs sends, "S" for one the server sends; LINE is one line
 * without its CRLF; UD is a label such as "imap imaps://host:993", or
 * NULL.  Written only with --debug, never kept for .mailfs/log, and always
 * passed through log_redact_line() first (a second guard: the clients
 * also mark the lines that carry credentials). */
void log_trace_cb(const char *dir, const char *line, void *ud);

/* Pure: TEXT made safe to print on a terminal or keep for printing: each
 * byte of a control character (C0, DEL, and the C1 controls U+0080 to
 * U+009F, which terminals obey as escapes too) and each byte that is not
 * part of valid UTF-8 becomes "\xHH"; with KEEP_NEWLINES, '\n' stays.
 * Owned by the caller.  Everything that may hold what a server said goes
 * through this before it is printed or kept for printing: the log (all
 * its sinks: stderr, syslog, .mailfs/log), error lines on stderr, status
 * texts (.mailfs/status, `mailfs status`). */
char *log_safe_text(const char *text, gboolean keep_newlines);

/* Pure: LINE (sent in direction DIR, as above) made safe for a log:
 * credentials replaced by "[redacted]", cut after LOG_TRACE_MAX bytes, and
 * passed through log_safe_text(); owned by the caller.  Redacted are what
 * follows the verbs LOGIN, PASS and APOP, what follows the mechanism of
 * AUTHENTICATE and AUTH (after an optional IMAP tag), and any line sent
 * that is a single base64 word (a SASL response), except short all
 * capital words such as QUIT or DATA. */
#define LOG_TRACE_MAX 400
char *log_redact_line(const char *dir, const char *line);

/* While muted only errors are written: for steps whose outcome the
 * caller reports itself. */
void log_mute(gboolean mute);

#endif
