/* html_text.h - HTML rendered to readable text for the views of mail,
 * through libxml2's HTML parser (which recovers from broken markup, as
 * browsers do): the text nodes in document order, whitespace collapsed
 * (kept inside <pre>), a line break around block elements, "- " before
 * list items, a link's target after its text, script, style and head
 * left out.  Pure; bounded by libxml2's own limits and a nesting depth
 * of HTML_TEXT_DEPTH_MAX. */
#ifndef MAILFS_HTML_TEXT_H
#define MAILFS_HTML_TEXT_H

#include <glib.h>

#define HTML_TEXT_DEPTH_MAX 256

/* The text of HTML (LEN bytes of UTF-8); owned, valid UTF-8, never
 * NULL. */
char *html_text_render(const char *html, size_t len);

#endif
