/* vouch-agent — durable device state. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "version.h"
#include "vouch/buf.h"
#include "vouch/json.h"

static const char *const release_keys[] = {"running", "pending", "previous"};

/* A release record as install() writes it: what commit and fall back act
 * on (a slot other than a or b would be written to the boot environment). */
static int release_ok(const json_t *r)
{
	static const char *const strs[] = {"name", "version", "target_hash"};
	if (!json_is_object(r))
		return 0;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!json_is_string(json_object_get(r, strs[i])))
			return 0;
	const json_t *sv = json_object_get(r, "security_version");
	if (!json_is_integer(sv) || json_integer_value(sv) < 0)
		return 0;
	const json_t *slot = json_object_get(r, "slot");
	if (slot != NULL && (!json_is_string(slot) || (strcmp(json_string_value(slot), "a") != 0 &&
						       strcmp(json_string_value(slot), "b") != 0)))
		return 0;
	const json_t *d = json_object_get(r, "dir");
	if (d != NULL && (!json_is_string(d) || json_string_length(d) == 0))
		return 0;
	return 1;
}

/* The shape every later access relies on: refuse anything else, so a
 * damaged file is reported instead of half-used. */
static enum vouch_rc check_shape(json_t *doc, struct vouch_err *err)
{
	json_t *tiers = NULL;
	const char *name = NULL;
	json_t *t = NULL;
	if (!json_is_object(doc))
		return vouch_err_set(err, VOUCH_E_FORMAT, "state is not a JSON object");
	json_int_t fmt = json_integer_value(json_object_get(doc, "format"));
	if (fmt != 1)
		return vouch_err_set(err, VOUCH_E_FORMAT, "unknown state format");
	tiers = json_object_get(doc, "tiers");
	if (!json_is_object(tiers))
		return vouch_err_set(err, VOUCH_E_FORMAT, "state: 'tiers' is not an object");
	json_object_foreach (tiers, name, t) {
		json_t *floor = json_object_get(t, "floor");
		if (!json_is_object(t) || !json_is_integer(floor) || json_integer_value(floor) < 0)
			return vouch_err_set(err, VOUCH_E_FORMAT, "state: tier %s: bad floor",
					     name);
		for (size_t i = 0; i < 3; i++) {
			json_t *r = json_object_get(t, release_keys[i]);
			if (r != NULL && !release_ok(r))
				return vouch_err_set(err, VOUCH_E_FORMAT, "state: tier %s: bad %s",
						     name, release_keys[i]);
		}
		json_t *bad = json_object_get(t, "bad");
		if (bad != NULL && !json_is_array(bad))
			return vouch_err_set(err, VOUCH_E_FORMAT, "state: tier %s: bad list", name);
		/* Every entry names what it refuses: an entry without a
		 * version could not raise bad_dropped_version when dropped. */
		size_t j = 0;
		json_t *b = NULL;
		json_array_foreach (bad, j, b) {
			if (!json_is_object(b) || !json_is_string(json_object_get(b, "version")) ||
			    !json_is_string(json_object_get(b, "target_hash")))
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "state: tier %s: bad list entry %zu", name, j);
		}
		json_t *dropped = json_object_get(t, "bad_dropped_version");
		if (dropped != NULL && !json_is_string(dropped))
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "state: tier %s: bad bad_dropped_version", name);
	}
	return VOUCH_OK;
}

enum vouch_rc agent_state_load(const char *data_dir, struct agent_state *st, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct vouch_buf path = {0};
	json_t *doc = NULL;

	memset(st, 0, sizeof(*st));
	rc = vouch_buf_printf(&path, err, "%s/state.json", data_dir);
	if (rc != VOUCH_OK)
		goto out;
	rc = vouch_json_read_file((const char *)path.data, AGENT_STATE_MAX_SIZE, &doc, err);
	if (rc == VOUCH_E_NOTFOUND) {
		vouch_err_clear(err);
		doc = json_pack("{s:i, s:{}}", "format", 1, "tiers");
		if (doc == NULL) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
		rc = VOUCH_OK;
	} else if (rc != VOUCH_OK) {
		goto out;
	} else {
		rc = check_shape(doc, err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "%s: ", (const char *)path.data);
			goto out;
		}
	}
	st->path = (char *)vouch_buf_steal(&path);
	st->doc = doc;
	doc = NULL;
out:
	vouch_buf_free(&path);
	json_decref(doc);
	return rc;
}

