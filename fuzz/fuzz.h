/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h - what the fuzz targets and their replay driver share.
 *
 * Each fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput() (and may define
 * LLVMFuzzerInitialize()).  Built with clang and -fsanitize=fuzzer they are
 * libFuzzer targets (`make fuzz`); built with any compiler and linked with
 * fuzz/replay.c they replay a corpus once, file by file, for `make check`.
 * Nothing here knows FastCGI.
 *
 * FUZZ_CHECK is the targets' oracle: a property that must hold whatever the
 * input (a reply frames into whole records, a counter returns to zero...).
 * When it fails the process aborts, which libFuzzer reports as a crash and
 * saves the input, and which the replay driver's TAP harness reports as an
 * error.  It is for the code under test's contracts, never for input checks.
 */
#ifndef SYNCASYNC_FUZZ_FUZZ_H
#define SYNCASYNC_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: fuzz check failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#endif
