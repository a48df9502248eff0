/* vouch-agent — boot environment: variables shared by all backends, the
 * file backend, and the boot simulator. The uboot, grub and script
 * backends are in boot_uboot.c, boot_grub.c and boot_script.c. */
#include "boot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_backends.h"
#include "fault.h"
#include "vouch/buf.h"

void agent_bootenv_free(struct agent_bootenv *env)
{
	for (size_t i = 0; i < env->n; i++) {
		free(env->key[i]);
		free(env->value[i]);
	}
	env->n = 0;
}

const char *agent_bootenv_get(const struct agent_bootenv *env, const char *key)
{
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(env->key[i], key) == 0)
			return env->value[i];
	return "";
}

static int valid_key(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int valid_value(const char *v)
{
	size_t n = strlen(v);
	if (n > AGENT_BOOTENV_MAX_VALUE)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

enum vouch_rc agent_bootenv_set(struct agent_bootenv *env, const char *key, const char *value,
				struct vouch_err *err)
{
	if (!valid_key(key) || !valid_value(value))
		return vouch_err_set(err, VOUCH_E_FORMAT, "boot environment: bad variable '%.64s'",
				     key);
	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->key[i], key) != 0)
			continue;
		if (*value == '\0') {
			free(env->key[i]);
			free(env->value[i]);
			env->key[i] = env->key[env->n - 1];
			env->value[i] = env->value[env->n - 1];
			env->n--;
			return VOUCH_OK;
		}
		char *v = strdup(value);
		if (v == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		free(env->value[i]);
		env->value[i] = v;
		return VOUCH_OK;
	}
	if (*value == '\0')
		return VOUCH_OK;
	if (env->n == AGENT_BOOTENV_MAX_VARS)
		return vouch_err_set(err, VOUCH_E_LIMIT, "boot environment: more than %d variables",
				     AGENT_BOOTENV_MAX_VARS);
	char *k = strdup(key);
	char *v = strdup(value);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	env->key[env->n] = k;
	env->value[env->n] = v;
	env->n++;
	return VOUCH_OK;
}

enum vouch_rc agent_bootenv_parse(const char *text, size_t len, struct agent_bootenv *env,
				  struct vouch_err *err)
{
	char line[AGENT_BOOTENV_MAX_VALUE + 80];
	size_t pos = 0, lineno = 0;
	if (len > AGENT_BOOTENV_MAX_SIZE)
		return vouch_err_set(err, VOUCH_E_LIMIT, "boot environment larger than %d bytes",
				     AGENT_BOOTENV_MAX_SIZE);
	while (pos < len) {
		size_t start = pos;
		while (pos < len && text[pos] != '\n')
			pos++;
		size_t n = pos - start;
		if (pos < len)
			pos++;
		lineno++;
		if (n == 0 || text[start] == '#')
			continue;
		if (n >= sizeof(line))
			return vouch_err_set(err, VOUCH_E_LIMIT,
					     "boot environment: line %zu too long", lineno);
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (strlen(line) != n)
			return vouch_err_set(err, VOUCH_E_FORMAT, "boot environment: line %zu: NUL",
					     lineno);
		char *eq = strchr(line, '=');
		if (eq == NULL)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "boot environment: line %zu: expected key=value",
					     lineno);
		*eq = '\0';
		if (agent_bootenv_get(env, line)[0] != '\0')
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "boot environment: line %zu: duplicate variable",
					     lineno);
		enum vouch_rc rc = agent_bootenv_set(env, line, eq + 1, err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "line %zu: ", lineno);
			return rc;
		}
	}
	return VOUCH_OK;
}

static enum vouch_rc format_env(const struct agent_bootenv *env, struct vouch_buf *b,
				struct vouch_err *err)
{
	enum vouch_rc rc = vouch_buf_append_str(b, "# vouch boot environment\n", err);
	for (size_t i = 0; rc == VOUCH_OK && i < env->n; i++)
		rc = vouch_buf_printf(b, err, "%s=%s\n", env->key[i], env->value[i]);
	return rc;
}

static enum vouch_rc file_load(const char *path, struct agent_bootenv *env, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_file_read(path, AGENT_BOOTENV_MAX_SIZE, &b, err);
	if (rc == VOUCH_E_NOTFOUND) {
		vouch_err_clear(err);
		return VOUCH_OK;
	}
	if (rc == VOUCH_OK) {
		rc = agent_bootenv_parse((const char *)b.data, b.len, env, err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "%s: ", path);
	}
	vouch_buf_free(&b);
	return rc;
}

