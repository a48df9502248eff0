/* vouch — fetching bytes from file://, http:// and https:// URLs (libcurl),
 * bounded in size and in time.
 *
 * Every fetch has a hard byte ceiling (the transfer is aborted as soon as
 * one byte more arrives: "endless data"), a connect timeout, an optional
 * total timeout, and a minimum transfer speed (fewer than low_speed_limit
 * bytes/s during low_speed_time seconds aborts: "slow retrieval").
 *
 * Errors: HTTP 404/410 (and 403, which object stores send for a missing
 * key) or a missing file -> VOUCH_E_NOTFOUND; more bytes
 * than allowed -> VOUCH_E_LIMIT; too slow, timed out, unreachable, other
 * HTTP errors, and a status outside 2xx that is not followed (304, a 3xx
 * without Location) -> VOUCH_E_NETWORK. Messages name the URL. Redirects
 * (at most 5) may only go to http:// or https://, never to file://. No
 * content or transfer encoding is requested or undone: the ceiling counts
 * the bytes as sent.
 *
 * Environment overrides (tests and field debugging; read by
 * vouch_fetch_opts_default()): VOUCH_FETCH_CONNECT_TIMEOUT (seconds),
 * VOUCH_FETCH_TIMEOUT (seconds, 0 = none), VOUCH_FETCH_LOW_SPEED_LIMIT
 * (bytes/s), VOUCH_FETCH_LOW_SPEED_TIME (seconds), VOUCH_FETCH_CA_FILE. */
#ifndef VOUCH_FETCH_H
#define VOUCH_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "vouch/buf.h"
#include "vouch/error.h"

#define VOUCH_FETCH_DEFAULT_CONNECT_TIMEOUT 15	 /* s */
#define VOUCH_FETCH_DEFAULT_TIMEOUT 0		 /* s, none: big images take long */
#define VOUCH_FETCH_DEFAULT_LOW_SPEED_LIMIT 1024 /* bytes/s ... */
#define VOUCH_FETCH_DEFAULT_LOW_SPEED_TIME 30	 /* ... during this many s */

struct vouch_fetch_opts {
	long connect_timeout;	/* seconds; 0 = libcurl's default */
	long timeout;		/* seconds for the whole transfer; 0 = none */
	long low_speed_limit;	/* bytes/s; 0 disables the speed check */
	long low_speed_time;	/* seconds */
	const char *ca_file;	/* PEM bundle for https; NULL = system store */
	const char *user_agent; /* NULL = "vouch/VERSION" */
};

/* Fills o with the defaults above, then applies the VOUCH_FETCH_* environment
 * variables that are set (malformed values are ignored). */
void vouch_fetch_opts_default(struct vouch_fetch_opts *o);

/* Fetches url into out (appended; pass an empty buffer). At most max bytes
 * are accepted: the transfer stops with VOUCH_E_LIMIT as soon as more
 * arrive (or when the announced Content-Length is larger). o may be NULL
 * (defaults). On failure out is left empty. */
enum vouch_rc vouch_fetch(const char *url, size_t max, const struct vouch_fetch_opts *o,
			  struct vouch_buf *out, struct vouch_err *err) VOUCH_WUR;

/* Receives the next n bytes of a streamed resource. Returning anything but
 * VOUCH_OK aborts the transfer and vouch_fetch_stream() returns that error. */
typedef enum vouch_rc (*vouch_fetch_write_cb)(void *ctx, const void *data, size_t n,
					      struct vouch_err *err);
/* Progress: bytes of the resource held so far (offset included) and the
 * resource's total length when known (else 0). Informational only. */
typedef void (*vouch_fetch_progress_cb)(void *ctx, uint64_t have, uint64_t total);

/* Streams url to write_cb, starting at byte `offset` of the resource (HTTP:
 * `Range: bytes=OFFSET-`, checked against a 206 reply's Content-Range; a
 * server that ignores Range and sends the whole resource with 200 is
 * handled by discarding the first OFFSET bytes, so the callback always sees
 * the resource from OFFSET on; *range_honoured, if not NULL, says which).
 * max caps the resource's total length: more than max - offset bytes
 * delivered -> VOUCH_E_LIMIT. progress may be NULL. */
enum vouch_rc vouch_fetch_stream(const char *url, uint64_t offset, uint64_t max,
				 const struct vouch_fetch_opts *o, vouch_fetch_write_cb write_cb,
				 vouch_fetch_progress_cb progress, void *ctx, int *range_honoured,
				 struct vouch_err *err) VOUCH_WUR;

/* Appends s to out percent-encoded: every byte outside RFC 3986's
 * unreserved set (A-Z a-z 0-9 - . _ ~) becomes %XX, except '/' when
 * keep_slash is set (target paths keep their directories; role names are
 * encoded whole, as python-tuf does). */
enum vouch_rc vouch_url_encode(const char *s, int keep_slash, struct vouch_buf *out,
			       struct vouch_err *err) VOUCH_WUR;

#endif
