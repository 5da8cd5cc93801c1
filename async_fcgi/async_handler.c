/* SPDX-License-Identifier: ISC */
/*
 * async_handler.c - the /async application (async_handler.h).
 *
 * A call is allocated once the request is numbered, with room behind it for
 * what its wait needs (a loop timer, a work item, or the result of a
 * blocking db or http call), so a waiting request costs one allocation.
 * A call answered at once (a plain request, an error, stats) has room for
 * its whole CGI response instead and comes from a short free list, and its
 * body is written without json-c (response_json_write), so a plain request
 * allocates nothing once the list holds one.
 */
#include "config.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/loop_io.h"
#include "async_fcgi/offload_pool.h"
#include "async_fcgi/stall_watch.h"
#include "async_fcgi/work_driver.h"
#include "async_fcgi/worker_slots.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/response.h"
#include "common/text.h"
#include "common/work_blocking.h"

enum route {
	ROUTE_MAIN,		/* .../async */
	ROUTE_STATS,		/* .../async/stats */
	ROUTE_UNKNOWN,
};

/* What a call waits for; CALL_READY once its response is built. */
enum call_wait {
	CALL_READY,
	CALL_TIMER,		/* its loop timer (mode timer, sleep work) */
	CALL_POOL,		/* its job on the offload pool */
	CALL_WORK,		/* its item on the work driver */
};

struct async_app {
	struct settings		settings;
	uint64_t		counter;	/* in-process request counter */
	struct async_stats	stats;
	struct offload_pool    *pool;
	struct event_base      *base;		/* attached loop, or NULL */
	struct loop_watch      *pool_watch;	/* the pool's eventfd */
	struct work_driver     *driver;		/* db or http work, attached */
	struct worker_slots    *slots;		/* --workers: shared, or NULL */
	unsigned		index;		/* this worker's slot */
	long			loop_tid;
	long			pid;
	void			(*on_block)(void *, uint64_t, const char *,
				    const char *, const char *, const char *);
	void			*on_block_ctx;
	int64_t			full_logged_us;	/* last "pool full" line */
	uint64_t		full_refused;	/* refused since that line */
	struct async_call      *free_calls;	/* ready calls, for reuse */
	unsigned		free_count;
	void			(*on_stats)(void *,
				    struct stall_watch_report *);
	void			*on_stats_ctx;
};

/* Ready calls kept for reuse; the rest are freed. */
#define CALL_FREE_MAX	64
/* A ready call's room for its whole response (the contract's fits). */
#define CALL_INLINE_LEN	(RESPONSE_HEADER_MAX + RESPONSE_BODY_MAX)

struct async_call {
	struct offload_job	 job;		/* CALL_POOL: the pool's */
	struct handler_plan	 plan;
	struct async_app	*app;
	enum call_wait		 wait;
	int			 cancelled;	/* CALL_POOL: pool frees it */
	int			 overloaded;	/* the pool was full */
	int64_t			 started_us;
	int64_t			 waited_us;	/* CALL_POOL: queued this long */
	long			 thread_id;	/* who did the work */
	char			*response;	/* whole CGI response */
	size_t			 response_len;
	void			(*done)(void *owner);
	void			*owner;
	struct async_call	*next_free;	/* on app->free_calls */
	int			 inline_room;	/* tail: CALL_INLINE_LEN bytes */
	max_align_t		 tail[];	/* timer, work item, result, or
						   the response (inline_room) */
};

static char *
call_inline(struct async_call *call)
{
	return (char *)(void *)call->tail;
}

/* What the tail holds, by the call's wait (wait_of). */
static struct loop_timer *
call_timer(struct async_call *call)
{
	return (struct loop_timer *)(void *)call->tail;
}

static struct work_item *
call_item(struct async_call *call)
{
	return (struct work_item *)(void *)call->tail;
}

/* A db or http sleeper's outcome; NULL for every other call. */
static struct work_result *
call_result(struct async_call *call)
{
	if (!call->plan.sleeper || call->app->settings.work == WORK_SLEEP)
		return NULL;
	if (call->plan.mode == MODE_TIMER)
		return &call_item(call)->result;
	return (struct work_result *)(void *)call->tail;
}

