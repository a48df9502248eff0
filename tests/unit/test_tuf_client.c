/* The TUF client library (client.c, delegation.c) on a small repository
 * built here with the metadata layer and served from file:// URLs: refresh,
 * find_target (chain, terminating), list_targets (prefix, stop), target
 * URL, download, load_trusted, and the error codes and messages of expiry
 * and rollback. The attacks end to end are in tests/e2e/test_tuf_attacks.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/json.h"
#include "vouch/key.h"
#include "vouch/tuf.h"

struct repo {
	char dir[256];	/* repository: metadata/ and targets/ */
	char mdir[300]; /* client's trusted metadata */
	char murl[320]; /* file:// URL of metadata/ */
	char turl[320]; /* file:// URL of targets/ */
	struct vouch_key *root, *ts, *snap, *targets, *os;
	int64_t ts_version, snap_version;
	char ts_expires[VOUCH_TUF_EXPIRES_LEN + 1];
};

static void key(struct vouch_key **k)
{
	assert_int_equal(vouch_key_generate(VOUCH_KEY_ED25519, 0, k, NULL), VOUCH_OK);
}

static json_t *pub(const struct vouch_key *k)
{
	json_t *j = NULL;
	assert_int_equal(vouch_key_to_tuf(k, &j, NULL), VOUCH_OK);
	return j;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(vouch_file_write_atomic(path, data, len, 0644, NULL), VOUCH_OK);
}

/* Signs body with k and writes it as metadata/NAME; returns the bytes'
 * length and sha256 hex (for the META entry of the role above). */
static void write_meta(struct repo *r, const char *name, json_t *body, struct vouch_key *k,
		       size_t *len, char hex[65])
{
	json_t *env = NULL;
	struct vouch_buf b = {0};
	char mdir[300];
	struct vouch_key *keys[1] = {k};
	assert_int_equal(vouch_tuf_sign(body, keys, 1, &env, NULL), VOUCH_OK);
	assert_int_equal(vouch_json_dump(env, &b, NULL), VOUCH_OK);
	snprintf(mdir, sizeof(mdir), "%s/metadata", r->dir);
	write_file(mdir, name, b.data, b.len);
	if (len != NULL) {
		uint8_t d[32];
		*len = b.len;
		vouch_sha256(b.data, b.len, d);
		vouch_hex_encode(d, 32, hex);
	}
	vouch_buf_free(&b);
	json_decref(env);
	json_decref(body);
}

static json_t *target_entry(const char *content, const char *tier)
{
	uint8_t d[32];
	char hex[65];
	vouch_sha256(content, strlen(content), d);
	vouch_hex_encode(d, 32, hex);
	return json_pack("{s:I,s:{s:s},s:{s:{s:s,s:s}}}", "length", (json_int_t)strlen(content),
			 "hashes", "sha256", hex, "custom", "vouch", "tier", tier, "version", "1");
}

static void write_timestamp(struct repo *r, size_t snap_len, const char *snap_hex)
{
	json_t *ts = json_pack("{s:s,s:s,s:I,s:s,s:{s:{s:I,s:I,s:{s:s}}}}", "_type", "timestamp",
			       "spec_version", VOUCH_TUF_SPEC_VERSION, "version",
			       (json_int_t)r->ts_version, "expires", r->ts_expires, "meta",
			       "snapshot.json", "version", (json_int_t)r->snap_version, "length",
			       (json_int_t)snap_len, "hashes", "sha256", snap_hex);
	write_meta(r, "timestamp.json", ts, r->ts, NULL, NULL);
}

