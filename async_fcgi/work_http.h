/*
 * work_http.h - the http work without blocking the loop: libcurl's multi
 * interface driven by the event loop.
 *
 * The pattern libcurl documents for event loops (multi-event.c, "the
 * multi_socket API"): CURLMOPT_SOCKETFUNCTION tells which sockets to watch
 * for what, CURLMOPT_TIMERFUNCTION when to call back; both become loop
 * watches and a loop timer (loop_io.h), whose callbacks hand the event to
 * curl_multi_socket_action().  Finished transfers are read with
 * curl_multi_info_read().  Each GET has the options of the blocking form
 * (work_curl_setup: no proxy from the environment, http and https only, a
 * timeout for the whole transfer); a timeout gives 504, any other failure or
 * a status outside 2xx 502.  The body is discarded.
 *
 * Completion is reported through req->done on the loop thread, never from
 * inside work_http_submit() or work_http_cancel(); cancelling removes the
 * transfer at once (curl_multi_remove_handle).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORK_HTTP_H
#define SYNCASYNC_ASYNC_FCGI_WORK_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/work_blocking.h"

#define WORK_HTTP_ERRBUF	256	/* CURL_ERROR_SIZE, checked in the .c */

struct event_base;
struct work_http;

struct work_http_req {
	/* Set by the caller before work_http_submit(): */
	void		(*done)(struct work_http_req *req);
	/* Filled before done() runs: */
	struct work_result result;
	/* Private: */
	void		*easy;		/* CURL *, while in the multi */
	int		 finished;	/* in the finished list */
	char		 errbuf[WORK_HTTP_ERRBUF];
	TAILQ_ENTRY(work_http_req) entry;
};

/* A multi handle on base; every transfer times out after timeout_us.
 * NULL with a message in err. */
struct work_http *work_http_new(struct event_base *base, uint64_t timeout_us,
    char *err, size_t errlen);
/* Ends every transfer without done(); NULL is a no-op. */
void work_http_free(struct work_http *http);

/* GETs url (copied by libcurl) for req; done() follows once. */
void work_http_submit(struct work_http *http, struct work_http_req *req,
    const char *url);
/* Forgets req: done() will not run. */
void work_http_cancel(struct work_http *http, struct work_http_req *req);

unsigned work_http_running(const struct work_http *http);

#endif
