/* SPDX-License-Identifier: ISC */
/*
 * work.h - the rules of the sleeper's real work that every driver shares:
 * the query, the upstream URL, how a failure becomes a 502 or a 504.
 *
 * The blocking drivers are common/work_blocking.c; the non-blocking ones
 * async_fcgi's (doc/ARCHITECTURE.md).  Nothing here loads a library.
 */
#ifndef SYNCASYNC_COMMON_WORK_H
#define SYNCASYNC_COMMON_WORK_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

/* The query the db work runs, its one parameter the seconds. */
#define WORK_DB_QUERY	"SELECT pg_sleep($1)"

/* The outcome of one piece of work: the status to answer and why. */
struct work_result {
	int		status;		/* 0 done; else the HTTP status to send:
					   500 (library missing), 502, 504 */
	char		error[SA_ERROR_MAX]; /* when status != 0 */
};

/* Seconds as the query's parameter and the URL's seconds=: "2.000". */
void work_seconds_text(uint64_t us, char *out, size_t outlen);

/*
 * The URL the http work GETs: the upstream with "seconds=S" added to its
 * query (S the sleep), so a slow upstream (deploy/slow_upstream.py) knows
 * how slow to be; other upstreams ignore it.  0, or -1 if it does not fit.
 */
int work_upstream_url(const char *upstream, uint64_t sleep_us, char *out,
    size_t outlen);

/*
 * Sets result to status with "what: detail", detail cleaned for a JSON
 * error and a log line (runs of white space, libpq's line breaks among
 * them, become one space; other bytes as text_sanitise(); truncated to
 * SA_ERROR_MAX).  detail may be NULL or empty.
 */
void work_result_set(struct work_result *result, int status,
    const char *what, const char *detail);

#endif
