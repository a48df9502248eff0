/* vouch — The Update Framework (TUF 1.0.x): metadata, signatures,
 * delegations, and the client workflow of the specification's section 5
 * ("Detailed client workflow", 5.1-5.7).
 *
 * How to use the metadata layer (release side, `vouch repo`):
 *
 *   Metadata is handled as jansson json_t, so unknown fields are kept and
 *   stay covered by signatures. An envelope is {"signatures": [...],
 *   "signed": {...}}; signatures are made over vouch_canon_encode(signed).
 *
 *   - Build a `signed` object, then vouch_tuf_sign(signed, keys, n, &env)
 *     makes a new envelope; vouch_tuf_add_signature(env, key) adds one more
 *     (replacing an earlier signature by the same key id): threshold signing
 *     on several machines.
 *   - vouch_tuf_check_signed(type, signed) validates a signed body of that
 *     type (_type, spec_version 1.x, version >= 1, expires format, and the
 *     type's own fields: root roles/keys, meta entries, targets, delegations).
 *     vouch_tuf_parse(bytes) parses JSON and checks the envelope shape and
 *     the signed body of the expected type in one go.
 *   - vouch_tuf_verify_role(delegator_signed, role, env, &nvalid) checks a
 *     role's threshold: delegator_signed is root's `signed` for root,
 *     timestamp, snapshot and targets, or the delegating targets role's
 *     `signed` for a delegated role. Lower level:
 *     vouch_tuf_verify_threshold() with explicit key ids, threshold and key
 *     table. Each authorised key id counts once; signatures by unknown key
 *     ids or unsupported key types are ignored.
 *   - vouch_tuf_time_parse()/vouch_tuf_time_format() for `expires`
 *     ("YYYY-MM-DDTHH:MM:SSZ"); vouch_tuf_check_expiry().
 *   - vouch_tuf_path_match(pattern, path): the `paths` rule (shell-style,
 *     '*' and '?' never match '/'); vouch_tuf_role_covers(role, path) for a
 *     delegated role object with `paths` or `path_hash_prefixes`.
 *
 * Client side: struct vouch_tuf_client (below) runs the whole workflow;
 * `vouch client` and the device agent drive it.
 */
#ifndef VOUCH_TUF_H
#define VOUCH_TUF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vouch/error.h"
#include "vouch/fetch.h"
#include "vouch/hash.h"
#include "vouch/key.h"

/* The spec version we write, and the major version we read ("1.x.y"). */
#define VOUCH_TUF_SPEC_VERSION "1.0.34"

/* Default size limits of metadata files (configurable per client). */
#define VOUCH_TUF_DEFAULT_ROOT_MAX (512u * 1024)
#define VOUCH_TUF_DEFAULT_TIMESTAMP_MAX (16u * 1024)
#define VOUCH_TUF_DEFAULT_SNAPSHOT_MAX (2u * 1024 * 1024)
#define VOUCH_TUF_DEFAULT_TARGETS_MAX (16u * 1024 * 1024)
/* Most root versions walked in one refresh (spec 5.3.3's Y). */
#define VOUCH_TUF_DEFAULT_MAX_ROOT_ROTATIONS 32
/* Most roles visited by one delegation search (spec 5.6.7.1). */
#define VOUCH_TUF_DEFAULT_MAX_DELEGATIONS 32
/* Limits on fields of untrusted metadata. */
#define VOUCH_TUF_MAX_NAME 1024	 /* role names and target paths, bytes */
#define VOUCH_TUF_EXPIRES_LEN 20 /* "YYYY-MM-DDTHH:MM:SSZ" */

enum vouch_tuf_type {
	VOUCH_TUF_ROOT = 1,
	VOUCH_TUF_TIMESTAMP = 2,
	VOUCH_TUF_SNAPSHOT = 3,
	VOUCH_TUF_TARGETS = 4, /* top-level and delegated targets */
};

/* "root", "timestamp", "snapshot", "targets". */
const char *vouch_tuf_type_name(enum vouch_tuf_type type);

/* ---- time ---------------------------------------------------------------- */

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (UTC, exactly that form) into *out.
 * VOUCH_E_FORMAT otherwise. */
enum vouch_rc vouch_tuf_time_parse(const char *s, time_t *out, struct vouch_err *err) VOUCH_WUR;
/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void vouch_tuf_time_format(time_t t, char buf[VOUCH_TUF_EXPIRES_LEN + 1]);

/* VOUCH_E_EXPIRED "ROLE: expired at EXPIRES (freeze attack?)" unless the
 * signed body's `expires` is later than now (spec: "MUST be higher than the
 * fixed update start time"). VOUCH_E_FORMAT if expires is malformed. */
