#include "vouch/error.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum vouch_rc vouch_err_set(struct vouch_err *err, enum vouch_rc code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

enum vouch_rc vouch_err_openssl(struct vouch_err *err, enum vouch_rc code, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	char ossl[256] = "";
	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	if (err == NULL)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (ossl[0] != '\0') {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, " (%s)", ossl);
	}
	return code;
}

void vouch_err_prefix(struct vouch_err *err, const char *fmt, ...)
{
	if (err == NULL)
		return;
	char pre[VOUCH_ERR_MSG_MAX];
	char old[VOUCH_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	size_t np = strlen(pre), no = strlen(old);
	if (np > sizeof(err->msg) - 1)
		np = sizeof(err->msg) - 1;
	if (no > sizeof(err->msg) - 1 - np)
		no = sizeof(err->msg) - 1 - np;
	memcpy(err->msg, pre, np);
	memcpy(err->msg + np, old, no);
	err->msg[np + no] = '\0';
}

void vouch_err_clear(struct vouch_err *err)
{
	if (err == NULL)
		return;
	err->code = VOUCH_OK;
	err->msg[0] = '\0';
}

const char *vouch_rc_name(enum vouch_rc rc)
{
	switch (rc) {
	case VOUCH_OK:
		return "ok";
	case VOUCH_E_VERIFY:
		return "verify";
	case VOUCH_E_FORMAT:
		return "format";
	case VOUCH_E_LIMIT:
		return "limit";
	case VOUCH_E_EXPIRED:
		return "expired";
	case VOUCH_E_ROLLBACK:
		return "rollback";
	case VOUCH_E_DENIED:
		return "denied";
	case VOUCH_E_AUTH:
		return "auth";
	case VOUCH_E_USAGE:
		return "usage";
	case VOUCH_E_UNSUPPORTED:
		return "unsupported";
	case VOUCH_E_IO:
		return "io";
	case VOUCH_E_NOMEM:
		return "nomem";
	case VOUCH_E_CRYPTO:
		return "crypto";
	case VOUCH_E_NETWORK:
		return "network";
	case VOUCH_E_NOTFOUND:
		return "notfound";
	case VOUCH_E_EXISTS:
		return "exists";
	case VOUCH_E_INTERNAL:
		return "internal";
	}
	return "unknown";
}

int vouch_rc_exit_code(enum vouch_rc rc)
{
	if (rc == VOUCH_OK)
		return 0;
	if (rc < VOUCH_E_USAGE)
		return 1;
	if (rc < VOUCH_E_IO)
		return 2;
	return 3;
}
