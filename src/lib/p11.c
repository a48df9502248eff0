/* PKCS#11 keys: RFC 7512 URIs parsed by p11-kit, modules loaded by p11-kit,
 * keys generated and used inside the token.
 *
 * Everything a token returns is treated as untrusted input: every length is
 * bounded before allocating, every attribute is checked for the exact shape
 * we expect, and anything else fails closed. A PIN never appears in an
 * error message, and our copies of it are wiped as soon as C_Login returns.
 * Each signature is verified with the exported public key before it is
 * handed out, so a token fault or a public object that does not belong to
 * the private key cannot produce a bad signature silently. */
#include "p11.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest attribute value we read from a token (RSA 8192 modulus: 1 KiB). */
#define VOUCH_P11_MAX_ATTR 8192
/* Longest PIN accepted from any source. */
#define VOUCH_P11_MAX_PIN 256
/* Longest URI accepted. */
#define VOUCH_P11_MAX_URI 4096
/* Ceilings on what C_GetSlotList / C_GetMechanismList may report. */
#define VOUCH_P11_MAX_SLOTS 1024
#define VOUCH_P11_MAX_MECHS 4096
/* Longest label or id we put into a new object. */
#define VOUCH_P11_MAX_LABEL 256
#define VOUCH_P11_MAX_ID 256
/* RSA moduli accepted from a token. */
#define VOUCH_P11_RSA_MIN_BITS 2048
#define VOUCH_P11_RSA_MAX_BITS 8192

/* DER of the curve identifiers in CKA_EC_PARAMS. */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t str_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
				      'd',  's',  '2', '5', '5', '1', '9'};

/* p11-kit is loaded with dlopen() when the first pkcs11: URI is used, not
 * linked: it (with libffi) would otherwise be mapped into every command,
 * also `vouch sign` and `vouch verify` of key files. Its headers give the
 * types; every call goes through `p11kit` below. */
#define P11KIT_SONAME "libp11-kit.so.0"

static struct {
	__typeof__(p11_kit_message) *message;
	__typeof__(p11_kit_module_finalize) *module_finalize;
	__typeof__(p11_kit_module_get_name) *module_get_name;
	__typeof__(p11_kit_module_initialize) *module_initialize;
	__typeof__(p11_kit_module_load) *module_load;
	__typeof__(p11_kit_module_release) *module_release;
	__typeof__(p11_kit_modules_finalize_and_release) *modules_finalize_and_release;
	__typeof__(p11_kit_modules_load_and_initialize) *modules_load_and_initialize;
	__typeof__(p11_kit_space_strlen) *space_strlen;
	__typeof__(p11_kit_strerror) *strerror;
	__typeof__(p11_kit_uri_any_unrecognized) *uri_any_unrecognized;
	__typeof__(p11_kit_uri_format) *uri_format;
	__typeof__(p11_kit_uri_free) *uri_free;
	__typeof__(p11_kit_uri_get_attribute) *uri_get_attribute;
	__typeof__(p11_kit_uri_get_module_name) *uri_get_module_name;
	__typeof__(p11_kit_uri_get_module_path) *uri_get_module_path;
	__typeof__(p11_kit_uri_get_pin_source) *uri_get_pin_source;
	__typeof__(p11_kit_uri_get_pin_value) *uri_get_pin_value;
	__typeof__(p11_kit_uri_get_slot_id) *uri_get_slot_id;
	__typeof__(p11_kit_uri_get_token_info) *uri_get_token_info;
	__typeof__(p11_kit_uri_match_module_info) *uri_match_module_info;
	__typeof__(p11_kit_uri_match_slot_info) *uri_match_slot_info;
	__typeof__(p11_kit_uri_match_token_info) *uri_match_token_info;
	__typeof__(p11_kit_uri_message) *uri_message;
	__typeof__(p11_kit_uri_new) *uri_new;
	__typeof__(p11_kit_uri_parse) *uri_parse;
	__typeof__(p11_kit_uri_set_pin_value) *uri_set_pin_value;
} p11kit;

static pthread_once_t p11kit_once = PTHREAD_ONCE_INIT;
/* Set once by p11kit_load() (pthread_once orders it before every reader). */
static int p11kit_loaded;
static char p11kit_load_msg[256];

/* Resolves p11_kit_<name> into p11kit.<name>, of the header's type (POSIX
 * guarantees that dlsym's void * converts to a function pointer). */
