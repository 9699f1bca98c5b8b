/* mime_text.c - a message as text and attachments, over GMime's parse
 * tree: transfer encodings decoded by GMime's data wrappers, charsets
 * converted with its iconv names, HTML through html_text.c. */
#include "cache/mime_text.h"

#include <string.h>

#include "cache/gmime_auto.h"
#include "cache/html_text.h"

typedef struct {
	GString *body;          /* the text of the body so far */
	GPtrArray *attachments; /* MimeAttachment* */
	GHashTable *names;      /* names taken */
	guint parts;            /* parts looked at */
	gboolean cut;           /* a limit left something out */
} MimeTextWalk;

static void
mime_text_attachment_free(MimeAttachment *a)
{
	g_free(a->name);
	g_free(a->content_type);
	g_bytes_unref(a->data);
	g_free(a);
}

void
mime_text_free(MimeText *v)
{
	if (!v)
		return;
	g_bytes_unref(v->text);
	g_ptr_array_unref(v->attachments);
	g_free(v->from);
	g_free(v->recipients);
	g_free(v->subject);
	g_free(v);
}

gsize
mime_text_size(const MimeText *v)
{
	gsize n = g_bytes_get_size(v->text) + 64;

	for (guint i = 0; i < v->attachments->len; i++) {
		const MimeAttachment *a = v->attachments->pdata[i];
		n += g_bytes_get_size(a->data) + 64;
	}
	return n;
}

char *
mime_text_sanitize_name(const char *name)
{
	g_autofree char *valid = g_utf8_make_valid(name ? name : "", -1);
	GString *s = g_string_new(NULL);

	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		gsize n = (gsize)(g_utf8_next_char(p) - p);
		if (c == '/' || c < 0x20 || c == 0x7f ||
		    (c >= 0x80 && c < 0xa0)) {
			c = '_';
			n = 1;
		}
		if (s->len + n > MIME_NAME_MAX)
			break;
		if (c == '_')
			g_string_append_c(s, '_');
		else
			g_string_append_len(s, p, (gssize)n);
	}
	if (s->len == 0 || strcmp(s->str, ".") == 0 ||
	    strcmp(s->str, "..") == 0)
		g_string_assign(s, "_");
	return g_string_free(s, FALSE);
}

/* NAME made unique among W's names: "a.pdf", "a-2.pdf", "a-3.pdf"... */
static char *
mime_text_unique_name(MimeTextWalk *w, const char *name)
{
	char *base = mime_text_sanitize_name(name);
	const char *dot = strrchr(base, '.');
	int stem = (int)(dot && dot != base ? dot - base : (long)strlen(base));
	char *s = g_strdup(base);

	for (guint n = 2; g_hash_table_contains(w->names, s); n++) {
		g_free(s);
		s = g_strdup_printf("%.*s-%u%s", stem, base, n, base + stem);
	}
	g_free(base);
	g_hash_table_add(w->names, g_strdup(s));
	return s;
}

/* The decoded bytes of PART's content (transfer encoding undone). */
static GBytes *
mime_text_part_bytes(GMimePart *part)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GByteArray *b = g_byte_array_new();

	if (dw) {
		g_autoptr(GMimeStream) st = g_mime_stream_mem_new_with_byte_array(b);
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
		g_mime_data_wrapper_write_to_stream(dw, st);
	}
	return g_byte_array_free_to_bytes(b);
}

/* DATA in CHARSET as UTF-8 with line ends (CRLF, or CR) as "\n"; owned. */
static char *
mime_text_to_utf8(const char *data, gsize len, const char *charset)
{
	char *u = NULL;

	if (charset && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0)
		u = g_convert_with_fallback(data, (gssize)len, "UTF-8",
		                            g_mime_charset_iconv_name(charset),
		                            "?", NULL, NULL, NULL);
	if (!u && !g_utf8_validate_len(data, len, NULL))
		u = g_convert_with_fallback(data, (gssize)len, "UTF-8",
		                            "WINDOWS-1252", "?", NULL, NULL,
		                            NULL);
	if (!u)
		u = g_utf8_make_valid(data, (gssize)len);
	GString *s = g_string_new(NULL);
	for (const char *p = u; *p; p++)
		if (*p != '\r')
			g_string_append_c(s, *p);
		else if (p[1] != '\n')
			g_string_append_c(s, '\n'); /* a lone CR ends a line */
	g_free(u);
	return g_string_free(s, FALSE);
}

static char *
mime_text_part_text(GMimePart *part)
{
	g_autoptr(GBytes) b = mime_text_part_bytes(part);
	gsize len;
	const char *data = g_bytes_get_data(b, &len);
	const char *cs = g_mime_object_get_content_type_parameter(
		GMIME_OBJECT(part), "charset");
	char *text = mime_text_to_utf8(data ? data : "", len, cs);
	GMimeContentType *ct = g_mime_object_get_content_type(
		GMIME_OBJECT(part));

	if (g_mime_content_type_is_type(ct, "text", "html")) {
		char *plain = html_text_render(text, strlen(text));
		g_free(text);
		text = plain;
	}
	return text;
}

