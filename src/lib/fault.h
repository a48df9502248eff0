/* Fault-injection points for power-cut tests.
 *
 * Every durable state change in libvouch goes through these wrappers. In a
 * build configured with -Dfault_injection=true, setting VOUCH_FAULT_CUT_AT=N
 * makes the N-th such operation (1-based, counted across write, fsync,
 * rename and boot-environment writes) end the process at once with exit
 * code 99 *instead of* performing it: the state is what a power cut at that
 * instant could leave. VOUCH_FAULT_COUNT_FILE=PATH makes the process write
 * the number of points it passed to PATH at exit, so tests know how many
 * cut points a path has. In ordinary builds the wrappers are the plain
 * system calls. */
#ifndef VOUCH_FAULT_H
#define VOUCH_FAULT_H

#include <sys/types.h>

/* The kind of point, for the log line the test reads. */
enum vouch_fault_kind {
	VOUCH_FAULT_WRITE,
	VOUCH_FAULT_FSYNC,
	VOUCH_FAULT_RENAME,
	VOUCH_FAULT_BOOTENV,
	VOUCH_FAULT_SYMLINK,
	VOUCH_FAULT_UNLINK,
};

/* Returns normally when the operation may go ahead; does not return when
 * this is the cut point. what names the operation's target. */
void vouch_fault_point(enum vouch_fault_kind kind, const char *what);

ssize_t vouch_fault_write(int fd, const void *p, size_t n);
int vouch_fault_fsync(int fd);
int vouch_fault_rename(const char *from, const char *to);

#endif
