/* SPDX-License-Identifier: ISC */
/*
 * offload_pool.c - a bounded worker-thread pool that hands results back to
 * the event loop through an eventfd.
 *
 * Two intrusive FIFO lists under one mutex: pending (submitted, waiting for
 * a worker) and finished (work() returned or never will, waiting for
 * done()).  A job's state says which list it is on or that a worker runs
 * it; the lists are doubly linked so that a cancelled job leaves pending in
 * O(1).  Workers sleep on a condition variable, pop pending, run work()
 * unlocked with their own cancel token, append to finished and bump the
 * eventfd.  The loop thread's drain reads the eventfd first and takes the
 * finished list second, so a job finished in between leaves the fd readable
 * (at worst one spurious, empty wake-up) and none is ever lost.
 *
 * A worker's token is cancelled only under the pool's lock and only while
 * its job is RUNNING, and is reset under the lock once the job has left
 * that state, so a cancel never reaches the worker's next job.  Lock order:
 * the pool's, then a token's.  Counters are atomics, changed under the
 * mutex and read without it.  Stopping with workers left in work(): the
 * pool is abandoned to them, and the last one to return frees it.
 */
#include "config.h"

#include "async_fcgi/offload_pool.h"

#include <sys/eventfd.h>
#include <sys/syscall.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"

#define OFFLOAD_STACK_BYTES	(256UL * 1024UL)	/* 256 KiB per worker */
#define OFFLOAD_FOREVER		UINT_MAX		/* stop: no deadline */

enum job_state {
	JOB_OUT = 0,		/* not the pool's */
	JOB_QUEUED,		/* on pending */
	JOB_RUNNING,		/* a worker runs work() */
	JOB_FINISHED		/* on finished, done() next */
};

struct job_list {
	struct offload_job	*head;
	struct offload_job	*tail;
};

struct offload_worker {
	struct offload_pool	*pool;
	pthread_t		 thread;
	struct cancel_token	 token;
	struct offload_job	*job;		/* RUNNING on it, or NULL */
};

struct offload_pool {
	pthread_mutex_t		 lock;		/* guards all below but fd */
	pthread_cond_t		 wake;		/* pending grew, or stopping */
	pthread_cond_t		 idle;		/* busy fell (CLOCK_MONOTONIC) */
	struct job_list		 pending;
	struct job_list		 finished;
	int			 stopping;	/* offload_pool_stop() ran */
	int			 abandoned;	/* free() left workers behind */
	unsigned		 alive;		/* worker threads not ended */
	int			 event_fd;
	atomic_uint		 busy;
	atomic_uint		 queued;
	atomic_uint		 load;		/* queued + busy, as one */
	atomic_uint		 cancelling;
	unsigned		 queue_max;
	unsigned		 nthreads;	/* started; fixed after start() */
	unsigned		 ntokens;	/* initialised */
	struct offload_worker	*workers;
};

static void
job_list_push(struct job_list *list, struct offload_job *job)
{
	job->next = NULL;
	job->prev = list->tail;
	if (list->tail != NULL)
		list->tail->next = job;
	else
		list->head = job;
	list->tail = job;
}

static void
job_list_unlink(struct job_list *list, struct offload_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		list->head = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	else
		list->tail = job->prev;
	job->next = job->prev = NULL;
}

/* Takes the whole list, the pool's lock held, and leaves it empty. */
static struct offload_job *
job_list_take(struct job_list *list)
{
	struct offload_job *head = list->head, *job;

	list->head = list->tail = NULL;
	for (job = head; job != NULL; job = job->next)
		job->state = JOB_OUT;
	return head;
}

/* Runs done() along a taken list; done() may free or resubmit the job. */
static void
job_list_run_done(struct offload_job *job)
{
	struct offload_job *next;

	for (; job != NULL; job = next) {
		next = job->next;
		job->next = job->prev = NULL;
		job->done(job);
	}
}

