/* outbox_msg.c - message preparation for the outbox: the header is split
 * into fields on the raw bytes, addresses are read with GMime's parser,
 * and the edits (Bcc out, Date/From/Message-ID in, CRLF) are made on the
 * raw bytes, so nothing else is re-encoded. */
#include "cache/outbox_msg.h"

#include <string.h>

#include <gmime/gmime.h>

#include "cache/gmime_auto.h"

#include "net/mf_error.h"

/* How much of a bad header value is quoted back in an error. */
#define OUTBOX_MSG_QUOTE_MAX 120

typedef struct {
	const char *p;  /* start of the line */
	size_t len;     /* without its terminator */
	size_t eol;     /* terminator length: 0 (end of data), 1 or 2 */
} MsgLine;

/* One header field: raw bytes [start, end) and its unfolded value. */
typedef struct {
	size_t start, end;
	char *name;
	GString *value;
} MsgField;

typedef struct {
	const char *raw;
	size_t len;
	GArray *fields;       /* MsgField */
	gboolean has_blank;   /* a blank line ends the header */
	GPtrArray *rcpts;     /* char* */
	GHashTable *seen;     /* case-folded recipients */
	gboolean utf8;        /* a non-ASCII address was seen */
} MsgParse;

/* Splits off the line at *OFF; FALSE at the end.  LF, CRLF and a lone CR
 * all end a line. */
static gboolean
outbox_msg_next_line(const char *raw, size_t len, size_t *off, MsgLine *l)
{
	size_t i = *off;

	if (i >= len)
		return FALSE;
	while (i < len && raw[i] != '\n' && raw[i] != '\r')
		i++;
	l->p = raw + *off;
	l->len = i - *off;
	l->eol = 0;
	if (i < len)
		l->eol = raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n'
		         ? 2 : 1;
	*off = i + l->eol;
	return TRUE;
}

static gboolean
outbox_msg_fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
outbox_msg_fail(GError **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, MF_ERROR, MF_ERROR_MESSAGE, msg);
	return FALSE;
}

/* Whole-file checks: not empty, no NUL bytes, no over-long line. */
static gboolean
outbox_msg_check_lines(const char *raw, size_t len, GError **err)
{
	size_t off = 0;
	guint n = 0;
	MsgLine l;

	if (len == 0)
		return outbox_msg_fail(err, "not a message: the file is empty");
	if (memchr(raw, '\0', len))
		return outbox_msg_fail(err, "not a message: the file holds "
		                       "NUL bytes (binary data?)");
	while (outbox_msg_next_line(raw, len, &off, &l)) {
		n++;
		if (l.len > OUTBOX_MSG_LINE_MAX)
			return outbox_msg_fail(err, "line %u is longer than "
			                       "%d octets", n,
			                       OUTBOX_MSG_LINE_MAX);
	}
	return TRUE;
}

/* Length of the field name when L is "name *WSP :" (RFC 5322 ftext, plus
 * the obsolete white space before the colon); *VALUE gets the offset after
 * the colon.  0 when L is not a field. */
static size_t
outbox_msg_field_name(const MsgLine *l, size_t *value)
{
	size_t n = 0, i;

	while (n < l->len && l->p[n] >= 33 && l->p[n] <= 126 && l->p[n] != ':')
		n++;
	for (i = n; i < l->len && (l->p[i] == ' ' || l->p[i] == '\t'); i++)
		;
	if (n == 0 || i >= l->len || l->p[i] != ':')
		return 0;
	*value = i + 1;
	return n;
}

static void
outbox_msg_field_clear(gpointer data)
{
	MsgField *f = data;

	g_free(f->name);
	g_string_free(f->value, TRUE);
}

/* Adds the field starting with line L at START (ending at END). */
static void
outbox_msg_add_field(MsgParse *mp, const MsgLine *l, size_t start,
                     size_t end, size_t name_len, size_t value)
{
	MsgField f = {
		.start = start, .end = end,
		.name = g_strndup(l->p, name_len),
		.value = g_string_new_len(l->p + value,
		                          (gssize)(l->len - value)),
	};

	g_array_append_val(mp->fields, f);
}

