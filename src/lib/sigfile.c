/* Detached signature files (include/vouch/sigfile.h, docs/formats.md). */
#include "vouch/sigfile.h"

#include "key_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vouch/encoding.h"
#include "vouch/json.h"

struct sig_entry {
	char keyid[VOUCH_KEYID_HEX_LEN + 1];
	uint8_t sig[VOUCH_SIG_MAX];
	size_t siglen;
};

struct vouch_sigfile {
	char name[VOUCH_SIGFILE_MAX_NAME + 1];
	uint64_t length;
	char sha256_hex[2 * VOUCH_SHA256_LEN + 1];
	char sha512_hex[2 * VOUCH_SHA512_LEN + 1];
	size_t n;
	struct sig_entry sigs[VOUCH_SIGFILE_MAX_SIGS];
};

/* ---- hashing: SHA-256 and SHA-512 on two threads ---------------------- */

/* Two 128 KiB buffers, 256 KiB in all: the reader fills one while the
 * SHA-512 thread hashes the other. Four were no faster on 1 GiB (same wall
 * and CPU time, bench/sign.sh) and cost 256 KiB more peak RSS; 64 KiB
 * buffers cost more CPU (twice the reads and handovers). */
#define RING_BUFS 2
#define RING_BUFSZ (128u * 1024)

struct ring {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *buf[RING_BUFS];
	size_t len[RING_BUFS];
	int full[RING_BUFS]; /* handed to the SHA-512 thread, not yet hashed */
	int stop;	     /* no more buffers will come */
	int failed;	     /* the SHA-512 thread's update failed */
	EVP_MD_CTX *c512;
};

