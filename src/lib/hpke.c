/* HPKE base mode (RFC 9180) built from OpenSSL 3.0 EVP primitives.
 *
 * Written by hand because OpenSSL 3.0 (Debian 12) has no HPKE API (it came
 * in 3.2) and the scheme is small: two DHKEMs, HKDF with labels, a key
 * schedule and an AEAD with a counter nonce. It is checked against every
 * base-mode vector of RFC 9180 for the supported suites and against hpke-js
 * (tests/unit/test_hpke.c, tests/e2e/test_crypt.py). */
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "hpke_internal.h"
#include "vouch/hpke.h"

#define LABEL_V1 "HPKE-v1"
#define LABEL_V1_LEN 7
/* Room for the longest labeled input: header + label + exporter context. */
#define LABELED_MAX 1024
#define NH 32 /* HKDF-SHA256 output */

struct vouch_hpke_ctx {
	struct vouch_hpke_suite suite;
	const EVP_CIPHER *cipher; /* NULL for export-only */
	uint8_t key[32];
	size_t nk;
	uint8_t base_nonce[VOUCH_AEAD_NONCE_LEN];
	size_t nn;
	uint8_t exporter_secret[NH];
	uint64_t seq;
};

/* ---------------------------------------------------------------- HKDF */

static enum vouch_rc hkdf(int mode, const uint8_t *salt, size_t salt_len, const uint8_t *key,
			  size_t key_len, const uint8_t *info, size_t info_len, uint8_t *out,
			  size_t out_len, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[6];
	size_t i = 0;
	char digest[] = "SHA256";

	if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "HKDF unavailable");
		goto out;
	}
	params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[i++] =
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)key, key_len);
	/* An absent salt is HashLen zero bytes, exactly what RFC 5869 says
	 * an empty salt means. */
	if (salt_len > 0)
		params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
								(void *)(uintptr_t)salt, salt_len);
	if (info_len > 0)
		params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
								(void *)(uintptr_t)info, info_len);
	params[i] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		OPENSSL_cleanse(out, out_len);
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "HKDF failed");
	}
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

enum vouch_rc vouch_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
				 size_t ikm_len, uint8_t out[32], struct vouch_err *err)
{
	if (ikm_len == 0)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "HKDF-Extract: empty input");
	return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm, ikm_len, NULL, 0, out, NH,
		    err);
}

enum vouch_rc vouch_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
				size_t info_len, uint8_t *out, size_t out_len,
				struct vouch_err *err)
{
	if (info_len > LABELED_MAX || out_len == 0 || out_len > 255 * NH)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HKDF-Expand: bad length");
	return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prk_len, info, info_len, out,
		    out_len, err);
}

/* suite_id: "KEM" || I2OSP(kem_id, 2), or "HPKE" || kem || kdf || aead. */
struct suite_id {
	uint8_t b[10];
	size_t len;
};

static void kem_suite_id(uint16_t kem, struct suite_id *s)
{
	memcpy(s->b, "KEM", 3);
	s->b[3] = (uint8_t)(kem >> 8);
	s->b[4] = (uint8_t)kem;
	s->len = 5;
}

static void hpke_suite_id(const struct vouch_hpke_suite *suite, struct suite_id *s)
{
	memcpy(s->b, "HPKE", 4);
	s->b[4] = (uint8_t)(suite->kem >> 8);
	s->b[5] = (uint8_t)suite->kem;
	s->b[6] = (uint8_t)(suite->kdf >> 8);
	s->b[7] = (uint8_t)suite->kdf;
	s->b[8] = (uint8_t)(suite->aead >> 8);
	s->b[9] = (uint8_t)suite->aead;
	s->len = 10;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id ||
 * label || ikm). */
