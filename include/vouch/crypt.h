/* vouch — end-to-end encryption of releases (format "vouch-enc-v1").
 *
 * A random 256-bit content key is wrapped for each recipient with HPKE base
 * mode (RFC 9180; X25519 or P-256 device or device-group keys). The payload
 * is a STREAM of fixed-size chunks under AES-256-GCM (default) or
 * ChaCha20-Poly1305 with a key derived from the content key and a per-file
 * random salt; each chunk's nonce is its counter plus a last-chunk flag and
 * its associated data the SHA-256 of the whole header. Truncation,
 * extension, reordering, splicing chunks between files and any header edit
 * fail authentication. The byte layout is in docs/formats.md ("Encrypted
 * release"), the threat model in docs/encryption.md.
 *
 * Both directions stream with bounded memory (one chunk plus the header,
 * whatever the file size).
 *
 * IMPORTANT for consumers that act on the plaintext (the device agent):
 * vouch_decryptor_update() hands out plaintext chunk by chunk, each one
 * authenticated, but a truncated file is only detected by
 * vouch_decryptor_final(). Do not act on the result (mark a slot bootable,
 * swap a symlink, rename a file into place) before final has returned
 * VOUCH_OK and the plaintext length and SHA-256 match the signed values.
 */
#ifndef VOUCH_CRYPT_H
#define VOUCH_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"
#include "vouch/key.h"

#define VOUCH_CRYPT_MAGIC "VOUCHENC"
#define VOUCH_CRYPT_MAGIC_LEN 8
#define VOUCH_CRYPT_VERSION 1
/* Bytes before the first recipient entry; enough to learn the header size. */
#define VOUCH_CRYPT_HEADER_FIXED_LEN 90
#define VOUCH_CRYPT_MAX_RECIPIENTS 1024
/* Largest header: 1024 P-256 recipients. */
#define VOUCH_CRYPT_HEADER_MAX (VOUCH_CRYPT_HEADER_FIXED_LEN + VOUCH_CRYPT_MAX_RECIPIENTS * 147)
#define VOUCH_CRYPT_CHUNK_DEFAULT 65536u
#define VOUCH_CRYPT_CHUNK_MIN 64u
/* Bounds the reader's memory: two chunk buffers, whatever the header says. */
#define VOUCH_CRYPT_CHUNK_MAX (1024u * 1024)
#define VOUCH_CRYPT_TAG_LEN 16
#define VOUCH_CRYPT_KEY_ID_LEN 32
/* "vouch-enc-v1/chacha20-poly1305" and then some. */
#define VOUCH_CRYPT_SUITE_MAX 48
/* Largest recipient key files accepted. */
#define VOUCH_CRYPT_KEY_FILE_MAX 16384

/* Payload AEADs (HPKE AEAD ids). */
#define VOUCH_CRYPT_AES256GCM 0x0002
#define VOUCH_CRYPT_CHACHA20POLY1305 0x0003

/* ----------------------------------------------------- recipient keys */

/* An X25519 or P-256 recipient key: public only (to encrypt to) or with
 * its private half (to decrypt with). Opaque; private halves are wiped on
 * free. */
struct vouch_crypt_key;

/* "x25519" | "p256" -> HPKE KEM id; VOUCH_E_USAGE for anything else. */
enum vouch_rc vouch_crypt_kem_parse(const char *name, uint16_t *kem,
				    struct vouch_err *err) VOUCH_WUR;

/* Generates a key pair for kem (VOUCH_HPKE_KEM_*). Caller frees. */
enum vouch_rc vouch_crypt_key_generate(uint16_t kem, struct vouch_crypt_key **out,
				       struct vouch_err *err) VOUCH_WUR;

/* From RFC 9180 serialisations: sk may be NULL (public key only); pk may
 * be NULL when sk is given (it is then computed). A pk given with an sk
 * must match it. Validates the public key. */
enum vouch_rc vouch_crypt_key_from_raw(uint16_t kem, const uint8_t *sk, size_t sk_len,
				       const uint8_t *pk, size_t pk_len,
				       struct vouch_crypt_key **out,
				       struct vouch_err *err) VOUCH_WUR;

/* Loads a public key: a PEM SubjectPublicKeyInfo file (X25519 or EC
 * P-256), e.g. the PATH.pub that vouch keygen writes. */
enum vouch_rc vouch_crypt_key_load_public(const char *path, struct vouch_crypt_key **out,
					  struct vouch_err *err) VOUCH_WUR;
/* Same from PEM text in memory. */
enum vouch_rc vouch_crypt_key_parse_public(const char *pem, size_t len,
					   struct vouch_crypt_key **out,
					   struct vouch_err *err) VOUCH_WUR;

