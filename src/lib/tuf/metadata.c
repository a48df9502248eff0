/* TUF 1.0 metadata: validation of each role's signed body, envelopes,
 * signing, threshold verification, expiry, path patterns and hashes.
 *
 * Metadata stays a jansson tree from the bytes we parsed so that unknown
 * fields survive and remain covered by the signatures. Nothing in a signed
 * body is used by the client before its threshold has been verified; the
 * structural checks here only make sure that what we will read later has
 * the right shape. */
#include "vouch/tuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/json.h"

#include "../key_internal.h"

const char *vouch_tuf_type_name(enum vouch_tuf_type type)
{
	switch (type) {
	case VOUCH_TUF_ROOT:
		return "root";
	case VOUCH_TUF_TIMESTAMP:
		return "timestamp";
	case VOUCH_TUF_SNAPSHOT:
		return "snapshot";
	case VOUCH_TUF_TARGETS:
		return "targets";
	}
	return "unknown";
}

/* ---- time ---------------------------------------------------------------- */

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so that no timezone or locale is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

enum vouch_rc vouch_tuf_time_parse(const char *s, time_t *out, struct vouch_err *err)
{
	int y, mo, d, h, mi, se;
	if (strlen(s) != VOUCH_TUF_EXPIRES_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z' || !digits(s, 4, &y) ||
	    !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "'%.40s' is not a time of the form YYYY-MM-DDTHH:MM:SSZ", s);
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	*out = (time_t)t;
	return VOUCH_OK;
}

void vouch_tuf_time_format(time_t t, char buf[VOUCH_TUF_EXPIRES_LEN + 1])
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, VOUCH_TUF_EXPIRES_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		memcpy(buf, "0000-00-00T00:00:00Z", VOUCH_TUF_EXPIRES_LEN + 1);
}

enum vouch_rc vouch_tuf_check_expiry(const char *role, const json_t *signed_body, time_t now,
				     struct vouch_err *err)
{
	const char *exp = NULL;
	time_t t = 0;
	enum vouch_rc rc = vouch_json_get_string(signed_body, "expires", &exp, err);
	if (rc == VOUCH_OK)
		rc = vouch_tuf_time_parse(exp, &t, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", role);
		return rc;
	}
	if (t <= now)
		return vouch_err_set(err, VOUCH_E_EXPIRED, "%s: expired at %s (freeze attack?)",
				     role, exp);
	return VOUCH_OK;
}

/* ---- structural checks --------------------------------------------------- */

/* jansson's iteration and encoding take non-const pointers but do not
 * modify; this keeps the const-correct signatures of this module. */
static json_t *mut(const json_t *v)
{
	json_t *r;
	memcpy(&r, &v, sizeof(r));
	return r;
}

#define FAIL(...) vouch_err_set(err, VOUCH_E_FORMAT, __VA_ARGS__)

static enum vouch_rc check_spec_version(const json_t *s, struct vouch_err *err)
{
	const char *v = NULL;
	enum vouch_rc rc = vouch_json_get_string(s, "spec_version", &v, err);
	if (rc != VOUCH_OK)
		return rc;
	/* "MAJOR.MINOR" or "MAJOR.MINOR.PATCH", all numeric; we read major 1. */
	int parts = 1, ndig = 0;
	for (const char *p = v; *p; p++) {
		if (*p == '.') {
			if (ndig == 0)
				goto bad;
			parts++;
			ndig = 0;
		} else if (*p >= '0' && *p <= '9') {
			ndig++;
		} else {
			goto bad;
		}
	}
	if (ndig == 0 || parts < 2 || parts > 3)
		goto bad;
	if (strncmp(v, "1.", 2) != 0)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "spec_version %.32s is not supported (major version 1 only)",
				     v);
	return VOUCH_OK;
bad:
	return FAIL("spec_version '%.32s' is malformed", v);
}

/* Adds string s to set (a JSON object used as a hash set): 1 if it was
 * new, 0 if already there, -1 out of memory. Duplicate checks run on
 * unverified bytes, so they must stay linear in the input. */
static int set_add(json_t *set, const char *s)
{
	if (json_object_get(set, s) != NULL)
		return 0;
	return json_object_set_new_nocheck(set, s, json_null()) == 0 ? 1 : -1;
}