static int setup(void **state)
{
	struct repo *r = calloc(1, sizeof(*r));
	char path[600], exp[VOUCH_TUF_EXPIRES_LEN + 1];
	size_t tlen = 0, olen = 0, slen = 0;
	char thex[65], ohex[65], shex[65];
	snprintf(r->dir, sizeof(r->dir), "/tmp/vouch-test-tuf-client-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->mdir, sizeof(r->mdir), "%s/client", r->dir);
	snprintf(r->murl, sizeof(r->murl), "file://%s/metadata", r->dir);
	snprintf(r->turl, sizeof(r->turl), "file://%s/targets", r->dir);
	snprintf(path, sizeof(path), "%s/metadata", r->dir);
	assert_int_equal(vouch_mkdir_p(path, 0755, NULL), VOUCH_OK);
	snprintf(path, sizeof(path), "%s/targets/os/stable", r->dir);
	assert_int_equal(vouch_mkdir_p(path, 0755, NULL), VOUCH_OK);
	key(&r->root);
	key(&r->ts);
	key(&r->snap);
	key(&r->targets);
	key(&r->os);
	vouch_tuf_time_format(time(NULL) + 86400 * 30, exp);
	memcpy(r->ts_expires, exp, sizeof(exp));
	/* root v1 */
	json_t *root = json_pack(
	    "{s:s,s:s,s:i,s:s,s:b,s:{s:o,s:o,s:o,s:o},s:{s:{s:[s],s:i},s:{s:[s],s:i},"
	    "s:{s:[s],s:i},s:{s:[s],s:i}}}",
	    "_type", "root", "spec_version", VOUCH_TUF_SPEC_VERSION, "version", 1, "expires", exp,
	    "consistent_snapshot", 0, "keys", vouch_key_id(r->root), pub(r->root),
	    vouch_key_id(r->ts), pub(r->ts), vouch_key_id(r->snap), pub(r->snap),
	    vouch_key_id(r->targets), pub(r->targets), "roles", "root", "keyids",
	    vouch_key_id(r->root), "threshold", 1, "timestamp", "keyids", vouch_key_id(r->ts),
	    "threshold", 1, "snapshot", "keyids", vouch_key_id(r->snap), "threshold", 1, "targets",
	    "keyids", vouch_key_id(r->targets), "threshold", 1);
	assert_non_null(root);
	write_meta(r, "1.root.json", json_deep_copy(root), r->root, NULL, NULL);
	write_meta(r, "root.json", root, r->root, NULL, NULL);
	/* targets: one target, a terminating "os" tier and a catch-all "late"
	 * that lists an os name too (hidden by the terminating tier). */
	json_t *targets = json_pack(
	    "{s:s,s:s,s:i,s:s,s:{s:o},s:{s:{s:o},s:[{s:s,s:[s],s:i,s:b,s:[s,s]},"
	    "{s:s,s:[s],s:i,s:b,s:[s,s]}]}}",
	    "_type", "targets", "spec_version", VOUCH_TUF_SPEC_VERSION, "version", 1, "expires",
	    exp, "targets", "top.txt", target_entry("top", "none"), "delegations", "keys",
	    vouch_key_id(r->os), pub(r->os), "roles", "name", "os", "keyids", vouch_key_id(r->os),
	    "threshold", 1, "terminating", 1, "paths", "os/*", "os/*/*", "name", "late", "keyids",
	    vouch_key_id(r->os), "threshold", 1, "terminating", 0, "paths", "*", "*/*");
	assert_non_null(targets);
	write_meta(r, "targets.json", targets, r->targets, &tlen, thex);
	json_t *os = json_pack("{s:s,s:s,s:i,s:s,s:{s:o,s:o}}", "_type", "targets", "spec_version",
			       VOUCH_TUF_SPEC_VERSION, "version", 1, "expires", exp, "targets",
			       "os/stable/a.img", target_entry("image a", "os"), "os/beta/b.img",
			       target_entry("image b", "os"));
	write_meta(r, "os.json", os, r->os, &olen, ohex);
	json_t *late = json_pack(
	    "{s:s,s:s,s:i,s:s,s:{s:o,s:o}}", "_type", "targets", "spec_version",
	    VOUCH_TUF_SPEC_VERSION, "version", 1, "expires", exp, "targets", "os/stable/hidden.img",
	    target_entry("hidden", "late"), "misc/m.txt", target_entry("misc", "late"));
	write_meta(r, "late.json", late, r->os, NULL, NULL);
	json_t *snap =
	    json_pack("{s:s,s:s,s:i,s:s,s:{s:{s:i,s:I,s:{s:s}},s:{s:i,s:I,s:{s:s}},s:{s:i}}}",
		      "_type", "snapshot", "spec_version", VOUCH_TUF_SPEC_VERSION, "version", 1,
		      "expires", exp, "meta", "targets.json", "version", 1, "length",
		      (json_int_t)tlen, "hashes", "sha256", thex, "os.json", "version", 1, "length",
		      (json_int_t)olen, "hashes", "sha256", ohex, "late.json", "version", 1);
	assert_non_null(snap);
	write_meta(r, "snapshot.json", snap, r->snap, &slen, shex);
	r->ts_version = 1;
	r->snap_version = 1;
	write_timestamp(r, slen, shex);
	snprintf(path, sizeof(path), "%s/targets", r->dir);
	write_file(path, "top.txt", "top", 3);
	write_file(path, "os/stable/a.img", "image a", 7);
	/* The client trusts root v1. */
	struct vouch_buf b = {0};
	snprintf(path, sizeof(path), "%s/metadata/1.root.json", r->dir);
	assert_int_equal(vouch_file_read(path, 1 << 20, &b, NULL), VOUCH_OK);
	assert_int_equal(
	    vouch_tuf_client_install_root(r->mdir, b.data, b.len, VOUCH_TUF_DEFAULT_ROOT_MAX, NULL),
	    VOUCH_OK);
	vouch_buf_free(&b);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct repo *r = *state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	if (system(cmd) != 0)
		return -1;
	vouch_key_free(r->root);
	vouch_key_free(r->ts);
	vouch_key_free(r->snap);
	vouch_key_free(r->targets);
	vouch_key_free(r->os);
	free(r);
	return 0;
}

static struct vouch_tuf_client *open_client(struct repo *r, int with_urls)
{
	struct vouch_tuf_client_config cfg;
	struct vouch_tuf_client *c = NULL;
	struct vouch_err err;
	vouch_err_clear(&err);
	vouch_tuf_client_config_default(&cfg);
	cfg.metadata_dir = r->mdir;
	cfg.metadata_url = with_urls ? r->murl : NULL;
	cfg.target_base_url = with_urls ? r->turl : NULL;
	if (vouch_tuf_client_new(&cfg, &c, &err) != VOUCH_OK)
		fail_msg("client_new: %s", err.msg);
	return c;
}

static void test_refresh_find_download(void **state)
{
	struct repo *r = *state;
	struct vouch_err err;
	struct vouch_tuf_target *t = NULL;
	char *url = NULL;
	char dest[600];
	vouch_err_clear(&err);
	struct vouch_tuf_client *c = open_client(r, 1);
	assert_int_equal(vouch_tuf_client_find_target(c, "top.txt", &t, &err), VOUCH_E_USAGE);
	if (vouch_tuf_client_refresh(c, &err) != VOUCH_OK)
		fail_msg("refresh: %s", err.msg);
	assert_int_equal(vouch_tuf_client_version(c, VOUCH_TUF_SNAPSHOT), 1);
	/* Delegated, with its chain and custom fields. */
	assert_int_equal(vouch_tuf_client_find_target(c, "os/stable/a.img", &t, &err), VOUCH_OK);
	assert_string_equal(t->role, "os");
	assert_int_equal(t->chain_len, 2);
	assert_string_equal(t->chain[0], "targets");
	assert_string_equal(t->chain[1], "os");
	assert_int_equal(t->length, 7);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(t->custom, "vouch"), "tier")), "os");
	assert_int_equal(vouch_tuf_client_target_url(c, t, &url, &err), VOUCH_OK);
	char want[400];
	snprintf(want, sizeof(want), "%s/os/stable/a.img", r->turl);
	assert_string_equal(url, want);
	free(url);
	snprintf(dest, sizeof(dest), "%s/a.img", r->dir);
	assert_false(vouch_tuf_target_file_ok(t, dest));
	assert_int_equal(vouch_tuf_client_download_target(c, t, dest, &err), VOUCH_OK);
	assert_true(vouch_tuf_target_file_ok(t, dest));
	vouch_tuf_target_free(t);
	/* The terminating os tier hides "late"'s os names ... */
	assert_int_equal(vouch_tuf_client_find_target(c, "os/stable/hidden.img", &t, &err),
			 VOUCH_E_NOTFOUND);
	assert_string_equal(err.msg, "os/stable/hidden.img: no trusted role lists this target");
	/* ... but not the others. */
	assert_int_equal(vouch_tuf_client_find_target(c, "misc/m.txt", &t, &err), VOUCH_OK);
	assert_string_equal(t->role, "late");
	vouch_tuf_target_free(t);
	/* Listed, but the file on the server is not the signed one. */
	assert_int_equal(vouch_tuf_client_find_target(c, "top.txt", &t, &err), VOUCH_OK);
	char tpath[600];
	snprintf(tpath, sizeof(tpath), "%s/targets", r->dir);
	write_file(tpath, "top.txt", "TOP", 3);
	snprintf(dest, sizeof(dest), "%s/top.txt", r->dir);
	assert_int_equal(vouch_tuf_client_download_target(c, t, dest, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "arbitrary installation attack? top.txt: sha256 mismatch");
	assert_int_equal(access(dest, F_OK), -1);
	write_file(tpath, "top.txt", "top", 3);
	vouch_tuf_target_free(t);
	vouch_tuf_client_free(c);
}

