/* Unit tests of the key usage log: the chain and its head catch an edited,
 * removed, reordered or truncated entry and name the first bad line;
 * appends under the lock from several processes keep a valid chain; no PIN
 * is ever logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/keylog.h"

static char dir[64];
static char log_path[128];
static char head_path[160];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vouch-keylog-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	/* a parent directory that does not exist yet */
	snprintf(log_path, sizeof(log_path), "%s/state/vouch/key.log", dir);
	snprintf(head_path, sizeof(head_path), "%s.head", log_path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void append(int i, int ok)
{
	static const uint8_t sha[32] = {1, 2, 3};
	char name[32];
	snprintf(name, sizeof(name), "file-%d.bin", i);
	struct vouch_keylog_event ev = {
	    .operation = "sign",
	    .key_id = "53b3df49e4a4c20f949c6fd3dbd3bb5c0421a875073f999dcb64cb037452539a",
	    .key_location = "file:/keys/release.key",
	    .subject_name = name,
	    .subject_sha256 = sha,
	    .ok = ok,
	    .error = ok ? NULL : "wrong passphrase",
	};
	struct vouch_err err;
	vouch_err_clear(&err);
	if (vouch_keylog_append(log_path, &ev, &err) != VOUCH_OK)
		fail_msg("append: %s", err.msg);
}

/* Fresh log with n entries. */
static void make_log(int n)
{
	unlink(log_path);
	unlink(head_path);
	for (int i = 1; i <= n; i++)
		append(i, i % 3 != 0);
}

static void slurp(const char *path, struct vouch_buf *b)
{
	vouch_buf_free(b);
	assert_int_equal(vouch_file_read(path, 1 << 20, b, NULL), VOUCH_OK);
}

static void put(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* Offsets of the starts of lines: starts[k] is line k+1; starts[n] = len. */
static size_t line_starts(const struct vouch_buf *b, size_t *starts, size_t cap)
{
	size_t n = 0;
	starts[n++] = 0;
	for (size_t i = 0; i < b->len && n < cap; i++) {
		if (b->data[i] == '\n' && i + 1 <= b->len)
			starts[n++] = i + 1;
	}
	return n - 1; /* number of whole lines */
}

static void expect_bad(size_t line, const char *msg_part)
{
	struct vouch_err err;
	struct vouch_keylog_status st;
	vouch_err_clear(&err);
	enum vouch_rc rc = vouch_keylog_verify_status(log_path, &st, &err);
	if (rc != VOUCH_E_VERIFY || st.bad_line != line || strstr(err.msg, msg_part) == NULL)
		fail_msg("verify gave %d, line %zu, '%s'; wanted line %zu with '%s'", rc,
			 st.bad_line, err.msg, line, msg_part);
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "line %zu: ", line);
	assert_memory_equal(err.msg, prefix, strlen(prefix));
}

static void expect_ok(size_t entries)
{
	struct vouch_err err;
	size_t n = 0, bad = 99;
	vouch_err_clear(&err);
	if (vouch_keylog_verify(log_path, &n, &bad, &err) != VOUCH_OK)
		fail_msg("verify: %s", err.msg);
	assert_int_equal(n, entries);
	assert_int_equal(bad, 0);
}

static void test_chain_ok(void **state)
{
	(void)state;
	make_log(5);
	expect_ok(5);
	struct stat st;
	assert_int_equal(stat(log_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(head_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* the first line's prev is 64 zeros and each line chains to the last */
	struct vouch_buf b = {0};
	slurp(log_path, &b);
	assert_non_null(strstr((char *)b.data, "\"prev\":\"00000000000000000000000000000000000000"
					       "00000000000000000000000000\""));
	assert_non_null(strstr((char *)b.data, "\"seq\":1,"));
	assert_non_null(strstr((char *)b.data, "\"result\":\"error\""));
	assert_non_null(strstr((char *)b.data, "\"error\":\"wrong passphrase\""));
	assert_non_null(strstr((char *)b.data, "\"key_location\":\"file:/keys/release.key\""));
	vouch_buf_free(&b);
}

static void test_edited_line(void **state)
{
	(void)state;
	struct vouch_buf b = {0};
	size_t s[16];
	make_log(5);
	slurp(log_path, &b);
	assert_int_equal(line_starts(&b, s, 16), 5);
	/* change "file-3" to "file-X" in line 3 */
	char *p = strstr((char *)b.data + s[2], "file-3");
	assert_non_null(p);
	p[5] = 'X';
	put(log_path, b.data, b.len);
	expect_bad(3, "line 3: edited (its sha256 does not match the prev recorded in line 4)");

	/* an edited first line */
	make_log(5);
	slurp(log_path, &b);
	p = strstr((char *)b.data, "file-1");
	p[5] = 'X';
	put(log_path, b.data, b.len);
	expect_bad(1, "edited");

	/* an edited last line: only the head file can tell */
	make_log(5);
	slurp(log_path, &b);
	line_starts(&b, s, 16);
	p = strstr((char *)b.data + s[4], "file-5");
	p[5] = 'X';
	put(log_path, b.data, b.len);
	expect_bad(5, "line 5: edited (its sha256 does not match the head file");

	/* a line that is no longer a valid entry */
	make_log(5);
	slurp(log_path, &b);
	line_starts(&b, s, 16);
	b.data[s[1]] = '[';
	put(log_path, b.data, b.len);
	expect_bad(2, "line 2: not a valid entry");

	/* an unknown field slipped into an entry */
	make_log(3);
	slurp(log_path, &b);
	line_starts(&b, s, 16);
	struct vouch_buf c = {0};
	assert_int_equal(vouch_buf_append(&c, b.data, s[1] + 1, NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append_str(&c, "\"admin\":true,", NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&c, b.data + s[1] + 1, b.len - s[1] - 1, NULL), VOUCH_OK);
	put(log_path, c.data, c.len);
	expect_bad(2, "line 2: not a valid entry: unknown field");
	vouch_buf_free(&c);
	vouch_buf_free(&b);
}

static void test_removed_and_reordered(void **state)
{
	(void)state;
	struct vouch_buf b = {0}, c = {0};
	size_t s[16];

	/* line 3 removed */
	make_log(5);
	slurp(log_path, &b);
	line_starts(&b, s, 16);
	assert_int_equal(vouch_buf_append(&c, b.data, s[2], NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&c, b.data + s[3], b.len - s[3], NULL), VOUCH_OK);
	put(log_path, c.data, c.len);
	expect_bad(3, "line 3: entry number 4, expected 3 (an entry removed or reordered?)");
	vouch_buf_free(&c);

	/* the first line removed */
	put(log_path, b.data + s[1], b.len - s[1]);
	expect_bad(1, "line 1: entry number 2, expected 1");

	/* lines 2 and 3 swapped */
	assert_int_equal(vouch_buf_append(&c, b.data, s[1], NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&c, b.data + s[2], s[3] - s[2], NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&c, b.data + s[1], s[2] - s[1], NULL), VOUCH_OK);
	assert_int_equal(vouch_buf_append(&c, b.data + s[3], b.len - s[3], NULL), VOUCH_OK);
	put(log_path, c.data, c.len);
	expect_bad(2, "line 2: entry number 3, expected 2");
	vouch_buf_free(&c);

	/* the last line removed (whole): the head file records 5 */
	put(log_path, b.data, s[4]);
	expect_bad(5, "line 5: missing (the head file records 5 entries, the log has 4: trailing "
		      "entries removed?)");
	/* ... and appending to it is refused rather than hiding the gap */
	struct vouch_err err;
	struct vouch_keylog_event ev = {.operation = "sign", .ok = 1};
	vouch_err_clear(&err);
	assert_int_equal(vouch_keylog_append(log_path, &ev, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "does not match its head file"));

	/* all lines removed */
	put(log_path, "", 0);
	expect_bad(1, "line 1: missing");
	/* the log deleted, its head left */
	unlink(log_path);
	expect_bad(1, "line 1: missing (the log is gone");

	/* a damaged head file */
	put(log_path, b.data, b.len);
	put(head_path, "{\"entries\": 5}", 14);
	expect_bad(6, "line 6: cannot rule out removed trailing entries: ");

	/* the head deleted too: the log of several entries no longer matches */
	put(log_path, b.data, b.len);
	unlink(head_path);
	expect_bad(2, "line 2: not recorded in the head file");
	vouch_buf_free(&b);
}

static void test_truncated(void **state)
{
	(void)state;
	struct vouch_buf b = {0};
	size_t s[16];
	make_log(4);
	slurp(log_path, &b);
	line_starts(&b, s, 16);
	/* cut in the middle of the last line */
	put(log_path, b.data, s[3] + 20);
	expect_bad(4, "line 4: incomplete (no newline at the end");
	/* only the final newline missing */
	put(log_path, b.data, b.len - 1);
	expect_bad(4, "line 4: incomplete");
	/* an append onto a partial line is refused */
	struct vouch_err err;
	struct vouch_keylog_event ev = {.operation = "sign", .ok = 1};
	vouch_err_clear(&err);
	assert_int_equal(vouch_keylog_append(log_path, &ev, &err), VOUCH_E_VERIFY);
	assert_non_null(strstr(err.msg, "the last line is incomplete"));
	/* cut in the middle of line 2 and the rest dropped */
	put(log_path, b.data, s[1] + 7);
	expect_bad(2, "line 2: incomplete");
	vouch_buf_free(&b);
}

static void test_long_line(void **state)
{
	(void)state;
	struct vouch_buf b = {0};
	make_log(2);
	slurp(log_path, &b);
	char *big = malloc(VOUCH_KEYLOG_MAX_LINE + 100);
	assert_non_null(big);
	memset(big, 'a', VOUCH_KEYLOG_MAX_LINE + 99);
	big[VOUCH_KEYLOG_MAX_LINE + 99] = '\n';
	FILE *fp = fopen(log_path, "ab");
	assert_non_null(fp);
	fwrite(big, 1, VOUCH_KEYLOG_MAX_LINE + 100, fp);
	fclose(fp);
	expect_bad(3, "line 3: longer than 8192 bytes");
	free(big);
	vouch_buf_free(&b);
}

static void test_head_lag_is_repaired(void **state)
{
	(void)state;
	struct vouch_buf head = {0};
	struct vouch_keylog_status st;
	make_log(3);
	slurp(head_path, &head);
	append(4, 1);
	/* as if the 4th append stopped before its head was written */
	put(head_path, head.data, head.len);
	assert_int_equal(vouch_keylog_verify_status(log_path, &st, NULL), VOUCH_OK);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.head_lags, 1);
	/* the next append brings the head up to date */
	append(5, 1);
	assert_int_equal(vouch_keylog_verify_status(log_path, &st, NULL), VOUCH_OK);
	assert_int_equal(st.entries, 5);
	assert_int_equal(st.head_lags, 0);
	assert_int_equal(strlen(st.last), 64);
	/* the first append interrupted before any head existed */
	make_log(1);
	unlink(head_path);
	expect_ok(1);
	append(2, 1);
	expect_ok(2);
	vouch_buf_free(&head);
}

static void test_missing_log(void **state)
{
	(void)state;
	struct vouch_err err;
	size_t n = 9, bad = 9;
	unlink(log_path);
	unlink(head_path);
	vouch_err_clear(&err);
	assert_int_equal(vouch_keylog_verify(log_path, &n, &bad, &err), VOUCH_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "no key log"));
	/* an empty log with no head is a valid empty log */
	put(log_path, "", 0);
	expect_ok(0);
}

static void test_no_pin_logged(void **state)
{
	(void)state;
	char loc[512];
	vouch_keylog_location("pkcs11:token=vouch;object=release;pin-value=123456?module-path=/"
			      "usr/lib/softhsm/libsofthsm2.so&pin-value=654321",
			      loc, sizeof(loc));
	assert_string_equal(loc, "pkcs11:token=vouch;object=release?module-path=/usr/lib/softhsm/"
				 "libsofthsm2.so");
	vouch_keylog_location("pkcs11:pin-value=1;token=t", loc, sizeof(loc));
	assert_string_equal(loc, "pkcs11:token=t");
	vouch_keylog_location("pkcs11:token=t;pin%2Dvalue=99", loc, sizeof(loc));
	assert_string_equal(loc, "pkcs11:token=t");
	vouch_keylog_location("pkcs11:token=t;pin-source=/run/pin", loc, sizeof(loc));
	assert_string_equal(loc, "pkcs11:token=t;pin-source=/run/pin");
	vouch_keylog_location("keys/release.key", loc, sizeof(loc));
	assert_string_equal(loc, "file:keys/release.key");

	/* whatever the caller passes, the PIN does not reach the file */
	unlink(log_path);
	unlink(head_path);
	struct vouch_keylog_event ev = {
	    .operation = "sign",
	    .key_location = "pkcs11:token=vouch;object=k;pin-value=31337",
	    .subject_name = "evil\nname\x1b[2J",
	    .ok = 0,
	    .error = "bad\nthing",
	};
	assert_int_equal(vouch_keylog_append(log_path, &ev, NULL), VOUCH_OK);
	struct vouch_buf b = {0};
	slurp(log_path, &b);
	assert_null(strstr((char *)b.data, "31337"));
	assert_null(strstr((char *)b.data, "pin-value"));
	/* control characters do not break the one-line-per-entry rule */
	assert_non_null(strstr((char *)b.data, "evil?name?[2J"));
	assert_non_null(strstr((char *)b.data, "bad?thing"));
	assert_int_equal(memchr(b.data, '\n', b.len), b.data + b.len - 1);
	vouch_buf_free(&b);
	expect_ok(1);
}

static void test_concurrent_appends(void **state)
{
	(void)state;
	enum { PROCS = 4, EACH = 25 };
	unlink(log_path);
	unlink(head_path);
	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			for (int i = 0; i < EACH; i++) {
				struct vouch_keylog_event ev = {.operation = "sign", .ok = 1};
				if (vouch_keylog_append(log_path, &ev, NULL) != VOUCH_OK)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status = 0;
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	expect_ok(PROCS * EACH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_ok),
	    cmocka_unit_test(test_edited_line),
	    cmocka_unit_test(test_removed_and_reordered),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_head_lag_is_repaired),
	    cmocka_unit_test(test_missing_log),
	    cmocka_unit_test(test_no_pin_logged),
	    cmocka_unit_test(test_concurrent_appends),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
