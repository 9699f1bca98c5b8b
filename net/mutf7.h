/* mutf7.h - IMAP mailbox names: modified UTF-7 (RFC 3501 5.1.3) to and
 * from UTF-8.  Pure functions. */
#ifndef MAILFS_MUTF7_H
#define MAILFS_MUTF7_H

#include <glib.h>

/* Decodes a modified UTF-7 mailbox name to UTF-8.  Returns a new string,
 * or NULL with ERR (MF_ERROR_PROTOCOL) on malformed input (bad base64,
 * unterminated shift, non-canonical encodings such as "&AGE-" for "a",
 * invalid surrogates). */
char *mutf7_decode(const char *in, GError **err);

/* Encodes valid UTF-8 to modified UTF-7.  Returns a new string, or NULL
 * with ERR (MF_ERROR_CONFIG) if IN is not valid UTF-8. */
char *mutf7_encode(const char *in, GError **err);

#endif