/* Array of distinct strings, each at most VOUCH_TUF_MAX_NAME bytes. */
static enum vouch_rc check_string_set(const json_t *obj, const char *field, int allow_empty,
				      struct vouch_err *err)
{
	json_t *a = NULL;
	enum vouch_rc rc = vouch_json_get_array(obj, field, &a, err);
	if (rc != VOUCH_OK)
		return rc;
	size_t n = json_array_size(a);
	if (n == 0 && !allow_empty)
		return FAIL("field '%s' is empty", field);
	json_t *set = json_object();
	if (set == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == VOUCH_OK; i++) {
		json_t *v = json_array_get(a, i);
		if (!json_is_string(v)) {
			rc = FAIL("field '%s' holds a non-string", field);
			break;
		}
		if (json_string_length(v) > VOUCH_TUF_MAX_NAME) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT, "an entry of '%s' is too long",
					   field);
			break;
		}
		/* jansson strings hold no NUL here (not allowed when parsing),
		 * so the C string is the whole value. */
		int added = set_add(set, json_string_value(v));
		if (added < 0)
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		else if (added == 0)
			rc = FAIL("field '%s' lists '%.80s' twice", field, json_string_value(v));
	}
	json_decref(set);
	return rc;
}

static enum vouch_rc check_keys(const json_t *keys, struct vouch_err *err)
{
	if (!json_is_object(keys))
		return FAIL("field 'keys' is not an object");
	const char *id;
	json_t *k;
	json_object_foreach (mut(keys), id, k) {
		const char *s = NULL;
		json_t *o = NULL;
		enum vouch_rc rc = VOUCH_OK;
		if (!json_is_object(k))
			rc = FAIL("is not an object");
		if (rc == VOUCH_OK)
			rc = vouch_json_get_string(k, "keytype", &s, err);
		if (rc == VOUCH_OK)
			rc = vouch_json_get_string(k, "scheme", &s, err);
		if (rc == VOUCH_OK)
			rc = vouch_json_get_object(k, "keyval", &o, err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "key %.80s: ", id);
			return rc;
		}
	}
	return VOUCH_OK;
}

static enum vouch_rc check_role_keys(const json_t *r, struct vouch_err *err)
{
	int64_t thr = 0;
	enum vouch_rc rc = check_string_set(r, "keyids", 1, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_int(r, "threshold", 1, INT32_MAX, &thr, err);
	return rc;
}

static enum vouch_rc check_hashes(const json_t *h, struct vouch_err *err)
{
	if (!json_is_object(h) || json_object_size(h) == 0)
		return FAIL("field 'hashes' is not a non-empty object");
	const char *alg;
	json_t *v;
	json_object_foreach (mut(h), alg, v) {
		if (!json_is_string(v))
			return FAIL("hash '%.32s' is not a string", alg);
	}
	return VOUCH_OK;
}

/* META: {version, length?, hashes?} in timestamp and snapshot. */
static enum vouch_rc check_meta_entry(const json_t *m, struct vouch_err *err)
{
	int64_t v = 0;
	if (!json_is_object(m))
		return FAIL("is not an object");
	enum vouch_rc rc = vouch_json_get_int(m, "version", 1, INT64_MAX, &v, err);
	if (rc == VOUCH_OK && json_object_get(m, "length") != NULL)
		rc = vouch_json_get_int(m, "length", 0, INT64_MAX, &v, err);
	if (rc == VOUCH_OK && json_object_get(m, "hashes") != NULL)
		rc = check_hashes(json_object_get(m, "hashes"), err);
	return rc;
}

static enum vouch_rc check_meta(const json_t *s, enum vouch_tuf_type type, struct vouch_err *err)
{
	json_t *meta = NULL;
	enum vouch_rc rc = vouch_json_get_object(s, "meta", &meta, err);
	if (rc != VOUCH_OK)
		return rc;
	if (type == VOUCH_TUF_TIMESTAMP &&
	    (json_object_size(meta) != 1 || json_object_get(meta, "snapshot.json") == NULL))
		return FAIL("timestamp meta must list exactly snapshot.json");
	if (type == VOUCH_TUF_SNAPSHOT && json_object_get(meta, "targets.json") == NULL)
		return FAIL("snapshot meta does not list targets.json");
	const char *name;
	json_t *m;
	json_object_foreach (meta, name, m) {
		if (strlen(name) > VOUCH_TUF_MAX_NAME + 5)
			return vouch_err_set(err, VOUCH_E_LIMIT, "meta entry name too long");
		rc = check_meta_entry(m, err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "meta %.80s: ", name);
			return rc;
		}
	}
	return VOUCH_OK;
}

