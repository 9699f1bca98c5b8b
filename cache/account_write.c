/* account_write.c - changes a user makes through the mount: removing,
 * moving, flagging and adding messages, and making, removing and renaming
 * folders.  Each runs on the server first and then shows at once in the
 * listings (edited in place or marked stale). */
#include "cache/account_write.h"

#include "cache/account_int.h"

#include <string.h>

#include "net/mf_error.h"

/* A message named by (generation, UID), resolved to its folder. */
typedef struct {
	MfAccount *a;
	MfTree *tree;
	const MfFolder *folder;
	const MfFolder *dest;   /* for moves and appends */
	guint32 uidvalidity;
	MfRemoteMessage msg;    /* uid (and flags) */
	const char *flags;      /* for set_flags */
	const char *leaf;       /* for folder operations */
	int fd;                 /* for appends */
	guint64 size;
	gint64 date;
	const char *msgid;      /* for finding a message */
	guint32 new_uv;         /* where a move or an append put it, when */
	guint32 new_uid;        /*   the server says (else 0) */
	GArray *found;          /* UIDs with msgid */
} WriteCtx;

static gboolean
account_write_check(MfAccount *a, GError **err)
{
	if (!(account_backend(a)->caps & MF_BACKEND_CAP_WRITE)) {
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "this account is read-only");
		return FALSE;
	}
	if (!account_may_try(a)) {
		account_set_offline_error(a, err);
		return FALSE;
	}
	return TRUE;
}

/* Fills C for message UID of FOLDER_ID (which then holds a tree
 * reference).  The listing is not consulted: a change recorded offline
 * names a message the local listing no longer shows. */
static gboolean
account_write_resolve(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
                      guint32 uid, WriteCtx *c, GError **err)
{
	memset(c, 0, sizeof *c);
	c->a = a;
	c->uidvalidity = uidvalidity;
	c->msg.uid = uid;
	c->tree = account_tree(a);
	c->folder = tree_folder(c->tree, folder_id);
	if (!c->folder) {
		tree_unref(g_steal_pointer(&c->tree));
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "folder is gone");
		return FALSE;
	}
	return TRUE;
}

const char *
account_special_name(guint special)
{
	switch (special) {
	case MF_FOLDER_SENT:
		return "Sent";
	case MF_FOLDER_TRASH:
		return "Trash";
	case MF_FOLDER_DRAFTS:
		return "Drafts";
	default:
		return NULL;
	}
}

/* The first folder with special-use flag SPECIAL, breadth-first (they
 * are mostly at the top). */
static const MfFolder *
account_write_special(MfTree *t, guint special)
{
	g_autoptr(GPtrArray) all = tree_children(t, 0);

	for (guint i = 0; i < all->len; i++) {
		const MfFolder *f = all->pdata[i];
		if (f->flags & special)
			return f;
		g_ptr_array_extend_and_steal(all, tree_children(t, f->id));
	}
	return NULL;
}

const MfFolder *
account_special_folder(MfTree *t, guint special)
{
	const MfFolder *f = account_write_special(t, special);
	const char *name = account_special_name(special);
	g_autoptr(GPtrArray) top = f || !name ? NULL : tree_children(t, 0);

	for (guint i = 0; top && i < top->len && !f; i++) {
		const MfFolder *x = top->pdata[i];
		if (g_ascii_strcasecmp(x->leaf, name) == 0 &&
		    !(x->flags & MF_FOLDER_NOSELECT))
			f = x;
	}
	return f;
}

static gboolean
account_write_expunge_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	return account_backend(a)->delete_messages(s, c->folder->name,
	                                           c->uidvalidity, &c->msg, 1,
	                                           err);
}

static gboolean
account_write_move_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	return account_backend(a)->move_messages(s, c->folder->name,
	                                         c->uidvalidity, &c->msg, 1,
	                                         c->dest->name, &c->new_uv,
	                                         &c->new_uid, err);
}

/* Runs FN for C; on success the message leaves its folder's listing and
 * the destination (if any) is listed anew. */
static gboolean
account_write_run(WriteCtx *c, SessionFn fn, GError **err)
{
	gboolean ok = account_with_session(c->a, fn, c, err);

	if (ok) {
		account_edit_listing(c->a, c->folder->id, c->msg.uid, NULL);
		if (c->dest)
			account_expire_listing(c->a, c->dest->id);
	}
	tree_unref(c->tree);
	return ok;
}

