#define _GNU_SOURCE /* strptime, timegm */
/* The image repository, release side: shared plumbing (opening DIR,
 * reading and writing envelopes, role lookups, signing with the key usage
 * log), `init`, `tier add`, and adding and removing targets. Publishing,
 * rotation and signing are in repo_ops.c, status in repo_status.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "repo_internal.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/json.h"
#include "vouch/keylog.h"
#include "vouch/tuf.h"

static int tier_covers(const json_t *delegation, const char *name);
static json_t *find_delegation(const json_t *targets_env, const char *name);

static const char *const toplevel[] = {"root", "targets", "snapshot", "timestamp"};

int repo_is_toplevel(const char *role)
{
	for (size_t i = 0; i < sizeof(toplevel) / sizeof(toplevel[0]); i++) {
		if (strcmp(role, toplevel[i]) == 0)
			return 1;
	}
	return 0;
}

void vouch_repo_expiry_default(struct vouch_repo_expiry *e)
{
	e->root = 365 * 86400;
	e->targets = 90 * 86400;
	e->snapshot = 7 * 86400;
	e->timestamp = 86400;
	e->tier = 90 * 86400;
}

enum vouch_rc vouch_repo_expiry_parse(const char *spec, struct vouch_repo_expiry *e,
				      struct vouch_err *err)
{
	const char *p = spec;
	while (*p) {
		const char *eq = strchr(p, '=');
		if (!eq)
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "--expires: expected ROLE=DURATION[,...], got '%s'",
					     p);
		size_t klen = (size_t)(eq - p);
		int64_t *slot = NULL;
		if (klen == 4 && strncmp(p, "root", 4) == 0)
			slot = &e->root;
		else if (klen == 7 && strncmp(p, "targets", 7) == 0)
			slot = &e->targets;
		else if (klen == 8 && strncmp(p, "snapshot", 8) == 0)
			slot = &e->snapshot;
		else if (klen == 9 && strncmp(p, "timestamp", 9) == 0)
			slot = &e->timestamp;
		else if ((klen == 4 && strncmp(p, "tier", 4) == 0) ||
			 (klen == 5 && strncmp(p, "tiers", 5) == 0))
			slot = &e->tier;
		else
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "--expires: unknown role '%.*s' (root, targets, "
					     "snapshot, timestamp, tier)",
					     (int)klen, p);
		const char *v = eq + 1;
		int64_t n = 0;
		size_t digits = 0;
		while (v[digits] >= '0' && v[digits] <= '9') {
			if (n > 100000000)
				return vouch_err_set(err, VOUCH_E_USAGE,
						     "--expires: value too large");
			n = n * 10 + (v[digits] - '0');
			digits++;
		}
		if (digits == 0)
			return vouch_err_set(
			    err, VOUCH_E_USAGE,
			    "--expires: '%.*s' needs a number and a unit (s, m, h, "
			    "d, w), e.g. 90d",
			    (int)klen, p);
		int64_t mult;
		switch (v[digits]) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		case 'w':
			mult = 7 * 86400;
			break;
		default:
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "--expires: '%.*s': unit must be s, m, h, d or w",
					     (int)klen, p);
		}
		int64_t secs = n * mult;
		if (secs < 1 || secs > (int64_t)20 * 366 * 86400)
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "--expires: '%.*s' must be between 1s and 20 years",
					     (int)klen, p);
		*slot = secs;
		p = v + digits + 1;
		if (*p == ',')
			p++;
		else if (*p)
			return vouch_err_set(
			    err, VOUCH_E_USAGE,
			    "--expires: unexpected '%s' (separate entries with ',')", p);
	}
	return VOUCH_OK;
}

int vouch_repo_tier_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > VOUCH_REPO_MAX_TIER_NAME || repo_is_toplevel(name))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 (i > 0 && (c == '-' || c == '_'));
		if (!ok)
			return 0;
	}
	return 1;
}

/* Shared by target names and path patterns: relative, no empty, "." or
 * ".." components, printable ASCII without spaces or backslashes. */
static enum vouch_rc path_check(const char *what, const char *name, struct vouch_err *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > VOUCH_REPO_MAX_TARGET_NAME)
		return vouch_err_set(err, VOUCH_E_USAGE, "%s must have 1 to %u bytes", what,
				     VOUCH_REPO_MAX_TARGET_NAME);
	const char *comp = name;
	for (size_t i = 0; i <= n; i++) {
		char c = name[i];
		if (c == '/' || c == '\0') {
			size_t clen = (size_t)(name + i - comp);
			if (clen == 0 || (clen == 1 && comp[0] == '.') ||
			    (clen == 2 && comp[0] == '.' && comp[1] == '.'))
				return vouch_err_set(err, VOUCH_E_USAGE,
						     "%s '%s': empty, '.' or '..' path component",
						     what, name);
			if (clen > NAME_MAX)
				return vouch_err_set(
				    err, VOUCH_E_USAGE,
				    "%s '%.80s…': a path component has more than %d "
				    "bytes",
				    what, name, NAME_MAX);
			comp = name + i + 1;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "%s '%s': only printable ASCII without spaces or "
					     "backslashes is allowed",
					     what, name);
	}
	return VOUCH_OK;
}

enum vouch_rc vouch_repo_target_name_check(const char *name, struct vouch_err *err)
{
	enum vouch_rc rc = path_check("target name", name, err);
	if (rc == VOUCH_OK && strpbrk(name, "%?#"))
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "target name '%s': '%%', '?' and '#' are not allowed (other TUF "
				   "clients, e.g. tuf-js, put names into URLs without encoding "
				   "them, and could not fetch it)",
				   name);
	return rc;
}

enum vouch_rc repo_path(char *out, size_t cap, struct vouch_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		return vouch_err_set(err, VOUCH_E_LIMIT, "path too long");
	return VOUCH_OK;
}

json_t *repo_signed(const json_t *env)
{
	return json_object_get(env, "signed");
}

int64_t repo_version(const json_t *env)
{
	return json_integer_value(json_object_get(repo_signed(env), "version"));
}

void repo_fmt_time(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int repo_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0;
	*out = timegm(&tm);
	return 1;
}

int64_t repo_period(const struct repo *r, const char *role)
{
	if (strcmp(role, "root") == 0)
		return r->exp.root;
	if (strcmp(role, "targets") == 0)
		return r->exp.targets;
	if (strcmp(role, "snapshot") == 0)
		return r->exp.snapshot;
	if (strcmp(role, "timestamp") == 0)
		return r->exp.timestamp;
	return r->exp.tier;
}

/* An envelope as this module writes it: {"signatures": [...], "signed":
 * {"_type", "version", "expires", ...}}. Files in DIR are ours, but may
 * have been copied around by hand; check the shape before using them. */
static enum vouch_rc env_shape(const json_t *env, struct vouch_err *err)
{
	json_t *s = json_object_get(env, "signed");
	json_t *sigs = json_object_get(env, "signatures");
	if (!json_is_object(s) || !json_is_array(sigs) ||
	    !json_is_integer(json_object_get(s, "version")) ||
	    !json_is_string(json_object_get(s, "expires")) ||
	    !json_is_string(json_object_get(s, "_type")))
		return vouch_err_set(err, VOUCH_E_FORMAT, "not a TUF metadata envelope");
	if (json_integer_value(json_object_get(s, "version")) < 1)
		return vouch_err_set(err, VOUCH_E_FORMAT, "version must be at least 1");
	return VOUCH_OK;
}

enum vouch_rc repo_read_env(const char *path, json_t **out, struct vouch_err *err)
{
	json_t *j = NULL;
	enum vouch_rc rc = vouch_json_read_file(path, VOUCH_REPO_MAX_METADATA, &j, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = env_shape(j, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", path);
		json_decref(j);
		return rc;
	}
	*out = j;
	return VOUCH_OK;
}

enum vouch_rc repo_env_bytes(json_t *env, struct vouch_buf *out, struct vouch_err *err)
{
	return vouch_json_dump(env, out, err);
}

enum vouch_rc repo_write_env(const char *path, json_t *env, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = repo_env_bytes(env, &b, err);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(path, b.data, b.len, 0644, err);
	vouch_buf_free(&b);
	return rc;
}

int repo_keyid_listed(const json_t *keyids, const char *id)
{
	size_t i;
	json_t *v;
	json_array_foreach (keyids, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return 1;
	}
	return 0;
}

static enum vouch_rc auth_from(const json_t *keys, const json_t *role, const char *name,
			       struct role_auth *a, struct vouch_err *err)
{
	if (!json_is_object(keys) || !json_is_object(role) ||
	    !json_is_array(json_object_get(role, "keyids")) ||
	    !json_is_integer(json_object_get(role, "threshold")))
		return vouch_err_set(err, VOUCH_E_FORMAT, "role %s: malformed keys or role entry",
				     name);
	a->keys = keys;
	a->keyids = json_object_get(role, "keyids");
	a->threshold = json_integer_value(json_object_get(role, "threshold"));
	if (a->threshold < 1)
		return vouch_err_set(err, VOUCH_E_FORMAT, "role %s: threshold below 1", name);
	return VOUCH_OK;
}

static json_t *find_delegation(const json_t *targets_env, const char *name)
{
	json_t *roles =
	    json_object_get(json_object_get(repo_signed(targets_env), "delegations"), "roles");
	size_t i;
	json_t *v;
	json_array_foreach (roles, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && strcmp(n, name) == 0)
			return v;
	}
	return NULL;
}

