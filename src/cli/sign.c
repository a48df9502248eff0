/* vouch sign | verify: detached signature files (src/lib/sigfile.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"
#include "vouch/encoding.h"
#include "vouch/keylog.h"
#include "vouch/sigfile.h"

static void sign_usage(FILE *fp)
{
	fputs("Usage: vouch sign --key PATH|URI [--passphrase-file F] [--pkcs11-module SO]\n"
	      "                  [--out SIG] [--log PATH] FILE\n"
	      "\n"
	      "Signs FILE into the signature file SIG (default FILE.sig): its name, length,\n"
	      "sha256 and sha512, signed over canonical JSON. When SIG exists and describes\n"
	      "the same file, the signature is added to it (a key that signed before replaces\n"
	      "its own entry); when it describes another file, signing is refused.\n"
	      "Every signature and every failed attempt is appended to the key usage log\n"
	      "(vouch log); a signature that cannot be logged is not written.\n"
	      "\n"
	      "Options:\n"
	      "  -k, --key PATH|URI        private key file (PKCS#8 PEM) or pkcs11: URI\n"
	      "  -p, --passphrase-file F   read the key's passphrase from F (first line);\n"
	      "                            otherwise it is asked on the terminal\n"
	      "  -m, --pkcs11-module SO    PKCS#11 module (default $VOUCH_PKCS11_MODULE)\n"
	      "  -o, --out SIG             signature file (default FILE.sig)\n"
	      "  -l, --log PATH            key usage log (default $VOUCH_KEY_LOG, else\n"
	      "                            $XDG_STATE_HOME/vouch/key-usage.log)\n"
	      "  -h, --help                show this help\n"
	      "\n"
	      "Exit codes: 0 signed, 1 refused (SIG is malformed or for another file,\n"
	      "wrong passphrase), 2 usage error, 3 system or I/O error.\n",
	      fp);
}

static void verify_usage(FILE *fp)
{
	fputs("Usage: vouch verify --key PUB [--key PUB ...] [--threshold N] [--sig SIG]\n"
	      "                    [--json] FILE\n"
	      "\n"
	      "Checks that at least N (default 1) distinct keys among the listed public keys\n"
	      "signed SIG (default FILE.sig), then that FILE has the signed length, sha256,\n"
	      "sha512 and name. A key listed twice, or with two signatures, counts once.\n"
	      "Prints OK and exits 0 when it does; else prints the reason on stderr and\n"
	      "exits 1.\n"
	      "\n"
	      "Options:\n"
	      "  -k, --key PUB        public key (PEM, or TUF key JSON); repeat for more keys\n"
	      "  -t, --threshold N    distinct valid signatures needed (1 to 64, default 1)\n"
	      "  -s, --sig SIG        signature file (default FILE.sig)\n"
	      "  -j, --json           print the result as JSON on stdout\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Exit codes: 0 verified, 1 rejected (bad, missing or too few signatures, file\n"
	      "changed, malformed or oversized SIG), 2 usage error, 3 system or I/O error.\n",
	      fp);
}

/* Appends a "sign" event; a failure to log is reported, not hidden. */
static enum vouch_rc log_sign(const char *log_path, const struct vouch_key *key,
			      const char *key_arg, const char *name, const struct vouch_digests *d,
			      const struct vouch_err *failure, struct vouch_err *err)
{
	char loc[1024];
	struct vouch_keylog_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.operation = "sign";
	if (key != NULL) {
		ev.key_id = vouch_key_id(key);
		ev.key_location = vouch_key_location(key);
	} else {
		vouch_keylog_location(key_arg, loc, sizeof(loc));
		ev.key_location = loc;
	}
	ev.subject_name = name;
	ev.subject_sha256 = (d != NULL && (d->algs & VOUCH_HASH_SHA256)) ? d->sha256 : NULL;
	ev.ok = failure == NULL;
	ev.error = failure != NULL ? failure->msg : NULL;
	return vouch_keylog_append(log_path, &ev, err);
}