struct async_app *
async_handler_new(const struct settings *settings, char *err, size_t errlen)
{
	struct async_app *app = calloc(1, sizeof(*app));

	if (app == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	app->settings = *settings;
	/* Before any worker thread exists (work_blocking.h). */
	if (work_blocking_load(settings->work, err, errlen) == -1) {
		free(app);
		return NULL;
	}
	app->loop_tid = clock_thread_id();
	app->pid = (long)getpid();
	app->pool = offload_pool_start((unsigned)settings->pool_threads,
	    (unsigned)settings->pool_queue, err, errlen);
	if (app->pool == NULL) {
		free(app);
		return NULL;
	}
	return app;
}

static void
app_poolcb(int fd, int events, void *arg)
{
	struct async_app *app = arg;

	offload_pool_drain(app->pool);
}

int
async_handler_attach(struct async_app *app, struct event_base *base,
    char *err, size_t errlen)
{
	app->base = base;
	if ((app->pool_watch = loop_watch_new(base, offload_pool_fd(app->pool),
	    LOOP_READ, app_poolcb, app)) == NULL) {
		snprintf(err, errlen, "cannot watch the offload pool");
		async_handler_detach(app);
		return -1;
	}
	if (app->settings.work != WORK_SLEEP &&
	    (app->driver = work_driver_new(base, &app->settings, err,
	    errlen)) == NULL) {
		async_handler_detach(app);
		return -1;
	}
	return 0;
}

void
async_handler_detach(struct async_app *app)
{
	work_driver_free(app->driver);
	app->driver = NULL;
	loop_watch_free(app->pool_watch);
	app->pool_watch = NULL;
	app->base = NULL;
}

void
async_handler_free(struct async_app *app)
{
	if (app == NULL)
		return;
	async_handler_detach(app);
	offload_pool_free(app->pool);	/* workers close their connections */
	work_blocking_release();	/* and the loop thread (block) its */
	while (app->free_calls != NULL) {
		struct async_call *call = app->free_calls;

		app->free_calls = call->next_free;
		free(call);
	}
	free(app);
}

struct async_stats *
async_handler_stats(struct async_app *app)
{
	return app->slots != NULL ? worker_slots_stats(app->slots, app->index) :
	    &app->stats;
}

void
async_handler_share(struct async_app *app, struct worker_slots *slots,
    unsigned index)
{
	app->slots = slots;
	app->index = index;
}

static struct json_object *json_ms(int64_t us);

/* The next request number: the deployment's, across workers. */
static uint64_t
app_next_number(struct async_app *app)
{
	if (app->slots != NULL)
		return worker_slots_next(app->slots, app->index);
	return ++app->counter;
}

/* The figures as JSON: "served", "in_flight" (less the stats request
 * asking, which is one of them), connections, stalls. */
static void
stats_add_figures(struct json_object *obj, const struct async_stats *st,
    uint64_t requests)
{
	json_object_object_add(obj, "requests", json_object_new_uint64(
	    requests));
	json_object_object_add(obj, "served", json_object_new_uint64(
	    st->served));
	json_object_object_add(obj, "in_flight", json_object_new_uint64(
	    st->in_flight > 0 ? st->in_flight - 1 : 0));
	json_object_object_add(obj, "connections", json_object_new_uint64(
	    st->connections));
	json_object_object_add(obj, "connections_accepted",
	    json_object_new_uint64(st->accepted));
	json_object_object_add(obj, "stalls", json_object_new_uint64(
	    st->stalls));
}

/* What worker i of app says: its pid, the numbers it took, its figures. */
static void
app_worker(struct async_app *app, unsigned i, long *pid, uint64_t *requests,
    struct async_stats *st)
{
	if (app->slots != NULL) {
		worker_slots_read(app->slots, i, pid, requests, st);
		return;
	}
	*pid = app->pid;
	*requests = app->counter;
	*st = app->stats;
}

/*
 * "worker" (which answered: index and pid), "workers" (how many),
 * "per_worker" (each one's pid, null while none serves, and figures) and
 * "totals" (their sums; requests is the last number given, deployment-wide).
 * in_flight leaves out the stats request asking, on its own worker.
 */
static void
stats_add_workers(struct json_object *obj, struct async_app *app)
{
	struct json_object *me = json_object_new_object(), *list, *totals,
	    *one;
	struct async_stats sum, st;
	uint64_t requests;
	unsigned i, n = app->slots != NULL ? worker_slots_count(app->slots) : 1;
	long pid;

	if (me != NULL) {
		json_object_object_add(me, "index",
		    json_object_new_int64(app->index));
		json_object_object_add(me, "pid",
		    json_object_new_int64(app->pid));
	}
	json_object_object_add(obj, "worker", me);
	json_object_object_add(obj, "workers", json_object_new_int64(n));
	list = json_object_new_array();
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < n; i++) {
		app_worker(app, i, &pid, &requests, &st);
		if (i == app->index && st.in_flight > 0)
			st.in_flight--;
		if (list != NULL && (one = json_object_new_object()) != NULL) {
			json_object_object_add(one, "index",
			    json_object_new_int64(i));
			json_object_object_add(one, "pid", pid != 0 ?
			    json_object_new_int64(pid) : NULL);
			st.in_flight++;		/* as stats_add_figures counts */
			stats_add_figures(one, &st, requests);
			st.in_flight--;
			json_object_array_add(list, one);
		}
		sum.served += st.served;
		sum.in_flight += st.in_flight;
		sum.connections += st.connections;
		sum.accepted += st.accepted;
		sum.stalls += st.stalls;
		if (st.longest_stall_us > sum.longest_stall_us)
			sum.longest_stall_us = st.longest_stall_us;
	}
	json_object_object_add(obj, "per_worker", list);
	if ((totals = json_object_new_object()) != NULL) {
		sum.in_flight++;		/* as stats_add_figures counts */
		stats_add_figures(totals, &sum, app->slots != NULL ?
		    worker_slots_last(app->slots) : app->counter);
		json_object_object_add(totals, "longest_stall_ms",
		    json_ms(sum.longest_stall_us));
	}
	json_object_object_add(obj, "totals", totals);
}

