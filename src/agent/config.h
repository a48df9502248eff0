/* vouch-agent — the INI configuration (docs/agent.md lists every key).
 *
 * The parser is strict: unknown sections and keys, duplicate keys, lines
 * without '=', and values out of range are errors that name the line. */
#ifndef VOUCH_AGENT_CONFIG_H
#define VOUCH_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"

#define AGENT_CONFIG_MAX_SIZE (64u * 1024)
#define AGENT_CONFIG_MAX_LINE 4096
#define AGENT_CONFIG_MAX_TIERS 8
#define AGENT_TIER_NAME_MAX 32

enum agent_installer {
	AGENT_INSTALL_RAW,
	AGENT_INSTALL_ARCHIVE,
	AGENT_INSTALL_SCRIPT,
};

enum agent_boot_backend {
	AGENT_BOOT_NONE, /* no tier uses the bootloader */
	AGENT_BOOT_FILE,
	AGENT_BOOT_UBOOT,
	AGENT_BOOT_GRUB,
	AGENT_BOOT_SCRIPT,
};

struct agent_tier {
	char name[AGENT_TIER_NAME_MAX + 1];
	char *channel;
	enum agent_installer installer;
	char *slot_a;
	char *slot_b;
	char *dir;
	char *command;
	int64_t timeout; /* script installer: seconds (0 in the INI = not set) */
};

#define AGENT_SCRIPT_TIMEOUT_DEFAULT 600

struct agent_config {
	/* [device] */
	char *device_id;
	char *hardware;
	char *data_dir;
	char *decryption_key;
	/* [trust] */
	char *image_root;
	/* [repository] */
	char *metadata_url;
	char *targets_url;
	int64_t low_speed_limit; /* bytes/s below which a transfer is aborted */
	int64_t low_speed_time;	 /* seconds */
	int64_t retries;	 /* Range resumes after an interruption */
	int64_t max_target_size; /* cap on any target, on top of its signed length */
	/* [boot] */
	enum agent_boot_backend backend;
	char *env_file;	    /* file and grub */
	char *uboot_config; /* fw_env.config for uboot */
	char *editenv;	    /* grub-editenv program */
	char *boot_command; /* script backend */
	int64_t max_tries;
	/* [health] */
	char *health_command;
	int64_t health_timeout;
	/* [agent] */
	int64_t poll_interval;
	int64_t poll_jitter;
	/* [tier.NAME] */
	struct agent_tier tiers[AGENT_CONFIG_MAX_TIERS];
	size_t ntiers;
};

/* Parses INI text (len bytes, need not be NUL-terminated) and validates it.
 * On success *out is a new config the caller frees with
 * agent_config_free(); on failure *out is NULL and err names the line. */
enum vouch_rc agent_config_parse(const char *text, size_t len, struct agent_config **out,
				 struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_config_load(const char *path, struct agent_config **out,
				struct vouch_err *err) VOUCH_WUR;
void agent_config_free(struct agent_config *cfg);

/* The tier installed through the bootloader (installer = raw), or NULL. */
const struct agent_tier *agent_config_boot_tier(const struct agent_config *cfg);
const struct agent_tier *agent_config_tier(const struct agent_config *cfg, const char *name);

const char *agent_installer_name(enum agent_installer i);

#endif
