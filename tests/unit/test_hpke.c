/* HPKE (RFC 9180) base mode: every mode-0 vector of the RFC for the
 * supported suites, parsed at test time from
 * ../shared/vectors/hpke/rfc9180-test-vectors.txt, plus the attacks the
 * vectors do not cover (invalid public keys, tampering, misuse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpke_internal.h"
#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/error.h"
#include "vouch/hpke.h"

/* ------------------------------------------------------ vector parsing */

struct rec {
	int suite;	/* index of the "## " section */
	char h3[64];	/* "Base Setup Information", ... */
	char h4[64];	/* "", "Encryptions", "Exported Values" */
	char key[32];	/* "ikmE", "sequence number", ... */
	char *val;	/* text as written (hex or decimal), continuation lines joined */
	size_t val_len; /* strlen(val) */
};

struct recs {
	struct rec *r;
	size_t n, cap;
	int suites;
};

static int is_hex_line(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

static void set_str(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static void parse_vectors(const char *text, size_t len, struct recs *out)
{
	char h3[64] = "", h4[64] = "";
	int suite = -1;
	int in_block = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *line = p;
		p = nl ? nl + 1 : end;
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (n >= 3 && memcmp(line, "~~~", 3) == 0) {
			in_block = !in_block;
			continue;
		}
		if (!in_block) {
			if (n > 5 && memcmp(line, "#### ", 5) == 0) {
				set_str(h4, sizeof(h4), line + 5, n - 5);
			} else if (n > 4 && memcmp(line, "### ", 4) == 0) {
				set_str(h3, sizeof(h3), line + 4, n - 4);
				h4[0] = 0;
			} else if (n > 3 && memcmp(line, "## ", 3) == 0) {
				suite++;
				h3[0] = h4[0] = 0;
			}
			continue;
		}
		if (n == 0 || suite < 0)
			continue;
		if (is_hex_line(line, n) && out->n > 0) {
			struct rec *last = &out->r[out->n - 1];
			char *v = realloc(last->val, last->val_len + n + 1);
			assert_non_null(v);
			memcpy(v + last->val_len, line, n);
			last->val_len += n;
			v[last->val_len] = 0;
			last->val = v;
			continue;
		}
		const char *colon = memchr(line, ':', n);
		assert_non_null(colon);
		if (out->n == out->cap) {
			out->cap = out->cap ? 2 * out->cap : 256;
			out->r = realloc(out->r, out->cap * sizeof(*out->r));
			assert_non_null(out->r);
		}
		struct rec *r = &out->r[out->n++];
		memset(r, 0, sizeof(*r));
		r->suite = suite;
		set_str(r->h3, sizeof(r->h3), h3, strlen(h3));
		set_str(r->h4, sizeof(r->h4), h4, strlen(h4));
		set_str(r->key, sizeof(r->key), line, (size_t)(colon - line));
		const char *v = colon + 1;
		while (v < line + n && *v == ' ')
			v++;
		r->val_len = (size_t)(line + n - v);
		r->val = malloc(r->val_len + 1);
		assert_non_null(r->val);
		memcpy(r->val, v, r->val_len);
		r->val[r->val_len] = 0;
	}
	out->suites = suite + 1;
}

static void recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].val);
	free(rs->r);
}

struct bytes {
	uint8_t b[512];
	size_t n;
};

static void hex(const struct rec *r, struct bytes *out)
{
	struct vouch_err err;
	assert_int_equal(
	    vouch_hex_decode(r->val, r->val_len, out->b, sizeof(out->b), &out->n, &err), VOUCH_OK);
}

static const struct rec *field(const struct recs *rs, int suite, const char *h4, const char *key)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct rec *r = &rs->r[i];
		if (r->suite == suite && strcmp(r->h3, "Base Setup Information") == 0 &&
		    strcmp(r->h4, h4) == 0 && strcmp(r->key, key) == 0)
			return r;
	}
	return NULL;
}

static void field_hex(const struct recs *rs, int suite, const char *key, struct bytes *out)
{
	const struct rec *r = field(rs, suite, "", key);
	assert_non_null(r);
	hex(r, out);
}

