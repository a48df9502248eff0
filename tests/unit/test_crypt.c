/* Encrypted release format (vouch-enc-v1): round trips for every suite and
 * size edge, and one attack per security property: truncation, dropped,
 * appended, swapped and spliced chunks, header edits, ciphertext flips,
 * wrong keys, recipient limits; recipient key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/crypt.h"
#include "vouch/hash.h"
#include "vouch/hpke.h"

#define CHUNK VOUCH_CRYPT_CHUNK_DEFAULT

struct sink {
	struct vouch_buf b;
	size_t max_piece;
	size_t calls;
};

static enum vouch_rc sink_cb(void *ctx, const uint8_t *p, size_t n, struct vouch_err *err)
{
	struct sink *s = ctx;
	if (n > s->max_piece)
		s->max_piece = n;
	s->calls++;
	return vouch_buf_append(&s->b, p, n, err);
}

/* Feeds data in irregular pieces (1, 7, 4093, 65552, ... bytes) so that
 * every buffering path runs. */
static size_t piece(size_t i)
{
	static const size_t sizes[] = {1, 7, 4093, 65552, 100, 131072, 65536, 3};
	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void encrypt_mem(const struct vouch_crypt_key *const *r, size_t n,
			const struct vouch_crypt_params *params, const uint8_t *pt, size_t len,
			struct sink *out)
{
	struct vouch_err err;
	struct vouch_encryptor *e = NULL;
	memset(out, 0, sizeof(*out));
	assert_int_equal(vouch_encryptor_new(r, n, params, &e, &err), VOUCH_OK);
	for (size_t off = 0, i = 0; off < len; i++) {
		size_t k = piece(i);
		if (k > len - off)
			k = len - off;
		assert_int_equal(vouch_encryptor_update(e, pt + off, k, sink_cb, out, &err),
				 VOUCH_OK);
		off += k;
	}
	assert_int_equal(vouch_encryptor_final(e, sink_cb, out, &err), VOUCH_OK);
	/* Finished: no more input. */
	assert_int_equal(vouch_encryptor_update(e, pt, 0, sink_cb, out, &err), VOUCH_E_USAGE);
	vouch_encryptor_free(e);
}

/* Returns the rc of the first failing call; out gets what was emitted. */
static enum vouch_rc decrypt_mem(const struct vouch_crypt_key *id, const uint8_t *ct, size_t len,
				 struct sink *out, struct vouch_err *err)
{
	struct vouch_decryptor *d = NULL;
	enum vouch_rc rc;
	memset(out, 0, sizeof(*out));
	assert_int_equal(vouch_decryptor_new(id, &d, err), VOUCH_OK);
	for (size_t off = 0, i = 3; off < len; i++) {
		size_t k = piece(i);
		if (k > len - off)
			k = len - off;
		rc = vouch_decryptor_update(d, ct + off, k, sink_cb, out, err);
		if (rc != VOUCH_OK) {
			/* A failed decryptor refuses everything afterwards. */
			struct vouch_err e2;
			assert_int_equal(vouch_decryptor_final(d, sink_cb, out, &e2),
					 VOUCH_E_USAGE);
			vouch_decryptor_free(d);
			return rc;
		}
		off += k;
	}
	rc = vouch_decryptor_final(d, sink_cb, out, err);
	if (rc == VOUCH_OK)
		assert_int_equal(vouch_decryptor_plaintext_length(d), out->b.len);
	vouch_decryptor_free(d);
	return rc;
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	if (n > 0)
		assert_int_equal(RAND_bytes(p, (int)n), 1);
	return p;
}

static struct vouch_crypt_key *gen(uint16_t kem)
{
	struct vouch_err err;
	struct vouch_crypt_key *k = NULL;
	assert_int_equal(vouch_crypt_key_generate(kem, &k, &err), VOUCH_OK);
	return k;
}

static size_t header_len_of(const struct sink *s)
{
	struct vouch_crypt_header_info info;
	struct vouch_err err;
	assert_int_equal(vouch_crypt_header_parse(s->b.data, s->b.len, &info, &err), VOUCH_OK);
	return info.header_len;
}

static enum vouch_rc refusing_cb(void *ctx, const uint8_t *p, size_t n, struct vouch_err *err)
{
	(void)ctx;
	(void)p;
	(void)n;
	return vouch_err_set(err, VOUCH_E_VERIFY, "the sink refuses this output");
}

/* An error of the output callback on the last chunk keeps its own message:
 * only a real authentication failure says "does not authenticate". */
static void test_sink_error_on_last_chunk_keeps_its_message(void **state)
{
	(void)state;
	struct vouch_crypt_key *id = NULL;
	struct vouch_err err;
	struct sink ct;
	assert_int_equal(vouch_crypt_key_generate(VOUCH_HPKE_KEM_X25519_SHA256, &id, &err),
			 VOUCH_OK);
	const struct vouch_crypt_key *r[] = {id};
	struct vouch_crypt_params params = {0, 0}; /* the defaults */
	uint8_t pt[100] = {1};
	encrypt_mem(r, 1, &params, pt, sizeof(pt), &ct);
	struct vouch_decryptor *d = NULL;
	assert_int_equal(vouch_decryptor_new(id, &d, &err), VOUCH_OK);
	assert_int_equal(vouch_decryptor_update(d, ct.b.data, ct.b.len, refusing_cb, NULL, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_decryptor_final(d, refusing_cb, NULL, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "the sink refuses this output");
	vouch_decryptor_free(d);
	/* The same file with its last tag flipped: the AEAD's failure. */
	ct.b.data[ct.b.len - 1] ^= 1;
	assert_int_equal(vouch_decryptor_new(id, &d, &err), VOUCH_OK);
	assert_int_equal(vouch_decryptor_update(d, ct.b.data, ct.b.len, refusing_cb, NULL, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_decryptor_final(d, refusing_cb, NULL, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "the last chunk does not authenticate"));
	vouch_decryptor_free(d);
	vouch_buf_free(&ct.b);
	vouch_crypt_key_free(id);
}

/* -------------------------------------------------------------- round trips */

static void test_round_trips(void **state)
{
	(void)state;
	static const uint16_t kems[] = {VOUCH_HPKE_KEM_X25519_SHA256, VOUCH_HPKE_KEM_P256_SHA256};
	static const uint16_t aeads[] = {VOUCH_CRYPT_AES256GCM, VOUCH_CRYPT_CHACHA20POLY1305};
	const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10u << 20};
	uint8_t *pt = random_bytes(10u << 20);
	int runs = 0;
	for (size_t k = 0; k < 2; k++) {
		struct vouch_crypt_key *key = gen(kems[k]);
		const struct vouch_crypt_key *r[1] = {key};
		for (size_t a = 0; a < 2; a++) {
			struct vouch_crypt_params params = {aeads[a], 0};
			for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
				struct sink ct, out;
				struct vouch_err err;
				encrypt_mem(r, 1, &params, pt, sizes[i], &ct);
				size_t hl = header_len_of(&ct);
				/* Full chunks, then a last chunk of 0..chunk-1 bytes. */
				size_t want =
				    hl + (sizes[i] / CHUNK) * (CHUNK + 16) + sizes[i] % CHUNK + 16;
				assert_int_equal(ct.b.len, want);
				assert_int_equal(decrypt_mem(key, ct.b.data, ct.b.len, &out, &err),
						 VOUCH_OK);
				assert_int_equal(out.b.len, sizes[i]);
				if (sizes[i] > 0)
					assert_memory_equal(out.b.data, pt, (int)sizes[i]);
				/* Memory stays bounded: pieces never exceed a chunk. */
				assert_true(out.max_piece <= CHUNK);
				assert_true(ct.max_piece <= (hl > CHUNK + 16 ? hl : CHUNK + 16));
				vouch_buf_free(&ct.b);
				vouch_buf_free(&out.b);
				runs++;
			}
		}
		vouch_crypt_key_free(key);
	}
	assert_int_equal(runs, 24);
	free(pt);
}

static void test_small_chunks_and_suite_names(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_crypt_key *key = gen(VOUCH_HPKE_KEM_X25519_SHA256);
	const struct vouch_crypt_key *r[1] = {key};
	uint8_t *pt = random_bytes(1000);
	struct vouch_crypt_params p = {VOUCH_CRYPT_CHACHA20POLY1305, VOUCH_CRYPT_CHUNK_MIN};
	struct sink ct, out;
	encrypt_mem(r, 1, &p, pt, 1000, &ct);
	struct vouch_crypt_header_info info;
	assert_int_equal(vouch_crypt_header_parse(ct.b.data, ct.b.len, &info, &err), VOUCH_OK);
	assert_int_equal(info.chunk_size, VOUCH_CRYPT_CHUNK_MIN);
	assert_int_equal(info.recipients, 1);
	assert_int_equal(info.payload_aead, VOUCH_CRYPT_CHACHA20POLY1305);
	assert_string_equal(info.suite, "vouch-enc-v1/chacha20-poly1305");
	assert_string_equal(vouch_crypt_suite_name(VOUCH_CRYPT_AES256GCM),
			    "vouch-enc-v1/aes-256-gcm");
	size_t size = 0;
	assert_int_equal(
	    vouch_crypt_header_size(ct.b.data, VOUCH_CRYPT_HEADER_FIXED_LEN, &size, &err),
	    VOUCH_OK);
	assert_int_equal(size, info.header_len);
	assert_int_equal(
	    vouch_crypt_header_size(ct.b.data, VOUCH_CRYPT_HEADER_FIXED_LEN - 1, &size, &err),
	    VOUCH_E_FORMAT);
	assert_int_equal(decrypt_mem(key, ct.b.data, ct.b.len, &out, &err), VOUCH_OK);
	assert_memory_equal(out.b.data, pt, 1000);
	/* Parameters out of range. */
	struct vouch_encryptor *e = NULL;
	struct vouch_crypt_params bad = {0, VOUCH_CRYPT_CHUNK_MIN - 1};
	assert_int_equal(vouch_encryptor_new(r, 1, &bad, &e, &err), VOUCH_E_USAGE);
	bad.chunk_size = VOUCH_CRYPT_CHUNK_MAX + 1;
	assert_int_equal(vouch_encryptor_new(r, 1, &bad, &e, &err), VOUCH_E_USAGE);
	bad.chunk_size = 0;
	bad.payload_aead = 0x0001; /* AES-128-GCM is not a payload AEAD */
	assert_int_equal(vouch_encryptor_new(r, 1, &bad, &e, &err), VOUCH_E_UNSUPPORTED);
	assert_int_equal(vouch_encryptor_new(r, 0, NULL, &e, &err), VOUCH_E_USAGE);
	const struct vouch_crypt_key *twice[2] = {key, key};
	assert_int_equal(vouch_encryptor_new(twice, 2, NULL, &e, &err), VOUCH_E_USAGE);
	assert_non_null(strstr(err.msg, "given twice"));
	assert_null(e);
	vouch_buf_free(&ct.b);
	vouch_buf_free(&out.b);
	free(pt);
	vouch_crypt_key_free(key);
}

/* ---------------------------------------------------------------- attacks */

#define TCHUNK 1024
#define TLEN (4 * TCHUNK + 300) /* 4 full chunks and a last one of 300 bytes */

struct two_files {
	struct vouch_crypt_key *key;
	uint8_t *pt;
	struct sink a, b; /* two files to the same key, same parameters */
	size_t hl_a, hl_b;
};

static void two_files(struct two_files *t)
{
	t->key = gen(VOUCH_HPKE_KEM_X25519_SHA256);
	const struct vouch_crypt_key *r[1] = {t->key};
	struct vouch_crypt_params p = {0, TCHUNK};
	t->pt = random_bytes(TLEN);
	encrypt_mem(r, 1, &p, t->pt, TLEN, &t->a);
	encrypt_mem(r, 1, &p, t->pt, TLEN, &t->b);
	t->hl_a = header_len_of(&t->a);
	t->hl_b = header_len_of(&t->b);
}

static void two_files_free(struct two_files *t)
{
	vouch_buf_free(&t->a.b);
	vouch_buf_free(&t->b.b);
	free(t->pt);
	vouch_crypt_key_free(t->key);
}

static uint8_t *chunk_at(uint8_t *file, size_t hl, size_t i)
{
	return file + hl + i * (TCHUNK + 16);
}

static void expect_fail(const struct vouch_crypt_key *key, const uint8_t *ct, size_t len,
			enum vouch_rc want, const char *msg_part)
{
	struct sink out;
	struct vouch_err err;
	assert_int_equal(decrypt_mem(key, ct, len, &out, &err), want);
	if (msg_part != NULL && strstr(err.msg, msg_part) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
	vouch_buf_free(&out.b);
}

static void test_truncation(void **state)
{
	(void)state;
	struct two_files t;
	two_files(&t);
	/* Truncated at every chunk boundary, including "the last chunk
	 * dropped" (k = 4) and "header only" (k = 0). */
	for (size_t k = 0; k <= 4; k++) {
		struct sink out;
		struct vouch_err err;
		size_t len = t.hl_a + k * (TCHUNK + 16);
		assert_int_equal(decrypt_mem(t.key, t.a.b.data, len, &out, &err), VOUCH_E_VERIFY);
		assert_string_equal(err.msg,
				    "encrypted file: truncated (the last chunk is missing)");
		/* What was emitted is authentic, but only a prefix. */
		assert_int_equal(out.b.len, k * TCHUNK);
		vouch_buf_free(&out.b);
	}
	/* Truncated inside a chunk and inside the header. */
	expect_fail(t.key, t.a.b.data, t.a.b.len - 1, VOUCH_E_VERIFY, "last chunk");
	expect_fail(t.key, t.a.b.data, t.hl_a + 100, VOUCH_E_VERIFY, "last chunk");
	expect_fail(t.key, t.a.b.data, t.hl_a - 1, VOUCH_E_FORMAT, "header truncated");
	expect_fail(t.key, t.a.b.data, 0, VOUCH_E_FORMAT, "empty");
	two_files_free(&t);
}

static void test_extension(void **state)
{
	(void)state;
	struct two_files t;
	two_files(&t);
	struct vouch_err err;
	/* Append a whole valid chunk (chunk 0 of the same file), a tag's
	 * worth of bytes, and a single byte. */
	assert_int_equal(
	    vouch_buf_append(&t.a.b, chunk_at(t.a.b.data, t.hl_a, 0), TCHUNK + 16, &err), VOUCH_OK);
	expect_fail(t.key, t.a.b.data, t.a.b.len, VOUCH_E_VERIFY, NULL);
	t.a.b.len -= TCHUNK + 16;
	assert_int_equal(vouch_buf_append(&t.a.b, "0123456789abcdef", 16, &err), VOUCH_OK);
	expect_fail(t.key, t.a.b.data, t.a.b.len, VOUCH_E_VERIFY, NULL);
	t.a.b.len -= 15;
	expect_fail(t.key, t.a.b.data, t.a.b.len, VOUCH_E_VERIFY, NULL);
	t.a.b.len -= 1;
	/* Back to the original: fine. */
	struct sink out;
	assert_int_equal(decrypt_mem(t.key, t.a.b.data, t.a.b.len, &out, &err), VOUCH_OK);
	assert_int_equal(out.b.len, TLEN);
	vouch_buf_free(&out.b);
	/* A file whose length is a multiple of the chunk ends with an empty
	 * last chunk; dropping it leaves a file that must not verify. */
	const struct vouch_crypt_key *r[1] = {t.key};
	struct vouch_crypt_params p = {0, TCHUNK};
	struct sink exact;
	encrypt_mem(r, 1, &p, t.pt, 2 * TCHUNK, &exact);
	size_t hl = header_len_of(&exact);
	assert_int_equal(exact.b.len, hl + 2 * (TCHUNK + 16) + 16);
	expect_fail(t.key, exact.b.data, exact.b.len - 16, VOUCH_E_VERIFY, "truncated");
	vouch_buf_free(&exact.b);
	two_files_free(&t);
}

static void test_reorder_and_splice(void **state)
{
	(void)state;
	struct two_files t;
	two_files(&t);
	uint8_t tmp[TCHUNK + 16];
	/* Swap chunks 1 and 2. */
	uint8_t *c1 = chunk_at(t.a.b.data, t.hl_a, 1), *c2 = chunk_at(t.a.b.data, t.hl_a, 2);
	memcpy(tmp, c1, sizeof(tmp));
	memcpy(c1, c2, sizeof(tmp));
	memcpy(c2, tmp, sizeof(tmp));
	struct sink out;
	struct vouch_err err;
	assert_int_equal(decrypt_mem(t.key, t.a.b.data, t.a.b.len, &out, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "encrypted file: chunk 1 does not authenticate (corrupted, "
				     "truncated, reordered or spliced)");
	assert_int_equal(out.b.len, TCHUNK); /* chunk 0 only */
	vouch_buf_free(&out.b);
	memcpy(c2, c1, sizeof(tmp)); /* undo */
	memcpy(c1, tmp, sizeof(tmp));
	assert_int_equal(decrypt_mem(t.key, t.a.b.data, t.a.b.len, &out, &err), VOUCH_OK);
	vouch_buf_free(&out.b);
	/* Splice: chunk 2 of file B (same key, same plaintext, same
	 * position) into file A. */
	memcpy(chunk_at(t.a.b.data, t.hl_a, 2), chunk_at(t.b.b.data, t.hl_b, 2), TCHUNK + 16);
	expect_fail(t.key, t.a.b.data, t.a.b.len, VOUCH_E_VERIFY, "chunk 2 does not authenticate");
	/* Splice B's whole payload behind A's header, and B's last chunk. */
	struct vouch_buf mix = {0};
	assert_int_equal(vouch_buf_append(&mix, t.a.b.data, t.hl_a, &err), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&mix, t.b.b.data + t.hl_b, t.b.b.len - t.hl_b, &err),
			 VOUCH_OK);
	expect_fail(t.key, mix.data, mix.len, VOUCH_E_VERIFY, "chunk 0 does not authenticate");
	vouch_buf_free(&mix);
	/* A non-last chunk presented as the last one (drop what follows
	 * chunk 0 and keep its bytes). */
	expect_fail(t.key, t.b.b.data, t.hl_b + TCHUNK + 15, VOUCH_E_VERIFY, "last chunk");
	two_files_free(&t);
}

static void test_header_and_ciphertext_flips(void **state)
{
	(void)state;
	struct two_files t;
	two_files(&t);
	/* Every single-bit edit of the header fails before any plaintext is
	 * emitted. */
	for (size_t i = 0; i < t.hl_a; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			struct sink out;
			struct vouch_err err;
			t.a.b.data[i] ^= (uint8_t)(1u << bit);
			enum vouch_rc rc = decrypt_mem(t.key, t.a.b.data, t.a.b.len, &out, &err);
			t.a.b.data[i] ^= (uint8_t)(1u << bit);
			if (rc == VOUCH_OK)
				fail_msg("header byte %zu bit %d edited and still decrypted", i,
					 bit);
			assert_int_equal(out.b.len, 0);
			vouch_buf_free(&out.b);
		}
	}
	/* With two recipients, edits of the other recipient's entry leave
	 * our key wrap intact: the header hash in every chunk's associated
	 * data is what catches them. */
	struct vouch_crypt_key *other = gen(VOUCH_HPKE_KEM_P256_SHA256);
	const struct vouch_crypt_key *r2[2] = {other, t.key};
	struct sink two;
	encrypt_mem(r2, 2, NULL, t.pt, 100, &two);
	size_t hl2 = header_len_of(&two);
	for (size_t i = 0; i < hl2; i++) {
		struct sink out;
		struct vouch_err err;
		two.b.data[i] ^= 0x10;
		enum vouch_rc rc = decrypt_mem(t.key, two.b.data, two.b.len, &out, &err);
		two.b.data[i] ^= 0x10;
		if (rc == VOUCH_OK)
			fail_msg("2-recipient header byte %zu edited and still decrypted", i);
		assert_int_equal(out.b.len, 0);
		vouch_buf_free(&out.b);
	}
	/* The other recipient's entry is the first: its edits fail at the
	 * first chunk, with the chunk's authentication error. */
	two.b.data[VOUCH_CRYPT_HEADER_FIXED_LEN + 40] ^= 1;
	expect_fail(t.key, two.b.data, two.b.len, VOUCH_E_VERIFY, "does not authenticate");
	vouch_buf_free(&two.b);
	vouch_crypt_key_free(other);
	/* A flipped byte in each chunk (tag and body). */
	for (size_t c = 0; c < 5; c++) {
		size_t clen = c < 4 ? TCHUNK + 16 : 300 + 16;
		size_t offs[3] = {0, clen / 2, clen - 1};
		for (size_t k = 0; k < 3; k++) {
			uint8_t *p = chunk_at(t.a.b.data, t.hl_a, c) + offs[k];
			*p ^= 0x80;
			expect_fail(t.key, t.a.b.data, t.a.b.len, VOUCH_E_VERIFY,
				    "does not authenticate");
			*p ^= 0x80;
		}
	}
	two_files_free(&t);
}

static void test_wrong_key(void **state)
{
	(void)state;
	struct two_files t;
	two_files(&t);
	struct vouch_err err;
	struct vouch_crypt_key *other = gen(VOUCH_HPKE_KEM_X25519_SHA256);
	struct vouch_crypt_key *p256 = gen(VOUCH_HPKE_KEM_P256_SHA256);
	struct sink out;
	assert_int_equal(decrypt_mem(other, t.a.b.data, t.a.b.len, &out, &err), VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "not a recipient: the file is encrypted to 1 key, none of "
					"them x25519 key "));
	/* Only a prefix of the key id is shown. */
	assert_null(strstr(err.msg, vouch_crypt_key_id_hex(other)));
	char id16[17];
	memcpy(id16, vouch_crypt_key_id_hex(other), 16);
	id16[16] = 0;
	assert_non_null(strstr(err.msg, id16));
	assert_int_equal(out.b.len, 0);
	vouch_buf_free(&out.b);
	assert_int_equal(decrypt_mem(p256, t.a.b.data, t.a.b.len, &out, &err), VOUCH_E_DENIED);
	vouch_buf_free(&out.b);
	/* The header check alone gives the same answers. */
	assert_int_equal(vouch_crypt_header_check_recipient(t.a.b.data, t.hl_a, t.key, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_crypt_header_check_recipient(t.a.b.data, t.hl_a, other, &err),
			 VOUCH_E_DENIED);
	assert_int_equal(vouch_crypt_header_check_recipient(t.a.b.data, t.hl_a - 1, t.key, &err),
			 VOUCH_E_FORMAT);
	/* An entry that claims other's key id but holds t.key's wrapped key:
	 * found, does not open. */
	memcpy(t.a.b.data + VOUCH_CRYPT_HEADER_FIXED_LEN + 2, vouch_crypt_key_id(other), 32);
	assert_int_equal(vouch_crypt_header_check_recipient(t.a.b.data, t.hl_a, other, &err),
			 VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "does not open"));
	/* Public keys cannot decrypt. */
	struct vouch_crypt_key *pub = NULL;
	struct vouch_decryptor *d = NULL;
	assert_int_equal(vouch_crypt_key_from_raw(VOUCH_HPKE_KEM_X25519_SHA256, NULL, 0, t.a.b.data,
						  32, &pub, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_decryptor_new(pub, &d, &err), VOUCH_E_USAGE);
	vouch_crypt_key_free(pub);
	vouch_crypt_key_free(other);
	vouch_crypt_key_free(p256);
	two_files_free(&t);
}

static void test_thousand_recipients(void **state)
{
	(void)state;
	struct vouch_err err;
	enum { N = 1000 };
	struct vouch_crypt_key **keys = calloc(N + 25, sizeof(*keys));
	assert_non_null(keys);
	/* Mixed KEMs: a fleet with X25519 and P-256 device groups. */
	for (size_t i = 0; i < N + 25; i++)
		keys[i] =
		    gen(i % 4 == 3 ? VOUCH_HPKE_KEM_P256_SHA256 : VOUCH_HPKE_KEM_X25519_SHA256);
	uint8_t *pt = random_bytes(100000);
	struct sink ct, out;
	encrypt_mem((const struct vouch_crypt_key *const *)keys, N, NULL, pt, 100000, &ct);
	struct vouch_crypt_header_info info;
	assert_int_equal(vouch_crypt_header_parse(ct.b.data, ct.b.len, &info, &err), VOUCH_OK);
	assert_int_equal(info.recipients, N);
	const size_t probe[] = {0, 3, 499, 998, 999};
	for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
		assert_int_equal(decrypt_mem(keys[probe[i]], ct.b.data, ct.b.len, &out, &err),
				 VOUCH_OK);
		assert_int_equal(out.b.len, 100000);
		assert_memory_equal(out.b.data, pt, 100000);
		vouch_buf_free(&out.b);
	}
	assert_int_equal(decrypt_mem(keys[N], ct.b.data, ct.b.len, &out, &err), VOUCH_E_DENIED);
	assert_non_null(strstr(err.msg, "encrypted to 1000 keys"));
	vouch_buf_free(&out.b);
	vouch_buf_free(&ct.b);
	/* 1024 is the limit. */
	struct vouch_encryptor *e = NULL;
	assert_int_equal(vouch_encryptor_new((const struct vouch_crypt_key *const *)keys, N + 25,
					     NULL, &e, &err),
			 VOUCH_E_LIMIT);
	assert_string_equal(err.msg, "1025 recipients exceed the limit 1024");
	assert_int_equal(
	    vouch_encryptor_new((const struct vouch_crypt_key *const *)keys, 1024, NULL, &e, &err),
	    VOUCH_OK);
	vouch_encryptor_free(e);
	for (size_t i = 0; i < N + 25; i++)
		vouch_crypt_key_free(keys[i]);
	free(keys);
	free(pt);
}

static void test_header_limits(void **state)
{
	(void)state;
	struct two_files t;
	two_files(&t);
	struct vouch_err err;
	struct vouch_crypt_header_info info;
	uint8_t *h = t.a.b.data;
	uint8_t save[4];
	/* Recipient count 0, 1025, and one more than the entries present. */
	memcpy(save, h + 88, 2);
	h[88] = 0;
	h[89] = 0;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "encrypted file: no recipients");
	h[88] = 0x04;
	h[89] = 0x01;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_LIMIT);
	h[88] = 0;
	h[89] = 2;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_FORMAT);
	memcpy(h + 88, save, 2);
	/* Header length beyond the limit, or longer than the entries. */
	memcpy(save, h + 20, 4);
	h[20] = 0x7f;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_LIMIT);
	memcpy(h + 20, save, 4);
	h[23]++;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "encrypted file: 1 stray bytes after the recipient entries");
	memcpy(h + 20, save, 4);
	/* Chunk size out of bounds, unknown version, magic, flags, KEM. */
	memcpy(save, h + 16, 4);
	memset(h + 16, 0xff, 4);
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_LIMIT);
	memcpy(h + 16, save, 4);
	h[8] = 2;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_UNSUPPORTED);
	assert_string_equal(err.msg, "encrypted file: format version 2 not supported");
	h[8] = 1;
	h[0] = 'X';
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "not a vouch encrypted file (bad magic)");
	h[0] = 'V';
	h[9] = 1;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_FORMAT);
	h[9] = 0;
	h[VOUCH_CRYPT_HEADER_FIXED_LEN + 1] = 0x21;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_E_UNSUPPORTED);
	h[VOUCH_CRYPT_HEADER_FIXED_LEN + 1] = 0x20;
	assert_int_equal(vouch_crypt_header_parse(h, t.a.b.len, &info, &err), VOUCH_OK);
	two_files_free(&t);
}

