/* The TUF client workflow (specification 1.0.x, section 5 "Detailed client
 * workflow"). Comments cite the steps ("5.3.4") where the code implements
 * them. The delegation search (5.6.7) is in delegation.c.
 *
 * Trusted metadata lives in the metadata directory under unversioned names
 * (root.json, timestamp.json, snapshot.json, targets.json, ROLE.json with the
 * role name percent-encoded), byte for byte as served, each written
 * atomically. A local copy is only used after the same checks as a
 * downloaded one (signatures by the current trusted keys, versions
 * consistent with the metadata above it, expiry). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"
#include "fault.h"
#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/json.h"

void vouch_tuf_client_config_default(struct vouch_tuf_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->limits.root_max = VOUCH_TUF_DEFAULT_ROOT_MAX;
	cfg->limits.timestamp_max = VOUCH_TUF_DEFAULT_TIMESTAMP_MAX;
	cfg->limits.snapshot_max = VOUCH_TUF_DEFAULT_SNAPSHOT_MAX;
	cfg->limits.targets_max = VOUCH_TUF_DEFAULT_TARGETS_MAX;
	cfg->limits.max_root_rotations = VOUCH_TUF_DEFAULT_MAX_ROOT_ROTATIONS;
	cfg->limits.max_delegations = VOUCH_TUF_DEFAULT_MAX_DELEGATIONS;
	vouch_fetch_opts_default(&cfg->fetch);
}

/* ---- small helpers -------------------------------------------------------- */

static char *dup_base(const char *url)
{
	if (url == NULL)
		return NULL;
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	return strndup(url, n);
}

static enum vouch_rc path_in_dir(const struct vouch_tuf_client *c, const char *file,
				 struct vouch_buf *out, struct vouch_err *err)
{
	return vouch_buf_printf(out, err, "%s/%s", c->dir, file);
}

/* Local file name of a role's trusted copy: percent-encoded name + ".json"
 * (so "a/b" can never leave the directory). */
static enum vouch_rc local_name(const char *role, struct vouch_buf *out, struct vouch_err *err)
{
	enum vouch_rc rc = vouch_url_encode(role, 0, out, err);
	if (rc == VOUCH_OK)
		rc = vouch_buf_append_str(out, ".json", err);
	return rc;
}

/* Remote URL of a metadata file: BASE/[VERSION.]ENCODED_NAME.json */
static enum vouch_rc meta_url(const struct vouch_tuf_client *c, const char *role, int64_t version,
			      struct vouch_buf *out, struct vouch_err *err)
{
	enum vouch_rc rc = vouch_buf_printf(out, err, "%s/", c->metadata_url);
	if (rc == VOUCH_OK && version > 0)
		rc = vouch_buf_printf(out, err, "%" PRId64 ".", version);
	if (rc == VOUCH_OK)
		rc = local_name(role, out, err);
	return rc;
}

static enum vouch_rc read_local(const struct vouch_tuf_client *c, const char *role, size_t max,
				struct vouch_buf *out, struct vouch_err *err)
{
	struct vouch_buf name = {0}, path = {0};
	enum vouch_rc rc = local_name(role, &name, err);
	if (rc == VOUCH_OK)
		rc = path_in_dir(c, (const char *)name.data, &path, err);
	if (rc == VOUCH_OK)
		rc = vouch_file_read((const char *)path.data, max, out, err);
	vouch_buf_free(&name);
	vouch_buf_free(&path);
	return rc;
}

static enum vouch_rc persist(const struct vouch_tuf_client *c, const char *role,
			     const struct vouch_buf *data, struct vouch_err *err)
{
	struct vouch_buf name = {0}, path = {0};
	enum vouch_rc rc = local_name(role, &name, err);
	if (rc == VOUCH_OK)
		rc = path_in_dir(c, (const char *)name.data, &path, err);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic((const char *)path.data, data->data, data->len, 0644,
					     err);
	vouch_buf_free(&name);
	vouch_buf_free(&path);
	return rc;
}

/* Large metadata is written to a temporary file (fsynced) as soon as its
 * length and hashes are checked, so that its bytes need not stay in memory
 * beside the parsed tree while signatures are verified; it is renamed
 * over the trusted copy only once every check has passed, else removed. */
struct staged {
	struct vouch_buf tmp, path;
};

static enum vouch_rc stage(const struct vouch_tuf_client *c, const char *role,
			   struct vouch_buf *data, struct staged *st, struct vouch_err *err)
{
	static unsigned long counter;
	struct vouch_buf name = {0};
	int fd = -1;
	enum vouch_rc rc = local_name(role, &name, err);
	if (rc == VOUCH_OK)
		rc = path_in_dir(c, (const char *)name.data, &st->path, err);
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&st->tmp, err, "%s.tmp.%ld.%lu", (const char *)st->path.data,
				      (long)getpid(),
				      __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	vouch_buf_free(&name);
	if (rc != VOUCH_OK)
		return rc;
	fd = open((const char *)st->tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: create: %s", (const char *)st->tmp.data,
				     strerror(errno));
	const uint8_t *p = data->data;
	size_t n = data->len;
	while (rc == VOUCH_OK && n > 0) {
		ssize_t w = vouch_fault_write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: write: %s",
					   (const char *)st->tmp.data, strerror(errno));
		else {
			p += w;
			n -= (size_t)w;
		}
	}
	if (rc == VOUCH_OK && vouch_fault_fsync(fd) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", (const char *)st->tmp.data,
				   strerror(errno));
	if (close(fd) != 0 && rc == VOUCH_OK)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: close: %s", (const char *)st->tmp.data,
				   strerror(errno));
	if (rc != VOUCH_OK)
		unlink((const char *)st->tmp.data);
	else
		vouch_buf_free(data);
	return rc;
}

static enum vouch_rc stage_commit(struct staged *st, struct vouch_err *err)
{
	if (vouch_fault_rename((const char *)st->tmp.data, (const char *)st->path.data) != 0) {
		enum vouch_rc rc = vouch_err_set(err, VOUCH_E_IO, "%s: rename: %s",
						 (const char *)st->path.data, strerror(errno));
		unlink((const char *)st->tmp.data);
		return rc;
	}
	vouch_buf_free(&st->tmp);
	return vouch_fsync_dir_of((const char *)st->path.data, err);
}