/* Splits the header into fields up to the blank line (or the end). */
static gboolean
outbox_msg_parse_header(MsgParse *mp, GError **err)
{
	size_t off = 0, start = 0, name_len, value = 0;
	guint n = 0;
	MsgLine l;

	while (start = off, outbox_msg_next_line(mp->raw, mp->len, &off, &l)) {
		n++;
		if (l.len == 0) {
			mp->has_blank = TRUE;
			return TRUE;
		}
		if ((l.p[0] == ' ' || l.p[0] == '\t') && mp->fields->len > 0) {
			MsgField *f = &g_array_index(mp->fields, MsgField,
			                             mp->fields->len - 1);
			g_string_append_len(f->value, l.p, (gssize)l.len);
			f->end = off;
			continue;
		}
		name_len = outbox_msg_field_name(&l, &value);
		if (name_len == 0 && n == 1)
			return outbox_msg_fail(err, "not a message: it does "
			                       "not start with a header field");
		if (name_len == 0)
			return outbox_msg_fail(err, "not a message: line %u "
			                       "is neither a header field nor "
			                       "the blank line that ends the "
			                       "header", n);
		outbox_msg_add_field(mp, &l, start, off, name_len, value);
	}
	return TRUE;
}

/* Counts the top-level items of an address list (groups count as one)
 * and the "@" outside quoted strings and comments, to check that GMime
 * read the whole field. */
static void
outbox_msg_scan_list(const char *s, guint *items, guint *ats)
{
	gboolean quoted = FALSE, group = FALSE, content = FALSE;
	int comment = 0;

	*items = *ats = 0;
	for (; *s; s++) {
		if ((quoted || comment) && *s == '\\' && s[1]) {
			s++;
		} else if (quoted) {
			quoted = *s != '"';
		} else if (comment) {
			comment += *s == '(' ? 1 : *s == ')' ? -1 : 0;
		} else if (*s == '(') {
			comment = 1;
		} else if (*s == ',' && !group) {
			*items += content ? 1 : 0;
			content = FALSE;
		} else if (*s != ' ' && *s != '\t' && *s != ',') {
			quoted = *s == '"';
			*ats += *s == '@' ? 1 : 0;
			group = *s == ':' ? TRUE : *s == ';' ? FALSE : group;
			content = TRUE;
		}
	}
	*items += content ? 1 : 0;
}

/* Appends the mailboxes of LIST to OUT, flattening groups. */
static void
outbox_msg_flatten(InternetAddressList *list, GPtrArray *out)
{
	int n = list ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *ia =
			internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia))
			outbox_msg_flatten(internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(ia)), out);
		else if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			g_ptr_array_add(out, ia);
	}
}

/* The start of VALUE, for error messages; owned by the caller. */
static char *
outbox_msg_quote(const char *value)
{
	g_autofree char *valid = g_utf8_make_valid(value, -1);
	g_autofree char *stripped = g_strstrip(g_strdup(valid));

	if (g_utf8_strlen(stripped, -1) <= OUTBOX_MSG_QUOTE_MAX)
		return g_steal_pointer(&stripped);
	g_autofree char *cut = g_utf8_substring(stripped, 0,
	                                        OUTBOX_MSG_QUOTE_MAX);
	return g_strconcat(cut, "...", NULL);
}

/* Checks that every mailbox of BOXES is local@domain in UTF-8. */
static gboolean
outbox_msg_check_boxes(const char *what, GPtrArray *boxes, int code,
                       GError **err)
{
	for (guint i = 0; i < boxes->len; i++) {
		const char *a = internet_address_mailbox_get_addr(
			boxes->pdata[i]);
		const char *at = a ? strchr(a, '@') : NULL;
		if (!at || at == a || !at[1] || !g_utf8_validate(a, -1, NULL)) {
			g_autofree char *q = outbox_msg_quote(a ? a : "");
			g_set_error(err, MF_ERROR, code, "%s holds \"%s\", "
			            "which is not an address (local@domain)",
			            what, q);
			return FALSE;
		}
	}
	return TRUE;
}