static enum vouch_rc check_root(const json_t *s, struct vouch_err *err)
{
	static const char *const top[] = {"root", "timestamp", "snapshot", "targets"};
	json_t *keys = NULL, *roles = NULL;
	int cs = 0;
	enum vouch_rc rc = VOUCH_OK;
	/* Optional in practice (python-tuf omits it when unset): absent = false. */
	if (json_object_get(s, "consistent_snapshot") != NULL)
		rc = vouch_json_get_bool(s, "consistent_snapshot", &cs, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_object(s, "keys", &keys, err);
	if (rc == VOUCH_OK)
		rc = check_keys(keys, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_object(s, "roles", &roles, err);
	if (rc != VOUCH_OK)
		return rc;
	for (size_t i = 0; i < 4; i++) {
		if (json_object_get(roles, top[i]) == NULL)
			return FAIL("root does not define the %s role", top[i]);
	}
	const char *name;
	json_t *r;
	json_object_foreach (roles, name, r) {
		rc = json_is_object(r) ? check_role_keys(r, err) : FAIL("is not an object");
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "role %.80s: ", name);
			return rc;
		}
	}
	return VOUCH_OK;
}

static int is_top_level(const char *name)
{
	return strcmp(name, "root") == 0 || strcmp(name, "timestamp") == 0 ||
	       strcmp(name, "snapshot") == 0 || strcmp(name, "targets") == 0;
}

static enum vouch_rc check_delegated_role(const json_t *r, struct vouch_err *err)
{
	const char *name = NULL;
	int term = 0;
	if (!json_is_object(r))
		return FAIL("a delegated role is not an object");
	enum vouch_rc rc = vouch_json_get_string(r, "name", &name, err);
	if (rc != VOUCH_OK)
		return rc;
	if (name[0] == '\0' || strlen(name) > VOUCH_TUF_MAX_NAME)
		return FAIL("a delegated role name is empty or too long");
	if (is_top_level(name))
		return FAIL("delegated role '%s' has the name of a top-level role", name);
	rc = check_role_keys(r, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_bool(r, "terminating", &term, err);
	if (rc == VOUCH_OK) {
		int hp = json_object_get(r, "paths") != NULL;
		int hh = json_object_get(r, "path_hash_prefixes") != NULL;
		if (hp == hh)
			rc = FAIL("needs exactly one of 'paths' and 'path_hash_prefixes'");
		else
			rc = check_string_set(r, hp ? "paths" : "path_hash_prefixes", 1, err);
	}
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "delegated role %.80s: ", name);
	return rc;
}

/* TAP 15 succinct_roles: {keyids, threshold, bit_length 1..32, name_prefix};
 * the bins are NAME_PREFIX-HEX, HEX of ceil(bit_length / 4) digits. */
static enum vouch_rc check_succinct(const json_t *sr, struct vouch_err *err)
{
	int64_t bits = 0;
	const char *prefix = NULL;
	if (!json_is_object(sr))
		return FAIL("field 'succinct_roles' is not an object");
	enum vouch_rc rc = check_role_keys(sr, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_int(sr, "bit_length", 1, 32, &bits, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_string(sr, "name_prefix", &prefix, err);
	if (rc == VOUCH_OK && strlen(prefix) + 1 + 8 > VOUCH_TUF_MAX_NAME)
		rc = vouch_err_set(err, VOUCH_E_LIMIT, "succinct_roles name_prefix too long");
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "succinct_roles: ");
	return rc;
}

static int succinct_params(const json_t *sr, unsigned *bits, const char **prefix)
{
	const json_t *b = json_object_get(sr, "bit_length");
	*prefix = json_string_value(json_object_get(sr, "name_prefix"));
	if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > 32 ||
	    *prefix == NULL)
		return 0;
	*bits = (unsigned)json_integer_value(b);
	return 1;
}

int vouch_tuf_succinct_role_for(const json_t *succinct, const char *path, char *out, size_t outlen)
{
	unsigned bits = 0;
	const char *prefix = NULL;
	uint8_t d[VOUCH_SHA256_LEN];
	if (!succinct_params(succinct, &bits, &prefix))
		return 0;
	vouch_sha256(path, strlen(path), d);
	uint32_t first = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	uint32_t bin = bits == 32 ? first : first >> (32 - bits);
	int n = snprintf(out, outlen, "%s-%0*" PRIx32, prefix, (int)((bits + 3) / 4), bin);
	return n > 0 && (size_t)n < outlen;
}

int vouch_tuf_succinct_role_at(const json_t *succinct, uint64_t bin, char *out, size_t outlen)
{
	unsigned bits = 0;
	const char *prefix = NULL;
	if (!succinct_params(succinct, &bits, &prefix) || bin >> bits != 0)
		return 0;
	int n = snprintf(out, outlen, "%s-%0*" PRIx64, prefix, (int)((bits + 3) / 4), bin);
	return n > 0 && (size_t)n < outlen;
}