/* Loads a private key from a PKCS#8 PEM file, encrypted or not. The
 * passphrase, only asked for when the file is encrypted, comes from
 * opts->passphrase_file, else opts->secret_cb; opts may be NULL (then an
 * encrypted file fails with VOUCH_E_USAGE). A wrong passphrase is
 * VOUCH_E_AUTH. */
enum vouch_rc vouch_crypt_key_load_private(const char *path, const struct vouch_key_opts *opts,
					   struct vouch_crypt_key **out,
					   struct vouch_err *err) VOUCH_WUR;

/* Writes the private key as PKCS#8 PEM to a new file (O_EXCL, mode 0600),
 * encrypted with scrypt + AES-256-CBC (PBES2) under pass, or unencrypted
 * when pass is NULL. */
enum vouch_rc vouch_crypt_key_save_private(const struct vouch_crypt_key *key, const char *path,
					   const char *pass, size_t passlen,
					   struct vouch_err *err) VOUCH_WUR;

/* PEM SubjectPublicKeyInfo, malloc'd NUL-terminated; caller frees. */
enum vouch_rc vouch_crypt_key_public_pem(const struct vouch_crypt_key *key, char **out,
					 struct vouch_err *err) VOUCH_WUR;

uint16_t vouch_crypt_key_kem(const struct vouch_crypt_key *key);
int vouch_crypt_key_has_private(const struct vouch_crypt_key *key);
/* SHA-256 of the public key's RFC 9180 serialisation, as in the header. */
const uint8_t *vouch_crypt_key_id(const struct vouch_crypt_key *key);
/* The key id in lowercase hex (64 digits), owned by key. */
const char *vouch_crypt_key_id_hex(const struct vouch_crypt_key *key);
void vouch_crypt_key_free(struct vouch_crypt_key *key);

/* ---------------------------------------------------------- streaming */

/* Receives output bytes (header or ciphertext, or authenticated
 * plaintext). p is valid only during the call. A non-OK return stops the
 * operation and is passed back to the caller. */
typedef enum vouch_rc (*vouch_crypt_out_cb)(void *ctx, const uint8_t *p, size_t n,
					    struct vouch_err *err);

struct vouch_crypt_params {
	uint16_t payload_aead; /* VOUCH_CRYPT_AES256GCM (0 = default) or ..._CHACHA20POLY1305 */
	uint32_t chunk_size;   /* plaintext bytes per chunk; 0 = 64 KiB */
};

struct vouch_encryptor;

/* Prepares a file for recipients[0..n) (public keys; 1..1024 of them, no
 * key twice). params may be NULL for the defaults. The header is emitted
 * by the first update or final. Caller frees. */
enum vouch_rc vouch_encryptor_new(const struct vouch_crypt_key *const *recipients, size_t n,
				  const struct vouch_crypt_params *params,
				  struct vouch_encryptor **out, struct vouch_err *err) VOUCH_WUR;
/* Encrypts n plaintext bytes; complete chunks go to out_cb. */
enum vouch_rc vouch_encryptor_update(struct vouch_encryptor *e, const uint8_t *in, size_t n,
				     vouch_crypt_out_cb out_cb, void *ctx,
				     struct vouch_err *err) VOUCH_WUR;
/* Emits the last chunk (possibly empty). No update afterwards. */
enum vouch_rc vouch_encryptor_final(struct vouch_encryptor *e, vouch_crypt_out_cb out_cb, void *ctx,
				    struct vouch_err *err) VOUCH_WUR;
void vouch_encryptor_free(struct vouch_encryptor *e);

struct vouch_decryptor;

/* Prepares to decrypt with identity (a key with its private half; the
 * decryptor keeps a reference, identity must outlive it). */
enum vouch_rc vouch_decryptor_new(const struct vouch_crypt_key *identity,
				  struct vouch_decryptor **out, struct vouch_err *err) VOUCH_WUR;
/* Feeds n bytes of the file (any split). Once the header is complete it is
 * checked and the content key unwrapped: VOUCH_E_DENIED if identity is not
 * a recipient ("not a recipient ..."), VOUCH_E_FORMAT/LIMIT for a bad
 * header. Then every complete chunk is authenticated and its plaintext
 * handed to out_cb; VOUCH_E_VERIFY on any authentication failure. After an
 * error the decryptor refuses everything. */
enum vouch_rc vouch_decryptor_update(struct vouch_decryptor *d, const uint8_t *in, size_t n,
				     vouch_crypt_out_cb out_cb, void *ctx,
				     struct vouch_err *err) VOUCH_WUR;
/* Authenticates the last chunk and emits its plaintext. VOUCH_E_VERIFY if
 * the file ended early (truncated, last chunk missing) or was extended. */