enum vouch_rc repo_role_auth(const struct repo *r, const json_t *root_signed, const char *role,
			     struct role_auth *a, struct vouch_err *err)
{
	if (repo_is_toplevel(role)) {
		json_t *roles = json_object_get(root_signed, "roles");
		return auth_from(json_object_get(root_signed, "keys"), json_object_get(roles, role),
				 role, a, err);
	}
	json_t *d = find_delegation(r->targets, role);
	if (!d)
		return vouch_err_set(err, VOUCH_E_NOTFOUND,
				     "no tier named '%s' (see 'vouch repo status')", role);
	json_t *keys =
	    json_object_get(json_object_get(repo_signed(r->targets), "delegations"), "keys");
	return auth_from(keys, d, role, a, err);
}

void repo_expected_ids(const struct role_auth *a, char *buf, size_t cap)
{
	size_t used = 0;
	size_t i;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach (a->keyids, i, v) {
		int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
				 json_string_value(v) ? json_string_value(v) : "?");
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
}

size_t repo_count_valid(const json_t *env, const struct role_auth *a)
{
	unsigned nvalid = 0;
	/* Only the count matters here; below-threshold is reported by the
	 * callers in their own words. */
	if (vouch_tuf_verify_threshold("role", repo_signed(env), json_object_get(env, "signatures"),
				       a->keyids, a->threshold, a->keys, &nvalid,
				       NULL) != VOUCH_OK) {
		/* nvalid holds the count of valid signatures either way */
	}
	return nvalid;
}

static enum vouch_rc log_event(struct repo *r, struct vouch_key *key, const char *subject,
			       const uint8_t sha[VOUCH_SHA256_LEN], int ok, const char *why,
			       struct vouch_err *err)
{
	char path[PATH_MAX];
	enum vouch_rc rc = vouch_keylog_path(r->keylog_path, path, sizeof(path), err);
	if (rc != VOUCH_OK)
		return rc;
	struct vouch_keylog_event ev = {
	    .operation = "sign-metadata",
	    .key_id = vouch_key_id(key),
	    .key_location = vouch_key_location(key),
	    .subject_name = subject,
	    .subject_sha256 = sha,
	    .ok = ok,
	    .error = why,
	};
	rc = vouch_keylog_append(path, &ev, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "key usage log: ");
	return rc;
}

enum vouch_rc repo_sign_env(struct repo *r, json_t *env, const char *role, struct vouch_key *key,
			    struct vouch_err *err)
{
	/* Nothing that breaks the tier model gets a signature, whoever edited
	 * the staged file. */
	enum vouch_rc crc = repo_check_content(r, env, role, err);
	if (crc != VOUCH_OK)
		return crc;

	json_t *sigs = NULL;
	json_t *entry = NULL;
	struct vouch_buf canon = {0};
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *hex = NULL;
	char subject[VOUCH_REPO_MAX_TIER_NAME + 64];
	uint8_t sha[VOUCH_SHA256_LEN];
	enum vouch_rc rc;

	snprintf(subject, sizeof(subject), "%lld.%s.json", (long long)repo_version(env), role);
	if (!vouch_key_has_private(key)) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "key %.16s… has no private part (a public key cannot sign %s)",
				   vouch_key_id(key), subject);
		goto out;
	}
	rc = vouch_canon_encode(repo_signed(env), &canon, err);
	if (rc != VOUCH_OK)
		goto out;
	vouch_sha256(canon.data, canon.len, sha);
	rc = vouch_key_sign(key, canon.data, canon.len, &sig, &siglen, err);
	if (rc != VOUCH_OK) {
		struct vouch_err lerr;
		if (log_event(r, key, subject, sha, 0, err ? err->msg : "signing failed", &lerr) !=
		    VOUCH_OK) {
			/* the signing error is what the user needs to see */
		}
		goto out;
	}
	hex = malloc(2 * siglen + 1);
	if (!hex) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	vouch_hex_encode(sig, siglen, hex);
	rc = log_event(r, key, subject, sha, 1, NULL, err);
	if (rc != VOUCH_OK)
		goto out;
	sigs = json_object_get(env, "signatures");
	for (size_t i = json_array_size(sigs); i > 0; i--) {
		const char *id =
		    json_string_value(json_object_get(json_array_get(sigs, i - 1), "keyid"));
		if (id && strcmp(id, vouch_key_id(key)) == 0)
			json_array_remove(sigs, i - 1);
	}
	entry = json_pack("{s:s, s:s}", "keyid", vouch_key_id(key), "sig", hex);
	if (!entry || json_array_append_new(sigs, entry) != 0) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
out:
	free(hex);
	free(sig);
	vouch_buf_free(&canon);
	return rc;
}

enum vouch_rc repo_bump(json_t *env, time_t now, int64_t period, struct vouch_err *err)
{
	json_t *s = repo_signed(env);
	char exp[32];
	repo_fmt_time(now + (time_t)period, exp);
	if (json_object_set_new(s, "version", json_integer(repo_version(env) + 1)) != 0 ||
	    json_object_set_new(s, "expires", json_string(exp)) != 0 ||
	    json_object_set_new(env, "signatures", json_array()) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

static enum vouch_rc read_config(struct repo *r, struct vouch_err *err)
{
	char path[PATH_MAX];
	enum vouch_rc rc = repo_path(path, sizeof(path), err, "%s/vouch-repo.json", r->dir);
	if (rc != VOUCH_OK)
		return rc;
	rc = vouch_json_read_file(path, 1024 * 1024, &r->config, err);
	if (rc == VOUCH_E_NOTFOUND)
		return vouch_err_set(err, VOUCH_E_NOTFOUND,
				     "%s is not a vouch repository (no vouch-repo.json; create "
				     "one with 'vouch repo init')",
				     r->dir);
	if (rc != VOUCH_OK)
		return rc;
	const char *fmt = json_string_value(json_object_get(r->config, "format"));
	if (!fmt || strcmp(fmt, "vouch-repo") != 0 ||
	    json_integer_value(json_object_get(r->config, "format_version")) != 1)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "%s: not a vouch-repo settings file of format version 1",
				     path);
	json_t *e = json_object_get(r->config, "expires");
	int cs = 0;
	int64_t v[5];
	const char *names[5] = {"root", "targets", "snapshot", "timestamp", "tier"};
	if (!json_is_object(e))
		goto bad;
	for (int i = 0; i < 5; i++) {
		if (vouch_json_get_int(e, names[i], 1, (int64_t)20 * 366 * 86400, &v[i], err) !=
		    VOUCH_OK)
			goto bad;
	}
	if (vouch_json_get_bool(r->config, "consistent_snapshot", &cs, err) != VOUCH_OK)
		goto bad;
	r->exp.root = v[0];
	r->exp.targets = v[1];
	r->exp.snapshot = v[2];
	r->exp.timestamp = v[3];
	r->exp.tier = v[4];
	r->consistent = cs;
	return VOUCH_OK;
bad:
	return vouch_err_set(err, VOUCH_E_FORMAT, "%s: malformed repository settings", path);
}

static enum vouch_rc write_config(const struct repo *r, struct vouch_err *err)
{
	char path[PATH_MAX];
	struct vouch_buf b = {0};
	enum vouch_rc rc = repo_path(path, sizeof(path), err, "%s/vouch-repo.json", r->dir);
	if (rc != VOUCH_OK)
		return rc;
	json_t *c = json_pack(
	    "{s:s, s:i, s:s, s:b, s:{s:I, s:I, s:I, s:I, s:I}}", "format", "vouch-repo",
	    "format_version", 1, "spec_version", VOUCH_TUF_SPEC_VERSION, "consistent_snapshot",
	    r->consistent, "expires", "root", (json_int_t)r->exp.root, "targets",
	    (json_int_t)r->exp.targets, "snapshot", (json_int_t)r->exp.snapshot, "timestamp",
	    (json_int_t)r->exp.timestamp, "tier", (json_int_t)r->exp.tier);
	if (!c)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	rc = vouch_json_dump(c, &b, err);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(path, b.data, b.len, 0644, err);
	vouch_buf_free(&b);
	json_decref(c);
	return rc;
}

/* Staged role `role` (envelope env) at the version that is published must
 * be what was published: anything else was edited outside vouch, and
 * every operation would sign the edit. */
static enum vouch_rc staged_same(const struct repo *r, const char *role, const json_t *env,
				 int64_t pv, const char *pubpath, struct vouch_err *err)
{
	json_t *pub = NULL;
	if (pv < 1 || repo_version(env) != pv)
		return VOUCH_OK;
	enum vouch_rc rc = repo_read_env(pubpath, &pub, err);
	if (rc == VOUCH_E_NOTFOUND) {
		vouch_err_clear(err);
		return VOUCH_OK;
	}
	if (rc == VOUCH_OK &&
	    (repo_version(pub) != pv || !json_equal(repo_signed(pub), repo_signed(env))))
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "%s/staged/%s.json differs from the published %s v%lld (%s): it "
				   "was changed outside vouch; refusing to work on it (restore it "
				   "from the published file after checking what changed)",
				   r->dir, role, role, (long long)pv, pubpath);
	json_decref(pub);
	return rc;
}

