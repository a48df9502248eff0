/* Unit tests of the signature file: parse limits and errors (code and
 * message), signing and threshold counting, file checks, streaming hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vouch/buf.h"
#include "vouch/hash.h"
#include "vouch/key.h"
#include "vouch/sigfile.h"

#define H256 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H512 H256 H256
#define KEYID H256

static struct vouch_key *k1, *k2;

static int setup(void **state)
{
	(void)state;
	if (vouch_key_generate(VOUCH_KEY_ED25519, 0, &k1, NULL) != VOUCH_OK)
		return -1;
	if (vouch_key_generate(VOUCH_KEY_ECDSA_P256, 0, &k2, NULL) != VOUCH_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vouch_key_free(k1);
	vouch_key_free(k2);
	return 0;
}

/* Parses text; returns the code and leaves the message in err. */
static enum vouch_rc parse(const char *text, struct vouch_err *err)
{
	struct vouch_sigfile *sf = NULL;
	vouch_err_clear(err);
	enum vouch_rc rc = vouch_sigfile_parse(text, strlen(text), &sf, err);
	if (rc == VOUCH_OK)
		assert_non_null(sf);
	else
		assert_null(sf);
	vouch_sigfile_free(sf);
	return rc;
}

static char *doc(const char *signed_part, const char *sigs)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "{\"signed\": %s, \"signatures\": %s}", signed_part, sigs);
	return buf;
}

#define GOOD_SIGNED                                                                                \
	"{\"_type\": \"vouch-file-signature\", \"name\": \"fw.bin\", \"length\": 5, "              \
	"\"hashes\": {\"sha256\": \"" H256 "\", \"sha512\": \"" H512 "\"}}"
#define GOOD_SIGS "[{\"keyid\": \"" KEYID "\", \"sig\": \"00ff\"}]"

static void expect(const char *text, enum vouch_rc code, const char *msg_part)
{
	struct vouch_err err;
	enum vouch_rc rc = parse(text, &err);
	if (rc != code || strstr(err.msg, msg_part) == NULL)
		fail_msg("parse gave %d '%s', wanted %d containing '%s'\n  input: %s", rc, err.msg,
			 code, msg_part, text);
}

static void test_parse_good(void **state)
{
	(void)state;
	struct vouch_sigfile *sf = NULL;
	const char *t = doc(GOOD_SIGNED, GOOD_SIGS);
	assert_int_equal(vouch_sigfile_parse(t, strlen(t), &sf, NULL), VOUCH_OK);
	assert_string_equal(vouch_sigfile_name(sf), "fw.bin");
	assert_int_equal(vouch_sigfile_length(sf), 5);
	assert_string_equal(vouch_sigfile_sha256_hex(sf), H256);
	assert_string_equal(vouch_sigfile_sha512_hex(sf), H512);
	assert_int_equal(vouch_sigfile_count(sf), 1);
	assert_string_equal(vouch_sigfile_keyid(sf, 0), KEYID);
	assert_null(vouch_sigfile_keyid(sf, 1));
	/* The signed bytes are canonical JSON, keys sorted, no spaces. */
	struct vouch_buf b = {0};
	assert_int_equal(vouch_sigfile_signed_bytes(sf, &b, NULL), VOUCH_OK);
	assert_string_equal((char *)b.data,
			    "{\"_type\":\"vouch-file-signature\",\"hashes\":{\"sha256\":\"" H256
			    "\",\"sha512\":\"" H512 "\"},\"length\":5,\"name\":\"fw.bin\"}");
	vouch_buf_free(&b);
	vouch_sigfile_free(sf);
	expect(doc(GOOD_SIGNED, "[]"), VOUCH_OK, "");
}