static int supported(uint16_t kem, uint16_t kdf, uint16_t aead)
{
	struct vouch_hpke_suite s = {kem, kdf, aead};
	return vouch_hpke_suite_check(&s, NULL) == VOUCH_OK;
}

static void assert_bytes(const uint8_t *got, size_t got_len, const struct bytes *want)
{
	assert_int_equal(got_len, want->n);
	assert_memory_equal(got, want->b, want->n);
}

static int n_suites, n_encryptions, n_exports;

static void check_suite(const struct recs *rs, int s, const struct vouch_hpke_suite *suite)
{
	struct vouch_err err;
	struct bytes info, ikmE, pkEm, skEm, ikmR, pkRm, skRm, enc, ss, key, nonce, exp;
	uint8_t sk[VOUCH_HPKE_MAX_PRIVATE], pk[VOUCH_HPKE_MAX_PUBLIC], e[VOUCH_HPKE_MAX_ENC];
	uint8_t shared[VOUCH_HPKE_NSECRET];
	size_t sk_len = 0, pk_len = 0, e_len = 0;
	struct vouch_hpke_ctx *sctx = NULL, *rctx = NULL;

	field_hex(rs, s, "info", &info);
	field_hex(rs, s, "ikmE", &ikmE);
	field_hex(rs, s, "pkEm", &pkEm);
	field_hex(rs, s, "skEm", &skEm);
	field_hex(rs, s, "ikmR", &ikmR);
	field_hex(rs, s, "pkRm", &pkRm);
	field_hex(rs, s, "skRm", &skRm);
	field_hex(rs, s, "enc", &enc);
	field_hex(rs, s, "shared_secret", &ss);
	field_hex(rs, s, "key", &key);
	field_hex(rs, s, "base_nonce", &nonce);
	field_hex(rs, s, "exporter_secret", &exp);

	/* DeriveKeyPair for the recipient and the ephemeral key. */
	assert_int_equal(
	    vouch_hpke_derive_keypair(suite->kem, ikmR.b, ikmR.n, sk, &sk_len, pk, &pk_len, &err),
	    VOUCH_OK);
	assert_bytes(sk, sk_len, &skRm);
	assert_bytes(pk, pk_len, &pkRm);
	assert_int_equal(
	    vouch_hpke_derive_keypair(suite->kem, ikmE.b, ikmE.n, sk, &sk_len, pk, &pk_len, &err),
	    VOUCH_OK);
	assert_bytes(sk, sk_len, &skEm);
	assert_bytes(pk, pk_len, &pkEm);
	assert_int_equal(
	    vouch_hpke_public_from_private(suite->kem, skRm.b, skRm.n, pk, &pk_len, &err),
	    VOUCH_OK);
	assert_bytes(pk, pk_len, &pkRm);

	/* Encap / Decap. */
	assert_int_equal(vouch_hpke_encap_derand(suite->kem, pkRm.b, pkRm.n, ikmE.b, ikmE.n, shared,
						 e, &e_len, &err),
			 VOUCH_OK);
	assert_bytes(e, e_len, &enc);
	assert_bytes(shared, sizeof(shared), &ss);
	memset(shared, 0, sizeof(shared));
	assert_int_equal(vouch_hpke_decap(suite->kem, enc.b, enc.n, skRm.b, skRm.n, shared, &err),
			 VOUCH_OK);
	assert_bytes(shared, sizeof(shared), &ss);

	/* Key schedule, both sides. */
	assert_int_equal(vouch_hpke_setup_base_s_derand(suite, pkRm.b, pkRm.n, info.b, info.n,
							ikmE.b, ikmE.n, e, &e_len, &sctx, &err),
			 VOUCH_OK);
	assert_bytes(e, e_len, &enc);
	assert_int_equal(vouch_hpke_setup_base_r(suite, enc.b, enc.n, skRm.b, skRm.n, info.b,
						 info.n, &rctx, &err),
			 VOUCH_OK);
	struct vouch_hpke_ctx *both[2] = {sctx, rctx};
	for (int i = 0; i < 2; i++) {
		const uint8_t *k, *nn, *x;
		size_t kl, nl, xl;
		vouch_hpke_ctx_peek(both[i], &k, &kl, &nn, &nl, &x, &xl);
		if (suite->aead == VOUCH_HPKE_AEAD_EXPORT_ONLY) {
			assert_int_equal(kl, 0);
			assert_int_equal(nl, 0);
		} else {
			assert_bytes(k, kl, &key);
			assert_bytes(nn, nl, &nonce);
		}
		assert_bytes(x, xl, &exp);
	}

	/* Encryptions: groups start at "sequence number". */
	for (size_t i = 0; i < rs->n; i++) {
		const struct rec *r = &rs->r[i];
		if (r->suite != s || strcmp(r->h3, "Base Setup Information") != 0 ||
		    strcmp(r->h4, "Encryptions") != 0 || strcmp(r->key, "sequence number") != 0)
			continue;
		assert_true(i + 4 < rs->n);
		assert_string_equal(rs->r[i + 1].key, "pt");
		assert_string_equal(rs->r[i + 2].key, "aad");
		assert_string_equal(rs->r[i + 3].key, "nonce");
		assert_string_equal(rs->r[i + 4].key, "ct");
		struct bytes pt, aad, ct;
		uint8_t out[600];
		uint64_t seq = strtoull(r->val, NULL, 10);
		hex(&rs->r[i + 1], &pt);
		hex(&rs->r[i + 2], &aad);
		hex(&rs->r[i + 4], &ct);
		vouch_hpke_ctx_set_seq(sctx, seq);
		assert_int_equal(vouch_hpke_seal(sctx, aad.b, aad.n, pt.b, pt.n, out, &err),
				 VOUCH_OK);
		assert_bytes(out, pt.n + VOUCH_HPKE_TAG_LEN, &ct);
		vouch_hpke_ctx_set_seq(rctx, seq);
		assert_int_equal(vouch_hpke_open(rctx, aad.b, aad.n, ct.b, ct.n, out, &err),
				 VOUCH_OK);
		assert_bytes(out, ct.n - VOUCH_HPKE_TAG_LEN, &pt);
		/* The same ciphertext under the wrong sequence number fails. */
		vouch_hpke_ctx_set_seq(rctx, seq + 1);
		assert_int_equal(vouch_hpke_open(rctx, aad.b, aad.n, ct.b, ct.n, out, &err),
				 VOUCH_E_VERIFY);
		n_encryptions++;
	}

	/* Exports: groups start at "exporter_context". */
	for (size_t i = 0; i < rs->n; i++) {
		const struct rec *r = &rs->r[i];
		if (r->suite != s || strcmp(r->h3, "Base Setup Information") != 0 ||
		    strcmp(r->h4, "Exported Values") != 0 ||
		    strcmp(r->key, "exporter_context") != 0)
			continue;
		assert_true(i + 2 < rs->n);
		assert_string_equal(rs->r[i + 1].key, "L");
		assert_string_equal(rs->r[i + 2].key, "exported_value");
		struct bytes ctxb, want;
		uint8_t out[256];
		hex(r, &ctxb);
		size_t L = (size_t)strtoul(rs->r[i + 1].val, NULL, 10);
		assert_true(L <= sizeof(out));
		hex(&rs->r[i + 2], &want);
		assert_int_equal(vouch_hpke_export(sctx, ctxb.b, ctxb.n, out, L, &err), VOUCH_OK);
		assert_bytes(out, L, &want);
		assert_int_equal(vouch_hpke_export(rctx, ctxb.b, ctxb.n, out, L, &err), VOUCH_OK);
		assert_bytes(out, L, &want);
		n_exports++;
	}
	vouch_hpke_ctx_free(sctx);
	vouch_hpke_ctx_free(rctx);
	n_suites++;
}

