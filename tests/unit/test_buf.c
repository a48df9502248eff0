/* Unit tests of buf.c: growable buffers and bounded, durable file I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/error.h"

struct tmpdir {
	char path[PATH_MAX];
};

static char *tpath(const struct tmpdir *d, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", d->path, name);
	assert_true(n > 0 && (size_t)n < cap);
	return out;
}

static int setup_dir(void **state)
{
	struct tmpdir *d = calloc(1, sizeof(*d));
	const char *base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(d->path, sizeof(d->path), "%s/vouch-test-buf.XXXXXX", base);
	if (mkdtemp(d->path) == NULL) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown_dir(void **state)
{
	struct tmpdir *d = *state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	int rc = system(cmd);
	free(d);
	return rc == 0 ? 0 : -1;
}

static void write_plain(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (len > 0)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static mode_t file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void assert_file_is(const char *path, const char *content)
{
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_file_read(path, 1 << 20, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, strlen(content));
	assert_memory_equal(b.data, content, (int)b.len);
	vouch_buf_free(&b);
}

/* Names in d other than those given: leftovers such as temporaries. */
static int count_entries(const char *dir)
{
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	int n = -1;
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void test_append_grows(void **state)
{
	(void)state;
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	/* Appending nothing to an empty buffer still gives a C string. */
	assert_int_equal(vouch_buf_append(&b, NULL, 0, &err), VOUCH_OK);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	for (int i = 0; i < 10000; i++) {
		uint8_t c = (uint8_t)('a' + i % 26);
		assert_int_equal(vouch_buf_append(&b, &c, 1, &err), VOUCH_OK);
		assert_true(b.cap > b.len);
		assert_int_equal(b.data[b.len], 0);
	}
	assert_int_equal(b.len, 10000);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	/* A large append in one go. */
	static uint8_t big[300000];
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(vouch_buf_append(&b, big, sizeof(big), &err), VOUCH_OK);
	assert_int_equal(b.len, 10000 + sizeof(big));
	assert_memory_equal(b.data + 10000, big, sizeof(big));
	assert_int_equal(b.data[b.len], 0);
	vouch_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_reserve_overflow(void **state)
{
	(void)state;
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_buf_append_str(&b, "abc", &err), VOUCH_OK);
	assert_int_equal(vouch_buf_reserve(&b, SIZE_MAX - 2, &err), VOUCH_E_NOMEM);
	assert_string_equal(err.msg, "buffer size overflow");
	/* Unchanged on failure. */
	assert_int_equal(b.len, 3);
	assert_string_equal((char *)b.data, "abc");
	vouch_buf_free(&b);
}

static void test_printf_str_steal(void **state)
{
	(void)state;
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_buf_append_str(&b, "key=", &err), VOUCH_OK);
	assert_int_equal(vouch_buf_printf(&b, &err, "%s-%d", "v", 42), VOUCH_OK);
	assert_int_equal(vouch_buf_printf(&b, &err, "%s", ""), VOUCH_OK);
	assert_int_equal(b.len, strlen("key=v-42"));
	assert_string_equal((char *)b.data, "key=v-42");
	uint8_t *p = vouch_buf_steal(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)p, "key=v-42");
	free(p);
	/* A stolen-from buffer is reusable. */
	assert_int_equal(vouch_buf_append_str(&b, "again", &err), VOUCH_OK);
	assert_string_equal((char *)b.data, "again");
	vouch_buf_free_secret(&b);
	assert_null(b.data);
}

