/* json.c - one JSON object's top-level members, read by recursive
 * descent over a bounded input (see json.h). */
#include "net/json.h"

#include <string.h>

#include "net/mf_error.h"

typedef struct {
	char *key;
	JsonKind kind;
	char *value; /* STRING, NUMBER; else NULL */
} JsonMember;

struct JsonObject {
	GPtrArray *members; /* JsonMember* */
};

/* Where the reader is. */
typedef struct {
	const char *start, *p, *end;
	guint depth;
	GError **err;
} JsonReader;

static void
json_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

static void
json_member_free(JsonMember *m)
{
	json_wipe_free(m->key);
	json_wipe_free(m->value);
	g_free(m);
}

void
json_object_free(JsonObject *o)
{
	if (!o)
		return;
	g_ptr_array_unref(o->members);
	g_free(o);
}

static gboolean
json_fail(JsonReader *r, const char *what)
{
	if (r->err && !*r->err)
		g_set_error(r->err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "not JSON: %s at byte %td", what, r->p - r->start);
	return FALSE;
}

static void
json_skip_space(JsonReader *r)
{
	while (r->p < r->end && *r->p && strchr(" \t\r\n", *r->p))
		r->p++;
}

/* Consumes CH after white space. */
static gboolean
json_expect(JsonReader *r, char ch, const char *what)
{
	json_skip_space(r);
	if (r->p == r->end || *r->p != ch)
		return json_fail(r, what);
	r->p++;
	return TRUE;
}

static int
json_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = g_ascii_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Four hex digits after "\u" into *CP. */
static gboolean
json_read_hex4(JsonReader *r, guint *cp)
{
	*cp = 0;
	for (int i = 0; i < 4; i++) {
		int h = r->p < r->end ? json_hex(*r->p) : -1;
		if (h < 0)
			return json_fail(r, "bad \\u escape");
		*cp = *cp * 16 + (guint)h;
		r->p++;
	}
	return TRUE;
}

/* The code point of "\uXXXX" (and its low surrogate), R->p after "\u". */
static gboolean
json_read_unicode(JsonReader *r, GString *out)
{
	guint cp, lo;

	if (!json_read_hex4(r, &cp))
		return FALSE;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return json_fail(r, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
			return json_fail(r, "lone high surrogate");
		r->p += 2;
		if (!json_read_hex4(r, &lo))
			return FALSE;
		if (lo < 0xdc00 || lo > 0xdfff)
			return json_fail(r, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return json_fail(r, "NUL in a string");
	g_string_append_unichar(out, cp);
	return TRUE;
}

/* One escape, R->p after the backslash. */
static gboolean
json_read_escape(JsonReader *r, GString *out)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";

	if (r->p == r->end)
		return json_fail(r, "unterminated string");
	char c = *r->p++;
	if (c == 'u')
		return json_read_unicode(r, out);
	const char *k = c ? strchr(from, c) : NULL;
	if (!k)
		return json_fail(r, "bad escape");
	g_string_append_c(out, to[k - from]);
	return TRUE;
}

/* A string, R->p at its opening quote; *OUT (may be NULL) owned. */
static gboolean
json_read_string(JsonReader *r, char **out)
{
	g_autoptr(GString) s = g_string_new(NULL);
	gboolean ok = TRUE;

	r->p++;
	while (ok) {
		if (r->p == r->end) {
			ok = json_fail(r, "unterminated string");
			break;
		}
		unsigned char c = (unsigned char)*r->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			ok = json_fail(r, "control character in a string");
		else if (c == '\\')
			ok = json_read_escape(r, s);
		else
			g_string_append_c(s, (char)c);
	}
	if (ok && !g_utf8_validate(s->str, (gssize)s->len, NULL))
		ok = json_fail(r, "string is not UTF-8");
	if (ok && out)
		*out = g_strndup(s->str, s->len);
	explicit_bzero(s->str, s->len);
	return ok;
}

static gboolean
json_digits(JsonReader *r)
{
	const char *from = r->p;

	while (r->p < r->end && g_ascii_isdigit(*r->p))
		r->p++;
	return r->p > from;
}

/* A number (RFC 8259 6), R->p at its first character; *OUT its text. */
static gboolean
json_read_number(JsonReader *r, char **out)
{
	const char *from = r->p;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (!json_digits(r))
		return json_fail(r, "bad number");
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (!json_digits(r))
			return json_fail(r, "bad number");
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!json_digits(r))
			return json_fail(r, "bad number");
	}
	if (out)
		*out = g_strndup(from, (gsize)(r->p - from));
	return TRUE;
}

static gboolean
json_read_word(JsonReader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return json_fail(r, "unexpected character");
	r->p += n;
	return TRUE;
}

static gboolean json_read_value(JsonReader *r, JsonKind *kind, char **out);

/* An object or array, R->p at its opening bracket; the content is
 * checked and dropped. */
