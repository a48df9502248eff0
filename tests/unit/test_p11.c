/* PKCS#11 keys against a real SoftHSM2 token that this test creates in a
 * private temporary token directory (no mocks). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "key_internal.h"
#include "p11.h"

#define TOKEN "vouch-test"
#define PIN "5678"
#define WRONG_PIN "97531864"

static char tmpdir[256];
static const char *module;

/* SoftHSM 2.6.1 itself leaks a small ASN.1 string in C_SignInit for EdDSA
 * keys; that is not ours to fix, so LeakSanitizer is told to ignore leaks
 * whose stack goes through the module. The module stays mapped (see
 * group_setup) so that the stack can be resolved at exit. */
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);
/* Full unwinding, since libcrypto has no frame pointers to walk. */
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0:malloc_context_size=10";
}
const char *__lsan_default_suppressions(void)
{
	return "leak:libsofthsm2.so\n";
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int run_softhsm_util(void)
{
	pid_t pid = fork();
	int status = 0;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 1);
		execlp("softhsm2-util", "softhsm2-util", "--init-token", "--free", "--label", TOKEN,
		       "--so-pin", "1234", "--pin", PIN, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	char path[512];
	char conf[600];
	const char *base = getenv("TMPDIR");
	(void)state;
	module = getenv("VOUCH_TEST_SOFTHSM");
	if (module == NULL)
		module = "/usr/lib/softhsm/libsofthsm2.so";
	/* Deliberately never closed: see __lsan_default_suppressions. */
	if (dlopen(module, RTLD_NOW | RTLD_LOCAL) == NULL)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/vouch-p11-XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/tokens", tmpdir);
	if (mkdir(path, 0700) != 0)
		return -1;
	snprintf(conf, sizeof(conf),
		 "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		 path);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", tmpdir);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(conf, f) < 0 || fclose(f) != 0)
		return -1;
	setenv("SOFTHSM2_CONF", path, 1);
	unsetenv("VOUCH_PKCS11_MODULE");
	return run_softhsm_util();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct vouch_key_opts opts_module(void)
{
	struct vouch_key_opts o = {0};
	o.pkcs11_module = module;
	return o;
}

/* Independent check with OpenSSL of a signature in TUF's encoding. */
static int ossl_verify(EVP_PKEY *pub, enum vouch_key_type type, const void *msg, size_t len,
		       const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;
	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(
			     md, &pctx, type == VOUCH_KEY_ED25519 ? NULL : EVP_sha256(), NULL, pub),
			 1);
	if (type == VOUCH_KEY_RSA) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0);
	}
	ok = EVP_DigestVerify(md, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static void sign_and_check(struct vouch_p11_key *k, EVP_PKEY *pub, enum vouch_key_type type)
{
	static const char msg[] = "{\"signed\":{\"name\":\"release.img\"}}";
	struct vouch_err err = {0};
	uint8_t *sig = NULL;
	size_t siglen = 0;

	assert_int_equal(vouch_p11_sign(k, type, msg, strlen(msg), &sig, &siglen, &err), VOUCH_OK);
	if (type == VOUCH_KEY_ED25519)
		assert_int_equal(siglen, 64);
	else if (type == VOUCH_KEY_RSA)
		assert_int_equal(siglen, (size_t)EVP_PKEY_get_size(pub));
	else
		assert_true(siglen >= 8 && siglen <= 72 && sig[0] == 0x30);
	assert_true(ossl_verify(pub, type, msg, strlen(msg), sig, siglen));
	/* The check above can fail: a flipped bit or another message fails it. */
	assert_false(ossl_verify(pub, type, msg, strlen(msg) - 1, sig, siglen));
	sig[siglen / 2] ^= 0x01;
	assert_false(ossl_verify(pub, type, msg, strlen(msg), sig, siglen));
	free(sig);
}

/* Reads CKA_SENSITIVE/CKA_EXTRACTABLE of the private key labelled label
 * and tries to read its secret value, through our own session. */
static void check_not_extractable(const char *label, enum vouch_key_type type)
{
	CK_FUNCTION_LIST *fn = p11_kit_module_load(module, 0);
	CK_SLOT_ID slots[8];
	CK_ULONG nslots = 8, count = 0;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_OBJECT_HANDLE obj;
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, decrypt = CK_TRUE;
	uint8_t secret[1024];
	CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
			       {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
	CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
				{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
				{CKA_DECRYPT, &decrypt, sizeof(decrypt)}};
	CK_ATTRIBUTE value = {type == VOUCH_KEY_RSA ? CKA_PRIVATE_EXPONENT : CKA_VALUE, secret,
			      sizeof(secret)};

	assert_non_null(fn);
	assert_int_equal(p11_kit_module_initialize(fn), CKR_OK);
	assert_int_equal(fn->C_GetSlotList(CK_TRUE, slots, &nslots), CKR_OK);
	assert_true(nslots >= 1);
	assert_int_equal(fn->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(fn->C_Login(s, CKU_USER, (CK_UTF8CHAR *)(uintptr_t)PIN, 4), CKR_OK);
	assert_int_equal(fn->C_FindObjectsInit(s, find, 2), CKR_OK);
	assert_int_equal(fn->C_FindObjects(s, &obj, 1, &count), CKR_OK);
	assert_int_equal(fn->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(count, 1);
	assert_int_equal(fn->C_GetAttributeValue(s, obj, flags, 3), CKR_OK);
	assert_int_equal(sensitive, CK_TRUE);
	assert_int_equal(extractable, CK_FALSE);
	assert_int_equal(decrypt, CK_FALSE);
	/* The attack: read the secret part out of the token. */
	assert_int_equal(fn->C_GetAttributeValue(s, obj, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(value.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	(void)fn->C_CloseSession(s);
	(void)p11_kit_module_finalize(fn);
	p11_kit_module_release(fn);
}

/* An administrator's own session on the token, to tamper with objects. */
struct admin {
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE s;
};

static void admin_open(struct admin *a)
{
	CK_SLOT_ID slots[8];
	CK_ULONG nslots = 8;
	a->fn = p11_kit_module_load(module, 0);
	assert_non_null(a->fn);
	assert_int_equal(p11_kit_module_initialize(a->fn), CKR_OK);
	assert_int_equal(a->fn->C_GetSlotList(CK_TRUE, slots, &nslots), CKR_OK);
	assert_true(nslots >= 1);
	assert_int_equal(
	    a->fn->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &a->s),
	    CKR_OK);
	assert_int_equal(a->fn->C_Login(a->s, CKU_USER, (CK_UTF8CHAR *)(uintptr_t)PIN, 4), CKR_OK);
}

static void admin_close(struct admin *a)
{
	(void)a->fn->C_CloseSession(a->s);
	(void)p11_kit_module_finalize(a->fn);
	p11_kit_module_release(a->fn);
}

static CK_OBJECT_HANDLE admin_find(struct admin *a, CK_OBJECT_CLASS cls, const char *label)
{
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	CK_ULONG count = 0;
	CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
			       {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
	assert_int_equal(a->fn->C_FindObjectsInit(a->s, find, 2), CKR_OK);
	assert_int_equal(a->fn->C_FindObjects(a->s, &obj, 1, &count), CKR_OK);
	assert_int_equal(a->fn->C_FindObjectsFinal(a->s), CKR_OK);
	assert_int_equal(count, 1);
	return obj;
}

/* Stores an X.509 certificate for pub (issued by a throwaway key) with the
 * given CKA_ID; returns its handle. */
static CK_OBJECT_HANDLE admin_add_cert(struct admin *a, EVP_PKEY *pub, const uint8_t *id,
				       size_t idlen)
{
	X509 *x = X509_new();
	EVP_PKEY *signer = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL, *subj = NULL;
	int derlen, subjlen;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

	assert_non_null(x);
	assert_non_null(signer);
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"vouch test", -1, -1, 0),
			 1);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, signer, NULL) > 0);
	derlen = i2d_X509(x, &der);
	subjlen = i2d_X509_NAME(name, &subj);
	assert_true(derlen > 0 && subjlen > 0);
	{
		CK_ATTRIBUTE t[] = {
		    {CKA_CLASS, &cls, sizeof(cls)},	    {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
		    {CKA_TOKEN, &yes, sizeof(yes)},	    {CKA_ID, (void *)(uintptr_t)id, idlen},
		    {CKA_SUBJECT, subj, (CK_ULONG)subjlen}, {CKA_VALUE, der, (CK_ULONG)derlen},
		};
		assert_int_equal(a->fn->C_CreateObject(a->s, t, 6, &h), CKR_OK);
	}
	OPENSSL_free(der);
	OPENSSL_free(subj);
	X509_NAME_free(name);
	EVP_PKEY_free(signer);
	X509_free(x);
	return h;
}

static void gen_open_sign(enum vouch_key_type type, unsigned bits, const char *label)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL, *pub2 = NULL;
	enum vouch_key_type got = 0;
	char uri[256];

	snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN ";object=%s?pin-value=" PIN, label);
	assert_int_equal(vouch_p11_generate(type, bits, uri, &o, &k, &pub, &err), VOUCH_OK);
	assert_non_null(pub);
	if (type == VOUCH_KEY_RSA)
		assert_int_equal(EVP_PKEY_get_bits(pub), (int)bits);
	sign_and_check(k, pub, type);
	vouch_p11_free(k);
	check_not_extractable(label, type);

	k = NULL;
	assert_int_equal(vouch_p11_open_key(uri, &o, &k, &pub2, &got, &err), VOUCH_OK);
	assert_int_equal(got, type);
	assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
	sign_and_check(k, pub2, type);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
}

static void test_ecdsa(void **state)
{
	(void)state;
	gen_open_sign(VOUCH_KEY_ECDSA_P256, 0, "ec-key");
}

static void test_ed25519(void **state)
{
	(void)state;
	gen_open_sign(VOUCH_KEY_ED25519, 0, "ed-key");
}

static void test_rsa3072(void **state)
{
	(void)state;
	gen_open_sign(VOUCH_KEY_RSA, 3072, "rsa-key");
}

/* Opens uri; expects rc and a message containing want (and never the PIN). */
static void open_fails(const char *uri, const struct vouch_key_opts *o, enum vouch_rc rc,
		       const char *want)
{
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	enum vouch_key_type type = 0;
	assert_int_equal(vouch_p11_open_key(uri, o, &k, &pub, &type, &err), rc);
	assert_int_equal(err.code, rc);
	assert_null(k);
	assert_null(pub);
	if (strstr(err.msg, want) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, want);
	assert_null(strstr(err.msg, WRONG_PIN));
	assert_null(strstr(err.msg, PIN));
}

static void test_wrong_pin(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	(void)state;
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-value=" WRONG_PIN, &o, VOUCH_E_AUTH,
		   "wrong PIN for token 'vouch-test'");
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-value=", &o, VOUCH_E_AUTH,
		   "wrong PIN for token 'vouch-test'");
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=" TOKEN
					    ";object=never?pin-value=" WRONG_PIN,
					    &o, &k, &pub, &err),
			 VOUCH_E_AUTH);
	assert_null(k);
	assert_null(pub);
	assert_null(strstr(err.msg, WRONG_PIN));
	/* The right PIN still works: the wrong tries did not lock the token. */
	open_fails("pkcs11:token=" TOKEN ";object=never?pin-value=" PIN, &o, VOUCH_E_NOTFOUND,
		   "no private key 'never'");
}