static void test_file_read_ok_and_limit(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX], msg[PATH_MAX + 64];
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	char data[101];
	memset(data, 'x', sizeof(data));
	write_plain(tpath(d, "f101", p, sizeof(p)), data, sizeof(data));

	/* Exactly at the limit: read whole. */
	assert_int_equal(vouch_file_read(p, 101, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 101);
	assert_memory_equal(b.data, data, 101);
	assert_int_equal(b.data[101], 0);
	vouch_buf_free(&b);

	/* No limit to speak of: must not overflow into reading nothing. */
	assert_int_equal(vouch_file_read(p, SIZE_MAX, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 101);
	vouch_buf_free(&b);

	/* One byte over: VOUCH_E_LIMIT, and the buffer is left empty. */
	assert_int_equal(vouch_file_read(p, 100, &b, &err), VOUCH_E_LIMIT);
	assert_int_equal(err.code, VOUCH_E_LIMIT);
	snprintf(msg, sizeof(msg), "%s: 101 bytes exceeds the limit of 100 bytes", p);
	assert_string_equal(err.msg, msg);
	assert_null(b.data);
	assert_int_equal(b.len, 0);

	/* Empty file. */
	write_plain(tpath(d, "empty", p, sizeof(p)), "", 0);
	assert_int_equal(vouch_file_read(p, 0, &b, &err), VOUCH_OK);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	vouch_buf_free(&b);
}

static void test_file_read_unbounded_stream(void **state)
{
	(void)state;
	/* A file whose size stat() cannot tell: the limit holds while reading,
	 * and memory stays near the limit, not the stream's length. */
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_file_read("/dev/zero", 1000, &b, &err), VOUCH_E_LIMIT);
	assert_int_equal(err.code, VOUCH_E_LIMIT);
	assert_string_equal(err.msg, "/dev/zero: more than the limit of 1000 bytes");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_file_read_missing_and_dir(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX], msg[PATH_MAX + 64];
	struct vouch_buf b = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_file_read(tpath(d, "nope", p, sizeof(p)), 100, &b, &err),
			 VOUCH_E_NOTFOUND);
	assert_int_equal(err.code, VOUCH_E_NOTFOUND);
	snprintf(msg, sizeof(msg), "%s: cannot open: No such file or directory", p);
	assert_string_equal(err.msg, msg);
	assert_null(b.data);

	assert_int_equal(vouch_file_read(d->path, 100, &b, &err), VOUCH_E_IO);
	assert_int_equal(err.code, VOUCH_E_IO);
	snprintf(msg, sizeof(msg), "%s: read: Is a directory", d->path);
	assert_string_equal(err.msg, msg);
	assert_null(b.data);
}

static void test_write_atomic(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX];
	struct vouch_err err = {0};
	mode_t old = umask(022);
	tpath(d, "state.json", p, sizeof(p));
	assert_int_equal(vouch_file_write_atomic(p, "first", 5, 0640, &err), VOUCH_OK);
	assert_file_is(p, "first");
	assert_int_equal(file_mode(p), 0640);

	/* Replacing: new content, new inode (rename), requested mode. */
	struct stat st1, st2;
	assert_int_equal(stat(p, &st1), 0);
	assert_int_equal(vouch_file_write_atomic(p, "second!", 7, 0600, &err), VOUCH_OK);
	assert_int_equal(stat(p, &st2), 0);
	assert_file_is(p, "second!");
	assert_int_equal(file_mode(p), 0600);
	assert_true(st1.st_ino != st2.st_ino);

	/* The mode is exact even where the umask is stricter. */
	umask(077);
	assert_int_equal(vouch_file_write_atomic(p, "", 0, 0644, &err), VOUCH_OK);
	assert_int_equal(file_mode(p), 0644);
	assert_file_is(p, "");
	umask(old);

	/* No temporary left behind. */
	assert_int_equal(count_entries(d->path), 1);
}

static void test_write_atomic_replaces_symlink_not_target(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX], target[PATH_MAX];
	struct vouch_err err = {0};
	write_plain(tpath(d, "victim", target, sizeof(target)), "keep", 4);
	assert_int_equal(symlink(target, tpath(d, "link", p, sizeof(p))), 0);
	assert_int_equal(vouch_file_write_atomic(p, "new", 3, 0644, &err), VOUCH_OK);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file_is(p, "new");
	assert_file_is(target, "keep");
}

static void test_write_atomic_missing_dir(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX];
	struct vouch_err err = {0};
	tpath(d, "no/such/dir/f", p, sizeof(p));
	assert_int_equal(vouch_file_write_atomic(p, "x", 1, 0644, &err), VOUCH_E_IO);
	assert_int_equal(err.code, VOUCH_E_IO);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s.tmp.%ld.", p, (long)getpid());
	/* "<path>.tmp.<pid>.<n>: create: No such file or directory" */
	assert_memory_equal(err.msg, want, (int)strlen(want));
	assert_non_null(strstr(err.msg, ": create: No such file or directory"));
}

