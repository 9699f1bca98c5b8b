/* store_int.h - what the two files of the store (store.c: the index,
 * store_body.c: the bodies) share.  Not for use outside cache/store*.c. */
#ifndef MAILFS_STORE_INT_H
#define MAILFS_STORE_INT_H

#include <sqlite3.h>
#include <sys/stat.h>

#include "cache/store.h"

typedef struct {
	gint64 folder_id;
	guint32 uidvalidity;
	guint32 uid;
	gint64 atime;
} Touch;

struct Store {
	GMutex lock;
	sqlite3 *db;
	GArray *touched;  /* Touch: reads not yet written to the index */
	char *dir;
	char *tmp_dir;
	char *bodies_dir;
	sqlite3_stmt *body_row; /* the query of a body's row, kept prepared
	                         * (every first open of a body runs it) */
};


gboolean store_db_error(Store *s, GError **err, const char *what);
gboolean store_exec(Store *s, const char *sql, GError **err);
sqlite3_stmt *store_prepare(Store *s, const char *sql, GError **err);
/* Creates PATH (and parents) with mode 0700. */
gboolean store_mkdir(const char *path, GError **err);
/* The same for a directory that mostly exists already: one system call
 * then (bodies/F, for each body). */
gboolean store_mkdir_once(const char *path, GError **err);

/* Creates the tables, or brings an older index up to date
 * (store_schema.c). */
gboolean store_schema_apply(Store *s, GError **err);

/* Bodies (store_body.c), called with s->lock held where noted. */
char *store_body_path(Store *s, gint64 folder_id, guint32 uidvalidity,
                      guint32 uid);
/* Writes the read times gathered so far (takes the lock). */
void store_touch_flush(Store *s);

/* What the index records of a body. */
typedef struct {
	guint64 size;
	guint8 sha[32];
	gint64 stamp;   /* the file's mtime in ns when recorded; 0: unknown */
} StoreBodyRow;

/* The mtime of ST in ns, as a body's stamp. */
gint64 store_body_stamp(const struct stat *st);
/* With s->lock held: the row of a body; FALSE if there is none. */
gboolean store_body_row(Store *s, gint64 folder_id, guint32 uidvalidity,
                        guint32 uid, StoreBodyRow *r);
/* With s->lock held: records STAMP as the body's file's mtime. */
void store_body_set_stamp(Store *s, gint64 folder_id, guint32 uidvalidity,
                          guint32 uid, gint64 stamp);
/* With s->lock held: removes the body's row and its file PATH. */
void store_body_forget(Store *s, gint64 folder_id, guint32 uidvalidity,
                       guint32 uid, const char *path);
/* TRUE if the bytes of FD (from its start) have the SHA-256 WANT. */
gboolean store_body_hash_ok(int fd, const guint8 want[32]);

#endif
