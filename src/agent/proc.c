/* vouch-agent — child processes with a timeout. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static enum vouch_rc spawn(const char *command, char *const argv[], char *const env[],
			   int want_stdin, int out_fd, struct agent_proc *p, struct vouch_err *err)
{
	int in[2] = {-1, -1};
	p->pid = -1;
	p->in_fd = -1;
	if (want_stdin && pipe2(in, O_CLOEXEC) != 0)
		return vouch_err_set(err, VOUCH_E_IO, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		if (want_stdin) {
			close(in[0]);
			close(in[1]);
		}
		return vouch_err_set(err, VOUCH_E_IO, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		int fd = want_stdin ? in[0] : open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(127);
		if (out_fd >= 0 && dup2(out_fd, 1) < 0)
			_exit(127);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		if (command != NULL)
			execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		else
			execvp(argv[0], argv);
		_exit(127);
	}
	/* Also in the parent: a timeout that fires before the child ran
	 * setpgid() must still kill the whole group. */
	setpgid(pid, pid);
	if (want_stdin) {
		close(in[0]);
		p->in_fd = in[1];
	}
	p->pid = pid;
	return VOUCH_OK;
}

enum vouch_rc agent_proc_start(const char *command, char *const env[], int want_stdin,
			       struct agent_proc *p, struct vouch_err *err)
{
	return spawn(command, NULL, env, want_stdin, -1, p, err);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

enum vouch_rc agent_proc_wait(struct agent_proc *p, int timeout, int *status, struct vouch_err *err)
{
	int st = 0;
	long deadline = now_ms() + (long)timeout * 1000;
	if (p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	for (;;) {
		pid_t r = waitpid(p->pid, &st, timeout > 0 ? WNOHANG : 0);
		if (r == p->pid)
			break;
		if (r < 0 && errno != EINTR)
			return vouch_err_set(err, VOUCH_E_IO, "waitpid: %s", strerror(errno));
		if (timeout > 0 && now_ms() > deadline) {
			kill(-p->pid, SIGKILL);
			kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
				;
			p->pid = -1;
			return vouch_err_set(err, VOUCH_E_IO, "timed out after %d s", timeout);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	p->pid = -1;
	*status = decode_status(st);
	return VOUCH_OK;
}

void agent_proc_kill(struct agent_proc *p)
{
	int st = 0;
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
		p->pid = -1;
	}
	if (p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
}

static enum vouch_rc capture(const char *command, char *const argv[], char *const env[],
			     struct vouch_buf *out, size_t max_out, int timeout, int *status,
			     struct vouch_err *err)
{
	int fds[2];
	struct agent_proc p;
	enum vouch_rc rc = VOUCH_OK;
	long deadline = now_ms() + (long)timeout * 1000;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return vouch_err_set(err, VOUCH_E_IO, "pipe: %s", strerror(errno));
	rc = spawn(command, argv, env, 0, fds[1], &p, err);
	close(fds[1]);
	if (rc != VOUCH_OK) {
		close(fds[0]);
		return rc;
	}
	for (;;) {
		struct pollfd pf = {fds[0], POLLIN, 0};
		long left = timeout > 0 ? deadline - now_ms() : 1000;
		if (left <= 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "timed out after %d s", timeout);
			break;
		}
		int k = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
		if (k < 0 && errno != EINTR) {
			rc = vouch_err_set(err, VOUCH_E_IO, "poll: %s", strerror(errno));
			break;
		}
		if (k <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len + (size_t)n > max_out) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT, "output larger than %zu bytes",
					   max_out);
			break;
		}
		rc = vouch_buf_append(out, buf, (size_t)n, err);
		if (rc != VOUCH_OK)
			break;
	}
	close(fds[0]);
	if (rc != VOUCH_OK) {
		kill(-p.pid, SIGKILL);
		kill(p.pid, SIGKILL);
		int st;
		while (waitpid(p.pid, &st, 0) < 0 && errno == EINTR)
			;
		return rc;
	}
	long left = timeout > 0 ? (deadline - now_ms()) / 1000 + 1 : 0;
	return agent_proc_wait(&p, (int)left, status, err);
}

enum vouch_rc agent_proc_capture(const char *command, char *const env[], struct vouch_buf *out,
				 size_t max_out, int timeout, int *status, struct vouch_err *err)
{
	return capture(command, NULL, env, out, max_out, timeout, status, err);
}

enum vouch_rc agent_proc_capture_argv(char *const argv[], struct vouch_buf *out, size_t max_out,
				      int timeout, int *status, struct vouch_err *err)
{
	return capture(NULL, argv, NULL, out, max_out, timeout, status, err);
}