static void test_rfc9180_vectors(void **state)
{
	(void)state;
	const char *root = getenv("VOUCH_SOURCE_ROOT");
	char path[4096];
	struct vouch_buf text = {0};
	struct vouch_err err;
	struct recs rs = {0};
	snprintf(path, sizeof(path), "%s/../shared/vectors/hpke/rfc9180-test-vectors.txt",
		 root ? root : VOUCH_SOURCE_ROOT);
	assert_int_equal(vouch_file_read(path, 1 << 22, &text, &err), VOUCH_OK);
	parse_vectors((const char *)text.data, text.len, &rs);
	int seen_base = 0, skipped = 0;
	for (int s = 0; s < rs.suites; s++) {
		const struct rec *mode = field(&rs, s, "", "mode");
		if (mode == NULL)
			continue;
		assert_string_equal(mode->val, "0");
		seen_base++;
		uint16_t kem = (uint16_t)strtoul(field(&rs, s, "", "kem_id")->val, NULL, 10);
		uint16_t kdf = (uint16_t)strtoul(field(&rs, s, "", "kdf_id")->val, NULL, 10);
		uint16_t aead = (uint16_t)strtoul(field(&rs, s, "", "aead_id")->val, NULL, 10);
		if (!supported(kem, kdf, aead)) {
			skipped++;
			continue;
		}
		struct vouch_hpke_suite suite = {kem, kdf, aead};
		check_suite(&rs, s, &suite);
	}
	print_message("RFC 9180 base mode: %d suites, %d encryptions, %d exports checked; "
		      "%d unsupported suites skipped\n",
		      n_suites, n_encryptions, n_exports, skipped);
	/* The file has 7 base-mode suites; 5 are ours (X25519 and P-256 with
	 * AES-128-GCM and ChaCha20-Poly1305, and X25519 export-only). */
	assert_int_equal(seen_base, 7);
	assert_int_equal(n_suites, 5);
	assert_true(n_encryptions >= 4 * 6);
	assert_true(n_exports >= 5 * 3);
	recs_free(&rs);
	vouch_buf_free(&text);
}

