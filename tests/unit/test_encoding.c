/* Unit tests of encoding.c: hex and strict base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vouch/encoding.h"
#include "vouch/error.h"

static void test_hex_encode(void **state)
{
	(void)state;
	char out[9];
	const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
	vouch_hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "0001abff");
	vouch_hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

static void test_hex_round_trip(void **state)
{
	(void)state;
	uint8_t all[256], back[256];
	char hex[513];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	vouch_hex_encode(all, sizeof(all), hex);
	assert_int_equal(strlen(hex), 512);
	size_t n = 0;
	struct vouch_err err = {0};
	assert_int_equal(vouch_hex_decode(hex, 512, back, sizeof(back), &n, &err), VOUCH_OK);
	assert_int_equal(n, 256);
	assert_memory_equal(all, back, 256);

	/* Either case decodes. */
	uint8_t two[2];
	assert_int_equal(vouch_hex_decode("AbCd", 4, two, sizeof(two), &n, &err), VOUCH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(two[0], 0xab);
	assert_int_equal(two[1], 0xcd);

	/* Empty. */
	assert_int_equal(vouch_hex_decode("", 0, two, sizeof(two), &n, &err), VOUCH_OK);
	assert_int_equal(n, 0);
}

static void test_hex_odd_length(void **state)
{
	(void)state;
	uint8_t out[8];
	size_t n = 99;
	struct vouch_err err = {0};
	assert_int_equal(vouch_hex_decode("abc", 3, out, sizeof(out), &n, &err), VOUCH_E_FORMAT);
	assert_int_equal(err.code, VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "hex string has an odd length (3)");
	assert_int_equal(n, 99);
}

static void test_hex_bad_char(void **state)
{
	(void)state;
	uint8_t out[8];
	size_t n = 0;
	struct vouch_err err = {0};
	static const struct {
		const char *in;
		const char *msg;
	} cases[] = {
	    {"g0", "invalid hex character at offset 0"},
	    {"0g", "invalid hex character at offset 1"},
	    {"00zz", "invalid hex character at offset 2"},
	    {"00 1", "invalid hex character at offset 2"},
	    {"0x12", "invalid hex character at offset 1"},
	    {"+1", "invalid hex character at offset 0"},
	    {"1\xff", "invalid hex character at offset 1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vouch_err_clear(&err);
		assert_int_equal(
		    vouch_hex_decode(cases[i].in, strlen(cases[i].in), out, sizeof(out), &n, &err),
		    VOUCH_E_FORMAT);
		assert_int_equal(err.code, VOUCH_E_FORMAT);
		assert_string_equal(err.msg, cases[i].msg);
	}
	/* An embedded NUL is a bad character, not the end of the string. */
	assert_int_equal(vouch_hex_decode("00\0"
					  "0",
					  4, out, sizeof(out), &n, &err),
			 VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "invalid hex character at offset 2");
}

static void test_hex_too_long(void **state)
{
	(void)state;
	uint8_t out[2];
	size_t n = 0;
	struct vouch_err err = {0};
	assert_int_equal(vouch_hex_decode("001122", 6, out, sizeof(out), &n, &err), VOUCH_E_LIMIT);
	assert_int_equal(err.code, VOUCH_E_LIMIT);
	assert_string_equal(err.msg, "hex string too long (6 digits, max 4)");
}

/* RFC 4648 section 10. */
static const struct {
	const char *plain;
	const char *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_rfc4648(void **state)
{
	(void)state;
	struct vouch_err err = {0};
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		char *enc = NULL;
		uint8_t *dec = NULL;
		size_t n = 99;
		const char *p = rfc4648[i].plain;
		assert_int_equal(vouch_base64_encode((const uint8_t *)p, strlen(p), &enc, &err),
				 VOUCH_OK);
		assert_string_equal(enc, rfc4648[i].b64);
		assert_int_equal(
		    vouch_base64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), &dec, &n, &err),
		    VOUCH_OK);
		assert_int_equal(n, strlen(p));
		if (n > 0)
			assert_memory_equal(dec, p, (int)n);
		free(enc);
		free(dec);
	}
}

static void test_base64_round_trip_lengths(void **state)
{
	(void)state;
	struct vouch_err err = {0};
	uint8_t in[300];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 131 + 7);
	for (size_t len = 0; len <= sizeof(in); len++) {
		char *enc = NULL;
		uint8_t *dec = NULL;
		size_t n = 0;
		assert_int_equal(vouch_base64_encode(in, len, &enc, &err), VOUCH_OK);
		assert_int_equal(strlen(enc), 4 * ((len + 2) / 3));
		assert_int_equal(vouch_base64_decode(enc, strlen(enc), &dec, &n, &err), VOUCH_OK);
		assert_int_equal(n, len);
		if (len > 0)
			assert_memory_equal(dec, in, (int)len);
		free(enc);
		free(dec);
	}
}

