/* vouch — streaming install pipeline (include/vouch/pipeline.h). */
#define _GNU_SOURCE
#include "vouch/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "vouch/encoding.h"
#include "vouch/tuf.h"

/* A second core hashes the signed algorithm(s) that the receiving thread
 * does not (sha512; with a stage whose output is hashed, sha256 too: see
 * vouch_pipeline_run):
 * TUF wants every listed hash checked, and one core cannot do both at
 * network and disk speed. Blocks are copied into a small ring (bounded
 * memory). */
#define WORKER_BLOCK (256u * 1024)
#define WORKER_BLOCKS 4

struct worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vouch_hasher *h;
	uint8_t *buf[WORKER_BLOCKS];
	size_t len[WORKER_BLOCKS];
	unsigned head, tail; /* blocks [tail, head) are queued */
	unsigned fill;	     /* block being filled: index head */
	int done;
	enum vouch_rc rc;
	struct vouch_err err;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->tail == w->head && !w->done)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->tail == w->head && w->done)
			break;
		unsigned i = w->tail % WORKER_BLOCKS;
		pthread_mutex_unlock(&w->mu);
		enum vouch_rc rc = VOUCH_OK;
		if (w->rc == VOUCH_OK)
			rc = vouch_hasher_update(w->h, w->buf[i], w->len[i], &w->err);
		pthread_mutex_lock(&w->mu);
		if (rc != VOUCH_OK)
			w->rc = rc;
		w->tail++;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Queues the block being filled; waits for a free one. */
static void worker_submit(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->head++;
	pthread_cond_broadcast(&w->cv);
	while (w->head - w->tail >= WORKER_BLOCKS)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	w->len[w->head % WORKER_BLOCKS] = 0;
}

static void worker_feed(struct worker *w, const uint8_t *p, size_t n)
{
	while (n > 0) {
		unsigned i = w->head % WORKER_BLOCKS;
		size_t room = WORKER_BLOCK - w->len[i];
		size_t k = n < room ? n : room;
		memcpy(w->buf[i] + w->len[i], p, k);
		w->len[i] += k;
		p += k;
		n -= k;
		if (w->len[i] == WORKER_BLOCK)
			worker_submit(w);
	}
}

static enum vouch_rc worker_start(struct worker *w, unsigned algs, struct vouch_err *err)
{
	memset(w, 0, sizeof(*w));
	enum vouch_rc rc = vouch_hasher_new(algs, &w->h, err);
	if (rc != VOUCH_OK)
		return rc;
	for (unsigned i = 0; i < WORKER_BLOCKS; i++) {
		w->buf[i] = malloc(WORKER_BLOCK);
		if (w->buf[i] == NULL)
			rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	}
	if (rc == VOUCH_OK &&
	    (pthread_mutex_init(&w->mu, NULL) != 0 || pthread_cond_init(&w->cv, NULL) != 0 ||
	     pthread_create(&w->th, NULL, worker_main, w) != 0))
		rc = vouch_err_set(err, VOUCH_E_INTERNAL, "cannot start the hashing thread");
	if (rc != VOUCH_OK) {
		for (unsigned i = 0; i < WORKER_BLOCKS; i++)
			free(w->buf[i]);
		vouch_hasher_free(w->h);
		w->h = NULL;
	}
	return rc;
}

/* Hashes what is left, stops the thread; *d gets the digests (if d). */
static enum vouch_rc worker_stop(struct worker *w, struct vouch_digests *d, struct vouch_err *err)
{
	if (w->h == NULL)
		return VOUCH_OK;
	if (w->len[w->head % WORKER_BLOCKS] > 0)
		worker_submit(w);
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	for (unsigned i = 0; i < WORKER_BLOCKS; i++)
		free(w->buf[i]);
	enum vouch_rc rc = w->rc;
	if (rc != VOUCH_OK && err != NULL)
		*err = w->err;
	if (rc == VOUCH_OK && d != NULL)
		rc = vouch_hasher_final(w->h, d, err);
	vouch_hasher_free(w->h);
	w->h = NULL;
	return rc;
}

