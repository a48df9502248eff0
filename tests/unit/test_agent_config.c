/* vouch-agent configuration parser: accepted keys, strict refusals with
 * line numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char good[] = "# a device\n"
			   "[device]\n"
			   "id = dev-1\n"
			   "hardware = board-a\n"
			   "data-dir = /var/lib/vouch\n"
			   "[trust]\n"
			   "image-root = /etc/vouch/root.json\n"
			   "[repository]\n"
			   "metadata-url = http://127.0.0.1:8080/metadata\n"
			   "targets-url = http://127.0.0.1:8080/targets\n"
			   "retries = 2\n"
			   "[boot]\n"
			   "backend = file\n"
			   "env-file = /var/lib/vouch/bootenv\n"
			   "max-tries = 2\n"
			   "[health]\n"
			   "command = /usr/bin/true\n"
			   "timeout = 5\n"
			   "[agent]\n"
			   "poll-interval = 60\n"
			   "[tier.os]\n"
			   "channel = os/stable/\n"
			   "installer = raw\n"
			   "slot-a = /dev/mmcblk0p2\n"
			   "slot-b = /dev/mmcblk0p3\n"
			   "[tier.app]\n"
			   "channel = app/prod/\n"
			   "installer = archive\n"
			   "dir = /opt/app/current\n";

static void test_good(void **state)
{
	(void)state;
	struct agent_config *c = NULL;
	struct vouch_err err;
	assert_int_equal(agent_config_parse(good, strlen(good), &c, &err), VOUCH_OK);
	assert_string_equal(c->device_id, "dev-1");
	assert_string_equal(c->hardware, "board-a");
	assert_int_equal(c->backend, AGENT_BOOT_FILE);
	assert_int_equal(c->max_tries, 2);
	assert_int_equal(c->retries, 2);
	assert_int_equal(c->health_timeout, 5);
	assert_int_equal(c->poll_interval, 60);
	assert_int_equal(c->poll_jitter, 300); /* default */
	assert_int_equal(c->ntiers, 2);
	assert_string_equal(c->tiers[0].name, "os");
	assert_int_equal(c->tiers[0].installer, AGENT_INSTALL_RAW);
	assert_string_equal(c->tiers[1].dir, "/opt/app/current");
	assert_ptr_equal(agent_config_boot_tier(c), &c->tiers[0]);
	assert_ptr_equal(agent_config_tier(c, "app"), &c->tiers[1]);
	assert_null(agent_config_tier(c, "driver"));
	agent_config_free(c);
}

/* Replaces the first occurrence of `from` in the good config by `to` and
 * expects a refusal whose message contains `msg`. */
