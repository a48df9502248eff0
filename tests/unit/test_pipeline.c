/* The streaming install pipeline, over file:// URLs: signed length and
 * hashes enforced, a stage's output checked, the re-read of a slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/pipeline.h"

#define SIZE (300u * 1024 + 17)

static char dir[64];
static char path[128];
static char url[160];
static uint8_t *data;

static int setup(void **state)
{
	(void)state;
	struct vouch_err err;
	snprintf(dir, sizeof(dir), "/tmp/vouch-pipeline-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/image", dir);
	snprintf(url, sizeof(url), "file://%s", path);
	data = malloc(SIZE);
	if (data == NULL)
		return -1;
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	return vouch_file_write_atomic(path, data, SIZE, 0644, &err) == VOUCH_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	free(data);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* {"sha256": hex, "sha512": hex} of buf[0..n), optionally one bit off. */
static json_t *hashes_of(const uint8_t *buf, size_t n, int corrupt)
{
	uint8_t d256[VOUCH_SHA256_LEN], d512[VOUCH_SHA512_LEN];
	char h256[2 * VOUCH_SHA256_LEN + 1], h512[2 * VOUCH_SHA512_LEN + 1];
	vouch_sha256(buf, n, d256);
	vouch_sha512(buf, n, d512);
	if (corrupt)
		d512[5] ^= 1;
	vouch_hex_encode(d256, sizeof(d256), h256);
	vouch_hex_encode(d512, sizeof(d512), h512);
	return json_pack("{s:s, s:s}", "sha256", h256, "sha512", h512);
}

static enum vouch_rc to_buf(void *ctx, const void *p, size_t n, struct vouch_err *err)
{
	return vouch_buf_append(ctx, p, n, err);
}

static void opts(struct vouch_pipeline_opts *o, json_t *h, uint64_t length)
{
	vouch_pipeline_opts_default(o);
	o->url = url;
	o->length = length;
	o->hashes = h;
	o->retries = 0;
	o->label = "image";
}

static void test_good(void **state)
{
	(void)state;
	struct vouch_pipeline_opts o;
	struct vouch_pipeline_result res;
	struct vouch_buf out = {0};
	struct vouch_err err;
	uint8_t d[VOUCH_SHA256_LEN];
	json_t *h = hashes_of(data, SIZE, 0);
	opts(&o, h, SIZE);
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_OK);
	assert_int_equal(out.len, SIZE);
	assert_memory_equal(out.data, data, SIZE);
	assert_int_equal(res.out_length, SIZE);
	vouch_sha256(data, SIZE, d);
	assert_memory_equal(res.out_sha256, d, sizeof(d));
	/* The slot re-read: the same bytes pass, one changed byte does not. */
	assert_int_equal(vouch_pipeline_verify_file(path, SIZE, d, &err), VOUCH_OK);
	d[0] ^= 1;
	assert_int_equal(vouch_pipeline_verify_file(path, SIZE, d, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "re-read sha256 mismatch"));
	assert_int_equal(vouch_pipeline_verify_file(path, SIZE + 1, d, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "slot ends early"));
	vouch_buf_free(&out);
	json_decref(h);
}

static void test_wrong_hash(void **state)
{
	(void)state;
	struct vouch_pipeline_opts o;
	struct vouch_pipeline_result res;
	struct vouch_buf out = {0};
	struct vouch_err err;
	/* Only the sha512 (computed on the second thread) is wrong. */
	json_t *h = hashes_of(data, SIZE, 1);
	opts(&o, h, SIZE);
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "sha512"));
	vouch_buf_free(&out);
	json_decref(h);
	h = json_pack("{s:s}", "md5", "00");
	opts(&o, h, SIZE);
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_UNSUPPORTED);
	vouch_buf_free(&out);
	json_decref(h);
}

static void test_length_is_a_cap(void **state)
{
	(void)state;
	struct vouch_pipeline_opts o;
	struct vouch_pipeline_result res;
	struct vouch_buf out = {0};
	struct vouch_err err;
	/* Signed shorter than served: endless data is cut at the signed length. */
	json_t *h = hashes_of(data, 1000, 0);
	opts(&o, h, 1000);
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_LIMIT);
	assert_true(out.len <= 1000);
	vouch_buf_free(&out);
	json_decref(h);
	/* Signed longer than served: the transfer ends early and fails. */
	uint8_t *more = calloc(1, SIZE + 10);
	assert_non_null(more);
	memcpy(more, data, SIZE);
	h = hashes_of(more, SIZE + 10, 0);
	opts(&o, h, SIZE + 10);
	assert_int_not_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_OK);
	free(more);
	vouch_buf_free(&out);
	json_decref(h);
}