uint64_t vouch_tuf_succinct_bins(const json_t *succinct)
{
	unsigned bits = 0;
	const char *prefix = NULL;
	return succinct_params(succinct, &bits, &prefix) ? (uint64_t)1 << bits : 0;
}

/* 1 if name is one of the bins of succinct: PREFIX-HEX with exactly the
 * digits of the bin numbering, lowercase, below 2^bit_length. */
static int succinct_has_role(const json_t *succinct, const char *name)
{
	unsigned bits = 0;
	const char *prefix = NULL;
	if (!succinct_params(succinct, &bits, &prefix))
		return 0;
	size_t pl = strlen(prefix), digits = (bits + 3) / 4;
	if (strncmp(name, prefix, pl) != 0 || name[pl] != '-' || strlen(name + pl + 1) != digits)
		return 0;
	uint64_t v = 0;
	for (const char *p = name + pl + 1; *p != '\0'; p++) {
		int x = (*p >= '0' && *p <= '9')   ? *p - '0'
			: (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
						   : -1;
		if (x < 0)
			return 0;
		v = v << 4 | (uint64_t)x;
	}
	return v >> bits == 0;
}

static enum vouch_rc check_targets(const json_t *s, struct vouch_err *err)
{
	json_t *targets = NULL;
	enum vouch_rc rc = vouch_json_get_object(s, "targets", &targets, err);
	if (rc != VOUCH_OK)
		return rc;
	const char *path;
	json_t *t;
	json_object_foreach (targets, path, t) {
		int64_t len = 0;
		if (strlen(path) > VOUCH_TUF_MAX_NAME)
			return vouch_err_set(err, VOUCH_E_LIMIT, "target path too long");
		rc = json_is_object(t) ? VOUCH_OK : FAIL("is not an object");
		if (rc == VOUCH_OK)
			rc = vouch_json_get_int(t, "length", 0, INT64_MAX, &len, err);
		if (rc == VOUCH_OK)
			rc = check_hashes(json_object_get(t, "hashes"), err);
		if (rc == VOUCH_OK && json_object_get(t, "custom") != NULL &&
		    !json_is_object(json_object_get(t, "custom")))
			rc = FAIL("field 'custom' is not an object");
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "target %.200s: ", path);
			return rc;
		}
	}
	json_t *del = json_object_get(s, "delegations");
	if (del == NULL)
		return VOUCH_OK;
	json_t *keys = NULL, *roles = NULL;
	if (!json_is_object(del))
		return FAIL("field 'delegations' is not an object");
	int has_roles = json_object_get(del, "roles") != NULL;
	int has_succinct = json_object_get(del, "succinct_roles") != NULL;
	if (has_roles == has_succinct)
		return FAIL("delegations need exactly one of 'roles' and 'succinct_roles'");
	rc = vouch_json_get_object(del, "keys", &keys, err);
	if (rc == VOUCH_OK)
		rc = check_keys(keys, err);
	if (rc == VOUCH_OK && has_succinct)
		rc = check_succinct(json_object_get(del, "succinct_roles"), err);
	if (rc != VOUCH_OK || has_succinct) {
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "delegations: ");
		return rc;
	}
	rc = vouch_json_get_array(del, "roles", &roles, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "delegations: ");
		return rc;
	}
	json_t *names = json_object();
	if (names == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(roles) && rc == VOUCH_OK; i++) {
		json_t *r = json_array_get(roles, i);
		rc = check_delegated_role(r, err);
		if (rc != VOUCH_OK)
			break;
		const char *name = json_string_value(json_object_get(r, "name"));
		int added = set_add(names, name);
		if (added < 0)
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		else if (added == 0)
			rc = FAIL("delegated role '%.80s' is defined twice", name);
	}
	json_decref(names);
	return rc;
}

