/* json.h - a pure, bounded reader of one JSON object (RFC 8259): enough for
 * the answers of OAuth 2.0 endpoints (RFC 6749, 8628, 8414) and for the
 * error a SASL OAuth mechanism reports (RFC 7628).  No I/O.
 *
 * What is kept are the members of the top-level object, each with its
 * kind; strings (unescaped to UTF-8) and numbers (their text) keep their
 * value, nested objects and arrays are checked and skipped.  A key given
 * twice keeps its last value.  The whole input must be one object and
 * white space around it; anything else, or anything past a limit, is an
 * error.  Limits: JSON_INPUT_MAX bytes, JSON_DEPTH_MAX levels of nesting,
 * JSON_MEMBERS_MAX members in the top-level object; strings must be valid
 * UTF-8 and hold no NUL (not even as \u0000).
 *
 * Values may be secrets (access and refresh tokens): json_object_free()
 * wipes them.
 */
#ifndef MAILFS_JSON_H
#define MAILFS_JSON_H

#include <glib.h>

#define JSON_INPUT_MAX (64 * 1024)
#define JSON_DEPTH_MAX 16
#define JSON_MEMBERS_MAX 256

typedef enum {
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
	JSON_NESTED, /* an object or an array: present, value not kept */
} JsonKind;

typedef struct JsonObject JsonObject;

/* Parses the LEN bytes at DATA.  NULL with ERR (MF_ERROR_PROTOCOL, a
 * message that says where and why: "not JSON: ... at byte 12"). */
JsonObject *json_object_parse(const char *data, size_t len, GError **err);

/* Wipes every value and frees; accepts NULL. */
void json_object_free(JsonObject *o);

/* TRUE when member KEY is present; *KIND (may be NULL) gets its kind. */
gboolean json_object_has(const JsonObject *o, const char *key,
                         JsonKind *kind);

/* The value of string member KEY, or NULL when it is missing or not a
 * string; borrowed from O. */
const char *json_object_string(const JsonObject *o, const char *key);

/* Member KEY as an integer in *OUT: a number without fraction or
 * exponent, or a string of decimal digits (some servers send
 * "expires_in": "3599"), that fits in 64 bits.  FALSE (and *OUT
 * untouched) otherwise. */
gboolean json_object_int(const JsonObject *o, const char *key, gint64 *out);

/* The number of members kept. */
guint json_object_size(const JsonObject *o);

/* Member I (0 .. size - 1, in the order of first appearance): its key,
 * *KIND (may be NULL) and in *VALUE (may be NULL) its text (a string
 * unescaped, a number as written; NULL for the other kinds); borrowed. */
const char *json_object_key_at(const JsonObject *o, guint i, JsonKind *kind,
                               const char **value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(JsonObject, json_object_free)

#endif
