/* Fuzzes vouch_sigfile_parse, the parser of `.sig` files: any input either
 * parses or fails with VOUCH_E_FORMAT or VOUCH_E_LIMIT and a message; a
 * document that parses writes back (vouch_sigfile_serialize) to one that
 * parses again to the same signed bytes, name, length, hashes and
 * signatures; and no signature in it verifies under a key it never saw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vouch/key.h"
#include "vouch/sigfile.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_sigfile: property violated: %s\n", what);
		abort();
	}
}

static struct vouch_key *stranger;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vouch_err err = {0};
	struct vouch_sigfile *sf = NULL, *again = NULL;
	struct vouch_buf a = {0}, b = {0}, text = {0};

	if (stranger == NULL)
		check(vouch_key_generate(VOUCH_KEY_ED25519, 0, &stranger, NULL) == VOUCH_OK,
		      "key generation");
	enum vouch_rc rc = vouch_sigfile_parse(data, size, &sf, &err);
	if (rc != VOUCH_OK) {
		check(rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT, "unexpected error code");
		check(err.msg[0] != '\0', "error without a message");
		check(sf == NULL, "output set on failure");
		return 0;
	}
	check(vouch_sigfile_count(sf) <= VOUCH_SIGFILE_MAX_SIGS, "too many signatures");
	check(strchr(vouch_sigfile_name(sf), '/') == NULL, "name with a slash");
	check(vouch_sigfile_signed_bytes(sf, &a, NULL) == VOUCH_OK, "signed bytes");
	check(vouch_sigfile_serialize(sf, &text, NULL) == VOUCH_OK, "serialize");
	check(vouch_sigfile_parse(text.data, text.len, &again, NULL) == VOUCH_OK, "reparse");
	check(vouch_sigfile_signed_bytes(again, &b, NULL) == VOUCH_OK, "signed bytes again");
	check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "signed bytes differ");
	check(vouch_sigfile_count(sf) == vouch_sigfile_count(again), "signature count");
	for (size_t i = 0; i < vouch_sigfile_count(sf); i++)
		check(strcmp(vouch_sigfile_keyid(sf, i), vouch_sigfile_keyid(again, i)) == 0,
		      "key ids");
	const struct vouch_key *keys[] = {stranger};
	size_t valid = 9;
	check(vouch_sigfile_verify_sigs(sf, keys, 1, 1, &valid, NULL) == VOUCH_E_VERIFY &&
		  valid == 0,
	      "a signature verified under an unrelated key");
	vouch_buf_free(&a);
	vouch_buf_free(&b);
	vouch_buf_free(&text);
	vouch_sigfile_free(again);
	vouch_sigfile_free(sf);
	return 0;
}
