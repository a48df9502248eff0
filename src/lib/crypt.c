/* Encrypted releases, format vouch-enc-v1 (docs/formats.md, "Encrypted
 * release"): HPKE-wrapped content key per recipient, then a STREAM of
 * AEAD chunks bound to the header. */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt_internal.h"
#include "fault.h"
#include "hpke_internal.h"
#include "key_internal.h"
#include "vouch/buf.h"
#include "vouch/crypt.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/hpke.h"

#define CONTENT_KEY_LEN 32
#define SALT_LEN 32
#define COMMIT_LEN 32
#define SEALED_LEN (CONTENT_KEY_LEN + VOUCH_CRYPT_TAG_LEN)
/* The key wrap: HPKE with HKDF-SHA256 and AES-256-GCM, the KEM per
 * recipient. */
#define WRAP_KDF VOUCH_HPKE_KDF_HKDF_SHA256
#define WRAP_AEAD VOUCH_HPKE_AEAD_AES256GCM
#define INFO_WRAP "vouch-enc-v1 content key"
#define INFO_PAYLOAD "vouch-enc-v1 payload key"
#define INFO_COMMIT "vouch-enc-v1 key commitment"
/* Offsets of the fixed header part. */
#define OFF_VERSION 8
#define OFF_FLAGS 9
#define OFF_KDF 10
#define OFF_WRAP_AEAD 12
#define OFF_PAYLOAD_AEAD 14
#define OFF_CHUNK 16
#define OFF_HEADER_LEN 20
#define OFF_SALT 24
#define OFF_COMMIT 56
#define OFF_COUNT 88
/* Read and write size of the fd helpers. */
#define IO_BUF (256 * 1024)

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

const char *vouch_crypt_suite_name(uint16_t payload_aead)
{
	switch (payload_aead) {
	case VOUCH_CRYPT_AES256GCM:
		return "vouch-enc-v1/aes-256-gcm";
	case VOUCH_CRYPT_CHACHA20POLY1305:
		return "vouch-enc-v1/chacha20-poly1305";
	default:
		return NULL;
	}
}

/* ------------------------------------------------------------------ keys */

struct vouch_crypt_key {
	uint16_t kem;
	uint8_t pk[VOUCH_HPKE_MAX_PUBLIC];
	size_t pk_len;
	uint8_t sk[VOUCH_HPKE_MAX_PRIVATE];
	size_t sk_len; /* 0: public key only */
	uint8_t id[VOUCH_CRYPT_KEY_ID_LEN];
	char id_hex[2 * VOUCH_CRYPT_KEY_ID_LEN + 1];
};

enum vouch_rc vouch_crypt_kem_parse(const char *name, uint16_t *kem, struct vouch_err *err)
{
	if (strcmp(name, "x25519") == 0)
		*kem = VOUCH_HPKE_KEM_X25519_SHA256;
	else if (strcmp(name, "p256") == 0)
		*kem = VOUCH_HPKE_KEM_P256_SHA256;
	else
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "unknown recipient key type '%s' (x25519 or p256)", name);
	return VOUCH_OK;
}

void vouch_crypt_key_free(struct vouch_crypt_key *key)
{
	if (key != NULL)
		OPENSSL_clear_free(key, sizeof(*key));
}

enum vouch_rc vouch_crypt_key_from_raw(uint16_t kem, const uint8_t *sk, size_t sk_len,
				       const uint8_t *pk, size_t pk_len,
				       struct vouch_crypt_key **out, struct vouch_err *err)
{
	enum vouch_rc rc;
	struct vouch_crypt_key *k = OPENSSL_zalloc(sizeof(*k));
	if (k == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	k->kem = kem;
	if (sk != NULL) {
		rc = vouch_hpke_public_from_private(kem, sk, sk_len, k->pk, &k->pk_len, err);
		if (rc != VOUCH_OK)
			goto fail;
		if (pk != NULL && (pk_len != k->pk_len || memcmp(pk, k->pk, pk_len) != 0)) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "public key does not match the private key");
			goto fail;
		}
		memcpy(k->sk, sk, sk_len);
		k->sk_len = sk_len;
	} else {
		if (pk == NULL) {
			rc = vouch_err_set(err, VOUCH_E_INTERNAL, "no key given");
			goto fail;
		}
		rc = vouch_hpke_public_check(kem, pk, pk_len, err);
		if (rc != VOUCH_OK)
			goto fail;
		memcpy(k->pk, pk, pk_len);
		k->pk_len = pk_len;
	}
	vouch_sha256(k->pk, k->pk_len, k->id);
	vouch_hex_encode(k->id, sizeof(k->id), k->id_hex);
	*out = k;
	return VOUCH_OK;
fail:
	vouch_crypt_key_free(k);
	return rc;
}

enum vouch_rc vouch_crypt_key_generate(uint16_t kem, struct vouch_crypt_key **out,
				       struct vouch_err *err)
{
	uint8_t sk[VOUCH_HPKE_MAX_PRIVATE], pk[VOUCH_HPKE_MAX_PUBLIC];
	size_t sk_len = 0, pk_len = 0;
	enum vouch_rc rc = vouch_hpke_generate_keypair(kem, sk, &sk_len, pk, &pk_len, err);
	if (rc == VOUCH_OK)
		rc = vouch_crypt_key_from_raw(kem, sk, sk_len, pk, pk_len, out, err);
	OPENSSL_cleanse(sk, sizeof(sk));
	return rc;
}

uint16_t vouch_crypt_key_kem(const struct vouch_crypt_key *key)
{
	return key->kem;
}

int vouch_crypt_key_has_private(const struct vouch_crypt_key *key)
{
	return key->sk_len > 0;
}

const uint8_t *vouch_crypt_key_id(const struct vouch_crypt_key *key)
{
	return key->id;
}

const char *vouch_crypt_key_id_hex(const struct vouch_crypt_key *key)
{
	return key->id_hex;
}

void vouch_crypt_key_raw(const struct vouch_crypt_key *key, const uint8_t **pk, size_t *pk_len,
			 const uint8_t **sk, size_t *sk_len)
{
	*pk = key->pk;
	*pk_len = key->pk_len;
	*sk = key->sk;
	*sk_len = key->sk_len;
}

