/* vouch encrypt, vouch decrypt, and recipient key generation for
 * `vouch keygen --type x25519|p256`. The work is in libvouch (crypt.c,
 * hpke.c); this file parses arguments, asks for passphrases and prints. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "key_internal.h"
#include "vouch/buf.h"
#include "vouch/crypt.h"
#include "vouch/hpke.h"

#define PATH_CAP 4096

static const char encrypt_help[] =
    "Usage: vouch encrypt --to PUB [--to PUB ...] [--aead AEAD] [--chunk-size N]\n"
    "                     -o OUT IN\n"
    "\n"
    "Encrypts IN (a file, or - for standard input) end to end for the holders of\n"
    "the recipient keys: HPKE (RFC 9180) wraps a random content key for each\n"
    "--to key, the data is a stream of authenticated chunks (format\n"
    "vouch-enc-v1, docs/formats.md). Memory use does not depend on the size.\n"
    "\n"
    "Options:\n"
    "  --to PUB          recipient public key (PEM, x25519 or p256, e.g. the\n"
    "                    PATH.pub of 'vouch keygen --type x25519'); repeat for\n"
    "                    more recipients (at most 1024)\n"
    "  --aead AEAD       aes256gcm (default) or chacha20poly1305\n"
    "  --chunk-size N    plaintext bytes per chunk (default 65536, 64..1048576)\n"
    "  -o, --output OUT  output file (written to a temporary file and renamed\n"
    "                    when complete), or - for standard output\n"
    "\n"
    "Exit codes: 0 ok, 1 rejected key, 2 usage, 3 I/O error.\n";

static const char decrypt_help[] =
    "Usage: vouch decrypt --key PRIV [--passphrase-file F] -o OUT IN\n"
    "\n"
    "Decrypts a vouch-enc-v1 file (IN, or - for standard input) with a recipient\n"
    "private key, authenticating every chunk. To a file, the plaintext goes to an\n"
    "unnamed temporary file that becomes OUT only after the last chunk has\n"
    "authenticated: on any failure OUT is left as it was, and no partial\n"
    "plaintext stays on disk, even if vouch is killed (on file systems with\n"
    "O_TMPFILE; elsewhere a killed run can leave OUT.tmp.*). To standard output\n"
    "(-o -), plaintext is written as it authenticates: on failure the exit code\n"
    "is not 0 and what was written must be discarded.\n"
    "\n"
    "Options:\n"
    "  --key PRIV            recipient private key (PKCS#8 PEM, from vouch keygen)\n"
    "  --passphrase-file F   passphrase of an encrypted key (first line of F);\n"
    "                        otherwise asked on the terminal when needed\n"
    "  -o, --output OUT      output file, or - for standard output\n"
    "\n"
    "Exit codes: 0 ok, 1 authentication failed, not a recipient, malformed file\n"
    "or wrong passphrase, 2 usage or a format version or suite this vouch does\n"
    "not support, 3 I/O error.\n";

enum crypt_opt {
	OPT_TO = 1,
	OPT_AEAD,
	OPT_CHUNK,
	OPT_KEY,
	OPT_PASSFILE,
};

static int parse_chunk(const char *s, uint32_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < VOUCH_CRYPT_CHUNK_MIN ||
	    v > VOUCH_CRYPT_CHUNK_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int cmd_encrypt(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, OPT_TO},
	    {"aead", required_argument, NULL, OPT_AEAD},
	    {"chunk-size", required_argument, NULL, OPT_CHUNK},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *to[VOUCH_CRYPT_MAX_RECIPIENTS];
	struct vouch_crypt_key *keys[VOUCH_CRYPT_MAX_RECIPIENTS];
	size_t nto = 0, nkeys = 0;
	const char *out = NULL, *in = NULL;
	struct vouch_crypt_params params = {VOUCH_CRYPT_AES256GCM, 0};
	struct vouch_err err;
	enum vouch_rc rc = VOUCH_OK;
	int c, code = EXIT_OK;

	vouch_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			if (nto == VOUCH_CRYPT_MAX_RECIPIENTS)
				return cli_usage_error("encrypt", "more than %d recipients",
						       VOUCH_CRYPT_MAX_RECIPIENTS);
			to[nto++] = optarg;
			break;
		case OPT_AEAD:
			if (strcmp(optarg, "aes256gcm") == 0)
				params.payload_aead = VOUCH_CRYPT_AES256GCM;
			else if (strcmp(optarg, "chacha20poly1305") == 0)
				params.payload_aead = VOUCH_CRYPT_CHACHA20POLY1305;
			else
				return cli_usage_error("encrypt",
						       "unknown --aead '%s' (aes256gcm or "
						       "chacha20poly1305)",
						       optarg);
			break;
		case OPT_CHUNK:
			if (parse_chunk(optarg, &params.chunk_size) != 0)
				return cli_usage_error(
				    "encrypt", "--chunk-size must be a number from %u to %u",
				    VOUCH_CRYPT_CHUNK_MIN, VOUCH_CRYPT_CHUNK_MAX);
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(encrypt_help, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("encrypt", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("encrypt", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("encrypt", optind < argc ? "exactly one input file, please"
								: "input file missing");
	in = argv[optind];
	if (nto == 0)
		return cli_usage_error("encrypt", "at least one --to PUB is required");
	if (out == NULL || out[0] == '\0')
		return cli_usage_error("encrypt", "-o OUT is required (- for standard output)");

	for (size_t i = 0; i < nto && rc == VOUCH_OK; i++) {
		rc = vouch_crypt_key_load_public(to[i], &keys[nkeys], &err);
		if (rc == VOUCH_OK)
			nkeys++;
	}
	if (rc == VOUCH_OK) {
		const struct vouch_crypt_key *const *r =
		    (const struct vouch_crypt_key *const *)keys;
		if (strcmp(out, "-") == 0) {
			int fd =
			    strcmp(in, "-") == 0 ? STDIN_FILENO : open(in, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				rc = vouch_err_set(&err, VOUCH_E_IO, "%s: %s", in, strerror(errno));
			} else {
				rc = vouch_crypt_encrypt_fd(fd, STDOUT_FILENO, r, nkeys, &params,
							    NULL, &err);
				if (fd != STDIN_FILENO)
					close(fd);
			}
		} else {
			rc = vouch_crypt_encrypt_file(strcmp(in, "-") == 0 ? "/dev/stdin" : in, out,
						      r, nkeys, &params, NULL, &err);
		}
	}
	if (rc != VOUCH_OK)
		code = cli_fail(&err);
	for (size_t i = 0; i < nkeys; i++)
		vouch_crypt_key_free(keys[i]);
	return code;
}

int cmd_decrypt(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, OPT_KEY},
	    {"passphrase-file", required_argument, NULL, OPT_PASSFILE},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *keypath = NULL, *passfile = NULL, *out = NULL, *in = NULL;
	struct vouch_crypt_key *key = NULL;
	struct vouch_key_opts opts;
	struct vouch_err err;
	enum vouch_rc rc;
	int c, code = EXIT_OK;

	vouch_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			keypath = optarg;
			break;
		case OPT_PASSFILE:
			passfile = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(decrypt_help, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("decrypt", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("decrypt", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("decrypt", optind < argc ? "exactly one input file, please"
								: "input file missing");
	in = argv[optind];
	if (keypath == NULL)
		return cli_usage_error("decrypt", "--key PRIV is required");
	if (out == NULL || out[0] == '\0')
		return cli_usage_error("decrypt", "-o OUT is required (- for standard output)");

	cli_key_opts(&opts, passfile, NULL);
	rc = vouch_crypt_key_load_private(keypath, &opts, &key, &err);
	if (rc == VOUCH_OK && strcmp(out, "-") == 0) {
		int fd = strcmp(in, "-") == 0 ? STDIN_FILENO : open(in, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = vouch_err_set(&err, VOUCH_E_IO, "%s: %s", in, strerror(errno));
		} else {
			rc = vouch_crypt_decrypt_fd(fd, STDOUT_FILENO, key, NULL, &err);
			if (fd != STDIN_FILENO)
				close(fd);
			if (rc != VOUCH_OK) {
				vouch_err_prefix(&err, "%s: ", in);
				if (rc == VOUCH_E_VERIFY)
					fprintf(stderr, "vouch: decryption FAILED; discard the "
							"output already written\n");
			}
		}
	} else if (rc == VOUCH_OK) {
		rc = vouch_crypt_decrypt_file(strcmp(in, "-") == 0 ? "/dev/stdin" : in, out, key,
					      NULL, &err);
	}
	if (rc != VOUCH_OK)
		code = cli_fail(&err);
	vouch_crypt_key_free(key);
	return code;
}

static int path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 || errno != ENOENT;
}

int cli_keygen_recipient(const char *type, const char *out, const char *passphrase_file,
			 int no_passphrase, const char *logpath)
{
	char pubpath[PATH_CAP], location[PATH_CAP];
	char pass[VOUCH_KEY_PASS_MAX + 1];
	size_t passlen = 0;
	uint16_t kem = 0;
	struct vouch_crypt_key *key = NULL;
	struct vouch_err err;
	char *pem = NULL;
	int code = EXIT_OK;

	vouch_err_clear(&err);
	memset(pass, 0, sizeof(pass));
	if (vouch_crypt_kem_parse(type, &kem, &err) != VOUCH_OK)
		return cli_usage_error("keygen", "%s", err.msg);
	if (passphrase_file != NULL && no_passphrase)
		return cli_usage_error("keygen",
				       "--passphrase-file and --no-passphrase exclude each other");
	if (snprintf(pubpath, sizeof(pubpath), "%s.pub", out) >= (int)sizeof(pubpath) ||
	    snprintf(location, sizeof(location), "file:%s", out) >= (int)sizeof(location))
		return cli_usage_error("keygen", "--out path too long");
	/* From here on every outcome is logged. Check the targets before
	 * anybody types a passphrase for nothing. */
	if (path_exists(out)) {
		vouch_err_set(&err, VOUCH_E_EXISTS, "%s already exists; not overwriting it", out);
		goto fail;
	}
	if (path_exists(pubpath)) {
		vouch_err_set(&err, VOUCH_E_EXISTS, "%s already exists; not overwriting it",
			      pubpath);
		goto fail;
	}
	if (passphrase_file != NULL) {
		if (vouch_key_read_passphrase_file(passphrase_file, pass, sizeof(pass), &passlen,
						   &err) != VOUCH_OK)
			goto fail;
	} else if (!no_passphrase) {
		char what[PATH_CAP + 64];
		snprintf(what, sizeof(what), "passphrase for new recipient key %s", out);
		if (cli_secret_prompt(NULL, what, 1, pass, sizeof(pass), &passlen, &err) !=
		    VOUCH_OK) {
			if (err.code == VOUCH_E_USAGE && strstr(err.msg, "terminal") != NULL)
				vouch_err_set(&err, VOUCH_E_USAGE,
					      "no terminal to ask for the passphrase of the new "
					      "key; use --passphrase-file F, or --no-passphrase "
					      "for an unencrypted key");
			goto fail;
		}
		if (passlen == 0) {
			vouch_err_set(&err, VOUCH_E_USAGE,
				      "empty passphrase; use --no-passphrase for an unencrypted "
				      "key");
			goto fail;
		}
	}
	if (vouch_crypt_key_generate(kem, &key, &err) != VOUCH_OK ||
	    vouch_crypt_key_save_private(key, out, no_passphrase ? NULL : pass,
					 no_passphrase ? 0 : passlen, &err) != VOUCH_OK)
		goto fail;
	if (vouch_crypt_key_public_pem(key, &pem, &err) != VOUCH_OK ||
	    vouch_file_write_new(pubpath, pem, strlen(pem), 0644, &err) != VOUCH_OK) {
		/* Leave no private key without its public half. */
		unlink(out);
		goto fail;
	}
	cli_log_keygen(logpath, vouch_crypt_key_id_hex(key), location, pubpath, NULL, &code);
	printf("keyid: %s\n", vouch_crypt_key_id_hex(key));
	printf("type: %s (recipient key: HPKE DHKEM(%s, HKDF-SHA256))\n", type,
	       kem == VOUCH_HPKE_KEM_X25519_SHA256 ? "X25519" : "P-256");
	printf("private key: %s (%s)\n", out,
	       no_passphrase ? "UNENCRYPTED" : "encrypted with a passphrase");
	printf("public key: %s\n", pubpath);
	goto out;
fail:
	code = cli_fail(&err);
	cli_log_keygen(logpath, key != NULL ? vouch_crypt_key_id_hex(key) : NULL, location, pubpath,
		       &err, &code);
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	free(pem);
	vouch_crypt_key_free(key);
	return code;
}