static void test_not_found(void **state)
{
	struct vouch_key_opts o = opts_module();
	(void)state;
	open_fails("pkcs11:token=no-such-token;object=ec-key?pin-value=" PIN, &o, VOUCH_E_NOTFOUND,
		   "token 'no-such-token' not found");
	open_fails("pkcs11:token=" TOKEN ";object=no-such-key?pin-value=" PIN, &o, VOUCH_E_NOTFOUND,
		   "token 'vouch-test' has no private key 'no-such-key'");
	open_fails("pkcs11:token=" TOKEN ";id=%ff%fe?pin-value=" PIN, &o, VOUCH_E_NOTFOUND,
		   "no private key with that id");
}

static void test_existing_label_refused(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	(void)state;
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ED25519, 0,
					    "pkcs11:token=" TOKEN ";object=ec-key?pin-value=" PIN,
					    &o, &k, &pub, &err),
			 VOUCH_E_EXISTS);
	assert_string_equal(err.msg, "token 'vouch-test' already has an object labelled 'ec-key'");
	assert_null(k);
	assert_null(pub);
}

static void test_id_selects(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL, *pub2 = NULL;
	enum vouch_key_type type = 0;
	(void)state;
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=" TOKEN
					    ";object=by-id;id=%01%02%03?pin-value=" PIN,
					    &o, &k, &pub, &err),
			 VOUCH_OK);
	vouch_p11_free(k);
	k = NULL;
	/* Same id under another label is refused too. */
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=" TOKEN
					    ";object=other;id=%01%02%03?pin-value=" PIN,
					    &o, &k, &pub2, &err),
			 VOUCH_E_EXISTS);
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";id=%01%02%03?pin-value=" PIN,
					    &o, &k, &pub2, &type, &err),
			 VOUCH_OK);
	assert_int_equal(type, VOUCH_KEY_ECDSA_P256);
	assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
	sign_and_check(k, pub2, type);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
}

