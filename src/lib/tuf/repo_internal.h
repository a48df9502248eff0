/* Internal to the repository module (repo.c, repo_ops.c, repo_status.c). */
#ifndef VOUCH_REPO_INTERNAL_H
#define VOUCH_REPO_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <time.h>

#include "vouch/buf.h"
#include "vouch/error.h"
#include "vouch/key.h"
#include "vouch/repo.h"

struct repo {
	char dir[PATH_MAX];
	json_t *config;
	struct vouch_repo_expiry exp;
	int consistent;
	json_t *root;	 /* staged newest root envelope */
	json_t *targets; /* staged targets envelope */
	json_t *tiers;	 /* object: tier name -> staged envelope */
	const char *keylog_path;
	time_t now;
	int lockfd; /* flock on DIR/.vouch-repo.lock, -1 if none */
};

/* Keys, key ids and threshold of a role, borrowed from metadata. */
struct role_auth {
	const json_t *keys;   /* object keyid -> TUF key */
	const json_t *keyids; /* array of strings */
	int64_t threshold;
};

enum vouch_rc repo_path(char *out, size_t cap, struct vouch_err *err, const char *fmt, ...)
    VOUCH_PRINTF(4, 5) VOUCH_WUR;
enum vouch_rc repo_open(const char *dir, const struct vouch_repo_opts *o, struct repo *r,
			struct vouch_err *err) VOUCH_WUR;
void repo_close(struct repo *r);
/* repo_open() without repo_check_staged() (for status, which reports it). */
enum vouch_rc repo_open_unchecked(const char *dir, const struct vouch_repo_opts *o, struct repo *r,
				  struct vouch_err *err) VOUCH_WUR;
/* VOUCH_E_VERIFY when a staged role at its published version differs from
 * the published file (edited outside vouch). */
enum vouch_rc repo_check_staged(const struct repo *r, struct vouch_err *err) VOUCH_WUR;

enum vouch_rc repo_read_env(const char *path, json_t **out, struct vouch_err *err) VOUCH_WUR;
enum vouch_rc repo_write_env(const char *path, json_t *env, struct vouch_err *err) VOUCH_WUR;
enum vouch_rc repo_env_bytes(json_t *env, struct vouch_buf *out, struct vouch_err *err) VOUCH_WUR;

json_t *repo_signed(const json_t *env);
int64_t repo_version(const json_t *env);
void repo_fmt_time(time_t t, char out[32]);
int repo_parse_time(const char *s, time_t *out);

/* Role lookups: top-level roles in root_signed, tiers in r->targets. */
enum vouch_rc repo_role_auth(const struct repo *r, const json_t *root_signed, const char *role,
			     struct role_auth *a, struct vouch_err *err) VOUCH_WUR;
int repo_keyid_listed(const json_t *keyids, const char *id);
/* Number of distinct listed key ids with a valid signature over env. */
size_t repo_count_valid(const json_t *env, const struct role_auth *a);
/* Describes the expected key ids ("a1b2c3d4…, e5f6…") into buf. */
void repo_expected_ids(const struct role_auth *a, char *buf, size_t cap);

/* Signs env.signed with key (which must have a private part) and logs it;
 * replaces an earlier signature by the same key id. */
enum vouch_rc repo_sign_env(struct repo *r, json_t *env, const char *role, struct vouch_key *key,
			    struct vouch_err *err) VOUCH_WUR;
/* New version: version+1, expires now+period, no signatures. */
enum vouch_rc repo_bump(json_t *env, time_t now, int64_t period, struct vouch_err *err) VOUCH_WUR;

/* Root version v from staged/ or metadata/ (NULL result if neither). */
enum vouch_rc repo_load_root(const struct repo *r, int64_t v, json_t **out,
			     struct vouch_err *err) VOUCH_WUR;
int64_t repo_published_root(const struct repo *r);
/* Published snapshot meta object (new reference) or NULL if none. */
enum vouch_rc repo_published_meta(const struct repo *r, json_t **meta, json_t **timestamp,
				  struct vouch_err *err) VOUCH_WUR;
/* Valid signatures of root v (env) under its own root role and, for v > 1,
 * under root v-1's. Sets *own, *prev and the thresholds. */
enum vouch_rc repo_root_counts(const struct repo *r, const json_t *env, size_t *own,
			       int64_t *own_thr, size_t *prev, int64_t *prev_thr,
			       struct vouch_err *err) VOUCH_WUR;
int64_t repo_period(const struct repo *r, const char *role);
int repo_is_toplevel(const char *role);

/* Signs env with every key in ks, after checking that the role lists each
 * one (VOUCH_E_DENIED naming the expected key ids otherwise). */
enum vouch_rc repo_sign_with(struct repo *r, json_t *env, const char *role,
			     const struct role_auth *a, const struct vouch_repo_keys *ks,
			     struct vouch_err *err) VOUCH_WUR;
/* Writes DIR/staged/ROLE.json. */
enum vouch_rc repo_stage(const struct repo *r, const char *role, json_t *env,
			 struct vouch_err *err) VOUCH_WUR;
/* Appends "ROLE vN signed (k of t)" or what is missing to notes. */
enum vouch_rc repo_note_sigs(const struct repo *r, const char *role, json_t *env,
			     const struct role_auth *a, struct vouch_buf *notes,
			     struct vouch_err *err) VOUCH_WUR;
int repo_tier_covers(const json_t *delegation, const char *name);
/* Refuses (VOUCH_E_DENIED) to sign or publish env as role when it breaks
 * the tier model: wrong _type; for targets, a delegation that is not a
 * terminating tier with paths under NAME/; for a tier, a target its
 * delegation in r->targets does not cover. */
enum vouch_rc repo_check_content(const struct repo *r, const json_t *env, const char *role,
				 struct vouch_err *err) VOUCH_WUR;
json_t *repo_find_delegation(const json_t *targets_env, const char *name);
/* Publishes the opened repository (repo_ops.c). */
enum vouch_rc repo_publish_locked(struct repo *r, const struct vouch_repo_keys *snap,
				  const struct vouch_repo_keys *ts, struct vouch_buf *notes,
				  struct vouch_err *err) VOUCH_WUR;

#endif
