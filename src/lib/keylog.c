/* The key usage log (include/vouch/keylog.h, docs/formats.md).
 *
 * Line k (1-based) is one JSON object ending in '\n' with "seq": k and
 * "prev": the sha256 of line k-1's bytes including its newline (64 zeros
 * for line 1). PATH.head holds {"entries": N, "last": sha256 of line N},
 * rewritten atomically after each append; both are changed only under an
 * exclusive flock() of the log file. */
#include "vouch/keylog.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "vouch/buf.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/json.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define HASH_HEX (2 * VOUCH_SHA256_LEN)
/* Largest head file accepted. */
#define HEAD_MAX 512
/* Ceilings on logged strings, so that a line stays under
 * VOUCH_KEYLOG_MAX_LINE even when every byte needs a JSON escape. */
#define MAX_LOCATION 1024
#define MAX_NAME 512
#define MAX_ERROR 512
#define MAX_WHO 128
#define MAX_OPERATION 64

/* ---- paths ------------------------------------------------------------ */

static enum vouch_rc put_path(char *buf, size_t cap, struct vouch_err *err, const char *a,
			      const char *b)
{
	int n = snprintf(buf, cap, "%s%s", a, b);
	if (n < 0 || (size_t)n >= cap)
		return vouch_err_set(err, VOUCH_E_USAGE, "key log path too long");
	return VOUCH_OK;
}

enum vouch_rc vouch_keylog_path(const char *explicit_path, char *buf, size_t cap,
				struct vouch_err *err)
{
	if (explicit_path != NULL && explicit_path[0] != '\0')
		return put_path(buf, cap, err, explicit_path, "");
	const char *env = getenv("VOUCH_KEY_LOG");
	if (env != NULL && env[0] != '\0')
		return put_path(buf, cap, err, env, "");
	/* XDG: a relative XDG_STATE_HOME is invalid and ignored. */
	env = getenv("XDG_STATE_HOME");
	if (env != NULL && env[0] == '/')
		return put_path(buf, cap, err, env, "/vouch/key-usage.log");
	env = getenv("HOME");
	if (env != NULL && env[0] == '/')
		return put_path(buf, cap, err, env, "/.local/state/vouch/key-usage.log");
	return vouch_err_set(err, VOUCH_E_USAGE,
			     "no key log location: set HOME, XDG_STATE_HOME or VOUCH_KEY_LOG, "
			     "or give --log");
}

static enum vouch_rc head_path(const char *path, char *buf, size_t cap, struct vouch_err *err)
{
	return put_path(buf, cap, err, path, VOUCH_KEYLOG_HEAD_SUFFIX);
}

/* ---- what goes into a line -------------------------------------------- */

static int attr_is_pin_value(const char *a, size_t n)
{
	/* Attribute names may be percent-encoded; decode before comparing. */
	static const char want[] = "pin-value";
	size_t w = 0;
	for (size_t i = 0; i < n && a[i] != '='; i++) {
		int c = (unsigned char)a[i];
		if (c == '%' && i + 2 < n && isxdigit((unsigned char)a[i + 1]) &&
		    isxdigit((unsigned char)a[i + 2])) {
			char hx[3] = {a[i + 1], a[i + 2], 0};
			c = (int)strtol(hx, NULL, 16);
			i += 2;
		}
		if (w >= sizeof(want) - 1 || tolower(c) != want[w])
			return 0;
		w++;
	}
	return w == sizeof(want) - 1;
}

/* Copies a PKCS#11 URI without its pin-value attributes (in the path,
 * separated by ';', or the query, separated by '&'). */
static void strip_pin(const char *uri, char *buf, size_t cap)
{
	size_t o = 0, i = 7; /* after "pkcs11:" */
	int in_query = 0, first = 1;
	if (cap == 0)
		return;
	memcpy(buf, uri, cap > 7 ? 7 : cap - 1);
	o = cap > 7 ? 7 : cap - 1;
	size_t len = strlen(uri);
	while (i <= len) {
		size_t j = i;
		char sep = in_query ? '&' : ';';
		while (j < len && uri[j] != sep && !(!in_query && uri[j] == '?'))
			j++;
		if (!attr_is_pin_value(uri + i, j - i) && j > i) {
			if (!first && o + 1 < cap)
				buf[o++] = in_query ? '&' : ';';
			for (size_t k = i; k < j && o + 1 < cap; k++)
				buf[o++] = uri[k];
			first = 0;
		}
		if (j < len && !in_query && uri[j] == '?') {
			in_query = 1;
			if (o + 1 < cap)
				buf[o++] = '?';
			first = 1;
		}
		i = j + 1;
	}
	buf[o] = '\0';
}

