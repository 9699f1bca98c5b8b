/* account_names.c - the names files get through the mount, as listings
 * show them: a file written into a folder as draft.eml stays draft.eml
 * once it is a message there, reading back the bytes as written; a
 * message renamed within its folder keeps the new name.  Names live in
 * the store (store_names.c); each listing snapshot carries those of its
 * messages. */
#include "cache/account_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/mf_error.h"

typedef struct {
	guint32 uid;
	char *name;
	guint64 size;   /* of WRITTEN */
	char *written;  /* or NULL */
} ListingAlias;

static void
listing_alias_free(ListingAlias *al)
{
	g_free(al->name);
	g_free(al->written);
	g_free(al);
}

/* New tables for NAMES (StoreName) of which MSGS has the UID: *ALIASES
 * uid -> ListingAlias, *BY_NAME name -> the same; NULL when none. */
static void
listing_aliases_build(GArray *names, GArray *msgs, GHashTable **aliases,
                      GHashTable **by_name)
{
	*aliases = *by_name = NULL;
	for (guint i = 0; names && i < names->len; i++) {
		const StoreName *n = &g_array_index(names, StoreName, i);
		MfRemoteMessage key = { .uid = n->uid };
		guint at;
		if (!g_array_binary_search(msgs, &key, store_uid_compare, &at))
			continue;
		if (!*aliases) {
			*aliases = g_hash_table_new_full(
				NULL, NULL, NULL,
				(GDestroyNotify)listing_alias_free);
			*by_name = g_hash_table_new(g_str_hash, g_str_equal);
		}
		ListingAlias *al = g_new0(ListingAlias, 1);
		al->uid = n->uid;
		al->name = g_strdup(n->name);
		al->size = n->size;
		al->written = g_strdup(n->written);
		g_hash_table_replace(*aliases, GUINT_TO_POINTER(n->uid), al);
		g_hash_table_replace(*by_name, al->name, al);
	}
}

static const ListingAlias *
listing_alias_of(const MfListing *l, guint32 uid)
{
	return l->aliases ? g_hash_table_lookup(l->aliases,
	                                        GUINT_TO_POINTER(uid))
	                  : NULL;
}

const char *
listing_alias(const MfListing *l, const MfRemoteMessage *m, guint64 *size)
{
	const ListingAlias *al = listing_alias_of(l, m->uid);

	if (al && al->written && size)
		*size = al->size;
	return al ? al->name : NULL;
}

const MfRemoteMessage *
listing_find_name(const MfListing *l, const char *name)
{
	const ListingAlias *al = l->by_name ? g_hash_table_lookup(l->by_name,
	                                                          name)
	                                    : NULL;
	return al ? listing_find(l, al->uid) : NULL;
}

const char *
listing_written(const MfListing *l, guint32 uid, guint64 *size)
{
	const ListingAlias *al = listing_alias_of(l, uid);

	if (!al || !al->written)
		return NULL;
	*size = al->size;
	return al->written;
}

gint64
listing_mtime(const MfListing *l)
{
	return l->mtime;
}

/* TRUE if A and B show the same names: the same UIDs, named alike. */
static gboolean
listing_same_names(const MfListing *a, const MfListing *b)
{
	if (a->gen != b->gen || a->msgs->len != b->msgs->len)
		return FALSE;
	for (guint i = 0; i < a->msgs->len; i++) {
		const MfRemoteMessage *x = listing_at(a, i), *y = listing_at(b, i);
		if (x->uid != y->uid ||
		    g_strcmp0(listing_alias(a, x, NULL),
		              listing_alias(b, y, NULL)) != 0)
			return FALSE;
	}
	return TRUE;
}

MfListing *
listing_new(MfAccount *a, gint64 folder_id, gint64 gen, guint32 uidvalidity,
            GArray *msgs, const MfListing *prev)
{
	g_autoptr(GError) err = NULL;
	MfListing *l = g_new0(MfListing, 1);
	GArray *names = store_names_load(a->store, folder_id, uidvalidity, &err);

	if (!names)
		g_warning("names in %" G_GINT64_FORMAT " not loaded: %s",
		          folder_id, err->message);
	l->ref = 1;
	l->gen = gen;
	l->uidvalidity = uidvalidity;
	l->msgs = msgs;
	listing_aliases_build(names, msgs, &l->aliases, &l->by_name);
	/* Names of messages that are gone go with them. */
	store_names_prune(a->store, folder_id, uidvalidity, names, msgs);
	if (names)
		g_array_unref(names);
	l->mtime = prev && listing_same_names(prev, l)
	           ? prev->mtime : (prev ? g_get_real_time() / G_USEC_PER_SEC
	                                 : 0);
	return l;
}

void
listing_free_names(MfListing *l)
{
	if (l->aliases)
		g_hash_table_unref(l->aliases);
	if (l->by_name)
		g_hash_table_unref(l->by_name);
}

gint64
account_folder_mtime(MfAccount *a, gint64 folder_id)
{
	gint64 t = 0;

	g_mutex_lock(&a->lock);
	FolderState *fs = folder_id ? g_hash_table_lookup(a->folders, &folder_id)
	                            : NULL;
	if (fs && fs->listing)
		t = fs->listing->mtime;
	/* Folders made, removed or renamed: their parents changed. */
	t = MAX(t, a->tree_mtime);
	g_mutex_unlock(&a->lock);
	return t;
}