/* ------------------------------------------------------------- attacks */

static const uint16_t kems[] = {VOUCH_HPKE_KEM_X25519_SHA256, VOUCH_HPKE_KEM_P256_SHA256};
static const uint16_t aeads[] = {VOUCH_HPKE_AEAD_AES128GCM, VOUCH_HPKE_AEAD_AES256GCM,
				 VOUCH_HPKE_AEAD_CHACHA20POLY1305};

static void test_round_trip_all_suites(void **state)
{
	(void)state;
	struct vouch_err err;
	for (size_t k = 0; k < 2; k++) {
		uint8_t sk[32], pk[65], enc[65];
		size_t skl = 0, pkl = 0, encl = 0;
		assert_int_equal(vouch_hpke_generate_keypair(kems[k], sk, &skl, pk, &pkl, &err),
				 VOUCH_OK);
		for (size_t a = 0; a < 3; a++) {
			struct vouch_hpke_suite s = {kems[k], VOUCH_HPKE_KDF_HKDF_SHA256, aeads[a]};
			const uint8_t msg[] = "content key 0123456789abcdef0123";
			uint8_t ct[sizeof(msg) + 16], pt[sizeof(msg)];
			assert_int_equal(vouch_hpke_seal_base(&s, pk, pkl, (const uint8_t *)"i", 1,
							      (const uint8_t *)"a", 1, msg,
							      sizeof(msg), enc, &encl, ct, &err),
					 VOUCH_OK);
			assert_int_equal(encl, vouch_hpke_kem_enc_len(kems[k]));
			assert_int_equal(
			    vouch_hpke_open_base(&s, enc, encl, sk, skl, (const uint8_t *)"i", 1,
						 (const uint8_t *)"a", 1, ct, sizeof(ct), pt, &err),
			    VOUCH_OK);
			assert_memory_equal(pt, msg, sizeof(msg));
			/* Different info, aad, a flipped ciphertext or enc byte: all fail. */
			assert_int_equal(
			    vouch_hpke_open_base(&s, enc, encl, sk, skl, (const uint8_t *)"j", 1,
						 (const uint8_t *)"a", 1, ct, sizeof(ct), pt, &err),
			    VOUCH_E_VERIFY);
			assert_string_equal(err.msg, "authentication failed");
			assert_int_equal(
			    vouch_hpke_open_base(&s, enc, encl, sk, skl, (const uint8_t *)"i", 1,
						 (const uint8_t *)"b", 1, ct, sizeof(ct), pt, &err),
			    VOUCH_E_VERIFY);
			ct[3] ^= 1;
			assert_int_equal(
			    vouch_hpke_open_base(&s, enc, encl, sk, skl, (const uint8_t *)"i", 1,
						 (const uint8_t *)"a", 1, ct, sizeof(ct), pt, &err),
			    VOUCH_E_VERIFY);
			ct[3] ^= 1;
			enc[encl - 1] ^= 1; /* X25519: another key; P-256: off the curve */
			enum vouch_rc rc =
			    vouch_hpke_open_base(&s, enc, encl, sk, skl, (const uint8_t *)"i", 1,
						 (const uint8_t *)"a", 1, ct, sizeof(ct), pt, &err);
			assert_true(rc == VOUCH_E_VERIFY || rc == VOUCH_E_FORMAT);
		}
		/* Another recipient's key cannot open. */
		uint8_t sk2[32], pk2[65], ct[48], pt[32];
		size_t sk2l = 0, pk2l = 0;
		struct vouch_hpke_suite s = {kems[k], 1, 2};
		assert_int_equal(vouch_hpke_generate_keypair(kems[k], sk2, &sk2l, pk2, &pk2l, &err),
				 VOUCH_OK);
		assert_int_equal(vouch_hpke_seal_base(&s, pk, pkl, NULL, 0, NULL, 0, sk2, 32, enc,
						      &encl, ct, &err),
				 VOUCH_OK);
		assert_int_equal(vouch_hpke_open_base(&s, enc, encl, sk2, sk2l, NULL, 0, NULL, 0,
						      ct, sizeof(ct), pt, &err),
				 VOUCH_E_VERIFY);
	}
}