static gboolean
json_skip_nested(JsonReader *r)
{
	char close = *r->p == '{' ? '}' : ']';
	gboolean object = close == '}';

	if (++r->depth > JSON_DEPTH_MAX)
		return json_fail(r, "nested too deeply");
	r->p++;
	json_skip_space(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		return TRUE;
	}
	for (;;) {
		JsonKind kind;
		json_skip_space(r);
		if (object && (r->p == r->end || *r->p != '"'))
			return json_fail(r, "expected a key");
		if (object && (!json_read_string(r, NULL) ||
		               !json_expect(r, ':', "expected ':'")))
			return FALSE;
		if (!json_read_value(r, &kind, NULL))
			return FALSE;
		json_skip_space(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (!json_expect(r, close, "expected ',' or a closing bracket"))
			return FALSE;
		r->depth--;
		return TRUE;
	}
}

/* Any value; *OUT (may be NULL) gets the text of a string or number. */
static gboolean
json_read_value(JsonReader *r, JsonKind *kind, char **out)
{
	json_skip_space(r);
	if (r->p == r->end)
		return json_fail(r, "value expected");
	switch (*r->p) {
	case '"':
		*kind = JSON_STRING;
		return json_read_string(r, out);
	case '{':
	case '[':
		*kind = JSON_NESTED;
		return json_skip_nested(r);
	case 't':
		*kind = JSON_TRUE;
		return json_read_word(r, "true");
	case 'f':
		*kind = JSON_FALSE;
		return json_read_word(r, "false");
	case 'n':
		*kind = JSON_NULL;
		return json_read_word(r, "null");
	default:
		*kind = JSON_NUMBER;
		return json_read_number(r, out);
	}
}

static JsonMember *
json_find(const JsonObject *o, const char *key)
{
	for (guint i = 0; i < o->members->len; i++) {
		JsonMember *m = o->members->pdata[i];
		if (strcmp(m->key, key) == 0)
			return m;
	}
	return NULL;
}

/* Keeps M in O, replacing a member of the same key. */
static gboolean
json_keep(JsonReader *r, JsonObject *o, JsonMember *m)
{
	JsonMember *old = json_find(o, m->key);

	if (old) {
		json_wipe_free(old->value);
		old->value = g_steal_pointer(&m->value);
		old->kind = m->kind;
		json_member_free(m);
		return TRUE;
	}
	if (o->members->len >= JSON_MEMBERS_MAX) {
		json_member_free(m);
		return json_fail(r, "too many members");
	}
	g_ptr_array_add(o->members, m);
	return TRUE;
}

/* One "key": value of the top-level object. */
static gboolean
json_read_member(JsonReader *r, JsonObject *o)
{
	JsonMember *m = g_new0(JsonMember, 1);

	json_skip_space(r);
	if (r->p == r->end || *r->p != '"') {
		json_member_free(m);
		return json_fail(r, "expected a key");
	}
	if (!json_read_string(r, &m->key) ||
	    !json_expect(r, ':', "expected ':'") ||
	    !json_read_value(r, &m->kind, &m->value)) {
		json_member_free(m);
		return FALSE;
	}
	return json_keep(r, o, m);
}

static gboolean
json_read_members(JsonReader *r, JsonObject *o)
{
	if (!json_expect(r, '{', "an object must start with '{'"))
		return FALSE;
	r->depth = 1;
	json_skip_space(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return TRUE;
	}
	for (;;) {
		if (!json_read_member(r, o))
			return FALSE;
		json_skip_space(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		return json_expect(r, '}', "expected ',' or '}'");
	}
}

JsonObject *
json_object_parse(const char *data, size_t len, GError **err)
{
	JsonReader r = { .start = data, .p = data, .end = data + len,
	                 .err = err };

	if (len > JSON_INPUT_MAX) {
		g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
		            "not JSON: longer than %u bytes", JSON_INPUT_MAX);
		return NULL;
	}
	JsonObject *o = g_new0(JsonObject, 1);
	o->members = g_ptr_array_new_with_free_func(
		(GDestroyNotify)json_member_free);
	gboolean ok = json_read_members(&r, o);
	if (ok) {
		json_skip_space(&r);
		if (r.p != r.end)
			ok = json_fail(&r, "more after the object");
	}
	if (!ok) {
		json_object_free(o);
		return NULL;
	}
	return o;
}

gboolean
json_object_has(const JsonObject *o, const char *key, JsonKind *kind)
{
	const JsonMember *m = json_find(o, key);

	if (m && kind)
		*kind = m->kind;
	return m != NULL;
}

const char *
json_object_string(const JsonObject *o, const char *key)
{
	const JsonMember *m = json_find(o, key);

	return m && m->kind == JSON_STRING ? m->value : NULL;
}

gboolean
json_object_int(const JsonObject *o, const char *key, gint64 *out)
{
	const JsonMember *m = json_find(o, key);
	gint64 v;

	if (!m || (m->kind != JSON_NUMBER && m->kind != JSON_STRING))
		return FALSE;
	const char *s = m->value + (m->value[0] == '-' &&
	                            m->kind == JSON_NUMBER);
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return FALSE;
	if (!g_ascii_string_to_signed(m->value, 10, G_MININT64, G_MAXINT64,
	                              &v, NULL))
		return FALSE;
	*out = v;
	return TRUE;
}

guint
json_object_size(const JsonObject *o)
{
	return o->members->len;
}

const char *
json_object_key_at(const JsonObject *o, guint i, JsonKind *kind,
                   const char **value)
{
	const JsonMember *m = o->members->pdata[i];

	if (kind)
		*kind = m->kind;
	if (value)
		*value = m->value;
	return m->key;
}