/* A toy stage (bytes XOR 0x5a) standing in for the decryptor. */
static enum vouch_rc xor_update(void *ctx, const void *in, size_t n, vouch_pipeline_write_fn emit,
				void *emit_ctx, struct vouch_err *err)
{
	(void)ctx;
	uint8_t tmp[4096];
	const uint8_t *p = in;
	while (n > 0) {
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
		for (size_t i = 0; i < k; i++)
			tmp[i] = p[i] ^ 0x5a;
		enum vouch_rc rc = emit(emit_ctx, tmp, k, err);
		if (rc != VOUCH_OK)
			return rc;
		p += k;
		n -= k;
	}
	return VOUCH_OK;
}

static enum vouch_rc xor_final(void *ctx, vouch_pipeline_write_fn emit, void *emit_ctx,
			       struct vouch_err *err)
{
	(void)ctx;
	(void)emit;
	(void)emit_ctx;
	(void)err;
	return VOUCH_OK;
}

static void test_stage_output_checked(void **state)
{
	(void)state;
	struct vouch_pipeline_opts o;
	struct vouch_pipeline_result res;
	struct vouch_buf out = {0};
	struct vouch_err err;
	struct vouch_pipeline_stage st = {NULL, xor_update, xor_final};
	uint8_t *plain = malloc(SIZE);
	uint8_t want[VOUCH_SHA256_LEN];
	assert_non_null(plain);
	for (size_t i = 0; i < SIZE; i++)
		plain[i] = data[i] ^ 0x5a;
	vouch_sha256(plain, SIZE, want);
	json_t *h = hashes_of(data, SIZE, 0);
	opts(&o, h, SIZE);
	o.stage = &st;
	o.out_length = SIZE;
	o.out_sha256 = want;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_OK);
	assert_memory_equal(out.data, plain, SIZE);
	assert_memory_equal(res.out_sha256, want, sizeof(want));
	vouch_buf_free(&out);
	/* The signed plaintext hash differs: refused after the last byte. */
	want[3] ^= 1;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "does not match its signed length and sha256"));
	vouch_buf_free(&out);
	/* More output than the signed plaintext length. */
	want[3] ^= 1;
	o.out_length = SIZE - 1;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_VERIFY);
	vouch_buf_free(&out);
	/* With a stage the hashing thread computes every signed input hash:
	 * a wrong sha256 of the input is still refused. */
	uint8_t d256[VOUCH_SHA256_LEN];
	char hex[2 * VOUCH_SHA256_LEN + 1];
	vouch_sha256(data, SIZE, d256);
	d256[0] ^= 1;
	vouch_hex_encode(d256, sizeof(d256), hex);
	json_t *bad = json_pack("{s:s}", "sha256", hex);
	opts(&o, bad, SIZE);
	o.stage = &st;
	o.out_length = SIZE;
	o.out_sha256 = want;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "sha256"));
	vouch_buf_free(&out);
	json_decref(bad);
	free(plain);
	json_decref(h);
}

/* out_checked_by_reread (the raw installer with decryption): the output is
 * not hashed while it streams, so a wrong signed plaintext sha256 passes
 * the run and must be caught by the re-read of what was written, which is
 * checked against the signed value the run hands back; the plaintext
 * length is still enforced by the run; the input hashes, now split
 * between the two threads, are still all checked; and the option is
 * refused without a stage or an expected sha256. */
