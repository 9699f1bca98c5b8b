/* fuzz_msg_name.c - libFuzzer target for fs/node_name: the names the mount
 * gives messages, "<uid>.<gen>.eml" and "<uid>-<key>.eml".  The input, up
 * to its first NUL, is a name looked up in a folder: one that parses as
 * "<uid>.<gen>.eml" is exactly what node_name_format() writes for its UID
 * and generation, and starts with that UID; the input is also a key, and
 * its name is safe to type, bounded, read back to its UID and never taken
 * for a generation name; any UID and generation read from the input's
 * bytes format to a name that parses back to them. */
#include <string.h>

#include "fs/node_name.h"

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Every byte of NAME is one a shell types as it is. */
static void
check_safe(const char *name)
{
	for (const char *p = name; *p; p++)
		g_assert(g_ascii_isalnum(*p) || strchr("._-", *p));
}

static void
check_parse(const char *s)
{
	guint32 uid = 7;
	gint64 gen = 9;
	char buf[NODE_NAME_MAX];

	if (!node_parse_msg_name(s, &uid, &gen)) {
		g_assert(uid == 7 && gen == 9);
		return;
	}
	g_assert(uid >= 1 && gen >= 1 && gen <= G_MAXINT32);
	g_assert(strcmp(node_name_format(uid, gen, NULL, buf), s) == 0);
	g_assert(node_name_uid(s) == uid);
}

static void
check_key(guint32 uid, const char *key)
{
	char buf[NODE_NAME_MAX];
	guint32 u;
	gint64 g;

	const char *name = node_name_format(uid, 1, key, buf);
	g_assert(name == buf && strlen(name) < NODE_NAME_MAX);
	g_assert(g_str_has_suffix(name, ".eml"));
	check_safe(name);
	g_assert(node_name_uid(name) == uid);
	g_assert(!node_parse_msg_name(name, &u, &g));
}

static void
check_round_trip(guint32 uid, gint64 gen)
{
	char buf[NODE_NAME_MAX];
	guint32 u = 0;
	gint64 g = 0;

	node_name_format(uid, gen, NULL, buf);
	check_safe(buf);
	g_assert(node_parse_msg_name(buf, &u, &g));
	g_assert(u == uid && g == gen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autofree char *s = g_strndup((const char *)data, len);
	guint32 uid = 1;
	gint64 gen = 1;

	check_parse(s);
	if (len >= 4)
		memcpy(&uid, data, 4);
	if (len >= 8) {
		guint32 g32;
		memcpy(&g32, data + 4, 4);
		gen = (gint64)(g32 & 0x7fffffff);
	}
	check_key(uid ? uid : 1, s);
	check_round_trip(uid ? uid : 1, gen ? gen : 1);
	return 0;
}