void vouch_keylog_location(const char *path_or_uri, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	if (path_or_uri == NULL) {
		buf[0] = '\0';
		return;
	}
	if (strncmp(path_or_uri, "pkcs11:", 7) == 0)
		strip_pin(path_or_uri, buf, cap);
	else if (strncmp(path_or_uri, "file:", 5) == 0)
		snprintf(buf, cap, "%s", path_or_uri);
	else
		snprintf(buf, cap, "file:%s", path_or_uri);
}

/* A JSON string of at most max bytes of s: control characters become '?'
 * (a log line is one line, and a terminal shows it safely), a cut never
 * splits a UTF-8 sequence, and invalid UTF-8 falls back to ASCII. */
static json_t *clean_string(const char *s, size_t max)
{
	char buf[MAX_LOCATION + 1];
	size_t n = strlen(s);
	if (max > MAX_LOCATION)
		max = MAX_LOCATION;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[n] = '\0';
	json_t *j = json_stringn(buf, n);
	if (j != NULL)
		return j;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)buf[i] >= 0x80)
			buf[i] = '?';
	}
	return json_stringn(buf, n);
}

static json_t *clean_or_null(const char *s, size_t max)
{
	return s != NULL ? clean_string(s, max) : json_null();
}

static void now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static void current_user(char *buf, size_t cap)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	uid_t uid = geteuid();
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL &&
	    pw.pw_name != NULL && pw.pw_name[0] != '\0') {
		snprintf(buf, cap, "%s", pw.pw_name);
		return;
	}
	snprintf(buf, cap, "uid:%lu", (unsigned long)uid);
}

static void current_host(char *buf, size_t cap)
{
	if (gethostname(buf, cap) != 0 || buf[0] == '\0')
		snprintf(buf, cap, "unknown");
	buf[cap - 1] = '\0';
}

static int is_hex64(const char *s)
{
	if (strlen(s) != HASH_HEX)
		return 0;
	for (size_t i = 0; i < HASH_HEX; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* Builds the line for entry seq after prev (hex), with its newline. */
static enum vouch_rc build_line(const struct vouch_keylog_event *ev, size_t seq, const char *prev,
				struct vouch_buf *out, struct vouch_err *err)
{
	char when[32], user[MAX_WHO + 1], host[MAX_WHO + 1], loc[MAX_LOCATION + 1];
	char sha[HASH_HEX + 1];
	json_t *subject = NULL, *o = NULL;
	char *text = NULL;
	enum vouch_rc rc = VOUCH_OK;

	now_rfc3339(when);
	current_user(user, sizeof(user));
	current_host(host, sizeof(host));
	/* Never a PIN, whatever the caller passes. */
	vouch_keylog_location(ev->key_location != NULL ? ev->key_location : "", loc, sizeof(loc));
	if (ev->key_location == NULL || ev->key_location[0] == '\0')
		loc[0] = '\0';
	if (ev->subject_sha256 != NULL)
		vouch_hex_encode(ev->subject_sha256, VOUCH_SHA256_LEN, sha);
	subject = json_pack("{s:o, s:o}", "name", clean_or_null(ev->subject_name, MAX_NAME),
			    "sha256", ev->subject_sha256 != NULL ? json_string(sha) : json_null());
	/* Only a well-formed key id: the reader accepts nothing else. */
	int have_key_id = ev->key_id != NULL && is_hex64(ev->key_id);
	o = json_pack(
	    "{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:O, s:s, s:o, s:s}", "seq", (json_int_t)seq,
	    "time", when, "user", clean_string(user, MAX_WHO), "host", clean_string(host, MAX_WHO),
	    "key_id", have_key_id ? clean_string(ev->key_id, HASH_HEX) : json_null(),
	    "key_location", clean_string(loc, MAX_LOCATION), "operation",
	    clean_string(ev->operation != NULL ? ev->operation : "unknown", MAX_OPERATION),
	    "subject", subject, "result", ev->ok ? "ok" : "error", "error",
	    ev->ok ? json_null()
		   : clean_string(ev->error != NULL ? ev->error : "unknown error", MAX_ERROR),
	    "prev", prev);
	if (o == NULL || subject == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "cannot build a key log entry");
		goto out;
	}
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "cannot encode a key log entry");
		goto out;
	}
	if (strlen(text) > VOUCH_KEYLOG_MAX_LINE) {
		rc = vouch_err_set(err, VOUCH_E_INTERNAL, "key log entry too long");
		goto out;
	}
	rc = vouch_buf_append_str(out, text, err);
	if (rc == VOUCH_OK)
		rc = vouch_buf_append(out, "\n", 1, err);
