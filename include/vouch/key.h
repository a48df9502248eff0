/* vouch — signing keys: ed25519, ecdsa-sha2-nistp256, rsassa-pss-sha256,
 * held in files (PKCS#8 PEM, passphrase-encrypted with scrypt) or in a
 * PKCS#11 token addressed by an RFC 7512 URI. Public keys in TUF's
 * encodings; TUF key ids. Public keys read from TUF (vouch_key_from_tuf)
 * may also be rsa-pkcs1v15-sha256 (type VOUCH_KEY_RSA) or
 * ecdsa-sha2-nistp384 (type VOUCH_KEY_ECDSA_P256, see vouch_key_scheme):
 * verification only, vouch_key_sign refuses them. */
#ifndef VOUCH_KEY_H
#define VOUCH_KEY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"

enum vouch_key_type {
	VOUCH_KEY_ED25519 = 1,
	VOUCH_KEY_ECDSA_P256 = 2, /* TUF keytype "ecdsa", scheme "ecdsa-sha2-nistp256" */
	VOUCH_KEY_RSA = 3,	  /* TUF keytype "rsa", scheme "rsassa-pss-sha256" */
};

/* Hex TUF key id: sha256 of the canonical JSON of {keytype, scheme, keyval}. */
#define VOUCH_KEYID_HEX_LEN 64
/* Largest signature any supported key makes (RSA 8192). */
#define VOUCH_SIG_MAX 1024
/* Largest public key document accepted (PEM of RSA 8192 and then some). */
#define VOUCH_KEY_PUBLIC_MAX 4096
/* Largest private key file accepted. */
#define VOUCH_KEY_PRIVATE_MAX 16384

struct vouch_key;

/* Asks for a secret (passphrase or PIN). Writes at most cap-1 bytes and a
 * NUL into buf, sets *len. `what` describes it for a prompt ("passphrase
 * for key.pem", "PIN for token 'vouch'"); confirm != 0 asks twice (new
 * secrets). Returns VOUCH_OK or an error (no terminal: VOUCH_E_USAGE). */
typedef enum vouch_rc (*vouch_secret_cb)(void *ctx, const char *what, int confirm, char *buf,
					 size_t cap, size_t *len, struct vouch_err *err);

/* How private keys are reached. All fields optional. */
struct vouch_key_opts {
	/* File holding the passphrase (first line, without newline). */
	const char *passphrase_file;
	/* PKCS#11 module (.so); else $VOUCH_PKCS11_MODULE, else p11-kit's
	 * default module list. */
	const char *pkcs11_module;
	/* Asks for passphrases and PINs not given otherwise; NULL fails. */
	vouch_secret_cb secret_cb;
	void *secret_ctx;
};

/* "ed25519" | "ecdsa" | "rsa3072" | "rsa4096" -> type and bits. */
enum vouch_rc vouch_key_type_parse(const char *name, enum vouch_key_type *type, unsigned *bits,
				   struct vouch_err *err) VOUCH_WUR;

/* Generates a key pair in memory. bits only for RSA (3072 or 4096). */
enum vouch_rc vouch_key_generate(enum vouch_key_type type, unsigned bits, struct vouch_key **out,
				 struct vouch_err *err) VOUCH_WUR;

/* Generates a key pair inside a PKCS#11 token (private key sensitive and not
 * extractable) at uri (token and object label required). */
enum vouch_rc vouch_key_generate_pkcs11(enum vouch_key_type type, unsigned bits, const char *uri,
					const struct vouch_key_opts *opts, struct vouch_key **out,
					struct vouch_err *err) VOUCH_WUR;

/* Writes the private key as PKCS#8 PEM to a new file (O_EXCL, 0600),
 * encrypted with scrypt + AES-256 under pass (passlen bytes), or
 * unencrypted when pass is NULL. */
enum vouch_rc vouch_key_save_private(const struct vouch_key *key, const char *path,
				     const char *pass, size_t passlen,
				     struct vouch_err *err) VOUCH_WUR;

/* Public key as PEM SubjectPublicKeyInfo, malloc'd NUL-terminated string. */
enum vouch_rc vouch_key_public_pem(const struct vouch_key *key, char **out,
				   struct vouch_err *err) VOUCH_WUR;

/* Loads a private key from a file path or a "pkcs11:" URI. */
enum vouch_rc vouch_key_load_private(const char *path_or_uri, const struct vouch_key_opts *opts,
				     struct vouch_key **out, struct vouch_err *err) VOUCH_WUR;

/* Loads a public key: a PEM SubjectPublicKeyInfo file, or a TUF public-key
 * JSON file ({keytype, scheme, keyval}). */
enum vouch_rc vouch_key_load_public(const char *path, struct vouch_key **out,
				    struct vouch_err *err) VOUCH_WUR;

/* Parses a TUF public-key object. Unknown keytype/scheme combinations give
 * VOUCH_E_UNSUPPORTED; a malformed key VOUCH_E_FORMAT. */
enum vouch_rc vouch_key_from_tuf(const json_t *obj, struct vouch_key **out,
				 struct vouch_err *err) VOUCH_WUR;

/* TUF public-key object {keytype, scheme, keyval: {public}}; new reference. */
enum vouch_rc vouch_key_to_tuf(const struct vouch_key *key, json_t **out,
			       struct vouch_err *err) VOUCH_WUR;

/* The TUF key id (64 lowercase hex digits), owned by key. */
const char *vouch_key_id(const struct vouch_key *key);
/* TUF keytype and scheme strings, owned by the library. */
const char *vouch_key_keytype(const struct vouch_key *key);
const char *vouch_key_scheme(const struct vouch_key *key);
enum vouch_key_type vouch_key_get_type(const struct vouch_key *key);
/* Where the private key lives: "file:PATH" or the PKCS#11 URI without any
 * PIN; "" for a public key. Owned by key. */
const char *vouch_key_location(const struct vouch_key *key);
int vouch_key_has_private(const struct vouch_key *key);

/* Signs msg (the scheme hashes it as TUF says: ed25519 over the bytes,
 * ecdsa and rsa-pss over their SHA-256). *sig is malloc'd, caller frees. */
enum vouch_rc vouch_key_sign(const struct vouch_key *key, const void *msg, size_t len,
			     uint8_t **sig, size_t *siglen, struct vouch_err *err) VOUCH_WUR;

/* VOUCH_OK when sig is a valid signature by key over msg, else
 * VOUCH_E_VERIFY (never anything else for a bad signature). */
enum vouch_rc vouch_key_verify(const struct vouch_key *key, const void *msg, size_t len,
			       const uint8_t *sig, size_t siglen, struct vouch_err *err) VOUCH_WUR;

void vouch_key_free(struct vouch_key *key);

#endif
