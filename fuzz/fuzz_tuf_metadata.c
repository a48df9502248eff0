/* Fuzzes the TUF metadata parsers (vouch_tuf_parse for root, timestamp,
 * snapshot and targets) and what the client does with a parsed document
 * before and after trusting it: role lookup and threshold counting (root as
 * its own delegator, targets delegations), expiry, path patterns and hash
 * prefixes over the names it holds, TAP 15 bins (succinct_roles).
 *
 * Input: first byte selects the type (root, timestamp, snapshot, targets),
 * the rest is the metadata file. Properties: a failure returns no document
 * and one of VOUCH_E_FORMAT / VOUCH_E_LIMIT / VOUCH_E_UNSUPPORTED with a
 * message; a document that parses re-parses from its canonical form to an
 * equal document; threshold counting never finds more valid signatures than
 * there are; a name a delegation covers is never pruned by the prefix test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vouch/buf.h"
#include "vouch/json.h"
#include "vouch/tuf.h"

#define FUZZ_MAX (64u * 1024)

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_tuf_metadata: property violated: %s\n", what);
		abort();
	}
}

static void exercise_paths(const json_t *signed_body)
{
	const json_t *roles = json_object_get(json_object_get(signed_body, "delegations"), "roles");
	const json_t *targets = json_object_get(signed_body, "targets");
	for (size_t i = 0; i < json_array_size(roles) && i < 8; i++) {
		const json_t *d = json_array_get(roles, i);
		const char *name;
		json_t *t;
		size_t n = 0;
		json_object_foreach ((json_t *)(uintptr_t)targets, name, t) {
			if (n++ > 16)
				break;
			int covers = vouch_tuf_role_covers(d, name);
			/* A name that is covered could be covered under any of its
			 * prefixes. */
			if (covers) {
				size_t len = strlen(name);
				char *pre = strndup(name, len / 2);
				check(pre != NULL, "strndup");
				check(vouch_tuf_role_may_cover_prefix(d, pre),
				      "covered name, prefix said impossible");
				check(vouch_tuf_role_may_cover_prefix(d, name),
				      "covered name, itself said impossible");
				free(pre);
			}
		}
		struct vouch_err err = {0};
		const json_t *keyids = NULL, *keys = NULL, *deleg = NULL;
		int64_t thr = 0;
		const char *rname = json_string_value(json_object_get(d, "name"));
		if (rname != NULL)
			check(vouch_tuf_role_lookup(signed_body, rname, &keyids, &thr, &keys,
						    &deleg, &err) == VOUCH_OK,
			      "delegated role not found by its own name");
	}
	/* Patterns against each other: must not crash, '*' never matches '/'. */
	const json_t *paths = json_object_get(json_array_get(roles, 0), "paths");
	for (size_t i = 0; i < json_array_size(paths) && i < 8; i++) {
		const char *p = json_string_value(json_array_get(paths, i));
		if (p != NULL && strchr(p, '/') == NULL)
			check(!vouch_tuf_path_match(p, "a/b") || strchr(p, '[') != NULL,
			      "pattern without '/' matched a path with one");
	}
}

/* TAP 15 bins of a parsed body: every name has a bin that the body's own
 * role lookup accepts, the bin's number formats back to the same name, and
 * the number past the last bin and a name with one digit too many are
 * refused. */