static void test_location_has_no_pin(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	enum vouch_key_type type = 0;
	(void)state;
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ec-key?pin-value=" PIN,
					    &o, &k, &pub, &type, &err),
			 VOUCH_OK);
	assert_string_equal(vouch_p11_location(k), "pkcs11:token=" TOKEN ";object=ec-key");
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	k = NULL;
	pub = NULL;
	/* pin-value among other query attributes, attributes in another order */
	assert_int_equal(vouch_p11_open_key("pkcs11:object=ec-key;token=" TOKEN "?pin-value=" PIN
					    "&module-name=softhsm2",
					    &o, &k, &pub, &type, &err),
			 VOUCH_OK);
	assert_string_equal(vouch_p11_location(k),
			    "pkcs11:token=" TOKEN ";object=ec-key?module-name=softhsm2");
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	assert_string_equal(vouch_p11_location(NULL), "");
}

static void test_pin_source(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	enum vouch_key_type type = 0;
	char path[300], uri[700], longpin[400];
	(void)state;

	snprintf(path, sizeof(path), "%s/pin", tmpdir);
	write_file(path, PIN "\nsecond line ignored\n");
	snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN ";object=ec-key?pin-source=%s", path);
	assert_int_equal(vouch_p11_open_key(uri, &o, &k, &pub, &type, &err), VOUCH_OK);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	k = NULL;
	pub = NULL;
	snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN ";object=ec-key?pin-source=file://%s",
		 path);
	assert_int_equal(vouch_p11_open_key(uri, &o, &k, &pub, &type, &err), VOUCH_OK);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);

	write_file(path, WRONG_PIN);
	snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN ";object=ec-key?pin-source=%s", path);
	open_fails(uri, &o, VOUCH_E_AUTH, "wrong PIN");

	memset(longpin, '7', sizeof(longpin) - 1);
	longpin[sizeof(longpin) - 1] = 0;
	write_file(path, longpin);
	open_fails(uri, &o, VOUCH_E_LIMIT, "PIN longer than");

	snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN ";object=ec-key?pin-source=%s/none",
		 tmpdir);
	open_fails(uri, &o, VOUCH_E_NOTFOUND, "pin-source");
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-source=exec:echo", &o,
		   VOUCH_E_UNSUPPORTED, "only files");
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-source=file://host/pin", &o,
		   VOUCH_E_USAGE, "local absolute path");

	/* opts->passphrase_file (vouch sign --passphrase-file) holds the PIN
	 * when the URI has none; its path is taken literally. */
	{
		struct vouch_key_opts po = opts_module();
		char odd[320];
		snprintf(odd, sizeof(odd), "%s/pin:file", tmpdir);
		write_file(odd, PIN "\n");
		po.passphrase_file = odd;
		k = NULL;
		pub = NULL;
		assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ec-key", &po, &k,
						    &pub, &type, &err),
				 VOUCH_OK);
		vouch_p11_free(k);
		EVP_PKEY_free(pub);
		write_file(odd, WRONG_PIN "\n");
		open_fails("pkcs11:token=" TOKEN ";object=ec-key", &po, VOUCH_E_AUTH, "wrong PIN");
	}

	/* file:relative is relative to the working directory. */
	write_file(path, PIN "\r\n");
	assert_int_equal(chdir(tmpdir), 0);
	k = NULL;
	pub = NULL;
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN
					    ";object=ec-key?pin-source=file:pin",
					    &o, &k, &pub, &type, &err),
			 VOUCH_OK);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	assert_int_equal(chdir("/"), 0);
}