static enum vouch_rc labeled_extract(const struct suite_id *sid, const uint8_t *salt,
				     size_t salt_len, const char *label, const uint8_t *ikm,
				     size_t ikm_len, uint8_t out[NH], struct vouch_err *err)
{
	uint8_t buf[LABELED_MAX];
	size_t label_len = strlen(label);
	size_t n = 0;
	if (ikm_len > sizeof(buf) - LABEL_V1_LEN - sid->len - label_len)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HPKE: input too long");
	memcpy(buf + n, LABEL_V1, LABEL_V1_LEN);
	n += LABEL_V1_LEN;
	memcpy(buf + n, sid->b, sid->len);
	n += sid->len;
	memcpy(buf + n, label, label_len);
	n += label_len;
	if (ikm_len > 0)
		memcpy(buf + n, ikm, ikm_len);
	n += ikm_len;
	enum vouch_rc rc = vouch_hkdf_extract(salt, salt_len, buf, n, out, err);
	OPENSSL_cleanse(buf, n);
	return rc;
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1"
 * || suite_id || label || info, L). */
static enum vouch_rc labeled_expand(const struct suite_id *sid, const uint8_t *prk,
				    const char *label, const uint8_t *info, size_t info_len,
				    uint8_t *out, size_t out_len, struct vouch_err *err)
{
	uint8_t buf[LABELED_MAX];
	size_t label_len = strlen(label);
	size_t n = 0;
	if (out_len > 0xffff || info_len > sizeof(buf) - 2 - LABEL_V1_LEN - sid->len - label_len)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HPKE: input too long");
	buf[n++] = (uint8_t)(out_len >> 8);
	buf[n++] = (uint8_t)out_len;
	memcpy(buf + n, LABEL_V1, LABEL_V1_LEN);
	n += LABEL_V1_LEN;
	memcpy(buf + n, sid->b, sid->len);
	n += sid->len;
	memcpy(buf + n, label, label_len);
	n += label_len;
	if (info_len > 0)
		memcpy(buf + n, info, info_len);
	n += info_len;
	enum vouch_rc rc = vouch_hkdf_expand(prk, NH, buf, n, out, out_len, err);
	OPENSSL_cleanse(buf, n);
	return rc;
}

/* ----------------------------------------------------------------- KEMs */

size_t vouch_hpke_kem_enc_len(uint16_t kem)
{
	switch (kem) {
	case VOUCH_HPKE_KEM_X25519_SHA256:
		return 32;
	case VOUCH_HPKE_KEM_P256_SHA256:
		return 65;
	default:
		return 0;
	}
}

size_t vouch_hpke_kem_public_len(uint16_t kem)
{
	return vouch_hpke_kem_enc_len(kem);
}

size_t vouch_hpke_kem_private_len(uint16_t kem)
{
	switch (kem) {
	case VOUCH_HPKE_KEM_X25519_SHA256:
	case VOUCH_HPKE_KEM_P256_SHA256:
		return 32;
	default:
		return 0;
	}
}

const char *vouch_hpke_kem_name(uint16_t kem)
{
	switch (kem) {
	case VOUCH_HPKE_KEM_X25519_SHA256:
		return "x25519";
	case VOUCH_HPKE_KEM_P256_SHA256:
		return "p256";
	default:
		return NULL;
	}
}

const EVP_CIPHER *vouch_aead_cipher(uint16_t aead, size_t *key_len)
{
	switch (aead) {
	case VOUCH_HPKE_AEAD_AES128GCM:
		*key_len = 16;
		return EVP_aes_128_gcm();
	case VOUCH_HPKE_AEAD_AES256GCM:
		*key_len = 32;
		return EVP_aes_256_gcm();
	case VOUCH_HPKE_AEAD_CHACHA20POLY1305:
		*key_len = 32;
		return EVP_chacha20_poly1305();
	default:
		*key_len = 0;
		return NULL;
	}
}

enum vouch_rc vouch_hpke_suite_check(const struct vouch_hpke_suite *suite, struct vouch_err *err)
{
	size_t nk;
	if (vouch_hpke_kem_enc_len(suite->kem) == 0)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "HPKE KEM 0x%04x not supported",
				     suite->kem);
	if (suite->kdf != VOUCH_HPKE_KDF_HKDF_SHA256)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "HPKE KDF 0x%04x not supported",
				     suite->kdf);
	if (suite->aead != VOUCH_HPKE_AEAD_EXPORT_ONLY &&
	    vouch_aead_cipher(suite->aead, &nk) == NULL)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "HPKE AEAD 0x%04x not supported",
				     suite->aead);
	return VOUCH_OK;
}

