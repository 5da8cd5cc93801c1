/* SPDX-License-Identifier: ISC */
/*
 * offload_pool.h - a bounded worker-thread pool whose results come back to
 * the event loop (the "offload" mode, like FastAPI's run_in_threadpool).
 *
 * The loop thread submits jobs; a fixed set of worker threads runs each
 * job's work(); finished jobs are queued and an eventfd becomes readable; the
 * loop layer watches that fd and calls offload_pool_drain(), which runs each
 * job's done() on the loop thread.  A job can be cancelled: a queued one
 * never runs, a running one is told to stop through its cancel token
 * (common/cancel.h), which its work() may poll, sleep on, or hook a blocking
 * call to.  This layer knows nothing of libevent, FastCGI or the
 * application and never ends the process.  Every function except work()
 * itself is for the loop thread only (the one thread that creates, submits,
 * cancels, drains, stops and frees).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_OFFLOAD_POOL_H
#define SYNCASYNC_ASYNC_FCGI_OFFLOAD_POOL_H

#include <stddef.h>

#include "common/cancel.h"

/*
 * One unit of work, embedded by the caller in its own struct (recover it
 * with offsetof).  The caller sets work and done; the pool owns the rest
 * from a successful submit until done() is called, and the caller must keep
 * the struct alive until then.
 */
struct offload_job {
	/* Runs on a worker thread; must not touch loop state.  May read
	 * token (below) and should stop early once it is cancelled. */
	void		(*work)(struct offload_job *job);
	/* Runs on the loop thread, inside offload_pool_drain() or
	 * offload_pool_free(), exactly once per submitted job: after work()
	 * returned, or WITHOUT work() when the job was cancelled (or the
	 * pool stopped) before a worker took it.  The job is no longer the
	 * pool's once done() starts: done() may free it or submit it again.
	 * The one exception: a job still running when offload_pool_free()
	 * gives up on its worker gets no done() (see there). */
	void		(*done)(struct offload_job *job);
	/* Set by the pool, read them in done(): gettid(2) of the worker that
	 * ran work(), or 0 when work() never ran; 1 when offload_pool_cancel()
	 * (or offload_pool_stop()) reached the job before done(), whether or
	 * not work() ran, else 0. */
	long		 worker_tid;
	int		 cancelled;
	/* Set by the pool for work() only: the running job's token.  It is
	 * the worker's, reused for its next job: never keep it past work(). */
	struct cancel_token *token;
	/* Private to the pool. */
	struct offload_job *next;
	struct offload_job *prev;
	int		 state;
};

struct offload_pool;

/*
 * Creates a pool of threads workers (1..SA_POOL_THREADS_MAX), all started
 * now, so a pool that exists can always run its jobs, with room for
 * queue_max jobs waiting behind them: offload_pool_submit() refuses a job
 * while threads + queue_max jobs are queued or running (cancelled ones too,
 * until their work() returns).  Workers have 256 KiB stacks (enough for
 * libc, libpq and libcurl calls; not for deep recursion or large stack
 * buffers) and block every asynchronous signal, so SIGTERM, SIGINT, SIGPIPE
 * and the like reach the loop thread.  Returns NULL with a message in err
 * (errlen bytes, may be 0) on a bad count or when a thread, the eventfd or
 * memory cannot be had; nothing is left behind.
 */
struct offload_pool *offload_pool_start(unsigned threads, unsigned queue_max,
    char *err, size_t errlen);

/* Transitional, until async_handler.c calls offload_pool_start(): the same
 * with no bound on the queue (submit only fails once stopping). */
struct offload_pool *offload_pool_new(unsigned threads, char *err,
    size_t errlen);

/* The eventfd (EFD_NONBLOCK | EFD_CLOEXEC) that is readable while finished
 * jobs wait for offload_pool_drain().  Owned by the pool: never close it. */
int offload_pool_fd(const struct offload_pool *pool);

/*
 * Queues job (work and done set) for the next free worker, FIFO.  Never
 * blocks and allocates nothing.  Returns 0, or -1 when the pool is full (see
 * offload_pool_start) or stopping: the job is then not the pool's, no
 * done() will come, and the caller answers for it (FCGI_OVERLOADED).
 */
int offload_pool_submit(struct offload_pool *pool, struct offload_job *job);

/* What offload_pool_cancel() found. */
enum offload_cancel {
	OFFLOAD_CANCEL_UNQUEUED,	/* was queued: work() will never run */
	OFFLOAD_CANCEL_STOPPING,	/* running: its token is cancelled */
	OFFLOAD_CANCEL_FINISHED		/* work() had returned already */
};

/*
 * The caller lost interest in job (submitted, done() not yet called).  A
 * queued job leaves the queue now and is finished without work(); a running
 * one has its token cancelled (a hook set on it runs here, on this thread,
 * under the pool's lock) and keeps its worker, and its place in the pool's
 * count, until work() returns.  Either way done() follows once, from a
 * later drain, with cancelled 1.  Calling it again is harmless.
 */
enum offload_cancel offload_pool_cancel(struct offload_pool *pool,
    struct offload_job *job);

/* Reads the eventfd and runs done() for every job finished so far, in
 * completion order.  Never blocks; with nothing finished it does nothing.
 * Jobs that finish while it runs are left for the next call (the fd is
 * readable again), so a done() that submits cannot keep it looping. */
void offload_pool_drain(struct offload_pool *pool);

/* Counters, each read atomically (they may change as soon as read).  load
 * is queued + busy as one figure, what the bound counts; cancelling is the
 * running jobs already told to stop. */
unsigned offload_pool_busy(const struct offload_pool *pool);	/* running */
unsigned offload_pool_queued(const struct offload_pool *pool);	/* waiting */
unsigned offload_pool_load(const struct offload_pool *pool);
unsigned offload_pool_cancelling(const struct offload_pool *pool);
unsigned offload_pool_threads(const struct offload_pool *pool);

/*
 * Begins stopping: refuses new jobs, cancels every queued and running one
 * (as offload_pool_cancel does), then waits at most deadline_ms
 * (CLOCK_MONOTONIC) for running work() calls to return.  Returns how many
 * are still running (0: every worker is free).  Runs no done(): the jobs
 * wait for offload_pool_drain() or offload_pool_free().  Calling it again
 * waits again (0 ms: just counts).
 */
unsigned offload_pool_stop(struct offload_pool *pool, unsigned deadline_ms);

/*
 * Ends the pool.  Without an earlier offload_pool_stop() it first stops
 * with no deadline (waits for every running work(), however long).  Then
 * runs done() for every finished job (a done() called here that submits
 * gets -1).  When every worker is free it joins them and frees everything.
 * When some work() still runs (offload_pool_stop gave up on it), it leaves
 * those workers behind, detached: their jobs get no done(), and the caller
 * must keep each such job, and whatever its work() touches, alive (the
 * process is about to exit); the pool's fd is closed and its memory is
 * freed by the last worker to return, if any ever does.  NULL is a no-op.
 */
void offload_pool_free(struct offload_pool *pool);

#endif