static void test_parse_structure_errors(void **state)
{
	(void)state;
	expect("", VOUCH_E_FORMAT, "malformed JSON");
	expect("[]", VOUCH_E_FORMAT, "signature file must be a JSON object");
	expect("{\"signed\": {}}", VOUCH_E_FORMAT, "signature file lacks the field 'signatures'");
	expect("{\"signatures\": [], \"signed\": " GOOD_SIGNED ", \"x\": 1}", VOUCH_E_FORMAT,
	       "signature file has an unknown field");
	expect(doc("[]", "[]"), VOUCH_E_FORMAT, "'signed' must be an object");
	expect(doc(GOOD_SIGNED, "{}"), VOUCH_E_FORMAT, "'signatures' must be an array");
	/* trailing garbage after the document */
	char t[8192];
	snprintf(t, sizeof(t), "%s x", doc(GOOD_SIGNED, GOOD_SIGS));
	expect(t, VOUCH_E_FORMAT, "malformed JSON");
	snprintf(t, sizeof(t), "%s{}", doc(GOOD_SIGNED, GOOD_SIGS));
	expect(t, VOUCH_E_FORMAT, "malformed JSON");
	/* duplicate keys, at the top and inside "signed" */
	expect("{\"signed\": " GOOD_SIGNED ", \"signatures\": [], \"signatures\": []}",
	       VOUCH_E_FORMAT, "duplicate");
	expect(doc("{\"_type\": \"vouch-file-signature\", \"name\": \"fw.bin\", \"name\": "
		   "\"x.bin\", \"length\": 5, \"hashes\": {\"sha256\": \"" H256
		   "\", \"sha512\": \"" H512 "\"}}",
		   "[]"),
	       VOUCH_E_FORMAT, "duplicate");
}

static void test_parse_signed_errors(void **state)
{
	(void)state;
	const char *hashes = "{\"sha256\": \"" H256 "\", \"sha512\": \"" H512 "\"}";
	char s[2048];
#define SIGNED(type, name, length, h)                                                              \
	snprintf(s, sizeof(s), "{\"_type\": %s, \"name\": %s, \"length\": %s, \"hashes\": %s}",    \
		 type, name, length, h)
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5", hashes);
	expect(doc(s, "[]"), VOUCH_OK, "");
	SIGNED("\"root\"", "\"fw.bin\"", "5", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "'signed._type' must be \"vouch-file-signature\"");
	SIGNED("\"vouch-file-signature\"", "\"a/fw.bin\"", "5", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "file name must not hold '/'");
	SIGNED("\"vouch-file-signature\"", "\"fw\\u001b[2J.bin\"", "5", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "control characters");
	SIGNED("\"vouch-file-signature\"", "\"\"", "5", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "file name must be 1 to 255 bytes");
	SIGNED("\"vouch-file-signature\"", "\"..\"", "5", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "'.' or '..'");
	SIGNED("\"vouch-file-signature\"", "7", "5", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "field 'name' must be a string");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "-1", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "field 'length' is -1");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5.0", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "length");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "\"5\"", hashes);
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "length");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5", "{\"sha256\": \"" H256 "\"}");
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "'hashes' lacks the field 'sha512'");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5",
	       "{\"sha256\": \"" H256 "\", \"sha512\": \"" H512 "\", \"md5\": \"00\"}");
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "'hashes' has an unknown field");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5",
	       "{\"sha256\": \"" H256 "00\", \"sha512\": \"" H512 "\"}");
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "field 'sha256' must be 64 lowercase hex digits");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5",
	       "{\"sha256\": \"" H256 "\", \"sha512\": \"" H256 "\"}");
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "field 'sha512' must be 128 lowercase hex digits");
	SIGNED("\"vouch-file-signature\"", "\"fw.bin\"", "5",
	       "{\"sha256\": \"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\", "
	       "\"sha512\": \"" H512 "\"}");
	expect(doc(s, "[]"), VOUCH_E_FORMAT, "field 'sha256' must be 64 lowercase hex digits");
	/* a missing and an unknown field in "signed" */
	expect(doc("{\"_type\": \"vouch-file-signature\", \"name\": \"fw.bin\", \"hashes\": "
		   "{\"sha256\": \"" H256 "\", \"sha512\": \"" H512 "\"}}",
		   "[]"),
	       VOUCH_E_FORMAT, "'signed' lacks the field 'length'");
	expect(doc("{\"_type\": \"vouch-file-signature\", \"name\": \"fw.bin\", \"length\": 5, "
		   "\"expires\": 1, \"hashes\": {\"sha256\": \"" H256 "\", \"sha512\": \"" H512
		   "\"}}",
		   "[]"),
	       VOUCH_E_FORMAT, "'signed' has an unknown field");
#undef SIGNED
}

