/* vouch — errors: a stable code plus a human message with context.
 *
 * Every fallible function returns enum vouch_rc and takes a
 * struct vouch_err *err last (may be NULL). Callers add context as the
 * error travels up with vouch_err_prefix(), so the user finally reads e.g.
 * "targets.json: signature threshold 2 not met (1 valid of 3)".
 */
#ifndef VOUCH_ERROR_H
#define VOUCH_ERROR_H

#include <stddef.h>

#define VOUCH_WUR __attribute__((warn_unused_result))
#define VOUCH_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Stable numbers: never renumber, only append. */
enum vouch_rc {
	VOUCH_OK = 0,
	/* Rejected by a security check (exit code 1). */
	VOUCH_E_VERIFY = 1,   /* bad/missing signature, hash mismatch, threshold */
	VOUCH_E_FORMAT = 2,   /* malformed untrusted input */
	VOUCH_E_LIMIT = 3,    /* input larger than its limit */
	VOUCH_E_EXPIRED = 4,  /* signed metadata past its expiry */
	VOUCH_E_ROLLBACK = 5, /* version lower than trusted or floor */
	VOUCH_E_DENIED = 6,   /* policy refusal: wrong tier, hardware, path */
	VOUCH_E_AUTH = 7,     /* wrong PIN / passphrase */
	/* Usage (exit code 2). */
	VOUCH_E_USAGE = 20,
	VOUCH_E_UNSUPPORTED = 21, /* algorithm or feature not supported */
	/* System or I/O (exit code 3). */
	VOUCH_E_IO = 40,
	VOUCH_E_NOMEM = 41,
	VOUCH_E_CRYPTO = 42, /* cryptographic library failure */
	VOUCH_E_NETWORK = 43,
	VOUCH_E_NOTFOUND = 44,
	VOUCH_E_EXISTS = 45,
	VOUCH_E_INTERNAL = 46,
};

#define VOUCH_ERR_MSG_MAX 1024

struct vouch_err {
	enum vouch_rc code;
	char msg[VOUCH_ERR_MSG_MAX];
};

/* Sets err (if not NULL) to code and the formatted message; returns code so
 * that callers can write `return vouch_err_set(err, VOUCH_E_IO, ...)`. */
enum vouch_rc vouch_err_set(struct vouch_err *err, enum vouch_rc code, const char *fmt, ...)
    VOUCH_PRINTF(3, 4);

/* Like vouch_err_set, then appends ": <OpenSSL's last error>" if any and
 * clears the OpenSSL error queue. */
enum vouch_rc vouch_err_openssl(struct vouch_err *err, enum vouch_rc code, const char *fmt, ...)
    VOUCH_PRINTF(3, 4);

/* Prepends formatted context to the message, keeping the code. */
void vouch_err_prefix(struct vouch_err *err, const char *fmt, ...) VOUCH_PRINTF(2, 3);

void vouch_err_clear(struct vouch_err *err);

/* "verify", "format", ...: stable short name of a code (for --json). */
const char *vouch_rc_name(enum vouch_rc rc);

/* Process exit code for rc: 0 ok, 1 security, 2 usage, 3 system or I/O. */
int vouch_rc_exit_code(enum vouch_rc rc);

#endif
