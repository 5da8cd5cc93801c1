/* SPDX-License-Identifier: ISC */
/*
 * counter.h - the deployment-wide request counter kept in a state file.
 *
 * Every sync_cgi process (CGI or FastCGI worker) of one deployment takes its
 * request number here.  The number is exact under any concurrency: the file
 * is read and rewritten under an exclusive flock(2), which the kernel drops
 * when a holder dies, and the rewrite is a single pwrite(2) of a fixed-width
 * record, so a process killed at any point leaves either the old or the new
 * value.  async_fcgi, one process, counts in memory instead.
 */
#ifndef SYNCASYNC_COMMON_COUNTER_H
#define SYNCASYNC_COMMON_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define COUNTER_FILE "counter"	/* inside the state directory */

/*
 * Increments the counter in state_dir and stores the new value in *value.
 * The directory must exist (the deployment creates it), must not be a
 * symbolic link, must be owned by this user or root and not writable by
 * others.  The file is created 0600 if missing, opened without following a
 * link, and must be a regular file owned by this user with one link.
 * Returns 0, or -1 with a description in err (SA_ERROR_MAX bytes; for the
 * error log: it names paths, so it is not for the response body).
 */
int counter_next(const char *state_dir, uint64_t *value, char *err,
    size_t errlen);

#endif