/* Under the lock: job (queued) leaves pending for finished, never run. */
static void
pool_unqueue(struct offload_pool *pool, struct offload_job *job)
{
	job_list_unlink(&pool->pending, job);
	atomic_fetch_sub(&pool->queued, 1);
	atomic_fetch_sub(&pool->load, 1);
	job->cancelled = 1;
	job->state = JOB_FINISHED;
	job_list_push(&pool->finished, job);
}

/* Under the lock: tells a running job to stop (once). */
static void
pool_cancel_running(struct offload_pool *pool, struct offload_worker *worker)
{
	if (worker->job->cancelled)
		return;
	worker->job->cancelled = 1;
	atomic_fetch_add(&pool->cancelling, 1);
	cancel_request(&worker->token);		/* may run its hook */
}

/* Bumps the eventfd: finished jobs wait.  Only fails with EAGAIN at a
 * counter of 2^64-2, which is still readable. */
static void
pool_notify(struct offload_pool *pool)
{
	uint64_t one = 1;

	if (write(pool->event_fd, &one, sizeof(one)) < 0)
		return;
}

/* Frees what start() made; no thread may be running. */
static void
pool_destroy(struct offload_pool *pool)
{
	unsigned i;

	if (pool->event_fd != -1)
		close(pool->event_fd);
	for (i = 0; i < pool->ntokens; i++)
		cancel_destroy(&pool->workers[i].token);
	pthread_cond_destroy(&pool->idle);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
	free(pool);
}

static void *
worker_main(void *arg)
{
	struct offload_worker	*worker = arg;
	struct offload_pool	*pool = worker->pool;
	struct offload_job	*job;
	long			 tid = (long)syscall(SYS_gettid);
	int			 last;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->pending.head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stopping)
			break;		/* pending was moved to finished */
		job = pool->pending.head;
		job_list_unlink(&pool->pending, job);
		atomic_fetch_sub(&pool->queued, 1);
		atomic_fetch_add(&pool->busy, 1);
		job->state = JOB_RUNNING;
		job->worker_tid = tid;
		job->token = &worker->token;
		worker->job = job;
		pthread_mutex_unlock(&pool->lock);

		job->work(job);
		/* A hook work() left set would outlive what it points to. */
		cancel_hook_clear(&worker->token);

		pthread_mutex_lock(&pool->lock);
		worker->job = NULL;
		if (job->cancelled)
			atomic_fetch_sub(&pool->cancelling, 1);
		atomic_fetch_sub(&pool->busy, 1);
		atomic_fetch_sub(&pool->load, 1);
		if (!pool->abandoned) {		/* else: not ours to touch */
			job->token = NULL;
			job->state = JOB_FINISHED;
			job_list_push(&pool->finished, job);
			pool_notify(pool);	/* under the lock: fd open */
		}
		cancel_reset(&worker->token);	/* no longer reachable */
		pthread_cond_broadcast(&pool->idle);
	}
	last = --pool->alive == 0 && pool->abandoned;
	pthread_mutex_unlock(&pool->lock);
	if (last)
		pool_destroy(pool);
	return NULL;
}

