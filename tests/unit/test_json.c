/* Unit tests of json.c: hardened parsing of untrusted JSON, the typed
 * getters, and canonical JSON (OLPC, as TUF and securesystemslib sign). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vouch/encoding.h"
#include "vouch/error.h"
#include "vouch/hash.h"
#include "vouch/json.h"

#define DEPTH_MSG "JSON nested deeper than 64 levels"

static enum vouch_rc parse_n(const char *s, size_t n, json_t **out, struct vouch_err *err)
{
	return vouch_json_parse(s, n, VOUCH_JSON_MAX_SIZE, out, err);
}

static json_t *parse_ok(const char *s)
{
	json_t *v = NULL;
	struct vouch_err err = {0};
	enum vouch_rc rc = parse_n(s, strlen(s), &v, &err);
	if (rc != VOUCH_OK)
		fail_msg("parse of %s failed: %s", s, err.msg);
	assert_non_null(v);
	return v;
}

/* Asserts that s (n bytes) is rejected with code and exactly msg. */
static void expect_parse_error(const char *s, size_t n, enum vouch_rc code, const char *msg)
{
	json_t *v = NULL;
	struct vouch_err err = {0};
	assert_int_equal(parse_n(s, n, &v, &err), code);
	assert_null(v);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
}

static void expect_rejected(const char *s, const char *msg)
{
	expect_parse_error(s, strlen(s), VOUCH_E_FORMAT, msg);
}

/* Canonical bytes of the JSON text s, as a NUL-terminated string. */
static char *canon_of(const char *s)
{
	json_t *v = parse_ok(s);
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	enum vouch_rc rc = vouch_canon_encode(v, &b, &err);
	if (rc != VOUCH_OK)
		fail_msg("canonical encoding of %s failed: %s", s, err.msg);
	json_decref(v);
	return (char *)vouch_buf_steal(&b);
}

