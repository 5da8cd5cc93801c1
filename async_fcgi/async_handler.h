/*
 * async_handler.h - /async and /async/stats: the application of async_fcgi.
 *
 * Routing, the in-process request counter, the sleep modes and the JSON.
 * It sees neither FastCGI nor libevent: the connection layer hands in the
 * request's CGI variables through a lookup function and carries out what
 * async_handler_start() returns.
 *
 *   block    the sleep happens right here, on the loop thread: the mistake
 *            the experiment shows (every request behind it waits).
 *   timer    returns ASYNC_STEP_TIMER: the caller arms a loop timer and calls
 *            async_handler_complete() when it fires.
 *   offload  returns ASYNC_STEP_OFFLOAD: the caller submits call->job to the
 *            pool (async_handler_pool()); the pool runs the sleep on a worker
 *            and, back on the loop thread, either hands the call to
 *            call->resume or, if the caller gave up on it (call->cancelled),
 *            frees it.
 *
 * The sleeper's work is a sleep, a database query or an upstream GET
 * (SYNCASYNC_WORK).  For db and http, block and offload make the blocking
 * call (common/work_blocking.h) on the loop thread or on the pool, and the
 * non-blocking mode ("async"; "timer" is its alias) returns
 * ASYNC_STEP_WORK: the caller sets call->resume and call->owner and calls
 * async_handler_work_submit(); the drivers (work_db.c, work_http.c) run it
 * on the loop and hand the call back to call->resume.  A failed piece of
 * work is answered 502 or 504 with a JSON error naming the cause.
 */
#ifndef SYNCASYNC_ASYNC_HANDLER_H
#define SYNCASYNC_ASYNC_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "async_fcgi/offload_pool.h"
#include "async_fcgi/work_db.h"
#include "async_fcgi/work_http.h"
#include "common/handler.h"
#include "common/settings.h"

enum async_step {
	ASYNC_STEP_RESPOND,	/* call->response is ready */
	ASYNC_STEP_TIMER,	/* wait call->plan.sleep_us on a timer */
	ASYNC_STEP_OFFLOAD,	/* submit call->job to the pool */
	ASYNC_STEP_WORK,	/* set resume and owner, then
				   async_handler_work_submit() */
};

/* Figures the connection layer keeps up to date for /async/stats. */
struct async_stats {
	uint64_t	served;		/* responses completed */
	uint64_t	in_flight;	/* requests being handled */
	uint64_t	connections;	/* open FastCGI connections */
	uint64_t	accepted;	/* connections accepted so far */
	uint64_t	stalls;		/* watchdog reports */
	int64_t		longest_stall_us;
	int64_t		longest_stall_at_us;	/* wall clock */
	uint64_t	longest_stall_request;	/* request_no, 0 = unknown */
};

struct async_call {
	struct offload_job job;		/* first: the pool hands it back */
	struct handler_plan plan;
	int		route;		/* private */
	int64_t		started_us;
	long		thread_id;	/* who did the work */
	char	       *response;	/* whole CGI response, malloc'd */
	size_t		response_len;
	/* Set by the caller for ASYNC_STEP_OFFLOAD: */
	void		(*resume)(struct async_call *call);
	void	       *owner;		/* the caller's, for resume */
	int		cancelled;	/* caller gone: the pool frees the call */
	struct async_app *app;
	/* The db or http work (private; NULL for sleep work, so a sleeping
	 * request carries none of it): */
	struct async_work *work;
	int		in_work;	/* with a driver (ASYNC_STEP_WORK) */
};

/* The state of one db or http piece of work (private to async_handler.c). */
struct async_work {
	struct async_call *call;
	struct work_result result;	/* its outcome; status 0 = done */
	struct work_db_req db_req;
	struct work_http_req http_req;
};

typedef const char *(*async_param_fn)(void *ctx, const char *name);

/*
 * Creates the application: settings (already validated) and the offload
 * pool.  NULL with a message in err on failure.
 */
struct async_app *async_handler_new(const struct settings *settings,
    char *err, size_t errlen);
void async_handler_free(struct async_app *app);

/*
 * The loop the non-blocking work runs on (fcgi_conn.c calls these at the
 * start and end of a server): attach creates the db or http driver on base
 * (0, or -1 with a message on stderr); detach frees it, after every call
 * in it was abandoned.  Both do nothing for sleep work.
 */
struct event_base;
int async_handler_attach_loop(struct async_app *app, struct event_base *base);
void async_handler_detach_loop(struct async_app *app);

/* ASYNC_STEP_WORK: hands the call to its driver; call->resume follows. */
void async_handler_work_submit(struct async_call *call);

/*
 * The caller gives up on a call that is away (ASYNC_STEP_OFFLOAD or
 * ASYNC_STEP_WORK; its peer went away): an offloaded call is marked
 * cancelled and freed by the pool when its work ends; a call in db or http
 * work is taken out of its driver and freed now (a running query finishes
 * on its connection, its result dropped).  resume never runs for it.
 */
void async_handler_abandon(struct async_call *call);

struct async_stats *async_handler_stats(struct async_app *app);
struct offload_pool *async_handler_pool(struct async_app *app);

/*
 * Starts a request: routes it, checks it, numbers it, and either builds the
 * response (sleeping first in block mode) or says how to wait.  Returns a
 * new call (free with async_handler_call_free) or NULL when out of memory.
 */
struct async_call *async_handler_start(struct async_app *app,
    async_param_fn param, void *ctx, enum async_step *step);

/*
 * A request the connection layer refuses before the application sees it
 * (its body went past --max-stdin): a call holding just the JSON error with
 * this status (headers only for HEAD).  NULL when out of memory.
 */
struct async_call *async_handler_refuse(struct async_app *app, int status,
    const char *message, int head);

/* After a timer or the pool: builds call->response. */
void async_handler_complete(struct async_call *call);

void async_handler_call_free(struct async_call *call);

/* The request number and mode name of a call, for log lines. */
uint64_t async_handler_request_no(const struct async_call *call);
const char *async_handler_mode(const struct async_call *call);

#endif
