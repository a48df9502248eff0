#include "vouch/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

enum vouch_rc vouch_buf_reserve(struct vouch_buf *b, size_t n, struct vouch_err *err)
{
	if (n > SIZE_MAX - b->len - 1)
		return vouch_err_set(err, VOUCH_E_NOMEM, "buffer size overflow");
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return VOUCH_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (p == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
	/* Keep the promise of buf.h: data is a C string even when empty. */
	b->data[b->len] = 0;
	return VOUCH_OK;
}

enum vouch_rc vouch_buf_append(struct vouch_buf *b, const void *p, size_t n, struct vouch_err *err)
{
	enum vouch_rc rc = vouch_buf_reserve(b, n, err);
	if (rc != VOUCH_OK)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return VOUCH_OK;
}

enum vouch_rc vouch_buf_append_str(struct vouch_buf *b, const char *s, struct vouch_err *err)
{
	return vouch_buf_append(b, s, strlen(s), err);
}

enum vouch_rc vouch_buf_printf(struct vouch_buf *b, struct vouch_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "bad format string");
	enum vouch_rc rc = vouch_buf_reserve(b, (size_t)n, err);
	if (rc != VOUCH_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return VOUCH_OK;
}

void vouch_buf_free(struct vouch_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void vouch_buf_free_secret(struct vouch_buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	vouch_buf_free(b);
}

uint8_t *vouch_buf_steal(struct vouch_buf *b)
{
	uint8_t *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

enum vouch_rc vouch_file_read(const char *path, size_t max, struct vouch_buf *out,
			      struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO,
				     "%s: cannot open: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT,
				   "%s: %lld bytes exceeds the limit of %zu bytes", path,
				   (long long)st.st_size, max);
		goto out;
	}
	for (;;) {
		rc = vouch_buf_reserve(out, max - out->len < 65536 ? max - out->len + 1 : 65536,
				       err);
		if (rc != VOUCH_OK)
			goto out;
		size_t room = out->cap - out->len - 1;
		/* Never read (or grow) past one byte beyond the limit, whatever
		 * the file claims: enough to tell "too large". */
		if (max - out->len < room)
			room = max - out->len + 1;
		ssize_t n = read(fd, out->data + out->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = 0;
		if (out->len > max) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT,
					   "%s: more than the limit of %zu bytes", path, max);
			goto out;
		}
	}
out:
	close(fd);
	if (rc != VOUCH_OK)
		vouch_buf_free(out);
	return rc;
}

static enum vouch_rc write_all(int fd, const void *data, size_t len, const char *path,
			       struct vouch_err *err)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = vouch_fault_write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vouch_err_set(err, VOUCH_E_IO, "%s: write: %s", path,
					     strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return VOUCH_OK;
}

enum vouch_rc vouch_fsync_dir_of(const char *path, struct vouch_err *err)
{
	char dir[PATH_MAX];
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
			return vouch_err_set(err, VOUCH_E_IO, "path too long");
	} else {
		const char *slash = strrchr(path, '/');
		if (slash == NULL) {
			dir[0] = '.';
			dir[1] = 0;
		} else if (slash == path) {
			dir[0] = '/';
			dir[1] = 0;
		} else {
			size_t n = (size_t)(slash - path);
			if (n >= sizeof(dir))
				return vouch_err_set(err, VOUCH_E_IO, "path too long");
			memcpy(dir, path, n);
			dir[n] = 0;
		}
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: open: %s", dir, strerror(errno));
	if (vouch_fault_fsync(fd) != 0) {
		int e = errno;
		close(fd);
		return vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", dir, strerror(e));
	}
	close(fd);
	return VOUCH_OK;
}

enum vouch_rc vouch_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				      struct vouch_err *err)
{
	/* A name unique per process and call, so that two threads writing the
	 * same file never share a temporary. */
	static unsigned long counter;
	unsigned long seq = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%lu", path, (long)getpid(), seq) >=
	    (int)sizeof(tmp))
		return vouch_err_set(err, VOUCH_E_IO, "%s: path too long", path);
	/* O_TRUNC: a stale temporary of an earlier run (after a power cut, pids
	 * repeat) is overwritten; O_NOFOLLOW: never write through a symlink. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: create: %s", tmp, strerror(errno));
	enum vouch_rc rc = VOUCH_OK;
	/* The file gets exactly mode (a stale temporary kept its old one). */
	if (fchmod(fd, mode) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: chmod: %s", tmp, strerror(errno));
	if (rc == VOUCH_OK)
		rc = write_all(fd, data, len, tmp, err);
	if (rc == VOUCH_OK && vouch_fault_fsync(fd) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", tmp, strerror(errno));
	if (close(fd) != 0 && rc == VOUCH_OK)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: close: %s", tmp, strerror(errno));
	if (rc == VOUCH_OK && vouch_fault_rename(tmp, path) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: rename: %s", path, strerror(errno));
	if (rc != VOUCH_OK) {
		unlink(tmp);
		return rc;
	}
	return vouch_fsync_dir_of(path, err);
}

enum vouch_rc vouch_file_write_new(const char *path, const void *data, size_t len, mode_t mode,
				   struct vouch_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		return vouch_err_set(err, errno == EEXIST ? VOUCH_E_EXISTS : VOUCH_E_IO,
				     "%s: cannot create: %s", path, strerror(errno));
	}
	/* The file gets exactly mode, whatever the umask: callers ask for
	 * 0600 (private keys) or 0644 (public files) deliberately. */
	if (fchmod(fd, mode) != 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return vouch_err_set(err, VOUCH_E_IO, "%s: chmod: %s", path, strerror(e));
	}
	enum vouch_rc rc = write_all(fd, data, len, path, err);
	if (rc == VOUCH_OK && vouch_fault_fsync(fd) != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", path, strerror(errno));
	if (close(fd) != 0 && rc == VOUCH_OK)
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: close: %s", path, strerror(errno));
	if (rc != VOUCH_OK) {
		unlink(path);
		return rc;
	}
	return vouch_fsync_dir_of(path, err);
}

enum vouch_rc vouch_mkdir_p(const char *path, mode_t mode, struct vouch_err *err)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return vouch_err_set(err, VOUCH_E_IO, "bad directory path '%s'", path);
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return vouch_err_set(err, VOUCH_E_IO, "%s: mkdir: %s", tmp,
					     strerror(errno));
		tmp[i] = c;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return vouch_err_set(err, VOUCH_E_IO, "%s: not a directory", path);
	return VOUCH_OK;
}
