/* view_int.h - what the files of the views of mail share: view_ops.c
 * (the requests) and view_content.c (what the files hold, and its
 * caches).  Not for use outside fs/view_*.c. */
#ifndef MAILFS_VIEW_INT_H
#define MAILFS_VIEW_INT_H

#include "fs/view_ops.h"

/* What a view inode names (view_ops.h). */
enum {
	VSUB_ROOT = 0, VSUB_DIR = 1, VSUB_TSV = 2, VSUB_JSONL = 3, /* GEN 0 */
	VSUB_TEXT = 0, VSUB_PARTS = 1, VSUB_PART0 = 2,     /* a message */
};
#define VSUB_MAX 255
#define VIEW_GEN_MAX ((1 << 23) - 1)

typedef struct {
	guint sub;
	gint64 gen;  /* 0: not a message's */
	guint32 id;  /* a folder id, or a UID */
} ViewNode;

ViewNode view_decode(Node n);
/* 0 if GEN is too large to be named. */
fuse_ino_t view_ino(guint sub, gint64 gen, guint32 id);

struct ViewFs {
	GMutex lock;           /* a leaf: held briefly, never across I/O */
	GHashTable *summaries; /* folder id -> ViewSummary* */
	GHashTable *msgs;      /* gen << 32 | uid -> ViewMsg* */
	GQueue lru;            /* ViewMsg*, least recently used first */
	gsize bytes;           /* held by msgs */
};

/* The summary of FOLDER_ID (JSON: the JSON Lines form, else TSV), built
 * when its listing changed since; a reference, owned.  NULL with ERR if
 * the folder has no listing. */
GBytes *view_summary(MfFs *fs, gint64 folder_id, gboolean json,
                     GError **err);
/* The bytes of view SUB (VSUB_TEXT or VSUB_PART0 + i) of message UID of
 * generation GEN, reading (and so fetching, if not cached) its body
 * once; a reference, owned.  MF_ERROR_NOTFOUND if there is no such
 * attachment. */
GBytes *view_message_bytes(MfFs *fs, gint64 gen, guint32 uid, guint sub,
                           GError **err);
/* The file names of its attachments (owned array of owned strings). */
GPtrArray *view_message_names(MfFs *fs, gint64 gen, guint32 uid,
                              GError **err);

#endif