struct offload_pool *
async_handler_pool(struct async_app *app)
{
	return app->pool;
}

unsigned
async_handler_lingering(const struct async_app *app)
{
	return offload_pool_cancelling(app->pool);
}

unsigned
async_handler_stop(struct async_app *app, unsigned deadline_ms)
{
	return offload_pool_stop(app->pool, deadline_ms);
}

/*
 * Routes on the request path by its last segment, so the responder answers
 * the same under any mount point and whichever way the web server splits
 * SCRIPT_NAME and PATH_INFO.
 */
static enum route
route_of(const char *uri)
{
	const char *segment;
	size_t len;

	if (uri == NULL)
		return ROUTE_UNKNOWN;
	len = text_last_segment(uri, &segment);
	if (len == 5 && memcmp(segment, "async", 5) == 0)
		return ROUTE_MAIN;
	if (len == 5 && memcmp(segment, "stats", 5) == 0)
		return ROUTE_STATS;
	return ROUTE_UNKNOWN;
}

/* Stores the whole CGI response in call: in its own room when it has it
 * (NULL body: out of memory). */
static void
call_store(struct async_call *call, int status, const char *body, size_t len)
{
	if (call->response != call_inline(call))
		free(call->response);
	call->response = NULL;
	if (body != NULL && call->inline_room &&
	    (call->response_len = response_build_into(status, call->plan.head,
	    body, len, call_inline(call), CALL_INLINE_LEN)) != 0)
		call->response = call_inline(call);
	else
		call->response = response_build(status, call->plan.head, body,
		    len, &call->response_len);
	call->wait = CALL_READY;
}

