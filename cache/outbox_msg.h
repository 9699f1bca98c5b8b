/* outbox_msg.h - turns a file the user wrote into outbox/ into what SMTP
 * sends: the envelope and the exact bytes of the message.  Pure (no I/O).
 *
 * The input is the raw file: an RFC 5322 message with any line ends (LF,
 * CRLF or lone CR).  The output keeps the user's header and body bytes as
 * they are, except that:
 *   - every line ends in CRLF, and the data ends with one;
 *   - Bcc header fields (with their continuation lines) are removed;
 *   - missing Date (RFC 5322 format, local time), From (the account's
 *     `from`) and Message-ID (<random@hostname>) fields are put in front.
 * Header fields are only read (with GMime's address parser), never
 * re-folded or re-encoded.
 *
 * Envelope: the sender is the account's `from` address when configured,
 * else the first address of the From field.  Recipients are every address
 * of every To, Cc and Bcc field (groups flattened), duplicates removed
 * ignoring case, in order of first appearance.
 *
 * Errors, all permanent for this message (MF_ERROR_MESSAGE, the message
 * says why, for the user): not a message at all (empty, NUL bytes, no
 * header field at the start, a line that is neither a header field nor the
 * blank line that ends the header), "line N is longer than 998 octets", an
 * address field GMime cannot read whole (so no recipient is silently
 * dropped), an address without "@", no recipients, more than
 * OUTBOX_MSG_RCPTS_MAX, no sender.  A `from` that is not an address is
 * MF_ERROR_CONFIG.
 *
 * Thread-safe: GMime is initialised once, on first use.
 */
#ifndef MAILFS_OUTBOX_MSG_H
#define MAILFS_OUTBOX_MSG_H

#include <glib.h>

#define OUTBOX_MSG_LINE_MAX 998    /* octets, without CRLF (RFC 5322 2.1.1) */
#define OUTBOX_MSG_RCPTS_MAX 1000

typedef struct {
	char *sender;         /* envelope sender, an addr-spec; owned */
	GPtrArray *rcpts;     /* char*, addr-specs; owned */
	GBytes *data;         /* what goes after DATA, CRLF line ends; owned */
	gboolean needs_8bit;  /* DATA holds bytes >= 0x80: BODY=8BITMIME */
	gboolean needs_utf8;  /* an address is not ASCII: SMTPUTF8 */
} OutboxMsg;

/* Prepares RAW (LEN bytes, not necessarily NUL-terminated).  FROM is the
 * account's `from` ("Name <a@b>" or "a@b"), or NULL.  HOSTNAME goes into
 * a new Message-ID (characters other than letters, digits, '.' and '-'
 * are dropped).  Returns a new OutboxMsg, or NULL with ERR. */
OutboxMsg *outbox_msg_prepare(const char *raw, size_t len, const char *from,
                              const char *hostname, GError **err);

void outbox_msg_free(OutboxMsg *m); /* accepts NULL */

/* TRUE for names editors use for scratch files, which are never sent:
 * names beginning with '.', ending in '~', ".swp", ".swo", ".swn", ".swx"
 * or ".tmp", Emacs's "#name#", and Vim's probe file "4913". */
gboolean outbox_msg_is_scratch_name(const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutboxMsg, outbox_msg_free)

#endif
