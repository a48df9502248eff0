/* vouch-agent — script installer: the integrator's command receives the
 * verified bytes on stdin. The download is spooled to a file in the data
 * directory first and the command started only once every byte matched
 * the signed hashes, so the command never sees an unverified byte. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "install.h"
#include "proc.h"

struct spool {
	int fd;
	const char *path;
};

static enum vouch_rc spool_write(void *ctx, const void *p, size_t n, struct vouch_err *err)
{
	struct spool *s = ctx;
	const unsigned char *c = p;
	while (n > 0) {
		ssize_t k = write(s->fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return vouch_err_set(err, VOUCH_E_IO, "%s: write: %s", s->path,
					     strerror(errno));
		c += k;
		n -= (size_t)k;
	}
	return VOUCH_OK;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes n bytes to the command's stdin (non-blocking) until deadline.
 * Returns 1 when all were written, 0 when the command stopped reading
 * (its exit status says why), -1 on timeout. */
static int feed(int fd, const char *buf, size_t n, long deadline)
{
	size_t off = 0;
	while (off < n) {
		long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pf = {fd, POLLOUT, 0};
		int k = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
		if (k < 0 && errno != EINTR)
			return 0;
		if (k <= 0)
			continue;
		ssize_t w = write(fd, buf + off, n - off);
		if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (w <= 0)
			return 0;
		off += (size_t)w;
	}
	return 1;
}

enum vouch_rc agent_install_script(const char *command, char *const env[], const char *spool_path,
				   int timeout, const struct vouch_pipeline_opts *po,
				   struct vouch_pipeline_result *res, struct vouch_err *err)
{
	struct spool s = {-1, spool_path};
	struct agent_proc p = {-1, -1};
	enum vouch_rc rc = VOUCH_OK;
	int status = 0;
	int fed = 1;
	long deadline = 0;
	long left = 0;
	char buf[65536];
	void (*old)(int) = NULL;

	if (timeout <= 0)
		return vouch_err_set(err, VOUCH_E_INTERNAL, "install command without a timeout");
	s.fd = open(spool_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s.fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: %s", spool_path, strerror(errno));
	rc = vouch_pipeline_run(po, spool_write, &s, res, err);
	if (rc != VOUCH_OK)
		goto out;
	if (lseek(s.fd, 0, SEEK_SET) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: seek: %s", spool_path, strerror(errno));
		goto out;
	}
	deadline = now_ms() + (long)timeout * 1000;
	rc = agent_proc_start(command, env, 1, &p, err);
	if (rc != VOUCH_OK)
		goto out;
	if (fcntl(p.in_fd, F_SETFL, fcntl(p.in_fd, F_GETFL) | O_NONBLOCK) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "install command stdin: %s", strerror(errno));
		goto kill;
	}
	old = signal(SIGPIPE, SIG_IGN);
	for (;;) {
		ssize_t n = read(s.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* Never let the command see a clean end of input after a
			 * short read: it would install a truncated image. */
			rc = vouch_err_set(err, VOUCH_E_IO, "reading the spool file %s: %s",
					   spool_path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		fed = feed(p.in_fd, buf, (size_t)n, deadline);
		if (fed < 0) {
			rc =
			    vouch_err_set(err, VOUCH_E_IO,
					  "install command timed out after %d s (killed)", timeout);
			break;
		}
		if (fed == 0)
			break; /* the command stopped reading; its status says why */
	}
	signal(SIGPIPE, old);
	if (rc != VOUCH_OK)
		goto kill;
	left = deadline - now_ms();
	if (left <= 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "install command timed out after %d s (killed)",
				   timeout);
		goto kill;
	}
	rc = agent_proc_wait(&p, (int)((left + 999) / 1000), &status, err);
	if (rc != VOUCH_OK) {
		if (p.pid < 0) /* agent_proc_wait killed the group */
			rc =
			    vouch_err_set(err, VOUCH_E_IO,
					  "install command timed out after %d s (killed)", timeout);
		goto kill;
	}
	if (status != 0)
		rc =
		    vouch_err_set(err, VOUCH_E_IO, "install command exited with status %d", status);
	goto out;
kill:
	agent_proc_kill(&p);
out:
	close(s.fd);
	unlink(spool_path);
	return rc;
}