struct seen {
	char names[8][64];
	char roles[8][16];
	int n, stop_after;
};

static int collect(void *ctx, const struct vouch_tuf_target *t)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", t->name);
		snprintf(s->roles[s->n], sizeof(s->roles[0]), "%s", t->role);
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static int has(const struct seen *s, const char *name, const char *role)
{
	for (int i = 0; i < s->n && i < 8; i++) {
		if (strcmp(s->names[i], name) == 0 && strcmp(s->roles[i], role) == 0)
			return 1;
	}
	return 0;
}

static void test_list_targets(void **state)
{
	struct repo *r = *state;
	struct vouch_err err;
	struct seen s;
	vouch_err_clear(&err);
	struct vouch_tuf_client *c = open_client(r, 1);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vouch_tuf_client_list_targets(c, "os/", collect, &s, &err), VOUCH_OK);
	assert_int_equal(s.n, 2); /* not os/stable/hidden.img */
	assert_true(has(&s, "os/stable/a.img", "os"));
	assert_true(has(&s, "os/beta/b.img", "os"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(vouch_tuf_client_list_targets(c, "", collect, &s, &err), VOUCH_OK);
	assert_int_equal(s.n, 4);
	assert_true(has(&s, "top.txt", "targets"));
	assert_true(has(&s, "misc/m.txt", "late"));
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(vouch_tuf_client_list_targets(c, "", collect, &s, &err), VOUCH_OK);
	assert_int_equal(s.n, 1);
	vouch_tuf_client_free(c);
}

static void test_load_trusted_offline(void **state)
{
	struct repo *r = *state;
	struct vouch_err err;
	struct vouch_tuf_target *t = NULL;
	vouch_err_clear(&err);
	struct vouch_tuf_client *c = open_client(r, 1);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_OK);
	assert_int_equal(vouch_tuf_client_find_target(c, "os/beta/b.img", &t, &err), VOUCH_OK);
	vouch_tuf_target_free(t);
	vouch_tuf_client_free(c);
	/* No URLs at all: what the refresh left on disk. */
	c = open_client(r, 0);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_E_USAGE);
	if (vouch_tuf_client_load_trusted(c, &err) != VOUCH_OK)
		fail_msg("load_trusted: %s", err.msg);
	assert_int_equal(vouch_tuf_client_find_target(c, "os/beta/b.img", &t, &err), VOUCH_OK);
	assert_string_equal(t->role, "os");
	assert_int_equal(vouch_tuf_client_target_url(c, t, &(char *){NULL}, &err), VOUCH_E_USAGE);
	vouch_tuf_target_free(t);
	vouch_tuf_client_free(c);
}

