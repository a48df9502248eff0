/* hpke_tool: drives libvouch's HPKE for the interop tests (hpke-js).
 *
 *   hpke_tool seal PUB.pem AEAD INFO_HEX AAD_HEX PT_HEX
 *       -> {"kem": N, "enc": HEX, "ct": HEX, "export": HEX}
 *   hpke_tool open PRIV.pem AEAD ENC_HEX INFO_HEX AAD_HEX CT_HEX
 *       -> {"kem": N, "pt": HEX, "export": HEX}; exit 1 if it does not open
 *
 * Keys are vouch recipient key files (vouch keygen --type x25519|p256
 * --no-passphrase); the KEM follows the key; KDF HKDF-SHA256; AEAD is the
 * HPKE id (1, 2, 3). "export" is Export("vouch interop", 32). Not
 * installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt_internal.h"
#include "vouch/crypt.h"
#include "vouch/encoding.h"
#include "vouch/hpke.h"

#define MAX 4096

static int unhex(const char *s, uint8_t *out, size_t *len)
{
	struct vouch_err err;
	if (vouch_hex_decode(s, strlen(s), out, MAX, len, &err) != VOUCH_OK) {
		fprintf(stderr, "hpke_tool: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void print_hex(const char *name, const uint8_t *p, size_t n, int last)
{
	char *h = malloc(2 * n + 1);
	if (h == NULL)
		exit(3);
	vouch_hex_encode(p, n, h);
	printf("\"%s\": \"%s\"%s", name, h, last ? "}\n" : ", ");
	free(h);
}

int main(int argc, char **argv)
{
	static uint8_t info[MAX], aad[MAX], in[MAX], out[MAX + 16], enc[VOUCH_HPKE_MAX_ENC];
	static const uint8_t label[] = "vouch interop";
	uint8_t exported[32];
	size_t info_len = 0, aad_len = 0, in_len = 0, enc_len = 0, pk_len = 0, sk_len = 0;
	const uint8_t *pk = NULL, *sk = NULL;
	struct vouch_crypt_key *key = NULL;
	struct vouch_hpke_ctx *ctx = NULL;
	struct vouch_err err;
	enum vouch_rc rc;
	int seal = argc == 7 && strcmp(argv[1], "seal") == 0;
	int open = argc == 8 && strcmp(argv[1], "open") == 0;
	if (!seal && !open) {
		fputs(
		    "usage: hpke_tool seal PUB AEAD INFO AAD PT | open PRIV AEAD ENC INFO AAD CT\n",
		    stderr);
		return 2;
	}
	rc = seal ? vouch_crypt_key_load_public(argv[2], &key, &err)
		  : vouch_crypt_key_load_private(argv[2], NULL, &key, &err);
	if (rc != VOUCH_OK) {
		fprintf(stderr, "hpke_tool: %s\n", err.msg);
		return 3;
	}
	vouch_crypt_key_raw(key, &pk, &pk_len, &sk, &sk_len);
	struct vouch_hpke_suite suite = {vouch_crypt_key_kem(key), VOUCH_HPKE_KDF_HKDF_SHA256,
					 (uint16_t)strtoul(argv[3], NULL, 0)};
	int a = seal ? 4 : 5;
	if ((open && unhex(argv[4], enc, &enc_len) != 0) || unhex(argv[a], info, &info_len) != 0 ||
	    unhex(argv[a + 1], aad, &aad_len) != 0 || unhex(argv[a + 2], in, &in_len) != 0)
		return 2;
	if (seal) {
		rc = vouch_hpke_setup_base_s(&suite, pk, pk_len, info, info_len, enc, &enc_len,
					     &ctx, &err);
		if (rc == VOUCH_OK)
			rc = vouch_hpke_seal(ctx, aad, aad_len, in, in_len, out, &err);
	} else {
		rc = vouch_hpke_setup_base_r(&suite, enc, enc_len, sk, sk_len, info, info_len, &ctx,
					     &err);
		if (rc == VOUCH_OK)
			rc = vouch_hpke_open(ctx, aad, aad_len, in, in_len, out, &err);
	}
	if (rc == VOUCH_OK)
		rc = vouch_hpke_export(ctx, label, sizeof(label) - 1, exported, sizeof(exported),
				       &err);
	if (rc != VOUCH_OK) {
		fprintf(stderr, "hpke_tool: %s\n", err.msg);
		vouch_hpke_ctx_free(ctx);
		vouch_crypt_key_free(key);
		return vouch_rc_exit_code(rc);
	}
	printf("{\"kem\": %u, ", (unsigned)suite.kem);
	if (seal) {
		print_hex("enc", enc, enc_len, 0);
		print_hex("ct", out, in_len + 16, 0);
	} else {
		print_hex("pt", out, in_len - 16, 0);
	}
	print_hex("export", exported, sizeof(exported), 1);
	vouch_hpke_ctx_free(ctx);
	vouch_crypt_key_free(key);
	return 0;
}
