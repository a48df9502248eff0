/* vouch — signing keys on OpenSSL 3: ed25519, ecdsa P-256, rsassa-pss-sha256.
 * Keys read from TUF metadata may also be rsa-pkcs1v15-sha256 or
 * ecdsa-sha2-nistp384: verified, never made nor used to sign.
 *
 * A struct vouch_key holds an EVP_PKEY (public, or private for key files)
 * or a PKCS#11 token key (p11.c) together with its public EVP_PKEY. Its TUF
 * identity (keytype, scheme, keyval.public, key id) is fixed when the key
 * is made, so that a key read from metadata is written back byte for
 * byte. */
#include "vouch/key.h"

#include <ctype.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "key_internal.h"
#include "p11.h"
#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/json.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define ED25519_RAW_LEN 32
#define ED25519_SIG_LEN 64
/* rsassa-pss-sha256 signs with a salt as long as the digest. */
#define PSS_SALT_LEN 32
/* A passphrase file is read up to this size; only its first line counts. */
#define PASS_FILE_MAX 4096

static const char KT_ED25519[] = "ed25519";
static const char KT_ECDSA[] = "ecdsa";
static const char KT_ECDSA_LEGACY[] = "ecdsa-sha2-nistp256";
static const char KT_ECDSA_P384_LEGACY[] = "ecdsa-sha2-nistp384";
static const char KT_RSA[] = "rsa";
static const char SCHEME_ED25519[] = "ed25519";
static const char SCHEME_ECDSA[] = "ecdsa-sha2-nistp256";
static const char SCHEME_RSA[] = "rsassa-pss-sha256";
/* Verification only, for keys read from TUF metadata (python-tuf and the
 * TUF conformance suite use them); vouch never makes such keys. */
static const char SCHEME_RSA_PKCS1[] = "rsa-pkcs1v15-sha256";
static const char SCHEME_ECDSA_P384[] = "ecdsa-sha2-nistp384";
static const char PEM_PUB_BEGIN[] = "-----BEGIN PUBLIC KEY-----\n";

/* The scheme of a key other than its type's (TUF keys only, verification
 * only). */
enum key_variant {
	VARIANT_NONE = 0,
	VARIANT_RSA_PKCS1, /* rsa-pkcs1v15-sha256 */
	VARIANT_P384,	   /* ecdsa-sha2-nistp384 (type VOUCH_KEY_ECDSA_P256) */
};

struct vouch_key {
	enum vouch_key_type type;
	/* Public key, or the private key of a key file / generated key. For a
	 * token key, the public half. */
	EVP_PKEY *pkey;
	int has_private;
	struct vouch_p11_key *p11;
	const char *keytype;	  /* one of the KT_ strings */
	enum key_variant variant; /* VARIANT_NONE for every key vouch makes */
	char *public_str;	  /* TUF keyval.public */
	char *location;		  /* "", "file:PATH" or the token URI without PIN */
	char id[VOUCH_KEYID_HEX_LEN + 1];
};

static const char *scheme_of(enum vouch_key_type type)
{
	switch (type) {
	case VOUCH_KEY_ED25519:
		return SCHEME_ED25519;
	case VOUCH_KEY_ECDSA_P256:
		return SCHEME_ECDSA;
	case VOUCH_KEY_RSA:
		return SCHEME_RSA;
	}
	return "";
}

static const char *key_scheme(const struct vouch_key *k)
{
	switch (k->variant) {
	case VARIANT_RSA_PKCS1:
		return SCHEME_RSA_PKCS1;
	case VARIANT_P384:
		return SCHEME_ECDSA_P384;
	case VARIANT_NONE:
		break;
	}
	return scheme_of(k->type);
}

static const char *type_name(enum vouch_key_type type)
{
	switch (type) {
	case VOUCH_KEY_ED25519:
		return "ed25519";
	case VOUCH_KEY_ECDSA_P256:
		return "ecdsa";
	case VOUCH_KEY_RSA:
		return "rsa";
	}
	return "?";
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);
	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

/* The canonical encodings (y, sign bit clear) of the eight points of small
 * order on edwards25519: y = 0, 1, p-1 and the two y of the points of order
 * 8. A public key among them verifies forged signatures: with A = (0, 1),
 * R = A and S = 0 pass for every message, and OpenSSL (like RFC 8032's
 * cofactorless check) does not refuse such keys itself. */
static const uint8_t ed25519_small_order[][ED25519_RAW_LEN] = {
    {0},
    {1},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
};

/* Refuses ed25519 public keys that are of small order (see above) or not
 * canonically encoded (y >= p: the same point as y - p, so one key would
 * have two encodings and two key ids). */
