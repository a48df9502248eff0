/* Internal state of the TUF client, shared by client.c (workflow 5.1-5.6.6,
 * target download 5.7) and delegation.c (search 5.6.7). */
#ifndef VOUCH_TUF_CLIENT_INTERNAL_H
#define VOUCH_TUF_CLIENT_INTERNAL_H

#include <time.h>

#include "vouch/tuf.h"

/* A trusted targets role (top-level or delegated) held in memory. */
struct tuf_role {
	char *name;
	char *delegator; /* role whose keys verified it ("root" for targets) */
	json_t *env;	 /* whole envelope; `signed` borrowed from it */
};

struct vouch_tuf_client {
	char *dir;
	char *metadata_url; /* without trailing '/' */
	char *target_url;   /* without trailing '/', may be NULL */
	struct vouch_tuf_limits limits;
	struct vouch_fetch_opts fetch;
	vouch_fetch_progress_cb progress; /* target downloads; may be NULL */
	void *progress_ctx;
	char *ca_file;
	time_t now;			     /* spec 5.1: fixed update start time */
	json_t *root, *timestamp, *snapshot; /* envelopes */
	int consistent;			     /* spec 5.3.12 */
	int have_targets;		     /* top-level targets trusted */
	struct tuf_role **roles;	     /* roles[0] is "targets" once trusted */
	size_t nroles, caproles;
};

static inline const json_t *tuf_signed(const json_t *env)
{
	return json_object_get(env, "signed");
}

/* Returns the trusted targets role `name` as delegated by `delegator`
 * (a trusted targets role), loading it (local copy or download, then the
 * checks of spec 5.6.1-5.6.6 applied to a delegated role) if needed. */
enum vouch_rc tuf_client_load_role(struct vouch_tuf_client *c, const char *name,
				   const struct tuf_role *delegator, const struct tuf_role **out,
				   struct vouch_err *err) VOUCH_WUR;

/* Finds the trusted top-level targets role (NULL before a refresh). */
const struct tuf_role *tuf_client_top_targets(const struct vouch_tuf_client *c);

#endif
