#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vouch/buf.h"
#include "vouch/error.h"

static void test_set_and_prefix(void **state)
{
	(void)state;
	struct vouch_err err;
	vouch_err_clear(&err);
	assert_int_equal(vouch_err_set(&err, VOUCH_E_VERIFY,
				       "signature threshold %d not met (%d valid of %d)", 2, 1, 3),
			 VOUCH_E_VERIFY);
	vouch_err_prefix(&err, "%s: ", "targets.json");
	assert_int_equal(err.code, VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "targets.json: signature threshold 2 not met (1 valid of 3)");
}

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(vouch_rc_exit_code(VOUCH_OK), 0);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_VERIFY), 1);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_ROLLBACK), 1);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_AUTH), 1);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_USAGE), 2);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_UNSUPPORTED), 2);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_IO), 3);
	assert_int_equal(vouch_rc_exit_code(VOUCH_E_INTERNAL), 3);
	assert_string_equal(vouch_rc_name(VOUCH_E_EXPIRED), "expired");
}

static void test_null_err_is_safe(void **state)
{
	(void)state;
	assert_int_equal(vouch_err_set(NULL, VOUCH_E_IO, "x"), VOUCH_E_IO);
	vouch_err_prefix(NULL, "y");
}

static void test_long_message_truncates(void **state)
{
	(void)state;
	struct vouch_err err;
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	vouch_err_set(&err, VOUCH_E_FORMAT, "%s", big);
	assert_int_equal(strlen(err.msg), VOUCH_ERR_MSG_MAX - 1);
	vouch_err_prefix(&err, "ctx: ");
	assert_memory_equal(err.msg, "ctx: aaa", 8);
	assert_int_equal(strlen(err.msg), VOUCH_ERR_MSG_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_and_prefix),
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_null_err_is_safe),
	    cmocka_unit_test(test_long_message_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
