/* vouch-agent — running the integrator's commands (health check, script
 * installer, script boot backend) through /bin/sh with a timeout. */
#ifndef VOUCH_AGENT_PROC_H
#define VOUCH_AGENT_PROC_H

#include <sys/types.h>

#include "vouch/buf.h"
#include "vouch/error.h"

#define AGENT_PROC_MAX_ENV 8

/* Extra environment for the child: "NAME=value" strings, NULL-terminated. */
struct agent_proc {
	pid_t pid;
	int in_fd; /* write end of the child's stdin, or -1 */
};

/* Starts `/bin/sh -c command` in its own process group with env added.
 * With want_stdin, p->in_fd is a pipe to its stdin; otherwise stdin is
 * /dev/null. stdout/stderr are inherited unless out is given, in which
 * case stdout is captured by agent_proc_wait (up to max_out bytes). */
enum vouch_rc agent_proc_start(const char *command, char *const env[], int want_stdin,
			       struct agent_proc *p, struct vouch_err *err) VOUCH_WUR;

/* Closes stdin if open, waits up to timeout seconds (0: no limit), kills
 * the process group on timeout (VOUCH_E_IO, "timed out"). *status is the
 * exit code (or 128+signal). */
enum vouch_rc agent_proc_wait(struct agent_proc *p, int timeout, int *status,
			      struct vouch_err *err) VOUCH_WUR;

/* Kills the process group with SIGKILL (stdin still open, so the command
 * never sees a clean end of input) and reaps the child. */
void agent_proc_kill(struct agent_proc *p);

/* Runs command to completion, capturing stdout into out (at most max_out
 * bytes, else VOUCH_E_LIMIT). */
enum vouch_rc agent_proc_capture(const char *command, char *const env[], struct vouch_buf *out,
				 size_t max_out, int timeout, int *status,
				 struct vouch_err *err) VOUCH_WUR;

/* The same for a program and its arguments, without a shell. */
enum vouch_rc agent_proc_capture_argv(char *const argv[], struct vouch_buf *out, size_t max_out,
				      int timeout, int *status, struct vouch_err *err) VOUCH_WUR;

#endif
