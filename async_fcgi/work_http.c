/* SPDX-License-Identifier: ISC */
/*
 * work_http.c - libcurl's multi_socket API on the loop (work_http.h).
 *
 * libcurl's callbacks only update watches and the timer; transfers end and
 * requests are delivered outside them (the finish callback), so no
 * application code runs inside libcurl and no curl call is made from a
 * libcurl callback.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_fcgi/loop_io.h"
#include "async_fcgi/work_http.h"
#include "async_fcgi/work_item.h"
#include "common/work_blocking.h"

_Static_assert(WORK_ITEM_ERRBUF >= CURL_ERROR_SIZE,
    "WORK_ITEM_ERRBUF must hold CURL_ERROR_SIZE bytes");

struct work_http {
	work_finish_fn	 finish;	/* hands back finished requests */
	void		*finish_arg;
	struct event_base *base;
	CURLM		*multi;
	struct loop_timer *timer;	/* libcurl's timeout */
	char		*upstream;
	uint64_t	 timeout_us;
	unsigned	 running;
};

/* Takes req's transfer out of the multi handle. */
static void
http_remove(struct work_http *http, struct work_item *req)
{
	if (req->running == NULL)
		return;
	curl_multi_remove_handle(http->multi, req->running);
	curl_easy_cleanup(req->running);
	req->running = NULL;
	http->running--;
}

/* Reads what libcurl says finished. */
static void
http_check_done(struct work_http *http)
{
	struct work_item *req;
	CURLMsg *msg;
	void *private_data;
	int left;

	while ((msg = curl_multi_info_read(http->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		private_data = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    &private_data);
		if ((req = private_data) == NULL)
			continue;
		work_blocking_curl_finish(msg->easy_handle,
		    (int)msg->data.result, req->errbuf, http->timeout_us,
		    &req->result);
		http_remove(http, req);		/* msg is gone from here on */
		http->finish(http->finish_arg, req);
	}
}

static void
http_sockcb(int fd, int events, void *arg)
{
	struct work_http *http = arg;
	int flags = 0, running;

	if (events & LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(http->multi, fd, flags, &running);
	http_check_done(http);
}

static void
http_timercb(void *arg)
{
	struct work_http *http = arg;
	int running;

	curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	http_check_done(http);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what, or stop watching it. */
static int
http_socketfn(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct work_http *http = userp;
	struct loop_watch *watch = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_watch_free(watch);
		curl_multi_assign(http->multi, s, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= LOOP_WRITE;
	if (watch == NULL) {
		if ((watch = loop_watch_new(http->base, s, events, http_sockcb,
		    http)) == NULL)
			return -1;
		curl_multi_assign(http->multi, s, watch);
		return 0;
	}
	return loop_watch_set(watch, events);
}

/* CURLMOPT_TIMERFUNCTION: -1 disarms; 0 means as soon as possible (on the
 * next loop iteration, not from inside this callback). */
static int
http_timerfn(CURLM *multi, long timeout_ms, void *userp)
{
	struct work_http *http = userp;

	if (timeout_ms < 0) {
		loop_timer_disarm(http->timer);
		return 0;
	}
	return loop_timer_arm(http->timer, (uint64_t)timeout_ms * 1000);
}

struct work_http *
work_http_new(work_finish_fn finish, void *finish_arg,
    struct event_base *base, const char *upstream, uint64_t timeout_us,
    char *err, size_t errlen)
{
	struct work_http *http = calloc(1, sizeof(*http));

	if (http == NULL)
		goto fail;
	http->finish = finish;
	http->finish_arg = finish_arg;
	http->base = base;
	http->timeout_us = timeout_us;
	if (work_blocking_load(WORK_HTTP, err, errlen) == -1) {
		work_http_free(http);
		return NULL;
	}
	if ((http->upstream = strdup(upstream != NULL ? upstream : "")) ==
	    NULL ||
	    (http->timer = loop_timer_new(base, http_timercb, http)) == NULL ||
	    (http->multi = curl_multi_init()) == NULL ||
	    curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION,
	    http_socketfn) != CURLM_OK ||
	    curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http) !=
	    CURLM_OK ||
	    curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION,
	    http_timerfn) != CURLM_OK ||
	    curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http) !=
	    CURLM_OK)
		goto fail;
	return http;
fail:
	snprintf(err, errlen, "cannot set up libcurl's multi interface");
	work_http_free(http);
	return NULL;
}

void
work_http_free(struct work_http *http)
{
	if (http == NULL)
		return;
	/* Requests still in it belong to calls already freed: the caller
	 * cancels each first; cleanup tells the socket callback to let go. */
	if (http->multi != NULL)
		curl_multi_cleanup(http->multi);
	loop_timer_free(http->timer);
	free(http->upstream);
	free(http);
}

void
work_http_start(struct work_http *http, struct work_item *req)
{
	char url[SA_WORK_URL_MAX + 32];
	CURL *easy;

	if (work_upstream_url(http->upstream, req->sleep_us, url,
	    sizeof(url)) == -1)
		url[0] = '\0';	/* libcurl reports the bad URL */
	if ((easy = curl_easy_init()) == NULL ||
	    work_blocking_curl_setup(easy, url, http->timeout_us, req->errbuf,
	    req) == -1 || curl_multi_add_handle(http->multi, easy) != CURLM_OK) {
		if (easy != NULL)
			curl_easy_cleanup(easy);
		work_result_set(&req->result, 502, "upstream request failed",
		    "cannot set up a libcurl transfer");
		http->finish(http->finish_arg, req);
		return;
	}
	req->running = easy;
	http->running++;
}

void
work_http_stop(struct work_http *http, struct work_item *req)
{
	http_remove(http, req);
}

size_t
work_http_counters(const struct work_http *http, struct work_counter *out,
    size_t max)
{
	if (max < 1)
		return 0;
	out[0].name = "upstream_transfers";
	out[0].value = http->running;
	return 1;
}
