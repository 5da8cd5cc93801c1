/* SPDX-License-Identifier: ISC */
/*
 * unit_offload_pool.c - the offload pool: work() on workers, done() on the
 * calling thread, at most N at once, FIFO overflow, the eventfd as the only
 * readiness signal, and exactly one done() per job, also through free();
 * cancellation (a queued job never runs, a running one is told to stop), the
 * bound on the queue, and stopping within a deadline with a worker stuck.
 *
 * Readiness is always poll(2) on the pool's fd or on a pipe; the only waits
 * that are not poll are bounded spins for "the workers have picked up a
 * job".  Jobs that must block do so on a pipe the test writes to.  An alarm
 * turns a hang into a failure.  Timing bounds are wide on purpose.
 */
#include "config.h"

#include <sys/syscall.h>

#include <malloc.h>
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
#include "common/cancel.h"
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
	int			cancelled_at_start;	/* token, in work() */
	int			sleep_rc;	/* cancel_sleep_us()'s */
	int			gate_fd;	/* blocks on it, or -1 */
	long			hook_tid;	/* where the hook ran */
	int			hook_fd;	/* the hook writes to it */
	atomic_int		hook_armed;	/* hooked_work set it */
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
	tj->cancelled_at_start = cancel_requested(job->token);
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

/* Blocks on its gate (a pipe) whatever the token says: an uncancellable
 * blocking call. */
static void
gate_work(struct offload_job *job)
{
	struct test_job *tj = test_job_of(job);
	char byte;

	tj->work_runs++;
	while (read(tj->gate_fd, &byte, 1) == -1)
		;
}

/* A cancellable sleep of an hour. */
static void
token_sleep_work(struct offload_job *job)
{
	struct test_job *tj = test_job_of(job);

	tj->work_runs++;
	tj->sleep_rc = cancel_sleep_us(job->token, 3600ULL * 1000000ULL);
}

/* Stands for PQcancel: the hook unblocks the call from outside. */
static void
hook_unblock(void *arg)
{
	struct test_job *tj = arg;
	char byte = 'c';

	tj->hook_tid = thread_id();
	if (write(tj->hook_fd, &byte, 1) != 1)
		tj->hook_tid = -1;
}

/* A blocking call (a read on a pipe) with a hook that ends it. */
static void
hooked_work(struct offload_job *job)
{
	struct test_job *tj = test_job_of(job);
	char byte;

	tj->work_runs++;
	if (cancel_hook_set(job->token, hook_unblock, tj) == -1)
		return;		/* cancelled already: skip the call */
	atomic_store(&tj->hook_armed, 1);
	while (read(tj->gate_fd, &byte, 1) == -1)
		;
	cancel_hook_clear(job->token);
}

static void
test_job_kind(struct test_job *tj, void (*work)(struct offload_job *),
    int gate_fd)
{
	*tj = (struct test_job){ .gate_fd = gate_fd, .hook_fd = -1 };
	tj->job.work = work;
	tj->job.done = test_done;
}

/* Drains until job's done() ran; 1, or 0 after WAIT_MS of silence. */
static int
drain_until(struct offload_pool *pool, struct test_job *tj)
{
	while (tj->done_runs == 0) {
		if (!wait_readable(pool, WAIT_MS))
			return 0;
		offload_pool_drain(pool);
	}
	return 1;
}