enum vouch_rc repo_check_staged(const struct repo *r, struct vouch_err *err)
{
	char path[PATH_MAX];
	json_t *meta = NULL;
	enum vouch_rc rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.root.json", r->dir,
				     (long long)repo_version(r->root));
	if (rc == VOUCH_OK)
		rc = staged_same(r, "root", r->root, repo_version(r->root), path, err);
	if (rc == VOUCH_OK)
		rc = repo_published_meta(r, &meta, NULL, err);
	json_t *all = json_object();
	if (rc == VOUCH_OK && (!all || json_object_set(all, "targets", r->targets) != 0 ||
			       json_object_update(all, r->tiers) != 0))
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	const char *name;
	json_t *env;
	json_object_foreach (all, name, env) {
		char key[VOUCH_REPO_MAX_TIER_NAME + 8];
		if (rc != VOUCH_OK || !meta)
			break;
		snprintf(key, sizeof(key), "%s.json", name);
		int64_t pv =
		    json_integer_value(json_object_get(json_object_get(meta, key), "version"));
		if (r->consistent)
			rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.%s.json", r->dir,
				       (long long)pv, name);
		else
			rc =
			    repo_path(path, sizeof(path), err, "%s/metadata/%s.json", r->dir, name);
		if (rc == VOUCH_OK)
			rc = staged_same(r, name, env, pv, path, err);
	}
	json_decref(all);
	json_decref(meta);
	return rc;
}

enum vouch_rc repo_open(const char *dir, const struct vouch_repo_opts *o, struct repo *r,
			struct vouch_err *err)
{
	enum vouch_rc rc = repo_open_unchecked(dir, o, r, err);
	if (rc == VOUCH_OK)
		rc = repo_check_staged(r, err);
	return rc;
}

enum vouch_rc repo_open_unchecked(const char *dir, const struct vouch_repo_opts *o, struct repo *r,
				  struct vouch_err *err)
{
	char path[PATH_MAX];
	enum vouch_rc rc;
	memset(r, 0, sizeof(*r));
	r->lockfd = -1;
	r->keylog_path = o ? o->keylog_path : NULL;
	r->now = o && o->now ? o->now : time(NULL);
	rc = repo_path(r->dir, sizeof(r->dir), err, "%s", dir);
	if (rc != VOUCH_OK)
		return rc;
	r->tiers = json_object();
	if (!r->tiers)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	rc = read_config(r, err);
	if (rc != VOUCH_OK)
		return rc;
	/* One writer at a time: two signers on one machine must not lose
	 * each other's changes. Held until repo_close(). */
	rc = repo_path(path, sizeof(path), err, "%s/.vouch-repo.lock", r->dir);
	if (rc != VOUCH_OK)
		return rc;
	r->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (r->lockfd < 0 || flock(r->lockfd, LOCK_EX) != 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: %s", path, strerror(errno));
	rc = repo_path(path, sizeof(path), err, "%s/staged/root.json", r->dir);
	if (rc == VOUCH_OK)
		rc = repo_read_env(path, &r->root, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = repo_path(path, sizeof(path), err, "%s/staged/targets.json", r->dir);
	if (rc == VOUCH_OK)
		rc = repo_read_env(path, &r->targets, err);
	if (rc != VOUCH_OK)
		return rc;
	json_t *roles =
	    json_object_get(json_object_get(repo_signed(r->targets), "delegations"), "roles");
	size_t i;
	json_t *d;
	json_array_foreach (roles, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		json_t *env = NULL;
		if (!name || !vouch_repo_tier_name_ok(name))
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "staged targets.json: bad delegated role name");
		rc = repo_path(path, sizeof(path), err, "%s/staged/%s.json", r->dir, name);
		if (rc == VOUCH_OK)
			rc = repo_read_env(path, &env, err);
		if (rc != VOUCH_OK)
			return rc;
		json_object_set_new(r->tiers, name, env);
	}
	return VOUCH_OK;
}

void repo_close(struct repo *r)
{
	json_decref(r->config);
	json_decref(r->root);
	json_decref(r->targets);
	json_decref(r->tiers);
	if (r->lockfd >= 0)
		close(r->lockfd);
	memset(r, 0, sizeof(*r));
	r->lockfd = -1;
}

enum vouch_rc repo_load_root(const struct repo *r, int64_t v, json_t **out, struct vouch_err *err)
{
	char path[PATH_MAX];
	*out = NULL;
	enum vouch_rc rc =
	    repo_path(path, sizeof(path), err, "%s/staged/%lld.root.json", r->dir, (long long)v);
	if (rc != VOUCH_OK)
		return rc;
	rc = repo_read_env(path, out, err);
	if (rc != VOUCH_E_NOTFOUND)
		return rc;
	rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.root.json", r->dir, (long long)v);
	if (rc != VOUCH_OK)
		return rc;
	rc = repo_read_env(path, out, err);
	if (rc == VOUCH_E_NOTFOUND)
		return vouch_err_set(err, VOUCH_E_NOTFOUND, "root version %lld is missing",
				     (long long)v);
	return rc;
}

int64_t repo_published_root(const struct repo *r)
{
	char path[PATH_MAX];
	json_t *env = NULL;
	int64_t v = 0;
	if (repo_path(path, sizeof(path), NULL, "%s/metadata/root.json", r->dir) == VOUCH_OK &&
	    repo_read_env(path, &env, NULL) == VOUCH_OK)
		v = repo_version(env);
	json_decref(env);
	return v;
}

enum vouch_rc repo_published_meta(const struct repo *r, json_t **meta, json_t **timestamp,
				  struct vouch_err *err)
{
	int64_t sv = 0;
	char path[PATH_MAX];
	json_t *ts = NULL, *snap = NULL;
	*meta = NULL;
	if (timestamp)
		*timestamp = NULL;
	enum vouch_rc rc = repo_path(path, sizeof(path), err, "%s/metadata/timestamp.json", r->dir);
	if (rc != VOUCH_OK)
		return rc;
	rc = repo_read_env(path, &ts, err);
	if (rc == VOUCH_E_NOTFOUND) {
		vouch_err_clear(err);
		return VOUCH_OK;
	}
	if (rc != VOUCH_OK)
		return rc;
	json_t *sm = json_object_get(json_object_get(repo_signed(ts), "meta"), "snapshot.json");
	if (!json_is_integer(json_object_get(sm, "version"))) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "%s: no snapshot version", path);
		goto out;
	}
	sv = json_integer_value(json_object_get(sm, "version"));
	if (r->consistent)
		rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.snapshot.json", r->dir,
			       (long long)sv);
	else
		rc = repo_path(path, sizeof(path), err, "%s/metadata/snapshot.json", r->dir);
	if (rc == VOUCH_OK)
		rc = repo_read_env(path, &snap, err);
	if (rc != VOUCH_OK)
		goto out;
	*meta = json_incref(json_object_get(repo_signed(snap), "meta"));
	if (!json_is_object(*meta)) {
		json_decref(*meta);
		*meta = NULL;
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "%s: no meta", path);
		goto out;
	}
	if (timestamp)
		*timestamp = json_incref(ts);