static void stage_free(struct staged *st)
{
	if (st->tmp.data != NULL)
		unlink((const char *)st->tmp.data);
	vouch_buf_free(&st->tmp);
	vouch_buf_free(&st->path);
}

static void remove_local(const struct vouch_tuf_client *c, const char *role)
{
	struct vouch_buf name = {0}, path = {0};
	if (local_name(role, &name, NULL) == VOUCH_OK &&
	    path_in_dir(c, (const char *)name.data, &path, NULL) == VOUCH_OK) {
		vouch_fault_point(VOUCH_FAULT_UNLINK, (const char *)path.data);
		if (unlink((const char *)path.data) == 0 &&
		    vouch_fsync_dir_of((const char *)path.data, NULL) != VOUCH_OK) {
			/* Best effort: a resurrected file is verified again. */
		}
	}
	vouch_buf_free(&name);
	vouch_buf_free(&path);
}

/* Verifies env's `signed` against what delegator says about role; label
 * names the file in messages. */
static enum vouch_rc verify_by(const json_t *delegator, const char *role, const char *label,
			       const json_t *env, struct vouch_err *err)
{
	const json_t *keyids = NULL, *keys = NULL;
	int64_t thr = 0;
	enum vouch_rc rc = vouch_tuf_role_lookup(delegator, role, &keyids, &thr, &keys, NULL, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", label);
		return rc == VOUCH_E_NOTFOUND ? VOUCH_E_VERIFY : rc;
	}
	return vouch_tuf_verify_threshold(label, tuf_signed(env),
					  json_object_get(env, "signatures"), keyids, thr, keys,
					  NULL, err);
}

/* Length and hashes of downloaded bytes against a META entry of timestamp
 * or snapshot (spec 5.5.2, 5.6.2): only what the entry lists. */
static enum vouch_rc check_meta_file(const char *label, const json_t *meta,
				     const struct vouch_buf *data, struct vouch_err *err)
{
	const json_t *len = json_object_get(meta, "length");
	const json_t *hashes = json_object_get(meta, "hashes");
	if (len != NULL && (uint64_t)json_integer_value(len) != data->len)
		return vouch_err_set(
		    err, VOUCH_E_VERIFY,
		    "%s: length %zu differs from the signed length %" JSON_INTEGER_FORMAT
		    " (mix-and-match attack?)",
		    label, data->len, json_integer_value(len));
	if (hashes == NULL)
		return VOUCH_OK;
	struct vouch_digests dg;
	memset(&dg, 0, sizeof(dg));
	dg.algs = VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512;
	vouch_sha256(data->data, data->len, dg.sha256);
	vouch_sha512(data->data, data->len, dg.sha512);
	enum vouch_rc rc = vouch_tuf_check_hashes(label, hashes, &dg, err);
	if (rc == VOUCH_E_VERIFY)
		vouch_err_prefix(err, "mix-and-match attack? ");
	return rc;
}

static size_t meta_max(const json_t *meta, size_t def)
{
	const json_t *len = json_object_get(meta, "length");
	if (len == NULL)
		return def;
	json_int_t l = json_integer_value(len);
	/* The signed length is the exact size: never read more, and never
	 * more than the configured ceiling either (an online key must not be
	 * able to raise it). */
	return (uint64_t)l < (uint64_t)def ? (size_t)l : def;
}

static int64_t meta_version(const json_t *meta)
{
	return (int64_t)json_integer_value(json_object_get(meta, "version"));
}

static enum vouch_rc download(const struct vouch_tuf_client *c, const char *role, int64_t version,
			      size_t max, struct vouch_buf *out, struct vouch_err *err)
{
	struct vouch_buf url = {0};
	if (c->metadata_url == NULL)
		return vouch_err_set(err, VOUCH_E_NOTFOUND,
				     "no metadata URL given: %.200s.json cannot be fetched "
				     "(refresh first)",
				     role);
	enum vouch_rc rc = meta_url(c, role, version, &url, err);
	if (rc == VOUCH_OK)
		rc = vouch_fetch((const char *)url.data, max, &c->fetch, out, err);
	vouch_buf_free(&url);
	return rc;
}

static void free_role(struct tuf_role *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->delegator);
	json_decref(r->env);
	free(r);
}

static void drop_targets(struct vouch_tuf_client *c)
{
	for (size_t i = 0; i < c->nroles; i++)
		free_role(c->roles[i]);
	c->nroles = 0;
	c->have_targets = 0;
}

