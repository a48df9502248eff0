/* Unit tests of src/lib/key.c: RFC 8032 vectors, TUF encodings and key ids,
 * signature checks under attack, malformed keys, private key files. */
#define _GNU_SOURCE /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key_internal.h"
#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/error.h"
#include "vouch/json.h"
#include "vouch/key.h"

/* ---- helpers ---------------------------------------------------------- */

static char tmpdir[64];
/* Keys generated once for the whole file (RSA generation is slow). */
static struct vouch_key *g_ed, *g_ec, *g_rsa;

static void unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	struct vouch_err err;
	assert_int_equal(vouch_hex_decode(hex, strlen(hex), out, cap, len, &err), VOUCH_OK);
}

static char *path_in_tmp(const char *name)
{
	static char buf[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static json_t *tuf_key(const char *keytype, const char *scheme, const char *pub)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "keytype", keytype, "scheme", scheme, "keyval",
			      "public", pub);
	assert_non_null(o);
	return o;
}

static char *pem_of(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int group_setup(void **state)
{
	(void)state;
	struct vouch_err err;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vouch-test-key-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (vouch_key_generate(VOUCH_KEY_ED25519, 0, &g_ed, &err) != VOUCH_OK ||
	    vouch_key_generate(VOUCH_KEY_ECDSA_P256, 0, &g_ec, &err) != VOUCH_OK ||
	    vouch_key_generate(VOUCH_KEY_RSA, 3072, &g_rsa, &err) != VOUCH_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	vouch_key_free(g_ed);
	vouch_key_free(g_ec);
	vouch_key_free(g_rsa);
	nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- RFC 8032 section 7.1 -------------------------------------------- */

struct rfc8032_vector {
	const char *name;
	const char *secret;
	const char *public;
	const char *message; /* hex */
	const char *signature;
};

static const struct rfc8032_vector rfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fe"
     "ebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431"
     "e0303dca179c138ac17ad9bef1177331a704"},
};

static void test_rfc8032_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++) {
		const struct rfc8032_vector *v = &rfc8032[i];
		struct vouch_err err;
		uint8_t sk[32], msg[64], want[64];
		size_t sklen, msglen, wantlen;
		unhex(v->secret, sk, sizeof(sk), &sklen);
		unhex(v->message, msg, sizeof(msg), &msglen);
		unhex(v->signature, want, sizeof(want), &wantlen);
		assert_int_equal(wantlen, 64);

		/* Verification through the public key as TUF encodes it. */
		json_t *obj = tuf_key("ed25519", "ed25519", v->public);
		struct vouch_key *pub = NULL;
		assert_int_equal(vouch_key_from_tuf(obj, &pub, &err), VOUCH_OK);
		json_decref(obj);
		assert_int_equal(vouch_key_verify(pub, msg, msglen, want, wantlen, &err), VOUCH_OK);
		assert_false(vouch_key_has_private(pub));

		/* Signing with the secret key reproduces the signature. */
		EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, sklen);
		assert_non_null(pkey);
		struct vouch_key *priv = NULL;
		assert_int_equal(vouch_key_from_evp(pkey, 1, NULL, &priv, &err), VOUCH_OK);
		EVP_PKEY_free(pkey);
		assert_string_equal(vouch_key_id(priv), vouch_key_id(pub));
		uint8_t *sig = NULL;
		size_t siglen = 0;
		assert_int_equal(
		    vouch_key_sign(priv, msglen ? msg : NULL, msglen, &sig, &siglen, &err),
		    VOUCH_OK);
		assert_int_equal(siglen, 64);
		if (memcmp(sig, want, 64) != 0)
			fail_msg("%s: signature differs from RFC 8032", v->name);
		free(sig);
		vouch_key_free(priv);
		vouch_key_free(pub);
	}
}

/* ---- key ids and TUF encodings ----------------------------------------- */

