/* push.c - new mail at once: IDLE on INBOX and on the folder the user
 * looked at last, each on a connection of its own (not from the pool).
 * Flag changes and expunges the server reports there are applied to the
 * listing as they come; new mail (or a change the server cannot name by
 * UID) makes the folder be listed anew, incrementally.  When a watch
 * opens its folder, what the server holds is compared with the listing:
 * what arrived before IDLE started is listed at once. */
#include "cache/push.h"

#include "net/imap_seqset.h"
#include "net/mf_error.h"

/* IDLE is renewed before servers drop it (RFC 2177: at least 29 min). */
#define PUSH_IDLE_SECONDS (25 * 60)
#define PUSH_RETRY_MIN_S 2
#define PUSH_RETRY_MAX_S 60
/* The second watch moves to another folder at most this often. */
#define PUSH_SWITCH_US (30 * G_USEC_PER_SEC)

typedef struct {
	MfAccount *a;
	GThread *thread;
	gint64 folder_id;       /* what to watch; 0: nothing yet */
	MfSession *session;     /* while connected; guarded by Push.lock */
	gboolean idling;
} PushSlot;

struct Push {
	GMutex lock;
	GCond wake;
	gboolean stopping;
	gint64 switched_at;
	PushSlot slots[2];      /* INBOX, and the folder looked at last */
};

static Push *
push_of(MfAccount *a)
{
	return account_push(a);
}

/* The server name of the slot's folder, or NULL. */
static char *
push_folder_name(PushSlot *slot)
{
	MfTree *t = account_tree(slot->a);
	const MfFolder *f = tree_folder(t, slot->folder_id);
	char *name = f && !(f->flags & MF_FOLDER_NOSELECT) ? g_strdup(f->name)
	                                                 : NULL;
	tree_unref(t);
	return name;
}

/* Waits SECONDS, or until woken (a new watch, stopping); FALSE when
 * stopping. */
static gboolean
push_sleep(Push *p, int seconds)
{
	gint64 end = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;

	g_mutex_lock(&p->lock);
	if (!p->stopping && seconds > 0)
		g_cond_wait_until(&p->wake, &p->lock, end);
	gboolean go_on = !p->stopping;
	g_mutex_unlock(&p->lock);
	return go_on;
}

/* What one wait of a watch heard, to apply once it returns. */
typedef struct {
	MfAccount *a;
	gint64 folder_id;
	guint32 uidvalidity;  /* of the folder as the watch opened it */
	GArray *flags;        /* MfRemoteMessage: uid and flags */
	GArray *gone;         /* ImapRange */
} PushHeard;

static void
push_flags_cb(guint32 uid, const char *flags, void *ud)
{
	PushHeard *h = ud;
	MfRemoteMessage m = { .uid = uid, .flags = g_intern_string(flags) };
	g_array_append_val(h->flags, m);
}

static void
push_gone_cb(guint32 first, guint32 last, void *ud)
{
	PushHeard *h = ud;
	ImapRange r = { first, last };
	g_array_append_val(h->gone, r);
}

/* The watch opened its folder: if the listing is not what the server
 * holds (mail came before IDLE could report it), refresh now. */
static void
push_opened_cb(const MfFolderStatus *st, void *ud)
{
	PushHeard *h = ud;
	MfFolderStatus have;

	h->uidvalidity = st->uidvalidity;
	if (!account_listing_state(h->a, h->folder_id, &have))
		return;
	if (have.uidvalidity != st->uidvalidity || have.uidnext != st->uidnext ||
	    have.count != st->count ||
	    (st->highestmodseq && have.highestmodseq != st->highestmodseq)) {
		g_debug("push: folder %" G_GINT64_FORMAT " changed before IDLE; "
		        "refreshing", h->folder_id);
		account_refresh_soon(h->a, h->folder_id);
	}
}

/* One wait on S: changes are applied; TRUE with *RELIST when the folder
 * must be listed again. */
static gboolean
push_wait(PushHeard *h, const MfBackend *be, MfSession *s, const char *name,
          gboolean *relist, GError **err)
{
	MfChangeSink sink = { push_flags_cb, push_gone_cb, push_opened_cb, h };
	gboolean ok;

	g_array_set_size(h->flags, 0);
	g_array_set_size(h->gone, 0);
	ok = be->idle_changes(s, name, PUSH_IDLE_SECONDS, &sink, relist, err);
	if (h->flags->len || h->gone->len)
		account_apply_pushed(h->a, h->folder_id, h->uidvalidity, h->flags,
		                     h->gone);
	return ok;
}

/* One connection's life: connect, then IDLE until it breaks.  TRUE when
 * it ended on purpose: the watch moved, the account may not use the
 * network now, or push is stopping (a stop that came while connecting
 * found no session to interrupt). */