static void
test_cancel_queued(void)
{
	struct offload_pool	*pool;
	struct test_job		 gate, jobs[5];
	char			 err[128];
	int			 fds[2], ok = 1;
	size_t			 i;

	if (pipe(fds) == -1 || !TAP_OK((pool = offload_pool_start(1, 8, err,
	    sizeof(err))) != NULL, "cancel queued: start"))
		return;
	test_job_kind(&gate, gate_work, fds[0]);
	offload_pool_submit(pool, &gate.job);
	TAP_OK(spin_until_busy(pool, 1), "cancel queued: the worker is busy");
	test_jobs_init(jobs, 5, 0);
	for (i = 0; i < 5; i++)
		ok &= offload_pool_submit(pool, &jobs[i].job) == 0;
	TAP_OK(ok, "cancel queued: 5 queued behind it");
	for (i = 0; i < 5; i += 2)
		ok &= offload_pool_cancel(pool, &jobs[i].job) ==
		    OFFLOAD_CANCEL_UNQUEUED;
	TAP_OK(ok, "cancel queued: 3 cancelled while queued");
	TAP_EQ_INT(offload_pool_queued(pool), 2, "cancel queued: 2 left");
	TAP_EQ_INT(offload_pool_load(pool), 3, "cancel queued: load 3");
	TAP_OK(wait_readable(pool, WAIT_MS), "cancel queued: fd readable");
	offload_pool_drain(pool);
	for (i = 0, ok = 1; i < 5; i += 2)
		ok &= jobs[i].done_runs == 1 && jobs[i].work_runs == 0 &&
		    jobs[i].job.cancelled == 1 && jobs[i].job.worker_tid == 0;
	TAP_OK(ok, "cancel queued: done() at once, without work(), "
	    "cancelled 1, worker_tid 0");
	TAP_EQ_INT(write(fds[1], "g", 1), 1, "cancel queued: gate opened");
	for (i = 1; i < 5; i += 2)
		ok &= drain_until(pool, &jobs[i]);
	ok &= drain_until(pool, &gate);
	for (i = 0; i < 5; i++)
		ok &= jobs[i].done_runs == 1 && jobs[i].work_runs ==
		    (i % 2 == 1) && jobs[i].job.cancelled == (i % 2 == 0);
	TAP_OK(ok, "cancel queued: the cancelled never ran, the others ran "
	    "once");
	offload_pool_free(pool);
	close(fds[0]);
	close(fds[1]);
}

static void
test_cancel_running(void)
{
	struct offload_pool	*pool;
	struct test_job		 sleeper, hooked, honest;
	char			 err[128];
	int64_t			 start, took;
	int			 fds[2];

	if (pipe(fds) == -1 || !TAP_OK((pool = offload_pool_start(1, 4, err,
	    sizeof(err))) != NULL, "cancel running: start"))
		return;
	test_job_kind(&sleeper, token_sleep_work, -1);
	offload_pool_submit(pool, &sleeper.job);
	TAP_OK(spin_until_busy(pool, 1), "cancel running: sleeping 1 h");
	start = now_ms();
	TAP_EQ_INT(offload_pool_cancel(pool, &sleeper.job),
	    OFFLOAD_CANCEL_STOPPING, "cancel running: told to stop");
	TAP_OK(offload_pool_load(pool) <= 1, "cancel running: still counted "
	    "until work() returns (load <= 1)");
	TAP_OK(drain_until(pool, &sleeper), "cancel running: done() came");
	took = now_ms() - start;
	TAP_OK(took < 1000, "cancel running: the 1 h sleep ended within 1 s");
	printf("# cancelled 1 h sleep returned after %lld ms\n",
	    (long long)took);
	TAP_OK(sleeper.sleep_rc == -1 && sleeper.job.cancelled == 1 &&
	    sleeper.job.worker_tid != 0, "cancel running: work() ran, saw the "
	    "token, done() has cancelled 1");
	TAP_EQ_INT(offload_pool_load(pool) + offload_pool_cancelling(pool), 0,
	    "cancel running: the worker is free again");

	/* A hook that ends a blocking call, run on the cancelling thread. */
	test_job_kind(&hooked, hooked_work, fds[0]);
	hooked.hook_fd = fds[1];
	offload_pool_submit(pool, &hooked.job);
	TAP_OK(spin_until_busy(pool, 1), "hook: the job runs");
	while (!atomic_load(&hooked.hook_armed))	/* bounded by alarm() */
		sched_yield();
	start = now_ms();
	TAP_EQ_INT(offload_pool_cancel(pool, &hooked.job),
	    OFFLOAD_CANCEL_STOPPING, "hook: the blocked call cancelled");
	TAP_OK(drain_until(pool, &hooked), "hook: done() came");
	TAP_OK(now_ms() - start < 1000, "hook: the call ended within 1 s");
	TAP_EQ_INT(hooked.hook_tid, main_tid,
	    "hook: ran once, on the cancelling thread");

	/* The worker's next job starts with a fresh token. */
	test_jobs_init(&honest, 1, 0);
	offload_pool_submit(pool, &honest.job);
	TAP_OK(drain_until(pool, &honest), "cancel running: the next job ran");
	TAP_OK(honest.work_runs == 1 && !honest.cancelled_at_start &&
	    honest.job.cancelled == 0, "cancel running: its token is fresh");
	offload_pool_free(pool);
	close(fds[0]);
	close(fds[1]);
}

