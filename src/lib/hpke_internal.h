/* vouch — HPKE internals shared with crypt.c and the tests. Not installed.
 *
 * The deterministic entry points (ephemeral key from ikmE, direct access to
 * the key schedule) exist only for the RFC 9180 test vectors: production
 * code always encapsulates with a fresh random ephemeral key. */
#ifndef VOUCH_HPKE_INTERNAL_H
#define VOUCH_HPKE_INTERNAL_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"
#include "vouch/hpke.h"

#define VOUCH_HPKE_NSECRET 32
#define VOUCH_AEAD_NONCE_LEN 12

/* Test only: SetupBaseS with the ephemeral key pair DeriveKeyPair(ikmE). */
enum vouch_rc vouch_hpke_setup_base_s_derand(const struct vouch_hpke_suite *suite,
					     const uint8_t *pkR, size_t pkR_len,
					     const uint8_t *info, size_t info_len,
					     const uint8_t *ikmE, size_t ikmE_len, uint8_t *enc,
					     size_t *enc_len, struct vouch_hpke_ctx **ctx,
					     struct vouch_err *err) VOUCH_WUR;

/* Test only: Encap with ephemeral DeriveKeyPair(ikmE) and Decap, exposing
 * the KEM shared secret (32 bytes). */
enum vouch_rc vouch_hpke_encap_derand(uint16_t kem, const uint8_t *pkR, size_t pkR_len,
				      const uint8_t *ikmE, size_t ikmE_len,
				      uint8_t shared_secret[VOUCH_HPKE_NSECRET], uint8_t *enc,
				      size_t *enc_len, struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_hpke_decap(uint16_t kem, const uint8_t *enc, size_t enc_len, const uint8_t *skR,
			       size_t skR_len, uint8_t shared_secret[VOUCH_HPKE_NSECRET],
			       struct vouch_err *err) VOUCH_WUR;

/* Test only: the key schedule's outputs (pointers into ctx) and the next
 * sequence number. */
void vouch_hpke_ctx_peek(const struct vouch_hpke_ctx *ctx, const uint8_t **key, size_t *key_len,
			 const uint8_t **base_nonce, size_t *nonce_len,
			 const uint8_t **exporter_secret, size_t *exporter_len);
void vouch_hpke_ctx_set_seq(struct vouch_hpke_ctx *ctx, uint64_t seq);

/* Plain HKDF-SHA256 (RFC 5869) through EVP_KDF. extract: out is 32 bytes;
 * expand: info at most 1024 bytes (OpenSSL 3.0's limit). */
enum vouch_rc vouch_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
				 size_t ikm_len, uint8_t out[32], struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
				size_t info_len, uint8_t *out, size_t out_len,
				struct vouch_err *err) VOUCH_WUR;

/* An EVP_PKEY for a serialised key pair (sk may be NULL for a public key;
 * pk must be valid). NULL on failure. Caller frees. */
EVP_PKEY *vouch_hpke_pkey_new(uint16_t kem, const uint8_t *sk, const uint8_t *pk);

/* AEAD by HPKE id (not export-only): the cipher and its key length. */
const EVP_CIPHER *vouch_aead_cipher(uint16_t aead, size_t *key_len);

/* One AEAD operation with a 12-byte nonce and a 16-byte tag appended to
 * (seal) or taken from the end of (open) the ciphertext. c is an EVP
 * context that the caller may reuse: pass cipher and key the first time,
 * NULL and NULL afterwards to keep the expanded key. A failed open is
 * VOUCH_E_VERIFY and leaves pt wiped. */
enum vouch_rc vouch_aead_seal(EVP_CIPHER_CTX *c, const EVP_CIPHER *cipher, const uint8_t *key,
			      const uint8_t nonce[VOUCH_AEAD_NONCE_LEN], const uint8_t *aad,
			      size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct,
			      struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_aead_open(EVP_CIPHER_CTX *c, const EVP_CIPHER *cipher, const uint8_t *key,
			      const uint8_t nonce[VOUCH_AEAD_NONCE_LEN], const uint8_t *aad,
			      size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
			      struct vouch_err *err) VOUCH_WUR;

#endif
