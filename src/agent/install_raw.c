/* vouch-agent — raw installer: an image into a slot. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "install.h"

/* A power-cut point at the first write and then every this many bytes: a
 * cut inside a slot write is the same event wherever it falls (the slot
 * is inactive and not referenced), so a few points cover it. */
#define RAW_FAULT_EVERY (16u * 1024 * 1024)
/* Write-behind window: each full window is handed to the disk at once and
 * the one before it waited for, so the final fsync has little left to do,
 * the disk works while the network does, and dirty pages stay bounded. */
#define RAW_WINDOW (8u * 1024 * 1024)

/* Bytes gathered before a write(2): the network hands out ~16 KiB at a
 * time; one system call per 256 KiB instead. */
#define RAW_BUF (256u * 1024)

struct raw_sink {
	int fd;
	const char *slot;
	uint8_t *buf;
	size_t buffered;
	uint64_t written;  /* bytes written to the slot */
	uint64_t accepted; /* bytes received (written + buffered) */
	uint64_t started;  /* end of the last window handed to the disk */
	uint64_t prev;	   /* start of that window */
};

static void write_behind(struct raw_sink *s)
{
	if (s->written - s->started < RAW_WINDOW)
		return;
	(void)sync_file_range(s->fd, (off64_t)s->started, (off64_t)(s->written - s->started),
			      SYNC_FILE_RANGE_WRITE);
	if (s->started > s->prev) {
		off64_t len = (off64_t)(s->started - s->prev);
		(void)sync_file_range(s->fd, (off64_t)s->prev, len,
				      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					  SYNC_FILE_RANGE_WAIT_AFTER);
		/* Written and clean: the image need not stay in memory. */
		(void)posix_fadvise(s->fd, (off_t)s->prev, (off_t)len, POSIX_FADV_DONTNEED);
	}
	s->prev = s->started;
	s->started = s->written;
}

static enum vouch_rc flush(struct raw_sink *s, struct vouch_err *err)
{
	const uint8_t *c = s->buf;
	size_t n = s->buffered;
	if (n == 0)
		return VOUCH_OK;
	if (s->written == 0 || s->written / RAW_FAULT_EVERY != (s->written + n) / RAW_FAULT_EVERY)
		vouch_fault_point(VOUCH_FAULT_WRITE, s->slot);
	while (n > 0) {
		ssize_t k = write(s->fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return vouch_err_set(err, VOUCH_E_IO, "%s: write: %s", s->slot,
					     strerror(errno));
		c += k;
		n -= (size_t)k;
		s->written += (uint64_t)k;
	}
	s->buffered = 0;
	write_behind(s);
	return VOUCH_OK;
}

static enum vouch_rc raw_write(void *ctx, const void *p, size_t n, struct vouch_err *err)
{
	struct raw_sink *s = ctx;
	const uint8_t *c = p;
	while (n > 0) {
		size_t k = RAW_BUF - s->buffered;
		if (k > n)
			k = n;
		memcpy(s->buf + s->buffered, c, k);
		s->buffered += k;
		s->accepted += k;
		c += k;
		n -= k;
		if (s->buffered == RAW_BUF) {
			enum vouch_rc rc = flush(s, err);
			if (rc != VOUCH_OK)
				return rc;
		}
	}
	return VOUCH_OK;
}

enum vouch_rc agent_install_raw(const char *slot, uint64_t size_hint,
				const struct vouch_pipeline_opts *po,
				struct vouch_pipeline_result *res, struct vouch_err *err)
{
	struct raw_sink s = {-1, slot, NULL, 0, 0, 0, 0, 0};
	struct vouch_pipeline_opts o = *po;
	struct stat st;
	uint64_t size = 0;
	enum vouch_rc rc = VOUCH_OK;

	s.fd = open(slot, O_WRONLY | O_CLOEXEC);
	if (s.fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "slot %s: open: %s", slot, strerror(errno));
	if (fstat(s.fd, &st) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "slot %s: stat: %s", slot, strerror(errno));
		goto out;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(s.fd, BLKGETSIZE64, &size) != 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "slot %s: size: %s", slot,
					   strerror(errno));
			goto out;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		rc = vouch_err_set(err, VOUCH_E_IO, "slot %s: not a file or block device", slot);
		goto out;
	}
	if (size_hint > size) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT,
				   "image of %llu bytes is larger than slot %s (%llu bytes)",
				   (unsigned long long)size_hint, slot, (unsigned long long)size);
		goto out;
	}
	s.buf = malloc(RAW_BUF);
	if (s.buf == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	/* With a stage (decryption), the slot is re-read below against the
	 * SIGNED plaintext sha256 before anything can boot it: hashing the
	 * plaintext while it streams as well would only cost a core. */
	o.out_checked_by_reread = o.stage != NULL;
	rc = vouch_pipeline_run(&o, raw_write, &s, res, err);
	if (rc == VOUCH_OK)
		rc = flush(&s, err);
	if (rc != VOUCH_OK)
		goto out;
	if (vouch_fault_fsync(s.fd) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "slot %s: fsync: %s", slot, strerror(errno));
		goto out;
	}
	rc = vouch_pipeline_verify_file(slot, res->out_length, res->out_sha256, err);
	if (rc == VOUCH_E_VERIFY && o.out_checked_by_reread && err != NULL) {
		char why[VOUCH_ERR_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "%s: decrypted content does not match its signed sha256 (%s)",
				   o.label, why);
	}
out:
	free(s.buf);
	close(s.fd);
	return rc;
}
