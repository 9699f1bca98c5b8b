/* tree.h - immutable, reference-counted snapshots of an account's folder
 * tree.  Folder ids come from the store and never change; a folder's parent
 * is found by its display path. */
#ifndef MAILFS_TREE_H
#define MAILFS_TREE_H

#include <glib.h>
#include "cache/backend.h"
#include "cache/store.h"

typedef struct {
	gint64 id;        /* stable folder id */
	char *name;       /* the server's name */
	char *path;       /* display path, "Archive/2024" */
	const char *leaf; /* last component of path (points into path) */
	gint64 parent;    /* id of the parent folder; 0 at the top */
	guint flags;      /* MF_FOLDER_* */
} MfFolder;

typedef struct MfTree MfTree;

/* A new tree (one reference) from StoreFolder rows. */
MfTree *tree_build(GPtrArray *rows);
MfTree *tree_ref(MfTree *t);
void tree_unref(MfTree *t); /* accepts NULL */
const MfFolder *tree_folder(const MfTree *t, gint64 id);
/* The folder with display path PATH ("Archive/2024"), or NULL. */
const MfFolder *tree_find(const MfTree *t, const char *path);
/* The child of PARENT (0: top level) called NAME, or NULL. */
const MfFolder *tree_child(const MfTree *t, gint64 parent, const char *name);
/* Children of PARENT, in a new array of const MfFolder* (borrowed from T). */
GPtrArray *tree_children(const MfTree *t, gint64 parent);

/* Adds to REMOTE (MfRemoteFolder*) a \Noselect folder for each parent path
 * it implies without listing it. */
void tree_add_implicit_parents(GPtrArray *remote);

/* TRUE if A and B hold the same folders under the same paths. */
gboolean tree_same_paths(const MfTree *a, const MfTree *b);

/* Top-level names the mount keeps for itself: a server folder called so
 * is shown with a '_' added (as is one already called so with '_'s, so
 * that no two folders show alike). */
#define TREE_RESERVED_NAMES "outbox", ".mailfs"
/* Renames REMOTE's folders (display paths) that would take such a name. */
void tree_escape_reserved(GPtrArray *remote);
/* The server's name for the top-level display name LEAF; owned. */
char *tree_unescape_top(const char *leaf);

#endif
