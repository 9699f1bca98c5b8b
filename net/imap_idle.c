/* imap_idle.c - IMAP IDLE (RFC 2177): wait on the selected mailbox until
 * the server reports a change, the time runs out, or another thread
 * interrupts the connection. */
#include "net/imap_client_int.h"

#include "net/mf_error.h"

/* How long one wait for input lasts between checks of the clocks. */
#define IDLE_SLICE_MS 5000
/* A wall clock that jumps this much more than the monotonic one means the
 * machine was suspended: the connection is probably dead. */
#define IDLE_SUSPEND_US (20 * G_USEC_PER_SEC)

/* TRUE for untagged data that means the mailbox changed. */
static gboolean
imap_idle_is_change(const ImapResponse *r)
{
	if (r->kind != IMAP_RESP_UNTAGGED || r->status || r->args->len < 2)
		return r->kind == IMAP_RESP_UNTAGGED && !r->status &&
		       r->args->len >= 1 &&
		       imap_value_is_atom(r->args->pdata[0], "VANISHED");
	const ImapValue *what = r->args->pdata[1];
	return imap_value_is_atom(what, "EXISTS") ||
	       imap_value_is_atom(what, "EXPUNGE") ||
	       imap_value_is_atom(what, "FETCH") ||
	       imap_value_is_atom(r->args->pdata[0], "VANISHED");
}

/* Reads responses until the "+" that starts idling. */
static gboolean
imap_idle_start(ImapClient *c, const char *tag, gboolean *changed,
                GError **err)
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
		*changed |= imap_idle_is_change(r);
	}
}

/* Sends DONE and reads up to the tagged reply. */
static gboolean
imap_idle_done(ImapClient *c, const char *tag, gboolean *changed,
               GError **err)
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
		*changed |= imap_idle_is_change(r);
	}
}

/* Waits until a change arrives or END (monotonic) passes. */
static gboolean
imap_idle_wait(ImapClient *c, gint64 end, gboolean *changed, GError **err)
{
	gint64 mono = g_get_monotonic_time(), real = g_get_real_time();

	while (!*changed && g_get_monotonic_time() < end) {
		if (conn_wait_input(c->conn, IDLE_SLICE_MS)) {
			g_autoptr(ImapResponse) r = imap_client_read(c, NULL, err);
			if (!r)
				return FALSE;
			*changed |= imap_idle_is_change(r);
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

gboolean
imap_client_idle(ImapClient *c, int max_seconds, gboolean *changed,
                 GError **err)
{
	char tag[16];

	*changed = FALSE;
	if (!(c->caps & IMAP_CAP_IDLE)) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "%s: server does not offer IDLE", c->url);
		return FALSE;
	}
	g_snprintf(tag, sizeof tag, "A%u", ++c->tag_seq);
	gint64 end = g_get_monotonic_time() +
	             (gint64)max_seconds * G_USEC_PER_SEC;
	return imap_idle_start(c, tag, changed, err) &&
	       imap_idle_wait(c, end, changed, err) &&
	       imap_idle_done(c, tag, changed, err);
}

void
imap_client_interrupt(ImapClient *c)
{
	conn_interrupt(c->conn);
}
