/* backend_imap.c - the backend contract (backend.h) implemented over the
 * IMAP client: folder names decoded and split into display paths, listings
 * and pipelined body fetches. */
#include "cache/backend.h"

#include <string.h>

#include "net/mf_error.h"
#include "net/mutf7.h"

#include "cache/backend_imap_int.h"

/* One login: the parameters, and the client once it is in. */
typedef struct {
	MfImapClientParams ip;
	MfImapClient *c;
} ImapLogin;

static gboolean
backend_imap_login_cb(const char *secret, void *ud, GError **err)
{
	ImapLogin *l = ud;

	l->ip.secret = secret;
	l->c = imap_client_connect(&l->ip, err);
	l->ip.secret = NULL;
	return l->c != NULL;
}

static MfSession *
backend_imap_connect(const MfBackendParams *p, GError **err)
{
	ImapLogin l = { .ip = {
		.server = &p->server,
		.literal_max = p->message_max,
	} };

	if (!backend_login(p, backend_imap_login_cb, &l, err))
		return NULL;
	MfImapClient *c = l.c;
	MfSession *s = g_new0(MfSession, 1);
	s->imap = c;
	return s;
}

static void
backend_imap_disconnect(MfSession *s)
{
	if (!s)
		return;
	imap_client_free(s->imap);
	g_free(s->watching);
	g_free(s);
}

static char *
backend_imap_describe(MfSession *s)
{
	return imap_client_describe(s->imap);
}

/* One path component for the file system: '/' cannot appear in a file
 * name, so it is shown as "%2F".  "." and ".." and "" are unusable. */
static char *
backend_imap_component(const char *part)
{
	if (part[0] == '\0' || strcmp(part, ".") == 0 || strcmp(part, "..") == 0)
		return NULL;
	if (!strchr(part, '/'))
		return g_strdup(part);
	g_auto(GStrv) bits = g_strsplit(part, "/", -1);
	return g_strjoinv("%2F", bits);
}

/* Display path of a mailbox: decoded from modified UTF-7 and split at the
 * hierarchy delimiter.  NULL if it cannot be shown. */
static char *
backend_imap_path(const ImapMailbox *m)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *utf8 = mutf7_decode(m->name, &err);

	if (!utf8) {
		g_warning("mailbox \"%s\" skipped: %s", m->name, err->message);
		return NULL;
	}
	char delim[2] = { m->delim, '\0' };
	g_auto(GStrv) parts = m->delim ? g_strsplit(utf8, delim, -1)
	                               : g_strsplit(utf8, "\x01", 1);
	g_autoptr(GPtrArray) comps = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; parts[i]; i++) {
		char *c = backend_imap_component(parts[i]);
		if (!c) {
			g_warning("mailbox \"%s\" skipped: its name cannot be a "
			          "directory name", utf8);
			return NULL;
		}
		g_ptr_array_add(comps, c);
	}
	g_ptr_array_add(comps, NULL);
	return g_strjoinv("/", (char **)comps->pdata);
}

static guint
backend_imap_folder_flags(guint attrs)
{
	static const struct { guint imap, mf; } map[] = {
		{ IMAP_MBOX_NOSELECT, MF_FOLDER_NOSELECT },
		{ IMAP_MBOX_SENT, MF_FOLDER_SENT },
		{ IMAP_MBOX_TRASH, MF_FOLDER_TRASH },
		{ IMAP_MBOX_DRAFTS, MF_FOLDER_DRAFTS },
		{ IMAP_MBOX_ARCHIVE, MF_FOLDER_ARCHIVE },
		{ IMAP_MBOX_JUNK, MF_FOLDER_JUNK },
	};
	guint flags = 0;

	for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
		if (attrs & map[i].imap)
			flags |= map[i].mf;
	return flags;
}

static gboolean
backend_imap_list_folders(MfSession *s, GPtrArray **out, GError **err)
{
	g_autoptr(GPtrArray) boxes = NULL;

	if (!imap_client_list(s->imap, &boxes, err))
		return FALSE;
	GPtrArray *res =
		g_ptr_array_new_with_free_func((GDestroyNotify)remote_folder_free);
	for (guint i = 0; i < boxes->len; i++) {
		const ImapMailbox *m = boxes->pdata[i];
		char *path = backend_imap_path(m);
		if (!path)
			continue;
		MfRemoteFolder *f = g_new0(MfRemoteFolder, 1);
		f->name = g_strdup(m->name);
		f->path = path;
		f->flags = backend_imap_folder_flags(m->attrs);
		g_ptr_array_add(res, f);
	}
	*out = res;
	return TRUE;
}

typedef struct {
	const char *folder;
	GArray *msgs; /* MfRemoteMessage */
} ListCtx;

/* One message of a listing.  What the server got wrong in its reply is
 * logged; a message without a usable UID or size is left out, the rest
 * of the folder is listed regardless. */