#define P11KIT_SYM(h, name)                                                                        \
	((p11kit.name = (__typeof__(p11kit.name))dlsym(h, "p11_kit_" #name)) != NULL ||            \
	 (missing = "p11_kit_" #name, 0))

static void p11kit_load_once(void)
{
	const char *missing = NULL;
	dlerror();
	void *h = dlopen(P11KIT_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *why = dlerror();
		snprintf(p11kit_load_msg, sizeof(p11kit_load_msg),
			 "PKCS#11 keys need " P11KIT_SONAME
			 " (Debian package libp11-kit0), which cannot be loaded: %s",
			 why != NULL ? why : "unknown error");
		return;
	}
	if (!(P11KIT_SYM(h, message) && P11KIT_SYM(h, module_finalize) &&
	      P11KIT_SYM(h, module_get_name) && P11KIT_SYM(h, module_initialize) &&
	      P11KIT_SYM(h, module_load) && P11KIT_SYM(h, module_release) &&
	      P11KIT_SYM(h, modules_finalize_and_release) &&
	      P11KIT_SYM(h, modules_load_and_initialize) && P11KIT_SYM(h, space_strlen) &&
	      P11KIT_SYM(h, strerror) && P11KIT_SYM(h, uri_any_unrecognized) &&
	      P11KIT_SYM(h, uri_format) && P11KIT_SYM(h, uri_free) &&
	      P11KIT_SYM(h, uri_get_attribute) && P11KIT_SYM(h, uri_get_module_name) &&
	      P11KIT_SYM(h, uri_get_module_path) && P11KIT_SYM(h, uri_get_pin_source) &&
	      P11KIT_SYM(h, uri_get_pin_value) && P11KIT_SYM(h, uri_get_slot_id) &&
	      P11KIT_SYM(h, uri_get_token_info) && P11KIT_SYM(h, uri_match_module_info) &&
	      P11KIT_SYM(h, uri_match_slot_info) && P11KIT_SYM(h, uri_match_token_info) &&
	      P11KIT_SYM(h, uri_message) && P11KIT_SYM(h, uri_new) && P11KIT_SYM(h, uri_parse) &&
	      P11KIT_SYM(h, uri_set_pin_value))) {
		/* Never call into a half-resolved library. */
		snprintf(p11kit_load_msg, sizeof(p11kit_load_msg),
			 P11KIT_SONAME " lacks %s (Debian package libp11-kit0)", missing);
		return;
	}
	p11kit_loaded = 1;
}

#undef P11KIT_SYM

static enum vouch_rc p11kit_load(struct vouch_err *err)
{
	pthread_once(&p11kit_once, p11kit_load_once);
	if (!p11kit_loaded)
		return vouch_err_set(err, VOUCH_E_IO, "%s", p11kit_load_msg);
	return VOUCH_OK;
}

struct p11_modules {
	CK_FUNCTION_LIST **list;  /* p11-kit's registered modules, or NULL */
	CK_FUNCTION_LIST *single; /* one module loaded from a path, or NULL */
	int single_initialized;
};

struct vouch_p11_key {
	struct p11_modules mods;
	CK_FUNCTION_LIST *fn; /* the module holding the token */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	int has_session;
	char token[64]; /* printable token label, for messages */
	CK_FLAGS token_flags;
	CK_OBJECT_HANDLE priv;
	enum vouch_key_type type;
	CK_MECHANISM_TYPE rsa_mech; /* CKM_RSA_PKCS_PSS or CKM_SHA256_RSA_PKCS_PSS */
	EVP_PKEY *pub;
	char *location; /* URI without pin-value */
};

static enum vouch_rc ck_fail(struct vouch_err *err, const char *what, CK_RV rv)
{
	return vouch_err_set(err, VOUCH_E_CRYPTO, "PKCS#11 %s failed: %s (0x%lx)", what,
			     p11kit.strerror(rv), (unsigned long)rv);
}

/* Space-padded token field -> printable NUL-terminated string. */
static void printable_label(const unsigned char *src, size_t srclen, char *dst, size_t cap)
{
	size_t n = p11kit.space_strlen(src, srclen);
	if (n > cap - 1)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '\'') ? (char)src[i] : '?';
	dst[n] = 0;
}

static void printable_bytes(const void *src, size_t srclen, char *dst, size_t cap)
{
	const unsigned char *s = src;
	size_t n = srclen < cap - 1 ? srclen : cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'') ? (char)s[i] : '?';
	dst[n] = 0;
}

/* Frees a parsed URI after wiping p11-kit's copy of any pin-value (p11-kit
 * frees it without clearing). */
static void uri_free_wiped(P11KitUri *uri)
{
	if (uri == NULL)
		return;
	const char *pin = p11kit.uri_get_pin_value(uri);
	if (pin != NULL)
		OPENSSL_cleanse((void *)(uintptr_t)pin, strlen(pin));
	p11kit.uri_free(uri);
}

static void modules_release(struct p11_modules *m)
{
	if (m->list != NULL)
		p11kit.modules_finalize_and_release(m->list);
	if (m->single != NULL) {
		if (m->single_initialized)
			(void)p11kit.module_finalize(m->single);
		p11kit.module_release(m->single);
	}
	memset(m, 0, sizeof(*m));
}

/* Module: opts->pkcs11_module, $VOUCH_PKCS11_MODULE, the URI's
 * module-path, else every module registered with p11-kit. */
static enum vouch_rc modules_load(P11KitUri *uri, const struct vouch_key_opts *opts,
				  struct p11_modules *m, struct vouch_err *err)
{
	const char *path = opts != NULL ? opts->pkcs11_module : NULL;
	const char *env = getenv("VOUCH_PKCS11_MODULE");
	const char *from = "--pkcs11-module";
	CK_RV rv;

	if (path == NULL || *path == 0) {
		path = env;
		from = "VOUCH_PKCS11_MODULE";
	}
	if (path == NULL || *path == 0) {
		path = p11kit.uri_get_module_path(uri);
		from = "module-path";
	}
	if (path != NULL && *path != 0) {
		if (path[0] != '/')
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "PKCS#11 module path from %s must be absolute", from);
		m->single = p11kit.module_load(path, 0);
		if (m->single == NULL) {
			const char *why = p11kit.message();
			return vouch_err_set(err, VOUCH_E_IO, "cannot load PKCS#11 module %s: %s",
					     path, why != NULL ? why : "unknown error");
		}
		rv = p11kit.module_initialize(m->single);
		if (rv != CKR_OK) {
			vouch_err_set(err, VOUCH_E_CRYPTO,
				      "cannot initialise PKCS#11 module %s: %s (0x%lx)", path,
				      p11kit.strerror(rv), (unsigned long)rv);
			modules_release(m);
			return err != NULL ? err->code : VOUCH_E_CRYPTO;
		}
		m->single_initialized = 1;
		return VOUCH_OK;
	}
	m->list = p11kit.modules_load_and_initialize(0);
	if (m->list == NULL || m->list[0] == NULL) {
		modules_release(m);
		return vouch_err_set(err, VOUCH_E_NOTFOUND,
				     "no PKCS#11 module: give --pkcs11-module, VOUCH_PKCS11_MODULE "
				     "or module-path in the URI, or register one with p11-kit");
	}
	return VOUCH_OK;
}

static enum vouch_rc slots_of(CK_FUNCTION_LIST *fn, CK_SLOT_ID **slots, CK_ULONG *n,
			      struct vouch_err *err)
{
	CK_ULONG count = 0;
	CK_RV rv = fn->C_GetSlotList(CK_TRUE, NULL, &count);
	*slots = NULL;
	*n = 0;
	if (rv != CKR_OK)
		return ck_fail(err, "C_GetSlotList", rv);
	if (count > VOUCH_P11_MAX_SLOTS)
		return vouch_err_set(err, VOUCH_E_LIMIT, "PKCS#11 module reports %lu slots",
				     (unsigned long)count);
	if (count == 0)
		return VOUCH_OK;
	/* A slot may appear between the two calls: leave room and retry once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		CK_ULONG cap = count + 4;
		CK_SLOT_ID *s = calloc(cap, sizeof(*s));
		if (s == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		count = cap;
		rv = fn->C_GetSlotList(CK_TRUE, s, &count);
		if (rv == CKR_OK && count <= cap) {
			*slots = s;
			*n = count;
			return VOUCH_OK;
		}
		free(s);
		if (rv != CKR_BUFFER_TOO_SMALL)
			return ck_fail(err, "C_GetSlotList", rv);
		if (count > VOUCH_P11_MAX_SLOTS)
			break;
	}
	return vouch_err_set(err, VOUCH_E_LIMIT, "PKCS#11 slot list keeps changing");
}

/* What the URI names, for "not found" messages. */
static void describe_token(P11KitUri *uri, char *dst, size_t cap)
{
	CK_TOKEN_INFO *ti = p11kit.uri_get_token_info(uri);
	char label[64];
	printable_label(ti->label, sizeof(ti->label), label, sizeof(label));
	if (label[0] != 0) {
		snprintf(dst, cap, "token '%s'", label);
		return;
	}
	printable_label(ti->serialNumber, sizeof(ti->serialNumber), label, sizeof(label));
	if (label[0] != 0) {
		snprintf(dst, cap, "token with serial '%s'", label);
		return;
	}
	snprintf(dst, cap, "any token");
}

/* Finds the one initialised token the URI selects. */
static enum vouch_rc token_find(P11KitUri *uri, struct vouch_p11_key *k, struct vouch_err *err)
{
	CK_FUNCTION_LIST *single[2] = {k->mods.single, NULL};
	CK_FUNCTION_LIST **mods = k->mods.single != NULL ? single : k->mods.list;
	const char *want_module = p11kit.uri_get_module_name(uri);
	CK_SLOT_ID want_slot = p11kit.uri_get_slot_id(uri);
	unsigned matches = 0;
	enum vouch_rc rc;

	for (size_t i = 0; mods[i] != NULL; i++) {
		CK_FUNCTION_LIST *fn = mods[i];
		CK_INFO info;
		CK_SLOT_ID *slots = NULL;
		CK_ULONG nslots = 0;

		if (want_module != NULL && k->mods.list != NULL) {
			char *name = p11kit.module_get_name(fn);
			int same = name != NULL && strcmp(name, want_module) == 0;
			free(name);
			if (!same)
				continue;
		}
		if (fn->C_GetInfo(&info) != CKR_OK || !p11kit.uri_match_module_info(uri, &info))
			continue;
		rc = slots_of(fn, &slots, &nslots, err);
		if (rc != VOUCH_OK) {
			if (k->mods.single != NULL)
				return rc;
			continue; /* one broken registered module does not hide the others */
		}
		for (CK_ULONG j = 0; j < nslots; j++) {
			CK_SLOT_INFO si;
			CK_TOKEN_INFO ti;
			if (want_slot != (CK_SLOT_ID)-1 && slots[j] != want_slot)
				continue;
			if (fn->C_GetSlotInfo(slots[j], &si) != CKR_OK ||
			    !p11kit.uri_match_slot_info(uri, &si))
				continue;
			if (fn->C_GetTokenInfo(slots[j], &ti) != CKR_OK)
				continue;
			if (!(ti.flags & CKF_TOKEN_INITIALIZED) ||
			    !p11kit.uri_match_token_info(uri, &ti))
				continue;
			if (++matches == 1) {
				k->fn = fn;
				k->slot = slots[j];
				k->token_flags = ti.flags;
				printable_label(ti.label, sizeof(ti.label), k->token,
						sizeof(k->token));
			}
		}
		free(slots);
	}
	if (matches == 0) {
		char what[96];
		describe_token(uri, what, sizeof(what));
		return vouch_err_set(err, VOUCH_E_NOTFOUND, "PKCS#11 %s not found", what);
	}
	if (matches > 1)
		return vouch_err_set(
		    err, VOUCH_E_USAGE,
		    "PKCS#11 URI matches %u tokens; name one with token= or serial=", matches);
	return VOUCH_OK;
}

/* Reads the first line of a PIN file into pin (NUL-terminated). source is
 * a pin-source (path or file: URI), or a plain path when literal. */
static enum vouch_rc pin_from_file(const char *source, int literal, char *pin, size_t cap,
				   size_t *len, struct vouch_err *err)
{
	const char *path = source;
	char buf[VOUCH_P11_MAX_PIN + 2];
	size_t got = 0;
	int fd;
	enum vouch_rc rc = VOUCH_OK;

	if (literal) {
		/* --passphrase-file: taken as it is */
	} else if (strncmp(path, "file://", 7) == 0) {
		path += 7; /* file:///abs/path: empty authority only */
		if (path[0] != '/')
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "pin-source: file:// URI must name a local absolute "
					     "path (file:///...)");
	} else if (strncmp(path, "file:", 5) == 0) {
		path += 5; /* file:/abs or file:relative */
	} else if (path[0] != '/' && strchr(path, ':') != NULL) {
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "pin-source: only files (path or file: URI) are supported");
	}
	if (path[0] == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "pin-source: empty path");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO,
				     "pin-source %s: %s", path, strerror(errno));
	while (got < sizeof(buf)) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "pin-source %s: %s", path,
					   strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got) != NULL)
			break;
	}
	{
		size_t n = 0;
		while (n < got && buf[n] != '\n')
			n++;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		if (n > VOUCH_P11_MAX_PIN || n >= cap) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT, "pin-source %s: PIN longer than %d",
					   path, VOUCH_P11_MAX_PIN);
			goto out;
		}
		if (memchr(buf, 0, n) != NULL) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "pin-source %s: NUL byte in PIN",
					   path);
			goto out;
		}
		memcpy(pin, buf, n);
		pin[n] = 0;
		*len = n;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* Logs in as the user if the token asks for it. The PIN comes from the
 * URI (pin-value, pin-source), else opts->passphrase_file, else the
 * callback. */
