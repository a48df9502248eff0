/* Unit tests of the repository module (repo.h): argument parsing and the
 * whole release-side flow on a temporary directory with in-memory keys,
 * asserting error codes and messages. */
#define _GNU_SOURCE
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vouch/buf.h"
#include "vouch/json.h"
#include "vouch/key.h"
#include "vouch/repo.h"

static void test_expiry_parse(void **state)
{
	(void)state;
	struct vouch_repo_expiry e;
	struct vouch_err err;
	vouch_repo_expiry_default(&e);
	assert_int_equal(e.root, 365 * 86400);
	assert_int_equal(e.timestamp, 86400);
	assert_int_equal(
	    vouch_repo_expiry_parse("root=2w,timestamp=90m,tier=30s,snapshot=12h", &e, &err),
	    VOUCH_OK);
	assert_int_equal(e.root, 14 * 86400);
	assert_int_equal(e.timestamp, 90 * 60);
	assert_int_equal(e.tier, 30);
	assert_int_equal(e.snapshot, 12 * 3600);
	assert_int_equal(e.targets, 90 * 86400);
	assert_int_equal(vouch_repo_expiry_parse("mirror=1d", &e, &err), VOUCH_E_USAGE);
	assert_non_null(strstr(err.msg, "unknown role 'mirror'"));
	assert_int_equal(vouch_repo_expiry_parse("root=1y", &e, &err), VOUCH_E_USAGE);
	assert_non_null(strstr(err.msg, "unit"));
	assert_int_equal(vouch_repo_expiry_parse("root=0d", &e, &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_expiry_parse("root=99999d", &e, &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_expiry_parse("root", &e, &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_expiry_parse("root=1d;x", &e, &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_expiry_parse("root=99999999999999999999d", &e, &err),
			 VOUCH_E_USAGE);
}

static void test_names(void **state)
{
	(void)state;
	struct vouch_err err;
	assert_true(vouch_repo_tier_name_ok("os"));
	assert_true(vouch_repo_tier_name_ok("app-2_x"));
	assert_false(vouch_repo_tier_name_ok(""));
	assert_false(vouch_repo_tier_name_ok("root"));
	assert_false(vouch_repo_tier_name_ok("targets"));
	assert_false(vouch_repo_tier_name_ok("-os"));
	assert_false(vouch_repo_tier_name_ok("OS"));
	assert_false(vouch_repo_tier_name_ok("a/b"));
	assert_false(vouch_repo_tier_name_ok("a.b"));
	assert_int_equal(vouch_repo_target_name_check("os/a/b.img", &err), VOUCH_OK);
	const char *bad[] = {"",      "/os/a",	"os//a",   "os/../a", "os/./a",
			     "os/a/", "os/a b", "os/a\\b", "os/\x01", "os/\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vouch_repo_target_name_check(bad[i], &err), VOUCH_E_USAGE);
	char longname[VOUCH_REPO_MAX_TARGET_NAME + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(vouch_repo_target_name_check(longname, &err), VOUCH_E_USAGE);
	/* review: a component the file system cannot store is a usage error */
	char comp[300];
	memcpy(comp, "os/", 3);
	memset(comp + 3, 'a', 256);
	comp[259] = '\0';
	assert_int_equal(vouch_repo_target_name_check(comp, &err), VOUCH_E_USAGE);
	assert_non_null(strstr(err.msg, "more than 255 bytes"));
	comp[258] = '\0';
	assert_int_equal(vouch_repo_target_name_check(comp, &err), VOUCH_OK);
	/* review: names tuf-js could not fetch (it does not URL-encode) */
	assert_int_equal(vouch_repo_target_name_check("os/a%20b", &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_target_name_check("os/a?b", &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_target_name_check("os/a#b", &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_repo_target_name_check("os/a+b&c=d'e[f]", &err), VOUCH_OK);
}

/* ---- the flow ---- */

struct fx {
	char dir[64];
	char repo[128];
	char log[128];
	char file[128];
	struct vouch_key *root1, *root2, *root2pub, *targets, *snap, *ts, *os, *app, *os2;
	struct vouch_repo_opts o;
};

static struct vouch_key *gen(enum vouch_key_type t)
{
	struct vouch_key *k = NULL;
	struct vouch_err err;
	assert_int_equal(vouch_key_generate(t, 0, &k, &err), VOUCH_OK);
	return k;
}

static struct vouch_key *public_of(const struct vouch_key *k)
{
	json_t *j = NULL;
	struct vouch_key *p = NULL;
	struct vouch_err err;
	assert_int_equal(vouch_key_to_tuf(k, &j, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_tuf(j, &p, &err), VOUCH_OK);
	json_decref(j);
	return p;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vouch-test-repo-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/key.log", f->dir);
	snprintf(f->file, sizeof(f->file), "%s/image.bin", f->dir);
	FILE *fp = fopen(f->file, "w");
	assert_non_null(fp);
	fputs("image contents\n", fp);
	fclose(fp);
	f->root1 = gen(VOUCH_KEY_ED25519);
	f->root2 = gen(VOUCH_KEY_ECDSA_P256);
	f->root2pub = public_of(f->root2);
	f->targets = gen(VOUCH_KEY_ED25519);
	f->snap = gen(VOUCH_KEY_ED25519);
	f->ts = gen(VOUCH_KEY_ED25519);
	f->os = gen(VOUCH_KEY_ED25519);
	f->app = gen(VOUCH_KEY_ED25519);
	f->os2 = gen(VOUCH_KEY_ECDSA_P256);
	f->o.keylog_path = f->log;
	f->o.now = 1800000000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	struct vouch_key *ks[] = {f->root1, f->root2, f->root2pub, f->targets, f->snap,
				  f->ts,    f->os,    f->app,	   f->os2};
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		vouch_key_free(ks[i]);
	free(f);
	return 0;
}

#define KEYS(name, ...)                                                                            \
	struct vouch_key *name##_v[] = {__VA_ARGS__};                                              \
	struct vouch_repo_keys name = {.v = name##_v, .n = sizeof(name##_v) / sizeof(name##_v[0])}

static json_t *status(struct fx *f)
{
	json_t *st = NULL;
	struct vouch_err err;
	assert_int_equal(vouch_repo_status(f->repo, &f->o, &st, &err), VOUCH_OK);
	return st;
}

static json_t *role(json_t *st, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(st, "roles"), i, r) {
		if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			return r;
	}
	fail_msg("no role %s", name);
	return NULL;
}

static int64_t ival(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void test_flow(void **state)
{
	struct fx *f = *state;
	struct vouch_err err;
	struct vouch_buf notes = {0};
	char path[256];

	/* init: root 2-of-2 with one holder signing later */
	struct vouch_repo_init_params p;
	memset(&p, 0, sizeof(p));
	KEYS(rootk, f->root1, f->root2pub);
	KEYS(tk, f->targets);
	KEYS(sk, f->snap);
	KEYS(tsk, f->ts);
	p.root = rootk;
	p.root_threshold = 2;
	p.targets = tk;
	p.snapshot = sk;
	p.timestamp = tsk;
	p.consistent_snapshot = 1;
	vouch_repo_expiry_default(&p.expiry);
	assert_int_equal(vouch_repo_init(f->repo, &p, &f->o, &notes, &err), VOUCH_OK);
	assert_non_null(strstr((char *)notes.data, "root v1 has 1 of 2 signatures"));
	vouch_buf_free(&notes);
	snprintf(path, sizeof(path), "%s/metadata/1.root.json", f->repo);
	assert_int_equal(access(path, F_OK), -1);
	/* init again into a non-empty directory */
	assert_int_equal(vouch_repo_init(f->repo, &p, &f->o, NULL, &err), VOUCH_E_EXISTS);

	assert_int_equal(vouch_repo_publish(f->repo, &sk, &tsk, &f->o, NULL, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "root v1: 1 of 2 signatures"));
	KEYS(wrong, f->targets);
	assert_int_equal(vouch_repo_sign(f->repo, "root", &wrong, 0, &f->o, NULL, &err),
			 VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, vouch_key_id(f->root2)));
	KEYS(r2, f->root2);
	assert_int_equal(vouch_repo_sign(f->repo, "root", &r2, 0, &f->o, NULL, &err), VOUCH_OK);
	assert_int_equal(vouch_repo_publish(f->repo, &sk, &tsk, &f->o, NULL, &err), VOUCH_OK);
	assert_int_equal(access(path, F_OK), 0);

	/* tiers */
	KEYS(osk, f->os);
	KEYS(appk, f->app);
	assert_int_equal(
	    vouch_repo_tier_add(f->repo, "os", &osk, 0, NULL, 0, &tk, &f->o, NULL, &err), VOUCH_OK);
	const char *pats[] = {"app/*", "app/*/*"};
	assert_int_equal(
	    vouch_repo_tier_add(f->repo, "app", &appk, 0, pats, 2, &tk, &f->o, NULL, &err),
	    VOUCH_OK);
	const char *bad[] = {"os/*"};
	assert_int_equal(
	    vouch_repo_tier_add(f->repo, "driver", &appk, 0, bad, 1, &tk, &f->o, NULL, &err),
	    VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "outside tier driver"));
	assert_int_equal(
	    vouch_repo_tier_add(f->repo, "driver", &appk, 2, NULL, 0, &tk, &f->o, NULL, &err),
	    VOUCH_E_USAGE);
	assert_int_equal(
	    vouch_repo_tier_add(f->repo, "driver", &appk, 0, NULL, 0, &osk, &f->o, NULL, &err),
	    VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "not authorised for role targets"));
	/* review: no signer at all is refused, not staged unsigned */
	struct vouch_repo_keys none = {.v = NULL, .n = 0};
	assert_int_equal(
	    vouch_repo_tier_add(f->repo, "driver", &appk, 0, NULL, 0, &none, &f->o, NULL, &err),
	    VOUCH_E_USAGE);

	/* targets */
	const char *hw[] = {"board-a"};
	struct vouch_repo_target_info info = {
	    .version = "1.0", .security_version = 7, .hardware = hw, .nhardware = 1};
	assert_int_equal(
	    vouch_repo_target_add(f->repo, f->file, "os/a/img.bin", &info, &osk, &f->o, NULL, &err),
	    VOUCH_OK);
	assert_int_equal(
	    vouch_repo_target_add(f->repo, f->file, "os/b.bin", &info, &appk, &f->o, NULL, &err),
	    VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "not authorised for tier os"));
	assert_int_equal(vouch_repo_target_add(f->repo, f->file, "app/a/b/c.bin", &info, &appk,
					       &f->o, NULL, &err),
			 VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "not covered"));
	assert_int_equal(
	    vouch_repo_target_add(f->repo, f->file, "nosuch/x", &info, &appk, &f->o, NULL, &err),
	    VOUCH_E_NOTFOUND);
	assert_int_equal(vouch_repo_target_add(f->repo, "/nonexistent/file", "os/x", &info, &osk,
					       &f->o, NULL, &err),
			 VOUCH_E_NOTFOUND);
	json_t *custom = json_pack("{s:s}", "format", "zip");
	info.custom = custom;
	assert_int_equal(
	    vouch_repo_target_add(f->repo, f->file, "os/c.bin", &info, &osk, &f->o, NULL, &err),
	    VOUCH_E_USAGE);
	json_decref(custom);
	/* review: custom.vouch fields devices would misread */
	const char *badcustom[] = {"{\"hardware\": \"board-a\"}", "{\"version\": 2}",
				   "{\"delta_base\": \"ABC\"}", "{\"encryption\": []}"};
	struct vouch_repo_target_info noinfo = {.security_version = -1};
	for (size_t i = 0; i < sizeof(badcustom) / sizeof(badcustom[0]); i++) {
		custom = json_loads(badcustom[i], 0, NULL);
		assert_non_null(custom);
		noinfo.custom = custom;
		assert_int_equal(vouch_repo_target_add(f->repo, f->file, "os/c.bin", &noinfo, &osk,
						       &f->o, NULL, &err),
				 VOUCH_E_USAGE);
		assert_non_null(strstr(err.msg, "custom.vouch"));
		json_decref(custom);
	}
	info.custom = NULL;

	json_t *st = status(f);
	assert_false(json_is_true(json_object_get(st, "ok")));
	assert_int_equal(ival(role(st, "os"), "version"), 2);
	assert_int_equal(ival(role(st, "os"), "published_version"), 0);
	assert_int_equal(ival(role(st, "app"), "version"), 1);
	assert_true(json_is_true(json_object_get(role(st, "app"), "empty")));
	assert_int_equal(ival(role(st, "root"), "expires_in"), 365 * 86400);
	json_decref(st);

	assert_int_equal(vouch_repo_publish(f->repo, &sk, &tsk, &f->o, &notes, &err), VOUCH_OK);
	assert_non_null(strstr((char *)notes.data, "tier app has no signed metadata yet"));
	vouch_buf_free(&notes);
	st = status(f);
	assert_true(json_is_true(json_object_get(st, "ok")));
	assert_int_equal(ival(role(st, "os"), "published_version"), 2);
	assert_int_equal(ival(role(st, "snapshot"), "version"), 2);
	json_decref(st);

	/* revoke the os key; os2 re-signs */
	KEYS(both, f->targets, f->os2);
	KEYS(os2k, f->os2);
	const char *rm[] = {vouch_key_id(f->os)};
	struct vouch_repo_rotation rot = {.role = "os", .add = os2k, .remove = rm, .nremove = 1};
	assert_int_equal(vouch_repo_rotate(f->repo, &rot, &both, &f->o, &notes, &err), VOUCH_OK);
	assert_non_null(strstr((char *)notes.data, "os: its signatures no longer meet"));
	vouch_buf_free(&notes);
	assert_int_equal(vouch_repo_target_remove(f->repo, "os/a/img.bin", &osk, &f->o, NULL, &err),
			 VOUCH_E_DENIED);
	assert_int_equal(
	    vouch_repo_target_remove(f->repo, "os/a/img.bin", &os2k, &f->o, NULL, &err), VOUCH_OK);
	assert_int_equal(
	    vouch_repo_target_remove(f->repo, "os/a/img.bin", &os2k, &f->o, NULL, &err),
	    VOUCH_E_NOTFOUND);
	/* a tier key cannot change the delegations (even to add itself) */
	struct vouch_repo_rotation grab = {.role = "os", .add = appk};
	assert_int_equal(vouch_repo_rotate(f->repo, &grab, &appk, &f->o, NULL, &err),
			 VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "current targets key"));
	assert_int_equal(vouch_repo_publish(f->repo, &sk, &tsk, &f->o, NULL, &err), VOUCH_OK);

	/* root rotation: root1 out, threshold 1; signed by both old keys */
	KEYS(oldroot, f->root1, f->root2);
	const char *rm1[] = {vouch_key_id(f->root1)};
	struct vouch_repo_rotation rr = {
	    .role = "root", .remove = rm1, .nremove = 1, .threshold = 1};
	assert_int_equal(vouch_repo_rotate(f->repo, &rr, &oldroot, &f->o, NULL, &err), VOUCH_OK);
	assert_int_equal(vouch_repo_publish(f->repo, &sk, &tsk, &f->o, NULL, &err), VOUCH_OK);
	snprintf(path, sizeof(path), "%s/metadata/2.root.json", f->repo);
	assert_int_equal(access(path, F_OK), 0);
	KEYS(r1, f->root1);
	assert_int_equal(vouch_repo_sign(f->repo, "root", &r1, 1, &f->o, NULL, &err),
			 VOUCH_E_DENIED);

	/* the timestamp refresh, and expiry warnings an hour before */
	struct vouch_repo_opts later = f->o;
	later.now += 86400 - 3600;
	st = NULL;
	assert_int_equal(vouch_repo_status(f->repo, &later, &st, &err), VOUCH_OK);
	assert_false(json_is_true(json_object_get(st, "ok")));
	assert_non_null(strstr(
	    json_string_value(json_array_get(json_object_get(st, "warnings"), 0)), "timestamp"));
	json_decref(st);
	assert_int_equal(vouch_repo_timestamp(f->repo, &tsk, &later, NULL, &err), VOUCH_OK);
	assert_int_equal(vouch_repo_timestamp(f->repo, &sk, &later, NULL, &err), VOUCH_E_DENIED);
	st = NULL;
	assert_int_equal(vouch_repo_status(f->repo, &later, &st, &err), VOUCH_OK);
	assert_true(json_is_true(json_object_get(st, "ok")));
	json_decref(st);

	/* every signature went to the key usage log */
	struct vouch_buf log = {0};
	assert_int_equal(vouch_file_read(f->log, 1u << 20, &log, &err), VOUCH_OK);
	assert_non_null(strstr((char *)log.data, "sign-metadata"));
	assert_non_null(strstr((char *)log.data, "2.root.json"));
	vouch_buf_free(&log);

	assert_int_equal(vouch_repo_status("/nonexistent/repo", &f->o, &st, &err),
			 VOUCH_E_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expiry_parse),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_flow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
