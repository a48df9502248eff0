/* Bounded fetching over libcurl: file://, http://, https://.
 *
 * Everything that arrives is counted against a ceiling before it is kept,
 * so a server sending endless data costs us at most max bytes (plus one
 * libcurl buffer), and a low-speed limit aborts a server that trickles.
 *
 * libcurl is loaded with dlopen() on the first fetch, not linked: it pulls
 * in some 25 shared libraries (TLS, Kerberos, LDAP, SSH, ...) whose
 * relocated pages would count in the memory of every command, also of
 * `vouch sign` and `vouch verify`, which never use the network. We use its
 * header for types and constants only; every call goes through `curl`
 * below. Without the typecheck macros of <curl/curl.h> (they name the real
 * functions), each setopt argument must have the documented type: long,
 * curl_off_t, a pointer. */
#define CURL_DISABLE_TYPECHECK 1

#include "vouch/fetch.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef VOUCH_VERSION
#define VOUCH_VERSION "0"
#endif

/* libcurl's receive buffer (its maximum is 10 MiB, its default 16 KiB). */
#define VOUCH_FETCH_BUFFER_SIZE (256L * 1024)

/* The soname of libcurl's ABI 4 (Debian: package libcurl4). */
#define LIBCURL_SONAME "libcurl.so.4"

/* The libcurl functions we call, resolved once by curl_load(). */
static struct {
	CURLcode (*global_init)(long flags);
	const char *(*easy_strerror)(CURLcode cc);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	CURLcode (*easy_perform)(CURL *c);
	void (*easy_cleanup)(CURL *c);
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
/* Set once by curl_load() (pthread_once orders it before every reader). */
static enum vouch_rc curl_load_rc = VOUCH_OK;
static char curl_load_msg[256];

/* Resolves one symbol into a function pointer of the field's type
 * (POSIX guarantees that dlsym's void * converts to a function pointer). */
#define CURL_SYM(h, field, name)                                                                   \
	((curl.field = (__typeof__(curl.field))dlsym(h, name)) != NULL || (missing = name, 0))

static void curl_load(void)
{
	const char *missing = NULL;
	dlerror();
	void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *why = dlerror();
		curl_load_rc = VOUCH_E_IO;
		snprintf(curl_load_msg, sizeof(curl_load_msg),
			 "network access needs " LIBCURL_SONAME
			 " (Debian package libcurl4), which cannot be loaded: %s",
			 why != NULL ? why : "unknown error");
		return;
	}
	if (!(CURL_SYM(h, global_init, "curl_global_init") &&
	      CURL_SYM(h, easy_strerror, "curl_easy_strerror") &&
	      CURL_SYM(h, easy_init, "curl_easy_init") &&
	      CURL_SYM(h, easy_setopt, "curl_easy_setopt") &&
	      CURL_SYM(h, easy_getinfo, "curl_easy_getinfo") &&
	      CURL_SYM(h, easy_perform, "curl_easy_perform") &&
	      CURL_SYM(h, easy_cleanup, "curl_easy_cleanup"))) {
		curl_load_rc = VOUCH_E_IO;
		snprintf(curl_load_msg, sizeof(curl_load_msg),
			 LIBCURL_SONAME " lacks %s: not libcurl ABI 4 (Debian package libcurl4)",
			 missing);
		/* Never call into a half-resolved library; keep it loaded
		 * (its constructors ran) but unused. */
		return;
	}
	CURLcode cc = curl.global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK) {
		curl_load_rc = VOUCH_E_NETWORK;
		snprintf(curl_load_msg, sizeof(curl_load_msg), "cannot initialise libcurl: %s",
			 curl.easy_strerror(cc));
	}
}

#undef CURL_SYM

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return def;
	char *end = NULL;
	long n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0)
		return def;
	return n;
}

