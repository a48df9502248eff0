/* vouch-agent — decisions and state transitions (docs/agent.md).
 *
 * Order of durable steps, chosen so that a power cut between any two
 * leaves a state that startup() can finish or undo:
 *   install (raw):  slot written, fsynced, re-hashed -> state: pending ->
 *                   boot env: trial = slot, tries = N
 *   commit (raw):   boot env: active = slot, no trial -> state: running,
 *                   floor raised, pending cleared
 *   fall back:      state: bad + pending cleared -> boot env: no trial
 *   archive:        release dir synced -> state: pending -> symlink swap ->
 *                   health check -> state: running + floor (or bad, then
 *                   the symlink swapped back)
 * startup() reads the pair (state, boot env / symlink) and completes or
 * discards whatever was half done; see reconcile_* below. */
#define _GNU_SOURCE
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "fault.h"
#include "install.h"
#include "proc.h"
#include "version.h"
#include "vouch/buf.h"
#include "vouch/crypt.h"
#include "vouch/encoding.h"
#include "vouch/json.h"
#include "vouch/pipeline.h"
#include "vouch/tuf.h"

#define REASON_MAX 512

/* ------------------------------------------------------------------ output */

static void say(struct agent *a, const char *tier, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct agent *a, const char *tier, const char *fmt, ...)
{
	va_list ap;
	FILE *fp = a->json ? stderr : a->out;
	if (tier != NULL)
		fprintf(fp, "%s: ", tier);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fputc('\n', fp);
	fflush(fp);
}

/* ------------------------------------------------------------ open/close */

enum vouch_rc agent_open(const char *config_path, int lock, struct agent *a, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct vouch_buf p = {0};
	memset(a, 0, sizeof(*a));
	a->lock_fd = -1;
	a->out = stdout;
	rc = agent_config_load(config_path, &a->cfg, err);
	if (rc != VOUCH_OK) {
		/* A configuration the integrator wrote is a usage matter, not
		 * a security refusal. */
		if (rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT) {
			rc = VOUCH_E_USAGE;
			if (err != NULL)
				err->code = rc;
		}
		return rc;
	}
	rc = vouch_mkdir_p(a->cfg->data_dir, 0700, err);
	if (rc != VOUCH_OK)
		goto fail;
	if (lock) {
		rc = vouch_buf_printf(&p, err, "%s/lock", a->cfg->data_dir);
		if (rc != VOUCH_OK)
			goto fail;
		a->lock_fd = open((const char *)p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (a->lock_fd < 0 || flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			rc = vouch_err_set(err, VOUCH_E_IO,
					   "%s: another vouch-agent is working on this device",
					   (const char *)p.data);
			goto fail;
		}
	}
	rc = agent_state_load(a->cfg->data_dir, &a->st, &a->state_err);
	if (rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT) {
		/* Damaged: keep the file for the operator, work on an empty
		 * stand-in that is never saved. The device must still boot. */
		a->state_corrupt = 1;
		rc = vouch_buf_printf(&p, err, "%s/state.json", a->cfg->data_dir);
		if (rc != VOUCH_OK)
			goto fail;
		a->st.path = (char *)vouch_buf_steal(&p);
		a->st.doc = json_pack("{s:i, s:{}}", "format", 1, "tiers");
		if (a->st.doc == NULL) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto fail;
		}
	} else if (rc != VOUCH_OK) {
		if (err != NULL)
			*err = a->state_err;
		goto fail;
	}
	vouch_buf_free(&p);
	return VOUCH_OK;
fail:
	vouch_buf_free(&p);
	agent_close(a);
	return rc;
}

void agent_close(struct agent *a)
{
	agent_state_free(&a->st);
	agent_config_free(a->cfg);
	a->cfg = NULL;
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	a->lock_fd = -1;
}

/* ----------------------------------------------------------------- TUF */

static enum vouch_rc tuf_open(struct agent *a, struct vouch_tuf_client **out, struct vouch_err *err)
{
	struct vouch_buf dir = {0}, root = {0}, have = {0};
	struct vouch_tuf_client_config cc;
	enum vouch_rc rc = VOUCH_OK;
	struct stat st;

	*out = NULL;
	rc = vouch_buf_printf(&dir, err, "%s/metadata", a->cfg->data_dir);
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&have, err, "%s/metadata/root.json", a->cfg->data_dir);
	if (rc != VOUCH_OK)
		goto out;
	if (stat((const char *)have.data, &st) != 0) {
		/* First start: the provisioned root becomes the trusted one. */
		rc = vouch_file_read(a->cfg->image_root, VOUCH_TUF_DEFAULT_ROOT_MAX, &root, err);
		if (rc == VOUCH_OK)
			rc = vouch_tuf_client_install_root((const char *)dir.data, root.data,
							   root.len, VOUCH_TUF_DEFAULT_ROOT_MAX,
							   err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "[trust] image-root: ");
			goto out;
		}
	}
	vouch_tuf_client_config_default(&cc);
	cc.metadata_dir = (const char *)dir.data;
	cc.metadata_url = a->cfg->metadata_url;
	cc.target_base_url = a->cfg->targets_url;
	cc.fetch.low_speed_limit = (long)a->cfg->low_speed_limit;
	cc.fetch.low_speed_time = (long)a->cfg->low_speed_time;
	rc = vouch_tuf_client_new(&cc, out, err);
	if (rc == VOUCH_OK)
		rc = vouch_tuf_client_refresh(*out, err);
	if (rc != VOUCH_OK) {
		vouch_tuf_client_free(*out);
		*out = NULL;
		vouch_err_prefix(err, "repository refresh: ");
	}
out:
	vouch_buf_free(&dir);
	vouch_buf_free(&root);
	vouch_buf_free(&have);
	return rc;
}

/* ------------------------------------------------------- target checks */

struct info {
	const char *version;
	int64_t secver;
	const json_t *hardware;
	const char *format;
	const json_t *enc;			    /* custom.vouch.encryption or NULL */
	char hash_id[8 + 2 * VOUCH_SHA512_LEN + 1]; /* "sha256:HEX" */
};