static enum vouch_rc check_ed25519_point(const uint8_t raw[ED25519_RAW_LEN], struct vouch_err *err)
{
	uint8_t y[ED25519_RAW_LEN];
	memcpy(y, raw, sizeof(y));
	y[ED25519_RAW_LEN - 1] &= 0x7f; /* the sign of x */
	int ge_p = y[0] >= 0xed && y[ED25519_RAW_LEN - 1] == 0x7f;
	for (size_t i = 1; ge_p && i < ED25519_RAW_LEN - 1; i++)
		ge_p = y[i] == 0xff;
	if (ge_p)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "ed25519 public key is not canonically encoded");
	for (size_t i = 0; i < sizeof(ed25519_small_order) / sizeof(ed25519_small_order[0]); i++)
		if (memcmp(y, ed25519_small_order[i], sizeof(y)) == 0)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "ed25519 public key is a point of small order (it "
					     "would accept forged signatures)");
	return VOUCH_OK;
}

/* An RSA public exponent must be odd and greater than 1: e = 1 makes every
 * padded message its own signature, an even e is no RSA key. */
static enum vouch_rc check_rsa_exponent(EVP_PKEY *pkey, struct vouch_err *err)
{
	BIGNUM *e = NULL;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1 || e == NULL) {
		ERR_clear_error();
		return vouch_err_set(err, VOUCH_E_FORMAT, "RSA key without a public exponent");
	}
	int ok = BN_is_odd(e) && !BN_is_one(e);
	BN_free(e);
	if (!ok)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "RSA key with a public exponent that is 1 or even");
	return VOUCH_OK;
}

/* Which vouch type an OpenSSL key is, refusing anything else. An EC key
 * on P-384 is taken only when p384 is given (a TUF key of scheme
 * ecdsa-sha2-nistp384), and sets *p384. */
static enum vouch_rc classify(EVP_PKEY *pkey, enum vouch_key_type *type, int *p384,
			      struct vouch_err *err)
{
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		uint8_t raw[ED25519_RAW_LEN];
		size_t rawlen = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != sizeof(raw))
			return vouch_err_openssl(err, VOUCH_E_FORMAT,
						 "cannot read the ed25519 public key");
		enum vouch_rc rc = check_ed25519_point(raw, err);
		if (rc != VOUCH_OK)
			return rc;
		*type = VOUCH_KEY_ED25519;
		return VOUCH_OK;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[80] = "";
		size_t glen = 0;
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1) {
			ERR_clear_error();
			return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
					     "ECDSA key without a named curve; only P-256 is "
					     "supported");
		}
		int is384 = p384 != NULL &&
			    (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0);
		if (!is384 && strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)
			return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
					     "ECDSA key on curve %s; only P-256 is supported",
					     group);
		/* P-256 spelled out as explicit parameters is the same key under
		 * another encoding (and key id): only the named curve is taken. */
		char enc[32] = "";
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, enc,
						   sizeof(enc), NULL) != 1 ||
		    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
			ERR_clear_error();
			return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
					     "ECDSA key with explicit curve parameters; only the "
					     "named curve P-256 is supported");
		}
		*type = VOUCH_KEY_ECDSA_P256;
		if (p384 != NULL)
			*p384 = is384;
		return VOUCH_OK;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
			return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
					     "RSA key of %d bits; %d to %d bits are supported",
					     bits, RSA_MIN_BITS, RSA_MAX_BITS);
		enum vouch_rc rc = check_rsa_exponent(pkey, err);
		if (rc != VOUCH_OK)
			return rc;
		*type = VOUCH_KEY_RSA;
		return VOUCH_OK;
	}
	const char *name = EVP_PKEY_get0_type_name(pkey);
	return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
			     "%s keys are not supported (ed25519, ecdsa P-256, rsa)",
			     name != NULL ? name : "this kind of");
}

/* PEM SubjectPublicKeyInfo of pkey, malloc'd and NUL-terminated. */
static enum vouch_rc pubkey_pem(EVP_PKEY *pkey, char **out, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	char *s = NULL;
	long n = 0;
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the public key");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the public key");
		goto out;
	}
	s = malloc((size_t)n + 1);
	if (s == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
out:
	BIO_free(bio);
	return rc;
}

/* TUF keyval.public as vouch writes it: hex for ed25519, PEM otherwise. */
static enum vouch_rc public_string(EVP_PKEY *pkey, enum vouch_key_type type, char **out,
				   struct vouch_err *err)
{
	if (type != VOUCH_KEY_ED25519)
		return pubkey_pem(pkey, out, err);
	uint8_t raw[ED25519_RAW_LEN];
	size_t rawlen = sizeof(raw);
	if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != sizeof(raw))
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot read the ed25519 public key");
	char *hex = malloc(2 * ED25519_RAW_LEN + 1);
	if (hex == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	vouch_hex_encode(raw, rawlen, hex);
	*out = hex;
	return VOUCH_OK;
}

static json_t *tuf_object(const char *keytype, const char *scheme, const char *pub)
{
	return json_pack("{s:s, s:s, s:{s:s}}", "keytype", keytype, "scheme", scheme, "keyval",
			 "public", pub);
}

