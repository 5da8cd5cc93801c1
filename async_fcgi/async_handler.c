/*
 * async_handler.c - the /async application (async_handler.h).
 */
#include "config.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "async_fcgi/async_handler.h"
#include "common/clock.h"
#include "common/response.h"
#include "common/work_blocking.h"

enum route {
	ROUTE_MAIN,		/* .../async */
	ROUTE_STATS,		/* .../async/stats */
	ROUTE_UNKNOWN,
};

struct async_app {
	struct settings		settings;
	uint64_t		counter;	/* in-process request counter */
	struct async_stats	stats;
	struct offload_pool    *pool;
	struct work_db	       *db;		/* work=db, once attached */
	struct work_http       *http;		/* work=http, once attached */
	long			loop_tid;
	long			pid;
};

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
	app->pool = offload_pool_new((unsigned)settings->pool_threads, err,
	    errlen);
	if (app->pool == NULL) {
		free(app);
		return NULL;
	}
	return app;
}

int
async_handler_attach_loop(struct async_app *app, struct event_base *base)
{
	char err[SA_WORK_ERROR_MAX];

	if (app->settings.work == WORK_DB && app->db == NULL &&
	    (app->db = work_db_new(base, app->settings.db,
	    (unsigned)app->settings.db_pool, err, sizeof(err))) == NULL) {
		fprintf(stderr, "async_fcgi: %s\n", err);
		return -1;
	}
	if (app->settings.work == WORK_HTTP && app->http == NULL &&
	    (app->http = work_http_new(base,
	    app->settings.upstream_timeout_us, err, sizeof(err))) == NULL) {
		fprintf(stderr, "async_fcgi: %s\n", err);
		return -1;
	}
	return 0;
}

void
async_handler_detach_loop(struct async_app *app)
{
	work_db_free(app->db);
	app->db = NULL;
	work_http_free(app->http);
	app->http = NULL;
}

void
async_handler_free(struct async_app *app)
{
	if (app == NULL)
		return;
	async_handler_detach_loop(app);
	offload_pool_free(app->pool);	/* workers close their connections */
	work_blocking_release();	/* and the loop thread (block) its */
	free(app);
}

struct async_stats *
async_handler_stats(struct async_app *app)
{
	return &app->stats;
}

struct offload_pool *
async_handler_pool(struct async_app *app)
{
	return app->pool;
}

/*
 * Routes on the request path (REQUEST_URI without its query), by its last
 * segment, so the responder answers the same under any mount point and
 * whichever way the web server splits SCRIPT_NAME and PATH_INFO.
 */
static enum route
route_of(const char *uri)
{
	size_t len;
	const char *end, *segment;

	if (uri == NULL)
		return ROUTE_UNKNOWN;
	end = strchr(uri, '?');
	len = end != NULL ? (size_t)(end - uri) : strlen(uri);
	while (len > 1 && uri[len - 1] == '/')
		len--;
	segment = uri + len;
	while (segment > uri && segment[-1] != '/')
		segment--;
	len -= (size_t)(segment - uri);
	if (len == 5 && memcmp(segment, "async", 5) == 0)
		return ROUTE_MAIN;
	if (len == 5 && memcmp(segment, "stats", 5) == 0)
		return ROUTE_STATS;
	return ROUTE_UNKNOWN;
}

/* Stores a whole CGI response (header block, body unless head) in call. */
static void
set_response(struct async_call *call, int status, int head, char *body,
    size_t body_len)
{
	char header[RESPONSE_HEADER_MAX];
	size_t header_len;

	free(call->response);
	call->response = NULL;
	call->response_len = 0;
	if (body == NULL)
		return;
	header_len = response_cgi_header(header, sizeof(header), status,
	    body_len);
	if (head)
		body_len = 0;
	if (header_len != 0 &&
	    (call->response = malloc(header_len + body_len)) != NULL) {
		memcpy(call->response, header, header_len);
		memcpy(call->response + header_len, body, body_len);
		call->response_len = header_len + body_len;
	}
	free(body);
}

static void
set_error(struct async_call *call, int status, const char *message)
{
	size_t len = 0;
	char *body = response_error_json(message, &len);

	set_response(call, status, call->plan.head, body, len);
}

