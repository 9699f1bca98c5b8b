/* node_name.c - formatting and reading the names the mount gives messages
 * (see node_name.h). */
#include "fs/node_name.h"

#include <string.h>

const char *
node_name_format(guint32 uid, gint64 gen, const char *key,
                 char buf[NODE_NAME_MAX])
{
	char safe[65];
	size_t n = 0;

	if (!key) {
		g_snprintf(buf, NODE_NAME_MAX, "%u.%" G_GINT64_FORMAT ".eml", uid,
		           gen);
		return buf;
	}
	for (const char *p = key; *p && n < sizeof safe - 1; p++)
		safe[n++] = g_ascii_isalnum(*p) || *p == '.' || *p == '_' ||
		            *p == '-' ? *p : '_';
	safe[n] = '\0';
	g_snprintf(buf, NODE_NAME_MAX, "%u-%s.eml", uid, safe);
	return buf;
}

guint32
node_name_uid(const char *name)
{
	guint64 u = g_ascii_isdigit(name[0]) ? g_ascii_strtoull(name, NULL, 10)
	                                      : 0;

	return u <= G_MAXUINT32 ? (guint32)u : 0;
}

gboolean
node_parse_msg_name(const char *name, guint32 *uid, gint64 *gen)
{
	guint64 u = 0, g = 0;
	char *end = NULL;

	if (!g_ascii_isdigit(name[0]) || name[0] == '0')
		return FALSE;
	u = g_ascii_strtoull(name, &end, 10);
	if (u == 0 || u > G_MAXUINT32 || *end != '.' ||
	    !g_ascii_isdigit(end[1]) || end[1] == '0')
		return FALSE;
	g = g_ascii_strtoull(end + 1, &end, 10);
	if (g == 0 || g > G_MAXINT32 || strcmp(end, ".eml") != 0)
		return FALSE;
	*uid = (guint32)u;
	*gen = (gint64)g;
	return TRUE;
}