struct writer {
	const char *path;
	char fill;
	int failures;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	static char bufs[2][65536];
	char *data = bufs[w->fill == 'B'];
	memset(data, w->fill, sizeof(bufs[0]));
	for (int i = 0; i < 50; i++) {
		struct vouch_err err = {0};
		if (vouch_file_write_atomic(w->path, data, sizeof(bufs[0]), 0644, &err) != VOUCH_OK)
			w->failures++;
	}
	return NULL;
}

static void test_write_atomic_concurrent(void **state)
{
	/* Two threads (vouchd serves requests concurrently) replacing the same
	 * file: every write succeeds and the file is always one whole
	 * version, never a mix of both. */
	struct tmpdir *d = *state;
	char p[PATH_MAX];
	tpath(d, "shared.json", p, sizeof(p));
	struct writer a = {p, 'A', 0}, b = {p, 'B', 0};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, writer_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, writer_thread, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(a.failures, 0);
	assert_int_equal(b.failures, 0);
	struct vouch_buf buf = {0};
	struct vouch_err err = {0};
	assert_int_equal(vouch_file_read(p, 1 << 20, &buf, &err), VOUCH_OK);
	assert_int_equal(buf.len, 65536);
	for (size_t i = 1; i < buf.len; i++)
		assert_int_equal(buf.data[i], buf.data[0]);
	vouch_buf_free(&buf);
	assert_int_equal(count_entries(d->path), 1);
}

static void test_write_new(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX], msg[PATH_MAX + 64];
	struct vouch_err err = {0};
	mode_t old = umask(0);
	tpath(d, "key.pem", p, sizeof(p));
	assert_int_equal(vouch_file_write_new(p, "secret", 6, 0600, &err), VOUCH_OK);
	umask(old);
	assert_int_equal(file_mode(p), 0600);
	assert_file_is(p, "secret");

	/* Never overwrites. */
	assert_int_equal(vouch_file_write_new(p, "other", 5, 0600, &err), VOUCH_E_EXISTS);
	assert_int_equal(err.code, VOUCH_E_EXISTS);
	snprintf(msg, sizeof(msg), "%s: cannot create: File exists", p);
	assert_string_equal(err.msg, msg);
	assert_file_is(p, "secret");
	assert_int_equal(file_mode(p), 0600);
}

