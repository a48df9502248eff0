/* Replays a fuzz harness on every file of the directories and files named
 * on the command line, without libFuzzer: this is how each seed corpus
 * runs as an ordinary unit test (and under ASan+UBSan in `make check`).
 * Exits 1 when an input cannot be read, when the harness returns something
 * other than 0 or -1, or when no input was found at all (a corpus path that
 * went wrong must not pass silently). A bug in the code under test aborts
 * or trips a sanitizer, as under libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Seed files are small; a larger one is a mistake. */
#define REPLAY_MAX_INPUT (16u * 1024 * 1024)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* An exact-size copy, so that ASan sees any read past the end. */
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap), *exact = NULL;
	int rc = -1, r;
	while (buf != NULL) {
		if (len == cap) {
			if (cap >= REPLAY_MAX_INPUT) {
				fprintf(stderr, "replay: %s: larger than %u bytes\n", path,
					REPLAY_MAX_INPUT);
				goto out;
			}
			uint8_t *p = realloc(buf, cap * 2);
			if (p == NULL)
				break;
			buf = p;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				fprintf(stderr, "replay: %s: read error\n", path);
				goto out;
			}
			break;
		}
	}
	if (buf == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		goto out;
	}
	exact = malloc(len ? len : 1);
	if (exact == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		goto out;
	}
	if (len > 0)
		memcpy(exact, buf, len);
	r = LLVMFuzzerTestOneInput(exact, len);
	if (r != 0 && r != -1) {
		fprintf(stderr, "replay: %s: harness returned %d\n", path, r);
		goto out;
	}
	rc = 0;
out:
	free(exact);
	free(buf);
	fclose(f);
	return rc;
}

static int replay_dir(const char *dir, unsigned long *count)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		if (rc == 0 && names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) <
			(int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) != 0)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	if (LLVMFuzzerInitialize != NULL && LLVMFuzzerInitialize(&argc, &argv) != 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		int rc;
		if (S_ISDIR(st.st_mode)) {
			rc = replay_dir(argv[i], &count);
		} else {
			rc = replay_file(argv[i]);
			if (rc == 0)
				count++;
		}
		if (rc != 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("replayed %lu inputs\n", count);
	return 0;
}