/* Parses the address list VALUE of field WHAT: *LIST gets GMime's list
 * (NULL when VALUE is blank), BOXES its mailboxes (owned by the list).
 * Errors get CODE. */
static gboolean
outbox_msg_parse_list(const char *what, const char *value, int code,
                      InternetAddressList **list, GPtrArray *boxes,
                      GError **err)
{
	InternetAddressList *l = internet_address_list_parse(NULL, value);
	guint items = 0, ats = 0;
	int top = l ? internet_address_list_length(l) : 0;

	outbox_msg_flatten(l, boxes);
	if (!outbox_msg_check_boxes(what, boxes, code, err))
		goto fail;
	outbox_msg_scan_list(value, &items, &ats);
	if ((guint)top != items || boxes->len != ats) {
		g_autofree char *q = outbox_msg_quote(value);
		g_set_error(err, MF_ERROR, code, "%s cannot be read as a list "
		            "of addresses: \"%s\" (a display name with a comma "
		            "must be quoted)", what, q);
		goto fail;
	}
	*list = l;
	return TRUE;
fail:
	g_ptr_array_set_size(boxes, 0);
	if (l)
		g_object_unref(l);
	return FALSE;
}

static gboolean
outbox_msg_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return TRUE;
	return FALSE;
}

/* Adds the addresses of a To, Cc or Bcc field F to the recipients. */
static gboolean
outbox_msg_add_rcpts(MsgParse *mp, const MsgField *f, GError **err)
{
	g_autoptr(GPtrArray) boxes = g_ptr_array_new();
	g_autofree char *what = g_strdup_printf("the %s field", f->name);
	InternetAddressList *list = NULL;

	if (!outbox_msg_parse_list(what, f->value->str, MF_ERROR_MESSAGE,
	                           &list, boxes, err))
		return FALSE;
	for (guint i = 0; i < boxes->len; i++) {
		const char *a = internet_address_mailbox_get_addr(
			boxes->pdata[i]);
		char *key = g_utf8_casefold(a, -1);
		mp->utf8 |= outbox_msg_non_ascii(a);
		if (g_hash_table_contains(mp->seen, key)) {
			g_free(key);
			continue;
		}
		g_hash_table_add(mp->seen, key);
		g_ptr_array_add(mp->rcpts, g_strdup(a));
	}
	if (list)
		g_object_unref(list);
	if (mp->rcpts->len > OUTBOX_MSG_RCPTS_MAX)
		return outbox_msg_fail(err, "too many recipients (more than "
		                       "%d)", OUTBOX_MSG_RCPTS_MAX);
	return TRUE;
}

/* The first address of VALUE (field or setting WHAT); errors get CODE. */
static char *
outbox_msg_first_addr(MsgParse *mp, const char *what, const char *value,
                      int code, GError **err)
{
	g_autoptr(GPtrArray) boxes = g_ptr_array_new();
	InternetAddressList *list = NULL;
	char *addr = NULL;

	if (!outbox_msg_parse_list(what, value, code, &list, boxes, err))
		return NULL;
	if (boxes->len == 0)
		g_set_error(err, MF_ERROR, code, "%s holds no address", what);
	else
		addr = g_strdup(internet_address_mailbox_get_addr(
			boxes->pdata[0]));
	for (guint i = 0; i < boxes->len; i++)
		mp->utf8 |= outbox_msg_non_ascii(
			internet_address_mailbox_get_addr(boxes->pdata[i]));
	if (list)
		g_object_unref(list);
	return addr;
}

