/* The libFuzzer entry points every harness in fuzz/ defines. */
#ifndef VOUCH_FUZZ_H
#define VOUCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs the code under test on one input. Returns 0 (or -1 to keep the
 * input out of the corpus); a bug aborts or trips a sanitizer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional one-time setup; harnesses may leave it undefined. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#endif