struct cb_state {
	const char *pin;
	char what[128];
	int calls;
};

static enum vouch_rc pin_cb(void *ctx, const char *what, int confirm, char *buf, size_t cap,
			    size_t *len, struct vouch_err *err)
{
	struct cb_state *st = ctx;
	(void)err;
	assert_int_equal(confirm, 0);
	st->calls++;
	snprintf(st->what, sizeof(st->what), "%s", what);
	assert_true(strlen(st->pin) < cap);
	memcpy(buf, st->pin, strlen(st->pin) + 1);
	*len = strlen(st->pin);
	return VOUCH_OK;
}

static void test_pin_prompt(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct cb_state st = {PIN, "", 0};
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	enum vouch_key_type type = 0;
	(void)state;

	open_fails("pkcs11:token=" TOKEN ";object=ec-key", &o, VOUCH_E_USAGE, "PIN for token");
	o.secret_cb = pin_cb;
	o.secret_ctx = &st;
	assert_int_equal(
	    vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ec-key", &o, &k, &pub, &type, &err),
	    VOUCH_OK);
	assert_int_equal(st.calls, 1);
	assert_string_equal(st.what, "PIN for token 'vouch-test'");
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	st.pin = WRONG_PIN;
	open_fails("pkcs11:token=" TOKEN ";object=ec-key", &o, VOUCH_E_AUTH,
		   "wrong PIN for token 'vouch-test'");
	/* A PIN in the URI wins over the prompt. */
	st.calls = 0;
	open_fails("pkcs11:token=" TOKEN ";object=no-key?pin-value=" PIN, &o, VOUCH_E_NOTFOUND,
		   "no private key");
	assert_int_equal(st.calls, 0);
}