/* The bound: threads + queue_max jobs, the cancelled-but-running too. */
static void
test_bound(void)
{
	enum { QUEUE = 4 };
	struct offload_pool	*pool;
	struct test_job		 gate, jobs[QUEUE + 1], extra;
	struct mallinfo2	 before, after;
	char			 err[128];
	int			 fds[2], ok = 1, refused = 1;
	size_t			 i;

	if (pipe(fds) == -1 || !TAP_OK((pool = offload_pool_start(1, QUEUE,
	    err, sizeof(err))) != NULL, "bound: start"))
		return;
	test_job_kind(&gate, gate_work, fds[0]);
	TAP_EQ_INT(offload_pool_submit(pool, &gate.job), 0, "bound: 1 runs");
	TAP_OK(spin_until_busy(pool, 1), "bound: the worker is busy");
	test_jobs_init(jobs, QUEUE + 1, 0);
	for (i = 0; i < QUEUE; i++)
		ok &= offload_pool_submit(pool, &jobs[i].job) == 0;
	TAP_OK(ok, "bound: 4 queued");
	TAP_EQ_INT(offload_pool_submit(pool, &jobs[QUEUE].job), -1,
	    "bound: the 5th queued job is refused");
	before = mallinfo2();
	for (i = 0; i < 10000; i++)
		refused &= offload_pool_submit(pool, &jobs[QUEUE].job) == -1;
	after = mallinfo2();
	TAP_OK(refused, "bound: 10000 more refused");
	TAP_EQ_INT(after.uordblks, before.uordblks,
	    "bound: refusing allocates nothing");
	TAP_EQ_INT(offload_pool_queued(pool), QUEUE, "bound: still 4 queued");

	offload_pool_cancel(pool, &jobs[0].job);
	TAP_EQ_INT(offload_pool_submit(pool, &jobs[QUEUE].job), 0,
	    "bound: a cancelled queued job makes room at once");
	TAP_EQ_INT(offload_pool_cancel(pool, &gate.job),
	    OFFLOAD_CANCEL_STOPPING, "bound: the running job cancelled");
	test_jobs_init(&extra, 1, 0);
	TAP_EQ_INT(offload_pool_submit(pool, &extra.job), -1,
	    "bound: ... but it holds its place until its worker is free");
	TAP_EQ_INT(offload_pool_cancelling(pool), 1, "bound: 1 cancelling");
	TAP_EQ_INT(write(fds[1], "g", 1), 1, "bound: gate opened");
	ok = drain_until(pool, &gate);
	for (i = 0; i <= QUEUE; i++)
		ok &= drain_until(pool, &jobs[i]);
	TAP_OK(ok, "bound: every accepted job done");
	TAP_EQ_INT(offload_pool_submit(pool, &extra.job), 0,
	    "bound: room again once the worker is free");
	ok = drain_until(pool, &extra);
	TAP_OK(ok && offload_pool_load(pool) == 0, "bound: idle at the end");
	offload_pool_free(pool);
	close(fds[0]);
	close(fds[1]);
}