/* The RFC 9180 serialisations of an OpenSSL key (X25519 or EC P-256). */
static enum vouch_rc key_from_pkey(EVP_PKEY *pkey, int want_private, struct vouch_crypt_key **out,
				   struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	uint8_t sk[32], pk[65];
	size_t sk_len = 0, pk_len = 0;
	uint16_t kem;
	BIGNUM *d = NULL, *x = NULL, *y = NULL;
	char group[64];

	if (EVP_PKEY_is_a(pkey, "X25519")) {
		kem = VOUCH_HPKE_KEM_X25519_SHA256;
		sk_len = sizeof(sk);
		pk_len = sizeof(pk);
		if (want_private ? EVP_PKEY_get_raw_private_key(pkey, sk, &sk_len) != 1
				 : EVP_PKEY_get_raw_public_key(pkey, pk, &pk_len) != 1) {
			rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "unreadable X25519 key");
			goto out;
		}
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		kem = VOUCH_HPKE_KEM_P256_SHA256;
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			rc = vouch_err_set(err, VOUCH_E_UNSUPPORTED,
					   "EC key is not on P-256 (only x25519 and p256 "
					   "recipient keys are supported)");
			goto out;
		}
		if (want_private) {
			if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
			    BN_bn2binpad(d, sk, 32) != 32) {
				rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "unreadable P-256 key");
				goto out;
			}
			sk_len = 32;
		} else {
			/* From the affine coordinates: the SPKI may hold a
			 * compressed point, RFC 9180 wants uncompressed. */
			if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
			    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
			    BN_bn2binpad(x, pk + 1, 32) != 32 ||
			    BN_bn2binpad(y, pk + 33, 32) != 32) {
				rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "unreadable P-256 key");
				goto out;
			}
			pk[0] = 0x04;
			pk_len = 65;
		}
	} else {
		rc = vouch_err_set(
		    err, VOUCH_E_UNSUPPORTED, "not an x25519 or p256 recipient key (an %s key)",
		    EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown");
		goto out;
	}
	if (want_private)
		rc = vouch_crypt_key_from_raw(kem, sk, sk_len, NULL, 0, out, err);
	else
		rc = vouch_crypt_key_from_raw(kem, NULL, 0, pk, pk_len, out, err);
out:
	OPENSSL_cleanse(sk, sizeof(sk));
	BN_clear_free(d);
	BN_free(x);
	BN_free(y);
	return rc;
}

enum vouch_rc vouch_crypt_key_parse_public(const char *pem, size_t len,
					   struct vouch_crypt_key **out, struct vouch_err *err)
{
	if (len > VOUCH_CRYPT_KEY_FILE_MAX || len > INT_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "public key larger than %d bytes",
				     VOUCH_CRYPT_KEY_FILE_MAX);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return vouch_err_openssl(err, VOUCH_E_FORMAT,
					 "not a PEM public key (SubjectPublicKeyInfo)");
	enum vouch_rc rc = key_from_pkey(pkey, 0, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

enum vouch_rc vouch_crypt_key_load_public(const char *path, struct vouch_crypt_key **out,
					  struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_file_read(path, VOUCH_CRYPT_KEY_FILE_MAX, &b, err);
	if (rc == VOUCH_OK)
		rc = vouch_crypt_key_parse_public((const char *)b.data, b.len, out, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s: ", path);
	vouch_buf_free(&b);
	return rc;
}

struct pass_ctx {
	const struct vouch_key_opts *opts;
	const char *path;
	struct vouch_err *err;
	enum vouch_rc rc;
	int asked;
};

static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pass_ctx *pc = u;
	(void)rwflag;
	pc->asked = 1;
	if (size <= 1)
		return -1;
	if (pc->opts != NULL && pc->opts->passphrase_file != NULL) {
		size_t n = 0;
		pc->rc = vouch_key_read_passphrase_file(pc->opts->passphrase_file, buf,
							(size_t)size, &n, pc->err);
		return pc->rc == VOUCH_OK ? (int)n : -1;
	}
	if (pc->opts != NULL && pc->opts->secret_cb != NULL) {
		char what[512];
		size_t n = 0;
		snprintf(what, sizeof(what), "passphrase for %s", pc->path);
		pc->rc = pc->opts->secret_cb(pc->opts->secret_ctx, what, 0, buf, (size_t)size, &n,
					     pc->err);
		return pc->rc == VOUCH_OK ? (int)n : -1;
	}
	pc->rc = vouch_err_set(pc->err, VOUCH_E_USAGE,
			       "%s is encrypted and no passphrase was given (--passphrase-file)",
			       pc->path);
	return -1;
}

enum vouch_rc vouch_crypt_key_load_private(const char *path, const struct vouch_key_opts *opts,
					   struct vouch_crypt_key **out, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	struct pass_ctx pc = {opts, path, err, VOUCH_OK, 0};
	enum vouch_rc rc = vouch_file_read(path, VOUCH_CRYPT_KEY_FILE_MAX, &b, err);
	if (rc != VOUCH_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_pass_cb, &pc);
	if (pkey == NULL) {
		if (pc.rc != VOUCH_OK) {
			ERR_clear_error();
			rc = pc.rc;
		} else if (pc.asked) {
			ERR_clear_error();
			rc = vouch_err_set(err, VOUCH_E_AUTH, "%s: wrong passphrase", path);
		} else {
			rc = vouch_err_openssl(err, VOUCH_E_FORMAT,
					       "%s: not a PEM private key (PKCS#8)", path);
		}
		goto out;
	}
	rc = key_from_pkey(pkey, 1, out, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s: ", path);
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	vouch_buf_free_secret(&b);
	return rc;
}

/* PEM text of a memory BIO, copied out; the BIO's copy is wiped. */
static enum vouch_rc bio_take(BIO *bio, struct vouch_buf *out, struct vouch_err *err)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	enum vouch_rc rc = VOUCH_OK;
	if (n <= 0 || data == NULL)
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "PEM encoding failed");
	rc = vouch_buf_append(out, data, (size_t)n, err);
	OPENSSL_cleanse(data, (size_t)n);
	return rc;
}

enum vouch_rc vouch_crypt_key_save_private(const struct vouch_crypt_key *key, const char *path,
					   const char *pass, size_t passlen, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *enc = NULL;
	struct vouch_buf pem = {0};

	if (key->sk_len == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "no private key to save");
	if (passlen > INT_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "passphrase too long");
	if ((pkey = vouch_hpke_pkey_new(key->kem, key->sk, key->pk)) == NULL ||
	    (bio = BIO_new(BIO_s_secmem())) == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the private key");
		goto out;
	}
	if (pass == NULL) {
		if (PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "PKCS#8 encoding failed");
			goto out;
		}
	} else {
		/* PBES2 with scrypt (N=2^14, r=8, p=1: 16 MiB, within
		 * OpenSSL's default scrypt memory limit for reading it back)
		 * and AES-256-CBC: the same protection as the signing keys. */
		if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL ||
		    (pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 16, NULL, 1 << 14, 8,
						 1)) == NULL ||
		    (enc = PKCS8_set0_pbe(pass, (int)passlen, p8, pbe)) == NULL) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "PKCS#8 encryption failed");
			goto out;
		}
		pbe = NULL; /* owned by enc */
		if (PEM_write_bio_PKCS8(bio, enc) != 1) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "PEM encoding failed");
			goto out;
		}
	}
	rc = bio_take(bio, &pem, err);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_new(path, pem.data, pem.len, 0600, err);
out:
	vouch_buf_free_secret(&pem);
	X509_SIG_free(enc);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rc;
}

