/* vouch — JSON through jansson, hardened for untrusted input, and
 * canonical JSON exactly as TUF signs it (OLPC canonical JSON). */
#ifndef VOUCH_JSON_H
#define VOUCH_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vouch/buf.h"
#include "vouch/error.h"

#define VOUCH_JSON_MAX_DEPTH 64
/* Default ceiling for JSON documents read from disk without a more specific
 * limit (metadata has its own, configurable limits). */
#define VOUCH_JSON_MAX_SIZE (16u * 1024 * 1024)

/* Parses exactly one JSON value from data[0..len): duplicate object keys,
 * NUL characters in strings, trailing bytes, nesting deeper than
 * VOUCH_JSON_MAX_DEPTH and documents larger than max_len are rejected
 * (VOUCH_E_FORMAT, or VOUCH_E_LIMIT for the size). *out is a new reference
 * the caller releases with json_decref(). */
enum vouch_rc vouch_json_parse(const void *data, size_t len, size_t max_len, json_t **out,
			       struct vouch_err *err) VOUCH_WUR;

/* Reads and parses a file with vouch_json_parse(). The path prefixes any
 * error message. */
enum vouch_rc vouch_json_read_file(const char *path, size_t max_len, json_t **out,
				   struct vouch_err *err) VOUCH_WUR;

/* Canonical JSON (OLPC, as securesystemslib and TUF sign it): object keys
 * sorted by their UTF-8 bytes, no whitespace, strings with only '"' and '\'
 * escaped (every other byte as is), integers only (reals are rejected with
 * VOUCH_E_FORMAT), true, false, null. Appends to out; on failure out is
 * left as it was. */
enum vouch_rc vouch_canon_encode(json_t *v, struct vouch_buf *out, struct vouch_err *err) VOUCH_WUR;

/* Typed accessors for fields of untrusted objects. They fail with
 * VOUCH_E_FORMAT and a message naming the field when it is missing or of
 * the wrong type. Returned pointers borrow from obj. */
enum vouch_rc vouch_json_get_string(const json_t *obj, const char *key, const char **out,
				    struct vouch_err *err) VOUCH_WUR;
/* Integer in [min, max]. */
enum vouch_rc vouch_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max,
				 int64_t *out, struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_json_get_bool(const json_t *obj, const char *key, int *out,
				  struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_json_get_object(const json_t *obj, const char *key, json_t **out,
				    struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_json_get_array(const json_t *obj, const char *key, json_t **out,
				   struct vouch_err *err) VOUCH_WUR;

/* Serialises v (pretty, keys sorted) for files people read; appends a
 * newline. Not for signing: use vouch_canon_encode(). */
enum vouch_rc vouch_json_dump(const json_t *v, struct vouch_buf *out,
			      struct vouch_err *err) VOUCH_WUR;

#endif