/* id = hex sha256 of the canonical JSON of {keytype, scheme, keyval:{public}}. */
static enum vouch_rc compute_id(struct vouch_key *k, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct vouch_buf canon = {0};
	json_t *obj = tuf_object(k->keytype, key_scheme(k), k->public_str);
	if (obj == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = vouch_canon_encode(obj, &canon, err);
	if (rc != VOUCH_OK)
		goto out;
	uint8_t digest[VOUCH_SHA256_LEN];
	vouch_sha256(canon.data, canon.len, digest);
	vouch_hex_encode(digest, sizeof(digest), k->id);
out:
	json_decref(obj);
	vouch_buf_free(&canon);
	return rc;
}

/* Makes a key around pkey (takes the reference on success), with its TUF
 * keytype string and keyval.public (taken on success). */
static enum vouch_rc key_new(enum vouch_key_type type, EVP_PKEY *pkey, int has_private,
			     const char *keytype, char *public_str, const char *location,
			     struct vouch_key **out, struct vouch_err *err)
{
	struct vouch_key *k = calloc(1, sizeof(*k));
	char *loc = dup_str(location != NULL ? location : "");
	if (k == NULL || loc == NULL) {
		free(k);
		free(loc);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	k->type = type;
	k->keytype = keytype;
	k->public_str = public_str;
	k->location = loc;
	enum vouch_rc rc = compute_id(k, err);
	if (rc != VOUCH_OK) {
		free(loc);
		free(k);
		return rc;
	}
	k->pkey = pkey;
	k->has_private = has_private;
	*out = k;
	return VOUCH_OK;
}

static const char *canonical_keytype(enum vouch_key_type type)
{
	switch (type) {
	case VOUCH_KEY_ED25519:
		return KT_ED25519;
	case VOUCH_KEY_ECDSA_P256:
		return KT_ECDSA;
	case VOUCH_KEY_RSA:
		return KT_RSA;
	}
	return "";
}

enum vouch_rc vouch_key_from_evp(EVP_PKEY *pkey, int is_private, const char *location,
				 struct vouch_key **out, struct vouch_err *err)
{
	enum vouch_key_type type;
	char *pub = NULL;
	enum vouch_rc rc = classify(pkey, &type, NULL, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = public_string(pkey, type, &pub, err);
	if (rc != VOUCH_OK)
		return rc;
	if (EVP_PKEY_up_ref(pkey) != 1) {
		free(pub);
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot reference the key");
	}
	rc = key_new(type, pkey, is_private != 0, canonical_keytype(type), pub, location, out, err);
	if (rc != VOUCH_OK) {
		EVP_PKEY_free(pkey);
		free(pub);
	}
	return rc;
}

enum vouch_rc vouch_key_type_parse(const char *name, enum vouch_key_type *type, unsigned *bits,
				   struct vouch_err *err)
{
	static const struct {
		const char *name;
		enum vouch_key_type type;
		unsigned bits;
	} names[] = {
	    {"ed25519", VOUCH_KEY_ED25519, 0},
	    {"ecdsa", VOUCH_KEY_ECDSA_P256, 0},
	    {"rsa3072", VOUCH_KEY_RSA, 3072},
	    {"rsa4096", VOUCH_KEY_RSA, 4096},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i].name) == 0) {
			*type = names[i].type;
			*bits = names[i].bits;
			return VOUCH_OK;
		}
	}
	return vouch_err_set(err, VOUCH_E_USAGE,
			     "unknown key type '%s' (ed25519, ecdsa, rsa3072, rsa4096)", name);
}

static enum vouch_rc check_bits(enum vouch_key_type type, unsigned *bits, struct vouch_err *err)
{
	if (type == VOUCH_KEY_RSA) {
		if (*bits != 3072 && *bits != 4096)
			return vouch_err_set(
			    err, VOUCH_E_USAGE,
			    "RSA keys are generated with 3072 or 4096 bits, not %u", *bits);
		return VOUCH_OK;
	}
	if (type != VOUCH_KEY_ED25519 && type != VOUCH_KEY_ECDSA_P256)
		return vouch_err_set(err, VOUCH_E_USAGE, "unknown key type %d", (int)type);
	*bits = 0;
	return VOUCH_OK;
}