/* call_store() of a malloc'd body, which it frees. */
static void
call_respond(struct async_call *call, int status, char *body, size_t len)
{
	call_store(call, status, body, len);
	free(body);
}

static void
call_error(struct async_call *call, int status, const char *message)
{
	size_t len = 0;
	char *body = response_error_json(message, &len);

	call_respond(call, status, body, len);
}

/* Milliseconds from us, rounded to 3 decimals as written. */
static struct json_object *
json_ms(int64_t us)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld.%03lld", (long long)(us / 1000),
	    (long long)(us % 1000));
	return json_object_new_double_s((double)us / 1000.0, text);
}

/* A string of a block record, null when empty. */
static struct json_object *
json_field(const char *text)
{
	return text[0] != '\0' ? json_object_new_string(text) : NULL;
}

/* One block of the blocked-loop report, as the man page's STATISTICS
 * describes it. */
static struct json_object *
json_block(const struct stall_watch_record *rec)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *frames = json_object_new_array();

	if (obj == NULL || frames == NULL) {
		json_object_put(obj);
		json_object_put(frames);
		return NULL;
	}
	json_object_object_add(obj, "request_no", rec->in_request &&
	    rec->request_no != 0 ? json_object_new_uint64(rec->request_no) :
	    NULL);
	json_object_object_add(obj, "method", json_field(rec->method));
	json_object_object_add(obj, "uri", json_field(rec->uri));
	json_object_object_add(obj, "mode", json_field(rec->mode));
	json_object_object_add(obj, "work", json_field(rec->work));
	json_object_object_add(obj, "started_us",
	    json_object_new_int64(rec->started_us));
	json_object_object_add(obj, "duration_ms", json_ms(rec->duration_us));
	json_object_object_add(obj, "active",
	    json_object_new_boolean(rec->active));
	for (size_t i = 0; i < rec->nframes && i < SA_STALL_FRAMES_KEPT; i++)
		json_object_array_add(frames,
		    json_object_new_string(rec->frames[i]));
	json_object_object_add(obj, "frames", frames);
	return obj;
}

/* "current_block" and "recent_blocks" (newest first), from the detector. */
static void
call_stats_blocks(const struct async_app *app, struct json_object *obj)
{
	struct stall_watch_report *report = calloc(1, sizeof(*report));
	struct json_object *recent = json_object_new_array();

	if (report != NULL && app->on_stats != NULL)
		app->on_stats(app->on_stats_ctx, report);
	json_object_object_add(obj, "current_block", report != NULL &&
	    report->has_current ? json_block(&report->current) : NULL);
	for (size_t i = 0; report != NULL && recent != NULL &&
	    i < report->nrecent && i < SA_STALL_RECENT; i++)
		json_object_array_add(recent, json_block(&report->recent[i]));
	json_object_object_add(obj, "recent_blocks", recent);
	free(report);
}