static void *sha512_worker(void *arg)
{
	struct ring *r = arg;
	for (unsigned j = 0;; j = (j + 1) % RING_BUFS) {
		pthread_mutex_lock(&r->mu);
		while (!r->full[j] && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->full[j]) { /* stopped and nothing left */
			pthread_mutex_unlock(&r->mu);
			break;
		}
		size_t n = r->len[j];
		pthread_mutex_unlock(&r->mu);
		int ok = EVP_DigestUpdate(r->c512, r->buf[j], n);
		pthread_mutex_lock(&r->mu);
		if (!ok)
			r->failed = 1;
		r->full[j] = 0;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

enum vouch_rc vouch_sigfile_hash_file_max(const char *path, uint64_t max, struct vouch_digests *out,
					  struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct ring r;
	EVP_MD_CTX *c256 = NULL;
	int threaded = 0;
	uint64_t total = 0;
	unsigned i = 0;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO,
				     "%s: cannot open: %s", path, strerror(errno));
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	c256 = EVP_MD_CTX_new();
	r.c512 = EVP_MD_CTX_new();
	if (c256 == NULL || r.c512 == NULL || !EVP_DigestInit_ex(c256, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(r.c512, EVP_sha512(), NULL)) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot start a hash");
		goto out;
	}
	for (unsigned k = 0; k < RING_BUFS; k++) {
		r.buf[k] = malloc(RING_BUFSZ);
		if (r.buf[k] == NULL) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	pthread_t tid;
	/* Without a second thread the same loop hashes both in turn. */
	threaded = pthread_create(&tid, NULL, sha512_worker, &r) == 0;

	for (;;) {
		pthread_mutex_lock(&r.mu);
		while (r.full[i])
			pthread_cond_wait(&r.cv, &r.mu);
		int failed = r.failed;
		pthread_mutex_unlock(&r.mu);
		if (failed) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha512 update failed");
			break;
		}
		/* Never more than one byte past max: enough to tell "longer". */
		size_t want = RING_BUFSZ;
		if (max < UINT64_MAX && max + 1 - total < want)
			want = (size_t)(max + 1 - total);
		if (want == 0)
			break;
		ssize_t n = read(fd, r.buf[i], want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: read: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (threaded) {
			pthread_mutex_lock(&r.mu);
			r.len[i] = (size_t)n;
			r.full[i] = 1;
			pthread_cond_broadcast(&r.cv);
			pthread_mutex_unlock(&r.mu);
		} else if (!EVP_DigestUpdate(r.c512, r.buf[i], (size_t)n)) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha512 update failed");
			break;
		}
		/* Both threads only read the buffer; the worker hands it back
		 * by clearing full[i] before it is filled again. */
		if (!EVP_DigestUpdate(c256, r.buf[i], (size_t)n)) {
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha256 update failed");
			break;
		}
		total += (uint64_t)n;
		i = (i + 1) % RING_BUFS;
	}
	if (threaded) {
		pthread_mutex_lock(&r.mu);
		r.stop = 1;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
		pthread_join(tid, NULL);
		if (rc == VOUCH_OK && r.failed)
			rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha512 update failed");
	}
	if (rc != VOUCH_OK)
		goto out;
	if (!EVP_DigestFinal_ex(c256, out->sha256, NULL) ||
	    !EVP_DigestFinal_ex(r.c512, out->sha512, NULL)) {
		rc = vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot finish a hash");
		goto out;
	}
	out->algs = VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512;
	out->length = total;
out:
	for (unsigned k = 0; k < RING_BUFS; k++)
		free(r.buf[k]);
	EVP_MD_CTX_free(c256);
	EVP_MD_CTX_free(r.c512);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	close(fd);
	if (rc != VOUCH_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

enum vouch_rc vouch_sigfile_hash_file(const char *path, struct vouch_digests *out,
				      struct vouch_err *err)
{
	return vouch_sigfile_hash_file_max(path, UINT64_MAX, out, err);
}

/* ---- building and parsing --------------------------------------------- */

const char *vouch_sigfile_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

/* A name that is safe to print and to compare: one path component, no
 * control characters (a signature file must not smuggle terminal escapes
 * into the verifier's messages). */
static enum vouch_rc check_name(const char *name, size_t len, struct vouch_err *err)
{
	if (len == 0 || len > VOUCH_SIGFILE_MAX_NAME)
		return vouch_err_set(err, VOUCH_E_FORMAT, "file name must be 1 to %d bytes",
				     VOUCH_SIGFILE_MAX_NAME);
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return vouch_err_set(err, VOUCH_E_FORMAT, "file name must not be '.' or '..'");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "file name must not hold '/' or control characters");
	}
	return VOUCH_OK;
}

/* Exactly want lowercase hex digits. */
static int is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

enum vouch_rc vouch_sigfile_new(const char *name, const struct vouch_digests *d,
				struct vouch_sigfile **out, struct vouch_err *err)
{
	enum vouch_rc rc = check_name(name, strlen(name), err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "cannot sign '%s': ", name);
		return rc;
	}
	if ((d->algs & (VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512)) !=
	    (VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512))
		return vouch_err_set(err, VOUCH_E_INTERNAL,
				     "signature file needs sha256 and sha512");
	if (d->length > (uint64_t)INT64_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "file too large");
	struct vouch_sigfile *sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	memcpy(sf->name, name, strlen(name) + 1);
	sf->length = d->length;
	vouch_hex_encode(d->sha256, VOUCH_SHA256_LEN, sf->sha256_hex);
	vouch_hex_encode(d->sha512, VOUCH_SHA512_LEN, sf->sha512_hex);
	*out = sf;
	return VOUCH_OK;
}

void vouch_sigfile_free(struct vouch_sigfile *sf)
{
	free(sf);
}

/* Fails unless obj has exactly the n keys in names (any order). */
static enum vouch_rc exact_keys(json_t *obj, const char *what, const char *const *names, size_t n,
				struct vouch_err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach (obj, k, v) {
		size_t i = 0;
		while (i < n && strcmp(k, names[i]) != 0)
			i++;
		if (i == n) {
			/* Key names come from untrusted input: do not print them. */
			return vouch_err_set(err, VOUCH_E_FORMAT, "%s has an unknown field", what);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (json_object_get(obj, names[i]) == NULL)
			return vouch_err_set(err, VOUCH_E_FORMAT, "%s lacks the field '%s'", what,
					     names[i]);
	}
	return VOUCH_OK;
}

static enum vouch_rc get_hex(const json_t *obj, const char *key, size_t want, char *out,
			     struct vouch_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return vouch_err_set(err, VOUCH_E_FORMAT, "field '%s' must be a string", key);
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (len != want || !is_lower_hex(s, len))
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "field '%s' must be %zu lowercase hex digits", key, want);
	memcpy(out, s, len + 1);
	return VOUCH_OK;
}

