/* vouch repo: the image repository (TUF) on the release side. Parses
 * arguments, loads keys (files or PKCS#11 URIs), calls libvouch (repo.h)
 * and prints what happened and what to do next. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vouch/buf.h"
#include "vouch/crypt.h"
#include "vouch/encoding.h"
#include "vouch/json.h"
#include "vouch/key.h"
#include "vouch/repo.h"

static const char repo_help[] =
    "Usage: vouch repo COMMAND DIR [OPTIONS...]\n"
    "\n"
    "Manages a TUF image repository in DIR: metadata/ and targets/ are served as\n"
    "they are by any web server; staged/ holds changes waiting for signatures or\n"
    "publication; vouch-repo.json holds settings (no secrets).\n"
    "\n"
    "Commands:\n"
    "  init DIR --root-key K [--root-key K ...] [--root-threshold N] --targets-key K\n"
    "       --snapshot-key K --timestamp-key K\n"
    "       [--expires root=365d,targets=90d,snapshot=7d,timestamp=1d,tier=90d]\n"
    "       [--no-consistent-snapshot]\n"
    "      Creates the repository: root v1 signed by the root keys given as\n"
    "      private keys (root keys given as public keys sign later with 'repo\n"
    "      sign'), empty targets v1, and, once root's threshold is met, snapshot\n"
    "      and timestamp v1 (published at once).\n"
    "  tier add DIR NAME --tier-key PUB [--tier-key PUB ...] [--threshold N]\n"
    "       [--paths PATTERN ...] --key TARGETS_KEY\n"
    "      Delegates the paths NAME/... from targets to a new terminating tier\n"
    "      role with its own public keys. Default paths: NAME/*, NAME/*/*,\n"
    "      NAME/*/*/*, NAME/*/*/*/* ('*' never matches '/'); every pattern must\n"
    "      start with NAME/. Usual tiers: bootloader, os, app, driver, config.\n"
    "  add DIR FILE --name TIER/PATH --key TIER_KEY [--version V]\n"
    "       [--security-version N] [--hardware H ...] [--custom JSON]\n"
    "       [--encrypt-to PUB ...] [--aead aes256gcm|chacha20poly1305]\n"
    "      Copies FILE under targets/ (hash-prefixed with consistent snapshots)\n"
    "      and lists it in the tier's metadata with custom.vouch {version,\n"
    "      security_version, hardware, tier, format}; --custom adds members of a\n"
    "      JSON object to custom.vouch (e.g. {\"format\": \"archive\"}). Refused\n"
    "      unless the tier's patterns cover the name and the key is the tier's.\n"
    "      --encrypt-to stores FILE encrypted to the recipient public keys (x25519\n"
    "      or p256, from 'vouch keygen --type x25519|p256'): the ciphertext is the\n"
    "      signed target, and custom.vouch.encryption records the suite and the\n"
    "      plaintext length and sha256 that devices check after decrypting.\n"
    "      NAME: printable ASCII without spaces, '\\', '%', '?' or '#', at most\n"
    "      255 bytes per component (126 for the last one with consistent\n"
    "      snapshots).\n"
    "  add DIR --batch LIST --key TIER_KEY [--version V] ...\n"
    "      The same for many files: LIST has one 'FILE NAME' per line; each tier\n"
    "      touched gets one new version and one signature.\n"
    "  remove DIR NAME --key TIER_KEY\n"
    "      Removes a target from its tier's metadata.\n"
    "  publish DIR --snapshot-key K --timestamp-key K\n"
    "      Checks every staged role against its threshold, then publishes them\n"
    "      with a new snapshot and timestamp.\n"
    "  timestamp DIR --timestamp-key K\n"
    "      Re-signs the timestamp with a fresh expiry (run it from cron well\n"
    "      within the timestamp period).\n"
    "  rotate DIR --role root|targets|snapshot|timestamp|TIER [--add-key PUB ...]\n"
    "       [--remove-key KEYID ...] [--threshold N] --key SIGNER [--key SIGNER ...]\n"
    "      Changes a role's keys (revocation = --remove-key). Top-level roles:\n"
    "      stages root N+1, signed by the SIGNERs that the current or the new\n"
    "      root lists (both thresholds must be met before it is published).\n"
    "      A tier: a new targets version (SIGNER: the targets key). Metadata the\n"
    "      removed key signed is re-signed by the SIGNERs allowed to.\n"
    "  sign DIR ROLE --key K [--key K ...] [--renew]\n"
    "      Adds signatures to a staged root, targets or tier waiting for its\n"
    "      threshold; with --renew, first makes a new version with a fresh expiry.\n"
    "      Never signs a targets whose delegations are not terminating tiers\n"
    "      with paths under NAME/, nor a tier listing names outside them.\n"
    "  status DIR [--json]\n"
    "      Roles, keys, thresholds, versions, expiry; warns about expiry within\n"
    "      20% of a period, thresholds not met and unpublished changes.\n"
    "\n"
    "Keys: every K, SIGNER and TARGETS_KEY/TIER_KEY is a private key file (PKCS#8\n"
    "PEM) or a PKCS#11 URI ('pkcs11:token=...;object=...'); PUB is a public key\n"
    "(PEM or TUF JSON). --root-key, --snapshot-key and --timestamp-key of 'init'\n"
    "and --targets-key may also be public keys (the role is then listed but not\n"
    "signed). Repeat an option once per value; when DIR (and NAME or FILE) come\n"
    "first, several values may also follow one option.\n"
    "\n"
    "Options for every command that signs:\n"
    "  --passphrase-file F   passphrase of encrypted key files (first line of F);\n"
    "                        otherwise asked on the terminal\n"
    "  --pkcs11-module SO    PKCS#11 module (default: $VOUCH_PKCS11_MODULE, else\n"
    "                        p11-kit's configured modules)\n"
    "  --log PATH            key usage log (default: $VOUCH_KEY_LOG, else\n"
    "                        $XDG_STATE_HOME/vouch/key-usage.log)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit codes: 0 ok, 1 refused by a security check (key not authorised for the\n"
    "role, name outside the tier, threshold not met, wrong passphrase), 2 usage\n"
    "error, 3 system or I/O error.\n";