/* Reports a failed attempt: logs it, then prints the reason. */
static int sign_failed(const char *log_path, const struct vouch_key *key, const char *key_arg,
		       const char *name, const struct vouch_digests *d,
		       const struct vouch_err *failure)
{
	struct vouch_err lerr;
	vouch_err_clear(&lerr);
	int code = cli_fail(failure);
	if (log_sign(log_path, key, key_arg, name, d, failure, &lerr) != VOUCH_OK) {
		vouch_err_prefix(&lerr, "also could not log the failure: ");
		(void)cli_fail(&lerr);
	}
	return code;
}

/* An exclusive flock() on the directory that holds path (the signature
 * file itself is replaced by rename, so it cannot carry the lock). Returns
 * the descriptor to close, or -1: locking is best effort (a file system
 * without flock still signs, only without protection against a concurrent
 * signer of the same file). */
static int lock_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		if ((size_t)(slash - path) >= sizeof(dir))
			return -1;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* The signature file to add to: the existing sig_path if its signed part
 * is byte for byte fresh's (the same file), a copy of fresh if there is
 * none; VOUCH_E_VERIFY if it describes another file, the parser's error if
 * it is damaged. The caller frees *out. */
static enum vouch_rc existing_for(const char *sig_path, const char *file,
				  const struct vouch_sigfile *fresh, struct vouch_sigfile **out,
				  struct vouch_err *err)
{
	struct vouch_buf old = {0}, a = {0}, b = {0};
	enum vouch_rc rc = vouch_file_read(sig_path, VOUCH_SIGFILE_MAX, &old, err);
	if (rc == VOUCH_E_NOTFOUND) {
		/* A new one: parse fresh's own serialisation (a copy). */
		vouch_err_clear(err);
		rc = vouch_sigfile_serialize(fresh, &old, err);
		if (rc == VOUCH_OK)
			rc = vouch_sigfile_parse(old.data, old.len, out, err);
		goto out;
	}
	if (rc == VOUCH_E_LIMIT) {
		rc = vouch_err_set(err, VOUCH_E_LIMIT,
				   "%s: existing signature file larger than the limit of %u bytes",
				   sig_path, VOUCH_SIGFILE_MAX);
		goto out;
	}
	if (rc != VOUCH_OK)
		goto out;
	rc = vouch_sigfile_parse(old.data, old.len, out, err);
	if (rc == VOUCH_OK)
		rc = vouch_sigfile_signed_bytes(*out, &a, err);
	if (rc == VOUCH_OK)
		rc = vouch_sigfile_signed_bytes(fresh, &b, err);
	if (rc == VOUCH_OK && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "the signature file describes another file than %s (file "
				   "changed since signing?); not adding a signature",
				   file);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: ", sig_path);
		vouch_sigfile_free(*out);
		*out = NULL;
	}
out:
	vouch_buf_free(&old);
	vouch_buf_free(&a);
	vouch_buf_free(&b);
	return rc;
}

