/* vouch-agent — the device's durable state (DATA-DIR/state.json).
 *
 * One JSON document, rewritten whole and atomically (temporary file, fsync,
 * rename, fsync of the directory) on every change, so a power cut leaves
 * either the old or the new state. Per tier it holds:
 *   floor      anti-rollback floor (only rises)
 *   running    the committed release (name, version, security_version,
 *              sha256, length, slot or dir)
 *   pending    a release installed and on trial, not yet committed
 *   previous   the release committed before the running one
 *   bad        releases that failed on this device, with the reason
 *   bad_dropped_version  the newest version dropped from a full bad list
 *   last_check the last decision and every refusal with its reason
 * Releases are JSON objects; the accessors below borrow references from the
 * document unless they say otherwise. */
#ifndef VOUCH_AGENT_STATE_H
#define VOUCH_AGENT_STATE_H

#include <jansson.h>
#include <stdint.h>

#include "vouch/error.h"

#define AGENT_STATE_MAX_SIZE (1024u * 1024)
#define AGENT_STATE_MAX_BAD 256
/* Refusals kept in a tier's last_check (all are printed). */
#define AGENT_STATE_MAX_REFUSALS 32

struct agent_state {
	char *path;
	json_t *doc;
};

/* Loads DATA-DIR/state.json (an absent file is an empty state). A file
 * that does not parse or has the wrong shape is VOUCH_E_FORMAT. On success
 * the caller frees st with agent_state_free(). */
enum vouch_rc agent_state_load(const char *data_dir, struct agent_state *st,
			       struct vouch_err *err) VOUCH_WUR;
/* Writes the whole state atomically and durably. */
enum vouch_rc agent_state_save(struct agent_state *st, struct vouch_err *err) VOUCH_WUR;
void agent_state_free(struct agent_state *st);

/* The tier's object, created empty (floor 0) if absent; NULL only on
 * allocation failure. */
json_t *agent_state_tier(struct agent_state *st, const char *tier);
int64_t agent_state_floor(json_t *tier);
/* Raises the floor to v; never lowers it (a lower v is a no-op). */
enum vouch_rc agent_state_raise_floor(json_t *tier, int64_t v, struct vouch_err *err) VOUCH_WUR;

/* "running", "pending", "previous": the release or NULL. */
json_t *agent_state_release(json_t *tier, const char *which);
/* Sets (stealing a reference to rel) or, with rel NULL, removes it. */
enum vouch_rc agent_state_set_release(json_t *tier, const char *which, json_t *rel,
				      struct vouch_err *err) VOUCH_WUR;

/* The reason the release with this target_hash ("sha256:HEX") was marked
 * bad on this device, or NULL. */
const char *agent_state_bad_reason(json_t *tier, const char *target_hash);
/* Appends rel (copied) with reason and the time to the bad list. Past
 * AGENT_STATE_MAX_BAD the oldest entries are dropped, and the tier's
 * "bad_dropped_version" becomes the highest version ever dropped. */
enum vouch_rc agent_state_mark_bad(json_t *tier, const json_t *rel, const char *reason,
				   struct vouch_err *err) VOUCH_WUR;
/* Fail closed for the dropped entries: bad_dropped_version if version is
 * not strictly newer than it (or is NULL), else NULL. */
const char *agent_state_bad_dropped(json_t *tier, const char *version);

/* Accessors of a release object (empty string / 0 when absent). */
const char *agent_rel_str(const json_t *rel, const char *key);
int64_t agent_rel_int(const json_t *rel, const char *key);

#endif
