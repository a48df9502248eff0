/* vouch — growable byte buffers and bounded, durable file I/O. */
#ifndef VOUCH_BUF_H
#define VOUCH_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vouch/error.h"

/* A plain growable byte buffer. Zero-initialise it ({0}); data is always
 * NUL-terminated after len (one spare byte) so text can be used as a C
 * string. The caller owns data and releases it with vouch_buf_free() (or
 * vouch_buf_free_secret() when it held a secret). */
struct vouch_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Ensures room for n more bytes. On failure the buffer is unchanged. */
enum vouch_rc vouch_buf_reserve(struct vouch_buf *b, size_t n, struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_buf_append(struct vouch_buf *b, const void *p, size_t n,
			       struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_buf_append_str(struct vouch_buf *b, const char *s,
				   struct vouch_err *err) VOUCH_WUR;
enum vouch_rc vouch_buf_printf(struct vouch_buf *b, struct vouch_err *err, const char *fmt, ...)
    VOUCH_PRINTF(3, 4) VOUCH_WUR;
void vouch_buf_free(struct vouch_buf *b);
/* Wipes the whole allocation (OPENSSL_cleanse) before freeing. */
void vouch_buf_free_secret(struct vouch_buf *b);
/* Hands the data out (caller frees with free()) and resets b. */
uint8_t *vouch_buf_steal(struct vouch_buf *b);

/* Reads a whole file of at most max bytes into out (which must be empty).
 * VOUCH_E_LIMIT if larger, VOUCH_E_NOTFOUND if missing, VOUCH_E_IO otherwise.
 * On failure out is left empty. */
enum vouch_rc vouch_file_read(const char *path, size_t max, struct vouch_buf *out,
			      struct vouch_err *err) VOUCH_WUR;

/* Writes data durably and atomically: a temporary file in the same
 * directory, write, fsync, rename over path, fsync of the directory.
 * mode is used for the new file (e.g. 0644, 0600). */
enum vouch_rc vouch_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
				      struct vouch_err *err) VOUCH_WUR;

/* Creates a new file that must not exist (O_CREAT|O_EXCL) with mode and
 * writes data, fsyncs it. For private keys (mode 0600). On failure after
 * creation the partial file is removed. */
enum vouch_rc vouch_file_write_new(const char *path, const void *data, size_t len, mode_t mode,
				   struct vouch_err *err) VOUCH_WUR;

/* fsyncs the directory that contains path (or the directory itself if
 * path is a directory). */
enum vouch_rc vouch_fsync_dir_of(const char *path, struct vouch_err *err) VOUCH_WUR;

/* mkdir -p with mode for created directories. */
enum vouch_rc vouch_mkdir_p(const char *path, mode_t mode, struct vouch_err *err) VOUCH_WUR;

#endif