static void test_expired_and_rollback_timestamp(void **state)
{
	struct repo *r = *state;
	struct vouch_err err;
	char path[600];
	struct vouch_buf snap = {0};
	uint8_t d[32];
	char hex[65];
	vouch_err_clear(&err);
	struct vouch_tuf_client *c = open_client(r, 1);
	snprintf(path, sizeof(path), "%s/metadata/snapshot.json", r->dir);
	assert_int_equal(vouch_file_read(path, 1 << 20, &snap, NULL), VOUCH_OK);
	vouch_sha256(snap.data, snap.len, d);
	vouch_hex_encode(d, 32, hex);
	/* v2, already expired. */
	r->ts_version = 2;
	memcpy(r->ts_expires, "2001-01-01T00:00:00Z", VOUCH_TUF_EXPIRES_LEN + 1);
	write_timestamp(r, snap.len, hex);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_E_EXPIRED);
	assert_string_equal(err.msg,
			    "timestamp.json: expired at 2001-01-01T00:00:00Z (freeze attack?)");
	/* v3 valid, then back to v2 valid: rollback. */
	vouch_tuf_time_format(time(NULL) + 3600, r->ts_expires);
	r->ts_version = 3;
	write_timestamp(r, snap.len, hex);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_OK);
	r->ts_version = 2;
	write_timestamp(r, snap.len, hex);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_E_ROLLBACK);
	assert_string_equal(
	    err.msg,
	    "timestamp.json: version 2 is lower than the trusted version 3 (rollback attack?)");
	r->ts_version = 4;
	write_timestamp(r, snap.len, hex);
	assert_int_equal(vouch_tuf_client_refresh(c, &err), VOUCH_OK);
	assert_int_equal(vouch_tuf_client_version(c, VOUCH_TUF_TIMESTAMP), 4);
	vouch_buf_free(&snap);
	vouch_tuf_client_free(c);
}