static enum vouch_rc add_role(struct vouch_tuf_client *c, const char *name, const char *delegator,
			      json_t *env, const struct tuf_role **out, struct vouch_err *err)
{
	if (c->nroles == c->caproles) {
		size_t cap = c->caproles ? 2 * c->caproles : 8;
		struct tuf_role **r = realloc(c->roles, cap * sizeof(*r));
		if (r == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		c->roles = r;
		c->caproles = cap;
	}
	struct tuf_role *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	r->name = strdup(name);
	r->delegator = strdup(delegator);
	if (r->name == NULL || r->delegator == NULL) {
		free_role(r);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	r->env = json_incref(env);
	c->roles[c->nroles++] = r;
	if (out != NULL)
		*out = r;
	return VOUCH_OK;
}

/* ---- opening ------------------------------------------------------------- */

/* Parses a root and checks it is signed by a threshold of its own root keys. */
static enum vouch_rc load_root_bytes(const struct vouch_buf *b, size_t max, const char *label,
				     json_t **out, struct vouch_err *err)
{
	json_t *env = NULL;
	enum vouch_rc rc = vouch_tuf_parse(b->data, b->len, max, VOUCH_TUF_ROOT, &env, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", label);
		return rc;
	}
	rc = verify_by(tuf_signed(env), "root", label, env, err);
	if (rc != VOUCH_OK) {
		json_decref(env);
		return rc;
	}
	*out = env;
	return VOUCH_OK;
}

enum vouch_rc vouch_tuf_client_install_root(const char *dir, const void *data, size_t len,
					    size_t max, struct vouch_err *err)
{
	struct vouch_buf b = {0}, path = {0}, old = {0};
	json_t *env = NULL;
	enum vouch_rc rc = vouch_buf_append(&b, data, len, err);
	if (rc == VOUCH_OK)
		rc = load_root_bytes(&b, max, "root.json", &env, err);
	if (rc == VOUCH_OK)
		rc = vouch_mkdir_p(dir, 0755, err);
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&path, err, "%s/root.json", dir);
	if (rc != VOUCH_OK)
		goto out;
	/* Never replace a trusted root behind the user's back (that would
	 * be a rollback); the same bytes again are fine. */
	rc = vouch_file_read((const char *)path.data, max, &old, NULL);
	if (rc != VOUCH_OK && rc != VOUCH_E_NOTFOUND) {
		/* There but unreadable, or larger than max: still a trusted
		 * root, never overwritten. */
		rc = vouch_err_set(err, VOUCH_E_EXISTS,
				   "%s already holds a trusted root (unreadable or larger than "
				   "%zu bytes); remove it first to start over",
				   (const char *)path.data, max);
		goto out;
	}
	if (rc == VOUCH_OK) {
		if (old.len == len && memcmp(old.data, data, len) == 0)
			rc = VOUCH_OK;
		else
			rc = vouch_err_set(err, VOUCH_E_EXISTS,
					   "%s already holds a trusted root; remove it first to "
					   "start over",
					   (const char *)path.data);
		goto out;
	}
	rc = vouch_file_write_atomic((const char *)path.data, data, len, 0644, err);
out:
	json_decref(env);
	vouch_buf_free(&b);
	vouch_buf_free(&path);
	vouch_buf_free(&old);
	return rc;
}

void vouch_tuf_client_free(struct vouch_tuf_client *c)
{
	if (c == NULL)
		return;
	drop_targets(c);
	free(c->roles);
	json_decref(c->root);
	json_decref(c->timestamp);
	json_decref(c->snapshot);
	free(c->dir);
	free(c->metadata_url);
	free(c->target_url);
	free(c->ca_file);
	free(c);
}

/* Spec 5.2: load the trusted root (its expiry does not matter yet). */
static enum vouch_rc load_trusted_root(struct vouch_tuf_client *c, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	json_t *env = NULL;
	enum vouch_rc rc = read_local(c, "root", c->limits.root_max, &b, err);
	if (rc == VOUCH_OK)
		rc = load_root_bytes(&b, c->limits.root_max, "trusted root.json", &env, err);
	vouch_buf_free(&b);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", c->dir);
		return rc;
	}
	json_decref(c->root);
	c->root = env;
	c->consistent = json_is_true(json_object_get(tuf_signed(env), "consistent_snapshot"));
	return VOUCH_OK;
}

