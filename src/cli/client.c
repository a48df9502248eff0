/* vouch client init|refresh|download: a TUF client on the command line.
 * The workflow (spec section 5) is in libvouch (src/lib/tuf/client.c); this
 * file parses arguments, prints, and picks exit codes. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vouch/buf.h"
#include "vouch/json.h"
#include "vouch/tuf.h"

static const char client_help[] =
    "Usage: vouch client init     --metadata-dir DIR ROOT.json\n"
    "       vouch client refresh  --metadata-dir DIR --metadata-url URL [--json]\n"
    "       vouch client download --metadata-dir DIR --metadata-url URL\n"
    "                             --target-base-url URL --target-dir DIR [--json]\n"
    "                             NAME [NAME ...]\n"
    "       vouch client list     --metadata-dir DIR [--metadata-url URL] [--json]\n"
    "                             [PREFIX]\n"
    "\n"
    "A TUF 1.0 client (the specification's detailed client workflow, 5.1-5.7).\n"
    "\n"
    "  init      installs ROOT.json, obtained out of band, as the trusted root in\n"
    "            DIR after checking that it is signed by a threshold of its own\n"
    "            root keys. Touches no network. Refuses to replace another root.\n"
    "  refresh   updates root (following the chain of N+1.root.json), timestamp,\n"
    "            snapshot and targets from URL, verifying each, and keeps the\n"
    "            trusted copies in DIR.\n"
    "  download  refreshes, then for each NAME in order finds the role that\n"
    "            vouches for it (delegations searched as the specification says),\n"
    "            and writes it to TARGET-DIR/NAME after checking its length and\n"
    "            hashes. A file already there with the signed length and hashes\n"
    "            is not fetched again. Stops at the first failure.\n"
    "  list      refreshes, then lists every target whose name starts with\n"
    "            PREFIX (default: all) with the role that vouches for it, as a\n"
    "            download of that name would resolve it (e.g. a channel\n"
    "            'os/stable/'). Delegated roles that cannot hold such names\n"
    "            are not fetched. Without --metadata-url, lists from the trusted\n"
    "            metadata in DIR without network (checked again, at the current\n"
    "            time).\n"
    "\n"
    "URLs: file://, http://, https://. Options may come in any order.\n"
    "\n"
    "Options:\n"
    "  --metadata-dir DIR       trusted metadata directory\n"
    "  --metadata-url URL       base URL of the repository's metadata\n"
    "  --target-base-url URL    base URL of the repository's targets\n"
    "  --target-dir DIR         where downloaded targets are written\n"
    "  --json                   machine-readable output on stdout\n"
    "  --root-max BYTES         size limit of each root.json (default 524288)\n"
    "  --timestamp-max BYTES    size limit of timestamp.json (default 16384)\n"
    "  --snapshot-max BYTES     size limit of snapshot.json when the timestamp\n"
    "                           gives no length (default 2097152)\n"
    "  --targets-max BYTES      size limit of targets metadata when the snapshot\n"
    "                           gives no length (default 16777216)\n"
    "  --max-root-rotations N   root versions followed per refresh (default 32)\n"
    "  --max-delegations N      roles visited per target search (default 32)\n"
    "  --connect-timeout S      connection timeout in seconds (default 15)\n"
    "  --timeout S              whole-transfer timeout in seconds (default none)\n"
    "  --low-speed-limit B      abort a transfer slower than B bytes/s ...\n"
    "  --low-speed-time S       ... for S seconds (defaults 1024 and 30)\n"
    "  -h, --help               show this help\n"
    "\n"
    "The VOUCH_FETCH_* environment variables set the same transfer limits.\n"
    "\n"
    "Exit codes: 0 ok; 1 rejected by a security check (bad or missing\n"
    "signatures, threshold not met, rollback, expired metadata, hash or length\n"
    "mismatch, more data than allowed, a target no trusted role lists);\n"
    "2 usage error; 3 system, I/O or network error (repository unreachable,\n"
    "file missing on the server, transfer too slow).\n";

enum {
	OPT_MDIR = 1000,
	OPT_MURL,
	OPT_TURL,
	OPT_TDIR,
	OPT_JSON,
	OPT_ROOT_MAX,
	OPT_TS_MAX,
	OPT_SNAP_MAX,
	OPT_TARGETS_MAX,
	OPT_MAX_ROOTS,
	OPT_MAX_DELEG,
	OPT_CONNECT,
	OPT_TIMEOUT,
	OPT_LS_LIMIT,
	OPT_LS_TIME,
};

static const struct option client_opts[] = {
    {"metadata-dir", required_argument, NULL, OPT_MDIR},
    {"metadata-url", required_argument, NULL, OPT_MURL},
    {"target-base-url", required_argument, NULL, OPT_TURL},
    {"target-dir", required_argument, NULL, OPT_TDIR},
    {"json", no_argument, NULL, OPT_JSON},
    {"root-max", required_argument, NULL, OPT_ROOT_MAX},
    {"timestamp-max", required_argument, NULL, OPT_TS_MAX},
    {"snapshot-max", required_argument, NULL, OPT_SNAP_MAX},
    {"targets-max", required_argument, NULL, OPT_TARGETS_MAX},
    {"max-root-rotations", required_argument, NULL, OPT_MAX_ROOTS},
    {"max-delegations", required_argument, NULL, OPT_MAX_DELEG},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"low-speed-limit", required_argument, NULL, OPT_LS_LIMIT},
    {"low-speed-time", required_argument, NULL, OPT_LS_TIME},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
	const char *mdir, *murl, *turl, *tdir;
	int json;
	struct vouch_tuf_client_config cfg;
	char **names;
	int nnames;
};

static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	if (s[0] < '0' || s[0] > '9')
		return 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return 0;
	*out = v;
	return 1;
}

static int parse_args(const char *sub, int argc, char **argv, struct args *a)
{
	vouch_tuf_client_config_default(&a->cfg);
	optind = 0;
	opterr = 0;
	for (;;) {
		/* GNU getopt permutes: options may come anywhere; the names
		 * are left at the end. */
		int c = getopt_long(argc, argv, "h", client_opts, NULL);
		if (c == -1)
			break;
		uint64_t v = 0;
		switch (c) {
		case 'h':
			fputs(client_help, stdout);
			return -1;
		case OPT_MDIR:
			a->mdir = optarg;
			break;
		case OPT_MURL:
			a->murl = optarg;
			break;
		case OPT_TURL:
			a->turl = optarg;
			break;
		case OPT_TDIR:
			a->tdir = optarg;
			break;
		case OPT_JSON:
			a->json = 1;
			break;
		case OPT_ROOT_MAX:
		case OPT_TS_MAX:
		case OPT_SNAP_MAX:
		case OPT_TARGETS_MAX:
		case OPT_MAX_ROOTS:
		case OPT_MAX_DELEG:
		case OPT_CONNECT:
		case OPT_TIMEOUT:
		case OPT_LS_LIMIT:
		case OPT_LS_TIME:
			if (!parse_num(optarg, (uint64_t)INT32_MAX, &v))
				return cli_usage_error("client", "%s: '%s' is not a number", sub,
						       optarg);
			if (c == OPT_ROOT_MAX)
				a->cfg.limits.root_max = (size_t)v;
			else if (c == OPT_TS_MAX)
				a->cfg.limits.timestamp_max = (size_t)v;
			else if (c == OPT_SNAP_MAX)
				a->cfg.limits.snapshot_max = (size_t)v;
			else if (c == OPT_TARGETS_MAX)
				a->cfg.limits.targets_max = (size_t)v;
			else if (c == OPT_MAX_ROOTS)
				a->cfg.limits.max_root_rotations = (unsigned)v;
			else if (c == OPT_MAX_DELEG)
				a->cfg.limits.max_delegations = (unsigned)v;
			else if (c == OPT_CONNECT)
				a->cfg.fetch.connect_timeout = (long)v;
			else if (c == OPT_TIMEOUT)
				a->cfg.fetch.timeout = (long)v;
			else if (c == OPT_LS_LIMIT)
				a->cfg.fetch.low_speed_limit = (long)v;
			else
				a->cfg.fetch.low_speed_time = (long)v;
			break;
		default:
			return cli_usage_error("client", "%s: unknown or incomplete option '%s'",
					       sub, argv[optind - 1]);
		}
	}
	while (optind < argc)
		a->names[a->nnames++] = argv[optind++];
	a->cfg.metadata_dir = a->mdir;
	a->cfg.metadata_url = a->murl;
	a->cfg.target_base_url = a->turl;
	return 0;
}

