/* config_syntax.c - the config file's lines, checked before GLib reads
 * them: syntax errors with their line number (GLib gives none), the
 * `default = NAME` line above the first group, and groups given twice
 * (GLib would merge them). */
#include "fs/config_int.h"

#include <string.h>

/* One line of the file being scanned. */
typedef struct {
	char *start;     /* first byte of the line in the buffer */
	gsize len;       /* without its '\n' */
	guint number;    /* 1-based */
} ConfigLine;

/* The line as a string, for messages; owned. */
static char *
config_syntax_text(const ConfigLine *l)
{
	g_autofree char *raw = g_strndup(l->start, MIN(l->len, 80));

	return g_strstrip(g_steal_pointer(&raw));
}

/* Whitespace as GLib skips it at the start of a line. */
static const char *
config_syntax_skip_space(const char *p, const char *end)
{
	while (p < end && g_ascii_isspace(*p))
		p++;
	return p;
}

/* TRUE when the text P..END is "[NAME]" followed by blanks only (what
 * GLib takes for a group line); *NAME is NAME (owned). */
static gboolean
config_syntax_group(const char *p, const char *end, char **name)
{
	const char *close = p + 1;

	while (close < end && *close != ']')
		close++;
	if (close == end)
		return FALSE;
	for (const char *q = close + 1; q < end; q++)
		if (*q != ' ' && *q != '\t')
			return FALSE;
	*name = g_strndup(p + 1, (gsize)(close - p - 1));
	return TRUE;
}

/* The value of a `KEY = VALUE` line from P (just after '='): blanks and a
 * trailing comment dropped; owned. */
static char *
config_syntax_value(const char *p, const char *end)
{
	g_autofree char *v = g_strndup(p, (gsize)(end - p));

	for (char *q = v; *q; q++) {
		if (*q == '#' && (q == v || g_ascii_isspace(q[-1]))) {
			*q = '\0';
			break;
		}
	}
	return g_strstrip(g_steal_pointer(&v));
}

/* Blanks the line L out (spaces keep the offsets of what follows). */
static void
config_syntax_blank(ConfigLine *l)
{
	memset(l->start, ' ', l->len);
}

/* A key line L above every group: only `default = NAME`. */
static gboolean
config_syntax_top_key(ConfigFileSyntax *s, ConfigLine *l, const char *eq,
                      const char *key_start, GError **err)
{
	const char *key_end = eq;

	while (key_end > key_start && g_ascii_isspace(key_end[-1]))
		key_end--;
	if ((gsize)(key_end - key_start) != strlen("default") ||
	    strncmp(key_start, "default", strlen("default")) != 0) {
		g_autofree char *key = g_strndup(key_start,
		                                 (gsize)(key_end - key_start));
		return mf_error_config(err, "%s:%u: %s: outside any group "
		                       "(keys go below [account NAME]; only "
		                       "default = NAME may come first)",
		                       s->path, l->number, key);
	}
	if (s->default_name)
		return mf_error_config(err, "%s:%u: default: given more than "
		                       "once (first at line %u)", s->path,
		                       l->number, s->default_line);
	s->default_name = config_syntax_value(eq + 1, l->start + l->len);
	s->default_line = l->number;
	if (*s->default_name == '\0')
		return mf_error_config(err, "%s:%u: default: empty value",
		                       s->path, l->number);
	config_syntax_blank(l);
	return TRUE;
}

/* A group line L naming NAME: never one seen before. */
static gboolean
config_syntax_new_group(ConfigFileSyntax *s, ConfigLine *l, const char *name,
                        GError **err)
{
	gpointer first = g_hash_table_lookup(s->groups, name);

	if (first)
		return mf_error_config(err, "%s:%u: [%s]: given twice (first "
		                       "at line %u); put the keys of an "
		                       "account in one group", s->path,
		                       l->number, name, GPOINTER_TO_UINT(first));
	g_hash_table_insert(s->groups, g_strdup(name),
	                    GUINT_TO_POINTER(l->number));
	return TRUE;
}

/* Checks one line L; *IN_GROUP says whether a group has begun. */
static gboolean
config_syntax_line(ConfigFileSyntax *s, ConfigLine *l, gboolean *in_group,
                   GError **err)
{
	const char *end = l->start + l->len;
	const char *p = config_syntax_skip_space(l->start, end);
	g_autofree char *name = NULL;

	if (p == end || *p == '#')
		return TRUE;
	if (*p == '[' && config_syntax_group(p, end, &name)) {
		*in_group = TRUE;
		return config_syntax_new_group(s, l, name, err);
	}
	const char *eq = memchr(p, '=', (gsize)(end - p));
	if (!eq) {
		g_autofree char *text = config_syntax_text(l);
		return mf_error_config(err, "%s:%u: '%s' is not a [group], a "
		                       "key = value line or a # comment",
		                       s->path, l->number, text);
	}
	if (eq == p)
		return mf_error_config(err, "%s:%u: a value without a key",
		                       s->path, l->number);
	if (!*in_group)
		return config_syntax_top_key(s, l, eq, p, err);
	return TRUE;
}

gboolean
config_syntax_check(ConfigFileSyntax *s, char *data, gsize len,
                    GError **err)
{
	gboolean in_group = FALSE;
	ConfigLine l = { data, 0, 0 };

	g_return_val_if_fail(s->groups == NULL, FALSE);
	s->groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (gsize off = 0; off < len; off += l.len + 1) {
		const char *nl = memchr(data + off, '\n', len - off);
		l.start = data + off;
		l.len = nl ? (gsize)(nl - (data + off)) : len - off;
		l.number++;
		if (!config_syntax_line(s, &l, &in_group, err))
			return FALSE;
	}
	return TRUE;
}

guint
config_syntax_group_line(const ConfigFileSyntax *s, const char *group)
{
	return s->groups ? GPOINTER_TO_UINT(g_hash_table_lookup(s->groups,
	                                                        group)) : 0;
}

void
config_syntax_clear(ConfigFileSyntax *s)
{
	g_clear_pointer(&s->groups, g_hash_table_unref);
	g_clear_pointer(&s->default_name, g_free);
	s->default_line = 0;
}