enum vouch_rc vouch_tuf_client_new(const struct vouch_tuf_client_config *cfg,
				   struct vouch_tuf_client **out, struct vouch_err *err)
{
	if (cfg->metadata_dir == NULL)
		return vouch_err_set(err, VOUCH_E_USAGE, "no metadata directory given");
	struct vouch_tuf_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	c->limits = cfg->limits;
	c->fetch = cfg->fetch;
	c->dir = strdup(cfg->metadata_dir);
	c->metadata_url = dup_base(cfg->metadata_url);
	c->target_url = dup_base(cfg->target_base_url);
	c->ca_file = cfg->fetch.ca_file ? strdup(cfg->fetch.ca_file) : NULL;
	c->fetch.ca_file = c->ca_file;
	c->fetch.user_agent = NULL;
	if (c->dir == NULL || (cfg->metadata_url && c->metadata_url == NULL) ||
	    (cfg->target_base_url && c->target_url == NULL) ||
	    (cfg->fetch.ca_file && c->ca_file == NULL)) {
		vouch_tuf_client_free(c);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	if (c->limits.max_root_rotations == 0)
		c->limits.max_root_rotations = VOUCH_TUF_DEFAULT_MAX_ROOT_ROTATIONS;
	if (c->limits.max_delegations == 0)
		c->limits.max_delegations = VOUCH_TUF_DEFAULT_MAX_DELEGATIONS;
	enum vouch_rc rc = load_trusted_root(c, err);
	if (rc != VOUCH_OK) {
		vouch_tuf_client_free(c);
		return rc;
	}
	*out = c;
	return VOUCH_OK;
}

/* ---- 5.3 root ------------------------------------------------------------ */

/* 1 if a key id that a_root lists for role is no longer listed by b_root
 * (the role's keys were rotated; keys only added, or a threshold changed,
 * are not a rotation). */
static int keys_rotated_out(const json_t *a_root, const json_t *b_root, const char *role)
{
	const json_t *a =
	    json_object_get(json_object_get(json_object_get(a_root, "roles"), role), "keyids");
	const json_t *b =
	    json_object_get(json_object_get(json_object_get(b_root, "roles"), role), "keyids");
	for (size_t i = 0; i < json_array_size(a); i++) {
		int found = 0;
		for (size_t j = 0; j < json_array_size(b) && !found; j++)
			found = json_equal(json_array_get(a, i), json_array_get(b, j));
		if (!found)
			return 1;
	}
	return 0;
}

static enum vouch_rc update_root(struct vouch_tuf_client *c, struct vouch_err *err)
{
	json_t *first = json_incref(c->root);
	enum vouch_rc rc = VOUCH_OK;
	/* 5.3.1-5.3.9: walk N+1, N+2, ... until none is available, at most
	 * max_root_rotations files (5.3.3's Y). */
	for (unsigned i = 0; i < c->limits.max_root_rotations; i++) {
		struct vouch_buf b = {0};
		char label[64];
		json_t *env = NULL;
		/* 5.3.2 */
		int64_t n = vouch_tuf_version(tuf_signed(c->root));
		if (n == INT64_MAX)
			break; /* no N+1 can exist (and N+1 must not overflow) */
		snprintf(label, sizeof(label), "%" PRId64 ".root.json", n + 1);
		/* 5.3.3: up to root_max bytes (W); not found ends the walk. */
		rc = download(c, "root", n + 1, c->limits.root_max, &b, err);
		if (rc == VOUCH_E_NOTFOUND) {
			rc = VOUCH_OK;
			break;
		}
		if (rc == VOUCH_OK) {
			rc = vouch_tuf_parse(b.data, b.len, c->limits.root_max, VOUCH_TUF_ROOT,
					     &env, err);
			if (rc != VOUCH_OK)
				vouch_err_prefix(err, "%s: ", label);
		}
		/* 5.3.4: signed by a threshold of the trusted root's keys, and
		 * by a threshold of the new root's own keys. */
		if (rc == VOUCH_OK) {
			char l2[160];
			snprintf(l2, sizeof(l2), "%s (keys of trusted root version %" PRId64 ")",
				 label, n);
			rc = verify_by(tuf_signed(c->root), "root", l2, env, err);
		}
		if (rc == VOUCH_OK) {
			char l2[160];
			snprintf(l2, sizeof(l2), "%s (its own root keys)", label);
			rc = verify_by(tuf_signed(env), "root", l2, env, err);
		}
		/* 5.3.5: the version must be exactly N+1; anything else is
		 * discarded and the update aborted (since spec 1.0.31; an
		 * older draft went on with root N when the file held N). */
		if (rc == VOUCH_OK) {
			int64_t v = vouch_tuf_version(tuf_signed(env));
			if (v < n)
				rc = vouch_err_set(err, VOUCH_E_ROLLBACK,
						   "%s: version %" PRId64
						   " is lower than the trusted version %" PRId64
						   " (rollback attack?)",
						   label, v, n);
			else if (v == n)
				rc = vouch_err_set(err, VOUCH_E_ROLLBACK,
						   "%s: version %" PRId64
						   " is the trusted version, not %" PRId64
						   " (rollback attack?)",
						   label, v, n + 1);
			else if (v != n + 1)
				rc = vouch_err_set(err, VOUCH_E_VERIFY,
						   "%s: version %" PRId64 ", expected %" PRId64,
						   label, v, n + 1);
		}
		/* 5.3.6: its expiry does not matter yet. 5.3.7-5.3.8: trust
		 * it and persist it as root.json. */
		if (rc == VOUCH_OK)
			rc = persist(c, "root", &b, err);
		vouch_buf_free(&b);
		if (rc != VOUCH_OK) {
			json_decref(env);
			break;
		}
		json_decref(c->root);
		c->root = env;
		/* 5.3.9: repeat. */
	}
	/* 5.3.11: when a key of the timestamp or snapshot role was rotated
	 * out, delete the trusted timestamp and snapshot (fast-forward attack
	 * recovery: a snapshot key rotation must also reset the snapshot
	 * version that the still valid trusted timestamp lists). Done for
	 * every root the walk trusted and persisted, even when the walk then
	 * stops on an error or an expired final root (5.3.10): the next
	 * refresh starts from that persisted root and could no longer see the
	 * rotation. Keys only added, or a changed threshold, are no rotation:
	 * the copies stay (as python-tuf keeps them; the conformance suite
	 * reads them back after such a refresh failed) and, as on every use,
	 * count only while the current root's keys verify them
	 * (load_local_top_bytes). */
	if (keys_rotated_out(tuf_signed(first), tuf_signed(c->root), "timestamp") ||
	    keys_rotated_out(tuf_signed(first), tuf_signed(c->root), "snapshot")) {
		remove_local(c, "timestamp");
		remove_local(c, "snapshot");
	}
	if (rc == VOUCH_OK) {
		/* 5.3.10: the final root must not have expired. */
		rc = vouch_tuf_check_expiry("root.json", tuf_signed(c->root), c->now, err);
	}
	if (rc == VOUCH_OK) {
		/* 5.3.12 */
		c->consistent =
		    json_is_true(json_object_get(tuf_signed(c->root), "consistent_snapshot"));
	}
	json_decref(first);
	return rc;
}

/* ---- 5.4 timestamp --------------------------------------------------------- */

/* The trusted local copy of a top-level role, if it is still signed by the
 * keys root trusts now; NULL otherwise (missing, unreadable, malformed or
 * signed by rotated-out keys are all "no trusted copy"). */
static json_t *load_local_top_bytes(struct vouch_tuf_client *c, const char *role,
				    enum vouch_tuf_type type, size_t max, struct vouch_buf *bytes)
{
	struct vouch_buf b = {0};
	json_t *env = NULL;
	if (read_local(c, role, max, &b, NULL) == VOUCH_OK &&
	    vouch_tuf_parse(b.data, b.len, max, type, &env, NULL) == VOUCH_OK &&
	    verify_by(tuf_signed(c->root), role, role, env, NULL) != VOUCH_OK) {
		json_decref(env);
		env = NULL;
	}
	if (env != NULL && bytes != NULL) {
		*bytes = b;
		return env;
	}
	vouch_buf_free(&b);
	return env;
}

static json_t *load_local_top(struct vouch_tuf_client *c, const char *role,
			      enum vouch_tuf_type type, size_t max)
{
	return load_local_top_bytes(c, role, type, max, NULL);
}

static const json_t *snapshot_meta_of(const json_t *timestamp)
{
	return json_object_get(json_object_get(tuf_signed(timestamp), "meta"), "snapshot.json");
}

static enum vouch_rc update_timestamp(struct vouch_tuf_client *c, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	json_t *trusted =
	    load_local_top(c, "timestamp", VOUCH_TUF_TIMESTAMP, c->limits.timestamp_max);
	json_t *env = NULL;
	int64_t v = 0;
	const char *label = "timestamp.json";
	/* 5.4.1: always unversioned, up to timestamp_max bytes (X). */
	enum vouch_rc rc = download(c, "timestamp", 0, c->limits.timestamp_max, &b, err);
	if (rc == VOUCH_OK) {
		rc = vouch_tuf_parse(b.data, b.len, c->limits.timestamp_max, VOUCH_TUF_TIMESTAMP,
				     &env, err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "%s: ", label);
	}
	/* 5.4.2: signed by a threshold of root's timestamp keys. */
	if (rc == VOUCH_OK)
		rc = verify_by(tuf_signed(c->root), "timestamp", label, env, err);
	if (rc != VOUCH_OK)
		goto out;
	v = vouch_tuf_version(tuf_signed(env));
	if (trusted != NULL) {
		int64_t tv = vouch_tuf_version(tuf_signed(trusted));
		/* 5.4.3.1: not older than the trusted timestamp. */
		if (v < tv) {
			rc = vouch_err_set(err, VOUCH_E_ROLLBACK,
					   "%s: version %" PRId64
					   " is lower than the trusted version %" PRId64
					   " (rollback attack?)",
					   label, v, tv);
			goto out;
		}
		/* 5.4.3.1: same version: discarded without error, whatever
		 * it lists; go on with the trusted copy (python-tuf). */
		int64_t sv = meta_version(snapshot_meta_of(env));
		int64_t tsv = meta_version(snapshot_meta_of(trusted));
		if (v == tv) {
			json_decref(env);
			env = json_incref(trusted);
			vouch_buf_free(&b);
		} else if (sv < tsv) {
			/* 5.4.3.2: the snapshot version it lists does not go
			 * back. */
			rc =
			    vouch_err_set(err, VOUCH_E_ROLLBACK,
					  "%s: lists snapshot version %" PRId64
					  ", lower than the trusted %" PRId64 " (rollback attack?)",
					  label, sv, tsv);
			goto out;
		}
	}
	/* 5.4.4: not expired. */
	rc = vouch_tuf_check_expiry(label, tuf_signed(env), c->now, err);
	/* 5.4.5: persist (unless it is the copy we already hold). */
	if (rc == VOUCH_OK && env != trusted)
		rc = persist(c, "timestamp", &b, err);
	if (rc == VOUCH_OK) {
		json_decref(c->timestamp);
		c->timestamp = json_incref(env);
	}
out:
	json_decref(env);
	json_decref(trusted);
	vouch_buf_free(&b);
	return rc;
}

/* ---- 5.5 snapshot ---------------------------------------------------------- */

static enum vouch_rc check_snapshot_rollback(const json_t *old, const json_t *neu,
					     const char *label, struct vouch_err *err)
{
	const json_t *om = json_object_get(tuf_signed(old), "meta");
	const json_t *nm = json_object_get(tuf_signed(neu), "meta");
	const char *name;
	json_t *m;
	json_object_foreach ((json_t *)(uintptr_t)om, name, m) {
		const json_t *n = json_object_get(nm, name);
		if (n == NULL)
			return vouch_err_set(err, VOUCH_E_ROLLBACK,
					     "%s: no longer lists %.200s (rollback attack?)", label,
					     name);
		if (meta_version(n) < meta_version(m))
			return vouch_err_set(err, VOUCH_E_ROLLBACK,
					     "%s: lists %.200s version %" PRId64
					     ", lower than the trusted %" PRId64
					     " (rollback attack?)",
					     label, name, meta_version(n), meta_version(m));
	}
	return VOUCH_OK;
}

static enum vouch_rc update_snapshot(struct vouch_tuf_client *c, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	char label[64];
	const json_t *meta = snapshot_meta_of(c->timestamp);
	int64_t want = meta_version(meta);
	json_t *trusted =
	    load_local_top_bytes(c, "snapshot", VOUCH_TUF_SNAPSHOT, c->limits.snapshot_max, &b);
	json_t *env = NULL;
	enum vouch_rc rc = VOUCH_OK;
	/* A trusted copy of exactly the version (and, when listed, length
	 * and hashes) the timestamp names, still valid, is used as is. */
	if (trusted != NULL && vouch_tuf_version(tuf_signed(trusted)) == want &&
	    check_meta_file("snapshot.json", meta, &b, NULL) == VOUCH_OK &&
	    vouch_tuf_check_expiry("snapshot.json", tuf_signed(trusted), c->now, NULL) ==
		VOUCH_OK) {
		json_decref(c->snapshot);
		c->snapshot = trusted;
		vouch_buf_free(&b);
		return VOUCH_OK;
	}
	vouch_buf_free(&b);
	if (c->consistent)
		snprintf(label, sizeof(label), "%" PRId64 ".snapshot.json", want);
	else
		snprintf(label, sizeof(label), "snapshot.json");
	/* 5.5.1: up to the length the timestamp gives, else snapshot_max;
	 * VERSION.snapshot.json with consistent snapshots. */
	rc = download(c, "snapshot", c->consistent ? want : 0,
		      meta_max(meta, c->limits.snapshot_max), &b, err);
	/* 5.5.2: length and hashes listed by the timestamp. */
	if (rc == VOUCH_OK)
		rc = check_meta_file(label, meta, &b, err);
	if (rc == VOUCH_OK) {
		rc = vouch_tuf_parse(b.data, b.len, c->limits.snapshot_max, VOUCH_TUF_SNAPSHOT,
				     &env, err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "%s: ", label);
	}
	/* 5.5.3: signed by a threshold of root's snapshot keys. */
	if (rc == VOUCH_OK)
		rc = verify_by(tuf_signed(c->root), "snapshot", label, env, err);
	/* 5.5.4: the version the timestamp names. */
	if (rc == VOUCH_OK && vouch_tuf_version(tuf_signed(env)) != want)
		rc = vouch_err_set(err,
				   vouch_tuf_version(tuf_signed(env)) < want ? VOUCH_E_ROLLBACK
									     : VOUCH_E_VERIFY,
				   "%s: version %" PRId64 " is not the version %" PRId64
				   " the timestamp lists (mix-and-match attack?)",
				   label, vouch_tuf_version(tuf_signed(env)), want);
	/* 5.5.5: no role dropped, no role version lowered. */
	if (rc == VOUCH_OK && trusted != NULL)
		rc = check_snapshot_rollback(trusted, env, label, err);
	/* 5.5.6: not expired. */
	if (rc == VOUCH_OK)
		rc = vouch_tuf_check_expiry(label, tuf_signed(env), c->now, err);
	/* 5.5.7: persist as snapshot.json. */
	if (rc == VOUCH_OK)
		rc = persist(c, "snapshot", &b, err);
	if (rc == VOUCH_OK) {
		json_decref(c->snapshot);
		c->snapshot = json_incref(env);
	}
	json_decref(env);
	json_decref(trusted);
	vouch_buf_free(&b);
	return rc;
}

/* ---- 5.6 targets (top-level and, on demand, delegated) --------------------- */

/* Loads targets role `name` delegated by `delegator_signed` (root's signed
 * body for "targets"): the trusted local copy when it is exactly the
 * version the snapshot lists and still valid, else a download checked as
 * in 5.6.1-5.6.6. *out: new reference to the envelope. */
static enum vouch_rc load_targets_role(struct vouch_tuf_client *c, const char *name,
				       const json_t *delegator_signed, json_t **out,
				       struct vouch_err *err)
{
	struct vouch_buf b = {0}, fname = {0}, label = {0};
	struct staged st = {{0}, {0}};
	json_t *env = NULL;
	const json_t *meta = NULL;
	int64_t want = 0;
	enum vouch_rc rc = vouch_buf_printf(&fname, err, "%s.json", name);
	if (rc != VOUCH_OK)
		goto out;
	meta = json_object_get(json_object_get(tuf_signed(c->snapshot), "meta"),
			       (const char *)fname.data);
	if (meta == NULL) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY, "snapshot.json does not list %.200s",
				   (const char *)fname.data);
		goto out;
	}
	want = meta_version(meta);
	/* Trusted local copy? */
	if (read_local(c, name, meta_max(meta, c->limits.targets_max), &b, NULL) == VOUCH_OK &&
	    check_meta_file(name, meta, &b, NULL) == VOUCH_OK &&
	    vouch_tuf_parse(b.data, b.len, c->limits.targets_max, VOUCH_TUF_TARGETS, &env, NULL) ==
		VOUCH_OK &&
	    (vouch_buf_free(&b), verify_by(delegator_signed, name, name, env, NULL) == VOUCH_OK) &&
	    vouch_tuf_version(tuf_signed(env)) == want &&
	    vouch_tuf_check_expiry(name, tuf_signed(env), c->now, NULL) == VOUCH_OK) {
		*out = env;
		env = NULL;
		goto out;
	}
	json_decref(env);
	env = NULL;
	vouch_buf_free(&b);
	if (c->consistent)
		rc =
		    vouch_buf_printf(&label, err, "%" PRId64 ".%s", want, (const char *)fname.data);
	else
		rc = vouch_buf_append_str(&label, (const char *)fname.data, err);
	/* 5.6.1: up to the length the snapshot gives, else targets_max;
	 * VERSION.NAME.json with consistent snapshots. */
	if (rc == VOUCH_OK)
		rc = download(c, name, c->consistent ? want : 0,
			      meta_max(meta, c->limits.targets_max), &b, err);
	/* 5.6.2: length and hashes listed by the snapshot. */
	if (rc == VOUCH_OK)
		rc = check_meta_file((const char *)label.data, meta, &b, err);
	if (rc == VOUCH_OK) {
		rc = vouch_tuf_parse(b.data, b.len, c->limits.targets_max, VOUCH_TUF_TARGETS, &env,
				     err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "%s: ", (const char *)label.data);
	}
	if (rc == VOUCH_OK)
		rc = stage(c, name, &b, &st, err);
	/* 5.6.3: signed by a threshold of the delegating role's keys for it. */
	if (rc == VOUCH_OK)
		rc = verify_by(delegator_signed, name, (const char *)label.data, env, err);
	/* 5.6.4: the version the snapshot lists. */
	if (rc == VOUCH_OK && vouch_tuf_version(tuf_signed(env)) != want)
		rc = vouch_err_set(
		    err,
		    vouch_tuf_version(tuf_signed(env)) < want ? VOUCH_E_ROLLBACK : VOUCH_E_VERIFY,
		    "%s: version %" PRId64 " is not the version %" PRId64
		    " the snapshot lists (mix-and-match or rollback attack?)",
		    (const char *)label.data, vouch_tuf_version(tuf_signed(env)), want);
	/* 5.6.5: not expired. */
	if (rc == VOUCH_OK)
		rc = vouch_tuf_check_expiry((const char *)label.data, tuf_signed(env), c->now, err);
	/* 5.6.6: persist under the unversioned name (staged above). */
	if (rc == VOUCH_OK)
		rc = stage_commit(&st, err);
	if (rc == VOUCH_OK) {
		*out = env;
		env = NULL;
	}