static void expect_canon(const char *in, const char *want)
{
	char *got = canon_of(in);
	assert_string_equal(got, want);
	/* Canonical form is a fixed point, where it is still JSON (raw control
	 * characters in strings are canonical but not JSON). */
	int json = 1;
	for (const char *p = want; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			json = 0;
	if (json) {
		char *again = canon_of(got);
		assert_string_equal(again, want);
		free(again);
	}
	free(got);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* "[[[...[inner]...]]]" with depth arrays. */
static char *nested_arrays(int depth, const char *inner)
{
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	for (int i = 0; i < depth; i++)
		assert_int_equal(vouch_buf_append_str(&b, "[", &err), VOUCH_OK);
	assert_int_equal(vouch_buf_append_str(&b, inner, &err), VOUCH_OK);
	for (int i = 0; i < depth; i++)
		assert_int_equal(vouch_buf_append_str(&b, "]", &err), VOUCH_OK);
	return (char *)vouch_buf_steal(&b);
}

/* ---- parsing ---------------------------------------------------------- */

static void test_parse_values(void **state)
{
	(void)state;
	json_t *v = parse_ok(" {\"a\": [1, \"x\", true, null, {}], \"b\": -5}\n");
	assert_true(json_is_object(v));
	assert_int_equal(json_array_size(json_object_get(v, "a")), 5);
	assert_int_equal(json_integer_value(json_object_get(v, "b")), -5);
	json_decref(v);
	/* Any value at the top level. */
	v = parse_ok("42");
	assert_int_equal(json_integer_value(v), 42);
	json_decref(v);
	v = parse_ok("\"s\"");
	assert_string_equal(json_string_value(v), "s");
	json_decref(v);
	v = parse_ok("null");
	assert_true(json_is_null(v));
	json_decref(v);
	expect_parse_error("", 0, VOUCH_E_FORMAT,
			   "malformed JSON at line 1 column 0: unexpected token near end of file");
	expect_rejected("[1,]", "malformed JSON at line 1 column 4: unexpected token near ']'");
	expect_rejected("{\"a\":1,}",
			"malformed JSON at line 1 column 8: string or '}' expected near '}'");
	expect_rejected("nul", "malformed JSON at line 1 column 3: invalid token near 'nul'");
}

static void test_strict_grammar(void **state)
{
	(void)state;
	/* What lenient parsers accept and JSON does not. */
	static const char *const bad[] = {
	    "01",	 "+1",	    "NaN",    "Infinity",	"-Infinity", ".5",    "1.",
	    "0x10",	 "'a'",	    "[1,,2]", "// c\n1",	"/* c */1",  "[1]//", "\"\\x41\"",
	    "\"\\u12\"", "\"\\a\"", "True",   "{a:1}",		"-",	     "1e",    "--1",
	    "\"\t\"",	 "[01]",    "-01",    "\xef\xbb\xbf{}", "{\"a\" 1}", "[1 2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = NULL;
		struct vouch_err err = {0};
		if (parse_n(bad[i], strlen(bad[i]), &v, &err) != VOUCH_E_FORMAT)
			fail_msg("accepted %s", bad[i]);
		assert_null(v);
		assert_int_equal(err.code, VOUCH_E_FORMAT);
		assert_memory_equal(err.msg, "malformed JSON at line 1 column ", 32);
	}
	expect_rejected("01", "malformed JSON at line 1 column 1: invalid token near '0'");
	expect_rejected("NaN", "malformed JSON at line 1 column 3: invalid token near 'NaN'");
	expect_rejected("\"\\a\"",
			"malformed JSON at line 1 column 3: invalid escape near '\"\\a'");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_rejected("{\"a\":1,\"a\":2}",
			"malformed JSON at line 1 column 10: duplicate object key near '\"a\"'");
	/* Same key after unescaping. */
	expect_rejected("{\"a\":1,\"\\u0061\":2}",
			"malformed JSON at line 1 column 15: duplicate object key near "
			"'\"\\u0061\"'");
	/* Nested, with different values and types. */
	expect_rejected("{\"signed\":{\"keys\":{},\"roles\":1,\"keys\":[]}}",
			"malformed JSON at line 1 column 37: duplicate object key near "
			"'\"keys\"'");
	expect_rejected("[{}, {\"x\": null, \"x\": null}]",
			"malformed JSON at line 1 column 20: duplicate object key near '\"x\"'");
	/* Same name in different objects is fine. */
	json_t *v = parse_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
	json_decref(v);
}

static void test_trailing_bytes(void **state)
{
	(void)state;
	expect_rejected("{} x", "malformed JSON at line 1 column 4: end of file expected near 'x'");
	expect_rejected("{}{}", "malformed JSON at line 1 column 3: end of file expected near '{'");
	expect_rejected("1 2", "malformed JSON at line 1 column 3: end of file expected near '2'");
	expect_parse_error(
	    "{}\0", 3, VOUCH_E_FORMAT,
	    "malformed JSON at line 1 column 3: end of file expected near end of file");
	/* Trailing whitespace is not content. */
	json_t *v = parse_ok("{} \n\t ");
	json_decref(v);
}

static void test_depth_limit(void **state)
{
	(void)state;
	/* 64 levels of containers, with or without a scalar inside. */
	char *s = nested_arrays(64, "");
	json_t *v = parse_ok(s);
	json_decref(v);
	free(s);
	s = nested_arrays(64, "1");
	v = parse_ok(s);
	json_decref(v);
	free(s);
	/* 65 levels. */
	s = nested_arrays(65, "");
	expect_rejected(s, DEPTH_MSG);
	free(s);
	s = nested_arrays(65, "{\"a\":1}");
	s[0] = ' ';
	s[strlen(s) - 1] = ' ';
	/* Now 64 arrays + 1 object: still 65 levels. */
	expect_rejected(s, DEPTH_MSG);
	free(s);

	/* Objects count the same way. */
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	for (int i = 0; i < 65; i++)
		assert_int_equal(vouch_buf_append_str(&b, "{\"k\":", &err), VOUCH_OK);
	assert_int_equal(vouch_buf_append_str(&b, "0", &err), VOUCH_OK);
	for (int i = 0; i < 65; i++)
		assert_int_equal(vouch_buf_append_str(&b, "}", &err), VOUCH_OK);
	expect_rejected((char *)b.data, DEPTH_MSG);
	vouch_buf_free(&b);
}

static void test_depth_limit_is_fast(void **state)
{
	(void)state;
	/* 100000 '[' must be refused before anything recurses; and quickly. */
	char *s = repeat('[', 100000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++)
		expect_rejected(s, DEPTH_MSG);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* The pre-scan stops at the 65th bracket: 100 rejections take
	 * microseconds; a full parse of each would take far longer. */
	assert_true(secs < 0.5);
	free(s);

	/* Brackets inside strings are text, not nesting. */
	s = repeat('[', 1000);
	s[0] = '"';
	s[999] = '"';
	json_t *v = parse_ok(s);
	assert_int_equal(json_string_length(v), 998);
	json_decref(v);
	/* Even after an escaped quote. */
	s[1] = '\\';
	s[2] = '"';
	v = parse_ok(s);
	json_decref(v);
	free(s);
}

static void test_size_limit(void **state)
{
	(void)state;
	json_t *v = NULL;
	struct vouch_err err = {0};
	const char *doc = "{\"a\":\"bc\"}"; /* 10 bytes */
	assert_int_equal(vouch_json_parse(doc, 10, 10, &v, &err), VOUCH_OK);
	json_decref(v);
	v = NULL;
	assert_int_equal(vouch_json_parse(doc, 10, 9, &v, &err), VOUCH_E_LIMIT);
	assert_int_equal(err.code, VOUCH_E_LIMIT);
	assert_string_equal(err.msg, "JSON document of 10 bytes exceeds the limit of 9");
	assert_null(v);
}

static void test_nul_rejected(void **state)
{
	(void)state;
	expect_rejected("\"a\\u0000b\"",
			"malformed JSON at line 1 column 10: \\u0000 is not allowed without "
			"JSON_ALLOW_NUL near '\"a\\u0000b\"'");
	expect_parse_error("\"a\0b\"", 5, VOUCH_E_FORMAT,
			   "malformed JSON at line 1 column 2: control character 0x0 near '\"a'");
	expect_rejected("{\"\\u0000\":1}",
			"malformed JSON at line 1 column 9: NUL byte in object key not supported "
			"near '\"\\u0000\"'");
	expect_rejected("{\"k\\u0000ey\":1}",
			"malformed JSON at line 1 column 12: NUL byte in object key not "
			"supported near '\"k\\u0000ey\"'");
}

static void test_invalid_utf8_rejected(void **state)
{
	(void)state;
	expect_rejected("\"\xff\"", "malformed JSON at line 1 column 1: unable to decode byte "
				    "0xff near '\"'");
	/* Overlong '/', encoded surrogate, truncated sequence, stray
	 * continuation byte, beyond U+10FFFF. */
	expect_rejected("\"\xc0\xaf\"", "malformed JSON at line 1 column 1: unable to decode "
					"byte 0xc0 near '\"'");
	expect_rejected("\"\xed\xa0\x80\"", "malformed JSON at line 1 column 1: unable to "
					    "decode byte 0xed near '\"'");
	expect_rejected("\"\xe2\x82\"", "malformed JSON at line 1 column 1: unable to decode "
					"byte 0xe2 near '\"'");
	expect_rejected("\"a\x80\"", "malformed JSON at line 1 column 2: unable to decode "
				     "byte 0x80 near '\"a'");
	expect_rejected("\"\xf4\x90\x80\x80\"", "malformed JSON at line 1 column 1: unable to "
						"decode byte 0xf4 near '\"'");
	/* In keys too. */
	expect_rejected("{\"\xff\":1}", "malformed JSON at line 1 column 2: unable to decode "
					"byte 0xff near '\"'");
	/* Lone surrogates written as escapes. */
	expect_rejected("\"\\ud800\"",
			"malformed JSON at line 1 column 8: invalid Unicode '\\uD800' near "
			"'\"\\ud800\"'");
	expect_rejected("\"\\udc00\"",
			"malformed JSON at line 1 column 8: invalid Unicode '\\uDC00' near "
			"'\"\\udc00\"'");
	/* Valid multi-byte text and a surrogate pair are accepted. */
	json_t *v = parse_ok("[\"\xe2\x82\xac\", \"\\ud83d\\ude00\", \"\xf0\x9f\x98\x80\"]");
	assert_string_equal(json_string_value(json_array_get(v, 0)), "\xe2\x82\xac");
	assert_string_equal(json_string_value(json_array_get(v, 1)), "\xf0\x9f\x98\x80");
	assert_string_equal(json_string_value(json_array_get(v, 2)), "\xf0\x9f\x98\x80");
	json_decref(v);
}

static void test_error_message_has_no_raw_input(void **state)
{
	(void)state;
	/* A terminal escape sequence in untrusted input must not reach the
	 * user's terminal through an error message. */
	expect_rejected("\x1b[31mred", "malformed JSON at line 1 column 1: invalid token near '?'");
}

static void test_integer_range(void **state)
{
	(void)state;
	json_t *v = parse_ok("[9223372036854775807, -9223372036854775808]");
	assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MAX);
	assert_true(json_integer_value(json_array_get(v, 1)) == INT64_MIN);
	json_decref(v);
	expect_rejected("9223372036854775808", "malformed JSON at line 1 column 19: too big "
					       "integer near '9223372036854775808'");
	expect_rejected("-9223372036854775809",
			"malformed JSON at line 1 column 20: too big negative integer near "
			"'-9223372036854775809'");
	expect_rejected("1e400",
			"malformed JSON at line 1 column 5: real number overflow near '1e400'");
}

/* ---- typed getters ------------------------------------------------------ */

static void test_getters(void **state)
{
	(void)state;
	json_t *o = parse_ok("{\"s\":\"str\",\"i\":7,\"neg\":-3,\"r\":1.5,\"t\":true,\"f\":false,"
			     "\"o\":{},\"a\":[1],\"n\":null}");
	struct vouch_err err = {0};
	const char *s = NULL;
	int64_t i = 0;
	int b = -1;
	json_t *j = NULL;

	assert_int_equal(vouch_json_get_string(o, "s", &s, &err), VOUCH_OK);
	assert_string_equal(s, "str");
	assert_int_equal(vouch_json_get_int(o, "i", 0, 10, &i, &err), VOUCH_OK);
	assert_int_equal(i, 7);
	assert_int_equal(vouch_json_get_int(o, "neg", INT64_MIN, INT64_MAX, &i, &err), VOUCH_OK);
	assert_int_equal(i, -3);
	assert_int_equal(vouch_json_get_bool(o, "t", &b, &err), VOUCH_OK);
	assert_int_equal(b, 1);
	assert_int_equal(vouch_json_get_bool(o, "f", &b, &err), VOUCH_OK);
	assert_int_equal(b, 0);
	assert_int_equal(vouch_json_get_object(o, "o", &j, &err), VOUCH_OK);
	assert_true(json_is_object(j));
	assert_int_equal(vouch_json_get_array(o, "a", &j, &err), VOUCH_OK);
	assert_int_equal(json_array_size(j), 1);

	/* Missing. */
	s = "untouched";
	assert_int_equal(vouch_json_get_string(o, "name", &s, &err), VOUCH_E_FORMAT);
	assert_int_equal(err.code, VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'name' is missing");
	assert_string_equal(s, "untouched");
	/* Wrong types. */
	assert_int_equal(vouch_json_get_string(o, "i", &s, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'i' is not a string");
	assert_int_equal(vouch_json_get_string(o, "n", &s, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'n' is not a string");
	assert_int_equal(vouch_json_get_int(o, "s", 0, 10, &i, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 's' is not an integer");
	/* A real is not an integer, even a whole one. */
	assert_int_equal(vouch_json_get_int(o, "r", 0, 10, &i, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'r' is not an integer");
	assert_int_equal(vouch_json_get_bool(o, "i", &b, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'i' is not a boolean");
	assert_int_equal(vouch_json_get_bool(o, "n", &b, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'n' is not a boolean");
	assert_int_equal(vouch_json_get_object(o, "a", &j, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'a' is not an object");
	assert_int_equal(vouch_json_get_array(o, "o", &j, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'o' is not an array");
	/* Out of range, both ends. */
	i = 99;
	assert_int_equal(vouch_json_get_int(o, "i", 0, 5, &i, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'i' is 7, outside [0, 5]");
	assert_int_equal(i, 99);
	assert_int_equal(vouch_json_get_int(o, "neg", 0, INT64_MAX, &i, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "field 'neg' is -3, outside [0, 9223372036854775807]");
	/* Not an object at all. */
	json_t *arr = json_object_get(o, "a");
	assert_int_equal(vouch_json_get_string(arr, "s", &s, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "expected an object holding 's'");
	assert_int_equal(vouch_json_get_int(NULL, "x", 0, 1, &i, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "expected an object holding 'x'");
	json_decref(o);
}

static void test_read_file_and_dump(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX + 16], msg[PATH_MAX + 128];
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/vouch-test-json.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/doc.json", dir);
	struct vouch_err err = {0};
	json_t *v = NULL;

	assert_int_equal(vouch_json_read_file(path, 100, &v, &err), VOUCH_E_NOTFOUND);
	snprintf(msg, sizeof(msg), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err.msg, msg);

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"b\": [1, 2], \"a\": \"x\", \"a\": 1}", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(vouch_json_read_file(path, 100, &v, &err), VOUCH_E_FORMAT);
	snprintf(msg, sizeof(msg),
		 "%s: malformed JSON at line 1 column 27: duplicate object key near '\"a\"'", path);
	assert_string_equal(err.msg, msg);
	assert_int_equal(vouch_json_read_file(path, 10, &v, &err), VOUCH_E_LIMIT);
	snprintf(msg, sizeof(msg), "%s: 31 bytes exceeds the limit of 10 bytes", path);
	assert_string_equal(err.msg, msg);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"b\": [1, 2], \"a\": \"x\"}", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(vouch_json_read_file(path, 100, &v, &err), VOUCH_OK);
	struct vouch_buf b = {0};
	assert_int_equal(vouch_json_dump(v, &b, &err), VOUCH_OK);
	assert_string_equal((char *)b.data,
			    "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ]\n}\n");
	vouch_buf_free(&b);
	json_decref(v);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- canonical JSON ------------------------------------------------------ */

static void test_canon_no_whitespace_sorted(void **state)
{
	(void)state;
	expect_canon(
	    " { \"b\" : 1 , \"a\" : [ 1 , 2 ] , \"c\" : { \"z\" : null , \"y\" : true } } ",
	    "{\"a\":[1,2],\"b\":1,\"c\":{\"y\":true,\"z\":null}}");
	/* Arrays keep their order. */
	expect_canon("[3, 1, 2]", "[3,1,2]");
	/* Byte order: uppercase before lowercase, digits and '_' by value, a
	 * prefix before its extensions, the empty key first. */
	expect_canon("{\"b\":0,\"a\":0,\"B\":0,\"_\":0,\"1\":0,\"ab\":0,\"a b\":0,\"\":0}",
		     "{\"\":0,\"1\":0,\"B\":0,\"_\":0,\"a\":0,\"a b\":0,\"ab\":0,\"b\":0}");
}

static void test_canon_sorted_by_utf8_bytes(void **state)
{
	(void)state;
	/* Non-ASCII keys sort after ASCII, by their UTF-8 bytes:
	 * 'z' 7a < e9 (U+00E9) < U+0100 c4 80 < U+20AC e2 82 ac. */
	expect_canon("{\"\xe2\x82\xac\":3,\"\xc3\xa9\":1,\"z\":0,\"\xc4\x80\":2}",
		     "{\"z\":0,\"\xc3\xa9\":1,\"\xc4\x80\":2,\"\xe2\x82\xac\":3}");
	/* Escaped input, raw output. */
	expect_canon("{\"\\u00e9\":1,\"e\":0}", "{\"e\":0,\"\xc3\xa9\":1}");
}

static void test_canon_utf16_and_utf8_orders_disagree(void **state)
{
	(void)state;
	/* Where UTF-16 code units and UTF-8 bytes order keys differently
	 * (characters U+E000..U+FFFF against U+10000 and above), we follow the
	 * UTF-8 bytes as securesystemslib (Python) does; JavaScript's sort, and
	 * so @tufjs/canonical-json, would put the supplementary character
	 * first. These fixed strings stand in for the interop test there. */
	/* U+FFFF (ef bf bf) before U+10000 (f0 90 80 80). */
	expect_canon("{\"\\ud800\\udc00\":2,\"\\uffff\":1}",
		     "{\"\xef\xbf\xbf\":1,\"\xf0\x90\x80\x80\":2}");
	/* U+E000 (ee 80 80) before U+1F600 (f0 9f 98 80), mixed with ASCII and
	 * U+FF21 (ef bc a1). */
	expect_canon("{\"\xf0\x9f\x98\x80\":\"smile\",\"\xee\x80\x80\":\"pua\",\"a\":1,"
		     "\"\xef\xbc\xa1\":\"A\"}",
		     "{\"a\":1,\"\xee\x80\x80\":\"pua\",\"\xef\xbc\xa1\":\"A\","
		     "\"\xf0\x9f\x98\x80\":\"smile\"}");
	/* Nested, and as shared prefixes: "x" + U+FFFF vs "x" + U+10000. */
	expect_canon("{\"o\":{\"x\xf0\x90\x80\x80\":[],\"x\xef\xbf\xbf\":{}}}",
		     "{\"o\":{\"x\xef\xbf\xbf\":{},\"x\xf0\x90\x80\x80\":[]}}");
}

static void test_canon_string_escapes(void **state)
{
	(void)state;
	/* Only '"' and '\' are escaped. */
	expect_canon("\"a\\\"b\\\\c\"", "\"a\\\"b\\\\c\"");
	expect_canon("{\"k\\\"\\\\\":\"\\\\\\\\\"}", "{\"k\\\"\\\\\":\"\\\\\\\\\"}");
	/* '/' is not escaped; "\/" in the input is just '/'. */
	expect_canon("\"a\\/b/c\"", "\"a/b/c\"");
	/* Control characters come out raw, as do DEL and non-ASCII. */
	expect_canon("\"\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\"", "\"\n\t\r\b\f\x01\x1f\x7f\"");
	expect_canon("\"\\u00e9\\u20ac\\ud83d\\ude00\"",
		     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* In keys too. */
	expect_canon("{\"\\n\":1,\"\\t\":2}", "{\"\t\":2,\"\n\":1}");
}

static void test_canon_integers(void **state)
{
	(void)state;
	expect_canon("[0, -0, 1, -1, 10, 1234567890]", "[0,0,1,-1,10,1234567890]");
	expect_canon("[9223372036854775807, -9223372036854775808]",
		     "[9223372036854775807,-9223372036854775808]");
	expect_canon("{\"version\":9007199254740993}", "{\"version\":9007199254740993}");
}

static void expect_canon_error(json_t *v, enum vouch_rc code, const char *msg)
{
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_buf_append_str(&b, "prefix", &err), VOUCH_OK);
	assert_int_equal(vouch_canon_encode(v, &b, &err), code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
	/* Nothing half-written is left for a caller to sign. */
	assert_int_equal(b.len, 6);
	assert_string_equal((char *)b.data, "prefix");
	vouch_buf_free(&b);
}

static void test_canon_floats_rejected(void **state)
{
	(void)state;
	static const char *const docs[] = {
	    "1.0",
	    "0.5",
	    "1e3",
	    "-2E-2",
	    "[1,2,3.25]",
	    "{\"a\":{\"b\":[{\"c\":1.5}]}}",
	    "{\"z\":1,\"a\":0.0}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *v = parse_ok(docs[i]);
		expect_canon_error(v, VOUCH_E_FORMAT,
				   "canonical JSON allows no floating-point numbers");
		json_decref(v);
	}
	json_t *r = json_real(2.0);
	expect_canon_error(r, VOUCH_E_FORMAT, "canonical JSON allows no floating-point numbers");
	json_decref(r);
	expect_canon_error(NULL, VOUCH_E_INTERNAL, "no JSON value to canonicalise");
}

static void test_canon_nested_and_empty(void **state)
{
	(void)state;
	expect_canon("{}", "{}");
	expect_canon("[]", "[]");
	expect_canon("[[], {}, [[]], {\"a\": {}}, \"\"]", "[[],{},[[]],{\"a\":{}},\"\"]");
	expect_canon("{\"b\":{\"d\":[{\"f\":1,\"e\":2}],\"c\":[]},\"a\":{\"z\":{\"y\":{}}}}",
		     "{\"a\":{\"z\":{\"y\":{}}},\"b\":{\"c\":[],\"d\":[{\"e\":2,\"f\":1}]}}");
	expect_canon("true", "true");
	expect_canon("false", "false");
	expect_canon("null", "null");
	expect_canon("\"\"", "\"\"");
}

static void test_canon_appends(void **state)
{
	(void)state;
	json_t *v = parse_ok("{\"b\":1,\"a\":2}");
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_buf_append_str(&b, "x=", &err), VOUCH_OK);
	assert_int_equal(vouch_canon_encode(v, &b, &err), VOUCH_OK);
	assert_string_equal((char *)b.data, "x={\"a\":2,\"b\":1}");
	assert_int_equal(b.len, strlen("x={\"a\":2,\"b\":1}"));
	vouch_buf_free(&b);
	json_decref(v);
}

static void test_canon_keys_with_nul(void **state)
{
	(void)state;
	/* The parser refuses NUL, but documents built in memory can hold it:
	 * keys are compared and written by length, not as C strings. */
	json_t *o = json_object();
	assert_int_equal(json_object_setn_new(o, "ab", 2, json_integer(3)), 0);
	assert_int_equal(json_object_setn_new(o, "a\0b", 3, json_integer(2)), 0);
	assert_int_equal(json_object_setn_new(o, "a", 1, json_integer(1)), 0);
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_canon_encode(o, &b, &err), VOUCH_OK);
	static const char want[] = "{\"a\":1,\"a\0b\":2,\"ab\":3}";
	assert_int_equal(b.len, sizeof(want) - 1);
	assert_memory_equal(b.data, want, sizeof(want) - 1);
	vouch_buf_free(&b);
	json_decref(o);
}

static void test_canon_depth(void **state)
{
	(void)state;
	/* Built in memory, past the parser's limit. */
	json_t *root = json_array(), *cur = root;
	for (int i = 1; i < 64; i++) {
		json_t *next = json_array();
		assert_int_equal(json_array_append_new(cur, next), 0);
		cur = next;
	}
	assert_int_equal(json_array_append_new(cur, json_integer(1)), 0);
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_canon_encode(root, &b, &err), VOUCH_OK);
	char *want = nested_arrays(64, "1");
	assert_string_equal((char *)b.data, want);
	free(want);
	vouch_buf_free(&b);
	json_t *deeper = json_array();
	assert_int_equal(json_array_append_new(cur, deeper), 0);
	expect_canon_error(root, VOUCH_E_FORMAT,
			   "JSON nested deeper than 64 levels cannot be canonicalised");
	json_decref(root);
}

/* Key ids published in a TUF repository made by python-tuf and
 * securesystemslib (an independent implementation): sha256 of the
 * canonical JSON of the key object. */
static void test_canon_known_tuf_key_ids(void **state)
{
	(void)state;
	static const struct {
		const char *pub;
		const char *keyid;
	} keys[] = {
	    {"f0648470c30395377550af67d173c494721af5b648a03500ccee231ee77104fa",
	     "156b909894a0cee7ede09baeab7e42e0b69507e7b849843164379893e84c6245"},
	    {"2ec03df3e4ffb9058d3bfca640a9e5d4cebe4d8159168373598541252dbcbcd8",
	     "4ef5bb3d874885be40518d233c762fbc455e382989b4435f74379f70212ffe1a"},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char doc[512];
		/* Pretty-printed, keys out of order, as a file might hold it. */
		snprintf(
		    doc, sizeof(doc),
		    "{\n  \"scheme\": \"ed25519\",\n  \"keyval\": {\n    \"public\": \"%s\"\n  "
		    "},\n  \"keytype\": \"ed25519\",\n  \"keyid_hash_algorithms\": [\n    "
		    "\"sha256\",\n    \"sha512\"\n  ]\n}\n",
		    keys[i].pub);
		char *c = canon_of(doc);
		uint8_t d[VOUCH_SHA256_LEN];
		char hex[2 * VOUCH_SHA256_LEN + 1];
		vouch_sha256(c, strlen(c), d);
		vouch_hex_encode(d, sizeof(d), hex);
		assert_string_equal(hex, keys[i].keyid);
		free(c);
	}
}

static void test_canon_tuf_like_metadata(void **state)
{
	(void)state;
	expect_canon(
	    "{\"signed\": {\"_type\": \"targets\", \"spec_version\": \"1.0.31\", "
	    "\"version\": 3, \"expires\": \"2030-01-01T00:00:00Z\", \"targets\": "
	    "{\"os/image v2.bin\": {\"length\": 1048576, \"hashes\": {\"sha512\": \"ab\", "
	    "\"sha256\": \"cd\"}, \"custom\": {\"vouch\": {\"hardware\": [\"rpi4\", "
	    "\"rpi5\"], \"security_version\": 2, \"tier\": \"os\"}}}}}, "
	    "\"signatures\": []}",
	    "{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"expires\":\"2030-01-"
	    "01T00:00:00Z\",\"spec_version\":\"1.0.31\",\"targets\":{\"os/image "
	    "v2.bin\":{\"custom\":{\"vouch\":{\"hardware\":[\"rpi4\",\"rpi5\"],\"security_"
	    "version\":2,\"tier\":\"os\"}},\"hashes\":{\"sha256\":\"cd\",\"sha512\":\"ab\"},"
	    "\"length\":1048576}},\"version\":3}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_values),
	    cmocka_unit_test(test_strict_grammar),
	    cmocka_unit_test(test_duplicate_keys),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_depth_limit_is_fast),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_nul_rejected),
	    cmocka_unit_test(test_invalid_utf8_rejected),
	    cmocka_unit_test(test_error_message_has_no_raw_input),
	    cmocka_unit_test(test_integer_range),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_read_file_and_dump),
	    cmocka_unit_test(test_canon_no_whitespace_sorted),
	    cmocka_unit_test(test_canon_sorted_by_utf8_bytes),
	    cmocka_unit_test(test_canon_utf16_and_utf8_orders_disagree),
	    cmocka_unit_test(test_canon_string_escapes),
	    cmocka_unit_test(test_canon_integers),
	    cmocka_unit_test(test_canon_floats_rejected),
	    cmocka_unit_test(test_canon_nested_and_empty),
	    cmocka_unit_test(test_canon_appends),
	    cmocka_unit_test(test_canon_keys_with_nul),
	    cmocka_unit_test(test_canon_depth),
	    cmocka_unit_test(test_canon_known_tuf_key_ids),
	    cmocka_unit_test(test_canon_tuf_like_metadata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