enum vouch_rc vouch_key_generate(enum vouch_key_type type, unsigned bits, struct vouch_key **out,
				 struct vouch_err *err)
{
	enum vouch_rc rc = check_bits(type, &bits, err);
	if (rc != VOUCH_OK)
		return rc;
	EVP_PKEY *pkey = NULL;
	switch (type) {
	case VOUCH_KEY_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case VOUCH_KEY_ECDSA_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case VOUCH_KEY_RSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	}
	if (pkey == NULL)
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot generate a %s key",
					 type_name(type));
	rc = vouch_key_from_evp(pkey, 1, NULL, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

static enum vouch_rc key_from_p11(struct vouch_p11_key *p11, EVP_PKEY *pub, struct vouch_key **out,
				  struct vouch_err *err)
{
	struct vouch_key *k = NULL;
	enum vouch_rc rc = vouch_key_from_evp(pub, 0, vouch_p11_location(p11), &k, err);
	if (rc != VOUCH_OK)
		return rc;
	k->p11 = p11;
	k->has_private = 1;
	*out = k;
	return VOUCH_OK;
}

enum vouch_rc vouch_key_generate_pkcs11(enum vouch_key_type type, unsigned bits, const char *uri,
					const struct vouch_key_opts *opts, struct vouch_key **out,
					struct vouch_err *err)
{
	enum vouch_rc rc = check_bits(type, &bits, err);
	if (rc != VOUCH_OK)
		return rc;
	if (strncmp(uri, "pkcs11:", 7) != 0)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "a PKCS#11 key location must start with 'pkcs11:'");
	struct vouch_p11_key *p11 = NULL;
	EVP_PKEY *pub = NULL;
	rc = vouch_p11_generate(type, bits, uri, opts, &p11, &pub, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = key_from_p11(p11, pub, out, err);
	EVP_PKEY_free(pub);
	if (rc != VOUCH_OK)
		vouch_p11_free(p11);
	return rc;
}

enum vouch_rc vouch_key_save_private(const struct vouch_key *key, const char *path,
				     const char *pass, size_t passlen, struct vouch_err *err)
{
	if (key->p11 != NULL)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "the private key stays in its PKCS#11 token and cannot be "
				     "saved to a file");
	if (!key->has_private || key->pkey == NULL)
		return vouch_err_set(err, VOUCH_E_USAGE, "key %s has no private part to save",
				     key->id);
	if (pass != NULL && passlen == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "empty passphrase");
	if (passlen > VOUCH_KEY_PASS_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "passphrase longer than %d bytes",
				     VOUCH_KEY_PASS_MAX);

	enum vouch_rc rc = VOUCH_OK;
	PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *p8 = NULL;
	char *data = NULL;
	long n = 0;
	/* The PEM holds the key itself when unencrypted: keep it in memory
	 * that is wiped when freed. */
	BIO *bio = BIO_new(BIO_s_secmem());
	if (bio == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	p8inf = EVP_PKEY2PKCS8(key->pkey);
	if (p8inf == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the private key");
		goto out;
	}
	if (pass != NULL) {
		pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 16, NULL, VOUCH_KEY_SCRYPT_N,
					    VOUCH_KEY_SCRYPT_R, VOUCH_KEY_SCRYPT_P);
		if (pbe == NULL) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot set up scrypt");
			goto out;
		}
		p8 = PKCS8_set0_pbe(pass, (int)passlen, p8inf, pbe);
		if (p8 == NULL) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO,
					       "cannot encrypt the private key");
			goto out;
		}
		pbe = NULL; /* owned by p8 now */
		if (PEM_write_bio_PKCS8(bio, p8) != 1) {
			rc =
			    vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the private key");
			goto out;
		}
	} else if (PEM_write_bio_PKCS8_PRIV_KEY_INFO(bio, p8inf) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the private key");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || data == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the private key");
		goto out;
	}
	rc = vouch_file_write_new(path, data, (size_t)n, 0600, err);
out:
	if (data != NULL && n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	X509_SIG_free(p8);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	BIO_free(bio);
	return rc;
}

enum vouch_rc vouch_key_public_pem(const struct vouch_key *key, char **out, struct vouch_err *err)
{
	return pubkey_pem(key->pkey, out, err);
}

enum vouch_rc vouch_key_read_passphrase_file(const char *path, char *buf, size_t cap, size_t *len,
					     struct vouch_err *err)
{
	struct vouch_buf b = {0};
	size_t n = 0;
	enum vouch_rc rc = vouch_file_read(path, PASS_FILE_MAX, &b, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "passphrase file: ");
		goto out;
	}
	while (n < b.len && b.data[n] != '\n')
		n++;
	if (n > 0 && b.data[n - 1] == '\r')
		n--;
	if (n == 0) {
		rc =
		    vouch_err_set(err, VOUCH_E_USAGE, "passphrase file %s: empty passphrase", path);
		goto out;
	}
	if (memchr(b.data, '\0', n) != NULL) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "passphrase file %s: NUL byte in the passphrase", path);
		goto out;
	}
	if (n >= cap) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT,
				   "passphrase file %s: passphrase longer than %zu bytes", path,
				   cap - 1);
		goto out;
	}
	memcpy(buf, b.data, n);
	buf[n] = '\0';
	*len = n;
out:
	if (rc != VOUCH_OK && cap > 0)
		OPENSSL_cleanse(buf, cap);
	vouch_buf_free_secret(&b);
	return rc;
}

static enum vouch_rc get_passphrase(const char *path, const struct vouch_key_opts *opts, char *buf,
				    size_t cap, size_t *len, struct vouch_err *err)
{
	if (opts != NULL && opts->passphrase_file != NULL)
		return vouch_key_read_passphrase_file(opts->passphrase_file, buf, cap, len, err);
	if (opts != NULL && opts->secret_cb != NULL) {
		char what[512];
		snprintf(what, sizeof(what), "passphrase for %s", path);
		return opts->secret_cb(opts->secret_ctx, what, 0, buf, cap, len, err);
	}
	return vouch_err_set(err, VOUCH_E_USAGE,
			     "%s is encrypted; give its passphrase with --passphrase-file", path);
}