static EC_GROUP *p256_group(void)
{
	return EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

/* pk = sk * G for a P-256 scalar that must be in [1, n-1]. */
static enum vouch_rc p256_public(const uint8_t sk[32], uint8_t pk[65], struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	EC_GROUP *g = p256_group();
	BIGNUM *d = BN_secure_new();
	EC_POINT *p = NULL;
	if (g == NULL || d == NULL || (p = EC_POINT_new(g)) == NULL ||
	    BN_bin2bn(sk, 32, d) == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "P-256 setup failed");
		goto out;
	}
	if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "invalid P-256 private key");
		goto out;
	}
	if (EC_POINT_mul(g, p, d, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pk, 65, NULL) != 65) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "P-256 scalar multiplication failed");
		goto out;
	}
out:
	EC_POINT_free(p);
	BN_clear_free(d);
	EC_GROUP_free(g);
	return rc;
}

enum vouch_rc vouch_hpke_public_check(uint16_t kem, const uint8_t *pk, size_t pk_len,
				      struct vouch_err *err)
{
	size_t want = vouch_hpke_kem_public_len(kem);
	if (want == 0)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "HPKE KEM 0x%04x not supported",
				     kem);
	if (pk_len != want)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "%s public key must be %zu bytes, not %zu",
				     vouch_hpke_kem_name(kem), want, pk_len);
	if (kem != VOUCH_HPKE_KEM_P256_SHA256)
		return VOUCH_OK; /* every 32-byte string is an X25519 public key */
	if (pk[0] != 0x04)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "P-256 public key is not an uncompressed point");
	enum vouch_rc rc = VOUCH_OK;
	EC_GROUP *g = p256_group();
	EC_POINT *p = NULL;
	if (g == NULL || (p = EC_POINT_new(g)) == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "P-256 setup failed");
		goto out;
	}
	/* oct2point refuses coordinates that are not on the curve. */
	if (EC_POINT_oct2point(g, p, pk, pk_len, NULL) != 1 || EC_POINT_is_at_infinity(g, p) ||
	    EC_POINT_is_on_curve(g, p, NULL) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT,
				       "P-256 public key is not a point on the curve");
		goto out;
	}
out:
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return rc;
}

static EVP_PKEY *p256_pkey(const uint8_t *sk, const uint8_t pk[65])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	BIGNUM *d = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
		1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pk, 65) != 1)
		goto out;
	if (sk != NULL) {
		if ((d = BN_secure_new()) == NULL || BN_bin2bn(sk, 32, d) == NULL ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1)
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(pctx, &pkey, sk != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
			      params) != 1)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return pkey;
}

EVP_PKEY *vouch_hpke_pkey_new(uint16_t kem, const uint8_t *sk, const uint8_t *pk)
{
	if (kem == VOUCH_HPKE_KEM_P256_SHA256)
		return p256_pkey(sk, pk);
	if (kem != VOUCH_HPKE_KEM_X25519_SHA256)
		return NULL;
	if (sk != NULL)
		return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, 32);
}

/* DH(sk, pk): X25519, or the x-coordinate of the P-256 product (32 bytes).
 * pk has been checked by the caller. */
static enum vouch_rc dh(uint16_t kem, const uint8_t *sk, const uint8_t *pk, uint8_t out[32],
			struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	EVP_PKEY *priv = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t own_pk[65];
	size_t len = 32;
	static const uint8_t zero[32];

	if (kem == VOUCH_HPKE_KEM_X25519_SHA256) {
		priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
		peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, 32);
	} else {
		rc = p256_public(sk, own_pk, err);
		if (rc != VOUCH_OK)
			goto out;
		priv = p256_pkey(sk, own_pk);
		peer = p256_pkey(NULL, pk);
	}
	if (priv == NULL || peer == NULL || (ctx = EVP_PKEY_CTX_new(priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "DH setup failed");
		goto out;
	}
	if (EVP_PKEY_derive_set_peer(ctx, peer) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "invalid %s public key",
				       vouch_hpke_kem_name(kem));
		goto out;
	}
	/* OpenSSL refuses an all-zero X25519 result (a small-order public
	 * key); the check below holds whatever the library does. */
	if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != 32 ||
	    CRYPTO_memcmp(out, zero, 32) == 0) {
		OPENSSL_cleanse(out, 32);
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT,
				       "invalid %s public key (DH result is zero)",
				       vouch_hpke_kem_name(kem));
		goto out;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(peer);
	return rc;
}