static void test_write_new_refuses_symlink(void **state)
{
	/* An attacker's symlink where a key is about to be written must not
	 * redirect the key elsewhere, even if the link dangles. */
	struct tmpdir *d = *state;
	char p[PATH_MAX], target[PATH_MAX];
	struct vouch_err err = {0};
	tpath(d, "elsewhere", target, sizeof(target));
	assert_int_equal(symlink(target, tpath(d, "key2.pem", p, sizeof(p))), 0);
	assert_int_equal(vouch_file_write_new(p, "secret", 6, 0600, &err), VOUCH_E_EXISTS);
	assert_int_equal(err.code, VOUCH_E_EXISTS);
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_mkdir_p_and_fsync_dir(void **state)
{
	struct tmpdir *d = *state;
	char p[PATH_MAX], f[PATH_MAX], msg[PATH_MAX + 64];
	struct vouch_err err = {0};
	tpath(d, "a/b/c", p, sizeof(p));
	assert_int_equal(vouch_mkdir_p(p, 0700, &err), VOUCH_OK);
	assert_int_equal(file_mode(p), 0700);
	/* Idempotent. */
	assert_int_equal(vouch_mkdir_p(p, 0700, &err), VOUCH_OK);
	assert_int_equal(vouch_fsync_dir_of(p, &err), VOUCH_OK);

	/* A file where a directory is wanted. */
	write_plain(tpath(d, "plain", f, sizeof(f)), "x", 1);
	assert_int_equal(vouch_mkdir_p(f, 0700, &err), VOUCH_E_IO);
	snprintf(msg, sizeof(msg), "%s: not a directory", f);
	assert_string_equal(err.msg, msg);
	tpath(d, "plain/sub", p, sizeof(p));
	assert_int_equal(vouch_mkdir_p(p, 0700, &err), VOUCH_E_IO);
	snprintf(msg, sizeof(msg), "%s: mkdir: Not a directory", p);
	assert_string_equal(err.msg, msg);

	tpath(d, "missing/f", p, sizeof(p));
	assert_int_equal(vouch_fsync_dir_of(p, &err), VOUCH_E_IO);
	snprintf(msg, sizeof(msg), "%s/missing: open: No such file or directory", d->path);
	assert_string_equal(err.msg, msg);
}

#ifdef VOUCH_FAULT_INJECTION
static const char *self_exe;

/* Child mode: vouch_file_write_atomic(path, "NEW CONTENT") and exit 0. */
static int child_write_atomic(const char *path)
{
	struct vouch_err err = {0};
	enum vouch_rc rc = vouch_file_write_atomic(path, "NEW CONTENT", 11, 0644, &err);
	if (rc != VOUCH_OK)
		fprintf(stderr, "%s\n", err.msg);
	return rc == VOUCH_OK ? 0 : 1;
}

static int run_child_cut_at(const char *path, int cut)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char env[64];
		snprintf(env, sizeof(env), "VOUCH_FAULT_CUT_AT=%d", cut);
		char a0[] = "test_buf", a1[] = "--write-atomic", a2[PATH_MAX];
		snprintf(a2, sizeof(a2), "%s", path);
		char *const argv[] = {a0, a1, a2, NULL};
		char *const envp[] = {env, NULL};
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 2);
		execve(self_exe, argv, envp);
		_exit(127);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_write_atomic_power_cut(void **state)
{
	/* A power cut at every write, fsync and rename of an atomic write
	 * leaves the old content or the new content, never a mix. */
	struct tmpdir *d = *state;
	char p[PATH_MAX];
	tpath(d, "cut.json", p, sizeof(p));
	int saw_old = 0, saw_new = 0, cut;
	for (cut = 1; cut < 20; cut++) {
		struct vouch_err err = {0};
		assert_int_equal(vouch_file_write_atomic(p, "OLD", 3, 0644, &err), VOUCH_OK);
		int code = run_child_cut_at(p, cut);
		struct vouch_buf b = {0};
		assert_int_equal(vouch_file_read(p, 100, &b, &err), VOUCH_OK);
		if (b.len == 3 && memcmp(b.data, "OLD", 3) == 0)
			saw_old = 1;
		else if (b.len == 11 && memcmp(b.data, "NEW CONTENT", 11) == 0)
			saw_new = 1;
		else
			fail_msg("cut at %d left %zu bytes: %s", cut, b.len, (char *)b.data);
		vouch_buf_free(&b);
		if (code == 0)
			break;
		assert_int_equal(code, 99);
	}
	/* write, fsync, rename, fsync dir: at least 4 points, and the run
	 * without a cut completed. */
	assert_true(cut >= 5 && cut < 20);
	assert_true(saw_old);
	assert_true(saw_new);
}
#endif

int main(int argc, char **argv)
{
#ifdef VOUCH_FAULT_INJECTION
	if (argc == 3 && strcmp(argv[1], "--write-atomic") == 0)
		return child_write_atomic(argv[2]);
	self_exe = "/proc/self/exe";
#else
	(void)argc;
	(void)argv;
#endif
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
	const struct CMUnitTest tests[] = {
	    T(test_append_grows),
	    T(test_reserve_overflow),
	    T(test_printf_str_steal),
	    T(test_file_read_ok_and_limit),
	    T(test_file_read_unbounded_stream),
	    T(test_file_read_missing_and_dir),
	    T(test_write_atomic),
	    T(test_write_atomic_replaces_symlink_not_target),
	    T(test_write_atomic_missing_dir),
	    T(test_write_atomic_concurrent),
	    T(test_write_new),
	    T(test_write_new_refuses_symlink),
	    T(test_mkdir_p_and_fsync_dir),
#ifdef VOUCH_FAULT_INJECTION
	    T(test_write_atomic_power_cut),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
