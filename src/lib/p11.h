/* PKCS#11 (RFC 7512 URIs, modules loaded through p11-kit): the token side
 * of struct vouch_key. Internal to libvouch; key.c dispatches here for
 * "pkcs11:" locations. */
#ifndef VOUCH_P11_H
#define VOUCH_P11_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"
#include "vouch/key.h"

/* A private key object in a token, with the logged-in session that uses it. */
struct vouch_p11_key;

/* Opens the token named by uri (token/serial/model/manufacturer, object
 * and/or id select the key; pin-value or pin-source give the PIN, else
 * opts->secret_cb asks), logs in, finds the private key and its public
 * half. *pub gets a new reference to the public key (caller frees), *type
 * its vouch type. A wrong PIN gives VOUCH_E_AUTH. */
enum vouch_rc vouch_p11_open_key(const char *uri, const struct vouch_key_opts *opts,
				 struct vouch_p11_key **out, EVP_PKEY **pub,
				 enum vouch_key_type *type, struct vouch_err *err) VOUCH_WUR;

/* Generates a key pair inside the token (CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, CKA_TOKEN) labelled with the URI's object (and id if
 * given). Refuses if an object with that label already exists. */
enum vouch_rc vouch_p11_generate(enum vouch_key_type type, unsigned bits, const char *uri,
				 const struct vouch_key_opts *opts, struct vouch_p11_key **out,
				 EVP_PKEY **pub, struct vouch_err *err) VOUCH_WUR;

/* Signs msg through C_Sign as the TUF scheme of type requires and returns
 * the signature in TUF's encoding (ecdsa: DER; ed25519: 64 bytes; rsa-pss:
 * salt length 32). *sig is malloc'd; caller frees. */
enum vouch_rc vouch_p11_sign(struct vouch_p11_key *k, enum vouch_key_type type, const void *msg,
			     size_t len, uint8_t **sig, size_t *siglen,
			     struct vouch_err *err) VOUCH_WUR;

/* The key's URI with any pin-value removed (for logs), owned by k. */
const char *vouch_p11_location(const struct vouch_p11_key *k);

void vouch_p11_free(struct vouch_p11_key *k);

#endif