static void test_key_id_fixed(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_key *k = NULL;
	/* sha256 of {"keytype":"ed25519","keyval":{"public":"d75a...511a"},
	 * "scheme":"ed25519"}, computed independently (Python hashlib). */
	json_t *obj = tuf_key("ed25519", "ed25519",
			      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	assert_int_equal(vouch_key_from_tuf(obj, &k, &err), VOUCH_OK);
	json_decref(obj);
	assert_string_equal(vouch_key_id(k),
			    "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916");
	assert_string_equal(vouch_key_keytype(k), "ed25519");
	assert_string_equal(vouch_key_scheme(k), "ed25519");
	assert_string_equal(vouch_key_location(k), "");
	assert_int_equal(vouch_key_get_type(k), VOUCH_KEY_ED25519);
	vouch_key_free(k);
}

static void check_round_trip(struct vouch_key *k, const char *keytype, const char *scheme)
{
	struct vouch_err err;
	json_t *obj = NULL;
	assert_int_equal(vouch_key_to_tuf(k, &obj, &err), VOUCH_OK);
	assert_string_equal(json_string_value(json_object_get(obj, "keytype")), keytype);
	assert_string_equal(json_string_value(json_object_get(obj, "scheme")), scheme);
	const char *pub =
	    json_string_value(json_object_get(json_object_get(obj, "keyval"), "public"));
	assert_non_null(pub);
	if (strcmp(keytype, "ed25519") == 0) {
		assert_int_equal(strlen(pub), 64);
	} else {
		assert_memory_equal(pub, "-----BEGIN PUBLIC KEY-----\n", 27);
		size_t n = strlen(pub);
		assert_string_equal(pub + n - 25, "-----END PUBLIC KEY-----\n");
	}
	/* The id is the sha256 of exactly this object's canonical form. */
	struct vouch_buf canon = {0};
	assert_int_equal(vouch_canon_encode(obj, &canon, &err), VOUCH_OK);
	uint8_t d[32];
	char hex[65];
	EVP_Digest(canon.data, canon.len, d, NULL, EVP_sha256(), NULL);
	vouch_hex_encode(d, 32, hex);
	assert_string_equal(vouch_key_id(k), hex);
	vouch_buf_free(&canon);

	struct vouch_key *back = NULL;
	assert_int_equal(vouch_key_from_tuf(obj, &back, &err), VOUCH_OK);
	assert_string_equal(vouch_key_id(back), vouch_key_id(k));
	json_t *again = NULL;
	assert_int_equal(vouch_key_to_tuf(back, &again, &err), VOUCH_OK);
	assert_true(json_equal(obj, again));
	json_decref(again);

	/* A signature by the private key verifies with the parsed key. */
	static const char msg[] = "{\"_type\":\"targets\",\"version\":1}";
	uint8_t *sig = NULL;
	size_t siglen = 0;
	assert_int_equal(vouch_key_sign(k, msg, sizeof(msg) - 1, &sig, &siglen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(back, msg, sizeof(msg) - 1, sig, siglen, &err), VOUCH_OK);
	free(sig);
	vouch_key_free(back);
	json_decref(obj);
}

static void test_tuf_round_trip(void **state)
{
	(void)state;
	check_round_trip(g_ed, "ed25519", "ed25519");
	check_round_trip(g_ec, "ecdsa", "ecdsa-sha2-nistp256");
	check_round_trip(g_rsa, "rsa", "rsassa-pss-sha256");
	assert_true(vouch_key_has_private(g_rsa));
	assert_string_equal(vouch_key_location(g_rsa), "");
}

static void test_legacy_ecdsa_keytype(void **state)
{
	(void)state;
	struct vouch_err err;
	json_t *obj = NULL, *out = NULL;
	struct vouch_key *k = NULL;
	assert_int_equal(vouch_key_to_tuf(g_ec, &obj, &err), VOUCH_OK);
	json_object_set_new(obj, "keytype", json_string("ecdsa-sha2-nistp256"));
	/* Old metadata may carry keyid_hash_algorithms; it is not part of
	 * the key. */
	json_object_set_new(obj, "keyid_hash_algorithms", json_pack("[s,s]", "sha256", "sha512"));
	assert_int_equal(vouch_key_from_tuf(obj, &k, &err), VOUCH_OK);
	assert_string_equal(vouch_key_keytype(k), "ecdsa-sha2-nistp256");
	assert_int_equal(vouch_key_get_type(k), VOUCH_KEY_ECDSA_P256);
	assert_string_not_equal(vouch_key_id(k), vouch_key_id(g_ec));
	assert_int_equal(vouch_key_to_tuf(k, &out, &err), VOUCH_OK);
	assert_string_equal(json_string_value(json_object_get(out, "keytype")),
			    "ecdsa-sha2-nistp256");
	assert_null(json_object_get(out, "keyid_hash_algorithms"));
	static const char msg[] = "legacy";
	uint8_t *sig = NULL;
	size_t siglen = 0;
	assert_int_equal(vouch_key_sign(g_ec, msg, 6, &sig, &siglen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(k, msg, 6, sig, siglen, &err), VOUCH_OK);
	free(sig);
	json_decref(out);
	json_decref(obj);
	vouch_key_free(k);
}

/* ---- signatures under attack ------------------------------------------- */

static void check_attacks(struct vouch_key *k, struct vouch_key *other, const char *typename)
{
	struct vouch_err err;
	uint8_t msg[] = "{\"signed\":{\"length\":42}}";
	size_t len = sizeof(msg) - 1;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char want[256];
	snprintf(want, sizeof(want), "signature does not verify with %s key %s", typename,
		 vouch_key_id(k));
	assert_int_equal(vouch_key_sign(k, msg, len, &sig, &siglen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(k, msg, len, sig, siglen, &err), VOUCH_OK);

	/* Every single-bit flip of the signature is rejected. */
	for (size_t bit = 0; bit < siglen * 8; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		vouch_err_clear(&err);
		enum vouch_rc rc = vouch_key_verify(k, msg, len, sig, siglen, &err);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (rc != VOUCH_E_VERIFY)
			fail_msg("%s: bit %zu of the signature flipped: rc %d", typename, bit, rc);
	}
	/* The message text for one flip. */
	sig[siglen / 2] ^= 0x10;
	assert_int_equal(vouch_key_verify(k, msg, len, sig, siglen, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, want);
	sig[siglen / 2] ^= 0x10;

	/* Every single-bit flip of the message. */
	for (size_t bit = 0; bit < len * 8; bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum vouch_rc rc = vouch_key_verify(k, msg, len, sig, siglen, &err);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (rc != VOUCH_E_VERIFY)
			fail_msg("%s: bit %zu of the message flipped: rc %d", typename, bit, rc);
	}

	/* Another key of the same type (for RSA of another size, the
	 * length alone gives it away). */
	assert_int_equal(vouch_key_verify(other, msg, len, sig, siglen, &err), VOUCH_E_VERIFY);
	if (strstr(err.msg, "wrong length") != NULL)
		snprintf(want, sizeof(want),
			 "signature of %zu bytes has the wrong length for %s key %s", siglen,
			 typename, vouch_key_id(other));
	else
		snprintf(want, sizeof(want), "signature does not verify with %s key %s", typename,
			 vouch_key_id(other));
	assert_string_equal(err.msg, want);

	/* Truncated, extended, empty. */
	assert_int_equal(vouch_key_verify(k, msg, len, sig, siglen - 1, &err), VOUCH_E_VERIFY);
	uint8_t *longer = calloc(1, siglen + 1);
	assert_non_null(longer);
	memcpy(longer, sig, siglen);
	assert_int_equal(vouch_key_verify(k, msg, len, longer, siglen + 1, &err), VOUCH_E_VERIFY);
	assert_int_equal(vouch_key_verify(k, msg, len, sig, 0, &err), VOUCH_E_VERIFY);
	assert_int_equal(vouch_key_verify(k, msg, len, NULL, 0, &err), VOUCH_E_VERIFY);
	free(longer);
	free(sig);
}

static void test_signature_attacks(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_key *ed2 = NULL, *ec2 = NULL, *rsa1 = NULL;
	assert_int_equal(vouch_key_generate(VOUCH_KEY_ED25519, 0, &ed2, &err), VOUCH_OK);
	assert_int_equal(vouch_key_generate(VOUCH_KEY_ECDSA_P256, 0, &ec2, &err), VOUCH_OK);
	check_attacks(g_ed, ed2, "ed25519");
	check_attacks(g_ec, ec2, "ecdsa");
	/* For RSA, flip bits against 2048-bit keys (the smallest accepted)
	 * to keep the test quick. */
	struct vouch_key *rsa2 = NULL;
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(p);
	assert_int_equal(vouch_key_from_evp(p, 1, NULL, &rsa1, &err), VOUCH_OK);
	EVP_PKEY_free(p);
	p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(p);
	assert_int_equal(vouch_key_from_evp(p, 1, NULL, &rsa2, &err), VOUCH_OK);
	EVP_PKEY_free(p);
	check_attacks(rsa1, rsa2, "rsa");
	check_attacks(g_rsa, rsa1, "rsa");

	/* A key of another type never verifies. */
	uint8_t *sig = NULL;
	size_t siglen = 0;
	assert_int_equal(vouch_key_sign(g_ed, "x", 1, &sig, &siglen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(g_ec, "x", 1, sig, siglen, &err), VOUCH_E_VERIFY);
	free(sig);
	vouch_key_free(ed2);
	vouch_key_free(ec2);
	vouch_key_free(rsa1);
	vouch_key_free(rsa2);
}

/* Signs msg with pkey through OpenSSL directly (rsa-pss with saltlen, or
 * PKCS#1 v1.5 when saltlen < -10). */
static size_t evp_sign_rsa(EVP_PKEY *pkey, int saltlen, const void *msg, size_t len, uint8_t *sig,
			   size_t cap)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, pkey), 1);
	if (saltlen >= -10) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen), 1);
	}
	size_t n = cap;
	assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, len), 1);
	EVP_MD_CTX_free(ctx);
	return n;
}

static void test_rsa_pss_salt_lengths(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_key *pub = NULL, *k = NULL;
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(p);
	assert_int_equal(vouch_key_from_evp(p, 0, NULL, &pub, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_evp(p, 1, NULL, &k, &err), VOUCH_OK);
	uint8_t sig[512];
	static const char msg[] = "salted";
	/* Other TUF implementations use other salt lengths: all verify. */
	int salts[] = {32, 0, RSA_PSS_SALTLEN_MAX};
	for (size_t i = 0; i < 3; i++) {
		size_t n = evp_sign_rsa(p, salts[i], msg, 6, sig, sizeof(sig));
		assert_int_equal(vouch_key_verify(pub, msg, 6, sig, n, &err), VOUCH_OK);
	}
	/* PKCS#1 v1.5 is another scheme: rejected. */
	size_t n = evp_sign_rsa(p, -100, msg, 6, sig, sizeof(sig));
	assert_int_equal(vouch_key_verify(pub, msg, 6, sig, n, &err), VOUCH_E_VERIFY);
	/* vouch signs with salt length 32: OpenSSL checks it strictly. */
	uint8_t *vsig = NULL;
	size_t vlen = 0;
	assert_int_equal(vouch_key_sign(k, msg, 6, &vsig, &vlen, &err), VOUCH_OK);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, p), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
	assert_int_equal(EVP_DigestVerify(ctx, vsig, vlen, (const uint8_t *)msg, 6), 1);
	EVP_MD_CTX_free(ctx);
	free(vsig);
	/* A public key cannot sign. */
	assert_int_equal(vouch_key_sign(pub, msg, 6, &vsig, &vlen, &err), VOUCH_E_USAGE);
	EVP_PKEY_free(p);
	vouch_key_free(pub);
	vouch_key_free(k);
}

