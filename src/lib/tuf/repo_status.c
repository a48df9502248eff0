/* The image repository, release side: `vouch repo status` as JSON (roles,
 * keys, thresholds, versions, expiry) with warnings for what needs doing. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "repo_internal.h"
#include "vouch/json.h"

static enum vouch_rc warn(json_t *warnings, struct vouch_err *err, const char *fmt, ...)
    VOUCH_PRINTF(3, 4);
static enum vouch_rc warn(json_t *warnings, struct vouch_err *err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_array_append_new(warnings, json_string(msg)) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

static void fmt_period(int64_t s, char out[32])
{
	if (s % 86400 == 0)
		snprintf(out, 32, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(out, 32, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(out, 32, "%lldm", (long long)(s / 60));
	else
		snprintf(out, 32, "%llds", (long long)s);
}

/* One role's entry; env may be NULL (nothing published for snapshot and
 * timestamp yet). */
static enum vouch_rc role_entry(const struct repo *r, const char *name, const char *kind,
				const json_t *env, const struct role_auth *a, int64_t published,
				int check_sigs, json_t *roles, json_t *warnings,
				struct vouch_err *err)
{
	int64_t v = 0;
	const char *exp = NULL;
	size_t valid = 0;
	json_t *tg = NULL;
	time_t t = 0;
	json_t *o = json_object();
	json_t *keys = json_array();
	if (!o || !keys) {
		json_decref(o);
		json_decref(keys);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	int64_t period = repo_period(r, strcmp(kind, "tier") == 0 ? "tier" : name);
	char pbuf[32];
	fmt_period(period, pbuf);
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "threshold", json_integer(a->threshold));
	json_object_set_new(o, "period", json_integer(period));
	json_object_set_new(o, "published_version", json_integer(published));
	size_t i;
	json_t *id;
	json_array_foreach (a->keyids, i, id) {
		const json_t *k = json_object_get(a->keys, json_string_value(id));
		json_array_append_new(
		    keys, json_pack("{s:O, s:s?, s:s?}", "keyid", id, "keytype",
				    json_string_value(json_object_get(k, "keytype")), "scheme",
				    json_string_value(json_object_get(k, "scheme"))));
	}
	json_object_set_new(o, "keys", keys);
	enum vouch_rc rc = VOUCH_OK;
	if (!env) {
		json_object_set_new(o, "version", json_integer(0));
		rc = warn(warnings, err, "%s: nothing published yet", name);
		goto done;
	}
	v = repo_version(env);
	exp = json_string_value(json_object_get(repo_signed(env), "expires"));
	valid = repo_count_valid(env, a);
	json_object_set_new(o, "version", json_integer(v));
	json_object_set_new(o, "signatures", json_integer((json_int_t)valid));
	json_object_set_new(o, "expires", json_string(exp ? exp : ""));
	tg = json_object_get(repo_signed(env), "targets");
	if (json_is_object(tg))
		json_object_set_new(o, "targets", json_integer((json_int_t)json_object_size(tg)));
	t = 0;
	if (exp && repo_parse_time(exp, &t)) {
		json_object_set_new(o, "expires_in", json_integer((json_int_t)(t - r->now)));
		if (t <= r->now)
			rc = warn(warnings, err, "%s v%lld EXPIRED at %s", name, (long long)v, exp);
		else if ((int64_t)(t - r->now) < period / VOUCH_REPO_WARN_DIVISOR)
			rc = warn(warnings, err,
				  "%s v%lld expires at %s, within 20%% of its %s period; renew "
				  "it",
				  name, (long long)v, exp, pbuf);
	}
	if (rc == VOUCH_OK && check_sigs && (int64_t)valid < a->threshold)
		rc = warn(warnings, err, "%s v%lld: %zu of %lld signatures, threshold not met",
			  name, (long long)v, valid, (long long)a->threshold);
	if (rc == VOUCH_OK && v > published)
		rc = warn(warnings, err, "%s v%lld is not published yet (published: v%lld)", name,
			  (long long)v, (long long)published);
done:
	if (json_array_append_new(roles, o) != 0 && rc == VOUCH_OK)
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return rc;
}

enum vouch_rc vouch_repo_status(const char *dir, const struct vouch_repo_opts *o, json_t **out,
				struct vouch_err *err)
{
	int64_t pub_root = 0;
	json_t *rs = NULL;
	struct repo r;
	json_t *meta = NULL, *ts = NULL, *snap = NULL, *res = NULL;
	json_t *roles = json_array(), *warnings = json_array();
	char path[PATH_MAX];
	struct role_auth a;
	struct vouch_err serr = {0};
	enum vouch_rc rc = repo_open_unchecked(dir, o, &r, err);
	if (rc == VOUCH_OK && (!roles || !warnings))
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	if (rc == VOUCH_OK && repo_check_staged(&r, &serr) != VOUCH_OK)
		rc = warn(warnings, err, "%s", serr.msg);
	if (rc == VOUCH_OK)
		rc = repo_published_meta(&r, &meta, &ts, err);
	if (rc != VOUCH_OK)
		goto out;
	pub_root = repo_published_root(&r);
	rs = repo_signed(r.root);

