/* fetch.c: byte caps, error mapping, HTTP Range resume (honoured, ignored,
 * wrong), progress, slow retrieval; against file:// URLs and a tiny HTTP
 * server on 127.0.0.1 run by this test in a thread. */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/fetch.h"

enum mode {
	M_RANGE,
	M_IGNORE,
	M_BADRANGE,
	M_ENDLESS,
	M_404,
	M_TRICKLE,
	M_BIGLEN,
	M_403,
	M_500,
	M_REDIR_FILE,
	M_REDIR_HTTP,
	M_GZIP,
	M_304
};

static struct {
	int fd;
	int port;
	volatile enum mode mode;
	volatile int stop;
	char last_range[64];
	char last_req[2048];
	int nreq;
	pthread_t thread;
} srv;

static const char BODY[] = "0123456789abcdefghijklmnopqrstuvwxyz"; /* 36 bytes */

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void serve_one(int c)
{
	char req[2048];
	size_t n = 0;
	while (n < sizeof(req) - 1) {
		ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	memcpy(srv.last_req, req, n + 1);
	srv.nreq++;
	unsigned long off = 0;
	const char *rg = strstr(req, "Range: bytes=");
	srv.last_range[0] = '\0';
	if (rg != NULL) {
		off = strtoul(rg + 13, NULL, 10);
		snprintf(srv.last_range, sizeof(srv.last_range), "%lu-", off);
	}
	char hdr[256];
	size_t len = sizeof(BODY) - 1;
	switch (srv.mode) {
	case M_404:
	case M_403:
	case M_500:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 srv.mode == M_404   ? 404
			 : srv.mode == M_403 ? 403
					     : 500);
		send_all(c, hdr, strlen(hdr));
		return;
	case M_RANGE:
	case M_BADRANGE:
		if (rg != NULL) {
			unsigned long start = srv.mode == M_BADRANGE ? 0 : off;
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\n"
				 "Content-Range: bytes %lu-%zu/%zu\r\nConnection: close\r\n\r\n",
				 len - start, start, len - 1, len);
			send_all(c, hdr, strlen(hdr));
			send_all(c, BODY + start, len - start);
			return;
		}
		/* fall through */
	case M_IGNORE:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 len);
		send_all(c, hdr, strlen(hdr));
		send_all(c, BODY, len);
		return;
	case M_REDIR_FILE:
	case M_REDIR_HTTP:
		/* A mirror that tries to send the client to a local file (or,
		 * for the control case, to another path of its own). */
		if (srv.mode == M_REDIR_FILE || strstr(req, "GET /moved ") == NULL) {
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: "
				 "0\r\nConnection: close\r\n\r\n",
				 srv.mode == M_REDIR_FILE ? "file:///etc/passwd" : "/moved");
			send_all(c, hdr, strlen(hdr));
			return;
		}
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 len);
		send_all(c, hdr, strlen(hdr));
		send_all(c, BODY, len);
		return;
	case M_GZIP:
		/* Encoded although nobody asked: the bytes must arrive as sent
		 * (not inflated past the cap). */
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
			 "%zu\r\nConnection: close\r\n\r\n",
			 len);
		send_all(c, hdr, strlen(hdr));
		send_all(c, BODY, len);
		return;
	case M_304:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: "
			 "close\r\n\r\n");
		send_all(c, hdr, strlen(hdr));
		return;
	case M_BIGLEN:
		snprintf(
		    hdr, sizeof(hdr),
		    "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n");
		send_all(c, hdr, strlen(hdr));
		return;
	case M_ENDLESS:
	case M_TRICKLE: {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		send_all(c, hdr, strlen(hdr));
		char chunk[4096];
		memset(chunk, 'x', sizeof(chunk));
		for (int i = 0; i < 100000 && !srv.stop; i++) {
			if (srv.mode == M_TRICKLE) {
				if (send(c, chunk, 1, MSG_NOSIGNAL) <= 0)
					return;
				usleep(200000);
				if (i > 50)
					return;
			} else if (send(c, chunk, sizeof(chunk), MSG_NOSIGNAL) <= 0) {
				return;
			}
		}
		return;
	}
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	while (!srv.stop) {
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			continue;
		serve_one(c);
		close(c);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(srv.fd, 8) != 0 || getsockname(srv.fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	srv.port = ntohs(a.sin_port);
	return pthread_create(&srv.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	srv.stop = 1;
	shutdown(srv.fd, SHUT_RDWR);
	/* Wake accept() with one last connection. */
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)srv.port);
	if (c >= 0) {
		(void)connect(c, (struct sockaddr *)&a, sizeof(a));
		close(c);
	}
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	return 0;
}