enum vouch_rc vouch_tuf_check_signed(enum vouch_tuf_type type, const json_t *s,
				     struct vouch_err *err)
{
	const char *t = NULL, *exp = NULL;
	int64_t v = 0;
	time_t when = 0;
	if (!json_is_object(s))
		return FAIL("'signed' is not an object");
	enum vouch_rc rc = vouch_json_get_string(s, "_type", &t, err);
	if (rc != VOUCH_OK)
		return rc;
	if (strcmp(t, vouch_tuf_type_name(type)) != 0)
		return FAIL("_type is '%.32s', expected '%s'", t, vouch_tuf_type_name(type));
	rc = check_spec_version(s, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_int(s, "version", 1, INT64_MAX, &v, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_string(s, "expires", &exp, err);
	if (rc == VOUCH_OK)
		rc = vouch_tuf_time_parse(exp, &when, err);
	if (rc != VOUCH_OK)
		return rc;
	switch (type) {
	case VOUCH_TUF_ROOT:
		return check_root(s, err);
	case VOUCH_TUF_TIMESTAMP:
	case VOUCH_TUF_SNAPSHOT:
		return check_meta(s, type, err);
	case VOUCH_TUF_TARGETS:
		return check_targets(s, err);
	}
	return vouch_err_set(err, VOUCH_E_INTERNAL, "unknown metadata type");
}

/* 1 if v holds a real number anywhere (depth is bounded by the parser). */
static int has_real(const json_t *v)
{
	if (json_is_real(v))
		return 1;
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (has_real(json_array_get(v, i)))
				return 1;
		}
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach (mut(v), k, c) {
			if (has_real(c))
				return 1;
		}
	}
	return 0;
}

enum vouch_rc vouch_tuf_parse(const void *data, size_t len, size_t max, enum vouch_tuf_type type,
			      json_t **out, struct vouch_err *err)
{
	json_t *env = NULL, *sigs = NULL, *s = NULL;
	enum vouch_rc rc = vouch_json_parse(data, len, max, &env, err);
	if (rc != VOUCH_OK)
		return rc;
	if (!json_is_object(env)) {
		rc = FAIL("metadata is not a JSON object");
		goto out;
	}
	rc = vouch_json_get_array(env, "signatures", &sigs, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_object(env, "signed", &s, err);
	if (rc != VOUCH_OK)
		goto out;
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		json_t *sg = json_array_get(sigs, i);
		const char *str = NULL;
		if (!json_is_object(sg)) {
			rc = FAIL("a signature is not an object");
			goto out;
		}
		rc = vouch_json_get_string(sg, "keyid", &str, err);
		if (rc == VOUCH_OK)
			rc = vouch_json_get_string(sg, "sig", &str, err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "signature: ");
			goto out;
		}
	}
	rc = vouch_tuf_check_signed(type, s, err);
	/* Signatures are over the canonical form, which has no such numbers:
	 * a body holding one can never verify, so it is malformed. */
	if (rc == VOUCH_OK && has_real(s))
		rc = FAIL("signed: a floating-point number (canonical JSON has none)");
out:
	if (rc == VOUCH_OK)
		*out = env;
	else
		json_decref(env);
	return rc;
}