static enum vouch_rc parse_signed(json_t *s, struct vouch_sigfile *sf, struct vouch_err *err)
{
	static const char *const fields[] = {"_type", "name", "length", "hashes"};
	static const char *const hfields[] = {"sha256", "sha512"};
	if (!json_is_object(s))
		return vouch_err_set(err, VOUCH_E_FORMAT, "'signed' must be an object");
	enum vouch_rc rc = exact_keys(s, "'signed'", fields, 4, err);
	if (rc != VOUCH_OK)
		return rc;
	json_t *type = json_object_get(s, "_type");
	if (!json_is_string(type) || strcmp(json_string_value(type), VOUCH_SIGFILE_TYPE) != 0 ||
	    json_string_length(type) != strlen(VOUCH_SIGFILE_TYPE))
		return vouch_err_set(err, VOUCH_E_FORMAT, "'signed._type' must be \"%s\"",
				     VOUCH_SIGFILE_TYPE);
	json_t *name = json_object_get(s, "name");
	if (!json_is_string(name))
		return vouch_err_set(err, VOUCH_E_FORMAT, "field 'name' must be a string");
	rc = check_name(json_string_value(name), json_string_length(name), err);
	if (rc != VOUCH_OK)
		return rc;
	memcpy(sf->name, json_string_value(name), json_string_length(name) + 1);
	int64_t length = 0;
	rc = vouch_json_get_int(s, "length", 0, INT64_MAX, &length, err);
	if (rc != VOUCH_OK)
		return rc;
	sf->length = (uint64_t)length;
	json_t *h = json_object_get(s, "hashes");
	if (!json_is_object(h))
		return vouch_err_set(err, VOUCH_E_FORMAT, "field 'hashes' must be an object");
	rc = exact_keys(h, "'hashes'", hfields, 2, err);
	if (rc == VOUCH_OK)
		rc = get_hex(h, "sha256", 2 * VOUCH_SHA256_LEN, sf->sha256_hex, err);
	if (rc == VOUCH_OK)
		rc = get_hex(h, "sha512", 2 * VOUCH_SHA512_LEN, sf->sha512_hex, err);
	return rc;
}

static enum vouch_rc parse_sig(json_t *e, struct sig_entry *out, struct vouch_err *err)
{
	static const char *const fields[] = {"keyid", "sig"};
	if (!json_is_object(e))
		return vouch_err_set(err, VOUCH_E_FORMAT, "must be an object");
	enum vouch_rc rc = exact_keys(e, "it", fields, 2, err);
	if (rc == VOUCH_OK)
		rc = get_hex(e, "keyid", VOUCH_KEYID_HEX_LEN, out->keyid, err);
	if (rc != VOUCH_OK)
		return rc;
	json_t *sig = json_object_get(e, "sig");
	if (!json_is_string(sig))
		return vouch_err_set(err, VOUCH_E_FORMAT, "field 'sig' must be a string");
	size_t len = json_string_length(sig);
	const char *s = json_string_value(sig);
	if (len == 0 || len % 2 != 0 || !is_lower_hex(s, len))
		return vouch_err_set(err, VOUCH_E_FORMAT,
				     "field 'sig' must be a non-empty even number of lowercase "
				     "hex digits");
	if (len > 2 * (size_t)VOUCH_SIG_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT, "field 'sig' is longer than %d bytes",
				     VOUCH_SIG_MAX);
	return vouch_hex_decode(s, len, out->sig, sizeof(out->sig), &out->siglen, err);
}

enum vouch_rc vouch_sigfile_parse(const void *data, size_t len, struct vouch_sigfile **out,
				  struct vouch_err *err)
{
	static const char *const fields[] = {"signed", "signatures"};
	json_t *doc = NULL, *sigs = NULL;
	struct vouch_sigfile *sf = NULL;
	enum vouch_rc rc;

