/*
 * unit_offload_pool.c - the offload pool: work() on workers, done() on the
 * calling thread, at most N at once, FIFO overflow, the eventfd as the only
 * readiness signal, and exactly one done() per job, also through free().
 *
 * Readiness is always poll(2) on the pool's fd; the only waits that are not
 * poll are bounded spins for "both workers have picked up a job".  An alarm
 * turns a hang into a failure.  Timing bounds are wide on purpose.
 */
#include "config.h"

#include <sys/syscall.h>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "async_fcgi/offload_pool.h"
#include "common/limits.h"
#include "tests/tap.h"

#define WATCHDOG_S	60	/* whole program, seconds */
#define WAIT_MS		5000	/* one poll or spin, milliseconds */

struct test_job {
	struct offload_job	job;
	unsigned		sleep_ms;
	int			work_runs;
	int			done_runs;
	long			done_tid;
	int			signals_blocked;	/* seen in work() */
};

static long main_tid;
static atomic_int running_now;
static atomic_int running_max;

static long
thread_id(void)
{
	return (long)syscall(SYS_gettid);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct test_job *
test_job_of(struct offload_job *job)
{
	return (struct test_job *)((char *)job - offsetof(struct test_job, job));
}

static void
test_work(struct offload_job *job)
{
	struct test_job	*tj = test_job_of(job);
	struct timespec	 ts;
	sigset_t	 mask;
	int		 now, max;

	now = atomic_fetch_add(&running_now, 1) + 1;
	max = atomic_load(&running_max);
	while (now > max && !atomic_compare_exchange_weak(&running_max, &max,
	    now))
		;
	tj->work_runs++;
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	tj->signals_blocked = sigismember(&mask, SIGTERM) == 1 &&
	    sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGPIPE) == 1;
	if (tj->sleep_ms > 0) {
		ts.tv_sec = tj->sleep_ms / 1000;
		ts.tv_nsec = (long)(tj->sleep_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	atomic_fetch_sub(&running_now, 1);
}

static void
test_done(struct offload_job *job)
{
	struct test_job *tj = test_job_of(job);

	tj->done_runs++;
	tj->done_tid = thread_id();
}

static void
test_jobs_init(struct test_job *jobs, size_t n, unsigned sleep_ms)
{
	size_t i;

	for (i = 0; i < n; i++) {
		jobs[i] = (struct test_job){ .sleep_ms = sleep_ms };
		jobs[i].job.work = test_work;
		jobs[i].job.done = test_done;
	}
	atomic_store(&running_now, 0);
	atomic_store(&running_max, 0);
}

/* 1 when the pool's fd turns readable within ms, 0 on timeout. */
static int
wait_readable(struct offload_pool *pool, int ms)
{
	struct pollfd pfd = { .fd = offload_pool_fd(pool), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN) != 0;
}

/* Spins (yielding, no sleep) until busy reaches want; 1 on success. */
static int
spin_until_busy(struct offload_pool *pool, unsigned want)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (offload_pool_busy(pool) < want)
		if (now_ms() > deadline)
			return 0;
		else
			sched_yield();
	return 1;
}

/* Polls and drains until done_runs of all n jobs is set, or a timeout. */
static int
drain_all(struct offload_pool *pool, struct test_job *jobs, size_t n,
    unsigned *busy_max)
{
	size_t	 i, done;

	for (;;) {
		for (i = done = 0; i < n; i++)
			done += jobs[i].done_runs > 0;
		if (done == n)
			return 1;
		if (!wait_readable(pool, WAIT_MS))
			return 0;
		if (busy_max != NULL && offload_pool_busy(pool) > *busy_max)
			*busy_max = offload_pool_busy(pool);
		offload_pool_drain(pool);
	}
}

static void
test_new_errors(void)
{
	char err[128] = "";

	TAP_OK(offload_pool_new(0, err, sizeof(err)) == NULL && err[0] != '\0',
	    "new: 0 threads refused with a message");
	err[0] = '\0';
	TAP_OK(offload_pool_new(SA_POOL_THREADS_MAX + 1, err, sizeof(err)) ==
	    NULL && err[0] != '\0', "new: too many threads refused");
	TAP_OK(offload_pool_new(0, NULL, 0) == NULL, "new: NULL err is fine");
	offload_pool_free(NULL);
	TAP_OK(1, "free(NULL) is a no-op");
}

static void
test_threads(void)
{
	struct offload_pool	*pool;
	struct test_job		 one;
	char			 err[128];

	if (!TAP_OK((pool = offload_pool_new(2, err, sizeof(err))) != NULL,
	    "new: 2 threads"))
		return;
	TAP_EQ_INT(offload_pool_threads(pool), 2, "threads() says 2");
	TAP_OK(!wait_readable(pool, 0), "fresh pool: fd not readable");
	offload_pool_drain(pool);
	TAP_OK(1, "drain with nothing pending returns");

	test_jobs_init(&one, 1, 0);
	offload_pool_submit(pool, &one.job);
	TAP_OK(wait_readable(pool, WAIT_MS), "fd readable after a job");
	offload_pool_drain(pool);
	TAP_EQ_INT(one.work_runs, 1, "work() ran once");
	TAP_EQ_INT(one.done_runs, 1, "done() ran once");
	TAP_OK(one.job.worker_tid != 0 && one.job.worker_tid != main_tid,
	    "work() ran on a worker thread");
	TAP_EQ_INT(one.done_tid, main_tid, "done() ran on the draining thread");
	TAP_OK(one.signals_blocked, "workers block SIGTERM, SIGINT, SIGPIPE");
	TAP_OK(!wait_readable(pool, 0), "fd not readable after drain");
	offload_pool_drain(pool);
	TAP_EQ_INT(one.done_runs, 1, "a second drain runs nothing again");
	offload_pool_free(pool);
}

static void
test_waves(void)
{
	struct offload_pool	*pool;
	struct test_job		 jobs[6];
	char			 err[128];
	unsigned		 busy_max = 0;
	int64_t			 start, took;
	size_t			 i;
	int			 ok;

	if (!TAP_OK((pool = offload_pool_new(2, err, sizeof(err))) != NULL,
	    "waves: new"))
		return;
	test_jobs_init(jobs, 6, 200);
	start = now_ms();
	for (i = 0; i < 6; i++)
		offload_pool_submit(pool, &jobs[i].job);
	TAP_OK(offload_pool_queued(pool) >= 4 && offload_pool_busy(pool) <= 2,
	    "waves: at least 4 queued right after submitting");
	TAP_OK(spin_until_busy(pool, 2), "waves: both workers busy");
	TAP_EQ_INT(offload_pool_queued(pool), 4, "waves: 4 queued behind them");
	TAP_OK(drain_all(pool, jobs, 6, &busy_max), "waves: all 6 complete");
	took = now_ms() - start;
	TAP_OK(busy_max <= 2, "waves: busy() never above 2");
	TAP_EQ_INT(atomic_load(&running_max), 2, "waves: 2 work() at once");
	TAP_OK(took >= 550 && took < 2000, "waves: ~3 waves of 200 ms");
	if (!(took >= 550 && took < 2000))
		printf("#   took %lld ms\n", (long long)took);
	for (i = 0, ok = 1; i < 6; i++)
		ok &= jobs[i].work_runs == 1 && jobs[i].done_runs == 1;
	TAP_OK(ok, "waves: each job worked and done exactly once");
	TAP_EQ_INT(offload_pool_busy(pool) + offload_pool_queued(pool), 0,
	    "waves: pool idle at the end");
	offload_pool_free(pool);
}

static void
test_free_with_work_left(void)
{
	struct offload_pool	*pool;
	struct test_job		 jobs[6];
	char			 err[128];
	size_t			 i;
	int			 done_once = 1, worked = 0, tid_ok = 1;

	if (!TAP_OK((pool = offload_pool_new(2, err, sizeof(err))) != NULL,
	    "free: new"))
		return;
	test_jobs_init(jobs, 6, 100);
	for (i = 0; i < 6; i++)
		offload_pool_submit(pool, &jobs[i].job);
	TAP_OK(spin_until_busy(pool, 2), "free: both workers busy");
	offload_pool_free(pool);
	for (i = 0; i < 6; i++) {
		done_once &= jobs[i].done_runs == 1 &&
		    jobs[i].done_tid == main_tid;
		worked += jobs[i].work_runs;
		/* never-started jobs: done() without work(), worker_tid 0 */
		tid_ok &= jobs[i].work_runs == 1 ? jobs[i].job.worker_tid != 0 :
		    jobs[i].work_runs == 0 && jobs[i].job.worker_tid == 0;
	}
	TAP_OK(done_once, "free: every done() once, on the freeing thread");
	TAP_OK(worked >= 2 && worked < 6, "free: running jobs finished, "
	    "queued ones not started");
	TAP_OK(tid_ok, "free: worker_tid 0 exactly for never-started jobs");
}

static void
test_many(void)
{
	enum { N = 1000, THREADS = 8 };
	static struct test_job	 jobs[N];
	struct offload_pool	*pool;
	long			 tids[THREADS];
	char			 err[128];
	size_t			 i, j, ntids = 0;
	int			 once = 1, on_workers = 1;

	if (!TAP_OK((pool = offload_pool_new(THREADS, err, sizeof(err))) !=
	    NULL, "many: new"))
		return;
	test_jobs_init(jobs, N, 0);
	for (i = 0; i < N; i++)
		offload_pool_submit(pool, &jobs[i].job);
	TAP_OK(drain_all(pool, jobs, N, NULL), "many: all 1000 complete");
	for (i = 0; i < N; i++) {
		once &= jobs[i].work_runs == 1 && jobs[i].done_runs == 1;
		on_workers &= jobs[i].job.worker_tid != main_tid &&
		    jobs[i].job.worker_tid != 0;
		for (j = 0; j < ntids && tids[j] != jobs[i].job.worker_tid; j++)
			;
		if (j == ntids && ntids < THREADS)
			tids[ntids++] = jobs[i].job.worker_tid;
		else if (j == ntids)
			on_workers = 0;		/* a ninth thread id */
	}
	TAP_OK(once, "many: each job worked and done exactly once");
	TAP_OK(on_workers, "many: at most 8 worker thread ids, none main");
	TAP_OK(atomic_load(&running_max) <= THREADS, "many: at most 8 at once");
	offload_pool_free(pool);
}

int
main(void)
{
	alarm(WATCHDOG_S);
	main_tid = thread_id();
	test_new_errors();
	test_threads();
	test_waves();
	test_free_with_work_left();
	test_many();
	return tap_done();
}
