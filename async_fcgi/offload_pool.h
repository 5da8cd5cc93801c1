/*
 * offload_pool.h - a bounded worker-thread pool whose results come back to
 * the event loop (the "offload" mode, like FastAPI's run_in_threadpool).
 *
 * The loop thread submits jobs; a fixed set of worker threads runs each
 * job's work(); finished jobs are queued and an eventfd becomes readable; the
 * loop layer watches that fd and calls offload_pool_drain(), which runs each
 * job's done() on the loop thread.  This layer knows nothing of libevent,
 * FastCGI or the application, never cancels a running work() and never ends
 * the process.  Every function except work() itself is for the loop thread
 * only (the one thread that creates, submits, drains and frees).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_OFFLOAD_POOL_H
#define SYNCASYNC_ASYNC_FCGI_OFFLOAD_POOL_H

#include <stddef.h>

/*
 * One unit of work, embedded by the caller in its own struct (recover it
 * with offsetof).  The caller sets work and done; the pool owns the rest
 * from submit until done() is called, and the caller must keep the struct
 * alive until then.
 */
struct offload_job {
	/* Runs on a worker thread; must not touch loop state. */
	void		(*work)(struct offload_job *job);
	/* Runs on the loop thread, inside offload_pool_drain() or
	 * offload_pool_free(); called exactly once per submitted job, also
	 * when the submitter lost interest (done() then just frees).  The job
	 * is no longer the pool's once done() starts: done() may free it or
	 * submit it again. */
	void		(*done)(struct offload_job *job);
	/* Set by the pool: gettid(2) of the worker that ran work(), or 0 when
	 * work() never ran (see offload_pool_free). */
	long		 worker_tid;
	/* Private to the pool. */
	struct offload_job *next;
};

struct offload_pool;

/*
 * Creates a pool of threads workers (1..SA_POOL_THREADS_MAX), all started
 * now, so a pool that exists can always run its jobs.  Workers have 256 KiB
 * stacks (enough for libc, libpq and libcurl calls; not for deep recursion
 * or large stack buffers) and block every asynchronous signal, so SIGTERM,
 * SIGINT, SIGPIPE and the like reach the loop thread.  Returns NULL with a
 * message in err (errlen bytes, may be 0) on a bad count or when a thread,
 * the eventfd or memory cannot be had; nothing is left behind.
 */
struct offload_pool *offload_pool_new(unsigned threads, char *err,
    size_t errlen);

/* The eventfd (EFD_NONBLOCK | EFD_CLOEXEC) that is readable while finished
 * jobs wait for offload_pool_drain().  Owned by the pool: never close it. */
int offload_pool_fd(const struct offload_pool *pool);

/* Queues job (work and done set) for the next free worker, FIFO.  Never
 * blocks on work and never fails: the queue is unbounded, so callers that
 * must cap it compare offload_pool_queued() with their own limit. */
void offload_pool_submit(struct offload_pool *pool, struct offload_job *job);

/* Reads the eventfd and runs done() for every job finished so far, in
 * completion order.  Never blocks; with nothing finished it does nothing.
 * Jobs that finish while it runs are left for the next call (the fd is
 * readable again), so a done() that submits cannot keep it looping. */
void offload_pool_drain(struct offload_pool *pool);

/* Counters, each read atomically (they may change as soon as read). */
unsigned offload_pool_busy(const struct offload_pool *pool);	/* running */
unsigned offload_pool_queued(const struct offload_pool *pool);	/* waiting */
unsigned offload_pool_threads(const struct offload_pool *pool);

/*
 * Stops the pool: lets running work() calls finish (it waits for them, it
 * cannot interrupt them), joins the workers, then runs done() for every
 * finished job in completion order and for every never-started job in
 * submission order.  A never-started job gets done() WITHOUT work(), with
 * worker_tid 0; its done() must tell that apart (or not care).  A done()
 * called here may still submit: such jobs also get done() without work().
 * Closes the fd and frees the pool.  NULL is a no-op.
 */
void offload_pool_free(struct offload_pool *pool);

#endif