static void test_parse_signature_errors(void **state)
{
	(void)state;
	expect(doc(GOOD_SIGNED, "[1]"), VOUCH_E_FORMAT, "signature 1: must be an object");
	expect(doc(GOOD_SIGNED, "[{\"keyid\": \"" KEYID "\"}]"), VOUCH_E_FORMAT,
	       "signature 1: it lacks the field 'sig'");
	expect(doc(GOOD_SIGNED, "[{\"keyid\": \"" KEYID "\", \"sig\": \"00\", \"method\": \"x\"}]"),
	       VOUCH_E_FORMAT, "signature 1: it has an unknown field");
	expect(doc(GOOD_SIGNED, "[{\"keyid\": \"abcd\", \"sig\": \"00\"}]"), VOUCH_E_FORMAT,
	       "field 'keyid' must be 64 lowercase hex digits");
	const char *bad_sigs[] = {"\"\"", "\"0\"", "\"0g\"", "\"00FF\"", "12", "null"};
	for (size_t i = 0; i < sizeof(bad_sigs) / sizeof(bad_sigs[0]); i++) {
		char sigs[256];
		snprintf(sigs, sizeof(sigs), "[{\"keyid\": \"" KEYID "\", \"sig\": %s}]",
			 bad_sigs[i]);
		expect(doc(GOOD_SIGNED, sigs), VOUCH_E_FORMAT, "field 'sig' must be");
	}
	/* second entry bad: the message names it */
	expect(doc(GOOD_SIGNED, "[{\"keyid\": \"" KEYID "\", \"sig\": \"00\"}, {\"keyid\": \"" KEYID
				"\", \"sig\": \"zz\"}]"),
	       VOUCH_E_FORMAT, "signature 2: field 'sig'");
}

static void test_parse_limits(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_sigfile *sf = NULL;
	/* a sig of VOUCH_SIG_MAX bytes is fine, one byte more is not */
	size_t cap = 2 * VOUCH_SIG_MAX + 4096;
	char *sigs = malloc(cap), *text = malloc(cap + 1024);
	assert_non_null(sigs);
	assert_non_null(text);
	for (int extra = 0; extra <= 1; extra++) {
		size_t hexlen = 2 * (VOUCH_SIG_MAX + (size_t)extra);
		int n = snprintf(sigs, cap, "[{\"keyid\": \"" KEYID "\", \"sig\": \"");
		memset(sigs + n, 'a', hexlen);
		snprintf(sigs + (size_t)n + hexlen, cap - (size_t)n - hexlen, "\"}]");
		snprintf(text, cap + 1024, "{\"signed\": %s, \"signatures\": %s}", GOOD_SIGNED,
			 sigs);
		vouch_err_clear(&err);
		enum vouch_rc rc = vouch_sigfile_parse(text, strlen(text), &sf, &err);
		if (extra == 0) {
			assert_int_equal(rc, VOUCH_OK);
			vouch_sigfile_free(sf);
			sf = NULL;
		} else {
			assert_int_equal(rc, VOUCH_E_LIMIT);
			assert_string_equal(err.msg,
					    "signature 1: field 'sig' is longer than 1024 bytes");
		}
	}
	free(sigs);
	free(text);

	/* 64 signatures parse, 65 do not */
	struct vouch_buf b = {0};
	for (int count = 64; count <= 65; count++) {
		assert_int_equal(
		    vouch_buf_printf(&b, NULL, "{\"signed\": %s, \"signatures\": [", GOOD_SIGNED),
		    VOUCH_OK);
		for (int i = 0; i < count; i++)
			assert_int_equal(vouch_buf_printf(&b, NULL,
							  "%s{\"keyid\": \"" KEYID
							  "\", \"sig\": \"0102\"}",
							  i ? "," : ""),
					 VOUCH_OK);
		assert_int_equal(vouch_buf_append_str(&b, "]}", NULL), VOUCH_OK);
		vouch_err_clear(&err);
		enum vouch_rc rc = vouch_sigfile_parse(b.data, b.len, &sf, &err);
		if (count == 64) {
			assert_int_equal(rc, VOUCH_OK);
			assert_int_equal(vouch_sigfile_count(sf), 64);
			vouch_sigfile_free(sf);
			sf = NULL;
		} else {
			assert_int_equal(rc, VOUCH_E_LIMIT);
			assert_string_equal(err.msg, "more than 64 signatures");
		}
		vouch_buf_free(&b);
	}

	/* a document over 64 KiB, even if valid JSON, is refused unparsed */
	size_t big = VOUCH_SIGFILE_MAX + 1;
	char *t = malloc(big + 1);
	assert_non_null(t);
	memset(t, ' ', big);
	t[0] = '{';
	t[big - 1] = '}';
	t[big] = 0;
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_parse(t, big, &sf, &err), VOUCH_E_LIMIT);
	assert_string_equal(err.msg,
			    "signature file of 65537 bytes exceeds the limit of 65536 bytes");
	free(t);

	/* nesting deeper than the JSON limit */
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_parse(deep, sizeof(deep), &sf, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "nested deeper"));
}

