/* vouch keygen, vouch key id|show: making signing keys and showing their
 * TUF identity. The work is in libvouch (key.c); this file parses
 * arguments, asks for passphrases, logs key usage and prints. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "key_internal.h"
#include "vouch/buf.h"
#include "vouch/json.h"
#include "vouch/key.h"
#include "vouch/keylog.h"

#define PATH_CAP 4096

static const char keygen_help[] =
    "Usage: vouch keygen [--type TYPE] --out PATH [--passphrase-file F | --no-passphrase]\n"
    "                    [--log PATH]\n"
    "       vouch keygen --type TYPE --pkcs11 URI [--pkcs11-module SO] --out PATH\n"
    "                    [--log PATH]\n"
    "\n"
    "Generates a signing key pair. The private key goes to PATH (PKCS#8 PEM, mode\n"
    "0600, encrypted under a passphrase with scrypt and AES-256-CBC unless\n"
    "--no-passphrase), the public key to PATH.pub (PEM SubjectPublicKeyInfo).\n"
    "With --pkcs11 the key pair is generated inside the token, the private key\n"
    "never leaves it, and only PATH.pub is written. Existing files are never\n"
    "overwritten. Prints the key id and the files written.\n"
    "\n"
    "Options:\n"
    "  --type TYPE           ed25519 (default), ecdsa (P-256), rsa3072, rsa4096;\n"
    "                        x25519 and p256 make encryption (recipient) keys\n"
    "  --out PATH            where to write the key pair (PATH and PATH.pub)\n"
    "  --passphrase-file F   take the passphrase from the first line of file F\n"
    "  --no-passphrase       write the private key unencrypted\n"
    "  --pkcs11 URI          generate in a PKCS#11 token, e.g.\n"
    "                        'pkcs11:token=vouch;object=release?pin-source=file:pin'\n"
    "  --pkcs11-module SO    PKCS#11 module (default: $VOUCH_PKCS11_MODULE, else the\n"
    "                        URI's module-path, else p11-kit's configured modules)\n"
    "  --log PATH            key usage log (default: $VOUCH_KEY_LOG, else\n"
    "                        $XDG_STATE_HOME/vouch/key-usage.log)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Without --passphrase-file or --no-passphrase the passphrase is asked twice on\n"
    "the terminal. A passphrase is never taken from the command line.\n"
    "\n"
    "Exit codes: 0 ok, 1 refused (wrong or locked PIN, passphrase too long),\n"
    "2 usage error (also: no terminal to ask on, key type the token cannot make),\n"
    "3 system or I/O error (also: PATH or PATH.pub exists, token failure).\n";

static const char key_help[] =
    "Usage: vouch key id PUB\n"
    "       vouch key show PUB [--json]\n"
    "\n"
    "Shows a public key's TUF identity. PUB is a public key file: PEM\n"
    "SubjectPublicKeyInfo (as 'vouch keygen' writes to PATH.pub), a TUF public-key\n"
    "JSON object {keytype, scheme, keyval}, or the output of 'vouch key show --json'.\n"
    "\n"
    "Commands:\n"
    "  id PUB           print the TUF key id (64 hex digits)\n"
    "  show PUB         print key id, keytype, scheme and public value\n"
    "  show PUB --json  print {\"keyid\": ID, \"key\": {keytype, scheme, keyval}}\n"
    "\n"
    "Options:\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit codes: 0 ok, 1 malformed or unsafe key file, 2 usage error (also: a key\n"
    "type or size vouch does not support), 3 system or I/O error.\n";

/* Appends n bytes of s to out (cap bytes, NUL-terminated), truncating. */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	while (n-- > 0 && *o + 1 < cap)
		out[(*o)++] = *s++;
	out[*o] = '\0';
}

/* The URI without any pin-value attribute, for logs and messages. Path
 * attributes are separated by ';', query attributes start at '?' and are
 * separated by '&'. */