static void test_bad_uris(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	(void)state;
	open_fails("file:/etc/passwd", &o, VOUCH_E_USAGE, "not a PKCS#11 URI");
	open_fails("pkcs11:token=" TOKEN "?pin-value=" PIN, &o, VOUCH_E_USAGE, "object= or id=");
	open_fails("pkcs11:token=" TOKEN ";object=ec-key;type=cert?pin-value=" PIN, &o,
		   VOUCH_E_USAGE, "private key");
	open_fails("pkcs11:token=" TOKEN ";object=ec-key;frobnicate=1?pin-value=" PIN, &o,
		   VOUCH_E_USAGE, "does not understand");
	open_fails("pkcs11:token=" TOKEN ";object=%zz?pin-value=" PIN, &o, VOUCH_E_USAGE,
		   "invalid PKCS#11 URI");
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=" TOKEN "?pin-value=" PIN, &o, &k, &pub,
					    &err),
			 VOUCH_E_USAGE);
	assert_non_null(strstr(err.msg, "object="));
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_RSA, 2048,
					    "pkcs11:token=" TOKEN ";object=small?pin-value=" PIN,
					    &o, &k, &pub, &err),
			 VOUCH_E_USAGE);
	assert_null(k);
	assert_null(pub);
}

static void test_module_choice(void **state)
{
	struct vouch_key_opts none = {0};
	struct vouch_key_opts rel = {0};
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	enum vouch_key_type type = 0;
	char uri[400];
	(void)state;

	rel.pkcs11_module = "libsofthsm2.so";
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-value=" PIN, &rel, VOUCH_E_USAGE,
		   "must be absolute");
	rel.pkcs11_module = "/nonexistent/libnothing.so";
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-value=" PIN, &rel, VOUCH_E_IO,
		   "cannot load PKCS#11 module /nonexistent/libnothing.so");

	/* From the URI's module-path. */
	snprintf(uri, sizeof(uri),
		 "pkcs11:token=" TOKEN ";object=ec-key?module-path=%s&pin-value=" PIN, module);
	assert_int_equal(vouch_p11_open_key(uri, &none, &k, &pub, &type, &err), VOUCH_OK);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	k = NULL;
	pub = NULL;

	/* From the environment, which beats the URI's module-path. */
	setenv("VOUCH_PKCS11_MODULE", module, 1);
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN
					    ";object=ec-key?module-path=/nonexistent.so"
					    "&pin-value=" PIN,
					    &none, &k, &pub, &type, &err),
			 VOUCH_OK);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	/* And the option beats the environment. */
	setenv("VOUCH_PKCS11_MODULE", "/nonexistent/env.so", 1);
	open_fails("pkcs11:token=" TOKEN ";object=ec-key?pin-value=" PIN, &none, VOUCH_E_IO,
		   "/nonexistent/env.so");
	k = NULL;
	pub = NULL;
	{
		struct vouch_key_opts o = opts_module();
		assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN
						    ";object=ec-key?pin-value=" PIN,
						    &o, &k, &pub, &type, &err),
				 VOUCH_OK);
		vouch_p11_free(k);
		EVP_PKEY_free(pub);
	}
	unsetenv("VOUCH_PKCS11_MODULE");
}

/* Two keys of one token open at once (a threshold of HSM keys signing the
 * same metadata): closing one must not log the other out. */
static void test_two_keys_at_once(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *a = NULL, *b = NULL;
	EVP_PKEY *pa = NULL, *pb = NULL;
	enum vouch_key_type ta = 0, tb = 0;
	(void)state;
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ec-key?pin-value=" PIN,
					    &o, &a, &pa, &ta, &err),
			 VOUCH_OK);
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ed-key?pin-value=" PIN,
					    &o, &b, &pb, &tb, &err),
			 VOUCH_OK);
	sign_and_check(a, pa, ta);
	sign_and_check(b, pb, tb);
	vouch_p11_free(a);
	sign_and_check(b, pb, tb);
	vouch_p11_free(b);
	EVP_PKEY_free(pa);
	EVP_PKEY_free(pb);
}

/* Another real module: p11-kit's trust module has a read-only token
 * without login and without keys. */