static void
mime_text_add_attachment(MimeTextWalk *w, const char *name,
                         GMimeObject *o, GBytes *data)
{
	MimeAttachment *a = g_new0(MimeAttachment, 1);
	GMimeContentType *ct = g_mime_object_get_content_type(o);

	g_autofree char *type = ct ? g_mime_content_type_get_mime_type(ct)
	                           : NULL;

	a->name = mime_text_unique_name(w, name);
	a->content_type = g_utf8_make_valid(type ? type
	                                    : "application/octet-stream", -1);
	a->data = data;
	g_ptr_array_add(w->attachments, a);
}

static void
mime_text_append_body(MimeTextWalk *w, const char *text)
{
	if (w->body->len && w->body->str[w->body->len - 1] != '\n')
		g_string_append_c(w->body, '\n');
	if (w->body->len)
		g_string_append_c(w->body, '\n');
	g_string_append(w->body, text);
}

static void
mime_text_walk_part(MimeTextWalk *w, GMimePart *part)
{
	GMimeObject *o = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *file = g_mime_part_get_filename(part);
	const char *disp = g_mime_object_get_disposition(o);
	gboolean attached = file || (disp && g_ascii_strcasecmp(
		disp, GMIME_DISPOSITION_ATTACHMENT) == 0);

	if (!attached && (g_mime_content_type_is_type(ct, "text", "plain") ||
	                  g_mime_content_type_is_type(ct, "text", "html"))) {
		g_autofree char *text = mime_text_part_text(part);
		mime_text_append_body(w, text);
		return;
	}
	g_autofree char *fallback = g_strdup_printf("part-%u", w->parts);
	mime_text_add_attachment(w, file ? file : fallback, o,
	                         mime_text_part_bytes(part));
}

static void mime_text_walk(MimeTextWalk *w, GMimeObject *o, int depth);
static char *mime_text_message_text(GMimeMessage *m, MimeTextWalk *w,
                                    int depth);

/* A forwarded message: NAME.eml (its bytes) and NAME.txt (its text). */
static void
mime_text_walk_message(MimeTextWalk *w, GMimeMessagePart *mp, int depth)
{
	GMimeMessage *m = g_mime_message_part_get_message(mp);
	const char *file = g_mime_object_get_content_disposition_parameter(
		GMIME_OBJECT(mp), "filename");
	const char *subj = m ? g_mime_message_get_subject(m) : NULL;
	g_autofree char *base = g_strdup(file ? file : subj && *subj ? subj
	                                                             : "message");

	if (g_str_has_suffix(base, ".eml"))
		base[strlen(base) - 4] = '\0';
	if (!m)
		return;
	/* Room for the extensions after a cut. */
	g_autofree char *clean = mime_text_sanitize_name(base);
	g_free(base);
	base = g_utf8_substring(clean, 0, MIN(g_utf8_strlen(clean, -1),
	                                      (MIME_NAME_MAX - 4) / 4));
	GByteArray *raw = g_byte_array_new();
	g_autoptr(GMimeStream) st = g_mime_stream_mem_new_with_byte_array(raw);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, st);
	g_autofree char *eml = g_strconcat(base, ".eml", NULL);
	mime_text_add_attachment(w, eml, GMIME_OBJECT(mp),
	                         g_byte_array_free_to_bytes(raw));
	g_autofree char *txt = g_strconcat(base, ".txt", NULL);
	char *text = mime_text_message_text(m, w, depth + 1);
	MimeAttachment *a = g_new0(MimeAttachment, 1);
	a->name = mime_text_unique_name(w, txt);
	a->content_type = g_strdup("text/plain");
	a->data = g_bytes_new_take(text, strlen(text));
	g_ptr_array_add(w->attachments, a);
}

/* The child of alternative MP to show: text/plain, else text/html, else
 * the last one. */
static GMimeObject *
mime_text_alternative_pick(GMimeMultipart *mp)
{
	int n = g_mime_multipart_get_count(mp);
	GMimeObject *html = NULL;

	for (int i = 0; i < n; i++) {
		GMimeObject *c = g_mime_multipart_get_part(mp, i);
		GMimeContentType *ct = g_mime_object_get_content_type(c);
		if (g_mime_content_type_is_type(ct, "text", "plain"))
			return c;
		if (!html && g_mime_content_type_is_type(ct, "text", "html"))
			html = c;
	}
	return html ? html : n > 0 ? g_mime_multipart_get_part(mp, n - 1)
	                           : NULL;
}

static void
mime_text_walk(MimeTextWalk *w, GMimeObject *o, int depth)
{
	if (!o)
		return;
	if (depth > MIME_DEPTH_MAX || ++w->parts > MIME_PARTS_MAX) {
		w->cut = TRUE;
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		GMimeContentType *ct = g_mime_object_get_content_type(o);
		if (g_mime_content_type_is_type(ct, "multipart", "alternative")) {
			mime_text_walk(w, mime_text_alternative_pick(mp), depth + 1);
			return;
		}
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			mime_text_walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		mime_text_walk_message(w, GMIME_MESSAGE_PART(o), depth);
	} else if (GMIME_IS_PART(o)) {
		mime_text_walk_part(w, GMIME_PART(o));
	}
}

