/* test_json.c - net/json.c: tables of objects (OAuth endpoints' answers,
 * SASL error reports, and what breaks the syntax) read whole, every
 * truncation of them refused, the limits, and the integer reading. */
#include <check.h>
#include <string.h>

#include "net/json.h"
#include "net/mf_error.h"

typedef struct {
	const char *in;
	const char *want; /* "key=kind:value;..." or, with ok FALSE, a part of
	                   * the error message */
	gboolean ok;
} JsonCase;

static const JsonCase cases[] = {
	{ "{}", "", TRUE },
	{ " \t\r\n{ }\n", "", TRUE },
	{ "{\"access_token\":\"ya29.a0Af\",\"expires_in\":3599,"
	  "\"token_type\":\"Bearer\"}",
	  "access_token=s:ya29.a0Af;expires_in=n:3599;token_type=s:Bearer;",
	  TRUE },
	{ "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":"
	  "\"https://mail.google.com/\"}",
	  "status=s:401;schemes=s:bearer;scope=s:https://mail.google.com/;",
	  TRUE },
	{ "{\"a\":true,\"b\":false,\"c\":null,\"d\":-1.5e+3,\"e\":0}",
	  "a=t;b=f;c=z;d=n:-1.5e+3;e=n:0;", TRUE },
	{ "{\"x\":[1,{\"y\":[]},\"z\"],\"o\":{\"k\":{}}}", "x=o;o=o;", TRUE },
	{ "{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "e=s:\"\\/\b\f\n\r\t;",
	  TRUE },
	{ "{\"u\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}",
	  "u=s:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80;", TRUE },
	{ "{\"u\":\"caf\xc3\xa9\"}", "u=s:caf\xc3\xa9;", TRUE },
	{ "{\"k\":1,\"k\":\"two\"}", "k=s:two;", TRUE },
	{ "{\"\":\"empty key\"}", "=s:empty key;", TRUE },
	/* what breaks the syntax */
	{ "", "must start with '{'", FALSE },
	{ "[1]", "must start with '{'", FALSE },
	{ "\"str\"", "must start with '{'", FALSE },
	{ "{\"a\":1}x", "more after the object", FALSE },
	{ "{\"a\":1}{}", "more after the object", FALSE },
	{ "{\"a\":1,}", "expected a key", FALSE },
	{ "{a:1}", "expected a key", FALSE },
	{ "{\"a\" 1}", "expected ':'", FALSE },
	{ "{\"a\":}", "bad number", FALSE },
	{ "{\"a\":01}", "expected ',' or '}'", FALSE },
	{ "{\"a\":1.}", "bad number", FALSE },
	{ "{\"a\":1e}", "bad number", FALSE },
	{ "{\"a\":-}", "bad number", FALSE },
	{ "{\"a\":tru}", "unexpected character", FALSE },
	{ "{\"a\":\"x\ty\"}", "control character in a string", FALSE },
	{ "{\"a\":\"\\x\"}", "bad escape", FALSE },
	{ "{\"a\":\"\\u12g4\"}", "bad \\u escape", FALSE },
	{ "{\"a\":\"\\u0000\"}", "NUL in a string", FALSE },
	{ "{\"a\":\"\\ud83d\"}", "lone high surrogate", FALSE },
	{ "{\"a\":\"\\ud83d\\u0041\"}", "bad surrogate pair", FALSE },
	{ "{\"a\":\"\\ude00\"}", "lone low surrogate", FALSE },
	{ "{\"a\":\"\xff\"}", "not UTF-8", FALSE },
	{ "{\"a\":[1 2]}", "expected ',' or a closing bracket", FALSE },
	{ "{\"a\":{\"b\"}}", "expected ':'", FALSE },
};

static void
describe(const JsonObject *o, GString *out)
{
	static const char kinds[] = "sntfzo";

	for (guint i = 0; i < json_object_size(o); i++) {
		JsonKind kind;
		const char *value;
		const char *key = json_object_key_at(o, i, &kind, &value);

		g_string_append_printf(out, "%s=%c", key, kinds[kind]);
		if (value)
			g_string_append_printf(out, ":%s", value);
		g_string_append_c(out, ';');
	}
}

START_TEST(test_table)
{
	const JsonCase *c = &cases[_i];
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonObject) o = json_object_parse(c->in, strlen(c->in), &err);

	if (!c->ok) {
		ck_assert_msg(o == NULL, "accepted: %s", c->in);
		ck_assert_int_eq(err->code, MF_ERROR_PROTOCOL);
		ck_assert_msg(strstr(err->message, c->want), "%s: %s", c->in,
		              err->message);
		return;
	}
	ck_assert_msg(o != NULL, "%s: %s", c->in, err ? err->message : "");
	g_autoptr(GString) got = g_string_new(NULL);
	describe(o, got);
	ck_assert_str_eq(got->str, c->want);
}
END_TEST

/* The input arrives whole, but a cut one must never pass for an
 * object: every proper prefix of a valid case fails. */
