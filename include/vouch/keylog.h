/* vouch — the key usage log: who used which key, when, for what.
 *
 * One JSON object per line, appended under an exclusive lock (concurrent
 * signers on one machine), each carrying the sha256 of the previous line so
 * that an edited, removed, reordered or truncated entry is detected. */
#ifndef VOUCH_KEYLOG_H
#define VOUCH_KEYLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"

/* Largest single log line accepted when reading. */
#define VOUCH_KEYLOG_MAX_LINE 8192

struct vouch_keylog_event {
	const char *operation;	       /* "keygen", "sign", "sign-metadata", ... */
	const char *key_id;	       /* TUF key id, or NULL when unknown */
	const char *key_location;      /* "file:PATH" or PKCS#11 URI without PIN */
	const char *subject_name;      /* file name, or metadata role; may be NULL */
	const uint8_t *subject_sha256; /* 32 bytes, or NULL */
	int ok;			       /* 1 success, 0 failure */
	const char *error;	       /* failure reason when !ok, else NULL */
};

/* The log path: explicit if not NULL, else $VOUCH_KEY_LOG, else
 * $XDG_STATE_HOME/vouch/key-usage.log, else
 * $HOME/.local/state/vouch/key-usage.log. Writes into buf. */
enum vouch_rc vouch_keylog_path(const char *explicit_path, char *buf, size_t cap,
				struct vouch_err *err) VOUCH_WUR;

/* Appends one entry (adding time, user, host and the previous entry's
 * sha256). path as from vouch_keylog_path(). Creates the file (0600) and
 * its directory when missing. Holds an exclusive flock() on the log while
 * it reads the last line, writes and fsyncs the new one and replaces the
 * head file. Refuses with VOUCH_E_VERIFY (nothing written) when the last
 * line is incomplete or the head file does not describe it: a damaged log
 * is not extended. ev->key_location is logged without any PKCS#11
 * pin-value. */
enum vouch_rc vouch_keylog_append(const char *path, const struct vouch_keylog_event *ev,
				  struct vouch_err *err) VOUCH_WUR;

/* Checks the whole chain. On VOUCH_E_VERIFY, *bad_line is the 1-based
 * number of the first bad line. *entries gets the number of entries read. */
enum vouch_rc vouch_keylog_verify(const char *path, size_t *entries, size_t *bad_line,
				  struct vouch_err *err) VOUCH_WUR;

/* ---- extensions (docs/formats.md, "Key usage log") ---- */

/* The head file next to the log (PATH.head) records the number of entries
 * and the sha256 of the last line, rewritten atomically under the log's
 * lock after each append, so that removing or editing the LAST entries is
 * detected too. */
#define VOUCH_KEYLOG_HEAD_SUFFIX ".head"

/* What vouch_keylog_verify_status() found. */
struct vouch_keylog_status {
	size_t entries;	   /* entries read and checked */
	size_t bad_line;   /* 1-based first bad line, 0 if none */
	char last[64 + 1]; /* sha256 hex of the last line ("" if none) */
	int head_lags;	   /* the head is one entry behind: an append was
			      interrupted between the log and its head
			      (accepted; the next append repairs it) */
};

/* vouch_keylog_verify() with more detail. On VOUCH_E_VERIFY the message
 * starts with "line N: ". A missing log with no head is VOUCH_E_NOTFOUND. */
enum vouch_rc vouch_keylog_verify_status(const char *path, struct vouch_keylog_status *st,
					 struct vouch_err *err) VOUCH_WUR;

/* Calls cb for each entry in order (line is 1-based; entry is borrowed).
 * Parses and checks each line's fields, not the chain (that is
 * vouch_keylog_verify()). A nonzero return of cb stops the walk and is
 * returned as VOUCH_E_INTERNAL. */
typedef int (*vouch_keylog_cb)(void *ctx, size_t line, json_t *entry);
enum vouch_rc vouch_keylog_foreach(const char *path, vouch_keylog_cb cb, void *ctx,
				   struct vouch_err *err) VOUCH_WUR;

/* The key location to log for a key given as a path or PKCS#11 URI, before
 * (or without) loading it: "file:PATH", or the URI with any pin-value
 * attribute removed. Writes a NUL-terminated string into buf (truncated
 * to cap). vouch_keylog_append() applies the same PIN filter to
 * ev->key_location whatever the caller passes. */
void vouch_keylog_location(const char *path_or_uri, char *buf, size_t cap);

#endif