out:
	json_decref(env);
	stage_free(&st);
	vouch_buf_free(&b);
	vouch_buf_free(&fname);
	vouch_buf_free(&label);
	return rc;
}

const struct tuf_role *tuf_client_top_targets(const struct vouch_tuf_client *c)
{
	return c->have_targets && c->nroles > 0 ? c->roles[0] : NULL;
}

enum vouch_rc tuf_client_load_role(struct vouch_tuf_client *c, const char *name,
				   const struct tuf_role *delegator, const struct tuf_role **out,
				   struct vouch_err *err)
{
	for (size_t i = 1; i < c->nroles; i++) {
		struct tuf_role *r = c->roles[i];
		if (strcmp(r->name, name) != 0)
			continue;
		/* Held already; if another role delegates to it now, its
		 * signatures must satisfy that delegation too. */
		if (strcmp(r->delegator, delegator->name) != 0) {
			enum vouch_rc rc =
			    verify_by(tuf_signed(delegator->env), name, name, r->env, err);
			if (rc != VOUCH_OK)
				return rc;
		}
		*out = r;
		return VOUCH_OK;
	}
	json_t *env = NULL;
	enum vouch_rc rc = load_targets_role(c, name, tuf_signed(delegator->env), &env, err);
	if (rc == VOUCH_OK)
		rc = add_role(c, name, delegator->name, env, out, err);
	json_decref(env);
	return rc;
}