static enum vouch_rc target_info(const struct vouch_tuf_target *t, struct info *in, char *reason,
				 size_t rlen)
{
	const json_t *v = json_object_get(t->custom, "vouch");
	const char *h = NULL;
	memset(in, 0, sizeof(*in));
	size_t hl = 2 * VOUCH_SHA256_LEN;
	h = json_string_value(json_object_get(t->hashes, "sha256"));
	if (h == NULL) {
		h = json_string_value(json_object_get(t->hashes, "sha512"));
		hl = 2 * VOUCH_SHA512_LEN;
	}
	if (h == NULL) {
		snprintf(reason, rlen, "no sha256 or sha512 hash is signed");
		return VOUCH_E_UNSUPPORTED;
	}
	/* It names state entries and release directories: exactly hex. */
	if (strlen(h) != hl || strspn(h, "0123456789abcdefABCDEF") != hl) {
		snprintf(reason, rlen, "malformed signed hash");
		return VOUCH_E_FORMAT;
	}
	snprintf(in->hash_id, sizeof(in->hash_id), "%s:%s",
		 hl == 2 * VOUCH_SHA256_LEN ? "sha256" : "sha512", h);
	if (!json_is_object(v)) {
		snprintf(reason, rlen,
			 "no custom.vouch fields (version, security_version, "
			 "hardware)");
		return VOUCH_E_FORMAT;
	}
	in->version = json_string_value(json_object_get(v, "version"));
	if (in->version == NULL || !agent_version_valid(in->version)) {
		snprintf(reason, rlen, "missing or malformed version");
		return VOUCH_E_FORMAT;
	}
	/* A release signed without security_version fixes nothing: 0. It is
	 * then refused on any device whose floor rose above 0. */
	const json_t *sv = json_object_get(v, "security_version");
	if (sv != NULL && (!json_is_integer(sv) || json_integer_value(sv) < 0)) {
		snprintf(reason, rlen, "malformed security_version");
		return VOUCH_E_FORMAT;
	}
	in->secver = sv != NULL ? (int64_t)json_integer_value(sv) : 0;
	/* Fail closed: no list, or an empty one, names no device. */
	in->hardware = json_object_get(v, "hardware");
	if (!json_is_array(in->hardware) || json_array_size(in->hardware) == 0) {
		snprintf(reason, rlen, "missing or empty hardware list (it names no device)");
		return VOUCH_E_FORMAT;
	}
	in->format = json_string_value(json_object_get(v, "format"));
	in->enc = json_object_get(v, "encryption");
	if (in->enc != NULL) {
		/* The plaintext checks are what proves the decrypted bytes:
		 * exactly a sha256 (64 hex digits) and a length. */
		const char *ps = json_string_value(json_object_get(in->enc, "plaintext_sha256"));
		const json_t *pl = json_object_get(in->enc, "plaintext_length");
		if (!json_is_object(in->enc) || ps == NULL || strlen(ps) != 2 * VOUCH_SHA256_LEN ||
		    strspn(ps, "0123456789abcdefABCDEF") != 2 * VOUCH_SHA256_LEN ||
		    !json_is_integer(pl) || json_integer_value(pl) < 0) {
			snprintf(
			    reason, rlen,
			    "malformed encryption fields (plaintext_length, plaintext_sha256)");
			return VOUCH_E_FORMAT;
		}
	}
	return VOUCH_OK;
}

/* Every check of DESIGN.md §2 that standalone mode can make before
 * downloading. Returns the refusal's code with a reason, or VOUCH_OK. */
static enum vouch_rc evaluate(struct agent *a, const struct agent_tier *tier, json_t *ts,
			      const struct vouch_tuf_target *t, struct info *in, char *reason,
			      size_t rlen)
{
	enum vouch_rc rc = target_info(t, in, reason, rlen);
	if (rc != VOUCH_OK)
		return rc;
	/* The role that signed it must be the tier that owns the path. The
	 * TUF search already limited the role to its delegated paths. */
	if (t->role == NULL || strcmp(t->role, tier->name) != 0) {
		snprintf(reason, rlen, "signed by role '%s', not by tier '%s'",
			 t->role ? t->role : "?", tier->name);
		return VOUCH_E_DENIED;
	}
	const char *ctier =
	    json_string_value(json_object_get(json_object_get(t->custom, "vouch"), "tier"));
	if (ctier != NULL && strcmp(ctier, tier->name) != 0) {
		snprintf(reason, rlen, "custom.vouch.tier is '%s', not '%s'", ctier, tier->name);
		return VOUCH_E_DENIED;
	}
	size_t i = 0;
	json_t *hw = NULL;
	int hw_ok = 0;
	json_array_foreach (in->hardware, i, hw) {
		if (json_is_string(hw) && strcmp(json_string_value(hw), a->cfg->hardware) == 0)
			hw_ok = 1;
	}
	if (!hw_ok) {
		snprintf(reason, rlen, "hardware '%s' is not in the release's hardware list",
			 a->cfg->hardware);
		return VOUCH_E_DENIED;
	}
	int64_t floor = agent_state_floor(ts);
	if (in->secver < floor) {
		snprintf(reason, rlen,
			 "security_version %lld is below this device's floor %lld (anti-rollback)",
			 (long long)in->secver, (long long)floor);
		return VOUCH_E_ROLLBACK;
	}
	const char *bad = agent_state_bad_reason(ts, in->hash_id);
	if (bad != NULL) {
		snprintf(reason, rlen, "marked bad on this device: %s", bad);
		return VOUCH_E_DENIED;
	}
	const char *dropped = agent_state_bad_dropped(ts, in->version);
	if (dropped != NULL) {
		snprintf(reason, rlen,
			 "marked bad on this device: not newer than %s, the newest release "
			 "dropped from the full list of %d bad releases",
			 dropped, AGENT_STATE_MAX_BAD);
		return VOUCH_E_DENIED;
	}
	const char *want = tier->installer == AGENT_INSTALL_ARCHIVE ? "archive" : "raw";
	if (in->format != NULL && tier->installer != AGENT_INSTALL_SCRIPT &&
	    strcmp(in->format, want) != 0) {
		snprintf(reason, rlen, "format '%s' does not fit installer %s", in->format,
			 agent_installer_name(tier->installer));
		return VOUCH_E_UNSUPPORTED;
	}
	if (in->enc != NULL && a->cfg->decryption_key == NULL) {
		snprintf(reason, rlen,
			 "encrypted release and this device has no [device] decryption-key");
		return VOUCH_E_DENIED;
	}
	return VOUCH_OK;
}

struct scan {
	struct agent *a;
	const struct agent_tier *tier;
	json_t *ts;
	json_t *refusals;
	char *best;
	char *best_version;
	int64_t best_secver;
	char best_hash[sizeof(((struct info *)0)->hash_id)];
	enum vouch_rc oom;
};

static int scan_one(void *ctx, const struct vouch_tuf_target *t)
{
	struct scan *s = ctx;
	struct info in;
	char reason[REASON_MAX];
	enum vouch_rc rc = evaluate(s->a, s->tier, s->ts, t, &in, reason, sizeof(reason));
	if (rc != VOUCH_OK) {
		json_t *r = json_pack("{s:s, s:s?, s:s, s:s}", "name", t->name, "version",
				      in.version, "reason", reason, "code", vouch_rc_name(rc));
		if (r == NULL || json_array_append_new(s->refusals, r) != 0)
			s->oom = VOUCH_E_NOMEM;
		return 0;
	}
	if (s->best != NULL) {
		int c = agent_version_cmp(in.version, s->best_version);
		if (c < 0 || (c == 0 && strcmp(t->name, s->best) < 0))
			return 0;
	}
	char *n = strdup(t->name), *v = strdup(in.version);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		s->oom = VOUCH_E_NOMEM;
		return 1;
	}
	free(s->best);
	free(s->best_version);
	s->best = n;
	s->best_version = v;
	s->best_secver = in.secver;
	memcpy(s->best_hash, in.hash_id, sizeof(s->best_hash));
	return 0;
}

/* ------------------------------------------------------------ health */

static enum vouch_rc env_for(const struct agent_tier *tier, const json_t *rel,
			     struct vouch_buf vars[4], char *envp[5], struct vouch_err *err)
{
	enum vouch_rc rc = vouch_buf_printf(&vars[0], err, "VOUCH_TIER=%s", tier->name);
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&vars[1], err, "VOUCH_VERSION=%s",
				      agent_rel_str(rel, "version"));
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&vars[2], err, "VOUCH_TARGET=%s", agent_rel_str(rel, "name"));
	if (rc == VOUCH_OK)
		rc = vouch_buf_printf(&vars[3], err, "VOUCH_SLOT=%s",
				      *agent_rel_str(rel, "slot") ? agent_rel_str(rel, "slot")
								  : agent_rel_str(rel, "dir"));
	for (int i = 0; i < 4; i++)
		envp[i] = (char *)vars[i].data;
	envp[4] = NULL;
	return rc;
}

