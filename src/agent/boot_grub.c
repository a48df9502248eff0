/* vouch-agent — GRUB backend: the variables live in a grubenv file that
 * grub.cfg reads with load_env (docs/agent.md has the snippet).
 *
 * grub-editenv rewrites the file in place, which a power cut could tear, so
 * the agent has it write a fresh copy beside the file and renames that over
 * the original (fsync, rename, fsync of the directory). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_backends.h"
#include "fault.h"
#include "proc.h"

static enum vouch_rc editenv(const struct agent_config *cfg, char *const argv[],
			     struct vouch_buf *out, struct vouch_err *err)
{
	struct vouch_buf sink = {0};
	int status = 0;
	enum vouch_rc rc = agent_proc_capture_argv(argv, out ? out : &sink, AGENT_BOOTENV_MAX_SIZE,
						   30, &status, err);
	vouch_buf_free(&sink);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", cfg->editenv);
		return rc;
	}
	if (status != 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s %s %s: exit %d", cfg->editenv, argv[1],
				     argv[2], status);
	return VOUCH_OK;
}

enum vouch_rc agent_boot_grub_load(const struct agent_config *cfg, struct agent_bootenv *env,
				   struct vouch_err *err)
{
	struct stat st;
	struct vouch_buf out = {0};
	if (stat(cfg->env_file, &st) != 0 && errno == ENOENT)
		return VOUCH_OK;
	static char list[] = "list";
	char *argv[] = {cfg->editenv, cfg->env_file, list, NULL};
	enum vouch_rc rc = editenv(cfg, argv, &out, err);
	if (rc == VOUCH_OK)
		rc = agent_bootenv_parse((const char *)out.data, out.len, env, err);
	vouch_buf_free(&out);
	return rc;
}

enum vouch_rc agent_boot_grub_store(const struct agent_config *cfg, const struct agent_bootenv *env,
				    struct vouch_err *err)
{
	char tmp[PATH_MAX];
	char *argv[AGENT_BOOTENV_MAX_VARS + 4] = {NULL};
	struct vouch_buf vars[AGENT_BOOTENV_MAX_VARS];
	enum vouch_rc rc = VOUCH_OK;
	int fd = -1;

	memset(vars, 0, sizeof(vars));
	if (snprintf(tmp, sizeof(tmp), "%s.vouch-new", cfg->env_file) >= (int)sizeof(tmp))
		return vouch_err_set(err, VOUCH_E_IO, "%s: path too long", cfg->env_file);
	unlink(tmp);
	argv[0] = cfg->editenv;
	argv[1] = tmp;
	static char create[] = "create", set[] = "set";
	argv[2] = create;
	rc = editenv(cfg, argv, NULL, err);
	if (rc != VOUCH_OK)
		goto out;
	if (env->n > 0) {
		argv[2] = set;
		for (size_t i = 0; i < env->n; i++) {
			rc = vouch_buf_printf(&vars[i], err, "%s=%s", env->key[i], env->value[i]);
			if (rc != VOUCH_OK)
				goto out;
			argv[3 + i] = (char *)vars[i].data;
		}
		rc = editenv(cfg, argv, NULL, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || vouch_fault_fsync(fd) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	vouch_fault_point(VOUCH_FAULT_BOOTENV, cfg->env_file);
	if (vouch_fault_rename(tmp, cfg->env_file) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: rename: %s", cfg->env_file,
				   strerror(errno));
		goto out;
	}
	rc = vouch_fsync_dir_of(cfg->env_file, err);
out:
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < AGENT_BOOTENV_MAX_VARS; i++)
		vouch_buf_free(&vars[i]);
	if (rc != VOUCH_OK)
		unlink(tmp);
	return rc;
}