static void uri_without_pin(const char *uri, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = uri;
	int in_query = 0, kept = 0; /* kept: an attribute written in this part */
	if (cap == 0)
		return;
	out[0] = '\0';
	if (strncmp(p, "pkcs11:", 7) == 0) {
		put(out, cap, &o, p, 7);
		p += 7;
	}
	for (;;) {
		size_t n = strcspn(p, ";?&");
		if (n > 0 && strncmp(p, "pin-value=", 10) != 0) {
			const char *sep = kept ? (in_query ? "&" : ";") : (in_query ? "?" : "");
			put(out, cap, &o, sep, strlen(sep));
			put(out, cap, &o, p, n);
			kept = 1;
		}
		p += n;
		if (*p == '\0')
			break;
		if (*p == '?') {
			in_query = 1;
			kept = 0;
		}
		p++;
	}
}

void cli_log_keygen(const char *logpath, const char *key_id, const char *location,
		    const char *subject, const struct vouch_err *failure, int *exit_code)
{
	struct vouch_keylog_event ev = {
	    .operation = "keygen",
	    .key_id = key_id,
	    .key_location = location,
	    .subject_name = subject,
	    .subject_sha256 = NULL,
	    .ok = failure == NULL,
	    .error = failure != NULL ? failure->msg : NULL,
	};
	struct vouch_err err;
	vouch_err_clear(&err);
	if (vouch_keylog_append(logpath, &ev, &err) != VOUCH_OK) {
		vouch_err_prefix(&err, "cannot append to the key usage log: ");
		int code = cli_fail(&err);
		if (*exit_code == EXIT_OK)
			*exit_code = code;
	}
}

static int path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 || errno != ENOENT;
}

enum keygen_opt {
	OPT_TYPE = 1,
	OPT_OUT,
	OPT_PASSFILE,
	OPT_NOPASS,
	OPT_PKCS11,
	OPT_MODULE,
	OPT_LOG,
};

int cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"passphrase-file", required_argument, NULL, OPT_PASSFILE},
	    {"no-passphrase", no_argument, NULL, OPT_NOPASS},
	    {"pkcs11", required_argument, NULL, OPT_PKCS11},
	    {"pkcs11-module", required_argument, NULL, OPT_MODULE},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *type_name = "ed25519", *out = NULL, *passfile = NULL, *uri = NULL;
	const char *module = NULL, *log_opt = NULL;
	int no_pass = 0, c;
	char pubpath[PATH_CAP], location[PATH_CAP], logpath[PATH_CAP];
	char pass[VOUCH_KEY_PASS_MAX + 1];
	size_t passlen = 0;
	struct vouch_key *key = NULL;
	struct vouch_err err;
	char *pem = NULL;
	int rc = EXIT_OK, wrote_private = 0;
	enum vouch_key_type type;
	unsigned bits = 0;

	vouch_err_clear(&err);
	memset(pass, 0, sizeof(pass));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE:
			type_name = optarg;
			break;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_PASSFILE:
			passfile = optarg;
			break;
		case OPT_NOPASS:
			no_pass = 1;
			break;
		case OPT_PKCS11:
			uri = optarg;
			break;
		case OPT_MODULE:
			module = optarg;
			break;
		case OPT_LOG:
			log_opt = optarg;
			break;
		case 'h':
			fputs(keygen_help, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("keygen", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("keygen", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
	if (out == NULL || out[0] == '\0')
		return cli_usage_error("keygen", "--out PATH is required");
	if (passfile != NULL && no_pass)
		return cli_usage_error("keygen",
				       "--passphrase-file and --no-passphrase exclude each other");
	if (uri != NULL && (passfile != NULL || no_pass))
		return cli_usage_error("keygen", "a PKCS#11 key has no passphrase: drop "
						 "--passphrase-file/--no-passphrase");
	if (uri == NULL && module != NULL)
		return cli_usage_error("keygen", "--pkcs11-module needs --pkcs11 URI");

	if (strcmp(type_name, "x25519") == 0 || strcmp(type_name, "p256") == 0) {
		if (uri != NULL)
			return cli_usage_error("keygen",
					       "recipient keys (%s) cannot be made in a PKCS#11 "
					       "token",
					       type_name);
		if (vouch_keylog_path(log_opt, logpath, sizeof(logpath), &err) != VOUCH_OK)
			return cli_fail(&err);
		return cli_keygen_recipient(type_name, out, passfile, no_pass, logpath);
	}
	if (vouch_key_type_parse(type_name, &type, &bits, &err) != VOUCH_OK)
		return cli_usage_error("keygen", "%s", err.msg);
	if (uri != NULL && strncmp(uri, "pkcs11:", 7) != 0)
		return cli_usage_error("keygen", "--pkcs11 needs a URI that starts with 'pkcs11:'");
	if (snprintf(pubpath, sizeof(pubpath), "%s.pub", out) >= (int)sizeof(pubpath))
		return cli_usage_error("keygen", "--out path too long");
	if (uri != NULL)
		uri_without_pin(uri, location, sizeof(location));
	else if (snprintf(location, sizeof(location), "file:%s", out) >= (int)sizeof(location))
		return cli_usage_error("keygen", "--out path too long");
	if (vouch_keylog_path(log_opt, logpath, sizeof(logpath), &err) != VOUCH_OK)
		return cli_fail(&err);

	/* From here on every outcome is logged. Check the targets first so
	 * that nobody types a passphrase for nothing. */
	if (uri == NULL && path_exists(out)) {
		vouch_err_set(&err, VOUCH_E_EXISTS, "%s already exists; not overwriting it", out);
		goto fail;
	}
	if (path_exists(pubpath)) {
		vouch_err_set(&err, VOUCH_E_EXISTS, "%s already exists; not overwriting it",
			      pubpath);
		goto fail;
	}

	if (uri != NULL) {
		struct vouch_key_opts opts;
		cli_key_opts(&opts, NULL, module);
		if (vouch_key_generate_pkcs11(type, bits, uri, &opts, &key, &err) != VOUCH_OK)
			goto fail;
		snprintf(location, sizeof(location), "%s", vouch_key_location(key));
	} else {
		if (passfile != NULL) {
			if (vouch_key_read_passphrase_file(passfile, pass, sizeof(pass), &passlen,
							   &err) != VOUCH_OK)
				goto fail;
		} else if (!no_pass) {
			char what[PATH_CAP + 64];
			snprintf(what, sizeof(what), "passphrase for new key %s", out);
			if (cli_secret_prompt(NULL, what, 1, pass, sizeof(pass), &passlen, &err) !=
			    VOUCH_OK) {
				if (err.code == VOUCH_E_USAGE &&
				    strstr(err.msg, "terminal") != NULL)
					vouch_err_set(&err, VOUCH_E_USAGE,
						      "no terminal to ask for the passphrase of "
						      "the new key; use --passphrase-file F, or "
						      "--no-passphrase for an unencrypted key");
				goto fail;
			}
			if (passlen == 0) {
				vouch_err_set(&err, VOUCH_E_USAGE,
					      "empty passphrase; use --no-passphrase for an "
					      "unencrypted key");
				goto fail;
			}
		}
		if (vouch_key_generate(type, bits, &key, &err) != VOUCH_OK)
			goto fail;
		if (vouch_key_save_private(key, out, no_pass ? NULL : pass, no_pass ? 0 : passlen,
					   &err) != VOUCH_OK)
			goto fail;
		wrote_private = 1;
	}
	if (vouch_key_public_pem(key, &pem, &err) != VOUCH_OK ||
	    vouch_file_write_new(pubpath, pem, strlen(pem), 0644, &err) != VOUCH_OK) {
		/* Leave no private key without its public half. */
		if (wrote_private)
			unlink(out);
		if (uri != NULL)
			vouch_err_prefix(&err,
					 "key %s was generated in the token (%s), but its public "
					 "key was not saved: ",
					 vouch_key_id(key), location);
		goto fail;
	}

	cli_log_keygen(logpath, vouch_key_id(key), location, pubpath, NULL, &rc);
	printf("keyid: %s\n", vouch_key_id(key));
	printf("type: %s (%s)\n", type_name, vouch_key_scheme(key));
	if (uri != NULL)
		printf("private key: %s (in the token)\n", location);
	else
		printf("private key: %s (%s)\n", out,
		       no_pass ? "UNENCRYPTED" : "encrypted with a passphrase");
	printf("public key: %s\n", pubpath);
	goto done;

fail:
	rc = cli_fail(&err);
	cli_log_keygen(logpath, key != NULL ? vouch_key_id(key) : NULL, location, pubpath, &err,
		       &rc);
done:
	OPENSSL_cleanse(pass, sizeof(pass));
	free(pem);
	vouch_key_free(key);
	return rc;
}

static int key_usage(void)
{
	return cli_usage_error("key", "expected 'vouch key id PUB' or 'vouch key show PUB'");
}

static void print_show(const struct vouch_key *key, json_t *tuf)
{
	const char *pub =
	    json_string_value(json_object_get(json_object_get(tuf, "keyval"), "public"));
	printf("keyid: %s\n", vouch_key_id(key));
	printf("keytype: %s\n", vouch_key_keytype(key));
	printf("scheme: %s\n", vouch_key_scheme(key));
	if (vouch_key_get_type(key) == VOUCH_KEY_ED25519)
		printf("public: %s\n", pub);
	else
		printf("public:\n%s%s", pub, pub[0] && pub[strlen(pub) - 1] == '\n' ? "" : "\n");
}

int cmd_key(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	if (argc < 2)
		return key_usage();
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(key_help, stdout);
		return EXIT_OK;
	}
	const char *sub = argv[1];
	int is_id = strcmp(sub, "id") == 0, is_show = strcmp(sub, "show") == 0;
	if (!is_id && !is_show)
		return cli_usage_error("key", "unknown subcommand '%s' (id, show)", sub);
	int json = 0, c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (is_id)
				return cli_usage_error("key", "'key id' has no --json");
			json = 1;
			break;
		case 'h':
			fputs(key_help, stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("key", "unknown option '%s'", argv[optind]);
		}
	}
	/* getopt's indexes count from argv + 1. */
	int first = optind + 1;
	if (first >= argc)
		return cli_usage_error("key", "'key %s' needs a public key file", sub);
	if (first + 1 < argc)
		return cli_usage_error("key", "unexpected argument '%s'", argv[first + 1]);
	const char *path = argv[first];

	struct vouch_err err;
	struct vouch_key *key = NULL;
	json_t *tuf = NULL, *doc = NULL;
	struct vouch_buf text = {0};
	int rc = EXIT_OK;
	vouch_err_clear(&err);
	if (vouch_key_load_public(path, &key, &err) != VOUCH_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (is_id) {
		printf("%s\n", vouch_key_id(key));
		goto out;
	}
	if (vouch_key_to_tuf(key, &tuf, &err) != VOUCH_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!json) {
		print_show(key, tuf);
		goto out;
	}
	doc = json_pack("{s:s, s:O}", "keyid", vouch_key_id(key), "key", tuf);
	if (doc == NULL) {
		vouch_err_set(&err, VOUCH_E_NOMEM, "out of memory");
		rc = cli_fail(&err);
		goto out;
	}
	if (vouch_json_dump(doc, &text, &err) != VOUCH_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	fwrite(text.data, 1, text.len, stdout);
out:
	if (rc == EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "vouch: cannot write to standard output\n");
		rc = EXIT_SYSTEM;
	}
	vouch_buf_free(&text);
	json_decref(doc);
	json_decref(tuf);
	vouch_key_free(key);
	return rc;
}
