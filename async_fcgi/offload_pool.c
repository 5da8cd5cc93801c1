/*
 * offload_pool.c - a bounded worker-thread pool that hands results back to
 * the event loop through an eventfd.
 *
 * Two intrusive FIFO lists under one mutex: pending (submitted, waiting for
 * a worker) and finished (work() returned, waiting for done()).  Workers
 * sleep on a condition variable, pop pending, run work() unlocked, append to
 * finished and bump the eventfd.  The loop thread's drain reads the eventfd
 * first and takes the finished list second, so a job finished in between
 * leaves the fd readable (at worst one spurious, empty wake-up) and none is
 * ever lost.  Busy and queued counters are atomics, changed under the mutex
 * and read without it.  This file does not know libevent, does not bound the
 * pending queue (the caller does), and cannot cancel a running work().
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
#include <unistd.h>

#include "common/limits.h"

#define OFFLOAD_STACK_BYTES	(256UL * 1024UL)	/* 256 KiB per worker */

struct job_list {
	struct offload_job	*head;
	struct offload_job	*tail;
};

struct offload_pool {
	pthread_mutex_t		 lock;		/* guards the lists, stopping */
	pthread_cond_t		 wake;		/* pending grew, or stopping */
	struct job_list		 pending;
	struct job_list		 finished;
	int			 stopping;
	int			 event_fd;
	atomic_uint		 busy;
	atomic_uint		 queued;
	unsigned		 nthreads;	/* started; fixed after new() */
	pthread_t		*workers;
};

static void
job_list_push(struct job_list *list, struct offload_job *job)
{
	job->next = NULL;
	if (list->tail != NULL)
		list->tail->next = job;
	else
		list->head = job;
	list->tail = job;
}

static struct offload_job *
job_list_pop(struct job_list *list)
{
	struct offload_job *job = list->head;

	if (job != NULL) {
		list->head = job->next;
		if (list->head == NULL)
			list->tail = NULL;
		job->next = NULL;
	}
	return job;
}

/* Takes the whole list (under the pool's lock) and leaves it empty. */
static struct offload_job *
job_list_take(struct offload_pool *pool, struct job_list *list)
{
	struct offload_job *head;

	pthread_mutex_lock(&pool->lock);
	head = list->head;
	list->head = list->tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	return head;
}

/* Runs done() along a taken list; done() may free or resubmit the job. */
static void
job_list_run_done(struct offload_job *job)
{
	struct offload_job *next;

	for (; job != NULL; job = next) {
		next = job->next;
		job->next = NULL;
		job->done(job);
	}
}

static void *
worker_main(void *arg)
{
	struct offload_pool	*pool = arg;
	struct offload_job	*job;
	long			 tid = (long)syscall(SYS_gettid);
	uint64_t		 one = 1;

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while (pool->pending.head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stopping) {
			/* Pending jobs stay for offload_pool_free(). */
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		if ((job = job_list_pop(&pool->pending)) == NULL) {
			pthread_mutex_unlock(&pool->lock);
			continue;	/* cannot happen: head was checked */
		}
		atomic_fetch_sub(&pool->queued, 1);
		atomic_fetch_add(&pool->busy, 1);
		pthread_mutex_unlock(&pool->lock);

		job->worker_tid = tid;
		job->work(job);

		pthread_mutex_lock(&pool->lock);
		job_list_push(&pool->finished, job);	/* job is the loop's now */
		atomic_fetch_sub(&pool->busy, 1);
		pthread_mutex_unlock(&pool->lock);
		/* Only fails with EAGAIN at a counter of 2^64-2: still readable. */
		if (write(pool->event_fd, &one, sizeof(one)) < 0)
			continue;
	}
	return NULL;
}

struct offload_pool *
offload_pool_new(unsigned threads, char *err, size_t errlen)
{
	struct offload_pool	*pool = NULL;
	pthread_attr_t		 attr;
	sigset_t		 block, saved;
	size_t			 stack = OFFLOAD_STACK_BYTES;
	int			 rc = 0;

	if (threads == 0 || threads > SA_POOL_THREADS_MAX) {
		snprintf(err, errlen, "offload pool: %u threads, want 1..%lu",
		    threads, SA_POOL_THREADS_MAX);
		return NULL;
	}
	if ((pool = calloc(1, sizeof(*pool))) == NULL ||
	    (pool->workers = calloc(threads, sizeof(pthread_t))) == NULL) {
		snprintf(err, errlen, "offload pool: out of memory");
		goto fail_mem;
	}
	if ((rc = pthread_mutex_init(&pool->lock, NULL)) != 0) {
		snprintf(err, errlen, "offload pool: mutex: %s", strerror(rc));
		goto fail_mem;
	}
	if ((rc = pthread_cond_init(&pool->wake, NULL)) != 0) {
		snprintf(err, errlen, "offload pool: cond: %s", strerror(rc));
		goto fail_mutex;
	}
	pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->event_fd == -1) {
		snprintf(err, errlen, "offload pool: eventfd: %s",
		    strerror(errno));
		goto fail_cond;
	}
	atomic_init(&pool->busy, 0);
	atomic_init(&pool->queued, 0);

	if ((rc = pthread_attr_init(&attr)) != 0) {
		snprintf(err, errlen, "offload pool: attr: %s", strerror(rc));
		goto fail_fd;
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
	for (; pool->nthreads < threads; pool->nthreads++) {
		rc = pthread_create(&pool->workers[pool->nthreads], &attr,
		    worker_main, pool);
		if (rc != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, errlen, "offload pool: thread %u of %u: %s",
		    pool->nthreads + 1, threads, strerror(rc));
		offload_pool_free(pool);	/* stops and joins those started */
		return NULL;
	}
	return pool;

fail_fd:
	close(pool->event_fd);
fail_cond:
	pthread_cond_destroy(&pool->wake);
fail_mutex:
	pthread_mutex_destroy(&pool->lock);
fail_mem:
	if (pool != NULL)
		free(pool->workers);
	free(pool);
	return NULL;
}

int
offload_pool_fd(const struct offload_pool *pool)
{
	return pool->event_fd;
}

void
offload_pool_submit(struct offload_pool *pool, struct offload_job *job)
{
	job->worker_tid = 0;
	pthread_mutex_lock(&pool->lock);
	job_list_push(&pool->pending, job);
	atomic_fetch_add(&pool->queued, 1);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

void
offload_pool_drain(struct offload_pool *pool)
{
	uint64_t count;

	/* Read before taking: see the top of the file.  EAGAIN is fine. */
	if (read(pool->event_fd, &count, sizeof(count)) < 0)
		count = 0;
	job_list_run_done(job_list_take(pool, &pool->finished));
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
offload_pool_threads(const struct offload_pool *pool)
{
	return pool->nthreads;
}

void
offload_pool_free(struct offload_pool *pool)
{
	struct offload_job	*job;
	unsigned		 i;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->workers[i], NULL);

	/* Alone now.  Loop, since a done() may submit again. */
	while (pool->finished.head != NULL || pool->pending.head != NULL) {
		job_list_run_done(job_list_take(pool, &pool->finished));
		job = job_list_take(pool, &pool->pending);
		atomic_store(&pool->queued, 0);
		job_list_run_done(job);		/* never started: no work() */
	}
	close(pool->event_fd);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
	free(pool);
}
