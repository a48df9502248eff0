/* Fuzzes the hardened JSON parser and canonical JSON: any bytes either parse
 * or fail with VOUCH_E_FORMAT/VOUCH_E_LIMIT and a message; whatever parses
 * canonicalises (or is refused for holding a float), and the canonical form
 * is a fixed point: parsing it again gives the same canonical bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vouch/buf.h"
#include "vouch/json.h"

#define FUZZ_JSON_MAX (256u * 1024)

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_json: property violated: %s\n", what);
		abort();
	}
}

static void exercise_getters(const json_t *v)
{
	struct vouch_err err;
	const char *s = NULL;
	int64_t i = 0;
	int b = 0;
	json_t *j = NULL;
	/* Field names TUF metadata uses; results only need to be consistent. */
	if (vouch_json_get_string(v, "_type", &s, &err) == VOUCH_OK)
		check(s != NULL, "string getter returned NULL");
	else
		check(err.code == VOUCH_E_FORMAT && err.msg[0] != '\0', "string getter error");
	if (vouch_json_get_int(v, "version", 1, INT64_MAX, &i, &err) == VOUCH_OK)
		check(i >= 1, "int getter out of range");
	else
		check(err.code == VOUCH_E_FORMAT, "int getter error");
	if (vouch_json_get_bool(v, "terminating", &b, &err) == VOUCH_OK)
		check(b == 0 || b == 1, "bool getter value");
	if (vouch_json_get_object(v, "signed", &j, &err) == VOUCH_OK)
		check(json_is_object(j), "object getter type");
	if (vouch_json_get_array(v, "signatures", &j, &err) == VOUCH_OK)
		check(json_is_array(j), "array getter type");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL, *again = NULL;
	struct vouch_err err = {0};
	struct vouch_buf c1 = {0}, c2 = {0}, pretty = {0};

	enum vouch_rc rc = vouch_json_parse(data, size, FUZZ_JSON_MAX, &v, &err);
	if (rc != VOUCH_OK) {
		check(v == NULL, "output set on failure");
		check(rc == (size > FUZZ_JSON_MAX ? VOUCH_E_LIMIT : VOUCH_E_FORMAT),
		      "parse error code");
		check(err.code == rc && err.msg[0] != '\0', "parse error message");
		for (const char *p = err.msg; *p != '\0'; p++)
			check((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
			      "raw input byte in an error message");
		return 0;
	}
	check(v != NULL, "no value on success");
	exercise_getters(v);
	check(vouch_json_dump(v, &pretty, &err) == VOUCH_OK, "dump");

	rc = vouch_canon_encode(v, &c1, &err);
	if (rc != VOUCH_OK) {
		/* Only floats are refused (depth is already bounded). */
		check(rc == VOUCH_E_FORMAT, "canon error code");
		check(strcmp(err.msg, "canonical JSON allows no floating-point numbers") == 0,
		      "canon refused something other than a float");
		check(c1.len == 0, "partial canonical output");
		goto out;
	}
	check(c1.len > 0 && c1.data[c1.len] == '\0', "canonical output");

	/* Fixed point: canonical bytes parse back to the same canonical bytes,
	 * unless a string holds a raw control character (canonical JSON emits
	 * them as they are; JSON does not allow them). */
	rc = vouch_json_parse(c1.data, c1.len, SIZE_MAX, &again, &err);
	if (rc != VOUCH_OK) {
		int has_ctl = 0;
		for (size_t i = 0; i < c1.len; i++)
			if (c1.data[i] < 0x20)
				has_ctl = 1;
		check(has_ctl, "canonical output does not parse back");
		goto out;
	}
	check(vouch_canon_encode(again, &c2, &err) == VOUCH_OK, "canonical output re-encodes");
	check(c1.len == c2.len && memcmp(c1.data, c2.data, c1.len) == 0,
	      "canonical form is not a fixed point");
	check(json_equal(v, again), "canonical form changed the value");
out:
	json_decref(v);
	json_decref(again);
	vouch_buf_free(&c1);
	vouch_buf_free(&c2);
	vouch_buf_free(&pretty);
	return 0;
}
