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
 */
#ifndef SYNCASYNC_ASYNC_HANDLER_H
#define SYNCASYNC_ASYNC_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "async_fcgi/offload_pool.h"
#include "common/handler.h"
#include "common/settings.h"

enum async_step {
	ASYNC_STEP_RESPOND,	/* call->response is ready */
	ASYNC_STEP_TIMER,	/* wait call->plan.sleep_us on a timer */
	ASYNC_STEP_OFFLOAD,	/* submit call->job to the pool */
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
};

typedef const char *(*async_param_fn)(void *ctx, const char *name);

/*
 * Creates the application: settings (already validated) and the offload
 * pool.  NULL with a message in err on failure.
 */
struct async_app *async_handler_new(const struct settings *settings,
    char *err, size_t errlen);
void async_handler_free(struct async_app *app);

struct async_stats *async_handler_stats(struct async_app *app);
struct offload_pool *async_handler_pool(struct async_app *app);

/*
 * Starts a request: routes it, checks it, numbers it, and either builds the
 * response (sleeping first in block mode) or says how to wait.  Returns a
 * new call (free with async_handler_call_free) or NULL when out of memory.
 */
struct async_call *async_handler_start(struct async_app *app,
    async_param_fn param, void *ctx, enum async_step *step);

/* After a timer or the pool: builds call->response. */
void async_handler_complete(struct async_call *call);

void async_handler_call_free(struct async_call *call);

/* The request number and mode name of a call, for log lines. */
uint64_t async_handler_request_no(const struct async_call *call);
const char *async_handler_mode(const struct async_call *call);

#endif