static enum vouch_rc token_login(P11KitUri *uri, const struct vouch_key_opts *opts,
				 struct vouch_p11_key *k, struct vouch_err *err)
{
	CK_TOKEN_INFO ti;
	char pin[VOUCH_P11_MAX_PIN + 1];
	size_t pinlen = 0;
	const char *value = p11kit.uri_get_pin_value(uri);
	const char *source = p11kit.uri_get_pin_source(uri);
	int have_pin = 0;
	CK_RV rv;
	enum vouch_rc rc = VOUCH_OK;

	rv = k->fn->C_GetTokenInfo(k->slot, &ti);
	if (rv != CKR_OK)
		return ck_fail(err, "C_GetTokenInfo", rv);
	if (!(ti.flags & CKF_LOGIN_REQUIRED) && value == NULL && source == NULL)
		return VOUCH_OK;
	if (value != NULL) {
		pinlen = strlen(value);
		if (pinlen > VOUCH_P11_MAX_PIN)
			return vouch_err_set(err, VOUCH_E_LIMIT, "pin-value longer than %d",
					     VOUCH_P11_MAX_PIN);
		memcpy(pin, value, pinlen + 1);
		have_pin = 1;
	} else if (source != NULL) {
		rc = pin_from_file(source, 0, pin, sizeof(pin), &pinlen, err);
		if (rc != VOUCH_OK)
			goto out;
		have_pin = 1;
	} else if (opts != NULL && opts->passphrase_file != NULL) {
		rc = pin_from_file(opts->passphrase_file, 1, pin, sizeof(pin), &pinlen, err);
		if (rc != VOUCH_OK)
			goto out;
		have_pin = 1;
	} else if (!(ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
		char what[128];
		if (opts == NULL || opts->secret_cb == NULL)
			return vouch_err_set(err, VOUCH_E_USAGE,
					     "PIN for token '%s' needed: add pin-value or "
					     "pin-source to the URI, or give a PIN file",
					     k->token);
		snprintf(what, sizeof(what), "PIN for token '%s'", k->token);
		rc = opts->secret_cb(opts->secret_ctx, what, 0, pin, sizeof(pin), &pinlen, err);
		if (rc != VOUCH_OK)
			goto out;
		if (pinlen >= sizeof(pin)) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT, "PIN too long");
			goto out;
		}
		have_pin = 1;
	}
	/* Without a PIN on a protected authentication path (PIN pad), the
	 * token asks the user itself. */
	rv = k->fn->C_Login(k->session, CKU_USER, have_pin ? (CK_UTF8CHAR *)pin : NULL,
			    have_pin ? (CK_ULONG)pinlen : 0);
	switch (rv) {
	case CKR_OK:
	case CKR_USER_ALREADY_LOGGED_IN:
		break;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		rc = vouch_err_set(err, VOUCH_E_AUTH, "wrong PIN for token '%s'", k->token);
		break;
	case CKR_PIN_LOCKED:
		rc = vouch_err_set(err, VOUCH_E_AUTH, "PIN of token '%s' is locked", k->token);
		break;
	case CKR_PIN_EXPIRED:
		rc = vouch_err_set(err, VOUCH_E_AUTH, "PIN of token '%s' has expired", k->token);
		break;
	case CKR_USER_PIN_NOT_INITIALIZED:
		rc = vouch_err_set(err, VOUCH_E_AUTH, "token '%s' has no user PIN set", k->token);
		break;
	default:
		rc = ck_fail(err, "C_Login", rv);
		vouch_err_prefix(err, "token '%s': ", k->token);
		break;
	}
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	return rc;
}

/* Parses the URI, loads the module, finds the token, opens a session and
 * logs in. */
