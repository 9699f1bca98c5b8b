/* search_query.c - the query language of .mailfs/search/: an incremental
 * tokenizer (spaces, "..." with \ escapes), terms checked as they end,
 * and the same query as IMAP SEARCH criteria and as an FTS5 match. */
#include "cache/search_query.h"

#include <string.h>

#include "net/mf_error.h"

typedef enum { SQ_SPACE, SQ_WORD, SQ_QUOTED, SQ_ESCAPE, SQ_BROKEN } SqState;

struct SearchQuery {
	SqState state;
	GString *token;     /* the term being read, quotes taken out */
	size_t quote_at;    /* where in it the first quote was; or MAX */
	size_t seen;        /* bytes fed */
	GArray *terms;      /* SearchTerm */
};

static const struct {
	const char *name;
	SearchKey key;
} search_keys[] = {
	{ "from", SEARCH_FROM }, { "to", SEARCH_TO },
	{ "subject", SEARCH_SUBJECT }, { "since", SEARCH_SINCE },
	{ "before", SEARCH_BEFORE }, { "in", SEARCH_IN },
};

static void
search_term_clear(SearchTerm *t)
{
	g_free(t->value);
}

SearchQuery *
search_query_new(void)
{
	SearchQuery *q = g_new0(SearchQuery, 1);

	q->token = g_string_new(NULL);
	q->quote_at = G_MAXSIZE;
	q->terms = g_array_new(FALSE, TRUE, sizeof(SearchTerm));
	g_array_set_clear_func(q->terms, (GDestroyNotify)search_term_clear);
	return q;
}

void
search_query_free(SearchQuery *q)
{
	if (!q)
		return;
	g_string_free(q->token, TRUE);
	g_array_unref(q->terms);
	g_free(q);
}

static gboolean
search_query_fail(SearchQuery *q, GError **err, const char *why,
                  const char *what)
{
	q->state = SQ_BROKEN;
	g_set_error(err, MF_ERROR, MF_ERROR_REFUSED, "search query: %s%s%s",
	            why, what ? ": " : "", what ? what : "");
	return FALSE;
}

/* Unix time of YYYY-MM-DD at 00:00 UTC; FALSE if it is no such day. */
static gboolean
search_query_day(const char *s, gint64 *out)
{
	int v[3] = { 0, 0, 0 }, f = 0;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return FALSE;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			f++;
			continue;
		}
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
		v[f] = v[f] * 10 + (s[i] - '0');
	}
	if (v[0] < 1 || !g_date_valid_dmy((GDateDay)v[2], (GDateMonth)v[1],
	                                  (GDateYear)v[0]))
		return FALSE;
	g_autoptr(GDateTime) t = g_date_time_new_utc(v[0], v[1], v[2], 0, 0, 0);
	if (!t)
		return FALSE;
	*out = g_date_time_to_unix(t);
	return TRUE;
}

/* Adds the term KEY with value V. */
static gboolean
search_query_value(SearchQuery *q, SearchKey key, const char *v, GError **err)
{
	SearchTerm t = { key, NULL, 0 };

	if (!*v)
		return search_query_fail(q, err, "empty value", q->token->str);
	if (key == SEARCH_SINCE || key == SEARCH_BEFORE) {
		if (!search_query_day(v, &t.day))
			return search_query_fail(q, err, "not a day "
			                         "(YYYY-MM-DD)", v);
	} else {
		t.value = g_strdup(v);
	}
	g_array_append_val(q->terms, t);
	return TRUE;
}

/* The key of TOKEN, whose key part (before ':') is LEN bytes; FALSE if
 * there is no such key. */
static gboolean
search_query_key(const char *token, size_t len, SearchKey *key)
{
	for (gsize i = 0; i < G_N_ELEMENTS(search_keys); i++)
		if (strlen(search_keys[i].name) == len &&
		    g_ascii_strncasecmp(token, search_keys[i].name, len) == 0) {
			*key = search_keys[i].key;
			return TRUE;
		}
	return FALSE;
}

static gboolean
search_query_flag_word(const char *s, SearchKey *key)
{
	if (g_ascii_strcasecmp(s, "flagged") == 0)
		*key = SEARCH_FLAGGED;
	else if (g_ascii_strcasecmp(s, "unseen") == 0)
		*key = SEARCH_UNSEEN;
	else
		return FALSE;
	return TRUE;
}

/* Ends the current token: one term.  A ':' names a key only outside
 * quotes (before the first one). */
static gboolean
search_query_term_end(SearchQuery *q, GError **err)
{
	const char *s = q->token->str;
	const char *colon = strchr(s, ':');
	SearchKey key;
	gboolean ok;

	if (colon && (size_t)(colon - s) >= q->quote_at)
		colon = NULL;
	if (q->terms->len == SEARCH_TERMS_MAX)
		return search_query_fail(q, err, "too many terms", NULL);
	if (q->quote_at == G_MAXSIZE && search_query_flag_word(s, &key)) {
		SearchTerm t = { key, NULL, 0 };
		g_array_append_val(q->terms, t);
		ok = TRUE;
	} else if (colon && search_query_key(s, (size_t)(colon - s), &key)) {
		ok = search_query_value(q, key, colon + 1, err);
	} else if (colon) {
		return search_query_fail(q, err, "unknown key", s);
	} else {
		ok = search_query_value(q, SEARCH_TEXT, s, err);
	}
	g_string_truncate(q->token, 0);
	q->quote_at = G_MAXSIZE;
	return ok;
}

