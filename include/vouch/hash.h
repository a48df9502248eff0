/* vouch — SHA-256 and SHA-512, one-shot and streaming. */
#ifndef VOUCH_HASH_H
#define VOUCH_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"

#define VOUCH_SHA256_LEN 32
#define VOUCH_SHA512_LEN 64

/* Which digests a hasher computes (bit mask). */
#define VOUCH_HASH_SHA256 1u
#define VOUCH_HASH_SHA512 2u

struct vouch_digests {
	unsigned algs; /* which of the fields below are set */
	uint8_t sha256[VOUCH_SHA256_LEN];
	uint8_t sha512[VOUCH_SHA512_LEN];
	uint64_t length; /* bytes hashed */
};

struct vouch_hasher;

/* Creates a hasher for the algorithms in algs. Caller frees with
 * vouch_hasher_free(). */
enum vouch_rc vouch_hasher_new(unsigned algs, struct vouch_hasher **out,
			       struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_hasher_update(struct vouch_hasher *h, const void *p, size_t n,
				  struct vouch_err *err) VOUCH_WUR;
/* Finishes and fills out; the hasher cannot be updated afterwards. */
enum vouch_rc vouch_hasher_final(struct vouch_hasher *h, struct vouch_digests *out,
				 struct vouch_err *err) VOUCH_WUR;
void vouch_hasher_free(struct vouch_hasher *h);

void vouch_sha256(const void *p, size_t n, uint8_t out[VOUCH_SHA256_LEN]);
void vouch_sha512(const void *p, size_t n, uint8_t out[VOUCH_SHA512_LEN]);

/* Streams a file through the hasher in constant memory. */
enum vouch_rc vouch_hash_file(const char *path, unsigned algs, struct vouch_digests *out,
			      struct vouch_err *err) VOUCH_WUR;

#endif