/* Runs [health] command. *ok = 1 if it passed; reason says why not. */
static enum vouch_rc health_check(struct agent *a, const struct agent_tier *tier, const json_t *rel,
				  int *ok, char *reason, size_t rlen, struct vouch_err *err)
{
	struct vouch_buf vars[4];
	char *envp[5];
	struct agent_proc p;
	struct vouch_err herr;
	int status = 0;
	enum vouch_rc rc = VOUCH_OK;

	memset(vars, 0, sizeof(vars));
	*ok = 1;
	if (a->cfg->health_command == NULL)
		return VOUCH_OK;
	rc = env_for(tier, rel, vars, envp, err);
	if (rc != VOUCH_OK)
		goto out;
	vouch_err_clear(&herr);
	fflush(NULL);
	rc = agent_proc_start(a->cfg->health_command, envp, 0, &p, &herr);
	if (rc == VOUCH_OK)
		rc = agent_proc_wait(&p, (int)a->cfg->health_timeout, &status, &herr);
	if (rc != VOUCH_OK) {
		*ok = 0;
		snprintf(reason, rlen, "health check failed: %.200s", herr.msg);
		rc = VOUCH_OK;
	} else if (status != 0) {
		*ok = 0;
		snprintf(reason, rlen, "health check failed (exit %d)", status);
	}
out:
	for (int i = 0; i < 4; i++)
		vouch_buf_free(&vars[i]);
	return rc;
}

/* -------------------------------------------------------- transitions */

static const char *other_slot(const char *s)
{
	return strcmp(s, "a") == 0 ? "b" : "a";
}

static enum vouch_rc boot_set(struct agent *a, const char *active, const char *trial, int tries,
			      struct vouch_err *err)
{
	struct agent_bootenv env;
	char t[4];
	enum vouch_rc rc = agent_boot_load(a->cfg, &env, err);
	snprintf(t, sizeof(t), "%d", tries);
	if (rc == VOUCH_OK && active != NULL)
		rc = agent_bootenv_set(&env, "vouch_active", active, err);
	if (rc == VOUCH_OK)
		rc = agent_bootenv_set(&env, "vouch_trial", trial ? trial : "", err);
	if (rc == VOUCH_OK)
		rc = agent_bootenv_set(&env, "vouch_tries", trial ? t : "", err);
	if (rc == VOUCH_OK)
		rc = agent_boot_store(a->cfg, &env, err);
	agent_bootenv_free(&env);
	return rc;
}

/* Removes release directories ("DIR.HEX16") of an archive tier that
 * neither the running nor the previous release uses. */
static void archive_cleanup(const struct agent_tier *tier, json_t *ts)
{
	const char *keep1 = agent_rel_str(agent_state_release(ts, "running"), "dir");
	const char *keep2 = agent_rel_str(agent_state_release(ts, "previous"), "dir");
	char parent[PATH_MAX], full[PATH_MAX];
	const char *slash = strrchr(tier->dir, '/');
	const char *base = slash ? slash + 1 : tier->dir;
	size_t bl = strlen(base);
	struct dirent *de = NULL;
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - tier->dir), tier->dir);
	DIR *d = opendir(parent);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strncmp(n, base, bl) != 0 || n[bl] != '.' || strlen(n + bl + 1) != 16 ||
		    strspn(n + bl + 1, "0123456789abcdefABCDEF") != 16)
			continue;
		if (snprintf(full, sizeof(full), "%s/%s", parent, n) >= (int)sizeof(full))
			continue;
		if (strcmp(full, keep1) == 0 || strcmp(full, keep2) == 0)
			continue;
		agent_remove_tree(full);
	}
	closedir(d);
}