static void print_json(json_t *o)
{
	/* json_dumpf, not json_dumps + free(): with the arena below, strings
	 * jansson returns must not go to libc's free(). */
	if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
		fputc('\n', stdout);
}

/* Prints the failure (and a JSON error object with --json) and returns
 * the exit code. */
static int fail(const struct args *a, const struct vouch_err *err, int code)
{
	if (a->json) {
		json_t *o = json_pack("{s:b,s:s,s:s}", "ok", 0, "error", vouch_rc_name(err->code),
				      "message", err->msg);
		if (o != NULL)
			print_json(o);
		json_decref(o);
	}
	fprintf(stderr, "vouch: %s\n", err->msg[0] ? err->msg : vouch_rc_name(err->code));
	return code ? code : vouch_rc_exit_code(err->code);
}

/* Exit code of a refresh or download that failed. The update is refused
 * (1) not only when a security check fails but also when the repository
 * does not deliver what the workflow needs (unreachable, a missing file,
 * an HTTP error, too slow): a mirror that withholds metadata cannot be told
 * from a freeze attack, and nothing new is trusted either way. So is a
 * missing trusted root.json (nothing to trust: no update). Other local
 * problems (the metadata or target directory cannot be read or written,
 * libcurl not loadable) keep their own code (3). */
