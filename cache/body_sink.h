/* body_sink.h - the one MfBodySink that puts fetched bodies into the
 * store, shared by the mount's reads (account_body.c), `mailfs sync`
 * (sync.c) and STORE_ALL backends (storeall.c).  Each says through its
 * hooks which bodies it keeps and hears of those stored; the sink does
 * the store's part (a temporary file, then committed durably at once, or
 * added to a batch that the caller commits). */
#ifndef MAILFS_BODY_SINK_H
#define MAILFS_BODY_SINK_H

#include "cache/backend.h"
#include "cache/store.h"

typedef struct {
	Store *store;
	StoreBatch *batch;     /* NULL: each body committed durably at once */
	gint64 folder_id;
	guint32 uidvalidity;
	/* Before a body comes: FALSE with *ERR stops the fetch.  NULL: go
	 * on. */
	gboolean (*go_on)(void *ud, GError **err);
	/* Body UID has arrived, SIZE bytes: TRUE to store it, FALSE to drop
	 * it (not an error; the fetch goes on).  NULL: keep every one. */
	gboolean (*accept)(guint32 uid, guint64 size, void *ud);
	/* Body UID of SIZE bytes is stored (or in the batch).  May be NULL. */
	void (*stored)(guint32 uid, guint64 size, void *ud);
	void *ud;
} BodySink;

/* The sink; the UD it is given with it is a BodySink*, borrowed. */
extern const MfBodySink body_sink;

#endif
