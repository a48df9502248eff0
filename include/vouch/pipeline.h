/* vouch — the streaming install pipeline: download -> (decrypt) -> hash ->
 * write, in bounded memory whatever the image size.
 *
 *   url --fetch (HTTP Range resume, signed length as a hard cap)-->
 *       hash of what was downloaded (checked against the SIGNED hashes)
 *   --stage (optional: decryption; see vouch_pipeline_stage)-->
 *       hash of what is written (sha256; equal to the signed hash when
 *       there is no stage, else checked against the expected plaintext,
 *       here or on the caller's re-read: out_checked_by_reread)
 *   --sink (installer: slot, directory, command)
 *
 * Nothing here makes the written bytes bootable: the caller (the agent's
 * installer) fsyncs its sink, re-reads and re-hashes it
 * (vouch_pipeline_verify_file for a slot), and only then switches. The
 * standalone agent and the server-directed mode both use this module. */
#ifndef VOUCH_PIPELINE_H
#define VOUCH_PIPELINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vouch/error.h"
#include "vouch/fetch.h"
#include "vouch/hash.h"

/* Bytes a sink or stage is handed at once, at most (bounded memory). */
#define VOUCH_PIPELINE_CHUNK (256u * 1024)

/* Receives the verified-so-far stream in order. Returning an error aborts
 * the pipeline with it. */
typedef enum vouch_rc (*vouch_pipeline_write_fn)(void *ctx, const void *p, size_t n,
						 struct vouch_err *err);

/* An optional transform between the download and the sink, e.g. the
 * streaming decryptor. update() gets downloaded bytes and calls emit() with
 * output bytes (any number of times, any sizes); final() is called once
 * after the last byte and must fail when the stream is incomplete or does
 * not authenticate. Both may be called with output pending. */
struct vouch_pipeline_stage {
	void *ctx;
	enum vouch_rc (*update)(void *ctx, const void *in, size_t n, vouch_pipeline_write_fn emit,
				void *emit_ctx, struct vouch_err *err);
	enum vouch_rc (*final)(void *ctx, vouch_pipeline_write_fn emit, void *emit_ctx,
			       struct vouch_err *err);
};

struct vouch_pipeline_opts {
	const char *url;      /* where the signed bytes are */
	uint64_t length;      /* signed length: exact, and a hard cap */
	const json_t *hashes; /* signed hashes {alg: hex}; sha256/sha512 */
	struct vouch_fetch_opts fetch;
	unsigned retries;  /* Range resumes after an interrupted transfer */
	int progress;	   /* 1: progress bar on stderr when it is a terminal */
	const char *label; /* for the progress bar and messages */
	const struct vouch_pipeline_stage *stage; /* NULL: write what is downloaded */
	/* With a stage: the expected output (e.g. plaintext) length and
	 * sha256, checked after final(). Ignored without a stage. */
	uint64_t out_length;
	const uint8_t *out_sha256;
	/* 1: the caller re-reads everything the sink received and checks it
	 * against out_sha256 before using it (the raw installer's
	 * vouch_pipeline_verify_file), so the output is not hashed here: the
	 * output length is still enforced (never more than out_length while
	 * streaming, exactly out_length at the end), res->out_sha256 is set to
	 * out_sha256 itself, and the two threads split the signed input hashes
	 * as without a stage. Requires a stage and out_sha256 (VOUCH_E_USAGE
	 * otherwise). A caller that does not re-read (archive, script) must
	 * leave it 0: the output would then be used unchecked. */
	int out_checked_by_reread;
};

struct vouch_pipeline_result {
	uint64_t downloaded; /* bytes received over the network, resumes included */
	unsigned resumes;    /* how many Range resumes were needed */
	uint64_t out_length; /* bytes handed to the sink */
	/* sha256 of those bytes; with out_checked_by_reread, the expected
	 * out_sha256 (not yet checked: the caller's re-read does it) */
	uint8_t out_sha256[VOUCH_SHA256_LEN];
};

/* Fills o with defaults: vouch_fetch_opts_default(), 5 retries, no
 * progress, no stage. */
void vouch_pipeline_opts_default(struct vouch_pipeline_opts *o);

/* Runs the pipeline into sink(sink_ctx). Fails with VOUCH_E_VERIFY when the
 * downloaded bytes do not match the signed length or hashes, or the stage's
 * output does not match out_length/out_sha256; VOUCH_E_LIMIT when the
 * server sends more than the signed length; VOUCH_E_NETWORK when the
 * transfer fails more than retries times. The sink has then received
 * unverified bytes: the caller must discard them (never switch to them). */
enum vouch_rc vouch_pipeline_run(const struct vouch_pipeline_opts *o, vouch_pipeline_write_fn sink,
				 void *sink_ctx, struct vouch_pipeline_result *res,
				 struct vouch_err *err) VOUCH_WUR;

/* Re-reads the first length bytes of path (a slot: file or block device)
 * from the device, not from the page cache where possible, and checks
 * their sha256. VOUCH_E_VERIFY "PATH: re-read sha256 mismatch" otherwise. */
enum vouch_rc vouch_pipeline_verify_file(const char *path, uint64_t length,
					 const uint8_t sha256[VOUCH_SHA256_LEN],
					 struct vouch_err *err) VOUCH_WUR;

#endif
