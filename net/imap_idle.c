/* imap_idle.c - IMAP IDLE (RFC 2177): wait on the selected mailbox until
 * the server reports a change, the time runs out, or another thread
 * interrupts the connection.  Flag changes and VANISHED go to the
 * caller's sink as they come. */
#include "net/imap_client_int.h"

#include "net/mf_error.h"

/* How long one wait for input lasts between checks of the clocks. */
#define IDLE_SLICE_MS 5000
/* A wall clock that jumps this much more than the monotonic one means the
 * machine was suspended: the connection is probably dead. */
#define IDLE_SUSPEND_US (20 * G_USEC_PER_SEC)
/* FETCH replies without UID asked again at most: more is a resync. */
#define IDLE_SEQS_MAX 1000u

typedef struct {
	const ImapChangeSink *sink;
	ImapIdleReport *rep;
	GArray *seqs;           /* guint32 sequence numbers of FETCH replies
	                         * without UID */
} IdleCtx;

/* A FETCH reply without UID (no QRESYNC): its message is asked for by
 * sequence number after DONE. */
static void
imap_idle_note_seq(IdleCtx *x, const ImapResponse *r)
{
	guint32 seq;

	if (!imap_value_get_u32(r->args->pdata[0], &seq) ||
	    x->seqs->len >= IDLE_SEQS_MAX)
		x->rep->resync = TRUE;
	else
		g_array_append_val(x->seqs, seq);
}

/* An EXPUNGE of message number SEQ renumbers the ones after it: the
 * numbers noted stay those of the same messages. */
static void
imap_idle_renumber(IdleCtx *x, const ImapResponse *r)
{
	guint32 seq, *v = (guint32 *)x->seqs->data;
	guint n = 0;

	if (!imap_value_get_u32(r->args->pdata[0], &seq)) {
		g_array_set_size(x->seqs, 0);
		return;
	}
	for (guint i = 0; i < x->seqs->len; i++) {
		if (v[i] == seq)
			continue;
		v[n++] = v[i] > seq ? v[i] - 1 : v[i];
	}
	g_array_set_size(x->seqs, n);
}

/* Untagged data while idling. */
static void
imap_idle_note(IdleCtx *x, const ImapResponse *r)
{
	int v;

	if (r->kind != IMAP_RESP_UNTAGGED || r->status)
		return;
	if ((v = imap_client_change_vanished(r, x->sink)) >= 0) {
		x->rep->changed = TRUE;
		x->rep->resync |= v == 0;
		return;
	}
	if (r->args->len < 2)
		return;
	const ImapValue *what = r->args->pdata[1];
	if (imap_value_is_atom(what, "EXISTS")) {
		x->rep->changed = x->rep->exists = TRUE;
	} else if (imap_value_is_atom(what, "EXPUNGE")) {
		x->rep->changed = x->rep->resync = TRUE;
		imap_idle_renumber(x, r);
	} else if (imap_value_is_atom(what, "FETCH")) {
		x->rep->changed = TRUE;
		if (!imap_client_change_fetch(r, x->sink))
			imap_idle_note_seq(x, r);
	}
}

/* Reads responses until the "+" that starts idling. */
static gboolean
imap_idle_start(MfImapClient *c, const char *tag, IdleCtx *x, GError **err)
{
	g_autofree char *line = g_strdup_printf("%s IDLE\r\n", tag);

	imap_client_deadline(c, 0);
	if (!imap_client_send(c, line, err))
		return FALSE;
	for (;;) {
		g_autoptr(ImapResponse) r = imap_client_read(c, NULL, err);
		if (!r)
			return FALSE;
		if (r->kind == IMAP_RESP_CONTINUATION)
			return TRUE;
		if (r->kind == IMAP_RESP_TAGGED) {
			g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
			            "%s: IDLE refused: %s", c->url,
			            r->text ? r->text : "");
			return FALSE;
		}
		imap_idle_note(x, r);
	}
}

/* Sends DONE and reads up to the tagged reply. */
static gboolean
imap_idle_done(MfImapClient *c, IdleCtx *x, GError **err)
{
	imap_client_deadline(c, 0);
	if (!imap_client_send(c, "DONE\r\n", err))
		return FALSE;
	for (;;) {
		g_autoptr(ImapResponse) r = imap_client_read(c, NULL, err);
		if (!r)
			return FALSE;
		if (r->kind == IMAP_RESP_TAGGED)
			return TRUE;
		imap_idle_note(x, r);
	}
}

/* Waits until a change arrives or END (monotonic) passes. */
static gboolean
imap_idle_wait(MfImapClient *c, gint64 end, IdleCtx *x, GError **err)
{
	gint64 mono = g_get_monotonic_time(), real = g_get_real_time();

	while (!x->rep->changed && g_get_monotonic_time() < end) {
		if (conn_wait_input(c->conn, IDLE_SLICE_MS)) {
			g_autoptr(ImapResponse) r = imap_client_read(c, NULL, err);
			if (!r)
				return FALSE;
			imap_idle_note(x, r);
			continue;
		}
		gint64 m = g_get_monotonic_time(), w = g_get_real_time();
		if ((w - real) - (m - mono) > IDLE_SUSPEND_US) {
			g_set_error(err, MF_ERROR, MF_ERROR_CONNECTION,
			            "%s: the machine was suspended; reconnecting",
			            c->url);
			return imap_client_fail(c, err);
		}
		mono = m;
		real = w;
	}
	return TRUE;
}

/* Asks for the UID and flags of the FETCH replies that had no UID. */
static gboolean
imap_idle_ask_seqs(MfImapClient *c, IdleCtx *x, GError **err)
{
	if (x->seqs->len == 0 || !x->sink)
		return TRUE;
	g_autofree char *set = imap_seqset_format(
		(const guint32 *)x->seqs->data, x->seqs->len);
	return imap_client_fetch_seq_flags(c, set, x->sink, err);
}

gboolean
imap_client_idle_changes(MfImapClient *c, int max_seconds,
                         const ImapChangeSink *sink, ImapIdleReport *rep,
                         GError **err)
{
	char tag[16];
	g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(guint32));
	IdleCtx x = { sink, rep, seqs };

	*rep = (ImapIdleReport){ 0 };
	if (!(c->caps & IMAP_CAP_IDLE)) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: server does not offer IDLE", c->url);
		return FALSE;
	}
	g_snprintf(tag, sizeof tag, "A%u", ++c->tag_seq);
	gint64 end = g_get_monotonic_time() +
	             (gint64)max_seconds * G_USEC_PER_SEC;
	return imap_idle_start(c, tag, &x, err) &&
	       imap_idle_wait(c, end, &x, err) &&
	       imap_idle_done(c, &x, err) && imap_idle_ask_seqs(c, &x, err);
}

void
imap_client_interrupt(MfImapClient *c)
{
	conn_interrupt(c->conn);
}