static void
backend_imap_meta_cb(const ImapMeta *meta, void *ud)
{
	ListCtx *l = ud;

	if (meta->problem && meta->usable)
		g_warning("folder %s, UID %u: %s", l->folder, meta->uid,
		          meta->problem);
	else if (meta->problem)
		g_warning("folder %s: a message is not listed: %s", l->folder,
		          meta->problem);
	if (!meta->usable)
		return;
	MfRemoteMessage m = { meta->uid, meta->size, meta->internaldate,
	                      g_intern_string(meta->flags), NULL };
	g_array_append_val(l->msgs, m);
}

static gint
backend_imap_uid_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = ((const MfRemoteMessage *)a)->uid;
	guint32 y = ((const MfRemoteMessage *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Sorts MSGS by UID and keeps one entry per UID: the last the server
 * sent (g_array_sort is stable), since a later reply is the newer. */
static void
backend_imap_sort_unique(const char *folder, GArray *msgs)
{
	MfRemoteMessage *m;
	guint n = 0;
	guint32 warned = 0; /* no message has UID 0 */

	m = (MfRemoteMessage *)msgs->data;
	/* Servers answer in UID order: the sort (and the copy of the whole
	 * listing it makes) is for those that do not. */
	for (guint i = 1; i < msgs->len; i++) {
		if (m[i - 1].uid > m[i].uid) {
			g_array_sort(msgs, backend_imap_uid_cmp);
			break;
		}
	}
	m = (MfRemoteMessage *)msgs->data;
	for (guint i = 0; i < msgs->len; i++) {
		if (n == 0 || m[n - 1].uid != m[i].uid) {
			m[n++] = m[i];
			continue;
		}
		if (warned != m[i].uid)
			g_warning("folder %s: the server listed UID %u more "
			          "than once; it is listed once", folder,
			          m[i].uid);
		warned = m[i].uid;
		m[n - 1] = m[i];
	}
	g_array_set_size(msgs, n);
}

gboolean
backend_imap_fetch_listing(MfSession *s, const char *folder,
                           const char *uidset, GArray *out, GError **err)
{
	g_autofree char *shown = g_strescape(folder, NULL);
	ListCtx l = { shown, out };

	if (!imap_client_fetch_meta(s->imap, uidset, backend_imap_meta_cb, &l,
	                            err))
		return FALSE;
	backend_imap_sort_unique(shown, out);
	return TRUE;
}

gboolean
backend_imap_list_messages(MfSession *s, const char *folder,
                           MfFolderStatus *status, GArray **msgs,
                           GError **err)
{
	ImapSelectInfo info;
	g_autoptr(GArray) res = g_array_new(FALSE, FALSE,
	                                    sizeof(MfRemoteMessage));

	if (!imap_client_examine(s->imap, folder, TRUE, &info, err))
		return FALSE;
	if (info.exists > 0 &&
	    !backend_imap_fetch_listing(s, folder, "1:*", res, err))
		return FALSE;
	status->uidvalidity = info.uidvalidity;
	status->uidnext = info.uidnext;
	status->count = res->len;
	status->highestmodseq = info.highestmodseq;
	*msgs = g_steal_pointer(&res);
	return TRUE;
}

char *
backend_imap_uidset(const MfRemoteMessage *msgs, guint n)
{
	g_autofree guint32 *uids = g_new(guint32, n);

	for (guint i = 0; i < n; i++)
		uids[i] = msgs[i].uid;
	return imap_seqset_format(uids, n);
}

gboolean
backend_imap_open(MfSession *s, const char *folder, guint32 uidvalidity,
                  gboolean writable, GError **err)
{
	ImapSelectInfo info;

	if (!imap_client_select(s->imap, folder, writable, FALSE, &info, err))
		return FALSE;
	if (info.uidvalidity != uidvalidity) {
		g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
		            "mailbox %s was recreated (UIDVALIDITY changed)",
		            folder);
		return FALSE;
	}
	return TRUE;
}

/* Passes bodies on to the caller's sink and notes which UIDs came. */
typedef struct {
	const MfBodySink *sink;
	void *ud;
	GHashTable *asked; /* UIDs asked for */
	GHashTable *got;   /* UIDs handed on to the sink */
} FetchWrap;

/* A body not asked for, or sent a second time, is dropped. */
static gboolean
backend_imap_finish_cb(gpointer body, guint32 uid, void *ud, GError **err)
{
	FetchWrap *w = ud;

	if (!g_hash_table_contains(w->asked, GUINT_TO_POINTER(uid)) ||
	    !g_hash_table_add(w->got, GUINT_TO_POINTER(uid))) {
		w->sink->abort(body);
		return TRUE;
	}
	return w->sink->finish(body, uid, w->ud, err);
}

static gpointer
backend_imap_open_cb(guint64 size, void *ud, GError **err)
{
	FetchWrap *w = ud;
	return w->sink->open(size, w->ud, err);
}

static gboolean
backend_imap_fetch_set(MfSession *s, const MfRemoteMessage *msgs, guint n,
                       FetchWrap *w, GError **err)
{
	g_autofree char *set = backend_imap_uidset(msgs, n);
	ImapBodySink is = { backend_imap_open_cb, w->sink->write,
	                    backend_imap_finish_cb, w->sink->abort };

	return imap_client_fetch_bodies(s->imap, set, &is, w, err);
}

/* The messages of MSGS whose bodies did not come. */
static GArray *
backend_imap_missing(const MfRemoteMessage *msgs, guint n, FetchWrap *w)
{
	GArray *missing = g_array_new(FALSE, FALSE, sizeof(MfRemoteMessage));

	for (guint i = 0; i < n; i++) {
		gpointer uid = GUINT_TO_POINTER(msgs[i].uid);
		if (!g_hash_table_contains(w->got, uid))
			g_array_append_val(missing, msgs[i]);
	}
	return missing;
}

/* Bodies that did not come although the server still has their
 * messages (it answered OK without them) fail the fetch: only messages
 * that are gone are skipped. */
static gboolean
backend_imap_check_missing(MfSession *s, GArray *missing, GError **err)
{
	g_autoptr(GHashTable) present = g_hash_table_new(NULL, NULL);
	g_autofree char *set = backend_imap_uidset(
		(const MfRemoteMessage *)missing->data, missing->len);
	guint32 first = 0;
	guint n = 0;

	if (!imap_client_fetch_uids(s->imap, set, present, err))
		return FALSE;
	for (guint i = 0; i < missing->len; i++) {
		guint32 uid = g_array_index(missing, MfRemoteMessage, i).uid;
		if (g_hash_table_contains(present, GUINT_TO_POINTER(uid)) &&
		    n++ == 0)
			first = uid;
	}
	if (n == 0)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_MESSAGE,
	            "the server did not send the body of UID %u%s although it "
	            "still has the message", first,
	            n > 1 ? " and others" : "");
	return FALSE;
}

