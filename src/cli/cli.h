/* vouch CLI: shared helpers for the subcommand files. Only the CLI prints
 * and decides exit codes; the work is in libvouch. */
#ifndef VOUCH_CLI_H
#define VOUCH_CLI_H

#include <stdio.h>

#include "vouch/error.h"
#include "vouch/key.h"

/* Exit codes of every program (README, STYLE.md). */
#define EXIT_OK 0
#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_SYSTEM 3

/* One subcommand: `vouch NAME ...`. argv[0] is NAME. */
struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Prints "vouch: <message>" to stderr and returns the exit code for err. */
int cli_fail(const struct vouch_err *err);
/* Prints "vouch: <formatted>" and a hint to use --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Secret prompt on the controlling terminal, echo off (vouch_secret_cb). */
enum vouch_rc cli_secret_prompt(void *ctx, const char *what, int confirm, char *buf, size_t cap,
				size_t *len, struct vouch_err *err);

/* Fills opts for loading private keys: passphrase file, PKCS#11 module (may
 * be NULL) and the terminal prompt. */
void cli_key_opts(struct vouch_key_opts *opts, const char *passphrase_file,
		  const char *pkcs11_module);

/* Subcommand entry points, one group per file. */
int cmd_keygen(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_repo(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);

/* crypt.c: recipient (encryption) key pair for `vouch keygen --type
 * x25519|p256`: PKCS#8 at out (0600, O_EXCL; scrypt-encrypted unless
 * no_passphrase) and out.pub (PEM SPKI). Returns the exit code. */
/* Appends a keygen record (failure NULL on success) to the key usage log;
 * a log that cannot be written turns an OK *exit_code into an error. */
void cli_log_keygen(const char *logpath, const char *key_id, const char *location,
		    const char *subject, const struct vouch_err *failure, int *exit_code);
int cli_keygen_recipient(const char *type, const char *out, const char *passphrase_file,
			 int no_passphrase, const char *logpath);

/* A progress bar on stderr for long transfers, drawn only when stderr is
 * a terminal (at most 5 times a second). */
struct cli_progress {
	const char *label;
	int tty;
	double start, last;
	uint64_t have, total;
};
void cli_progress_start(struct cli_progress *p, const char *label);
/* A vouch_fetch_progress_cb: ctx is the struct cli_progress. */
void cli_progress_update(void *ctx, uint64_t have, uint64_t total);
/* Draws the final state and ends the line (if anything was drawn). */
void cli_progress_end(struct cli_progress *p);

#endif
