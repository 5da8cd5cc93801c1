/*
 * work_blocking.h - the sleeper's real work as blocking calls: a PostgreSQL
 * query (libpq) and an upstream GET (libcurl).
 *
 * What sync_cgi runs in its process, what async_fcgi runs on its loop
 * thread in mode block (the mistake) and on a pool worker in mode offload.
 * The non-blocking forms live in async_fcgi/work_db.c and work_http.c; they
 * share this file's rules (the query, the URL, the curl options, how a
 * failure becomes a 502 or a 504).
 *
 * The libraries are loaded with dlopen("libpq.so.5") / dlopen
 * ("libcurl.so.4") on first use, not linked: sync_cgi is exec'd once per
 * request, and libcurl alone pulls some 30 shared libraries into every
 * exec, also when the work is a plain sleep.  async_fcgi links both
 * libraries for its non-blocking drivers; dlopen then finds them loaded.
 *
 * It does not pool: each thread keeps one database connection (reused,
 * replaced when the server dropped it, closed when the thread ends), so
 * async_fcgi's offload pool holds at most one connection per worker
 * thread; curl handles are made per call.
 */
#ifndef SYNCASYNC_COMMON_WORK_BLOCKING_H
#define SYNCASYNC_COMMON_WORK_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/settings.h"

/* The query the db work runs, its one parameter the seconds. */
#define WORK_DB_QUERY	"SELECT pg_sleep($1)"

struct work_result {
	int		status;		/* 0 done; else the HTTP status to send:
					   500 (library missing), 502, 504 */
	char		error[SA_WORK_ERROR_MAX]; /* when status != 0 */
};

/*
 * Loads the library work needs (nothing for WORK_SLEEP) and, for http,
 * runs curl_global_init.  Call it once from the main thread before any
 * thread calls work_blocking_run(); sync_cgi may leave it to the first
 * call.  Returns 0, or -1 with a message in err.
 */
int work_blocking_load(enum settings_work work, char *err, size_t errlen);

/*
 * Does the sleeper's work for sleep_us, blocking the calling thread:
 * sleeps, runs WORK_DB_QUERY on this thread's database connection, or GETs
 * the upstream URL (work_upstream_url) with settings->upstream_timeout_us.
 * Fills *result; never ends the process.
 */
void work_blocking_run(const struct settings *settings, uint64_t sleep_us,
    struct work_result *result);

/* Closes the calling thread's database connection, if it has one (pool
 * workers' close when the thread ends). */
void work_blocking_release(void);

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
 * error and a log line (libpq's multi-line messages on one line,
 * non-printables as '.', truncated).  detail may be NULL or empty.
 */
void work_result_set(struct work_result *result, int status,
    const char *what, const char *detail);

/*
 * libcurl, shared with async_fcgi's non-blocking driver.  setup sets every
 * option of a GET of url on easy (a CURL *): no proxy from the environment
 * (CURLOPT_PROXY "", NOPROXY "*": a CGI request can set HTTP_PROXY), http
 * and https only, no redirects, no signals, the timeout for the whole
 * transfer and for connecting, the body discarded, errors into errbuf
 * (CURL_ERROR_SIZE bytes), private as CURLOPT_PRIVATE.  0 or -1.
 * finish turns a transfer's outcome into *result: timeout 504, any other
 * failure or a status outside 2xx 502.  Both need work_blocking_load(http).
 */
int work_curl_setup(void *easy, const char *url, uint64_t timeout_us,
    char *errbuf, void *private_data);
void work_curl_finish(void *easy, int code, const char *errbuf,
    uint64_t timeout_us, struct work_result *result);

#endif