static void
set_stats(struct async_call *call)
{
	struct async_app *app = call->app;
	const struct async_stats *st = &app->stats;
	struct json_object *obj = json_object_new_object();
	char when[CLOCK_TIME_LEN] = "";
	const char *text;
	size_t len = 0;
	char *body = NULL;

	if (obj == NULL)
		return;
	if (st->longest_stall_at_us != 0)
		clock_format_local(st->longest_stall_at_us, when);
	json_object_object_add(obj, "pid", json_object_new_int64(app->pid));
	json_object_object_add(obj, "mode", json_object_new_string(
	    settings_mode_label(app->settings.mode, app->settings.work)));
	json_object_object_add(obj, "work", json_object_new_string(
	    settings_work_name(app->settings.work)));
	json_object_object_add(obj, "requests", json_object_new_uint64(
	    app->counter));
	json_object_object_add(obj, "served", json_object_new_uint64(
	    st->served));
	/* Not counting this stats request itself. */
	json_object_object_add(obj, "in_flight", json_object_new_uint64(
	    st->in_flight > 0 ? st->in_flight - 1 : 0));
	json_object_object_add(obj, "connections", json_object_new_uint64(
	    st->connections));
	json_object_object_add(obj, "connections_accepted",
	    json_object_new_uint64(st->accepted));
	json_object_object_add(obj, "stalls", json_object_new_uint64(
	    st->stalls));
	json_object_object_add(obj, "longest_stall_ms", json_object_new_double(
	    (double)st->longest_stall_us / 1000.0));
	json_object_object_add(obj, "longest_stall_at", st->longest_stall_at_us
	    ? json_object_new_string(when) : NULL);
	json_object_object_add(obj, "longest_stall_request",
	    st->longest_stall_request ?
	    json_object_new_uint64(st->longest_stall_request) : NULL);
	json_object_object_add(obj, "pool_threads", json_object_new_uint64(
	    offload_pool_threads(app->pool)));
	json_object_object_add(obj, "pool_busy", json_object_new_uint64(
	    offload_pool_busy(app->pool)));
	json_object_object_add(obj, "pool_queued", json_object_new_uint64(
	    offload_pool_queued(app->pool)));
	if (app->db != NULL) {
		json_object_object_add(obj, "db_connections",
		    json_object_new_uint64(work_db_open(app->db)));
		json_object_object_add(obj, "db_busy",
		    json_object_new_uint64(work_db_busy(app->db)));
		json_object_object_add(obj, "db_queued",
		    json_object_new_uint64(work_db_queued(app->db)));
	}
	if (app->http != NULL)
		json_object_object_add(obj, "upstream_transfers",
		    json_object_new_uint64(work_http_running(app->http)));
	text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_SPACED,
	    &len);
	if (text != NULL && (body = malloc(len + 1)) != NULL) {
		memcpy(body, text, len);
		body[len++] = '\n';
	}
	json_object_put(obj);
	set_response(call, 200, call->plan.head, body, len);
}

