/* vouch-agent — boot environment backends other than the file backend. */
#ifndef VOUCH_AGENT_BOOT_BACKENDS_H
#define VOUCH_AGENT_BOOT_BACKENDS_H

#include "boot.h"

enum vouch_rc agent_boot_grub_load(const struct agent_config *cfg, struct agent_bootenv *env,
				   struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_boot_grub_store(const struct agent_config *cfg, const struct agent_bootenv *env,
				    struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_boot_uboot_load(const struct agent_config *cfg, struct agent_bootenv *env,
				    struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_boot_uboot_store(const struct agent_config *cfg,
				     const struct agent_bootenv *env,
				     struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_boot_script_load(const struct agent_config *cfg, struct agent_bootenv *env,
				     struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_boot_script_store(const struct agent_config *cfg,
				      const struct agent_bootenv *env,
				      struct vouch_err *err) VOUCH_WUR;

#endif