static void url(char *buf, size_t n)
{
	snprintf(buf, n, "http://127.0.0.1:%d/file", srv.port);
}

struct sink {
	struct vouch_buf b;
	uint64_t last_have, last_total;
	int calls;
	int fail_after;
};

static enum vouch_rc sink_write(void *ctx, const void *data, size_t n, struct vouch_err *err)
{
	struct sink *s = ctx;
	if (s->fail_after && s->b.len + n > (size_t)s->fail_after)
		return vouch_err_set(err, VOUCH_E_IO, "slot full");
	return vouch_buf_append(&s->b, data, n, err);
}

static void sink_progress(void *ctx, uint64_t have, uint64_t total)
{
	struct sink *s = ctx;
	s->last_have = have;
	s->last_total = total;
	s->calls++;
}

static void test_file_urls(void **state)
{
	(void)state;
	char path[] = "/tmp/vouch-test-fetch-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, BODY, sizeof(BODY) - 1), (ssize_t)(sizeof(BODY) - 1));
	close(fd);
	char u[256];
	snprintf(u, sizeof(u), "file://%s", path);
	struct vouch_buf b = {0};
	struct vouch_err err;
	vouch_err_clear(&err);
	assert_int_equal(vouch_fetch(u, 36, NULL, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 36);
	assert_memory_equal(b.data, BODY, 36);
	vouch_buf_free(&b);
	assert_int_equal(vouch_fetch(u, 35, NULL, &b, &err), VOUCH_E_LIMIT);
	assert_non_null(strstr(err.msg, "more than 35 bytes (endless data attack?)"));
	assert_null(b.data);
	/* Resume from an offset. */
	struct sink s;
	memset(&s, 0, sizeof(s));
	int honoured = -1;
	assert_int_equal(
	    vouch_fetch_stream(u, 30, 36, NULL, sink_write, sink_progress, &s, &honoured, &err),
	    VOUCH_OK);
	assert_int_equal(s.b.len, 6);
	assert_memory_equal(s.b.data, "uvwxyz", 6);
	assert_int_equal(honoured, 1);
	assert_int_equal(s.last_have, 36);
	vouch_buf_free(&s.b);
	unlink(path);
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_E_NOTFOUND);
	assert_int_equal(vouch_fetch("ftp://example.org/x", 100, NULL, &b, &err), VOUCH_E_USAGE);
	assert_int_equal(vouch_fetch("gopher://x", 100, NULL, &b, &err), VOUCH_E_USAGE);
}

/* With the 256 KiB receive buffer the byte cap is still exact over a
 * transfer of many buffers, wherever it falls: nothing past it is passed
 * on, and what was passed on is the resource's prefix. */