int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"passphrase-file", required_argument, NULL, 'p'},
	    {"pkcs11-module", required_argument, NULL, 'm'},
	    {"out", required_argument, NULL, 'o'},
	    {"log", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *key_arg = NULL, *pass_file = NULL, *module = NULL, *out = NULL;
	const char *log_opt = NULL;
	char sig_path[PATH_MAX], log_path[PATH_MAX];
	struct vouch_err err;
	struct vouch_digests d;
	struct vouch_key_opts kopts;
	struct vouch_key *key = NULL;
	struct vouch_sigfile *fresh = NULL, *sf = NULL;
	const char *file = NULL, *name = NULL;
	int c, code = EXIT_OK, dir_fd = -1;
	enum vouch_rc rc;

	vouch_err_clear(&err);
	memset(&d, 0, sizeof(d));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:p:m:o:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key_arg = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'm':
			module = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			log_opt = optarg;
			break;
		case 'h':
			sign_usage(stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("sign", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("sign", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("sign", optind >= argc ? "no FILE to sign"
							      : "give exactly one FILE to sign");
	if (key_arg == NULL)
		return cli_usage_error("sign", "--key is required");
	file = argv[optind];
	name = vouch_sigfile_basename(file);
	if (out == NULL &&
	    snprintf(sig_path, sizeof(sig_path), "%s.sig", file) >= (int)sizeof(sig_path))
		return cli_usage_error("sign", "file name too long");
	if (out != NULL && snprintf(sig_path, sizeof(sig_path), "%s", out) >= (int)sizeof(sig_path))
		return cli_usage_error("sign", "--out too long");
	if (vouch_keylog_path(log_opt, log_path, sizeof(log_path), &err) != VOUCH_OK)
		return cli_fail(&err);

	/* Hash first: even a failed attempt is logged with what it was for. */
	rc = vouch_sigfile_hash_file(file, &d, &err);
	if (rc == VOUCH_OK)
		rc = vouch_sigfile_new(name, &d, &fresh, &err);
	if (rc != VOUCH_OK) {
		code = sign_failed(log_path, NULL, key_arg, name, NULL, &err);
		goto out;
	}
	/* Refuse early (before asking for a passphrase) if SIG is for
	 * another file or damaged... */
	rc = existing_for(sig_path, file, fresh, &sf, &err);
	vouch_sigfile_free(sf);
	sf = NULL;
	if (rc != VOUCH_OK) {
		code = sign_failed(log_path, NULL, key_arg, name, &d, &err);
		goto out;
	}
	cli_key_opts(&kopts, pass_file, module);
	rc = vouch_key_load_private(key_arg, &kopts, &key, &err);
	if (rc == VOUCH_OK && !vouch_key_has_private(key))
		rc = vouch_err_set(&err, VOUCH_E_USAGE, "%s: not a private key", key_arg);
	if (rc != VOUCH_OK) {
		code = sign_failed(log_path, key, key_arg, name, &d, &err);
		goto out;
	}
	/* ... then read, extend and replace it as one locked step, so that
	 * people adding signatures to the same file at once all end up in
	 * it. */
	dir_fd = lock_dir_of(sig_path);
	rc = existing_for(sig_path, file, fresh, &sf, &err);
	if (rc == VOUCH_OK)
		rc = vouch_sigfile_add_signature(sf, key, &err);
	if (rc != VOUCH_OK) {
		code = sign_failed(log_path, key, key_arg, name, &d, &err);
		goto out;
	}
	/* Logged before it is written: no signature leaves vouch unlogged. */
	rc = log_sign(log_path, key, key_arg, name, &d, NULL, &err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(&err, "key log: ");
		code = cli_fail(&err);
		fprintf(stderr, "vouch: the signature was not written\n");
		goto out;
	}
	rc = vouch_sigfile_write(sf, sig_path, &err);
	if (rc != VOUCH_OK) {
		code = sign_failed(log_path, key, key_arg, name, &d, &err);
		goto out;
	}
	fprintf(stderr, "%s: signed by %.16s (%zu signature%s)\n", sig_path, vouch_key_id(key),
		vouch_sigfile_count(sf), vouch_sigfile_count(sf) == 1 ? "" : "s");
out:
	if (dir_fd >= 0)
		close(dir_fd); /* releases the lock */
	vouch_sigfile_free(fresh);
	vouch_sigfile_free(sf);
	vouch_key_free(key);
	return code;
}

static int parse_threshold(const char *s, unsigned *out)
{
	unsigned long v = 0;
	if (*s == '\0' || strlen(s) > 3)
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > VOUCH_SIGFILE_MAX_KEYS)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static void print_json_result(const char *file, const char *sig_path, const struct vouch_err *err,
			      unsigned threshold, size_t valid, const struct vouch_sigfile *sf)
{
	json_t *o = json_pack("{s:b, s:s, s:s, s:I, s:I}", "ok", err == NULL, "file", file,
			      "signature_file", sig_path, "threshold", (json_int_t)threshold,
			      "valid", (json_int_t)valid);
	if (o == NULL)
		return;
	if (err != NULL) {
		json_object_set_new(o, "error", json_string(vouch_rc_name(err->code)));
		json_object_set_new(o, "message", json_string(err->msg));
	} else if (sf != NULL) {
		json_object_set_new(o, "name", json_string(vouch_sigfile_name(sf)));
		json_object_set_new(o, "length",
				    json_integer((json_int_t)vouch_sigfile_length(sf)));
		json_object_set_new(o, "sha256", json_string(vouch_sigfile_sha256_hex(sf)));
		json_object_set_new(o, "sha512", json_string(vouch_sigfile_sha512_hex(sf)));
	}
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'}, {"threshold", required_argument, NULL, 't'},
	    {"sig", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	const char *key_paths[VOUCH_SIGFILE_MAX_KEYS];
	struct vouch_key *keys[VOUCH_SIGFILE_MAX_KEYS];
	size_t nkeys = 0, valid = 0;
	unsigned threshold = 1;
	int json = 0, c, code = EXIT_OK;
	const char *sig_opt = NULL, *file = NULL;
	char sig_path[PATH_MAX];
	struct vouch_err err;
	struct vouch_digests d;
	struct vouch_sigfile *sf = NULL;
	enum vouch_rc rc;

	vouch_err_clear(&err);
	memset(keys, 0, sizeof(keys));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:t:s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (nkeys == VOUCH_SIGFILE_MAX_KEYS)
				return cli_usage_error("verify", "at most %d --key options",
						       VOUCH_SIGFILE_MAX_KEYS);
			key_paths[nkeys++] = optarg;
			break;
		case 't':
			if (parse_threshold(optarg, &threshold) != 0)
				return cli_usage_error("verify",
						       "--threshold must be a number from 1 to %d",
						       VOUCH_SIGFILE_MAX_KEYS);
			break;
		case 's':
			sig_opt = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			verify_usage(stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("verify", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("verify", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("verify", optind >= argc
						     ? "no FILE to verify"
						     : "give exactly one FILE to verify");
	if (nkeys == 0)
		return cli_usage_error("verify", "give at least one --key");
	file = argv[optind];
	if (snprintf(sig_path, sizeof(sig_path), "%s%s", sig_opt != NULL ? sig_opt : file,
		     sig_opt != NULL ? "" : ".sig") >= (int)sizeof(sig_path))
		return cli_usage_error("verify", "file name too long");

	for (size_t i = 0; i < nkeys; i++) {
		rc = vouch_key_load_public(key_paths[i], &keys[i], &err);
		if (rc != VOUCH_OK)
			goto fail;
	}
	rc = vouch_sigfile_read(sig_path, &sf, &err);
	if (rc != VOUCH_OK)
		goto fail;
	rc = vouch_sigfile_verify_sigs(sf, (const struct vouch_key *const *)keys, nkeys, threshold,
				       &valid, &err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(&err, "%s: ", sig_path);
		goto fail;
	}
	/* Only now is anything in "signed" trusted enough to compare. */
	rc = vouch_sigfile_hash_file_max(file, vouch_sigfile_length(sf), &d, &err);
	if (rc == VOUCH_OK)
		rc = vouch_sigfile_check_file(sf, file, &d, &err);
	if (rc != VOUCH_OK)
		goto fail;
	if (json)
		print_json_result(file, sig_path, NULL, threshold, valid, sf);
	else
		puts("OK");
	goto out;
fail:
	if (json)
		print_json_result(file, sig_path, &err, threshold, valid, NULL);
	code = cli_fail(&err);
out:
	vouch_sigfile_free(sf);
	for (size_t i = 0; i < nkeys; i++)
		vouch_key_free(keys[i]);
	return code;
}