static void
call_stats(struct async_call *call)
{
	struct async_app *app = call->app;
	const struct async_stats *st = async_handler_stats(app);
	struct async_stats own;
	uint64_t requests;
	long pid;
	struct json_object *obj = json_object_new_object();
	struct work_counter counters[WORK_COUNTERS_MAX];
	char when[CLOCK_TIME_LEN] = "", *body;
	size_t len = 0, n, i;

	if (obj == NULL) {
		call_respond(call, 200, NULL, 0);
		return;
	}
	if (st->longest_stall_at_us != 0)
		clock_format_local(st->longest_stall_at_us, when);
	json_object_object_add(obj, "pid", json_object_new_int64(app->pid));
	json_object_object_add(obj, "mode", json_object_new_string(
	    settings_mode_label(app->settings.mode, app->settings.work)));
	json_object_object_add(obj, "work", json_object_new_string(
	    settings_work_name(app->settings.work)));
	/* This worker's figures (the whole server's without --workers). */
	app_worker(app, app->index, &pid, &requests, &own);
	stats_add_figures(obj, st, requests);
	json_object_object_add(obj, "longest_stall_ms",
	    json_ms(st->longest_stall_us));
	json_object_object_add(obj, "longest_stall_at", st->longest_stall_at_us
	    ? json_object_new_string(when) : NULL);
	json_object_object_add(obj, "longest_stall_request",
	    st->longest_stall_request ?
	    json_object_new_uint64(st->longest_stall_request) : NULL);
	call_stats_blocks(app, obj);
	json_object_object_add(obj, "pool_threads", json_object_new_uint64(
	    offload_pool_threads(app->pool)));
	json_object_object_add(obj, "pool_busy", json_object_new_uint64(
	    offload_pool_busy(app->pool)));
	json_object_object_add(obj, "pool_queued", json_object_new_uint64(
	    offload_pool_queued(app->pool)));
	json_object_object_add(obj, "pool_cancelling", json_object_new_uint64(
	    offload_pool_cancelling(app->pool)));
	json_object_object_add(obj, "pool_queue_max", json_object_new_uint64(
	    app->settings.pool_queue));
	n = app->driver != NULL ? work_driver_counters(app->driver, counters,
	    WORK_COUNTERS_MAX) : 0;
	for (i = 0; i < n; i++)
		json_object_object_add(obj, counters[i].name,
		    json_object_new_uint64(counters[i].value));
	stats_add_workers(obj, app);
	body = response_json_finish(obj, &len);
	call_respond(call, 200, body, len);
}

/* The wait is over (or there was none): the contract's 200, or the work's
 * error. */
static void
call_finish(struct async_call *call)
{
	const struct work_result *result = call_result(call);
	struct response_info info;
	char body[RESPONSE_BODY_MAX];
	size_t len;

	if (result != NULL && result->status != 0) {
		fprintf(stderr, "async_fcgi: request %llu (mode %s): %d: %s\n",
		    (unsigned long long)call->plan.request_no,
		    async_call_mode(call), result->status, result->error);
		call_error(call, result->status, result->error);
		return;
	}
	handler_info_fill(&info, &call->plan, "async example", call->thread_id,
	    call->app->pid, call->started_us, async_call_mode(call));
	info.waited_us = call->waited_us;
	if ((len = response_json_write(&info, body, sizeof(body))) != 0)
		call_store(call, 200, body, len);
	else {
		char *heap = response_json(&info, &len);

		call_respond(call, 200, heap, len);
	}
}

/* A pending call's wait ended: build the response, tell the owner. */
static void
call_resume(struct async_call *call)
{
	call_finish(call);
	call->done(call->owner);
}

/* The blocking call itself: a sleep, a query or a GET; token (NULL: none)
 * stops it early. */
static void
call_block(struct async_call *call, struct cancel_token *token)
{
	struct work_result *result = call_result(call);

	if (result == NULL)
		cancel_sleep_us(token, call->plan.sleep_us);
	else
		work_blocking_run_cancellable(&call->app->settings,
		    call->plan.sleep_us, token, result);
}

static struct async_call *
call_of_job(struct offload_job *job)
{
	return (struct async_call *)(void *)((char *)job -
	    offsetof(struct async_call, job));
}

/* Runs on a pool worker: the blocking call, off the loop. */
static void
call_offload_work(struct offload_job *job)
{
	struct async_call *call = call_of_job(job);
	int64_t now = clock_now_us();

	/* Read on the loop thread after done(): the pool's queue orders it. */
	call->waited_us = now > call->started_us ? now - call->started_us : 0;
	call_block(call, job->token);
	call->thread_id = job->worker_tid;
}

/* Back on the loop thread. */
static void
call_offload_done(struct offload_job *job)
{
	struct async_call *call = call_of_job(job);

	if (call->cancelled)
		async_call_free(call);
	else
		call_resume(call);
}

static void
call_timercb(void *arg)
{
	call_resume(arg);
}

static void
call_work_done(struct work_item *item)
{
	call_resume((struct async_call *)(void *)((char *)item -
	    offsetof(struct async_call, tail)));
}

/*
 * A call for plan, with tail bytes behind it, or (tail 0 and ready: it
 * waits for nothing) room for its response, off the free list when one is
 * there; NULL when out of memory.
 */
