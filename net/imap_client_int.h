/* imap_client_int.h - the insides of MfImapClient shared by the files of
 * the IMAP client (imap_client.c, imap_write.c, imap_idle.c).  Not for
 * use outside net/imap_*.c. */
#ifndef MAILFS_IMAP_CLIENT_INT_H
#define MAILFS_IMAP_CLIENT_INT_H

#include "net/imap_client.h"
#include "net/imap_parser.h"
#include "net/sasl.h"

/* A streamed body gets this many extra seconds per MiB on its deadline. */
#define IMAP_SECONDS_PER_MIB 2

struct MfImapClient {
	MfConn *conn;
	ImapParser *parser;
	ImapState state;
	guint caps;
	guint sasl_mechs;   /* SASL_BIT()s of the AUTH= capabilities */
	guint tag_seq;
	char *selected;     /* wire name of the selected mailbox, or NULL */
	gboolean selected_rw; /* selected with SELECT, not EXAMINE */
	ImapSelectInfo selected_info;
	/* UIDPLUS: [APPENDUID v uid] of the last APPEND, [COPYUID v src dst]
	 * of the last COPY or MOVE (dst: the UID when one message moved). */
	guint32 appenduid_validity, appenduid;
	guint32 copyuid_validity, copyuid;
	char delim;         /* hierarchy delimiter once known, or 0 */
	gboolean modseq_on; /* CONDSTORE enabled: FETCH carries MODSEQ */
	gboolean qresync_on; /* QRESYNC enabled (ENABLE QRESYNC) */
	char *url;          /* for messages */
	int timeout_ms;
};

/* How a command's untagged responses and large literals are handled. */
typedef struct {
	gboolean (*untagged)(MfImapClient *c, ImapResponse *r, void *ud,
	                     GError **err);
	gboolean (*literal)(MfImapClient *c, guint64 size, void *ud,
	                    GError **err);
	/* Answers every "+" (AUTHENTICATE); "*" when it has no answer. */
	SaslExchange *sasl;
	/* Called on the first "+" instead, to send a literal. */
	gboolean (*cont)(MfImapClient *c, void *ud, GError **err);
	int no_code;           /* MfErrorCode for a tagged NO */
	/* Untagged data responses with damaged values (imap_parser.h) go to
	 * untagged(), which must judge each value; without it, and for
	 * any other response, damage is an MF_ERROR_PROTOCOL error. */
	gboolean tolerate_damage;
	void *ud;
} ImapHandler;

/* The one place the protocol state changes. */
void imap_client_set_state(MfImapClient *c, ImapState st);
/* Marks C broken; returns FALSE. */
gboolean imap_client_fail(MfImapClient *c, GError **err);
/* Sets the deadline to now + timeout + EXTRA_S seconds. */
void imap_client_deadline(MfImapClient *c, gint64 extra_s);
/* Reads one complete response; damage as H allows (see ImapHandler). */
ImapResponse *imap_client_read(MfImapClient *c, const ImapHandler *h,
                               GError **err);
gboolean imap_client_send(MfImapClient *c, const char *line, GError **err);
/* Sends "TAG COMMAND" and reads replies up to the tagged one. */
gboolean imap_client_run(MfImapClient *c, const ImapHandler *h,
                         const char *what, const char *command, GError **err);
/* IMAP quoted string of S, or NULL if it needs a literal; owned. */
char *imap_client_quote(const char *s);

/* ENABLE QRESYNC (or CONDSTORE) when the server announces it and ENABLE;
 * called once logged in (imap_resync.c). */
gboolean imap_client_enable(MfImapClient *c, GError **err);
/* SELECT or EXAMINE MAILBOX with PARAMS appended (" (QRESYNC (...))"; NULL:
 * " (CONDSTORE)" when that is announced and not yet enabled).  MORE (or
 * NULL) handles the untagged replies; its ud must start with the
 * ImapSelectInfo it fills (imap_client_examine_cb does that part). */
gboolean imap_client_select_with(MfImapClient *c, const char *mailbox,
                                 gboolean writable, const char *params,
                                 const ImapHandler *more, ImapSelectInfo *out,
                                 GError **err);
/* The untagged replies to SELECT / EXAMINE; UD is an ImapSelectInfo. */
gboolean imap_client_examine_cb(MfImapClient *c, ImapResponse *r, void *ud,
                                GError **err);
/* The attribute list of "* N FETCH (...)", or NULL. */
const ImapValue *imap_client_fetch_list(const ImapResponse *r);
/* The value after the atom KEY in a FETCH attribute list, or NULL. */
const ImapValue *imap_client_fetch_item(const ImapValue *list,
                                        const char *key);
/* The flags of FLAGS (a LIST), space-separated, without \Recent; what is
 * left out is told in PROBLEM; owned. */
char *imap_client_join_flags(const ImapValue *flags, GString *problem);
/* Hands the flags of a "* N FETCH (UID u FLAGS (...) ...)" to SINK; FALSE
 * if R is not one that has both (imap_resync.c). */
gboolean imap_client_change_fetch(const ImapResponse *r,
                                  const ImapChangeSink *sink);
/* Hands the UIDs of a "* VANISHED [(EARLIER)] set" to SINK.  -1: R is no
 * VANISHED; 0: a bad set; 1: done. */
int imap_client_change_vanished(const ImapResponse *r,
                                const ImapChangeSink *sink);

#endif
