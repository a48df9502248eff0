/* vouch-agent — installers: where the verified stream goes.
 *
 *   raw      the image into the inactive slot (file or block device); the
 *            slot is fsynced, re-read and re-hashed before it may be booted
 *   archive  a tar (any compression libarchive reads) into a fresh
 *            directory beside the live one, confined to it; the live path is
 *            a symlink swapped atomically
 *   script   the verified stream piped to the integrator's command
 *
 * None of them switches anything on failure; the caller owns switching. */
#ifndef VOUCH_AGENT_INSTALL_H
#define VOUCH_AGENT_INSTALL_H

#include <stdint.h>

#include "config.h"
#include "vouch/pipeline.h"

/* Most bytes an archive may expand to, as a multiple of its signed size
 * (plus 64 MiB), and most entries. */
#define AGENT_ARCHIVE_MAX_RATIO 100
#define AGENT_ARCHIVE_MAX_ENTRIES 1000000

/* Writes the pipeline's output into slot (file or block device), refusing
 * an image larger than the slot (VOUCH_E_LIMIT) before downloading; then
 * fsync, re-read and re-hash. size_hint is the size of what will be
 * written (the signed length, or the plaintext length when decrypting).
 * When decrypting (po->stage), the plaintext is not hashed while it
 * streams: the re-read is checked against po->out_sha256, the signed
 * plaintext sha256 (out_checked_by_reread). */
enum vouch_rc agent_install_raw(const char *slot, uint64_t size_hint,
				const struct vouch_pipeline_opts *po,
				struct vouch_pipeline_result *res, struct vouch_err *err) VOUCH_WUR;

/* The release directory of an archive with this sha256 (hex): "DIR.HEX16".
 * *out malloc'd. */
enum vouch_rc agent_archive_release_dir(const char *dir, const char *sha256_hex, char **out,
					struct vouch_err *err) VOUCH_WUR;
/* Extracts the stream into release_dir (recreated empty), refusing absolute
 * paths, "..", links escaping the directory, device nodes, fifos and
 * sockets (VOUCH_E_DENIED), then syncs it. Removes it on failure. */
enum vouch_rc agent_install_archive(const char *release_dir, const struct vouch_pipeline_opts *po,
				    struct vouch_pipeline_result *res,
				    struct vouch_err *err) VOUCH_WUR;
/* Points the symlink dir at release_dir atomically (new link, rename over,
 * fsync of the parent). */
enum vouch_rc agent_archive_switch(const char *dir, const char *release_dir,
				   struct vouch_err *err) VOUCH_WUR;
/* The directory the symlink dir points to (absolute, as stored) or NULL. */
char *agent_archive_current(const char *dir);
/* rm -rf of a release directory (no symlinks followed). */
void agent_remove_tree(const char *path);

/* Downloads and verifies into spool_path, then runs command with the
 * verified bytes on its stdin and env added. Exit status 0 = installed.
 * A command still running after timeout seconds (feeding its stdin
 * included), or when the spool cannot be read back, is killed with its
 * process group before its stdin is closed, and the install fails. */
enum vouch_rc agent_install_script(const char *command, char *const env[], const char *spool_path,
				   int timeout, const struct vouch_pipeline_opts *po,
				   struct vouch_pipeline_result *res,
				   struct vouch_err *err) VOUCH_WUR;

#endif