enum vouch_rc vouch_crypt_key_public_pem(const struct vouch_crypt_key *key, char **out,
					 struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct vouch_buf pem = {0};
	EVP_PKEY *pkey = vouch_hpke_pkey_new(key->kem, NULL, key->pk);
	BIO *bio = BIO_new(BIO_s_mem());
	if (pkey == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1)
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot encode the public key");
	if (rc == VOUCH_OK)
		rc = bio_take(bio, &pem, err);
	if (rc == VOUCH_OK)
		*out = (char *)vouch_buf_steal(&pem);
	vouch_buf_free(&pem);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rc;
}

/* ---------------------------------------------------------------- header */

struct hdr {
	uint16_t payload_aead;
	uint32_t chunk;
	size_t len;
	size_t count;
	const uint8_t *salt;
	const uint8_t *commit;
};

/* The fixed part: everything but the recipient entries. */
static enum vouch_rc parse_fixed(const uint8_t *b, size_t len, struct hdr *h, struct vouch_err *err)
{
	if (len < VOUCH_CRYPT_HEADER_FIXED_LEN)
		return vouch_err_set(err, VOUCH_E_FORMAT, "encrypted file: header truncated");
	if (memcmp(b, VOUCH_CRYPT_MAGIC, VOUCH_CRYPT_MAGIC_LEN) != 0)
		return vouch_err_set(err, VOUCH_E_FORMAT, "not a vouch encrypted file (bad magic)");
	if (b[OFF_VERSION] != VOUCH_CRYPT_VERSION)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "encrypted file: format version %u not supported",
				     b[OFF_VERSION]);
	if (b[OFF_FLAGS] != 0)
		return vouch_err_set(err, VOUCH_E_FORMAT, "encrypted file: unknown flags 0x%02x",
				     b[OFF_FLAGS]);
	if (get16(b + OFF_KDF) != WRAP_KDF || get16(b + OFF_WRAP_AEAD) != WRAP_AEAD)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "encrypted file: key wrap KDF 0x%04x / AEAD 0x%04x not "
				     "supported",
				     get16(b + OFF_KDF), get16(b + OFF_WRAP_AEAD));
	h->payload_aead = get16(b + OFF_PAYLOAD_AEAD);
	if (vouch_crypt_suite_name(h->payload_aead) == NULL)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "encrypted file: payload AEAD 0x%04x not supported",
				     h->payload_aead);
	h->chunk = get32(b + OFF_CHUNK);
	if (h->chunk < VOUCH_CRYPT_CHUNK_MIN || h->chunk > VOUCH_CRYPT_CHUNK_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "encrypted file: chunk size %u outside %u..%u", h->chunk,
				     VOUCH_CRYPT_CHUNK_MIN, VOUCH_CRYPT_CHUNK_MAX);
	h->len = get32(b + OFF_HEADER_LEN);
	if (h->len > VOUCH_CRYPT_HEADER_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "encrypted file: header of %zu bytes exceeds the limit %d",
				     h->len, VOUCH_CRYPT_HEADER_MAX);
	h->salt = b + OFF_SALT;
	h->commit = b + OFF_COMMIT;
	h->count = get16(b + OFF_COUNT);
	if (h->count == 0)
		return vouch_err_set(err, VOUCH_E_FORMAT, "encrypted file: no recipients");
	if (h->count > VOUCH_CRYPT_MAX_RECIPIENTS)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "encrypted file: %zu recipients exceed the limit %d", h->count,
				     VOUCH_CRYPT_MAX_RECIPIENTS);
	/* Smallest entries are X25519 ones. */
	if (h->len < VOUCH_CRYPT_HEADER_FIXED_LEN + h->count * (2 + 32 + 32 + SEALED_LEN))
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "encrypted file: header length %zu too small for %zu "
				     "recipients",
				     h->len, h->count);
	return VOUCH_OK;
}

struct entry {
	uint16_t kem;
	const uint8_t *key_id;
	const uint8_t *enc;
	size_t enc_len;
	const uint8_t *sealed;
};

/* Reads entry i's fields at *off (bounded by h->len); advances *off. */
static enum vouch_rc next_entry(const uint8_t *b, const struct hdr *h, size_t *off, struct entry *e,
				struct vouch_err *err)
{
	size_t left = h->len - *off;
	if (left < 2)
		goto trunc;
	e->kem = get16(b + *off);
	e->enc_len = vouch_hpke_kem_enc_len(e->kem);
	if (e->enc_len == 0)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "encrypted file: recipient KEM 0x%04x not supported", e->kem);
	if (left < 2 + VOUCH_CRYPT_KEY_ID_LEN + e->enc_len + SEALED_LEN)
		goto trunc;
	e->key_id = b + *off + 2;
	e->enc = e->key_id + VOUCH_CRYPT_KEY_ID_LEN;
	e->sealed = e->enc + e->enc_len;
	*off += 2 + VOUCH_CRYPT_KEY_ID_LEN + e->enc_len + SEALED_LEN;
	return VOUCH_OK;
trunc:
	return vouch_err_set(err, VOUCH_E_FORMAT,
			     "encrypted file: recipient entries overrun the header length");
}

/* Whole header in b[0..len): fixed part, every entry, exact length, no
 * key id twice. */
static enum vouch_rc parse_header(const uint8_t *b, size_t len, struct hdr *h,
				  struct vouch_err *err)
{
	enum vouch_rc rc = parse_fixed(b, len, h, err);
	if (rc != VOUCH_OK)
		return rc;
	if (len < h->len)
		return vouch_err_set(err, VOUCH_E_FORMAT, "encrypted file: header truncated");
	size_t off = VOUCH_CRYPT_HEADER_FIXED_LEN;
	for (size_t i = 0; i < h->count; i++) {
		struct entry e;
		rc = next_entry(b, h, &off, &e, err);
		if (rc != VOUCH_OK)
			return rc;
	}
	if (off != h->len)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "encrypted file: %zu stray bytes after the recipient entries",
				     h->len - off);
	/* Duplicate key ids: a well-formed file never has them. */
	off = VOUCH_CRYPT_HEADER_FIXED_LEN;
	for (size_t i = 0; i < h->count; i++) {
		struct entry a;
		rc = next_entry(b, h, &off, &a, err);
		if (rc != VOUCH_OK)
			return rc;
		size_t off2 = off;
		for (size_t j = i + 1; j < h->count; j++) {
			struct entry c;
			rc = next_entry(b, h, &off2, &c, err);
			if (rc != VOUCH_OK)
				return rc;
			if (memcmp(a.key_id, c.key_id, VOUCH_CRYPT_KEY_ID_LEN) == 0)
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "encrypted file: recipient %zu listed twice",
						     i + 1);
		}
	}
	return VOUCH_OK;
}

enum vouch_rc vouch_crypt_header_size(const uint8_t *buf, size_t len, size_t *size,
				      struct vouch_err *err)
{
	struct hdr h;
	enum vouch_rc rc = parse_fixed(buf, len, &h, err);
	if (rc == VOUCH_OK)
		*size = h.len;
	return rc;
}