static enum vouch_rc commit_tier(struct agent *a, const struct agent_tier *tier, json_t *ts,
				 struct vouch_err *err)
{
	json_t *p = json_deep_copy(agent_state_release(ts, "pending"));
	json_t *run = agent_state_release(ts, "running");
	enum vouch_rc rc = VOUCH_OK;
	if (p == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	if (tier->installer == AGENT_INSTALL_RAW) {
		/* The bootloader first: the slot is good... */
		rc = boot_set(a, agent_rel_str(p, "slot"), NULL, 0, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	/* ... and only then the floor rises. */
	json_object_del(p, "rollback");
	if (run != NULL)
		rc = agent_state_set_release(ts, "previous", json_deep_copy(run), err);
	if (rc == VOUCH_OK)
		rc = agent_state_raise_floor(ts, agent_rel_int(p, "security_version"), err);
	if (rc == VOUCH_OK)
		rc = agent_state_set_release(ts, "running", json_incref(p), err);
	if (rc == VOUCH_OK)
		rc = agent_state_set_release(ts, "pending", NULL, err);
	if (rc == VOUCH_OK)
		rc = agent_state_save(&a->st, err);
	if (rc != VOUCH_OK)
		goto out;
	say(a, tier->name, "committed %s (%s); anti-rollback floor is now %lld",
	    agent_rel_str(p, "version"), agent_rel_str(p, "name"),
	    (long long)agent_state_floor(ts));
	if (tier->installer == AGENT_INSTALL_ARCHIVE)
		archive_cleanup(tier, ts);
out:
	json_decref(p);
	return rc;
}

static enum vouch_rc fallback_tier(struct agent *a, const struct agent_tier *tier, json_t *ts,
				   const char *reason, int mark_bad, struct vouch_err *err)
{
	json_t *p = json_deep_copy(agent_state_release(ts, "pending"));
	json_t *run = agent_state_release(ts, "running");
	enum vouch_rc rc = VOUCH_OK;
	if (p == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	/* The state first: once it says bad, nothing retries the release. */
	if (mark_bad)
		rc = agent_state_mark_bad(ts, p, reason, err);
	if (rc == VOUCH_OK)
		rc = agent_state_set_release(ts, "pending", NULL, err);
	if (rc == VOUCH_OK)
		rc = agent_state_save(&a->st, err);
	if (rc != VOUCH_OK)
		goto out;
	switch (tier->installer) {
	case AGENT_INSTALL_RAW: {
		struct agent_bootenv env;
		rc = agent_boot_load(a->cfg, &env, err);
		const char *active = rc == VOUCH_OK ? agent_boot_active(&env) : "a";
		char act[2] = {active[0], 0};
		agent_bootenv_free(&env);
		if (rc == VOUCH_OK)
			rc = boot_set(a, act, NULL, 0, err);
		if (rc == VOUCH_OK)
			say(a, tier->name, "rolled back from %s: %s; slot %s stays active%s",
			    agent_rel_str(p, "version"), reason, act,
			    strcmp(act, agent_rel_str(p, "slot")) == 0 ? "" : " (reboot into it)");
		break;
	}
	case AGENT_INSTALL_ARCHIVE: {
		const char *back = agent_rel_str(run, "dir");
		if (*back)
			rc = agent_archive_switch(tier->dir, back, err);
		else {
			vouch_fault_point(VOUCH_FAULT_UNLINK, tier->dir);
			unlink(tier->dir);
			rc = vouch_fsync_dir_of(tier->dir, err);
		}
		if (rc == VOUCH_OK) {
			agent_remove_tree(agent_rel_str(p, "dir"));
			say(a, tier->name, "rolled back from %s: %s; %s is live again",
			    agent_rel_str(p, "version"), reason,
			    *back ? agent_rel_str(run, "version") : "nothing");
		}
		break;
	}
	case AGENT_INSTALL_SCRIPT:
		say(a, tier->name, "%s failed: %s (the script installer cannot undo it)",
		    agent_rel_str(p, "version"), reason);
		break;
	}
out:
	json_decref(p);
	return rc;
}

/* Health check, then commit or fall back. */
static enum vouch_rc finish_trial(struct agent *a, const struct agent_tier *tier, json_t *ts,
				  struct vouch_err *err)
{
	char reason[REASON_MAX];
	int ok = 0;
	json_t *p = agent_state_release(ts, "pending");
	say(a, tier->name, "checking the health of %s", agent_rel_str(p, "version"));
	enum vouch_rc rc = health_check(a, tier, p, &ok, reason, sizeof(reason), err);
	if (rc != VOUCH_OK)
		return rc;
	if (ok)
		return commit_tier(a, tier, ts, err);
	return fallback_tier(a, tier, ts, reason, 1, err);
}

/* ------------------------------------------------------------ decrypt */

struct dec_stage {
	struct vouch_decryptor *d;
};

static enum vouch_rc dec_update(void *ctx, const void *in, size_t n, vouch_pipeline_write_fn emit,
				void *emit_ctx, struct vouch_err *err)
{
	struct dec_stage *s = ctx;
	return vouch_decryptor_update(s->d, in, n, (vouch_crypt_out_cb)emit, emit_ctx, err);
}

static enum vouch_rc dec_final(void *ctx, vouch_pipeline_write_fn emit, void *emit_ctx,
			       struct vouch_err *err)
{
	struct dec_stage *s = ctx;
	return vouch_decryptor_final(s->d, (vouch_crypt_out_cb)emit, emit_ctx, err);
}

/* ------------------------------------------------------------ install */

static enum vouch_rc install(struct agent *a, struct vouch_tuf_client *c,
			     const struct agent_tier *tier, json_t *ts, const char *name,
			     struct vouch_err *err)
{
	struct vouch_tuf_target *t = NULL;
	struct vouch_pipeline_opts po;
	struct vouch_pipeline_result res;
	struct info in;
	char reason[REASON_MAX];
	char *url = NULL, *rdir = NULL;
	struct vouch_buf spool = {0};
	struct vouch_crypt_key *key = NULL;
	struct dec_stage ds = {NULL};
	struct vouch_pipeline_stage stage;
	uint8_t plain_sha[VOUCH_SHA256_LEN];
	char hex[2 * VOUCH_SHA256_LEN + 1];
	json_t *rel = NULL;
	const char *slot = NULL;
	uint64_t size_hint = 0;
	struct agent_bootenv env;
	enum vouch_rc rc = VOUCH_OK;
	const char *ps = NULL;
	const json_t *pl = NULL;

	memset(&env, 0, sizeof(env));
	memset(&stage, 0, sizeof(stage));
	rc = vouch_tuf_client_find_target(c, name, &t, err);
	if (rc != VOUCH_OK)
		goto out;
	rc = target_info(t, &in, reason, sizeof(reason));
	if (rc != VOUCH_OK) {
		rc = vouch_err_set(err, rc, "%s", reason);
		goto out;
	}
	rc = vouch_tuf_client_target_url(c, t, &url, err);
	if (rc != VOUCH_OK)
		goto out;
	vouch_pipeline_opts_default(&po);
	po.url = url;
	po.length = t->length;
	po.hashes = t->hashes;
	po.fetch.low_speed_limit = (long)a->cfg->low_speed_limit;
	po.fetch.low_speed_time = (long)a->cfg->low_speed_time;
	po.retries = (unsigned)a->cfg->retries;
	po.progress = 1;
	po.label = name;
	size_hint = t->length;
	if ((uint64_t)a->cfg->max_target_size < t->length) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT, "%llu bytes exceeds max-target-size %lld",
				   (unsigned long long)t->length,
				   (long long)a->cfg->max_target_size);
		goto out;
	}
	if (in.enc != NULL) {
		ps = json_string_value(json_object_get(in.enc, "plaintext_sha256"));
		pl = json_object_get(in.enc, "plaintext_length");
		if (ps == NULL || strlen(ps) != 2 * VOUCH_SHA256_LEN || !json_is_integer(pl) ||
		    json_integer_value(pl) < 0 ||
		    vouch_hex_decode(ps, strlen(ps), plain_sha, sizeof(plain_sha), NULL, NULL) !=
			VOUCH_OK) {
			rc = vouch_err_set(err, VOUCH_E_FORMAT,
					   "encryption fields lack plaintext_length/sha256");
			goto out;
		}
		rc = vouch_crypt_key_load_private(a->cfg->decryption_key, NULL, &key, err);
		if (rc == VOUCH_OK)
			rc = vouch_decryptor_new(key, &ds.d, err);
		if (rc != VOUCH_OK)
			goto out;
		stage.ctx = &ds;
		stage.update = dec_update;
		stage.final = dec_final;
		po.stage = &stage;
		po.out_length = (uint64_t)json_integer_value(pl);
		po.out_sha256 = plain_sha;
		size_hint = po.out_length;
	}
	say(a, tier->name, "installing %s (%s, security_version %lld, %llu bytes)", in.version,
	    name, (long long)in.secver, (unsigned long long)t->length);

	switch (tier->installer) {
	case AGENT_INSTALL_RAW: {
		const char *active = NULL;
		rc = agent_boot_load(a->cfg, &env, err);
		if (rc != VOUCH_OK)
			goto out;
		active = agent_boot_active(&env);
		if (strcmp(agent_boot_booted(&env), active) != 0) {
			rc = vouch_err_set(err, VOUCH_E_IO,
					   "running slot %s is not the committed slot %s: run "
					   "startup and reboot first",
					   agent_boot_booted(&env), active);
			goto out;
		}
		slot = other_slot(active);
		if (*agent_bootenv_get(&env, "vouch_trial") != '\0') {
			/* A stale trial must not point at the slot being written. */
			rc = boot_set(a, NULL, NULL, 0, err);
			if (rc != VOUCH_OK)
				goto out;
		}
		rc = agent_install_raw(strcmp(slot, "a") == 0 ? tier->slot_a : tier->slot_b,
				       size_hint, &po, &res, err);
		break;
	}
	case AGENT_INSTALL_ARCHIVE: {
		const char *hexid = strchr(in.hash_id, ':') + 1;
		char *cur = NULL;
		int same = 0;
		struct stat lst;
		if (lstat(tier->dir, &lst) == 0 && !S_ISLNK(lst.st_mode)) {
			rc =
			    vouch_err_set(err, VOUCH_E_IO,
					  "%s exists and is not a symlink: move it aside once "
					  "(the agent manages it as a link to release directories)",
					  tier->dir);
			goto out;
		}
		rc = agent_archive_release_dir(tier->dir, hexid, &rdir, err);
		if (rc != VOUCH_OK)
			goto out;
		cur = agent_archive_current(tier->dir);
		same = cur != NULL && strcmp(cur, rdir) == 0;
		if (same) {
			/* The live directory has this release's name but the state
			 * does not say it is running (a state file removed after
			 * damage): never extract over the live tree, and never
			 * trust it unverified. Use the next 16 hex digits of the
			 * hash for a fresh directory (archive_cleanup knows both). */
			free(rdir);
			rdir = NULL;
			rc = agent_archive_release_dir(tier->dir, hexid + 16, &rdir, err);
		}
		free(cur);
		if (rc != VOUCH_OK)
			goto out;
		rc = agent_install_archive(rdir, &po, &res, err);
		break;
	}
	case AGENT_INSTALL_SCRIPT: {
		struct vouch_buf vars[4];
		char *envp[5];
		json_t *tmp = json_pack("{s:s, s:s}", "version", in.version, "name", name);
		memset(vars, 0, sizeof(vars));
		rc = tmp ? env_for(tier, tmp, vars, envp, err)
			 : vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		if (rc == VOUCH_OK)
			rc = vouch_buf_printf(&spool, err, "%s/spool", a->cfg->data_dir);
		if (rc == VOUCH_OK)
			rc = agent_install_script(tier->command, envp, (const char *)spool.data,
						  (int)tier->timeout, &po, &res, err);
		for (int i = 0; i < 4; i++)
			vouch_buf_free(&vars[i]);
		json_decref(tmp);
		break;
	}
	}
	if (rc != VOUCH_OK)
		goto out;

	vouch_hex_encode(res.out_sha256, VOUCH_SHA256_LEN, hex);
	rel = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:I, s:I}", "name", name, "version",
			in.version, "security_version", (json_int_t)in.secver, "target_hash",
			in.hash_id, "length", (json_int_t)t->length, "written_sha256", hex,
			"written_length", (json_int_t)res.out_length, "installed",
			(json_int_t)time(NULL));
	if (rel == NULL ||
	    (slot != NULL && json_object_set_new(rel, "slot", json_string(slot)) != 0) ||
	    (rdir != NULL && json_object_set_new(rel, "dir", json_string(rdir)) != 0)) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = agent_state_set_release(ts, "pending", json_incref(rel), err);
	if (rc == VOUCH_OK)
		rc = agent_state_save(&a->st, err);
	if (rc != VOUCH_OK)
		goto out;
	switch (tier->installer) {
	case AGENT_INSTALL_RAW:
		rc = boot_set(a, NULL, slot, (int)a->cfg->max_tries, err);
		if (rc == VOUCH_OK)
			say(a, tier->name,
			    "%s written to slot %s and verified; trial boot armed (%lld tries): "
			    "reboot to try it",
			    in.version, slot, (long long)a->cfg->max_tries);
		break;
	case AGENT_INSTALL_ARCHIVE:
		rc = agent_archive_switch(tier->dir, rdir, err);
		if (rc == VOUCH_OK) {
			say(a, tier->name, "%s extracted and verified; %s now points to it",
			    in.version, tier->dir);
			rc = finish_trial(a, tier, ts, err);
		}
		break;
	case AGENT_INSTALL_SCRIPT:
		say(a, tier->name, "%s verified and handed to the install command", in.version);
		rc = finish_trial(a, tier, ts, err);
		break;
	}
out:
	agent_bootenv_free(&env);
	json_decref(rel);
	vouch_decryptor_free(ds.d);
	vouch_crypt_key_free(key);
	vouch_buf_free(&spool);
	free(url);
	free(rdir);
	vouch_tuf_target_free(t);
	return rc;
}