/* ---- refresh ------------------------------------------------------------- */

enum vouch_rc vouch_tuf_client_refresh(struct vouch_tuf_client *c, struct vouch_err *err)
{
	json_t *targets = NULL;
	if (c->metadata_url == NULL)
		return vouch_err_set(err, VOUCH_E_USAGE, "no metadata URL given");
	/* 5.1: one fixed start time for every expiry check of this update. */
	c->now = time(NULL);
	drop_targets(c);
	json_decref(c->timestamp);
	json_decref(c->snapshot);
	c->timestamp = c->snapshot = NULL;
	/* 5.2: load the trusted root (again: another process may have
	 * updated it). */
	enum vouch_rc rc = load_trusted_root(c, err);
	/* 5.3 */
	if (rc == VOUCH_OK)
		rc = update_root(c, err);
	/* 5.4 */
	if (rc == VOUCH_OK)
		rc = update_timestamp(c, err);
	/* 5.5 */
	if (rc == VOUCH_OK)
		rc = update_snapshot(c, err);
	/* 5.6.1-5.6.6 */
	if (rc == VOUCH_OK)
		rc = load_targets_role(c, "targets", tuf_signed(c->root), &targets, err);
	if (rc == VOUCH_OK)
		rc = add_role(c, "targets", "root", targets, NULL, err);
	if (rc == VOUCH_OK)
		c->have_targets = 1;
	json_decref(targets);
	return rc;
}