void vouch_fetch_opts_default(struct vouch_fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout =
	    env_long("VOUCH_FETCH_CONNECT_TIMEOUT", VOUCH_FETCH_DEFAULT_CONNECT_TIMEOUT);
	o->timeout = env_long("VOUCH_FETCH_TIMEOUT", VOUCH_FETCH_DEFAULT_TIMEOUT);
	o->low_speed_limit =
	    env_long("VOUCH_FETCH_LOW_SPEED_LIMIT", VOUCH_FETCH_DEFAULT_LOW_SPEED_LIMIT);
	o->low_speed_time =
	    env_long("VOUCH_FETCH_LOW_SPEED_TIME", VOUCH_FETCH_DEFAULT_LOW_SPEED_TIME);
	const char *ca = getenv("VOUCH_FETCH_CA_FILE");
	o->ca_file = ca != NULL && *ca != '\0' ? ca : NULL;
}

struct xfer {
	CURL *curl;
	const char *url;
	uint64_t offset; /* first byte of the resource the caller wants */
	uint64_t max;	 /* ceiling on the resource's length */
	uint64_t skip;	 /* bytes still to discard (server ignored Range) */
	uint64_t have;	 /* bytes of the resource held by the caller */
	uint64_t total;	 /* resource length when announced, else 0 */
	int started;	 /* first body byte seen, status checked */
	int is_http;
	int range_honoured;
	/* Content-Range of the last response */
	int cr_valid;
	uint64_t cr_start, cr_total;
	/* why the write callback stopped the transfer */
	int over;
	int bad_reply;
	char bad_msg[160];
	enum vouch_rc cb_rc;
	struct vouch_err cb_err;
	vouch_fetch_write_cb write_cb;
	vouch_fetch_progress_cb progress;
	void *ctx;
};

static int parse_u64(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	if (*s < '0' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return 1;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n;
	char line[256];
	size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, data, l);
	line[l] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or 100-continue). */
		x->cr_valid = 0;
		return len;
	}
	static const char cr[] = "content-range:";
	if (strncasecmp(line, cr, sizeof(cr) - 1) == 0) {
		const char *p = line + sizeof(cr) - 1;
		uint64_t start = 0, end = 0, total = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		x->cr_valid = 0;
		if (strncasecmp(p, "bytes ", 6) != 0)
			return len;
		p += 6;
		if (!parse_u64(&p, &start) || *p++ != '-' || !parse_u64(&p, &end) || *p++ != '/')
			return len;
		if (*p != '*' && !parse_u64(&p, &total))
			return len;
		if (end < start)
			return len;
		x->cr_valid = 1;
		x->cr_start = start;
		x->cr_total = total;
	}
	return len;
}

/* First body bytes: decide how the reply relates to what we asked. */
static int check_reply(struct xfer *x)
{
	long code = 0;
	curl_off_t cl = -1;
	curl.easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
	curl.easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	x->started = 1;
	if (!x->is_http) {
		x->range_honoured = 1;
		if (cl >= 0)
			x->total = x->offset + (uint64_t)cl;
		return 1;
	}
	if (code < 200 || code > 299) {
		/* FAILONERROR handles >= 400; a 304, or a 3xx libcurl did not
		 * follow, is no resource (and not an empty one). */
		x->bad_reply = 1;
		snprintf(x->bad_msg, sizeof(x->bad_msg), "unexpected HTTP status %ld", code);
		return 0;
	}
	if (code == 206) {
		if (x->offset == 0 && !x->cr_valid)
			goto bad206;
		if (!x->cr_valid || x->cr_start != x->offset)
			goto bad206;
		x->range_honoured = 1;
		x->total = x->cr_total;
		return 1;
	}
	/* 200 (or another 2xx): the whole resource from byte 0. */
	x->range_honoured = x->offset == 0;
	x->skip = x->offset;
	if (cl >= 0)
		x->total = (uint64_t)cl;
	if (x->total > x->max) {
		x->over = 1;
		return 0;
	}
	return 1;
bad206:
	x->bad_reply = 1;
	snprintf(x->bad_msg, sizeof(x->bad_msg),
		 "partial reply does not start at byte %" PRIu64 " (Content-Range)", x->offset);
	return 0;
}

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n;
	if (!x->started && !check_reply(x))
		return 0;
	if (x->skip > 0) {
		size_t s = x->skip < len ? (size_t)x->skip : len;
		data += s;
		len -= s;
		x->skip -= s;
		if (len == 0)
			return size * n;
	}
	if (len > x->max || x->have > x->max - len) {
		x->over = 1;
		return 0;
	}
	x->cb_rc = x->write_cb(x->ctx, data, len, &x->cb_err);
	if (x->cb_rc != VOUCH_OK)
		return 0;
	x->have += len;
	if (x->progress != NULL)
		x->progress(x->ctx, x->have, x->total);
	return size * n;
}

