/* vouch — the image repository, release side: a TUF 1.0 repository whose
 * top-level targets role delegates one terminating role per tier
 * (bootloader, os, app, driver, config), each with its own keys.
 *
 * Layout of a repository directory DIR:
 *   DIR/vouch-repo.json  settings (expiry periods, consistent snapshots); no secrets
 *   DIR/metadata/        published metadata, served as is (N.root.json, root.json,
 *                        timestamp.json, V.snapshot.json, V.targets.json, V.TIER.json;
 *                        unversioned names without consistent snapshots)
 *   DIR/targets/         target files (SHA256.NAME and SHA512.NAME in the target's
 *                        directory with consistent snapshots, else NAME)
 *   DIR/staged/          the newest version of root, targets and every tier, signed or
 *                        waiting for signatures; `publish` copies complete ones out
 *
 * Every function here works offline on DIR, signs only with keys that the
 * role being signed lists (VOUCH_E_DENIED otherwise, naming the expected key
 * ids), appends every signature to the key usage log (keylog.h) and never
 * writes private key material anywhere. Human-readable notes about what to
 * do next (e.g. which role still needs which signatures) are appended to
 * `notes` when it is not NULL. */
#ifndef VOUCH_REPO_H
#define VOUCH_REPO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vouch/buf.h"
#include "vouch/error.h"
#include "vouch/key.h"

/* Default `paths` of a tier cover NAME/x down to this many levels below NAME/. */
#define VOUCH_REPO_TIER_DEPTH 4
#define VOUCH_REPO_MAX_TIER_NAME 64
#define VOUCH_REPO_MAX_TARGET_NAME 1024
#define VOUCH_REPO_MAX_PATTERNS 64
#define VOUCH_REPO_MAX_KEYS 64
/* Largest metadata file this module reads back from DIR. */
#define VOUCH_REPO_MAX_METADATA (64u * 1024 * 1024)
/* Stale-warning fraction: warn when less than 1/5 of a period remains. */
#define VOUCH_REPO_WARN_DIVISOR 5

/* Validity periods in seconds. */
struct vouch_repo_expiry {
	int64_t root, targets, snapshot, timestamp, tier;
};

/* Defaults: root 365d, targets 90d, snapshot 7d, timestamp 1d, tier 90d. */
void vouch_repo_expiry_default(struct vouch_repo_expiry *e);

/* Parses "root=365d,targets=90d,..." (units s, m, h, d, w; keys root,
 * targets, snapshot, timestamp, tier) over the values already in e. */
enum vouch_rc vouch_repo_expiry_parse(const char *spec, struct vouch_repo_expiry *e,
				      struct vouch_err *err) VOUCH_WUR;

/* Settings shared by every operation. */
struct vouch_repo_opts {
	const char *keylog_path; /* NULL: vouch_keylog_path() default */
	time_t now;		 /* 0: time(NULL) */
};

/* A list of borrowed keys. */
struct vouch_repo_keys {
	struct vouch_key *const *v;
	size_t n;
};

struct vouch_repo_init_params {
	/* Root keys: private ones sign root v1, public ones are listed and
	 * sign later with vouch_repo_sign(). */
	struct vouch_repo_keys root;
	unsigned root_threshold; /* 0: 1 */
	struct vouch_repo_keys targets, snapshot, timestamp;
	struct vouch_repo_expiry expiry;
	int consistent_snapshot;
};

/* Creates DIR (must be missing or empty) with root v1, targets v1, and,
 * when the root threshold is met, publishes snapshot and timestamp v1. */
enum vouch_rc vouch_repo_init(const char *dir, const struct vouch_repo_init_params *p,
			      const struct vouch_repo_opts *o, struct vouch_buf *notes,
			      struct vouch_err *err) VOUCH_WUR;

/* Adds a tier: a terminating delegation from targets named `name` to the
 * tier's public keys with threshold (0: 1) and path patterns (NULL/0: the
 * default NAME/ *, NAME/ * / *, ... down to VOUCH_REPO_TIER_DEPTH). Every
 * pattern must start with "NAME/". Signs targets with `signers`. */
enum vouch_rc vouch_repo_tier_add(const char *dir, const char *name,
				  const struct vouch_repo_keys *tier_keys, unsigned threshold,
				  const char *const *paths, size_t npaths,
				  const struct vouch_repo_keys *signers,
				  const struct vouch_repo_opts *o, struct vouch_buf *notes,
				  struct vouch_err *err) VOUCH_WUR;

struct vouch_repo_target_info {
	const char *version;	  /* NULL: none */
	int64_t security_version; /* < 0: 0 */
	const char *const *hardware;
	size_t nhardware;
	/* Extra members of custom.vouch (format, delta_base, encryption...);
	 * borrowed, may be NULL. "tier" is always set by vouch. */
	const json_t *custom;
};

