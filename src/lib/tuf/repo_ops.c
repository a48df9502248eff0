/* The image repository, release side: publishing (snapshot + timestamp),
 * the timestamp refresh, key rotation and revocation, and adding
 * signatures to staged roles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "repo_internal.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/json.h"
#include "vouch/tuf.h"

static enum vouch_rc check_signers(const struct role_auth *a, const char *role,
				   const struct vouch_repo_keys *ks, struct vouch_err *err)
{
	if (ks->n == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "a key of role %s is needed", role);
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
	return VOUCH_OK;
}

static enum vouch_rc meta_entry(const struct vouch_buf *b, int64_t version, json_t **out,
				struct vouch_err *err)
{
	uint8_t h[VOUCH_SHA256_LEN];
	char hex[2 * VOUCH_SHA256_LEN + 1];
	vouch_sha256(b->data, b->len, h);
	vouch_hex_encode(h, sizeof(h), hex);
	*out = json_pack("{s:I, s:I, s:{s:s}}", "version", (json_int_t)version, "length",
			 (json_int_t)b->len, "hashes", "sha256", hex);
	if (!*out)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

/* Published file name of a role's version (consistent: V.ROLE.json). */
static enum vouch_rc meta_path(const struct repo *r, const char *role, int64_t v, char *out,
			       size_t cap, struct vouch_err *err)
{
	if (r->consistent)
		return repo_path(out, cap, err, "%s/metadata/%lld.%s.json", r->dir, (long long)v,
				 role);
	return repo_path(out, cap, err, "%s/metadata/%s.json", r->dir, role);
}

/* A tier added but never signed lists nothing. The snapshot must still
 * list every delegated role (spec, snapshot.json: "MUST list ... all
 * delegated targets metadata"), so it is published as it is: without
 * signatures, a client that looks into it finds nothing it trusts, which
 * is the truth until the tier key signs its first target. */
static int tier_unborn(const json_t *env)
{
	return json_array_size(json_object_get(env, "signatures")) == 0 &&
	       json_object_size(json_object_get(repo_signed(env), "targets")) == 0;
}

/* What is published must be what any TUF client accepts: check it with
 * the client's own validation before writing. */
static enum vouch_rc well_formed(enum vouch_tuf_type type, const json_t *env, const char *role,
				 struct vouch_err *err)
{
	enum vouch_rc rc = vouch_tuf_check_signed(type, repo_signed(env), err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s v%lld: ", role, (long long)repo_version(env));
	return rc;
}

struct pending {
	char role[VOUCH_REPO_MAX_TIER_NAME + 1];
	int64_t version;
	struct vouch_buf bytes;
	int write;
};

enum vouch_rc repo_publish_locked(struct repo *r, const struct vouch_repo_keys *snap,
				  const struct vouch_repo_keys *ts, struct vouch_buf *notes,
				  struct vouch_err *err)
{
	size_t ntiers = 0;
	json_t *all = NULL;
	int64_t snap_v = 1, ts_v = 1;
	json_t *sm = NULL;
	struct vouch_buf problems = {0};
	struct vouch_buf snap_bytes = {0}, ts_bytes = {0}, root_bytes = {0};
	json_t *pub_meta = NULL, *pub_ts = NULL, *snap_env = NULL, *ts_env = NULL;
	json_t *roots = json_array();
	struct pending *pend = NULL;
	size_t npend = 0;
	char path[PATH_MAX];
	enum vouch_rc rc;
	struct role_auth a;