out:
	json_decref(ts);
	json_decref(snap);
	return rc;
}

enum vouch_rc repo_root_counts(const struct repo *r, const json_t *env, size_t *own,
			       int64_t *own_thr, size_t *prev, int64_t *prev_thr,
			       struct vouch_err *err)
{
	struct role_auth a;
	enum vouch_rc rc = repo_role_auth(r, repo_signed(env), "root", &a, err);
	if (rc != VOUCH_OK)
		return rc;
	*own = repo_count_valid(env, &a);
	*own_thr = a.threshold;
	*prev = 0;
	*prev_thr = 0;
	int64_t v = repo_version(env);
	if (v > 1) {
		json_t *old = NULL;
		rc = repo_load_root(r, v - 1, &old, err);
		if (rc != VOUCH_OK)
			return rc;
		rc = repo_role_auth(r, repo_signed(old), "root", &a, err);
		if (rc == VOUCH_OK) {
			*prev = repo_count_valid(env, &a);
			*prev_thr = a.threshold;
		}
		json_decref(old);
	}
	return rc;
}

/* ---- init ---- */

static enum vouch_rc add_role_keys(json_t *keys, json_t *roles, const char *role,
				   const struct vouch_repo_keys *ks, unsigned threshold,
				   struct vouch_err *err)
{
	json_t *ids = json_array();
	if (!ids)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	if (ks->n == 0 || ks->n > VOUCH_REPO_MAX_KEYS) {
		json_decref(ids);
		return vouch_err_set(err, VOUCH_E_USAGE, "role %s needs 1 to %d keys", role,
				     VOUCH_REPO_MAX_KEYS);
	}
	for (size_t i = 0; i < ks->n; i++) {
		const char *id = vouch_key_id(ks->v[i]);
		json_t *tuf = NULL;
		if (repo_keyid_listed(ids, id)) {
			json_decref(ids);
			return vouch_err_set(err, VOUCH_E_USAGE, "key %s given twice for role %s",
					     id, role);
		}
		enum vouch_rc rc = vouch_key_to_tuf(ks->v[i], &tuf, err);
		if (rc != VOUCH_OK) {
			json_decref(ids);
			return rc;
		}
		json_object_set_new(keys, id, tuf);
		json_array_append_new(ids, json_string(id));
	}
	if (threshold < 1 || threshold > ks->n) {
		json_decref(ids);
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "threshold %u of role %s must be between 1 and its %zu keys",
				     threshold, role, ks->n);
	}
	json_t *entry = json_pack("{s:o, s:i}", "keyids", ids, "threshold", (int)threshold);
	if (!entry || json_object_set_new(roles, role, entry) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

static json_t *new_env(const char *type, time_t now, int64_t period)
{
	char exp[32];
	repo_fmt_time(now + (time_t)period, exp);
	return json_pack("{s:[], s:{s:s, s:s, s:i, s:s}}", "signatures", "signed", "_type", type,
			 "spec_version", VOUCH_TUF_SPEC_VERSION, "version", 1, "expires", exp);
}

static enum vouch_rc dir_empty_or_missing(const char *dir, struct vouch_err *err)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return VOUCH_OK;
		return vouch_err_set(err, VOUCH_E_IO, "%s: %s", dir, strerror(errno));
	}
	struct dirent *e;
	enum vouch_rc rc = VOUCH_OK;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			rc = vouch_err_set(err, VOUCH_E_EXISTS,
					   "%s is not empty; refusing to create a repository there",
					   dir);
			break;
		}
	}
	closedir(d);
	return rc;
}

/* After taking the lock: nothing but the lock file may be there. */
static enum vouch_rc dir_empty_except_lock(const char *dir, struct vouch_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return vouch_err_set(err, VOUCH_E_IO, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	enum vouch_rc rc = VOUCH_OK;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, ".vouch-repo.lock")) {
			rc = vouch_err_set(err, VOUCH_E_EXISTS,
					   "%s is not empty; refusing to create a repository there",
					   dir);
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Signs env with each key that has a private part and that the role lists;
 * refuses keys the role does not list. */
static enum vouch_rc sign_with(struct repo *r, json_t *env, const char *role,
			       const struct role_auth *a, const struct vouch_repo_keys *ks,
			       int skip_public, struct vouch_err *err)
{
	for (size_t i = 0; i < ks->n; i++) {
		if (!repo_keyid_listed(a->keyids, vouch_key_id(ks->v[i]))) {
			char exp[2048];
			repo_expected_ids(a, exp, sizeof(exp));
			return vouch_err_set(err, VOUCH_E_DENIED,
					     "key %s is not authorised for role %s (expected "
					     "one of: %s)",
					     vouch_key_id(ks->v[i]), role, exp);
		}
	}
	for (size_t i = 0; i < ks->n; i++) {
		if (skip_public && !vouch_key_has_private(ks->v[i]))
			continue;
		enum vouch_rc rc = repo_sign_env(r, env, role, ks->v[i], err);
		if (rc != VOUCH_OK)
			return rc;
	}
	return VOUCH_OK;
}

enum vouch_rc vouch_repo_init(const char *dir, const struct vouch_repo_init_params *p,
			      const struct vouch_repo_opts *o, struct vouch_buf *notes,
			      struct vouch_err *err)
{
	int have_online = 0;
	struct repo r;
	char path[PATH_MAX];
	json_t *root = NULL, *targets = NULL;
	enum vouch_rc rc;
	memset(&r, 0, sizeof(r));
	r.lockfd = -1;
	r.keylog_path = o ? o->keylog_path : NULL;
	r.now = o && o->now ? o->now : time(NULL);
	r.exp = p->expiry;
	r.consistent = p->consistent_snapshot;
	rc = repo_path(r.dir, sizeof(r.dir), err, "%s", dir);
	if (rc != VOUCH_OK)
		return rc;
	rc = dir_empty_or_missing(dir, err);
	if (rc != VOUCH_OK)
		return rc;

