#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef VOUCH_FAULT_INJECTION
static long fault_count;
static long fault_cut_at = -1;
static int fault_ready;

static void fault_write_count(void)
{
	const char *f = getenv("VOUCH_FAULT_COUNT_FILE");
	if (f == NULL)
		return;
	FILE *fp = fopen(f, "w");
	if (fp == NULL)
		return;
	fprintf(fp, "%ld\n", fault_count);
	fclose(fp);
}

static void fault_init(void)
{
	if (fault_ready)
		return;
	fault_ready = 1;
	const char *s = getenv("VOUCH_FAULT_CUT_AT");
	if (s != NULL) {
		char *end = NULL;
		long v = strtol(s, &end, 10);
		if (end != s && *end == '\0' && v > 0)
			fault_cut_at = v;
	}
	atexit(fault_write_count);
}

void vouch_fault_point(enum vouch_fault_kind kind, const char *what)
{
	static const char *const names[] = {"write",   "fsync",	  "rename",
					    "bootenv", "symlink", "unlink"};
	fault_init();
	fault_count++;
	if (fault_count == fault_cut_at) {
		fprintf(stderr, "vouch: fault injection: power cut at point %ld (%s %s)\n",
			fault_count, names[kind], what ? what : "");
		fault_write_count();
		_exit(99);
	}
}
#else
void vouch_fault_point(enum vouch_fault_kind kind, const char *what)
{
	(void)kind;
	(void)what;
}
#endif

ssize_t vouch_fault_write(int fd, const void *p, size_t n)
{
	vouch_fault_point(VOUCH_FAULT_WRITE, NULL);
	return write(fd, p, n);
}

int vouch_fault_fsync(int fd)
{
	vouch_fault_point(VOUCH_FAULT_FSYNC, NULL);
	return fsync(fd);
}

int vouch_fault_rename(const char *from, const char *to)
{
	vouch_fault_point(VOUCH_FAULT_RENAME, to);
	return rename(from, to);
}