	if (!roots)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	int64_t pub_root = repo_published_root(r);
	int64_t latest = repo_version(r->root);
	rc = repo_published_meta(r, &pub_meta, &pub_ts, err);
	if (rc != VOUCH_OK)
		goto out;
	if (latest < pub_root) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "staged root v%lld is older than published v%lld",
				   (long long)latest, (long long)pub_root);
		goto out;
	}

	/* 1. Every unpublished root version, each signed by its own
	 * threshold and its predecessor's. */
	for (int64_t v = pub_root + 1; v <= latest; v++) {
		json_t *env = NULL;
		size_t own, prev;
		int64_t own_thr, prev_thr;
		rc = repo_load_root(r, v, &env, err);
		if (rc == VOUCH_OK)
			rc = well_formed(VOUCH_TUF_ROOT, env, "root", err);
		if (rc == VOUCH_OK)
			rc = repo_root_counts(r, env, &own, &own_thr, &prev, &prev_thr, err);
		if (rc != VOUCH_OK) {
			json_decref(env);
			goto out;
		}
		if ((int64_t)own < own_thr || (int64_t)prev < prev_thr) {
			rc =
			    vouch_buf_printf(&problems, err,
					     "  root v%lld: %zu of %lld signatures by its own root "
					     "keys",
					     (long long)v, own, (long long)own_thr);
			if (rc == VOUCH_OK && v > 1)
				rc = vouch_buf_printf(&problems, err,
						      ", %zu of %lld by root v%lld's", prev,
						      (long long)prev_thr, (long long)v - 1);
			if (rc == VOUCH_OK)
				rc = vouch_buf_printf(&problems, err,
						      "; run 'vouch repo sign %s root --key KEY'\n",
						      r->dir);
		}
		json_array_append_new(roots, env);
		if (rc != VOUCH_OK)
			goto out;
	}

	/* 2. targets and every tier, against the newest root and targets. */
	ntiers = json_object_size(r->tiers);
	pend = calloc(ntiers + 1, sizeof(*pend));
	if (!pend) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	const char *name;
	json_t *env;
	all = json_object();
	if (!all || json_object_set(all, "targets", r->targets) != 0 ||
	    json_object_update(all, r->tiers) != 0) {
		json_decref(all);
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	json_object_foreach (all, name, env) {
		int unborn = strcmp(name, "targets") != 0 && tier_unborn(env);
		if (unborn && notes) {
			rc = vouch_buf_printf(notes, err,
					      "tier %s has no signed metadata yet; it is listed "
					      "empty and unsigned until its first target\n",
					      name);
			if (rc != VOUCH_OK)
				break;
		}
		rc = repo_role_auth(r, repo_signed(r->root), name, &a, err);
		if (rc != VOUCH_OK)
			break;
		size_t valid = repo_count_valid(env, &a);
		if (!unborn && (int64_t)valid < a.threshold) {
			rc = vouch_buf_printf(&problems, err,
					      "  %s v%lld: %zu of %lld signatures; run 'vouch repo "
					      "sign %s %s --key KEY'\n",
					      name, (long long)repo_version(env), valid,
					      (long long)a.threshold, r->dir, name);
			if (rc != VOUCH_OK)
				break;
		}
		if (strcmp(name, "targets") != 0) {
			/* Fail closed on a target outside the tier's patterns
			 * (a hand-edited staged file): clients would refuse it. */
			json_t *d = repo_find_delegation(r->targets, name);
			const char *tn;
			json_t *tv;
			json_object_foreach (json_object_get(repo_signed(env), "targets"), tn, tv) {
				if (!repo_tier_covers(d, tn)) {
					rc = vouch_err_set(err, VOUCH_E_DENIED,
							   "tier %s lists '%s', which its path "
							   "patterns do not cover",
							   name, tn);
					break;
				}
			}
			if (rc != VOUCH_OK)
				break;
		}
		/* Delegations that are not terminating tiers under NAME/ (a
		 * hand-edited staged targets.json) are never published. */
		rc = repo_check_content(r, env, name, err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "not published: ");
			break;
		}
		struct pending *pe = &pend[npend++];
		snprintf(pe->role, sizeof(pe->role), "%s", name);
		pe->version = repo_version(env);
		char key[VOUCH_REPO_MAX_TIER_NAME + 8];
		snprintf(key, sizeof(key), "%s.json", name);
		int64_t pv =
		    json_integer_value(json_object_get(json_object_get(pub_meta, key), "version"));
		if (pe->version < pv) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "staged %s v%lld is older than published v%lld", name,
					   (long long)pe->version, (long long)pv);
			break;
		}
		rc = meta_path(r, name, pe->version, path, sizeof(path), err);
		if (rc != VOUCH_OK)
			break;
		if (pe->version == pv) {
			rc = vouch_file_read(path, VOUCH_REPO_MAX_METADATA, &pe->bytes, err);
			if (rc == VOUCH_E_NOTFOUND) {
				vouch_err_clear(err);
				rc = VOUCH_OK;
			}
			if (rc != VOUCH_OK)
				break;
		}
		if (pe->bytes.len == 0) {
			rc = well_formed(VOUCH_TUF_TARGETS, env, name, err);
			if (rc == VOUCH_OK)
				rc = repo_env_bytes(env, &pe->bytes, err);
			pe->write = 1;
			if (rc != VOUCH_OK)
				break;
		}
	}
	json_decref(all);
	if (rc != VOUCH_OK)
		goto out;
	if (problems.len) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "not published: signature thresholds not met:\n%s",
				   (char *)problems.data);
		/* drop the final newline */
		if (err && err->msg[0] && err->msg[strlen(err->msg) - 1] == '\n')
			err->msg[strlen(err->msg) - 1] = '\0';
		goto out;
	}

	/* 3. snapshot and timestamp, signed by keys the newest root lists. */
	struct role_auth sa, tsa;
	rc = repo_role_auth(r, repo_signed(r->root), "snapshot", &sa, err);
	if (rc == VOUCH_OK)
		rc = check_signers(&sa, "snapshot", snap, err);
	if (rc == VOUCH_OK)
		rc = repo_role_auth(r, repo_signed(r->root), "timestamp", &tsa, err);
	if (rc == VOUCH_OK)
		rc = check_signers(&tsa, "timestamp", ts, err);
	if (rc != VOUCH_OK)
		goto out;
	if (pub_ts) {
		ts_v = repo_version(pub_ts) + 1;
		snap_v = json_integer_value(json_object_get(
			     json_object_get(json_object_get(repo_signed(pub_ts), "meta"),
					     "snapshot.json"),
			     "version")) +
			 1;
	}
	char exp[32];
	repo_fmt_time(r->now + (time_t)r->exp.snapshot, exp);
	snap_env = json_pack("{s:[], s:{s:s, s:s, s:I, s:s, s:{}}}", "signatures", "signed",
			     "_type", "snapshot", "spec_version", VOUCH_TUF_SPEC_VERSION, "version",
			     (json_int_t)snap_v, "expires", exp, "meta");
	if (!snap_env) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < npend; i++) {
		json_t *m = NULL;
		char key[VOUCH_REPO_MAX_TIER_NAME + 8];
		snprintf(key, sizeof(key), "%s.json", pend[i].role);
		rc = meta_entry(&pend[i].bytes, pend[i].version, &m, err);
		if (rc != VOUCH_OK)
			goto out;
		json_object_set_new(json_object_get(repo_signed(snap_env), "meta"), key, m);
	}
	rc = repo_sign_with(r, snap_env, "snapshot", &sa, snap, err);
	if (rc == VOUCH_OK && (int64_t)repo_count_valid(snap_env, &sa) < sa.threshold)
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "snapshot: %lld signatures needed, %zu keys given",
				   (long long)sa.threshold, snap->n);
	if (rc == VOUCH_OK)
		rc = well_formed(VOUCH_TUF_SNAPSHOT, snap_env, "snapshot", err);
	if (rc == VOUCH_OK)
		rc = repo_env_bytes(snap_env, &snap_bytes, err);
	if (rc != VOUCH_OK)
		goto out;
	repo_fmt_time(r->now + (time_t)r->exp.timestamp, exp);
	ts_env = json_pack("{s:[], s:{s:s, s:s, s:I, s:s, s:{}}}", "signatures", "signed", "_type",
			   "timestamp", "spec_version", VOUCH_TUF_SPEC_VERSION, "version",
			   (json_int_t)ts_v, "expires", exp, "meta");
	sm = NULL;
	if (!ts_env) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = meta_entry(&snap_bytes, snap_v, &sm, err);
	if (rc != VOUCH_OK)
		goto out;
	json_object_set_new(json_object_get(repo_signed(ts_env), "meta"), "snapshot.json", sm);
	rc = repo_sign_with(r, ts_env, "timestamp", &tsa, ts, err);
	if (rc == VOUCH_OK && (int64_t)repo_count_valid(ts_env, &tsa) < tsa.threshold)
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "timestamp: %lld signatures needed, %zu keys given",
				   (long long)tsa.threshold, ts->n);
	if (rc == VOUCH_OK)
		rc = well_formed(VOUCH_TUF_TIMESTAMP, ts_env, "timestamp", err);
	if (rc == VOUCH_OK)
		rc = repo_env_bytes(ts_env, &ts_bytes, err);
	if (rc != VOUCH_OK)
		goto out;

	/* 4. Write: new roots, then the roles, then snapshot, then
	 * timestamp (what clients read first) last; root.json at the end. */
	size_t i;
	json_t *renv;
	json_array_foreach (roots, i, renv) {
		vouch_buf_free(&root_bytes);
		rc = repo_env_bytes(renv, &root_bytes, err);
		if (rc == VOUCH_OK)
			rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.root.json",
				       r->dir, (long long)repo_version(renv));
		if (rc == VOUCH_OK)
			rc = vouch_file_write_atomic(path, root_bytes.data, root_bytes.len, 0644,
						     err);
		if (rc != VOUCH_OK)
			goto out;
	}
	for (size_t k = 0; k < npend; k++) {
		if (!pend[k].write)
			continue;
		rc = meta_path(r, pend[k].role, pend[k].version, path, sizeof(path), err);
		if (rc == VOUCH_OK)
			rc = vouch_file_write_atomic(path, pend[k].bytes.data, pend[k].bytes.len,
						     0644, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	rc = meta_path(r, "snapshot", snap_v, path, sizeof(path), err);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(path, snap_bytes.data, snap_bytes.len, 0644, err);
	if (rc == VOUCH_OK)
		rc = repo_path(path, sizeof(path), err, "%s/metadata/timestamp.json", r->dir);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(path, ts_bytes.data, ts_bytes.len, 0644, err);
	if (rc == VOUCH_OK && json_array_size(roots) > 0) {
		rc = repo_path(path, sizeof(path), err, "%s/metadata/root.json", r->dir);
		if (rc == VOUCH_OK)
			rc = vouch_file_write_atomic(path, root_bytes.data, root_bytes.len, 0644,
						     err);
	}
	if (rc != VOUCH_OK)
		goto out;
	json_array_foreach (roots, i, renv) {
		/* Published now; metadata/ holds it. Staged copies would only
		 * go stale. */
		if (repo_path(path, sizeof(path), NULL, "%s/staged/%lld.root.json", r->dir,
			      (long long)repo_version(renv)) == VOUCH_OK) {
			vouch_fault_point(VOUCH_FAULT_UNLINK, path);
			unlink(path);
		}
	}
	if (notes) {
		rc = vouch_buf_printf(notes, err,
				      "published: root v%lld, snapshot v%lld, timestamp v%lld",
				      (long long)latest, (long long)snap_v, (long long)ts_v);
		for (size_t k = 0; rc == VOUCH_OK && k < npend; k++)
			rc = vouch_buf_printf(notes, err, ", %s v%lld", pend[k].role,
					      (long long)pend[k].version);
		if (rc == VOUCH_OK)
			rc = vouch_buf_append_str(notes, "\n", err);
	}
out:
	for (size_t k = 0; pend && k < npend; k++)
		vouch_buf_free(&pend[k].bytes);
	free(pend);
	vouch_buf_free(&problems);
	vouch_buf_free(&snap_bytes);
	vouch_buf_free(&ts_bytes);
	vouch_buf_free(&root_bytes);
	json_decref(pub_meta);
	json_decref(pub_ts);
	json_decref(snap_env);
	json_decref(ts_env);
	json_decref(roots);
	return rc;
}

enum vouch_rc vouch_repo_publish(const char *dir, const struct vouch_repo_keys *snapshot_keys,
				 const struct vouch_repo_keys *timestamp_keys,
				 const struct vouch_repo_opts *o, struct vouch_buf *notes,
				 struct vouch_err *err)
{
	struct repo r;
	enum vouch_rc rc = repo_open(dir, o, &r, err);
	if (rc == VOUCH_OK)
		rc = repo_publish_locked(&r, snapshot_keys, timestamp_keys, notes, err);
	repo_close(&r);
	return rc;
}

enum vouch_rc vouch_repo_timestamp(const char *dir, const struct vouch_repo_keys *timestamp_keys,
				   const struct vouch_repo_opts *o, struct vouch_buf *notes,
				   struct vouch_err *err)
{
	struct repo r;
	json_t *meta = NULL, *ts = NULL, *root = NULL;
	struct vouch_buf b = {0};
	char path[PATH_MAX];
	struct role_auth a;
	/* Only timestamp.json changes, over what is published: a staged file
	 * edited by hand must not stop the refresh (clients would freeze). */
	enum vouch_rc rc = repo_open_unchecked(dir, o, &r, err);
	if (rc == VOUCH_OK)
		rc = repo_published_meta(&r, &meta, &ts, err);
	if (rc != VOUCH_OK)
		goto out;
	if (!ts) {
		rc = vouch_err_set(err, VOUCH_E_NOTFOUND,
				   "nothing published yet; run 'vouch repo publish' first");
		goto out;
	}
	/* Clients verify the timestamp against the published root, not a
	 * staged one. */
	rc = repo_path(path, sizeof(path), err, "%s/metadata/root.json", r.dir);
	if (rc == VOUCH_OK)
		rc = repo_read_env(path, &root, err);
	if (rc == VOUCH_OK)
		rc = repo_role_auth(&r, repo_signed(root), "timestamp", &a, err);
	if (rc == VOUCH_OK)
		rc = check_signers(&a, "timestamp", timestamp_keys, err);
	if (rc == VOUCH_OK)
		rc = repo_bump(ts, r.now, r.exp.timestamp, err);
	if (rc == VOUCH_OK)
		rc = repo_sign_with(&r, ts, "timestamp", &a, timestamp_keys, err);
	if (rc == VOUCH_OK && (int64_t)repo_count_valid(ts, &a) < a.threshold)
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "timestamp: %lld signatures needed, %zu keys given",
				   (long long)a.threshold, timestamp_keys->n);
	if (rc == VOUCH_OK)
		rc = repo_env_bytes(ts, &b, err);
	if (rc == VOUCH_OK)
		rc = repo_path(path, sizeof(path), err, "%s/metadata/timestamp.json", r.dir);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(path, b.data, b.len, 0644, err);
	if (rc != VOUCH_OK)
		goto out;
	if (notes) {
		const char *sexp = NULL;
		time_t se = 0, te = 0;
		json_t *snap = NULL;
		int64_t sv = json_integer_value(json_object_get(
		    json_object_get(json_object_get(repo_signed(ts), "meta"), "snapshot.json"),
		    "version"));
		rc = vouch_buf_printf(
		    notes, err, "timestamp v%lld, expires %s\n", (long long)repo_version(ts),
		    json_string_value(json_object_get(repo_signed(ts), "expires")));
		if (rc == VOUCH_OK && r.consistent)
			rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.snapshot.json",
				       r.dir, (long long)sv);
		else if (rc == VOUCH_OK)
			rc = repo_path(path, sizeof(path), err, "%s/metadata/snapshot.json", r.dir);
		if (rc == VOUCH_OK && repo_read_env(path, &snap, NULL) == VOUCH_OK)
			sexp = json_string_value(json_object_get(repo_signed(snap), "expires"));
		if (rc == VOUCH_OK && sexp && repo_parse_time(sexp, &se) &&
		    repo_parse_time(json_string_value(json_object_get(repo_signed(ts), "expires")),
				    &te) &&
		    se < te)
			rc = vouch_buf_printf(notes, err,
					      "warning: snapshot v%lld expires %s, before this "
					      "timestamp; run 'vouch repo publish' to renew it\n",
					      (long long)sv, sexp);
		json_decref(snap);
	}