int64_t vouch_tuf_version(const json_t *s)
{
	json_t *v = json_object_get(s, "version");
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* ---- signing ------------------------------------------------------------- */

static enum vouch_rc sign_one(json_t *sigs, const struct vouch_key *key,
			      const struct vouch_buf *msg, struct vouch_err *err)
{
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *hex = NULL;
	json_t *o = NULL;
	const char *id = vouch_key_id(key);
	enum vouch_rc rc = vouch_key_sign(key, msg->data, msg->len, &sig, &siglen, err);
	if (rc != VOUCH_OK)
		return rc;
	hex = malloc(2 * siglen + 1);
	if (hex == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	vouch_hex_encode(sig, siglen, hex);
	/* Replace an earlier signature by the same key. */
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		const char *k =
		    json_string_value(json_object_get(json_array_get(sigs, i), "keyid"));
		if (k != NULL && strcmp(k, id) == 0) {
			json_array_remove(sigs, i);
			break;
		}
	}
	o = json_pack("{s:s,s:s}", "keyid", id, "sig", hex);
	if (o == NULL || json_array_append_new(sigs, o) != 0)
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
out:
	free(sig);
	free(hex);
	return rc;
}

enum vouch_rc vouch_tuf_sign(json_t *signed_body, struct vouch_key *const *keys, size_t n,
			     json_t **out, struct vouch_err *err)
{
	struct vouch_buf msg = {0};
	json_t *sigs = json_array();
	json_t *env = NULL;
	enum vouch_rc rc = sigs == NULL ? vouch_err_set(err, VOUCH_E_NOMEM, "out of memory")
					: vouch_canon_encode(signed_body, &msg, err);
	for (size_t i = 0; i < n && rc == VOUCH_OK; i++)
		rc = sign_one(sigs, keys[i], &msg, err);
	if (rc == VOUCH_OK) {
		env = json_pack("{s:O,s:O}", "signatures", sigs, "signed", signed_body);
		if (env == NULL)
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	json_decref(sigs);
	vouch_buf_free(&msg);
	if (rc == VOUCH_OK)
		*out = env;
	return rc;
}

enum vouch_rc vouch_tuf_add_signature(json_t *envelope, const struct vouch_key *key,
				      struct vouch_err *err)
{
	struct vouch_buf msg = {0};
	json_t *sigs = json_object_get(envelope, "signatures");
	json_t *s = json_object_get(envelope, "signed");
	if (!json_is_array(sigs) || !json_is_object(s))
		return FAIL("not a metadata envelope");
	enum vouch_rc rc = vouch_canon_encode(s, &msg, err);
	if (rc == VOUCH_OK)
		rc = sign_one(sigs, key, &msg, err);
	vouch_buf_free(&msg);
	return rc;
}

/* ---- verification -------------------------------------------------------- */

static int listed(const json_t *keyids, const char *id)
{
	for (size_t i = 0; i < json_array_size(keyids); i++) {
		const char *k = json_string_value(json_array_get(keyids, i));
		if (k != NULL && strcmp(k, id) == 0)
			return 1;
	}
	return 0;
}

enum vouch_rc vouch_tuf_verify_threshold(const char *role, const json_t *signed_body,
					 const json_t *signatures, const json_t *keyids,
					 int64_t threshold, const json_t *keys, unsigned *nvalid,
					 struct vouch_err *err)
{
	struct vouch_buf msg = {0};
	size_t nsig = json_array_size(signatures);
	/* Key ids already tried (only the first signature of a key id is
	 * considered, so that padding the list with signatures costs nothing:
	 * at most one verification per key of the role), and the keys
	 * counted: the same public key listed under two key ids still counts
	 * once. */
	const char **seen = NULL;
	struct vouch_key **counted = NULL;
	unsigned count = 0;
	size_t ntried = 0;
	uint8_t *sig = NULL;
	enum vouch_rc rc = vouch_canon_encode(mut(signed_body), &msg, err);
	if (rc != VOUCH_OK)
		goto out;
	seen = calloc(nsig + 1, sizeof(*seen));
	counted = calloc(nsig + 1, sizeof(*counted));
	sig = malloc(VOUCH_SIG_MAX);
	if (seen == NULL || counted == NULL || sig == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsig; i++) {
		const json_t *sg = json_array_get(signatures, i);
		const char *id = json_string_value(json_object_get(sg, "keyid"));
		const char *hex = json_string_value(json_object_get(sg, "sig"));
		if (id == NULL || hex == NULL || !listed(keyids, id))
			continue;
		int dup = 0;
		for (size_t j = 0; j < ntried && !dup; j++)
			dup = strcmp(seen[j], id) == 0;
		if (dup)
			continue;
		seen[ntried++] = id;
		const json_t *kobj = json_object_get(keys, id);
		if (kobj == NULL)
			continue;
		struct vouch_key *key = NULL;
		size_t siglen = 0;
		if (vouch_key_from_tuf(kobj, &key, NULL) != VOUCH_OK)
			continue; /* unsupported or malformed key: ignored */
		int ok = vouch_hex_decode(hex, strlen(hex), sig, VOUCH_SIG_MAX, &siglen, NULL) ==
			     VOUCH_OK &&
			 vouch_key_verify(key, msg.data, msg.len, sig, siglen, NULL) == VOUCH_OK;
		/* The key's identity is its public key compared as a key (the
		 * point, the modulus), neither a key id nor an encoding: those
		 * differ with the keytype or scheme spelling ("ecdsa" or
		 * "ecdsa-sha2-nistp256", PSS or PKCS#1 v1.5) and with an EC
		 * point written compressed or not, for one and the same key. */
		for (unsigned j = 0; ok && j < count; j++)
			ok = !vouch_key_same_public(counted[j], key);
		if (ok)
			counted[count++] = key; /* freed at out */
		else
			vouch_key_free(key);
	}
	if (nvalid != NULL)
		*nvalid = count;
	if ((int64_t)count < threshold)
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "%s: signature threshold %" PRId64 " not met (%u valid)", role,
				   threshold, count);
out:
	if (counted != NULL) {
		for (unsigned j = 0; j < count; j++)
			vouch_key_free(counted[j]);
	}
	free(seen);
	free(counted);
	free(sig);
	vouch_buf_free(&msg);
	return rc;
}

enum vouch_rc vouch_tuf_role_lookup(const json_t *delegator, const char *role,
				    const json_t **keyids, int64_t *threshold, const json_t **keys,
				    const json_t **delegation, struct vouch_err *err)
{
	const json_t *r = NULL, *k = NULL;
	const char *type = json_string_value(json_object_get(delegator, "_type"));
	if (type != NULL && strcmp(type, "root") == 0) {
		if (is_top_level(role))
			r = json_object_get(json_object_get(delegator, "roles"), role);
		k = json_object_get(delegator, "keys");
	} else if (type != NULL && strcmp(type, "targets") == 0) {
		const json_t *del = json_object_get(delegator, "delegations");
		const json_t *roles = json_object_get(del, "roles");
		const json_t *sr = json_object_get(del, "succinct_roles");
		if (roles == NULL && json_is_object(sr) && succinct_has_role(sr, role))
			r = sr;
		for (size_t i = 0; i < json_array_size(roles); i++) {
			const json_t *d = json_array_get(roles, i);
			const char *n = json_string_value(json_object_get(d, "name"));
			if (n != NULL && strcmp(n, role) == 0) {
				r = d;
				break;
			}
		}
		k = json_object_get(del, "keys");
	}
	if (r == NULL || !json_is_object(k))
		return vouch_err_set(err, VOUCH_E_NOTFOUND, "no delegation to role '%.200s'", role);
	const json_t *ids = json_object_get(r, "keyids");
	const json_t *thr = json_object_get(r, "threshold");
	if (!json_is_array(ids) || !json_is_integer(thr) || json_integer_value(thr) < 1)
		return FAIL("delegation to role '%.200s' is malformed", role);
	if (keyids != NULL)
		*keyids = ids;
	if (threshold != NULL)
		*threshold = (int64_t)json_integer_value(thr);
	if (keys != NULL)
		*keys = k;
	if (delegation != NULL)
		*delegation = r;
	return VOUCH_OK;
}

enum vouch_rc vouch_tuf_verify_role(const json_t *delegator, const char *role,
				    const json_t *envelope, unsigned *nvalid, struct vouch_err *err)
{
	const json_t *keyids = NULL, *keys = NULL;
	int64_t thr = 0;
	enum vouch_rc rc = vouch_tuf_role_lookup(delegator, role, &keyids, &thr, &keys, NULL, err);
	if (rc != VOUCH_OK)
		return rc;
	const json_t *s = json_object_get(envelope, "signed");
	const json_t *sigs = json_object_get(envelope, "signatures");
	if (!json_is_object(s) || !json_is_array(sigs))
		return FAIL("%s: not a metadata envelope", role);
	return vouch_tuf_verify_threshold(role, s, sigs, keyids, thr, keys, nvalid, err);
}

/* ---- paths --------------------------------------------------------------- */

/* Bracket expression at p ('[' already consumed): sets *matched for c and
 * returns the pointer after ']', or NULL if p has no closing ']' (then '['
 * is an ordinary character, as in fnmatch). */
static const char *bracket(const char *p, char c, int *matched)
{
	int neg = 0, m = 0;
	if (*p == '!') {
		neg = 1;
		p++;
	}
	const char *start = p;
	while (*p && (*p != ']' || p == start)) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			if ((unsigned char)c >= (unsigned char)p[0] &&
			    (unsigned char)c <= (unsigned char)p[2])
				m = 1;
			p += 3;
		} else {
			if (c == *p)
				m = 1;
			p++;
		}
	}
	if (*p != ']')
		return NULL;
	*matched = neg ? !m : m;
	return p + 1;
}

