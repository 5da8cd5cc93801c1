/* SPDX-License-Identifier: ISC */
/*
 * work_blocking.h - the sleeper's real work as blocking calls: a PostgreSQL
 * query (libpq) and an upstream GET (libcurl), by the rules of work.h.
 *
 * What sync_cgi runs in its process, and async_fcgi on its loop thread in
 * mode block (the mistake) or on a pool worker in mode offload.  libpq and
 * libcurl are dlopen'd on first use, never linked, so a sync_cgi exec that
 * only sleeps loads neither (doc/ARCHITECTURE.md).  Each thread keeps one
 * database connection (reused, replaced when the server dropped it, closed
 * when the thread ends); curl handles are made per call.
 */
#ifndef SYNCASYNC_COMMON_WORK_BLOCKING_H
#define SYNCASYNC_COMMON_WORK_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/settings.h"
#include "common/work.h"

/*
 * Loads the library work needs (nothing for WORK_SLEEP) and, for http,
 * runs curl_global_init.  Call it once from the main thread before any
 * thread calls work_blocking_run(); sync_cgi may leave it to the first
 * call.  Returns 0, or -1 with a message in err (SA_ERROR_MAX bytes).
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

/* work_result.status of work its cancel token stopped: nginx's "client
 * closed request".  Internal: never sent, the peer that asked is gone. */
#define WORK_STATUS_CANCELLED	499

struct cancel_token;

/*
 * work_blocking_run(), stopped early once token (common/cancel.h; NULL:
 * never) is cancelled from another thread: the sleep returns at once; the
 * query waits on its connection and on an eventfd the token's hook writes
 * (so cancelling costs the cancelling thread microseconds), then sends
 * PQcancel from the working thread, again each second until the query
 * ends; the GET is aborted by libcurl's progress callback, which runs at
 * least once a second, so within about 1 s.  Then status is
 * WORK_STATUS_CANCELLED; a cancel too late to stop the work leaves the
 * work's own result.  Connecting to the database is not cancellable (its
 * connect_timeout bounds it); the connection stays usable after a cancel.
 */
void work_blocking_run_cancellable(const struct settings *settings,
    uint64_t sleep_us, struct cancel_token *token,
    struct work_result *result);

/* Closes the calling thread's database connection, if it has one (pool
 * workers' close when the thread ends). */
void work_blocking_release(void);

/*
 * libcurl through the loaded library, shared with async_fcgi's
 * non-blocking driver.  setup sets every option of a GET of url on easy
 * (a CURL *): no proxy from the environment (CURLOPT_PROXY "", NOPROXY
 * "*": a CGI request can set HTTP_PROXY), http and https only, no
 * redirects, no signals, the timeout for the whole transfer and for
 * connecting, the body discarded, errors into errbuf (CURL_ERROR_SIZE
 * bytes), private as CURLOPT_PRIVATE.  0 or -1.  finish turns a transfer's
 * outcome into *result: timeout 504, any other failure or a status outside
 * 2xx 502.  Both need work_blocking_load(WORK_HTTP).
 */
int work_blocking_curl_setup(void *easy, const char *url, uint64_t timeout_us,
    char *errbuf, void *private_data);
void work_blocking_curl_finish(void *easy, int code, const char *errbuf,
    uint64_t timeout_us, struct work_result *result);

/* The former names, until async_fcgi uses the ones above. */
#define work_curl_setup		work_blocking_curl_setup
#define work_curl_finish	work_blocking_curl_finish

#endif