enum vouch_rc vouch_tuf_check_expiry(const char *role, const json_t *signed_body, time_t now,
				     struct vouch_err *err) VOUCH_WUR;

/* ---- parsing and validation ---------------------------------------------- */

/* Validates a signed body of the given type: `_type`, `spec_version` ("1.x"
 * or "1.x.y": major must be 1), `version` (integer >= 1), `expires`, and:
 *   root:      consistent_snapshot (bool), keys {keyid: {keytype, scheme,
 *              keyval}}, roles {root, timestamp, snapshot, targets} each with
 *              keyids (unique strings) and threshold >= 1;
 *   timestamp: meta {"snapshot.json": META};
 *   snapshot:  meta {"NAME.json": META, ...} with targets.json present;
 *   targets:   targets {PATH: {length, hashes, custom?}}, optional
 *              delegations {keys, roles: [{name, keyids, threshold,
 *              terminating, paths | path_hash_prefixes}]} (names unique);
 * where META is {version >= 1, length? >= 0, hashes? {alg: hex}}. Unknown
 * fields are allowed and left alone. VOUCH_E_FORMAT names the field. */
enum vouch_rc vouch_tuf_check_signed(enum vouch_tuf_type type, const json_t *signed_body,
				     struct vouch_err *err) VOUCH_WUR;

/* Parses metadata bytes (at most max bytes, else VOUCH_E_LIMIT), checks the
 * envelope ({signatures: [{keyid, sig}], signed: {...}}; other top-level
 * fields are allowed, as python-tuf does) and vouch_tuf_check_signed(type). *out is a new
 * reference to the whole envelope. */
enum vouch_rc vouch_tuf_parse(const void *data, size_t len, size_t max, enum vouch_tuf_type type,
			      json_t **out, struct vouch_err *err) VOUCH_WUR;

/* The `version` of a checked signed body (>= 1). */
int64_t vouch_tuf_version(const json_t *signed_body);

/* ---- signing ------------------------------------------------------------- */

/* New envelope {"signatures": [{keyid, sig (hex)}...], "signed": signed_body}
 * signed by each of keys[0..n) over the canonical JSON of signed_body. The
 * envelope takes its own reference to signed_body. *out: new reference. */
enum vouch_rc vouch_tuf_sign(json_t *signed_body, struct vouch_key *const *keys, size_t n,
			     json_t **out, struct vouch_err *err) VOUCH_WUR;

/* Adds key's signature over envelope's `signed` to the envelope, replacing
 * any earlier signature with the same key id. */
enum vouch_rc vouch_tuf_add_signature(json_t *envelope, const struct vouch_key *key,
				      struct vouch_err *err) VOUCH_WUR;

/* ---- verification -------------------------------------------------------- */

/* Counts valid signatures over canonical(signed_body) in `signatures` by
 * DISTINCT key ids listed in keyids (array of strings) whose key is in
 * keys (object keyid -> TUF key). Signatures with other key ids, keys of an
 * unsupported type, or bad signatures are ignored. Only the first signature
 * of each key id is tried (at most one verification per listed key,
 * however many signatures the file carries), and one public key listed
 * under two key ids counts once. *nvalid (may be NULL)
 * gets the count. VOUCH_E_VERIFY "ROLE: signature threshold N not met (M
 * valid)" when fewer than threshold. */
enum vouch_rc vouch_tuf_verify_threshold(const char *role, const json_t *signed_body,
					 const json_t *signatures, const json_t *keyids,
					 int64_t threshold, const json_t *keys, unsigned *nvalid,
					 struct vouch_err *err) VOUCH_WUR;

/* Finds what delegator says about role: in a root body, roles[role] and
 * root's keys (role must be one of the four top-level roles); in a targets
 * body, the entry of delegations.roles named role (or, with TAP 15
 * succinct_roles, the succinct_roles object when role is one of its bins)
 * and delegations.keys.
 * Outputs borrow from delegator (each may be NULL if not wanted);
 * *delegation is the role object itself (the root role entry, or the
 * delegated role entry with paths/terminating). VOUCH_E_NOTFOUND if the
 * delegator does not delegate to role. */
enum vouch_rc vouch_tuf_role_lookup(const json_t *delegator, const char *role,
				    const json_t **keyids, int64_t *threshold, const json_t **keys,
				    const json_t **delegation, struct vouch_err *err) VOUCH_WUR;