enum vouch_rc vouch_hpke_public_from_private(uint16_t kem, const uint8_t *sk, size_t sk_len,
					     uint8_t *pk, size_t *pk_len, struct vouch_err *err)
{
	size_t want = vouch_hpke_kem_private_len(kem);
	if (want == 0)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "HPKE KEM 0x%04x not supported",
				     kem);
	if (sk_len != want)
		return vouch_err_set(err, VOUCH_E_FORMAT, "%s private key must be %zu bytes",
				     vouch_hpke_kem_name(kem), want);
	if (kem == VOUCH_HPKE_KEM_P256_SHA256) {
		enum vouch_rc rc = p256_public(sk, pk, err);
		if (rc == VOUCH_OK)
			*pk_len = 65;
		return rc;
	}
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
	size_t len = 32;
	if (k == NULL || EVP_PKEY_get_raw_public_key(k, pk, &len) != 1 || len != 32) {
		EVP_PKEY_free(k);
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "X25519 public key failed");
	}
	EVP_PKEY_free(k);
	*pk_len = 32;
	return VOUCH_OK;
}

enum vouch_rc vouch_hpke_derive_keypair(uint16_t kem, const uint8_t *ikm, size_t ikm_len,
					uint8_t *sk, size_t *sk_len, uint8_t *pk, size_t *pk_len,
					struct vouch_err *err)
{
	struct suite_id sid;
	uint8_t prk[NH];
	enum vouch_rc rc;
	BIGNUM *cand = NULL;
	EC_GROUP *g = NULL;

	if (vouch_hpke_kem_enc_len(kem) == 0)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "HPKE KEM 0x%04x not supported",
				     kem);
	if (ikm_len < 32)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "DeriveKeyPair: ikm shorter than 32 bytes");
	kem_suite_id(kem, &sid);
	rc = labeled_extract(&sid, NULL, 0, "dkp_prk", ikm, ikm_len, prk, err);
	if (rc != VOUCH_OK)
		goto out;
	if (kem == VOUCH_HPKE_KEM_X25519_SHA256) {
		rc = labeled_expand(&sid, prk, "sk", NULL, 0, sk, 32, err);
		if (rc == VOUCH_OK)
			*sk_len = 32;
	} else {
		/* Rejection sampling (§7.1.3): candidates until one is in
		 * [1, n-1]; bitmask 0xff for P-256. */
		g = p256_group();
		cand = BN_secure_new();
		if (g == NULL || cand == NULL) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "P-256 setup failed");
			goto out;
		}
		rc = VOUCH_E_CRYPTO;
		for (unsigned counter = 0; counter < 256; counter++) {
			uint8_t c = (uint8_t)counter;
			rc = labeled_expand(&sid, prk, "candidate", &c, 1, sk, 32, err);
			if (rc != VOUCH_OK)
				goto out;
			if (BN_bin2bn(sk, 32, cand) == NULL) {
				rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "BN_bin2bn failed");
				goto out;
			}
			if (!BN_is_zero(cand) && BN_cmp(cand, EC_GROUP_get0_order(g)) < 0) {
				*sk_len = 32;
				rc = VOUCH_OK;
				break;
			}
		}
		if (rc != VOUCH_OK)
			rc = vouch_err_set(err, VOUCH_E_CRYPTO, "DeriveKeyPairError");
	}
	if (rc == VOUCH_OK)
		rc = vouch_hpke_public_from_private(kem, sk, 32, pk, pk_len, err);
out:
	if (rc != VOUCH_OK)
		OPENSSL_cleanse(sk, 32);
	OPENSSL_cleanse(prk, sizeof(prk));
	BN_clear_free(cand);
	EC_GROUP_free(g);
	return rc;
}

enum vouch_rc vouch_hpke_generate_keypair(uint16_t kem, uint8_t *sk, size_t *sk_len, uint8_t *pk,
					  size_t *pk_len, struct vouch_err *err)
{
	uint8_t ikm[32];
	if (RAND_priv_bytes(ikm, sizeof(ikm)) != 1)
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "random bytes unavailable");
	enum vouch_rc rc =
	    vouch_hpke_derive_keypair(kem, ikm, sizeof(ikm), sk, sk_len, pk, pk_len, err);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	return rc;
}