	if (len > VOUCH_SIGFILE_MAX)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "signature file of %zu bytes exceeds the limit of %u bytes",
				     len, VOUCH_SIGFILE_MAX);
	rc = vouch_json_parse(data, len, VOUCH_SIGFILE_MAX, &doc, err);
	if (rc != VOUCH_OK)
		return rc;
	if (!json_is_object(doc)) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "signature file must be a JSON object");
		goto out;
	}
	rc = exact_keys(doc, "signature file", fields, 2, err);
	if (rc != VOUCH_OK)
		goto out;
	sigs = json_object_get(doc, "signatures");
	if (!json_is_array(sigs)) {
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "'signatures' must be an array");
		goto out;
	}
	if (json_array_size(sigs) > VOUCH_SIGFILE_MAX_SIGS) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT, "more than %d signatures",
				   VOUCH_SIGFILE_MAX_SIGS);
		goto out;
	}
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = parse_signed(json_object_get(doc, "signed"), sf, err);
	if (rc != VOUCH_OK)
		goto out;
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		rc = parse_sig(json_array_get(sigs, i), &sf->sigs[i], err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "signature %zu: ", i + 1);
			goto out;
		}
		sf->n = i + 1;
	}
	*out = sf;
	sf = NULL;
out:
	vouch_sigfile_free(sf);
	json_decref(doc);
	return rc;
}

enum vouch_rc vouch_sigfile_read(const char *path, struct vouch_sigfile **out,
				 struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_file_read(path, VOUCH_SIGFILE_MAX, &b, err);
	if (rc == VOUCH_E_NOTFOUND) {
		return vouch_err_set(
		    err, VOUCH_E_VERIFY,
		    "%s: no signature file (the file is not signed, or give --sig)", path);
	}
	if (rc == VOUCH_E_LIMIT) {
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "%s: signature file larger than the limit of %u bytes", path,
				     VOUCH_SIGFILE_MAX);
	}
	if (rc == VOUCH_OK) {
		rc = vouch_sigfile_parse(b.data, b.len, out, err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "%s: ", path);
	}
	vouch_buf_free(&b);
	return rc;
}

/* ---- serialising ------------------------------------------------------ */

static enum vouch_rc signed_json(const struct vouch_sigfile *sf, json_t **out,
				 struct vouch_err *err)
{
	json_t *s = json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "_type", VOUCH_SIGFILE_TYPE, "name",
			      sf->name, "length", (json_int_t)sf->length, "hashes", "sha256",
			      sf->sha256_hex, "sha512", sf->sha512_hex);
	if (s == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "cannot build the signed part");
	*out = s;
	return VOUCH_OK;
}

enum vouch_rc vouch_sigfile_signed_bytes(const struct vouch_sigfile *sf, struct vouch_buf *out,
					 struct vouch_err *err)
{
	json_t *s = NULL;
	enum vouch_rc rc = signed_json(sf, &s, err);
	if (rc == VOUCH_OK)
		rc = vouch_canon_encode(s, out, err);
	json_decref(s);
	return rc;
}

enum vouch_rc vouch_sigfile_serialize(const struct vouch_sigfile *sf, struct vouch_buf *out,
				      struct vouch_err *err)
{
	json_t *doc = NULL, *s = NULL, *sigs = NULL;
	char *hex = NULL;
	enum vouch_rc rc = signed_json(sf, &s, err);
	if (rc != VOUCH_OK)
		return rc;
	sigs = json_array();
	hex = malloc(2 * VOUCH_SIG_MAX + 1);
	if (sigs == NULL || hex == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sf->n; i++) {
		vouch_hex_encode(sf->sigs[i].sig, sf->sigs[i].siglen, hex);
		if (json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", sf->sigs[i].keyid,
							  "sig", hex)) != 0) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	doc = json_pack("{s:O, s:O}", "signed", s, "signatures", sigs);
	if (doc == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = vouch_json_dump(doc, out, err);
out:
	free(hex);
	json_decref(doc);
	json_decref(sigs);
	json_decref(s);
	return rc;
}

enum vouch_rc vouch_sigfile_write(const struct vouch_sigfile *sf, const char *path,
				  struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_sigfile_serialize(sf, &b, err);
	if (rc == VOUCH_OK)
		rc = vouch_file_write_atomic(path, b.data, b.len, 0644, err);
	vouch_buf_free(&b);
	return rc;
}

/* ---- signing and verifying -------------------------------------------- */