static void test_ecdsa_der_strict(void **state)
{
	(void)state;
	struct vouch_err err;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	static const char msg[] = "der";
	assert_int_equal(vouch_key_sign(g_ec, msg, 3, &sig, &siglen, &err), VOUCH_OK);
	/* A DER ECDSA-Sig-Value. */
	const unsigned char *p = sig;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
	assert_non_null(es);
	assert_ptr_equal(p, sig + siglen);
	ECDSA_SIG_free(es);
	/* Trailing garbage after the DER is rejected. */
	uint8_t *longer = malloc(siglen + 1);
	assert_non_null(longer);
	memcpy(longer, sig, siglen);
	longer[siglen] = 0;
	assert_int_equal(vouch_key_verify(g_ec, msg, 3, longer, siglen + 1, &err), VOUCH_E_VERIFY);
	free(longer);
	free(sig);
}

/* ---- malformed and unsupported keys ------------------------------------ */

/* A P-256 public key with the curve spelled out as explicit parameters
 * (openssl ecparam -param_enc explicit): the same curve, another encoding. */
static const char explicit_p256_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA\n"
    "AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////\n"
    "///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd\n"
    "NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5\n"
    "RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA\n"
    "//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABLRLqsO+k639jc+Xv2dfa4St\n"
    "A5WtquTCLrxnFzv5FKhbikOGd1n9Y/NfNTXXVLPbutLhJghzEnGNISQHMrj3hLw=\n"
    "-----END PUBLIC KEY-----\n";

struct bad_case {
	json_t *obj;
	enum vouch_rc rc;
	const char *msg; /* substring of the message */
};

