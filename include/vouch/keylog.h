/* vouch — the key usage log: who used which key, when, for what.
 *
 * One JSON object per line, appended under an exclusive lock (concurrent
 * signers on one machine), each carrying the sha256 of the previous line so
 * that an edited, removed, reordered or truncated entry is detected. */
#ifndef VOUCH_KEYLOG_H
#define VOUCH_KEYLOG_H

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
 * its directory when missing. */
enum vouch_rc vouch_keylog_append(const char *path, const struct vouch_keylog_event *ev,
				  struct vouch_err *err) VOUCH_WUR;

/* Checks the whole chain. On VOUCH_E_VERIFY, *bad_line is the 1-based
 * number of the first bad line. *entries gets the number of entries read. */
enum vouch_rc vouch_keylog_verify(const char *path, size_t *entries, size_t *bad_line,
				  struct vouch_err *err) VOUCH_WUR;

#endif