out:
	vouch_buf_free(&b);
	json_decref(meta);
	json_decref(ts);
	json_decref(root);
	repo_close(&r);
	return rc;
}

/* ---- rotation ---- */

/* Resolves a key id or a unique prefix (>= 8 hex digits) among keyids. */
static enum vouch_rc resolve_keyid(const json_t *keyids, const char *want, const char *role,
				   const char **out, struct vouch_err *err)
{
	size_t wl = strlen(want);
	const char *found = NULL;
	size_t i;
	json_t *v;
	if (wl < 8)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "--remove-key %s: give the key id (at least 8 hex digits)",
				     want);
	json_array_foreach (keyids, i, v) {
		const char *id = json_string_value(v);
		if (id && strncmp(id, want, wl) == 0) {
			if (found)
				return vouch_err_set(err, VOUCH_E_USAGE,
						     "--remove-key %s matches several keys of %s",
						     want, role);
			found = id;
		}
	}
	if (!found)
		return vouch_err_set(err, VOUCH_E_NOTFOUND, "role %s has no key %s", role, want);
	*out = found;
	return VOUCH_OK;
}

/* Applies add/remove/threshold to a role entry {keyids, threshold} whose
 * keys live in keys (object). */
static enum vouch_rc apply_rotation(json_t *keys, json_t *role_entry,
				    const struct vouch_repo_rotation *rot, struct vouch_err *err)
{
	json_t *ids = json_object_get(role_entry, "keyids");
	if (!json_is_array(ids))
		return vouch_err_set(err, VOUCH_E_FORMAT, "role %s: no keyids", rot->role);
	for (size_t i = 0; i < rot->nremove; i++) {
		const char *id = NULL;
		enum vouch_rc rc = resolve_keyid(ids, rot->remove[i], rot->role, &id, err);
		if (rc != VOUCH_OK)
			return rc;
		for (size_t k = 0; k < json_array_size(ids); k++) {
			if (strcmp(json_string_value(json_array_get(ids, k)), id) == 0) {
				json_array_remove(ids, k);
				break;
			}
		}
	}
	for (size_t i = 0; i < rot->add.n; i++) {
		const char *id = vouch_key_id(rot->add.v[i]);
		json_t *tuf = NULL;
		if (repo_keyid_listed(ids, id))
			return vouch_err_set(err, VOUCH_E_EXISTS, "role %s already lists key %s",
					     rot->role, id);
		enum vouch_rc rc = vouch_key_to_tuf(rot->add.v[i], &tuf, err);
		if (rc != VOUCH_OK)
			return rc;
		json_object_set_new(keys, id, tuf);
		json_array_append_new(ids, json_string(id));
	}
	if (json_array_size(ids) > VOUCH_REPO_MAX_KEYS)
		return vouch_err_set(err, VOUCH_E_LIMIT, "role %s: more than %d keys", rot->role,
				     VOUCH_REPO_MAX_KEYS);
	int64_t thr = rot->threshold ? (int64_t)rot->threshold
				     : json_integer_value(json_object_get(role_entry, "threshold"));
	if (json_array_size(ids) == 0)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "role %s would have no keys left; add one with --add-key",
				     rot->role);
	if (thr < 1 || thr > (int64_t)json_array_size(ids))
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "threshold %lld of role %s must be between 1 and its %zu keys",
				     (long long)thr, rot->role, json_array_size(ids));
	json_object_set_new(role_entry, "threshold", json_integer(thr));
	return VOUCH_OK;
}

