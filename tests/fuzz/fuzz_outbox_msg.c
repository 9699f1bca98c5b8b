/* fuzz_outbox_msg.c - libFuzzer target for cache/outbox_msg: the input is a
 * file a user (or a program) wrote into outbox/.  outbox_msg_prepare() runs
 * on it with and without an account `from`; what it accepts must be what
 * the header promises SMTP gets: CRLF lines of at most 998 octets, no Bcc
 * field left in the header, Date/From/Message-ID present, addresses with an
 * "@", and needs_8bit exactly when a byte is >= 0x80. */
#include <string.h>

#include "cache/outbox_msg.h"
#include "net/mf_error.h"

#include "tests/fuzz/fuzz_common.h"

/* TRUE if the header line L (LEN bytes) is the field NAME, "name *WSP :"
 * ignoring case. */
static gboolean
line_is_field(const char *l, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len < n || g_ascii_strncasecmp(l, name, n) != 0)
		return FALSE;
	for (i = n; i < len && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	return i < len && l[i] == ':';
}

/* Walks the CRLF lines of the prepared data. */
static void
check_data(const OutboxMsg *m)
{
	size_t len = 0, off = 0;
	const char *d = g_bytes_get_data(m->data, &len);
	gboolean in_header = TRUE, eight = FALSE;
	gboolean date = FALSE, from = FALSE, msgid = FALSE;

	g_assert(len >= 2 && d[len - 2] == '\r' && d[len - 1] == '\n');
	while (off < len) {
		const char *nl = memchr(d + off, '\n', len - off);
		size_t l;

		g_assert(nl != NULL && nl > d + off && nl[-1] == '\r');
		l = (size_t)(nl - (d + off)) - 1;
		g_assert(l <= OUTBOX_MSG_LINE_MAX);
		g_assert(memchr(d + off, '\r', l) == NULL);
		g_assert(memchr(d + off, '\0', l) == NULL);
		for (size_t i = 0; i < l; i++)
			eight |= (guchar)d[off + i] >= 0x80;
		if (l == 0)
			in_header = FALSE;
		if (in_header) {
			g_assert(!line_is_field(d + off, l, "Bcc"));
			date |= line_is_field(d + off, l, "Date");
			from |= line_is_field(d + off, l, "From");
			msgid |= line_is_field(d + off, l, "Message-ID");
		}
		off += l + 2;
	}
	g_assert(date && from && msgid);
	g_assert(eight == m->needs_8bit);
}

static void
check(const uint8_t *data, size_t len, const char *from)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(OutboxMsg) m = outbox_msg_prepare((const char *)data, len,
	                                            from, "fuzz.example", &err);

	if (!m) {
		g_assert(err != NULL && err->domain == MF_ERROR);
		g_assert(err->code == MF_ERROR_MESSAGE ||
		         err->code == MF_ERROR_CONFIG);
		return;
	}
	g_assert(err == NULL);
	g_assert(m->sender && strchr(m->sender, '@'));
	g_assert(m->rcpts->len >= 1 && m->rcpts->len <= OUTBOX_MSG_RCPTS_MAX);
	for (guint i = 0; i < m->rcpts->len; i++)
		g_assert(strchr(m->rcpts->pdata[i], '@'));
	check_data(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	g_autofree char *name = g_strndup((const char *)data, MIN(len, 64));

	check(data, len, NULL);
	check(data, len, "Fuzz Account <fuzz@example.org>");
	(void)outbox_msg_is_scratch_name(name);
	return 0;
}