static void test_malformed_tuf_keys(void **state)
{
	(void)state;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *r1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(p384);
	assert_non_null(r1024);
	char *pem384 = pem_of(p384);
	char *pem1024 = pem_of(r1024);
	json_t *ec = NULL, *ed = NULL, *rsa = NULL;
	struct vouch_err err;
	assert_int_equal(vouch_key_to_tuf(g_ec, &ec, &err), VOUCH_OK);
	assert_int_equal(vouch_key_to_tuf(g_ed, &ed, &err), VOUCH_OK);
	assert_int_equal(vouch_key_to_tuf(g_rsa, &rsa, &err), VOUCH_OK);
	const char *ecpem =
	    json_string_value(json_object_get(json_object_get(ec, "keyval"), "public"));
	const char *rsapem =
	    json_string_value(json_object_get(json_object_get(rsa, "keyval"), "public"));
	const char *edhex =
	    json_string_value(json_object_get(json_object_get(ed, "keyval"), "public"));
	char edpem_buf[200];
	EVP_PKEY *edp = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *edpem = pem_of(edp);
	snprintf(edpem_buf, sizeof(edpem_buf), "%s", edpem);

	char short_hex[64], upper_hex[65], nonhex[65], long_hex[67];
	memcpy(short_hex, edhex, 63);
	short_hex[63] = 0;
	snprintf(upper_hex, sizeof(upper_hex), "%s", edhex);
	for (char *c = upper_hex; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	snprintf(nonhex, sizeof(nonhex), "%s", edhex);
	nonhex[10] = 'g';
	snprintf(long_hex, sizeof(long_hex), "%s00", edhex);

	/* PEM variants: damaged base64, extra text after the key, no
	 * trailing newline (accepted: tested below), CRLF line ends. */
	char damaged[2048], trailing[2048], crlf[4096];
	snprintf(damaged, sizeof(damaged), "%s", ecpem);
	damaged[40] = damaged[40] == 'A' ? 'B' : 'A';
	snprintf(trailing, sizeof(trailing), "%sextra\n", ecpem);
	size_t j = 0;
	for (const char *c = ecpem; *c && j + 2 < sizeof(crlf); c++) {
		if (*c == '\n')
			crlf[j++] = '\r';
		crlf[j++] = *c;
	}
	crlf[j] = 0;

	struct bad_case cases[] = {
	    {tuf_key("ed25519", "ed25519", short_hex), VOUCH_E_FORMAT, "64 lowercase hex digits"},
	    {tuf_key("ed25519", "ed25519", long_hex), VOUCH_E_FORMAT, "64 lowercase hex digits"},
	    {tuf_key("ed25519", "ed25519", nonhex), VOUCH_E_FORMAT, "64 lowercase hex digits"},
	    {tuf_key("ed25519", "ed25519", upper_hex), VOUCH_E_FORMAT, "64 lowercase hex digits"},
	    {tuf_key("ed25519", "ed25519", edpem_buf), VOUCH_E_FORMAT, "64 lowercase hex digits"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", "not a pem"), VOUCH_E_FORMAT,
	     "not a PEM public key"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", damaged), VOUCH_E_FORMAT, "keyval.public"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", trailing), VOUCH_E_FORMAT, "canonical form"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", crlf), VOUCH_E_FORMAT, "keyval.public"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", pem384), VOUCH_E_FORMAT, "secp384r1"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", rsapem), VOUCH_E_FORMAT, "not an EC key"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", explicit_p256_pem), VOUCH_E_FORMAT,
	     "explicit curve parameters"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp256", edhex), VOUCH_E_FORMAT, "not a PEM"},
	    {tuf_key("rsa", "rsassa-pss-sha256", ecpem), VOUCH_E_FORMAT, "not an RSA key"},
	    {tuf_key("rsa", "rsassa-pss-sha256", edpem_buf), VOUCH_E_FORMAT, "not an RSA key"},
	    {tuf_key("rsa", "rsassa-pss-sha256", pem1024), VOUCH_E_UNSUPPORTED,
	     "RSA key of 1024 bits"},
	    {tuf_key("rsa", "rsa-pkcs1v15-sha256", pem1024), VOUCH_E_UNSUPPORTED,
	     "RSA key of 1024 bits"},
	    {tuf_key("rsa", "rsa-pkcs1v15-sha256", ecpem), VOUCH_E_FORMAT, "not an RSA key"},
	    {tuf_key("ed25519", "rsa-pkcs1v15-sha256", edhex), VOUCH_E_UNSUPPORTED, "scheme"},
	    {tuf_key("ecdsa", "rsa-pkcs1v15-sha256", ecpem), VOUCH_E_UNSUPPORTED, "scheme"},
	    {tuf_key("ed25519", "ecdsa-sha2-nistp256", edhex), VOUCH_E_UNSUPPORTED, "scheme"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp384", ecpem), VOUCH_E_FORMAT, "not on curve P-384"},
	    {tuf_key("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", ecpem), VOUCH_E_FORMAT,
	     "not on curve P-384"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp384", rsapem), VOUCH_E_FORMAT, "not an EC key"},
	    {tuf_key("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp256", pem384), VOUCH_E_UNSUPPORTED,
	     "scheme"},
	    {tuf_key("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", pem384), VOUCH_E_UNSUPPORTED,
	     "scheme"},
	    {tuf_key("rsa", "ecdsa-sha2-nistp384", pem384), VOUCH_E_UNSUPPORTED, "scheme"},
	    {tuf_key("ecdsa", "ecdsa-sha2-nistp521", pem384), VOUCH_E_UNSUPPORTED, "scheme"},
	    {tuf_key("sphincs", "sphincs-shake-256s", edhex), VOUCH_E_UNSUPPORTED,
	     "keytype \"sphincs\" not supported"},
	    {json_pack("{s:s, s:s}", "keytype", "ed25519", "scheme", "ed25519"), VOUCH_E_FORMAT,
	     "keyval"},
	    {json_pack("{s:s, s:s, s:{}}", "keytype", "ed25519", "scheme", "ed25519", "keyval"),
	     VOUCH_E_FORMAT, "public"},
	    {json_pack("{s:s, s:s, s:{s:i}}", "keytype", "ed25519", "scheme", "ed25519", "keyval",
		       "public", 5),
	     VOUCH_E_FORMAT, "public"},
	    {json_pack("{s:i, s:s, s:{s:s}}", "keytype", 1, "scheme", "ed25519", "keyval", "public",
		       edhex),
	     VOUCH_E_FORMAT, "keytype"},
	    {json_pack("[s]", "ed25519"), VOUCH_E_FORMAT, "not a JSON object"},
	    {json_pack("{s:s, s:s, s:{s:s#}}", "keytype", "ed25519", "scheme", "ed25519", "keyval",
		       "public", "abc\0def", (size_t)7),
	     VOUCH_E_FORMAT, "NUL"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vouch_key *k = NULL;
		assert_non_null(cases[i].obj);
		vouch_err_clear(&err);
		enum vouch_rc rc = vouch_key_from_tuf(cases[i].obj, &k, &err);
		if (rc != cases[i].rc || strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: rc %d (wanted %d), message '%s' (wanted '%s')", i, rc,
				 cases[i].rc, err.msg, cases[i].msg);
		assert_null(k);
		json_decref(cases[i].obj);
	}

	/* The PEM as older securesystemslib wrote it (no final newline) is
	 * accepted and kept as given. */
	char nonl[2048];
	snprintf(nonl, sizeof(nonl), "%s", ecpem);
	nonl[strlen(nonl) - 1] = 0;
	json_t *o = tuf_key("ecdsa", "ecdsa-sha2-nistp256", nonl);
	struct vouch_key *k = NULL;
	assert_int_equal(vouch_key_from_tuf(o, &k, &err), VOUCH_OK);
	json_t *back = NULL;
	assert_int_equal(vouch_key_to_tuf(k, &back, &err), VOUCH_OK);
	assert_true(json_equal(o, back));
	json_decref(back);
	json_decref(o);
	vouch_key_free(k);

	/* Keys of other types given as OpenSSL keys are refused too. */
	assert_int_equal(vouch_key_from_evp(p384, 0, NULL, &k, &err), VOUCH_E_UNSUPPORTED);
	assert_string_equal(err.msg, "ECDSA key on curve secp384r1; only P-256 is supported");

	free(edpem);
	EVP_PKEY_free(edp);
	free(pem384);
	free(pem1024);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(r1024);
	json_decref(ec);
	json_decref(ed);
	json_decref(rsa);
}

static void test_type_parse(void **state)
{
	(void)state;
	struct vouch_err err;
	enum vouch_key_type t;
	unsigned bits = 99;
	assert_int_equal(vouch_key_type_parse("ed25519", &t, &bits, &err), VOUCH_OK);
	assert_int_equal(t, VOUCH_KEY_ED25519);
	assert_int_equal(bits, 0);
	assert_int_equal(vouch_key_type_parse("ecdsa", &t, &bits, &err), VOUCH_OK);
	assert_int_equal(t, VOUCH_KEY_ECDSA_P256);
	assert_int_equal(vouch_key_type_parse("rsa4096", &t, &bits, &err), VOUCH_OK);
	assert_int_equal(t, VOUCH_KEY_RSA);
	assert_int_equal(bits, 4096);
	assert_int_equal(vouch_key_type_parse("rsa1024", &t, &bits, &err), VOUCH_E_USAGE);
	assert_string_equal(err.msg,
			    "unknown key type 'rsa1024' (ed25519, ecdsa, rsa3072, rsa4096)");
	struct vouch_key *k = NULL;
	assert_int_equal(vouch_key_generate(VOUCH_KEY_RSA, 1024, &k, &err), VOUCH_E_USAGE);
	assert_null(k);
}

/* ---- private key files -------------------------------------------------- */

static enum vouch_rc cb_pass(void *ctx, const char *what, int confirm, char *buf, size_t cap,
			     size_t *len, struct vouch_err *err)
{
	(void)err;
	(void)confirm;
	const char *pass = ctx;
	assert_non_null(strstr(what, "passphrase for "));
	size_t n = strlen(pass);
	assert_true(n < cap);
	memcpy(buf, pass, n + 1);
	*len = n;
	return VOUCH_OK;
}

static void sign_verify(struct vouch_key *signer, struct vouch_key *verifier)
{
	struct vouch_err err;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	assert_int_equal(vouch_key_sign(signer, "abc", 3, &sig, &siglen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(verifier, "abc", 3, sig, siglen, &err), VOUCH_OK);
	free(sig);
}

/* Checks that path holds a PKCS#8 PEM encrypted with PBES2: scrypt
 * (N 2^14, r 8, p 1) and AES-256-CBC. */
static void check_scrypt_params(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	X509_SIG *p8 = PEM_read_PKCS8(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(p8);
	const X509_ALGOR *alg = NULL;
	X509_SIG_get0(p8, &alg, NULL);
	const ASN1_OBJECT *oid = NULL;
	int ptype = 0;
	const void *pval = NULL;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	assert_int_equal(OBJ_obj2nid(oid), NID_pbes2);
	assert_int_equal(ptype, V_ASN1_SEQUENCE);
	PBE2PARAM *pbe2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
	assert_non_null(pbe2);
	assert_int_equal(OBJ_obj2nid(pbe2->encryption->algorithm), NID_aes_256_cbc);
	assert_int_equal(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_scrypt);
	SCRYPT_PARAMS *sp = ASN1_item_unpack(pbe2->keyfunc->parameter->value.sequence,
					     ASN1_ITEM_rptr(SCRYPT_PARAMS));
	assert_non_null(sp);
	assert_int_equal(ASN1_INTEGER_get(sp->costParameter), 16384);
	assert_int_equal(ASN1_INTEGER_get(sp->blockSize), 8);
	assert_int_equal(ASN1_INTEGER_get(sp->parallelizationParameter), 1);
	assert_int_equal(ASN1_STRING_length(sp->salt), 16);
	SCRYPT_PARAMS_free(sp);
	PBE2PARAM_free(pbe2);
	X509_SIG_free(p8);
}

static void test_private_key_files(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_key *keys[] = {g_ed, g_ec, g_rsa};
	const char *names[] = {"ed.key", "ec.key", "rsa.key"};
	static char pass[] = "correct horse battery staple";
	char passfile[256], wrongfile[256];
	snprintf(passfile, sizeof(passfile), "%s", path_in_tmp("pass"));
	write_file(passfile, "correct horse battery staple\r\nsecond line\n", 42);
	snprintf(wrongfile, sizeof(wrongfile), "%s", path_in_tmp("wrong"));
	write_file(wrongfile, "incorrect horse\n", 16);

	for (size_t i = 0; i < 3; i++) {
		char *path = path_in_tmp(names[i]);
		assert_int_equal(vouch_key_save_private(keys[i], path, pass, strlen(pass), &err),
				 VOUCH_OK);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		check_scrypt_params(path);

		/* Refuses to overwrite. */
		assert_int_equal(vouch_key_save_private(keys[i], path, pass, strlen(pass), &err),
				 VOUCH_E_EXISTS);
		assert_non_null(strstr(err.msg, "cannot create"));

		/* From the passphrase file (first line, CRLF stripped). */
		struct vouch_key_opts opts = {.passphrase_file = passfile};
		struct vouch_key *k = NULL;
		assert_int_equal(vouch_key_load_private(path, &opts, &k, &err), VOUCH_OK);
		assert_string_equal(vouch_key_id(k), vouch_key_id(keys[i]));
		assert_true(vouch_key_has_private(k));
		char loc[300];
		snprintf(loc, sizeof(loc), "file:%s", path);
		assert_string_equal(vouch_key_location(k), loc);
		sign_verify(k, keys[i]);
		vouch_key_free(k);

		/* From the prompt callback, and through a "file:" location. */
		struct vouch_key_opts cbopts = {.secret_cb = cb_pass, .secret_ctx = pass};
		assert_int_equal(vouch_key_load_private(loc, &cbopts, &k, &err), VOUCH_OK);
		assert_string_equal(vouch_key_id(k), vouch_key_id(keys[i]));
		vouch_key_free(k);
		k = NULL;

		/* Wrong passphrase. */
		struct vouch_key_opts wrong = {.passphrase_file = wrongfile};
		assert_int_equal(vouch_key_load_private(path, &wrong, &k, &err), VOUCH_E_AUTH);
		char want[400];
		snprintf(want, sizeof(want), "%s: wrong passphrase (or damaged key file)", path);
		assert_string_equal(err.msg, want);
		assert_null(k);

		/* No way to get one. */
		assert_int_equal(vouch_key_load_private(path, NULL, &k, &err), VOUCH_E_USAGE);
		assert_non_null(strstr(err.msg, "--passphrase-file"));
	}

	/* Unencrypted only when asked (pass == NULL). */
	char *plain = path_in_tmp("plain.key");
	assert_int_equal(vouch_key_save_private(g_ec, plain, NULL, 0, &err), VOUCH_OK);
	struct vouch_buf b = {0};
	assert_int_equal(vouch_file_read(plain, 100000, &b, &err), VOUCH_OK);
	assert_memory_equal(b.data, "-----BEGIN PRIVATE KEY-----\n", 28);
	vouch_buf_free(&b);
	struct vouch_key *k = NULL;
	assert_int_equal(vouch_key_load_private(plain, NULL, &k, &err), VOUCH_OK);
	sign_verify(k, g_ec);
	vouch_key_free(k);
	k = NULL;

	/* An empty passphrase is refused. */
	assert_int_equal(vouch_key_save_private(g_ed, path_in_tmp("empty.key"), "", 0, &err),
			 VOUCH_E_USAGE);
	struct vouch_key_opts emptyopts = {.passphrase_file = path_in_tmp("emptypass")};
	write_file(emptyopts.passphrase_file, "\n", 1);
	assert_int_equal(vouch_key_load_private(path_in_tmp("ed.key"), &emptyopts, &k, &err),
			 VOUCH_E_USAGE);
	assert_non_null(strstr(err.msg, "empty passphrase"));

	/* Public keys have nothing to save. */
	json_t *obj = NULL;
	struct vouch_key *pub = NULL;
	assert_int_equal(vouch_key_to_tuf(g_ed, &obj, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_tuf(obj, &pub, &err), VOUCH_OK);
	json_decref(obj);
	assert_int_equal(vouch_key_save_private(pub, path_in_tmp("pub.key"), NULL, 0, &err),
			 VOUCH_E_USAGE);
	vouch_key_free(pub);
}

static void test_private_key_bad_files(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_key *k = NULL;
	/* Missing. */
	assert_int_equal(vouch_key_load_private(path_in_tmp("nope.key"), NULL, &k, &err),
			 VOUCH_E_NOTFOUND);
	/* Not PEM. */
	char *p = path_in_tmp("junk.key");
	write_file(p, "hello\n", 6);
	assert_int_equal(vouch_key_load_private(p, NULL, &k, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "not a PEM private key file"));
	/* Traditional (non-PKCS#8) PEM. */
	FILE *f = NULL;
	static const char trad[] =
	    "-----BEGIN EC PRIVATE KEY-----\n"
	    "MHcCAQEEIIm2vjc8dVtHZ8yGQxe6iMB0xFkYkM2qZ6CC5pNFCnOaoAoGCCqGSM49\n"
	    "AwEHoUQDQgAE\n"
	    "-----END EC PRIVATE KEY-----\n";
	write_file(path_in_tmp("trad2.key"), trad, sizeof(trad) - 1);
	assert_int_equal(vouch_key_load_private(path_in_tmp("trad2.key"), NULL, &k, &err),
			 VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "not a PKCS#8 private key"));
	/* Oversized. */
	char *big = calloc(1, VOUCH_KEY_PRIVATE_MAX + 10);
	assert_non_null(big);
	memset(big, 'A', VOUCH_KEY_PRIVATE_MAX + 10);
	write_file(path_in_tmp("big.key"), big, VOUCH_KEY_PRIVATE_MAX + 10);
	free(big);
	assert_int_equal(vouch_key_load_private(path_in_tmp("big.key"), NULL, &k, &err),
			 VOUCH_E_LIMIT);
	/* A PKCS#8 key of an unsupported type. */
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	f = fopen(path_in_tmp("p384.key"), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, p384, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(p384);
	assert_int_equal(vouch_key_load_private(path_in_tmp("p384.key"), NULL, &k, &err),
			 VOUCH_E_UNSUPPORTED);
	assert_null(k);
}

/* ---- public key files --------------------------------------------------- */

static void test_load_public(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_key *keys[] = {g_ed, g_ec, g_rsa};
	for (size_t i = 0; i < 3; i++) {
		struct vouch_key *k = NULL;
		char *pem = NULL;
		assert_int_equal(vouch_key_public_pem(keys[i], &pem, &err), VOUCH_OK);
		assert_memory_equal(pem, "-----BEGIN PUBLIC KEY-----\n", 27);
		char *p = path_in_tmp("k.pub");
		unlink(p);
		write_file(p, pem, strlen(pem));
		free(pem);
		assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_OK);
		assert_string_equal(vouch_key_id(k), vouch_key_id(keys[i]));
		assert_false(vouch_key_has_private(k));
		vouch_key_free(k);

		json_t *obj = NULL;
		assert_int_equal(vouch_key_to_tuf(keys[i], &obj, &err), VOUCH_OK);
		char *s = json_dumps(obj, 0);
		unlink(p);
		write_file(p, s, strlen(s));
		free(s);
		assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_OK);
		assert_string_equal(vouch_key_id(k), vouch_key_id(keys[i]));
		vouch_key_free(k);

		/* The {"keyid", "key"} shape of `vouch key show --json`. */
		json_t *shown = json_pack("{s:s, s:O}", "keyid", vouch_key_id(keys[i]), "key", obj);
		s = json_dumps(shown, 0);
		write_file(p, s, strlen(s));
		free(s);
		assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_OK);
		vouch_key_free(k);
		json_object_set_new(shown, "keyid",
				    json_string(vouch_key_id(g_ed == keys[i] ? g_ec : g_ed)));
		s = json_dumps(shown, 0);
		write_file(p, s, strlen(s));
		free(s);
		k = NULL;
		assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_E_FORMAT);
		assert_non_null(strstr(err.msg, "stated keyid does not match"));
		assert_null(k);
		json_decref(shown);
		json_decref(obj);
	}
	struct vouch_key *k = NULL;
	char *p = path_in_tmp("junk.pub");
	write_file(p, "hello", 5);
	assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "neither a PEM public key nor a TUF public-key JSON"));
	/* A private key where a public one belongs: said so. */
	char *priv = path_in_tmp("priv-as-pub.key");
	assert_int_equal(vouch_key_save_private(g_ed, priv, NULL, 0, &err), VOUCH_OK);
	assert_int_equal(vouch_key_load_public(priv, &k, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "a private key, where a public key is needed"));
	p = path_in_tmp("junk.pub");
	write_file(p, "{\"keytype\": \"ed25519\", \"keytype\": \"rsa\"}", 40);
	assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_E_FORMAT);
	char *big = malloc(VOUCH_KEY_PUBLIC_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', VOUCH_KEY_PUBLIC_MAX + 1);
	write_file(p, big, VOUCH_KEY_PUBLIC_MAX + 1);
	free(big);
	assert_int_equal(vouch_key_load_public(p, &k, &err), VOUCH_E_LIMIT);
	assert_null(k);
}