enum opt {
	O_ROOT_KEY,
	O_ROOT_THRESHOLD,
	O_TARGETS_KEY,
	O_SNAPSHOT_KEY,
	O_TIMESTAMP_KEY,
	O_EXPIRES,
	O_NO_CONSISTENT,
	O_TIER_KEY,
	O_THRESHOLD,
	O_PATHS,
	O_KEY,
	O_NAME,
	O_VERSION,
	O_SECURITY_VERSION,
	O_HARDWARE,
	O_CUSTOM,
	O_ROLE,
	O_ADD_KEY,
	O_REMOVE_KEY,
	O_JSON,
	O_RENEW,
	O_PASSPHRASE_FILE,
	O_PKCS11_MODULE,
	O_LOG,
	O_BATCH,
	O_ENCRYPT_TO,
	O_AEAD,
	O_COUNT
};

static const struct {
	const char *name;
	int has_arg;
	int multi;
} optdefs[O_COUNT] = {
    [O_ROOT_KEY] = {"root-key", 1, 1},
    [O_ROOT_THRESHOLD] = {"root-threshold", 1, 0},
    [O_TARGETS_KEY] = {"targets-key", 1, 1},
    [O_SNAPSHOT_KEY] = {"snapshot-key", 1, 1},
    [O_TIMESTAMP_KEY] = {"timestamp-key", 1, 1},
    [O_EXPIRES] = {"expires", 1, 0},
    [O_NO_CONSISTENT] = {"no-consistent-snapshot", 0, 0},
    [O_TIER_KEY] = {"tier-key", 1, 1},
    [O_THRESHOLD] = {"threshold", 1, 0},
    [O_PATHS] = {"paths", 1, 1},
    [O_KEY] = {"key", 1, 1},
    [O_NAME] = {"name", 1, 0},
    [O_VERSION] = {"version", 1, 0},
    [O_SECURITY_VERSION] = {"security-version", 1, 0},
    [O_HARDWARE] = {"hardware", 1, 1},
    [O_CUSTOM] = {"custom", 1, 0},
    [O_ROLE] = {"role", 1, 0},
    [O_ADD_KEY] = {"add-key", 1, 1},
    [O_REMOVE_KEY] = {"remove-key", 1, 1},
    [O_JSON] = {"json", 0, 0},
    [O_RENEW] = {"renew", 0, 0},
    [O_PASSPHRASE_FILE] = {"passphrase-file", 1, 0},
    [O_PKCS11_MODULE] = {"pkcs11-module", 1, 0},
    [O_LOG] = {"log", 1, 0},
    [O_BATCH] = {"batch", 1, 0},
    [O_ENCRYPT_TO] = {"encrypt-to", 1, 1},
    [O_AEAD] = {"aead", 1, 0},
};

#define MAX_POS 4

struct args {
	const char **v[O_COUNT];
	size_t n[O_COUNT];
	const char *pos[MAX_POS];
	size_t npos;
	int help;
};