static void test_readonly_token(void **state)
{
	struct vouch_key_opts o = {0};
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	glob_t g;
	(void)state;
	/* p11-kit-modules is a dependency of p11-kit on Debian */
	if (glob("/usr/lib/*/pkcs11/p11-kit-trust.so", 0, NULL, &g) != 0 || g.gl_pathc < 1)
		fail_msg("p11-kit-trust.so missing: run scripts/install-deps");
	o.pkcs11_module = g.gl_pathv[0];
	open_fails("pkcs11:token=System%20Trust;object=anything", &o, VOUCH_E_NOTFOUND,
		   "token 'System Trust' has no private key 'anything'");
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=System%20Trust;object=new", &o, &k, &pub,
					    &err),
			 VOUCH_E_DENIED);
	assert_string_equal(err.msg, "token 'System Trust' is write-protected");
	/* Without token= the URI matches this token: still only one. */
	open_fails("pkcs11:object=anything", &o, VOUCH_E_NOTFOUND, "has no private key");
	globfree(&g);
}

/* Without a public key object: RSA from the private object's public values,
 * EC from a certificate with the same id; a certificate of another key is
 * caught by the check of every signature before it leaves vouch. */
static void test_public_key_fallbacks(void **state)
{
	struct vouch_key_opts o = opts_module();
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL, *pub2 = NULL, *other = NULL;
	enum vouch_key_type type = 0;
	struct admin a;
	static const uint8_t id[] = {0x0e, 0xc0};
	uint8_t *sig = NULL;
	size_t siglen = 0;
	CK_OBJECT_HANDLE cert;
	(void)state;

	admin_open(&a);
	/* RSA: the public object is gone, the private one still tells n and e. */
	assert_int_equal(a.fn->C_DestroyObject(a.s, admin_find(&a, CKO_PUBLIC_KEY, "rsa-key")),
			 CKR_OK);
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=rsa-key?pin-value=" PIN,
					    &o, &k, &pub, &type, &err),
			 VOUCH_OK);
	assert_int_equal(type, VOUCH_KEY_RSA);
	sign_and_check(k, pub, type);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	k = NULL;
	pub = NULL;

	/* EC without public object nor certificate: a clear error. */
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=" TOKEN
					    ";object=ec-cert;id=%0e%c0?pin-value=" PIN,
					    &o, &k, &pub, &err),
			 VOUCH_OK);
	vouch_p11_free(k);
	k = NULL;
	assert_int_equal(a.fn->C_DestroyObject(a.s, admin_find(&a, CKO_PUBLIC_KEY, "ec-cert")),
			 CKR_OK);
	open_fails("pkcs11:token=" TOKEN ";object=ec-cert?pin-value=" PIN, &o, VOUCH_E_NOTFOUND,
		   "no public key or certificate object");

	/* A certificate of another P-256 key: it loads, but no signature
	 * made with it gets out. */
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(other);
	cert = admin_add_cert(&a, other, id, sizeof(id));
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ec-cert?pin-value=" PIN,
					    &o, &k, &pub2, &type, &err),
			 VOUCH_OK);
	assert_int_equal(EVP_PKEY_eq(pub2, other), 1);
	assert_int_equal(vouch_p11_sign(k, type, "x", 1, &sig, &siglen, &err), VOUCH_E_CRYPTO);
	assert_non_null(strstr(err.msg, "public key does not verify"));
	assert_null(sig);
	assert_int_equal(siglen, 0);
	vouch_p11_free(k);
	EVP_PKEY_free(pub2);
	k = NULL;
	pub2 = NULL;

	/* The right certificate: the key works. */
	assert_int_equal(a.fn->C_DestroyObject(a.s, cert), CKR_OK);
	(void)admin_add_cert(&a, pub, id, sizeof(id));
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=ec-cert?pin-value=" PIN,
					    &o, &k, &pub2, &type, &err),
			 VOUCH_OK);
	assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
	sign_and_check(k, pub2, type);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
	EVP_PKEY_free(other);
	admin_close(&a);
}

/* ---- a hostile module --------------------------------------------------- */

/* A PKCS#11 module that wraps SoftHSM and lies the way a broken or hostile
 * token could ($VOUCH_SHIM_MODE): "mechs" reports many more mechanisms
 * than it wrote; "strip" drops the leading zero bytes of RSA signatures
 * (counted in shim_stripped). Built at test time with the system compiler,
 * so that the real SoftHSM does everything else. */
