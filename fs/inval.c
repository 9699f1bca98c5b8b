/* inval.c - kernel entry invalidation on its own thread. */
#include "fs/inval.h"

#include <string.h>

#include "fs/node.h"

struct Inval {
	struct fuse_session *se;
	GAsyncQueue *queue; /* InvalItem*; a NULL-named item stops */
	GThread *thread;
};

typedef struct {
	fuse_ino_t parent;
	char *name;
} InvalItem;

static gpointer
inval_thread(gpointer data)
{
	Inval *iv = data;

	for (;;) {
		InvalItem *it = g_async_queue_pop(iv->queue);
		gboolean stop = it->name == NULL;
		if (!stop)
			fuse_lowlevel_notify_inval_entry(iv->se, it->parent,
			                                 it->name,
			                                 strlen(it->name));
		g_free(it->name);
		g_free(it);
		if (stop)
			return NULL;
	}
}

Inval *
inval_start(struct fuse_session *se)
{
	Inval *iv = g_new0(Inval, 1);

	iv->se = se;
	iv->queue = g_async_queue_new();
	iv->thread = g_thread_new("mailfs-inval", inval_thread, iv);
	return iv;
}

void
inval_stop(Inval *iv)
{
	if (!iv)
		return;
	g_async_queue_push(iv->queue, g_new0(InvalItem, 1));
	g_thread_join(iv->thread);
	g_async_queue_unref(iv->queue);
	g_free(iv);
}

void
inval_entry(Inval *iv, fuse_ino_t parent, const char *name)
{
	InvalItem *it = g_new0(InvalItem, 1);

	it->parent = parent;
	it->name = g_strdup(name);
	g_async_queue_push(iv->queue, it);
}

void
inval_listing_cb(gint64 folder_id, const MfListing *old,
                 const MfListing *new_listing, void *ud)
{
	Inval *iv = ud;
	gboolean all = listing_generation(old) !=
	               listing_generation(new_listing);
	fuse_ino_t parent = node_folder_ino(folder_id);
	char was[NODE_NAME_MAX], is[NODE_NAME_MAX];

	/* Every name that no longer names the same message: gone, or given
	 * to another one (a file written over it). */
	for (guint i = 0; i < listing_count(old); i++) {
		const MfRemoteMessage *m = listing_at(old, i);
		const MfRemoteMessage *n = all ? NULL
		                         : listing_find(new_listing, m->uid);
		const char *name = node_msg_name(old, m, was);
		if (!n || strcmp(name, node_msg_name(new_listing, n, is)) != 0)
			inval_entry(iv, parent, name);
	}
}
