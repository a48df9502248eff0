/* Fuzzes the key usage log reader: any bytes as a log (with a head file
 * that matches its last line, so that the whole chain is exercised) either
 * verify or fail with VOUCH_E_VERIFY naming a line within the
 * input and a message starting "line N: "; vouch_keylog_foreach walks at
 * most as many entries, and an append onto a log that verified keeps it
 * verifying. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "vouch/encoding.h"
#include "vouch/hash.h"
#include "vouch/keylog.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_keylog: property violated: %s\n", what);
		abort();
	}
}

static char dir[64];
static char path[128];
static char head[160];

static void cleanup(void)
{
	unlink(path);
	unlink(head);
	rmdir(dir);
}

static int count(void *ctx, size_t line, json_t *entry)
{
	(void)line;
	(void)entry;
	(*(size_t *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vouch_err err = {0};
	struct vouch_keylog_status st;
	size_t lines = 0, walked = 0;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/vouch-fuzz-keylog-XXXXXX");
		check(mkdtemp(dir) != NULL, "mkdtemp");
		snprintf(path, sizeof(path), "%s/log", dir);
		snprintf(head, sizeof(head), "%s/log.head", dir);
		atexit(cleanup);
	}
	unlink(head);
	FILE *f = fopen(path, "wb");
	check(f != NULL, "create log");
	check(fwrite(data, 1, size, f) == size, "write log");
	fclose(f);
	size_t last_start = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			lines++;
			if (i + 1 < size)
				last_start = i + 1;
		}
	}
	if (lines > 0 && data[size - 1] == '\n') {
		uint8_t d[VOUCH_SHA256_LEN];
		char hex[2 * VOUCH_SHA256_LEN + 1];
		vouch_sha256(data + last_start, size - last_start, d);
		vouch_hex_encode(d, sizeof(d), hex);
		f = fopen(head, "wb");
		check(f != NULL, "create head");
		fprintf(f, "{\"entries\":%zu,\"last\":\"%s\"}\n", lines, hex);
		fclose(f);
	}

	enum vouch_rc rc = vouch_keylog_verify_status(path, &st, &err);
	if (rc != VOUCH_OK) {
		check(rc == VOUCH_E_VERIFY, "unexpected error code");
		check(st.bad_line >= 1 && st.bad_line <= lines + 1, "bad line out of range");
		check(strncmp(err.msg, "line ", 5) == 0, "message does not name the line");
		return 0;
	}
	check(st.entries == lines, "entries != lines");
	check(vouch_keylog_foreach(path, count, &walked, NULL) == VOUCH_OK, "foreach");
	check(walked == st.entries, "foreach count");
	struct vouch_keylog_event ev = {.operation = "fuzz", .ok = 1};
	check(vouch_keylog_append(path, &ev, NULL) == VOUCH_OK, "append to a valid log");
	check(vouch_keylog_verify_status(path, &st, NULL) == VOUCH_OK, "valid after append");
	check(st.entries == lines + 1, "entries after append");
	return 0;
}