/* --------------------------------------------------------------- cycle */

/* Keeps the decision in the tier's state with at most
 * AGENT_STATE_MAX_REFUSALS refusals (the count of the others in
 * "refusals_omitted"): a channel with thousands of releases for other
 * boards must not grow state.json past what the agent reads back. */
static enum vouch_rc store_last_check(json_t *ts, json_t *dec, struct vouch_err *err)
{
	json_t *all = json_object_get(dec, "refusals");
	size_t n = json_array_size(all);
	json_t *copy = json_copy(dec);
	json_t *kept = json_array();
	if (copy == NULL || kept == NULL)
		goto oom;
	for (size_t i = 0; i < n && i < AGENT_STATE_MAX_REFUSALS; i++)
		if (json_array_append(kept, json_array_get(all, i)) != 0)
			goto oom;
	if (json_object_set_new(copy, "refusals", kept) != 0) {
		kept = NULL;
		goto oom;
	}
	kept = NULL;
	if (n > AGENT_STATE_MAX_REFUSALS &&
	    json_object_set_new(copy, "refusals_omitted",
				json_integer((json_int_t)(n - AGENT_STATE_MAX_REFUSALS))) != 0)
		goto oom;
	if (json_object_set_new(ts, "last_check", copy) != 0)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
oom:
	json_decref(kept);
	json_decref(copy);
	return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
}

/* Refusals that make `update`/`check` exit 1: a release whose version is
 * above `target` (the version the tier ends the cycle with; NULL: none)
 * refused by a check of DESIGN.md §2. Not counted: releases at or below
 * `target` (superseded, nothing is lost by refusing them), releases this
 * device marked bad itself (reported when it happened), and formats that do
 * not fit the tier's installer (not addressed to it). A refusal without a
 * usable version counts: it cannot be ordered, so it may be the newest. */
static size_t count_newer_refusals(const json_t *refusals, const char *target)
{
	size_t i = 0, n = 0;
	const json_t *r = NULL;
	json_array_foreach (refusals, i, r) {
		const char *v = json_string_value(json_object_get(r, "version"));
		const char *code = json_string_value(json_object_get(r, "code"));
		const char *why = json_string_value(json_object_get(r, "reason"));
		if (code != NULL && strcmp(code, "unsupported") == 0)
			continue;
		if (why != NULL && strncmp(why, "marked bad", 10) == 0)
			continue;
		if (target != NULL && v != NULL && agent_version_cmp(v, target) <= 0)
			continue;
		n++;
	}
	return n;
}

