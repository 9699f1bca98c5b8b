/* append_msg.c - checking a file written into a folder, and preparing it
 * to be appended. */
#include "cache/append_msg.h"

#include <string.h>

#include "net/mf_error.h"

/* A header field name: printable US-ASCII but ':' (RFC 5322 ftext). */
static gboolean
append_msg_is_ftext(char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* The length of the field name starting DATA, if a ':' ends it; else 0. */
static gsize
append_msg_field_name(const char *data, gsize len)
{
	gsize i = 0;

	while (i < len && append_msg_is_ftext(data[i]))
		i++;
	return i > 0 && i < len && data[i] == ':' ? i : 0;
}

gboolean
append_msg_check(const char *data, gsize len, GError **err)
{
	if (len == 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_BADMSG,
		            "the file is empty");
		return FALSE;
	}
	if (memchr(data, '\0', len)) {
		g_set_error(err, MF_ERROR, MF_ERROR_BADMSG,
		            "the file holds NUL bytes: not a message");
		return FALSE;
	}
	if (append_msg_field_name(data, len) == 0) {
		g_set_error(err, MF_ERROR, MF_ERROR_BADMSG,
		            "the file does not start with a header field "
		            "(\"Name: value\"): not a message");
		return FALSE;
	}
	return TRUE;
}

/* The end of the line starting at I (the index of its '\n', or LEN). */
static gsize
append_msg_line_end(const char *data, gsize len, gsize i)
{
	const char *nl = memchr(data + i, '\n', len - i);
	return nl ? (gsize)(nl - data) : len;
}

/* TRUE if the line [I, END) is empty (ends the header). */
static gboolean
append_msg_blank(const char *data, gsize i, gsize end)
{
	return end == i || (end == i + 1 && data[i] == '\r');
}

/* The value of header field FIELD with its continuation lines, or NULL;
 * owned. */
static char *
append_msg_field(const char *data, gsize len, const char *field)
{
	gsize flen = strlen(field);
	GString *v = NULL;

	for (gsize i = 0; i < len;) {
		gsize next = append_msg_line_end(data, len, i);
		/* A line's end is "\n" or "\r\n": the value is the same. */
		gsize end = next > i && data[next - 1] == '\r' ? next - 1 : next;
		if (append_msg_blank(data, i, next))
			break;
		gboolean cont = data[i] == ' ' || data[i] == '\t';
		if (v && !cont)
			break;
		if (v)
			g_string_append_len(v, data + i, (gssize)(end - i));
		else if (end - i > flen && data[i + flen] == ':' &&
		         g_ascii_strncasecmp(data + i, field, flen) == 0)
			v = g_string_new_len(data + i + flen + 1,
			                     (gssize)(end - i - flen - 1));
		i = next + 1;
	}
	return v ? g_string_free(v, FALSE) : NULL;
}

char *
append_msg_message_id(const char *data, gsize len)
{
	g_autofree char *v = append_msg_field(data, len, "Message-ID");
	char *open = v ? strchr(v, '<') : NULL;
	char *close = open ? strchr(open, '>') : NULL;

	if (!close || close == open + 1)
		return NULL;
	return g_strndup(open, (gsize)(close - open + 1));
}

GBytes *
append_msg_prepare(const char *data, gsize len, char **msgid)
{
	GString *out = g_string_sized_new(len + len / 32 + 64);
	char *id = append_msg_message_id(data, len);

	if (!id) {
		id = g_strdup_printf("<%08x%08x.%" G_GINT64_FORMAT "@mailfs>",
		                     g_random_int(), g_random_int(),
		                     g_get_real_time());
		g_string_append_printf(out, "Message-ID: %s\r\n", id);
	}
	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, data[i]);
	}
	*msgid = id;
	return g_string_free_to_bytes(out);
}
