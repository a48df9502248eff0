#include "vouch/json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Depth counts containers: a scalar inside 64 nested arrays is at depth 64,
 * the same as the innermost array. */
static int depth_ok(json_t *v, int depth)
{
	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (depth > VOUCH_JSON_MAX_DEPTH)
		return 0;
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach (v, k, c) {
			if (!depth_ok(c, depth + 1))
				return 0;
		}
	} else {
		size_t i;
		json_t *c;
		json_array_foreach (v, i, c) {
			if (!depth_ok(c, depth + 1))
				return 0;
		}
	}
	return 1;
}

/* jansson's own parser recurses up to 2048 levels; refuse far less before
 * it starts, by scanning the bracket depth outside strings first. For a
 * well-formed document this depth is exact; a malformed one is rejected
 * either here or by the parser. */
static int raw_depth_ok(const char *p, size_t len)
{
	int depth = 0, in_str = 0, esc = 0;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > VOUCH_JSON_MAX_DEPTH)
				return 0;
		} else if (c == '}' || c == ']')
			depth--;
	}
	return 1;
}

/* jansson quotes the offending input in its messages; keep terminal control
 * sequences and invalid UTF-8 of untrusted input out of ours. */
static void sanitize(char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f)
			*s = '?';
	}
}

enum vouch_rc vouch_json_parse(const void *data, size_t len, size_t max_len, json_t **out,
			       struct vouch_err *err)
{
	if (len > max_len)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "JSON document of %zu bytes exceeds the limit of %zu", len,
				     max_len);
	if (!raw_depth_ok(data, len))
		return vouch_err_set(err, VOUCH_E_FORMAT, "JSON nested deeper than %d levels",
				     VOUCH_JSON_MAX_DEPTH);
	json_error_t je;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (v == NULL) {
		sanitize(je.text);
		return vouch_err_set(err, VOUCH_E_FORMAT, "malformed JSON at line %d column %d: %s",
				     je.line, je.column, je.text);
	}
	if (!depth_ok(v, 1)) {
		json_decref(v);
		return vouch_err_set(err, VOUCH_E_FORMAT, "JSON nested deeper than %d levels",
				     VOUCH_JSON_MAX_DEPTH);
	}
	*out = v;
	return VOUCH_OK;
}

enum vouch_rc vouch_json_read_file(const char *path, size_t max_len, json_t **out,
				   struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_file_read(path, max_len, &b, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = vouch_json_parse(b.data, b.len, max_len, out, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s: ", path);
	vouch_buf_free(&b);
	return rc;
}

static enum vouch_rc canon_string(const char *s, size_t n, struct vouch_buf *out,
				  struct vouch_err *err)
{
	enum vouch_rc rc = vouch_buf_append(out, "\"", 1, err);
	size_t start = 0;
	for (size_t i = 0; i < n && rc == VOUCH_OK; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			rc = vouch_buf_append(out, s + start, i - start, err);
			if (rc == VOUCH_OK)
				rc = vouch_buf_append(out, "\\", 1, err);
			start = i;
		}
	}
	if (rc == VOUCH_OK)
		rc = vouch_buf_append(out, s + start, n - start, err);
	if (rc == VOUCH_OK)
		rc = vouch_buf_append(out, "\"", 1, err);
	return rc;
}

struct member {
	const char *key;
	size_t keylen;
	json_t *value;
};

/* Keys sorted by their UTF-8 bytes, as unsigned bytes; a key that is a
 * prefix of another sorts first. Keys may hold NUL (jansson keeps their
 * length), so compare by length, not as C strings. */
static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = n ? memcmp(x->key, y->key, n) : 0;
	if (c != 0)
		return c;
	return (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

static enum vouch_rc canon(json_t *v, struct vouch_buf *out, int depth, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	if ((json_is_object(v) || json_is_array(v)) && depth > VOUCH_JSON_MAX_DEPTH)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "JSON nested deeper than %d levels cannot be canonicalised",
				     VOUCH_JSON_MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v);
		struct member *m = NULL;
		if (n > 0) {
			m = calloc(n, sizeof(*m));
			if (m == NULL)
				return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		}
		size_t i = 0;
		const char *k;
		size_t klen;
		json_t *c;
		json_object_keylen_foreach (v, k, klen, c) {
			if (i == n)
				break;
			m[i].key = k;
			m[i].keylen = klen;
			m[i].value = c;
			i++;
		}
		if (n > 1)
			qsort(m, n, sizeof(*m), member_cmp);
		rc = vouch_buf_append(out, "{", 1, err);
		for (i = 0; i < n && rc == VOUCH_OK; i++) {
			if (i > 0)
				rc = vouch_buf_append(out, ",", 1, err);
			if (rc == VOUCH_OK)
				rc = canon_string(m[i].key, m[i].keylen, out, err);
			if (rc == VOUCH_OK)
				rc = vouch_buf_append(out, ":", 1, err);
			if (rc == VOUCH_OK)
				rc = canon(m[i].value, out, depth + 1, err);
		}
		free(m);
		if (rc == VOUCH_OK)
			rc = vouch_buf_append(out, "}", 1, err);
		return rc;
	}
	case JSON_ARRAY: {
		rc = vouch_buf_append(out, "[", 1, err);
		for (size_t i = 0; i < json_array_size(v) && rc == VOUCH_OK; i++) {
			if (i > 0)
				rc = vouch_buf_append(out, ",", 1, err);
			if (rc == VOUCH_OK)
				rc = canon(json_array_get(v, i), out, depth + 1, err);
		}
		if (rc == VOUCH_OK)
			rc = vouch_buf_append(out, "]", 1, err);
		return rc;
	}
	case JSON_STRING:
		return canon_string(json_string_value(v), json_string_length(v), out, err);
	case JSON_INTEGER:
		return vouch_buf_printf(out, err, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "canonical JSON allows no floating-point numbers");
	case JSON_TRUE:
		return vouch_buf_append(out, "true", 4, err);
	case JSON_FALSE:
		return vouch_buf_append(out, "false", 5, err);
	case JSON_NULL:
		return vouch_buf_append(out, "null", 4, err);
	}
	return vouch_err_set(err, VOUCH_E_FORMAT, "unknown JSON value type");
}