static const char shim_source[] =
    "#include <dlfcn.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include <p11-kit/pkcs11.h>\n"
    "static CK_FUNCTION_LIST_PTR real;\n"
    "static CK_FUNCTION_LIST shim;\n"
    "unsigned long shim_stripped;\n"
    "static int mode(const char *m) {\n"
    "  const char *e = getenv(\"VOUCH_SHIM_MODE\");\n"
    "  return e != NULL && strcmp(e, m) == 0;\n"
    "}\n"
    "static CK_RV mechs(CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, CK_ULONG_PTR n) {\n"
    "  CK_RV rv = real->C_GetMechanismList(s, l, n);\n"
    "  if (rv == CKR_OK && l != NULL && mode(\"mechs\")) *n += 100000;\n"
    "  return rv;\n"
    "}\n"
    "static CK_RV sign(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s,\n"
    "                  CK_ULONG_PTR sl) {\n"
    "  CK_RV rv = real->C_Sign(h, d, dl, s, sl);\n"
    "  if (rv == CKR_OK && s != NULL && mode(\"strip\") && *sl > 64 && s[0] == 0) {\n"
    "    CK_ULONG z = 0;\n"
    "    while (z < *sl && s[z] == 0) z++;\n"
    "    memmove(s, s + z, *sl - z);\n"
    "    *sl -= z;\n"
    "    shim_stripped++;\n"
    "  }\n"
    "  return rv;\n"
    "}\n"
    "static CK_RV find(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG max,\n"
    "                  CK_ULONG_PTR n) {\n"
    "  CK_RV rv = real->C_FindObjects(h, o, max, n);\n"
    "  if (rv == CKR_OK && mode(\"findmany\")) *n = max + 5;\n"
    "  return rv;\n"
    "}\n"
    "static CK_RV attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,\n"
    "                  CK_ULONG n) {\n"
    "  CK_RV rv = real->C_GetAttributeValue(h, o, t, n);\n"
    "  if (rv != CKR_OK || n != 1 || t[0].type != CKA_EC_POINT) return rv;\n"
    "  if (mode(\"attrhuge\") && t[0].pValue == NULL) t[0].ulValueLen = 1 << 20;\n"
    "  if (mode(\"attrgrow\") && t[0].pValue != NULL) t[0].ulValueLen += 1000;\n"
    "  if (mode(\"attrshort\") && t[0].pValue == NULL) t[0].ulValueLen -= 1;\n"
    "  return rv;\n"
    "}\n"
    "CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {\n"
    "  if (real == NULL) {\n"
    "    void *h = dlopen(getenv(\"VOUCH_SHIM_REAL\"), RTLD_NOW | RTLD_LOCAL);\n"
    "    CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR) = NULL;\n"
    "    if (h == NULL) return CKR_GENERAL_ERROR;\n"
    "    *(void **)&gfl = dlsym(h, \"C_GetFunctionList\");\n"
    "    if (gfl == NULL || gfl(&real) != CKR_OK) return CKR_GENERAL_ERROR;\n"
    "    shim = *real;\n"
    "    shim.C_GetMechanismList = mechs;\n"
    "    shim.C_Sign = sign;\n"
    "    shim.C_FindObjects = find;\n"
    "    shim.C_GetAttributeValue = attr;\n"
    "  }\n"
    "  *out = &shim;\n"
    "  return CKR_OK;\n"
    "}\n";

static char shim_path[300];

/* Builds the shim once; 0 when no compiler is at hand (the test skips). */
static int build_shim(void)
{
	char src[300];
	pid_t pid;
	int status = 0;
	if (shim_path[0] != 0)
		return 1;
	snprintf(src, sizeof(src), "%s/shim.c", tmpdir);
	write_file(src, shim_source);
	snprintf(shim_path, sizeof(shim_path), "%s/shim.so", tmpdir);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("cc", "cc", "-shared", "-fPIC", "-O1", "-I/usr/include/p11-kit-1", "-o",
		       shim_path, src, "-ldl", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		shim_path[0] = 0;
		return 0;
	}
	setenv("VOUCH_SHIM_REAL", module, 1);
	return 1;
}

static void test_hostile_mechanism_count(void **state)
{
	struct vouch_key_opts o = {0};
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	EVP_PKEY *pub = NULL;
	(void)state;
	if (!build_shim())
		skip();
	o.pkcs11_module = shim_path;
	/* Through the honest shim first: a key to open. */
	unsetenv("VOUCH_SHIM_MODE");
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_ECDSA_P256, 0,
					    "pkcs11:token=" TOKEN ";object=shim-ec?pin-value=" PIN,
					    &o, &k, &pub, &err),
			 VOUCH_OK);
	vouch_p11_free(k);
	EVP_PKEY_free(pub);
	k = NULL;
	pub = NULL;
	/* A count larger than the list written is never read past. */
	setenv("VOUCH_SHIM_MODE", "mechs", 1);
	open_fails("pkcs11:token=" TOKEN ";object=shim-ec?pin-value=" PIN, &o, VOUCH_E_FORMAT,
		   "more mechanisms than it announced");
	unsetenv("VOUCH_SHIM_MODE");
}

