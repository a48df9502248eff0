/* vouch log show | verify: the hash-chained key usage log (src/lib/keylog.c). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vouch/keylog.h"

static void log_usage(FILE *fp)
{
	fputs("Usage: vouch log show [--log PATH] [--json]\n"
	      "       vouch log verify [--log PATH]\n"
	      "\n"
	      "The key usage log records every key generation, signature and failed signing\n"
	      "attempt: time, user, host, key id, key location, operation, subject, result,\n"
	      "each line chained to the previous one by its sha256 (docs/formats.md).\n"
	      "\n"
	      "  show     print the entries as a table (--json: as a JSON array)\n"
	      "  verify   check the chain and the head file; on a problem, name the first\n"
	      "           bad line and exit 1\n"
	      "\n"
	      "Options:\n"
	      "  -l, --log PATH   the log (default $VOUCH_KEY_LOG, else\n"
	      "                   $XDG_STATE_HOME/vouch/key-usage.log, else\n"
	      "                   ~/.local/state/vouch/key-usage.log)\n"
	      "  -j, --json       (show) print JSON\n"
	      "  -h, --help       show this help\n"
	      "\n"
	      "Exit codes: 0 ok, 1 the log was tampered with or damaged, 2 usage error,\n"
	      "3 system or I/O error (e.g. no log).\n",
	      fp);
}

/* Prints s with control characters as '?': an edited log must not drive
 * the terminal. At most max bytes, then "..." */
static void put_clean(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n] != '\0' && n < max; n++) {
		unsigned char c = (unsigned char)s[n];
		putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
	if (s[n] != '\0')
		fputs("...", stdout);
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static void pad(size_t used, size_t width)
{
	for (size_t i = used; i < width; i++)
		putchar(' ');
	putchar(' ');
}

static int show_row(void *ctx, size_t line, json_t *e)
{
	(void)ctx;
	char who[300];
	json_t *subj = json_object_get(e, "subject");
	const char *name = str_or(subj, "name", "-");
	const char *sha = str_or(subj, "sha256", NULL);
	printf("%-5zu ", line);
	fputs(str_or(e, "time", "?"), stdout);
	putchar(' ');
	snprintf(who, sizeof(who), "%s@%s", str_or(e, "user", "?"), str_or(e, "host", "?"));
	put_clean(who, 24);
	pad(strlen(who) > 24 ? 27 : strlen(who), 24);
	const char *op = str_or(e, "operation", "?");
	put_clean(op, 14);
	pad(strlen(op) > 14 ? 17 : strlen(op), 14);
	const char *id = str_or(e, "key_id", "-");
	printf("%-16.16s ", id);
	put_clean(name, 40);
	if (sha != NULL)
		printf(" (sha256 %.12s)", sha);
	fputs("  ", stdout);
	if (strcmp(str_or(e, "result", ""), "ok") == 0) {
		fputs("ok", stdout);
	} else {
		fputs("error: ", stdout);
		put_clean(str_or(e, "error", "?"), 200);
	}
	fputs("  [", stdout);
	put_clean(str_or(e, "key_location", ""), 120);
	fputs("]\n", stdout);
	return 0;
}

struct json_ctx {
	size_t n;
};

static int show_json(void *ctx, size_t line, json_t *e)
{
	(void)line;
	struct json_ctx *j = ctx;
	char *text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		return -1;
	printf("%s  %s", j->n == 0 ? "" : ",\n", text);
	j->n++;
	free(text);
	return 0;
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"log", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *log_opt = NULL, *action = NULL;
	char path[PATH_MAX];
	int json = 0, c;
	struct vouch_err err;
	enum vouch_rc rc;

	vouch_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			log_opt = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			log_usage(stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("log", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("log", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("log", "give one action: show or verify");
	action = argv[optind];
	if (strcmp(action, "show") != 0 && strcmp(action, "verify") != 0)
		return cli_usage_error("log", "unknown action '%s' (show or verify)", action);
	if (json && strcmp(action, "show") != 0)
		return cli_usage_error("log", "--json goes with 'log show'");
	if (vouch_keylog_path(log_opt, path, sizeof(path), &err) != VOUCH_OK)
		return cli_fail(&err);

	if (strcmp(action, "verify") == 0) {
		struct vouch_keylog_status st;
		rc = vouch_keylog_verify_status(path, &st, &err);
		if (rc != VOUCH_OK) {
			vouch_err_prefix(&err, "%s: ", path);
			return cli_fail(&err);
		}
		printf("OK: %zu entr%s, last sha256 %s\n", st.entries,
		       st.entries == 1 ? "y" : "ies", st.entries > 0 ? st.last : "-");
		if (st.head_lags)
			fprintf(stderr,
				"vouch: note: the head file lagged one entry behind (an "
				"interrupted append); the next append brings it up to date\n");
		return EXIT_OK;
	}
	if (json) {
		struct json_ctx j = {0};
		fputs("[\n", stdout);
		rc = vouch_keylog_foreach(path, show_json, &j, &err);
		fputs(j.n > 0 ? "\n]\n" : "]\n", stdout);
	} else {
		printf("%-5s %-20s %-24s %-14s %-16s %s\n", "LINE", "TIME (UTC)", "USER@HOST",
		       "OPERATION", "KEY ID", "SUBJECT  RESULT  [KEY LOCATION]");
		rc = vouch_keylog_foreach(path, show_row, NULL, &err);
	}
	if (rc != VOUCH_OK) {
		vouch_err_prefix(&err, "%s: ", path);
		return cli_fail(&err);
	}
	return EXIT_OK;
}