/* Matches one path segment (no '/' in either) shell-style. If partial is
 * set, succeeds as soon as the text runs out (some extension might match). */
static int seg_match(const char *p, const char *pe, const char *t, const char *te, int partial)
{
	const char *star_p = NULL, *star_t = NULL;
	while (t < te || (partial ? 0 : p < pe)) {
		if (t == te) {
			/* Only '*'s may remain. */
			while (p < pe && *p == '*')
				p++;
			return p == pe;
		}
		if (p < pe && *p == '*') {
			star_p = ++p;
			star_t = t;
			continue;
		}
		if (p < pe) {
			int ok = 0;
			const char *np = p + 1;
			if (*p == '?') {
				ok = 1;
			} else if (*p == '[') {
				int m = 0;
				const char *after = bracket(p + 1, *t, &m);
				if (after != NULL && after <= pe) {
					ok = m;
					np = after;
				} else {
					ok = *t == '[';
				}
			} else {
				ok = *p == *t;
			}
			if (ok) {
				p = np;
				t++;
				continue;
			}
		}
		if (star_p == NULL)
			return 0;
		p = star_p;
		t = ++star_t;
	}
	return 1;
}

static const char *seg_end(const char *s)
{
	const char *e = strchr(s, '/');
	return e ? e : s + strlen(s);
}

