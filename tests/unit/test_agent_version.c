/* vouch-agent version ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "version.h"

static void test_order(void **state)
{
	(void)state;
	/* Each is strictly below the next. */
	static const char *const seq[] = {
	    "0.9",	     "1.0.0-alpha",
	    "1.0.0-alpha.1", "1.0.0-alpha.beta",
	    "1.0.0-beta",    "1.0.0-beta.2",
	    "1.0.0-beta.11", "1.0.0-rc.1",
	    "1.0.0",	     "1.0.1",
	    "1.2",	     "1.9.3",
	    "1.10.0",	     "2",
	    "10.0.0",	     "99999999999999999999.0",
	};
	size_t n = sizeof(seq) / sizeof(seq[0]);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(agent_version_cmp(seq[i], seq[i]), 0);
		for (size_t j = i + 1; j < n; j++) {
			if (agent_version_cmp(seq[i], seq[j]) >= 0)
				fail_msg("%s should be below %s", seq[i], seq[j]);
			if (agent_version_cmp(seq[j], seq[i]) <= 0)
				fail_msg("%s should be above %s", seq[j], seq[i]);
		}
	}
}

static void test_equal(void **state)
{
	(void)state;
	assert_int_equal(agent_version_cmp("1.2", "1.2.0"), 0);
	assert_int_equal(agent_version_cmp("1.02", "1.2"), 0);
	assert_int_equal(agent_version_cmp("1.2.0+build.7", "1.2.0+other"), 0);
	assert_true(agent_version_cmp("1.2.0a", "1.2.0") > 0); /* non-numeric above numeric */
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(agent_version_valid("1.2.3-rc.1+b5"));
	assert_false(agent_version_valid(""));
	assert_false(agent_version_valid("-1"));
	assert_false(agent_version_valid("1.0 beta"));
	assert_false(agent_version_valid("1/2"));
	assert_false(agent_version_valid(
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"));
}

/* Review: words and empty components would sort above every numbered
 * release (letters above digits); they are not versions. */
static void test_weird_strings_are_not_versions(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "zzz",	   "latest",	"v9.0.0",    "1.x",    "1..2", "1.2.", "1.0.0-",
	    "1.0.0-rc..1", "1.0.0-.rc", "1.0.0-rc.", "+build", "1.+b", "~1",   "1.0._",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (agent_version_valid(bad[i]))
			fail_msg("'%s' should not be a valid version", bad[i]);
	assert_true(agent_version_valid("1.2.0a"));
	assert_true(agent_version_valid("2024.01.15"));
	assert_true(agent_version_valid("1.0.0-rc.1+build.7"));
	assert_true(agent_version_valid("1.0.0-rc-1"));
	assert_true(agent_version_valid("7"));
	/* Comparing anything never crashes and is antisymmetric. */
	static const char *const any[] = {"", "-", "+", ".", "..", "1-", "1+", "-+", "zzz", "1.0"};
	for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++)
		for (size_t j = 0; j < sizeof(any) / sizeof(any[0]); j++) {
			int c1 = agent_version_cmp(any[i], any[j]);
			int c2 = agent_version_cmp(any[j], any[i]);
			assert_true((c1 > 0) == (c2 < 0) && (c1 == 0) == (c2 == 0));
		}
	assert_true(agent_version_cmp("1.10.0", "1.9.0") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_weird_strings_are_not_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