struct offload_pool *
offload_pool_start(unsigned threads, unsigned queue_max, char *err,
    size_t errlen)
{
	struct offload_pool	*pool = NULL;
	pthread_attr_t		 attr;
	pthread_condattr_t	 cattr;
	sigset_t		 block, saved;
	size_t			 stack = OFFLOAD_STACK_BYTES;
	int			 rc = 0;

	if (threads == 0 || threads > SA_POOL_THREADS_MAX) {
		snprintf(err, errlen, "offload pool: %u threads, want 1..%lu",
		    threads, SA_POOL_THREADS_MAX);
		return NULL;
	}
	if ((pool = calloc(1, sizeof(*pool))) == NULL ||
	    (pool->workers = calloc(threads, sizeof(*pool->workers))) ==
	    NULL) {
		snprintf(err, errlen, "offload pool: out of memory");
		goto fail_mem;
	}
	pool->queue_max = queue_max;
	if ((rc = pthread_mutex_init(&pool->lock, NULL)) != 0) {
		snprintf(err, errlen, "offload pool: mutex: %s", strerror(rc));
		goto fail_mem;
	}
	if ((rc = pthread_cond_init(&pool->wake, NULL)) != 0) {
		snprintf(err, errlen, "offload pool: cond: %s", strerror(rc));
		goto fail_mutex;
	}
	if ((rc = pthread_condattr_init(&cattr)) == 0) {
		if ((rc = pthread_condattr_setclock(&cattr,
		    CLOCK_MONOTONIC)) == 0)
			rc = pthread_cond_init(&pool->idle, &cattr);
		pthread_condattr_destroy(&cattr);
	}
	if (rc != 0) {
		snprintf(err, errlen, "offload pool: cond: %s", strerror(rc));
		goto fail_wake;
	}
	for (; pool->ntokens < threads; pool->ntokens++) {
		pool->workers[pool->ntokens].pool = pool;
		if (cancel_init(&pool->workers[pool->ntokens].token) == -1) {
			snprintf(err, errlen, "offload pool: token: %s",
			    strerror(errno));
			pool->event_fd = -1;
			pool_destroy(pool);
			return NULL;
		}
	}
	pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->event_fd == -1) {
		snprintf(err, errlen, "offload pool: eventfd: %s",
		    strerror(errno));
		pool_destroy(pool);
		return NULL;
	}
	atomic_init(&pool->busy, 0);
	atomic_init(&pool->queued, 0);
	atomic_init(&pool->load, 0);
	atomic_init(&pool->cancelling, 0);

	if ((rc = pthread_attr_init(&attr)) != 0) {
		snprintf(err, errlen, "offload pool: attr: %s", strerror(rc));
		pool_destroy(pool);
		return NULL;
	}
	if (stack < (size_t)PTHREAD_STACK_MIN)
		stack = (size_t)PTHREAD_STACK_MIN;
	(void)pthread_attr_setstacksize(&attr, stack);	/* else: default */

	/* Workers inherit the mask: only faults stay deliverable to them. */
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	pthread_mutex_lock(&pool->lock);
	for (; pool->nthreads < threads; pool->nthreads++) {
		rc = pthread_create(&pool->workers[pool->nthreads].thread,
		    &attr, worker_main, &pool->workers[pool->nthreads]);
		if (rc != 0)
			break;
		pool->alive++;
	}
	pthread_mutex_unlock(&pool->lock);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, errlen, "offload pool: thread %u of %u: %s",
		    pool->nthreads + 1, threads, strerror(rc));
		offload_pool_free(pool);	/* stops and joins those started */
		return NULL;
	}
	return pool;

fail_wake:
	pthread_cond_destroy(&pool->wake);
fail_mutex:
	pthread_mutex_destroy(&pool->lock);
fail_mem:
	if (pool != NULL)
		free(pool->workers);
	free(pool);
	return NULL;
}

struct offload_pool *
offload_pool_new(unsigned threads, char *err, size_t errlen)
{
	return offload_pool_start(threads, UINT_MAX, err, errlen);
}

int
offload_pool_fd(const struct offload_pool *pool)
{
	return pool->event_fd;
}

int
offload_pool_submit(struct offload_pool *pool, struct offload_job *job)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping || (uint64_t)atomic_load(&pool->load) >=
	    (uint64_t)pool->nthreads + pool->queue_max) {
		pthread_mutex_unlock(&pool->lock);
		return -1;
	}
	job->worker_tid = 0;
	job->cancelled = 0;
	job->token = NULL;
	job->state = JOB_QUEUED;
	job_list_push(&pool->pending, job);
	atomic_fetch_add(&pool->queued, 1);
	atomic_fetch_add(&pool->load, 1);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

enum offload_cancel
offload_pool_cancel(struct offload_pool *pool, struct offload_job *job)
{
	enum offload_cancel found = OFFLOAD_CANCEL_FINISHED;

	pthread_mutex_lock(&pool->lock);
	switch (job->state) {
	case JOB_QUEUED:
		pool_unqueue(pool, job);
		pool_notify(pool);
		found = OFFLOAD_CANCEL_UNQUEUED;
		break;
	case JOB_RUNNING:
		/* job->token is its worker's own (worker_main). */
		pool_cancel_running(pool, (struct offload_worker *)(void *)
		    ((char *)job->token - offsetof(struct offload_worker,
		    token)));
		found = OFFLOAD_CANCEL_STOPPING;
		break;
	default:
		job->cancelled = 1;	/* done() comes next */
		break;
	}
	pthread_mutex_unlock(&pool->lock);
	return found;
}

