/* vouch-agent — INI configuration parser.
 *
 * Written by hand: the format is a dozen lines, and every INI library in
 * Debian accepts things we want refused (unknown keys, duplicates, keys
 * outside a section). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vouch/buf.h"

enum key_type { K_STR, K_INT, K_INSTALLER, K_BACKEND };

struct key_def {
	const char *name;
	enum key_type type;
	size_t off;
	int64_t min, max;
};

enum section_kind { S_NONE, S_DEVICE, S_TRUST, S_REPOSITORY, S_BOOT, S_HEALTH, S_AGENT, S_TIER };

#define CFG(f) offsetof(struct agent_config, f)
#define TIER(f) offsetof(struct agent_tier, f)

static const struct key_def device_keys[] = {
    {"id", K_STR, CFG(device_id), 0, 0},
    {"hardware", K_STR, CFG(hardware), 0, 0},
    {"data-dir", K_STR, CFG(data_dir), 0, 0},
    {"decryption-key", K_STR, CFG(decryption_key), 0, 0},
    {NULL, K_STR, 0, 0, 0},
};
static const struct key_def trust_keys[] = {
    {"image-root", K_STR, CFG(image_root), 0, 0},
    {NULL, K_STR, 0, 0, 0},
};
static const struct key_def repository_keys[] = {
    {"metadata-url", K_STR, CFG(metadata_url), 0, 0},
    {"targets-url", K_STR, CFG(targets_url), 0, 0},
    {"low-speed-limit", K_INT, CFG(low_speed_limit), 0, INT32_MAX},
    {"low-speed-time", K_INT, CFG(low_speed_time), 1, 3600},
    {"retries", K_INT, CFG(retries), 0, 100},
    {"max-target-size", K_INT, CFG(max_target_size), 1, INT64_MAX},
    {NULL, K_STR, 0, 0, 0},
};
static const struct key_def boot_keys[] = {
    {"backend", K_BACKEND, CFG(backend), 0, 0},
    {"env-file", K_STR, CFG(env_file), 0, 0},
    {"uboot-config", K_STR, CFG(uboot_config), 0, 0},
    {"editenv", K_STR, CFG(editenv), 0, 0},
    {"command", K_STR, CFG(boot_command), 0, 0},
    {"max-tries", K_INT, CFG(max_tries), 1, 9},
    {NULL, K_STR, 0, 0, 0},
};
static const struct key_def health_keys[] = {
    {"command", K_STR, CFG(health_command), 0, 0},
    {"timeout", K_INT, CFG(health_timeout), 1, 86400},
    {NULL, K_STR, 0, 0, 0},
};
static const struct key_def agent_keys[] = {
    {"poll-interval", K_INT, CFG(poll_interval), 1, 30 * 86400},
    {"poll-jitter", K_INT, CFG(poll_jitter), 0, 30 * 86400},
    {NULL, K_STR, 0, 0, 0},
};
static const struct key_def tier_keys[] = {
    {"channel", K_STR, TIER(channel), 0, 0},
    {"installer", K_INSTALLER, TIER(installer), 0, 0},
    {"slot-a", K_STR, TIER(slot_a), 0, 0},
    {"slot-b", K_STR, TIER(slot_b), 0, 0},
    {"dir", K_STR, TIER(dir), 0, 0},
    {"command", K_STR, TIER(command), 0, 0},
    {"timeout", K_INT, TIER(timeout), 1, 86400},
    {NULL, K_STR, 0, 0, 0},
};

static const struct {
	const char *name;
	enum section_kind kind;
	const struct key_def *keys;
} sections[] = {
    {"device", S_DEVICE, device_keys},
    {"trust", S_TRUST, trust_keys},
    {"repository", S_REPOSITORY, repository_keys},
    {"boot", S_BOOT, boot_keys},
    {"health", S_HEALTH, health_keys},
    {"agent", S_AGENT, agent_keys},
};

const char *agent_installer_name(enum agent_installer i)
{
	switch (i) {
	case AGENT_INSTALL_RAW:
		return "raw";
	case AGENT_INSTALL_ARCHIVE:
		return "archive";
	case AGENT_INSTALL_SCRIPT:
		return "script";
	}
	return "?";
}

void agent_config_free(struct agent_config *cfg)
{
	if (cfg == NULL)
		return;
	char **strs[] = {&cfg->device_id,      &cfg->hardware,	   &cfg->data_dir,
			 &cfg->decryption_key, &cfg->image_root,   &cfg->metadata_url,
			 &cfg->targets_url,    &cfg->env_file,	   &cfg->uboot_config,
			 &cfg->editenv,	       &cfg->boot_command, &cfg->health_command};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (size_t i = 0; i < cfg->ntiers; i++) {
		struct agent_tier *t = &cfg->tiers[i];
		free(t->channel);
		free(t->slot_a);
		free(t->slot_b);
		free(t->dir);
		free(t->command);
	}
	free(cfg);
}

static int valid_tier_name(const char *s, size_t n)
{
	if (n == 0 || n > AGENT_TIER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static const char *trim(char *s, size_t *n)
{
	size_t a = 0, b = *n;
	while (a < b && (s[a] == ' ' || s[a] == '\t'))
		a++;
	while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
		b--;
	s[b] = '\0';
	*n = b - a;
	return s + a;
}

static enum vouch_rc set_value(void *base, const struct key_def *k, const char *v, size_t lineno,
			       struct vouch_err *err)
{
	char *p = (char *)base + k->off;
	switch (k->type) {
	case K_STR: {
		char **dst = (char **)(void *)p;
		if (*dst != NULL)
			return vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: duplicate key '%s'",
					     lineno, k->name);
		*dst = strdup(v);
		if (*dst == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		return VOUCH_OK;
	}
	case K_INT: {
		char *end = NULL;
		if (*v < '0' || *v > '9')
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "line %zu: '%s' must be a non-negative integer",
					     lineno, k->name);
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (errno != 0 || *end != '\0' || x < k->min || x > k->max)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "line %zu: '%s' must be an integer in [%lld, %lld]",
					     lineno, k->name, (long long)k->min, (long long)k->max);
		*(int64_t *)(void *)p = x;
		return VOUCH_OK;
	}
	case K_INSTALLER: {
		enum agent_installer *dst = (enum agent_installer *)(void *)p;
		if (strcmp(v, "raw") == 0)
			*dst = AGENT_INSTALL_RAW;
		else if (strcmp(v, "archive") == 0)
			*dst = AGENT_INSTALL_ARCHIVE;
		else if (strcmp(v, "script") == 0)
			*dst = AGENT_INSTALL_SCRIPT;
		else
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "line %zu: installer must be raw, archive or script",
					     lineno);
		return VOUCH_OK;
	}
	case K_BACKEND: {
		enum agent_boot_backend *dst = (enum agent_boot_backend *)(void *)p;
		if (strcmp(v, "file") == 0)
			*dst = AGENT_BOOT_FILE;
		else if (strcmp(v, "uboot") == 0)
			*dst = AGENT_BOOT_UBOOT;
		else if (strcmp(v, "grub") == 0)
			*dst = AGENT_BOOT_GRUB;
		else if (strcmp(v, "script") == 0)
			*dst = AGENT_BOOT_SCRIPT;
		else
			return vouch_err_set(
			    err, VOUCH_E_FORMAT,
			    "line %zu: backend must be file, uboot, grub or script", lineno);
		return VOUCH_OK;
	}
	}
	return vouch_err_set(err, VOUCH_E_INTERNAL, "bad key type");
}

/* Duplicate detection for non-string keys: a bit per key of a section. */
struct seen {
	unsigned bits[AGENT_CONFIG_MAX_TIERS + 8];
};