static enum vouch_rc file_store(const char *path, const struct agent_bootenv *env,
				struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = format_env(env, &b, err);
	if (rc == VOUCH_OK) {
		vouch_fault_point(VOUCH_FAULT_BOOTENV, path);
		rc = vouch_file_write_atomic(path, b.data, b.len, 0644, err);
	}
	vouch_buf_free(&b);
	return rc;
}

enum vouch_rc agent_boot_load(const struct agent_config *cfg, struct agent_bootenv *env,
			      struct vouch_err *err)
{
	memset(env, 0, sizeof(*env));
	switch (cfg->backend) {
	case AGENT_BOOT_FILE:
		return file_load(cfg->env_file, env, err);
	case AGENT_BOOT_GRUB:
		return agent_boot_grub_load(cfg, env, err);
	case AGENT_BOOT_UBOOT:
		return agent_boot_uboot_load(cfg, env, err);
	case AGENT_BOOT_SCRIPT:
		return agent_boot_script_load(cfg, env, err);
	case AGENT_BOOT_NONE:
		break;
	}
	return vouch_err_set(err, VOUCH_E_USAGE, "no [boot] backend configured");
}

enum vouch_rc agent_boot_store(const struct agent_config *cfg, const struct agent_bootenv *env,
			       struct vouch_err *err)
{
	switch (cfg->backend) {
	case AGENT_BOOT_FILE:
		return file_store(cfg->env_file, env, err);
	case AGENT_BOOT_GRUB:
		return agent_boot_grub_store(cfg, env, err);
	case AGENT_BOOT_UBOOT:
		return agent_boot_uboot_store(cfg, env, err);
	case AGENT_BOOT_SCRIPT:
		return agent_boot_script_store(cfg, env, err);
	case AGENT_BOOT_NONE:
		break;
	}
	return vouch_err_set(err, VOUCH_E_USAGE, "no [boot] backend configured");
}

const char *agent_boot_active(const struct agent_bootenv *env)
{
	const char *a = agent_bootenv_get(env, "vouch_active");
	return strcmp(a, "b") == 0 ? "b" : "a";
}

const char *agent_boot_booted(const struct agent_bootenv *env)
{
	const char *b = agent_bootenv_get(env, "vouch_booted");
	if (strcmp(b, "a") == 0 || strcmp(b, "b") == 0)
		return b;
	return agent_boot_active(env);
}

int agent_boot_tries(const struct agent_bootenv *env)
{
	const char *t = agent_bootenv_get(env, "vouch_tries");
	if (t[0] >= '0' && t[0] <= '9' && t[1] == '\0')
		return t[0] - '0';
	return 0;
}

enum vouch_rc agent_boot_simulate(const struct agent_config *cfg, const char **slot,
				  struct vouch_err *err)
{
	struct agent_bootenv env;
	enum vouch_rc rc = VOUCH_OK;
	const char *boot = NULL;
	const char *trial = NULL;
	int n = 0;
	char tries[16];

	if (cfg->backend != AGENT_BOOT_FILE)
		return vouch_err_set(err, VOUCH_E_USAGE, "boot-sim needs [boot] backend = file");
	rc = agent_boot_load(cfg, &env, err);
	if (rc != VOUCH_OK)
		goto out;
	trial = agent_bootenv_get(&env, "vouch_trial");
	n = agent_boot_tries(&env);
	if ((strcmp(trial, "a") == 0 || strcmp(trial, "b") == 0) && n > 0) {
		boot = strcmp(trial, "a") == 0 ? "a" : "b";
		snprintf(tries, sizeof(tries), "%d", n - 1);
		rc = agent_bootenv_set(&env, "vouch_tries", tries, err);
	} else {
		boot = agent_boot_active(&env);
	}
	if (rc == VOUCH_OK)
		rc = agent_bootenv_set(&env, "vouch_booted", boot, err);
	if (rc == VOUCH_OK)
		rc = agent_boot_store(cfg, &env, err);
	if (rc == VOUCH_OK)
		*slot = boot;
out:
	agent_bootenv_free(&env);
	return rc;
}