enum vouch_rc vouch_decryptor_final(struct vouch_decryptor *d, vouch_crypt_out_cb out_cb, void *ctx,
				    struct vouch_err *err) VOUCH_WUR;
/* Whether the header has been read and the content key unwrapped. */
int vouch_decryptor_ready(const struct vouch_decryptor *d);
/* Authenticated plaintext bytes emitted so far. */
uint64_t vouch_decryptor_plaintext_length(const struct vouch_decryptor *d);
void vouch_decryptor_free(struct vouch_decryptor *d);

/* ------------------------------------------------------------- header */

struct vouch_crypt_header_info {
	uint8_t version;
	uint16_t wrap_kdf;     /* HPKE KDF of the key wrap */
	uint16_t wrap_aead;    /* HPKE AEAD of the key wrap */
	uint16_t payload_aead; /* VOUCH_CRYPT_AES256GCM / CHACHA20POLY1305 */
	uint32_t chunk_size;
	size_t recipients;
	size_t header_len; /* bytes of header; the payload starts here */
	char suite[VOUCH_CRYPT_SUITE_MAX];
};

/* From at least VOUCH_CRYPT_HEADER_FIXED_LEN bytes, the total header size
 * (validates the fixed part). VOUCH_E_FORMAT when fewer bytes are given. */
enum vouch_rc vouch_crypt_header_size(const uint8_t *buf, size_t len, size_t *size,
				      struct vouch_err *err) VOUCH_WUR;
/* Parses and validates a whole header at the start of buf (trailing bytes
 * are the payload and are ignored). */
enum vouch_rc vouch_crypt_header_parse(const uint8_t *buf, size_t len,
				       struct vouch_crypt_header_info *info,
				       struct vouch_err *err) VOUCH_WUR;
/* VOUCH_OK when identity is a recipient of the header at the start of buf
 * (its entry exists and opens), VOUCH_E_DENIED when it is not ("not a
 * recipient: ..."), VOUCH_E_VERIFY when its entry does not open, or the
 * header's parse error. Lets the agent refuse before downloading. */
enum vouch_rc vouch_crypt_header_check_recipient(const uint8_t *buf, size_t len,
						 const struct vouch_crypt_key *identity,
						 struct vouch_err *err) VOUCH_WUR;

/* "vouch-enc-v1/aes-256-gcm" or "vouch-enc-v1/chacha20-poly1305" (NULL
 * for an unknown id): the suite recorded in custom.vouch. */
const char *vouch_crypt_suite_name(uint16_t payload_aead);

/* ---------------------------------------------------- whole files / fds */

struct vouch_crypt_result {
	uint64_t plaintext_length;
	uint8_t plaintext_sha256[32];
	uint64_t ciphertext_length;
	uint8_t ciphertext_sha256[32];
	char suite[VOUCH_CRYPT_SUITE_MAX];
};

/* Encrypts everything readable from in_fd to out_fd (constant memory).
 * res (may be NULL) receives lengths, SHA-256s and the suite: what
 * `vouch repo add --encrypt-to` records in custom.vouch. */
enum vouch_rc vouch_crypt_encrypt_fd(int in_fd, int out_fd,
				     const struct vouch_crypt_key *const *recipients, size_t n,
				     const struct vouch_crypt_params *params,
				     struct vouch_crypt_result *res,
				     struct vouch_err *err) VOUCH_WUR;

/* Decrypts in_fd to out_fd. Plaintext reaches out_fd as it authenticates;
 * on failure out_fd has received a prefix of it and the caller must
 * discard it (the file variant does). res may be NULL. */
enum vouch_rc vouch_crypt_decrypt_fd(int in_fd, int out_fd, const struct vouch_crypt_key *identity,
				     struct vouch_crypt_result *res,
				     struct vouch_err *err) VOUCH_WUR;

/* File variants: out_path is written to a temporary file in its directory,
 * fsynced and renamed over out_path only when everything succeeded (for
 * decryption: after the last chunk authenticated); on failure out_path is
 * untouched and the temporary file removed. The temporary file is unnamed
 * (O_TMPFILE, given a name just before the rename) where the file system
 * allows, so a kill, crash or power cut leaves no partial output either. */
enum vouch_rc vouch_crypt_encrypt_file(const char *in_path, const char *out_path,
				       const struct vouch_crypt_key *const *recipients, size_t n,
				       const struct vouch_crypt_params *params,
				       struct vouch_crypt_result *res,
				       struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_crypt_decrypt_file(const char *in_path, const char *out_path,
				       const struct vouch_crypt_key *identity,
				       struct vouch_crypt_result *res,
				       struct vouch_err *err) VOUCH_WUR;

#endif