static void expect_refusal(const char *from, const char *to, enum vouch_rc code, const char *msg)
{
	char text[4096];
	const char *at = strstr(good, from);
	assert_non_null(at);
	size_t pre = (size_t)(at - good);
	int n = snprintf(text, sizeof(text), "%.*s%s%s", (int)pre, good, to, at + strlen(from));
	assert_true(n > 0 && (size_t)n < sizeof(text));
	struct agent_config *c = (struct agent_config *)1;
	struct vouch_err err;
	vouch_err_clear(&err);
	assert_int_equal(agent_config_parse(text, (size_t)n, &c, &err), code);
	assert_null(c);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refusal("[trust]\n", "[trusty]\n", VOUCH_E_FORMAT,
		       "line 6: unknown section [trusty]");
	expect_refusal("hardware = board-a\n", "hardwar = board-a\n", VOUCH_E_FORMAT,
		       "line 4: unknown key 'hardwar'");
	expect_refusal("id = dev-1\n", "id = dev-1\nid = dev-2\n", VOUCH_E_FORMAT,
		       "line 4: duplicate key 'id'");
	expect_refusal("retries = 2\n", "retries = 2\nretries = 3\n", VOUCH_E_FORMAT,
		       "line 12: duplicate key 'retries'");
	expect_refusal("max-tries = 2\n", "max-tries = 99\n", VOUCH_E_FORMAT,
		       "line 15: 'max-tries' must be an integer in [1, 9]");
	expect_refusal("max-tries = 2\n", "max-tries = -1\n", VOUCH_E_FORMAT,
		       "non-negative integer");
	expect_refusal("max-tries = 2\n", "max-tries = 2x\n", VOUCH_E_FORMAT, "line 15");
	expect_refusal("backend = file\n", "backend = floppy\n", VOUCH_E_FORMAT,
		       "backend must be file, uboot, grub or script");
	expect_refusal("installer = raw\n", "installer = dd\n", VOUCH_E_FORMAT,
		       "installer must be raw, archive or script");
	expect_refusal("# a device\n", "id = x\n", VOUCH_E_FORMAT, "line 1: key outside a section");
	expect_refusal("[health]\n", "[health\n", VOUCH_E_FORMAT, "section header without ']'");
	expect_refusal("timeout = 5\n", "timeout\n", VOUCH_E_FORMAT, "expected 'key = value'");
	expect_refusal("timeout = 5\n", "timeout =\n", VOUCH_E_FORMAT, "empty value");
	expect_refusal("[tier.app]\n", "[tier.os]\n", VOUCH_E_FORMAT, "duplicate section");
	expect_refusal("[tier.app]\n", "[tier.App]\n", VOUCH_E_FORMAT, "tier name");
	expect_refusal("[agent]\n", "[device]\n", VOUCH_E_FORMAT, "line 19: duplicate section");
	expect_refusal("image-root = /etc/vouch/root.json\n", "", VOUCH_E_FORMAT,
		       "missing required key [trust] image-root");
	expect_refusal("channel = app/prod/\n", "channel = os/prod/\n", VOUCH_E_FORMAT,
		       "[tier.app]: channel 'os/prod/' is not under 'app/'");
	expect_refusal("channel = os/stable/\n", "channel = osx/stable/\n", VOUCH_E_FORMAT,
		       "is not under 'os/'");
	expect_refusal("slot-b = /dev/mmcblk0p3\n", "", VOUCH_E_FORMAT,
		       "installer raw needs slot-a and slot-b");
	expect_refusal("slot-b = /dev/mmcblk0p3\n", "slot-b = /dev/mmcblk0p2\n", VOUCH_E_FORMAT,
		       "slot-a and slot-b are the same");
	expect_refusal("env-file = /var/lib/vouch/bootenv\n", "", VOUCH_E_FORMAT,
		       "backend file needs env-file");
	expect_refusal("installer = archive\ndir = /opt/app/current\n",
		       "installer = raw\nslot-a = /x\nslot-b = /y\n", VOUCH_E_FORMAT,
		       "only one tier may use installer raw");
	expect_refusal("dir = /opt/app/current\n", "", VOUCH_E_FORMAT,
		       "installer archive needs dir");
}

static void test_limits(void **state)
{
	(void)state;
	struct agent_config *c = NULL;
	struct vouch_err err;
	size_t n = AGENT_CONFIG_MAX_SIZE + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(agent_config_parse(big, n, &c, &err), VOUCH_E_LIMIT);
	/* One line longer than the line limit. */
	memset(big, 'x', AGENT_CONFIG_MAX_LINE + 10);
	assert_int_equal(agent_config_parse(big, AGENT_CONFIG_MAX_LINE + 10, &c, &err),
			 VOUCH_E_LIMIT);
	assert_non_null(strstr(err.msg, "line 1: longer than"));
	free(big);
	/* A NUL byte inside the text. */
	char nul[sizeof(good)];
	memcpy(nul, good, sizeof(good));
	nul[20] = '\0';
	assert_int_equal(agent_config_parse(nul, sizeof(good) - 1, &c, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "NUL"));
	/* More tiers than allowed. */
	char text[8192];
	size_t off = (size_t)snprintf(text, sizeof(text), "%s", good);
	for (int i = 0; i < AGENT_CONFIG_MAX_TIERS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"[tier.t%d]\nchannel = t%d/x/\ninstaller = script\n"
					"command = cat\n",
					i, i);
	assert_int_equal(agent_config_parse(text, off, &c, &err), VOUCH_E_LIMIT);
	assert_non_null(strstr(err.msg, "more than 8 tiers"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
