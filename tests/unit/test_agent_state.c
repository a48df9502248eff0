/* vouch-agent durable state and boot environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "config.h"
#include "state.h"
#include "vouch/buf.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vouch-agent-test-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_state_roundtrip_and_floor(void **state)
{
	(void)state;
	struct agent_state st;
	struct vouch_err err;
	assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_OK); /* absent: empty */
	json_t *t = agent_state_tier(&st, "os");
	assert_non_null(t);
	assert_int_equal(agent_state_floor(t), 0);
	assert_int_equal(agent_state_raise_floor(t, 3, &err), VOUCH_OK);
	assert_int_equal(agent_state_raise_floor(t, 1, &err), VOUCH_OK); /* never falls */
	assert_int_equal(agent_state_floor(t), 3);
	json_t *rel = json_pack("{s:s, s:s, s:i, s:s}", "name", "os/stable/a.img", "version", "2.0",
				"security_version", 3, "target_hash", "sha256:ab");
	assert_int_equal(agent_state_mark_bad(t, rel, "health check failed (exit 1)", &err),
			 VOUCH_OK);
	assert_int_equal(agent_state_set_release(t, "running", rel, &err), VOUCH_OK);
	assert_int_equal(agent_state_save(&st, &err), VOUCH_OK);
	agent_state_free(&st);

	assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_OK);
	t = agent_state_tier(&st, "os");
	assert_int_equal(agent_state_floor(t), 3);
	assert_string_equal(agent_rel_str(agent_state_release(t, "running"), "version"), "2.0");
	assert_null(agent_state_release(t, "pending"));
	assert_string_equal(agent_state_bad_reason(t, "sha256:ab"), "health check failed (exit 1)");
	assert_null(agent_state_bad_reason(t, "sha256:cd"));
	agent_state_free(&st);
}

static json_t *bad_release(const char *version, size_t i)
{
	char name[64], hash[32];
	snprintf(name, sizeof(name), "os/stable/fw-%zu.img", i);
	snprintf(hash, sizeof(hash), "sha256:%04zx", i);
	return json_pack("{s:s, s:s, s:i, s:s}", "name", name, "version", version,
			 "security_version", 0, "target_hash", hash);
}

/* Review: the bad list is capped, but a release dropped from it must never
 * become eligible again (fail closed). */
static void test_state_full_bad_list_fails_closed(void **state)
{
	(void)state;
	struct agent_state st;
	struct vouch_err err;
	char v[32];
	assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_OK);
	json_t *t = agent_state_tier(&st, "os");
	/* The oldest entry has the highest version. */
	json_t *rel = bad_release("9.0.0", 0);
	assert_int_equal(agent_state_mark_bad(t, rel, "health check failed", &err), VOUCH_OK);
	json_decref(rel);
	for (size_t i = 1; i < AGENT_STATE_MAX_BAD; i++) {
		snprintf(v, sizeof(v), "1.%zu.0", i);
		rel = bad_release(v, i);
		assert_int_equal(agent_state_mark_bad(t, rel, "health check failed", &err),
				 VOUCH_OK);
		json_decref(rel);
	}
	/* Full but nothing dropped yet: only listed releases are refused. */
	assert_int_equal(json_array_size(json_object_get(t, "bad")), AGENT_STATE_MAX_BAD);
	assert_non_null(agent_state_bad_reason(t, "sha256:0000"));
	assert_null(agent_state_bad_dropped(t, "9.0.0"));
	assert_null(agent_state_bad_dropped(t, "0.1.0"));
	/* One more: 9.0.0 falls off the list and stays refused, with all
	 * that is not newer than it. */
	rel = bad_release("1.999.0", 999);
	assert_int_equal(agent_state_mark_bad(t, rel, "rolled back by the operator", &err),
			 VOUCH_OK);
	json_decref(rel);
	assert_int_equal(json_array_size(json_object_get(t, "bad")), AGENT_STATE_MAX_BAD);
	assert_null(agent_state_bad_reason(t, "sha256:0000"));
	assert_string_equal(agent_state_bad_dropped(t, "9.0.0"), "9.0.0");
	assert_string_equal(agent_state_bad_dropped(t, "9.0.0+build.7"), "9.0.0");
	assert_string_equal(agent_state_bad_dropped(t, "9.0.0-rc.1"), "9.0.0");
	assert_string_equal(agent_state_bad_dropped(t, "2.0.0"), "9.0.0");
	assert_string_equal(agent_state_bad_dropped(t, NULL), "9.0.0");
	assert_null(agent_state_bad_dropped(t, "9.0.1"));
	assert_null(agent_state_bad_dropped(t, "10.0.0"));
	/* Dropping a lower version later never lowers the mark. */
	rel = bad_release("1.1000.0", 1000);
	assert_int_equal(agent_state_mark_bad(t, rel, "health check failed", &err), VOUCH_OK);
	json_decref(rel);
	assert_null(agent_state_bad_reason(t, "sha256:0001")); /* 1.1.0 dropped */
	assert_string_equal(agent_state_bad_dropped(t, "1.1.0"), "9.0.0");
	assert_string_equal(agent_state_bad_dropped(t, "8.0.0"), "9.0.0");
	/* It survives a save and a load. */
	assert_int_equal(agent_state_save(&st, &err), VOUCH_OK);
	agent_state_free(&st);
	assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_OK);
	t = agent_state_tier(&st, "os");
	assert_int_equal(json_array_size(json_object_get(t, "bad")), AGENT_STATE_MAX_BAD);
	assert_string_equal(agent_state_bad_dropped(t, "9.0.0"), "9.0.0");
	assert_null(agent_state_bad_dropped(t, "9.1.0"));
	agent_state_free(&st);
}

