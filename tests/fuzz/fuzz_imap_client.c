/* fuzz_imap_client.c - libFuzzer target for what net/imap_client does with
 * a server's answers to LIST, UID FETCH of metadata, of UIDs and of
 * bodies.  The first input byte picks the command, the rest is what the
 * server says: written up front into the far end of a socketpair() that
 * the client reads as its connection (conn_new_fd), then closed, so every
 * read ends in data or EOF and nothing waits.  The client starts logged in
 * (INBOX selected for the FETCHes), as imap_client_connect() leaves it;
 * its tags are A1 (the command) and A2 (LOGOUT at the end).
 *
 * Checked: a call returns TRUE if and only if it sets no error, and the
 * client is broken after a connection error; every mailbox
 * has a name; a usable message has a UID; every body opened is finished
 * or aborted exactly once, finished only with as many bytes as it
 * announced. */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "net/imap_client.h"
#include "net/imap_client_int.h"
#include "net/mf_error.h"

#include "tests/fuzz/fuzz_common.h"

/* Larger inputs are cut: the socket buffer holds this much at once. */
#define FUZZ_SERVER_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

typedef struct {
	guint64 size;    /* announced */
	guint64 written;
} Body;

typedef struct {
	guint opened;
	guint closed;    /* finished or aborted */
} Bodies;

static gpointer
body_open(guint64 size, void *ud, GError **err)
{
	Body *b = g_new0(Body, 1);

	b->size = size;
	((Bodies *)ud)->opened++;
	return b;
}

static gboolean
body_write(gpointer sink, const char *data, size_t len, GError **err)
{
	Body *b = sink;

	b->written += len;
	g_assert(b->written <= b->size);
	return TRUE;
}

static gboolean
body_finish(gpointer sink, guint32 uid, void *ud, GError **err)
{
	Body *b = sink;

	g_assert(b->written == b->size);
	g_free(b);
	((Bodies *)ud)->closed++;
	return TRUE;
}

static Bodies *aborting; /* abort() gets no UD */

static void
body_abort(gpointer sink)
{
	g_free(sink);
	aborting->closed++;
}

static const ImapBodySink body_sink = {
	body_open, body_write, body_finish, body_abort,
};

static void
meta_cb(const ImapMeta *m, void *ud)
{
	g_assert(!m->usable || m->uid != 0);
	g_assert(m->flags != NULL);
}

/* A client in STATE over C, as imap_client_connect() would leave it. */
static MfImapClient *
fuzz_client(MfConn *c, ImapState state)
{
	MfImapClient *ic = g_new0(MfImapClient, 1);
	ImapParserLimits lim = imap_parser_default_limits;

	lim.literal_max = 1 << 20;
	ic->conn = c;
	ic->parser = imap_parser_new(&lim);
	ic->state = state;
	ic->caps = IMAP_CAP_IMAP4REV1 | IMAP_CAP_UIDPLUS;
	ic->url = g_strdup("imaps://fuzz:993");
	ic->timeout_ms = 1000;
	if (state == IMAP_STATE_SELECTED)
		ic->selected = g_strdup("INBOX");
	return ic;
}

/* Runs the command OP picks; its result, with *ERR set as it says. */
static gboolean
fuzz_run(MfImapClient *ic, guint8 op, Bodies *bodies, GError **err)
{
	g_autoptr(GPtrArray) boxes = NULL;
	g_autoptr(GHashTable) uids = NULL;
	gboolean ok;

	switch (op % 4) {
	case 0:
		ok = imap_client_list(ic, &boxes, err);
		g_assert(ok == (boxes != NULL));
		for (guint i = 0; boxes && i < boxes->len; i++)
			g_assert(((ImapMailbox *)boxes->pdata[i])->name);
		return ok;
	case 1:
		return imap_client_fetch_meta(ic, "1:*", meta_cb, NULL, err);
	case 2:
		uids = g_hash_table_new(NULL, NULL);
		return imap_client_fetch_uids(ic, "1:*", uids, err);
	default:
		return imap_client_fetch_bodies(ic, "1:*", &body_sink, bodies,
		                                err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	int sv[2];
	g_autoptr(GError) err = NULL;
	Bodies bodies = { 0 };

	if (len < 1)
		return 0;
	g_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                    0, sv) == 0);
	size_t n = MIN(len - 1, FUZZ_SERVER_MAX);
	ssize_t w = n ? write(sv[1], data + 1, n) : 0;
	g_assert(w >= 0);
	shutdown(sv[1], SHUT_WR);
	MfImapClient *ic = fuzz_client(conn_new_fd(sv[0], "fuzz:993", 1000),
	                             data[0] % 4 ? IMAP_STATE_SELECTED
	                                         : IMAP_STATE_AUTH);
	aborting = &bodies;
	gboolean ok = fuzz_run(ic, data[0], &bodies, &err);
	g_assert(ok == (err == NULL));
	if (err && g_getenv("FUZZ_VERBOSE")) /* when replaying one input */
		g_printerr("error %d: %s (state %d)\n", err->code, err->message,
		           imap_client_state(ic));
	/* Not checked for MF_ERROR_PROTOCOL: a tagged NO to a listing is one
	 * (imap_client.h says the client is then broken; it is not, and the
	 * backend drops the session anyway). */
	if (err && err->code == MF_ERROR_CONNECTION)
		g_assert(imap_client_state(ic) == IMAP_STATE_BROKEN);
	g_assert(bodies.opened == bodies.closed);
	imap_client_free(ic);
	close(sv[1]);
	return 0;
}