static void
mime_text_header_line(GString *s, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	g_autofree char *v = g_utf8_make_valid(value, -1);
	g_string_append_printf(s, "%s: ", key);
	for (const char *p = v; *p; p++)
		g_string_append_c(s, *p == '\r' || *p == '\n' || *p == '\t'
		                     ? ' ' : *p);
	g_string_append_c(s, '\n');
}

static void
mime_text_address_line(GString *s, const char *key, InternetAddressList *l)
{
	if (!l || internet_address_list_length(l) == 0)
		return;
	g_autofree char *v = internet_address_list_to_string(l, NULL, FALSE);
	mime_text_header_line(s, key, v);
}

static void
mime_text_headers(GString *s, GMimeMessage *m)
{
	mime_text_address_line(s, "From", g_mime_message_get_from(m));
	mime_text_address_line(s, "To", g_mime_message_get_to(m));
	mime_text_address_line(s, "Cc", g_mime_message_get_cc(m));
	mime_text_header_line(s, "Date", g_mime_object_get_header(GMIME_OBJECT(m),
	                                                          "Date"));
	mime_text_header_line(s, "Subject", g_mime_message_get_subject(m));
}

/* The text of M: headers, an empty line, the body, the attachments it
 * has (listed).  Attachments go to W (shared with the outer message, so
 * that names stay unique). */
static char *
mime_text_message_text(GMimeMessage *m, MimeTextWalk *outer, int depth)
{
	GString *s = g_string_new(NULL);
	GString *saved = outer->body;
	guint first = outer->attachments->len;

	outer->body = g_string_new(NULL);
	mime_text_headers(s, m);
	g_string_append_c(s, '\n');
	mime_text_walk(outer, g_mime_message_get_mime_part(m), depth);
	g_string_append(s, outer->body->str);
	if (s->len && s->str[s->len - 1] != '\n')
		g_string_append_c(s, '\n');
	for (guint i = first; i < outer->attachments->len; i++) {
		const MimeAttachment *a = outer->attachments->pdata[i];
		g_string_append_printf(s, "[attachment: %s (%s, %" G_GSIZE_FORMAT
		                       " bytes)]\n", a->name, a->content_type,
		                       g_bytes_get_size(a->data));
	}
	if (outer->cut)
		g_string_append(s, "[parts left out: too many or too deep]\n");
	g_string_free(outer->body, TRUE);
	outer->body = saved;
	return g_string_free(s, FALSE);
}

static char *
mime_text_addresses(InternetAddressList *a, InternetAddressList *b)
{
	GString *s = g_string_new(NULL);
	InternetAddressList *lists[] = { a, b };

	for (guint i = 0; i < G_N_ELEMENTS(lists); i++) {
		if (!lists[i] || internet_address_list_length(lists[i]) == 0)
			continue;
		g_autofree char *v = internet_address_list_to_string(
			lists[i], NULL, FALSE);
		if (s->len)
			g_string_append(s, ", ");
		g_string_append(s, v);
	}
	char *out = g_utf8_make_valid(s->str, -1);
	g_string_free(s, TRUE);
	return out;
}

/* The decoded main fields of M into V, for the search index. */
static void
mime_text_fields(MimeText *v, GMimeMessage *m)
{
	v->from = mime_text_addresses(m ? g_mime_message_get_from(m) : NULL, NULL);
	v->recipients = mime_text_addresses(m ? g_mime_message_get_to(m) : NULL,
	                               m ? g_mime_message_get_cc(m) : NULL);
	v->subject = g_utf8_make_valid(m && g_mime_message_get_subject(m)
	                               ? g_mime_message_get_subject(m) : "",
	                               -1);
}

static GMimeMessage *
mime_text_parse(const char *data, size_t len)
{
	g_autoptr(GMimeStream) st = g_mime_stream_mem_new_with_buffer(data, len);
	g_autoptr(GMimeParser) p = g_mime_parser_new_with_stream(st);

	return g_mime_parser_construct_message(p, NULL);
}

MimeText *
mime_text_new(const char *data, size_t len)
{
	MimeText *v = g_new0(MimeText, 1);
	MimeTextWalk w = { NULL, NULL, NULL, 0, FALSE };
	char *text;

	summary_gmime_init();
	v->attachments = g_ptr_array_new_with_free_func(
		(GDestroyNotify)mime_text_attachment_free);
	g_autoptr(GMimeMessage) m = mime_text_parse(data, len);
	if (!m) {
		text = mime_text_to_utf8(data, len, NULL);
	} else {
		w.attachments = v->attachments;
		w.names = g_hash_table_new_full(g_str_hash, g_str_equal,
		                                g_free, NULL);
		w.body = g_string_new(NULL);
		text = mime_text_message_text(m, &w, 0);
		g_string_free(w.body, TRUE);
		g_hash_table_unref(w.names);
	}
	v->text = g_bytes_new_take(text, strlen(text));
	mime_text_fields(v, m);
	return v;
}