/* Drops keys no role lists any more (a revoked key disappears entirely). */
static void prune_keys(json_t *keys, json_t *role_entries, int is_array)
{
	const char *id;
	json_t *v, *tmp;
	json_object_foreach_safe (keys, tmp, id, v) {
		int used = 0;
		if (is_array) {
			size_t i;
			json_t *e;
			json_array_foreach (role_entries, i, e) {
				used |= repo_keyid_listed(json_object_get(e, "keyids"), id);
			}
		} else {
			const char *rn;
			json_t *e;
			json_object_foreach (role_entries, rn, e) {
				used |= repo_keyid_listed(json_object_get(e, "keyids"), id);
			}
		}
		if (!used)
			json_object_del(keys, id);
	}
}

/* Signers allowed for one role of several being signed. */
static enum vouch_rc subset(const struct vouch_repo_keys *all, const struct role_auth *a,
			    struct vouch_key ***out, size_t *n, struct vouch_err *err)
{
	*out = calloc(all->n + 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < all->n; i++) {
		if (a && repo_keyid_listed(a->keyids, vouch_key_id(all->v[i])))
			(*out)[(*n)++] = all->v[i];
	}
	return VOUCH_OK;
}

/* Refuses signers that none of the roles being signed lists. */
static enum vouch_rc signers_used(const struct vouch_repo_keys *ks,
				  const struct role_auth *const *as, const char *const *names,
				  size_t nas, struct vouch_err *err)
{
	for (size_t i = 0; i < ks->n; i++) {
		int ok = 0;
		for (size_t k = 0; k < nas; k++)
			ok |= as[k] && repo_keyid_listed(as[k]->keyids, vouch_key_id(ks->v[i]));
		if (ok)
			continue;
		struct vouch_buf b = {0};
		for (size_t k = 0; k < nas; k++) {
			char exp[2048];
			if (!as[k])
				continue;
			repo_expected_ids(as[k], exp, sizeof(exp));
			if (vouch_buf_printf(&b, NULL, "%s%s: %s", b.len ? "; " : "", names[k],
					     exp) != VOUCH_OK)
				break;
		}
		enum vouch_rc rc =
		    vouch_err_set(err, VOUCH_E_DENIED,
				  "key %s is not authorised for any role this change signs "
				  "(expected %s)",
				  vouch_key_id(ks->v[i]), b.data ? (char *)b.data : "");
		vouch_buf_free(&b);
		return rc;
	}
	return VOUCH_OK;
}