static struct async_call *
call_new(struct async_app *app, const struct handler_plan *plan,
    int64_t started_us, size_t tail, int ready)
{
	struct async_call *call;

	if (ready && tail == 0 && (call = app->free_calls) != NULL) {
		app->free_calls = call->next_free;
		app->free_count--;
		memset(call, 0, sizeof(*call));
	} else if ((call = calloc(1, sizeof(*call) +
	    (ready && tail == 0 ? CALL_INLINE_LEN : tail))) == NULL)
		return NULL;
	call->inline_room = ready && tail == 0;
	call->app = app;
	call->plan = *plan;
	call->started_us = started_us;
	call->thread_id = app->loop_tid;
	return call;
}

struct async_call *
async_handler_refuse(struct async_app *app, int status, const char *message,
    int head)
{
	struct handler_plan plan;
	struct async_call *call;

	memset(&plan, 0, sizeof(plan));
	plan.head = head;
	if ((call = call_new(app, &plan, clock_now_us(), 0, 1)) != NULL)
		call_error(call, status, message);
	return call;
}

/* What a sleeper in plan's mode waits for, and the bytes that takes. */
static enum call_wait
wait_of(const struct async_app *app, const struct handler_plan *plan,
    size_t *tail)
{
	int work = app->settings.work != WORK_SLEEP;

	*tail = work ? sizeof(struct work_result) : 0;
	switch (plan->mode) {
	case MODE_TIMER:
		*tail = work ? sizeof(struct work_item) : loop_timer_size();
		return work ? CALL_WORK : CALL_TIMER;
	case MODE_OFFLOAD:
		return CALL_POOL;
	case MODE_BLOCK:
		break;
	}
	return CALL_READY;
}

/*
 * The pool is full (threads + queue_max jobs, cancelled ones included until
 * their worker is free): the call is ready and refused with
 * FCGI_OVERLOADED.  One log line per SA_FCGI_LOG_EVERY_MS at most, with how
 * many were refused since the last one.
 */
static void
call_overloaded(struct async_call *call)
{
	struct async_app *app = call->app;
	int64_t now = clock_mono_us();

	call->overloaded = 1;
	call_error(call, 503, "overloaded: the offload pool is full");
	app->full_refused++;
	if (app->full_logged_us != 0 && now - app->full_logged_us <
	    (int64_t)SA_FCGI_LOG_EVERY_MS * 1000)
		return;
	fprintf(stderr, "async_fcgi: offload pool full (%u threads, %u "
	    "queued, %u cancelled still running): %llu request%s refused "
	    "with FCGI_OVERLOADED (this line at most every %lu ms)\n",
	    offload_pool_threads(app->pool), offload_pool_queued(app->pool),
	    offload_pool_cancelling(app->pool),
	    (unsigned long long)app->full_refused,
	    app->full_refused == 1 ? "" : "s", SA_FCGI_LOG_EVERY_MS);
	app->full_logged_us = now;
	app->full_refused = 0;
}

/* Starts call's wait; 0, or -1 (then it is answered with an error). */
static int
call_wait_start(struct async_call *call, enum call_wait wait)
{
	struct async_app *app = call->app;
	struct work_item *item = call_item(call);

	if (app->base == NULL ||
	    (wait == CALL_WORK && app->driver == NULL)) {
		/* Never attached to a loop: a caller's bug. */
		call_error(call, 500, "the application has no event loop");
		return -1;
	}
	call->wait = wait;
	switch (wait) {
	case CALL_TIMER:
		loop_timer_init(call_timer(call), app->base, call_timercb,
		    call);
		if (loop_timer_arm(call_timer(call), call->plan.sleep_us) ==
		    -1) {
			call_error(call, 500, "cannot arm a timer");
			return -1;
		}
		break;
	case CALL_POOL:
		call->job.work = call_offload_work;
		call->job.done = call_offload_done;
		if (offload_pool_submit(app->pool, &call->job) == -1) {
			call_overloaded(call);
			return -1;
		}
		break;
	case CALL_WORK:
		item->done = call_work_done;
		item->sleep_us = call->plan.sleep_us;
		work_driver_submit(app->driver, item);
		break;
	case CALL_READY:
		break;
	}
	return 0;
}