static struct vouch_sigfile *new_sf(const char *name, uint64_t length)
{
	struct vouch_digests d;
	struct vouch_sigfile *sf = NULL;
	memset(&d, 0, sizeof(d));
	d.algs = VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512;
	d.length = length;
	memset(d.sha256, 0x11, sizeof(d.sha256));
	memset(d.sha512, 0x22, sizeof(d.sha512));
	assert_int_equal(vouch_sigfile_new(name, &d, &sf, NULL), VOUCH_OK);
	return sf;
}

/* Serialises sf and parses it back. */
static struct vouch_sigfile *roundtrip(const struct vouch_sigfile *sf)
{
	struct vouch_buf b = {0};
	struct vouch_sigfile *out = NULL;
	assert_int_equal(vouch_sigfile_serialize(sf, &b, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_parse(b.data, b.len, &out, NULL), VOUCH_OK);
	vouch_buf_free(&b);
	return out;
}

static void test_sign_and_threshold(void **state)
{
	(void)state;
	struct vouch_err err;
	size_t valid = 99;
	struct vouch_sigfile *sf = new_sf("fw.bin", 5);
	const struct vouch_key *one[] = {k1};
	const struct vouch_key *both[] = {k1, k2};
	const struct vouch_key *twice[] = {k1, k1};

	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_sigs(sf, one, 1, 1, &valid, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "signature threshold 1 not met (0 valid of 1 key)");
	assert_int_equal(valid, 0);

	assert_int_equal(vouch_sigfile_add_signature(sf, k1, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_count(sf), 1);
	/* the same key again replaces its entry */
	assert_int_equal(vouch_sigfile_add_signature(sf, k1, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_count(sf), 1);
	struct vouch_sigfile *back = roundtrip(sf);
	assert_int_equal(vouch_sigfile_verify_sigs(back, one, 1, 1, &valid, NULL), VOUCH_OK);
	assert_int_equal(valid, 1);
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_sigs(back, both, 2, 2, &valid, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "signature threshold 2 not met (1 valid of 2 keys)");
	/* a key listed twice counts once */
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_sigs(back, twice, 2, 2, &valid, &err),
			 VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "signature threshold 2 not met (1 valid of 1 key)");
	assert_int_equal(valid, 1);
	vouch_sigfile_free(back);

	assert_int_equal(vouch_sigfile_add_signature(sf, k2, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_count(sf), 2);
	back = roundtrip(sf);
	assert_int_equal(vouch_sigfile_verify_sigs(back, both, 2, 2, &valid, NULL), VOUCH_OK);
	assert_int_equal(valid, 2);
	vouch_sigfile_free(back);

	/* signatures over another "signed" part do not count */
	struct vouch_sigfile *other = new_sf("fw.bin", 6);
	assert_int_equal(vouch_sigfile_add_signature(other, k1, NULL), VOUCH_OK);
	struct vouch_buf b = {0};
	assert_int_equal(vouch_sigfile_serialize(other, &b, NULL), VOUCH_OK);
	/* splice: other's signature under sf's signed part */
	struct vouch_buf sb = {0};
	assert_int_equal(vouch_sigfile_serialize(sf, &sb, NULL), VOUCH_OK);
	json_t *jo = json_loads((char *)b.data, 0, NULL);
	json_t *js = json_loads((char *)sb.data, 0, NULL);
	assert_non_null(jo);
	assert_non_null(js);
	json_object_set(js, "signatures", json_object_get(jo, "signatures"));
	char *text = json_dumps(js, 0);
	assert_non_null(text);
	struct vouch_buf spliced = {0};
	assert_int_equal(vouch_buf_append_str(&spliced, text, NULL), VOUCH_OK);
	free(text);
	json_decref(jo);
	json_decref(js);
	struct vouch_sigfile *sp = NULL;
	assert_int_equal(vouch_sigfile_parse(spliced.data, spliced.len, &sp, NULL), VOUCH_OK);
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_sigs(sp, one, 1, 1, &valid, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "signature threshold 1 not met (0 valid of 1 key)");
	vouch_sigfile_free(sp);
	vouch_buf_free(&spliced);
	vouch_buf_free(&b);
	vouch_buf_free(&sb);
	vouch_sigfile_free(other);

	/* bad thresholds and key counts are usage errors */
	assert_int_equal(vouch_sigfile_verify_sigs(sf, one, 1, 0, NULL, NULL), VOUCH_E_USAGE);
	assert_int_equal(vouch_sigfile_verify_sigs(sf, one, 0, 1, NULL, NULL), VOUCH_E_USAGE);
	assert_int_equal(vouch_sigfile_verify_sigs(sf, one, 1, 65, NULL, NULL), VOUCH_E_USAGE);
	vouch_sigfile_free(sf);
}

static void test_same_key_twice_counts_once(void **state)
{
	(void)state;
	struct vouch_err err;
	size_t valid = 0;
	struct vouch_sigfile *sf = new_sf("fw.bin", 5);
	assert_int_equal(vouch_sigfile_add_signature(sf, k1, NULL), VOUCH_OK);
	struct vouch_buf b = {0};
	assert_int_equal(vouch_sigfile_serialize(sf, &b, NULL), VOUCH_OK);
	/* craft: the same entry twice */
	char *open = strchr(strstr((char *)b.data, "\"signatures\""), '[');
	char *close = strrchr((char *)b.data, ']');
	assert_non_null(open);
	assert_non_null(close);
	struct vouch_buf c = {0};
	assert_int_equal(vouch_buf_append(&c, b.data, (size_t)(close - (char *)b.data), NULL),
			 VOUCH_OK);
	assert_int_equal(vouch_buf_append_str(&c, ",", NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&c, open + 1, (size_t)(close - open - 1), NULL),
			 VOUCH_OK);
	assert_int_equal(vouch_buf_append_str(&c, close, NULL), VOUCH_OK);
	struct vouch_sigfile *dup = NULL;
	assert_int_equal(vouch_sigfile_parse(c.data, c.len, &dup, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_count(dup), 2);
	const struct vouch_key *keys[] = {k1, k2};
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_sigs(dup, keys, 2, 2, &valid, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "signature threshold 2 not met (1 valid of 2 keys)");
	assert_int_equal(valid, 1);
	/* signing again with that key collapses both entries into one */
	assert_int_equal(vouch_sigfile_add_signature(dup, k1, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_count(dup), 1);
	vouch_sigfile_free(dup);
	vouch_buf_free(&b);
	vouch_buf_free(&c);
	vouch_sigfile_free(sf);
}

static void test_check_file(void **state)
{
	(void)state;
	struct vouch_err err;
	struct vouch_sigfile *sf = new_sf("fw.bin", 5);
	struct vouch_digests d;
	memset(&d, 0, sizeof(d));
	d.algs = VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512;
	d.length = 5;
	memset(d.sha256, 0x11, sizeof(d.sha256));
	memset(d.sha512, 0x22, sizeof(d.sha512));
	assert_int_equal(vouch_sigfile_check_file(sf, "fw.bin", &d, NULL), VOUCH_OK);

	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_check_file(sf, "other.bin", &d, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "the signature file is for 'fw.bin', not 'other.bin'"));
	d.length = 6;
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_check_file(sf, "fw.bin", &d, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg,
			    "fw.bin: longer than the 5 bytes signed (file changed since signing?)");
	d.length = 4;
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_check_file(sf, "fw.bin", &d, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg, "fw.bin: 4 bytes, shorter than the 5 bytes signed (file "
				     "truncated or changed since signing?)");
	d.length = 5;
	d.sha256[31] ^= 1;
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_check_file(sf, "fw.bin", &d, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg,
			    "fw.bin: sha256 does not match the signature file (file changed since "
			    "signing?)");
	d.sha256[31] ^= 1;
	d.sha512[0] ^= 0x80;
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_check_file(sf, "fw.bin", &d, &err), VOUCH_E_VERIFY);
	assert_string_equal(err.msg,
			    "fw.bin: sha512 does not match the signature file (file changed since "
			    "signing?)");
	vouch_sigfile_free(sf);

	/* names that cannot be signed */
	struct vouch_sigfile *x = NULL;
	d.sha512[0] ^= 0x80;
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_new("a\nb", &d, &x, &err), VOUCH_E_FORMAT);
	assert_non_null(strstr(err.msg, "control characters"));
	assert_null(x);
	assert_string_equal(vouch_sigfile_basename("dir/sub/fw.bin"), "fw.bin");
	assert_string_equal(vouch_sigfile_basename("fw.bin"), "fw.bin");
}

static void write_file(const char *path, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		fputc((int)((i * 131u + (i >> 9)) & 0xff), fp);
	fclose(fp);
}

static void test_hash_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/vouch-sigfile-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/f", dir);
	/* sizes around the 128 KiB ring buffers and several trips round the
	 * ring of four */
	const size_t sizes[] = {0, 1, 131071, 131072, 131073, 262145, 9 * 131072 + 77};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vouch_digests a, b;
		write_file(path, sizes[i]);
		assert_int_equal(vouch_sigfile_hash_file(path, &a, NULL), VOUCH_OK);
		assert_int_equal(
		    vouch_hash_file(path, VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512, &b, NULL),
		    VOUCH_OK);
		assert_int_equal(a.length, sizes[i]);
		assert_int_equal(a.length, b.length);
		assert_memory_equal(a.sha256, b.sha256, sizeof(a.sha256));
		assert_memory_equal(a.sha512, b.sha512, sizeof(a.sha512));
		assert_int_equal(a.algs, VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512);
	}
	/* bounded: reads one byte past max and stops */
	struct vouch_digests e, full;
	assert_int_equal(vouch_sigfile_hash_file_max(path, 10, &e, NULL), VOUCH_OK);
	assert_int_equal(e.length, 11);
	assert_int_equal(vouch_sigfile_hash_file_max(path, 9 * 131072 + 77, &e, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_hash_file(path, &full, NULL), VOUCH_OK);
	assert_int_equal(e.length, full.length);
	assert_memory_equal(e.sha512, full.sha512, sizeof(e.sha512));
	assert_int_equal(vouch_sigfile_hash_file_max("/dev/zero", 300000, &e, NULL), VOUCH_OK);
	assert_int_equal(e.length, 300001);
	struct vouch_err err;
	vouch_err_clear(&err);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(vouch_sigfile_hash_file(path, &e, &err), VOUCH_E_NOTFOUND);
	/* a directory cannot be read */
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_hash_file(dir, &e, &err), VOUCH_E_IO);
	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	rmdir(dir);
}