/* ---- review: keys that verify forgeries, non-canonical signatures ------ */

/* ed25519 public keys that are points of small order (y = 0, 1, p-1 and
 * the two y of order 8, with either sign of x), and y >= p. */
static const char *const ed25519_bad_points[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};

static void test_ed25519_small_order_keys(void **state)
{
	(void)state;
	struct vouch_err err;
	uint8_t raw[32];
	size_t rawlen = 0;

	/* Why it matters: OpenSSL takes the identity point as a key, and then
	 * R = identity, S = 0 is a valid signature of every message. */
	unhex(ed25519_bad_points[1], raw, sizeof(raw), &rawlen);
	EVP_PKEY *id = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
	assert_non_null(id);
	uint8_t forged[64] = {1};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, id), 1);
	assert_int_equal(EVP_DigestVerify(ctx, forged, 64, (const uint8_t *)"any", 3), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(id);

	for (size_t i = 0; i < sizeof(ed25519_bad_points) / sizeof(ed25519_bad_points[0]); i++) {
		struct vouch_key *k = NULL;
		const char *want = i < 10 ? "small order" : "not canonically encoded";
		/* As a TUF key. */
		json_t *o = tuf_key("ed25519", "ed25519", ed25519_bad_points[i]);
		vouch_err_clear(&err);
		enum vouch_rc rc = vouch_key_from_tuf(o, &k, &err);
		json_decref(o);
		if (rc != VOUCH_E_FORMAT || strstr(err.msg, want) == NULL)
			fail_msg("point %zu as TUF key: rc %d, '%s'", i, rc, err.msg);
		assert_null(k);
		/* As an OpenSSL key, and as a PEM public key file. */
		unhex(ed25519_bad_points[i], raw, sizeof(raw), &rawlen);
		EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
		assert_non_null(p);
		assert_int_equal(vouch_key_from_evp(p, 0, NULL, &k, &err), VOUCH_E_FORMAT);
		assert_non_null(strstr(err.msg, want));
		char *pem = pem_of(p);
		char *path = path_in_tmp("small-order.pub");
		write_file(path, pem, strlen(pem));
		assert_int_equal(vouch_key_load_public(path, &k, &err), VOUCH_E_FORMAT);
		assert_non_null(strstr(err.msg, want));
		assert_null(k);
		free(pem);
		EVP_PKEY_free(p);
	}
	/* Ordinary keys with either sign of x still load. */
	int seen[2] = {0, 0};
	for (int tries = 0; tries < 64 && !(seen[0] && seen[1]); tries++) {
		struct vouch_key *k = NULL;
		json_t *o = NULL;
		assert_int_equal(vouch_key_generate(VOUCH_KEY_ED25519, 0, &k, &err), VOUCH_OK);
		assert_int_equal(vouch_key_to_tuf(k, &o, &err), VOUCH_OK);
		const char *hex =
		    json_string_value(json_object_get(json_object_get(o, "keyval"), "public"));
		seen[strchr("89abcdef", hex[62]) != NULL] = 1;
		struct vouch_key *back = NULL;
		assert_int_equal(vouch_key_from_tuf(o, &back, &err), VOUCH_OK);
		assert_string_equal(vouch_key_id(back), vouch_key_id(k));
		vouch_key_free(back);
		vouch_key_free(k);
		json_decref(o);
	}
	assert_true(seen[0] && seen[1]);
}