static enum vouch_rc p11_open(const char *uri_str, const struct vouch_key_opts *opts, int rw,
			      P11KitUri *uri, struct vouch_p11_key *k, struct vouch_err *err)
{
	P11KitUri *loc = NULL;
	char *text = NULL;
	CK_RV rv;
	int r;
	enum vouch_rc rc;

	if (uri_str == NULL || strncmp(uri_str, "pkcs11:", 7) != 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "not a PKCS#11 URI (pkcs11:...)");
	if (strlen(uri_str) > VOUCH_P11_MAX_URI)
		return vouch_err_set(err, VOUCH_E_LIMIT, "PKCS#11 URI longer than %d",
				     VOUCH_P11_MAX_URI);
	/* The message never quotes the URI: it may hold a PIN. */
	r = p11kit.uri_parse(uri_str, P11_KIT_URI_FOR_ANY, uri);
	if (r != P11_KIT_URI_OK)
		return vouch_err_set(err, VOUCH_E_USAGE, "invalid PKCS#11 URI: %s",
				     p11kit.uri_message(r));
	if (p11kit.uri_any_unrecognized(uri))
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "PKCS#11 URI has an attribute vouch does not understand");

	/* Location for logs: the same URI without pin-value. */
	loc = p11kit.uri_new();
	if (loc == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	r = p11kit.uri_parse(uri_str, P11_KIT_URI_FOR_ANY, loc);
	if (r == P11_KIT_URI_OK) {
		const char *pin = p11kit.uri_get_pin_value(loc);
		if (pin != NULL)
			OPENSSL_cleanse((void *)(uintptr_t)pin, strlen(pin));
		p11kit.uri_set_pin_value(loc, NULL);
		r = p11kit.uri_format(loc, P11_KIT_URI_FOR_ANY, &text);
	}
	uri_free_wiped(loc);
	if (r != P11_KIT_URI_OK || text == NULL || strstr(text, "?pin-value=") != NULL ||
	    strstr(text, "&pin-value=") != NULL) {
		free(text);
		return vouch_err_set(err, VOUCH_E_INTERNAL, "cannot format PKCS#11 URI");
	}
	k->location = text;

	rc = modules_load(uri, opts, &k->mods, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = token_find(uri, k, err);
	if (rc != VOUCH_OK)
		return rc;
	if (rw && (k->token_flags & CKF_WRITE_PROTECTED))
		return vouch_err_set(err, VOUCH_E_DENIED, "token '%s' is write-protected",
				     k->token);
	rv = k->fn->C_OpenSession(k->slot, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL,
				  NULL, &k->session);
	if (rv != CKR_OK) {
		ck_fail(err, "C_OpenSession", rv);
		vouch_err_prefix(err, "token '%s': ", k->token);
		return err != NULL ? err->code : VOUCH_E_CRYPTO;
	}
	k->has_session = 1;
	return token_login(uri, opts, k, err);
}

/* Reads one attribute (at most VOUCH_P11_MAX_ATTR bytes) into a new buffer.
 * VOUCH_E_NOTFOUND when the object does not have or reveal it. */
static enum vouch_rc attr_get(struct vouch_p11_key *k, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
			      uint8_t **out, size_t *outlen, struct vouch_err *err)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	uint8_t *p = NULL;
	CK_ULONG want;
	CK_RV rv = k->fn->C_GetAttributeValue(k->session, obj, &a, 1);

	*out = NULL;
	*outlen = 0;
	if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		return vouch_err_set(err, VOUCH_E_NOTFOUND, "attribute 0x%lx not available",
				     (unsigned long)type);
	if (rv != CKR_OK)
		return ck_fail(err, "C_GetAttributeValue", rv);
	if (a.ulValueLen > VOUCH_P11_MAX_ATTR)
		return vouch_err_set(err, VOUCH_E_LIMIT, "PKCS#11 attribute 0x%lx is %lu bytes",
				     (unsigned long)type, (unsigned long)a.ulValueLen);
	want = a.ulValueLen;
	p = malloc(want > 0 ? want : 1);
	if (p == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	a.pValue = p;
	rv = k->fn->C_GetAttributeValue(k->session, obj, &a, 1);
	if (rv != CKR_OK || a.ulValueLen != want) {
		free(p);
		if (rv == CKR_OK)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "PKCS#11 attribute 0x%lx changed size",
					     (unsigned long)type);
		return ck_fail(err, "C_GetAttributeValue", rv);
	}
	*out = p;
	*outlen = want;
	return VOUCH_OK;
}

static enum vouch_rc attr_ulong(struct vouch_p11_key *k, CK_OBJECT_HANDLE obj,
				CK_ATTRIBUTE_TYPE type, CK_ULONG *v, struct vouch_err *err)
{
	CK_ATTRIBUTE a = {type, v, sizeof(*v)};
	CK_RV rv = k->fn->C_GetAttributeValue(k->session, obj, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == sizeof(*v))
		return VOUCH_OK;
	if (rv == CKR_OK)
		return vouch_err_set(err, VOUCH_E_FORMAT, "PKCS#11 attribute 0x%lx has bad size",
				     (unsigned long)type);
	return ck_fail(err, "C_GetAttributeValue", rv);
}

static enum vouch_rc attr_bool(struct vouch_p11_key *k, CK_OBJECT_HANDLE obj,
			       CK_ATTRIBUTE_TYPE type, int *v, struct vouch_err *err)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = {type, &b, sizeof(b)};
	CK_RV rv = k->fn->C_GetAttributeValue(k->session, obj, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == sizeof(b)) {
		*v = b != CK_FALSE;
		return VOUCH_OK;
	}
	if (rv == CKR_OK)
		return vouch_err_set(err, VOUCH_E_FORMAT, "PKCS#11 attribute 0x%lx has bad size",
				     (unsigned long)type);
	return ck_fail(err, "C_GetAttributeValue", rv);
}

/* Finds objects matching tmpl; *count is how many (up to max). */
static enum vouch_rc find_objects(struct vouch_p11_key *k, CK_ATTRIBUTE *tmpl, CK_ULONG n,
				  CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *count,
				  struct vouch_err *err)
{
	CK_RV rv = k->fn->C_FindObjectsInit(k->session, tmpl, n);
	*count = 0;
	if (rv != CKR_OK)
		return ck_fail(err, "C_FindObjectsInit", rv);
	rv = k->fn->C_FindObjects(k->session, found, max, count);
	(void)k->fn->C_FindObjectsFinal(k->session);
	if (rv != CKR_OK)
		return ck_fail(err, "C_FindObjects", rv);
	if (*count > max)
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "PKCS#11 module returned too many objects");
	return VOUCH_OK;
}

static enum vouch_rc mech_supported(struct vouch_p11_key *k, CK_MECHANISM_TYPE mech, int *yes,
				    struct vouch_err *err)
{
	CK_ULONG n = 0, cap = 0;
	CK_MECHANISM_TYPE *list = NULL;
	CK_RV rv = k->fn->C_GetMechanismList(k->slot, NULL, &n);

	*yes = 0;
	if (rv != CKR_OK)
		return ck_fail(err, "C_GetMechanismList", rv);
	if (n > VOUCH_P11_MAX_MECHS)
		return vouch_err_set(err, VOUCH_E_LIMIT, "token reports %lu mechanisms",
				     (unsigned long)n);
	if (n == 0)
		return VOUCH_OK;
	list = calloc(n, sizeof(*list));
	if (list == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	cap = n;
	rv = k->fn->C_GetMechanismList(k->slot, list, &n);
	if (rv != CKR_OK) {
		free(list);
		return ck_fail(err, "C_GetMechanismList", rv);
	}
	/* A module that reports more than fits did not write them all: never
	 * read past what we allocated. */
	if (n > cap) {
		free(list);
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "PKCS#11 module returned more mechanisms than it announced");
	}
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == mech)
			*yes = 1;
	free(list);
	return VOUCH_OK;
}