enum vouch_rc vouch_sigfile_add_signature(struct vouch_sigfile *sf, const struct vouch_key *key,
					  struct vouch_err *err)
{
	struct vouch_buf msg = {0};
	uint8_t *sig = NULL;
	size_t siglen = 0;
	const char *id = vouch_key_id(key);
	enum vouch_rc rc;

	if (id == NULL || strlen(id) != VOUCH_KEYID_HEX_LEN)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "key has no key id");
	size_t slot = 0;
	while (slot < sf->n && strcmp(sf->sigs[slot].keyid, id) != 0)
		slot++;
	if (slot == sf->n && sf->n == VOUCH_SIGFILE_MAX_SIGS)
		return vouch_err_set(err, VOUCH_E_LIMIT,
				     "the signature file already has %d signatures",
				     VOUCH_SIGFILE_MAX_SIGS);
	rc = vouch_sigfile_signed_bytes(sf, &msg, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = vouch_key_sign(key, msg.data, msg.len, &sig, &siglen, err);
	if (rc != VOUCH_OK)
		goto out;
	if (siglen == 0 || siglen > VOUCH_SIG_MAX) {
		rc = vouch_err_set(err, VOUCH_E_INTERNAL, "signature of %zu bytes", siglen);
		goto out;
	}
	/* Check our own signature before publishing it: a faulty token or a
	 * fault during an RSA signature must not leave a bad (or key-leaking)
	 * signature behind. */
	if (vouch_key_verify(key, msg.data, msg.len, sig, siglen, NULL) != VOUCH_OK) {
		rc = vouch_err_set(err, VOUCH_E_CRYPTO,
				   "the new signature does not verify with the key's public half");
		goto out;
	}
	if (slot < sf->n) {
		/* The same key signing again replaces its own entry. Several
		 * stale entries of this key (a crafted file) all go. */
		size_t w = slot + 1;
		for (size_t r = slot + 1; r < sf->n; r++) {
			if (strcmp(sf->sigs[r].keyid, id) != 0)
				sf->sigs[w++] = sf->sigs[r];
		}
		sf->n = w;
	} else {
		sf->n++;
	}
	memcpy(sf->sigs[slot].keyid, id, VOUCH_KEYID_HEX_LEN + 1);
	memcpy(sf->sigs[slot].sig, sig, siglen);
	sf->sigs[slot].siglen = siglen;
out:
	free(sig);
	vouch_buf_free(&msg);
	return rc;
}

enum vouch_rc vouch_sigfile_verify_sigs(const struct vouch_sigfile *sf,
					const struct vouch_key *const *keys, size_t nkeys,
					unsigned threshold, size_t *valid, struct vouch_err *err)
{
	struct vouch_buf msg = {0};
	size_t count = 0, distinct = 0;
	unsigned char counted[VOUCH_SIGFILE_MAX_KEYS] = {0};
	enum vouch_rc rc;

	if (valid != NULL)
		*valid = 0;
	if (threshold < 1 || threshold > VOUCH_SIGFILE_MAX_KEYS)
		return vouch_err_set(err, VOUCH_E_USAGE, "threshold must be 1 to %d",
				     VOUCH_SIGFILE_MAX_KEYS);
	if (nkeys == 0 || nkeys > VOUCH_SIGFILE_MAX_KEYS)
		return vouch_err_set(err, VOUCH_E_USAGE, "give 1 to %d public keys",
				     VOUCH_SIGFILE_MAX_KEYS);
	rc = vouch_sigfile_signed_bytes(sf, &msg, err);
	if (rc != VOUCH_OK)
		return rc;
	for (size_t k = 0; k < nkeys; k++) {
		const char *id = vouch_key_id(keys[k]);
		int dup = 0, counted_before = 0;
		/* A key listed twice is one key, also when it is written in
		 * two spellings that give two key ids (PEM vs TUF JSON, legacy
		 * keytype): compare the key material itself. */
		for (size_t prev = 0; prev < k; prev++) {
			if (strcmp(vouch_key_id(keys[prev]), id) == 0 ||
			    vouch_key_same_public(keys[prev], keys[k])) {
				dup = 1;
				counted_before |= counted[prev];
			}
		}
		if (!dup)
			distinct++;
		if (counted_before)
			continue;
		/* A key with several entries counts once: stop at the first
		 * valid one. */
		for (size_t s = 0; s < sf->n; s++) {
			if (strcmp(sf->sigs[s].keyid, id) != 0)
				continue;
			if (vouch_key_verify(keys[k], msg.data, msg.len, sf->sigs[s].sig,
					     sf->sigs[s].siglen, NULL) == VOUCH_OK) {
				counted[k] = 1;
				count++;
				break;
			}
		}
	}
	vouch_buf_free(&msg);
	if (valid != NULL)
		*valid = count;
	if (count < threshold)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "signature threshold %u not met (%zu valid of %zu key%s)",
				     threshold, count, distinct, distinct == 1 ? "" : "s");
	return VOUCH_OK;
}