static void expect_b64_error(const char *in, size_t n, const char *msg)
{
	struct vouch_err err = {0};
	uint8_t *dec = (uint8_t *)&err; /* must stay untouched */
	size_t outlen = 12345;
	assert_int_equal(vouch_base64_decode(in, n, &dec, &outlen, &err), VOUCH_E_FORMAT);
	assert_int_equal(err.code, VOUCH_E_FORMAT);
	assert_string_equal(err.msg, msg);
	assert_ptr_equal(dec, (uint8_t *)&err);
	assert_int_equal(outlen, 12345);
}

static void test_base64_bad_length(void **state)
{
	(void)state;
	expect_b64_error("Zg=", 3, "base64 length 3 is not a multiple of 4");
	expect_b64_error("Zg", 2, "base64 length 2 is not a multiple of 4");
	expect_b64_error("Zm9vY", 5, "base64 length 5 is not a multiple of 4");
	/* Padding is required. */
	expect_b64_error("Zm9vYg", 6, "base64 length 6 is not a multiple of 4");
}

static void test_base64_bad_padding(void **state)
{
	(void)state;
	expect_b64_error("Z===", 4, "invalid base64 character at offset 1");
	expect_b64_error("====", 4, "invalid base64 character at offset 0");
	expect_b64_error("=Zg=", 4, "invalid base64 character at offset 0");
	expect_b64_error("Zg=a", 4, "invalid base64 character at offset 2");
	expect_b64_error("Z=g=", 4, "invalid base64 character at offset 1");
	/* Padding only at the very end, not between quanta. */
	expect_b64_error("Zg==Zm9v", 8, "invalid base64 character at offset 2");
	expect_b64_error("Zm8=Zm9v", 8, "invalid base64 character at offset 3");
}

static void test_base64_bad_chars(void **state)
{
	(void)state;
	expect_b64_error("Zm-_", 4, "invalid base64 character at offset 2"); /* base64url */
	expect_b64_error("Zm9\n", 4, "invalid base64 character at offset 3");
	expect_b64_error(" Zm9", 4, "invalid base64 character at offset 0");
	expect_b64_error("Zm 9", 4, "invalid base64 character at offset 2");
	expect_b64_error("Zg\0=", 4, "invalid base64 character at offset 2");
	expect_b64_error("Zm9\x80", 4, "invalid base64 character at offset 3");
	expect_b64_error("Zm9vYmFy\r\n==", 12, "invalid base64 character at offset 8");
}

static void test_base64_non_canonical(void **state)
{
	(void)state;
	/* "Zg==" is the only encoding of "f": other values of the unused low
	 * bits would let one byte string have several encodings. */
	expect_b64_error("Zh==", 4, "non-canonical base64 (unused bits set before padding)");
	expect_b64_error("Zv==", 4, "non-canonical base64 (unused bits set before padding)");
	expect_b64_error("Zm9=", 4, "non-canonical base64 (unused bits set before padding)");
	expect_b64_error("Zm/=", 4, "non-canonical base64 (unused bits set before padding)");
	/* The canonical neighbours decode. */
	struct vouch_err err = {0};
	uint8_t *dec = NULL;
	size_t n = 0;
	assert_int_equal(vouch_base64_decode("Zm8=", 4, &dec, &n, &err), VOUCH_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(dec, "fo", 2);
	free(dec);
	assert_int_equal(vouch_base64_decode("//8=", 4, &dec, &n, &err), VOUCH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(dec[0], 0xff);
	assert_int_equal(dec[1], 0xff);
	free(dec);
	assert_int_equal(vouch_base64_decode("/w==", 4, &dec, &n, &err), VOUCH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(dec[0], 0xff);
	free(dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hex_encode),
	    cmocka_unit_test(test_hex_round_trip),
	    cmocka_unit_test(test_hex_odd_length),
	    cmocka_unit_test(test_hex_bad_char),
	    cmocka_unit_test(test_hex_too_long),
	    cmocka_unit_test(test_base64_rfc4648),
	    cmocka_unit_test(test_base64_round_trip_lengths),
	    cmocka_unit_test(test_base64_bad_length),
	    cmocka_unit_test(test_base64_bad_padding),
	    cmocka_unit_test(test_base64_bad_chars),
	    cmocka_unit_test(test_base64_non_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