static enum vouch_rc map_error(struct xfer *x, CURLcode cc, const char *ebuf, struct vouch_err *err)
{
	long code = 0;
	const char *why = ebuf[0] ? ebuf : curl.easy_strerror(cc);
	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (x->over)
			goto over;
		if (x->cb_rc != VOUCH_OK) {
			if (err != NULL)
				*err = x->cb_err;
			return x->cb_rc;
		}
		if (x->bad_reply)
			return vouch_err_set(err, VOUCH_E_NETWORK, "%s: %s", x->url, x->bad_msg);
		break;
	case CURLE_FILESIZE_EXCEEDED:
		goto over;
	case CURLE_HTTP_RETURNED_ERROR:
		curl.easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
		/* Object stores answer 403 for a missing key when listing is
		 * not allowed (python-tuf ends the root walk on 403 too). */
		if (code == 404 || code == 410 || code == 403)
			return vouch_err_set(err, VOUCH_E_NOTFOUND, "%s: not found (HTTP %ld)",
					     x->url, code);
		if (code == 416)
			return vouch_err_set(err, VOUCH_E_NETWORK,
					     "%s: server cannot send from byte %" PRIu64
					     " (HTTP 416)",
					     x->url, x->offset);
		return vouch_err_set(err, VOUCH_E_NETWORK, "%s: HTTP error %ld", x->url, code);
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return vouch_err_set(err, VOUCH_E_NOTFOUND, "%s: not found", x->url);
	case CURLE_OPERATION_TIMEDOUT:
		return vouch_err_set(err, VOUCH_E_NETWORK,
				     "%s: too slow or timed out (slow retrieval?): %s", x->url,
				     why);
	default:
		break;
	}
	return vouch_err_set(err, VOUCH_E_NETWORK, "%s: %s", x->url, why);
over:
	return vouch_err_set(err, VOUCH_E_LIMIT,
			     "%s: more than %" PRIu64 " bytes (endless data attack?)", x->url,
			     x->max);
}