/* --- public keys -------------------------------------------------------- */

/* CKA_EC_POINT: a DER OCTET STRING around the point (the standard), or the
 * bare point (some modules). Only the exact expected sizes are accepted. */
static enum vouch_rc ec_point_unwrap(const uint8_t *p, size_t len, size_t want, const uint8_t **pt,
				     struct vouch_err *err)
{
	if (len == want + 2 && p[0] == 0x04 && p[1] == want) {
		*pt = p + 2;
		return VOUCH_OK;
	}
	if (len == want && (want != 65 || p[0] == 0x04)) {
		*pt = p;
		return VOUCH_OK;
	}
	return vouch_err_set(err, VOUCH_E_FORMAT, "PKCS#11 CKA_EC_POINT has unexpected form");
}

static enum vouch_rc pub_from_ec(const uint8_t *point, size_t len, EVP_PKEY **out,
				 struct vouch_err *err)
{
	const uint8_t *pt = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pkey = NULL;
	enum vouch_rc rc = ec_point_unwrap(point, len, 65, &pt, err);

	if (rc != VOUCH_OK)
		return rc;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 65) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "building EC public key");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "token's EC public key is invalid");
		goto out;
	}
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (check == NULL || EVP_PKEY_public_check(check) != 1) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT,
				       "token's EC public key is not on the curve");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

static enum vouch_rc pub_from_ed25519(const uint8_t *point, size_t len, EVP_PKEY **out,
				      struct vouch_err *err)
{
	const uint8_t *pt = NULL;
	enum vouch_rc rc = ec_point_unwrap(point, len, 32, &pt, err);
	if (rc != VOUCH_OK)
		return rc;
	*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, 32);
	if (*out == NULL)
		return vouch_err_openssl(err, VOUCH_E_FORMAT, "token's Ed25519 key is invalid");
	return VOUCH_OK;
}

static enum vouch_rc pub_from_rsa(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
				  EVP_PKEY **out, struct vouch_err *err)
{
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	enum vouch_rc rc = VOUCH_OK;
	int bits;

	if (nlen == 0 || elen == 0 || elen > 8)
		return vouch_err_set(err, VOUCH_E_FORMAT, "token's RSA public key is malformed");
	bn = BN_bin2bn(n, (int)nlen, NULL);
	be = BN_bin2bn(e, (int)elen, NULL);
	if (bn == NULL || be == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_NOMEM, "RSA public key");
		goto out;
	}
	bits = BN_num_bits(bn);
	if (bits < VOUCH_P11_RSA_MIN_BITS || bits > VOUCH_P11_RSA_MAX_BITS || !BN_is_odd(be) ||
	    BN_is_one(be)) {
		rc = vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				   "token's RSA key (%d bits) is outside what vouch accepts", bits);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "building RSA public key");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "token's RSA public key is invalid");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return rc;
}

/* Reads the public key of the given vouch type from obj (a public key
 * object, or the private key object when the public one is missing). */
static enum vouch_rc pub_from_object(struct vouch_p11_key *k, CK_OBJECT_HANDLE obj,
				     enum vouch_key_type type, EVP_PKEY **out,
				     struct vouch_err *err)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	enum vouch_rc rc;

	if (type == VOUCH_KEY_RSA) {
		rc = attr_get(k, obj, CKA_MODULUS, &a, &alen, err);
		if (rc == VOUCH_OK)
			rc = attr_get(k, obj, CKA_PUBLIC_EXPONENT, &b, &blen, err);
		if (rc == VOUCH_OK)
			rc = pub_from_rsa(a, alen, b, blen, out, err);
	} else {
		rc = attr_get(k, obj, CKA_EC_POINT, &a, &alen, err);
		if (rc == VOUCH_OK)
			rc = type == VOUCH_KEY_ED25519 ? pub_from_ed25519(a, alen, out, err)
						       : pub_from_ec(a, alen, out, err);
	}
	free(a);
	free(b);
	return rc;
}

/* The vouch type of a key object, from CKA_KEY_TYPE and the curve. */
static enum vouch_rc key_type_of(struct vouch_p11_key *k, CK_OBJECT_HANDLE obj,
				 enum vouch_key_type *type, struct vouch_err *err)
{
	CK_ULONG kt = 0;
	uint8_t *params = NULL;
	size_t plen = 0;
	enum vouch_rc rc = attr_ulong(k, obj, CKA_KEY_TYPE, &kt, err);

	if (rc != VOUCH_OK)
		return rc;
	if (kt == CKK_RSA) {
		*type = VOUCH_KEY_RSA;
		return VOUCH_OK;
	}
	if (kt != CKK_EC && kt != CKK_EC_EDWARDS)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "PKCS#11 key type 0x%lx is not supported", (unsigned long)kt);
	rc = attr_get(k, obj, CKA_EC_PARAMS, &params, &plen, err);
	if (rc != VOUCH_OK)
		return rc;
	if (kt == CKK_EC && plen == sizeof(oid_p256) && memcmp(params, oid_p256, plen) == 0)
		*type = VOUCH_KEY_ECDSA_P256;
	else if (kt == CKK_EC_EDWARDS &&
		 ((plen == sizeof(oid_ed25519) && memcmp(params, oid_ed25519, plen) == 0) ||
		  (plen == sizeof(str_ed25519) && memcmp(params, str_ed25519, plen) == 0)))
		*type = VOUCH_KEY_ED25519;
	else
		rc = vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				   "PKCS#11 key on a curve other than P-256 or Ed25519");
	free(params);
	return rc;
}

/* The public key of an X.509 certificate object, if it is of the given
 * type (DER must be exactly one certificate). */
static enum vouch_rc pub_from_cert(struct vouch_p11_key *k, CK_OBJECT_HANDLE obj,
				   enum vouch_key_type type, EVP_PKEY **out, struct vouch_err *err)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	char group[64] = "";
	int ok = 0;
	enum vouch_rc rc = attr_get(k, obj, CKA_VALUE, &der, &len, err);

	if (rc != VOUCH_OK)
		return rc;
	p = der;
	if (len > 0 && len <= LONG_MAX)
		x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		rc = vouch_err_openssl(err, VOUCH_E_FORMAT, "token '%s': malformed certificate",
				       k->token);
		goto out;
	}
	pkey = X509_get_pubkey(x);
	if (pkey != NULL) {
		if (type == VOUCH_KEY_ED25519)
			ok = EVP_PKEY_is_a(pkey, "ED25519");
		else if (type == VOUCH_KEY_ECDSA_P256)
			ok = EVP_PKEY_is_a(pkey, "EC") &&
			     EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) == 1 &&
			     strcmp(group, "prime256v1") == 0;
		else
			ok = EVP_PKEY_is_a(pkey, "RSA") &&
			     EVP_PKEY_get_bits(pkey) >= VOUCH_P11_RSA_MIN_BITS &&
			     EVP_PKEY_get_bits(pkey) <= VOUCH_P11_RSA_MAX_BITS;
	}
	if (!ok) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "token '%s': certificate key does not match the private key",
				   k->token);
		goto out;
	}
	*out = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	X509_free(x);
	free(der);
	return rc;
}