	root = new_env("root", r.now, r.exp.root);
	targets = new_env("targets", r.now, r.exp.targets);
	json_t *keys = json_object(), *roles = json_object();
	if (!root || !targets || !keys || !roles) {
		json_decref(keys);
		json_decref(roles);
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	json_object_set_new(repo_signed(root), "consistent_snapshot",
			    json_boolean(p->consistent_snapshot));
	json_object_set_new(repo_signed(root), "keys", keys);
	json_object_set_new(repo_signed(root), "roles", roles);
	rc = add_role_keys(keys, roles, "root", &p->root, p->root_threshold ? p->root_threshold : 1,
			   err);
	if (rc == VOUCH_OK)
		rc = add_role_keys(keys, roles, "targets", &p->targets, 1, err);
	if (rc == VOUCH_OK)
		rc = add_role_keys(keys, roles, "snapshot", &p->snapshot, 1, err);
	if (rc == VOUCH_OK)
		rc = add_role_keys(keys, roles, "timestamp", &p->timestamp, 1, err);
	if (rc != VOUCH_OK)
		goto out;
	if (json_object_set_new(repo_signed(targets), "targets", json_object()) != 0 ||
	    json_object_set_new(repo_signed(targets), "delegations",
				json_pack("{s:{}, s:[]}", "keys", "roles")) != 0) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	r.root = root;
	r.targets = targets;
	r.tiers = json_object();
	root = targets = NULL;

	struct role_auth a;
	rc = repo_role_auth(&r, repo_signed(r.root), "root", &a, err);
	if (rc == VOUCH_OK)
		rc = sign_with(&r, r.root, "root", &a, &p->root, 1, err);
	if (rc == VOUCH_OK)
		rc = repo_role_auth(&r, repo_signed(r.root), "targets", &a, err);
	if (rc == VOUCH_OK)
		rc = sign_with(&r, r.targets, "targets", &a, &p->targets, 1, err);
	if (rc != VOUCH_OK)
		goto out;

	/* Two inits racing for one directory: the lock file is created
	 * exclusively, so only one of them goes on. */
	rc = vouch_mkdir_p(dir, 0755, err);
	if (rc == VOUCH_OK)
		rc = repo_path(path, sizeof(path), err, "%s/.vouch-repo.lock", dir);
	if (rc != VOUCH_OK)
		goto out;
	r.lockfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (r.lockfd < 0 || flock(r.lockfd, LOCK_EX) != 0) {
		rc = vouch_err_set(err, errno == EEXIST ? VOUCH_E_EXISTS : VOUCH_E_IO, "%s: %s%s",
				   path, strerror(errno),
				   errno == EEXIST ? " (another 'vouch repo init' of this "
						     "directory?)"
						   : "");
		goto out;
	}
	rc = dir_empty_except_lock(dir, err);
	if (rc != VOUCH_OK)
		goto out;
	static const char *const sub[] = {"metadata", "targets", "staged"};
	for (size_t i = 0; i < 3 && rc == VOUCH_OK; i++) {
		rc = repo_path(path, sizeof(path), err, "%s/%s", dir, sub[i]);
		if (rc == VOUCH_OK)
			rc = vouch_mkdir_p(path, 0755, err);
	}
	if (rc == VOUCH_OK)
		rc = write_config(&r, err);
	if (rc == VOUCH_OK)
		rc = repo_path(path, sizeof(path), err, "%s/staged/1.root.json", dir);
	if (rc == VOUCH_OK)
		rc = repo_write_env(path, r.root, err);
	if (rc == VOUCH_OK)
		rc = repo_path(path, sizeof(path), err, "%s/staged/root.json", dir);
	if (rc == VOUCH_OK)
		rc = repo_write_env(path, r.root, err);
	if (rc == VOUCH_OK)
		rc = repo_path(path, sizeof(path), err, "%s/staged/targets.json", dir);
	if (rc == VOUCH_OK)
		rc = repo_write_env(path, r.targets, err);
	if (rc != VOUCH_OK)
		goto out;

	/* Publish at once when everything needed is at hand; otherwise the
	 * notes say what is missing. */
	size_t own, prev;
	int64_t own_thr, prev_thr;
	have_online = 1;
	for (size_t i = 0; i < p->snapshot.n; i++)
		have_online &= vouch_key_has_private(p->snapshot.v[i]);
	for (size_t i = 0; i < p->timestamp.n; i++)
		have_online &= vouch_key_has_private(p->timestamp.v[i]);
	rc = repo_root_counts(&r, r.root, &own, &own_thr, &prev, &prev_thr, err);
	if (rc != VOUCH_OK)
		goto out;
	if ((int64_t)own < own_thr) {
		if (notes)
			rc = vouch_buf_printf(
			    notes, err,
			    "root v1 has %zu of %lld signatures; each remaining root key holder "
			    "runs 'vouch repo sign %s root --key KEY', then 'vouch repo publish "
			    "%s --snapshot-key K --timestamp-key K'\n",
			    own, (long long)own_thr, dir, dir);
		goto out;
	}
	rc = repo_role_auth(&r, repo_signed(r.root), "targets", &a, err);
	if (rc != VOUCH_OK)
		goto out;
	if ((int64_t)repo_count_valid(r.targets, &a) < a.threshold) {
		/* targets given as public keys: listed, signed later */
		if (notes)
			rc = vouch_buf_printf(
			    notes, err,
			    "targets v1 is not signed yet: the targets key holder "
			    "runs 'vouch repo sign %s targets --key KEY', then 'vouch "
			    "repo publish %s --snapshot-key K --timestamp-key K'\n",
			    dir, dir);
		goto out;
	}
	if (!have_online) {
		if (notes)
			rc = vouch_buf_printf(notes, err,
					      "not published (snapshot/timestamp keys given as "
					      "public keys): run 'vouch repo publish %s "
					      "--snapshot-key K --timestamp-key K'\n",
					      dir);
		goto out;
	}
	rc = repo_publish_locked(&r, &p->snapshot, &p->timestamp, notes, err);
out:
	json_decref(root);
	json_decref(targets);
	repo_close(&r);
	return rc;
}

/* ---- tiers ---- */

static enum vouch_rc stage_role(const struct repo *r, const char *role, json_t *env,
				struct vouch_err *err)
{
	char path[PATH_MAX];
	enum vouch_rc rc = repo_path(path, sizeof(path), err, "%s/staged/%s.json", r->dir, role);
	if (rc == VOUCH_OK)
		rc = repo_write_env(path, env, err);
	return rc;
}

/* One note about a role's signatures after a change. */
static enum vouch_rc note_sigs(const struct repo *r, const char *role, json_t *env,
			       const struct role_auth *a, struct vouch_buf *notes,
			       struct vouch_err *err)
{
	if (!notes)
		return VOUCH_OK;
	size_t valid = repo_count_valid(env, a);
	if ((int64_t)valid >= a->threshold)
		return vouch_buf_printf(notes, err, "%s v%lld signed (%zu of %lld)\n", role,
					(long long)repo_version(env), valid,
					(long long)a->threshold);
	return vouch_buf_printf(
	    notes, err,
	    "%s v%lld has %zu of %lld signatures; it is published only "
	    "once the other key holders run 'vouch repo sign %s %s --key KEY'\n",
	    role, (long long)repo_version(env), valid, (long long)a->threshold, r->dir, role);
}

static enum vouch_rc pattern_check(const char *tier, const char *pat, struct vouch_err *err)
{
	size_t tl = strlen(tier);
	enum vouch_rc rc = path_check("path pattern", pat, err);
	if (rc != VOUCH_OK)
		return rc;
	if (strncmp(pat, tier, tl) != 0 || pat[tl] != '/' || pat[tl + 1] == '\0')
		return vouch_err_set(err, VOUCH_E_DENIED,
				     "path pattern '%s' is outside tier %s: a tier owns only "
				     "paths under '%s/'",
				     pat, tier, tier);
	return VOUCH_OK;
}

/* The tier model as signed metadata: targets delegates only terminating
 * roles named like tiers, each with `paths` under its own NAME/, keys it
 * lists and a threshold it can meet. */
static enum vouch_rc delegations_check(const json_t *s, struct vouch_err *err)
{
	const json_t *dl = json_object_get(s, "delegations");
	if (!dl)
		return VOUCH_OK;
	const json_t *keys = json_object_get(dl, "keys");
	const json_t *roles = json_object_get(dl, "roles");
	if (!json_is_object(keys) || !json_is_array(roles) || json_object_size(dl) != 2)
		return vouch_err_set(err, VOUCH_E_DENIED, "targets: malformed delegations");
	size_t i;
	json_t *d;
	json_array_foreach (roles, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		const json_t *paths = json_object_get(d, "paths");
		const json_t *ids = json_object_get(d, "keyids");
		const json_t *thr = json_object_get(d, "threshold");
		if (!name || !vouch_repo_tier_name_ok(name))
			return vouch_err_set(err, VOUCH_E_DENIED,
					     "targets: delegated role %zu has no valid tier name",
					     i);
		for (size_t k = 0; k < i; k++) {
			const char *other =
			    json_string_value(json_object_get(json_array_get(roles, k), "name"));
			if (other && strcmp(other, name) == 0)
				return vouch_err_set(err, VOUCH_E_DENIED,
						     "targets: tier %s is delegated twice", name);
		}
		if (!json_is_true(json_object_get(d, "terminating")))
			return vouch_err_set(err, VOUCH_E_DENIED,
					     "targets: tier %s is not a terminating delegation",
					     name);
		if (json_object_get(d, "path_hash_prefixes") || !json_is_array(paths) ||
		    json_array_size(paths) == 0 || json_array_size(paths) > VOUCH_REPO_MAX_PATTERNS)
			return vouch_err_set(
			    err, VOUCH_E_DENIED,
			    "targets: tier %s must have 1 to %d path patterns and no "
			    "path_hash_prefixes",
			    name, VOUCH_REPO_MAX_PATTERNS);
		size_t k;
		json_t *v;
		json_array_foreach (paths, k, v) {
			enum vouch_rc rc =
			    json_is_string(v)
				? pattern_check(name, json_string_value(v), err)
				: vouch_err_set(err, VOUCH_E_DENIED, "non-string path pattern");
			if (rc != VOUCH_OK) {
				vouch_err_prefix(err, "targets: tier %s: ", name);
				return VOUCH_E_DENIED;
			}
		}
		if (!json_is_array(ids) || json_array_size(ids) == 0 || !json_is_integer(thr) ||
		    json_integer_value(thr) < 1 ||
		    json_integer_value(thr) > (json_int_t)json_array_size(ids))
			return vouch_err_set(err, VOUCH_E_DENIED,
					     "targets: tier %s: bad keyids or threshold", name);
		json_array_foreach (ids, k, v) {
			if (!json_is_string(v) || !json_object_get(keys, json_string_value(v)))
				return vouch_err_set(err, VOUCH_E_DENIED,
						     "targets: tier %s lists a key that "
						     "delegations.keys does not hold",
						     name);
		}
	}
	return VOUCH_OK;
}

enum vouch_rc repo_check_content(const struct repo *r, const json_t *env, const char *role,
				 struct vouch_err *err)
{
	const json_t *s = repo_signed(env);
	const char *type = json_string_value(json_object_get(s, "_type"));
	const char *want = repo_is_toplevel(role) ? role : "targets";
	if (!type || strcmp(type, want) != 0)
		return vouch_err_set(err, VOUCH_E_DENIED,
				     "refusing to sign %s: its _type is '%s', not '%s'", role,
				     type ? type : "?", want);
	if (strcmp(role, "targets") == 0) {
		enum vouch_rc rc = delegations_check(s, err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "refusing to sign: ");
		return rc;
	}
	if (repo_is_toplevel(role))
		return VOUCH_OK;
	/* A tier: only names its delegation covers, and no delegations of
	 * its own. */
	const json_t *d = find_delegation(r->targets, role);
	const json_t *tg = json_object_get(s, "targets");
	if (!d || !json_is_object(tg) || json_object_get(s, "delegations"))
		return vouch_err_set(err, VOUCH_E_DENIED,
				     "refusing to sign tier %s: not delegated by targets, no "
				     "targets object, or delegations of its own",
				     role);
	const char *tn;
	json_t *tv;
	json_object_foreach ((json_t *)(uintptr_t)tg, tn, tv) {
		if (vouch_repo_target_name_check(tn, NULL) != VOUCH_OK || !tier_covers(d, tn))
			return vouch_err_set(
			    err, VOUCH_E_DENIED,
			    "refusing to sign tier %s: it lists '%.300s', which its "
			    "path patterns do not cover",
			    role, tn);
	}
	return VOUCH_OK;
}

enum vouch_rc vouch_repo_tier_add(const char *dir, const char *name,
				  const struct vouch_repo_keys *tier_keys, unsigned threshold,
				  const char *const *paths, size_t npaths,
				  const struct vouch_repo_keys *signers,
				  const struct vouch_repo_opts *o, struct vouch_buf *notes,
				  struct vouch_err *err)
{
	json_t *ts = NULL;
	json_t *dkeys = NULL;
	json_t *droles = NULL;
	json_t *d = NULL;
	struct repo r;
	json_t *ids = NULL, *pats = NULL, *tier = NULL;
	enum vouch_rc rc;
	if (!vouch_repo_tier_name_ok(name))
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "tier name '%s': use 1 to %d of a-z, 0-9, '-' and '_' "
				     "(starting with a letter or digit), not a top-level role name",
				     name, VOUCH_REPO_MAX_TIER_NAME);
	if (npaths > VOUCH_REPO_MAX_PATTERNS)
		return vouch_err_set(err, VOUCH_E_LIMIT, "at most %d path patterns",
				     VOUCH_REPO_MAX_PATTERNS);
	rc = repo_open(dir, o, &r, err);
	if (rc != VOUCH_OK)
		goto out;
	if (json_object_get(r.tiers, name)) {
		rc =
		    vouch_err_set(err, VOUCH_E_EXISTS,
				  "tier %s exists; change its keys with 'vouch repo rotate'", name);
		goto out;
	}
	struct role_auth ta;
	rc = repo_role_auth(&r, repo_signed(r.root), "targets", &ta, err);
	if (rc != VOUCH_OK)
		goto out;
	if (tier_keys->n == 0 || tier_keys->n > VOUCH_REPO_MAX_KEYS) {
		rc = vouch_err_set(err, VOUCH_E_USAGE, "a tier needs 1 to %d keys",
				   VOUCH_REPO_MAX_KEYS);
		goto out;
	}
	if (signers->n == 0) {
		rc = vouch_err_set(err, VOUCH_E_USAGE, "--key: a targets key is needed");
		goto out;
	}
	if (threshold == 0)
		threshold = 1;
	if (threshold > tier_keys->n) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "threshold %u is more than the %zu keys of tier %s", threshold,
				   tier_keys->n, name);
		goto out;
	}
	ts = repo_signed(r.targets);
	dkeys = json_object_get(json_object_get(ts, "delegations"), "keys");
	droles = json_object_get(json_object_get(ts, "delegations"), "roles");
	ids = json_array();
	pats = json_array();
	if (!json_is_object(dkeys) || !json_is_array(droles) || !ids || !pats) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "staged targets.json: bad delegations");
		goto out;
	}
	for (size_t i = 0; i < tier_keys->n; i++) {
		const char *id = vouch_key_id(tier_keys->v[i]);
		json_t *tuf = NULL;
		if (repo_keyid_listed(ids, id)) {
			rc = vouch_err_set(err, VOUCH_E_USAGE, "key %s given twice", id);
			goto out;
		}
		rc = vouch_key_to_tuf(tier_keys->v[i], &tuf, err);
		if (rc != VOUCH_OK)
			goto out;
		if (notes && (json_object_get(dkeys, id) ||
			      json_object_get(json_object_get(repo_signed(r.root), "keys"), id)))
			rc =
			    vouch_buf_printf(notes, err,
					     "warning: key %s already signs for another role; a "
					     "tier's keys should be its own (they reach everything "
					     "the other role reaches)\n",
					     id);
		json_object_set_new(dkeys, id, tuf);
		json_array_append_new(ids, json_string(id));
		if (rc != VOUCH_OK)
			goto out;
	}
	if (npaths == 0) {
		char pat[VOUCH_REPO_MAX_TIER_NAME + 2 * VOUCH_REPO_TIER_DEPTH + 8];
		size_t used = (size_t)snprintf(pat, sizeof(pat), "%s", name);
		for (int depth = 0; depth < VOUCH_REPO_TIER_DEPTH; depth++) {
			used += (size_t)snprintf(pat + used, sizeof(pat) - used, "/*");
			json_array_append_new(pats, json_string(pat));
		}
	}
	for (size_t i = 0; i < npaths; i++) {
		rc = pattern_check(name, paths[i], err);
		if (rc != VOUCH_OK)
			goto out;
		json_array_append_new(pats, json_string(paths[i]));
	}
	d = json_pack("{s:s, s:O, s:i, s:b, s:O}", "name", name, "keyids", ids, "threshold",
		      (int)threshold, "terminating", 1, "paths", pats);
	if (!d || json_array_append_new(droles, d) != 0) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = repo_bump(r.targets, r.now, r.exp.targets, err);
	if (rc == VOUCH_OK)
		rc = sign_with(&r, r.targets, "targets", &ta, signers, 0, err);
	if (rc != VOUCH_OK)
		goto out;
	/* The tier's own metadata starts empty and unsigned: its first
	 * `repo add` signs it with the tier key. */
	tier = new_env("targets", r.now, r.exp.tier);
	if (!tier || json_object_set_new(repo_signed(tier), "targets", json_object()) != 0) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = stage_role(&r, name, tier, err);
	if (rc == VOUCH_OK)
		rc = stage_role(&r, "targets", r.targets, err);
	if (rc == VOUCH_OK)
		rc = note_sigs(&r, "targets", r.targets, &ta, notes, err);
	if (rc == VOUCH_OK && notes)
		rc =
		    vouch_buf_printf(notes, err,
				     "tier %s added (threshold %u of %zu keys); not yet published: "
				     "run 'vouch repo publish %s ...'\n",
				     name, threshold, tier_keys->n, dir);