struct run {
	const struct vouch_pipeline_opts *o;
	vouch_pipeline_write_fn sink;
	void *sink_ctx;
	struct vouch_hasher *in_hash;  /* downloaded bytes */
	struct vouch_hasher *out_hash; /* bytes handed to the sink */
	struct worker *worker;	       /* the other signed algorithm(s), or NULL */
	uint64_t have;		       /* bytes of the resource received and used */
	uint64_t out_len;
	int over; /* the stage emitted more than out_length */
	uint64_t downloaded;
	int tty;
	double last_draw;
	double start;
};

void vouch_pipeline_opts_default(struct vouch_pipeline_opts *o)
{
	memset(o, 0, sizeof(*o));
	vouch_fetch_opts_default(&o->fetch);
	o->retries = 5;
	o->label = "download";
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(struct run *r, int done)
{
	double t = now_s();
	if (!r->tty || (!done && t - r->last_draw < 0.2))
		return;
	r->last_draw = t;
	uint64_t total = r->o->length ? r->o->length : 1;
	int pct = (int)(r->have * 100 / total);
	int bars = pct * 30 / 100;
	char bar[31];
	for (int i = 0; i < 30; i++)
		bar[i] = i < bars ? '=' : (i == bars ? '>' : ' ');
	bar[30] = 0;
	double el = t - r->start;
	double rate = el > 0 ? (double)r->have / el / (1024.0 * 1024.0) : 0;
	fprintf(stderr, "\r%-24.24s [%s] %3d%% %8.1f MiB/s%s", r->o->label, bar, pct, rate,
		done ? "\n" : "");
	fflush(stderr);
}

static void on_progress(void *ctx, uint64_t have, uint64_t total)
{
	(void)have;
	(void)total;
	draw(ctx, 0);
}

static enum vouch_rc to_sink(void *ctx, const void *p, size_t n, struct vouch_err *err)
{
	struct run *r = ctx;
	const struct vouch_pipeline_opts *o = r->o;
	if (o->stage != NULL && (o->out_length > 0 || o->out_sha256 != NULL) &&
	    n > o->out_length - r->out_len) {
		r->over = 1;
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "%s: more output than the expected %llu bytes", o->label,
				     (unsigned long long)o->out_length);
	}
	enum vouch_rc rc = VOUCH_OK;
	if (r->out_hash != NULL) {
		rc = vouch_hasher_update(r->out_hash, p, n, err);
		if (rc != VOUCH_OK)
			return rc;
	}
	r->out_len += n;
	return r->sink(r->sink_ctx, p, n, err);
}

static enum vouch_rc on_data(void *ctx, const void *p, size_t n, struct vouch_err *err)
{
	struct run *r = ctx;
	const struct vouch_pipeline_opts *o = r->o;
	/* The signed length is a hard cap whatever the transport says. */
	if (n > o->length - r->have)
		return vouch_err_set(err, VOUCH_E_LIMIT, "%s: more than the signed %llu bytes",
				     o->label, (unsigned long long)o->length);
	enum vouch_rc rc = VOUCH_OK;
	if (r->in_hash != NULL)
		rc = vouch_hasher_update(r->in_hash, p, n, err);
	if (rc != VOUCH_OK)
		return rc;
	if (r->worker != NULL)
		worker_feed(r->worker, p, n);
	r->have += n;
	r->downloaded += n;
	if (o->stage != NULL)
		rc = o->stage->update(o->stage->ctx, p, n, to_sink, r, err);
	else
		rc = to_sink(r, p, n, err);
	draw(r, 0);
	return rc;
}

