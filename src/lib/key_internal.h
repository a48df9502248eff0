/* Internal to libvouch (and its tests and CLI): building a struct
 * vouch_key from an OpenSSL key, and reading passphrase files. */
#ifndef VOUCH_KEY_INTERNAL_H
#define VOUCH_KEY_INTERNAL_H

#include <openssl/evp.h>
#include <stddef.h>

#include "vouch/error.h"
#include "vouch/key.h"

/* Largest passphrase accepted (bytes, without the NUL). */
#define VOUCH_KEY_PASS_MAX 1023

/* Scrypt parameters of new encrypted private keys (see docs/keys.md for
 * why N is 2^14: OpenSSL 3.0 caps scrypt memory at 32 MiB, which
 * N = 2^15 with r = 8 exceeds, so such keys could not be read back). */
#define VOUCH_KEY_SCRYPT_N 16384u
#define VOUCH_KEY_SCRYPT_R 8u
#define VOUCH_KEY_SCRYPT_P 1u

/* Wraps pkey (ed25519, P-256 or RSA 2048..8192; is_private says whether
 * it holds the private key and may sign). On success *out holds a new
 * reference to pkey (the caller keeps its own); location may be NULL
 * (public key) or e.g. "file:PATH". Other types or sizes:
 * VOUCH_E_UNSUPPORTED. */
enum vouch_rc vouch_key_from_evp(EVP_PKEY *pkey, int is_private, const char *location,
				 struct vouch_key **out, struct vouch_err *err) VOUCH_WUR;

/* 1 when a and b hold the same public key, else 0. TUF key ids are over
 * the key's spelling (keytype "ecdsa" or "ecdsa-sha2-nistp256", a PEM with
 * or without its final newline), so one key can have several ids: a
 * threshold counts distinct keys with this, not with their ids. */
int vouch_key_same_public(const struct vouch_key *a, const struct vouch_key *b);

/* Reads the first line of a passphrase file (without its line ending)
 * into buf (NUL-terminated, at most cap-1 bytes). An empty passphrase is
 * VOUCH_E_USAGE. On failure buf is wiped. */
enum vouch_rc vouch_key_read_passphrase_file(const char *path, char *buf, size_t cap, size_t *len,
					     struct vouch_err *err) VOUCH_WUR;

#endif
