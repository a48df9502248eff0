/* vouch — HPKE base mode (RFC 9180) on OpenSSL 3.0 primitives.
 *
 * OpenSSL 3.0 has no HPKE API, so the scheme is built here from EVP:
 * X25519 and P-256 ECDH (EVP_PKEY_derive), HKDF-SHA256 (EVP_KDF "HKDF" in
 * EXTRACT_ONLY / EXPAND_ONLY modes for LabeledExtract / LabeledExpand) and
 * the AEADs AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.
 *
 * Supported: KEMs DHKEM(X25519, HKDF-SHA256) 0x0020 and DHKEM(P-256,
 * HKDF-SHA256) 0x0010; KDF HKDF-SHA256 0x0001; AEADs 0x0001, 0x0002,
 * 0x0003 and export-only 0xFFFF. Mode base (0) only: no PSK, no sender
 * authentication — the sender of a vouch release is authenticated by the
 * TUF signature over the ciphertext instead.
 *
 * Keys are handled in their RFC 9180 serialisations: X25519 private and
 * public keys are 32 raw bytes; P-256 private keys are the 32-byte
 * big-endian scalar and public keys the 65-byte uncompressed point.
 * Every secret this module holds is wiped (OPENSSL_cleanse) before its
 * memory is released.
 */
#ifndef VOUCH_HPKE_H
#define VOUCH_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"

#define VOUCH_HPKE_KEM_P256_SHA256 0x0010
#define VOUCH_HPKE_KEM_X25519_SHA256 0x0020
#define VOUCH_HPKE_KDF_HKDF_SHA256 0x0001
#define VOUCH_HPKE_AEAD_AES128GCM 0x0001
#define VOUCH_HPKE_AEAD_AES256GCM 0x0002
#define VOUCH_HPKE_AEAD_CHACHA20POLY1305 0x0003
#define VOUCH_HPKE_AEAD_EXPORT_ONLY 0xFFFF

/* Largest serialisations of any supported KEM (P-256 public keys). */
#define VOUCH_HPKE_MAX_PUBLIC 65
#define VOUCH_HPKE_MAX_ENC 65
#define VOUCH_HPKE_MAX_PRIVATE 32
/* The AEAD tag every supported AEAD appends. */
#define VOUCH_HPKE_TAG_LEN 16
/* Bounds on caller-supplied strings (info, aad, exporter context). */
#define VOUCH_HPKE_MAX_INFO 512
#define VOUCH_HPKE_MAX_EXPORT_CONTEXT 512

struct vouch_hpke_suite {
	uint16_t kem;
	uint16_t kdf;
	uint16_t aead;
};

/* An HPKE encryption context (sender or recipient). Opaque. */
struct vouch_hpke_ctx;

/* VOUCH_OK when the suite is supported, else VOUCH_E_UNSUPPORTED. */
enum vouch_rc vouch_hpke_suite_check(const struct vouch_hpke_suite *suite,
				     struct vouch_err *err) VOUCH_WUR;

/* Sizes for a KEM id (0 when unsupported): Nenc, Npk, Nsk. */
size_t vouch_hpke_kem_enc_len(uint16_t kem);
size_t vouch_hpke_kem_public_len(uint16_t kem);
size_t vouch_hpke_kem_private_len(uint16_t kem);
/* "x25519" / "p256" (NULL when unsupported). */
const char *vouch_hpke_kem_name(uint16_t kem);

/* DeriveKeyPair (RFC 9180 §7.1.3): sk and pk are written in their
 * serialisations; *sk_len and *pk_len receive their lengths. sk must have
 * VOUCH_HPKE_MAX_PRIVATE bytes and pk VOUCH_HPKE_MAX_PUBLIC. ikm must be at
 * least 32 bytes. The caller wipes sk. */
enum vouch_rc vouch_hpke_derive_keypair(uint16_t kem, const uint8_t *ikm, size_t ikm_len,
					uint8_t *sk, size_t *sk_len, uint8_t *pk, size_t *pk_len,
					struct vouch_err *err) VOUCH_WUR;

