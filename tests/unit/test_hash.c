/* Unit tests of hash.c: SHA-256 and SHA-512 against the FIPS 180 known
 * answers, streaming equal to one-shot, and vouch_hash_file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vouch/encoding.h"
#include "vouch/error.h"
#include "vouch/hash.h"

/* FIPS 180-2 appendix B/C examples (and NIST's empty-message values). */
#define ABC "abc"
#define TWO_BLOCK "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_TWO_BLOCK "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA256_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA512_ABC                                                                                 \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c2"  \
	"3a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
#define SHA512_EMPTY                                                                               \
	"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d"  \
	"2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_MILLION_A                                                                           \
	"e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432"  \
	"ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"

static void assert_hex(const uint8_t *d, size_t n, const char *want)
{
	char hex[2 * VOUCH_SHA512_LEN + 1];
	assert_true(n <= VOUCH_SHA512_LEN);
	vouch_hex_encode(d, n, hex);
	assert_string_equal(hex, want);
}

static void test_one_shot_known_answers(void **state)
{
	(void)state;
	uint8_t d256[VOUCH_SHA256_LEN], d512[VOUCH_SHA512_LEN];
	vouch_sha256(ABC, 3, d256);
	assert_hex(d256, sizeof(d256), SHA256_ABC);
	vouch_sha256("", 0, d256);
	assert_hex(d256, sizeof(d256), SHA256_EMPTY);
	vouch_sha256(TWO_BLOCK, strlen(TWO_BLOCK), d256);
	assert_hex(d256, sizeof(d256), SHA256_TWO_BLOCK);
	vouch_sha512(ABC, 3, d512);
	assert_hex(d512, sizeof(d512), SHA512_ABC);
	vouch_sha512("", 0, d512);
	assert_hex(d512, sizeof(d512), SHA512_EMPTY);
}

static void test_streaming_known_answers(void **state)
{
	(void)state;
	struct vouch_err err = {0};
	struct vouch_hasher *h = NULL;
	struct vouch_digests d;

	/* Empty stream. */
	assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &h, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
	assert_int_equal(d.algs, VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512);
	assert_int_equal(d.length, 0);
	assert_hex(d.sha256, sizeof(d.sha256), SHA256_EMPTY);
	assert_hex(d.sha512, sizeof(d.sha512), SHA512_EMPTY);
	vouch_hasher_free(h);

	/* "abc" one byte at a time. */
	assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &h, &err),
			 VOUCH_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vouch_hasher_update(h, ABC + i, 1, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
	assert_int_equal(d.length, 3);
	assert_hex(d.sha256, sizeof(d.sha256), SHA256_ABC);
	assert_hex(d.sha512, sizeof(d.sha512), SHA512_ABC);
	vouch_hasher_free(h);

	/* One million 'a' in chunks of 999. */
	static char chunk[999];
	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &h, &err),
			 VOUCH_OK);
	size_t left = 1000000;
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
		assert_int_equal(vouch_hasher_update(h, chunk, n, &err), VOUCH_OK);
		left -= n;
	}
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
	assert_int_equal(d.length, 1000000);
	assert_hex(d.sha256, sizeof(d.sha256), SHA256_MILLION_A);
	assert_hex(d.sha512, sizeof(d.sha512), SHA512_MILLION_A);
	vouch_hasher_free(h);
}

static void test_streaming_odd_chunks_equal_one_shot(void **state)
{
	(void)state;
	static uint8_t data[10007];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	uint8_t want256[VOUCH_SHA256_LEN], want512[VOUCH_SHA512_LEN];
	vouch_sha256(data, sizeof(data), want256);
	vouch_sha512(data, sizeof(data), want512);
	static const size_t sizes[] = {1,   3,	 7,   55,  56,	63,   64,  65,
				       111, 112, 127, 128, 129, 1000, 4099};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct vouch_err err = {0};
		struct vouch_hasher *h = NULL;
		struct vouch_digests d;
		assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &h, &err),
				 VOUCH_OK);
		/* Vary the chunk size within one stream as well. */
		size_t off = 0, k = 0;
		while (off < sizeof(data)) {
			size_t n = sizes[s] + (k++ % 3);
			if (n > sizeof(data) - off)
				n = sizeof(data) - off;
			assert_int_equal(vouch_hasher_update(h, data + off, n, &err), VOUCH_OK);
			assert_int_equal(vouch_hasher_update(h, data + off, 0, &err), VOUCH_OK);
			off += n;
		}
		assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
		assert_int_equal(d.length, sizeof(data));
		assert_memory_equal(d.sha256, want256, sizeof(want256));
		assert_memory_equal(d.sha512, want512, sizeof(want512));
		vouch_hasher_free(h);
	}
}