/* S + L is the same S modulo L: RFC 8032 says to reject S >= L. */
static void test_ed25519_noncanonical_s(void **state)
{
	(void)state;
	struct vouch_err err;
	static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
				      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
				      0,    0,	  0,	0,    0,    0,	  0,	0,
				      0,    0,	  0,	0,    0,    0,	  0,	0x10};
	uint8_t *sig = NULL;
	size_t siglen = 0;
	assert_int_equal(vouch_key_sign(g_ed, "m", 1, &sig, &siglen, &err), VOUCH_OK);
	assert_int_equal(siglen, 64);
	unsigned carry = 0;
	for (size_t i = 0; i < 32; i++) {
		unsigned v = sig[32 + i] + L[i] + carry;
		sig[32 + i] = (uint8_t)v;
		carry = v >> 8;
	}
	assert_int_equal(carry, 0);
	assert_int_equal(vouch_key_verify(g_ed, "m", 1, sig, siglen, &err), VOUCH_E_VERIFY);
	free(sig);
}

/* Appends a DER INTEGER of the big-endian magnitude v (pad: extra 0x00s). */
static size_t der_int(uint8_t *out, const uint8_t *v, size_t n, size_t pad)
{
	size_t o = 0;
	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	size_t zero = (v[0] & 0x80) ? 1 : 0;
	out[o++] = 0x02;
	out[o++] = (uint8_t)(n + zero + pad);
	for (size_t i = 0; i < zero + pad; i++)
		out[o++] = 0;
	memcpy(out + o, v, n);
	return o + n;
}

/* SEQUENCE { r, s } with the given length form. */
static size_t der_sig(uint8_t *out, const uint8_t *r, const uint8_t *s, size_t rpad, int long_form)
{
	uint8_t body[80];
	size_t b = der_int(body, r, 32, rpad);
	b += der_int(body + b, s, 32, 0);
	size_t o = 0;
	out[o++] = 0x30;
	if (long_form)
		out[o++] = 0x81;
	out[o++] = (uint8_t)b;
	memcpy(out + o, body, b);
	return o + b;
}

static void test_ecdsa_encodings(void **state)
{
	(void)state;
	struct vouch_err err;
	static const char msg[] = "ecdsa encodings";
	uint8_t *sig = NULL;
	size_t siglen = 0;
	assert_int_equal(vouch_key_sign(g_ec, msg, sizeof(msg) - 1, &sig, &siglen, &err), VOUCH_OK);
	const unsigned char *p = sig;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
	assert_non_null(es);
	uint8_t r[32], s[32], zero[32] = {0}, buf[96];
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), r, 32), 32);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), s, 32), 32);

	/* Rebuilt in DER: the same bytes, and valid. */
	size_t n = der_sig(buf, r, s, 0, 0);
	assert_int_equal(n, siglen);
	assert_memory_equal(buf, sig, n);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n, &err), VOUCH_OK);
	/* BER, not DER: long-form length, a padded INTEGER, indefinite length. */
	n = der_sig(buf, r, s, 0, 1);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n, &err),
			 VOUCH_E_VERIFY);
	n = der_sig(buf, r, s, 1, 0);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n, &err),
			 VOUCH_E_VERIFY);
	n = der_sig(buf + 1, r, s, 0, 0);
	buf[0] = 0x30;
	buf[1] = 0x80;
	buf[n] = 0;
	buf[n + 1] = 0;
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n + 2, &err),
			 VOUCH_E_VERIFY);
	/* Raw r||s (as PKCS#11 gives it) is not TUF's encoding. */
	memcpy(buf, r, 32);
	memcpy(buf + 32, s, 32);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, 64, &err),
			 VOUCH_E_VERIFY);
	/* r = 0 or s = 0. */
	n = der_sig(buf, zero, s, 0, 0);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n, &err),
			 VOUCH_E_VERIFY);
	n = der_sig(buf, r, zero, 0, 0);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n, &err),
			 VOUCH_E_VERIFY);
	/* s -> n - s is the other valid signature of the same message: ECDSA
	 * is malleable and TUF accepts it (signatures are not identifiers). */
	BIGNUM *order = NULL, *ns = BN_new();
	EVP_PKEY *pk = NULL;
	{
		char *pem = NULL;
		assert_int_equal(vouch_key_public_pem(g_ec, &pem, &err), VOUCH_OK);
		BIO *bio = BIO_new_mem_buf(pem, -1);
		pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
		free(pem);
	}
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, "order", &order), 1);
	assert_int_equal(BN_sub(ns, order, ECDSA_SIG_get0_s(es)), 1);
	uint8_t s2[32];
	assert_int_equal(BN_bn2binpad(ns, s2, 32), 32);
	n = der_sig(buf, r, s2, 0, 0);
	assert_int_equal(vouch_key_verify(g_ec, msg, sizeof(msg) - 1, buf, n, &err), VOUCH_OK);
	BN_free(order);
	BN_free(ns);
	EVP_PKEY_free(pk);
	ECDSA_SIG_free(es);
	free(sig);
}

