/* vouch — crypt internals for test tools. Not installed. */
#ifndef VOUCH_CRYPT_INTERNAL_H
#define VOUCH_CRYPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/crypt.h"

/* The RFC 9180 serialisations held by key (pointers into key; *sk_len is 0
 * for a public key). For tools that drive HPKE directly (interop tests). */
void vouch_crypt_key_raw(const struct vouch_crypt_key *key, const uint8_t **pk, size_t *pk_len,
			 const uint8_t **sk, size_t *sk_len);

#endif