static void test_single_algorithm(void **state)
{
	(void)state;
	struct vouch_err err = {0};
	struct vouch_hasher *h = NULL;
	struct vouch_digests d;
	const uint8_t zero[VOUCH_SHA512_LEN] = {0};
	assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA256, &h, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_update(h, ABC, 3, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
	assert_int_equal(d.algs, VOUCH_HASH_SHA256);
	assert_hex(d.sha256, sizeof(d.sha256), SHA256_ABC);
	assert_memory_equal(d.sha512, zero, sizeof(zero));
	vouch_hasher_free(h);

	assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA512, &h, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_update(h, ABC, 3, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
	assert_int_equal(d.algs, VOUCH_HASH_SHA512);
	assert_hex(d.sha512, sizeof(d.sha512), SHA512_ABC);
	assert_memory_equal(d.sha256, zero, sizeof(d.sha256));
	vouch_hasher_free(h);
	vouch_hasher_free(NULL);
}

static void test_hasher_misuse(void **state)
{
	(void)state;
	struct vouch_err err = {0};
	struct vouch_hasher *h = NULL;
	struct vouch_digests d;
	assert_int_equal(vouch_hasher_new(0, &h, &err), VOUCH_E_USAGE);
	assert_int_equal(err.code, VOUCH_E_USAGE);
	assert_string_equal(err.msg, "no hash algorithm selected");
	assert_null(h);
	assert_int_equal(vouch_hasher_new(4, &h, &err), VOUCH_E_USAGE);
	assert_null(h);

	/* Finished means finished: no silent reuse of a spent context. */
	assert_int_equal(vouch_hasher_new(VOUCH_HASH_SHA256, &h, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_OK);
	assert_int_equal(vouch_hasher_update(h, ABC, 3, &err), VOUCH_E_INTERNAL);
	assert_string_equal(err.msg, "hash already finished");
	vouch_err_clear(&err);
	assert_int_equal(vouch_hasher_final(h, &d, &err), VOUCH_E_INTERNAL);
	assert_string_equal(err.msg, "hash already finished");
	vouch_hasher_free(h);
}

static void test_hash_file(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX + 16], msg[PATH_MAX + 64];
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/vouch-test-hash.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	struct vouch_err err = {0};
	struct vouch_digests d;

	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(vouch_hash_file(path, VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &d, &err),
			 VOUCH_OK);
	assert_int_equal(d.length, 0);
	assert_hex(d.sha256, sizeof(d.sha256), SHA256_EMPTY);
	assert_hex(d.sha512, sizeof(d.sha512), SHA512_EMPTY);

	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(ABC, 1, 3, f), 3);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(vouch_hash_file(path, VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &d, &err),
			 VOUCH_OK);
	assert_int_equal(d.length, 3);
	assert_hex(d.sha256, sizeof(d.sha256), SHA256_ABC);
	assert_hex(d.sha512, sizeof(d.sha512), SHA512_ABC);

	/* Larger than the read buffer, not a multiple of it. */
	size_t big = 3 * 256 * 1024 + 12345;
	uint8_t *data = malloc(big);
	assert_non_null(data);
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i ^ (i >> 9));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, big, f), big);
	assert_int_equal(fclose(f), 0);
	uint8_t want256[VOUCH_SHA256_LEN], want512[VOUCH_SHA512_LEN];
	vouch_sha256(data, big, want256);
	vouch_sha512(data, big, want512);
	free(data);
	assert_int_equal(vouch_hash_file(path, VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &d, &err),
			 VOUCH_OK);
	assert_int_equal(d.length, big);
	assert_memory_equal(d.sha256, want256, sizeof(want256));
	assert_memory_equal(d.sha512, want512, sizeof(want512));

	assert_int_equal(unlink(path), 0);
	assert_int_equal(vouch_hash_file(path, VOUCH_HASH_SHA256, &d, &err), VOUCH_E_NOTFOUND);
	assert_int_equal(err.code, VOUCH_E_NOTFOUND);
	snprintf(msg, sizeof(msg), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err.msg, msg);

	assert_int_equal(vouch_hash_file(dir, VOUCH_HASH_SHA256, &d, &err), VOUCH_E_IO);
	snprintf(msg, sizeof(msg), "%s: read: Is a directory", dir);
	assert_string_equal(err.msg, msg);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_shot_known_answers),
	    cmocka_unit_test(test_streaming_known_answers),
	    cmocka_unit_test(test_streaming_odd_chunks_equal_one_shot),
	    cmocka_unit_test(test_single_algorithm),
	    cmocka_unit_test(test_hasher_misuse),
	    cmocka_unit_test(test_hash_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