enum vouch_rc vouch_crypt_header_parse(const uint8_t *buf, size_t len,
				       struct vouch_crypt_header_info *info, struct vouch_err *err)
{
	struct hdr h;
	enum vouch_rc rc = parse_header(buf, len, &h, err);
	if (rc != VOUCH_OK)
		return rc;
	memset(info, 0, sizeof(*info));
	info->version = buf[OFF_VERSION];
	info->wrap_kdf = get16(buf + OFF_KDF);
	info->wrap_aead = get16(buf + OFF_WRAP_AEAD);
	info->payload_aead = h.payload_aead;
	info->chunk_size = h.chunk;
	info->recipients = h.count;
	info->header_len = h.len;
	snprintf(info->suite, sizeof(info->suite), "%s", vouch_crypt_suite_name(h.payload_aead));
	return VOUCH_OK;
}

/* payload key and key commitment from the content key and the salt. */
static enum vouch_rc derive_keys(const uint8_t ck[CONTENT_KEY_LEN], const uint8_t salt[SALT_LEN],
				 uint16_t aead, uint32_t chunk, uint8_t pkey[32],
				 uint8_t commit[COMMIT_LEN], struct vouch_err *err)
{
	uint8_t prk[32];
	uint8_t info[sizeof(INFO_PAYLOAD) - 1 + 6];
	memcpy(info, INFO_PAYLOAD, sizeof(INFO_PAYLOAD) - 1);
	put16(info + sizeof(INFO_PAYLOAD) - 1, aead);
	put32(info + sizeof(INFO_PAYLOAD) + 1, chunk);
	enum vouch_rc rc = vouch_hkdf_extract(salt, SALT_LEN, ck, CONTENT_KEY_LEN, prk, err);
	if (rc == VOUCH_OK)
		rc = vouch_hkdf_expand(prk, sizeof(prk), info, sizeof(info), pkey, 32, err);
	if (rc == VOUCH_OK)
		rc = vouch_hkdf_expand(prk, sizeof(prk), (const uint8_t *)INFO_COMMIT,
				       sizeof(INFO_COMMIT) - 1, commit, COMMIT_LEN, err);
	OPENSSL_cleanse(prk, sizeof(prk));
	return rc;
}

/* HPKE info of the key wrap: a label and the fixed header part, so a
 * wrapped key opens only under this file's parameters and salt. */
static void wrap_info(const uint8_t *hdr,
		      uint8_t info[sizeof(INFO_WRAP) - 1 + VOUCH_CRYPT_HEADER_FIXED_LEN])
{
	memcpy(info, INFO_WRAP, sizeof(INFO_WRAP) - 1);
	memcpy(info + sizeof(INFO_WRAP) - 1, hdr, VOUCH_CRYPT_HEADER_FIXED_LEN);
}

#define WRAP_INFO_LEN (sizeof(INFO_WRAP) - 1 + VOUCH_CRYPT_HEADER_FIXED_LEN)

/* Finds identity's entry and unwraps the content key: VOUCH_E_DENIED when
 * there is none, VOUCH_E_VERIFY when it does not open or the key
 * commitment differs. */
static enum vouch_rc unwrap(const uint8_t *b, const struct hdr *h, const struct vouch_crypt_key *id,
			    uint8_t pkey[32], struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	uint8_t info[WRAP_INFO_LEN];
	uint8_t ck[CONTENT_KEY_LEN], commit[COMMIT_LEN];
	size_t off = VOUCH_CRYPT_HEADER_FIXED_LEN;
	int found = 0;
	if (id->sk_len == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "decryption needs a private key");
	wrap_info(b, info);
	for (size_t i = 0; i < h->count; i++) {
		struct entry e;
		rc = next_entry(b, h, &off, &e, err);
		if (rc != VOUCH_OK)
			return rc;
		if (e.kem != id->kem || memcmp(e.key_id, id->id, VOUCH_CRYPT_KEY_ID_LEN) != 0)
			continue;
		found = 1;
		struct vouch_hpke_suite s = {e.kem, WRAP_KDF, WRAP_AEAD};
		uint8_t aad[2 + VOUCH_CRYPT_KEY_ID_LEN];
		put16(aad, e.kem);
		memcpy(aad + 2, e.key_id, VOUCH_CRYPT_KEY_ID_LEN);
		rc = vouch_hpke_open_base(&s, e.enc, e.enc_len, id->sk, id->sk_len, info,
					  sizeof(info), aad, sizeof(aad), e.sealed, SEALED_LEN, ck,
					  err);
		if (rc != VOUCH_OK)
			continue;
		rc = derive_keys(ck, h->salt, h->payload_aead, h->chunk, pkey, commit, err);
		OPENSSL_cleanse(ck, sizeof(ck));
		if (rc != VOUCH_OK)
			return rc;
		if (CRYPTO_memcmp(commit, h->commit, COMMIT_LEN) != 0) {
			OPENSSL_cleanse(pkey, 32);
			rc = vouch_err_set(err, VOUCH_E_VERIFY,
					   "encrypted file: key commitment does not match "
					   "(tampered header)");
			continue;
		}
		return VOUCH_OK;
	}
	if (!found)
		return vouch_err_set(err, VOUCH_E_DENIED,
				     "not a recipient: the file is encrypted to %zu key%s, none "
				     "of them %s key %.16s",
				     h->count, h->count == 1 ? "" : "s",
				     vouch_hpke_kem_name(id->kem), id->id_hex);
	if (rc == VOUCH_E_VERIFY || rc == VOUCH_E_FORMAT)
		vouch_err_prefix(
		    err, "encrypted file: the entry for key %.16s does not open: ", id->id_hex);
	return rc == VOUCH_E_FORMAT ? VOUCH_E_VERIFY : rc;
}

enum vouch_rc vouch_crypt_header_check_recipient(const uint8_t *buf, size_t len,
						 const struct vouch_crypt_key *identity,
						 struct vouch_err *err)
{
	struct hdr h;
	uint8_t pkey[32];
	enum vouch_rc rc = parse_header(buf, len, &h, err);
	if (rc == VOUCH_OK)
		rc = unwrap(buf, &h, identity, pkey, err);
	OPENSSL_cleanse(pkey, sizeof(pkey));
	return rc;
}

/* ---------------------------------------------------------- payload STREAM */