static int update_failed(const struct args *a, const struct vouch_err *err)
{
	int remote = err->code == VOUCH_E_NETWORK || err->code == VOUCH_E_NOTFOUND;
	return fail(a, err, remote ? EXIT_REJECTED : 0);
}

static int cmd_init(struct args *a)
{
	struct vouch_err err;
	struct vouch_buf b = {0};
	vouch_err_clear(&err);
	if (a->mdir == NULL || a->nnames != 1)
		return cli_usage_error("client", "init needs --metadata-dir DIR and one ROOT.json");
	enum vouch_rc rc = vouch_file_read(a->names[0], a->cfg.limits.root_max, &b, &err);
	if (rc == VOUCH_OK)
		rc = vouch_tuf_client_install_root(a->mdir, b.data, b.len, a->cfg.limits.root_max,
						   &err);
	vouch_buf_free(&b);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(&err, "client init: ");
		return fail(a, &err, 0);
	}
	if (a->json) {
		json_t *o = json_pack("{s:b,s:s}", "ok", 1, "metadata_dir", a->mdir);
		if (o != NULL)
			print_json(o);
		json_decref(o);
	} else {
		printf("trusted root installed in %s/root.json\n", a->mdir);
	}
	return EXIT_OK;
}

static json_t *versions_json(const struct vouch_tuf_client *c)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "root",
			 (json_int_t)vouch_tuf_client_version(c, VOUCH_TUF_ROOT), "timestamp",
			 (json_int_t)vouch_tuf_client_version(c, VOUCH_TUF_TIMESTAMP), "snapshot",
			 (json_int_t)vouch_tuf_client_version(c, VOUCH_TUF_SNAPSHOT), "targets",
			 (json_int_t)vouch_tuf_client_version(c, VOUCH_TUF_TARGETS));
}

static int open_and_refresh(struct args *a, struct vouch_tuf_client **c, struct vouch_err *err)
{
	if (a->mdir == NULL || a->murl == NULL)
		return cli_usage_error("client", "needs --metadata-dir DIR and --metadata-url URL");
	enum vouch_rc rc = vouch_tuf_client_new(&a->cfg, c, err);
	if (rc == VOUCH_E_NOTFOUND)
		vouch_err_prefix(err,
				 "no trusted root (run 'vouch client init --metadata-dir %s "
				 "ROOT.json' first): ",
				 a->mdir);
	if (rc == VOUCH_OK)
		rc = vouch_tuf_client_refresh(*c, err);
	if (rc != VOUCH_OK)
		return update_failed(a, err);
	return EXIT_OK;
}