/* Issue 15, item 1: hang-ups must not keep their pool slots. */
static void
test_hangup_cycles(void)
{
	enum { CYCLES = 200, THREADS = 4, QUEUE = 16 };
	static struct test_job	 jobs[CYCLES];
	struct offload_pool	*pool;
	struct test_job		 honest;
	char			 err[128];
	int64_t			 start, took;
	size_t			 i;
	int			 ok = 1, never = 1, unqueued = 0;

	if (!TAP_OK((pool = offload_pool_start(THREADS, QUEUE, err,
	    sizeof(err))) != NULL, "cycles: start"))
		return;
	for (i = 0; i < CYCLES; i++) {
		test_job_kind(&jobs[i], token_sleep_work, -1);
		jobs[i].work_runs = 0;
		while (offload_pool_submit(pool, &jobs[i].job) == -1) {
			/* Full of jobs still stopping: let them finish. */
			if (!wait_readable(pool, WAIT_MS)) {
				ok = 0;
				break;
			}
			offload_pool_drain(pool);
		}
		if (i % 3 == 0)
			sched_yield();	/* let some start: they get cancelled
					   while running */
		if (offload_pool_cancel(pool, &jobs[i].job) ==
		    OFFLOAD_CANCEL_UNQUEUED)
			unqueued++;
	}
	TAP_OK(ok, "cycles: 200 submitted and cancelled");
	TAP_EQ_INT(offload_pool_queued(pool), 0, "cycles: 0 left queued");
	printf("# %d of 200 cancelled while queued, the rest while running\n",
	    unqueued);
	start = now_ms();
	test_jobs_init(&honest, 1, 0);
	TAP_EQ_INT(offload_pool_submit(pool, &honest.job), 0,
	    "cycles: an honest job is accepted");
	TAP_OK(drain_until(pool, &honest), "cycles: and answered");
	took = now_ms() - start;
	TAP_OK(took < 1000, "cycles: within 1 s");
	printf("# honest job answered after %lld ms\n", (long long)took);
	for (i = 0; i < CYCLES; i++)
		ok &= drain_until(pool, &jobs[i]);
	for (i = 0; i < CYCLES; i++) {
		ok &= jobs[i].done_runs == 1 && jobs[i].job.cancelled == 1;
		never &= jobs[i].job.worker_tid != 0 || jobs[i].work_runs == 0;
	}
	TAP_OK(ok, "cycles: each done() once, with cancelled 1");
	TAP_OK(never, "cycles: no job cancelled while queued ran work()");
	TAP_EQ_INT(offload_pool_load(pool), 0, "cycles: idle at the end");
	offload_pool_free(pool);
}

/* Tells the test a worker thread has ended (a thread-specific destructor
 * runs after its start routine returned, so after the pool is freed). */
static atomic_int exit_seen;
static pthread_key_t exit_key;

static void
exit_signal(void *arg)
{
	(void)arg;
	atomic_store(&exit_seen, 1);
}

/* Spins (yielding) until a worker's exit was seen; 1, or 0 on timeout. */
static int
spin_until_exit(void)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(&exit_seen))
		if (now_ms() > deadline)
			return 0;
		else
			sched_yield();
	return 1;
}

static void
stuck_work(struct offload_job *job)
{
	pthread_setspecific(exit_key, job);
	gate_work(job);
}