static void write_state(const char *text)
{
	char path[128];
	struct vouch_err err;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(vouch_file_write_atomic(path, text, strlen(text), 0644, &err), VOUCH_OK);
}

static void test_state_refuses_damage(void **state)
{
	(void)state;
	struct agent_state st;
	struct vouch_err err;
	static const char *const bad[] = {
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": -1}}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": \"2\"}}}",
	    "{\"format\": 2, \"tiers\": {}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"running\": 3}}}",
	    "{\"format\": 1, \"tiers\": {}, \"tiers\": {}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1}}",
	    /* Review: release records commit/fall back act on. */
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"pending\": {\"name\": "
	    "\"n\", \"version\": \"1\", \"target_hash\": \"h\", \"security_version\": 1, "
	    "\"slot\": \"c\"}}}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"running\": {\"name\": "
	    "\"n\", \"version\": \"1\", \"target_hash\": \"h\", \"security_version\": "
	    "\"1\"}}}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"previous\": {\"name\": "
	    "\"n\", \"target_hash\": \"h\", \"security_version\": 1}}}}",
	    /* Review: a bad entry that could not be refused once dropped. */
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"bad\": [{\"target_hash\": "
	    "\"h\"}]}}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"bad\": [3]}}}",
	    "{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 1, \"bad_dropped_version\": "
	    "2}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_state(bad[i]);
		vouch_err_clear(&err);
		assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_E_FORMAT);
		assert_true(strlen(err.msg) > 0);
	}
}

/* Review: a state that load would refuse as damaged is never written. */
static void test_state_save_never_writes_what_load_refuses(void **state)
{
	(void)state;
	struct agent_state st;
	struct vouch_err err;
	char path[128];
	write_state("{\"format\": 1, \"tiers\": {\"os\": {\"floor\": 7}}}");
	assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_OK);
	json_t *t = agent_state_tier(&st, "os");
	size_t big = AGENT_STATE_MAX_SIZE + 10;
	char *huge = malloc(big + 1);
	assert_non_null(huge);
	memset(huge, 'x', big);
	huge[big] = '\0';
	assert_int_equal(json_object_set_new(t, "last_check", json_pack("{s:s}", "message", huge)),
			 0);
	free(huge);
	assert_int_equal(agent_state_save(&st, &err), VOUCH_E_LIMIT);
	agent_state_free(&st);
	/* The previous file is intact and loads. */
	assert_int_equal(agent_state_load(dir, &st, &err), VOUCH_OK);
	assert_int_equal(agent_state_floor(agent_state_tier(&st, "os")), 7);
	agent_state_free(&st);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
}