void
offload_pool_drain(struct offload_pool *pool)
{
	struct offload_job *head;
	uint64_t count;

	/* Read before taking: see the top of the file.  EAGAIN is fine. */
	if (read(pool->event_fd, &count, sizeof(count)) < 0)
		count = 0;
	pthread_mutex_lock(&pool->lock);
	head = job_list_take(&pool->finished);
	pthread_mutex_unlock(&pool->lock);
	job_list_run_done(head);
}

unsigned
offload_pool_busy(const struct offload_pool *pool)
{
	return atomic_load(&pool->busy);
}

unsigned
offload_pool_queued(const struct offload_pool *pool)
{
	return atomic_load(&pool->queued);
}

unsigned
offload_pool_load(const struct offload_pool *pool)
{
	return atomic_load(&pool->load);
}

unsigned
offload_pool_cancelling(const struct offload_pool *pool)
{
	return atomic_load(&pool->cancelling);
}

unsigned
offload_pool_threads(const struct offload_pool *pool)
{
	return pool->nthreads;
}

unsigned
offload_pool_stop(struct offload_pool *pool, unsigned deadline_ms)
{
	struct timespec	 deadline;
	unsigned	 i, left;
	int		 rc = 0;

	cancel_deadline((uint64_t)deadline_ms * 1000, &deadline);
	pthread_mutex_lock(&pool->lock);
	if (!pool->stopping) {
		pool->stopping = 1;
		while (pool->pending.head != NULL)
			pool_unqueue(pool, pool->pending.head);
		for (i = 0; i < pool->nthreads; i++)
			if (pool->workers[i].job != NULL)
				pool_cancel_running(pool, &pool->workers[i]);
		if (pool->finished.head != NULL)
			pool_notify(pool);
		pthread_cond_broadcast(&pool->wake);
	}
	while (atomic_load(&pool->busy) > 0 && rc == 0)
		rc = deadline_ms == OFFLOAD_FOREVER ?
		    pthread_cond_wait(&pool->idle, &pool->lock) :
		    pthread_cond_timedwait(&pool->idle, &pool->lock,
		    &deadline);
	left = atomic_load(&pool->busy);
	pthread_mutex_unlock(&pool->lock);
	return left;
}

void
offload_pool_free(struct offload_pool *pool)
{
	struct offload_job	*head;
	unsigned		 i, left;
	int			 stopped, last;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	stopped = pool->stopping;
	pthread_mutex_unlock(&pool->lock);
	left = offload_pool_stop(pool, stopped ? 0 : OFFLOAD_FOREVER);

	/* A done() run here that submits is refused: finished cannot grow
	 * but by work() that returns late. */
	if (left == 0) {
		pthread_mutex_lock(&pool->lock);
		head = job_list_take(&pool->finished);
		pthread_mutex_unlock(&pool->lock);
		job_list_run_done(head);
		/* Every worker is free, so each one is ending: join them. */
		for (i = 0; i < pool->nthreads; i++)
			pthread_join(pool->workers[i].thread, NULL);
		pool_destroy(pool);
		return;
	}
	/* Leave the stuck workers the pool; hold it while done() runs. */
	for (i = 0; i < pool->nthreads; i++)
		pthread_detach(pool->workers[i].thread);
	pthread_mutex_lock(&pool->lock);
	pool->abandoned = 1;
	pool->alive++;
	close(pool->event_fd);		/* workers skip it once abandoned */
	pool->event_fd = -1;
	head = job_list_take(&pool->finished);
	pthread_mutex_unlock(&pool->lock);
	job_list_run_done(head);
	pthread_mutex_lock(&pool->lock);
	last = --pool->alive == 0;
	pthread_mutex_unlock(&pool->lock);
	if (last)
		pool_destroy(pool);
}