/* ------------------------------------------------------------- key files */

static char tmpdir[256];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vouch-test-crypt-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char p[512];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
	return 0;
}

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void test_key_files(void **state)
{
	(void)state;
	struct vouch_err err;
	char priv[512], pub[512], pass[512], wrong[512];
	static const uint16_t kems[] = {VOUCH_HPKE_KEM_X25519_SHA256, VOUCH_HPKE_KEM_P256_SHA256};
	path_in(pass, sizeof(pass), "pass.txt");
	path_in(wrong, sizeof(wrong), "wrong.txt");
	assert_int_equal(vouch_file_write_atomic(pass, "correct horse\n", 14, 0600, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_file_write_atomic(wrong, "battery staple\n", 15, 0600, &err),
			 VOUCH_OK);
	for (size_t k = 0; k < 2; k++) {
		for (int encrypted = 0; encrypted < 2; encrypted++) {
			char name[64];
			struct vouch_crypt_key *key = gen(kems[k]), *loaded = NULL, *lpub = NULL;
			snprintf(name, sizeof(name), "k%zu-%d.pem", k, encrypted);
			path_in(priv, sizeof(priv), name);
			snprintf(name, sizeof(name), "k%zu-%d.pem.pub", k, encrypted);
			path_in(pub, sizeof(pub), name);
			assert_int_equal(vouch_crypt_key_save_private(
					     key, priv, encrypted ? "correct horse" : NULL,
					     encrypted ? 13 : 0, &err),
					 VOUCH_OK);
			struct stat st;
			assert_int_equal(stat(priv, &st), 0);
			assert_int_equal(st.st_mode & 0777, 0600);
			/* O_EXCL: never overwrite a key. */
			assert_int_equal(vouch_crypt_key_save_private(key, priv, NULL, 0, &err),
					 VOUCH_E_EXISTS);
			char *pem = NULL;
			assert_int_equal(vouch_crypt_key_public_pem(key, &pem, &err), VOUCH_OK);
			assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
			assert_int_equal(vouch_file_write_new(pub, pem, strlen(pem), 0644, &err),
					 VOUCH_OK);
			free(pem);
			struct vouch_key_opts opts = {0};
			opts.passphrase_file = pass;
			assert_int_equal(vouch_crypt_key_load_private(priv, &opts, &loaded, &err),
					 VOUCH_OK);
			assert_int_equal(vouch_crypt_key_load_public(pub, &lpub, &err), VOUCH_OK);
			assert_string_equal(vouch_crypt_key_id_hex(loaded),
					    vouch_crypt_key_id_hex(key));
			assert_string_equal(vouch_crypt_key_id_hex(lpub),
					    vouch_crypt_key_id_hex(key));
			assert_int_equal(vouch_crypt_key_kem(lpub), kems[k]);
			assert_true(vouch_crypt_key_has_private(loaded));
			assert_false(vouch_crypt_key_has_private(lpub));
			/* Encrypt to the loaded public key, decrypt with the
			 * loaded private key. */
			const struct vouch_crypt_key *r[1] = {lpub};
			struct sink ct, out;
			encrypt_mem(r, 1, NULL, (const uint8_t *)"hello", 5, &ct);
			assert_int_equal(decrypt_mem(loaded, ct.b.data, ct.b.len, &out, &err),
					 VOUCH_OK);
			assert_memory_equal(out.b.data, "hello", 5);
			vouch_buf_free(&ct.b);
			vouch_buf_free(&out.b);
			vouch_crypt_key_free(loaded);
			loaded = NULL;
			if (encrypted) {
				/* Wrong passphrase, and no way to ask for one. */
				opts.passphrase_file = wrong;
				assert_int_equal(
				    vouch_crypt_key_load_private(priv, &opts, &loaded, &err),
				    VOUCH_E_AUTH);
				assert_non_null(strstr(err.msg, "wrong passphrase"));
				assert_int_equal(
				    vouch_crypt_key_load_private(priv, NULL, &loaded, &err),
				    VOUCH_E_USAGE);
				assert_non_null(strstr(err.msg, "is encrypted"));
				struct vouch_buf b = {0};
				assert_int_equal(vouch_file_read(priv, 16384, &b, &err), VOUCH_OK);
				assert_non_null(strstr((char *)b.data, "ENCRYPTED PRIVATE KEY"));
				vouch_buf_free(&b);
			}
			/* A public key file is not a private key and vice versa. */
			assert_int_equal(vouch_crypt_key_load_private(pub, NULL, &loaded, &err),
					 VOUCH_E_FORMAT);
			assert_int_equal(vouch_crypt_key_load_public(priv, &loaded, &err),
					 VOUCH_E_FORMAT);
			vouch_crypt_key_free(key);
			vouch_crypt_key_free(lpub);
		}
	}
	/* A key of another type (Ed25519 signing key) is refused. */
	static const char ed[] = "-----BEGIN PUBLIC KEY-----\n"
				 "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
				 "-----END PUBLIC KEY-----\n";
	struct vouch_crypt_key *k = NULL;
	assert_int_equal(vouch_crypt_key_parse_public(ed, sizeof(ed) - 1, &k, &err),
			 VOUCH_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "ED25519"));
	uint16_t kem = 0;
	assert_int_equal(vouch_crypt_kem_parse("p256", &kem, &err), VOUCH_OK);
	assert_int_equal(kem, VOUCH_HPKE_KEM_P256_SHA256);
	assert_int_equal(vouch_crypt_kem_parse("rsa", &kem, &err), VOUCH_E_USAGE);
}