static void args_free(struct args *a)
{
	for (int i = 0; i < O_COUNT; i++)
		free(a->v[i]);
}

static const char *one(const struct args *a, enum opt o)
{
	return a->n[o] ? a->v[o][0] : NULL;
}

/* Parses argv[0..argc) of a subcommand (argv[0] is the first argument after
 * it). allowed: options this subcommand takes; npos: its positional
 * arguments. Returns EXIT_OK or EXIT_USAGE (message printed). */
static int parse(int argc, char **argv, const char *cmd, const enum opt *allowed, size_t nallowed,
		 size_t npos, struct args *a)
{
	int greedy = -1; /* multi-valued option that may take further values */
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < O_COUNT; i++) {
		a->v[i] = calloc((size_t)argc + 1, sizeof(char *));
		if (!a->v[i]) {
			fputs("vouch: out of memory\n", stderr);
			return EXIT_SYSTEM;
		}
	}
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			a->help = 1;
			continue;
		}
		if (strncmp(s, "--", 2) != 0 || s[2] == '\0') {
			if (a->npos < npos) {
				a->pos[a->npos++] = s;
				greedy = -1;
			} else if (greedy >= 0) {
				a->v[greedy][a->n[greedy]++] = s;
			} else {
				return cli_usage_error(cmd, "unexpected argument '%s'", s);
			}
			continue;
		}
		const char *name = s + 2;
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		int found = -1;
		for (size_t k = 0; k < nallowed; k++) {
			const char *on = optdefs[allowed[k]].name;
			if (strlen(on) == nl && strncmp(on, name, nl) == 0)
				found = (int)allowed[k];
		}
		if (found < 0)
			return cli_usage_error(cmd, "unknown option '--%.*s' for 'vouch %s'",
					       (int)nl, name, cmd);
		greedy = -1;
		if (!optdefs[found].has_arg) {
			if (eq)
				return cli_usage_error(cmd, "--%s takes no value",
						       optdefs[found].name);
			a->n[found] = 1;
			continue;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (!val) {
			if (i + 1 >= argc)
				return cli_usage_error(cmd, "--%s needs a value",
						       optdefs[found].name);
			val = argv[++i];
		}
		if (!optdefs[found].multi && a->n[found])
			return cli_usage_error(cmd, "--%s given twice", optdefs[found].name);
		a->v[found][a->n[found]++] = val;
		if (optdefs[found].multi)
			greedy = found;
	}
	/* `repo add DIR --batch LIST` has no FILE */
	if (!a->help && a->npos < npos && !(a->n[O_BATCH] && a->npos == npos - 1))
		return cli_usage_error(cmd, "missing arguments (%zu expected, %zu given)", npos,
				       a->npos);
	return EXIT_OK;
}

static int parse_uint(const char *cmd, const char *opt, const char *s, unsigned max, unsigned *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!s[0] || s[0] == '-' || s[0] == '+' || *end || errno || v > max)
		return cli_usage_error(cmd, "%s must be an integer from 0 to %u, got '%s'", opt,
				       max, s);
	*out = (unsigned)v;
	return EXIT_OK;
}

/* Loaded keys, freed together. */
struct keyset {
	struct vouch_key **v;
	size_t n;
};

static void keyset_free(struct keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		vouch_key_free(ks->v[i]);
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

static struct vouch_repo_keys view(const struct keyset *ks)
{
	struct vouch_repo_keys k = {.v = ks->v, .n = ks->n};
	return k;
}

enum key_kind {
	KEY_PRIVATE,	       /* signing: file or PKCS#11 URI */
	KEY_PUBLIC,	       /* PEM or TUF JSON public key (or a PKCS#11 URI) */
	KEY_PRIVATE_OR_PUBLIC, /* a public key file lists the role only */
};

static enum vouch_rc load_keys(const struct args *a, enum opt o, enum key_kind kind,
			       struct keyset *ks, struct vouch_err *err)
{
	struct vouch_key_opts kopts;
	cli_key_opts(&kopts, one(a, O_PASSPHRASE_FILE), one(a, O_PKCS11_MODULE));
	ks->v = calloc(a->n[o] + 1, sizeof(*ks->v));
	if (!ks->v)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < a->n[o]; i++) {
		const char *s = a->v[o][i];
		struct vouch_key *k = NULL;
		enum vouch_rc rc;
		int uri = strncmp(s, "pkcs11:", 7) == 0;
		if (kind == KEY_PRIVATE || uri) {
			rc = vouch_key_load_private(s, &kopts, &k, err);
		} else if (kind == KEY_PUBLIC) {
			rc = vouch_key_load_public(s, &k, err);
		} else {
			rc = vouch_key_load_public(s, &k, NULL);
			if (rc != VOUCH_OK)
				rc = vouch_key_load_private(s, &kopts, &k, err);
		}
		if (rc != VOUCH_OK) {
			vouch_err_prefix(err, "--%s: ", optdefs[o].name);
			return rc;
		}
		ks->v[ks->n++] = k;
	}
	return VOUCH_OK;
}