static enum vouch_rc signers_used2(const struct vouch_repo_keys *ks, const struct role_auth *a1,
				   const char *n1, const struct role_auth *a2, const char *n2,
				   struct vouch_err *err)
{
	const struct role_auth *as[2] = {a1, a2};
	const char *names[2] = {n1, n2};
	return signers_used(ks, as, names, 2, err);
}

static enum vouch_rc sign_subset(struct repo *r, json_t *env, const char *role,
				 const struct role_auth *a, const struct vouch_repo_keys *all,
				 struct vouch_err *err)
{
	struct vouch_key **sub = NULL;
	size_t n = 0;
	enum vouch_rc rc = subset(all, a, &sub, &n, err);
	if (rc == VOUCH_OK && n > 0) {
		struct vouch_repo_keys ks = {.v = sub, .n = n};
		rc = repo_sign_with(r, env, role, a, &ks, err);
	}
	free(sub);
	return rc;
}

/* A change is signed by the role that makes it (the current root for a
 * new root, targets for a tier's delegation): at least one signer must be
 * one of its keys. */
static enum vouch_rc need_one(const struct repo *r, const char *role, const char *why,
			      const struct vouch_repo_keys *signers, struct vouch_err *err)
{
	struct role_auth a;
	char exp[2048];
	enum vouch_rc rc = repo_role_auth(r, repo_signed(r->root), role, &a, err);
	if (rc != VOUCH_OK)
		return rc;
	for (size_t i = 0; i < signers->n; i++) {
		if (repo_keyid_listed(a.keyids, vouch_key_id(signers->v[i])))
			return VOUCH_OK;
	}
	repo_expected_ids(&a, exp, sizeof(exp));
	return vouch_err_set(
	    err, VOUCH_E_DENIED,
	    "not authorised: %s, so --key must include a current %s key (one of: %s)", why, role,
	    exp);
}