enum vouch_rc agent_state_save(struct agent_state *st, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_json_dump(st->doc, &b, err);
	/* Never write a file that load would refuse as damaged. */
	if (rc == VOUCH_OK && b.len > AGENT_STATE_MAX_SIZE)
		rc = vouch_err_set(err, VOUCH_E_LIMIT,
				   "%s: state would grow past %u bytes; not written", st->path,
				   AGENT_STATE_MAX_SIZE);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(st->path, b.data, b.len, 0644, err);
	vouch_buf_free(&b);
	return rc;
}

void agent_state_free(struct agent_state *st)
{
	free(st->path);
	json_decref(st->doc);
	st->path = NULL;
	st->doc = NULL;
}

json_t *agent_state_tier(struct agent_state *st, const char *tier)
{
	json_t *tiers = json_object_get(st->doc, "tiers");
	json_t *t = json_object_get(tiers, tier);
	if (t != NULL)
		return t;
	t = json_pack("{s:i, s:[]}", "floor", 0, "bad");
	if (t == NULL || json_object_set_new(tiers, tier, t) != 0)
		return NULL;
	return t;
}

int64_t agent_state_floor(json_t *tier)
{
	return (int64_t)json_integer_value(json_object_get(tier, "floor"));
}

enum vouch_rc agent_state_raise_floor(json_t *tier, int64_t v, struct vouch_err *err)
{
	if (v <= agent_state_floor(tier))
		return VOUCH_OK;
	if (json_object_set_new(tier, "floor", json_integer(v)) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

json_t *agent_state_release(json_t *tier, const char *which)
{
	json_t *r = json_object_get(tier, which);
	return json_is_object(r) ? r : NULL;
}

enum vouch_rc agent_state_set_release(json_t *tier, const char *which, json_t *rel,
				      struct vouch_err *err)
{
	if (rel == NULL) {
		json_object_del(tier, which);
		return VOUCH_OK;
	}
	if (json_object_set_new(tier, which, rel) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

const char *agent_state_bad_reason(json_t *tier, const char *target_hash)
{
	size_t i = 0;
	json_t *b = NULL;
	json_array_foreach (json_object_get(tier, "bad"), i, b) {
		const char *h = json_string_value(json_object_get(b, "target_hash"));
		if (h != NULL && strcmp(h, target_hash) == 0) {
			const char *r = json_string_value(json_object_get(b, "reason"));
			return r ? r : "marked bad";
		}
	}
	return NULL;
}

enum vouch_rc agent_state_mark_bad(json_t *tier, const json_t *rel, const char *reason,
				   struct vouch_err *err)
{
	json_t *bad = json_object_get(tier, "bad");
	if (bad == NULL) {
		bad = json_array();
		if (bad == NULL || json_object_set_new(tier, "bad", bad) != 0)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	json_t *e = json_deep_copy(rel);
	if (e == NULL || json_object_set_new(e, "reason", json_string(reason)) != 0 ||
	    json_object_set_new(e, "time", json_integer((json_int_t)time(NULL))) != 0 ||
	    json_array_append_new(bad, e) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	/* Fail closed past the cap: the oldest entry goes, but the newest
	 * version ever dropped is kept, and agent_state_bad_dropped() refuses
	 * everything at or below it, so no dropped release becomes eligible. */
	while (json_array_size(bad) > AGENT_STATE_MAX_BAD) {
		const char *v =
		    json_string_value(json_object_get(json_array_get(bad, 0), "version"));
		const char *cur = json_string_value(json_object_get(tier, "bad_dropped_version"));
		if (v == NULL)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "bad list entry without a version");
		if (cur == NULL || agent_version_cmp(v, cur) > 0) {
			if (json_object_set_new(tier, "bad_dropped_version", json_string(v)) != 0)
				return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		}
		json_array_remove(bad, 0);
	}
	return VOUCH_OK;
}

const char *agent_state_bad_dropped(json_t *tier, const char *version)
{
	const char *d = json_string_value(json_object_get(tier, "bad_dropped_version"));
	if (d == NULL)
		return NULL;
	if (version == NULL || agent_version_cmp(version, d) <= 0)
		return d;
	return NULL;
}

const char *agent_rel_str(const json_t *rel, const char *key)
{
	const char *s = json_string_value(json_object_get(rel, key));
	return s ? s : "";
}

int64_t agent_rel_int(const json_t *rel, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(rel, key));
}