int vouch_tuf_path_match(const char *pattern, const char *path)
{
	const char *p = pattern, *t = path;
	for (;;) {
		const char *pe = seg_end(p), *te = seg_end(t);
		if (!seg_match(p, pe, t, te, 0))
			return 0;
		if (*pe == '\0' || *te == '\0')
			return *pe == '\0' && *te == '\0';
		p = pe + 1;
		t = te + 1;
	}
}

static int pattern_may_match_prefix(const char *pattern, const char *prefix)
{
	const char *p = pattern, *t = prefix;
	for (;;) {
		const char *pe = seg_end(p), *te = seg_end(t);
		if (*te == '\0') /* last, partial segment of the prefix */
			return seg_match(p, pe, t, te, 1);
		if (!seg_match(p, pe, t, te, 0) || *pe == '\0')
			return 0;
		p = pe + 1;
		t = te + 1;
	}
}

static int hash_prefix_match(const json_t *prefixes, const char *path)
{
	uint8_t d[VOUCH_SHA256_LEN];
	char hex[2 * VOUCH_SHA256_LEN + 1];
	vouch_sha256(path, strlen(path), d);
	vouch_hex_encode(d, sizeof(d), hex);
	for (size_t i = 0; i < json_array_size(prefixes); i++) {
		const char *pre = json_string_value(json_array_get(prefixes, i));
		if (pre != NULL && strncmp(hex, pre, strlen(pre)) == 0)
			return 1;
	}
	return 0;
}

int vouch_tuf_role_covers(const json_t *delegation, const char *path)
{
	const json_t *paths = json_object_get(delegation, "paths");
	const json_t *hp = json_object_get(delegation, "path_hash_prefixes");
	if (json_is_array(paths)) {
		for (size_t i = 0; i < json_array_size(paths); i++) {
			const char *pat = json_string_value(json_array_get(paths, i));
			if (pat != NULL && vouch_tuf_path_match(pat, path))
				return 1;
		}
		return 0;
	}
	if (json_is_array(hp))
		return hash_prefix_match(hp, path);
	return 0;
}

int vouch_tuf_role_may_cover_prefix(const json_t *delegation, const char *prefix)
{
	const json_t *paths = json_object_get(delegation, "paths");
	if (json_is_array(paths)) {
		for (size_t i = 0; i < json_array_size(paths); i++) {
			const char *pat = json_string_value(json_array_get(paths, i));
			if (pat != NULL && pattern_may_match_prefix(pat, prefix))
				return 1;
		}
		return 0;
	}
	return json_is_array(json_object_get(delegation, "path_hash_prefixes"));
}

/* ---- hashes -------------------------------------------------------------- */

unsigned vouch_tuf_hash_algs(const json_t *hashes)
{
	unsigned a = 0;
	if (json_object_get(hashes, "sha256") != NULL)
		a |= VOUCH_HASH_SHA256;
	if (json_object_get(hashes, "sha512") != NULL)
		a |= VOUCH_HASH_SHA512;
	return a;
}

static enum vouch_rc check_one_hash(const char *what, const char *alg, const json_t *want,
				    const uint8_t *got, size_t n, struct vouch_err *err)
{
	uint8_t d[VOUCH_SHA512_LEN];
	size_t dl = 0;
	const char *hex = json_string_value(want);
	if (hex == NULL ||
	    vouch_hex_decode(hex, strlen(hex), d, sizeof(d), &dl, NULL) != VOUCH_OK || dl != n)
		return FAIL("%s: malformed %s hash", what, alg);
	if (memcmp(d, got, n) != 0)
		return vouch_err_set(err, VOUCH_E_VERIFY, "%s: %s mismatch", what, alg);
	return VOUCH_OK;
}

enum vouch_rc vouch_tuf_check_hashes(const char *what, const json_t *hashes,
				     const struct vouch_digests *dg, struct vouch_err *err)
{
	unsigned algs = vouch_tuf_hash_algs(hashes);
	enum vouch_rc rc = VOUCH_OK;
	if (algs == 0)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: cannot be verified: no supported hash algorithm listed "
				     "(sha256, sha512)",
				     what);
	if ((algs & dg->algs) != algs)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "%s: digest not computed", what);
	if (algs & VOUCH_HASH_SHA256)
		rc = check_one_hash(what, "sha256", json_object_get(hashes, "sha256"), dg->sha256,
				    VOUCH_SHA256_LEN, err);
	if (rc == VOUCH_OK && (algs & VOUCH_HASH_SHA512))
		rc = check_one_hash(what, "sha512", json_object_get(hashes, "sha512"), dg->sha512,
				    VOUCH_SHA512_LEN, err);
	return rc;
}
