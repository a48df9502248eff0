/* vouch-agent: the device side. Parses arguments and hands over to
 * agent.c; only this file prints errors and picks exit codes. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "boot.h"

#define EXIT_OK 0
#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_SYSTEM 3

static const struct {
	const char *name;
	const char *args;
	const char *summary;
} commands[] = {
    {"run", "", "daemon: one update cycle per poll interval (plus jitter); SIGTERM stops"},
    {"check", "[--json]", "show what would be installed and why, or why not; changes nothing"},
    {"update", "[--json]", "run one update cycle now"},
    {"startup", "", "at every boot: finish a pending trial (health check, commit or fall back)"},
    {"commit", "", "confirm the pending trial now (marks it good, then raises the floor)"},
    {"rollback", "[TIER]", "abandon a pending trial, or go back to the previous release"},
    {"status", "[--json]", "per tier: running, pending, floor, releases marked bad and why"},
    {"boot-sim", "", "play the bootloader (file backend); prints the booted slot last"},
};

static void usage(FILE *fp)
{
	fputs("Usage: vouch-agent --config FILE COMMAND [OPTIONS]\n"
	      "\n"
	      "Installs signed releases into the inactive slot while downloading, switches\n"
	      "only after the written bytes are proven right, confirms with a health check\n"
	      "or falls back by itself.\n"
	      "\n"
	      "Commands:\n",
	      fp);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %-9s %-9s %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  --config FILE  the agent's INI configuration (docs/agent.md)\n"
	      "  --json         machine-readable output (check, update, status)\n"
	      "  --help         this text\n"
	      "\n"
	      "Exit codes: 0 ok, 1 rejected by a security check, 2 usage error,\n"
	      "3 system or I/O error. For check and update: 0 when every tier is on\n"
	      "(or installing) its best eligible release, even if older releases were\n"
	      "refused; 1 when the release chosen for install failed a check (tampered,\n"
	      "hash mismatch, not a recipient...) or a release newer than the one a tier\n"
	      "ends the cycle with was refused. Refusals are always listed with reasons\n"
	      "(status shows the last ones; --json: refusals, newer_refused, rejected).\n",
	      fp);
}

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int fail(const struct vouch_err *err)
{
	fprintf(stderr, "vouch-agent: %s\n", err->msg);
	return vouch_rc_exit_code(err->code);
}

int main(int argc, char **argv)
{
	const char *config = NULL, *cmd = NULL, *arg = NULL;
	int json = 0;
	struct agent a;
	struct vouch_err err;
	enum vouch_rc rc = VOUCH_OK;
	int rejected = 0;

	vouch_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "vouch-agent: --config needs a file\n");
				return EXIT_USAGE;
			}
			config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vouch-agent: unknown option '%s' (see --help)\n", argv[i]);
			return EXIT_USAGE;
		} else if (cmd == NULL) {
			cmd = argv[i];
		} else if (arg == NULL && strcmp(cmd, "rollback") == 0) {
			arg = argv[i];
		} else {
			fprintf(stderr, "vouch-agent: unexpected argument '%s' (see --help)\n",
				argv[i]);
			return EXIT_USAGE;
		}
	}
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	int known = 0;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		known |= strcmp(cmd, commands[i].name) == 0;
	if (!known) {
		fprintf(stderr, "vouch-agent: unknown command '%s' (see --help)\n", cmd);
		return EXIT_USAGE;
	}
	if (config == NULL) {
		fprintf(stderr, "vouch-agent: --config FILE is required\n");
		return EXIT_USAGE;
	}
	if (json && strcmp(cmd, "check") != 0 && strcmp(cmd, "update") != 0 &&
	    strcmp(cmd, "status") != 0) {
		fprintf(stderr, "vouch-agent: --json applies to check, update and status\n");
		return EXIT_USAGE;
	}
	/* A closed pipe (an install command, a script backend) is an error
	 * to report, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);

	/* run takes the lock per cycle (agent_run). */
	int lock =
	    strcmp(cmd, "status") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "run") != 0;
	rc = agent_open(config, lock, &a, &err);
	if (rc != VOUCH_OK)
		return fail(&err);
	a.json = json;

	if (strcmp(cmd, "boot-sim") == 0) {
		const char *slot = NULL;
		rc = agent_boot_simulate(a.cfg, &slot, &err);
		if (rc == VOUCH_OK)
			printf("booted slot %s\n%s\n", slot, slot);
	} else if (strcmp(cmd, "check") == 0 || strcmp(cmd, "update") == 0) {
		rc = agent_cycle(&a, strcmp(cmd, "update") == 0, &rejected, &err);
	} else if (strcmp(cmd, "startup") == 0) {
		rc = agent_startup(&a, &err);
	} else if (strcmp(cmd, "commit") == 0) {
		rc = agent_commit(&a, &err);
	} else if (strcmp(cmd, "rollback") == 0) {
		rc = agent_rollback(&a, arg, &err);
	} else if (strcmp(cmd, "status") == 0) {
		rc = agent_status(&a, &err);
	} else if (strcmp(cmd, "run") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		rc = agent_run(&a, &stop_flag, &err);
	}
	agent_close(&a);
	if (rc != VOUCH_OK)
		return fail(&err);
	return rejected ? EXIT_REJECTED : EXIT_OK;
}