START_TEST(test_truncations)
{
	const JsonCase *c = &cases[_i];
	size_t len = strlen(c->in);

	if (!c->ok)
		return;
	for (size_t n = 0; n < len; n++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonObject) o = json_object_parse(c->in, n, &err);

		/* Only white space may be cut from the end. */
		if (strspn(c->in + n, " \t\r\n") == len - n) {
			ck_assert(o != NULL);
			continue;
		}
		ck_assert_msg(o == NULL, "prefix %zu of %s accepted", n, c->in);
		ck_assert(err != NULL);
	}
}
END_TEST

START_TEST(test_nested_depth)
{
	g_autoptr(GString) deep = g_string_new("{\"a\":");
	g_autoptr(GError) err = NULL;

	for (int i = 0; i < JSON_DEPTH_MAX - 1; i++)
		g_string_append_c(deep, '[');
	for (int i = 0; i < JSON_DEPTH_MAX - 1; i++)
		g_string_append_c(deep, ']');
	g_string_append_c(deep, '}');
	JsonObject *o = json_object_parse(deep->str, deep->len, NULL);
	ck_assert(o != NULL);
	json_object_free(o);
	g_string_insert_c(deep, 5, '[');
	g_string_insert_c(deep, deep->len - 1, ']');
	ck_assert(json_object_parse(deep->str, deep->len, &err) == NULL);
	ck_assert(strstr(err->message, "nested too deeply"));
}
END_TEST

START_TEST(test_members_max)
{
	g_autoptr(GString) s = g_string_new("{");
	g_autoptr(GError) err = NULL;

	for (int i = 0; i < JSON_MEMBERS_MAX; i++)
		g_string_append_printf(s, "%s\"k%d\":%d", i ? "," : "", i, i);
	g_string_append_c(s, '}');
	JsonObject *o = json_object_parse(s->str, s->len, NULL);
	ck_assert(o != NULL);
	ck_assert_uint_eq(json_object_size(o), JSON_MEMBERS_MAX);
	json_object_free(o);
	/* the same key again is no new member */
	g_string_insert(s, s->len - 1, ",\"k0\":1");
	o = json_object_parse(s->str, s->len, NULL);
	ck_assert(o != NULL);
	json_object_free(o);
	g_string_insert(s, s->len - 1, ",\"one more\":1");
	ck_assert(json_object_parse(s->str, s->len, &err) == NULL);
	ck_assert(strstr(err->message, "too many members"));
}
END_TEST

START_TEST(test_input_max)
{
	g_autofree char *big = g_malloc(JSON_INPUT_MAX + 1);
	g_autoptr(GError) err = NULL;

	memset(big, ' ', JSON_INPUT_MAX + 1);
	big[0] = '{';
	big[JSON_INPUT_MAX - 1] = '}';
	JsonObject *o = json_object_parse(big, JSON_INPUT_MAX, NULL);
	ck_assert(o != NULL);
	json_object_free(o);
	ck_assert(json_object_parse(big, JSON_INPUT_MAX + 1, &err) == NULL);
	ck_assert(strstr(err->message, "longer than"));
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char in[] = "{\"a\":\"x\0y\"}";
	g_autoptr(GError) err = NULL;

	ck_assert(json_object_parse(in, sizeof in - 1, &err) == NULL);
	ck_assert(strstr(err->message, "control character"));
}
END_TEST

START_TEST(test_int)
{
	static const char in[] =
		"{\"n\":3599,\"neg\":-5,\"s\":\"120\",\"f\":1.5,\"e\":1e3,"
		"\"big\":99999999999999999999,\"sneg\":\"-5\",\"sx\":\"12a\","
		"\"t\":true,\"empty\":\"\",\"max\":9223372036854775807}";
	g_autoptr(JsonObject) o = json_object_parse(in, strlen(in), NULL);
	gint64 v = 42;

	ck_assert(o != NULL);
	ck_assert(json_object_int(o, "n", &v) && v == 3599);
	ck_assert(json_object_int(o, "neg", &v) && v == -5);
	ck_assert(json_object_int(o, "s", &v) && v == 120);
	ck_assert(json_object_int(o, "max", &v) && v == G_MAXINT64);
	v = 42;
	ck_assert(!json_object_int(o, "f", &v));
	ck_assert(!json_object_int(o, "e", &v));
	ck_assert(!json_object_int(o, "big", &v));
	ck_assert(!json_object_int(o, "sneg", &v));
	ck_assert(!json_object_int(o, "sx", &v));
	ck_assert(!json_object_int(o, "t", &v));
	ck_assert(!json_object_int(o, "empty", &v));
	ck_assert(!json_object_int(o, "missing", &v));
	ck_assert(v == 42);
	ck_assert_str_eq(json_object_string(o, "s"), "120");
	ck_assert(json_object_string(o, "n") == NULL);
	JsonKind kind;
	ck_assert(json_object_has(o, "t", &kind) && kind == JSON_TRUE);
	ck_assert(!json_object_has(o, "missing", NULL));
	json_object_free(NULL);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0, G_N_ELEMENTS(cases));
	tcase_add_loop_test(tc, test_truncations, 0, G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_nested_depth);
	tcase_add_test(tc, test_members_max);
	tcase_add_test(tc, test_input_max);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_int);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