enum vouch_rc vouch_pipeline_run(const struct vouch_pipeline_opts *o, vouch_pipeline_write_fn sink,
				 void *sink_ctx, struct vouch_pipeline_result *res,
				 struct vouch_err *err)
{
	struct run r;
	enum vouch_rc rc = VOUCH_OK;
	struct vouch_digests in_d, out_d;
	unsigned attempt = 0;
	struct worker wk;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	r.o = o;
	r.sink = sink;
	r.sink_ctx = sink_ctx;
	r.tty = o->progress && isatty(2);
	r.start = now_s();
	/* Fail closed: without the expected sha256 there would be nothing
	 * for the caller's re-read to check against. */
	if (o->out_checked_by_reread && (o->stage == NULL || o->out_sha256 == NULL))
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "%s: out_checked_by_reread needs a stage and out_sha256",
				     o->label);
	unsigned algs = vouch_tuf_hash_algs(o->hashes);
	if (algs == 0)
		return vouch_err_set(err, VOUCH_E_UNSUPPORTED,
				     "%s: no supported hash (sha256, sha512) is signed", o->label);
	/* Without a stage the output is the input: its sha256 comes from the
	 * input hasher when the signature lists sha256 (one pass less). When
	 * the caller re-reads the output against out_sha256, it is not
	 * hashed here at all. */
	int reuse = o->stage == NULL && (algs & VOUCH_HASH_SHA256);
	int hash_out = !reuse && !o->out_checked_by_reread;
	/* This thread receives, writes, and hashes sha256 (the fastest with
	 * SHA-NI); the hashing thread takes sha512. With a stage whose output
	 * is hashed here, this thread also decrypts and hashes the output, so
	 * the hashing thread takes every signed algorithm of the input (the
	 * two threads are then about equally busy). */
	unsigned main_algs = 0;
	if (o->stage == NULL || !hash_out)
		main_algs = (algs & VOUCH_HASH_SHA256) ? VOUCH_HASH_SHA256 : algs;
	if (algs != main_algs) {
		rc = worker_start(&wk, algs & ~main_algs, err);
		if (rc != VOUCH_OK)
			goto out;
		r.worker = &wk;
	}
	if (main_algs != 0)
		rc = vouch_hasher_new(main_algs, &r.in_hash, err);
	if (rc == VOUCH_OK && hash_out)
		rc = vouch_hasher_new(VOUCH_HASH_SHA256, &r.out_hash, err);
	if (rc != VOUCH_OK)
		goto out;

	for (;;) {
		struct vouch_err ferr;
		vouch_err_clear(&ferr);
		rc = vouch_fetch_stream(o->url, r.have, o->length, &o->fetch, on_data,
					r.tty ? on_progress : NULL, &r, NULL, &ferr);
		if (rc == VOUCH_OK && r.have < o->length)
			rc = vouch_err_set(
			    &ferr, VOUCH_E_NETWORK, "%s: transfer ended after %llu of %llu bytes",
			    o->label, (unsigned long long)r.have, (unsigned long long)o->length);
		if (rc == VOUCH_OK)
			break;
		/* Only an interrupted transfer is resumed; a verification or
		 * limit failure is final. */
		if (rc != VOUCH_E_NETWORK || attempt >= o->retries) {
			if (err != NULL)
				*err = ferr;
			goto out;
		}
		attempt++;
		res->resumes++;
		if (r.tty)
			fputc('\n', stderr);
		fprintf(stderr, "vouch: %s: %s; resuming at byte %llu (%u/%u)\n", o->label,
			ferr.msg, (unsigned long long)r.have, attempt, o->retries);
		struct timespec ts = {0, (long)(attempt < 5 ? attempt : 5) * 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	draw(&r, 1);
	memset(&in_d, 0, sizeof(in_d));
	if (r.in_hash != NULL) {
		rc = vouch_hasher_final(r.in_hash, &in_d, err);
		if (rc != VOUCH_OK)
			goto out;
	}
	if (r.worker != NULL) {
		struct vouch_digests wd;
		rc = worker_stop(r.worker, &wd, err);
		r.worker = NULL;
		if (rc != VOUCH_OK)
			goto out;
		if (r.in_hash == NULL)
			in_d.length = wd.length;
		else if (wd.length != in_d.length) {
			rc = vouch_err_set(err, VOUCH_E_INTERNAL, "hashing thread lost bytes");
			goto out;
		}
		if (wd.algs & VOUCH_HASH_SHA512)
			memcpy(in_d.sha512, wd.sha512, VOUCH_SHA512_LEN);
		if (wd.algs & VOUCH_HASH_SHA256)
			memcpy(in_d.sha256, wd.sha256, VOUCH_SHA256_LEN);
		in_d.algs |= wd.algs;
	}
	if (in_d.length != o->length) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY, "%s: length %llu, signed %llu", o->label,
				   (unsigned long long)in_d.length, (unsigned long long)o->length);
		goto out;
	}
	rc = vouch_tuf_check_hashes(o->label, o->hashes, &in_d, err);
	if (rc != VOUCH_OK)
		goto out;
	if (o->stage != NULL) {
		rc = o->stage->final(o->stage->ctx, to_sink, &r, err);
		/* The decryptor reports any failure of its last chunk as
		 * "does not authenticate": say what really happened. */
		if (rc != VOUCH_OK && r.over)
			rc = vouch_err_set(err, VOUCH_E_VERIFY,
					   "%s: more output than the expected %llu bytes", o->label,
					   (unsigned long long)o->out_length);
		if (rc != VOUCH_OK)
			goto out;
	}
	if (o->out_checked_by_reread) {
		/* Only the length is known here; the sha256 is the expected
		 * one, for the caller's re-read to check. */
		if (r.out_len != o->out_length) {
			rc = vouch_err_set(err, VOUCH_E_VERIFY,
					   "%s: decrypted content is %llu bytes, signed %llu",
					   o->label, (unsigned long long)r.out_len,
					   (unsigned long long)o->out_length);
			goto out;
		}
		res->out_length = r.out_len;
		memcpy(res->out_sha256, o->out_sha256, VOUCH_SHA256_LEN);
		goto out;
	}
	if (r.out_hash != NULL) {
		rc = vouch_hasher_final(r.out_hash, &out_d, err);
		if (rc != VOUCH_OK)
			goto out;
	} else {
		out_d = in_d;
	}
	if (o->stage != NULL && o->out_sha256 != NULL &&
	    (out_d.length != o->out_length ||
	     CRYPTO_memcmp(out_d.sha256, o->out_sha256, VOUCH_SHA256_LEN) != 0)) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "%s: decrypted content does not match its signed length and "
				   "sha256",
				   o->label);
		goto out;
	}
	res->out_length = out_d.length;
	memcpy(res->out_sha256, out_d.sha256, VOUCH_SHA256_LEN);