static void test_bootenv(void **state)
{
	(void)state;
	struct agent_bootenv env;
	struct vouch_err err;
	memset(&env, 0, sizeof(env));
	const char text[] = "# c\nvouch_active=b\nother=x y\n";
	assert_int_equal(agent_bootenv_parse(text, sizeof(text) - 1, &env, &err), VOUCH_OK);
	assert_string_equal(agent_boot_active(&env), "b");
	assert_string_equal(agent_boot_booted(&env), "b");
	assert_string_equal(agent_bootenv_get(&env, "other"), "x y");
	assert_int_equal(agent_bootenv_set(&env, "other", "", &err), VOUCH_OK);
	assert_string_equal(agent_bootenv_get(&env, "other"), "");
	assert_int_equal(agent_bootenv_set(&env, "bad key", "1", &err), VOUCH_E_FORMAT);
	assert_int_equal(agent_bootenv_set(&env, "k", "line\nbreak", &err), VOUCH_E_FORMAT);
	agent_bootenv_free(&env);
	const char dup[] = "a=1\na=2\n";
	assert_int_equal(agent_bootenv_parse(dup, sizeof(dup) - 1, &env, &err), VOUCH_E_FORMAT);
	agent_bootenv_free(&env);
	const char noeq[] = "a\n";
	assert_int_equal(agent_bootenv_parse(noeq, sizeof(noeq) - 1, &env, &err), VOUCH_E_FORMAT);
	agent_bootenv_free(&env);
}

/* The simulated bootloader: trial boots count down, then fall back. */
static void test_boot_simulate(void **state)
{
	(void)state;
	struct agent_config cfg;
	struct agent_bootenv env;
	struct vouch_err err;
	char path[128];
	const char *slot = NULL;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(path, sizeof(path), "%s/bootenv", dir);
	cfg.backend = AGENT_BOOT_FILE;
	cfg.env_file = path;

	assert_int_equal(agent_boot_simulate(&cfg, &slot, &err), VOUCH_OK);
	assert_string_equal(slot, "a"); /* a fresh device boots a */

	assert_int_equal(agent_boot_load(&cfg, &env, &err), VOUCH_OK);
	assert_int_equal(agent_bootenv_set(&env, "vouch_trial", "b", &err), VOUCH_OK);
	assert_int_equal(agent_bootenv_set(&env, "vouch_tries", "2", &err), VOUCH_OK);
	assert_int_equal(agent_boot_store(&cfg, &env, &err), VOUCH_OK);
	agent_bootenv_free(&env);

	assert_int_equal(agent_boot_simulate(&cfg, &slot, &err), VOUCH_OK);
	assert_string_equal(slot, "b");
	assert_int_equal(agent_boot_simulate(&cfg, &slot, &err), VOUCH_OK);
	assert_string_equal(slot, "b");
	assert_int_equal(agent_boot_simulate(&cfg, &slot, &err), VOUCH_OK);
	assert_string_equal(slot, "a"); /* tries exhausted: fall back */
	assert_int_equal(agent_boot_load(&cfg, &env, &err), VOUCH_OK);
	assert_string_equal(agent_bootenv_get(&env, "vouch_trial"), "b");
	assert_int_equal(agent_boot_tries(&env), 0);
	assert_string_equal(agent_boot_booted(&env), "a");
	agent_bootenv_free(&env);

	cfg.backend = AGENT_BOOT_GRUB;
	assert_int_equal(agent_boot_simulate(&cfg, &slot, &err), VOUCH_E_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_state_roundtrip_and_floor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_full_bad_list_fails_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_refuses_damage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_save_never_writes_what_load_refuses, setup,
					    teardown),
	    cmocka_unit_test(test_bootenv),
	    cmocka_unit_test_setup_teardown(test_boot_simulate, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