/* nonce = 11-byte big-endian chunk counter || last-chunk flag. */
static void chunk_nonce(uint64_t counter, int last, uint8_t nonce[VOUCH_AEAD_NONCE_LEN])
{
	memset(nonce, 0, VOUCH_AEAD_NONCE_LEN);
	for (size_t i = 0; i < 8; i++)
		nonce[10 - i] = (uint8_t)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

struct stream {
	EVP_CIPHER_CTX *c;
	const EVP_CIPHER *cipher; /* until the key is set, then NULL */
	uint8_t key[32];
	uint8_t aad[32]; /* sha256 of the header */
	uint32_t chunk;
	uint64_t counter;
	uint8_t *buf; /* chunk + tag bytes */
	size_t buf_len;
	uint8_t *out;	 /* chunk + tag bytes */
	int state;	 /* 0 header, 1 payload, 2 done, -1 failed */
	int auth_failed; /* the last stream_open failed to authenticate */
};

static enum vouch_rc stream_init(struct stream *s, uint16_t aead, uint32_t chunk,
				 struct vouch_err *err)
{
	size_t nk = 0;
	s->cipher = vouch_aead_cipher(aead, &nk);
	s->chunk = chunk;
	s->c = EVP_CIPHER_CTX_new();
	s->buf = OPENSSL_malloc((size_t)chunk + VOUCH_CRYPT_TAG_LEN);
	s->out = OPENSSL_malloc((size_t)chunk + VOUCH_CRYPT_TAG_LEN);
	if (s->cipher == NULL || nk != 32)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "bad payload AEAD");
	if (s->c == NULL || s->buf == NULL || s->out == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

static void stream_free(struct stream *s)
{
	size_t n = (size_t)s->chunk + VOUCH_CRYPT_TAG_LEN;
	EVP_CIPHER_CTX_free(s->c);
	if (s->buf != NULL)
		OPENSSL_clear_free(s->buf, n);
	if (s->out != NULL)
		OPENSSL_clear_free(s->out, n);
	OPENSSL_cleanse(s->key, sizeof(s->key));
}

static enum vouch_rc stream_seal(struct stream *s, const uint8_t *pt, size_t n, int last,
				 vouch_crypt_out_cb cb, void *ctx, struct vouch_err *err)
{
	uint8_t nonce[VOUCH_AEAD_NONCE_LEN];
	if (s->counter == UINT64_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "encrypted file: too many chunks");
	chunk_nonce(s->counter, last, nonce);
	enum vouch_rc rc = vouch_aead_seal(s->c, s->cipher, s->cipher ? s->key : NULL, nonce,
					   s->aad, sizeof(s->aad), pt, n, s->out, err);
	if (s->cipher != NULL && rc == VOUCH_OK) {
		/* The key is expanded inside c from now on. */
		s->cipher = NULL;
	}
	if (rc != VOUCH_OK)
		return rc;
	s->counter++;
	return cb(ctx, s->out, n + VOUCH_CRYPT_TAG_LEN, err);
}

static enum vouch_rc stream_open(struct stream *s, const uint8_t *ct, size_t n, int last,
				 uint64_t *emitted, vouch_crypt_out_cb cb, void *ctx,
				 struct vouch_err *err)
{
	uint8_t nonce[VOUCH_AEAD_NONCE_LEN];
	if (s->counter == UINT64_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "encrypted file: too many chunks");
	chunk_nonce(s->counter, last, nonce);
	enum vouch_rc rc = vouch_aead_open(s->c, s->cipher, s->cipher ? s->key : NULL, nonce,
					   s->aad, sizeof(s->aad), ct, n, s->out, err);
	if (rc == VOUCH_OK && s->cipher != NULL)
		s->cipher = NULL;
	s->auth_failed = rc == VOUCH_E_VERIFY;
	if (rc == VOUCH_E_VERIFY)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "encrypted file: chunk %llu does not authenticate (corrupted, "
				     "truncated, reordered or spliced)",
				     (unsigned long long)s->counter);
	if (rc != VOUCH_OK)
		return rc;
	s->counter++;
	*emitted += n - VOUCH_CRYPT_TAG_LEN;
	return cb(ctx, s->out, n - VOUCH_CRYPT_TAG_LEN, err);
}

/* ------------------------------------------------------------- encryptor */

struct vouch_encryptor {
	struct stream s;
	uint8_t *hdr;
	size_t hdr_len;
	int hdr_sent;
};

void vouch_encryptor_free(struct vouch_encryptor *e)
{
	if (e == NULL)
		return;
	stream_free(&e->s);
	OPENSSL_free(e->hdr);
	OPENSSL_free(e);
}

enum vouch_rc vouch_encryptor_new(const struct vouch_crypt_key *const *recipients, size_t n,
				  const struct vouch_crypt_params *params,
				  struct vouch_encryptor **out, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	uint8_t ck[CONTENT_KEY_LEN], commit[COMMIT_LEN], info[WRAP_INFO_LEN];
	uint16_t aead = VOUCH_CRYPT_AES256GCM;
	uint32_t chunk = VOUCH_CRYPT_CHUNK_DEFAULT;
	size_t len = VOUCH_CRYPT_HEADER_FIXED_LEN;
	size_t off = VOUCH_CRYPT_HEADER_FIXED_LEN;
	struct vouch_encryptor *e = NULL;

	if (params != NULL && params->payload_aead != 0)
		aead = params->payload_aead;
	if (params != NULL && params->chunk_size != 0)
		chunk = params->chunk_size;
	if (vouch_crypt_suite_name(aead) == NULL)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "payload AEAD 0x%04x not supported",
				     aead);
	if (chunk < VOUCH_CRYPT_CHUNK_MIN || chunk > VOUCH_CRYPT_CHUNK_MAX)
		return vouch_err_set(err, VOUCH_E_USAGE, "chunk size %u outside %u..%u", chunk,
				     VOUCH_CRYPT_CHUNK_MIN, VOUCH_CRYPT_CHUNK_MAX);
	if (n == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "no recipients");
	if (n > VOUCH_CRYPT_MAX_RECIPIENTS)
		return vouch_err_set(err, VOUCH_E_LIMIT, "%zu recipients exceed the limit %d", n,
				     VOUCH_CRYPT_MAX_RECIPIENTS);
	for (size_t i = 0; i < n; i++) {
		len += 2 + VOUCH_CRYPT_KEY_ID_LEN + vouch_hpke_kem_enc_len(recipients[i]->kem) +
		       SEALED_LEN;
		for (size_t j = 0; j < i; j++) {
			if (memcmp(recipients[i]->id, recipients[j]->id, VOUCH_CRYPT_KEY_ID_LEN) ==
			    0)
				return vouch_err_set(err, VOUCH_E_USAGE,
						     "recipient key %.16s given twice",
						     recipients[i]->id_hex);
		}
	}
	if ((e = OPENSSL_zalloc(sizeof(*e))) == NULL || (e->hdr = OPENSSL_malloc(len)) == NULL) {
		OPENSSL_free(e);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	e->hdr_len = len;
	rc = stream_init(&e->s, aead, chunk, err);
	if (rc != VOUCH_OK)
		goto out;
	if (RAND_priv_bytes(ck, sizeof(ck)) != 1 || RAND_bytes(e->hdr + OFF_SALT, SALT_LEN) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "random bytes unavailable");
		goto out;
	}
	rc = derive_keys(ck, e->hdr + OFF_SALT, aead, chunk, e->s.key, commit, err);
	if (rc != VOUCH_OK)
		goto out;
	memcpy(e->hdr, VOUCH_CRYPT_MAGIC, VOUCH_CRYPT_MAGIC_LEN);
	e->hdr[OFF_VERSION] = VOUCH_CRYPT_VERSION;
	e->hdr[OFF_FLAGS] = 0;
	put16(e->hdr + OFF_KDF, WRAP_KDF);
	put16(e->hdr + OFF_WRAP_AEAD, WRAP_AEAD);
	put16(e->hdr + OFF_PAYLOAD_AEAD, aead);
	put32(e->hdr + OFF_CHUNK, chunk);
	put32(e->hdr + OFF_HEADER_LEN, (uint32_t)len);
	memcpy(e->hdr + OFF_COMMIT, commit, COMMIT_LEN);
	put16(e->hdr + OFF_COUNT, (uint16_t)n);
	wrap_info(e->hdr, info);
	for (size_t i = 0; i < n; i++) {
		const struct vouch_crypt_key *r = recipients[i];
		struct vouch_hpke_suite s = {r->kem, WRAP_KDF, WRAP_AEAD};
		uint8_t *p = e->hdr + off;
		size_t enc_len = 0;
		put16(p, r->kem);
		memcpy(p + 2, r->id, VOUCH_CRYPT_KEY_ID_LEN);
		rc = vouch_hpke_seal_base(
		    &s, r->pk, r->pk_len, info, sizeof(info), p, 2 + VOUCH_CRYPT_KEY_ID_LEN, ck,
		    sizeof(ck), p + 2 + VOUCH_CRYPT_KEY_ID_LEN, &enc_len,
		    p + 2 + VOUCH_CRYPT_KEY_ID_LEN + vouch_hpke_kem_enc_len(r->kem), err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "recipient %zu: ", i + 1);
			goto out;
		}
		off += 2 + VOUCH_CRYPT_KEY_ID_LEN + enc_len + SEALED_LEN;
	}
	vouch_sha256(e->hdr, len, e->s.aad);
	e->s.state = 1;