static enum vouch_rc write_root(const struct repo *r, json_t *env, struct vouch_err *err)
{
	char path[PATH_MAX];
	enum vouch_rc rc = repo_path(path, sizeof(path), err, "%s/staged/%lld.root.json", r->dir,
				     (long long)repo_version(env));
	if (rc == VOUCH_OK)
		rc = repo_write_env(path, env, err);
	if (rc == VOUCH_OK)
		rc = repo_stage(r, "root", env, err);
	return rc;
}

static enum vouch_rc note_root(const struct repo *r, const json_t *env, struct vouch_buf *notes,
			       struct vouch_err *err)
{
	size_t own, prev;
	int64_t own_thr, prev_thr;
	enum vouch_rc rc = repo_root_counts(r, env, &own, &own_thr, &prev, &prev_thr, err);
	if (rc != VOUCH_OK || !notes)
		return rc;
	long long v = (long long)repo_version(env);
	if ((int64_t)own >= own_thr && (int64_t)prev >= prev_thr)
		return vouch_buf_printf(notes, err,
					"root v%lld signed by the old and the new root keys "
					"(%zu of %lld old, %zu of %lld new)\n",
					v, prev, (long long)prev_thr, own, (long long)own_thr);
	return vouch_buf_printf(
	    notes, err,
	    "root v%lld waits for signatures: %zu of %lld by root v%lld's keys, "
	    "%zu of %lld by its own; the other key holders run 'vouch repo "
	    "sign %s root --key KEY'\n",
	    v, prev, (long long)prev_thr, v - 1, own, (long long)own_thr, r->dir);
}

static int root_complete(const struct repo *r, const json_t *env)
{
	size_t own, prev;
	int64_t own_thr, prev_thr;
	if (repo_root_counts(r, env, &own, &own_thr, &prev, &prev_thr, NULL) != VOUCH_OK)
		return 0;
	return (int64_t)own >= own_thr && (int64_t)prev >= prev_thr;
}

/* After a key change, metadata whose signatures no longer meet its
 * threshold gets a new version signed by whichever signers may. */
static enum vouch_rc resign_if_short(struct repo *r, const char *role, json_t *env,
				     const struct role_auth *a, int64_t period,
				     const struct vouch_repo_keys *signers, struct vouch_buf *notes,
				     struct vouch_err *err)
{
	if ((int64_t)repo_count_valid(env, a) >= a->threshold)
		return VOUCH_OK;
	enum vouch_rc rc = repo_bump(env, r->now, period, err);
	if (rc == VOUCH_OK)
		rc = sign_subset(r, env, role, a, signers, err);
	if (rc == VOUCH_OK)
		rc = repo_stage(r, role, env, err);
	if (rc == VOUCH_OK && notes)
		rc = vouch_buf_printf(notes, err,
				      "%s: its signatures no longer meet the threshold; made v%lld",
				      role, (long long)repo_version(env));
	if (rc == VOUCH_OK && notes)
		rc = vouch_buf_append_str(notes, " and ", err);
	if (rc == VOUCH_OK)
		rc = repo_note_sigs(r, role, env, a, notes, err);
	return rc;
}