gboolean
account_exec_remove(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
                    guint32 uid, gboolean expunge, GError **err)
{
	WriteCtx c;

	if (!account_write_check(a, err) ||
	    !account_write_resolve(a, folder_id, uidvalidity, uid, &c, err))
		return FALSE;
	/* Where removed messages go: Trash, marked or named so. */
	const MfFolder *trash = account_special_folder(c.tree, MF_FOLDER_TRASH);
	if (expunge || (trash && trash->id == c.folder->id))
		return account_write_run(&c, account_write_expunge_cb, err);
	if (!trash) {
		tree_unref(c.tree);
		g_set_error(err, MF_ERROR, MF_ERROR_PERM,
		            "no Trash folder to move a removed message to: make "
		            "one (mkdir Trash), or set delete = expunge to "
		            "delete for good");
		account_record_error(a, *err);
		return FALSE;
	}
	c.dest = trash;
	return account_write_run(&c, account_write_move_cb, err);
}

/* After a move of message UID (or its stand-in GHOST, shown while the
 * move waited) to C's destination: its name there is NAME, or the name
 * it had. */
static void
account_write_move_name(WriteCtx *c, guint32 ghost, const char *name)
{
	Store *st = account_store(c->a);
	g_autoptr(GError) err = NULL;
	guint32 dest_uv = 0;

	if (c->new_uid == 0)
		return; /* the server did not say: its UID names it */
	gint64 src_gen = store_generation(st, c->folder->id, c->uidvalidity,
	                                  NULL);
	gint64 dest_gen = store_generation(st, c->dest->id, c->new_uv, NULL);
	if (src_gen && dest_gen)
		account_note_moved(c->a, src_gen, c->msg.uid, dest_gen,
		                   c->new_uid);
	if (!store_name_move(st, c->folder->id, c->uidvalidity, c->msg.uid,
	                     c->dest->id, c->new_uv, c->new_uid, name, &err))
		g_warning("name of a moved message not kept: %s", err->message);
	if (ghost && account_listing_uidvalidity(c->a, c->dest->id, &dest_uv))
		store_name_move(st, c->dest->id, dest_uv, ghost, c->dest->id,
		                c->new_uv, c->new_uid, name, NULL);
	if (name) {
		StoreName n = { .uid = c->new_uid, .name = (char *)name };
		g_autoptr(GArray) names = store_names_load(st, c->dest->id,
		                                           c->new_uv, NULL);
		for (guint i = 0; names && i < names->len; i++) {
			const StoreName *x = &g_array_index(names, StoreName, i);
			if (x->uid == c->new_uid)
				n.written = x->written, n.size = x->size;
		}
		store_name_set(st, c->dest->id, c->new_uv, c->new_uid, &n, NULL);
	}
	account_names_reload(c->a, c->dest->id);
}

gboolean
account_exec_move(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
                  guint32 uid, gint64 dest_id, guint32 ghost,
                  const char *name, GError **err)
{
	WriteCtx c;

	if (!account_write_check(a, err) ||
	    !account_write_resolve(a, folder_id, uidvalidity, uid, &c, err))
		return FALSE;
	c.dest = tree_folder(c.tree, dest_id);
	if (!c.dest || (c.dest->flags & MF_FOLDER_NOSELECT) ||
	    c.dest->id == c.folder->id) {
		gboolean same = c.dest && c.dest->id == c.folder->id;
		tree_unref(c.tree);
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY, same
		            ? "a message is moved to another folder only"
		            : "the destination holds no messages");
		return FALSE;
	}
	gboolean ok = account_with_session(a, account_write_move_cb, &c, err);
	if (ok) {
		/* Before the source listing loses it, and its name with it. */
		account_write_move_name(&c, ghost, name);
		account_edit_listing(a, c.folder->id, uid, NULL);
		account_expire_listing(a, c.dest->id);
	}
	tree_unref(c.tree);
	return ok;
}

static gboolean
account_write_flags_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	return account_backend(a)->set_flags(s, c->folder->name, c->uidvalidity,
	                                     c->msg.uid, c->flags, err);
}

gboolean
account_exec_flags(MfAccount *a, gint64 folder_id, guint32 uidvalidity,
                   guint32 uid, const char *flags, GError **err)
{
	WriteCtx c;

	if (!account_write_check(a, err) ||
	    !account_write_resolve(a, folder_id, uidvalidity, uid, &c, err))
		return FALSE;
	c.flags = flags;
	gboolean ok = account_with_session(a, account_write_flags_cb, &c, err);
	if (ok)
		account_edit_listing(a, c.folder->id, uid, flags);
	tree_unref(c.tree);
	return ok;
}

static gboolean
account_write_append_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	return account_backend(a)->append(s, c->dest->name, c->flags, c->date,
	                                  c->fd, c->size, &c->new_uv,
	                                  &c->new_uid, err);
}

static gboolean
account_write_find_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	return account_backend(a)->find_message_id(s, c->dest->name, c->msgid,
	                                           &c->new_uv, &c->found, err);
}

