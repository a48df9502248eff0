#include "vouch/encoding.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void vouch_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum vouch_rc vouch_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outcap,
			       size_t *outlen, struct vouch_err *err)
{
	if (hexlen % 2 != 0)
		return vouch_err_set(err, VOUCH_E_FORMAT, "hex string has an odd length (%zu)",
				     hexlen);
	if (hexlen / 2 > outcap)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "hex string too long (%zu digits, max %zu)", hexlen,
				     outcap * 2);
	for (size_t i = 0; i < hexlen; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "invalid hex character at offset %zu",
					     hi < 0 ? i : i + 1);
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	if (outlen != NULL)
		*outlen = hexlen / 2;
	return VOUCH_OK;
}

enum vouch_rc vouch_base64_encode(const uint8_t *in, size_t n, char **out, struct vouch_err *err)
{
	if (n > (size_t)INT32_MAX / 2)
		return vouch_err_set(err, VOUCH_E_LIMIT, "base64 input too large");
	size_t olen = 4 * ((n + 2) / 3);
	char *s = malloc(olen + 1);
	if (s == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	EVP_EncodeBlock((unsigned char *)s, in, (int)n);
	s[olen] = '\0';
	*out = s;
	return VOUCH_OK;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : 63;
}

enum vouch_rc vouch_base64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen,
				  struct vouch_err *err)
{
	if (n % 4 != 0)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "base64 length %zu is not a multiple of 4", n);
	if (n > (size_t)INT32_MAX / 2)
		return vouch_err_set(err, VOUCH_E_LIMIT, "base64 input too large");
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '+' || c == '/' ||
			 (c == '=' && i >= n - 2 && (i == n - 1 || in[n - 1] == '='));
		if (!ok)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "invalid base64 character at offset %zu", i);
	}
	/* One encoding per byte string: the bits the padding leaves unused
	 * must be zero ("QQ==" is "A"; "QR==" is refused), so that two
	 * different strings never decode to the same bytes. */
	if (n >= 4 && in[n - 1] == '=') {
		int two = in[n - 2] == '=';
		char last = two ? in[n - 3] : in[n - 2];
		if (b64val(last) & (two ? 0x0f : 0x03))
			return vouch_err_set(
			    err, VOUCH_E_FORMAT,
			    "non-canonical base64 (unused bits set before padding)");
	}
	uint8_t *p = malloc(n / 4 * 3 + 1);
	if (p == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	int len = EVP_DecodeBlock(p, (const unsigned char *)in, (int)n);
	if (len < 0) {
		free(p);
		return vouch_err_set(err, VOUCH_E_FORMAT, "invalid base64");
	}
	size_t pad = 0;
	if (n >= 1 && in[n - 1] == '=')
		pad++;
	if (n >= 2 && in[n - 2] == '=')
		pad++;
	*outlen = (size_t)len - pad;
	*out = p;
	return VOUCH_OK;
}