static const MsgField *
outbox_msg_find(const MsgParse *mp, const char *name)
{
	for (guint i = 0; i < mp->fields->len; i++) {
		const MsgField *f = &g_array_index(mp->fields, MsgField, i);
		if (g_ascii_strcasecmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

static gboolean
outbox_msg_is_rcpt_field(const MsgField *f)
{
	return g_ascii_strcasecmp(f->name, "To") == 0 ||
	       g_ascii_strcasecmp(f->name, "Cc") == 0 ||
	       g_ascii_strcasecmp(f->name, "Bcc") == 0;
}

/* The envelope sender: the configured FROM, else the From field. */
static char *
outbox_msg_sender(MsgParse *mp, const char *from, GError **err)
{
	const MsgField *f = outbox_msg_find(mp, "From");

	if (from)
		return outbox_msg_first_addr(mp, "the from setting", from,
		                             MF_ERROR_CONFIG, err);
	if (f)
		return outbox_msg_first_addr(mp, "the From field",
		                             f->value->str, MF_ERROR_MESSAGE,
		                             err);
	outbox_msg_fail(err, "no sender: the message has no From field and "
	                "the account has no from address");
	return NULL;
}

/* Appends RAW[START, END) with every line ending in CRLF. */
static void
outbox_msg_copy(GString *out, const char *raw, size_t start, size_t end)
{
	size_t off = start;
	MsgLine l;

	while (outbox_msg_next_line(raw, end, &off, &l)) {
		g_string_append_len(out, l.p, (gssize)l.len);
		g_string_append(out, "\r\n");
	}
}

/* "Date: Tue, 1 Jul 2003 10:52:37 +0200" (RFC 5322 3.3), in English
 * whatever the locale. */
static void
outbox_msg_add_date(GString *out)
{
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri",
	                                    "Sat", "Sun" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	                                      "May", "Jun", "Jul", "Aug",
	                                      "Sep", "Oct", "Nov", "Dec" };
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	gint64 off = g_date_time_get_utc_offset(now) / G_USEC_PER_SEC / 60;
	char sign = off < 0 ? '-' : '+';

	off = off < 0 ? -off : off;
	g_string_append_printf(out, "Date: %s, %d %s %d %02d:%02d:%02d "
	                       "%c%02d%02d\r\n",
	                       days[g_date_time_get_day_of_week(now) - 1],
	                       g_date_time_get_day_of_month(now),
	                       months[g_date_time_get_month(now) - 1],
	                       g_date_time_get_year(now),
	                       g_date_time_get_hour(now),
	                       g_date_time_get_minute(now),
	                       g_date_time_get_second(now), sign,
	                       (int)(off / 60), (int)(off % 60));
}

/* "Message-ID: <time.random@host>" with HOSTNAME cleaned up. */
static void
outbox_msg_add_message_id(GString *out, const char *hostname)
{
	GString *host = g_string_new(NULL);

	for (const char *p = hostname; *p; p++)
		if (g_ascii_isalnum(*p) || *p == '.' || *p == '-')
			g_string_append_c(host, *p);
	if (host->len == 0)
		g_string_append(host, "localhost");
	g_string_append_printf(out, "Message-ID: <%" G_GINT64_MODIFIER "x."
	                       "%08x%08x%08x@%s>\r\n", g_get_real_time(),
	                       g_random_int(), g_random_int(), g_random_int(),
	                       host->str);
	g_string_free(host, TRUE);
}

/* "From: " and the configured FROM, encoded by GMime when it holds
 * non-ASCII text (it is a field we write, not one we edit). */
static void
outbox_msg_add_from(GString *out, const char *from)
{
	InternetAddressList *list = internet_address_list_parse(NULL, from);
	g_autofree char *text = NULL;

	if (list && internet_address_list_length(list) > 0)
		text = internet_address_to_string(
			internet_address_list_get_address(list, 0), NULL, TRUE);
	if (!text || strpbrk(text, "\r\n"))
		g_clear_pointer(&text, g_free);
	g_string_append_printf(out, "From: %s\r\n", text ? text : from);
	if (list)
		g_object_unref(list);
}

/* The bytes to send: new fields, then the raw bytes without Bcc. */
static GBytes *
outbox_msg_build(const MsgParse *mp, const char *from, const char *hostname)
{
	GString *out = g_string_sized_new(mp->len + mp->len / 32 + 256);
	size_t pos = 0;

	if (!outbox_msg_find(mp, "Date"))
		outbox_msg_add_date(out);
	if (!outbox_msg_find(mp, "From"))
		outbox_msg_add_from(out, from);
	if (!outbox_msg_find(mp, "Message-ID"))
		outbox_msg_add_message_id(out, hostname);
	for (guint i = 0; i < mp->fields->len; i++) {
		const MsgField *f = &g_array_index(mp->fields, MsgField, i);
		if (g_ascii_strcasecmp(f->name, "Bcc") != 0)
			continue;
		outbox_msg_copy(out, mp->raw, pos, f->start);
		pos = f->end;
	}
	outbox_msg_copy(out, mp->raw, pos, mp->len);
	if (!mp->has_blank)
		g_string_append(out, "\r\n");
	return g_string_free_to_bytes(out);
}

static gboolean
outbox_msg_has_8bit(GBytes *data)
{
	size_t n = 0;
	const guchar *p = g_bytes_get_data(data, &n);

	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x80)
			return TRUE;
	return FALSE;
}

static void
outbox_msg_parse_clear(MsgParse *mp)
{
	g_array_unref(mp->fields);
	g_ptr_array_unref(mp->rcpts);
	g_hash_table_unref(mp->seen);
}

/* Header fields, recipients and sender; *SENDER on success. */
static gboolean
outbox_msg_read(MsgParse *mp, const char *from, char **sender, GError **err)
{
	if (!outbox_msg_check_lines(mp->raw, mp->len, err) ||
	    !outbox_msg_parse_header(mp, err))
		return FALSE;
	for (guint i = 0; i < mp->fields->len; i++) {
		const MsgField *f = &g_array_index(mp->fields, MsgField, i);
		if (outbox_msg_is_rcpt_field(f) &&
		    !outbox_msg_add_rcpts(mp, f, err))
			return FALSE;
	}
	*sender = outbox_msg_sender(mp, from, err);
	if (!*sender)
		return FALSE;
	if (mp->rcpts->len == 0) {
		g_clear_pointer(sender, g_free);
		return outbox_msg_fail(err, "no recipients: To, Cc and Bcc "
		                       "hold no address");
	}
	return TRUE;
}

OutboxMsg *
outbox_msg_prepare(const char *raw, size_t len, const char *from,
                   const char *hostname, GError **err)
{
	MsgParse mp = { .raw = raw, .len = len };
	char *sender = NULL;
	OutboxMsg *m;

	g_return_val_if_fail(raw != NULL || len == 0, NULL);
	g_return_val_if_fail(hostname != NULL, NULL);
	summary_gmime_init();
	if (from && !*from)
		from = NULL;
	mp.fields = g_array_new(FALSE, FALSE, sizeof(MsgField));
	g_array_set_clear_func(mp.fields, outbox_msg_field_clear);
	mp.rcpts = g_ptr_array_new_with_free_func(g_free);
	mp.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!outbox_msg_read(&mp, from, &sender, err)) {
		outbox_msg_parse_clear(&mp);
		return NULL;
	}
	m = g_new0(OutboxMsg, 1);
	m->sender = sender;
	m->rcpts = g_ptr_array_ref(mp.rcpts);
	m->data = outbox_msg_build(&mp, from, hostname);
	m->needs_8bit = outbox_msg_has_8bit(m->data);
	m->needs_utf8 = mp.utf8 || outbox_msg_non_ascii(sender);
	outbox_msg_parse_clear(&mp);
	return m;
}

void
outbox_msg_free(OutboxMsg *m)
{
	if (!m)
		return;
	g_free(m->sender);
	if (m->rcpts)
		g_ptr_array_unref(m->rcpts);
	if (m->data)
		g_bytes_unref(m->data);
	g_free(m);
}

gboolean
outbox_msg_is_scratch_name(const char *name)
{
	static const char *const suffixes[] = { "~", ".swp", ".swo", ".swn",
	                                        ".swx", ".tmp" };
	size_t len = strlen(name);

	if (name[0] == '.' || strcmp(name, "4913") == 0)
		return TRUE;
	if (len >= 2 && name[0] == '#' && name[len - 1] == '#')
		return TRUE;
	for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++)
		if (g_str_has_suffix(name, suffixes[i]))
			return TRUE;
	return FALSE;
}
