/* backend_pop3.c - the backend contract (backend.h) over the POP3 client:
 * one folder, INBOX; messages named by UIDL; every message downloaded into
 * the store (MF_BACKEND_CAP_STORE_ALL); deletion by DELE then QUIT. */
#include "cache/backend.h"

#include <string.h>

#include "net/mf_error.h"
#include "net/pop3_client.h"

#define POP3_FOLDER "INBOX"
#define POP3_UIDVALIDITY 1

struct MfSession {
	Pop3Client *pop3;
	GHashTable *nums; /* interned UIDL -> message number, this session */
};

/* One login: the parameters, and the client once it is in. */
typedef struct {
	Pop3ClientParams pp;
	Pop3Client *c;
} Pop3Login;

static gboolean
backend_pop3_login_cb(const char *secret, void *ud, GError **err)
{
	Pop3Login *l = ud;

	l->pp.password = secret;
	l->c = pop3_client_connect(&l->pp, err);
	l->pp.password = NULL;
	return l->c != NULL;
}

static MfSession *
backend_pop3_connect(const MfBackendParams *p, GError **err)
{
	Pop3Login l = { .pp = {
		.url = &p->url,
		.tls = { .ca_file = p->ca_file,
		         .fingerprint = p->tls_fingerprint,
		         .host = p->url.host },
		.user = p->user,
		.auth = p->auth,
		.timeout_ms = p->timeout_ms,
		.message_max = p->message_max,
	} };

	if (!backend_login(p, backend_pop3_login_cb, &l, err))
		return NULL;
	Pop3Client *c = l.c;
	MfSession *s = g_new0(MfSession, 1);
	s->pop3 = c;
	s->nums = g_hash_table_new(NULL, NULL);
	return s;
}

/* Ends without QUIT, so that nothing is deleted by accident. */
static void
backend_pop3_disconnect(MfSession *s)
{
	if (!s)
		return;
	pop3_client_free(s->pop3);
	g_hash_table_unref(s->nums);
	g_free(s);
}

static char *
backend_pop3_describe(MfSession *s)
{
	return pop3_client_describe(s->pop3);
}

/* UIDL (and LIST sizes), remembering each message's number. */
static gboolean
backend_pop3_uidl(MfSession *s, GArray **entries, GError **err)
{
	if (!pop3_client_uidl(s->pop3, entries, err))
		return FALSE;
	g_hash_table_remove_all(s->nums);
	for (guint i = 0; i < (*entries)->len; i++) {
		const Pop3Entry *e = &g_array_index(*entries, Pop3Entry, i);
		g_hash_table_insert(s->nums, (gpointer)g_intern_string(e->uidl),
		                    GUINT_TO_POINTER(e->num));
	}
	return TRUE;
}

/* Also asks UIDL once: a server that cannot give stable ids is refused
 * before anything is mounted. */
static gboolean
backend_pop3_list_folders(MfSession *s, GPtrArray **out, GError **err)
{
	g_autoptr(GArray) entries = NULL;

	if (!backend_pop3_uidl(s, &entries, err))
		return FALSE;
	GPtrArray *res =
		g_ptr_array_new_with_free_func((GDestroyNotify)remote_folder_free);
	MfRemoteFolder *f = g_new0(MfRemoteFolder, 1);

	f->name = g_strdup(POP3_FOLDER);
	f->path = g_strdup(POP3_FOLDER);
	g_ptr_array_add(res, f);
	*out = res;
	return TRUE;
}

static gboolean
backend_pop3_check_folder(const char *folder, GError **err)
{
	if (strcmp(folder, POP3_FOLDER) == 0)
		return TRUE;
	g_set_error(err, MF_ERROR, MF_ERROR_MAILBOX,
	            "a POP3 account has only %s", POP3_FOLDER);
	return FALSE;
}