/* An RSA public key with the modulus of a real key and exponent e. */
static EVP_PKEY *rsa_with_exponent(EVP_PKEY *base, unsigned long e)
{
	BIGNUM *n = NULL, *be = BN_new();
	assert_int_equal(EVP_PKEY_get_bn_param(base, "n", &n), 1);
	assert_int_equal(BN_set_word(be, e), 1);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, "n", n), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, "e", be), 1);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *out = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &out, EVP_PKEY_PUBLIC_KEY, params), 1);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(be);
	return out;
}

static void test_rsa_bad_exponents(void **state)
{
	(void)state;
	struct vouch_err err;
	char *pem = NULL;
	assert_int_equal(vouch_key_public_pem(g_rsa, &pem, &err), VOUCH_OK);
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *base = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(pem);
	assert_non_null(base);
	static const unsigned long bad[] = {1, 2, 65536};
	for (size_t i = 0; i < 3; i++) {
		struct vouch_key *k = NULL;
		EVP_PKEY *p = rsa_with_exponent(base, bad[i]);
		vouch_err_clear(&err);
		assert_int_equal(vouch_key_from_evp(p, 0, NULL, &k, &err), VOUCH_E_FORMAT);
		assert_non_null(strstr(err.msg, "public exponent"));
		char *ppem = pem_of(p);
		json_t *o = tuf_key("rsa", "rsassa-pss-sha256", ppem);
		assert_int_equal(vouch_key_from_tuf(o, &k, &err), VOUCH_E_FORMAT);
		assert_non_null(strstr(err.msg, "public exponent"));
		assert_null(k);
		json_decref(o);
		free(ppem);
		EVP_PKEY_free(p);
	}
	/* e = 3 is a weak choice but a sound one. */
	struct vouch_key *k = NULL;
	EVP_PKEY *p = rsa_with_exponent(base, 3);
	assert_int_equal(vouch_key_from_evp(p, 0, NULL, &k, &err), VOUCH_OK);
	vouch_key_free(k);
	EVP_PKEY_free(p);
	EVP_PKEY_free(base);
}

/* One key, several TUF spellings, several key ids: same_public sees one. */
static void test_same_public(void **state)
{
	(void)state;
	struct vouch_err err;
	json_t *o = NULL;
	assert_int_equal(vouch_key_to_tuf(g_ec, &o, &err), VOUCH_OK);
	char pemnonl[1024];
	snprintf(pemnonl, sizeof(pemnonl), "%s",
		 json_string_value(json_object_get(json_object_get(o, "keyval"), "public")));
	pemnonl[strlen(pemnonl) - 1] = 0;
	json_t *legacy = tuf_key("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", pemnonl);
	struct vouch_key *a = NULL, *b = NULL, *other = NULL;
	assert_int_equal(vouch_key_from_tuf(o, &a, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_tuf(legacy, &b, &err), VOUCH_OK);
	assert_string_not_equal(vouch_key_id(a), vouch_key_id(b));
	assert_true(vouch_key_same_public(a, b));
	assert_true(vouch_key_same_public(a, g_ec));
	assert_false(vouch_key_same_public(a, g_ed));
	assert_false(vouch_key_same_public(a, g_rsa));
	assert_int_equal(vouch_key_generate(VOUCH_KEY_ECDSA_P256, 0, &other, &err), VOUCH_OK);
	assert_false(vouch_key_same_public(a, other));
	assert_false(vouch_key_same_public(a, NULL));
	vouch_key_free(a);
	vouch_key_free(b);
	vouch_key_free(other);
	json_decref(o);
	json_decref(legacy);
}

static size_t evp_sign(EVP_PKEY *pkey, const EVP_MD *md, const void *msg, size_t len, uint8_t *sig,
		       size_t cap)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, pkey), 1);
	size_t n = cap;
	assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, len), 1);
	EVP_MD_CTX_free(ctx);
	return n;
}

/* The key id of a TUF key object, computed here independently (canonical
 * JSON escapes only '"' and '\\': a PEM's newlines stay as they are). */
static void expect_keyid(const char *keytype, const char *scheme, const char *pub, const char *id)
{
	char canon[4096];
	int n = snprintf(canon, sizeof(canon),
			 "{\"keytype\":\"%s\",\"keyval\":{\"public\":\"%s\"},\"scheme\":\"%s\"}",
			 keytype, pub, scheme);
	assert_true(n > 0 && (size_t)n < sizeof(canon));
	uint8_t d[32];
	char hex[65];
	EVP_Digest(canon, (size_t)n, d, NULL, EVP_sha256(), NULL);
	vouch_hex_encode(d, sizeof(d), hex);
	assert_string_equal(id, hex);
}

/* A verification-only key is written back as read. */
static void check_echo(struct vouch_key *k, const char *keytype, const char *scheme)
{
	struct vouch_err err;
	json_t *obj = NULL, *again = NULL;
	struct vouch_key *back = NULL;
	assert_int_equal(vouch_key_to_tuf(k, &obj, &err), VOUCH_OK);
	assert_string_equal(json_string_value(json_object_get(obj, "keytype")), keytype);
	assert_string_equal(json_string_value(json_object_get(obj, "scheme")), scheme);
	assert_int_equal(vouch_key_from_tuf(obj, &back, &err), VOUCH_OK);
	assert_string_equal(vouch_key_id(back), vouch_key_id(k));
	assert_int_equal(vouch_key_to_tuf(back, &again, &err), VOUCH_OK);
	assert_true(json_equal(obj, again));
	json_decref(obj);
	json_decref(again);
	vouch_key_free(back);
}

/* rsa-pkcs1v15-sha256 and ecdsa-sha2-nistp384 keys from TUF metadata are
 * verified (the TUF conformance suite signs with the former), never used
 * to sign. */