static int finish(enum vouch_rc rc, struct vouch_err *err, struct vouch_buf *notes)
{
	if (notes->len)
		fputs((const char *)notes->data, rc == VOUCH_OK ? stdout : stderr);
	vouch_buf_free(notes);
	if (rc != VOUCH_OK)
		return cli_fail(err);
	return EXIT_OK;
}

#define ALLOWED(...)                                                                               \
	static const enum opt allowed[] = {__VA_ARGS__};                                           \
	const size_t nallowed = sizeof(allowed) / sizeof(allowed[0])

#define KEYOPTS O_PASSPHRASE_FILE, O_PKCS11_MODULE, O_LOG

static int need(const struct args *a, const char *cmd, enum opt o)
{
	if (a->n[o] == 0)
		return cli_usage_error(cmd, "--%s is required", optdefs[o].name);
	return EXIT_OK;
}

static int run_init(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_ROOT_KEY, O_ROOT_THRESHOLD, O_TARGETS_KEY, O_SNAPSHOT_KEY, O_TIMESTAMP_KEY,
		O_EXPIRES, O_NO_CONSISTENT, KEYOPTS);
	struct args a;
	struct keyset root = {0}, targets = {0}, snap = {0}, ts = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	struct vouch_repo_init_params p;
	unsigned thr = 1;
	int ex = parse(argc, argv, "repo init", allowed, nallowed, 1, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if ((ex = need(&a, "repo init", O_ROOT_KEY)) ||
	    (ex = need(&a, "repo init", O_TARGETS_KEY)) ||
	    (ex = need(&a, "repo init", O_SNAPSHOT_KEY)) ||
	    (ex = need(&a, "repo init", O_TIMESTAMP_KEY)))
		goto out;
	if (one(&a, O_ROOT_THRESHOLD) &&
	    (ex = parse_uint("repo init", "--root-threshold", one(&a, O_ROOT_THRESHOLD), 64, &thr)))
		goto out;
	if (thr == 0) {
		ex = cli_usage_error("repo init", "--root-threshold must be at least 1");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	vouch_repo_expiry_default(&p.expiry);
	rc = VOUCH_OK;
	if (one(&a, O_EXPIRES))
		rc = vouch_repo_expiry_parse(one(&a, O_EXPIRES), &p.expiry, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_ROOT_KEY, KEY_PRIVATE_OR_PUBLIC, &root, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_TARGETS_KEY, KEY_PRIVATE_OR_PUBLIC, &targets, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_SNAPSHOT_KEY, KEY_PRIVATE_OR_PUBLIC, &snap, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_TIMESTAMP_KEY, KEY_PRIVATE_OR_PUBLIC, &ts, &err);
	if (rc == VOUCH_OK) {
		p.root = view(&root);
		p.root_threshold = thr;
		p.targets = view(&targets);
		p.snapshot = view(&snap);
		p.timestamp = view(&ts);
		p.consistent_snapshot = a.n[O_NO_CONSISTENT] == 0;
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		rc = vouch_repo_init(a.pos[0], &p, &o, &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	keyset_free(&root);
	keyset_free(&targets);
	keyset_free(&snap);
	keyset_free(&ts);
	args_free(&a);
	return ex;
}

static int run_tier(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_TIER_KEY, O_THRESHOLD, O_PATHS, O_KEY, KEYOPTS);
	struct args a;
	struct keyset tier = {0}, signers = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	unsigned thr = 0;
	int ex;
	if (argc < 1 || strcmp(argv[0], "add") != 0) {
		if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
			fputs(repo_help, stdout);
			return EXIT_OK;
		}
		return cli_usage_error("repo", "usage: vouch repo tier add DIR NAME ...");
	}
	ex = parse(argc - 1, argv + 1, "repo tier add", allowed, nallowed, 2, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if ((ex = need(&a, "repo tier add", O_TIER_KEY)) || (ex = need(&a, "repo tier add", O_KEY)))
		goto out;
	if (one(&a, O_THRESHOLD) &&
	    (ex = parse_uint("repo tier add", "--threshold", one(&a, O_THRESHOLD), 64, &thr)))
		goto out;
	if (one(&a, O_THRESHOLD) && thr == 0) {
		ex = cli_usage_error("repo tier add", "--threshold must be at least 1");
		goto out;
	}
	rc = load_keys(&a, O_TIER_KEY, KEY_PUBLIC, &tier, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_KEY, KEY_PRIVATE, &signers, &err);
	if (rc == VOUCH_OK) {
		struct vouch_repo_keys tk = view(&tier), sk = view(&signers);
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		rc = vouch_repo_tier_add(a.pos[0], a.pos[1], &tk, thr,
					 (const char *const *)a.v[O_PATHS], a.n[O_PATHS], &sk, &o,
					 &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	keyset_free(&tier);
	keyset_free(&signers);
	args_free(&a);
	return ex;
}

/* LIST: one "FILE NAME" per line (NAME is the last field: names have no
 * spaces; FILE may); blank lines and lines starting with '#' skipped. */
static enum vouch_rc add_batch(const char *dir, const char *list,
			       const struct vouch_repo_target_info *info,
			       const struct vouch_repo_keys *sk, const struct vouch_repo_opts *o,
			       struct vouch_buf *notes, struct vouch_err *err)
{
	struct vouch_buf b = {0};
	struct vouch_repo_target_item *items = NULL;
	size_t n = 0, cap = 0;
	enum vouch_rc rc = vouch_file_read(list, 256u * 1024 * 1024, &b, err);
	char *line = rc == VOUCH_OK ? (char *)b.data : NULL;
	size_t lineno = 0;
	while (rc == VOUCH_OK && line && *line) {
		char *nl = strchr(line, '\n');
		char *next = nl ? nl + 1 : NULL;
		lineno++;
		if (nl)
			*nl = '\0';
		size_t len = strlen(line);
		while (len &&
		       (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#') {
			line = next;
			continue;
		}
		char *sep = NULL;
		for (char *q = line; *q; q++) {
			if (*q == ' ' || *q == '\t')
				sep = q;
		}
		if (!sep) {
			rc = vouch_err_set(err, VOUCH_E_USAGE, "%s:%zu: expected FILE NAME", list,
					   lineno);
			break;
		}
		char *name = sep + 1;
		while (sep > line && (sep[-1] == ' ' || sep[-1] == '\t'))
			sep--;
		*sep = '\0';
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *t = realloc(items, ncap * sizeof(*items));
			if (!t) {
				rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
				break;
			}
			items = t;
			cap = ncap;
		}
		items[n].file = line;
		items[n].name = name;
		n++;
		line = next;
	}
	if (rc == VOUCH_OK)
		rc = vouch_repo_target_add_many(dir, items, n, info, sk, o, notes, err);
	free(items);
	vouch_buf_free(&b);
	return rc;
}

/* repo add --encrypt-to: encrypts FILE (a.pos[1]) to the recipients into a
 * temporary file inside DIR (the ciphertext becomes the target, so the
 * signed length and hashes cover it) and records the suite and the
 * plaintext length and sha256 in custom.vouch.encryption for the device to
 * check after decrypting. *custom is created or extended. */
static enum vouch_rc encrypt_for_add(const struct args *a, char *tmp, size_t cap, json_t **custom,
				     struct vouch_err *err)
{
	struct vouch_crypt_key **rk = NULL;
	struct vouch_crypt_result res;
	struct vouch_crypt_params params;
	size_t n = a->n[O_ENCRYPT_TO];
	enum vouch_rc rc = VOUCH_OK;
	char hex[2 * 32 + 1];

	memset(&params, 0, sizeof(params));
	if (one(a, O_AEAD) && strcmp(one(a, O_AEAD), "aes256gcm") == 0)
		params.payload_aead = VOUCH_CRYPT_AES256GCM;
	else if (one(a, O_AEAD) && strcmp(one(a, O_AEAD), "chacha20poly1305") == 0)
		params.payload_aead = VOUCH_CRYPT_CHACHA20POLY1305;
	else if (one(a, O_AEAD))
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "unknown --aead '%s' (aes256gcm or chacha20poly1305)",
				     one(a, O_AEAD));
	rk = calloc(n, sizeof(*rk));
	if (rk == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == VOUCH_OK; i++) {
		rc = vouch_crypt_key_load_public(a->v[O_ENCRYPT_TO][i], &rk[i], err);
		if (rc != VOUCH_OK)
			vouch_err_prefix(err, "--encrypt-to %s: ", a->v[O_ENCRYPT_TO][i]);
	}
	if (rc == VOUCH_OK &&
	    snprintf(tmp, cap, "%s/.encrypt.%ld", a->pos[0], (long)getpid()) >= (int)cap)
		rc = vouch_err_set(err, VOUCH_E_USAGE, "repository path too long");
	if (rc == VOUCH_OK)
		rc = vouch_crypt_encrypt_file(a->pos[1], tmp,
					      (const struct vouch_crypt_key *const *)rk, n, &params,
					      &res, err);
	if (rc != VOUCH_OK) {
		tmp[0] = '\0';
		goto out;
	}
	if (*custom == NULL)
		*custom = json_object();
	vouch_hex_encode(res.plaintext_sha256, sizeof(res.plaintext_sha256), hex);
	if (*custom == NULL || !json_is_object(*custom) ||
	    json_object_get(*custom, "encryption") != NULL) {
		rc = vouch_err_set(err, VOUCH_E_USAGE,
				   "--custom must be an object without 'encryption' when "
				   "--encrypt-to is given");
		goto out;
	}
	if (json_object_set_new(*custom, "encryption",
				json_pack("{s:s, s:I, s:s}", "suite", res.suite, "plaintext_length",
					  (json_int_t)res.plaintext_length, "plaintext_sha256",
					  hex)) != 0)
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
out:
	for (size_t i = 0; i < n; i++)
		vouch_crypt_key_free(rk[i]);
	free(rk);
	return rc;
}

static int run_add(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_NAME, O_KEY, O_VERSION, O_SECURITY_VERSION, O_HARDWARE, O_CUSTOM, O_BATCH,
		O_ENCRYPT_TO, O_AEAD, KEYOPTS);
	struct args a;
	struct keyset signers = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	json_t *custom = NULL;
	unsigned sv = 0;
	char enc_path[4096] = "";
	int ex = parse(argc, argv, "repo add", allowed, nallowed, 2, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if (a.n[O_BATCH] && (a.npos != 1 || a.n[O_NAME])) {
		ex = cli_usage_error("repo add", "--batch replaces FILE and --name");
		goto out;
	}
	if (a.n[O_BATCH] && a.n[O_ENCRYPT_TO]) {
		ex =
		    cli_usage_error("repo add", "--encrypt-to works on one FILE, not with --batch");
		goto out;
	}
	if (a.n[O_AEAD] && !a.n[O_ENCRYPT_TO]) {
		ex = cli_usage_error("repo add", "--aead needs --encrypt-to");
		goto out;
	}
	if ((!a.n[O_BATCH] && (ex = need(&a, "repo add", O_NAME))) ||
	    (ex = need(&a, "repo add", O_KEY)))
		goto out;
	if (one(&a, O_SECURITY_VERSION) &&
	    (ex = parse_uint("repo add", "--security-version", one(&a, O_SECURITY_VERSION),
			     0x7fffffffu, &sv)))
		goto out;
	rc = VOUCH_OK;
	if (one(&a, O_CUSTOM)) {
		rc = vouch_json_parse(one(&a, O_CUSTOM), strlen(one(&a, O_CUSTOM)), 64 * 1024,
				      &custom, &err);
		/* It will be signed: refuse now what canonical JSON cannot
		 * encode (a real number), before anything is written. */
		struct vouch_buf canon = {0};
		if (rc == VOUCH_OK)
			rc = vouch_canon_encode(custom, &canon, &err);
		vouch_buf_free(&canon);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(&err, "--custom: ");
			err.code = VOUCH_E_USAGE;
		}
	}
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_KEY, KEY_PRIVATE, &signers, &err);
	if (rc == VOUCH_OK && a.n[O_ENCRYPT_TO])
		rc = encrypt_for_add(&a, enc_path, sizeof(enc_path), &custom, &err);
	if (rc == VOUCH_OK) {
		struct vouch_repo_target_info info = {
		    .version = one(&a, O_VERSION),
		    .security_version = one(&a, O_SECURITY_VERSION) ? (int64_t)sv : -1,
		    .hardware = (const char *const *)a.v[O_HARDWARE],
		    .nhardware = a.n[O_HARDWARE],
		    .custom = custom,
		};
		struct vouch_repo_keys sk = view(&signers);
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		if (a.n[O_BATCH])
			rc = add_batch(a.pos[0], one(&a, O_BATCH), &info, &sk, &o, &notes, &err);
		else
			rc = vouch_repo_target_add(a.pos[0], enc_path[0] ? enc_path : a.pos[1],
						   one(&a, O_NAME), &info, &sk, &o, &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	if (enc_path[0])
		unlink(enc_path);
	json_decref(custom);
	keyset_free(&signers);
	args_free(&a);
	return ex;
}

static int run_remove(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_KEY, KEYOPTS);
	struct args a;
	struct keyset signers = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	int ex = parse(argc, argv, "repo remove", allowed, nallowed, 2, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if ((ex = need(&a, "repo remove", O_KEY)))
		goto out;
	rc = load_keys(&a, O_KEY, KEY_PRIVATE, &signers, &err);
	if (rc == VOUCH_OK) {
		struct vouch_repo_keys sk = view(&signers);
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		rc = vouch_repo_target_remove(a.pos[0], a.pos[1], &sk, &o, &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	keyset_free(&signers);
	args_free(&a);
	return ex;
}

static int run_publish(int argc, char **argv, int timestamp_only)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_SNAPSHOT_KEY, O_TIMESTAMP_KEY, KEYOPTS);
	static const enum opt allowed_ts[] = {O_TIMESTAMP_KEY, KEYOPTS};
	const char *cmd = timestamp_only ? "repo timestamp" : "repo publish";
	struct args a;
	struct keyset snap = {0}, ts = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	int ex = timestamp_only ? parse(argc, argv, cmd, allowed_ts,
					sizeof(allowed_ts) / sizeof(allowed_ts[0]), 1, &a)
				: parse(argc, argv, cmd, allowed, nallowed, 1, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if ((!timestamp_only && (ex = need(&a, cmd, O_SNAPSHOT_KEY))) ||
	    (ex = need(&a, cmd, O_TIMESTAMP_KEY)))
		goto out;
	rc = VOUCH_OK;
	if (!timestamp_only)
		rc = load_keys(&a, O_SNAPSHOT_KEY, KEY_PRIVATE, &snap, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_TIMESTAMP_KEY, KEY_PRIVATE, &ts, &err);
	if (rc == VOUCH_OK) {
		struct vouch_repo_keys sk = view(&snap), tk = view(&ts);
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		rc = timestamp_only ? vouch_repo_timestamp(a.pos[0], &tk, &o, &notes, &err)
				    : vouch_repo_publish(a.pos[0], &sk, &tk, &o, &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	keyset_free(&snap);
	keyset_free(&ts);
	args_free(&a);
	return ex;
}

static int run_rotate(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_ROLE, O_ADD_KEY, O_REMOVE_KEY, O_THRESHOLD, O_KEY, KEYOPTS);
	struct args a;
	struct keyset add = {0}, signers = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	unsigned thr = 0;
	int ex = parse(argc, argv, "repo rotate", allowed, nallowed, 1, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if ((ex = need(&a, "repo rotate", O_ROLE)) || (ex = need(&a, "repo rotate", O_KEY)))
		goto out;
	if (one(&a, O_THRESHOLD) &&
	    (ex = parse_uint("repo rotate", "--threshold", one(&a, O_THRESHOLD), 64, &thr)))
		goto out;
	if (one(&a, O_THRESHOLD) && thr == 0) {
		ex = cli_usage_error("repo rotate", "--threshold must be at least 1");
		goto out;
	}
	rc = load_keys(&a, O_ADD_KEY, KEY_PUBLIC, &add, &err);
	if (rc == VOUCH_OK)
		rc = load_keys(&a, O_KEY, KEY_PRIVATE, &signers, &err);
	if (rc == VOUCH_OK) {
		struct vouch_repo_rotation rot = {
		    .role = one(&a, O_ROLE),
		    .add = view(&add),
		    .remove = (const char *const *)a.v[O_REMOVE_KEY],
		    .nremove = a.n[O_REMOVE_KEY],
		    .threshold = thr,
		};
		struct vouch_repo_keys sk = view(&signers);
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		rc = vouch_repo_rotate(a.pos[0], &rot, &sk, &o, &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	keyset_free(&add);
	keyset_free(&signers);
	args_free(&a);
	return ex;
}

static int run_sign(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_KEY, O_RENEW, KEYOPTS);
	struct args a;
	struct keyset signers = {0};
	struct vouch_err err = {0};
	struct vouch_buf notes = {0};
	int ex = parse(argc, argv, "repo sign", allowed, nallowed, 2, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	if ((ex = need(&a, "repo sign", O_KEY)))
		goto out;
	rc = load_keys(&a, O_KEY, KEY_PRIVATE, &signers, &err);
	if (rc == VOUCH_OK) {
		struct vouch_repo_keys sk = view(&signers);
		struct vouch_repo_opts o = {.keylog_path = one(&a, O_LOG)};
		rc = vouch_repo_sign(a.pos[0], a.pos[1], &sk, a.n[O_RENEW] != 0, &o, &notes, &err);
	}
	ex = finish(rc, &err, &notes);
out:
	keyset_free(&signers);
	args_free(&a);
	return ex;
}

static void print_status(const json_t *st)
{
	size_t i;
	json_t *r;
	printf("repository %s (consistent snapshots: %s)\n",
	       json_string_value(json_object_get(st, "dir")),
	       json_is_true(json_object_get(st, "consistent_snapshot")) ? "yes" : "no");
	json_array_foreach (json_object_get(st, "roles"), i, r) {
		const char *kind = json_string_value(json_object_get(r, "kind"));
		printf("\n%-10s %s v%lld (published v%lld)",
		       json_string_value(json_object_get(r, "name")),
		       strcmp(kind, "tier") == 0 ? "tier" : "    ",
		       (long long)json_integer_value(json_object_get(r, "version")),
		       (long long)json_integer_value(json_object_get(r, "published_version")));
		if (json_object_get(r, "expires"))
			printf(", expires %s", json_string_value(json_object_get(r, "expires")));
		if (json_object_get(r, "targets"))
			printf(", %lld targets",
			       (long long)json_integer_value(json_object_get(r, "targets")));
		printf("\n  threshold %lld, valid signatures %lld\n",
		       (long long)json_integer_value(json_object_get(r, "threshold")),
		       (long long)json_integer_value(json_object_get(r, "signatures")));
		size_t k;
		json_t *key;
		json_array_foreach (json_object_get(r, "keys"), k, key) {
			printf("  key %s (%s)\n", json_string_value(json_object_get(key, "keyid")),
			       json_string_value(json_object_get(key, "keytype")));
		}
		json_t *paths = json_object_get(r, "paths");
		if (json_array_size(paths)) {
			fputs("  paths", stdout);
			json_t *p;
			json_array_foreach (paths, k, p) {
				printf(" %s", json_string_value(p));
			}
			fputs("\n", stdout);
		}
	}
	json_t *w = json_object_get(st, "warnings");
	if (json_array_size(w) == 0) {
		puts("\nno warnings");
		return;
	}
	puts("");
	json_array_foreach (w, i, r) {
		printf("warning: %s\n", json_string_value(r));
	}
}

static int run_status(int argc, char **argv)
{
	enum vouch_rc rc = 0;
	ALLOWED(O_JSON);
	struct args a;
	struct vouch_err err = {0};
	json_t *st = NULL;
	int ex = parse(argc, argv, "repo status", allowed, nallowed, 1, &a);
	if (ex != EXIT_OK || a.help) {
		if (a.help)
			fputs(repo_help, stdout);
		goto out;
	}
	rc = vouch_repo_status(a.pos[0], NULL, &st, &err);
	if (rc != VOUCH_OK) {
		ex = cli_fail(&err);
		goto out;
	}
	if (a.n[O_JSON]) {
		struct vouch_buf b = {0};
		rc = vouch_json_dump(st, &b, &err);
		if (rc != VOUCH_OK) {
			ex = cli_fail(&err);
			goto out;
		}
		fputs((const char *)b.data, stdout);
		vouch_buf_free(&b);
	} else {
		print_status(st);
	}
	ex = EXIT_OK;
out:
	json_decref(st);
	args_free(&a);
	return ex;
}

int cmd_repo(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(repo_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	const char *sub = argv[1];
	int sargc = argc - 2;
	char **sargv = argv + 2;
	if (strcmp(sub, "init") == 0)
		return run_init(sargc, sargv);
	if (strcmp(sub, "tier") == 0)
		return run_tier(sargc, sargv);
	if (strcmp(sub, "add") == 0)
		return run_add(sargc, sargv);
	if (strcmp(sub, "remove") == 0)
		return run_remove(sargc, sargv);
	if (strcmp(sub, "publish") == 0)
		return run_publish(sargc, sargv, 0);
	if (strcmp(sub, "timestamp") == 0)
		return run_publish(sargc, sargv, 1);
	if (strcmp(sub, "rotate") == 0)
		return run_rotate(sargc, sargv);
	if (strcmp(sub, "sign") == 0)
		return run_sign(sargc, sargv);
	if (strcmp(sub, "status") == 0)
		return run_status(sargc, sargv);
	return cli_usage_error("repo", "unknown repo command '%s'", sub);
}
