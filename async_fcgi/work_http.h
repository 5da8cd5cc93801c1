/* SPDX-License-Identifier: ISC */
/*
 * work_http.h - the http driver behind work_driver.h: libcurl's multi
 * interface driven by the event loop.
 *
 * libcurl's documented pattern for event loops (the multi_socket API): its
 * socket and timer callbacks become loop watches and a loop timer
 * (loop_io.h).  Each GET of the upstream (work_upstream_url) has the
 * options of the blocking form (work_blocking_curl_setup); a timeout gives
 * 504, any other failure or a status outside 2xx 502.  The body is discarded.
 * Stopping removes the transfer at once.  Errors: NULL with a message at
 * creation; a failed GET is the item's result (502, 504).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORK_HTTP_H
#define SYNCASYNC_ASYNC_FCGI_WORK_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "async_fcgi/work_item.h"

struct event_base;
struct work_http;

/* A multi handle GETting upstream (copied); every transfer times out after
 * timeout_us; finished items go to finish(finish_arg, item), also from
 * inside work_http_start() when a transfer cannot be set up.  NULL with a
 * message in err. */
struct work_http *work_http_new(work_finish_fn finish, void *finish_arg,
    struct event_base *base, const char *upstream, uint64_t timeout_us,
    char *err, size_t errlen);
/* Ends every transfer; NULL is a no-op. */
void work_http_free(struct work_http *http);

void work_http_start(struct work_http *http, struct work_item *item);
void work_http_stop(struct work_http *http, struct work_item *item);
/* upstream_transfers. */
size_t work_http_counters(const struct work_http *http,
    struct work_counter *out, size_t max);

#endif