static void test_x25519_small_order_rejected(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_hpke_suite s = {VOUCH_HPKE_KEM_X25519_SHA256, 1, 1};
	uint8_t zero[32] = {0}, one[32] = {1}, enc[65], sk[32], pk[32];
	size_t encl = 0, skl = 0, pkl = 0;
	struct vouch_hpke_ctx *ctx = NULL;
	/* Sender side: encapsulating to a small-order key. */
	assert_int_equal(vouch_hpke_setup_base_s(&s, zero, 32, NULL, 0, enc, &encl, &ctx, &err),
			 VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "invalid x25519 public key"));
	assert_null(ctx);
	assert_int_equal(vouch_hpke_setup_base_s(&s, one, 32, NULL, 0, enc, &encl, &ctx, &err),
			 VOUCH_E_FORMAT);
	/* Recipient side: a small-order enc. */
	assert_int_equal(vouch_hpke_generate_keypair(s.kem, sk, &skl, pk, &pkl, &err), VOUCH_OK);
	assert_int_equal(vouch_hpke_setup_base_r(&s, zero, 32, sk, skl, NULL, 0, &ctx, &err),
			 VOUCH_E_FORMAT);
	assert_null(ctx);
	/* Wrong length. */
	assert_int_equal(vouch_hpke_setup_base_s(&s, zero, 31, NULL, 0, enc, &encl, &ctx, &err),
			 VOUCH_E_FORMAT);
	assert_string_equal(err.msg, "x25519 public key must be 32 bytes, not 31");
}