/* Decodes the PKCS#8 PEM of a key file (encrypted or not) into pkey. */
static enum vouch_rc decode_private(const char *path, const struct vouch_buf *file,
				    const struct vouch_key_opts *opts, EVP_PKEY **pkey,
				    struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	X509_SIG *p8 = NULL;
	PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	char pass[VOUCH_KEY_PASS_MAX + 1];
	size_t passlen = 0;
	const unsigned char *p = NULL;
	BIO *bio = NULL;
	int ok = 0;

	if (file->len > INT_MAX) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT, "%s: too large", path);
		goto out;
	}
	bio = BIO_new_mem_buf(file->data, (int)file->len);
	if (bio == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	ok = PEM_read_bio(bio, &name, &header, &der, &derlen);
	BIO_free(bio);
	if (ok != 1 || derlen <= 0) {
		ERR_clear_error();
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "%s: not a PEM private key file", path);
		goto out;
	}
	p = der;
	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		p8 = d2i_X509_SIG(NULL, &p, derlen);
		if (p8 == NULL || p != der + derlen) {
			ERR_clear_error();
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "%s: malformed encrypted PKCS#8 private key", path);
			goto out;
		}
		rc = get_passphrase(path, opts, pass, sizeof(pass), &passlen, err);
		if (rc != VOUCH_OK)
			goto out;
		p8inf = PKCS8_decrypt(p8, pass, (int)passlen);
		if (p8inf == NULL) {
			/* A wrong passphrase shows as bad padding or, rarely, as
			 * garbage that does not decode: both mean "wrong". */
			ERR_clear_error();
			rc = vouch_err_set(err, VOUCH_E_AUTH,
					   "%s: wrong passphrase (or damaged key file)", path);
			goto out;
		}
	} else if (strcmp(name, "PRIVATE KEY") == 0) {
		p8inf = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, derlen);
		if (p8inf == NULL || p != der + derlen) {
			ERR_clear_error();
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "%s: malformed PKCS#8 private key",
					   path);
			goto out;
		}
	} else {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "%s: not a PKCS#8 private key (PEM type \"%.40s\"); convert it "
				   "with 'openssl pkcs8 -topk8'",
				   path, name);
		goto out;
	}
	*pkey = EVP_PKCS82PKEY(p8inf);
	if (*pkey == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "%s: cannot decode the private key",
				       path);
		goto out;
	}
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	PKCS8_PRIV_KEY_INFO_free(p8inf);
	X509_SIG_free(p8);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)derlen);
	OPENSSL_free(name);
	OPENSSL_free(header);
	return rc;
}

enum vouch_rc vouch_key_load_private(const char *path_or_uri, const struct vouch_key_opts *opts,
				     struct vouch_key **out, struct vouch_err *err)
{
	if (strncmp(path_or_uri, "pkcs11:", 7) == 0) {
		struct vouch_p11_key *p11 = NULL;
		EVP_PKEY *pub = NULL;
		enum vouch_key_type type;
		enum vouch_rc rc = vouch_p11_open_key(path_or_uri, opts, &p11, &pub, &type, err);
		if (rc != VOUCH_OK)
			return rc;
		rc = key_from_p11(p11, pub, out, err);
		EVP_PKEY_free(pub);
		if (rc != VOUCH_OK) {
			vouch_p11_free(p11);
			return rc;
		}
		if ((*out)->type != type) {
			vouch_key_free(*out);
			*out = NULL;
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "token key type does not match its public key");
		}
		return VOUCH_OK;
	}
	const char *path = path_or_uri;
	if (strncmp(path, "file:", 5) == 0)
		path += 5;

	struct vouch_buf file = {0};
	EVP_PKEY *pkey = NULL;
	char *location = NULL;
	size_t n = strlen(path) + 6;
	enum vouch_rc rc = vouch_file_read(path, VOUCH_KEY_PRIVATE_MAX, &file, err);
	if (rc != VOUCH_OK) {
		if (rc == VOUCH_E_LIMIT)
			vouch_err_prefix(err, "%s: ", path);
		goto out;
	}
	rc = decode_private(path, &file, opts, &pkey, err);
	if (rc != VOUCH_OK)
		goto out;
	location = malloc(n);
	if (location == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(location, n, "file:%s", path);
	rc = vouch_key_from_evp(pkey, 1, location, out, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s: ", path);
out:
	free(location);
	EVP_PKEY_free(pkey);
	vouch_buf_free_secret(&file);
	return rc;
}

/* Validates a TUF keyval.public PEM: exactly one SubjectPublicKeyInfo in
 * the canonical form OpenSSL writes (with or without the final newline),
 * so that one key cannot hide behind several spellings. */
static enum vouch_rc parse_tuf_pem(const char *pub, size_t publen, EVP_PKEY **out,
				   struct vouch_err *err)
{
	if (publen > VOUCH_KEY_PUBLIC_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "keyval.public longer than %d bytes",
				     VOUCH_KEY_PUBLIC_MAX);
	if (strncmp(pub, PEM_PUB_BEGIN, sizeof(PEM_PUB_BEGIN) - 1) != 0)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "keyval.public is not a PEM public key (\"-----BEGIN PUBLIC "
				     "KEY-----\")");
	BIO *bio = BIO_new_mem_buf(pub, (int)publen);
	if (bio == NULL)
		return vouch_err_openssl(err, VOUCH_E_NOMEM, "out of memory");
	EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		ERR_clear_error();
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "keyval.public: malformed PEM SubjectPublicKeyInfo");
	}
	char *canon = NULL;
	enum vouch_rc rc = pubkey_pem(pkey, &canon, err);
	if (rc != VOUCH_OK) {
		EVP_PKEY_free(pkey);
		return rc;
	}
	size_t clen = strlen(canon);
	int same = (publen == clen && memcmp(pub, canon, clen) == 0) ||
		   (publen + 1 == clen && memcmp(pub, canon, publen) == 0);
	free(canon);
	if (!same) {
		EVP_PKEY_free(pkey);
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "keyval.public: PEM public key not in canonical form (one "
				     "key, base64 lines of 64 characters, nothing else)");
	}
	*out = pkey;
	return VOUCH_OK;
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