/* shared_secret = ExtractAndExpand(dh, enc || pkRm). */
static enum vouch_rc extract_and_expand(uint16_t kem, const uint8_t dhv[32], const uint8_t *enc,
					size_t enc_len, const uint8_t *pkR, size_t pkR_len,
					uint8_t out[VOUCH_HPKE_NSECRET], struct vouch_err *err)
{
	struct suite_id sid;
	uint8_t prk[NH];
	uint8_t kem_context[2 * VOUCH_HPKE_MAX_PUBLIC];
	kem_suite_id(kem, &sid);
	memcpy(kem_context, enc, enc_len);
	memcpy(kem_context + enc_len, pkR, pkR_len);
	enum vouch_rc rc = labeled_extract(&sid, NULL, 0, "eae_prk", dhv, 32, prk, err);
	if (rc == VOUCH_OK)
		rc = labeled_expand(&sid, prk, "shared_secret", kem_context, enc_len + pkR_len, out,
				    VOUCH_HPKE_NSECRET, err);
	OPENSSL_cleanse(prk, sizeof(prk));
	return rc;
}

/* Encap with the ephemeral key DeriveKeyPair(ikmE). */
enum vouch_rc vouch_hpke_encap_derand(uint16_t kem, const uint8_t *pkR, size_t pkR_len,
				      const uint8_t *ikmE, size_t ikmE_len,
				      uint8_t shared_secret[VOUCH_HPKE_NSECRET], uint8_t *enc,
				      size_t *enc_len, struct vouch_err *err)
{
	uint8_t skE[VOUCH_HPKE_MAX_PRIVATE];
	uint8_t dhv[32];
	size_t sk_len = 0;
	enum vouch_rc rc = vouch_hpke_public_check(kem, pkR, pkR_len, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = vouch_hpke_derive_keypair(kem, ikmE, ikmE_len, skE, &sk_len, enc, enc_len, err);
	if (rc == VOUCH_OK)
		rc = dh(kem, skE, pkR, dhv, err);
	if (rc == VOUCH_OK)
		rc = extract_and_expand(kem, dhv, enc, *enc_len, pkR, pkR_len, shared_secret, err);
	OPENSSL_cleanse(skE, sizeof(skE));
	OPENSSL_cleanse(dhv, sizeof(dhv));
	return rc;
}

enum vouch_rc vouch_hpke_decap(uint16_t kem, const uint8_t *enc, size_t enc_len, const uint8_t *skR,
			       size_t skR_len, uint8_t shared_secret[VOUCH_HPKE_NSECRET],
			       struct vouch_err *err)
{
	uint8_t pkR[VOUCH_HPKE_MAX_PUBLIC];
	uint8_t dhv[32];
	size_t pkR_len = 0;
	enum vouch_rc rc = vouch_hpke_public_check(kem, enc, enc_len, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "HPKE enc: ");
		return rc;
	}
	rc = vouch_hpke_public_from_private(kem, skR, skR_len, pkR, &pkR_len, err);
	if (rc == VOUCH_OK)
		rc = dh(kem, skR, enc, dhv, err);
	if (rc == VOUCH_OK)
		rc = extract_and_expand(kem, dhv, enc, enc_len, pkR, pkR_len, shared_secret, err);
	OPENSSL_cleanse(dhv, sizeof(dhv));
	return rc;
}

/* --------------------------------------------------------- key schedule */

static enum vouch_rc key_schedule_base(const struct vouch_hpke_suite *suite,
				       const uint8_t shared_secret[VOUCH_HPKE_NSECRET],
				       const uint8_t *info, size_t info_len,
				       struct vouch_hpke_ctx **out, struct vouch_err *err)
{
	struct suite_id sid;
	uint8_t ksc[1 + 2 * NH];
	uint8_t secret[NH];
	enum vouch_rc rc;
	struct vouch_hpke_ctx *ctx = NULL;

