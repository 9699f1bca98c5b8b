/* config.h - the account configuration file.
 *
 * GLib key-file syntax, one group "[account NAME]" per account, and above
 * them at most one line `default = NAME`.  A value may end in a comment:
 * whitespace then '#' then anything (not for the literal `password` key,
 * which is taken whole).  Unknown keys, missing required keys and
 * malformed values are MF_ERROR_CONFIG errors whose message names the
 * file, the group and the key: "FILE: [account work] imap: unknown
 * scheme"; an unknown key close to a known one adds "(did you mean
 * KEY?)".  A line that is not a group, a key = value pair or a comment,
 * and a group given twice, are MF_ERROR_CONFIG "FILE:LINE: ...".
 */
#ifndef MAILFS_CONFIG_H
#define MAILFS_CONFIG_H

#include <glib.h>
#include "fs/config_oauth2.h"
#include "net/url.h"

typedef struct {
	char *name;             /* NAME of "[account NAME]" */
	char *file;             /* the file it was read from */
	MfUrl imap;             /* set when has_imap */
	gboolean has_imap;
	MfUrl pop3;             /* set when has_pop3 (exactly one of the two) */
	gboolean has_pop3;
	MfUrl smtp;             /* set when has_smtp */
	gboolean has_smtp;
	char *user;             /* required */
	char *password;         /* literal; only from a private file; or NULL */
	char *password_command; /* run with /bin/sh -c; or NULL (neither of
	                         * the two with an OAuth2 token source) */
	char *from;             /* or NULL */
	char *ca_file;          /* "~/" expanded; or NULL */
	char *tls_fingerprint;  /* "sha256:<64 hex, colons allowed>"; or NULL */
	char *cache_dir;        /* absolute, "~/" expanded; default
	                         * $XDG_CACHE_HOME/mailfs/NAME */
	guint timeout;          /* seconds, connect and command; default 30,
	                         * 1..3600 */
	guint max_connections;  /* per account, default 4, 1..16 */
	guint refresh_interval; /* seconds a listing stays fresh; default 5 */
	guint64 cache_max;      /* bytes of cached bodies kept; 0: no limit */
	guint64 message_max;    /* largest message accepted; default 1G */
	gboolean save_sent;     /* copy sent mail to \Sent; default yes */
	gboolean leave_on_server; /* POP3: keep mail on the server; yes */
	guint poll_interval;    /* seconds between checks for new mail; 60 */
	gboolean delete_expunge; /* delete = expunge (default: trash) */
	gboolean read_only;     /* a read-only mount, faster; default no */
	gboolean is_default;    /* default = yes: used when none is named */
	char *mount_point;      /* `mailfs mount` without MOUNTPOINT mounts
	                         * here; "~/" expanded; default ~/mailfs/NAME */
	char **sync_folders;    /* `mailfs sync` without FOLDERs: these
	                         * patterns; NULL: every folder */
	guint64 max_message_size; /* sync skips larger messages; 0: no limit */
	guint max_age;          /* sync skips messages older than this many
	                         * days; 0: no limit */
	char *log_file;         /* the mount also logs here; or NULL */
	int log_level;          /* syslog priority of the least important
	                         * lines logged: LOG_ERR, LOG_WARNING,
	                         * LOG_INFO (default) or LOG_DEBUG */
	char *sent_folder;      /* copies of sent mail go to this folder
	                         * (display path); NULL: the \Sent one */
	MfOAuth2Config oauth2;  /* auth and the oauth2_* keys */
	/* Hidden test knobs (config_test_keys[], not documented): */
	guint test_outbox_retry_ms; /* the outbox's first retry after this
	                             * many ms, doubling; 0: 5 s */
	guint test_reconnect_ms;    /* offline, the first reconnect after
	                             * this many ms, doubling; 0: 2 s */
} MfAccountConfig;

/* $XDG_CONFIG_HOME/mailfs/config or ~/.config/mailfs/config; owned. */
char *config_default_path(void);

/* Reads PATH and returns the account NAME; when NAME is NULL, the only
 * account, or the default one (`default = NAME` above the groups, or the
 * account with `default = yes`).  Every group in the file is validated,
 * not only the one returned.  MF_ERROR_NOTFOUND, a usage error, when NAME
 * is no account of the file, or is NULL and the file has several but no
 * default (the message lists them).  A file that
 * holds a `password` key must be owned by the user and not readable by
 * group or others; one that holds `password_command` must be owned by the
 * user (or root) and not writable by group or others.  Returns NULL with
 * ERR (MF_ERROR_CONFIG) on failure. */
MfAccountConfig *config_load_account(const char *path, const char *name,
                                     GError **err);

/* Every account of PATH, in the order of the file (checked as above): a
 * new array of MfAccountConfig* (free func set), or NULL with ERR. */
GPtrArray *config_load_all(const char *path, GError **err);

/* The password: the literal one, which moves out of CFG (so that one copy
 * is left, and the next call fails), or the first line of
 * password_command's output (its exit status must be 0; it gets TIMEOUT
 * seconds).  What the
 * command prints is read until the command (the shell) ends, not until
 * the pipe closes: a background child that keeps stdout open does not
 * make it wait.  The caller wipes and frees it with
 * config_password_free().  MF_ERROR_CONFIG when neither is set or the
 * command fails. */
char *config_take_password(MfAccountConfig *cfg, GError **err);
void config_password_free(char *password);

void config_account_free(MfAccountConfig *cfg); /* accepts NULL */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MfAccountConfig, config_account_free)

#endif