static gboolean
backend_pop3_list_messages(MfSession *s, const char *folder,
                           MfFolderStatus *status, GArray **msgs,
                           GError **err)
{
	g_autoptr(GArray) entries = NULL;

	if (!backend_pop3_check_folder(folder, err) ||
	    !backend_pop3_uidl(s, &entries, err))
		return FALSE;
	GArray *res = g_array_sized_new(FALSE, FALSE, sizeof(MfRemoteMessage),
	                                entries->len);
	for (guint i = 0; i < entries->len; i++) {
		const Pop3Entry *e = &g_array_index(entries, Pop3Entry, i);
		MfRemoteMessage m = { .size = e->size, .flags = "",
		                      .key = g_intern_string(e->uidl) };
		g_array_append_val(res, m);
	}
	status->uidvalidity = POP3_UIDVALIDITY;
	status->uidnext = 0;
	status->count = res->len;
	*msgs = res;
	return TRUE;
}

typedef struct {
	const MfBodySink *sink;
	gpointer body;
} RetrCtx;

static gboolean
backend_pop3_write_cb(const char *data, size_t len, void *ud, GError **err)
{
	RetrCtx *r = ud;
	return r->sink->write(r->body, data, len, err);
}

/* The number of KEY in this session (asking UIDL first if needed); 0 if
 * the server no longer has it. */
static guint32
backend_pop3_num(MfSession *s, const char *key, GError **err)
{
	g_autoptr(GArray) entries = NULL;

	if (g_hash_table_size(s->nums) == 0 &&
	    !backend_pop3_uidl(s, &entries, err))
		return G_MAXUINT32;
	return GPOINTER_TO_UINT(g_hash_table_lookup(s->nums,
	                                            g_intern_string(key)));
}

static gboolean
backend_pop3_fetch_one(MfSession *s, const MfRemoteMessage *m,
                       const MfBodySink *sink, void *ud, GError **err)
{
	guint32 num = m->key ? backend_pop3_num(s, m->key, err) : 0;
	RetrCtx r = { sink, NULL };

	if (num == G_MAXUINT32)
		return FALSE;
	if (num == 0)
		return TRUE; /* gone from the server */
	r.body = sink->open(m->size, ud, err);
	if (!r.body)
		return FALSE;
	if (!pop3_client_retr(s->pop3, num, backend_pop3_write_cb, &r, NULL,
	                      err)) {
		sink->abort(r.body);
		return FALSE;
	}
	return sink->finish(r.body, m->uid, ud, err);
}

static gboolean
backend_pop3_fetch_bodies(MfSession *s, const char *folder,
                          guint32 uidvalidity, const MfRemoteMessage *msgs,
                          guint n, const MfBodySink *sink, void *ud,
                          GError **err)
{
	if (!backend_pop3_check_folder(folder, err))
		return FALSE;
	for (guint i = 0; i < n; i++)
		if (!backend_pop3_fetch_one(s, &msgs[i], sink, ud, err))
			return FALSE;
	return TRUE;
}

static gboolean
backend_pop3_delete_messages(MfSession *s, const char *folder,
                             guint32 uidvalidity, const MfRemoteMessage *msgs,
                             guint n, GError **err)
{
	if (!backend_pop3_check_folder(folder, err))
		return FALSE;
	for (guint i = 0; i < n; i++) {
		guint32 num = backend_pop3_num(s, msgs[i].key, err);
		if (num == G_MAXUINT32)
			return FALSE;
		if (num != 0 && !pop3_client_dele(s->pop3, num, err))
			return FALSE;
	}
	/* Deletions happen at QUIT, and end the session. */
	return pop3_client_quit(s->pop3, err);
}

/* A POP3 session shows the maildrop as it was at login, so every listing
 * needs a new one. */
static gboolean
backend_pop3_reusable(MfSession *s)
{
	return FALSE;
}

const MfBackend backend_pop3 = {
	.reusable = backend_pop3_reusable,
	.name = "pop3",
	.caps = MF_BACKEND_CAP_STORE_ALL | MF_BACKEND_CAP_DELETE,
	.connect = backend_pop3_connect,
	.disconnect = backend_pop3_disconnect,
	.list_folders = backend_pop3_list_folders,
	.list_messages = backend_pop3_list_messages,
	.fetch_bodies = backend_pop3_fetch_bodies,
	.delete_messages = backend_pop3_delete_messages,
	.describe = backend_pop3_describe,
};
