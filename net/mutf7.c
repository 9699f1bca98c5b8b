/* mutf7.c - modified UTF-7 mailbox names (RFC 3501 5.1.3) <-> UTF-8. */
#include "net/mutf7.h"

#include "net/mf_error.h"

/* Modified base64: "," replaces "/", and there is no "=" padding. */
static const char mutf7_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
mutf7_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static gboolean
mutf7_is_direct(gunichar c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Sets ERR and returns NULL, for mutf7_decode(). */
static char *
mutf7_fail(GError **err, const char *in, const char *why)
{
	g_set_error(err, MF_ERROR, MF_ERROR_PROTOCOL,
	            "Malformed modified UTF-7 mailbox name \"%s\": %s", in, why);
	return NULL;
}

/* One UTF-16 unit of a shifted run.  *HIGH holds a pending high surrogate
 * between calls. */
static gboolean
mutf7_decode_unit(guint16 u, gunichar *high, GString *out, const char **why)
{
	gboolean is_high = u >= 0xd800 && u <= 0xdbff;
	gboolean is_low = u >= 0xdc00 && u <= 0xdfff;

	if (*high) {
		if (!is_low) {
			*why = "high surrogate not followed by a low one";
			return FALSE;
		}
		g_string_append_unichar(out, 0x10000 + ((*high - 0xd800) << 10) +
		                             (u - 0xdc00));
		*high = 0;
		return TRUE;
	}
	if (is_high) {
		*high = u;
		return TRUE;
	}
	if (is_low) {
		*why = "low surrogate without a high one";
		return FALSE;
	}
	if (mutf7_is_direct(u) || u == 0) {
		*why = u ? "printable ASCII must not be base64-encoded"
		         : "encodes a NUL character";
		return FALSE;
	}
	g_string_append_unichar(out, u);
	return TRUE;
}

/* Decodes the base64 run starting at S (just after "&") up to its "-".
 * Sets *END just past the "-". */
static gboolean
mutf7_decode_run(const char *s, GString *out, const char **end,
                 const char **why)
{
	guint32 bits = 0;
	guint nbits = 0;
	gunichar high = 0;

	for (; *s != '-'; s++) {
		int v = mutf7_b64_value(*s);

		if (v < 0) {
			*why = *s ? "invalid character in base64 run"
			          : "base64 run not terminated by '-'";
			return FALSE;
		}
		bits = (bits << 6) | (guint32)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (!mutf7_decode_unit((guint16)(bits >> nbits), &high,
			                       out, why))
				return FALSE;
			bits &= (1u << nbits) - 1;
		}
	}
	if (nbits >= 6 || bits != 0) {
		*why = "base64 run has leftover bits";
		return FALSE;
	}
	if (high) {
		*why = "high surrogate at the end of a base64 run";
		return FALSE;
	}
	*end = s + 1;
	return TRUE;
}

char *
mutf7_decode(const char *in, GError **err)
{
	g_autoptr(GString) out = NULL;
	const char *s = in;
	const char *why = NULL;

	g_return_val_if_fail(in != NULL, NULL);
	out = g_string_new(NULL);
	while (*s) {
		if (!mutf7_is_direct((guchar)*s))
			return mutf7_fail(err, in, "byte outside printable ASCII");
		if (*s != '&') {
			g_string_append_c(out, *s++);
		} else if (s[1] == '-') {
			g_string_append_c(out, '&');
			s += 2;
		} else if (!mutf7_decode_run(s + 1, out, &s, &why)) {
			return mutf7_fail(err, in, why);
		} else if (s[0] == '&' && s[1] != '-') {
			/* "&AOQ-&AOQ-" must have been written as one run */
			return mutf7_fail(err, in, "adjacent base64 runs");
		}
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Bit accumulator of the base64 run being encoded. */
typedef struct {
	guint32 bits;
	guint nbits;
	gboolean shifted;
} Mutf7Enc;

static void
mutf7_encode_unit(Mutf7Enc *e, GString *out, guint16 u)
{
	if (!e->shifted) {
		g_string_append_c(out, '&');
		e->shifted = TRUE;
	}
	e->bits = (e->bits << 16) | u;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		g_string_append_c(out, mutf7_b64[(e->bits >> e->nbits) & 0x3f]);
	}
	e->bits &= (1u << e->nbits) - 1;
}

static void
mutf7_encode_close(Mutf7Enc *e, GString *out)
{
	if (!e->shifted)
		return;
	if (e->nbits > 0)
		g_string_append_c(out, mutf7_b64[(e->bits << (6 - e->nbits)) & 0x3f]);
	g_string_append_c(out, '-');
	e->bits = 0;
	e->nbits = 0;
	e->shifted = FALSE;
}

char *
mutf7_encode(const char *in, GError **err)
{
	g_autoptr(GString) out = NULL;
	Mutf7Enc e = { 0 };

	g_return_val_if_fail(in != NULL, NULL);
	if (!g_utf8_validate(in, -1, NULL)) {
		mf_error_config(err,
		                "Mailbox name is not valid UTF-8");
		return NULL;
	}
	out = g_string_new(NULL);
	for (const char *s = in; *s; s = g_utf8_next_char(s)) {
		gunichar c = g_utf8_get_char(s);

		if (mutf7_is_direct(c)) {
			mutf7_encode_close(&e, out);
			if (c == '&')
				g_string_append(out, "&-");
			else
				g_string_append_c(out, (char)c);
		} else if (c >= 0x10000) {
			c -= 0x10000;
			mutf7_encode_unit(&e, out, (guint16)(0xd800 + (c >> 10)));
			mutf7_encode_unit(&e, out, (guint16)(0xdc00 + (c & 0x3ff)));
		} else {
			mutf7_encode_unit(&e, out, (guint16)c);
		}
	}
	mutf7_encode_close(&e, out);
	return g_string_free(g_steal_pointer(&out), FALSE);
}
