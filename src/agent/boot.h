/* vouch-agent — boot control: the bootloader's environment.
 *
 * Every backend (file, uboot, grub, script) stores the same few variables;
 * the bootloader script (docs/agent.md) and the agent agree on them:
 *   vouch_active  slot booted normally: the last committed one ("a"/"b")
 *   vouch_trial   slot to boot on trial, or empty
 *   vouch_tries   boots left for the trial; the bootloader decrements it
 *                 before booting the trial and boots vouch_active when 0
 *   vouch_booted  the slot the bootloader actually booted (it sets it)
 * Other variables in the environment are kept as they are. */
#ifndef VOUCH_AGENT_BOOT_H
#define VOUCH_AGENT_BOOT_H

#include "config.h"
#include "vouch/error.h"

#define AGENT_BOOTENV_MAX_VARS 64
#define AGENT_BOOTENV_MAX_SIZE 8192
#define AGENT_BOOTENV_MAX_VALUE 256

struct agent_bootenv {
	size_t n;
	char *key[AGENT_BOOTENV_MAX_VARS];
	char *value[AGENT_BOOTENV_MAX_VARS];
};

/* Reads the environment through cfg's backend. A missing file-backend
 * environment is an empty one. The caller frees env with
 * agent_bootenv_free() on success and on failure. */
enum vouch_rc agent_boot_load(const struct agent_config *cfg, struct agent_bootenv *env,
			      struct vouch_err *err) VOUCH_WUR;
/* Writes the whole environment in one durable step (a power-cut point). */
enum vouch_rc agent_boot_store(const struct agent_config *cfg, const struct agent_bootenv *env,
			       struct vouch_err *err) VOUCH_WUR;
void agent_bootenv_free(struct agent_bootenv *env);

/* The value or "" when unset. */
const char *agent_bootenv_get(const struct agent_bootenv *env, const char *key);
/* Sets key (value "" removes it). */
enum vouch_rc agent_bootenv_set(struct agent_bootenv *env, const char *key, const char *value,
				struct vouch_err *err) VOUCH_WUR;

/* Parses/prints the file backend's format ("key=value" lines). */
enum vouch_rc agent_bootenv_parse(const char *text, size_t len, struct agent_bootenv *env,
				  struct vouch_err *err) VOUCH_WUR;

/* The committed slot: vouch_active, "a" when unset. */
const char *agent_boot_active(const struct agent_bootenv *env);
/* The slot booted now: vouch_booted, else vouch_active. */
const char *agent_boot_booted(const struct agent_bootenv *env);
int agent_boot_tries(const struct agent_bootenv *env);

/* The bootloader's part for the file backend (boot-sim): picks the slot,
 * counts down tries, records vouch_booted, and writes the environment.
 * *slot receives "a" or "b". */
enum vouch_rc agent_boot_simulate(const struct agent_config *cfg, const char **slot,
				  struct vouch_err *err) VOUCH_WUR;

#endif