static void test_p256_invalid_points_rejected(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_hpke_suite s = {VOUCH_HPKE_KEM_P256_SHA256, 1, 2};
	uint8_t sk[32], pk[65], enc[65], bad[65];
	size_t skl = 0, pkl = 0, encl = 0;
	struct vouch_hpke_ctx *ctx = NULL;
	assert_int_equal(vouch_hpke_generate_keypair(s.kem, sk, &skl, pk, &pkl, &err), VOUCH_OK);
	assert_int_equal(vouch_hpke_public_check(s.kem, pk, pkl, &err), VOUCH_OK);
	/* Off the curve: change y. */
	memcpy(bad, pk, 65);
	bad[64] ^= 1;
	assert_int_equal(vouch_hpke_public_check(s.kem, bad, 65, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "not a point on the curve"));
	assert_int_equal(vouch_hpke_setup_base_s(&s, bad, 65, NULL, 0, enc, &encl, &ctx, &err),
			 VOUCH_E_FORMAT);
	assert_int_equal(vouch_hpke_setup_base_r(&s, bad, 65, sk, skl, NULL, 0, &ctx, &err),
			 VOUCH_E_FORMAT);
	assert_null(ctx);
	/* Compressed form and the all-zero string (not a point). */
	memcpy(bad, pk, 65);
	bad[0] = 0x02;
	assert_int_equal(vouch_hpke_public_check(s.kem, bad, 65, &err), VOUCH_E_FORMAT);
	memset(bad, 0, 65);
	bad[0] = 0x04;
	assert_int_equal(vouch_hpke_public_check(s.kem, bad, 65, &err), VOUCH_E_FORMAT);
	/* Private scalars 0 and n are not keys. */
	uint8_t zero[32] = {0};
	static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
					  0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
	assert_int_equal(vouch_hpke_public_from_private(s.kem, zero, 32, pk, &pkl, &err),
			 VOUCH_E_FORMAT);
	assert_int_equal(vouch_hpke_public_from_private(s.kem, order, 32, pk, &pkl, &err),
			 VOUCH_E_FORMAT);
}