static void test_output_checked_by_reread(void **state)
{
	(void)state;
	struct vouch_pipeline_opts o;
	struct vouch_pipeline_result res;
	struct vouch_buf out = {0};
	struct vouch_err err;
	struct vouch_pipeline_stage st = {NULL, xor_update, xor_final};
	char slot[160];
	uint8_t *plain = malloc(SIZE);
	uint8_t want[VOUCH_SHA256_LEN];
	assert_non_null(plain);
	snprintf(slot, sizeof(slot), "%s/reread-slot", dir);
	for (size_t i = 0; i < SIZE; i++)
		plain[i] = data[i] ^ 0x5a;
	vouch_sha256(plain, SIZE, want);
	json_t *h = hashes_of(data, SIZE, 0);
	opts(&o, h, SIZE);
	o.stage = &st;
	o.out_length = SIZE;
	o.out_sha256 = want;
	o.out_checked_by_reread = 1;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_OK);
	assert_int_equal(res.out_length, SIZE);
	assert_memory_equal(out.data, plain, SIZE);
	assert_memory_equal(res.out_sha256, want, sizeof(want));
	assert_int_equal(vouch_file_write_atomic(slot, out.data, out.len, 0644, &err), VOUCH_OK);
	assert_int_equal(vouch_pipeline_verify_file(slot, res.out_length, res.out_sha256, &err),
			 VOUCH_OK);
	vouch_buf_free(&out);

	/* A wrong signed plaintext sha256: the run cannot see it, the re-read
	 * of the written bytes against the value it returns refuses. */
	want[7] ^= 1;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_OK);
	assert_memory_equal(res.out_sha256, want, sizeof(want));
	assert_int_equal(vouch_file_write_atomic(slot, out.data, out.len, 0644, &err), VOUCH_OK);
	assert_int_equal(vouch_pipeline_verify_file(slot, res.out_length, res.out_sha256, &err),
			 VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "re-read sha256 mismatch"));
	want[7] ^= 1;
	vouch_buf_free(&out);

	/* A wrong signed plaintext length: shorter is refused while
	 * streaming, longer (and zero) at the end or at the first byte. */
	const uint64_t lens[] = {SIZE - 1, 1, SIZE + 1, 0};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		o.out_length = lens[i];
		assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_VERIFY);
		assert_true(strstr(err.msg, "more output than the expected") != NULL ||
			    strstr(err.msg, "decrypted content is") != NULL);
		assert_true(out.len <= lens[i]);
		assert_int_equal(res.out_length, 0);
		vouch_buf_free(&out);
	}
	o.out_length = SIZE;

	/* Every signed input hash is still checked (sha256 on this thread,
	 * sha512 on the hashing thread). */
	for (int alg = 0; alg < 2; alg++) {
		uint8_t d256[VOUCH_SHA256_LEN], d512[VOUCH_SHA512_LEN];
		char h256[2 * VOUCH_SHA256_LEN + 1], h512[2 * VOUCH_SHA512_LEN + 1];
		vouch_sha256(data, SIZE, d256);
		vouch_sha512(data, SIZE, d512);
		if (alg == 0)
			d256[9] ^= 1;
		else
			d512[9] ^= 1;
		vouch_hex_encode(d256, sizeof(d256), h256);
		vouch_hex_encode(d512, sizeof(d512), h512);
		json_t *bad = json_pack("{s:s, s:s}", "sha256", h256, "sha512", h512);
		o.hashes = bad;
		assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_VERIFY);
		assert_non_null(strstr(err.msg, alg == 0 ? "sha256" : "sha512"));
		vouch_buf_free(&out);
		json_decref(bad);
	}
	o.hashes = h;

	/* Fail closed: nothing to check the re-read against, or no stage. */
	o.out_sha256 = NULL;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_USAGE);
	assert_int_equal(out.len, 0);
	o.out_sha256 = want;
	o.stage = NULL;
	assert_int_equal(vouch_pipeline_run(&o, to_buf, &out, &res, &err), VOUCH_E_USAGE);
	assert_int_equal(out.len, 0);
	vouch_buf_free(&out);
	assert_int_equal(unlink(slot), 0);
	free(plain);
	json_decref(h);
}

/* Only one algorithm signed: it alone is checked, and the sha256 for the
 * re-read is still right when only sha512 is signed. */