out:
	json_decref(ids);
	json_decref(pats);
	json_decref(tier);
	repo_close(&r);
	return rc;
}

/* ---- targets ---- */

static int tier_covers(const json_t *delegation, const char *name)
{
	/* The client's own matching rule, so that what `repo add` accepts is
	 * exactly what clients find. */
	return vouch_tuf_role_covers(delegation, name);
}

/* Resolves the tier of a target name, checks that the tier's patterns
 * cover it and that every signer is one of the tier's keys. */
static enum vouch_rc target_tier(struct repo *r, const char *name,
				 const struct vouch_repo_keys *signers, char *tier, size_t cap,
				 struct role_auth *a, struct vouch_err *err)
{
	enum vouch_rc rc = vouch_repo_target_name_check(name, err);
	if (rc != VOUCH_OK)
		return rc;
	const char *slash = strchr(name, '/');
	if (!slash || (size_t)(slash - name) >= cap)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "target name '%s' must be TIER/PATH (e.g. os/rootfs.img)",
				     name);
	memcpy(tier, name, (size_t)(slash - name));
	tier[slash - name] = '\0';
	json_t *d = find_delegation(r->targets, tier);
	if (!d || !json_object_get(r->tiers, tier))
		return vouch_err_set(err, VOUCH_E_NOTFOUND,
				     "target '%s': no tier named '%s' (add it with 'vouch repo "
				     "tier add')",
				     name, tier);
	if (!tier_covers(d, name)) {
		struct vouch_buf b = {0};
		size_t i;
		json_t *p;
		json_array_foreach (json_object_get(d, "paths"), i, p) {
			if (vouch_buf_printf(&b, NULL, "%s%s", i ? ", " : "",
					     json_string_value(p)) != VOUCH_OK)
				break;
		}
		rc = vouch_err_set(err, VOUCH_E_DENIED,
				   "target '%s' is not covered by the path patterns of tier %s "
				   "(%s); clients would never find it",
				   name, tier, b.data ? (char *)b.data : "");
		vouch_buf_free(&b);
		return rc;
	}
	rc = repo_role_auth(r, NULL, tier, a, err);
	if (rc != VOUCH_OK)
		return rc;
	if (signers->n == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "--key: a key of tier %s is needed", tier);
	for (size_t i = 0; i < signers->n; i++) {
		if (!repo_keyid_listed(a->keyids, vouch_key_id(signers->v[i]))) {
			char exp[2048];
			repo_expected_ids(a, exp, sizeof(exp));
			return vouch_err_set(err, VOUCH_E_DENIED,
					     "key %s is not authorised for tier %s, which owns "
					     "'%s' (expected one of: %s)",
					     vouch_key_id(signers->v[i]), tier, name, exp);
		}
	}
	return VOUCH_OK;
}