static int cmd_refresh(struct args *a)
{
	struct vouch_err err;
	struct vouch_tuf_client *c = NULL;
	vouch_err_clear(&err);
	if (a->nnames != 0)
		return cli_usage_error("client", "refresh takes no names");
	int code = open_and_refresh(a, &c, &err);
	if (code == EXIT_OK) {
		json_t *v = versions_json(c);
		if (a->json) {
			json_t *o = json_pack("{s:b,s:o}", "ok", 1, "versions", v);
			if (o != NULL)
				print_json(o);
			json_decref(o);
		} else {
			printf("root v%" JSON_INTEGER_FORMAT ", timestamp v%" JSON_INTEGER_FORMAT
			       ", snapshot v%" JSON_INTEGER_FORMAT
			       ", targets v%" JSON_INTEGER_FORMAT "\n",
			       json_integer_value(json_object_get(v, "root")),
			       json_integer_value(json_object_get(v, "timestamp")),
			       json_integer_value(json_object_get(v, "snapshot")),
			       json_integer_value(json_object_get(v, "targets")));
			json_decref(v);
		}
	}
	vouch_tuf_client_free(c);
	return code;
}

/* A target name becomes a path under the target directory: no absolute
 * names, no empty, "." or ".." components. */
static int safe_name(const char *name)
{
	if (name[0] == '\0' || name[0] == '/')
		return 0;
	const char *p = name;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

static int cmd_download(struct args *a)
{
	struct vouch_err err;
	struct vouch_tuf_client *c = NULL;
	struct vouch_tuf_target *t = NULL;
	struct vouch_buf dest = {0};
	json_t *results = json_array();
	int code = EXIT_OK;
	vouch_err_clear(&err);
	if (a->turl == NULL || a->tdir == NULL || a->nnames == 0) {
		json_decref(results);
		return cli_usage_error("client", "download needs --target-base-url URL, "
						 "--target-dir DIR and at least one NAME");
	}
	for (int i = 0; i < a->nnames; i++) {
		if (!safe_name(a->names[i])) {
			json_decref(results);
			return cli_usage_error("client",
					       "'%s' is not a safe target name (absolute, empty, "
					       "'.' or '..' component)",
					       a->names[i]);
		}
	}
	code = open_and_refresh(a, &c, &err);
	struct cli_progress bar;
	if (code == EXIT_OK && !a->json && isatty(STDERR_FILENO))
		vouch_tuf_client_set_progress(c, cli_progress_update, &bar);
	for (int i = 0; i < a->nnames && code == EXIT_OK; i++) {
		const char *name = a->names[i];
		const char *status = "downloaded";
		enum vouch_rc rc = vouch_tuf_client_find_target(c, name, &t, &err);
		if (rc == VOUCH_E_NOTFOUND) {
			/* No trusted role vouches for it: a security refusal. */
			code = fail(a, &err, EXIT_REJECTED);
			break;
		}
		dest.len = 0;
		if (rc == VOUCH_OK)
			rc = vouch_buf_printf(&dest, &err, "%s/%s", a->tdir, name);
		if (rc == VOUCH_OK) {
			/* Subdirectories of the name. */
			char *slash = strrchr((char *)dest.data, '/');
			*slash = '\0';
			rc = vouch_mkdir_p((const char *)dest.data, 0755, &err);
			*slash = '/';
		}
		if (rc == VOUCH_OK) {
			if (vouch_tuf_target_file_ok(t, (const char *)dest.data))
				status = "cached";
			else {
				cli_progress_start(&bar, name);
				rc = vouch_tuf_client_download_target(c, t, (const char *)dest.data,
								      &err);
				cli_progress_end(&bar);
			}
		}
		if (rc != VOUCH_OK) {
			code = update_failed(a, &err);
			break;
		}
		if (a->json) {
			json_t *o =
			    json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", name, "status", status,
				      "role", t->role, "length", (json_int_t)t->length, "path",
				      (const char *)dest.data);
			if (o != NULL)
				json_array_append_new(results, o);
		} else {
			printf("%s: %s (%" PRIu64 " bytes, signed by %s)\n", name, status,
			       t->length, t->role);
		}
		vouch_tuf_target_free(t);
		t = NULL;
	}
	if (code == EXIT_OK && a->json) {
		json_t *o = json_pack("{s:b,s:o,s:O}", "ok", 1, "versions", versions_json(c),
				      "targets", results);
		if (o != NULL)
			print_json(o);
		json_decref(o);
	}
	vouch_tuf_target_free(t);
	vouch_buf_free(&dest);
	json_decref(results);
	vouch_tuf_client_free(c);
	return code;
}

