/* Test tool (not installed): reads one JSON document from stdin or from the
 * file named as the only argument, and writes its canonical JSON bytes
 * (vouch_canon_encode) to stdout, with no newline. Used by the interop
 * tests to compare libvouch with independent implementations. Errors go to
 * stderr; the exit code is vouch's (1: malformed or oversized input). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vouch/buf.h"
#include "vouch/json.h"

static enum vouch_rc read_stdin(struct vouch_buf *b, struct vouch_err *err)
{
	for (;;) {
		enum vouch_rc rc = vouch_buf_reserve(b, 65536, err);
		if (rc != VOUCH_OK)
			return rc;
		size_t n = fread(b->data + b->len, 1, 65536, stdin);
		b->len += n;
		b->data[b->len] = 0;
		if (b->len > VOUCH_JSON_MAX_SIZE)
			return vouch_err_set(err, VOUCH_E_LIMIT, "stdin: more than %u bytes",
					     VOUCH_JSON_MAX_SIZE);
		if (n == 0)
			return ferror(stdin) ? vouch_err_set(err, VOUCH_E_IO, "stdin: read error")
					     : VOUCH_OK;
	}
}

int main(int argc, char **argv)
{
	struct vouch_buf in = {0}, out = {0};
	struct vouch_err err = {0};
	json_t *v = NULL;
	enum vouch_rc rc;
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: canon [FILE] (default: stdin)\n");
		return 2;
	}
	if (argc == 2)
		rc = vouch_file_read(argv[1], VOUCH_JSON_MAX_SIZE, &in, &err);
	else
		rc = read_stdin(&in, &err);
	if (rc == VOUCH_OK)
		rc = vouch_json_parse(in.data, in.len, VOUCH_JSON_MAX_SIZE, &v, &err);
	if (rc == VOUCH_OK)
		rc = vouch_canon_encode(v, &out, &err);
	if (rc == VOUCH_OK && fwrite(out.data, 1, out.len, stdout) != out.len)
		rc = vouch_err_set(&err, VOUCH_E_IO, "stdout: write error");
	if (rc == VOUCH_OK && fflush(stdout) != 0)
		rc = vouch_err_set(&err, VOUCH_E_IO, "stdout: write error");
	if (rc != VOUCH_OK)
		fprintf(stderr, "canon: %s\n", err.msg);
	json_decref(v);
	vouch_buf_free(&in);
	vouch_buf_free(&out);
	return vouch_rc_exit_code(rc);
}