gboolean
account_exec_find(MfAccount *a, gint64 folder_id, const char *msgid,
                  guint32 *uidvalidity, guint32 *uid, GError **err)
{
	WriteCtx c = { .a = a, .msgid = msgid };

	if (!account_write_check(a, err))
		return FALSE;
	if (!account_backend(a)->find_message_id) {
		*uidvalidity = *uid = 0;
		return TRUE;
	}
	c.tree = account_tree(a);
	c.dest = tree_folder(c.tree, folder_id);
	gboolean ok = c.dest != NULL;
	if (!ok)
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "folder is gone");
	else
		ok = account_with_session(a, account_write_find_cb, &c, err);
	tree_unref(c.tree);
	if (!ok)
		return FALSE;
	*uidvalidity = c.new_uv;
	/* The newest: an older one with the same Message-ID is another
	 * copy the user had already. */
	*uid = c.found->len ? g_array_index(c.found, guint32,
	                                    c.found->len - 1) : 0;
	g_array_unref(c.found);
	return TRUE;
}

gboolean
account_exec_append(MfAccount *a, gint64 folder_id, int fd, guint64 size,
                    gint64 date, const char *flags, guint32 *uidvalidity,
                    guint32 *uid, GError **err)
{
	WriteCtx c = { .a = a, .fd = fd, .size = size, .date = date,
	               .flags = flags };

	if (!account_write_check(a, err))
		return FALSE;
	c.tree = account_tree(a);
	c.dest = tree_folder(c.tree, folder_id);
	gboolean ok = c.dest && !(c.dest->flags & MF_FOLDER_NOSELECT);
	if (!ok)
		g_set_error(err, MF_ERROR, MF_ERROR_READONLY,
		            "this folder holds no messages");
	else
		ok = account_with_session(a, account_write_append_cb, &c, err);
	if (ok) {
		account_expire_listing(a, folder_id);
		*uidvalidity = c.new_uv;
		*uid = c.new_uid;
	}
	tree_unref(c.tree);
	return ok;
}

/* The folder tree, listed anew first if it lacks folder NEED (0: none),
 * which the file system knows of: a folder just made by this mount, whose
 * own refresh lost a race with another one. */
static MfTree *
account_write_tree(MfAccount *a, gint64 need)
{
	MfTree *t = account_tree(a);

	if (!need || tree_folder(t, need))
		return t;
	tree_unref(t);
	account_refresh_tree_now(a, NULL);
	return account_tree(a);
}

/* The server's name for the display leaf of a folder in PARENT (NULL:
 * the top, where mailfs's own names are escaped); owned. */
static char *
account_write_server_leaf(const MfFolder *parent, const char *leaf)
{
	return parent ? g_strdup(leaf) : tree_unescape_top(leaf);
}

static gboolean
account_write_mkdir_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	g_autofree char *leaf = account_write_server_leaf(c->folder, c->leaf);
	return account_backend(a)->create_folder(
		s, c->folder ? c->folder->name : NULL, leaf, err);
}

/* Runs a folder operation; on success the tree is listed anew now. */
static gboolean
account_write_folder_op(WriteCtx *c, SessionFn fn, GError **err)
{
	GError *lerr = NULL;
	gboolean ok = account_with_session(c->a, fn, c, &lerr);

	if (!ok) {
		g_message("folder change failed: %s", lerr->message);
		g_propagate_error(err, lerr);
	}
	tree_unref(c->tree);
	if (ok && !account_refresh_tree_now(c->a, NULL))
		account_expire_tree(c->a);
	return ok;
}

gboolean
account_create_folder(MfAccount *a, gint64 parent_id, const char *leaf,
                      GError **err)
{
	WriteCtx c = { .a = a, .leaf = leaf };

	if (!account_write_check(a, err))
		return FALSE;
	c.tree = account_write_tree(a, parent_id);
	c.folder = parent_id ? tree_folder(c.tree, parent_id) : NULL;
	if ((parent_id && !c.folder) || tree_child(c.tree, parent_id, leaf)) {
		gboolean exists = tree_child(c.tree, parent_id, leaf) != NULL;
		tree_unref(c.tree);
		g_set_error(err, MF_ERROR, exists ? MF_ERROR_EXISTS
		            : MF_ERROR_NOTFOUND, exists ? "%s exists"
		            : "no parent for %s", leaf);
		return FALSE;
	}
	GError *lerr = NULL;
	if (account_write_folder_op(&c, account_write_mkdir_cb, &lerr))
		return TRUE;
	/* Dovecot (maildir) may answer [ALREADYEXISTS] to a CREATE that made
	 * the folder while another session of ours scanned the folder list.
	 * It was not there a moment ago: if it is there now, it is made. */
	if (g_error_matches(lerr, MF_ERROR, MF_ERROR_EXISTS) &&
	    account_find_folder(a, parent_id, leaf)) {
		g_message("CREATE %s: the server says it exists, and it does "
		          "now: taken as made", leaf);
		g_error_free(lerr);
		return TRUE;
	}
	g_propagate_error(err, lerr);
	return FALSE;
}

