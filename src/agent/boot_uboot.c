/* vouch-agent — U-Boot backend through libubootenv: the environment named
 * by an fw_env.config ([boot] uboot-config). With a redundant environment
 * (two copies, as fw_env.config allows) libubootenv's store is atomic: the
 * new copy is written and flagged before the old one is given up. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <libuboot.h>
#include <string.h>

#include "boot_backends.h"
#include "fault.h"

static enum vouch_rc open_env(const struct agent_config *cfg, struct uboot_ctx **ctx,
			      struct vouch_err *err)
{
	*ctx = NULL;
	if (libuboot_initialize(ctx, NULL) < 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "libubootenv: cannot initialise");
	if (libuboot_read_config(*ctx, cfg->uboot_config) < 0) {
		libuboot_exit(*ctx);
		*ctx = NULL;
		return vouch_err_set(err, VOUCH_E_IO, "%s: cannot read U-Boot environment config",
				     cfg->uboot_config);
	}
	/* A blank or corrupted environment opens with an error and no
	 * variables; the next store writes a valid one. The agent then sees
	 * no trial and boots vouch_active's default, as U-Boot would. */
	(void)libuboot_open(*ctx);
	return VOUCH_OK;
}

enum vouch_rc agent_boot_uboot_load(const struct agent_config *cfg, struct agent_bootenv *env,
				    struct vouch_err *err)
{
	struct uboot_ctx *ctx = NULL;
	enum vouch_rc rc = open_env(cfg, &ctx, err);
	if (rc != VOUCH_OK)
		return rc;
	void *it = NULL;
	while (rc == VOUCH_OK && (it = libuboot_iterator(ctx, it)) != NULL) {
		const char *k = libuboot_getname(it);
		const char *v = libuboot_getvalue(it);
		if (k == NULL || v == NULL)
			continue;
		/* Only ours are needed; U-Boot's own variables (bootcmd with
		 * spaces and newlines...) stay untouched in the device. */
		if (strncmp(k, "vouch_", 6) != 0)
			continue;
		rc = agent_bootenv_set(env, k, v, err);
	}
	libuboot_close(ctx);
	libuboot_exit(ctx);
	return rc;
}

enum vouch_rc agent_boot_uboot_store(const struct agent_config *cfg,
				     const struct agent_bootenv *env, struct vouch_err *err)
{
	static const char *const ours[] = {"vouch_active", "vouch_trial", "vouch_tries",
					   "vouch_booted"};
	struct uboot_ctx *ctx = NULL;
	int r = 0;
	enum vouch_rc rc = open_env(cfg, &ctx, err);
	if (rc != VOUCH_OK)
		return rc;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		const char *v = agent_bootenv_get(env, ours[i]);
		if (libuboot_set_env(ctx, ours[i], *v ? v : NULL) < 0 && *v) {
			rc = vouch_err_set(err, VOUCH_E_IO, "libubootenv: cannot set %s", ours[i]);
			goto out;
		}
	}
	vouch_fault_point(VOUCH_FAULT_BOOTENV, cfg->uboot_config);
	r = libuboot_env_store(ctx);
	if (r < 0)
		rc = vouch_err_set(err, VOUCH_E_IO, "libubootenv: cannot store environment: %s",
				   strerror(-r));
out:
	libuboot_close(ctx);
	libuboot_exit(ctx);
	return rc;
}