/* A bump allocator for jansson in this short-lived command. Parsed
 * metadata is thousands of small objects that live until the command ends;
 * malloc's per-chunk overhead and rounding are a quarter of their size, and
 * a 10,000-target tier is the largest thing in memory (bench/refresh.sh).
 * Small blocks are carved from 256 KiB slabs and never freed (the process
 * exits soon); large ones go to malloc. Not used under AddressSanitizer, so
 * that leak checks keep seeing jansson's allocations. While it is in place,
 * nothing jansson returns may be passed to free() (json_dumps): this file
 * prints with json_dumpf. */
#if defined(__SANITIZE_ADDRESS__)
#define CLIENT_ARENA 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLIENT_ARENA 0
#endif
#endif
#ifndef CLIENT_ARENA
#define CLIENT_ARENA 1
#endif

#define SLAB_SIZE (256u * 1024)
#define SLAB_SMALL 512u

struct slab {
	struct slab *next;
	size_t used;
	_Alignas(16) unsigned char data[];
};

static struct slab *slabs;

static int in_slab(const void *p)
{
	for (const struct slab *s = slabs; s != NULL; s = s->next) {
		if ((const unsigned char *)p >= s->data &&
		    (const unsigned char *)p < s->data + SLAB_SIZE)
			return 1;
	}
	return 0;
}

static void *arena_malloc(size_t n)
{
	/* Large requests go to malloc before rounding, so that no size can
	 * wrap around to a small block. 8-byte alignment is all jansson's
	 * structures (pointers, size_t, json_int_t, double) need. */
	if (n == 0 || n > SLAB_SMALL)
		return malloc(n ? n : 1);
	n = (n + 7) & ~(size_t)7;
	if (slabs == NULL || slabs->used + n > SLAB_SIZE) {
		struct slab *s = malloc(sizeof(*s) + SLAB_SIZE);
		if (s == NULL)
			return NULL;
		s->next = slabs;
		s->used = 0;
		slabs = s;
	}
	void *p = slabs->data + slabs->used;
	slabs->used += n;
	return p;
}

static void arena_free(void *p)
{
	if (p != NULL && !in_slab(p))
		free(p);
}

static void arena_release(void)
{
	while (slabs != NULL) {
		struct slab *s = slabs->next;
		free(slabs);
		slabs = s;
	}
}

struct list_ctx {
	json_t *items;
	int json;
};

static int list_one(void *ctx, const struct vouch_tuf_target *t)
{
	struct list_ctx *l = ctx;
	json_t *chain = json_array();
	for (size_t i = 0; chain != NULL && i < t->chain_len; i++)
		json_array_append_new(chain, json_string(t->chain[i]));
	json_t *o = json_pack("{s:s,s:I,s:O,s:s,s:o*,s:O?}", "name", t->name, "length",
			      (json_int_t)t->length, "hashes", t->hashes, "role", t->role, "chain",
			      chain, "custom", t->custom);
	if (o != NULL)
		json_array_append_new(l->items, o);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
	return strcmp(x, y);
}