/* The public half of the private key: the public key object with the same
 * CKA_ID (else label), else what the private object itself reveals, else
 * the certificate with the same CKA_ID. */
static enum vouch_rc find_public(struct vouch_p11_key *k, enum vouch_key_type type,
				 struct vouch_err *err)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	uint8_t *id = NULL, *label = NULL;
	size_t idlen = 0, labellen = 0;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG count = 0;
	enum vouch_rc rc;

	if (attr_get(k, k->priv, CKA_ID, &id, &idlen, NULL) == VOUCH_OK && idlen > 0) {
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, idlen}};
		rc = find_objects(k, t, 2, found, 2, &count, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	if (count == 0 && attr_get(k, k->priv, CKA_LABEL, &label, &labellen, NULL) == VOUCH_OK &&
	    labellen > 0) {
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, label, labellen}};
		rc = find_objects(k, t, 2, found, 2, &count, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	if (count > 1) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT,
				   "token '%s' holds several public keys for this key", k->token);
		goto out;
	}
	if (count == 1) {
		enum vouch_key_type pt = 0;
		rc = key_type_of(k, found[0], &pt, err);
		if (rc != VOUCH_OK)
			goto out;
		if (pt != type) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "token '%s': public key type differs from private key",
					   k->token);
			goto out;
		}
		rc = pub_from_object(k, found[0], type, &k->pub, err);
		goto out;
	}
	rc = pub_from_object(k, k->priv, type, &k->pub, NULL);
	if (rc == VOUCH_OK)
		goto out;
	if (idlen > 0) {
		/* Some tokens (PIV) keep only a certificate next to the key. */
		CK_OBJECT_CLASS cert = CKO_CERTIFICATE;
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &cert, sizeof(cert)}, {CKA_ID, id, idlen}};
		rc = find_objects(k, t, 2, found, 2, &count, err);
		if (rc != VOUCH_OK)
			goto out;
		if (count == 1) {
			rc = pub_from_cert(k, found[0], type, &k->pub, err);
			goto out;
		}
	}
	rc =
	    vouch_err_set(err, VOUCH_E_NOTFOUND,
			  "token '%s': no public key or certificate object for this key", k->token);
out:
	free(id);
	free(label);
	return rc;
}

/* --- open --------------------------------------------------------------- */

static void key_free(struct vouch_p11_key *k)
{
	if (k == NULL)
		return;
	if (k->has_session)
		(void)k->fn->C_CloseSession(k->session);
	modules_release(&k->mods);
	EVP_PKEY_free(k->pub);
	free(k->location);
	free(k);
}

void vouch_p11_free(struct vouch_p11_key *k)
{
	key_free(k);
}

const char *vouch_p11_location(const struct vouch_p11_key *k)
{
	return k != NULL && k->location != NULL ? k->location : "";
}

static enum vouch_rc check_object_type(P11KitUri *uri, struct vouch_err *err)
{
	CK_ATTRIBUTE *a = p11kit.uri_get_attribute(uri, CKA_CLASS);
	CK_OBJECT_CLASS cls;
	if (a == NULL)
		return VOUCH_OK;
	if (a->ulValueLen == sizeof(cls)) {
		memcpy(&cls, a->pValue, sizeof(cls));
		if (cls == CKO_PRIVATE_KEY)
			return VOUCH_OK;
	}
	return vouch_err_set(err, VOUCH_E_USAGE,
			     "PKCS#11 URI must name a private key (type=private)");
}

static enum vouch_rc choose_rsa_mech(struct vouch_p11_key *k, struct vouch_err *err)
{
	int yes = 0;
	enum vouch_rc rc = mech_supported(k, CKM_RSA_PKCS_PSS, &yes, err);
	if (rc != VOUCH_OK)
		return rc;
	if (yes) {
		k->rsa_mech = CKM_RSA_PKCS_PSS;
		return VOUCH_OK;
	}
	rc = mech_supported(k, CKM_SHA256_RSA_PKCS_PSS, &yes, err);
	if (rc != VOUCH_OK)
		return rc;
	if (yes) {
		k->rsa_mech = CKM_SHA256_RSA_PKCS_PSS;
		return VOUCH_OK;
	}
	return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "token '%s' cannot sign with RSA-PSS",
			     k->token);
}

static enum vouch_rc check_sign_mech(struct vouch_p11_key *k, enum vouch_key_type type,
				     struct vouch_err *err)
{
	int yes = 0;
	enum vouch_rc rc;
	if (type == VOUCH_KEY_RSA)
		return choose_rsa_mech(k, err);
	rc = mech_supported(k, type == VOUCH_KEY_ED25519 ? CKM_EDDSA : CKM_ECDSA, &yes, err);
	if (rc != VOUCH_OK)
		return rc;
	if (!yes)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "token '%s' cannot sign with %s",
				     k->token, type == VOUCH_KEY_ED25519 ? "EdDSA" : "ECDSA");
	return VOUCH_OK;
}

enum vouch_rc vouch_p11_open_key(const char *uri_str, const struct vouch_key_opts *opts,
				 struct vouch_p11_key **out, EVP_PKEY **pub,
				 enum vouch_key_type *type, struct vouch_err *err)
{
	P11KitUri *uri = NULL;
	struct vouch_p11_key *k = NULL;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG n = 0, count = 0;
	CK_ATTRIBUTE *label, *id;
	CK_OBJECT_HANDLE found[2];
	enum vouch_rc rc;
	char name[96] = "";

	*out = NULL;
	*pub = NULL;
	rc = p11kit_load(err);
	if (rc != VOUCH_OK)
		return rc;
	k = calloc(1, sizeof(*k));
	uri = p11kit.uri_new();
	if (k == NULL || uri == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = p11_open(uri_str, opts, 0, uri, k, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = check_object_type(uri, err);
	if (rc != VOUCH_OK)
		goto out;
	label = p11kit.uri_get_attribute(uri, CKA_LABEL);
	id = p11kit.uri_get_attribute(uri, CKA_ID);
	if ((label == NULL || label->ulValueLen == 0) && (id == NULL || id->ulValueLen == 0)) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "PKCS#11 URI must name the key (object= or id=)");
		goto out;
	}
	tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	if (label != NULL) {
		tmpl[n++] = *label;
		printable_bytes(label->pValue, label->ulValueLen, name, sizeof(name));
	}
	if (id != NULL)
		tmpl[n++] = *id;
	rc = find_objects(k, tmpl, n, found, 2, &count, err);
	if (rc != VOUCH_OK)
		goto out;
	if (count == 0) {
		rc = vouch_err_set(err, VOUCH_E_NOTFOUND, "token '%s' has no private key %s%s%s",
				   k->token, label != NULL ? "'" : "with that id",
				   label != NULL ? name : "", label != NULL ? "'" : "");
		goto out;
	}
	if (count > 1) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "token '%s' has several private keys matching the URI; "
				   "add id= to choose",
				   k->token);
		goto out;
	}
	k->priv = found[0];
	rc = key_type_of(k, k->priv, &k->type, err);
	if (rc == VOUCH_OK)
		rc = find_public(k, k->type, err);
	if (rc == VOUCH_OK)
		rc = check_sign_mech(k, k->type, err);
	if (rc != VOUCH_OK)
		goto out;
	if (!EVP_PKEY_up_ref(k->pub)) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "EVP_PKEY_up_ref");
		goto out;
	}
	*pub = k->pub;
	*type = k->type;
	*out = k;
	k = NULL;