static void test_large_chunks_keep_the_cap_exact(void **state)
{
	(void)state;
	enum { BIG = 1024 * 1024 + 123 };
	char path[] = "/tmp/vouch-test-fetch-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unsigned char *data = malloc(BIG);
	assert_non_null(data);
	for (size_t i = 0; i < BIG; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	assert_int_equal(write(fd, data, BIG), (ssize_t)BIG);
	close(fd);
	char u[256];
	snprintf(u, sizeof(u), "file://%s", path);
	struct vouch_err err;
	struct sink s;
	memset(&s, 0, sizeof(s));
	vouch_err_clear(&err);
	assert_int_equal(
	    vouch_fetch_stream(u, 0, BIG, NULL, sink_write, sink_progress, &s, NULL, &err),
	    VOUCH_OK);
	assert_int_equal(s.b.len, BIG);
	assert_memory_equal(s.b.data, data, BIG);
	vouch_buf_free(&s.b);
	/* One byte short, the cap inside the last chunk; then inside the first. */
	uint64_t caps[] = {BIG - 1, 1000};
	for (size_t i = 0; i < 2; i++) {
		memset(&s, 0, sizeof(s));
		vouch_err_clear(&err);
		assert_int_equal(vouch_fetch_stream(u, 0, caps[i], NULL, sink_write, sink_progress,
						    &s, NULL, &err),
				 VOUCH_E_LIMIT);
		assert_true(s.b.len <= caps[i]);
		assert_true(s.b.len == 0 || memcmp(s.b.data, data, s.b.len) == 0);
		vouch_buf_free(&s.b);
	}
	free(data);
	unlink(path);
}

static void test_http_basic(void **state)
{
	(void)state;
	char u[128];
	struct vouch_buf b = {0};
	struct vouch_err err;
	vouch_err_clear(&err);
	url(u, sizeof(u));
	srv.mode = M_IGNORE;
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 36);
	vouch_buf_free(&b);
	srv.mode = M_404;
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "not found (HTTP 404)"));
	srv.mode = M_403; /* object stores: a missing key */
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "not found (HTTP 403)"));
	srv.mode = M_500;
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_E_NETWORK);
	assert_non_null(strstr(err.msg, "HTTP error 500"));
	srv.mode = M_ENDLESS;
	assert_int_equal(vouch_fetch(u, 100000, NULL, &b, &err), VOUCH_E_LIMIT);
	assert_non_null(strstr(err.msg, "more than 100000 bytes"));
	assert_null(b.data);
	srv.mode = M_BIGLEN;
	assert_int_equal(vouch_fetch(u, 100000, NULL, &b, &err), VOUCH_E_LIMIT);
}

static void test_http_range(void **state)
{
	(void)state;
	char u[128];
	struct sink s;
	struct vouch_err err;
	int honoured = -1;
	vouch_err_clear(&err);
	url(u, sizeof(u));
	/* Honoured: 206 with the right Content-Range. */
	srv.mode = M_RANGE;
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    vouch_fetch_stream(u, 10, 36, NULL, sink_write, sink_progress, &s, &honoured, &err),
	    VOUCH_OK);
	assert_string_equal(srv.last_range, "10-");
	assert_int_equal(honoured, 1);
	assert_int_equal(s.b.len, 26);
	assert_memory_equal(s.b.data, BODY + 10, 26);
	assert_int_equal(s.last_have, 36);
	assert_int_equal(s.last_total, 36);
	vouch_buf_free(&s.b);
	/* Ignored: 200 with everything; the first bytes are skipped. */
	srv.mode = M_IGNORE;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vouch_fetch_stream(u, 10, 36, NULL, sink_write, NULL, &s, &honoured, &err),
			 VOUCH_OK);
	assert_int_equal(honoured, 0);
	assert_int_equal(s.b.len, 26);
	assert_memory_equal(s.b.data, BODY + 10, 26);
	vouch_buf_free(&s.b);
	/* A 206 that starts elsewhere is refused. */
	srv.mode = M_BADRANGE;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vouch_fetch_stream(u, 10, 36, NULL, sink_write, NULL, &s, &honoured, &err),
			 VOUCH_E_NETWORK);
	assert_non_null(strstr(err.msg, "does not start at byte 10"));
	assert_int_equal(s.b.len, 0);
	vouch_buf_free(&s.b);
	/* The cap is on the whole resource. */
	srv.mode = M_RANGE;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vouch_fetch_stream(u, 10, 30, NULL, sink_write, NULL, &s, NULL, &err),
			 VOUCH_E_LIMIT);
	vouch_buf_free(&s.b);
	/* The callback's error comes back as is. */
	srv.mode = M_IGNORE;
	memset(&s, 0, sizeof(s));
	s.fail_after = 1;
	assert_int_equal(vouch_fetch_stream(u, 0, 36, NULL, sink_write, NULL, &s, NULL, &err),
			 VOUCH_E_IO);
	assert_string_equal(err.msg, "slot full");
	vouch_buf_free(&s.b);
}

