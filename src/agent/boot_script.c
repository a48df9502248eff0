/* vouch-agent — script backend: the integrator's program stores the
 * variables wherever the platform keeps them. `COMMAND get` prints
 * key=value lines; `COMMAND set` reads the whole environment as key=value
 * lines on stdin and must store it atomically before exiting 0. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "boot_backends.h"
#include "fault.h"
#include "proc.h"

enum vouch_rc agent_boot_script_load(const struct agent_config *cfg, struct agent_bootenv *env,
				     struct vouch_err *err)
{
	struct vouch_buf cmd = {0}, out = {0};
	int status = 0;
	enum vouch_rc rc = vouch_buf_printf(&cmd, err, "%s get", cfg->boot_command);
	if (rc == VOUCH_OK)
		rc = agent_proc_capture((const char *)cmd.data, NULL, &out, AGENT_BOOTENV_MAX_SIZE,
					60, &status, err);
	if (rc == VOUCH_OK && status != 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "boot script get: exit %d", status);
	if (rc == VOUCH_OK)
		rc = agent_bootenv_parse((const char *)out.data, out.len, env, err);
	vouch_buf_free(&cmd);
	vouch_buf_free(&out);
	return rc;
}

enum vouch_rc agent_boot_script_store(const struct agent_config *cfg,
				      const struct agent_bootenv *env, struct vouch_err *err)
{
	struct vouch_buf cmd = {0}, in = {0};
	struct agent_proc p = {-1, -1};
	int status = 0;
	void (*old)(int) = NULL;
	size_t off = 0;
	enum vouch_rc rc = vouch_buf_printf(&cmd, err, "%s set", cfg->boot_command);
	for (size_t i = 0; rc == VOUCH_OK && i < env->n; i++)
		rc = vouch_buf_printf(&in, err, "%s=%s\n", env->key[i], env->value[i]);
	if (rc != VOUCH_OK)
		goto out;
	vouch_fault_point(VOUCH_FAULT_BOOTENV, "boot script");
	rc = agent_proc_start((const char *)cmd.data, NULL, 1, &p, err);
	if (rc != VOUCH_OK)
		goto out;
	old = signal(SIGPIPE, SIG_IGN);
	while (off < in.len) {
		ssize_t n = write(p.in_fd, in.data + off, in.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	signal(SIGPIPE, old);
	rc = agent_proc_wait(&p, 60, &status, err);
	if (rc == VOUCH_OK && (status != 0 || off < in.len))
		rc = vouch_err_set(err, VOUCH_E_IO, "boot script set: exit %d", status);
out:
	vouch_buf_free(&cmd);
	vouch_buf_free(&in);
	return rc;
}
