/* Fuzzes the reader of encrypted release files (vouch-enc-v1): the header
 * parser (vouch_crypt_header_parse, vouch_crypt_header_size), the recipient
 * check and the streaming decryptor with fixed X25519 and P-256 identities
 * (the seed corpus holds files encrypted to them, so the payload path and the
 * decapsulation of attacker-chosen points are reached).
 *
 * Properties: errors have the documented codes and a message; a header
 * that does not parse never yields plaintext; the decryptor gives the same
 * result and the same plaintext however the input is split; plaintext is
 * only ever emitted for a recipient and is never longer than the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vouch/buf.h"
#include "vouch/crypt.h"
#include "vouch/hpke.h"

#define FUZZ_MAX (256u * 1024)

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_crypt_header: property violated: %s\n", what);
		abort();
	}
}

/* sk = 01 02 ... 20 as an X25519 (which = 0) and a P-256 (which = 1) key:
 * the keys of the valid files in fuzz/corpus/crypt_header. */
static struct vouch_crypt_key *identity(int which)
{
	static struct vouch_crypt_key *id[2];
	static const uint16_t kems[2] = {VOUCH_HPKE_KEM_X25519_SHA256, VOUCH_HPKE_KEM_P256_SHA256};
	if (id[which] == NULL) {
		uint8_t sk[32];
		struct vouch_err err;
		for (int i = 0; i < 32; i++)
			sk[i] = (uint8_t)(i + 1);
		check(vouch_crypt_key_from_raw(kems[which], sk, 32, NULL, 0, &id[which], &err) ==
			  VOUCH_OK,
		      "fixed identity");
	}
	return id[which];
}

static enum vouch_rc collect(void *ctx, const uint8_t *p, size_t n, struct vouch_err *err)
{
	return vouch_buf_append(ctx, p, n, err);
}

/* Decrypts data fed in pieces split at a and b. */
static enum vouch_rc decrypt(int which, const uint8_t *data, size_t size, size_t a, size_t b,
			     struct vouch_buf *out)
{
	struct vouch_decryptor *d = NULL;
	struct vouch_err err;
	enum vouch_rc rc;
	check(vouch_decryptor_new(identity(which), &d, &err) == VOUCH_OK, "decryptor_new");
	rc = vouch_decryptor_update(d, data, a, collect, out, &err);
	if (rc == VOUCH_OK)
		rc = vouch_decryptor_update(d, data + a, b - a, collect, out, &err);
	if (rc == VOUCH_OK)
		rc = vouch_decryptor_update(d, data + b, size - b, collect, out, &err);
	if (rc == VOUCH_OK)
		rc = vouch_decryptor_final(d, collect, out, &err);
	check(rc == VOUCH_OK || rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT ||
		  rc == VOUCH_E_UNSUPPORTED || rc == VOUCH_E_DENIED || rc == VOUCH_E_VERIFY,
	      "decryptor error code");
	check(rc == VOUCH_OK || err.msg[0] != '\0', "decryptor error without a message");
	if (rc == VOUCH_OK)
		check(vouch_decryptor_plaintext_length(d) == out->len, "plaintext length");
	vouch_decryptor_free(d);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vouch_crypt_header_info info;
	struct vouch_err err;
	size_t hsize = 0;
	if (size > FUZZ_MAX)
		return -1;

	enum vouch_rc prc = vouch_crypt_header_parse(data, size, &info, &err);
	check(prc == VOUCH_OK || prc == VOUCH_E_FORMAT || prc == VOUCH_E_LIMIT ||
		  prc == VOUCH_E_UNSUPPORTED,
	      "header_parse error code");
	if (prc != VOUCH_OK) {
		check(err.msg[0] != '\0', "header_parse error without a message");
	} else {
		check(info.header_len >= VOUCH_CRYPT_HEADER_FIXED_LEN && info.header_len <= size &&
			  info.header_len <= VOUCH_CRYPT_HEADER_MAX,
		      "header length out of bounds");
		check(info.recipients >= 1 && info.recipients <= VOUCH_CRYPT_MAX_RECIPIENTS,
		      "recipient count out of bounds");
		check(info.chunk_size >= VOUCH_CRYPT_CHUNK_MIN &&
			  info.chunk_size <= VOUCH_CRYPT_CHUNK_MAX,
		      "chunk size out of bounds");
		check(strcmp(info.suite, vouch_crypt_suite_name(info.payload_aead)) == 0, "suite");
		check(vouch_crypt_header_size(data, size, &hsize, &err) == VOUCH_OK &&
			  hsize == info.header_len,
		      "header_size disagrees with header_parse");
	}

	for (int which = 0; which < 2; which++) {
		struct vouch_buf one = {0}, split = {0};
		enum vouch_rc r1 = decrypt(which, data, size, size, size, &one);
		enum vouch_rc r2 = decrypt(which, data, size, size / 3, 2 * size / 3, &split);
		check(r1 == r2, "result depends on how the input is split");
		check(one.len == split.len &&
			  (one.len == 0 || memcmp(one.data, split.data, one.len) == 0),
		      "plaintext depends on how the input is split");
		check(one.len <= size, "more plaintext than input");
		if (prc != VOUCH_OK)
			check(r1 != VOUCH_OK && one.len == 0,
			      "plaintext from a header that does not parse");
		if (one.len > 0 || r1 == VOUCH_OK)
			check(vouch_crypt_header_check_recipient(data, size, identity(which),
								 &err) == VOUCH_OK,
			      "plaintext for a non-recipient");
		vouch_buf_free(&one);
		vouch_buf_free(&split);
	}
	return 0;
}