out:
	free(text);
	json_decref(o);
	json_decref(subject);
	return rc;
}

/* ---- checking one line ------------------------------------------------ */

static int is_time(const char *s)
{
	/* YYYY-MM-DDTHH:MM:SSZ */
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	}
	return 1;
}

static enum vouch_rc field_fail(struct vouch_err *err, const char *field, const char *want)
{
	return vouch_err_set(err, VOUCH_E_FORMAT, "field '%s' must be %s", field, want);
}

/* The fields of an entry: exactly these, with these types. */
static enum vouch_rc check_entry(json_t *o, struct vouch_err *err)
{
	static const char *const fields[] = {"seq",    "time",	       "user",	    "host",
					     "key_id", "key_location", "operation", "subject",
					     "result", "error",	       "prev"};
	const size_t nf = sizeof(fields) / sizeof(fields[0]);
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return vouch_err_set(err, VOUCH_E_FORMAT, "not a JSON object");
	json_object_foreach (o, k, v) {
		size_t i = 0;
		while (i < nf && strcmp(k, fields[i]) != 0)
			i++;
		if (i == nf)
			return vouch_err_set(err, VOUCH_E_FORMAT, "unknown field");
	}
	for (size_t i = 0; i < nf; i++) {
		if (json_object_get(o, fields[i]) == NULL)
			return vouch_err_set(err, VOUCH_E_FORMAT, "field '%s' missing", fields[i]);
	}
	v = json_object_get(o, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return field_fail(err, "seq", "a positive integer");
	v = json_object_get(o, "time");
	if (!json_is_string(v) || !is_time(json_string_value(v)))
		return field_fail(err, "time", "an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)");
	static const char *const strings[] = {"user", "host", "key_location", "operation"};
	for (size_t i = 0; i < 4; i++) {
		if (!json_is_string(json_object_get(o, strings[i])))
			return field_fail(err, strings[i], "a string");
	}
	v = json_object_get(o, "key_id");
	if (!json_is_null(v) && !(json_is_string(v) && is_hex64(json_string_value(v))))
		return field_fail(err, "key_id", "null or 64 lowercase hex digits");
	json_t *s = json_object_get(o, "subject");
	if (!json_is_object(s) || json_object_size(s) != 2 || json_object_get(s, "name") == NULL ||
	    json_object_get(s, "sha256") == NULL)
		return field_fail(err, "subject", "an object {name, sha256}");
	v = json_object_get(s, "name");
	if (!json_is_null(v) && !json_is_string(v))
		return field_fail(err, "subject.name", "null or a string");
	v = json_object_get(s, "sha256");
	if (!json_is_null(v) && !(json_is_string(v) && is_hex64(json_string_value(v))))
		return field_fail(err, "subject.sha256", "null or 64 lowercase hex digits");
	v = json_object_get(o, "result");
	const char *r = json_is_string(v) ? json_string_value(v) : "";
	json_t *e = json_object_get(o, "error");
	if (strcmp(r, "ok") == 0) {
		if (!json_is_null(e))
			return field_fail(err, "error", "null when result is \"ok\"");
	} else if (strcmp(r, "error") == 0) {
		if (!json_is_string(e))
			return field_fail(err, "error", "a string when result is \"error\"");
	} else {
		return field_fail(err, "result", "\"ok\" or \"error\"");
	}
	v = json_object_get(o, "prev");
	if (!json_is_string(v) || !is_hex64(json_string_value(v)))
		return field_fail(err, "prev", "64 lowercase hex digits");
	return VOUCH_OK;
}

/* ---- reading lines ---------------------------------------------------- */

struct reader {
	FILE *fp;
	char *line; /* VOUCH_KEYLOG_MAX_LINE + 2 bytes */
	size_t len; /* bytes of the current line, with its newline */
	size_t lineno;
};

/* Next line into r->line: VOUCH_OK with *have = 1 (a line) or 0 (the
 * end). On an error, r->lineno is the bad line. */
static enum vouch_rc next_line(struct reader *r, int *have, struct vouch_err *err)
{
	size_t n = 0;
	int c;
	*have = 0;
	while ((c = getc(r->fp)) != EOF) {
		if (n > VOUCH_KEYLOG_MAX_LINE) {
			r->lineno++;
			return vouch_err_set(err, VOUCH_E_VERIFY, "line %zu: longer than %d bytes",
					     r->lineno, VOUCH_KEYLOG_MAX_LINE);
		}
		r->line[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (ferror(r->fp))
		return vouch_err_set(err, VOUCH_E_IO, "read: %s", strerror(errno));
	if (n == 0)
		return VOUCH_OK;
	r->lineno++;
	r->len = n;
	r->line[n] = '\0';
	if (r->line[n - 1] != '\n')
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "line %zu: incomplete (no newline at the end: truncated, or "
				     "an interrupted write)",
				     r->lineno);
	*have = 1;
	return VOUCH_OK;
}

/* Parses and checks the fields of the current line. */
static enum vouch_rc parse_line(const char *line, size_t len, size_t lineno, json_t **out,
				struct vouch_err *err)
{
	json_t *o = NULL;
	enum vouch_rc rc = vouch_json_parse(line, len - 1, VOUCH_KEYLOG_MAX_LINE, &o, err);
	if (rc == VOUCH_OK)
		rc = check_entry(o, err);
	if (rc != VOUCH_OK) {
		json_decref(o);
		vouch_err_prefix(err, "line %zu: not a valid entry: ", lineno);
		if (err != NULL)
			err->code = VOUCH_E_VERIFY;
		return VOUCH_E_VERIFY;
	}
	*out = o;
	return VOUCH_OK;
}

static void line_hash(const char *line, size_t len, char hex[HASH_HEX + 1])
{
	uint8_t d[VOUCH_SHA256_LEN];
	vouch_sha256(line, len, d);
	vouch_hex_encode(d, sizeof(d), hex);
}

/* Reads PATH.head: *entries and last. A missing head reads as 0 entries
 * (a log whose first append was interrupted before its head was written). */
static enum vouch_rc read_head(const char *path, size_t *entries, char last[HASH_HEX + 1],
			       int *exists, struct vouch_err *err)
{
	char hp[PATH_MAX];
	struct vouch_buf b = {0};
	json_t *o = NULL;
	enum vouch_rc rc = head_path(path, hp, sizeof(hp), err);
	*entries = 0;
	*exists = 0;
	memcpy(last, ZERO_HASH, HASH_HEX + 1);
	if (rc != VOUCH_OK)
		return rc;
	rc = vouch_file_read(hp, HEAD_MAX, &b, err);
	if (rc == VOUCH_E_NOTFOUND) {
		vouch_err_clear(err);
		return VOUCH_OK;
	}
	if (rc != VOUCH_OK)
		return rc;
	*exists = 1;
	int64_t n = 0;
	const char *l = NULL;
	rc = vouch_json_parse(b.data, b.len, HEAD_MAX, &o, err);
	if (rc == VOUCH_OK && (!json_is_object(o) || json_object_size(o) != 2))
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "not {entries, last}");
	if (rc == VOUCH_OK)
		rc = vouch_json_get_int(o, "entries", 0, INT64_MAX, &n, err);
	if (rc == VOUCH_OK)
		rc = vouch_json_get_string(o, "last", &l, err);
	if (rc == VOUCH_OK && !is_hex64(l))
		rc = vouch_err_set(err, VOUCH_E_FORMAT, "'last' must be 64 lowercase hex digits");
	if (rc == VOUCH_OK) {
		*entries = (size_t)n;
		memcpy(last, l, HASH_HEX + 1);
	} else {
		vouch_err_prefix(err, "%s: ", hp);
		if (err != NULL)
			err->code = VOUCH_E_VERIFY;
		rc = VOUCH_E_VERIFY;
	}
	json_decref(o);
	vouch_buf_free(&b);
	return rc;
}

static enum vouch_rc write_head(const char *path, size_t entries, const char *last,
				struct vouch_err *err)
{
	char hp[PATH_MAX], text[128];
	enum vouch_rc rc = head_path(path, hp, sizeof(hp), err);
	if (rc != VOUCH_OK)
		return rc;
	int n = snprintf(text, sizeof(text), "{\"entries\":%zu,\"last\":\"%s\"}\n", entries, last);
	return vouch_file_write_atomic(hp, text, (size_t)n, 0600, err);
}

static int lock_fd(int fd, int op)
{
	while (flock(fd, op) != 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* ---- append ----------------------------------------------------------- */

/* The last line of the log open at fd (size bytes): its seq and hash. */
static enum vouch_rc read_tail(int fd, off_t size, const char *path, size_t *seq,
			       char hash[HASH_HEX + 1], char prev[HASH_HEX + 1],
			       struct vouch_err *err)
{
	const size_t cap = VOUCH_KEYLOG_MAX_LINE + 2;
	char *buf = NULL;
	json_t *o = NULL;
	size_t start = 0;
	enum vouch_rc rc = VOUCH_OK;

	*seq = 0;
	memcpy(hash, ZERO_HASH, HASH_HEX + 1);
	memcpy(prev, ZERO_HASH, HASH_HEX + 1);
	if (size == 0)
		return VOUCH_OK;
	size_t want = (uint64_t)size < cap ? (size_t)size : cap;
	buf = malloc(want + 1);
	if (buf == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, size - (off_t)want + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = vouch_err_set(err, VOUCH_E_IO, "%s: read: %s", path,
					   n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	if (buf[want - 1] != '\n') {
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "%s: the last line is incomplete (no newline at the end); run "
				   "'vouch log verify' and move the damaged log aside",
				   path);
		goto out;
	}
	start = want - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && (uint64_t)size > want) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY, "%s: the last line is longer than %d bytes",
				   path, VOUCH_KEYLOG_MAX_LINE);
		goto out;
	}
	rc = parse_line(buf + start, want - start, 0, &o, err);
	if (rc != VOUCH_OK) {
		vouch_err_prefix(err, "%s: last ", path);
		goto out;
	}
	*seq = (size_t)json_integer_value(json_object_get(o, "seq"));
	memcpy(prev, json_string_value(json_object_get(o, "prev")), HASH_HEX + 1);
	line_hash(buf + start, want - start, hash);
out:
	json_decref(o);
	free(buf);
	return rc;
}

static enum vouch_rc write_line(int fd, off_t size, const char *path, const struct vouch_buf *b,
				struct vouch_err *err)
{
	const uint8_t *p = b->data;
	size_t left = b->len;
	while (left > 0) {
		ssize_t n = vouch_fault_write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			/* Leave no partial line behind: we hold the lock. */
			if (ftruncate(fd, size) != 0) {
				/* verify will report the partial line */
			}
			return vouch_err_set(err, VOUCH_E_IO, "%s: write: %s", path,
					     n < 0 ? strerror(e) : "no progress");
		}
		p += n;
		left -= (size_t)n;
	}
	if (vouch_fault_fsync(fd) != 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: fsync: %s", path, strerror(errno));
	return VOUCH_OK;
}

static enum vouch_rc make_parent(const char *path, struct vouch_err *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		return VOUCH_OK;
	size_t n = (size_t)(slash - path);
	if (n >= sizeof(dir))
		return vouch_err_set(err, VOUCH_E_USAGE, "key log path too long");
	memcpy(dir, path, n);
	dir[n] = '\0';
	return vouch_mkdir_p(dir, 0700, err);
}

enum vouch_rc vouch_keylog_append(const char *path, const struct vouch_keylog_event *ev,
				  struct vouch_err *err)
{
	struct vouch_buf line = {0};
	char last[HASH_HEX + 1], last_prev[HASH_HEX + 1], head_last[HASH_HEX + 1];
	char new_hash[HASH_HEX + 1];
	size_t seq = 0, head_entries = 0;
	int head_exists = 0, consistent = 0;
	struct stat st;
	enum vouch_rc rc = make_parent(path, err);
	if (rc != VOUCH_OK)
		return rc;
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return vouch_err_set(err, VOUCH_E_IO, "key log %s: cannot open: %s", path,
				     strerror(errno));
	if (lock_fd(fd, LOCK_EX) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "key log %s: cannot lock: %s", path,
				   strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "key log %s: %s", path, strerror(errno));
		goto out;
	}
	rc = read_tail(fd, st.st_size, path, &seq, last, last_prev, err);
	if (rc == VOUCH_OK)
		rc = read_head(path, &head_entries, head_last, &head_exists, err);
	if (rc != VOUCH_OK)
		goto out;
	/* The head must describe the tail, or lag one entry behind it (an
	 * append interrupted before its head was written). Anything else
	 * means entries were removed or edited: refuse to extend (and so
	 * hide) a damaged chain. */
	consistent = (seq == head_entries && strcmp(last, head_last) == 0) ||
		     (seq == head_entries + 1 && strcmp(last_prev, head_last) == 0);
	if (!consistent) {
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "key log %s does not match its head file (%zu entries recorded, "
				   "the last line is entry %zu): entries removed or edited? Run "
				   "'vouch log verify'",
				   path, head_entries, seq);
		goto out;
	}
	rc = build_line(ev, seq + 1, last, &line, err);
	if (rc == VOUCH_OK)
		rc = write_line(fd, st.st_size, path, &line, err);
	if (rc != VOUCH_OK)
		goto out;
	line_hash((const char *)line.data, line.len, new_hash);
	rc = write_head(path, seq + 1, new_hash, err);
	if (rc != VOUCH_OK)
		vouch_err_prefix(err, "key log head: ");
