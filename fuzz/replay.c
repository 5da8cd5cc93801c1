/* SPDX-License-Identifier: ISC */
/*
 * replay.c - runs a fuzz target once over every file of a corpus, for
 * `make check`; no clang, no libFuzzer.
 *
 *   fuzz/replay_NAME [FILE-OR-DIRECTORY...]
 *
 * Linked with one fuzz/fuzz_NAME.c.  Without arguments it replays
 * $top_srcdir/fuzz/corpus/NAME (NAME is FUZZ_TARGET, set by the build).
 * Directories are read one level deep, files in name order, so the TAP
 * numbering is stable.  Prints one "ok" line per file after
 * LLVMFuzzerTestOneInput() returns; a target that crashes or fails a
 * FUZZ_CHECK aborts the program, after a "# replaying FILE" line that names
 * the input, and the TAP harness reports the missing plan as an error.  An
 * empty corpus is a failure too: a test that checks nothing must not pass.
 * It does not minimise, mutate or time anything: that is libFuzzer's job.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "tests/tap.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the corpus: -DFUZZ_TARGET='\"codec\"'"
#endif

/* Largest corpus file replayed, in bytes; libFuzzer's -max_len is far
 * below, so a bigger file is a mistake worth a failure. */
#define REPLAY_FILE_MAX	(16UL * 1024 * 1024)

/* libFuzzer calls it when a target defines it; so do we. */
extern int LLVMFuzzerInitialize(int *argc, char ***argv)
    __attribute__((weak));

/* Reads all of path into a malloc'd buffer (never NULL on success, even
 * for an empty file).  Returns 0, or -1 with errno set. */
static int
replay_read(const char *path, uint8_t **data, size_t *size)
{
	FILE *fp;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	int rc = -1;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	if (fstat(fileno(fp), &st) == -1)
		goto done;
	if ((size_t)st.st_size > REPLAY_FILE_MAX) {
		errno = EFBIG;
		goto done;
	}
	/* One spare byte: malloc(0) may return NULL. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto done;
	len = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp) || len != (size_t)st.st_size) {
		errno = EIO;
		goto done;
	}
	*data = buf;
	*size = len;
	buf = NULL;
	rc = 0;
done:
	free(buf);
	fclose(fp);
	return rc;
}

static void
replay_file(const char *path)
{
	uint8_t *data;
	size_t size;
	char what[1024];

	printf("# replaying %s\n", path);
	fflush(stdout);
	if (replay_read(path, &data, &size) == -1) {
		snprintf(what, sizeof(what), "%s: %s", path, strerror(errno));
		TAP_OK(0, what);
		return;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	snprintf(what, sizeof(what), "%s (%zu bytes)", path, size);
	TAP_OK(1, what);
	fflush(stdout);
}

static int
replay_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file in dir (not recursing), in name order. */
static void
replay_dir(const char *dir)
{
	DIR *dp;
	struct dirent *de;
	char **names = NULL, **grown, path[4096];
	size_t count = 0, alloc = 0, i;
	struct stat st;

	if ((dp = opendir(dir)) == NULL) {
		snprintf(path, sizeof(path), "%s: %s", dir, strerror(errno));
		TAP_OK(0, path);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (count == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			if ((grown = realloc(names, alloc * sizeof(*names)))
			    == NULL)
				break;
			names = grown;
		}
		if ((names[count] = strdup(de->d_name)) == NULL)
			break;
		count++;
	}
	closedir(dp);
	if (count > 0)
		qsort(names, count, sizeof(*names), replay_compare);
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(path);
		free(names[i]);
	}
	free(names);
}

static void
replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		replay_dir(path);
	else
		replay_file(path);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char corpus[4096];
	int i;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			replay_path(argv[i]);
	} else {
		snprintf(corpus, sizeof(corpus), "%s/fuzz/corpus/%s",
		    top != NULL ? top : ".", FUZZ_TARGET);
		replay_path(corpus);
	}
	TAP_OK(tap_count > 0, "the corpus is not empty");
	return tap_done();
}
