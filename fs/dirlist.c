/* dirlist.c - open directories: the entries captured at OPENDIR and the
 * listing snapshot whose messages' entries are built at READDIR (see
 * dirlist.h). */
#include "fs/dirlist.h"

#include "fs/node.h"

typedef struct {
	char *name;
	struct fuse_entry_param e; /* e.ino 0: no attributes to give */
	fuse_ino_t ino;
	mode_t mode;
} DirEntry;

struct DirSnap {
	GArray *head;       /* DirEntry */
	MfListing *listing; /* or NULL */
	GHashTable *taken;  /* names of HEAD not to list from LISTING */
};

static void
dirlist_entry_clear(DirEntry *e)
{
	g_free(e->name);
}

GArray *
dirlist_new(void)
{
	GArray *dir = g_array_new(FALSE, TRUE, sizeof(DirEntry));
	g_array_set_clear_func(dir, (GDestroyNotify)dirlist_entry_clear);
	return dir;
}

void
dirlist_add(GArray *dir, const char *name, fuse_ino_t ino, mode_t mode)
{
	DirEntry e = { .name = g_strdup(name), .ino = ino, .mode = mode };
	g_array_append_val(dir, e);
}

void
dirlist_add_plus(GArray *dir, const char *name,
                 const struct fuse_entry_param *ep)
{
	DirEntry e = { .name = g_strdup(name), .e = *ep, .ino = ep->ino,
	               .mode = ep->attr.st_mode };
	g_array_append_val(dir, e);
}

GHashTable *
dirlist_names(GArray *dir, guint from)
{
	GHashTable *names = NULL;

	for (guint i = from; i < dir->len; i++) {
		if (!names)
			names = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_add(names, g_array_index(dir, DirEntry, i).name);
	}
	return names;
}

DirSnap *
dirsnap_new(GArray *head, MfListing *listing, guint skip_from)
{
	DirSnap *d = g_new0(DirSnap, 1);

	d->head = head;
	d->listing = listing;
	d->taken = listing ? dirlist_names(head, skip_from) : NULL;
	return d;
}

void
dirsnap_free(DirSnap *d)
{
	if (!d)
		return;
	if (d->taken)
		g_hash_table_unref(d->taken);
	listing_unref(d->listing);
	g_array_unref(d->head);
	g_free(d);
}

/* Adds NAME with E (or, when E is NULL or not PLUS, only INO and MODE) at
 * offset OFF to BUF; the bytes it took, or 0 if it does not fit. */
static size_t
dirsnap_put(fuse_req_t req, char *buf, size_t left, gboolean plus,
            const char *name, const struct fuse_entry_param *e,
            fuse_ino_t ino, mode_t mode, off_t off)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	/* No attributes to give: the name and inode only (ino 0 in the
	 * entry keeps the kernel from caching it). */
	struct fuse_entry_param none = { .attr = st };
	size_t n = plus
		? fuse_add_direntry_plus(req, buf, left, name, e ? e : &none,
		                         off)
		: fuse_add_direntry(req, buf, left, name, &st, off);

	return n > left ? 0 : n;
}

/* Adds the messages of D from index I on; the bytes used in all. */
static size_t
dirsnap_put_messages(fuse_req_t req, const DirSnap *d, char *buf,
                     size_t size, size_t used, guint i, gboolean plus)
{
	const MfFs *fs = node_fs(req);
	guint base = d->head->len;
	char name_buf[NODE_NAME_MAX];

	for (; i < listing_count(d->listing); i++) {
		const MfRemoteMessage *m = listing_at(d->listing, i);
		const char *name = node_msg_name(d->listing, m, name_buf);
		struct fuse_entry_param e;
		if (d->taken && g_hash_table_contains(d->taken, name))
			continue;
		node_msg_entry(fs, d->listing, m, &e);
		size_t n = dirsnap_put(req, buf + used, size - used, plus, name,
		                       &e, e.ino, e.attr.st_mode,
		                       (off_t)(base + i) + 1);
		if (n == 0)
			break;
		used += n;
	}
	return used;
}

void
dirsnap_reply(fuse_req_t req, const DirSnap *d, size_t size, off_t off,
              gboolean plus)
{
	g_autofree char *buf = g_malloc(size);
	size_t used = 0, n = 1;
	guint i = (guint)off;

	for (; i < d->head->len && n > 0; i++) {
		const DirEntry *e = &g_array_index(d->head, DirEntry, i);
		n = dirsnap_put(req, buf + used, size - used, plus, e->name,
		                e->e.ino ? &e->e : NULL, e->ino, e->mode,
		                (off_t)i + 1);
		used += n;
	}
	if (n > 0 && d->listing && i >= d->head->len)
		used = dirsnap_put_messages(req, d, buf, size, used,
		                            i - d->head->len, plus);
	fuse_reply_buf(req, buf, used);
}