enum vouch_rc vouch_fetch_stream(const char *url, uint64_t offset, uint64_t max,
				 const struct vouch_fetch_opts *o, vouch_fetch_write_cb write_cb,
				 vouch_fetch_progress_cb progress, void *ctx, int *range_honoured,
				 struct vouch_err *err)
{
	struct vouch_fetch_opts def;
	struct xfer x;
	char ebuf[CURL_ERROR_SIZE] = "";
	char range[48];
	char ua[64];
	enum vouch_rc rc = VOUCH_OK;
	CURLcode cc = CURLE_OK;
	if (o == NULL) {
		vouch_fetch_opts_default(&def);
		o = &def;
	}
	if (offset > max)
		return vouch_err_set(err, VOUCH_E_USAGE, "%s: offset beyond the size limit", url);
	memset(&x, 0, sizeof(x));
	x.url = url;
	x.offset = offset;
	x.max = max;
	x.have = offset;
	x.write_cb = write_cb;
	x.progress = progress;
	x.ctx = ctx;
	x.is_http = strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
	if (!x.is_http && strncasecmp(url, "file://", 7) != 0)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "%s: only file://, http:// and https:// URLs are supported",
				     url);
	/* The first fetch loads libcurl (see the top of this file). */
	pthread_once(&curl_once, curl_load);
	if (curl_load_rc != VOUCH_OK)
		return vouch_err_set(err, curl_load_rc, "%s: %s", url, curl_load_msg);
	x.curl = curl.easy_init();
	if (x.curl == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "cannot start a transfer");
	snprintf(ua, sizeof(ua), "vouch/%s", VOUCH_VERSION);
	CURL *c = x.curl;
	int ok = curl.easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "file,http,https") == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_FAILONERROR, 1L) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_WRITEDATA, &x) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_HEADERDATA, &x) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua) ==
		     CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_TIMEOUT, o->timeout) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit) == CURLE_OK &&
		 curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time) == CURLE_OK &&
		 /* Fewer, larger receives per GiB. libcurl still hands the
		  * write callback at most CURL_MAX_WRITE_SIZE (16 KiB) at a
		  * time, and on_write checks every chunk against max before
		  * any byte reaches write_cb. */
		 curl.easy_setopt(c, CURLOPT_BUFFERSIZE, VOUCH_FETCH_BUFFER_SIZE) == CURLE_OK;
	if (ok && o->ca_file != NULL)
		ok = curl.easy_setopt(c, CURLOPT_CAINFO, o->ca_file) == CURLE_OK;
	/* With a known Content-Length libcurl refuses too large a resource
	 * before reading it; only meaningful when we ask for all of it. */
	if (ok && offset == 0 && max < (uint64_t)INT64_MAX)
		ok = curl.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) == CURLE_OK;
	if (ok && offset > 0) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", offset);
		ok = curl.easy_setopt(c, CURLOPT_RANGE, range) == CURLE_OK;
	}
	if (!ok) {
		rc = vouch_err_set(err, VOUCH_E_INTERNAL, "%s: cannot configure the transfer", url);
		goto out;
	}
	cc = curl.easy_perform(c);
	if (cc != CURLE_OK) {
		rc = map_error(&x, cc, ebuf, err);
		goto out;
	}
	if (!x.started && !check_reply(&x)) {
		/* Empty body: still check the reply (a 206 for nothing). */
		rc = x.over ? map_error(&x, CURLE_WRITE_ERROR, ebuf, err)
			    : vouch_err_set(err, VOUCH_E_NETWORK, "%s: %s", url, x.bad_msg);
		goto out;
	}
	if (x.skip > 0) {
		rc = vouch_err_set(err, VOUCH_E_NETWORK,
				   "%s: resource is shorter than the resume offset %" PRIu64, url,
				   offset);
		goto out;
	}
	if (range_honoured != NULL)
		*range_honoured = x.range_honoured;
out:
	curl.easy_cleanup(c);
	return rc;
}

static enum vouch_rc append_cb(void *ctx, const void *data, size_t n, struct vouch_err *err)
{
	return vouch_buf_append(ctx, data, n, err);
}

enum vouch_rc vouch_fetch(const char *url, size_t max, const struct vouch_fetch_opts *o,
			  struct vouch_buf *out, struct vouch_err *err)
{
	enum vouch_rc rc =
	    vouch_fetch_stream(url, 0, (uint64_t)max, o, append_cb, NULL, out, NULL, err);
	if (rc != VOUCH_OK)
		vouch_buf_free(out);
	return rc;
}

enum vouch_rc vouch_url_encode(const char *s, int keep_slash, struct vouch_buf *out,
			       struct vouch_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	enum vouch_rc rc = VOUCH_OK;
	for (const unsigned char *p = (const unsigned char *)s; *p && rc == VOUCH_OK; p++) {
		unsigned char ch = *p;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
		    (ch == '/' && keep_slash)) {
			rc = vouch_buf_append(out, p, 1, err);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			rc = vouch_buf_append(out, e, 3, err);
		}
	}
	/* Leave a valid empty string for "". */
	if (rc == VOUCH_OK && out->data == NULL) {
		rc = vouch_buf_reserve(out, 0, err);
		if (rc == VOUCH_OK)
			out->data[0] = '\0';
	}
	return rc;
}