void
account_names_reload(MfAccount *a, gint64 folder_id)
{
	g_mutex_lock(&a->lock);
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);
	MfListing *old = fs && fs->listing ? listing_ref(fs->listing) : NULL;
	g_mutex_unlock(&a->lock);
	if (!old)
		return;
	MfListing *l = listing_new(a, folder_id, old->gen, old->uidvalidity,
	                           g_array_ref(old->msgs), old);
	g_mutex_lock(&a->lock);
	if (fs->listing == old) {
		fs->listing = listing_ref(l);
		if (a->hook)
			a->hook(folder_id, old, l, a->hook_ud);
		listing_unref(old); /* the folder's reference */
	}
	g_mutex_unlock(&a->lock);
	listing_unref(old);
	listing_unref(l);
}

gboolean
account_name_message(MfAccount *a, gint64 gen, guint32 uid, const char *name,
                     GError **err)
{
	gint64 folder_id;
	guint32 uv;

	if (!account_generation_folder(a, gen, &folder_id, &uv)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND, "message is gone");
		return FALSE;
	}
	g_autoptr(GArray) names = store_names_load(a->store, folder_id, uv, err);
	if (!names)
		return FALSE;
	StoreName n = { .uid = uid, .name = (char *)name };
	for (guint i = 0; i < names->len; i++) {
		const StoreName *x = &g_array_index(names, StoreName, i);
		if (x->uid == uid) /* its bytes as written go with it */
			n.written = x->written, n.size = x->size;
	}
	if (!store_name_set(a->store, folder_id, uv, uid, &n, err))
		return FALSE;
	account_names_reload(a, folder_id);
	return TRUE;
}

int
account_open_written(MfAccount *a, const char *path, guint64 size,
                     GError **err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &st) == 0 && (guint64)st.st_size == size)
		return fd;
	int e = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
	            "the copy of a message as written is %s: %s", e ? "gone"
	            : "damaged", path);
	return -1;
}

gboolean
account_listing_uidvalidity(MfAccount *a, gint64 folder_id,
                            guint32 *uidvalidity)
{
	gboolean found = FALSE;

	g_mutex_lock(&a->lock);
	FolderState *fs = g_hash_table_lookup(a->folders, &folder_id);
	if (fs && fs->listing) {
		*uidvalidity = fs->listing->uidvalidity;
		found = TRUE;
	}
	g_mutex_unlock(&a->lock);
	return found;
}

void
account_name_message_in(MfAccount *a, gint64 folder_id, guint32 uid,
                        const char *name)
{
	guint32 uv;
	StoreName n = { .uid = uid, .name = (char *)name };

	if (account_listing_uidvalidity(a, folder_id, &uv) &&
	    store_name_set(a->store, folder_id, uv, uid, &n, NULL))
		account_names_reload(a, folder_id);
}

/* Forwarding: the kernel keeps the inode a name had when it is moved (a
 * message to another folder, a folder renamed) until it is told to forget
 * it, which happens a moment later; until then the old identity leads to
 * the new one.  Keys and values: a message as gen << 32 | uid, a folder
 * as its id. */
static void
account_forward_set(GHashTable **table, guint64 from, guint64 to)
{
	if (!*table)
		*table = g_hash_table_new_full(g_int64_hash, g_int64_equal,
		                               g_free, g_free);
	g_hash_table_replace(*table, g_memdup2(&from, sizeof from),
	                     g_memdup2(&to, sizeof to));
}

static gboolean
account_forward_get(GHashTable *table, guint64 from, guint64 *to)
{
	guint64 *v = table ? g_hash_table_lookup(table, &from) : NULL;

	if (v)
		*to = *v;
	return v != NULL;
}

void
account_note_moved(MfAccount *a, gint64 gen, guint32 uid, gint64 new_gen,
                   guint32 new_uid)
{
	g_mutex_lock(&a->lock);
	account_forward_set(&a->moved, (guint64)gen << 32 | uid,
	                    (guint64)new_gen << 32 | new_uid);
	g_mutex_unlock(&a->lock);
}

gboolean
account_moved_to(MfAccount *a, gint64 gen, guint32 uid, gint64 *new_gen,
                 guint32 *new_uid)
{
	guint64 to = 0;

	g_mutex_lock(&a->lock);
	gboolean found = account_forward_get(a->moved, (guint64)gen << 32 | uid,
	                                     &to);
	g_mutex_unlock(&a->lock);
	if (found) {
		*new_gen = (gint64)(to >> 32);
		*new_uid = (guint32)(to & 0xffffffffu);
	}
	return found;
}

void
account_note_renamed(MfAccount *a, gint64 folder_id, gint64 new_id)
{
	g_mutex_lock(&a->lock);
	account_forward_set(&a->renamed, (guint64)folder_id, (guint64)new_id);
	g_mutex_unlock(&a->lock);
}

gint64
account_folder_now(MfAccount *a, gint64 folder_id)
{
	guint64 to = (guint64)folder_id;

	g_mutex_lock(&a->lock);
	/* A folder renamed twice leads on twice; a loop ends at the bound. */
	for (int i = 0; i < 8 && account_forward_get(a->renamed, to, &to); i++)
		;
	g_mutex_unlock(&a->lock);
	return (gint64)to;
}