out:
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(commit, sizeof(commit));
	if (rc != VOUCH_OK) {
		vouch_encryptor_free(e);
		return rc;
	}
	*out = e;
	return VOUCH_OK;
}

static enum vouch_rc enc_header(struct vouch_encryptor *e, vouch_crypt_out_cb cb, void *ctx,
				struct vouch_err *err)
{
	if (e->s.state != 1)
		return vouch_err_set(err, VOUCH_E_USAGE, "encryptor already finished or failed");
	if (e->hdr_sent)
		return VOUCH_OK;
	e->hdr_sent = 1;
	return cb(ctx, e->hdr, e->hdr_len, err);
}

enum vouch_rc vouch_encryptor_update(struct vouch_encryptor *e, const uint8_t *in, size_t n,
				     vouch_crypt_out_cb out_cb, void *ctx, struct vouch_err *err)
{
	struct stream *s = &e->s;
	enum vouch_rc rc = enc_header(e, out_cb, ctx, err);
	while (rc == VOUCH_OK && n > 0) {
		/* A full chunk is never the last one: the last chunk holds
		 * 0..chunk-1 bytes, so seal as soon as a chunk is full. */
		if (s->buf_len == 0 && n >= s->chunk) {
			rc = stream_seal(s, in, s->chunk, 0, out_cb, ctx, err);
			in += s->chunk;
			n -= s->chunk;
			continue;
		}
		size_t take = s->chunk - s->buf_len;
		if (take > n)
			take = n;
		memcpy(s->buf + s->buf_len, in, take);
		s->buf_len += take;
		in += take;
		n -= take;
		if (s->buf_len == s->chunk) {
			rc = stream_seal(s, s->buf, s->chunk, 0, out_cb, ctx, err);
			s->buf_len = 0;
		}
	}
	if (rc != VOUCH_OK)
		s->state = -1;
	return rc;
}

enum vouch_rc vouch_encryptor_final(struct vouch_encryptor *e, vouch_crypt_out_cb out_cb, void *ctx,
				    struct vouch_err *err)
{
	struct stream *s = &e->s;
	enum vouch_rc rc = enc_header(e, out_cb, ctx, err);
	if (rc == VOUCH_OK)
		rc = stream_seal(s, s->buf, s->buf_len, 1, out_cb, ctx, err);
	OPENSSL_cleanse(s->buf, s->buf_len);
	s->buf_len = 0;
	s->state = rc == VOUCH_OK ? 2 : -1;
	return rc;
}

/* ------------------------------------------------------------- decryptor */

struct vouch_decryptor {
	struct stream s;
	const struct vouch_crypt_key *id;
	uint8_t *hdr;
	size_t hdr_have, hdr_need;
	uint64_t emitted;
};

void vouch_decryptor_free(struct vouch_decryptor *d)
{
	if (d == NULL)
		return;
	stream_free(&d->s);
	OPENSSL_free(d->hdr);
	OPENSSL_free(d);
}

