/* SPDX-License-Identifier: ISC */
/*
 * unit_async_handler.c - the application's contract (async_handler.h) on a
 * real event loop: a call is ready or pending, a pending call's done()
 * runs once on the loop and never after a cancel, each mode's wait is the
 * application's own, and /async/stats writes milliseconds with 3 decimals
 * and the blocked-loop report's fields.
 */
#include "config.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/offload_pool.h"
#include "async_fcgi/stall_watch.h"
#include "common/limits.h"
#include "common/settings.h"
#include "tests/tap.h"

static int done_count;
static char uri_main[] = "/async", uri_stats[] = "/async/stats",
    uri_other[] = "/elsewhere";

static void
count_done(void *owner)
{
	(*(int *)owner)++;
}

/* The CGI variables of one GET of uri. */
static const char *
param_of(void *ctx, const char *name)
{
	if (strcmp(name, "REQUEST_METHOD") == 0)
		return "GET";
	if (strcmp(name, "REQUEST_URI") == 0)
		return ctx;
	return NULL;
}

static struct async_app *
app_new_queue(enum settings_mode mode, uint64_t sleep_us, uint64_t queue);

static struct async_app *
app_new(enum settings_mode mode, uint64_t sleep_us)
{
	return app_new_queue(mode, sleep_us, 0);
}

/* As app_new, with room for queue jobs waiting for the pool. */
static struct async_app *
app_new_queue(enum settings_mode mode, uint64_t sleep_us, uint64_t queue)
{
	struct settings settings;
	char err[SA_ERROR_MAX];
	struct async_app *app;

	memset(&settings, 0, sizeof(settings));
	settings.mode = mode;
	settings.sleep_us = sleep_us;
	settings.sleep_all = 1;
	settings.pool_threads = 2;
	settings.pool_queue = queue;
	settings.state_dir = "/nonexistent";
	if ((app = async_handler_new(&settings, err, sizeof(err))) == NULL)
		printf("# async_handler_new: %s\n", err);
	return app;
}

/* Runs base until done_count reaches want (or 2,000 turns pass). */
static void
run_until(struct event_base *base, int want)
{
	int turns;

	for (turns = 0; done_count < want && turns < 2000; turns++)
		event_base_loop(base, EVLOOP_ONCE);
}

/* A detector's report: request 5 blocking now, one block outside any
 * request before it. */
static void
fake_report(void *ctx, struct stall_watch_report *out)
{
	struct stall_watch_record *cur = &out->current, *old = &out->recent[0];

	memset(out, 0, sizeof(*out));
	out->stalls = 2;
	out->has_current = 1;
	cur->active = 1;
	cur->in_request = 1;
	cur->request_no = 5;
	strcpy(cur->method, "GET");
	strcpy(cur->uri, "/async");
	strcpy(cur->mode, "block");
	strcpy(cur->work, "sleep");
	cur->started_us = 1764583200123456;
	cur->duration_us = 2001234;
	cur->nframes = 2;
	strcpy(cur->frames[0], "clock_nanosleep (libc.so.6)");
	strcpy(cur->frames[1], "clock_sleep_us (common/clock.c:57)");
	out->nrecent = 1;
	old->started_us = 1764583100000000;
	old->duration_us = 150000;
	(*(int *)ctx)++;
}

static int
response_has(const struct async_call *call, const char *text)
{
	size_t len;
	const char *response = async_call_response(call, &len);

	return response != NULL && strstr(response, text) != NULL;
}

static void
test_mode(struct event_base *base, enum settings_mode mode, const char *name)
{
	struct async_app *app = app_new(mode, 0);
	char err[SA_ERROR_MAX], what[128];
	enum async_start start;
	struct async_call *call;

	snprintf(what, sizeof(what), "%s: the app attaches", name);
	TAP_OK(app != NULL && async_handler_attach(app, base, err,
	    sizeof(err)) == 0, what);
	if (app == NULL)
		return;
	done_count = 0;
	call = async_handler_start(app, param_of, uri_main, count_done,
	    &done_count, &start);
	snprintf(what, sizeof(what), "%s: a sleeper is pending", name);
	TAP_OK(call != NULL && start == ASYNC_PENDING, what);
	snprintf(what, sizeof(what), "%s: done() not inside start", name);
	TAP_EQ_INT(done_count, 0, what);
	run_until(base, 1);
	snprintf(what, sizeof(what), "%s: done() once, on the loop", name);
	TAP_EQ_INT(done_count, 1, what);
	snprintf(what, sizeof(what), "%s: then the response is ready", name);
	TAP_OK(call != NULL && response_has(call, "Status: 200") &&
	    response_has(call, "\"message\": \"async example (sleep)\""), what);
	async_call_free(call);

	/* Cancelled at once: its wait is stopped, done() never runs. */
	done_count = 0;
	call = async_handler_start(app, param_of, uri_main, count_done,
	    &done_count, &start);
	async_call_cancel(call);
	while (offload_pool_busy(async_handler_pool(app)) != 0 ||
	    offload_pool_queued(async_handler_pool(app)) != 0)
		sched_yield();
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	snprintf(what, sizeof(what), "%s: no done() after a cancel", name);
	TAP_EQ_INT(done_count, 0, what);
	async_handler_detach(app);
	async_handler_free(app);
}

/* The number after "name": in call's response; -1 when absent. */
static long long
response_number(const struct async_call *call, const char *name)
{
	size_t len;
	const char *response = async_call_response(call, &len), *at;
	char key[64];

	snprintf(key, sizeof(key), "\"%s\": ", name);
	if (response == NULL || (at = strstr(response, key)) == NULL)
		return -1;
	return strtoll(at + strlen(key), NULL, 10);
}