static void test_verify_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/vouch-sigfile-XXXXXX";
	char path[256], sig[256];
	struct vouch_err err;
	struct vouch_digests d;
	struct vouch_sigfile *sf = NULL;
	size_t valid = 0;
	const struct vouch_key *one[] = {k1};
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fw.bin", dir);
	snprintf(sig, sizeof(sig), "%s/fw.bin.sig", dir);
	write_file(path, 1000);

	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_file(path, sig, one, 1, 1, &valid, &err),
			 VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "no signature file"));

	assert_int_equal(vouch_sigfile_hash_file(path, &d, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_new("fw.bin", &d, &sf, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_add_signature(sf, k1, NULL), VOUCH_OK);
	assert_int_equal(vouch_sigfile_write(sf, sig, NULL), VOUCH_OK);
	vouch_sigfile_free(sf);
	assert_int_equal(vouch_sigfile_verify_file(path, sig, one, 1, 1, &valid, NULL), VOUCH_OK);
	assert_int_equal(valid, 1);

	write_file(path, 1001);
	vouch_err_clear(&err);
	assert_int_equal(vouch_sigfile_verify_file(path, sig, one, 1, 1, &valid, &err),
			 VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "longer than the 1000 bytes signed"));
	unlink(path);
	unlink(sig);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_structure_errors),
	    cmocka_unit_test(test_parse_signed_errors),
	    cmocka_unit_test(test_parse_signature_errors),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_sign_and_threshold),
	    cmocka_unit_test(test_same_key_twice_counts_once),
	    cmocka_unit_test(test_check_file),
	    cmocka_unit_test(test_hash_file),
	    cmocka_unit_test(test_verify_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