static void test_install_root_checks(void **state)
{
	struct repo *r = *state;
	struct vouch_err err;
	char dir[400];
	vouch_err_clear(&err);
	snprintf(dir, sizeof(dir), "%s/other-client", r->dir);
	const char *junk = "{\"signatures\":[],\"signed\":{\"_type\":\"root\"}}";
	assert_int_equal(vouch_tuf_client_install_root(dir, junk, strlen(junk),
						       VOUCH_TUF_DEFAULT_ROOT_MAX, &err),
			 VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "root.json: "));
	struct vouch_tuf_client_config cfg;
	struct vouch_tuf_client *c = NULL;
	vouch_tuf_client_config_default(&cfg);
	cfg.metadata_dir = dir;
	assert_int_equal(vouch_tuf_client_new(&cfg, &c, &err), VOUCH_E_NOTFOUND);
	assert_null(c);
}

/* A trusted root that cannot be read under the given limit (or at all) is
 * still a trusted root: init must not replace it. */
static void test_install_root_never_replaces_an_unreadable_root(void **state)
{
	struct repo *r = *state;
	struct vouch_err err;
	struct vouch_buf small = {0}, big = {0}, now = {0};
	char dir[400], path[600];
	json_t *env = NULL, *body = NULL, *bigenv = NULL;
	struct vouch_key *keys[1] = {r->root};
	vouch_err_clear(&err);
	snprintf(path, sizeof(path), "%s/metadata/1.root.json", r->dir);
	assert_int_equal(vouch_file_read(path, 1 << 20, &small, NULL), VOUCH_OK);
	/* The same root with 8 KiB of (signed) unknown field. */
	assert_int_equal(vouch_json_parse(small.data, small.len, 1 << 20, &env, NULL), VOUCH_OK);
	body = json_deep_copy(json_object_get(env, "signed"));
	char pad[8193];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	assert_int_equal(json_object_set_new(body, "x-padding", json_string(pad)), 0);
	assert_int_equal(vouch_tuf_sign(body, keys, 1, &bigenv, NULL), VOUCH_OK);
	assert_int_equal(vouch_json_dump(bigenv, &big, NULL), VOUCH_OK);
	snprintf(dir, sizeof(dir), "%s/big-root-client", r->dir);
	assert_int_equal(
	    vouch_tuf_client_install_root(dir, big.data, big.len, VOUCH_TUF_DEFAULT_ROOT_MAX, &err),
	    VOUCH_OK);
	/* A limit that the installed root exceeds but the new one fits. */
	assert_true(small.len + 100 < big.len);
	assert_int_equal(
	    vouch_tuf_client_install_root(dir, small.data, small.len, small.len + 100, &err),
	    VOUCH_E_EXISTS);
	assert_non_null(strstr(err.msg, "already holds a trusted root"));
	snprintf(path, sizeof(path), "%s/root.json", dir);
	assert_int_equal(vouch_file_read(path, 1 << 20, &now, NULL), VOUCH_OK);
	assert_int_equal(now.len, big.len);
	assert_memory_equal(now.data, big.data, big.len);
	vouch_buf_free(&small);
	vouch_buf_free(&big);
	vouch_buf_free(&now);
	json_decref(env);
	json_decref(body);
	json_decref(bigenv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refresh_find_download),
	    cmocka_unit_test(test_list_targets),
	    cmocka_unit_test(test_load_trusted_offline),
	    cmocka_unit_test(test_expired_and_rollback_timestamp),
	    cmocka_unit_test(test_install_root_checks),
	    cmocka_unit_test(test_install_root_never_replaces_an_unreadable_root),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