static void test_slow_retrieval(void **state)
{
	(void)state;
	char u[128];
	struct vouch_buf b = {0};
	struct vouch_err err;
	struct vouch_fetch_opts o;
	vouch_err_clear(&err);
	vouch_fetch_opts_default(&o);
	o.low_speed_limit = 1000;
	o.low_speed_time = 1;
	url(u, sizeof(u));
	srv.mode = M_TRICKLE;
	assert_int_equal(vouch_fetch(u, 100000, &o, &b, &err), VOUCH_E_NETWORK);
	assert_non_null(strstr(err.msg, "too slow"));
	assert_null(b.data);
}

static void test_env_overrides(void **state)
{
	(void)state;
	struct vouch_fetch_opts o;
	setenv("VOUCH_FETCH_LOW_SPEED_TIME", "7", 1);
	setenv("VOUCH_FETCH_TIMEOUT", "junk", 1);
	vouch_fetch_opts_default(&o);
	assert_int_equal(o.low_speed_time, 7);
	assert_int_equal(o.timeout, VOUCH_FETCH_DEFAULT_TIMEOUT);
	assert_int_equal(o.low_speed_limit, VOUCH_FETCH_DEFAULT_LOW_SPEED_LIMIT);
	unsetenv("VOUCH_FETCH_LOW_SPEED_TIME");
	unsetenv("VOUCH_FETCH_TIMEOUT");
}

/* A redirect may move to another http(s) URL, never to file:// (a
 * malicious mirror must not make the client read local files). */
static void test_redirects(void **state)
{
	(void)state;
	char u[128];
	struct vouch_buf b = {0};
	struct vouch_err err;
	vouch_err_clear(&err);
	url(u, sizeof(u));
	srv.mode = M_REDIR_HTTP;
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 36);
	vouch_buf_free(&b);
	srv.mode = M_REDIR_FILE;
	assert_int_equal(vouch_fetch(u, 1 << 20, NULL, &b, &err), VOUCH_E_NETWORK);
	assert_null(b.data);
	assert_non_null(strstr(err.msg, u));
}

/* A status that is neither an error nor a success (304, a 3xx without
 * Location) is not an empty resource. */
static void test_non_success_status(void **state)
{
	(void)state;
	char u[128];
	struct vouch_buf b = {0};
	struct vouch_err err;
	vouch_err_clear(&err);
	url(u, sizeof(u));
	srv.mode = M_304;
	assert_int_equal(vouch_fetch(u, 100, NULL, &b, &err), VOUCH_E_NETWORK);
	assert_non_null(strstr(err.msg, "unexpected HTTP status 304"));
	assert_null(b.data);
}

/* No compression is asked for and none is undone: the cap counts the
 * bytes on the wire, which are the bytes the caller gets. */
static void test_no_content_decoding(void **state)
{
	(void)state;
	char u[128];
	struct vouch_buf b = {0};
	struct vouch_err err;
	vouch_err_clear(&err);
	url(u, sizeof(u));
	srv.mode = M_GZIP;
	assert_int_equal(vouch_fetch(u, 36, NULL, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 36);
	assert_memory_equal(b.data, BODY, 36);
	vouch_buf_free(&b);
	assert_null(strcasestr(srv.last_req, "Accept-Encoding"));
	assert_null(strcasestr(srv.last_req, "TE:"));
}

/* Control characters in a URL cannot smuggle request headers. */
static void test_no_header_injection(void **state)
{
	(void)state;
	char u[256];
	struct vouch_buf b = {0};
	struct vouch_err err;
	vouch_err_clear(&err);
	srv.mode = M_IGNORE;
	int before = srv.nreq;
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/a\r\nX-Injected: 1\r\n", srv.port);
	enum vouch_rc rc = vouch_fetch(u, 100, NULL, &b, &err);
	vouch_buf_free(&b);
	if (srv.nreq != before)
		assert_null(strstr(srv.last_req, "\r\nX-Injected"));
	assert_int_not_equal(rc, VOUCH_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_urls),
	    cmocka_unit_test(test_http_basic),
	    cmocka_unit_test(test_http_range),
	    cmocka_unit_test(test_slow_retrieval),
	    cmocka_unit_test(test_env_overrides),
	    cmocka_unit_test(test_redirects),
	    cmocka_unit_test(test_non_success_status),
	    cmocka_unit_test(test_no_content_decoding),
	    cmocka_unit_test(test_no_header_injection),
	    cmocka_unit_test(test_large_chunks_keep_the_cap_exact),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