static void test_misuse(void **state)
{
	(void)state;
	struct vouch_err err;
	uint8_t sk[32], pk[65], enc[65], ct[64];
	size_t skl = 0, pkl = 0, encl = 0;
	struct vouch_hpke_ctx *ctx = NULL;
	struct vouch_hpke_suite bad_kem = {0x0011, 1, 1}, bad_kdf = {0x0020, 2, 1},
				bad_aead = {0x0020, 1, 4},
				exp_only = {0x0020, 1, VOUCH_HPKE_AEAD_EXPORT_ONLY};
	assert_int_equal(vouch_hpke_suite_check(&bad_kem, &err), VOUCH_E_UNSUPPORTED);
	assert_string_equal(err.msg, "HPKE KEM 0x0011 not supported");
	assert_int_equal(vouch_hpke_suite_check(&bad_kdf, &err), VOUCH_E_UNSUPPORTED);
	assert_int_equal(vouch_hpke_suite_check(&bad_aead, &err), VOUCH_E_UNSUPPORTED);
	assert_int_equal(vouch_hpke_generate_keypair(0x0020, sk, &skl, pk, &pkl, &err), VOUCH_OK);
	assert_int_equal(
	    vouch_hpke_setup_base_s(&exp_only, pk, pkl, NULL, 0, enc, &encl, &ctx, &err), VOUCH_OK);
	assert_int_equal(vouch_hpke_seal(ctx, NULL, 0, (const uint8_t *)"x", 1, ct, &err),
			 VOUCH_E_USAGE);
	uint8_t big[VOUCH_HPKE_MAX_EXPORT_CONTEXT + 1] = {0};
	assert_int_equal(vouch_hpke_export(ctx, big, sizeof(big), ct, 32, &err), VOUCH_E_LIMIT);
	assert_int_equal(vouch_hpke_export(ctx, NULL, 0, ct, 0, &err), VOUCH_E_LIMIT);
	vouch_hpke_ctx_free(ctx);
	ctx = NULL;
	/* A failed open does not advance the sequence number: the next good
	 * message still opens. */
	struct vouch_hpke_suite s = {0x0020, 1, 3};
	struct vouch_hpke_ctx *rctx = NULL;
	uint8_t c1[17], c2[17], p[1];
	assert_int_equal(vouch_hpke_setup_base_s(&s, pk, pkl, NULL, 0, enc, &encl, &ctx, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hpke_seal(ctx, NULL, 0, (const uint8_t *)"1", 1, c1, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hpke_seal(ctx, NULL, 0, (const uint8_t *)"2", 1, c2, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hpke_setup_base_r(&s, enc, encl, sk, skl, NULL, 0, &rctx, &err),
			 VOUCH_OK);
	/* Reordered: message 2 first fails. */
	assert_int_equal(vouch_hpke_open(rctx, NULL, 0, c2, sizeof(c2), p, &err), VOUCH_E_VERIFY);
	assert_int_equal(vouch_hpke_open(rctx, NULL, 0, c1, sizeof(c1), p, &err), VOUCH_OK);
	assert_int_equal(p[0], '1');
	assert_int_equal(vouch_hpke_open(rctx, NULL, 0, c2, sizeof(c2), p, &err), VOUCH_OK);
	assert_int_equal(p[0], '2');
	/* Too short to hold a tag. */
	assert_int_equal(vouch_hpke_open(rctx, NULL, 0, c2, 15, p, &err), VOUCH_E_VERIFY);
	vouch_hpke_ctx_free(ctx);
	vouch_hpke_ctx_free(rctx);
	/* DeriveKeyPair wants at least Nsk bytes of input keying material. */
	assert_int_equal(vouch_hpke_derive_keypair(0x0020, sk, 16, sk, &skl, pk, &pkl, &err),
			 VOUCH_E_USAGE);
}

/* The message limit: a sequence number never wraps (a wrapped one would
 * reuse a nonce), and a refused seal leaves the context where it was.
 * Export: L from 1 to 255 * Nh. */
static void test_limits(void **state)
{
	(void)state;
	struct vouch_err err;
	uint8_t sk[32], pk[65], enc[65], ct[17], pt[1], out[255 * 32 + 1];
	size_t skl = 0, pkl = 0, encl = 0;
	struct vouch_hpke_ctx *s = NULL, *r = NULL;
	struct vouch_hpke_suite suite = {VOUCH_HPKE_KEM_X25519_SHA256, 1, 2};
	assert_int_equal(vouch_hpke_generate_keypair(suite.kem, sk, &skl, pk, &pkl, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hpke_setup_base_s(&suite, pk, pkl, NULL, 0, enc, &encl, &s, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hpke_setup_base_r(&suite, enc, encl, sk, skl, NULL, 0, &r, &err),
			 VOUCH_OK);
	/* The last sequence number allowed is 2^64 - 2; both sides agree on
	 * its nonce. */
	vouch_hpke_ctx_set_seq(s, UINT64_MAX - 1);
	vouch_hpke_ctx_set_seq(r, UINT64_MAX - 1);
	assert_int_equal(vouch_hpke_seal(s, NULL, 0, (const uint8_t *)"z", 1, ct, &err), VOUCH_OK);
	assert_int_equal(vouch_hpke_open(r, NULL, 0, ct, sizeof(ct), pt, &err), VOUCH_OK);
	assert_int_equal(pt[0], 'z');
	assert_int_equal(vouch_hpke_seal(s, NULL, 0, (const uint8_t *)"z", 1, ct, &err),
			 VOUCH_E_LIMIT);
	assert_string_equal(err.msg, "HPKE message limit reached");
	assert_int_equal(vouch_hpke_seal(s, NULL, 0, (const uint8_t *)"z", 1, ct, &err),
			 VOUCH_E_LIMIT);
	assert_int_equal(vouch_hpke_open(r, NULL, 0, ct, sizeof(ct), pt, &err), VOUCH_E_LIMIT);
	/* Export: the longest output is 255 * 32 bytes, and its first 32
	 * bytes are the 32-byte export (HKDF-Expand is a prefix code only
	 * through L, which is in the label: they differ). */
	uint8_t e32[32];
	assert_int_equal(vouch_hpke_export(s, (const uint8_t *)"c", 1, out, 255 * 32, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_hpke_export(r, (const uint8_t *)"c", 1, e32, 32, &err), VOUCH_OK);
	assert_memory_not_equal(out, e32, 32);
	assert_int_equal(vouch_hpke_export(s, (const uint8_t *)"c", 1, out, 255 * 32 + 1, &err),
			 VOUCH_E_LIMIT);
	vouch_hpke_ctx_free(s);
	vouch_hpke_ctx_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc9180_vectors),
	    cmocka_unit_test(test_round_trip_all_suites),
	    cmocka_unit_test(test_x25519_small_order_rejected),
	    cmocka_unit_test(test_p256_invalid_points_rejected),
	    cmocka_unit_test(test_misuse),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