enum vouch_rc vouch_tuf_client_load_trusted(struct vouch_tuf_client *c, struct vouch_err *err)
{
	json_t *ts = NULL, *targets = NULL;
	c->now = time(NULL);
	drop_targets(c);
	json_decref(c->timestamp);
	json_decref(c->snapshot);
	c->timestamp = c->snapshot = NULL;
	enum vouch_rc rc = load_trusted_root(c, err);
	if (rc == VOUCH_OK)
		rc = vouch_tuf_check_expiry("root.json", tuf_signed(c->root), c->now, err);
	if (rc == VOUCH_OK) {
		ts = load_local_top(c, "timestamp", VOUCH_TUF_TIMESTAMP, c->limits.timestamp_max);
		if (ts == NULL)
			rc = vouch_err_set(err, VOUCH_E_NOTFOUND,
					   "%s: no valid trusted timestamp.json (refresh first)",
					   c->dir);
	}
	if (rc == VOUCH_OK)
		rc = vouch_tuf_check_expiry("timestamp.json", tuf_signed(ts), c->now, err);
	if (rc == VOUCH_OK) {
		c->timestamp = ts;
		ts = NULL;
		c->snapshot =
		    load_local_top(c, "snapshot", VOUCH_TUF_SNAPSHOT, c->limits.snapshot_max);
		if (c->snapshot == NULL || vouch_tuf_version(tuf_signed(c->snapshot)) !=
					       meta_version(snapshot_meta_of(c->timestamp)))
			rc = vouch_err_set(err, VOUCH_E_NOTFOUND,
					   "%s: no valid trusted snapshot.json matching the "
					   "timestamp (refresh first)",
					   c->dir);
	}
	if (rc == VOUCH_OK)
		rc = vouch_tuf_check_expiry("snapshot.json", tuf_signed(c->snapshot), c->now, err);
	if (rc == VOUCH_OK) {
		/* With no metadata URL, a local copy that does not fit is an
		 * error from load_targets_role's download attempt. */
		rc = load_targets_role(c, "targets", tuf_signed(c->root), &targets, err);
	}
	if (rc == VOUCH_OK)
		rc = add_role(c, "targets", "root", targets, NULL, err);
	if (rc == VOUCH_OK)
		c->have_targets = 1;
	json_decref(targets);
	json_decref(ts);
	return rc;
}

int64_t vouch_tuf_client_version(const struct vouch_tuf_client *c, enum vouch_tuf_type type)
{
	const json_t *s = vouch_tuf_client_signed(c, type);
	return s ? vouch_tuf_version(s) : 0;
}

const json_t *vouch_tuf_client_signed(const struct vouch_tuf_client *c, enum vouch_tuf_type type)
{
	switch (type) {
	case VOUCH_TUF_ROOT:
		return c->root ? tuf_signed(c->root) : NULL;
	case VOUCH_TUF_TIMESTAMP:
		return c->timestamp ? tuf_signed(c->timestamp) : NULL;
	case VOUCH_TUF_SNAPSHOT:
		return c->snapshot ? tuf_signed(c->snapshot) : NULL;
	case VOUCH_TUF_TARGETS: {
		const struct tuf_role *t = tuf_client_top_targets(c);
		return t ? tuf_signed(t->env) : NULL;
	}
	}
	return NULL;
}

/* ---- 5.7 targets ---------------------------------------------------------- */

void vouch_tuf_target_free(struct vouch_tuf_target *t)
{
	if (t == NULL)
		return;
	free(t->name);
	json_decref(t->hashes);
	json_decref(t->custom);
	free(t->role);
	for (size_t i = 0; i < t->chain_len; i++)
		free(t->chain[i]);
	free(t->chain);
	free(t);
}