static int cmd_list(struct args *a)
{
	struct vouch_err err;
	struct vouch_tuf_client *c = NULL;
	struct list_ctx l = {.items = json_array(), .json = a->json};
	vouch_err_clear(&err);
	if (a->nnames > 1 || l.items == NULL) {
		json_decref(l.items);
		return cli_usage_error("client", "list takes at most one PREFIX");
	}
	const char *prefix = a->nnames ? a->names[0] : "";
	int code = EXIT_OK;
	if (a->murl != NULL) {
		code = open_and_refresh(a, &c, &err);
	} else if (a->mdir == NULL) {
		json_decref(l.items);
		return cli_usage_error("client", "list needs --metadata-dir DIR");
	} else if (vouch_tuf_client_new(&a->cfg, &c, &err) != VOUCH_OK ||
		   vouch_tuf_client_load_trusted(c, &err) != VOUCH_OK) {
		/* Offline: the trusted metadata as a refresh left it. */
		code = fail(a, &err, 0);
	}
	/* Online, a delegated role the repository does not deliver refuses
	 * the listing as it refuses a download (update_failed); offline, a
	 * role never fetched is local state (3). */
	if (code == EXIT_OK &&
	    vouch_tuf_client_list_targets(c, prefix, list_one, &l, &err) != VOUCH_OK)
		code = a->murl != NULL ? update_failed(a, &err) : fail(a, &err, 0);
	if (code == EXIT_OK) {
		/* Stable output: sorted by name. */
		size_t n = json_array_size(l.items);
		json_t **v = calloc(n + 1, sizeof(*v));
		for (size_t i = 0; v != NULL && i < n; i++)
			v[i] = json_array_get(l.items, i);
		if (v != NULL)
			qsort(v, n, sizeof(*v), by_name);
		json_t *sorted = json_array();
		for (size_t i = 0; v != NULL && sorted != NULL && i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		if (a->json) {
			json_t *o = json_pack("{s:b,s:o}", "ok", 1, "targets", sorted);
			if (o != NULL)
				print_json(o);
			json_decref(o);
		} else {
			for (size_t i = 0; i < json_array_size(sorted); i++) {
				json_t *t = json_array_get(sorted, i);
				printf("%s\t%" JSON_INTEGER_FORMAT "\t%s\n",
				       json_string_value(json_object_get(t, "name")),
				       json_integer_value(json_object_get(t, "length")),
				       json_string_value(json_object_get(t, "role")));
			}
			json_decref(sorted);
		}
	}
	json_decref(l.items);
	vouch_tuf_client_free(c);
	return code;
}

int cmd_client(int argc, char **argv)
{
	struct args a;
	memset(&a, 0, sizeof(a));
	if (argc < 2) {
		fputs(client_help, stderr);
		return EXIT_USAGE;
	}
	/* Metadata buffers (raw bytes, canonical forms) are large and short
	 * lived: a fixed mmap threshold hands them back to the kernel when
	 * freed instead of letting them pin heap, which keeps peak RSS down
	 * (bench/refresh.sh). */
	(void)mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	if (CLIENT_ARENA)
		json_set_alloc_funcs(arena_malloc, arena_free);
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(client_help, stdout);
		return EXIT_OK;
	}
	a.names = calloc((size_t)argc, sizeof(*a.names));
	if (a.names == NULL) {
		fputs("vouch: out of memory\n", stderr);
		return EXIT_SYSTEM;
	}
	int code = parse_args(sub, argc - 1, argv + 1, &a);
	if (code == -1)
		code = EXIT_OK;
	else if (code == 0) {
		if (strcmp(sub, "init") == 0)
			code = cmd_init(&a);
		else if (strcmp(sub, "refresh") == 0)
			code = cmd_refresh(&a);
		else if (strcmp(sub, "download") == 0)
			code = cmd_download(&a);
		else if (strcmp(sub, "list") == 0)
			code = cmd_list(&a);
		else
			code = cli_usage_error("client", "unknown subcommand '%s'", sub);
	}
	free(a.names);
	if (CLIENT_ARENA) {
		/* Every json_t is gone by now; hand the slabs back. */
		json_set_alloc_funcs(malloc, free);
		arena_release();
	}
	return code;
}