	rc = vouch_hpke_suite_check(suite, err);
	if (rc != VOUCH_OK)
		return rc;
	if (info_len > VOUCH_HPKE_MAX_INFO)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HPKE info longer than %d bytes",
				     VOUCH_HPKE_MAX_INFO);
	ctx = OPENSSL_secure_zalloc(sizeof(*ctx));
	if (ctx == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	ctx->suite = *suite;
	if (suite->aead != VOUCH_HPKE_AEAD_EXPORT_ONLY) {
		ctx->cipher = vouch_aead_cipher(suite->aead, &ctx->nk);
		ctx->nn = VOUCH_AEAD_NONCE_LEN;
	}
	hpke_suite_id(suite, &sid);
	/* mode_base: psk and psk_id are empty. */
	ksc[0] = 0x00;
	rc = labeled_extract(&sid, NULL, 0, "psk_id_hash", NULL, 0, ksc + 1, err);
	if (rc == VOUCH_OK)
		rc = labeled_extract(&sid, NULL, 0, "info_hash", info, info_len, ksc + 1 + NH, err);
	if (rc == VOUCH_OK)
		rc = labeled_extract(&sid, shared_secret, VOUCH_HPKE_NSECRET, "secret", NULL, 0,
				     secret, err);
	if (rc == VOUCH_OK && ctx->nk > 0)
		rc = labeled_expand(&sid, secret, "key", ksc, sizeof(ksc), ctx->key, ctx->nk, err);
	if (rc == VOUCH_OK && ctx->nn > 0)
		rc = labeled_expand(&sid, secret, "base_nonce", ksc, sizeof(ksc), ctx->base_nonce,
				    ctx->nn, err);
	if (rc == VOUCH_OK)
		rc = labeled_expand(&sid, secret, "exp", ksc, sizeof(ksc), ctx->exporter_secret, NH,
				    err);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc != VOUCH_OK) {
		vouch_hpke_ctx_free(ctx);
		return rc;
	}
	*out = ctx;
	return VOUCH_OK;
}

void vouch_hpke_ctx_free(struct vouch_hpke_ctx *ctx)
{
	if (ctx != NULL)
		OPENSSL_secure_clear_free(ctx, sizeof(*ctx));
}

enum vouch_rc vouch_hpke_setup_base_s_derand(const struct vouch_hpke_suite *suite,
					     const uint8_t *pkR, size_t pkR_len,
					     const uint8_t *info, size_t info_len,
					     const uint8_t *ikmE, size_t ikmE_len, uint8_t *enc,
					     size_t *enc_len, struct vouch_hpke_ctx **ctx,
					     struct vouch_err *err)
{
	uint8_t ss[VOUCH_HPKE_NSECRET];
	enum vouch_rc rc = vouch_hpke_suite_check(suite, err);
	if (rc == VOUCH_OK)
		rc = vouch_hpke_encap_derand(suite->kem, pkR, pkR_len, ikmE, ikmE_len, ss, enc,
					     enc_len, err);
	if (rc == VOUCH_OK)
		rc = key_schedule_base(suite, ss, info, info_len, ctx, err);
	OPENSSL_cleanse(ss, sizeof(ss));
	return rc;
}

enum vouch_rc vouch_hpke_setup_base_s(const struct vouch_hpke_suite *suite, const uint8_t *pkR,
				      size_t pkR_len, const uint8_t *info, size_t info_len,
				      uint8_t *enc, size_t *enc_len, struct vouch_hpke_ctx **ctx,
				      struct vouch_err *err)
{
	uint8_t ikmE[32];
	if (RAND_priv_bytes(ikmE, sizeof(ikmE)) != 1)
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "random bytes unavailable");
	enum vouch_rc rc = vouch_hpke_setup_base_s_derand(suite, pkR, pkR_len, info, info_len, ikmE,
							  sizeof(ikmE), enc, enc_len, ctx, err);
	OPENSSL_cleanse(ikmE, sizeof(ikmE));
	return rc;
}

enum vouch_rc vouch_hpke_setup_base_r(const struct vouch_hpke_suite *suite, const uint8_t *enc,
				      size_t enc_len, const uint8_t *skR, size_t skR_len,
				      const uint8_t *info, size_t info_len,
				      struct vouch_hpke_ctx **ctx, struct vouch_err *err)
{
	uint8_t ss[VOUCH_HPKE_NSECRET];
	enum vouch_rc rc = vouch_hpke_suite_check(suite, err);
	if (rc == VOUCH_OK)
		rc = vouch_hpke_decap(suite->kem, enc, enc_len, skR, skR_len, ss, err);
	if (rc == VOUCH_OK)
		rc = key_schedule_base(suite, ss, info, info_len, ctx, err);
	OPENSSL_cleanse(ss, sizeof(ss));
	return rc;
}

