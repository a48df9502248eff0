#include "vouch/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vouch_hasher {
	unsigned algs;
	EVP_MD_CTX *c256;
	EVP_MD_CTX *c512;
	uint64_t length;
	int finished;
};

void vouch_hasher_free(struct vouch_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->c256);
	EVP_MD_CTX_free(h->c512);
	free(h);
}

enum vouch_rc vouch_hasher_new(unsigned algs, struct vouch_hasher **out, struct vouch_err *err)
{
	if ((algs & (VOUCH_HASH_SHA256 | VOUCH_HASH_SHA512)) == 0)
		return vouch_err_set(err, VOUCH_E_USAGE, "no hash algorithm selected");
	struct vouch_hasher *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	h->algs = algs;
	if (algs & VOUCH_HASH_SHA256) {
		h->c256 = EVP_MD_CTX_new();
		if (h->c256 == NULL || !EVP_DigestInit_ex(h->c256, EVP_sha256(), NULL))
			goto fail;
	}
	if (algs & VOUCH_HASH_SHA512) {
		h->c512 = EVP_MD_CTX_new();
		if (h->c512 == NULL || !EVP_DigestInit_ex(h->c512, EVP_sha512(), NULL))
			goto fail;
	}
	*out = h;
	return VOUCH_OK;
fail:
	vouch_hasher_free(h);
	return vouch_err_openssl(err, VOUCH_E_CRYPTO, "cannot start a hash");
}

enum vouch_rc vouch_hasher_update(struct vouch_hasher *h, const void *p, size_t n,
				  struct vouch_err *err)
{
	if (h->finished)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "hash already finished");
	if (h->c256 != NULL && !EVP_DigestUpdate(h->c256, p, n))
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha256 update failed");
	if (h->c512 != NULL && !EVP_DigestUpdate(h->c512, p, n))
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha512 update failed");
	h->length += n;
	return VOUCH_OK;
}

enum vouch_rc vouch_hasher_final(struct vouch_hasher *h, struct vouch_digests *out,
				 struct vouch_err *err)
{
	memset(out, 0, sizeof(*out));
	if (h->finished)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "hash already finished");
	h->finished = 1;
	out->algs = h->algs;
	out->length = h->length;
	if (h->c256 != NULL && !EVP_DigestFinal_ex(h->c256, out->sha256, NULL))
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha256 final failed");
	if (h->c512 != NULL && !EVP_DigestFinal_ex(h->c512, out->sha512, NULL))
		return vouch_err_openssl(err, VOUCH_E_CRYPTO, "sha512 final failed");
	return VOUCH_OK;
}

void vouch_sha256(const void *p, size_t n, uint8_t out[VOUCH_SHA256_LEN])
{
	EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL);
}

void vouch_sha512(const void *p, size_t n, uint8_t out[VOUCH_SHA512_LEN])
{
	EVP_Digest(p, n, out, NULL, EVP_sha512(), NULL);
}

enum vouch_rc vouch_hash_file(const char *path, unsigned algs, struct vouch_digests *out,
			      struct vouch_err *err)
{
	enum vouch_rc rc;
	struct vouch_hasher *h = NULL;
	uint8_t *buf = NULL;
	const size_t bufsz = 256 * 1024;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO,
				     "%s: cannot open: %s", path, strerror(errno));
	rc = vouch_hasher_new(algs, &h, err);
	if (rc != VOUCH_OK)
		goto out;
	buf = malloc(bufsz);
	if (buf == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		rc = vouch_hasher_update(h, buf, (size_t)n, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	rc = vouch_hasher_final(h, out, err);
out:
	free(buf);
	vouch_hasher_free(h);
	close(fd);
	return rc;
}