static void exercise_succinct(const json_t *signed_body)
{
	const json_t *sr =
	    json_object_get(json_object_get(signed_body, "delegations"), "succinct_roles");
	if (sr == NULL)
		return;
	uint64_t nbins = vouch_tuf_succinct_bins(sr);
	check(nbins >= 2 && nbins <= ((uint64_t)1 << 32), "bin count out of range");
	char bin[VOUCH_TUF_MAX_NAME + 1], at[VOUCH_TUF_MAX_NAME + 1];
	check(!vouch_tuf_succinct_role_at(sr, nbins, at, sizeof(at)), "bin past the last named");
	check(vouch_tuf_succinct_role_at(sr, nbins - 1, at, sizeof(at)), "last bin not named");
	check(vouch_tuf_role_lookup(signed_body, at, NULL, NULL, NULL, NULL, NULL) == VOUCH_OK,
	      "last bin not delegated");
	const json_t *targets = json_object_get(signed_body, "targets");
	const char *name;
	json_t *t;
	size_t n = 0;
	json_object_foreach ((json_t *)(uintptr_t)targets, name, t) {
		if (n++ > 16)
			break;
		check(vouch_tuf_succinct_role_for(sr, name, bin, sizeof(bin)), "no bin for a name");
		check(vouch_tuf_role_lookup(signed_body, bin, NULL, NULL, NULL, NULL, NULL) ==
			  VOUCH_OK,
		      "computed bin not delegated");
		char *hex = strrchr(bin, '-');
		check(hex != NULL, "bin name without '-'");
		uint64_t idx = strtoull(hex + 1, NULL, 16);
		check(idx < nbins, "computed bin out of range");
		check(vouch_tuf_succinct_role_at(sr, idx, at, sizeof(at)) && strcmp(at, bin) == 0,
		      "bin number names another bin");
		/* One more digit is no bin. */
		size_t len = strlen(bin);
		if (len + 1 < sizeof(bin)) {
			memmove(hex + 2, hex + 1, strlen(hex + 1) + 1);
			hex[1] = '0';
			check(vouch_tuf_role_lookup(signed_body, bin, NULL, NULL, NULL, NULL,
						    NULL) == VOUCH_E_NOTFOUND,
			      "bin name with an extra digit delegated");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX)
		return -1;
	enum vouch_tuf_type type = (enum vouch_tuf_type)(1 + data[0] % 4);
	struct vouch_err err = {0};
	json_t *env = NULL;
	enum vouch_rc rc = vouch_tuf_parse(data + 1, size - 1, FUZZ_MAX, type, &env, &err);
	if (rc != VOUCH_OK) {
		check(env == NULL, "document returned on failure");
		check(rc == VOUCH_E_FORMAT || rc == VOUCH_E_LIMIT || rc == VOUCH_E_UNSUPPORTED,
		      "unexpected error code");
		check(err.msg[0] != '\0', "error without a message");
		return 0;
	}
	const json_t *s = json_object_get(env, "signed");
	check(vouch_tuf_version(s) >= 1, "version below 1 accepted");
	/* Canonical form re-parses to the same document (unless it holds
	 * control characters: OLPC canonical JSON writes them raw, which is
	 * not JSON). */
	struct vouch_buf canon = {0};
	json_t *again = NULL;
	check(vouch_canon_encode(env, &canon, &err) == VOUCH_OK, "canonical encoding");
	int raw_ctl = 0;
	for (size_t i = 0; i < canon.len; i++)
		raw_ctl |= canon.data[i] < 0x20;
	if (!raw_ctl) {
		check(vouch_tuf_parse(canon.data, canon.len, 4 * FUZZ_MAX, type, &again, &err) ==
			  VOUCH_OK,
		      "canonical form does not parse");
		check(json_equal(env, again), "canonical form parses to another document");
		json_decref(again);
	}
	vouch_buf_free(&canon);
	/* Expiry is decidable once the body is checked. */
	rc = vouch_tuf_check_expiry("x", s, 0, &err);
	check(rc == VOUCH_OK || rc == VOUCH_E_EXPIRED, "expiry undecidable");
	/* Threshold counting: a verdict, never more valid keys than signatures. */
	if (type == VOUCH_TUF_ROOT) {
		unsigned n = 0;
		rc = vouch_tuf_verify_role(s, "root", env, &n, &err);
		check(rc == VOUCH_OK || rc == VOUCH_E_VERIFY, "root verification error code");
		check(n <= json_array_size(json_object_get(env, "signatures")),
		      "more valid signatures than signatures");
	}
	if (type == VOUCH_TUF_TARGETS) {
		exercise_paths(s);
		exercise_succinct(s);
	}
	json_decref(env);
	return 0;
}