/* Byte C outside quotes. */
static gboolean
search_query_unquoted(SearchQuery *q, char c, GError **err)
{
	if (c == ' ' && q->state == SQ_SPACE)
		return TRUE;
	if (c == ' ') {
		q->state = SQ_SPACE;
		return search_query_term_end(q, err);
	}
	q->state = SQ_WORD;
	if (c == '"') {
		q->quote_at = MIN(q->quote_at, q->token->len);
		q->state = SQ_QUOTED;
	} else {
		g_string_append_c(q->token, c);
	}
	return TRUE;
}

/* One byte C of the query. */
static gboolean
search_query_byte(SearchQuery *q, char c, GError **err)
{
	if ((guchar)c < 0x20 || c == 0x7f)
		return search_query_fail(q, err, "control character", NULL);
	switch (q->state) {
	case SQ_SPACE:
	case SQ_WORD:
		return search_query_unquoted(q, c, err);
	case SQ_QUOTED:
		if (c == '"')
			q->state = SQ_WORD;
		else if (c == '\\')
			q->state = SQ_ESCAPE;
		else
			g_string_append_c(q->token, c);
		return TRUE;
	case SQ_ESCAPE:
		g_string_append_c(q->token, c);
		q->state = SQ_QUOTED;
		return TRUE;
	case SQ_BROKEN:
		break;
	}
	return search_query_fail(q, err, "broken", NULL);
}

gboolean
search_query_feed(SearchQuery *q, const char *data, size_t len, GError **err)
{
	for (size_t i = 0; i < len; i++) {
		if (++q->seen > SEARCH_QUERY_MAX)
			return search_query_fail(q, err, "too long", NULL);
		if (!search_query_byte(q, data[i], err))
			return FALSE;
	}
	return TRUE;
}

gboolean
search_query_finish(SearchQuery *q, GError **err)
{
	if (q->state == SQ_QUOTED || q->state == SQ_ESCAPE)
		return search_query_fail(q, err, "unterminated quote", NULL);
	if (q->state == SQ_BROKEN)
		return search_query_fail(q, err, "broken", NULL);
	if (q->state == SQ_WORD && !search_query_term_end(q, err))
		return FALSE;
	q->state = SQ_SPACE;
	if (q->terms->len == 0)
		return search_query_fail(q, err, "empty", NULL);
	return TRUE;
}

SearchQuery *
search_query_parse(const char *text, GError **err)
{
	SearchQuery *q = search_query_new();

	if (!search_query_feed(q, text, strlen(text), err) ||
	    !search_query_finish(q, err)) {
		search_query_free(q);
		return NULL;
	}
	return q;
}

guint
search_query_count(const SearchQuery *q)
{
	return q->terms->len;
}

const SearchTerm *
search_query_term(const SearchQuery *q, guint i)
{
	return &g_array_index(q->terms, SearchTerm, i);
}

const char *
search_query_folder(const SearchQuery *q)
{
	const char *f = NULL;

	for (guint i = 0; i < q->terms->len; i++)
		if (search_query_term(q, i)->key == SEARCH_IN)
			f = search_query_term(q, i)->value;
	return f;
}

/* V as an IMAP quoted string. */
static void
search_query_quote(GString *s, const char *v)
{
	g_string_append_c(s, '"');
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(s, '\\');
		g_string_append_c(s, *p);
	}
	g_string_append_c(s, '"');
}

static void
search_query_imap_date(GString *s, const char *key, gint64 day)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(day);

	g_string_append_printf(s, "%s %d-%s-%04d", key,
	                       g_date_time_get_day_of_month(t),
	                       months[g_date_time_get_month(t) - 1],
	                       g_date_time_get_year(t));
}

char *
search_query_imap(const SearchQuery *q, gboolean *utf8)
{
	static const char *const names[] = {
		[SEARCH_FROM] = "FROM", [SEARCH_TO] = "TO",
		[SEARCH_SUBJECT] = "SUBJECT", [SEARCH_TEXT] = "TEXT",
		[SEARCH_SINCE] = "SINCE", [SEARCH_BEFORE] = "BEFORE",
		[SEARCH_FLAGGED] = "FLAGGED", [SEARCH_UNSEEN] = "UNSEEN",
	};
	GString *s = g_string_new(NULL);

	*utf8 = FALSE;
	for (guint i = 0; i < q->terms->len; i++) {
		const SearchTerm *t = search_query_term(q, i);
		if (t->key == SEARCH_IN)
			continue;
		if (s->len)
			g_string_append_c(s, ' ');
		if (t->key == SEARCH_SINCE || t->key == SEARCH_BEFORE) {
			search_query_imap_date(s, names[t->key], t->day);
			continue;
		}
		g_string_append(s, names[t->key]);
		if (!t->value)
			continue;
		g_string_append_c(s, ' ');
		search_query_quote(s, t->value);
		for (const char *p = t->value; *p; p++)
			*utf8 |= (guchar)*p >= 0x80;
	}
	if (!s->len)
		g_string_append(s, "ALL");
	return g_string_free(s, FALSE);
}

char *
search_query_fts(const SearchQuery *q)
{
	static const char *const columns[] = {
		[SEARCH_FROM] = "sender", [SEARCH_TO] = "recipients",
		[SEARCH_SUBJECT] = "subject", [SEARCH_TEXT] = NULL,
	};
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < q->terms->len; i++) {
		const SearchTerm *t = search_query_term(q, i);
		if (t->key > SEARCH_TEXT)
			continue;
		if (s->len)
			g_string_append(s, " AND ");
		if (columns[t->key])
			g_string_append_printf(s, "%s : ", columns[t->key]);
		g_string_append_c(s, '"');
		for (const char *p = t->value; *p; p++) {
			if (*p == '"')
				g_string_append_c(s, '"');
			g_string_append_c(s, *p);
		}
		g_string_append_c(s, '"');
	}
	if (s->len)
		return g_string_free(s, FALSE);
	g_string_free(s, TRUE);
	return NULL;
}