out:
	key_free(k);
	uri_free_wiped(uri);
	return rc;
}

/* --- generate ----------------------------------------------------------- */

static enum vouch_rc refuse_existing(struct vouch_p11_key *k, CK_ATTRIBUTE *attr,
				     struct vouch_err *err)
{
	CK_OBJECT_HANDLE found[1];
	CK_ULONG count = 0;
	char shown[96];
	enum vouch_rc rc = find_objects(k, attr, 1, found, 1, &count, err);
	if (rc != VOUCH_OK)
		return rc;
	if (count == 0)
		return VOUCH_OK;
	if (attr->type == CKA_LABEL) {
		printable_bytes(attr->pValue, attr->ulValueLen, shown, sizeof(shown));
		return vouch_err_set(err, VOUCH_E_EXISTS,
				     "token '%s' already has an object labelled '%s'", k->token,
				     shown);
	}
	return vouch_err_set(err, VOUCH_E_EXISTS, "token '%s' already has an object with this id",
			     k->token);
}

enum vouch_rc vouch_p11_generate(enum vouch_key_type type, unsigned bits, const char *uri_str,
				 const struct vouch_key_opts *opts, struct vouch_p11_key **out,
				 EVP_PKEY **pub, struct vouch_err *err)
{
	P11KitUri *uri = NULL;
	struct vouch_p11_key *k = NULL;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG modbits = bits;
	CK_BYTE exponent[] = {0x01, 0x00, 0x01};
	CK_BYTE rand_id[16];
	uint8_t ecparams[sizeof(str_ed25519)];
	CK_ATTRIBUTE pubt[10], privt[10];
	CK_ULONG npub = 0, npriv = 0;
	CK_ATTRIBUTE *label, *id;
	CK_ATTRIBUTE label_attr, id_attr;
	CK_MECHANISM mech = {0, NULL, 0};
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	CK_RV rv;
	int ok = 0, sensitive = 0, extractable = 1;
	enum vouch_rc rc;
	enum vouch_key_type got = 0;

	*pub = NULL;
	if (out != NULL)
		*out = NULL;
	if (type == VOUCH_KEY_RSA && bits != 3072 && bits != 4096)
		return vouch_err_set(err, VOUCH_E_USAGE, "RSA keys are 3072 or 4096 bits");
	if (type != VOUCH_KEY_RSA && type != VOUCH_KEY_ECDSA_P256 && type != VOUCH_KEY_ED25519)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED, "unknown key type");
	rc = p11kit_load(err);
	if (rc != VOUCH_OK)
		return rc;
	k = calloc(1, sizeof(*k));
	uri = p11kit.uri_new();
	if (k == NULL || uri == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = p11_open(uri_str, opts, 1, uri, k, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = check_object_type(uri, err);
	if (rc != VOUCH_OK)
		goto out;
	label = p11kit.uri_get_attribute(uri, CKA_LABEL);
	id = p11kit.uri_get_attribute(uri, CKA_ID);
	if (label == NULL || label->ulValueLen == 0 || label->ulValueLen > VOUCH_P11_MAX_LABEL) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "PKCS#11 URI must name the new key with object= (1 to %d bytes)",
				   VOUCH_P11_MAX_LABEL);
		goto out;
	}
	if (id != NULL && (id->ulValueLen == 0 || id->ulValueLen > VOUCH_P11_MAX_ID)) {
		rc = vouch_err_set(err, VOUCH_E_USAGE, "PKCS#11 URI id= must be 1 to %d bytes",
				   VOUCH_P11_MAX_ID);
		goto out;
	}
	label_attr = *label;
	rc = refuse_existing(k, &label_attr, err);
	if (rc != VOUCH_OK)
		goto out;
	if (id != NULL) {
		id_attr = *id;
		rc = refuse_existing(k, &id_attr, err);
		if (rc != VOUCH_OK)
			goto out;
	} else {
		if (RAND_bytes(rand_id, sizeof(rand_id)) != 1) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "RAND_bytes");
			goto out;
		}
		id_attr = (CK_ATTRIBUTE){CKA_ID, rand_id, sizeof(rand_id)};
	}

	switch (type) {
	case VOUCH_KEY_RSA:
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		break;
	case VOUCH_KEY_ECDSA_P256:
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		memcpy(ecparams, oid_p256, sizeof(oid_p256));
		break;
	case VOUCH_KEY_ED25519:
		mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		memcpy(ecparams, oid_ed25519, sizeof(oid_ed25519));
		break;
	}
	rc = mech_supported(k, mech.mechanism, &ok, err);
	if (rc != VOUCH_OK)
		goto out;
	if (!ok) {
		rc = vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				   "token '%s' cannot generate %s keys; use another --type",
				   k->token,
				   type == VOUCH_KEY_RSA       ? "RSA"
				   : type == VOUCH_KEY_ED25519 ? "Ed25519"
							       : "ECDSA P-256");
		goto out;
	}
	rc = check_sign_mech(k, type, err);
	if (rc != VOUCH_OK)
		goto out;

	pubt[npub++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof(no)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, sizeof(no)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_WRAP, &no, sizeof(no)};
	pubt[npub++] = label_attr;
	pubt[npub++] = id_attr;
	if (type == VOUCH_KEY_RSA) {
		pubt[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &modbits, sizeof(modbits)};
		pubt[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)};
	} else {
		pubt[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, ecparams,
					      type == VOUCH_KEY_ED25519 ? sizeof(oid_ed25519)
									: sizeof(oid_p256)};
	}
	privt[npriv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof(yes)};
	/* A signing key only: no decryption, unwrapping or derivation. */
	privt[npriv++] = (CK_ATTRIBUTE){CKA_DECRYPT, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_UNWRAP, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
	privt[npriv++] = label_attr;
	privt[npriv++] = id_attr;

	rv = k->fn->C_GenerateKeyPair(k->session, &mech, pubt, npub, privt, npriv, &hpub, &hpriv);
	if (type == VOUCH_KEY_ED25519 &&
	    (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_DOMAIN_PARAMS_INVALID ||
	     rv == CKR_CURVE_NOT_SUPPORTED)) {
		/* PKCS#11 3.0 also names the curve by the printable string. */
		memcpy(ecparams, str_ed25519, sizeof(str_ed25519));
		pubt[npub - 1].ulValueLen = sizeof(str_ed25519);
		rv = k->fn->C_GenerateKeyPair(k->session, &mech, pubt, npub, privt, npriv, &hpub,
					      &hpriv);
	}
	if (rv != CKR_OK) {
		hpub = hpriv = CK_INVALID_HANDLE;
		rc = ck_fail(err, "C_GenerateKeyPair", rv);
		vouch_err_prefix(err, "token '%s': ", k->token);
		goto out;
	}
	k->priv = hpriv;
	k->type = type;

	/* Fail closed if the token ignored what we asked for. */
	rc = attr_bool(k, hpriv, CKA_SENSITIVE, &sensitive, err);
	if (rc == VOUCH_OK)
		rc = attr_bool(k, hpriv, CKA_EXTRACTABLE, &extractable, err);
	if (rc == VOUCH_OK && (!sensitive || extractable))
		rc = vouch_err_set(err, VOUCH_E_CRYPTO,
				   "token '%s' made an extractable private key; removed it",
				   k->token);
	if (rc == VOUCH_OK)
		rc = key_type_of(k, hpriv, &got, err);
	if (rc == VOUCH_OK && got != type)
		rc = vouch_err_set(err, VOUCH_E_CRYPTO, "token '%s' made a key of another type",
				   k->token);
	if (rc == VOUCH_OK)
		rc = pub_from_object(k, hpub, type, &k->pub, err);
	if (rc == VOUCH_OK && type == VOUCH_KEY_RSA && EVP_PKEY_get_bits(k->pub) != (int)bits)
		rc = vouch_err_set(err, VOUCH_E_CRYPTO, "token '%s' made an RSA key of %d bits",
				   k->token, EVP_PKEY_get_bits(k->pub));
	if (rc != VOUCH_OK)
		goto out;
	if (!EVP_PKEY_up_ref(k->pub)) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "EVP_PKEY_up_ref");
		goto out;
	}
	*pub = k->pub;
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
out:
	if (rc != VOUCH_OK && k != NULL && k->has_session) {
		if (hpriv != CK_INVALID_HANDLE)
			(void)k->fn->C_DestroyObject(k->session, hpriv);
		if (hpub != CK_INVALID_HANDLE)
			(void)k->fn->C_DestroyObject(k->session, hpub);
	}
	OPENSSL_cleanse(rand_id, sizeof(rand_id));
	key_free(k);
	uri_free_wiped(uri);
	return rc;
}