enum vouch_rc vouch_tuf_client_target_url(struct vouch_tuf_client *c,
					  const struct vouch_tuf_target *t, char **out,
					  struct vouch_err *err)
{
	struct vouch_buf u = {0};
	if (c->target_url == NULL)
		return vouch_err_set(err, VOUCH_E_USAGE, "no target base URL given");
	enum vouch_rc rc = vouch_buf_printf(&u, err, "%s/", c->target_url);
	const char *slash = strrchr(t->name, '/');
	if (c->consistent) {
		/* HASH.BASENAME with the first hash listed (python-tuf, tuf-js). */
		const char *alg = NULL;
		json_t *h = NULL;
		void *it = json_object_iter(t->hashes);
		if (it != NULL) {
			alg = json_object_iter_key(it);
			h = json_object_iter_value(it);
		}
		if (alg == NULL || !json_is_string(h)) {
			vouch_buf_free(&u);
			return vouch_err_set(err, VOUCH_E_FORMAT, "%s: no hash", t->name);
		}
		struct vouch_buf dir = {0};
		if (slash != NULL && rc == VOUCH_OK)
			rc = vouch_buf_append(&dir, t->name, (size_t)(slash - t->name) + 1, err);
		if (rc == VOUCH_OK && dir.data != NULL)
			rc = vouch_url_encode((const char *)dir.data, 1, &u, err);
		vouch_buf_free(&dir);
		if (rc == VOUCH_OK)
			rc = vouch_url_encode(json_string_value(h), 0, &u, err);
		if (rc == VOUCH_OK)
			rc = vouch_buf_append_str(&u, ".", err);
		if (rc == VOUCH_OK)
			rc = vouch_url_encode(slash ? slash + 1 : t->name, 0, &u, err);
	} else if (rc == VOUCH_OK) {
		rc = vouch_url_encode(t->name, 1, &u, err);
	}
	if (rc != VOUCH_OK) {
		vouch_buf_free(&u);
		return rc;
	}
	*out = (char *)vouch_buf_steal(&u);
	return VOUCH_OK;
}

int vouch_tuf_target_file_ok(const struct vouch_tuf_target *t, const char *path)
{
	struct vouch_digests dg;
	struct stat st;
	unsigned algs = vouch_tuf_hash_algs(t->hashes);
	if (algs == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != t->length)
		return 0;
	if (vouch_hash_file(path, algs, &dg, NULL) != VOUCH_OK)
		return 0;
	return dg.length == t->length &&
	       vouch_tuf_check_hashes(t->name, t->hashes, &dg, NULL) == VOUCH_OK;
}

struct dl {
	int fd;
	const char *tmp;
	struct vouch_hasher *h;
	const struct vouch_tuf_client *c;
};

static void dl_progress(void *ctx, uint64_t have, uint64_t total)
{
	const struct dl *d = ctx;
	d->c->progress(d->c->progress_ctx, have, total);
}

void vouch_tuf_client_set_progress(struct vouch_tuf_client *c, vouch_fetch_progress_cb progress,
				   void *ctx)
{
	c->progress = progress;
	c->progress_ctx = ctx;
}

static enum vouch_rc dl_write(void *ctx, const void *data, size_t n, struct vouch_err *err)
{
	struct dl *d = ctx;
	const uint8_t *p = data;
	enum vouch_rc rc = vouch_hasher_update(d->h, data, n, err);
	while (rc == VOUCH_OK && n > 0) {
		ssize_t w = vouch_fault_write(d->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return vouch_err_set(err, VOUCH_E_IO, "%s: write: %s", d->tmp,
					     strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return rc;
}

enum vouch_rc vouch_tuf_client_download_target(struct vouch_tuf_client *c,
					       const struct vouch_tuf_target *t, const char *dest,
					       struct vouch_err *err)
{
	char *url = NULL;
	struct vouch_buf tmp = {0};
	struct vouch_digests dg;
	struct dl d = {.fd = -1, .tmp = NULL, .h = NULL, .c = c};
	unsigned algs = vouch_tuf_hash_algs(t->hashes);
	enum vouch_rc rc = VOUCH_OK;
	if (algs == 0)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: cannot be verified: no supported hash algorithm listed "
				     "(sha256, sha512)",
				     t->name);
	rc = vouch_tuf_client_target_url(c, t, &url, err);
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&tmp, err, "%s.part-XXXXXX", dest);
	if (rc == VOUCH_OK)
		rc = vouch_hasher_new(algs, &d.h, err);
	if (rc != VOUCH_OK)
		goto out;
	d.fd = mkstemp((char *)tmp.data);
	if (d.fd < 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: create: %s", (const char *)tmp.data,
				   strerror(errno));
		goto out;
	}
	d.tmp = (const char *)tmp.data;
	if (fchmod(d.fd, 0644) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: chmod: %s", d.tmp, strerror(errno));
		goto out;
	}
	/* 5.7.3: at most the signed length. */
	rc = vouch_fetch_stream(url, 0, t->length, &c->fetch, dl_write,
				c->progress != NULL ? dl_progress : NULL, &d, NULL, err);
	if (rc == VOUCH_E_LIMIT)
		vouch_err_set(err, VOUCH_E_LIMIT,
			      "%s: server sent more than the signed length %" PRIu64
			      " (endless data attack?)",
			      t->name, t->length);
	if (rc == VOUCH_OK)
		rc = vouch_hasher_final(d.h, &dg, err);
	if (rc == VOUCH_OK && dg.length != t->length)
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "%s: %" PRIu64 " bytes received, the signed length is %" PRIu64,
				   t->name, dg.length, t->length);
	/* 5.7.3: every listed hash. */
	if (rc == VOUCH_OK) {
		rc = vouch_tuf_check_hashes(t->name, t->hashes, &dg, err);
		if (rc == VOUCH_E_VERIFY)
			vouch_err_prefix(err, "arbitrary installation attack? ");
	}
	if (rc == VOUCH_OK && vouch_fault_fsync(d.fd) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", d.tmp, strerror(errno));
	if (close(d.fd) != 0 && rc == VOUCH_OK)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: close: %s", d.tmp, strerror(errno));
	d.fd = -1;
	if (rc == VOUCH_OK && vouch_fault_rename(d.tmp, dest) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: rename: %s", dest, strerror(errno));
	if (rc == VOUCH_OK)
		rc = vouch_fsync_dir_of(dest, err);
out:
	if (d.fd >= 0)
		close(d.fd);
	if (rc != VOUCH_OK && d.tmp != NULL)
		unlink(d.tmp);
	vouch_hasher_free(d.h);
	vouch_buf_free(&tmp);
	free(url);
	return rc;
}