enum vouch_rc vouch_repo_rotate(const char *dir, const struct vouch_repo_rotation *rot,
				const struct vouch_repo_keys *signers,
				const struct vouch_repo_opts *o, struct vouch_buf *notes,
				struct vouch_err *err)
{
	json_t *ts = NULL;
	json_t *dele = NULL;
	json_t *d = NULL;
	struct repo r;
	json_t *next = NULL;
	enum vouch_rc rc = repo_open(dir, o, &r, err);
	if (rc != VOUCH_OK)
		goto out;
	if (rot->add.n == 0 && rot->nremove == 0 && rot->threshold == 0) {
		rc =
		    vouch_err_set(err, VOUCH_E_USAGE,
				  "nothing to change: give --add-key, --remove-key or --threshold");
		goto out;
	}
	if (signers->n == 0) {
		rc = vouch_err_set(err, VOUCH_E_USAGE, "--key: signing keys are needed");
		goto out;
	}
	if (repo_is_toplevel(rot->role)) {
		if (!root_complete(&r, r.root)) {
			rc = vouch_err_set(
			    err, VOUCH_E_VERIFY,
			    "root v%lld still waits for signatures; finish it with "
			    "'vouch repo sign %s root --key KEY' before changing root "
			    "again",
			    (long long)repo_version(r.root), dir);
			goto out;
		}
		rc = need_one(&r, "root", "a new root version must be signed by the current root",
			      signers, err);
		if (rc != VOUCH_OK)
			goto out;
		next = json_deep_copy(r.root);
		if (!next) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
		rc = repo_bump(next, r.now, r.exp.root, err);
		if (rc != VOUCH_OK)
			goto out;
		json_t *ns = repo_signed(next);
		json_t *roles = json_object_get(ns, "roles");
		rc = apply_rotation(json_object_get(ns, "keys"), json_object_get(roles, rot->role),
				    rot, err);
		if (rc != VOUCH_OK)
			goto out;
		prune_keys(json_object_get(ns, "keys"), roles, 0);
		struct role_auth old_root, new_root, new_targets;
		rc = repo_role_auth(&r, repo_signed(r.root), "root", &old_root, err);
		if (rc == VOUCH_OK)
			rc = repo_role_auth(&r, ns, "root", &new_root, err);
		if (rc == VOUCH_OK)
			rc = repo_role_auth(&r, ns, "targets", &new_targets, err);
		if (rc != VOUCH_OK)
			goto out;
		const struct role_auth *as[3] = {
		    &old_root, &new_root, strcmp(rot->role, "targets") == 0 ? &new_targets : NULL};
		const char *names[3] = {"root (current)", "root (new)", "targets (new)"};
		rc = signers_used(signers, as, names, 3, err);
		if (rc != VOUCH_OK)
			goto out;
		/* Root N+1 counts signatures by root N's keys and by its own. */
		struct vouch_key **sub = NULL;
		size_t n = 0;
		rc = subset(signers, &old_root, &sub, &n, err);
		for (size_t i = 0; rc == VOUCH_OK && i < signers->n; i++) {
			if (repo_keyid_listed(new_root.keyids, vouch_key_id(signers->v[i])) &&
			    !repo_keyid_listed(old_root.keyids, vouch_key_id(signers->v[i])))
				sub[n++] = signers->v[i];
		}
		if (rc == VOUCH_OK) {
			for (size_t i = 0; rc == VOUCH_OK && i < n; i++)
				rc = repo_sign_env(&r, next, "root", sub[i], err);
		}
		free(sub);
		if (rc == VOUCH_OK)
			rc = write_root(&r, next, err);
		if (rc != VOUCH_OK)
			goto out;
		json_decref(r.root);
		r.root = next;
		next = NULL;
		rc = note_root(&r, r.root, notes, err);
		if (rc != VOUCH_OK)
			goto out;
		if (strcmp(rot->role, "targets") == 0) {
			rc = repo_role_auth(&r, repo_signed(r.root), "targets", &new_targets, err);
			if (rc == VOUCH_OK)
				rc = resign_if_short(&r, "targets", r.targets, &new_targets,
						     r.exp.targets, signers, notes, err);
		} else if (strcmp(rot->role, "snapshot") == 0 ||
			   strcmp(rot->role, "timestamp") == 0) {
			if (notes)
				rc = vouch_buf_printf(
				    notes, err,
				    "the published snapshot and timestamp stop verifying under "
				    "this root: publish both together with it, using the new %s "
				    "key: 'vouch repo publish %s --snapshot-key K --timestamp-key "
				    "K'\n",
				    rot->role, dir);
		}
		if (rc == VOUCH_OK && notes)
			rc = vouch_buf_printf(
			    notes, err, "not yet published: run 'vouch repo publish %s ...'\n",
			    dir);
		goto out;
	}