static int count_entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static void test_files(void **state)
{
	(void)state;
	struct vouch_err err;
	char in[512], enc[512], dec[512];
	struct vouch_crypt_key *key = gen(VOUCH_HPKE_KEM_P256_SHA256);
	const struct vouch_crypt_key *r[1] = {key};
	uint8_t *pt = random_bytes(300000);
	struct vouch_crypt_result res, dres;
	uint8_t digest[32];
	path_in(in, sizeof(in), "plain.bin");
	path_in(enc, sizeof(enc), "plain.bin.enc");
	path_in(dec, sizeof(dec), "plain.bin.dec");
	assert_int_equal(vouch_file_write_atomic(in, pt, 300000, 0644, &err), VOUCH_OK);
	int before = count_entries(tmpdir);
	assert_int_equal(vouch_crypt_encrypt_file(in, enc, r, 1, NULL, &res, &err), VOUCH_OK);
	vouch_sha256(pt, 300000, digest);
	assert_int_equal(res.plaintext_length, 300000);
	assert_memory_equal(res.plaintext_sha256, digest, 32);
	assert_string_equal(res.suite, "vouch-enc-v1/aes-256-gcm");
	struct vouch_digests dg;
	assert_int_equal(vouch_hash_file(enc, VOUCH_HASH_SHA256, &dg, &err), VOUCH_OK);
	assert_int_equal(dg.length, res.ciphertext_length);
	assert_memory_equal(dg.sha256, res.ciphertext_sha256, 32);
	assert_int_equal(vouch_crypt_decrypt_file(enc, dec, key, &dres, &err), VOUCH_OK);
	assert_int_equal(dres.plaintext_length, 300000);
	assert_memory_equal(dres.plaintext_sha256, digest, 32);
	assert_memory_equal(dres.ciphertext_sha256, res.ciphertext_sha256, 32);
	assert_int_equal(count_entries(tmpdir), before + 2);
	unlink(dec);
	/* Tampered: no output file and no temporary file left behind. */
	struct vouch_buf b = {0};
	assert_int_equal(vouch_file_read(enc, 1 << 20, &b, &err), VOUCH_OK);
	b.data[b.len - 20] ^= 1;
	unlink(enc);
	assert_int_equal(vouch_file_write_new(enc, b.data, b.len, 0644, &err), VOUCH_OK);
	assert_int_equal(vouch_crypt_decrypt_file(enc, dec, key, NULL, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "plain.bin.enc: encrypted file: the last chunk"));
	assert_int_equal(access(dec, F_OK), -1);
	assert_int_equal(count_entries(tmpdir), before + 1);
	vouch_buf_free(&b);
	/* Missing input. */
	assert_int_equal(vouch_crypt_decrypt_file("/nonexistent/x", dec, key, NULL, &err),
			 VOUCH_E_NOTFOUND);
	unlink(enc);
	unlink(in);
	free(pt);
	vouch_crypt_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_small_chunks_and_suite_names),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_extension),
	    cmocka_unit_test(test_reorder_and_splice),
	    cmocka_unit_test(test_header_and_ciphertext_flips),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_thousand_recipients),
	    cmocka_unit_test(test_header_limits),
	    cmocka_unit_test(test_key_files),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_sink_error_on_last_chunk_keeps_its_message),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