void vouch_hpke_ctx_peek(const struct vouch_hpke_ctx *ctx, const uint8_t **key, size_t *key_len,
			 const uint8_t **base_nonce, size_t *nonce_len,
			 const uint8_t **exporter_secret, size_t *exporter_len)
{
	*key = ctx->key;
	*key_len = ctx->nk;
	*base_nonce = ctx->base_nonce;
	*nonce_len = ctx->nn;
	*exporter_secret = ctx->exporter_secret;
	*exporter_len = NH;
}

void vouch_hpke_ctx_set_seq(struct vouch_hpke_ctx *ctx, uint64_t seq)
{
	ctx->seq = seq;
}

/* ---------------------------------------------------------------- AEAD */

enum vouch_rc vouch_aead_seal(EVP_CIPHER_CTX *c, const EVP_CIPHER *cipher, const uint8_t *key,
			      const uint8_t nonce[VOUCH_AEAD_NONCE_LEN], const uint8_t *aad,
			      size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct,
			      struct vouch_err *err)
{
	int n = 0;
	if (pt_len > INT_MAX - 64 || aad_len > INT_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "AEAD input too long");
	if (cipher != NULL && EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL) != 1)
		goto fail;
	if (EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1)
		goto fail;
	if (aad_len > 0 && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		goto fail;
	if (pt_len > 0 && EVP_EncryptUpdate(c, ct, &n, pt, (int)pt_len) != 1)
		goto fail;
	if (EVP_EncryptFinal_ex(c, ct + pt_len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, VOUCH_HPKE_TAG_LEN, ct + pt_len) != 1)
		goto fail;
	return VOUCH_OK;
fail:
	OPENSSL_cleanse(ct, pt_len + VOUCH_HPKE_TAG_LEN);
	return vouch_err_openssl(err, VOUCH_E_CRYPTO, "AEAD seal failed");
}

enum vouch_rc vouch_aead_open(EVP_CIPHER_CTX *c, const EVP_CIPHER *cipher, const uint8_t *key,
			      const uint8_t nonce[VOUCH_AEAD_NONCE_LEN], const uint8_t *aad,
			      size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
			      struct vouch_err *err)
{
	int n = 0;
	uint8_t tag[VOUCH_HPKE_TAG_LEN];
	if (ct_len < VOUCH_HPKE_TAG_LEN)
		return vouch_err_set(err, VOUCH_E_VERIFY, "ciphertext shorter than its tag");
	if (ct_len > INT_MAX - 64 || aad_len > INT_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "AEAD input too long");
	size_t pt_len = ct_len - VOUCH_HPKE_TAG_LEN;
	memcpy(tag, ct + pt_len, sizeof(tag));
	if (cipher != NULL && EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL) != 1)
		goto crypto;
	if (EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) != 1)
		goto crypto;
	if (aad_len > 0 && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		goto crypto;
	if (pt_len > 0 && EVP_DecryptUpdate(c, pt, &n, ct, (int)pt_len) != 1)
		goto crypto;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, VOUCH_HPKE_TAG_LEN, tag) != 1)
		goto crypto;
	if (EVP_DecryptFinal_ex(c, pt + pt_len, &n) != 1) {
		OPENSSL_cleanse(pt, pt_len);
		ERR_clear_error();
		return vouch_err_set(err, VOUCH_E_VERIFY, "authentication failed");
	}
	return VOUCH_OK;
crypto:
	OPENSSL_cleanse(pt, pt_len);
	return vouch_err_openssl(err, VOUCH_E_CRYPTO, "AEAD open failed");
}