void
async_handler_complete(struct async_call *call)
{
	struct response_info info;
	size_t len = 0;
	char *body;

	if (call->work != NULL && call->work->result.status != 0) {
		const struct work_result *result = &call->work->result;

		fprintf(stderr, "async_fcgi: request %llu (mode %s): %d: %s\n",
		    (unsigned long long)call->plan.request_no,
		    async_handler_mode(call), result->status, result->error);
		set_error(call, result->status, result->error);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.message = "async example";
	info.sleeper = call->plan.sleeper;
	info.thread_id = call->thread_id;
	info.pid = call->app->pid;
	info.request_no = call->plan.request_no;
	info.started_us = call->started_us;
	info.finished_us = clock_now_us();
	info.mode = async_handler_mode(call);
	body = response_json(&info, &len);
	set_response(call, 200, call->plan.head, body, len);
}

/* The blocking call itself: a sleep, a query or a GET. */
static void
run_blocking(struct async_call *call)
{
	if (call->work == NULL)
		clock_sleep_us(call->plan.sleep_us);
	else
		work_blocking_run(&call->app->settings, call->plan.sleep_us,
		    &call->work->result);
}

/* Runs on a pool worker: the blocking call, off the loop. */
static void
offload_work(struct offload_job *job)
{
	struct async_call *call = (struct async_call *)job;

	run_blocking(call);
	call->thread_id = job->worker_tid;
}

/* Back on the loop thread. */
static void
offload_done(struct offload_job *job)
{
	struct async_call *call = (struct async_call *)job;

	if (call->cancelled) {
		async_handler_call_free(call);
		return;
	}
	async_handler_complete(call);
	call->resume(call);
}

/* A new call, started now on the loop thread; NULL when out of memory. */
static struct async_call *
call_new(struct async_app *app)
{
	struct async_call *call = calloc(1, sizeof(*call));

	if (call == NULL)
		return NULL;
	call->app = app;
	call->started_us = clock_now_us();
	call->thread_id = app->loop_tid;
	return call;
}

struct async_call *
async_handler_refuse(struct async_app *app, int status, const char *message,
    int head)
{
	struct async_call *call = call_new(app);

	if (call == NULL)
		return NULL;
	call->plan.head = head;
	set_error(call, status, message);
	return call;
}

struct async_call *
async_handler_start(struct async_app *app, async_param_fn param, void *ctx,
    enum async_step *step)
{
	struct handler_request request;
	struct async_call *call = call_new(app);

	if (call == NULL)
		return NULL;
	*step = ASYNC_STEP_RESPOND;
	request.method = param(ctx, "REQUEST_METHOD");
	request.query = param(ctx, "QUERY_STRING");
	request.content_length = param(ctx, "CONTENT_LENGTH");
	call->route = route_of(param(ctx, "REQUEST_URI"));
	if (handler_check(&app->settings, &request,
	    call->route == ROUTE_MAIN, &call->plan) == -1) {
		set_error(call, call->plan.status, call->plan.error);
		return call;
	}
	if (call->route == ROUTE_STATS) {
		set_stats(call);
		return call;
	}
	if (call->route != ROUTE_MAIN) {
		set_error(call, 404, "not found: this responder serves "
		    "/async and /async/stats");
		return call;
	}
	handler_assign(&app->settings, ++app->counter, &call->plan);
	if (call->plan.sleeper && app->settings.work != WORK_SLEEP) {
		if ((call->work = calloc(1, sizeof(*call->work))) == NULL) {
			set_error(call, 500, "out of memory");
			return call;
		}
		call->work->call = call;
	}
	if (call->plan.sleeper) {
		switch (call->plan.mode) {
		case MODE_BLOCK:
			/* The experiment's mistake, on purpose. */
			run_blocking(call);
			break;
		case MODE_TIMER:
			if (app->settings.work == WORK_SLEEP) {
				*step = ASYNC_STEP_TIMER;
				return call;
			}
			if (app->db == NULL && app->http == NULL) {
				/* Never attached to a loop: a caller's bug. */
				work_result_set(&call->work->result, 500,
				    "the work's driver is not running", NULL);
				break;
			}
			*step = ASYNC_STEP_WORK;
			return call;
		case MODE_OFFLOAD:
			call->job.work = offload_work;
			call->job.done = offload_done;
			*step = ASYNC_STEP_OFFLOAD;
			return call;
		}
	}
	async_handler_complete(call);
	return call;
}

/* A driver is done with the call: back on the loop thread, to the caller. */
static void
work_resume(struct async_call *call, const struct work_result *result)
{
	call->in_work = 0;
	call->work->result = *result;
	async_handler_complete(call);
	call->resume(call);
}

static void
work_db_done(struct work_db_req *req)
{
	struct async_work *work = (struct async_work *)(void *)
	    ((char *)req - offsetof(struct async_work, db_req));

	work_resume(work->call, &req->result);
}

static void
work_http_done(struct work_http_req *req)
{
	struct async_work *work = (struct async_work *)(void *)
	    ((char *)req - offsetof(struct async_work, http_req));

	work_resume(work->call, &req->result);
}

void
async_handler_work_submit(struct async_call *call)
{
	struct async_app *app = call->app;
	char url[SA_WORK_URL_MAX + 32];

	/* async_handler_start() returned ASYNC_STEP_WORK: a driver runs. */
	call->in_work = 1;
	if (app->db != NULL) {
		call->work->db_req.done = work_db_done;
		work_db_submit(app->db, &call->work->db_req,
		    call->plan.sleep_us);
	} else {
		call->work->http_req.done = work_http_done;
		if (work_upstream_url(app->settings.upstream,
		    call->plan.sleep_us, url, sizeof(url)) == -1)
			url[0] = '\0';	/* libcurl reports the bad URL */
		work_http_submit(app->http, &call->work->http_req, url);
	}
}

void
async_handler_abandon(struct async_call *call)
{
	struct async_app *app = call->app;

	if (!call->in_work) {
		call->cancelled = 1;	/* offloaded: the pool frees it */
		return;
	}
	if (app->db != NULL)
		work_db_cancel(app->db, &call->work->db_req);
	else if (app->http != NULL)
		work_http_cancel(app->http, &call->work->http_req);
	async_handler_call_free(call);
}

void
async_handler_call_free(struct async_call *call)
{
	if (call == NULL)
		return;
	free(call->response);
	free(call->work);
	free(call);
}

uint64_t
async_handler_request_no(const struct async_call *call)
{
	return call->plan.request_no;
}

const char *
async_handler_mode(const struct async_call *call)
{
	return settings_mode_label(call->plan.mode, call->app->settings.work);
}