static enum vouch_rc validate(struct agent_config *c, struct vouch_err *err)
{
	const char *missing = NULL;
	if (c->device_id == NULL)
		missing = "[device] id";
	else if (c->hardware == NULL)
		missing = "[device] hardware";
	else if (c->data_dir == NULL)
		missing = "[device] data-dir";
	else if (c->image_root == NULL)
		missing = "[trust] image-root";
	else if (c->metadata_url == NULL)
		missing = "[repository] metadata-url";
	else if (c->targets_url == NULL)
		missing = "[repository] targets-url";
	if (missing != NULL)
		return vouch_err_set(err, VOUCH_E_FORMAT, "missing required key %s", missing);
	if (c->ntiers == 0)
		return vouch_err_set(err, VOUCH_E_FORMAT, "no [tier.NAME] section");
	size_t nraw = 0;
	for (size_t i = 0; i < c->ntiers; i++) {
		struct agent_tier *t = &c->tiers[i];
		size_t n = strlen(t->name);
		if (t->channel == NULL)
			return vouch_err_set(err, VOUCH_E_FORMAT, "[tier.%s]: missing key channel",
					     t->name);
		/* The tier's role owns exactly the paths under "<tier>/". */
		if (strncmp(t->channel, t->name, n) != 0 || t->channel[n] != '/')
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "[tier.%s]: channel '%s' is not under '%s/'", t->name,
					     t->channel, t->name);
		switch (t->installer) {
		case AGENT_INSTALL_RAW:
			nraw++;
			if (t->slot_a == NULL || t->slot_b == NULL)
				return vouch_err_set(
				    err, VOUCH_E_FORMAT,
				    "[tier.%s]: installer raw needs slot-a and slot-b", t->name);
			if (strcmp(t->slot_a, t->slot_b) == 0)
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "[tier.%s]: slot-a and slot-b are the same",
						     t->name);
			break;
		case AGENT_INSTALL_ARCHIVE:
			if (t->dir == NULL)
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "[tier.%s]: installer archive needs dir",
						     t->name);
			break;
		case AGENT_INSTALL_SCRIPT:
			if (t->command == NULL)
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "[tier.%s]: installer script needs command",
						     t->name);
			if (t->timeout == 0)
				t->timeout = AGENT_SCRIPT_TIMEOUT_DEFAULT;
			break;
		}
		if (t->installer != AGENT_INSTALL_SCRIPT && t->timeout != 0)
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "[tier.%s]: timeout applies to installer script only",
					     t->name);
	}
	if (nraw > 1)
		return vouch_err_set(
		    err, VOUCH_E_FORMAT,
		    "only one tier may use installer raw (the bootloader's A/B pair)");
	if (nraw == 1) {
		switch (c->backend) {
		case AGENT_BOOT_NONE:
			return vouch_err_set(err, VOUCH_E_FORMAT,
					     "installer raw needs [boot] backend");
		case AGENT_BOOT_FILE:
		case AGENT_BOOT_GRUB:
			if (c->env_file == NULL)
				return vouch_err_set(
				    err, VOUCH_E_FORMAT, "[boot] backend %s needs env-file",
				    c->backend == AGENT_BOOT_FILE ? "file" : "grub");
			break;
		case AGENT_BOOT_UBOOT:
			if (c->uboot_config == NULL)
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "[boot] backend uboot needs uboot-config");
			break;
		case AGENT_BOOT_SCRIPT:
			if (c->boot_command == NULL)
				return vouch_err_set(err, VOUCH_E_FORMAT,
						     "[boot] backend script needs command");
			break;
		}
	}
	return VOUCH_OK;
}

