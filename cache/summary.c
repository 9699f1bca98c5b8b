/* summary.c - summary lines from header fields (GMime decodes RFC 2047
 * words and raw 8-bit charsets), formatted as TSV and as JSON Lines. */
#include "cache/summary.h"

#include <string.h>

#include "cache/gmime_auto.h"

#include <string.h>

void
summary_free(MfSummary *s)
{
	if (!s)
		return;
	g_free(s->sender);
	g_free(s->subject);
	g_free(s);
}

MfSummary *
summary_new(guint32 uid, const char *sender, const char *subject,
            gboolean attach)
{
	MfSummary *s = g_new0(MfSummary, 1);

	s->uid = uid;
	s->sender = g_strdup(sender ? sender : "");
	s->subject = g_strdup(subject ? subject : "");
	s->attach = attach;
	return s;
}

static gsize gmime_once;

void
summary_gmime_init(void)
{
	if (g_once_init_enter(&gmime_once)) {
		g_mime_init();
		g_once_init_leave(&gmime_once, 1);
	}
}

/* Whether a message whose top part is O has attachments, by its header
 * alone: an attachment itself, multipart/mixed, or one part that is not
 * text, multipart or a message. */
static gboolean
summary_attach(GMimeObject *o)
{
	const char *disp = o ? g_mime_object_get_disposition(o) : NULL;
	GMimeContentType *t = o ? g_mime_object_get_content_type(o) : NULL;

	if (disp && g_ascii_strcasecmp(disp, GMIME_DISPOSITION_ATTACHMENT) == 0)
		return TRUE;
	if (!t)
		return FALSE;
	if (g_mime_content_type_is_type(t, "multipart", "mixed"))
		return TRUE;
	return !g_mime_content_type_is_type(t, "text", "*") &&
	       !g_mime_content_type_is_type(t, "multipart", "*") &&
	       !g_mime_content_type_is_type(t, "message", "*");
}

/* The header block of HDR, cut at its first empty line, with one added
 * (what GMime's parser needs to end the headers). */
static GString *
summary_block(const char *hdr, size_t len)
{
	GString *b = g_string_sized_new(MIN(len, SUMMARY_HEADER_MAX) + 4);

	len = MIN(len, SUMMARY_HEADER_MAX);
	for (size_t i = 0; i < len; i++) {
		if (hdr[i] == '\n' && (i + 1 == len || hdr[i + 1] == '\n' ||
		                       (hdr[i + 1] == '\r' && i + 2 < len &&
		                        hdr[i + 2] == '\n'))) {
			len = i + 1;
			break;
		}
	}
	g_string_append_len(b, hdr, (gssize)len);
	g_string_append(b, "\r\n\r\n");
	return b;
}

static char *
summary_clean(const char *s)
{
	return g_utf8_make_valid(s ? s : "", -1);
}

MfSummary *
summary_from_header(guint32 uid, const char *hdr, size_t len)
{
	g_autoptr(GString) b = summary_block(hdr, len);
	MfSummary *s = summary_new(uid, NULL, NULL, FALSE);

	summary_gmime_init();
	g_autoptr(GMimeStream) st = g_mime_stream_mem_new_with_buffer(b->str,
	                                                              b->len);
	g_autoptr(GMimeParser) p = g_mime_parser_new_with_stream(st);
	g_autoptr(GMimeMessage) m = g_mime_parser_construct_message(p, NULL);
	if (!m)
		return s;
	InternetAddressList *from = g_mime_message_get_from(m);
	if (from && internet_address_list_length(from) > 0) {
		g_autofree char *f = internet_address_list_to_string(from, NULL,
		                                                     FALSE);
		g_free(s->sender);
		s->sender = summary_clean(f);
	}
	g_free(s->subject);
	s->subject = summary_clean(g_mime_message_get_subject(m));
	s->attach = summary_attach(g_mime_message_get_mime_part(m));
	return s;
}

/* Appends S with tabs, line ends and control characters as spaces. */
static void
summary_tsv_field(GString *out, const char *s)
{
	for (const char *p = s ? s : ""; *p; p++)
		g_string_append_c(out, (guchar)*p < 0x20 || *p == 0x7f
		                       ? ' ' : *p);
}

static void
summary_date(char buf[32], gint64 t)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_utc(t);
	g_autofree char *s = d ? g_date_time_format(d, "%Y-%m-%dT%H:%M:%SZ")
	                       : NULL;
	g_strlcpy(buf, s ? s : "", 32);
}

void
summary_tsv_line(GString *out, const SummaryFile *f, const MfSummary *s)
{
	char date[32];

	summary_date(date, f->date);
	summary_tsv_field(out, f->name);
	g_string_append_printf(out, "\t%s\t", date);
	summary_tsv_field(out, s ? s->sender : "");
	g_string_append_c(out, '\t');
	summary_tsv_field(out, s ? s->subject : "");
	g_string_append_c(out, '\t');
	summary_tsv_field(out, f->flags);
	g_string_append_printf(out, "\t%" G_GUINT64_FORMAT "\t%s\n", f->size,
	                       s && s->attach ? "yes" : "no");
}

/* Appends S as a JSON string (UTF-8 kept, controls escaped). */
static void
summary_json_str(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const char *p = s ? s : ""; *p; p++) {
		guchar c = (guchar)*p;
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_c(out, (char)c);
	}
	g_string_append_c(out, '"');
}

static void
summary_json_flags(GString *out, const char *flags)
{
	g_auto(GStrv) v = g_strsplit(flags ? flags : "", " ", -1);
	gboolean first = TRUE;

	g_string_append_c(out, '[');
	for (guint i = 0; v[i]; i++) {
		if (!*v[i])
			continue;
		if (!first)
			g_string_append_c(out, ',');
		summary_json_str(out, v[i]);
		first = FALSE;
	}
	g_string_append_c(out, ']');
}

void
summary_json_line(GString *out, const SummaryFile *f, const MfSummary *s)
{
	char date[32];

	summary_date(date, f->date);
	g_string_append(out, "{\"name\":");
	summary_json_str(out, f->name);
	g_string_append_printf(out, ",\"date\":\"%s\",\"from\":", date);
	summary_json_str(out, s ? s->sender : "");
	g_string_append(out, ",\"subject\":");
	summary_json_str(out, s ? s->subject : "");
	g_string_append(out, ",\"flags\":");
	summary_json_flags(out, f->flags);
	g_string_append_printf(out, ",\"size\":%" G_GUINT64_FORMAT
	                       ",\"attachments\":%s}\n", f->size,
	                       s && s->attach ? "true" : "false");
}