enum vouch_rc vouch_key_from_tuf(const json_t *obj, struct vouch_key **out, struct vouch_err *err)
{
	const char *keytype = NULL, *scheme = NULL, *pub = NULL;
	json_t *keyval = NULL;
	EVP_PKEY *pkey = NULL;
	char *pubcopy = NULL;
	const char *kt = NULL;
	enum vouch_key_type type;
	enum key_variant variant = VARIANT_NONE;
	int is384 = 0;
	enum vouch_rc rc = VOUCH_OK;

	if (!json_is_object(obj))
		return vouch_err_set(err, VOUCH_E_FORMAT, "public key is not a JSON object");
	if ((rc = vouch_json_get_string(obj, "keytype", &keytype, err)) != VOUCH_OK ||
	    (rc = vouch_json_get_string(obj, "scheme", &scheme, err)) != VOUCH_OK ||
	    (rc = vouch_json_get_object(obj, "keyval", &keyval, err)) != VOUCH_OK ||
	    (rc = vouch_json_get_string(keyval, "public", &pub, err)) != VOUCH_OK)
		return rc;
	size_t publen = json_string_length(json_object_get(keyval, "public"));
	if (publen != strlen(pub))
		return vouch_err_set(err, VOUCH_E_FORMAT, "keyval.public contains a NUL byte");

	if (strcmp(keytype, KT_ED25519) == 0) {
		type = VOUCH_KEY_ED25519;
		kt = KT_ED25519;
	} else if (strcmp(keytype, KT_ECDSA) == 0) {
		type = VOUCH_KEY_ECDSA_P256;
		kt = KT_ECDSA;
	} else if (strcmp(keytype, KT_ECDSA_LEGACY) == 0) {
		type = VOUCH_KEY_ECDSA_P256;
		kt = KT_ECDSA_LEGACY;
	} else if (strcmp(keytype, KT_ECDSA_P384_LEGACY) == 0) {
		type = VOUCH_KEY_ECDSA_P256;
		kt = KT_ECDSA_P384_LEGACY;
	} else if (strcmp(keytype, KT_RSA) == 0) {
		type = VOUCH_KEY_RSA;
		kt = KT_RSA;
	} else {
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "keytype \"%.64s\" not supported",
				     keytype);
	}
	/* The schemes of verification-only keys; a legacy keytype names
	 * its one scheme. */
	if (type == VOUCH_KEY_RSA && strcmp(scheme, SCHEME_RSA_PKCS1) == 0)
		variant = VARIANT_RSA_PKCS1;
	else if ((kt == KT_ECDSA || kt == KT_ECDSA_P384_LEGACY) &&
		 strcmp(scheme, SCHEME_ECDSA_P384) == 0)
		variant = VARIANT_P384;
	if (variant == VARIANT_NONE &&
	    (kt == KT_ECDSA_P384_LEGACY || strcmp(scheme, scheme_of(type)) != 0))
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "scheme \"%.64s\" not supported for keytype \"%s\"", scheme,
				     kt);

	if (type == VOUCH_KEY_ED25519) {
		uint8_t raw[ED25519_RAW_LEN];
		size_t rawlen = 0;
		if (publen != 2 * ED25519_RAW_LEN || !is_lower_hex(pub, publen))
			return vouch_err_set(
			    err, VOUCH_E_FORMAT,
			    "ed25519 keyval.public must be %d lowercase hex digits",
			    2 * ED25519_RAW_LEN);
		rc = vouch_hex_decode(pub, publen, raw, sizeof(raw), &rawlen, err);
		if (rc != VOUCH_OK)
			return rc;
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
		if (pkey == NULL)
			return vouch_err_openssl(err, VOUCH_E_FORMAT,
						 "ed25519 keyval.public: not a valid key");
	} else {
		rc = parse_tuf_pem(pub, publen, &pkey, err);
		if (rc != VOUCH_OK)
			return rc;
		const char *want = type == VOUCH_KEY_RSA ? "RSA" : "EC";
		if (!EVP_PKEY_is_a(pkey, want)) {
			const char *got = EVP_PKEY_get0_type_name(pkey);
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "keyval.public holds a %s key, not an %s key",
					   got != NULL ? got : "different", want);
			goto out;
		}
	}
	enum vouch_key_type got_type;
	rc = classify(pkey, &got_type, variant == VARIANT_P384 ? &is384 : NULL, err);
	if (rc == VOUCH_OK && variant == VARIANT_P384 && !is384)
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "keyval.public: ECDSA key not on curve P-384 (scheme %s)",
				   SCHEME_ECDSA_P384);
	if (rc != VOUCH_OK) {
		/* A curve other than the scheme's is a malformed key; an RSA key
		 * outside 2048..8192 bits is one we do not accept. */
		if (type == VOUCH_KEY_ECDSA_P256) {
			rc = VOUCH_E_FORMAT;
			if (err != NULL)
				err->code = rc;
		}
		goto out;
	}
	pubcopy = malloc(publen + 1);
	if (pubcopy == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(pubcopy, pub, publen + 1);
	rc = key_new(type, pkey, 0, kt, pubcopy, NULL, out, err);
	if (rc == VOUCH_OK) {
		pkey = NULL;
		pubcopy = NULL;
		if (variant != VARIANT_NONE) {
			/* The scheme is part of the key id: compute it again. */
			(*out)->variant = variant;
			rc = compute_id(*out, err);
			if (rc != VOUCH_OK) {
				vouch_key_free(*out);
				*out = NULL;
			}
		}
	}
out:
	free(pubcopy);
	EVP_PKEY_free(pkey);
	return rc;
}