static gboolean
backend_imap_fetch_bodies(MfSession *s, const char *folder,
                          guint32 uidvalidity, const MfRemoteMessage *msgs,
                          guint n, const MfBodySink *sink, void *ud,
                          GError **err)
{
	g_autoptr(GHashTable) asked = g_hash_table_new(NULL, NULL);
	g_autoptr(GHashTable) got = g_hash_table_new(NULL, NULL);
	FetchWrap w = { sink, ud, asked, got };

	if (n == 0)
		return TRUE;
	for (guint i = 0; i < n; i++)
		g_hash_table_add(asked, GUINT_TO_POINTER(msgs[i].uid));
	if (!backend_imap_open(s, folder, uidvalidity, FALSE, err) ||
	    !backend_imap_fetch_set(s, msgs, n, &w, err))
		return FALSE;
	if (g_hash_table_size(got) == g_hash_table_size(asked))
		return TRUE;
	/* A session that selected the folder earlier may not know of
	 * messages that arrived since: NOOP brings them, then ask again for
	 * what did not come. */
	g_autoptr(GArray) missing = backend_imap_missing(msgs, n, &w);
	if (!imap_client_noop(s->imap, err) ||
	    !backend_imap_fetch_set(s, (const MfRemoteMessage *)missing->data,
	                            missing->len, &w, err))
		return FALSE;
	g_autoptr(GArray) still = backend_imap_missing(msgs, n, &w);
	return still->len == 0 || backend_imap_check_missing(s, still, err);
}

const MfBackend backend_imap = {
	.name = "imap",
	.caps = MF_BACKEND_CAP_FOLDERS | MF_BACKEND_CAP_FLAGS |
	        MF_BACKEND_CAP_APPEND | MF_BACKEND_CAP_DELETE |
	        MF_BACKEND_CAP_WRITE,
	.delete_messages = backend_imap_delete_messages,
	.move_messages = backend_imap_move_messages,
	.set_flags = backend_imap_set_flags,
	.create_folder = backend_imap_create_folder,
	.delete_folder = backend_imap_delete_folder,
	.rename_folder = backend_imap_rename_folder,
	.idle_changes = backend_imap_idle_changes,
	.resync_messages = backend_imap_resync,
	.interrupt = backend_imap_interrupt,
	.append = backend_imap_append,
	.find_message_id = backend_imap_find_message_id,
	.connect = backend_imap_connect,
	.disconnect = backend_imap_disconnect,
	.list_folders = backend_imap_list_folders,
	.list_messages = backend_imap_list_messages,
	.fetch_bodies = backend_imap_fetch_bodies,
	.describe = backend_imap_describe,
	.fetch_headers = backend_imap_fetch_headers,
	.search = backend_imap_search,
};
