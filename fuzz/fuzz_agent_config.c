/* Fuzzes vouch-agent's INI configuration parser and its boot environment
 * parser: any bytes either parse into a configuration that passed every
 * validation rule, or fail with a code and a message; nothing is read past
 * the input and nothing leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "config.h"
#include "fuzz.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_agent_config: property violated: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *c = NULL;
	struct agent_bootenv env;
	struct vouch_err err = {0};
	enum vouch_rc rc = agent_config_parse((const char *)data, size, &c, &err);
	if (rc != VOUCH_OK) {
		check(c == NULL, "config set on failure");
		check(rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT || rc == VOUCH_E_NOMEM,
		      "config error code");
		check(err.code == rc && err.msg[0] != '\0', "config error message");
	} else {
		check(c != NULL && c->ntiers >= 1 && c->ntiers <= AGENT_CONFIG_MAX_TIERS, "tiers");
		check(c->device_id && c->hardware && c->data_dir && c->image_root &&
			  c->metadata_url && c->targets_url,
		      "required keys");
		for (size_t i = 0; i < c->ntiers; i++) {
			const struct agent_tier *t = &c->tiers[i];
			size_t n = strlen(t->name);
			check(strncmp(t->channel, t->name, n) == 0 && t->channel[n] == '/',
			      "channel outside its tier");
			if (t->installer == AGENT_INSTALL_RAW)
				check(t->slot_a && t->slot_b && c->backend != AGENT_BOOT_NONE,
				      "raw tier without slots or backend");
		}
		agent_config_free(c);
	}

	memset(&env, 0, sizeof(env));
	rc = agent_bootenv_parse((const char *)data, size, &env, &err);
	if (rc == VOUCH_OK) {
		for (size_t i = 0; i < env.n; i++)
			check(strchr(env.value[i], '\n') == NULL, "newline in a value");
		const char *a = agent_boot_active(&env);
		check(strcmp(a, "a") == 0 || strcmp(a, "b") == 0, "active slot");
		check(agent_boot_tries(&env) >= 0 && agent_boot_tries(&env) <= 9, "tries");
	}
	agent_bootenv_free(&env);
	return 0;
}