out:
	vouch_buf_free(&line);
	close(fd); /* releases the lock */
	return rc;
}

/* ---- verify and walk -------------------------------------------------- */

enum vouch_rc vouch_keylog_verify_status(const char *path, struct vouch_keylog_status *st,
					 struct vouch_err *err)
{
	struct reader r = {0};
	json_t *o = NULL;
	/* hash of the last line read, and of the one before it */
	char prev[HASH_HEX + 1], before[HASH_HEX + 1], head_last[HASH_HEX + 1];
	char hp[PATH_MAX];
	size_t head_entries = 0, bad = 0, n = 0;
	int head_exists = 0, have = 0;
	enum vouch_rc rc = VOUCH_OK;

	memset(st, 0, sizeof(*st));
	memcpy(prev, ZERO_HASH, HASH_HEX + 1);
	memcpy(before, ZERO_HASH, HASH_HEX + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return vouch_err_set(err, VOUCH_E_IO, "%s: cannot open: %s", path, strerror(errno));
	if (fd < 0) {
		rc = read_head(path, &head_entries, head_last, &head_exists, err);
		if (rc != VOUCH_OK)
			return rc;
		if (!head_exists)
			return vouch_err_set(err, VOUCH_E_NOTFOUND, "%s: no key log", path);
		st->bad_line = 1;
		return vouch_err_set(err, VOUCH_E_VERIFY,
				     "line 1: missing (the log is gone but its head file records "
				     "%zu entries)",
				     head_entries);
	}
	/* A shared lock: no append is half done while we read. */
	if (lock_fd(fd, LOCK_SH) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: cannot lock: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	r.fp = fdopen(fd, "r");
	if (r.fp == NULL)
		close(fd);
	r.line = malloc(VOUCH_KEYLOG_MAX_LINE + 2);
	if (r.fp == NULL || r.line == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		rc = next_line(&r, &have, err);
		if (rc != VOUCH_OK) {
			bad = r.lineno;
			goto out;
		}
		if (!have)
			break;
		rc = parse_line(r.line, r.len, r.lineno, &o, err);
		if (rc != VOUCH_OK) {
			bad = r.lineno;
			goto out;
		}
		json_int_t seq = json_integer_value(json_object_get(o, "seq"));
		const char *p = json_string_value(json_object_get(o, "prev"));
		if (seq != (json_int_t)r.lineno) {
			bad = r.lineno;
			rc = vouch_err_set(err, VOUCH_E_VERIFY,
					   "line %zu: entry number %" JSON_INTEGER_FORMAT
					   ", expected %zu (an entry removed or reordered?)",
					   r.lineno, seq, r.lineno);
			goto out;
		}
		if (strcmp(p, prev) != 0) {
			if (r.lineno == 1) {
				bad = 1;
				rc = vouch_err_set(err, VOUCH_E_VERIFY,
						   "line 1: prev is not 64 zeros (the first entry "
						   "edited?)");
			} else {
				/* The numbers run on, so nothing was removed here:
				 * the line before changed after this one was
				 * written (or this line's prev did). */
				bad = r.lineno - 1;
				rc =
				    vouch_err_set(err, VOUCH_E_VERIFY,
						  "line %zu: edited (its sha256 does not match the "
						  "prev recorded in line %zu)",
						  bad, r.lineno);
			}
			goto out;
		}
		memcpy(before, prev, sizeof(before));
		line_hash(r.line, r.len, prev);
		st->entries = r.lineno;
		json_decref(o);
		o = NULL;
	}
	rc = read_head(path, &head_entries, head_last, &head_exists, err);
	if (rc != VOUCH_OK) {
		bad = st->entries + 1;
		if (rc == VOUCH_E_VERIFY)
			vouch_err_prefix(
			    err, "line %zu: cannot rule out removed trailing entries: ", bad);
		goto out;
	}
	n = st->entries;
	if (n > 0)
		memcpy(st->last, prev, sizeof(st->last));
	if (n == head_entries && strcmp(prev, head_last) == 0)
		goto out;
	if (n == head_entries + 1 && strcmp(before, head_last) == 0) {
		/* An append stopped between the log and its head. */
		st->head_lags = 1;
		goto out;
	}
	if (head_path(path, hp, sizeof(hp), NULL) != VOUCH_OK)
		hp[0] = '\0';
	if (n < head_entries) {
		bad = n + 1;
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "line %zu: missing (the head file records %zu entries, the log "
				   "has %zu: trailing entries removed?)",
				   bad, head_entries, n);
	} else if (n == head_entries) {
		bad = n > 0 ? n : 1;
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "line %zu: edited (its sha256 does not match the head file %s)",
				   bad, hp);
	} else if (n == head_entries + 1) {
		bad = n - 1;
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "line %zu: edited (its sha256 does not match the head file %s)",
				   bad, hp);
	} else {
		bad = head_entries + 2;
		rc = vouch_err_set(err, VOUCH_E_VERIFY,
				   "line %zu: not recorded in the head file %s (%s; head replaced "
				   "or deleted?)",
				   bad, hp,
				   head_exists ? "it records fewer entries" : "it is missing");
	}