static void test_one_algorithm(void **state)
{
	(void)state;
	struct vouch_pipeline_opts o;
	struct vouch_pipeline_result res;
	struct vouch_buf out = {0};
	struct vouch_err err;
	uint8_t d256[VOUCH_SHA256_LEN], d512[VOUCH_SHA512_LEN];
	char hex[2 * VOUCH_SHA512_LEN + 1];
	vouch_sha256(data, SIZE, d256);
	vouch_sha512(data, SIZE, d512);
	for (int corrupt = 0; corrupt < 2; corrupt++) {
		for (int alg = 0; alg < 2; alg++) {
			uint8_t *d = alg ? d512 : d256;
			size_t n = alg ? sizeof(d512) : sizeof(d256);
			d[n - 1] ^= (uint8_t)corrupt;
			vouch_hex_encode(d, n, hex);
			d[n - 1] ^= (uint8_t)corrupt;
			json_t *h = json_pack("{s:s}", alg ? "sha512" : "sha256", hex);
			opts(&o, h, SIZE);
			enum vouch_rc rc = vouch_pipeline_run(&o, to_buf, &out, &res, &err);
			if (corrupt) {
				assert_int_equal(rc, VOUCH_E_VERIFY);
				assert_non_null(strstr(err.msg, alg ? "sha512" : "sha256"));
			} else {
				assert_int_equal(rc, VOUCH_OK);
				assert_int_equal(res.out_length, SIZE);
				assert_memory_equal(res.out_sha256, d256, sizeof(d256));
				assert_memory_equal(out.data, data, SIZE);
			}
			vouch_buf_free(&out);
			json_decref(h);
		}
	}
}

/* The re-read over several blocks (the ring wraps), with O_DIRECT (the
 * test directory) and without (tmpfs refuses O_DIRECT): a prefix of a
 * larger slot at an unaligned length, a change in any block, an empty
 * image, a slot too short. */
static void check_reread(const char *file)
{
	const size_t n = 3u * 1024 * 1024 + 4096 + 333;
	const size_t slot = n + 5000;
	struct vouch_err err;
	uint8_t d[VOUCH_SHA256_LEN];
	uint8_t *big = malloc(slot);
	assert_non_null(big);
	for (size_t i = 0; i < slot; i++)
		big[i] = (uint8_t)(i * 13 + i / 4093);
	assert_int_equal(vouch_file_write_atomic(file, big, slot, 0644, &err), VOUCH_OK);
	vouch_sha256(big, n, d);
	assert_int_equal(vouch_pipeline_verify_file(file, n, d, &err), VOUCH_OK);
	vouch_sha256(big, slot, d);
	assert_int_equal(vouch_pipeline_verify_file(file, slot, d, &err), VOUCH_OK);
	assert_int_equal(vouch_pipeline_verify_file(file, slot + 1, d, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "slot ends early"));
	vouch_sha256(big, 0, d);
	assert_int_equal(vouch_pipeline_verify_file(file, 0, d, &err), VOUCH_OK);
	/* One byte changed in the first, a middle, and the last block. */
	const size_t at[] = {0, 1024u * 1024 + 7, n - 1};
	vouch_sha256(big, n, d);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		big[at[i]] ^= 0x10;
		assert_int_equal(vouch_file_write_atomic(file, big, slot, 0644, &err), VOUCH_OK);
		assert_int_equal(vouch_pipeline_verify_file(file, n, d, &err), VOUCH_E_VERIFY);
		assert_non_null(strstr(err.msg, "re-read sha256 mismatch"));
		big[at[i]] ^= 0x10;
	}
	/* A byte changed past the image's length is not part of it. */
	big[n] ^= 0x10;
	assert_int_equal(vouch_file_write_atomic(file, big, slot, 0644, &err), VOUCH_OK);
	assert_int_equal(vouch_pipeline_verify_file(file, n, d, &err), VOUCH_OK);
	assert_int_equal(unlink(file), 0);
	free(big);
}

static void test_reread_blocks(void **state)
{
	(void)state;
	char file[160];
	snprintf(file, sizeof(file), "%s/slot", dir);
	check_reread(file);
	if (access("/dev/shm", W_OK) == 0) {
		snprintf(file, sizeof(file), "/dev/shm/vouch-pipeline-test-%ld", (long)getpid());
		check_reread(file);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_wrong_hash),
	    cmocka_unit_test(test_length_is_a_cap),
	    cmocka_unit_test(test_stage_output_checked),
	    cmocka_unit_test(test_output_checked_by_reread),
	    cmocka_unit_test(test_one_algorithm),
	    cmocka_unit_test(test_reread_blocks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
