/* Fuzzes hex and strict base64 decoding. Properties: decoding either fails
 * with a message or gives bytes that encode back to the input (lowercased
 * for hex; byte for byte for base64, which accepts exactly one encoding of
 * each byte string); encoding any bytes decodes back to them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vouch/encoding.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_hex_base64: property violated: %s\n", what);
		abort();
	}
}

static void fuzz_hex(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct vouch_err err = {0};
	size_t cap = size / 2, n = 0;
	uint8_t *out = malloc(cap ? cap : 1);
	char *enc = malloc(2 * cap + 1);
	check(out != NULL && enc != NULL, "out of memory");
	enum vouch_rc rc = vouch_hex_decode(in, size, out, cap, &n, &err);
	if (rc == VOUCH_OK) {
		check(n == size / 2 && size % 2 == 0, "hex length");
		vouch_hex_encode(out, n, enc);
		for (size_t i = 0; i < size; i++)
			check(enc[i] == tolower((unsigned char)in[i]), "hex round trip");
	} else {
		check(rc == VOUCH_E_FORMAT && err.code == rc && err.msg[0] != '\0', "hex error");
	}
	/* Too small an output buffer is a limit, never an overflow. */
	if (size >= 2) {
		rc = vouch_hex_decode(in, size, out, cap - 1, &n, &err);
		check(rc == VOUCH_E_LIMIT || rc == VOUCH_E_FORMAT, "hex short buffer");
	}
	/* Any bytes encode and decode back. */
	char *hex = malloc(2 * size + 1);
	uint8_t *back = malloc(size ? size : 1);
	check(hex != NULL && back != NULL, "out of memory");
	vouch_hex_encode(data, size, hex);
	check(vouch_hex_decode(hex, 2 * size, back, size, &n, &err) == VOUCH_OK && n == size &&
		  (size == 0 || memcmp(back, data, size) == 0),
	      "hex encode/decode");
	free(hex);
	free(back);
	free(out);
	free(enc);
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct vouch_err err = {0};
	uint8_t *dec = NULL;
	char *enc = NULL;
	size_t n = 0;
	enum vouch_rc rc = vouch_base64_decode(in, size, &dec, &n, &err);
	if (rc == VOUCH_OK) {
		check(vouch_base64_encode(dec, n, &enc, &err) == VOUCH_OK, "base64 re-encode");
		check(strlen(enc) == size && memcmp(enc, in, size) == 0,
		      "strict base64 accepted a non-canonical encoding");
		free(enc);
		enc = NULL;
		free(dec);
		dec = NULL;
	} else {
		check((rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT) && err.code == rc &&
			  err.msg[0] != '\0',
		      "base64 error");
		check(dec == NULL, "base64 output set on failure");
	}
	check(vouch_base64_encode(data, size, &enc, &err) == VOUCH_OK, "base64 encode");
	check(vouch_base64_decode(enc, strlen(enc), &dec, &n, &err) == VOUCH_OK && n == size &&
		  (size == 0 || memcmp(dec, data, size) == 0),
	      "base64 encode/decode");
	free(enc);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return -1;
	fuzz_hex(data, size);
	fuzz_base64(data, size);
	return 0;
}