out:
	if (rc != VOUCH_OK)
		st->bad_line = bad;
	json_decref(o);
	free(r.line);
	if (r.fp != NULL)
		fclose(r.fp); /* releases the lock */
	return rc;
}

enum vouch_rc vouch_keylog_verify(const char *path, size_t *entries, size_t *bad_line,
				  struct vouch_err *err)
{
	struct vouch_keylog_status st;
	enum vouch_rc rc = vouch_keylog_verify_status(path, &st, err);
	if (entries != NULL)
		*entries = st.entries;
	if (bad_line != NULL)
		*bad_line = st.bad_line;
	return rc;
}

enum vouch_rc vouch_keylog_foreach(const char *path, vouch_keylog_cb cb, void *ctx,
				   struct vouch_err *err)
{
	struct reader r = {0};
	json_t *o = NULL;
	int have = 0;
	enum vouch_rc rc = VOUCH_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vouch_err_set(err, errno == ENOENT ? VOUCH_E_NOTFOUND : VOUCH_E_IO, "%s: %s",
				     path, errno == ENOENT ? "no key log" : strerror(errno));
	if (lock_fd(fd, LOCK_SH) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: cannot lock: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	r.fp = fdopen(fd, "r");
	if (r.fp == NULL)
		close(fd);
	r.line = malloc(VOUCH_KEYLOG_MAX_LINE + 2);
	if (r.fp == NULL || r.line == NULL) {
		rc = vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		rc = next_line(&r, &have, err);
		if (rc != VOUCH_OK || !have)
			break;
		rc = parse_line(r.line, r.len, r.lineno, &o, err);
		if (rc != VOUCH_OK)
			break;
		if (cb(ctx, r.lineno, o) != 0) {
			rc = vouch_err_set(err, VOUCH_E_INTERNAL, "stopped at line %zu", r.lineno);
			break;
		}
		json_decref(o);
		o = NULL;
	}
out:
	json_decref(o);
	free(r.line);
	if (r.fp != NULL)
		fclose(r.fp);
	return rc;
}