enum vouch_rc vouch_decryptor_new(const struct vouch_crypt_key *identity,
				  struct vouch_decryptor **out, struct vouch_err *err)
{
	if (identity->sk_len == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "decryption needs a private key");
	struct vouch_decryptor *d = OPENSSL_zalloc(sizeof(*d));
	if (d == NULL || (d->hdr = OPENSSL_malloc(VOUCH_CRYPT_HEADER_FIXED_LEN)) == NULL) {
		OPENSSL_free(d);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	d->id = identity;
	d->hdr_need = VOUCH_CRYPT_HEADER_FIXED_LEN;
	*out = d;
	return VOUCH_OK;
}

int vouch_decryptor_ready(const struct vouch_decryptor *d)
{
	return d->s.state >= 1;
}

uint64_t vouch_decryptor_plaintext_length(const struct vouch_decryptor *d)
{
	return d->emitted;
}

/* Takes header bytes from *in; once complete, parses and unwraps. */
static enum vouch_rc dec_header(struct vouch_decryptor *d, const uint8_t **in, size_t *n,
				struct vouch_err *err)
{
	struct hdr h;
	enum vouch_rc rc;
	while (*n > 0) {
		size_t take = d->hdr_need - d->hdr_have;
		if (take > *n)
			take = *n;
		memcpy(d->hdr + d->hdr_have, *in, take);
		d->hdr_have += take;
		*in += take;
		*n -= take;
		if (d->hdr_have < d->hdr_need)
			return VOUCH_OK;
		if (d->hdr_need == VOUCH_CRYPT_HEADER_FIXED_LEN) {
			rc = parse_fixed(d->hdr, d->hdr_have, &h, err);
			if (rc != VOUCH_OK)
				return rc;
			uint8_t *grown = OPENSSL_realloc(d->hdr, h.len);
			if (grown == NULL)
				return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			d->hdr = grown;
			d->hdr_need = h.len;
			if (d->hdr_have < d->hdr_need)
				continue;
		}
		rc = parse_header(d->hdr, d->hdr_have, &h, err);
		if (rc == VOUCH_OK)
			rc = stream_init(&d->s, h.payload_aead, h.chunk, err);
		if (rc == VOUCH_OK)
			rc = unwrap(d->hdr, &h, d->id, d->s.key, err);
		if (rc != VOUCH_OK)
			return rc;
		vouch_sha256(d->hdr, h.len, d->s.aad);
		d->s.state = 1;
		return VOUCH_OK;
	}
	return VOUCH_OK;
}

enum vouch_rc vouch_decryptor_update(struct vouch_decryptor *d, const uint8_t *in, size_t n,
				     vouch_crypt_out_cb out_cb, void *ctx, struct vouch_err *err)
{
	struct stream *s = &d->s;
	enum vouch_rc rc = VOUCH_OK;
	size_t full = (size_t)s->chunk + VOUCH_CRYPT_TAG_LEN;
	if (s->state < 0 || s->state > 1)
		return vouch_err_set(err, VOUCH_E_USAGE, "decryptor already finished or failed");
	if (s->state == 0) {
		rc = dec_header(d, &in, &n, err);
		if (rc != VOUCH_OK)
			goto out;
		full = (size_t)s->chunk + VOUCH_CRYPT_TAG_LEN;
	}
	while (n > 0) {
		/* A full-size chunk is never the last one (the last holds less
		 * than a chunk of plaintext), so it can be opened at once. */
		if (s->buf_len == 0 && n >= full) {
			rc = stream_open(s, in, full, 0, &d->emitted, out_cb, ctx, err);
			if (rc != VOUCH_OK)
				goto out;
			in += full;
			n -= full;
			continue;
		}
		size_t take = full - s->buf_len;
		if (take > n)
			take = n;
		memcpy(s->buf + s->buf_len, in, take);
		s->buf_len += take;
		in += take;
		n -= take;
		if (s->buf_len == full) {
			rc = stream_open(s, s->buf, full, 0, &d->emitted, out_cb, ctx, err);
			s->buf_len = 0;
			if (rc != VOUCH_OK)
				goto out;
		}
	}
out:
	if (rc != VOUCH_OK)
		s->state = -1;
	return rc;
}

enum vouch_rc vouch_decryptor_final(struct vouch_decryptor *d, vouch_crypt_out_cb out_cb, void *ctx,
				    struct vouch_err *err)
{
	struct stream *s = &d->s;
	enum vouch_rc rc;
	if (s->state < 0 || s->state > 1)
		return vouch_err_set(err, VOUCH_E_USAGE, "decryptor already finished or failed");
	if (s->state == 0) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   d->hdr_have == 0 ? "encrypted file: empty"
						    : "encrypted file: header truncated");
	} else if (s->buf_len < VOUCH_CRYPT_TAG_LEN) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "encrypted file: truncated (the last chunk is missing)");
	} else {
		rc = stream_open(s, s->buf, s->buf_len, 1, &d->emitted, out_cb, ctx, err);
		/* Only the AEAD's own failure is relabelled; an error of the
		 * output callback keeps its message. */
		if (rc == VOUCH_E_VERIFY && s->auth_failed)
			vouch_err_set(err, VOUCH_E_VERIFY,
				      "encrypted file: the last chunk does not authenticate "
				      "(truncated, extended or corrupted)");
	}
	s->buf_len = 0;
	s->state = rc == VOUCH_OK ? 2 : -1;
	return rc;
}

/* -------------------------------------------------------- fds and files */

struct fd_sink {
	int fd;
	struct vouch_hasher *h; /* may be NULL */
	uint64_t n;
};