void
async_handler_on_block(struct async_app *app,
    void (*fn)(void *ctx, uint64_t request_no, const char *method,
    const char *uri, const char *mode, const char *work), void *ctx)
{
	app->on_block = fn;
	app->on_block_ctx = ctx;
}

void
async_handler_on_stats(struct async_app *app,
    void (*fn)(void *ctx, struct stall_watch_report *out), void *ctx)
{
	app->on_stats = fn;
	app->on_stats_ctx = ctx;
}

struct async_call *
async_handler_start(struct async_app *app, handler_param_fn param, void *ctx,
    void (*done)(void *owner), void *owner, enum async_start *start)
{
	int64_t started_us = clock_now_us();
	struct handler_request request;
	struct handler_plan plan;
	struct async_call *call;
	enum call_wait wait = CALL_READY;
	enum route route;
	const char *uri;
	size_t tail = 0;

	*start = ASYNC_READY;
	memset(&plan, 0, sizeof(plan));
	handler_request_read(&request, param, ctx);
	route = route_of(uri = param(ctx, "REQUEST_URI"));
	if (handler_check(&app->settings, &request, route == ROUTE_MAIN,
	    &plan) == 0 && route == ROUTE_MAIN) {
		handler_assign(&app->settings, app_next_number(app), &plan);
		if (plan.sleeper)
			wait = wait_of(app, &plan, &tail);
	}
	if ((call = call_new(app, &plan, started_us, tail,
	    wait == CALL_READY)) == NULL)
		return NULL;
	if (plan.status != 200)
		call_error(call, plan.status, plan.error);
	else if (route == ROUTE_STATS)
		call_stats(call);
	else if (route != ROUTE_MAIN)
		call_error(call, 404, "not found: this responder serves "
		    "/async and /async/stats");
	else if (!plan.sleeper)
		call_finish(call);
	else if (wait == CALL_READY) {
		/* Mode block: the experiment's mistake, on purpose. */
		if (app->on_block != NULL)
			app->on_block(app->on_block_ctx, call->plan.request_no,
			    request.method, uri, async_call_mode(call),
			    settings_work_name(app->settings.work));
		call_block(call, NULL);
		call_finish(call);
	} else {
		call->done = done;
		call->owner = owner;
		if (call_wait_start(call, wait) == 0)
			*start = ASYNC_PENDING;
	}
	return call;
}

const char *
async_call_response(const struct async_call *call, size_t *len)
{
	*len = call->response_len;
	return call->response;
}

void
async_call_cancel(struct async_call *call)
{
	switch (call->wait) {
	case CALL_POOL:
		/* A queued job never runs; a running one's token stops its
		 * sleep, query or transfer.  The pool's done() frees it. */
		call->cancelled = 1;
		offload_pool_cancel(call->app->pool, &call->job);
		return;
	case CALL_TIMER:
		loop_timer_fini(call_timer(call));
		break;
	case CALL_WORK:
		work_driver_cancel(call->app->driver, call_item(call));
		break;
	case CALL_READY:
		break;
	}
	async_call_free(call);
}

void
async_call_free(struct async_call *call)
{
	struct async_app *app;

	if (call == NULL)
		return;
	if (call->response != call_inline(call))
		free(call->response);
	app = call->app;
	if (call->inline_room && app->free_count < CALL_FREE_MAX) {
		call->next_free = app->free_calls;
		app->free_calls = call;
		app->free_count++;
	} else
		free(call);
}

int
async_call_overloaded(const struct async_call *call)
{
	return call->overloaded;
}

uint64_t
async_call_request_no(const struct async_call *call)
{
	return call->plan.request_no;
}

const char *
async_call_mode(const struct async_call *call)
{
	return settings_mode_label(call->plan.mode, call->app->settings.work);
}