static void nonce_for(const struct vouch_hpke_ctx *ctx, uint8_t nonce[VOUCH_AEAD_NONCE_LEN])
{
	memcpy(nonce, ctx->base_nonce, VOUCH_AEAD_NONCE_LEN);
	for (size_t i = 0; i < 8; i++)
		nonce[VOUCH_AEAD_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

static enum vouch_rc aead_ready(const struct vouch_hpke_ctx *ctx, struct vouch_err *err)
{
	if (ctx->cipher == NULL)
		return vouch_err_set(err, VOUCH_E_USAGE, "HPKE export-only context cannot seal");
	/* Nn is 12 bytes and seq 64 bits: the RFC's limit 2^96-1 is never
	 * near, but a wrapped counter would reuse nonces, so stop at 2^64-1. */
	if (ctx->seq == UINT64_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HPKE message limit reached");
	return VOUCH_OK;
}

enum vouch_rc vouch_hpke_seal(struct vouch_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			      const uint8_t *pt, size_t pt_len, uint8_t *ct, struct vouch_err *err)
{
	uint8_t nonce[VOUCH_AEAD_NONCE_LEN];
	enum vouch_rc rc = aead_ready(ctx, err);
	if (rc != VOUCH_OK)
		return rc;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	nonce_for(ctx, nonce);
	rc = vouch_aead_seal(c, ctx->cipher, ctx->key, nonce, aad, aad_len, pt, pt_len, ct, err);
	EVP_CIPHER_CTX_free(c);
	if (rc == VOUCH_OK)
		ctx->seq++;
	return rc;
}

enum vouch_rc vouch_hpke_open(struct vouch_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			      const uint8_t *ct, size_t ct_len, uint8_t *pt, struct vouch_err *err)
{
	uint8_t nonce[VOUCH_AEAD_NONCE_LEN];
	enum vouch_rc rc = aead_ready(ctx, err);
	if (rc != VOUCH_OK)
		return rc;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	nonce_for(ctx, nonce);
	rc = vouch_aead_open(c, ctx->cipher, ctx->key, nonce, aad, aad_len, ct, ct_len, pt, err);
	EVP_CIPHER_CTX_free(c);
	if (rc == VOUCH_OK)
		ctx->seq++;
	return rc;
}

enum vouch_rc vouch_hpke_export(const struct vouch_hpke_ctx *ctx, const uint8_t *exporter_context,
				size_t context_len, uint8_t *out, size_t out_len,
				struct vouch_err *err)
{
	struct suite_id sid;
	if (context_len > VOUCH_HPKE_MAX_EXPORT_CONTEXT)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HPKE exporter context too long");
	if (out_len == 0 || out_len > 255 * NH)
		return vouch_err_set(err, VOUCH_E_LIMIT, "HPKE export length out of range");
	hpke_suite_id(&ctx->suite, &sid);
	return labeled_expand(&sid, ctx->exporter_secret, "sec", exporter_context, context_len, out,
			      out_len, err);
}

enum vouch_rc vouch_hpke_seal_base(const struct vouch_hpke_suite *suite, const uint8_t *pkR,
				   size_t pkR_len, const uint8_t *info, size_t info_len,
				   const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				   size_t pt_len, uint8_t *enc, size_t *enc_len, uint8_t *ct,
				   struct vouch_err *err)
{
	struct vouch_hpke_ctx *ctx = NULL;
	enum vouch_rc rc =
	    vouch_hpke_setup_base_s(suite, pkR, pkR_len, info, info_len, enc, enc_len, &ctx, err);
	if (rc == VOUCH_OK)
		rc = vouch_hpke_seal(ctx, aad, aad_len, pt, pt_len, ct, err);
	vouch_hpke_ctx_free(ctx);
	return rc;
}

enum vouch_rc vouch_hpke_open_base(const struct vouch_hpke_suite *suite, const uint8_t *enc,
				   size_t enc_len, const uint8_t *skR, size_t skR_len,
				   const uint8_t *info, size_t info_len, const uint8_t *aad,
				   size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
				   struct vouch_err *err)
{
	struct vouch_hpke_ctx *ctx = NULL;
	enum vouch_rc rc =
	    vouch_hpke_setup_base_r(suite, enc, enc_len, skR, skR_len, info, info_len, &ctx, err);
	if (rc == VOUCH_OK)
		rc = vouch_hpke_open(ctx, aad, aad_len, ct, ct_len, pt, err);
	vouch_hpke_ctx_free(ctx);
	return rc;
}