enum vouch_rc vouch_sigfile_check_file(const struct vouch_sigfile *sf, const char *path,
				       const struct vouch_digests *d, struct vouch_err *err)
{
	char hex[2 * VOUCH_SHA512_LEN + 1];
	if ((d->algs & VOUCH_HASH_SHA256) == 0 || (d->algs & VOUCH_HASH_SHA512) == 0)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "file digests incomplete");
	if (d->length > sf->length)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: longer than the %" PRIu64
				     " bytes signed (file changed since signing?)",
				     path, sf->length);
	if (d->length < sf->length)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: %" PRIu64 " bytes, shorter than the %" PRIu64
				     " bytes signed (file truncated or changed since signing?)",
				     path, d->length, sf->length);
	vouch_hex_encode(d->sha256, VOUCH_SHA256_LEN, hex);
	if (strcmp(hex, sf->sha256_hex) != 0)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: sha256 does not match the signature file (file changed "
				     "since signing?)",
				     path);
	vouch_hex_encode(d->sha512, VOUCH_SHA512_LEN, hex);
	if (strcmp(hex, sf->sha512_hex) != 0)
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: sha512 does not match the signature file (file changed "
				     "since signing?)",
				     path);
	/* Last, so that a changed file is reported as changed. Here the
	 * content is the signed one, but it was signed as another file: a
	 * renamed copy, or another release passed off under this name. */
	const char *name = vouch_sigfile_basename(path);
	if (strcmp(sf->name, name) != 0)
		return vouch_err_set(
		    err, VOUCH_E_VERIFY,
		    "%s: the signature file is for '%s', not '%s' (wrong signature "
		    "file, or the file was renamed)",
		    path, sf->name, name);
	return VOUCH_OK;
}

enum vouch_rc vouch_sigfile_verify_file(const char *file_path, const char *sig_path,
					const struct vouch_key *const *keys, size_t nkeys,
					unsigned threshold, size_t *valid, struct vouch_err *err)
{
	struct vouch_sigfile *sf = NULL;
	struct vouch_digests d;
	enum vouch_rc rc;

	if (valid != NULL)
		*valid = 0;
	rc = vouch_sigfile_read(sig_path, &sf, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = vouch_sigfile_verify_sigs(sf, keys, nkeys, threshold, valid, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", sig_path);
		goto out;
	}
	/* Only now is anything in "signed" trusted enough to compare. */
	rc = vouch_sigfile_hash_file_max(file_path, sf->length, &d, err);
	if (rc == VOUCH_OK)
		rc = vouch_sigfile_check_file(sf, file_path, &d, err);
out:
	vouch_sigfile_free(sf);
	return rc;
}

const char *vouch_sigfile_name(const struct vouch_sigfile *sf)
{
	return sf->name;
}

uint64_t vouch_sigfile_length(const struct vouch_sigfile *sf)
{
	return sf->length;
}

const char *vouch_sigfile_sha256_hex(const struct vouch_sigfile *sf)
{
	return sf->sha256_hex;
}

const char *vouch_sigfile_sha512_hex(const struct vouch_sigfile *sf)
{
	return sf->sha512_hex;
}

size_t vouch_sigfile_count(const struct vouch_sigfile *sf)
{
	return sf->n;
}

const char *vouch_sigfile_keyid(const struct vouch_sigfile *sf, size_t i)
{
	return i < sf->n ? sf->sigs[i].keyid : NULL;
}