/* vouch_tuf_role_lookup() + vouch_tuf_verify_threshold() on envelope. */
enum vouch_rc vouch_tuf_verify_role(const json_t *delegator, const char *role,
				    const json_t *envelope, unsigned *nvalid,
				    struct vouch_err *err) VOUCH_WUR;

/* ---- paths and hashes ---------------------------------------------------- */

/* 1 if path matches pattern: '*' matches any run of characters other than
 * '/', '?' one character other than '/', everything else itself (no
 * brackets, no escapes). 0 otherwise. */
int vouch_tuf_path_match(const char *pattern, const char *path);

/* 1 if the delegated role object (an entry of delegations.roles) is trusted
 * for path: one of its `paths` matches, or the hex sha256 of path starts
 * with one of its `path_hash_prefixes`. 0 otherwise (and when it has
 * neither). */
int vouch_tuf_role_covers(const json_t *delegation, const char *path);

/* 1 if some path starting with prefix could be covered by the delegated
 * role (used to prune enumerations; path_hash_prefixes always may). */
int vouch_tuf_role_may_cover_prefix(const json_t *delegation, const char *prefix);

/* TAP 15 succinct_roles (a delegations.succinct_roles object, checked by
 * the parser): the bin role name for path (sha256 of path, its first
 * bit_length bits), the name of bin number `bin`, and the number of bins.
 * The name functions return 0 if out is too small or the object is bad. */
int vouch_tuf_succinct_role_for(const json_t *succinct, const char *path, char *out, size_t outlen);
int vouch_tuf_succinct_role_at(const json_t *succinct, uint64_t bin, char *out, size_t outlen);
uint64_t vouch_tuf_succinct_bins(const json_t *succinct);

/* Checks a file's digests against a TUF hashes object {alg: hex}: every
 * listed sha256/sha512 must match, other algorithms are ignored, and at
 * least one supported algorithm must be listed (else VOUCH_E_UNSUPPORTED).
 * Mismatch: VOUCH_E_VERIFY "WHAT: sha256 mismatch". digests must have been
 * computed with vouch_tuf_hash_algs(hashes). */
enum vouch_rc vouch_tuf_check_hashes(const char *what, const json_t *hashes,
				     const struct vouch_digests *digests,
				     struct vouch_err *err) VOUCH_WUR;
/* VOUCH_HASH_* mask of the supported algorithms a hashes object lists. */
unsigned vouch_tuf_hash_algs(const json_t *hashes);

/* ---- client (spec section 5) --------------------------------------------- */

struct vouch_tuf_limits {
	size_t root_max;	     /* each N.root.json; spec 5.3.3's W */
	size_t timestamp_max;	     /* spec 5.4.1's X */
	size_t snapshot_max;	     /* when timestamp gives no length */
	size_t targets_max;	     /* top-level and delegated, when no length */
	unsigned max_root_rotations; /* root versions walked per refresh */
	unsigned max_delegations;    /* roles visited per search */
};

struct vouch_tuf_client_config {
	const char *metadata_dir;    /* trusted metadata; holds root.json */
	const char *metadata_url;    /* base URL of the metadata ("/" added) */
	const char *target_base_url; /* base URL of targets; NULL: no downloads */
	struct vouch_tuf_limits limits;
	struct vouch_fetch_opts fetch;
};

/* Defaults: the VOUCH_TUF_DEFAULT_* limits, vouch_fetch_opts_default(),
 * NULL directories and URLs. */
void vouch_tuf_client_config_default(struct vouch_tuf_client_config *cfg);

struct vouch_tuf_client;

/* Installs a trusted root (out-of-band, e.g. `vouch client init`): parses
 * it, checks that it is signed by a threshold of its own root keys, and
 * writes it byte for byte as metadata_dir/root.json (creating the
 * directory). Touches no network. Does not check expiry (spec 5.2). */
enum vouch_rc vouch_tuf_client_install_root(const char *metadata_dir, const void *data, size_t len,
					    size_t max, struct vouch_err *err) VOUCH_WUR;

/* Opens a client on cfg (strings are copied). Loads and checks the trusted
 * root.json (spec 5.2); touches no network. A client is not thread-safe:
 * use one per thread; refreshes of one metadata directory must be
 * serialised by the caller (each file is replaced atomically, but two
 * interleaved refreshes could each persist what the other had superseded). */
enum vouch_rc vouch_tuf_client_new(const struct vouch_tuf_client_config *cfg,
				   struct vouch_tuf_client **out, struct vouch_err *err) VOUCH_WUR;
void vouch_tuf_client_free(struct vouch_tuf_client *c);