/* Counts and sizes a token reports are never trusted past the buffers. */
static void test_hostile_token_values(void **state)
{
	struct vouch_key_opts o = {0};
	static const struct {
		const char *mode;
		enum vouch_rc rc;
		const char *msg;
	} cases[] = {
	    {"findmany", VOUCH_E_FORMAT, "too many objects"},
	    {"attrhuge", VOUCH_E_LIMIT, "bytes"},
	    {"attrgrow", VOUCH_E_FORMAT, "changed size"},
	    /* SoftHSM then refuses the short buffer itself. */
	    {"attrshort", VOUCH_E_CRYPTO, "(0x150)"},
	};
	(void)state;
	if (!build_shim())
		skip();
	o.pkcs11_module = shim_path;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("VOUCH_SHIM_MODE", cases[i].mode, 1);
		/* shim-ec: made by test_hostile_mechanism_count. */
		open_fails("pkcs11:token=" TOKEN ";object=shim-ec?pin-value=" PIN, &o, cases[i].rc,
			   cases[i].msg);
	}
	unsetenv("VOUCH_SHIM_MODE");
}

static void test_short_rsa_signature_padded(void **state)
{
	struct vouch_key_opts o = {0};
	struct vouch_err err = {0};
	struct vouch_p11_key *k = NULL;
	struct vouch_key *vk = NULL;
	EVP_PKEY *pub = NULL;
	(void)state;
	if (!build_shim())
		skip();
	o.pkcs11_module = shim_path;
	unsetenv("VOUCH_SHIM_MODE");
	assert_int_equal(vouch_p11_generate(VOUCH_KEY_RSA, 3072,
					    "pkcs11:token=" TOKEN ";object=shim-rsa?pin-value=" PIN,
					    &o, &k, &pub, &err),
			 VOUCH_OK);
	vouch_p11_free(k);
	k = NULL;
	assert_int_equal(vouch_key_from_evp(pub, 0, NULL, &vk, &err), VOUCH_OK);
	EVP_PKEY_free(pub);
	pub = NULL;
	setenv("VOUCH_SHIM_MODE", "strip", 1);
	assert_int_equal(vouch_p11_open_key("pkcs11:token=" TOKEN ";object=shim-rsa?pin-value=" PIN,
					    &o, &k, &pub, &(enum vouch_key_type){0}, &err),
			 VOUCH_OK);
	EVP_PKEY_free(pub);
	/* About one signature in 256 starts with a zero byte, which the shim
	 * drops: each still comes out as long as the modulus and verifies. */
	void *h = dlopen(shim_path, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	unsigned long *stripped = dlsym(h, "shim_stripped");
	assert_non_null(stripped);
	for (unsigned i = 0; i < 4000 && *stripped < 2; i++) {
		char msg[32];
		uint8_t *sig = NULL;
		size_t siglen = 0;
		int n = snprintf(msg, sizeof(msg), "message %u", i);
		assert_int_equal(
		    vouch_p11_sign(k, VOUCH_KEY_RSA, msg, (size_t)n, &sig, &siglen, &err),
		    VOUCH_OK);
		assert_int_equal(siglen, 384);
		if (vouch_key_verify(vk, msg, (size_t)n, sig, siglen, &err) != VOUCH_OK)
			fail_msg("signature %u: %s", i, err.msg);
		free(sig);
	}
	assert_true(*stripped >= 2);
	dlclose(h);
	unsetenv("VOUCH_SHIM_MODE");
	vouch_p11_free(k);
	vouch_key_free(vk);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecdsa),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_rsa3072),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_existing_label_refused),
		cmocka_unit_test(test_id_selects),
		cmocka_unit_test(test_location_has_no_pin),
		cmocka_unit_test(test_pin_source),
		cmocka_unit_test(test_pin_prompt),
		cmocka_unit_test(test_bad_uris),
		cmocka_unit_test(test_module_choice),
		cmocka_unit_test(test_public_key_fallbacks),
		cmocka_unit_test(test_readonly_token),
		cmocka_unit_test(test_two_keys_at_once),
		cmocka_unit_test(test_hostile_mechanism_count),
		cmocka_unit_test(test_hostile_token_values),
		cmocka_unit_test(test_short_rsa_signature_padded),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