enum vouch_rc agent_config_parse(const char *text, size_t len, struct agent_config **out,
				 struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct agent_config *c = NULL;
	char *line = NULL;
	const struct key_def *keys = NULL;
	void *base = NULL;
	size_t lineno = 0, pos = 0;
	struct seen seen;
	int section_index = -1;
	int seen_section[sizeof(sections) / sizeof(sections[0])] = {0};

	*out = NULL;
	memset(&seen, 0, sizeof(seen));
	if (len > AGENT_CONFIG_MAX_SIZE)
		return vouch_err_set(err, VOUCH_E_LIMIT, "configuration larger than %u bytes",
				     AGENT_CONFIG_MAX_SIZE);
	c = calloc(1, sizeof(*c));
	line = malloc(AGENT_CONFIG_MAX_LINE + 1);
	if (c == NULL || line == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	c->low_speed_limit = 1024;
	c->low_speed_time = 30;
	c->retries = 5;
	c->max_target_size = INT64_MAX;
	c->max_tries = 3;
	c->health_timeout = 60;
	c->poll_interval = 3600;
	c->poll_jitter = 300;

	while (pos < len) {
		size_t start = pos;
		while (pos < len && text[pos] != '\n')
			pos++;
		size_t n = pos - start;
		if (pos < len)
			pos++; /* the newline */
		lineno++;
		if (n > AGENT_CONFIG_MAX_LINE) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT, "line %zu: longer than %d bytes",
					   lineno, AGENT_CONFIG_MAX_LINE);
			goto out;
		}
		if (memchr(text + start, '\0', n) != NULL) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: NUL byte", lineno);
			goto out;
		}
		memcpy(line, text + start, n);
		line[n] = '\0';
		const char *s = trim(line, &n);
		if (n == 0 || s[0] == '#' || s[0] == ';')
			continue;
		if (s[0] == '[') {
			if (s[n - 1] != ']') {
				rc = vouch_err_set(err, VOUCH_E_FORMAT,
						   "line %zu: section header without ']'", lineno);
				goto out;
			}
			const char *name = s + 1;
			size_t nn = n - 2;
			keys = NULL;
			if (nn > 5 && strncmp(name, "tier.", 5) == 0) {
				if (!valid_tier_name(name + 5, nn - 5)) {
					rc = vouch_err_set(
					    err, VOUCH_E_FORMAT,
					    "line %zu: tier name must be 1-%d of [a-z0-9_-]",
					    lineno, AGENT_TIER_NAME_MAX);
					goto out;
				}
				for (size_t i = 0; i < c->ntiers; i++) {
					if (strlen(c->tiers[i].name) == nn - 5 &&
					    strncmp(c->tiers[i].name, name + 5, nn - 5) == 0) {
						rc = vouch_err_set(err, VOUCH_E_FORMAT,
								   "line %zu: duplicate section",
								   lineno);
						goto out;
					}
				}
				if (c->ntiers == AGENT_CONFIG_MAX_TIERS) {
					rc = vouch_err_set(err, VOUCH_E_LIMIT,
							   "line %zu: more than %d tiers", lineno,
							   AGENT_CONFIG_MAX_TIERS);
					goto out;
				}
				struct agent_tier *t = &c->tiers[c->ntiers++];
				memcpy(t->name, name + 5, nn - 5);
				t->name[nn - 5] = '\0';
				t->installer = AGENT_INSTALL_RAW;
				keys = tier_keys;
				base = t;
				section_index =
				    (int)(sizeof(sections) / sizeof(sections[0]) + c->ntiers - 1);
				continue;
			}
			for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
				if (strlen(sections[i].name) == nn &&
				    strncmp(sections[i].name, name, nn) == 0) {
					if (seen_section[i]) {
						rc = vouch_err_set(err, VOUCH_E_FORMAT,
								   "line %zu: duplicate section",
								   lineno);
						goto out;
					}
					seen_section[i] = 1;
					keys = sections[i].keys;
					base = c;
					section_index = (int)i;
				}
			}
			if (keys == NULL) {
				rc = vouch_err_set(err, VOUCH_E_FORMAT,
						   "line %zu: unknown section %s", lineno, s);
				goto out;
			}
			continue;
		}
		if (keys == NULL) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: key outside a section",
					   lineno);
			goto out;
		}
		const char *eq = strchr(s, '=');
		if (eq == NULL) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: expected 'key = value'",
					   lineno);
			goto out;
		}
		size_t kn = (size_t)(eq - s);
		while (kn > 0 && (s[kn - 1] == ' ' || s[kn - 1] == '\t'))
			kn--;
		const char *v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '\0') {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: empty value", lineno);
			goto out;
		}
		size_t ki = 0;
		const struct key_def *k = NULL;
		for (; keys[ki].name != NULL; ki++) {
			if (strlen(keys[ki].name) == kn && strncmp(keys[ki].name, s, kn) == 0) {
				k = &keys[ki];
				break;
			}
		}
		if (k == NULL) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: unknown key '%.*s'",
					   lineno, (int)(kn > 64 ? 64 : kn), s);
			goto out;
		}
		if (seen.bits[section_index] & (1u << ki)) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT, "line %zu: duplicate key '%s'",
					   lineno, k->name);
			goto out;
		}
		seen.bits[section_index] |= 1u << ki;
		rc = set_value(base, k, v, lineno, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	rc = validate(c, err);
	if (rc != VOUCH_OK)
		goto out;
	if (c->editenv == NULL && (c->editenv = strdup("grub-editenv")) == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	free(line);
	agent_config_free(c);
	return rc;
}

enum vouch_rc agent_config_load(const char *path, struct agent_config **out, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	enum vouch_rc rc = vouch_file_read(path, AGENT_CONFIG_MAX_SIZE, &b, err);
	if (rc != VOUCH_OK)
		return rc;
	rc = agent_config_parse((const char *)b.data, b.len, out, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "%s: ", path);
	vouch_buf_free(&b);
	return rc;
}

const struct agent_tier *agent_config_boot_tier(const struct agent_config *cfg)
{
	for (size_t i = 0; i < cfg->ntiers; i++)
		if (cfg->tiers[i].installer == AGENT_INSTALL_RAW)
			return &cfg->tiers[i];
	return NULL;
}

const struct agent_tier *agent_config_tier(const struct agent_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntiers; i++)
		if (strcmp(cfg->tiers[i].name, name) == 0)
			return &cfg->tiers[i];
	return NULL;
}