enum vouch_rc vouch_canon_encode(json_t *v, struct vouch_buf *out, struct vouch_err *err)
{
	if (v == NULL)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "no JSON value to canonicalise");
	size_t start = out->len;
	enum vouch_rc rc = canon(v, out, 1, err);
	if (rc != VOUCH_OK && out->data != NULL) {
		/* Leave out as it was: no half document is ever signed. */
		out->len = start;
		out->data[start] = 0;
	}
	return rc;
}

static enum vouch_rc get_typed(const json_t *obj, const char *key, json_type type,
			       const char *tname, json_t **out, struct vouch_err *err)
{
	if (!json_is_object(obj))
		return vouch_err_set(err, VOUCH_E_FORMAT, "expected an object holding '%s'", key);
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return vouch_err_set(err, VOUCH_E_FORMAT, "field '%s' is missing", key);
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return vouch_err_set(err, VOUCH_E_FORMAT, "field '%s' is not %s", key, tname);
	*out = v;
	return VOUCH_OK;
}

enum vouch_rc vouch_json_get_string(const json_t *obj, const char *key, const char **out,
				    struct vouch_err *err)
{
	json_t *v = NULL;
	enum vouch_rc rc = get_typed(obj, key, JSON_STRING, "a string", &v, err);
	if (rc == VOUCH_OK)
		*out = json_string_value(v);
	return rc;
}

enum vouch_rc vouch_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max,
				 int64_t *out, struct vouch_err *err)
{
	json_t *v = NULL;
	enum vouch_rc rc = get_typed(obj, key, JSON_INTEGER, "an integer", &v, err);
	if (rc != VOUCH_OK)
		return rc;
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "field '%s' is %" JSON_INTEGER_FORMAT ", outside [%" PRId64
				     ", %" PRId64 "]",
				     key, i, min, max);
	*out = (int64_t)i;
	return VOUCH_OK;
}

enum vouch_rc vouch_json_get_bool(const json_t *obj, const char *key, int *out,
				  struct vouch_err *err)
{
	json_t *v = NULL;
	enum vouch_rc rc = get_typed(obj, key, JSON_TRUE, "a boolean", &v, err);
	if (rc == VOUCH_OK)
		*out = json_is_true(v);
	return rc;
}

enum vouch_rc vouch_json_get_object(const json_t *obj, const char *key, json_t **out,
				    struct vouch_err *err)
{
	return get_typed(obj, key, JSON_OBJECT, "an object", out, err);
}

enum vouch_rc vouch_json_get_array(const json_t *obj, const char *key, json_t **out,
				   struct vouch_err *err)
{
	return get_typed(obj, key, JSON_ARRAY, "an array", out, err);
}

enum vouch_rc vouch_json_dump(const json_t *v, struct vouch_buf *out, struct vouch_err *err)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (s == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "cannot serialise JSON");
	enum vouch_rc rc = vouch_buf_append_str(out, s, err);
	free(s);
	if (rc == VOUCH_OK)
		rc = vouch_buf_append(out, "\n", 1, err);
	return rc;
}
