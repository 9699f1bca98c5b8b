/* account_change.c - message changes asked for through the mount, turned
 * into journal records (journal.c runs them). */
#include "cache/account_change.h"

#include "cache/account_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cache/append_msg.h"
#include "cache/journal.h"
#include "net/mf_error.h"

static gboolean
account_change_submit(MfAccount *a, StorePending *p, GError **err)
{
	gboolean ok = journal_submit(a, p, err);
	store_pending_clear(p);
	return ok;
}

/* Fills P's message fields from (GEN, UID). */
static gboolean
account_change_resolve(MfAccount *a, gint64 gen, guint32 uid,
                       StorePending *p, GError **err)
{
	if (!account_generation_folder(a, gen, &p->folder_id,
	                               &p->uidvalidity)) {
		g_set_error(err, MF_ERROR, MF_ERROR_NOTFOUND,
		            "message %u is gone", uid);
		return FALSE;
	}
	p->uid = uid;
	return TRUE;
}

/* Sets P's replace fields: a message of FOLDER_ID. */
static void
account_change_replacing(MfAccount *a, gint64 folder_id, gint64 gen,
                         guint32 uid, StorePending *p)
{
	gint64 f;
	guint32 uv;

	if (uid && account_generation_folder(a, gen, &f, &uv) &&
	    f == folder_id) {
		p->replace_uv = uv;
		p->replace_uid = uid;
	}
}

static gboolean
account_change_save(const char *path, const void *data, gsize len,
                    GError **err)
{
	GError *e = NULL;

	if (g_file_set_contents_full(path, data, (gssize)len,
	                             G_FILE_SET_CONTENTS_CONSISTENT, 0600, &e))
		return TRUE;
	g_set_error(err, MF_ERROR, g_error_matches(e, G_FILE_ERROR,
	                                           G_FILE_ERROR_NOSPC)
	            ? MF_ERROR_NOSPACE : MF_ERROR_LOCAL, "%s", e->message);
	g_error_free(e);
	return FALSE;
}

/* Writes the two files an append needs: the bytes as written (read back
 * under the name) and as sent (CRLF, with a Message-ID). */
static gboolean
account_change_files(MfAccount *a, gint64 folder_id, const char *data,
                     gsize len, StorePending *p, GError **err)
{
	g_autoptr(GBytes) sent = append_msg_prepare(data, len, &p->msgid);
	gsize sent_len = 0;
	const char *sent_data = g_bytes_get_data(sent, &sent_len);

	p->written = store_written_path(account_store(a), folder_id);
	if (!p->written) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL,
		            "cannot make the cache's written/ directory");
		return FALSE;
	}
	p->path = g_strdup_printf("%s.sent", p->written);
	if (account_change_save(p->written, data, len, err) &&
	    account_change_save(p->path, sent_data, sent_len, err))
		return TRUE;
	unlink(p->written);
	unlink(p->path);
	return FALSE;
}

/* TRUE if DATA begins with every byte of message UID of GEN: a file
 * added to in a second step (`>>` twice), whose old version then goes
 * for good rather than to Trash, since the new one holds all of it. */
static gboolean
account_change_extends(MfAccount *a, gint64 gen, guint32 uid,
                       const char *data, gsize len)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *old = g_malloc(len + 1);
	int fd = account_open_message(a, gen, uid, &err);
	gsize got = 0;

	if (fd < 0)
		return FALSE;
	while (got <= len) {
		ssize_t n = pread(fd, old + got, len + 1 - got, (off_t)got);
		if (n <= 0)
			break;
		got += (gsize)n;
	}
	close(fd);
	return got > 0 && got <= len && memcmp(old, data, got) == 0;
}

gboolean
account_add_message(MfAccount *a, gint64 folder_id, const char *name,
                    const char *path, gint64 date, const char *flags,
                    gint64 replace_gen, guint32 replace_uid, GError **err)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	GError *e = NULL;
	StorePending p = { .op = JOURNAL_APPEND, .folder_id = folder_id,
	                   .name = g_strdup(name), .flags = g_strdup(flags),
	                   .date = date ? date
	                                : g_get_real_time() / G_USEC_PER_SEC };

	if (!g_file_get_contents(path, &data, &len, &e)) {
		g_set_error(err, MF_ERROR, MF_ERROR_LOCAL, "%s", e->message);
		g_error_free(e);
		store_pending_clear(&p);
		return FALSE;
	}
	if (!append_msg_check(data, len, err) ||
	    !account_change_files(a, folder_id, data, len, &p, err)) {
		store_pending_clear(&p);
		return FALSE;
	}
	account_change_replacing(a, folder_id, replace_gen, replace_uid, &p);
	if (p.replace_uid &&
	    account_change_extends(a, replace_gen, replace_uid, data, len))
		p.dest_id = 1;
	return account_change_submit(a, &p, err);
}

gboolean
account_remove_message(MfAccount *a, gint64 gen, guint32 uid,
                       gboolean expunge, GError **err)
{
	StorePending p = { .op = JOURNAL_REMOVE, .dest_id = expunge ? 1 : 0 };
	gint64 change = journal_ghost_change(uid);

	if (!account_change_resolve(a, gen, uid, &p, err))
		return FALSE;
	if (change && journal_cancel(a, change))
		return TRUE;
	if (change) {
		g_set_error(err, MF_ERROR, MF_ERROR_BUSY,
		            "the message is on its way to the server");
		return FALSE;
	}
	return account_change_submit(a, &p, err);
}

gboolean
account_move_message(MfAccount *a, gint64 gen, guint32 uid, gint64 dest_id,
                     const char *name, gint64 replace_gen,
                     guint32 replace_uid, GError **err)
{
	StorePending p = { .op = JOURNAL_MOVE, .dest_id = dest_id,
	                   .name = g_strdup(name) };

	if (!account_change_resolve(a, gen, uid, &p, err)) {
		store_pending_clear(&p);
		return FALSE;
	}
	if (journal_ghost_change(uid)) {
		store_pending_clear(&p);
		g_set_error(err, MF_ERROR, MF_ERROR_BUSY,
		            "the message is on its way to the server");
		return FALSE;
	}
	account_change_replacing(a, dest_id, replace_gen, replace_uid, &p);
	return account_change_submit(a, &p, err);
}

gboolean
account_flag_message(MfAccount *a, gint64 gen, guint32 uid,
                     const char *flags, GError **err)
{
	StorePending p = { .op = JOURNAL_FLAGS, .flags = g_strdup(flags) };

	if (!account_change_resolve(a, gen, uid, &p, err)) {
		store_pending_clear(&p);
		return FALSE;
	}
	return account_change_submit(a, &p, err);
}
