/* Fuzzes vouch_key_from_tuf, the parser of public keys found in TUF
 * metadata: any JSON either gives a key or fails with VOUCH_E_FORMAT,
 * VOUCH_E_UNSUPPORTED or VOUCH_E_LIMIT and a message; a key that parses
 * writes back (vouch_key_to_tuf) to the same keytype, scheme and public
 * value, parses again to the same key id, and rejects signatures it did
 * not make with VOUCH_E_VERIFY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vouch/json.h"
#include "vouch/key.h"

#define FUZZ_KEY_MAX (4u * VOUCH_KEY_PUBLIC_MAX)

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_key_tuf: property violated: %s\n", what);
		abort();
	}
}

static const char *field(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);
	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

/* Properties of a key that parsed from doc. */
static void check_key(const json_t *doc, const struct vouch_key *key, const uint8_t *data,
		      size_t size)
{
	struct vouch_err err = {0};
	json_t *back = NULL;
	struct vouch_key *again = NULL;
	const char *id = vouch_key_id(key);
	check(strlen(id) == VOUCH_KEYID_HEX_LEN && strspn(id, "0123456789abcdef") == strlen(id),
	      "key id is not 64 lowercase hex digits");
	check(!vouch_key_has_private(key), "public key claims a private part");
	check(strcmp(vouch_key_location(key), "") == 0, "public key has a location");

	check(vouch_key_to_tuf(key, &back, &err) == VOUCH_OK, "to_tuf");
	check(strcmp(field(back, "keytype", NULL), field(doc, "keytype", NULL)) == 0, "keytype");
	check(strcmp(field(back, "scheme", NULL), field(doc, "scheme", NULL)) == 0, "scheme");
	check(strcmp(field(back, "keyval", "public"), field(doc, "keyval", "public")) == 0,
	      "keyval.public");
	check(vouch_key_from_tuf(back, &again, &err) == VOUCH_OK, "written key parses");
	check(strcmp(vouch_key_id(again), id) == 0, "key id changes on a round trip");

	/* Signatures out of thin air never verify, whatever their length. */
	static const uint8_t zeros[VOUCH_SIG_MAX];
	static const size_t lens[] = {1, 64, 72, 256, 384, 512, VOUCH_SIG_MAX};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		check(vouch_key_verify(key, "m", 1, zeros, lens[i], &err) == VOUCH_E_VERIFY,
		      "zero signature verifies");
	check(vouch_key_verify(key, "m", 1, data, size < VOUCH_SIG_MAX ? size : VOUCH_SIG_MAX,
			       &err) == VOUCH_E_VERIFY,
	      "input as signature verifies");
	vouch_key_free(again);
	json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL;
	struct vouch_key *key = NULL;
	struct vouch_err err = {0};

	if (size > FUZZ_KEY_MAX)
		return -1;
	if (vouch_json_parse(data, size, FUZZ_KEY_MAX, &doc, &err) != VOUCH_OK)
		return -1;
	enum vouch_rc rc = vouch_key_from_tuf(doc, &key, &err);
	if (rc != VOUCH_OK) {
		check(key == NULL, "key set on failure");
		check(rc == VOUCH_E_FORMAT || rc == VOUCH_E_UNSUPPORTED || rc == VOUCH_E_LIMIT,
		      "error code");
		check(err.code == rc && err.msg[0] != '\0', "error message");
	} else {
		check_key(doc, key, data, size);
	}
	vouch_key_free(key);
	json_decref(doc);
	return 0;
}