enum vouch_rc vouch_key_to_tuf(const struct vouch_key *key, json_t **out, struct vouch_err *err)
{
	json_t *obj = tuf_object(key->keytype, key_scheme(key), key->public_str);
	if (obj == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	*out = obj;
	return VOUCH_OK;
}

enum vouch_rc vouch_key_load_public(const char *path, struct vouch_key **out, struct vouch_err *err)
{
	struct vouch_buf file = {0};
	json_t *doc = NULL;
	EVP_PKEY *pkey = NULL;
	json_t *inner = NULL;
	const char *stated = NULL;
	BIO *bio = NULL;
	size_t i = 0;
	enum vouch_rc rc = vouch_file_read(path, VOUCH_KEY_PUBLIC_MAX, &file, err);
	if (rc != VOUCH_OK) {
		if (rc == VOUCH_E_LIMIT)
			vouch_err_prefix(err, "%s: ", path);
		return rc;
	}
	while (i < file.len && isspace(file.data[i]))
		i++;
	if (i < file.len && file.data[i] == '{') {
		rc = vouch_json_parse(file.data, file.len, VOUCH_KEY_PUBLIC_MAX, &doc, err);
		if (rc != VOUCH_OK)
			goto out;
		/* `vouch key show --json` writes {"keyid", "key"}: accept it
		 * too, and insist that the id it states is the key's. */
		inner = json_object_get(doc, "key");
		if (inner != NULL) {
			rc = vouch_json_get_string(doc, "keyid", &stated, err);
			if (rc != VOUCH_OK)
				goto out;
		} else {
			inner = doc;
		}
		rc = vouch_key_from_tuf(inner, out, err);
		if (rc == VOUCH_OK && stated != NULL && strcmp(stated, (*out)->id) != 0) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "the stated keyid does not match the key's (%s)",
					   (*out)->id);
			vouch_key_free(*out);
			*out = NULL;
		}
		goto out;
	}
	/* file.data is NUL-terminated; a NUL inside only makes this fail. */
	if (strstr((const char *)file.data, "PRIVATE KEY-----") != NULL) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "a private key, where a public key is needed (the public key "
				   "is in the .pub file next to it)");
		goto out;
	}
	if (file.len > INT_MAX ||
	    strstr((const char *)file.data, "-----BEGIN PUBLIC KEY-----") == NULL) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "neither a PEM public key nor a TUF public-key JSON");
		goto out;
	}
	bio = BIO_new_mem_buf(file.data, (int)file.len);
	if (bio == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		ERR_clear_error();
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "malformed PEM public key");
		goto out;
	}
	rc = vouch_key_from_evp(pkey, 0, NULL, out, err);
out:
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s: ", path);
	json_decref(doc);
	EVP_PKEY_free(pkey);
	vouch_buf_free(&file);
	return rc;
}

const char *vouch_key_id(const struct vouch_key *key)
{
	return key != NULL ? key->id : "";
}