static void
test_stop_deadline(void)
{
	struct offload_pool	*pool;
	struct test_job		 stuck, sleeper, queued[2], late;
	char			 err[128];
	int			 gate[2], ok;
	unsigned		 left;
	int64_t			 start, took;

	if (pipe(gate) == -1 ||
	    pthread_key_create(&exit_key, exit_signal) != 0 ||
	    !TAP_OK((pool = offload_pool_start(2, 4, err, sizeof(err))) !=
	    NULL, "stop: start"))
		return;
	test_job_kind(&stuck, stuck_work, gate[0]);
	test_job_kind(&sleeper, token_sleep_work, -1);
	offload_pool_submit(pool, &stuck.job);
	offload_pool_submit(pool, &sleeper.job);
	TAP_OK(spin_until_busy(pool, 2), "stop: one stuck, one asleep");
	test_jobs_init(queued, 2, 0);
	offload_pool_submit(pool, &queued[0].job);
	offload_pool_submit(pool, &queued[1].job);

	start = now_ms();
	left = offload_pool_stop(pool, 300);
	took = now_ms() - start;
	TAP_EQ_INT(left, 1, "stop: 1 job left running after the deadline");
	TAP_OK(took >= 290 && took < 1300, "stop: returned at the 300 ms "
	    "deadline");
	printf("# stop(300 ms) returned after %lld ms\n", (long long)took);
	test_jobs_init(&late, 1, 0);
	TAP_EQ_INT(offload_pool_submit(pool, &late.job), -1,
	    "stop: no new jobs");
	ok = drain_until(pool, &sleeper) && drain_until(pool, &queued[0]) &&
	    drain_until(pool, &queued[1]);
	TAP_OK(ok && sleeper.sleep_rc == -1 && sleeper.job.cancelled,
	    "stop: the sleeping job was cancelled and done");
	TAP_OK(queued[0].work_runs + queued[1].work_runs == 0 &&
	    queued[0].job.cancelled && queued[1].job.cancelled,
	    "stop: queued jobs done without work()");

	start = now_ms();
	offload_pool_free(pool);	/* leaves the stuck worker behind */
	took = now_ms() - start;
	TAP_OK(took < 1000, "stop: free returned with a worker stuck");
	TAP_EQ_INT(stuck.done_runs, 0, "stop: the stuck job gets no done()");

	/* Let it go: it must end and free the pool (valgrind: no leak). */
	TAP_EQ_INT(write(gate[1], "g", 1), 1, "stop: stuck call released");
	TAP_OK(spin_until_exit(), "stop: the left worker ended");
	TAP_EQ_INT(stuck.done_runs, 0, "stop: still no done() for it");
	close(gate[0]);
	close(gate[1]);
}

/* Stop when every job can be cancelled: quick, then free joins. */
static void
test_stop_clean(void)
{
	struct offload_pool	*pool;
	struct test_job		 sleepers[3];
	char			 err[128];
	int64_t			 start, took;
	size_t			 i;
	int			 ok = 1;

	if (!TAP_OK((pool = offload_pool_start(3, 0, err, sizeof(err))) !=
	    NULL, "stop clean: start"))
		return;
	for (i = 0; i < 3; i++) {
		test_job_kind(&sleepers[i], token_sleep_work, -1);
		ok &= offload_pool_submit(pool, &sleepers[i].job) == 0;
	}
	TAP_OK(ok, "stop clean: 3 accepted with queue_max 0 and 3 threads");
	TAP_EQ_INT(offload_pool_submit(pool, &sleepers[0].job), -1,
	    "stop clean: a 4th refused");	/* never queued: not ours */
	TAP_OK(spin_until_busy(pool, 3), "stop clean: 3 asleep");
	start = now_ms();
	TAP_EQ_INT(offload_pool_stop(pool, 5000), 0,
	    "stop clean: every worker free");
	took = now_ms() - start;
	TAP_OK(took < 1000, "stop clean: within 1 s, not the deadline");
	offload_pool_free(pool);
	for (i = 0; i < 3; i++)
		ok &= sleepers[i].done_runs == 1 && sleepers[i].sleep_rc == -1;
	TAP_OK(ok, "stop clean: free ran every done()");
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
	test_cancel_queued();
	test_cancel_running();
	test_bound();
	test_hangup_cycles();
	test_stop_clean();
	test_stop_deadline();
	return tap_done();
}
