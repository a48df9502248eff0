/* Delegation search (spec 5.6.7): pre-order depth-first over the targets
 * delegation graph, each role visited once, at most max_delegations roles,
 * a terminating delegation ending the search, and a child role only
 * reached through delegations whose patterns match the target (so a role
 * is trusted only for names matched by every delegation on its chain). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define NO_PARENT SIZE_MAX

struct node {
	const char *name; /* borrowed from a trusted role's metadata, or own */
	char *own;	  /* a TAP 15 bin name computed here */
	size_t parent;	  /* index of the delegating node */
	const struct tuf_role *role;
};

struct walk {
	struct node *nodes;
	size_t nnodes, capnodes;
	size_t *stack;
	size_t nstack, capstack;
	const char **visited;
	size_t nvisited;
};

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->nnodes; i++)
		free(w->nodes[i].own);
	free(w->nodes);
	free(w->stack);
	free(w->visited);
	memset(w, 0, sizeof(*w));
}

static enum vouch_rc push(struct walk *w, const char *name, size_t parent, struct vouch_err *err)
{
	if (w->nnodes == w->capnodes) {
		size_t cap = w->capnodes ? 2 * w->capnodes : 16;
		struct node *n = realloc(w->nodes, cap * sizeof(*n));
		if (n == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		w->nodes = n;
		w->capnodes = cap;
	}
	if (w->nstack == w->capstack) {
		size_t cap = w->capstack ? 2 * w->capstack : 16;
		size_t *s = realloc(w->stack, cap * sizeof(*s));
		if (s == NULL)
			return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		w->stack = s;
		w->capstack = cap;
	}
	w->nodes[w->nnodes] = (struct node){.name = name, .parent = parent, .role = NULL};
	w->stack[w->nstack++] = w->nnodes++;
	return VOUCH_OK;
}

/* Pushes a TAP 15 bin role (a name computed here, owned by the node). */
static enum vouch_rc push_bin(struct walk *w, const char *name, size_t parent,
			      struct vouch_err *err)
{
	char *own = strdup(name);
	if (own == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	enum vouch_rc rc = push(w, own, parent, err);
	if (rc != VOUCH_OK) {
		free(own);
		return rc;
	}
	w->nodes[w->nnodes - 1].own = own;
	return VOUCH_OK;
}

static int was_visited(const struct walk *w, const char *name)
{
	for (size_t i = 0; i < w->nvisited; i++) {
		if (strcmp(w->visited[i], name) == 0)
			return 1;
	}
	return 0;
}

/* Pops the next node and loads its role. *node = NULL when the walk is
 * over (stack empty or budget spent); skips roles visited already. */
static enum vouch_rc next_role(struct vouch_tuf_client *c, struct walk *w, size_t *idx,
			       struct vouch_err *err)
{
	*idx = NO_PARENT;
	while (w->nstack > 0) {
		/* 5.6.7.1: at most max_delegations roles. */
		if (w->nvisited >= c->limits.max_delegations)
			return VOUCH_OK;
		size_t i = w->stack[--w->nstack];
		struct node *n = &w->nodes[i];
		/* 5.6.7.1: a role visited before is skipped (cycles). */
		if (was_visited(w, n->name))
			continue;
		const struct tuf_role *r = NULL;
		if (n->parent == NO_PARENT) {
			r = tuf_client_top_targets(c);
			if (r == NULL)
				return vouch_err_set(err, VOUCH_E_USAGE,
						     "no trusted targets metadata (refresh first)");
		} else {
			/* A role that cannot be loaded or verified ends the
			 * search with its error (note of 5.6.7). */
			enum vouch_rc rc =
			    tuf_client_load_role(c, n->name, w->nodes[n->parent].role, &r, err);
			if (rc != VOUCH_OK)
				return rc;
		}
		n = &w->nodes[i];
		n->role = r;
		w->visited[w->nvisited++] = n->name;
		*idx = i;
		return VOUCH_OK;
	}
	return VOUCH_OK;
}

static enum vouch_rc walk_init(struct vouch_tuf_client *c, struct walk *w, struct vouch_err *err)
{
	memset(w, 0, sizeof(*w));
	w->visited = calloc(c->limits.max_delegations + 1, sizeof(*w->visited));
	if (w->visited == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return push(w, "targets", NO_PARENT, err);
}

static const json_t *delegated_roles(const struct tuf_role *r)
{
	return json_object_get(json_object_get(tuf_signed(r->env), "delegations"), "roles");
}

static const json_t *succinct_roles(const struct tuf_role *r)
{
	return json_object_get(json_object_get(tuf_signed(r->env), "delegations"),
			       "succinct_roles");
}

static enum vouch_rc make_target(const struct walk *w, size_t idx, const char *name,
				 const json_t *entry, struct vouch_tuf_target **out,
				 struct vouch_err *err)
{
	struct vouch_tuf_target *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	size_t depth = 0;
	for (size_t i = idx; i != NO_PARENT; i = w->nodes[i].parent)
		depth++;
	t->name = strdup(name);
	t->role = strdup(w->nodes[idx].name);
	t->chain = calloc(depth, sizeof(*t->chain));
	t->length = (uint64_t)json_integer_value(json_object_get(entry, "length"));
	t->hashes = json_incref(json_object_get(entry, "hashes"));
	t->custom = json_incref(json_object_get(entry, "custom"));
	int ok = t->name != NULL && t->role != NULL && t->chain != NULL;
	size_t k = depth;
	for (size_t i = idx; ok && i != NO_PARENT; i = w->nodes[i].parent) {
		t->chain[--k] = strdup(w->nodes[i].name);
		ok = t->chain[k] != NULL;
		t->chain_len++;
	}
	if (!ok) {
		/* chain entries were filled from the end: free what exists */
		for (size_t i = 0; t->chain != NULL && i < depth; i++)
			free(t->chain[i]);
		t->chain_len = 0;
		vouch_tuf_target_free(t);
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	*out = t;
	return VOUCH_OK;
}

enum vouch_rc vouch_tuf_client_find_target(struct vouch_tuf_client *c, const char *name,
					   struct vouch_tuf_target **out, struct vouch_err *err)
{
	struct walk w;
	enum vouch_rc rc = walk_init(c, &w, err);
	while (rc == VOUCH_OK) {
		size_t idx = NO_PARENT;
		rc = next_role(c, &w, &idx, err);
		if (rc != VOUCH_OK || idx == NO_PARENT)
			break;
		const struct tuf_role *r = w.nodes[idx].role;
		/* 5.6.7.1: this role lists the target: done. */
		const json_t *entry =
		    json_object_get(json_object_get(tuf_signed(r->env), "targets"), name);
		if (entry != NULL) {
			rc = make_target(&w, idx, name, entry, out, err);
			walk_free(&w);
			return rc;
		}
		/* TAP 15: succinct_roles delegate each path to exactly one bin,
		 * and terminate the search there (as python-tuf does). */
		const json_t *sr = succinct_roles(r);
		if (sr != NULL) {
			char bin[VOUCH_TUF_MAX_NAME + 1];
			if (!vouch_tuf_succinct_role_for(sr, name, bin, sizeof(bin))) {
				rc = vouch_err_set(err, VOUCH_E_FORMAT,
						   "%s: malformed succinct_roles",
						   w.nodes[idx].name);
				break;
			}
			w.nstack = 0;
			rc = push_bin(&w, bin, idx, err);
			continue;
		}
		/* 5.6.7.2: its delegations for this path, in order; pushed in
		 * reverse so that the first is searched first. */
		const json_t *roles = delegated_roles(r);
		size_t first = w.nstack;
		for (size_t i = 0; i < json_array_size(roles) && rc == VOUCH_OK; i++) {
			const json_t *d = json_array_get(roles, i);
			if (!vouch_tuf_role_covers(d, name))
				continue;
			rc = push(&w, json_string_value(json_object_get(d, "name")), idx, err);
			/* 5.6.7.2.1: a terminating delegation: nothing after it
			 * (later siblings, roles pending above) is searched;
			 * the delegations listed before it, and it, still are. */
			if (rc == VOUCH_OK && json_is_true(json_object_get(d, "terminating"))) {
				size_t keep = w.nstack - first;
				memmove(w.stack, w.stack + first, keep * sizeof(*w.stack));
				w.nstack = keep;
				first = 0;
				break;
			}
		}
		for (size_t a = first, b = w.nstack; b > 0 && a < b - 1; a++, b--) {
			size_t tmp = w.stack[a];
			w.stack[a] = w.stack[b - 1];
			w.stack[b - 1] = tmp;
		}
	}
	walk_free(&w);
	if (rc != VOUCH_OK)
		return rc;
	/* 5.7.2 */
	return vouch_err_set(err, VOUCH_E_NOTFOUND, "%.300s: no trusted role lists this target",
			     name);
}

enum vouch_rc vouch_tuf_client_list_targets(struct vouch_tuf_client *c, const char *prefix,
					    vouch_tuf_target_cb cb, void *ctx,
					    struct vouch_err *err)
{
	struct walk w;
	json_t *names = json_object();
	size_t plen = strlen(prefix);
	enum vouch_rc rc =
	    names ? walk_init(c, &w, err) : vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	if (names == NULL)
		return rc;
	/* Collect candidate names from every role that may hold some, walking
	 * the same graph (no terminating cut: that depends on the name). */
	while (rc == VOUCH_OK) {
		size_t idx = NO_PARENT;
		rc = next_role(c, &w, &idx, err);
		if (rc != VOUCH_OK || idx == NO_PARENT)
			break;
		const struct tuf_role *r = w.nodes[idx].role;
		const char *tn;
		json_t *entry;
		json_object_foreach (json_object_get(tuf_signed(r->env), "targets"), tn, entry) {
			if (strncmp(tn, prefix, plen) == 0 &&
			    json_object_set_new(names, tn, json_true()) != 0) {
				rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
				break;
			}
		}
		/* TAP 15 bins: every bin may hold names with the prefix; at most
		 * max_delegations of them can be visited, so no more are queued. */
		const json_t *sr = succinct_roles(r);
		uint64_t nbins = sr != NULL ? vouch_tuf_succinct_bins(sr) : 0;
		if (nbins > c->limits.max_delegations)
			nbins = c->limits.max_delegations;
		for (uint64_t b = nbins; b > 0 && rc == VOUCH_OK; b--) {
			char bin[VOUCH_TUF_MAX_NAME + 1];
			if (vouch_tuf_succinct_role_at(sr, b - 1, bin, sizeof(bin)))
				rc = push_bin(&w, bin, idx, err);
		}
		const json_t *roles = delegated_roles(r);
		for (size_t i = json_array_size(roles); i > 0 && rc == VOUCH_OK; i--) {
			const json_t *d = json_array_get(roles, i - 1);
			if (vouch_tuf_role_may_cover_prefix(d, prefix))
				rc = push(&w, json_string_value(json_object_get(d, "name")), idx,
					  err);
		}
	}
	walk_free(&w);
	/* Each candidate is resolved exactly as a lookup of it would be. */
	const char *tn;
	json_t *v;
	json_object_foreach (names, tn, v) {
		struct vouch_tuf_target *t = NULL;
		if (rc != VOUCH_OK)
			break;
		rc = vouch_tuf_client_find_target(c, tn, &t, err);
		if (rc == VOUCH_E_NOTFOUND) {
			rc = VOUCH_OK;
			continue;
		}
		if (rc != VOUCH_OK)
			break;
		int stop = cb(ctx, t);
		vouch_tuf_target_free(t);
		if (stop)
			break;
	}
	json_decref(names);
	return rc;
}
