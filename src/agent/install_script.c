/* vouch-agent — script installer: the integrator's command receives the
 * verified bytes on stdin. The download is spooled to a file in the data
 * directory first and the command started only once every byte matched
 * the signed hashes, so the command never sees an unverified byte. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
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

enum vouch_rc agent_install_script(const char *command, char *const env[], const char *spool_path,
				   const struct vouch_pipeline_opts *po,
				   struct vouch_pipeline_result *res, struct vouch_err *err)
{
	struct spool s = {-1, spool_path};
	struct agent_proc p = {-1, -1};
	enum vouch_rc rc = VOUCH_OK;
	int status = 0;
	char buf[65536];
	void (*old)(int) = NULL;

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
	rc = agent_proc_start(command, env, 1, &p, err);
	if (rc != VOUCH_OK)
		goto out;
	old = signal(SIGPIPE, SIG_IGN);
	for (;;) {
		ssize_t n = read(s.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ssize_t off = 0;
		while (off < n) {
			ssize_t k = write(p.in_fd, buf + off, (size_t)(n - off));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			off += k;
		}
		if (off < n)
			break; /* the command stopped reading; its status says why */
	}
	signal(SIGPIPE, old);
	rc = agent_proc_wait(&p, 0, &status, err);
	if (rc == VOUCH_OK && status != 0)
		rc =
		    vouch_err_set(err, VOUCH_E_IO, "install command exited with status %d", status);
out:
	close(s.fd);
	unlink(spool_path);
	return rc;
}