/* Adds (or replaces) target `name` (TIER/PATH) with the contents of file,
 * copied under DIR/targets/, in the tier's metadata signed by signers. The
 * name must be covered by the tier's patterns (VOUCH_E_DENIED). Does not
 * publish. */
enum vouch_rc vouch_repo_target_add(const char *dir, const char *file, const char *name,
				    const struct vouch_repo_target_info *info,
				    const struct vouch_repo_keys *signers,
				    const struct vouch_repo_opts *o, struct vouch_buf *notes,
				    struct vouch_err *err) VOUCH_WUR;

struct vouch_repo_target_item {
	const char *file; /* contents */
	const char *name; /* TIER/PATH */
};

/* vouch_repo_target_add() for many files at once (one new version and one
 * signature per tier touched): every name is checked against its tier and
 * every signer must be a key of every tier touched, before anything is
 * copied. info applies to all items. */
enum vouch_rc vouch_repo_target_add_many(const char *dir,
					 const struct vouch_repo_target_item *items, size_t n,
					 const struct vouch_repo_target_info *info,
					 const struct vouch_repo_keys *signers,
					 const struct vouch_repo_opts *o, struct vouch_buf *notes,
					 struct vouch_err *err) VOUCH_WUR;

/* Removes target `name` from its tier's metadata (the file stays under
 * targets/ for clients of older snapshots). Does not publish. */
enum vouch_rc vouch_repo_target_remove(const char *dir, const char *name,
				       const struct vouch_repo_keys *signers,
				       const struct vouch_repo_opts *o, struct vouch_buf *notes,
				       struct vouch_err *err) VOUCH_WUR;

/* Checks every staged role against its threshold (refusing with the list of
 * what is missing), then writes the staged root versions, targets and tiers
 * under metadata/ with a new snapshot and timestamp. */
enum vouch_rc vouch_repo_publish(const char *dir, const struct vouch_repo_keys *snapshot_keys,
				 const struct vouch_repo_keys *timestamp_keys,
				 const struct vouch_repo_opts *o, struct vouch_buf *notes,
				 struct vouch_err *err) VOUCH_WUR;

/* Writes a new timestamp version over the published snapshot (the online
 * refresh a server runs well within the timestamp period). */
enum vouch_rc vouch_repo_timestamp(const char *dir, const struct vouch_repo_keys *timestamp_keys,
				   const struct vouch_repo_opts *o, struct vouch_buf *notes,
				   struct vouch_err *err) VOUCH_WUR;

struct vouch_repo_rotation {
	const char *role; /* root, targets, snapshot, timestamp or a tier */
	struct vouch_repo_keys add;
	const char *const *remove; /* key ids (or unique prefixes of >= 8 digits) */
	size_t nremove;
	unsigned threshold; /* 0: keep */
};

/* Changes a role's keys or threshold. For root, targets, snapshot and
 * timestamp this stages root N+1 (signed by the signers that the old or the
 * new root role lists); for a tier, a new targets version. Metadata whose
 * signatures no longer meet its threshold (a revoked key) gets a new
 * version signed by the signers allowed to; notes say what else to run. */
enum vouch_rc vouch_repo_rotate(const char *dir, const struct vouch_repo_rotation *r,
				const struct vouch_repo_keys *signers,
				const struct vouch_repo_opts *o, struct vouch_buf *notes,
				struct vouch_err *err) VOUCH_WUR;

/* Adds signatures to the staged version of role (root, targets or a tier).
 * With renew, first makes a new version with a fresh expiry (to extend a
 * role before it expires). Refuses to sign a published version again
 * without renew. */
enum vouch_rc vouch_repo_sign(const char *dir, const char *role,
			      const struct vouch_repo_keys *signers, int renew,
			      const struct vouch_repo_opts *o, struct vouch_buf *notes,
			      struct vouch_err *err) VOUCH_WUR;

/* The repository's state as a JSON object (roles with keys, thresholds,
 * valid signatures, staged and published versions, expiry; warnings).
 * New reference. */
enum vouch_rc vouch_repo_status(const char *dir, const struct vouch_repo_opts *o, json_t **out,
				struct vouch_err *err) VOUCH_WUR;

/* 1 when name is a valid tier (delegated role) name: [a-z0-9][a-z0-9_-]*,
 * at most VOUCH_REPO_MAX_TIER_NAME bytes, not a top-level role name. */
int vouch_repo_tier_name_ok(const char *name);

/* VOUCH_OK when name is a safe target path: relative, '/'-separated, no
 * empty, "." or ".." component, printable ASCII without '\\', '%', '?' or
 * '#' (other TUF clients put names into URLs unencoded), at most
 * VOUCH_REPO_MAX_TARGET_NAME bytes and NAME_MAX per component. */
enum vouch_rc vouch_repo_target_name_check(const char *name, struct vouch_err *err) VOUCH_WUR;

#endif