/* A pool of 2 and 3 sleepers of 0.4 s: the third waits for a worker, and
 * says so in waited_us; the first two do not. */
static void
test_offload_waited(struct event_base *base)
{
	struct async_app *app = app_new_queue(MODE_OFFLOAD, 400000, 1);
	struct async_call *calls[3];
	enum async_start start;
	char err[SA_ERROR_MAX];
	long long waited[3];
	int i;

	TAP_OK(app != NULL && async_handler_attach(app, base, err,
	    sizeof(err)) == 0, "offload waited: the app attaches");
	if (app == NULL)
		return;
	done_count = 0;
	for (i = 0; i < 3; i++) {
		calls[i] = async_handler_start(app, param_of, uri_main,
		    count_done, &done_count, &start);
		if (start != ASYNC_PENDING)	/* refused: never blocks below */
			done_count++;
	}
	for (int turns = 0; done_count < 3 && turns < 200; turns++)
		event_base_loop(base, EVLOOP_ONCE);
	TAP_EQ_INT(done_count, 3, "offload waited: three sleepers done");
	for (i = 0; i < 3; i++) {
		waited[i] = calls[i] != NULL ?
		    response_number(calls[i], "waited_us") : -1;
		async_call_free(calls[i]);
	}
	printf("# waited_us: %lld %lld %lld\n", waited[0], waited[1],
	    waited[2]);
	TAP_OK(waited[0] >= 0 && waited[0] < 300000 && waited[1] >= 0 &&
	    waited[1] < 300000, "  the first two took a worker at once");
	TAP_OK(waited[2] >= 300000, "  the third waited for one (>= 0.3 s "
	    "of the 0.4 s sleep)");
	async_handler_detach(app);
	async_handler_free(app);
}

int
main(void)
{
	struct event_base *base = event_base_new();
	struct async_app *app;
	struct async_call *call;
	enum async_start start;
	char err[SA_ERROR_MAX];

	TAP_OK(base != NULL, "an event base");
	test_mode(base, MODE_TIMER, "timer");
	test_mode(base, MODE_OFFLOAD, "offload");
	test_offload_waited(base);

	app = app_new(MODE_BLOCK, 0);
	TAP_OK(app != NULL && async_handler_attach(app, base, err,
	    sizeof(err)) == 0, "block: the app attaches");
	call = async_handler_start(app, param_of, uri_main, count_done,
	    &done_count, &start);
	TAP_OK(call != NULL && start == ASYNC_READY &&
	    response_has(call, "Status: 200"), "block: ready at once");
	TAP_EQ_INT(async_call_request_no(call), 1, "block: request 1");
	TAP_EQ_STR(async_call_mode(call), "block", "block: its mode");
	async_call_free(call);

	call = async_handler_start(app, param_of, uri_other, count_done,
	    &done_count, &start);
	TAP_OK(call != NULL && start == ASYNC_READY &&
	    response_has(call, "Status: 404"), "an unknown path: 404, ready");
	TAP_EQ_INT(async_call_request_no(call), 0, "  and it takes no number");
	async_call_free(call);

	call = async_handler_refuse(app, 413, "request body too large", 0);
	TAP_OK(call != NULL && response_has(call, "Status: 413") &&
	    response_has(call, "request body too large"), "refuse: 413 JSON");
	async_call_free(call);

	async_handler_stats(app)->longest_stall_us = 2999330;
	call = async_handler_start(app, param_of, uri_stats, count_done,
	    &done_count, &start);
	TAP_OK(call != NULL && start == ASYNC_READY &&
	    response_has(call, "\"longest_stall_ms\": 2999.330,"),
	    "stats: milliseconds with 3 decimals");
	TAP_OK(response_has(call, "\"current_block\": null,") &&
	    response_has(call, "\"recent_blocks\": [ ],"),
	    "stats: no detector, no block");
	async_call_free(call);

	{
		int asked = 0;

		async_handler_on_stats(app, fake_report, &asked);
		call = async_handler_start(app, param_of, uri_stats,
		    count_done, &done_count, &start);
		TAP_EQ_INT(asked, 1, "stats: the detector is asked once");
		TAP_OK(call != NULL && response_has(call, "\"current_block\": "
		    "{ \"request_no\": 5, \"method\": \"GET\", \"uri\": "
		    "\"/async\", \"mode\": \"block\", \"work\": \"sleep\", "
		    "\"started_us\": 1764583200123456, \"duration_ms\": "
		    "2001.234, \"active\": true, \"frames\": [ "
		    "\"clock_nanosleep (libc.so.6)\", \"clock_sleep_us "
		    "(common/clock.c:57)\" ] },"),
		    "stats: the current block, every field");
		TAP_OK(call != NULL && response_has(call, "\"recent_blocks\": "
		    "[ { \"request_no\": null, \"method\": null, \"uri\": "
		    "null, \"mode\": null, \"work\": null, \"started_us\": "
		    "1764583100000000, \"duration_ms\": 150.000, \"active\": "
		    "false, \"frames\": [ ] } ],"),
		    "stats: a block outside any request: nulls, newest first");
		TAP_OK(call != NULL && response_has(call, "\"stalls\": 0,") &&
		    response_has(call, "\"pool_threads\": 2,"),
		    "stats: the other fields stay");
		async_call_free(call);
	}
	async_handler_detach(app);
	async_handler_free(app);

	/* Never attached: a sleeper cannot wait, and says so. */
	app = app_new(MODE_TIMER, 0);
	call = async_handler_start(app, param_of, uri_main, count_done,
	    &done_count, &start);
	TAP_OK(call != NULL && start == ASYNC_READY &&
	    response_has(call, "Status: 500"), "no loop: a 500, ready");
	async_call_free(call);
	async_handler_free(app);
	event_base_free(base);
	return tap_done();
}
