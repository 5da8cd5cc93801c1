/* SPDX-License-Identifier: ISC */
/*
 * async_handler.h - /async and /async/stats: the application of async_fcgi.
 *
 * Routing, the in-process request counter, the sleep modes and the JSON.
 * It sees neither FastCGI nor libevent types: the caller hands in the
 * request's CGI variables through a lookup function, and the loop only
 * through loop_io.h's handles.  Every wait a call starts is the
 * application's own: a timer (mode timer), a job on its offload pool (mode
 * offload), db or http work on its work driver; block sleeps right here,
 * on the loop thread (the experiment's mistake).  Errors: a call is either
 * ready with its response (a JSON error for a bad request, 502 or 504 for
 * failed work) or pending; NULL only when memory runs out.  Loop thread
 * only.
 */
#ifndef SYNCASYNC_ASYNC_HANDLER_H
#define SYNCASYNC_ASYNC_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/handler.h"
#include "common/settings.h"

struct event_base;
struct offload_pool;
struct stall_watch_report;
struct async_app;
struct async_call;

/* Figures the server and connections keep up to date for /async/stats. */
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

/* The application: settings (already validated) and its offload pool.
 * NULL with a message in err (SA_ERROR_MAX bytes). */
struct async_app *async_handler_new(const struct settings *settings,
    char *err, size_t errlen);
void async_handler_free(struct async_app *app);	/* NULL is a no-op */

/*
 * The loop the application's waits run on: attach watches the pool's fd
 * and starts the db or http driver on base (0, or -1 with a message in
 * err); detach undoes it, once every pending call was cancelled.
 */
int async_handler_attach(struct async_app *app, struct event_base *base,
    char *err, size_t errlen);
void async_handler_detach(struct async_app *app);

struct async_stats *async_handler_stats(struct async_app *app);

/*
 * Makes app worker index of a --workers deployment (before the server
 * takes its stats): its request numbers come from the shared counter, its
 * figures live in its slot, and /async/stats names the worker and adds the
 * totals of every slot.  Without it the app counts alone (worker 0 of 1).
 */
struct worker_slots;
void async_handler_share(struct async_app *app, struct worker_slots *slots,
    unsigned index);

enum async_start {
	ASYNC_READY,		/* the response is ready now */
	ASYNC_PENDING,		/* done(owner) follows, on the loop thread */
};

/*
 * Starts a request: routes it, checks it, numbers it, and either builds its
 * response (sleeping first in block mode) or starts its wait.  A pending
 * call's done(owner) runs once, never inside this call; then the response
 * is ready.  NULL when out of memory.
 */
struct async_call *async_handler_start(struct async_app *app,
    handler_param_fn param, void *ctx, void (*done)(void *owner),
    void *owner, enum async_start *start);

/* fn(ctx, request_no, method, uri, mode, work) runs on the loop thread
 * right before a request blocks it (mode block), so that a detector can
 * name it (method and uri stay valid until the call returns); NULL: none. */
void async_handler_on_block(struct async_app *app,
    void (*fn)(void *ctx, uint64_t request_no, const char *method,
    const char *uri, const char *mode, const char *work), void *ctx);

/* fn(ctx, out) fills the blocked-loop report (stall_watch.h) that
 * /async/stats writes as "current_block" and "recent_blocks"; NULL: none
 * (null and []). */
void async_handler_on_stats(struct async_app *app,
    void (*fn)(void *ctx, struct stall_watch_report *out), void *ctx);

/* A request refused before the application sees it (a body past
 * --max-stdin): a ready call holding the JSON error with status (headers
 * only for head).  NULL when out of memory. */
struct async_call *async_handler_refuse(struct async_app *app, int status,
    const char *message, int head);

/* The whole CGI response of a ready call; NULL when memory ran out. */
const char *async_call_response(const struct async_call *call, size_t *len);
/* The peer left a pending call: its wait is stopped (a queued pool job
 * never runs, a running one's sleep, query or transfer is cancelled and
 * its result dropped), done() never runs, the call is freed. */
void async_call_cancel(struct async_call *call);
void async_call_free(struct async_call *call);	/* a ready call; NULL ok */

/* A ready call the application could not take (its offload pool is full):
 * its response is a 503, and the caller ends it FCGI_OVERLOADED. */
int async_call_overloaded(const struct async_call *call);

/* The request number (0: none) and mode name of a call, for log lines. */
uint64_t async_call_request_no(const struct async_call *call);
const char *async_call_mode(const struct async_call *call);

/* For tests: the offload pool, to wait for cancelled jobs between runs. */
struct offload_pool *async_handler_pool(struct async_app *app);

/* Cancelled calls whose pool worker is not free yet: they still count
 * against the caller's request cap. */
unsigned async_handler_lingering(const struct async_app *app);

/*
 * Stops the pool (a drain ends): every job is cancelled, running ones get
 * at most deadline_ms to return.  Returns how many workers are still busy:
 * then the process must exit without async_handler_free() (their work
 * still reads the application), e.g. with _exit().
 */
unsigned async_handler_stop(struct async_app *app, unsigned deadline_ms);

#endif