static gboolean
push_session(Push *p, PushSlot *slot, const MfBackend *be, GError **err)
{
	g_autofree char *name = push_folder_name(slot);
	gint64 watching = slot->folder_id;

	if (!name || !account_may_try(slot->a)) {
		g_set_error(err, MF_ERROR, MF_ERROR_OFFLINE, "not now");
		return FALSE;
	}
	MfSession *s = be->connect(account_backend_params(slot->a), err);
	if (!s)
		return FALSE;
	g_mutex_lock(&p->lock);
	slot->session = s;
	gboolean stopping = p->stopping;
	g_mutex_unlock(&p->lock);
	gboolean ok = TRUE;
	g_autoptr(GArray) flags = g_array_new(FALSE, FALSE,
	                                      sizeof(MfRemoteMessage));
	g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(ImapRange));
	PushHeard heard = { slot->a, watching, 0, flags, gone };
	while (!stopping && ok && slot->folder_id == watching &&
	       account_may_try(slot->a)) {
		gboolean relist = FALSE;
		g_mutex_lock(&p->lock);
		slot->idling = TRUE;
		g_mutex_unlock(&p->lock);
		ok = push_wait(&heard, be, s, name, &relist, err);
		if (ok && relist) {
			account_expire_listing(slot->a, watching);
			listing_unref(account_listing_quiet(slot->a, watching,
			                                    NULL));
		}
	}
	g_mutex_lock(&p->lock);
	slot->session = NULL;
	slot->idling = FALSE;
	g_mutex_unlock(&p->lock);
	be->disconnect(s);
	return ok;
}

static gpointer
push_thread(gpointer data)
{
	PushSlot *slot = data;
	Push *p = push_of(slot->a);
	const MfBackend *be = account_backend(slot->a);
	int backoff = PUSH_RETRY_MIN_S;

	for (;;) {
		g_autoptr(GError) err = NULL;
		int pause;
		if (!slot->folder_id) {
			/* Nothing to watch yet: push_watch() wakes us. */
			pause = PUSH_IDLE_SECONDS;
		} else if (mf_error_check(push_session(p, slot, be, &err), &err,
		                          "push")) {
			backoff = PUSH_RETRY_MIN_S;
			pause = 0; /* IDLE renewed, or the watch moved */
		} else {
			if (!g_error_matches(err, MF_ERROR, MF_ERROR_OFFLINE))
				g_debug("push: %s", err->message);
			pause = backoff;
			backoff = MIN(backoff * 2, PUSH_RETRY_MAX_S);
		}
		if (!push_sleep(p, pause))
			return NULL;
	}
}

void
push_start(MfAccount *a, gint64 inbox_id)
{
	Push *p = push_of(a);

	if (!account_backend(a)->idle_changes || p->slots[0].thread)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(p->slots); i++) {
		p->slots[i].a = a;
		p->slots[i].folder_id = i == 0 ? inbox_id : 0;
		p->slots[i].thread = g_thread_new("mailfs-push", push_thread,
		                                  &p->slots[i]);
	}
}

/* Breaks the slot's connection so that its thread notices a change. */
static void
push_interrupt(MfAccount *a, PushSlot *slot)
{
	if (slot->session)
		account_backend(a)->interrupt(slot->session);
}

void
push_watch(MfAccount *a, gint64 folder_id)
{
	Push *p = push_of(a);
	PushSlot *second = &p->slots[1];
	gint64 now = g_get_monotonic_time();

	if (!second->thread || folder_id == p->slots[0].folder_id ||
	    folder_id == second->folder_id)
		return;
	g_mutex_lock(&p->lock);
	if (second->folder_id == 0 || now - p->switched_at >= PUSH_SWITCH_US) {
		second->folder_id = folder_id;
		p->switched_at = now;
		push_interrupt(a, second);
		g_cond_broadcast(&p->wake);
	}
	g_mutex_unlock(&p->lock);
}

gboolean
push_active(MfAccount *a)
{
	Push *p = push_of(a);

	g_mutex_lock(&p->lock);
	gboolean on = p->slots[0].idling || p->slots[1].idling;
	g_mutex_unlock(&p->lock);
	return on;
}

Push *
push_new(void)
{
	Push *p = g_new0(Push, 1);

	g_mutex_init(&p->lock);
	g_cond_init(&p->wake);
	return p;
}

void
push_free(MfAccount *a, Push *p)
{
	if (!p)
		return;
	g_mutex_lock(&p->lock);
	p->stopping = TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(p->slots); i++)
		push_interrupt(a, &p->slots[i]);
	g_cond_broadcast(&p->wake);
	g_mutex_unlock(&p->lock);
	for (guint i = 0; i < G_N_ELEMENTS(p->slots); i++)
		if (p->slots[i].thread)
			g_thread_join(p->slots[i].thread);
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->wake);
	g_free(p);
}

void
push_pause(MfAccount *a)
{
	Push *p = push_of(a);

	if (!p)
		return;
	g_mutex_lock(&p->lock);
	for (guint i = 0; i < G_N_ELEMENTS(p->slots); i++)
		push_interrupt(a, &p->slots[i]);
	g_cond_broadcast(&p->wake);
	g_mutex_unlock(&p->lock);
}
