/* tree.c - immutable folder tree snapshots built from the store's folder
 * rows, and the parents a server lists only implicitly. */
#include "cache/tree.h"

#include <string.h>

struct MfTree {
	gint ref;
	GPtrArray *folders;  /* MfFolder*, owned */
	GHashTable *by_id;   /* gint64* -> MfFolder* */
	GHashTable *by_path; /* path -> MfFolder* */
};

static void
tree_folder_free(MfFolder *f)
{
	g_free(f->name);
	g_free(f->path);
	g_free(f);
}

MfTree *
tree_ref(MfTree *t)
{
	g_atomic_int_inc(&t->ref);
	return t;
}

void
tree_unref(MfTree *t)
{
	if (!t || !g_atomic_int_dec_and_test(&t->ref))
		return;
	g_hash_table_unref(t->by_id);
	g_hash_table_unref(t->by_path);
	g_ptr_array_unref(t->folders);
	g_free(t);
}

MfTree *
tree_build(GPtrArray *rows)
{
	MfTree *t = g_new0(MfTree, 1);

	t->ref = 1;
	t->folders = g_ptr_array_new_with_free_func((GDestroyNotify)tree_folder_free);
	t->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
	t->by_path = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; rows && i < rows->len; i++) {
		const StoreFolder *r = rows->pdata[i];
		if (g_hash_table_contains(t->by_path, r->path))
			continue; /* two server names mapping to one path */
		MfFolder *f = g_new0(MfFolder, 1);
		f->id = r->id;
		f->name = g_strdup(r->name);
		f->path = g_strdup(r->path);
		const char *slash = strrchr(f->path, '/');
		f->leaf = slash ? slash + 1 : f->path;
		f->flags = r->flags;
		g_ptr_array_add(t->folders, f);
		g_hash_table_insert(t->by_id, &f->id, f);
		g_hash_table_insert(t->by_path, f->path, f);
	}
	/* Parents: rows come sorted by path, but look them up by name. */
	for (guint i = 0; i < t->folders->len; i++) {
		MfFolder *f = t->folders->pdata[i];
		if (f->leaf == f->path)
			continue;
		g_autofree char *pp = g_strndup(f->path, f->leaf - 1 - f->path);
		MfFolder *p = g_hash_table_lookup(t->by_path, pp);
		f->parent = p ? p->id : -1; /* -1: orphan, never listed */
	}
	return t;
}

const MfFolder *
tree_folder(const MfTree *t, gint64 id)
{
	return g_hash_table_lookup(t->by_id, &id);
}

const MfFolder *
tree_find(const MfTree *t, const char *path)
{
	return g_hash_table_lookup(t->by_path, path);
}

const MfFolder *
tree_child(const MfTree *t, gint64 parent, const char *name)
{
	const MfFolder *p = parent ? tree_folder(t, parent) : NULL;

	if (parent && !p)
		return NULL;
	g_autofree char *path = p ? g_strconcat(p->path, "/", name, NULL)
	                          : g_strdup(name);
	const MfFolder *f = g_hash_table_lookup(t->by_path, path);
	return f && f->parent == parent ? f : NULL;
}

GPtrArray *
tree_children(const MfTree *t, gint64 parent)
{
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; i < t->folders->len; i++) {
		const MfFolder *f = t->folders->pdata[i];
		if (f->parent == parent)
			g_ptr_array_add(out, (gpointer)f);
	}
	return out;
}

/* Adds a NOSELECT entry for every parent path that REMOTE implies but does
 * not list, so that every folder has a directory above it.  Such entries
 * get a name no server uses ("\x01" + path) so that they keep stable ids. */
void
tree_add_implicit_parents(GPtrArray *remote)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	guint n = remote->len;

	for (guint i = 0; i < n; i++)
		g_hash_table_add(seen, ((MfRemoteFolder *)remote->pdata[i])->path);
	for (guint i = 0; i < n; i++) {
		const char *path = ((MfRemoteFolder *)remote->pdata[i])->path;
		for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
			g_autofree char *pp = g_strndup(path, s - path);
			if (g_hash_table_contains(seen, pp))
				continue;
			MfRemoteFolder *f = g_new0(MfRemoteFolder, 1);
			f->name = g_strconcat("\x01", pp, NULL);
			f->path = g_steal_pointer(&pp);
			f->flags = MF_FOLDER_NOSELECT;
			g_ptr_array_add(remote, f);
			g_hash_table_add(seen, f->path);
		}
	}
}

/* TRUE if the top-level name NAME (LEN bytes) is one of mailfs's own
 * followed by zero or more '_'. */
static gboolean
tree_reserved_stem(const char *name, size_t len)
{
	static const char *const reserved[] = { TREE_RESERVED_NAMES };

	for (gsize i = 0; i < G_N_ELEMENTS(reserved); i++) {
		size_t n = strlen(reserved[i]);
		if (len < n || strncmp(name, reserved[i], n) != 0)
			continue;
		while (n < len && name[n] == '_')
			n++;
		if (n == len)
			return TRUE;
	}
	return FALSE;
}

void
tree_escape_reserved(GPtrArray *remote)
{
	for (guint i = 0; i < remote->len; i++) {
		MfRemoteFolder *f = remote->pdata[i];
		const char *slash = strchr(f->path, '/');
		size_t len = slash ? (size_t)(slash - f->path) : strlen(f->path);
		if (!tree_reserved_stem(f->path, len))
			continue;
		char *path = g_strdup_printf("%.*s_%s", (int)len, f->path,
		                             f->path + len);
		g_free(f->path);
		f->path = path;
	}
}

char *
tree_unescape_top(const char *leaf)
{
	size_t len = strlen(leaf);

	if (len > 1 && leaf[len - 1] == '_' && tree_reserved_stem(leaf, len))
		return g_strndup(leaf, len - 1);
	return g_strdup(leaf);
}

gboolean
tree_same_paths(const MfTree *a, const MfTree *b)
{
	if (a->folders->len != b->folders->len)
		return FALSE;
	for (guint i = 0; i < a->folders->len; i++) {
		const MfFolder *f = a->folders->pdata[i];
		const MfFolder *g = tree_folder(b, f->id);
		if (!g || strcmp(f->path, g->path) != 0)
			return FALSE;
	}
	return TRUE;
}