/* Runs spec 5.1-5.6.6: fixes the start time (time(NULL)), walks the root
 * chain, updates timestamp, snapshot and top-level targets, persisting each
 * (unversioned names, bytes as served, atomically). Delegated roles are
 * loaded on demand by the lookups below. Can be called again later. */
enum vouch_rc vouch_tuf_client_refresh(struct vouch_tuf_client *c, struct vouch_err *err) VOUCH_WUR;

/* Uses the trusted metadata on disk without network: loads and verifies
 * root, timestamp, snapshot and targets as a refresh would trust them
 * (signatures, versions consistent with each other, expiry at now). For
 * lookups on a device that refreshed earlier. Delegated roles must then be
 * on disk too. */
enum vouch_rc vouch_tuf_client_load_trusted(struct vouch_tuf_client *c,
					    struct vouch_err *err) VOUCH_WUR;

/* What the repository says about one target. */
struct vouch_tuf_target {
	char *name;	 /* target path, e.g. "os/stable/image-1.2.bin" */
	uint64_t length; /* signed length in bytes */
	json_t *hashes;	 /* {alg: hex}, own reference */
	json_t *custom;	 /* `custom` object or NULL, own reference */
	char *role;	 /* role that lists it: "targets" or a tier name */
	char **chain;	 /* delegation chain "targets", ..., role */
	size_t chain_len;
};
void vouch_tuf_target_free(struct vouch_tuf_target *t);

/* Spec 5.6.7: pre-order depth-first search of the delegation graph for
 * name, loading (fetching and verifying) delegated roles as needed. A role
 * is only trusted for names matched by every delegation on its chain.
 * VOUCH_E_NOTFOUND when no trusted role lists name. *out: caller frees
 * with vouch_tuf_target_free(). Needs a refresh (or load_trusted) first. */
enum vouch_rc vouch_tuf_client_find_target(struct vouch_tuf_client *c, const char *name,
					   struct vouch_tuf_target **out,
					   struct vouch_err *err) VOUCH_WUR;

/* Called once per target; t is borrowed (valid during the call). Return
 * non-zero to stop the enumeration (vouch_tuf_client_list_targets then
 * returns VOUCH_OK). */
typedef int (*vouch_tuf_target_cb)(void *ctx, const struct vouch_tuf_target *t);

/* Enumerates every target whose name starts with prefix ("" = all) that a
 * find_target() of that name would return, exactly as it would return it
 * (same role, chain, length, hashes): e.g. the channel "os/stable/". Each
 * name once, in no particular order. Roles that cannot cover the prefix are
 * not fetched. */
enum vouch_rc vouch_tuf_client_list_targets(struct vouch_tuf_client *c, const char *prefix,
					    vouch_tuf_target_cb cb, void *ctx,
					    struct vouch_err *err) VOUCH_WUR;

/* URL of a target on the target base URL: the path percent-encoded
 * (keeping '/'), and with consistent snapshots HASH.BASENAME where HASH is
 * the first hash listed (as python-tuf and tuf-js do). *out malloc'd. */
enum vouch_rc vouch_tuf_client_target_url(struct vouch_tuf_client *c,
					  const struct vouch_tuf_target *t, char **out,
					  struct vouch_err *err) VOUCH_WUR;

/* 1 if path exists with t's length and every listed hash; 0 otherwise. */
int vouch_tuf_target_file_ok(const struct vouch_tuf_target *t, const char *path);

/* Progress of the target downloads that follow (NULL: none): called with
 * ctx, the bytes received so far and the expected total (0 if unknown),
 * from the downloading thread. */
void vouch_tuf_client_set_progress(struct vouch_tuf_client *c, vouch_fetch_progress_cb progress,
				   void *ctx);

/* Spec 5.7: downloads t (at most t->length bytes) to dest, verifying
 * length and every hash before the file appears at dest (written to a
 * temporary file beside it, fsynced, renamed). dest's directory must
 * exist. */
enum vouch_rc vouch_tuf_client_download_target(struct vouch_tuf_client *c,
					       const struct vouch_tuf_target *t, const char *dest,
					       struct vouch_err *err) VOUCH_WUR;

/* Trusted state after a refresh, for status output: versions of root,
 * timestamp, snapshot, targets (0 when not loaded) and the root's
 * consistent_snapshot flag. Bodies borrow from the client (NULL if absent). */
int64_t vouch_tuf_client_version(const struct vouch_tuf_client *c, enum vouch_tuf_type type);
const json_t *vouch_tuf_client_signed(const struct vouch_tuf_client *c, enum vouch_tuf_type type);

#endif
