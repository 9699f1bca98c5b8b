/* html_text.c - HTML to text by walking libxml2's HTML tree. */
#include "cache/html_text.h"

#include <libxml/HTMLparser.h>
#include <string.h>

typedef struct {
	GString *out;
	gboolean space;   /* a space is owed before the next word */
	int pre;          /* inside <pre> */
} HtmlWalk;

static const char *const html_skip[] = {
	"script", "style", "head", "title", "noscript", "template",
};
static const char *const html_blocks[] = {
	"p", "div", "br", "li", "tr", "table", "ul", "ol", "dl", "dt", "dd",
	"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr",
	"section", "article", "header", "footer", "address", "center",
	"form", "fieldset", "body", "html",
};

static gboolean
html_text_in(const char *name, const char *const *set, gsize n)
{
	for (gsize i = 0; i < n; i++)
		if (g_ascii_strcasecmp(name, set[i]) == 0)
			return TRUE;
	return FALSE;
}

/* Ends the current line, unless the text is at a line start. */
static void
html_text_break(HtmlWalk *w)
{
	if (w->out->len && w->out->str[w->out->len - 1] != '\n')
		g_string_append_c(w->out, '\n');
	w->space = FALSE;
}

static void
html_text_words(HtmlWalk *w, const char *s)
{
	if (w->pre) {
		g_string_append(w->out, s);
		return;
	}
	for (const char *p = s; *p; p++) {
		if (g_ascii_isspace(*p)) {
			w->space = TRUE;
			continue;
		}
		if (w->space && w->out->len &&
		    w->out->str[w->out->len - 1] != '\n')
			g_string_append_c(w->out, ' ');
		w->space = FALSE;
		g_string_append_c(w->out, *p);
	}
}

static void html_text_walk(HtmlWalk *w, xmlNode *n, int depth);

static void
html_text_element(HtmlWalk *w, xmlNode *n, int depth)
{
	const char *name = (const char *)n->name;
	gboolean block = html_text_in(name, html_blocks,
	                              G_N_ELEMENTS(html_blocks));
	gboolean pre = g_ascii_strcasecmp(name, "pre") == 0;

	if (html_text_in(name, html_skip, G_N_ELEMENTS(html_skip)))
		return;
	if (block)
		html_text_break(w);
	if (g_ascii_strcasecmp(name, "li") == 0)
		g_string_append(w->out, "- ");
	w->pre += pre;
	html_text_walk(w, n->children, depth + 1);
	w->pre -= pre;
	if (g_ascii_strcasecmp(name, "a") == 0) {
		xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
		if (href && g_str_has_prefix((const char *)href, "http")) {
			g_string_append(w->out, " <");
			g_string_append(w->out, (const char *)href);
			g_string_append_c(w->out, '>');
		}
		xmlFree(href);
	}
	if (block)
		html_text_break(w);
}

static void
html_text_walk(HtmlWalk *w, xmlNode *n, int depth)
{
	if (depth > HTML_TEXT_DEPTH_MAX)
		return;
	for (; n; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
			html_text_words(w, (const char *)n->content);
		else if (n->type == XML_ELEMENT_NODE)
			html_text_element(w, n, depth);
	}
}

char *
html_text_render(const char *html, size_t len)
{
	HtmlWalk w = { g_string_new(NULL), FALSE, 0 };
	htmlDocPtr doc = NULL;

	static gsize once;

	if (g_once_init_enter(&once)) {
		xmlInitParser(); /* before threads parse */
		g_once_init_leave(&once, 1);
	}
	if (len > 0 && len <= G_MAXINT)
		doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
		                     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
		                     HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	if (doc) {
		html_text_walk(&w, xmlDocGetRootElement(doc), 0);
		xmlFreeDoc(doc);
	}
	html_text_break(&w);
	char *s = g_string_free(w.out, FALSE);
	char *valid = g_utf8_make_valid(s, -1);
	g_free(s);
	return valid;
}
