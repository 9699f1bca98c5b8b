/* view_int.h - what the files of the views of mail share: view_ops.c
 * (the requests) and view_content.c (what the files hold, and its
 * caches).  Not for use outside fs/view_*.c. */
#ifndef MAILFS_VIEW_INT_H
#define MAILFS_VIEW_INT_H

#include "fs/view_ops.h"

/* What a view inode names (view_ops.h). */
enum {
	VSUB_ROOT = 0, VSUB_DIR = 1, VSUB_TSV = 2, VSUB_JSONL = 3, /* GEN 0 */
	VSUB_SEARCH = 4, VSUB_QUERY = 5, VSUB_LINK = 6,           /* GEN 0 */
	VSUB_TEXT = 0, VSUB_PARTS = 1, VSUB_PART0 = 2,     /* a message */
};
#define VSUB_MAX 255
#define VIEW_GEN_MAX ((1 << 23) - 1)

typedef struct {
	guint sub;
	gint64 gen;  /* 0: not a message's */
	guint32 id;  /* a folder id, or a UID */
} ViewNode;

ViewNode view_ops_decode(Node n);
/* 0 if GEN is too large to be named. */
fuse_ino_t view_ops_ino(guint sub, gint64 gen, guint32 id);

struct ViewFs {
	GMutex lock;           /* a leaf: held briefly, never across I/O */
	GHashTable *summaries; /* folder id -> ViewSummary* */
	GHashTable *msgs;      /* gen << 32 | uid -> ViewMsg* */
	GQueue lru;            /* ViewMsg*, least recently used first */
	gsize bytes;           /* held by msgs */
	GQueue queries;        /* ViewQuery*, the recent searches, newest
	                        * last (view_search.c) */
	guint32 next_query;
};

/* A query dir's id is QID; a result link's QID << VIEW_LINK_SHIFT | i. */
#define VIEW_QUERY_IDS (1u << 12)
#define VIEW_LINK_SHIFT 20
#define VIEW_LINKS_MAX ((1u << VIEW_LINK_SHIFT) - 1)

/* .mailfs/search/ (view_search.c).  Looks up (and runs) the query NAME:
 * the inode of its directory, or 0 with ERR. */
fuse_ino_t view_search_lookup(MfFs *fs, const char *name, GError **err);
/* The entries of .mailfs/search/ (the recent queries) or of query QID
 * (run again when its results are older than a second); FALSE if QID is
 * no longer known. */
void view_search_fill_root(MfFs *fs, GArray *dir);
gboolean view_search_fill_query(MfFs *fs, guint32 qid, GArray *dir);
/* The inode of result NAME of query QID, or 0. */
fuse_ino_t view_search_lookup_link(MfFs *fs, guint32 qid, const char *name);
/* The target of result link ID (owned), or NULL. */
char *view_search_target(MfFs *fs, guint32 id);
/* TRUE if query QID is known. */
gboolean view_search_known(MfFs *fs, guint32 qid);
void view_search_free_all(struct ViewFs *v);

/* Sets up FS->views, and frees it (view_content.c). */
void view_content_init(MfFs *fs);
void view_content_cleanup(MfFs *fs);

/* The summary of FOLDER_ID (JSON: the JSON Lines form, else TSV), built
 * when its listing changed since; a reference, owned.  NULL with ERR if
 * the folder has no listing. */
GBytes *view_content_summary(MfFs *fs, gint64 folder_id, gboolean json,
                     GError **err);
/* The bytes of view SUB (VSUB_TEXT or VSUB_PART0 + i) of message UID of
 * generation GEN, reading (and so fetching, if not cached) its body
 * once; a reference, owned.  MF_ERROR_NOTFOUND if there is no such
 * attachment. */
GBytes *view_content_message_bytes(MfFs *fs, gint64 gen, guint32 uid, guint sub,
                           GError **err);
/* The file names of its attachments (owned array of owned strings). */
GPtrArray *view_content_message_names(MfFs *fs, gint64 gen, guint32 uid,
                              GError **err);

#endif
