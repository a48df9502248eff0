/* vouch-agent — the commands: decide, install, switch, confirm or fall
 * back (docs/agent.md). main.c parses arguments and calls these. */
#ifndef VOUCH_AGENT_AGENT_H
#define VOUCH_AGENT_AGENT_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "state.h"
#include "vouch/error.h"

struct agent {
	struct agent_config *cfg;
	struct agent_state st;
	int lock_fd;
	int json; /* machine-readable output */
	FILE *out;
	/* state.json exists but is damaged (does not parse, wrong shape, too
	 * large): st is an empty stand-in that must never be saved (it would
	 * erase the floors), and only boot-sim, startup (safe mode) and
	 * status run (docs/agent.md, "A damaged state file"). */
	int state_corrupt;
	struct vouch_err state_err;
};

/* Loads the configuration and the state, takes the data directory's lock
 * (mutating commands; VOUCH_E_IO if another agent holds it). A damaged
 * state file is not an error here: it sets a->state_corrupt (see above). */
enum vouch_rc agent_open(const char *config_path, int lock, struct agent *a,
			 struct vouch_err *err) VOUCH_WUR;
void agent_close(struct agent *a);

/* check (apply = 0: changes nothing but the trusted metadata) or update
 * (apply = 1: one cycle). *rejected is set when the release chosen for
 * install failed a security check, or a release newer than the one a tier
 * ends the cycle with (installed now, on trial, or running) was refused;
 * refusals of superseded releases are reported but do not set it. */
enum vouch_rc agent_cycle(struct agent *a, int apply, int *rejected,
			  struct vouch_err *err) VOUCH_WUR;
/* What the init system runs at boot: finishes or repairs pending trials. */
enum vouch_rc agent_startup(struct agent *a, struct vouch_err *err) VOUCH_WUR;
/* Commits the pending trial of every tier that has one and is live. */
enum vouch_rc agent_commit(struct agent *a, struct vouch_err *err) VOUCH_WUR;
/* Abandons a pending trial (marking it bad), or goes back to the previous
 * release when it is still allowed by the floor. */
enum vouch_rc agent_rollback(struct agent *a, const char *tier, struct vouch_err *err) VOUCH_WUR;
enum vouch_rc agent_status(struct agent *a, struct vouch_err *err) VOUCH_WUR;
/* The daemon: one cycle per poll interval (plus jitter) until *stop. */
enum vouch_rc agent_run(struct agent *a, volatile int *stop, struct vouch_err *err) VOUCH_WUR;

#endif
