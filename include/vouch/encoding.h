/* vouch — hex and base64. */
#ifndef VOUCH_ENCODING_H
#define VOUCH_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"

/* Writes 2*n lowercase hex digits and a NUL into out (size >= 2*n+1). */
void vouch_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes hexlen hex digits (either case) into out. VOUCH_E_FORMAT on an odd
 * length or a non-hex character, VOUCH_E_LIMIT if out is too small. */
enum vouch_rc vouch_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outcap,
			       size_t *outlen, struct vouch_err *err) VOUCH_WUR;

/* Standard base64 with padding. *out is malloc'd and NUL-terminated; the
 * caller frees it. */
enum vouch_rc vouch_base64_encode(const uint8_t *in, size_t n, char **out,
				  struct vouch_err *err) VOUCH_WUR;

/* Strict standard base64 (padding required, no whitespace). *out is
 * malloc'd (caller frees), *outlen its length. */
enum vouch_rc vouch_base64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen,
				  struct vouch_err *err) VOUCH_WUR;

#endif