static void test_verify_only_schemes(void **state)
{
	(void)state;
	struct vouch_err err;
	static const char msg[] = "metadata";
	uint8_t sig[512];
	size_t n = 0;
	/* RSA PKCS#1 v1.5 */
	EVP_PKEY *r = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(r);
	char *rpem = pem_of(r);
	json_t *ro = tuf_key("rsa", "rsa-pkcs1v15-sha256", rpem);
	json_t *po = tuf_key("rsa", "rsassa-pss-sha256", rpem);
	struct vouch_key *pk = NULL, *pss = NULL, *priv = NULL;
	assert_int_equal(vouch_key_from_tuf(ro, &pk, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_tuf(po, &pss, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_evp(r, 1, NULL, &priv, &err), VOUCH_OK);
	assert_string_equal(vouch_key_scheme(pk), "rsa-pkcs1v15-sha256");
	assert_string_equal(vouch_key_keytype(pk), "rsa");
	expect_keyid("rsa", "rsa-pkcs1v15-sha256", rpem, vouch_key_id(pk));
	assert_string_not_equal(vouch_key_id(pk), vouch_key_id(pss));
	assert_true(vouch_key_same_public(pk, pss));
	check_echo(pk, "rsa", "rsa-pkcs1v15-sha256");
	n = evp_sign_rsa(r, -100, msg, 8, sig, sizeof(sig)); /* PKCS#1 v1.5 */
	assert_int_equal(vouch_key_verify(pk, msg, 8, sig, n, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(pss, msg, 8, sig, n, &err), VOUCH_E_VERIFY);
	assert_int_equal(vouch_key_verify(pk, "metadatA", 8, sig, n, &err), VOUCH_E_VERIFY);
	sig[n / 2] ^= 1;
	assert_int_equal(vouch_key_verify(pk, msg, 8, sig, n, &err), VOUCH_E_VERIFY);
	assert_int_equal(vouch_key_verify(pk, msg, 8, sig, n - 1, &err), VOUCH_E_VERIFY);
	/* A PSS signature by the same key is not a PKCS#1 v1.5 one. */
	uint8_t *vsig = NULL;
	size_t vlen = 0;
	assert_int_equal(vouch_key_sign(priv, msg, 8, &vsig, &vlen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(pss, msg, 8, vsig, vlen, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(pk, msg, 8, vsig, vlen, &err), VOUCH_E_VERIFY);
	free(vsig);
	vsig = NULL;
	/* Never used to sign. */
	assert_int_equal(vouch_key_sign(pk, msg, 8, &vsig, &vlen, &err), VOUCH_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "verification only"));
	assert_null(vsig);

	/* ECDSA P-384, SHA-384, under both keytype spellings. */
	EVP_PKEY *e = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(e);
	char *epem = pem_of(e);
	json_t *eo = tuf_key("ecdsa", "ecdsa-sha2-nistp384", epem);
	json_t *lo = tuf_key("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", epem);
	struct vouch_key *ek = NULL, *lk = NULL, *ep = NULL;
	assert_int_equal(vouch_key_from_tuf(eo, &ek, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_tuf(lo, &lk, &err), VOUCH_OK);
	assert_string_equal(vouch_key_scheme(ek), "ecdsa-sha2-nistp384");
	expect_keyid("ecdsa", "ecdsa-sha2-nistp384", epem, vouch_key_id(ek));
	expect_keyid("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", epem, vouch_key_id(lk));
	assert_true(vouch_key_same_public(ek, lk));
	assert_false(vouch_key_same_public(ek, g_ec));
	check_echo(ek, "ecdsa", "ecdsa-sha2-nistp384");
	check_echo(lk, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384");
	n = evp_sign(e, EVP_sha384(), msg, 8, sig, sizeof(sig));
	assert_int_equal(vouch_key_verify(ek, msg, 8, sig, n, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(lk, msg, 8, sig, n, &err), VOUCH_OK);
	assert_int_equal(vouch_key_verify(ek, "metadatA", 8, sig, n, &err), VOUCH_E_VERIFY);
	/* The digest is the scheme's: SHA-256 over P-384 does not verify. */
	n = evp_sign(e, EVP_sha256(), msg, 8, sig, sizeof(sig));
	assert_int_equal(vouch_key_verify(ek, msg, 8, sig, n, &err), VOUCH_E_VERIFY);
	assert_int_equal(vouch_key_sign(ek, msg, 8, &vsig, &vlen, &err), VOUCH_E_UNSUPPORTED);
	/* A P-384 key file is still not a vouch key. */
	assert_int_equal(vouch_key_from_evp(e, 1, NULL, &ep, &err), VOUCH_E_UNSUPPORTED);
	assert_null(ep);

	vouch_key_free(pk);
	vouch_key_free(pss);
	vouch_key_free(priv);
	vouch_key_free(ek);
	vouch_key_free(lk);
	json_decref(ro);
	json_decref(po);
	json_decref(eo);
	json_decref(lo);
	free(rpem);
	free(epem);
	EVP_PKEY_free(r);
	EVP_PKEY_free(e);
}

/* An EC PKCS#8 file carries the public point next to the scalar; a file
 * whose two halves differ must not give signatures that its key id's key
 * does not verify. */
static void test_mismatched_key_halves(void **state)
{
	(void)state;
	struct vouch_err err;
	EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(a);
	assert_non_null(b);
	BIGNUM *priv = NULL;
	uint8_t pub[65];
	size_t pl = 0;
	assert_int_equal(EVP_PKEY_get_bn_param(a, "priv", &priv), 1);
	assert_int_equal(EVP_PKEY_get_octet_string_param(b, "pub", pub, sizeof(pub), &pl), 1);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, "group", "P-256", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, "priv", priv), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, "pub", pub, pl), 1);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *mixed = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &mixed, EVP_PKEY_KEYPAIR, params), 1);

	/* Written as an ordinary PKCS#8 file, it loads, under b's key id. */
	struct vouch_key *k = NULL, *kb = NULL;
	assert_int_equal(vouch_key_from_evp(mixed, 1, NULL, &k, &err), VOUCH_OK);
	char *path = path_in_tmp("mixed.key");
	assert_int_equal(vouch_key_save_private(k, path, NULL, 0, &err), VOUCH_OK);
	vouch_key_free(k);
	k = NULL;
	assert_int_equal(vouch_key_load_private(path, NULL, &k, &err), VOUCH_OK);
	assert_int_equal(vouch_key_from_evp(b, 0, NULL, &kb, &err), VOUCH_OK);
	assert_string_equal(vouch_key_id(k), vouch_key_id(kb));
	/* It must not sign: nothing would verify what it signs. */
	uint8_t *sig = NULL;
	size_t siglen = 0;
	vouch_err_clear(&err);
	assert_int_equal(vouch_key_sign(k, "m", 1, &sig, &siglen, &err), VOUCH_E_CRYPTO);
	assert_non_null(strstr(err.msg, "do not match"));
	assert_null(sig);
	/* An intact key still signs. */
	assert_int_equal(vouch_key_sign(g_ec, "m", 1, &sig, &siglen, &err), VOUCH_OK);
	free(sig);

	vouch_key_free(k);
	vouch_key_free(kb);
	EVP_PKEY_free(mixed);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(priv);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc8032_vectors),
	    cmocka_unit_test(test_key_id_fixed),
	    cmocka_unit_test(test_tuf_round_trip),
	    cmocka_unit_test(test_legacy_ecdsa_keytype),
	    cmocka_unit_test(test_signature_attacks),
	    cmocka_unit_test(test_rsa_pss_salt_lengths),
	    cmocka_unit_test(test_ecdsa_der_strict),
	    cmocka_unit_test(test_malformed_tuf_keys),
	    cmocka_unit_test(test_type_parse),
	    cmocka_unit_test(test_private_key_files),
	    cmocka_unit_test(test_private_key_bad_files),
	    cmocka_unit_test(test_load_public),
	    cmocka_unit_test(test_ed25519_small_order_keys),
	    cmocka_unit_test(test_ed25519_noncanonical_s),
	    cmocka_unit_test(test_ecdsa_encodings),
	    cmocka_unit_test(test_rsa_bad_exponents),
	    cmocka_unit_test(test_same_public),
	    cmocka_unit_test(test_verify_only_schemes),
	    cmocka_unit_test(test_mismatched_key_halves),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
