/* config_int.h - what config.c and config_keys.c share; not for elsewhere. */
#ifndef MAILFS_CONFIG_INT_H
#define MAILFS_CONFIG_INT_H

#include <sys/types.h>

#include "fs/config.h"
#include "net/mf_error.h" /* mf_error_config() */

/* What the key parsers need to know about the file being read. */
typedef struct {
	const char *path;
	gboolean is_private; /* ours, no group/other permission bits */
	/* Nobody else can change it: ours (or root's), and not writable by
	 * group or others.  A file that is not can make us run commands or
	 * send the password to another server. */
	gboolean is_trusted;
	uid_t owner;
	mode_t mode;
} ConfigFile;

/* Checks VALUE (comment stripped and trimmed, unless the key is raw) and
 * stores it in CFG; on failure sets ERR to a message without the file,
 * group or key, which the caller adds. */
typedef gboolean (*ConfigKeyFn)(const ConfigFile *f, MfAccountConfig *cfg,
                                const char *value, GError **err);

typedef struct {
	const char *name;
	gboolean raw; /* taken exactly as GKeyFile gives it */
	ConfigKeyFn parse;
} ConfigKey;

/* The known key NAME, or NULL (config_keys.c). */
const ConfigKey *config_find_key(const char *name);

/* The known key closest to the unknown NAME, when it is close enough to
 * be a typo of it (a few letters off), or NULL (config_keys.c). */
const char *config_nearest_key(const char *name);

/* What the lines of a file say before GLib reads it (config_syntax.c). */
typedef struct {
	const char *path;     /* for messages */
	char *default_name;   /* `default = NAME` above the groups, or NULL */
	guint default_line;
	GHashTable *groups;   /* group name -> its line number */
} ConfigFileSyntax;

/* Checks the LEN bytes of DATA line by line as GLib's key-file parser
 * will read them, and fails with "PATH:LINE: ..." on a line it would
 * refuse, a key above the first group other than `default`, and a group
 * given twice.  The `default` line is kept in S and blanked out of DATA,
 * so that GLib sees groups only.  Clear S with config_syntax_clear(). */
gboolean config_syntax_check(ConfigFileSyntax *s, char *data, gsize len,
                             GError **err);
/* The line GROUP begins on, or 0. */
guint config_syntax_group_line(const ConfigFileSyntax *s, const char *group);
void config_syntax_clear(ConfigFileSyntax *s);

/* TRUE when S holds an ASCII control character other than tab
 * (config_keys.c). */
gboolean config_has_control(const char *s);

/* PATH with a leading "~" or "~/" replaced by the home directory; owned
 * (config.c). */
char *config_expand_home(const char *path);

/* $VAR when it is set and absolute, else ~/FALLBACK; owned (config.c). */
char *config_xdg_dir(const char *var, const char *fallback);

/* FALSE, with ERR saying why and how to fix it, unless nobody else can
 * change F (config_keys.c): for keys that run commands or say where
 * secrets go. */
gboolean config_require_trusted(const ConfigFile *f, GError **err);

/* The parsers of the OAuth2 keys (config_oauth2.c), in the table of
 * config_keys.c. */
gboolean config_key_auth(const ConfigFile *f, MfAccountConfig *cfg,
                         const char *value, GError **err);
gboolean config_key_provider(const ConfigFile *f, MfAccountConfig *cfg,
                             const char *value, GError **err);
gboolean config_key_issuer(const ConfigFile *f, MfAccountConfig *cfg,
                           const char *value, GError **err);
gboolean config_key_token_url(const ConfigFile *f, MfAccountConfig *cfg,
                              const char *value, GError **err);
gboolean config_key_device_url(const ConfigFile *f, MfAccountConfig *cfg,
                               const char *value, GError **err);
gboolean config_key_client_id(const ConfigFile *f, MfAccountConfig *cfg,
                              const char *value, GError **err);
gboolean config_key_scope(const ConfigFile *f, MfAccountConfig *cfg,
                          const char *value, GError **err);
gboolean config_key_token_command(const ConfigFile *f, MfAccountConfig *cfg,
                                  const char *value, GError **err);
gboolean config_key_secret_command(const ConfigFile *f, MfAccountConfig *cfg,
                                   const char *value, GError **err);
gboolean config_key_refresh_command(const ConfigFile *f,
                                    MfAccountConfig *cfg, const char *value,
                                    GError **err);
/* TRUE when CFG has an OAuth2 token source. */
gboolean config_oauth2_has_tokens(const MfAccountConfig *cfg);
/* Checks the OAuth2 keys together; the message starts with the key. */
gboolean config_oauth2_check(const MfAccountConfig *cfg, GError **err);
/* Fills in the presets and defaults. */
void config_oauth2_defaults(MfAccountConfig *cfg);
void config_oauth2_clear(MfOAuth2Config *o);

#endif