/* GenerateKeyPair: DeriveKeyPair over 32 fresh random bytes. */
enum vouch_rc vouch_hpke_generate_keypair(uint16_t kem, uint8_t *sk, size_t *sk_len, uint8_t *pk,
					  size_t *pk_len, struct vouch_err *err) VOUCH_WUR;

/* The public key of a serialised private key (validates the private key). */
enum vouch_rc vouch_hpke_public_from_private(uint16_t kem, const uint8_t *sk, size_t sk_len,
					     uint8_t *pk, size_t *pk_len,
					     struct vouch_err *err) VOUCH_WUR;

/* Checks a serialised public key: right length, P-256 point on the curve
 * and not the point at infinity. VOUCH_E_FORMAT when invalid. */
enum vouch_rc vouch_hpke_public_check(uint16_t kem, const uint8_t *pk, size_t pk_len,
				      struct vouch_err *err) VOUCH_WUR;

/* SetupBaseS: encapsulates a fresh shared secret to pkR. enc receives Nenc
 * bytes (buffer of VOUCH_HPKE_MAX_ENC). On success *ctx is the caller's
 * (vouch_hpke_ctx_free). */
enum vouch_rc vouch_hpke_setup_base_s(const struct vouch_hpke_suite *suite, const uint8_t *pkR,
				      size_t pkR_len, const uint8_t *info, size_t info_len,
				      uint8_t *enc, size_t *enc_len, struct vouch_hpke_ctx **ctx,
				      struct vouch_err *err) VOUCH_WUR;

/* SetupBaseR: decapsulates enc with the recipient's private key skR. */
enum vouch_rc vouch_hpke_setup_base_r(const struct vouch_hpke_suite *suite, const uint8_t *enc,
				      size_t enc_len, const uint8_t *skR, size_t skR_len,
				      const uint8_t *info, size_t info_len,
				      struct vouch_hpke_ctx **ctx, struct vouch_err *err) VOUCH_WUR;

/* Seal with the next sequence number: ct receives pt_len + 16 bytes. */
enum vouch_rc vouch_hpke_seal(struct vouch_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			      const uint8_t *pt, size_t pt_len, uint8_t *ct,
			      struct vouch_err *err) VOUCH_WUR;

/* Open with the next sequence number: pt receives ct_len - 16 bytes. A
 * failed open is VOUCH_E_VERIFY and does not advance the sequence number. */
enum vouch_rc vouch_hpke_open(struct vouch_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			      const uint8_t *ct, size_t ct_len, uint8_t *pt,
			      struct vouch_err *err) VOUCH_WUR;

/* Secret export: out receives out_len (<= 255*32) bytes. */
enum vouch_rc vouch_hpke_export(const struct vouch_hpke_ctx *ctx, const uint8_t *exporter_context,
				size_t context_len, uint8_t *out, size_t out_len,
				struct vouch_err *err) VOUCH_WUR;

/* Wipes and frees (NULL is fine). */
void vouch_hpke_ctx_free(struct vouch_hpke_ctx *ctx);

/* Single-shot: SetupBaseS + one Seal. enc as above; ct gets pt_len + 16. */
enum vouch_rc vouch_hpke_seal_base(const struct vouch_hpke_suite *suite, const uint8_t *pkR,
				   size_t pkR_len, const uint8_t *info, size_t info_len,
				   const uint8_t *aad, size_t aad_len, const uint8_t *pt,
				   size_t pt_len, uint8_t *enc, size_t *enc_len, uint8_t *ct,
				   struct vouch_err *err) VOUCH_WUR;

/* Single-shot: SetupBaseR + one Open; pt gets ct_len - 16 bytes. */
enum vouch_rc vouch_hpke_open_base(const struct vouch_hpke_suite *suite, const uint8_t *enc,
				   size_t enc_len, const uint8_t *skR, size_t skR_len,
				   const uint8_t *info, size_t info_len, const uint8_t *aad,
				   size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
				   struct vouch_err *err) VOUCH_WUR;

#endif