	/* A tier: the delegation in targets changes. */
	ts = repo_signed(r.targets);
	dele = json_object_get(ts, "delegations");
	d = repo_find_delegation(r.targets, rot->role);
	if (!d || !json_object_get(r.tiers, rot->role)) {
		rc = vouch_err_set(err, VOUCH_E_NOTFOUND,
				   "no role named '%s' (root, targets, snapshot, timestamp or a "
				   "tier)",
				   rot->role);
		goto out;
	}
	rc = need_one(&r, "targets", "a tier's keys are listed in targets, which must be re-signed",
		      signers, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = apply_rotation(json_object_get(dele, "keys"), d, rot, err);
	if (rc != VOUCH_OK)
		goto out;
	prune_keys(json_object_get(dele, "keys"), json_object_get(dele, "roles"), 1);
	struct role_auth ta, tier;
	rc = repo_role_auth(&r, repo_signed(r.root), "targets", &ta, err);
	if (rc == VOUCH_OK)
		rc = repo_role_auth(&r, NULL, rot->role, &tier, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = signers_used2(signers, &ta, "targets", &tier, rot->role, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = repo_bump(r.targets, r.now, r.exp.targets, err);
	if (rc == VOUCH_OK)
		rc = sign_subset(&r, r.targets, "targets", &ta, signers, err);
	if (rc == VOUCH_OK)
		rc = repo_stage(&r, "targets", r.targets, err);
	if (rc == VOUCH_OK)
		rc = repo_note_sigs(&r, "targets", r.targets, &ta, notes, err);
	if (rc == VOUCH_OK) {
		json_t *tenv = json_object_get(r.tiers, rot->role);
		if (json_array_size(json_object_get(tenv, "signatures")) > 0 ||
		    json_object_size(json_object_get(repo_signed(tenv), "targets")) > 0)
			rc = resign_if_short(&r, rot->role, tenv, &tier, r.exp.tier, signers, notes,
					     err);
	}
	if (rc == VOUCH_OK && notes)
		rc = vouch_buf_printf(notes, err,
				      "not yet published: run 'vouch repo publish %s ...'\n", dir);
out:
	json_decref(next);
	repo_close(&r);
	return rc;
}

/* ---- sign ---- */

static int is_published(const struct repo *r, const char *role, int64_t v)
{
	if (strcmp(role, "root") == 0)
		return repo_published_root(r) >= v;
	json_t *meta = NULL;
	int pub = 0;
	if (repo_published_meta(r, &meta, NULL, NULL) == VOUCH_OK && meta) {
		char key[VOUCH_REPO_MAX_TIER_NAME + 8];
		snprintf(key, sizeof(key), "%s.json", role);
		pub =
		    json_integer_value(json_object_get(json_object_get(meta, key), "version")) >= v;
	}
	json_decref(meta);
	return pub;
}

enum vouch_rc vouch_repo_sign(const char *dir, const char *role,
			      const struct vouch_repo_keys *signers, int renew,
			      const struct vouch_repo_opts *o, struct vouch_buf *notes,
			      struct vouch_err *err)
{
	int64_t v = 0;
	struct repo r;
	json_t *next = NULL, *prev = NULL;
	struct role_auth a, pa;
	enum vouch_rc rc = repo_open(dir, o, &r, err);
	if (rc != VOUCH_OK)
		goto out;
	if (strcmp(role, "snapshot") == 0 || strcmp(role, "timestamp") == 0) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "%s is signed by 'vouch repo publish' (and timestamp also by "
				   "'vouch repo timestamp')",
				   role);
		goto out;
	}
	if (signers->n == 0) {
		rc = vouch_err_set(err, VOUCH_E_USAGE, "--key: a signing key is needed");
		goto out;
	}
	json_t *env;
	if (strcmp(role, "root") == 0)
		env = r.root;
	else if (strcmp(role, "targets") == 0)
		env = r.targets;
	else
		env = json_object_get(r.tiers, role);
	if (!env) {
		rc = vouch_err_set(err, VOUCH_E_NOTFOUND,
				   "no role named '%s' (root, targets or a tier)", role);
		goto out;
	}
	v = repo_version(env);
	/* Refuse keys the role does not list before anything else. */
	rc = repo_role_auth(&r, strcmp(role, "root") == 0 ? repo_signed(env) : repo_signed(r.root),
			    role, &a, err);
	if (rc != VOUCH_OK)
		goto out;
	if (strcmp(role, "root") != 0 && (rc = check_signers(&a, role, signers, err)) != VOUCH_OK)
		goto out;
	if (renew) {
		if (strcmp(role, "root") == 0 && !root_complete(&r, r.root)) {
			rc = vouch_err_set(err, VOUCH_E_VERIFY,
					   "root v%lld still waits for signatures; finish it "
					   "first",
					   (long long)v);
			goto out;
		}
		next = json_deep_copy(env);
		if (!next) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
		rc = repo_bump(next, r.now, repo_period(&r, role), err);
		if (rc != VOUCH_OK)
			goto out;
		env = next;
		v++;
	} else if (is_published(&r, role, v)) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "%s v%lld is published and needs no signature; to extend its "
				   "expiry, make a new version with 'vouch repo sign %s %s --renew "
				   "--key KEY'",
				   role, (long long)v, dir, role);
		goto out;
	}
	/* Root lists its own keys; targets' keys are in root; a tier's in
	 * targets. */
	rc = repo_role_auth(&r, strcmp(role, "root") == 0 ? repo_signed(env) : repo_signed(r.root),
			    role, &a, err);
	if (rc != VOUCH_OK)
		goto out;
	if (strcmp(role, "root") == 0 && v > 1) {
		/* Root v may be signed by root v-1's keys as well. */
		rc = repo_load_root(&r, v - 1, &prev, err);
		if (rc == VOUCH_E_NOTFOUND && renew) {
			prev = json_incref(r.root);
			rc = VOUCH_OK;
		}
		if (rc == VOUCH_OK)
			rc = repo_role_auth(&r, repo_signed(prev), "root", &pa, err);
		if (rc != VOUCH_OK)
			goto out;
		const struct role_auth *as[2] = {&a, &pa};
		const char *names[2] = {"root", "root (previous version)"};
		rc = signers_used(signers, as, names, 2, err);
		for (size_t i = 0; rc == VOUCH_OK && i < signers->n; i++)
			rc = repo_sign_env(&r, env, "root", signers->v[i], err);
		if (rc == VOUCH_OK)
			rc = write_root(&r, env, err);
		if (rc == VOUCH_OK) {
			if (env == next) {
				json_decref(r.root);
				r.root = next;
				next = NULL;
			}
			rc = note_root(&r, r.root, notes, err);
		}
	} else {
		rc = repo_sign_with(&r, env, role, &a, signers, err);
		if (rc == VOUCH_OK && strcmp(role, "root") == 0)
			rc = write_root(&r, env, err);
		else if (rc == VOUCH_OK)
			rc = repo_stage(&r, role, env, err);
		if (rc == VOUCH_OK)
			rc = repo_note_sigs(&r, role, env, &a, notes, err);
	}
	if (rc == VOUCH_OK && notes)
		rc = vouch_buf_printf(notes, err,
				      "publish with 'vouch repo publish %s --snapshot-key K "
				      "--timestamp-key K' once every threshold is met\n",
				      dir);
out:
	json_decref(next);
	json_decref(prev);
	repo_close(&r);
	return rc;
}
