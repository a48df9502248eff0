/* vouch — detached signature files for single files (`vouch sign`).
 *
 * A small JSON document in TUF style (docs/formats.md, "Signature file"):
 *
 *   {"signed": {"_type": "vouch-file-signature", "name": "fw.bin",
 *               "length": 1234, "hashes": {"sha256": "...", "sha512": "..."}},
 *    "signatures": [{"keyid": "...", "sig": "..."}]}
 *
 * Signatures are over the canonical JSON (vouch_canon_encode) of "signed".
 * Everything read from a signature file is untrusted: the parser is bounded
 * (VOUCH_SIGFILE_MAX bytes, VOUCH_SIGFILE_MAX_SIGS entries), rejects
 * duplicate keys, unknown or missing fields and trailing bytes, and no field
 * of "signed" is acted on before a threshold of signatures is checked. */
#ifndef VOUCH_SIGFILE_H
#define VOUCH_SIGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/buf.h"
#include "vouch/error.h"
#include "vouch/hash.h"
#include "vouch/key.h"

/* The value of signed._type. */
#define VOUCH_SIGFILE_TYPE "vouch-file-signature"
/* Largest signature file accepted (bytes). */
#define VOUCH_SIGFILE_MAX (64u * 1024)
/* Most entries in "signatures". */
#define VOUCH_SIGFILE_MAX_SIGS 64
/* Longest file name (bytes) in signed.name. */
#define VOUCH_SIGFILE_MAX_NAME 255
/* Most keys verify accepts (and so the largest threshold). */
#define VOUCH_SIGFILE_MAX_KEYS 64

struct vouch_sigfile;

/* Hashes a file with SHA-256 and SHA-512 at once (both digests and the
 * length set in out), streaming in constant memory: the two hashes run on
 * two threads over a small ring of read buffers, so the wall time is that
 * of the slower hash rather than their sum. */
enum vouch_rc vouch_sigfile_hash_file(const char *path, struct vouch_digests *out,
				      struct vouch_err *err) VOUCH_WUR;

/* The same, reading at most max+1 bytes: a file longer than max gives
 * out->length == max + 1 (digests of that prefix), so that verifying
 * against a signed length never streams an endless or huge input. */
enum vouch_rc vouch_sigfile_hash_file_max(const char *path, uint64_t max, struct vouch_digests *out,
					  struct vouch_err *err) VOUCH_WUR;

/* A new signature file with no signatures for a file called name (a base
 * name: no '/', no control characters, 1..VOUCH_SIGFILE_MAX_NAME bytes)
 * with the length and both hashes in d (d->algs must hold both). The caller
 * frees *out with vouch_sigfile_free(). */
enum vouch_rc vouch_sigfile_new(const char *name, const struct vouch_digests *d,
				struct vouch_sigfile **out, struct vouch_err *err) VOUCH_WUR;

/* Parses an untrusted signature file held in data[0..len). VOUCH_E_LIMIT
 * when larger than VOUCH_SIGFILE_MAX or with more than
 * VOUCH_SIGFILE_MAX_SIGS signatures; VOUCH_E_FORMAT for anything else that
 * is not exactly the format (messages name the field). Entries for the same
 * key id are kept as they are (verify counts each key once). On success the
 * caller frees *out with vouch_sigfile_free(); on failure *out is
 * untouched. */
enum vouch_rc vouch_sigfile_parse(const void *data, size_t len, struct vouch_sigfile **out,
				  struct vouch_err *err) VOUCH_WUR;

/* Reads (bounded) and parses a signature file. A missing file gives
 * VOUCH_E_VERIFY ("no signature file"), because a missing signature is a
 * rejected file, not a system error. Messages are prefixed with path. */
enum vouch_rc vouch_sigfile_read(const char *path, struct vouch_sigfile **out,
				 struct vouch_err *err) VOUCH_WUR;

/* The canonical JSON of "signed" (the bytes signatures cover), appended to
 * out. */
enum vouch_rc vouch_sigfile_signed_bytes(const struct vouch_sigfile *sf, struct vouch_buf *out,
					 struct vouch_err *err) VOUCH_WUR;

/* The document as people read it (pretty JSON, sorted keys, newline),
 * appended to out. */
enum vouch_rc vouch_sigfile_serialize(const struct vouch_sigfile *sf, struct vouch_buf *out,
				      struct vouch_err *err) VOUCH_WUR;

/* Serialises and writes the document atomically (temp file, fsync, rename,
 * fsync of the directory), mode 0644. */
enum vouch_rc vouch_sigfile_write(const struct vouch_sigfile *sf, const char *path,
				  struct vouch_err *err) VOUCH_WUR;

/* VOUCH_OK when the "signed" part describes exactly the file at path with
 * digests d (same length, both hashes, and path's base name as the name,
 * checked in that order); else VOUCH_E_VERIFY with a message naming path
 * and the first difference ("fw.bin: sha256 does not match the signature
 * file (file changed since signing?)"). Only call it after
 * vouch_sigfile_verify_sigs() when the result is acted on. */
enum vouch_rc vouch_sigfile_check_file(const struct vouch_sigfile *sf, const char *path,
				       const struct vouch_digests *d,
				       struct vouch_err *err) VOUCH_WUR;

/* Signs "signed" with key, checks the new signature with the key's public
 * half, and adds it; an existing entry for the same key id is replaced (a
 * key signs once). VOUCH_E_LIMIT when the file
 * already holds VOUCH_SIGFILE_MAX_SIGS other signatures. */
enum vouch_rc vouch_sigfile_add_signature(struct vouch_sigfile *sf, const struct vouch_key *key,
					  struct vouch_err *err) VOUCH_WUR;

/* Counts the DISTINCT key ids among keys[0..nkeys) that made a valid
 * signature over "signed" (a key listed twice, or with two entries, counts
 * once). VOUCH_OK when the count is at least threshold (>= 1), else
 * VOUCH_E_VERIFY "signature threshold 2 not met (1 valid of 3 keys)".
 * *valid (may be NULL) gets the count either way. */
enum vouch_rc vouch_sigfile_verify_sigs(const struct vouch_sigfile *sf,
					const struct vouch_key *const *keys, size_t nkeys,
					unsigned threshold, size_t *valid,
					struct vouch_err *err) VOUCH_WUR;

/* The whole check `vouch verify` makes: reads sig_path, verifies the
 * threshold of signatures by keys, then (and only then) streams file_path
 * and checks its base name, length and both hashes. *valid as above. */
enum vouch_rc vouch_sigfile_verify_file(const char *file_path, const char *sig_path,
					const struct vouch_key *const *keys, size_t nkeys,
					unsigned threshold, size_t *valid,
					struct vouch_err *err) VOUCH_WUR;

/* Accessors; strings are owned by sf. */
const char *vouch_sigfile_name(const struct vouch_sigfile *sf);
uint64_t vouch_sigfile_length(const struct vouch_sigfile *sf);
const char *vouch_sigfile_sha256_hex(const struct vouch_sigfile *sf);
const char *vouch_sigfile_sha512_hex(const struct vouch_sigfile *sf);
size_t vouch_sigfile_count(const struct vouch_sigfile *sf);
/* Key id (hex) of signature entry i < vouch_sigfile_count(). */
const char *vouch_sigfile_keyid(const struct vouch_sigfile *sf, size_t i);

void vouch_sigfile_free(struct vouch_sigfile *sf);

/* The base name of a path as it goes into signed.name ("dir/fw.bin" ->
 * "fw.bin"; trailing slashes are not a file). Owned by path. */
const char *vouch_sigfile_basename(const char *path);

#endif