static enum vouch_rc fd_write(void *ctx, const uint8_t *p, size_t n, struct vouch_err *err)
{
	struct fd_sink *s = ctx;
	if (s->h != NULL) {
		enum vouch_rc rc = vouch_hasher_update(s->h, p, n, err);
		if (rc != VOUCH_OK)
			return rc;
	}
	s->n += n;
	while (n > 0) {
		ssize_t w = vouch_fault_write(s->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return vouch_err_set(err, VOUCH_E_IO, "write: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return VOUCH_OK;
}

static ssize_t read_some(int fd, uint8_t *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

static void fill_result(struct vouch_crypt_result *res, struct vouch_hasher *hp,
			struct vouch_hasher *hc, uint16_t aead, struct vouch_err *err,
			enum vouch_rc *rc)
{
	struct vouch_digests dp, dc;
	if (*rc != VOUCH_OK || res == NULL)
		return;
	*rc = vouch_hasher_final(hp, &dp, err);
	if (*rc == VOUCH_OK)
		*rc = vouch_hasher_final(hc, &dc, err);
	if (*rc != VOUCH_OK)
		return;
	res->plaintext_length = dp.length;
	memcpy(res->plaintext_sha256, dp.sha256, 32);
	res->ciphertext_length = dc.length;
	memcpy(res->ciphertext_sha256, dc.sha256, 32);
	snprintf(res->suite, sizeof(res->suite), "%s", vouch_crypt_suite_name(aead));
}

/* Reads in_fd to its end through exactly one of e (encrypting) or d
 * (decrypting) into sink; in_hash (may be NULL) hashes the input bytes.
 * The read buffer is wiped: when encrypting it holds plaintext. */
static enum vouch_rc pump(int in_fd, struct vouch_encryptor *e, struct vouch_decryptor *d,
			  struct vouch_hasher *in_hash, struct fd_sink *sink, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	uint8_t *buf = malloc(IO_BUF);
	if (buf == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	while (rc == VOUCH_OK) {
		ssize_t r = read_some(in_fd, buf, IO_BUF);
		if (r < 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "read: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			rc = e ? vouch_encryptor_final(e, fd_write, sink, err)
			       : vouch_decryptor_final(d, fd_write, sink, err);
			break;
		}
		if (in_hash != NULL)
			rc = vouch_hasher_update(in_hash, buf, (size_t)r, err);
		if (rc == VOUCH_OK)
			rc = e ? vouch_encryptor_update(e, buf, (size_t)r, fd_write, sink, err)
			       : vouch_decryptor_update(d, buf, (size_t)r, fd_write, sink, err);
	}
	OPENSSL_clear_free(buf, IO_BUF);
	return rc;
}

enum vouch_rc vouch_crypt_encrypt_fd(int in_fd, int out_fd,
				     const struct vouch_crypt_key *const *recipients, size_t n,
				     const struct vouch_crypt_params *params,
				     struct vouch_crypt_result *res, struct vouch_err *err)
{
	struct vouch_encryptor *e = NULL;
	struct vouch_hasher *hp = NULL;
	struct fd_sink sink = {out_fd, NULL, 0};
	uint16_t aead =
	    params && params->payload_aead ? params->payload_aead : VOUCH_CRYPT_AES256GCM;
	enum vouch_rc rc = vouch_encryptor_new(recipients, n, params, &e, err);
	if (rc == VOUCH_OK && res != NULL) {
		rc = vouch_hasher_new(VOUCH_HASH_SHA256, &hp, err);
		if (rc == VOUCH_OK)
			rc = vouch_hasher_new(VOUCH_HASH_SHA256, &sink.h, err);
	}
	if (rc == VOUCH_OK)
		rc = pump(in_fd, e, NULL, hp, &sink, err);
	fill_result(res, hp, sink.h, aead, err, &rc);
	vouch_hasher_free(hp);
	vouch_hasher_free(sink.h);
	vouch_encryptor_free(e);
	return rc;
}

enum vouch_rc vouch_crypt_decrypt_fd(int in_fd, int out_fd, const struct vouch_crypt_key *identity,
				     struct vouch_crypt_result *res, struct vouch_err *err)
{
	struct vouch_decryptor *d = NULL;
	struct vouch_hasher *hc = NULL;
	struct fd_sink sink = {out_fd, NULL, 0};
	uint16_t aead = 0;
	enum vouch_rc rc = vouch_decryptor_new(identity, &d, err);
	if (rc == VOUCH_OK && res != NULL) {
		rc = vouch_hasher_new(VOUCH_HASH_SHA256, &hc, err);
		if (rc == VOUCH_OK)
			rc = vouch_hasher_new(VOUCH_HASH_SHA256, &sink.h, err);
	}
	if (rc == VOUCH_OK)
		rc = pump(in_fd, NULL, d, hc, &sink, err);
	if (d != NULL && vouch_decryptor_ready(d))
		aead = get16(d->hdr + OFF_PAYLOAD_AEAD);
	fill_result(res, sink.h, hc, aead, err, &rc);
	vouch_hasher_free(hc);
	vouch_hasher_free(sink.h);
	vouch_decryptor_free(d);
	return rc;
}

/* The output file under construction. It is an unnamed file (O_TMPFILE) in
 * the target's directory whenever the system has them, so that a kill, a
 * crash or a power cut in the middle leaves no partial output (for
 * decryption: no plaintext) on disk; it gets a name only once complete,
 * just before the rename. Elsewhere it is a named temporary file, removed
 * on every failure the process survives. */
struct tmp_out {
	int fd;
	int anon; /* 1: unnamed until tmp_commit links it at name */
	char name[PATH_MAX];
};

static enum vouch_rc tmp_open(const char *path, mode_t mode, struct tmp_out *t,
			      struct vouch_err *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	t->fd = -1;
	t->anon = 0;
	if (snprintf(t->name, sizeof(t->name), "%s.tmp.XXXXXX", path) >= (int)sizeof(t->name))
		return vouch_err_set(err, VOUCH_E_IO, "%s: path too long", path);
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
#ifdef O_TMPFILE
	/* Naming it later goes through /proc/self/fd. */
	if (access("/proc/self/fd", X_OK) == 0) {
		t->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
		t->anon = t->fd >= 0;
	}
#endif
	if (t->fd < 0) {
		t->fd = mkstemp(t->name);
		if (t->fd < 0)
			return vouch_err_set(err, VOUCH_E_IO, "%s: cannot create: %s", t->name,
					     strerror(errno));
	}
	if (fchmod(t->fd, mode) != 0) {
		int e = errno;
		close(t->fd);
		t->fd = -1;
		if (!t->anon)
			unlink(t->name);
		return vouch_err_set(err, VOUCH_E_IO, "%s: chmod: %s", t->name, strerror(e));
	}
	return VOUCH_OK;
}

/* Gives the unnamed file a fresh name: t->name's template with a random
 * suffix. */
static enum vouch_rc tmp_link(struct tmp_out *t, struct vouch_err *err)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";
	char proc[64];
	size_t n = strlen(t->name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
	for (int attempt = 0; attempt < 100; attempt++) {
		uint8_t r[6];
		if (RAND_bytes(r, sizeof(r)) != 1)
			return vouch_err_openssl(err, VOUCH_E_CRYPTO, "random bytes unavailable");
		for (size_t i = 0; i < 6; i++)
			t->name[n - 6 + i] = digits[r[i] % (sizeof(digits) - 1)];
		if (linkat(AT_FDCWD, proc, AT_FDCWD, t->name, AT_SYMLINK_FOLLOW) == 0) {
			t->anon = 0;
			return VOUCH_OK;
		}
		if (errno != EEXIST)
			return vouch_err_set(err, VOUCH_E_IO, "%s: link: %s", t->name,
					     strerror(errno));
	}
	return vouch_err_set(err, VOUCH_E_IO, "%s: no free temporary name", t->name);
}

static enum vouch_rc tmp_commit(struct tmp_out *t, const char *path, enum vouch_rc rc,
				struct vouch_err *err)
{
	if (rc == VOUCH_OK && vouch_fault_fsync(t->fd) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", t->name, strerror(errno));
	if (rc == VOUCH_OK && t->anon)
		rc = tmp_link(t, err);
	if (close(t->fd) != 0 && rc == VOUCH_OK)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: close: %s", t->name, strerror(errno));
	t->fd = -1;
	if (rc == VOUCH_OK && vouch_fault_rename(t->name, path) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: rename: %s", path, strerror(errno));
	if (rc != VOUCH_OK) {
		if (!t->anon)
			unlink(t->name);
		return rc;
	}
	return vouch_fsync_dir_of(path, err);
}

static enum vouch_rc open_in(const char *path, int *fd, struct vouch_err *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO, "%s: %s",
				     path, strerror(errno));
	return VOUCH_OK;
}

enum vouch_rc vouch_crypt_encrypt_file(const char *in_path, const char *out_path,
				       const struct vouch_crypt_key *const *recipients, size_t n,
				       const struct vouch_crypt_params *params,
				       struct vouch_crypt_result *res, struct vouch_err *err)
{
	struct tmp_out t;
	int in = -1;
	enum vouch_rc rc = open_in(in_path, &in, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = tmp_open(out_path, 0644, &t, err);
	if (rc == VOUCH_OK) {
		rc = vouch_crypt_encrypt_fd(in, t.fd, recipients, n, params, res, err);
		if (rc == VOUCH_E_IO)
			vouch_err_prefix(err, "%s -> %s: ", in_path, out_path);
		rc = tmp_commit(&t, out_path, rc, err);
	}
	close(in);
	return rc;
}

enum vouch_rc vouch_crypt_decrypt_file(const char *in_path, const char *out_path,
				       const struct vouch_crypt_key *identity,
				       struct vouch_crypt_result *res, struct vouch_err *err)
{
	struct tmp_out t;
	int in = -1;
	enum vouch_rc rc = open_in(in_path, &in, err);
	if (rc != VOUCH_OK)
		return rc;
	/* Plaintext of a confidential release: owner-only until the caller
	 * decides otherwise, and unnamed until it has all authenticated. */
	rc = tmp_open(out_path, 0600, &t, err);
	if (rc == VOUCH_OK) {
		rc = vouch_crypt_decrypt_fd(in, t.fd, identity, res, err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "%s: ", in_path);
		rc = tmp_commit(&t, out_path, rc, err);
	}
	close(in);
	return rc;
}
