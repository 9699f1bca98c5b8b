/* body_sink.c - fetched bodies into the store (see body_sink.h). */
#include "cache/body_sink.h"

static gpointer
body_sink_open(guint64 size, void *ud, GError **err)
{
	BodySink *k = ud;

	if (k->go_on && !k->go_on(k->ud, err))
		return NULL;
	return store_body_begin(k->store, err);
}

static gboolean
body_sink_write(gpointer sink, const char *data, size_t len, GError **err)
{
	return store_body_write(sink, data, len, err);
}

static gboolean
body_sink_finish(gpointer sink, guint32 uid, void *ud, GError **err)
{
	BodySink *k = ud;
	guint64 size = store_body_size(sink);
	gboolean ok;

	if (k->accept && !k->accept(uid, size, k->ud)) {
		store_body_abort(sink);
		return TRUE;
	}
	if (k->batch)
		ok = store_batch_add(k->store, k->batch, sink, k->folder_id,
		                     k->uidvalidity, uid, err);
	else
		ok = store_body_commit(k->store, sink, k->folder_id,
		                       k->uidvalidity, uid, err);
	if (ok && k->stored)
		k->stored(uid, size, k->ud);
	return ok;
}

static void
body_sink_abort(gpointer sink)
{
	store_body_abort(sink);
}

const MfBodySink body_sink = {
	.open = body_sink_open,
	.write = body_sink_write,
	.finish = body_sink_finish,
	.abort = body_sink_abort,
};