/* Copies src into dir while hashing it (one read: what is hashed is what
 * is stored), then renames it to its final name(s). */
static enum vouch_rc copy_target(const char *src, const char *dstdir, const char *base,
				 int consistent, struct vouch_digests *dg, int sync_dir,
				 struct vouch_err *err)
{
	char tmp[PATH_MAX], final[PATH_MAX], alt[PATH_MAX];
	struct vouch_hasher *h = NULL;
	uint8_t *chunk = NULL;
	int in = -1, out = -1;
	enum vouch_rc rc = repo_path(tmp, sizeof(tmp), err, "%s/.vouch-tmp-XXXXXX", dstdir);
	if (rc != VOUCH_OK)
		return rc;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO, "%s: %s",
				   src, strerror(errno));
		goto out;
	}
	struct stat st;
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = vouch_err_set(err, VOUCH_E_USAGE, "%s: not a regular file", src);
		goto out;
	}
	out = mkstemp(tmp);
	if (out < 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(out, 0644) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	chunk = malloc(1u << 16);
	rc = chunk ? vouch_hasher_new(VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &h, err)
		   : vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	while (rc == VOUCH_OK) {
		ssize_t n = read(in, chunk, 1u << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		rc = vouch_hasher_update(h, chunk, (size_t)n, err);
		for (ssize_t off = 0; rc == VOUCH_OK && off < n;) {
			ssize_t w = vouch_fault_write(out, chunk + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", tmp, strerror(errno));
			else
				off += w;
		}
	}
	if (rc == VOUCH_OK)
		rc = vouch_hasher_final(h, dg, err);
	if (rc == VOUCH_OK && vouch_fault_fsync(out) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", tmp, strerror(errno));
	if (rc != VOUCH_OK)
		goto out;
	close(out);
	out = -1;
	char h256[2 * VOUCH_SHA256_LEN + 1], h512[2 * VOUCH_SHA512_LEN + 1];
	vouch_hex_encode(dg->sha256, VOUCH_SHA256_LEN, h256);
	vouch_hex_encode(dg->sha512, VOUCH_SHA512_LEN, h512);
	if (consistent)
		rc = repo_path(final, sizeof(final), err, "%s/%s.%s", dstdir, h256, base);
	else
		rc = repo_path(final, sizeof(final), err, "%s/%s", dstdir, base);
	if (rc != VOUCH_OK)
		goto out;
	if (vouch_fault_rename(tmp, final) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", final, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	/* Clients may address a target by any of its listed hashes. */
	if (consistent) {
		rc = repo_path(alt, sizeof(alt), err, "%s/%s.%s", dstdir, h512, base);
		if (rc != VOUCH_OK)
			goto out;
		vouch_fault_point(VOUCH_FAULT_RENAME, alt);
		if (link(final, alt) != 0 && errno != EEXIST) {
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", alt, strerror(errno));
			goto out;
		}
	}
	if (sync_dir)
		rc = vouch_fsync_dir_of(final, err);
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (tmp[0] && rc != VOUCH_OK)
		unlink(tmp);
	free(chunk);
	vouch_hasher_free(h);
	return rc;
}

static enum vouch_rc build_custom(const char *tier, const struct vouch_repo_target_info *info,
				  json_t **out, struct vouch_err *err)
{
	const char *fmt = NULL;
	json_t *sv = NULL;
	const char *why = NULL;
	json_t *x = NULL;
	size_t hi;
	json_t *e;
	json_t *v = json_object();
	json_t *hw = json_array();
	if (!v || !hw)
		goto nomem;
	if (info->custom) {
		if (!json_is_object(info->custom)) {
			json_decref(v);
			json_decref(hw);
			return vouch_err_set(err, VOUCH_E_USAGE, "--custom must be a JSON object");
		}
		const char *k;
		json_t *val;
		json_object_foreach ((json_t *)(uintptr_t)info->custom, k, val) {
			json_object_set(v, k, val);
		}
	}
	fmt = json_string_value(json_object_get(v, "format"));
	if (json_object_get(v, "format") &&
	    (!fmt || (strcmp(fmt, "raw") && strcmp(fmt, "archive") && strcmp(fmt, "delta")))) {
		json_decref(v);
		json_decref(hw);
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "custom format must be \"raw\", \"archive\" or \"delta\"");
	}
	if (!fmt)
		json_object_set_new(v, "format", json_string("raw"));
	json_object_set_new(v, "tier", json_string(tier));
	if (info->version)
		json_object_set_new(v, "version", json_string(info->version));
	if (info->security_version >= 0 || !json_object_get(v, "security_version"))
		json_object_set_new(
		    v, "security_version",
		    json_integer(info->security_version >= 0 ? info->security_version : 0));
	sv = json_object_get(v, "security_version");
	if (!json_is_integer(sv) || json_integer_value(sv) < 0) {
		json_decref(v);
		json_decref(hw);
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "security_version must be a non-negative integer");
	}
	if (info->nhardware > 0 || !json_object_get(v, "hardware")) {
		for (size_t i = 0; i < info->nhardware; i++)
			json_array_append_new(hw, json_string(info->hardware[i]));
		json_object_set(v, "hardware", hw);
	}
	json_decref(hw);
	/* Devices read these fields (DESIGN.md §4): refuse what they would
	 * misread rather than sign it. */
	x = json_object_get(v, "hardware");
	json_array_foreach (x, hi, e) {
		if (!json_is_string(e))
			why = "hardware must be a list of strings";
	}
	if (!json_is_array(x))
		why = "hardware must be a list of strings";
	x = json_object_get(v, "version");
	if (x && (!json_is_string(x) || json_string_length(x) == 0))
		why = "version must be a non-empty string";
	x = json_object_get(v, "encryption");
	if (x && !json_is_object(x))
		why = "encryption must be an object";
	x = json_object_get(v, "delta_base");
	if (x) {
		const char *db = json_string_value(x);
		size_t dl = db ? strlen(db) : 0;
		int hex = dl == 2 * VOUCH_SHA256_LEN;
		for (size_t k = 0; hex && k < dl; k++)
			hex = (db[k] >= '0' && db[k] <= '9') || (db[k] >= 'a' && db[k] <= 'f');
		if (!hex)
			why = "delta_base must be a sha256 in lowercase hex";
	}
	if (why) {
		json_decref(v);
		return vouch_err_set(err, VOUCH_E_USAGE, "custom.vouch: %s", why);
	}
	*out = json_pack("{s:o}", "vouch", v);
	if (!*out)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
nomem:
	json_decref(v);
	json_decref(hw);
	return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
}

enum vouch_rc vouch_repo_target_add_many(const char *dir,
					 const struct vouch_repo_target_item *items, size_t n,
					 const struct vouch_repo_target_info *info,
					 const struct vouch_repo_keys *signers,
					 const struct vouch_repo_opts *o, struct vouch_buf *notes,
					 struct vouch_err *err)
{
	struct repo r;
	json_t *touched = json_object();
	json_t *dirs = json_object();
	json_t *custom = NULL;
	char tier[VOUCH_REPO_MAX_TIER_NAME + 1];
	char tdir[PATH_MAX];
	char h256[2 * VOUCH_SHA256_LEN + 1], h512[2 * VOUCH_SHA512_LEN + 1];
	struct role_auth a;
	struct vouch_digests dg;
	const char *tn;
	json_t *tv;
	enum vouch_rc rc = repo_open(dir, o, &r, err);
	if (rc == VOUCH_OK && (!touched || !dirs))
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	if (rc == VOUCH_OK && n == 0)
		rc = vouch_err_set(err, VOUCH_E_USAGE, "no targets to add");
	/* Check every name and the signers against every tier first: a
	 * refused item leaves nothing half done. */
	for (size_t i = 0; rc == VOUCH_OK && i < n; i++) {
		rc = target_tier(&r, items[i].name, signers, tier, sizeof(tier), &a, err);
		/* With consistent snapshots the file is stored as SHA512HEX.BASE
		 * too: the base name must leave room for the longest prefix. */
		if (rc == VOUCH_OK && r.consistent &&
		    strlen(strrchr(items[i].name, '/') + 1) > NAME_MAX - 2 * VOUCH_SHA512_LEN - 1)
			rc = vouch_err_set(err, VOUCH_E_USAGE,
					   "target name '%.80s…': with consistent snapshots its "
					   "last component may have at most %d bytes (it is stored "
					   "under a hash prefix)",
					   items[i].name, NAME_MAX - 2 * VOUCH_SHA512_LEN - 1);
		if (rc == VOUCH_OK)
			rc = build_custom(tier, info, &custom, err);
		json_decref(custom);
		custom = NULL;
	}
	for (size_t i = 0; rc == VOUCH_OK && i < n; i++) {
		const char *name = items[i].name;
		const char *base = strrchr(name, '/') + 1;
		json_t *env, *tg, *entry;
		rc = target_tier(&r, name, signers, tier, sizeof(tier), &a, err);
		if (rc == VOUCH_OK)
			rc = build_custom(tier, info, &custom, err);
		if (rc == VOUCH_OK)
			rc = repo_path(tdir, sizeof(tdir), err, "%s/targets/%.*s", r.dir,
				       (int)(base - name - 1), name);
		if (rc == VOUCH_OK)
			rc = vouch_mkdir_p(tdir, 0755, err);
		if (rc == VOUCH_OK) {
			/* the directories are synced once, below */
			rc = copy_target(items[i].file, tdir, base, r.consistent, &dg, 0, err);
			if (rc == VOUCH_OK && !json_object_get(dirs, tdir))
				rc = json_object_set_new(dirs, tdir, json_true()) == 0
					 ? VOUCH_OK
					 : vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			if (rc != VOUCH_OK)
				vouch_err_prefix(err, "%s: ", name);
		}
		if (rc != VOUCH_OK)
			break;
		vouch_hex_encode(dg.sha256, VOUCH_SHA256_LEN, h256);
		vouch_hex_encode(dg.sha512, VOUCH_SHA512_LEN, h512);
		env = json_object_get(r.tiers, tier);
		tg = json_object_get(repo_signed(env), "targets");
		entry = json_pack("{s:I, s:{s:s, s:s}, s:O}", "length", (json_int_t)dg.length,
				  "hashes", "sha256", h256, "sha512", h512, "custom", custom);
		json_decref(custom);
		custom = NULL;
		if (!json_is_object(tg) || !entry) {
			json_decref(entry);
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "staged %s.json: no targets", tier);
			break;
		}
		if (notes && n <= 20)
			rc = vouch_buf_printf(notes, err, "%s %s (%llu bytes, sha256 %s)\n",
					      json_object_get(tg, name) ? "replaced" : "added",
					      name, (unsigned long long)dg.length, h256);
		json_object_set_new(tg, name, entry);
		json_object_set_new(touched, tier, json_true());
	}
	if (rc == VOUCH_OK && notes && n > 20)
		rc = vouch_buf_printf(notes, err, "added %zu targets\n", n);
	/* The files are durable before metadata that lists them is. */
	json_object_foreach (dirs, tn, tv) {
		if (rc == VOUCH_OK)
			rc = vouch_fsync_dir_of(tn, err);
	}
	/* Every tier is signed before any is staged: a signing failure (an
	 * HSM, a passphrase) leaves no tier changed. */
	json_object_foreach (touched, tn, tv) {
		json_t *env = json_object_get(r.tiers, tn);
		if (rc == VOUCH_OK)
			rc = repo_role_auth(&r, NULL, tn, &a, err);
		if (rc == VOUCH_OK)
			rc = repo_bump(env, r.now, r.exp.tier, err);
		if (rc == VOUCH_OK)
			rc = sign_with(&r, env, tn, &a, signers, 0, err);
	}
	json_object_foreach (touched, tn, tv) {
		json_t *env = json_object_get(r.tiers, tn);
		if (rc == VOUCH_OK)
			rc = repo_role_auth(&r, NULL, tn, &a, err);
		if (rc == VOUCH_OK)
			rc = stage_role(&r, tn, env, err);
		if (rc == VOUCH_OK && notes)
			rc = vouch_buf_printf(notes, err, "%s v%lld not yet published; ", tn,
					      (long long)repo_version(env));
		if (rc == VOUCH_OK)
			rc = note_sigs(&r, tn, env, &a, notes, err);
	}
	json_decref(custom);
	json_decref(touched);
	json_decref(dirs);
	repo_close(&r);
	return rc;
}

enum vouch_rc vouch_repo_target_add(const char *dir, const char *file, const char *name,
				    const struct vouch_repo_target_info *info,
				    const struct vouch_repo_keys *signers,
				    const struct vouch_repo_opts *o, struct vouch_buf *notes,
				    struct vouch_err *err)
{
	struct vouch_repo_target_item item = {.file = file, .name = name};
	return vouch_repo_target_add_many(dir, &item, 1, info, signers, o, notes, err);
}

enum vouch_rc vouch_repo_target_remove(const char *dir, const char *name,
				       const struct vouch_repo_keys *signers,
				       const struct vouch_repo_opts *o, struct vouch_buf *notes,
				       struct vouch_err *err)
{
	json_t *env = NULL;
	json_t *tg = NULL;
	struct repo r;
	char tier[VOUCH_REPO_MAX_TIER_NAME + 1];
	struct role_auth a;
	enum vouch_rc rc = repo_open(dir, o, &r, err);
	if (rc == VOUCH_OK)
		rc = target_tier(&r, name, signers, tier, sizeof(tier), &a, err);
	if (rc != VOUCH_OK)
		goto out;
	env = json_object_get(r.tiers, tier);
	tg = json_object_get(repo_signed(env), "targets");
	if (!json_object_get(tg, name)) {
		rc = vouch_err_set(err, VOUCH_E_NOTFOUND, "no target named '%s' in tier %s", name,
				   tier);
		goto out;
	}
	json_object_del(tg, name);
	rc = repo_bump(env, r.now, r.exp.tier, err);
	if (rc == VOUCH_OK)
		rc = sign_with(&r, env, tier, &a, signers, 0, err);
	if (rc == VOUCH_OK)
		rc = stage_role(&r, tier, env, err);
	if (rc == VOUCH_OK && notes)
		rc = vouch_buf_printf(notes, err,
				      "removed %s from %s v%lld; not yet published (the file stays "
				      "under targets/ for clients of older snapshots)\n",
				      name, tier, (long long)repo_version(env));
	if (rc == VOUCH_OK)
		rc = note_sigs(&r, tier, env, &a, notes, err);
out:
	repo_close(&r);
	return rc;
}

/* Exposed to repo_ops.c and repo_status.c (repo_internal.h). */
enum vouch_rc repo_sign_with(struct repo *r, json_t *env, const char *role,
			     const struct role_auth *a, const struct vouch_repo_keys *ks,
			     struct vouch_err *err)
{
	return sign_with(r, env, role, a, ks, 0, err);
}

enum vouch_rc repo_stage(const struct repo *r, const char *role, json_t *env, struct vouch_err *err)
{
	return stage_role(r, role, env, err);
}

enum vouch_rc repo_note_sigs(const struct repo *r, const char *role, json_t *env,
			     const struct role_auth *a, struct vouch_buf *notes,
			     struct vouch_err *err)
{
	return note_sigs(r, role, env, a, notes, err);
}

int repo_tier_covers(const json_t *delegation, const char *name)
{
	return tier_covers(delegation, name);
}

json_t *repo_find_delegation(const json_t *targets_env, const char *name)
{
	return find_delegation(targets_env, name);
}
