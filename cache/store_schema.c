/* store_schema.c - the tables of index.sqlite and the ordered migrations
 * that bring an older cache up to date (PRAGMA user_version). */
#include "cache/store_int.h"

#include "net/mf_error.h"

/* Version 1: the tables as they were before caches had a version. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS folders ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE, path TEXT NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  present INTEGER NOT NULL DEFAULT 1,"
	"  uidvalidity INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS messages ("
	"  folder INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  size INTEGER NOT NULL, date INTEGER NOT NULL, flags TEXT NOT NULL,"
	"  key TEXT,"
	"  PRIMARY KEY (folder, uid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS pending ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, op INTEGER NOT NULL,"
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, dest INTEGER NOT NULL, flags TEXT,"
	"  path TEXT, date INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS keys ("
	"  folder INTEGER NOT NULL, key TEXT NOT NULL, uid INTEGER NOT NULL,"
	"  PRIMARY KEY (folder, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS generations ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  UNIQUE (folder, uidvalidity));"
	"CREATE TABLE IF NOT EXISTS bodies ("
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, size INTEGER NOT NULL, sha256 BLOB NOT NULL,"
	"  atime INTEGER NOT NULL DEFAULT 0,"
	"  pinned INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS bodies_atime ON bodies (pinned, atime);";

/* Version 2: names given through the mount, and what the journal needs
 * to append such a file exactly once and then replace the old one. */
static const char schema_v2[] =
	"CREATE TABLE names ("
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, name TEXT NOT NULL,"
	"  size INTEGER NOT NULL DEFAULT 0, written TEXT,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX names_by_name ON names (folder, uidvalidity, name);"
	"ALTER TABLE pending ADD COLUMN name TEXT;"
	"ALTER TABLE pending ADD COLUMN written TEXT;"
	"ALTER TABLE pending ADD COLUMN replace_uv INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pending ADD COLUMN replace_uid INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pending ADD COLUMN msgid TEXT;"
	"ALTER TABLE pending ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;";

/* Version 3: the views of mail: the summaries of messages, from their
 * header fields (store_summary.c), and the full-text index of cached
 * bodies for searching offline (store_search.c). */
static const char schema_v3[] =
	"CREATE TABLE summaries ("
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, sender TEXT NOT NULL, subject TEXT NOT NULL,"
	"  attach INTEGER NOT NULL,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;"
	/* The offline search of .mailfs/search/ (store_search.c): the
	 * decoded headers and text of cached bodies, and which are in. */
	"CREATE VIRTUAL TABLE search_text USING fts5("
	"  sender, recipients, subject, body,"
	"  folder UNINDEXED, uidvalidity UNINDEXED, uid UNINDEXED);"
	"CREATE TABLE search_indexed ("
	"  folder INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  PRIMARY KEY (folder, uidvalidity, uid)) WITHOUT ROWID;";

/* Version 4: what an incremental refresh (CONDSTORE/QRESYNC, or a STATUS
 * probe) compares with the server: the HIGHESTMODSEQ and UIDNEXT of the
 * stored listing (0: unknown, a full listing comes first). */
static const char schema_v4[] =
	"ALTER TABLE folders ADD COLUMN highestmodseq INTEGER NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE folders ADD COLUMN uidnext INTEGER NOT NULL DEFAULT 0;";

/* Version 5: the mtime (ns) of each body's file when it was recorded, so
 * that opening it checks its SHA-256 only when the file is not that one
 * (0: recorded before; checked at its next open); `mailfs verify` checks
 * them all. */
static const char schema_v5[] =
	"ALTER TABLE bodies ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0;";

/* The migrations in order: migrations[i] brings version i to i + 1. */
static const char *const migrations[] = { schema_v1, schema_v2, schema_v3,
                                          schema_v4, schema_v5 };

static int
store_schema_version(Store *s)
{
	sqlite3_stmt *st = store_prepare(s, "PRAGMA user_version", NULL);
	int v = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static gboolean
store_schema_step(Store *s, int from, GError **err)
{
	g_autofree char *bump = g_strdup_printf("PRAGMA user_version = %d",
	                                        from + 1);

	if (!store_exec(s, "BEGIN IMMEDIATE", err))
		return FALSE;
	if (store_exec(s, migrations[from], err) && store_exec(s, bump, err) &&
	    store_exec(s, "COMMIT", err))
		return TRUE;
	store_exec(s, "ROLLBACK", NULL);
	return FALSE;
}

int
store_schema_latest(void)
{
	return (int)G_N_ELEMENTS(migrations);
}

gboolean
store_schema_apply(Store *s, GError **err)
{
	int v = store_schema_version(s);

	if (v < 0)
		return store_db_error(s, err, "read the schema version");
	if (v > store_schema_latest()) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cache index %s was made by a newer mailfs (schema "
		            "%d, this one knows %d); use that version or remove "
		            "the cache directory", s->dir, v,
		            store_schema_latest());
		return FALSE;
	}
	for (; v < store_schema_latest(); v++)
		if (!store_schema_step(s, v, err))
			return FALSE;
	return TRUE;
}