static gboolean
account_write_rmdir_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	return account_backend(a)->delete_folder(s, c->folder->name, err);
}

gboolean
account_delete_folder(MfAccount *a, gint64 folder_id, GError **err)
{
	WriteCtx c = { .a = a };
	g_autoptr(GError) lerr = NULL;

	if (!account_write_check(a, err))
		return FALSE;
	c.tree = account_write_tree(a, folder_id);
	c.folder = tree_folder(c.tree, folder_id);
	g_autoptr(GPtrArray) kids = c.folder ? tree_children(c.tree, folder_id)
	                                     : NULL;
	MfListing *l = c.folder && !(c.folder->flags & MF_FOLDER_NOSELECT)
	               ? account_listing(a, folder_id, &lerr) : NULL;
	gboolean empty = kids && kids->len == 0 &&
	                 (!l || listing_count(l) == 0) && !lerr;
	listing_unref(l);
	if (!c.folder || !empty) {
		tree_unref(c.tree);
		g_set_error(err, MF_ERROR, c.folder ? MF_ERROR_NOTEMPTY
		            : MF_ERROR_NOTFOUND, "folder is not empty");
		return FALSE;
	}
	return account_write_folder_op(&c, account_write_rmdir_cb, err);
}

static gboolean
account_write_rename_cb(MfAccount *a, MfSession *s, void *ud, GError **err)
{
	WriteCtx *c = ud;
	g_autofree char *leaf = account_write_server_leaf(c->dest, c->leaf);
	return account_backend(a)->rename_folder(
		s, c->folder->name, c->dest ? c->dest->name : NULL, leaf, err);
}

typedef struct {
	gint64 id;
	char *rel;   /* path below the renamed folder ("" for itself) */
} Renamed;

static void
account_write_renamed_free(Renamed *r)
{
	g_free(r->rel);
	g_free(r);
}

/* FOLDER and every folder below it, with their paths relative to it. */
static GPtrArray *
account_write_subtree(MfTree *t, const MfFolder *folder)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(
		(GDestroyNotify)account_write_renamed_free);
	g_autoptr(GPtrArray) todo = g_ptr_array_new();
	size_t base = strlen(folder->path);

	g_ptr_array_add(todo, (gpointer)folder);
	for (guint i = 0; i < todo->len; i++) {
		const MfFolder *f = todo->pdata[i];
		Renamed *r = g_new0(Renamed, 1);
		r->id = f->id;
		r->rel = g_strdup(f->path + base);
		g_ptr_array_add(out, r);
		g_ptr_array_extend_and_steal(todo, tree_children(t, f->id));
	}
	return out;
}

/* After a rename to LEAF in PARENT_ID: each folder of MOVED has a new id
 * under the new path; the old ids lead there. */
static void
account_write_note_renamed(MfAccount *a, GPtrArray *moved, gint64 parent_id,
                           const char *leaf)
{
	MfTree *t = account_tree(a);
	const MfFolder *p = parent_id ? tree_folder(t, parent_id) : NULL;
	g_autofree char *top = p ? g_strconcat(p->path, "/", leaf, NULL)
	                         : g_strdup(leaf);

	for (guint i = 0; i < moved->len; i++) {
		const Renamed *r = moved->pdata[i];
		g_autofree char *path = g_strconcat(top, r->rel, NULL);
		const MfFolder *now = tree_find(t, path);
		if (now && now->id != r->id)
			account_note_renamed(a, r->id, now->id);
	}
	tree_unref(t);
}

gboolean
account_rename_folder(MfAccount *a, gint64 folder_id, gint64 parent_id,
                      const char *leaf, GError **err)
{
	WriteCtx c = { .a = a, .leaf = leaf };

	if (!account_write_check(a, err))
		return FALSE;
	c.tree = account_write_tree(a, folder_id);
	c.folder = tree_folder(c.tree, folder_id);
	c.dest = parent_id ? tree_folder(c.tree, parent_id) : NULL;
	if (!c.folder || (parent_id && !c.dest) ||
	    tree_child(c.tree, parent_id, leaf)) {
		gboolean exists = c.folder && tree_child(c.tree, parent_id, leaf);
		tree_unref(c.tree);
		g_set_error(err, MF_ERROR, exists ? MF_ERROR_EXISTS
		            : MF_ERROR_NOTFOUND, exists ? "%s exists"
		            : "no such folder", leaf);
		return FALSE;
	}
	g_autoptr(GPtrArray) moved = account_write_subtree(c.tree, c.folder);
	if (!account_write_folder_op(&c, account_write_rename_cb, err))
		return FALSE;
	account_write_note_renamed(a, moved, parent_id, leaf);
	return TRUE;
}