out:
	res->downloaded = r.downloaded;
	if (r.worker != NULL)
		(void)worker_stop(r.worker, NULL, NULL);
	vouch_hasher_free(r.in_hash);
	vouch_hasher_free(r.out_hash);
	return rc;
}

/* Re-read buffer: 1 MiB reads, and the next 8 MiB asked for ahead
 * (measured on a 1 GiB slot file right after the install: 0.90-0.94 s
 * against 1.04-1.16 s with 256 KiB reads and 1 MiB ahead; O_DIRECT reads
 * with hashing on a second thread were slower there, 1.2-1.5 s). */
#define VCHUNK (1024u * 1024)

enum vouch_rc vouch_pipeline_verify_file(const char *path, uint64_t length,
					 const uint8_t sha256[VOUCH_SHA256_LEN],
					 struct vouch_err *err)
{
	enum vouch_rc rc = VOUCH_OK;
	struct vouch_hasher *h = NULL;
	struct vouch_digests d;
	uint8_t *buf = NULL;
	uint64_t left = length;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: open: %s", path, strerror(errno));
	/* Drop cached pages so the bytes come from the medium (fsync came
	 * first, so they are clean and can be dropped). */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	/* Larger readahead: the disk reads the next part while we hash. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = malloc(VCHUNK);
	if (buf == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = vouch_hasher_new(VOUCH_HASH_SHA256, &h, err);
	if (rc != VOUCH_OK)
		goto out;
	while (left > 0) {
		size_t want = left > VCHUNK ? VCHUNK : (size_t)left;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0) {
			rc = vouch_err_set(err, VOUCH_E_VERIFY, "%s: re-read: slot ends early",
					   path);
			goto out;
		}
		/* Ask for the next chunks now: the disk reads them while this
		 * one is hashed (the default readahead is too small for that). */
		(void)posix_fadvise(fd, (off_t)(length - left + (uint64_t)n), 8 * VCHUNK,
				    POSIX_FADV_WILLNEED);
		rc = vouch_hasher_update(h, buf, (size_t)n, err);
		if (rc != VOUCH_OK)
			goto out;
		left -= (uint64_t)n;
	}
	rc = vouch_hasher_final(h, &d, err);
	if (rc == VOUCH_OK && CRYPTO_memcmp(d.sha256, sha256, VOUCH_SHA256_LEN) != 0)
		rc = vouch_err_set(err, VOUCH_E_VERIFY, "%s: re-read sha256 mismatch", path);
out:
	vouch_hasher_free(h);
	free(buf);
	close(fd);
	return rc;
}