static enum vouch_rc tier_cycle(struct agent *a, struct vouch_tuf_client *c,
				const struct agent_tier *tier, int apply, int *rejected,
				json_t *report, struct vouch_err *err)
{
	struct scan s;
	enum vouch_rc rc = VOUCH_OK;
	json_t *ts = agent_state_tier(&a->st, tier->name);
	json_t *run = NULL, *pend = NULL, *dec = NULL;
	const char *action = "none";
	char msg[2 * REASON_MAX + 2048];
	const char *running_version = NULL, *target_version = NULL;
	size_t i = 0, newer_refused = 0;
	json_t *r = NULL;

	memset(&s, 0, sizeof(s));
	if (ts == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	s.a = a;
	s.tier = tier;
	s.ts = ts;
	s.refusals = json_array();
	if (s.refusals == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	rc = vouch_tuf_client_list_targets(c, tier->channel, scan_one, &s, err);
	if (rc == VOUCH_OK && s.oom != VOUCH_OK)
		rc = vouch_err_set(err, s.oom, "out of memory");
	if (rc != VOUCH_OK)
		goto out;
	run = agent_state_release(ts, "running");
	pend = agent_state_release(ts, "pending");
	running_version = run ? agent_rel_str(run, "version") : NULL;
	json_array_foreach (s.refusals, i, r) {
		const char *v = json_string_value(json_object_get(r, "version"));
		say(a, tier->name, "refuse %s%s%s%s: %s",
		    json_string_value(json_object_get(r, "name")), v ? " (" : "", v ? v : "",
		    v ? ")" : "", json_string_value(json_object_get(r, "reason")));
	}
	if (pend != NULL) {
		action = "pending";
		snprintf(msg, sizeof(msg), "%s is on trial: waiting for startup to confirm it",
			 agent_rel_str(pend, "version"));
	} else if (s.best == NULL) {
		snprintf(msg, sizeof(msg), "no installable release on channel %s%s%s",
			 tier->channel, run ? "; running " : "",
			 run ? agent_rel_str(run, "version") : "");
	} else if (run != NULL && strcmp(agent_rel_str(run, "target_hash"), s.best_hash) == 0) {
		snprintf(msg, sizeof(msg), "up to date at %s", s.best_version);
	} else {
		action = "install";
		snprintf(msg, sizeof(msg), "candidate %s (%s, security_version %lld)%s",
			 s.best_version, s.best, (long long)s.best_secver,
			 apply ? "" : ": would install");
	}
	say(a, tier->name, "%s", msg);
	/* The release this tier is heading for: the one it installs now, the
	 * one on trial, or the one running (docs/agent.md, "Exit codes"). */
	if (strcmp(action, "install") == 0)
		target_version = s.best_version;
	else if (pend != NULL)
		target_version = agent_rel_str(pend, "version");
	else
		target_version = running_version;
	newer_refused = count_newer_refusals(s.refusals, target_version);
	dec = json_pack("{s:s, s:s, s:O, s:s?, s:s?, s:I}", "action", action, "message", msg,
			"refusals", s.refusals, "candidate", s.best, "candidate_version",
			s.best_version, "time", (json_int_t)time(NULL));
	if (dec == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	if (json_object_set_new(dec, "newer_refused", json_integer((json_int_t)newer_refused)) !=
	    0) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	if (newer_refused > 0) {
		*rejected = 1;
		say(a, tier->name,
		    "%zu release(s) newer than %s refused: see the reasons above (exit 1)",
		    newer_refused, target_version ? target_version : "nothing");
	}
	json_object_set(report, tier->name, dec);
	if (apply) {
		rc = store_last_check(ts, dec, err);
		if (rc == VOUCH_OK)
			rc = agent_state_save(&a->st, err);
		if (rc != VOUCH_OK)
			goto out;
		if (strcmp(action, "install") == 0) {
			struct vouch_err ierr;
			vouch_err_clear(&ierr);
			rc = install(a, c, tier, ts, s.best, &ierr);
			if (rc != VOUCH_OK) {
				say(a, tier->name, "install of %s failed: %s", s.best_version,
				    ierr.msg);
				if (vouch_rc_exit_code(rc) == 1)
					*rejected = 1;
				json_object_set_new(dec, "error", json_string(ierr.msg));
				enum vouch_rc r2 = store_last_check(ts, dec, err);
				if (r2 == VOUCH_OK)
					r2 = agent_state_save(&a->st, err);
				if (vouch_rc_exit_code(rc) == 1 && r2 == VOUCH_OK)
					rc = VOUCH_OK; /* reported through *rejected */
				else if (err != NULL)
					*err = ierr;
			}
		}
	}
out:
	json_decref(dec);
	json_decref(s.refusals);
	free(s.best);
	free(s.best_version);
	return rc;
}

/* The error every state-changing command returns on a damaged state. */
static enum vouch_rc state_refuse(struct agent *a, struct vouch_err *err)
{
	return vouch_err_set(err, VOUCH_E_IO,
			     "%s; refusing to act without it (the floors are in it): the device "
			     "keeps booting its committed slot; restore the file from a backup, "
			     "or remove it to start over with floors 0",
			     a->state_err.msg);
}

enum vouch_rc agent_cycle(struct agent *a, int apply, int *rejected, struct vouch_err *err)
{
	struct vouch_tuf_client *c = NULL;
	json_t *report = NULL;
	enum vouch_rc rc = VOUCH_OK, first = VOUCH_OK;
	*rejected = 0;
	if (a->state_corrupt)
		return state_refuse(a, err);
	report = json_object();
	if (report == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	rc = tuf_open(a, &c, err);
	/* One tier's failure (its metadata unreachable, a full disk...) does
	 * not keep the others from updating; the first error is returned. */
	for (size_t i = 0; rc == VOUCH_OK && i < a->cfg->ntiers; i++) {
		struct vouch_err terr;
		vouch_err_clear(&terr);
		enum vouch_rc trc =
		    tier_cycle(a, c, &a->cfg->tiers[i], apply, rejected, report, &terr);
		if (trc == VOUCH_OK)
			continue;
		say(a, a->cfg->tiers[i].name, "error: %s", terr.msg);
		if (first == VOUCH_OK) {
			first = trc;
			if (err != NULL)
				*err = terr;
		}
	}
	if (rc == VOUCH_OK)
		rc = first;
	if (rc == VOUCH_OK && a->json) {
		json_t *o = json_pack("{s:O, s:b}", "tiers", report, "rejected", *rejected);
		struct vouch_buf b = {0};
		if (o != NULL && vouch_json_dump(o, &b, err) == VOUCH_OK)
			fputs((const char *)b.data, a->out);
		vouch_buf_free(&b);
		json_decref(o);
	}
	vouch_tuf_client_free(c);
	json_decref(report);
	return rc;
}

/* ------------------------------------------------------------- startup */

static enum vouch_rc reconcile_raw(struct agent *a, const struct agent_tier *tier, json_t *ts,
				   struct vouch_err *err)
{
	struct agent_bootenv env;
	char booted[2], active[2], trial[2] = {0, 0};
	int tries;
	enum vouch_rc rc = agent_boot_load(a->cfg, &env, err);
	if (rc != VOUCH_OK) {
		agent_bootenv_free(&env);
		return rc;
	}
	booted[0] = agent_boot_booted(&env)[0];
	booted[1] = 0;
	active[0] = agent_boot_active(&env)[0];
	active[1] = 0;
	const char *tv = agent_bootenv_get(&env, "vouch_trial");
	if (strcmp(tv, "a") == 0 || strcmp(tv, "b") == 0)
		trial[0] = tv[0];
	int have_trial_var = *tv != '\0';
	tries = agent_boot_tries(&env);
	agent_bootenv_free(&env);

	json_t *p = agent_state_release(ts, "pending");
	if (p != NULL) {
		const char *x = agent_rel_str(p, "slot");
		char why[128];
		if (strcmp(trial, x) == 0 && strcmp(booted, x) == 0)
			return finish_trial(a, tier, ts, err);
		if (strcmp(trial, x) == 0) {
			if (tries > 0) {
				say(a, tier->name, "%s is armed in slot %s: reboot to try it",
				    agent_rel_str(p, "version"), x);
				return VOUCH_OK;
			}
			snprintf(why, sizeof(why),
				 "boot tries exhausted (%lld) without a healthy start",
				 (long long)a->cfg->max_tries);
			return fallback_tier(a, tier, ts, why, 1, err);
		}
		if (strcmp(active, x) == 0) {
			/* Cut after the boot env was committed, before the state. */
			say(a, tier->name, "finishing the interrupted commit of %s",
			    agent_rel_str(p, "version"));
			return commit_tier(a, tier, ts, err);
		}
		/* Cut before the trial was armed: not the release's fault. */
		say(a, tier->name,
		    "install of %s was interrupted before the switch; it will be "
		    "retried",
		    agent_rel_str(p, "version"));
		return fallback_tier(a, tier, ts, "interrupted", 0, err);
	}
	if (have_trial_var) {
		say(a, tier->name, "clearing a stale trial of slot %s", tv[0] ? trial : "?");
		rc = boot_set(a, active, NULL, 0, err);
		if (rc != VOUCH_OK)
			return rc;
	}
	if (strcmp(booted, active) != 0)
		say(a, tier->name, "running slot %s is not the committed slot %s: reboot required",
		    booted, active);
	else
		say(a, tier->name, "running %s from slot %s",
		    agent_rel_str(agent_state_release(ts, "running"), "version"), active);
	return VOUCH_OK;
}

static enum vouch_rc reconcile_archive(struct agent *a, const struct agent_tier *tier, json_t *ts,
				       struct vouch_err *err)
{
	char *cur = agent_archive_current(tier->dir);
	json_t *p = agent_state_release(ts, "pending");
	json_t *run = agent_state_release(ts, "running");
	enum vouch_rc rc = VOUCH_OK;
	if (p != NULL) {
		if (cur != NULL && strcmp(cur, agent_rel_str(p, "dir")) == 0)
			rc = finish_trial(a, tier, ts, err);
		else {
			say(a, tier->name,
			    "install of %s was interrupted before the switch; it will be retried",
			    agent_rel_str(p, "version"));
			rc = fallback_tier(a, tier, ts, "interrupted", 0, err);
		}
	} else if (run != NULL && (cur == NULL || strcmp(cur, agent_rel_str(run, "dir")) != 0)) {
		say(a, tier->name, "%s pointed elsewhere; switching back to %s", tier->dir,
		    agent_rel_str(run, "version"));
		rc = agent_archive_switch(tier->dir, agent_rel_str(run, "dir"), err);
	} else {
		say(a, tier->name, "running %s", run ? agent_rel_str(run, "version") : "nothing");
	}
	free(cur);
	return rc;
}

/* startup on a damaged state: nothing can be committed (what is on trial
 * is unknown), so a trial armed in the boot environment is disarmed and the
 * next boot is the committed slot; archive links are left as they are. */
static enum vouch_rc startup_safe_mode(struct agent *a, struct vouch_err *err)
{
	const struct agent_tier *bt = agent_config_boot_tier(a->cfg);
	say(a, NULL, "state damaged: %s", a->state_err.msg);
	if (bt != NULL) {
		struct agent_bootenv env;
		char active[2] = {0, 0};
		int trial = 0;
		enum vouch_rc rc = agent_boot_load(a->cfg, &env, err);
		if (rc != VOUCH_OK) {
			agent_bootenv_free(&env);
			return rc;
		}
		active[0] = agent_boot_active(&env)[0];
		trial = *agent_bootenv_get(&env, "vouch_trial") != '\0';
		agent_bootenv_free(&env);
		if (trial) {
			rc = boot_set(a, active, NULL, 0, err);
			if (rc != VOUCH_OK)
				return rc;
			say(a, bt->name, "trial disarmed: the next boot is the committed slot %s",
			    active);
		} else {
			say(a, bt->name, "committed slot %s stays active", active);
		}
	}
	return state_refuse(a, err);
}

enum vouch_rc agent_startup(struct agent *a, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	if (a->state_corrupt)
		return startup_safe_mode(a, err);
	for (size_t i = 0; rc == VOUCH_OK && i < a->cfg->ntiers; i++) {
		const struct agent_tier *tier = &a->cfg->tiers[i];
		json_t *ts = agent_state_tier(&a->st, tier->name);
		if (ts == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		switch (tier->installer) {
		case AGENT_INSTALL_RAW:
			rc = reconcile_raw(a, tier, ts, err);
			break;
		case AGENT_INSTALL_ARCHIVE:
			rc = reconcile_archive(a, tier, ts, err);
			break;
		case AGENT_INSTALL_SCRIPT:
			if (agent_state_release(ts, "pending") != NULL)
				rc = finish_trial(a, tier, ts, err);
			break;
		}
	}
	return rc;
}

enum vouch_rc agent_commit(struct agent *a, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	int n = 0;
	if (a->state_corrupt)
		return state_refuse(a, err);
	for (size_t i = 0; rc == VOUCH_OK && i < a->cfg->ntiers; i++) {
		const struct agent_tier *tier = &a->cfg->tiers[i];
		json_t *ts = agent_state_tier(&a->st, tier->name);
		json_t *p = agent_state_release(ts, "pending");
		if (p == NULL)
			continue;
		if (tier->installer == AGENT_INSTALL_RAW) {
			struct agent_bootenv env;
			rc = agent_boot_load(a->cfg, &env, err);
			int live = rc == VOUCH_OK &&
				   strcmp(agent_boot_booted(&env), agent_rel_str(p, "slot")) == 0;
			agent_bootenv_free(&env);
			if (rc != VOUCH_OK)
				return rc;
			if (!live)
				return vouch_err_set(err, VOUCH_E_USAGE,
						     "%s: not booted into the trial slot %s yet",
						     tier->name, agent_rel_str(p, "slot"));
		}
		n++;
		rc = commit_tier(a, tier, ts, err);
	}
	if (rc == VOUCH_OK && n == 0)
		say(a, NULL, "nothing to commit");
	return rc;
}

enum vouch_rc agent_rollback(struct agent *a, const char *only, struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	if (only != NULL && agent_config_tier(a->cfg, only) == NULL)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "rollback: no [tier.%.64s] in the configuration", only);
	if (a->state_corrupt)
		return state_refuse(a, err);
	for (size_t i = 0; rc == VOUCH_OK && i < a->cfg->ntiers; i++) {
		const struct agent_tier *tier = &a->cfg->tiers[i];
		if (only != NULL && strcmp(only, tier->name) != 0)
			continue;
		json_t *ts = agent_state_tier(&a->st, tier->name);
		json_t *p = agent_state_release(ts, "pending");
		json_t *run = agent_state_release(ts, "running");
		json_t *prev = agent_state_release(ts, "previous");
		if (p != NULL) {
			rc = fallback_tier(a, tier, ts, "rolled back by the operator", 1, err);
			continue;
		}
		if (prev == NULL || run == NULL) {
			say(a, tier->name, "nothing to roll back to");
			continue;
		}
		int64_t floor = agent_state_floor(ts);
		if (agent_rel_int(prev, "security_version") < floor)
			return vouch_err_set(
			    err, VOUCH_E_ROLLBACK,
			    "%s: previous release %s has security_version %lld, "
			    "below the floor %lld: publish a fixed release instead",
			    tier->name, agent_rel_str(prev, "version"),
			    (long long)agent_rel_int(prev, "security_version"), (long long)floor);
		uint8_t sha[VOUCH_SHA256_LEN];
		const char *hx = agent_rel_str(prev, "written_sha256");
		if (tier->installer == AGENT_INSTALL_SCRIPT)
			return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
					     "%s: the script installer cannot roll back",
					     tier->name);
		if (tier->installer == AGENT_INSTALL_RAW) {
			/* The old slot must still hold exactly that release. */
			const char *sl = agent_rel_str(prev, "slot");
			rc = vouch_hex_decode(hx, strlen(hx), sha, sizeof(sha), NULL, err);
			if (rc == VOUCH_OK)
				rc = vouch_pipeline_verify_file(
				    strcmp(sl, "a") == 0 ? tier->slot_a : tier->slot_b,
				    (uint64_t)agent_rel_int(prev, "written_length"), sha, err);
			if (rc != VOUCH_OK)
				return rc;
		} else {
			struct stat st;
			if (stat(agent_rel_str(prev, "dir"), &st) != 0)
				return vouch_err_set(err, VOUCH_E_NOTFOUND,
						     "%s: previous directory is gone", tier->name);
		}
		/* Going back is a pending "release" committed at once; the one
		 * left behind is marked bad so that update does not return to
		 * it by itself. */
		json_t *np = json_deep_copy(prev);
		if (np == NULL || json_object_set_new(np, "rollback", json_true()) != 0)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		rc = agent_state_mark_bad(ts, run, "rolled back by the operator", err);
		if (rc == VOUCH_OK)
			rc = agent_state_set_release(ts, "pending", np, err);
		else
			json_decref(np);
		if (rc == VOUCH_OK)
			rc = agent_state_save(&a->st, err);
		if (rc == VOUCH_OK && tier->installer == AGENT_INSTALL_ARCHIVE)
			rc = agent_archive_switch(tier->dir, agent_rel_str(prev, "dir"), err);
		if (rc == VOUCH_OK)
			rc = commit_tier(a, tier, ts, err);
		if (rc == VOUCH_OK && tier->installer == AGENT_INSTALL_RAW)
			say(a, tier->name, "rolled back to %s: reboot into slot %s",
			    agent_rel_str(agent_state_release(ts, "running"), "version"),
			    agent_rel_str(agent_state_release(ts, "running"), "slot"));
	}
	return rc;
}

/* -------------------------------------------------------------- status */

static void print_rel(struct agent *a, const char *what, const json_t *r)
{
	if (r == NULL) {
		fprintf(a->out, "  %-9s -\n", what);
		return;
	}
	fprintf(a->out, "  %-9s %s  %s  security_version %lld%s%s\n", what,
		agent_rel_str(r, "version"), agent_rel_str(r, "name"),
		(long long)agent_rel_int(r, "security_version"),
		*agent_rel_str(r, "slot") ? "  slot " : "",
		*agent_rel_str(r, "slot") ? agent_rel_str(r, "slot") : "");
}

enum vouch_rc agent_status(struct agent *a, struct vouch_err *err)
{
	struct agent_bootenv env;
	enum vouch_rc rc = VOUCH_OK;
	json_t *boot = NULL, *tiers = json_object(), *out = NULL;
	struct vouch_buf b = {0};
	memset(&env, 0, sizeof(env));
	if (tiers == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	if (agent_config_boot_tier(a->cfg) != NULL) {
		rc = agent_boot_load(a->cfg, &env, err);
		if (rc != VOUCH_OK)
			goto out;
		boot = json_pack("{s:s, s:s, s:s, s:i}", "active", agent_boot_active(&env),
				 "booted", agent_boot_booted(&env), "trial",
				 agent_bootenv_get(&env, "vouch_trial"), "tries",
				 agent_boot_tries(&env));
	}
	if (!a->json) {
		fprintf(a->out, "device %s (hardware %s)\n", a->cfg->device_id, a->cfg->hardware);
		if (a->state_corrupt)
			fprintf(a->out, "state: DAMAGED (%s); tiers below are not known\n",
				a->state_err.msg);
		if (boot != NULL) {
			fprintf(a->out, "boot: active slot %s, booted slot %s",
				agent_boot_active(&env), agent_boot_booted(&env));
			if (*agent_bootenv_get(&env, "vouch_trial"))
				fprintf(a->out, ", trial slot %s (%d tries left)",
					agent_bootenv_get(&env, "vouch_trial"),
					agent_boot_tries(&env));
			fputc('\n', a->out);
		}
	}
	for (size_t i = 0; i < a->cfg->ntiers; i++) {
		const struct agent_tier *tier = &a->cfg->tiers[i];
		json_t *ts = agent_state_tier(&a->st, tier->name);
		if (ts == NULL) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
		json_t *o =
		    json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:I, s:O, s:O?}", "installer",
			      agent_installer_name(tier->installer), "channel", tier->channel,
			      "running", agent_state_release(ts, "running"), "pending",
			      agent_state_release(ts, "pending"), "previous",
			      agent_state_release(ts, "previous"), "floor",
			      (json_int_t)agent_state_floor(ts), "bad", json_object_get(ts, "bad"),
			      "last_check", json_object_get(ts, "last_check"));
		if (o == NULL || json_object_set_new(tiers, tier->name, o) != 0) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
		if (a->json)
			continue;
		fprintf(a->out, "tier %s (%s, channel %s)\n", tier->name,
			agent_installer_name(tier->installer), tier->channel);
		print_rel(a, "running", agent_state_release(ts, "running"));
		print_rel(a, "pending", agent_state_release(ts, "pending"));
		fprintf(a->out, "  %-9s %lld\n", "floor", (long long)agent_state_floor(ts));
		size_t k = 0;
		json_t *bad = NULL;
		json_array_foreach (json_object_get(ts, "bad"), k, bad) {
			fprintf(a->out, "  %-9s %s  %s: %s\n", "bad", agent_rel_str(bad, "version"),
				agent_rel_str(bad, "name"), agent_rel_str(bad, "reason"));
		}
		json_t *lc = json_object_get(ts, "last_check");
		if (lc != NULL) {
			fprintf(a->out, "  %-9s %s\n", "decision", agent_rel_str(lc, "message"));
			json_t *r = NULL;
			json_array_foreach (json_object_get(lc, "refusals"), k, r) {
				fprintf(a->out, "  %-9s %s: %s\n", "refused",
					agent_rel_str(r, "name"), agent_rel_str(r, "reason"));
			}
			if (json_integer_value(json_object_get(lc, "refusals_omitted")) > 0)
				fprintf(a->out, "  %-9s %lld more (see check)\n", "refused",
					(long long)json_integer_value(
					    json_object_get(lc, "refusals_omitted")));
			if (json_object_get(lc, "error") != NULL)
				fprintf(a->out, "  %-9s %s\n", "error", agent_rel_str(lc, "error"));
		}
	}
	if (a->json) {
		out = json_pack("{s:s, s:s, s:O?, s:O}", "device", a->cfg->device_id, "hardware",
				a->cfg->hardware, "boot", boot, "tiers", tiers);
		if (out == NULL ||
		    (a->state_corrupt &&
		     json_object_set_new(out, "state_error", json_string(a->state_err.msg)) != 0)) {
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
			goto out;
		}
		rc = vouch_json_dump(out, &b, err);
		if (rc == VOUCH_OK)
			fputs((const char *)b.data, a->out);
	}
out:
	vouch_buf_free(&b);
	json_decref(out);
	json_decref(boot);
	json_decref(tiers);
	agent_bootenv_free(&env);
	if (rc == VOUCH_OK && a->state_corrupt)
		rc = state_refuse(a, err);
	return rc;
}

/* -------------------------------------------------------------- daemon */

enum vouch_rc agent_run(struct agent *a, volatile int *stop, struct vouch_err *err)
{
	struct vouch_buf lp = {0};
	enum vouch_rc rc = vouch_buf_printf(&lp, err, "%s/lock", a->cfg->data_dir);
	if (rc != VOUCH_OK)
		return rc;
	/* The lock is held for each cycle only, so that an operator can run
	 * status, rollback or commit while the daemon waits. */
	int fd = open((const char *)lp.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", (const char *)lp.data,
				   strerror(errno));
		vouch_buf_free(&lp);
		return rc;
	}
	vouch_buf_free(&lp);
	while (!*stop) {
		struct vouch_err cerr;
		int rejected = 0;
		vouch_err_clear(&cerr);
		while (flock(fd, LOCK_EX) != 0 && errno == EINTR && !*stop)
			;
		if (*stop)
			break;
		/* Re-read the state each cycle: startup or an operator may
		 * have changed it between cycles. */
		agent_state_free(&a->st);
		rc = agent_state_load(a->cfg->data_dir, &a->st, &cerr);
		if (rc == VOUCH_OK)
			rc = agent_cycle(a, 1, &rejected, &cerr);
		flock(fd, LOCK_UN);
		if (rc != VOUCH_OK)
			say(a, NULL, "cycle failed: %s", cerr.msg);
		uint32_t r = 0;
		if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
			r = (uint32_t)time(NULL);
		long wait =
		    (long)a->cfg->poll_interval +
		    (a->cfg->poll_jitter > 0 ? (long)(r % (uint32_t)(a->cfg->poll_jitter + 1)) : 0);
		for (long s = 0; s < wait && !*stop; s++)
			sleep(1);
	}
	close(fd);
	say(a, NULL, "stopping");
	return VOUCH_OK;
}