const char *vouch_key_keytype(const struct vouch_key *key)
{
	return key->keytype;
}

const char *vouch_key_scheme(const struct vouch_key *key)
{
	return key_scheme(key);
}

enum vouch_key_type vouch_key_get_type(const struct vouch_key *key)
{
	return key->type;
}

const char *vouch_key_location(const struct vouch_key *key)
{
	return key->location;
}

int vouch_key_has_private(const struct vouch_key *key)
{
	return key->has_private;
}

int vouch_key_same_public(const struct vouch_key *a, const struct vouch_key *b)
{
	if (a == NULL || b == NULL || a->pkey == NULL || b->pkey == NULL || a->type != b->type)
		return 0;
	int eq = EVP_PKEY_eq(a->pkey, b->pkey) == 1;
	ERR_clear_error();
	return eq;
}

/* Sets RSA-PSS with MGF1-SHA256 and the given salt length on a digest
 * sign/verify context. */
static int set_pss(EVP_PKEY_CTX *pctx, int saltlen)
{
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) == 1 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
}

enum vouch_rc vouch_key_sign(const struct vouch_key *key, const void *msg, size_t len,
			     uint8_t **sig, size_t *siglen, struct vouch_err *err)
{
	static const unsigned char empty[1] = {0};
	if (msg == NULL)
		msg = empty;
	if (key->variant != VARIANT_NONE)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "key %s: scheme %s is supported for verification only",
				     key->id, key_scheme(key));
	if (key->p11 != NULL)
		return vouch_p11_sign(key->p11, key->type, msg, len, sig, siglen, err);
	if (!key->has_private)
		return vouch_err_set(err, VOUCH_E_USAGE, "key %s is a public key and cannot sign",
				     key->id);

	enum vouch_rc rc = VOUCH_OK;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = key->type == VOUCH_KEY_ED25519 ? NULL : EVP_sha256();
	if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, key->pkey) != 1 ||
	    (key->type == VOUCH_KEY_RSA && !set_pss(pctx, PSS_SALT_LEN)) ||
	    EVP_DigestSign(ctx, NULL, &n, msg, len) != 1 || n == 0 || n > VOUCH_SIG_MAX) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot sign with key %s", key->id);
		goto out;
	}
	buf = malloc(n);
	if (buf == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSign(ctx, buf, &n, msg, len) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot sign with key %s", key->id);
		goto out;
	}
	/* A key file can pair a private key with another public key (an EC
	 * PKCS#8 carries both), and the key id names the public one: check
	 * the signature with it before anyone sees it, as p11.c does. */
	if (vouch_key_verify(key, msg, len, buf, n, NULL) != VOUCH_OK) {
		rc = vouch_err_set(err, VOUCH_E_CRYPTO,
				   "key %s made a signature that its public key does not verify "
				   "(the private and public halves of the key do not match)",
				   key->id);
		goto out;
	}
	*sig = buf;
	*siglen = n;
	buf = NULL;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum vouch_rc vouch_key_verify(const struct vouch_key *key, const void *msg, size_t len,
			       const uint8_t *sig, size_t siglen, struct vouch_err *err)
{
	static const unsigned char empty[1] = {0};
	if (msg == NULL)
		msg = empty;
	/* Exact lengths where the scheme fixes them: a shortened RSA value
	 * would otherwise be read as if it had leading zeros. */
	size_t want = 0;
	if (key->type == VOUCH_KEY_ED25519)
		want = ED25519_SIG_LEN;
	else if (key->type == VOUCH_KEY_RSA)
		want = (size_t)EVP_PKEY_get_size(key->pkey);
	if (sig == NULL || siglen == 0 || siglen > VOUCH_SIG_MAX || (want != 0 && siglen != want))
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "signature of %zu bytes has the wrong length for %s key %s",
				     siglen, type_name(key->type), key->id);

	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = key->type == VOUCH_KEY_ED25519 ? NULL
			   : key->variant == VARIANT_P384 ? EVP_sha384()
							  : EVP_sha256();
	if (ctx == NULL) {
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	/* RSA: PSS, or PKCS#1 v1.5 for an rsa-pkcs1v15-sha256 key; each key
	 * has one scheme and takes no signature of the other. */
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key->pkey) != 1 ||
	    (key->type == VOUCH_KEY_RSA && key->variant != VARIANT_RSA_PKCS1 &&
	     !set_pss(pctx, RSA_PSS_SALTLEN_AUTO)) ||
	    (key->type == VOUCH_KEY_RSA && key->variant == VARIANT_RSA_PKCS1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
		EVP_MD_CTX_free(ctx);
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot verify with key %s", key->id);
	}
	ok = EVP_DigestVerify(ctx, sig, siglen, msg, len);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (ok != 1)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "signature does not verify with %s key %s",
				     type_name(key->type), key->id);
	return VOUCH_OK;
}

void vouch_key_free(struct vouch_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	vouch_p11_free(key->p11);
	free(key->public_str);
	free(key->location);
	free(key);
}