	/* root: its own keys, and for an unpublished version its
	 * predecessor's too. */
	rc = repo_role_auth(&r, rs, "root", &a, err);
	if (rc == VOUCH_OK)
		rc = role_entry(&r, "root", "root", r.root, &a, pub_root, 1, roles, warnings, err);
	if (rc != VOUCH_OK)
		goto out;
	if (repo_version(r.root) > 1 && repo_version(r.root) > pub_root) {
		size_t own, prev;
		int64_t own_thr, prev_thr;
		rc = repo_root_counts(&r, r.root, &own, &own_thr, &prev, &prev_thr, err);
		if (rc != VOUCH_OK)
			goto out;
		json_t *e = json_array_get(roles, json_array_size(roles) - 1);
		json_object_set_new(e, "previous_signatures", json_integer((json_int_t)prev));
		json_object_set_new(e, "previous_threshold", json_integer(prev_thr));
		if ((int64_t)prev < prev_thr)
			rc = warn(warnings, err,
				  "root v%lld: %zu of %lld signatures by root v%lld's keys, "
				  "threshold not met",
				  (long long)repo_version(r.root), prev, (long long)prev_thr,
				  (long long)repo_version(r.root) - 1);
		if (rc != VOUCH_OK)
			goto out;
	}

	rc = repo_role_auth(&r, rs, "targets", &a, err);
	if (rc == VOUCH_OK)
		rc = role_entry(&r, "targets", "targets", r.targets, &a,
				json_integer_value(json_object_get(
				    json_object_get(meta, "targets.json"), "version")),
				1, roles, warnings, err);
	if (rc != VOUCH_OK)
		goto out;

	if (ts) {
		int64_t sv = json_integer_value(json_object_get(
		    json_object_get(json_object_get(repo_signed(ts), "meta"), "snapshot.json"),
		    "version"));
		if (r.consistent)
			rc = repo_path(path, sizeof(path), err, "%s/metadata/%lld.snapshot.json",
				       r.dir, (long long)sv);
		else
			rc = repo_path(path, sizeof(path), err, "%s/metadata/snapshot.json", r.dir);
		if (rc == VOUCH_OK)
			rc = repo_read_env(path, &snap, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	rc = repo_role_auth(&r, rs, "snapshot", &a, err);
	if (rc == VOUCH_OK)
		rc = role_entry(&r, "snapshot", "snapshot", snap, &a, snap ? repo_version(snap) : 0,
				1, roles, warnings, err);
	if (rc == VOUCH_OK)
		rc = repo_role_auth(&r, rs, "timestamp", &a, err);
	if (rc == VOUCH_OK)
		rc = role_entry(&r, "timestamp", "timestamp", ts, &a, ts ? repo_version(ts) : 0, 1,
				roles, warnings, err);
	if (rc != VOUCH_OK)
		goto out;

	const char *name;
	json_t *env;
	json_object_foreach (r.tiers, name, env) {
		char key[VOUCH_REPO_MAX_TIER_NAME + 8];
		snprintf(key, sizeof(key), "%s.json", name);
		int64_t pv =
		    json_integer_value(json_object_get(json_object_get(meta, key), "version"));
		int unborn = json_array_size(json_object_get(env, "signatures")) == 0 &&
			     json_object_size(json_object_get(repo_signed(env), "targets")) == 0;
		rc = repo_role_auth(&r, NULL, name, &a, err);
		if (rc == VOUCH_OK && !unborn)
			rc = role_entry(&r, name, "tier", env, &a, pv, 1, roles, warnings, err);
		else if (rc == VOUCH_OK) {
			/* Added but empty: nothing to sign or publish yet. */
			size_t before = json_array_size(warnings);
			rc = role_entry(&r, name, "tier", env, &a, pv, 0, roles, warnings, err);
			while (rc == VOUCH_OK && json_array_size(warnings) > before)
				json_array_remove(warnings, json_array_size(warnings) - 1);
			json_object_set_new(json_array_get(roles, json_array_size(roles) - 1),
					    "empty", json_true());
		}
		if (rc != VOUCH_OK)
			goto out;
		json_t *d = repo_find_delegation(r.targets, name);
		json_t *e = json_array_get(roles, json_array_size(roles) - 1);
		json_object_set(e, "paths", json_object_get(d, "paths"));
		json_object_set(e, "terminating", json_object_get(d, "terminating"));
	}
	res = json_pack("{s:s, s:b, s:O, s:O, s:b}", "dir", r.dir, "consistent_snapshot",
			r.consistent, "roles", roles, "warnings", warnings, "ok",
			json_array_size(warnings) == 0);
	if (!res) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	*out = res;
out:
	json_decref(meta);
	json_decref(ts);
	json_decref(snap);
	json_decref(roles);
	json_decref(warnings);
	repo_close(&r);
	return rc;
}
