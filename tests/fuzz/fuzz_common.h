/* fuzz_common.h - helpers shared by the libFuzzer targets: a small
 * deterministic chunker (so a crash reproduces from its input alone) and an
 * escaping appender for the transcripts the targets compare. */
#ifndef MAILFS_FUZZ_COMMON_H
#define MAILFS_FUZZ_COMMON_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A xorshift generator seeded from the input, so that the chunk sizes of a
 * run depend on nothing but the input bytes. */
typedef struct {
	guint64 state;
} FuzzRand;

static inline void
fuzz_rand_init(FuzzRand *r, const uint8_t *data, size_t len)
{
	guint64 h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	r->state = h ? h : 1;
}

static inline guint64
fuzz_rand_next(FuzzRand *r)
{
	r->state ^= r->state << 13;
	r->state ^= r->state >> 7;
	r->state ^= r->state << 17;
	return r->state;
}

/* A chunk size in 1..MAX, never more than LEFT. */
static inline size_t
fuzz_rand_chunk(FuzzRand *r, size_t max, size_t left)
{
	size_t n = (size_t)(fuzz_rand_next(r) % max) + 1;

	return n < left ? n : left;
}

/* Appends LEN bytes of S to T with non-printable bytes escaped, and the
 * length first, so that different byte strings never read the same. */
static inline void
fuzz_append_bytes(GString *t, const char *s, size_t len)
{
	g_string_append_printf(t, "%zu:", len);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			g_string_append_printf(t, "\\x%02x", ch);
		else
			g_string_append_c(t, (char)ch);
	}
}

/* Aborts with both transcripts when they differ (a finding). */
static inline void
fuzz_expect_same(const char *what, const GString *a, const GString *b)
{
	if (a->len == b->len && memcmp(a->str, b->str, a->len) == 0)
		return;
	g_printerr("%s: transcripts differ\n--- whole:\n%s\n--- chunked:\n%s\n",
	           what, a->str, b->str);
	abort();
}

#endif