/* --- sign --------------------------------------------------------------- */

/* Raw r||s (PKCS#11 ECDSA) -> DER ECDSA-Sig-Value (TUF, OpenSSL). */
static enum vouch_rc ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t **der, size_t *derlen,
				      struct vouch_err *err)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	unsigned char *p = NULL;
	int n;

	if (len != 64)
		return vouch_err_set(err, VOUCH_E_CRYPTO,
				     "token returned a %zu-byte ECDSA signature", len);
	s = ECDSA_SIG_new();
	r = BN_bin2bn(raw, 32, NULL);
	ss = BN_bin2bn(raw + 32, 32, NULL);
	if (s == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(s, r, ss)) {
		ECDSA_SIG_free(s);
		BN_free(r);
		BN_free(ss);
		return vouch_err_openssl(err, VOUCH_E_NOMEM, "ECDSA signature");
	}
	n = i2d_ECDSA_SIG(s, &p);
	ECDSA_SIG_free(s);
	if (n <= 0)
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "encoding ECDSA signature");
	*der = malloc((size_t)n);
	if (*der == NULL) {
		OPENSSL_free(p);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	memcpy(*der, p, (size_t)n);
	*derlen = (size_t)n;
	OPENSSL_free(p);
	return VOUCH_OK;
}

/* Checks the token's signature with the public key before anyone sees it. */
static enum vouch_rc self_verify(const struct vouch_p11_key *k, const void *msg, size_t len,
				 const uint8_t *sig, size_t siglen, struct vouch_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *h = k->type == VOUCH_KEY_ED25519 ? NULL : EVP_sha256();
	int ok = 0;

	if (md != NULL && EVP_DigestVerifyInit(md, &pctx, h, NULL, k->pub) == 1) {
		ok = 1;
		if (k->type == VOUCH_KEY_RSA)
			ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
			     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
		ok = ok && EVP_DigestVerify(md, sig, siglen, msg, len) == 1;
	}
	EVP_MD_CTX_free(md);
	if (!ok)
		return vouch_err_openssl(err, VOUCH_E_CRYPTO,
					 "token '%s' made a signature its public key does not "
					 "verify",
					 k->token);
	return VOUCH_OK;
}

enum vouch_rc vouch_p11_sign(struct vouch_p11_key *k, enum vouch_key_type type, const void *msg,
			     size_t len, uint8_t **sig, size_t *siglen, struct vouch_err *err)
{
	uint8_t digest[32];
	uint8_t raw[VOUCH_SIG_MAX];
	CK_ULONG rawlen = sizeof(raw);
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM mech = {0, NULL, 0};
	const void *in = msg != NULL ? msg : "";
	CK_ULONG inlen;
	CK_RV rv;
	enum vouch_rc rc;

	*sig = NULL;
	*siglen = 0;
	if (k == NULL || k->pub == NULL)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "no PKCS#11 key");
	if (type != k->type)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "PKCS#11 key type mismatch");
	if (msg == NULL && len > 0)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "no message");
	inlen = (CK_ULONG)len;
	switch (type) {
	case VOUCH_KEY_ED25519:
		mech.mechanism = CKM_EDDSA; /* pure Ed25519 over the message */
		break;
	case VOUCH_KEY_ECDSA_P256:
		mech.mechanism = CKM_ECDSA;
		break;
	case VOUCH_KEY_RSA:
		mech.mechanism = k->rsa_mech;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		break;
	default:
		return vouch_err_set(err, VOUCH_E_INTERNAL, "unknown key type");
	}
	if (type == VOUCH_KEY_ECDSA_P256 ||
	    (type == VOUCH_KEY_RSA && k->rsa_mech == CKM_RSA_PKCS_PSS)) {
		if (EVP_Digest(msg != NULL ? msg : "", len, digest, NULL, EVP_sha256(), NULL) != 1)
			return vouch_err_openssl(err, VOUCH_E_CRYPTO, "SHA-256");
		in = digest;
		inlen = sizeof(digest);
	}
	rv = k->fn->C_SignInit(k->session, &mech, k->priv);
	if (rv == CKR_OK)
		rv = k->fn->C_Sign(k->session, (CK_BYTE *)(uintptr_t)in, inlen, raw, &rawlen);
	if (rv != CKR_OK) {
		rc = ck_fail(err, "C_Sign", rv);
		vouch_err_prefix(err, "token '%s': ", k->token);
		return rc;
	}
	if (rawlen == 0 || rawlen > sizeof(raw))
		return vouch_err_set(err, VOUCH_E_CRYPTO, "token returned a bad signature length");
	if (type == VOUCH_KEY_RSA) {
		/* TUF's (and vouch's verify's) RSA signature is exactly as long
		 * as the modulus; a token that drops leading zero bytes gets
		 * them back, anything longer is refused. */
		int modlen = EVP_PKEY_get_size(k->pub);
		if (modlen <= 0 || (size_t)modlen > sizeof(raw) || rawlen > (CK_ULONG)modlen)
			return vouch_err_set(err, VOUCH_E_CRYPTO,
					     "token returned a %lu-byte RSA signature",
					     (unsigned long)rawlen);
		if (rawlen < (CK_ULONG)modlen) {
			size_t pad = (size_t)modlen - rawlen;
			memmove(raw + pad, raw, rawlen);
			memset(raw, 0, pad);
			rawlen = (CK_ULONG)modlen;
		}
	} else if (type == VOUCH_KEY_ED25519 && rawlen != 64) {
		return vouch_err_set(err, VOUCH_E_CRYPTO,
				     "token returned a %lu-byte Ed25519 signature",
				     (unsigned long)rawlen);
	}
	if (type == VOUCH_KEY_ECDSA_P256) {
		rc = ecdsa_raw_to_der(raw, rawlen, sig, siglen, err);
	} else {
		*sig = malloc(rawlen);
		if (*sig == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		memcpy(*sig, raw, rawlen);
		*siglen = rawlen;
		rc = VOUCH_OK;
	}
	if (rc == VOUCH_OK)
		rc = self_verify(k, msg != NULL ? msg : "", len, *sig, *siglen, err);
	if (rc != VOUCH_OK) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
	}
	return rc;
}
