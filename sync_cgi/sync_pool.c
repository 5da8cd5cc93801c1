/* SPDX-License-Identifier: ISC */
/*
 * sync_pool.c - the /pool supervisor (sync_pool.h).
 *
 * In the manner of gunicorn's arbiter: it forks the workers, waits for
 * signals with sigtimedwait(2) (nothing runs in a signal handler), replaces
 * workers that exit and passes signals on.  Replacing a dead worker at once
 * is what keeps /pool serving while something kills workers (libfcgi ends a
 * worker on an assertion for some inputs, sync_cgi(8) BUGS): a worker that
 * was killed, or exited on its own after a while, is forked again at the
 * next turn of the loop.  Only a worker that cannot start (it exits with an
 * error within SA_POOL_RESPAWN_MS) makes its slot wait, so a crash loop
 * costs one fork a second per slot and never empties the other slots.
 *
 * Why one shared socket rather than lighttpd's "max-procs" N: lighttpd
 * gives each process its own socket and hands a connection to the least
 * loaded one when it arrives, before anyone knows which request will sleep;
 * ten requests at once land two or three per socket, and those queued
 * behind the sleeper wait for it (measured: 2 of 9 held up with 4 workers).
 * With one socket, a connection waits only until some worker is free.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/limits.h"
#include "sync_cgi/sync_pool.h"
#include "sync_cgi/sync_worker.h"

struct sync_pool_slot {
	pid_t		pid;		/* 0: no worker */
	int64_t		started_ms;
	int64_t		respawn_ms;	/* not before (monotonic ms) */
	int		retiring;	/* sent SIGHUP: its exit is expected */
};

struct sync_pool {
	struct sync_pool_slot slots[SA_POOL_WORKERS_MAX];
	unsigned	workers;
	unsigned	running;
	int		listen_fd;
	pid_t		self;
	sigset_t	worker_mask;	/* the mask to give the workers */
	int		stopping;
	int		killed;		/* SIGKILL sent at the drain's end */
	int64_t		drain_ms;	/* kill what still runs then */
};

static int64_t
sync_pool_now_ms(void)
{
	return clock_mono_us() / 1000;
}

/*
 * Forks one worker.  The child restores the signal mask the supervisor
 * changed (SIGPIPE stays ignored, as in the worker), asks for SIGTERM when
 * the supervisor dies, and never returns.  Returns the child's pid, or -1.
 */
static pid_t
sync_pool_spawn(const struct sync_pool *pool)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) != 0)
		return pid;
	/* What the worker ignores, ignored before a signal can arrive. */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGALRM, SIG_IGN);
	sigprocmask(SIG_SETMASK, &pool->worker_mask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
	    getppid() != pool->self)
		_exit(0);
	exit(sync_worker_serve(pool->listen_fd, pool->workers));
}

/* Sends signo to every worker; retiring marks them as asked to go. */
static void
sync_pool_kill_all(struct sync_pool *pool, int signo, int retiring)
{
	unsigned i;

	for (i = 0; i < pool->workers; i++) {
		if (pool->slots[i].pid == 0)
			continue;
		if (retiring)
			pool->slots[i].retiring = 1;
		kill(pool->slots[i].pid, signo);
	}
}

/* Starts the workers of empty slots that are due; *wait_ms gets the
 * nearest slot not yet due (-1: none). */
static void
sync_pool_fill(struct sync_pool *pool, int64_t now, int64_t *wait_ms)
{
	struct sync_pool_slot *slot;
	unsigned i;
	pid_t pid;

	for (i = 0; i < pool->workers; i++) {
		slot = &pool->slots[i];
		if (slot->pid != 0)
			continue;
		if (slot->respawn_ms <= now) {
			if ((pid = sync_pool_spawn(pool)) != -1) {
				slot->pid = pid;
				slot->started_ms = now;
				slot->retiring = 0;
				pool->running++;
				continue;
			}
			fprintf(stderr, "sync_cgi: pool: fork: %s\n",
			    strerror(errno));
			slot->respawn_ms = now + (int64_t)SA_POOL_RESPAWN_MS;
		}
		if (*wait_ms < 0 || slot->respawn_ms - now < *wait_ms)
			*wait_ms = slot->respawn_ms - now;
	}
}

/* Reaps exited workers and says when each slot may be filled again. */
static void
sync_pool_reap(struct sync_pool *pool, int64_t now)
{
	struct sync_pool_slot *slot;
	int status;
	unsigned i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < pool->workers && pool->slots[i].pid != pid; i++)
			continue;
		if (i == pool->workers)
			continue;
		slot = &pool->slots[i];
		slot->pid = 0;
		slot->respawn_ms = 0;
		pool->running--;
		if (pool->stopping || slot->retiring)
			continue;
		if (WIFSIGNALED(status)) {
			fprintf(stderr, "sync_cgi: pool: worker %ld killed by "
			    "signal %d (%s); starting another\n", (long)pid,
			    WTERMSIG(status), strsignal(WTERMSIG(status)));
		} else if (WEXITSTATUS(status) != 0 && now - slot->started_ms <
		    (int64_t)SA_POOL_RESPAWN_MS) {
			fprintf(stderr, "sync_cgi: pool: worker %ld exited "
			    "with status %d as it started; starting another "
			    "in %lu ms\n", (long)pid, WEXITSTATUS(status),
			    (unsigned long)SA_POOL_RESPAWN_MS);
			slot->respawn_ms = now + (int64_t)SA_POOL_RESPAWN_MS;
		} else {
			fprintf(stderr, "sync_cgi: pool: worker %ld exited "
			    "with status %d; starting another\n", (long)pid,
			    WEXITSTATUS(status));
		}
	}
}

/* Acts on one signal taken from the queue. */
static void
sync_pool_on_signal(struct sync_pool *pool, int signo, int64_t now)
{
	switch (signo) {
	case SIGTERM:
	case SIGINT:
		if (!pool->stopping) {
			pool->stopping = 1;
			pool->drain_ms = now + (int64_t)SA_POOL_DRAIN_MS;
			fprintf(stderr, "sync_cgi: pool: signal %d (%s): "
			    "stopping %u worker(s) after their requests in "
			    "hand (at most %lu ms)\n", signo, strsignal(signo),
			    pool->running, (unsigned long)SA_POOL_DRAIN_MS);
			sync_pool_kill_all(pool, SIGTERM, 0);
		} else if (pool->drain_ms > now) {
			fprintf(stderr, "sync_cgi: pool: signal %d again: "
			    "stopping now\n", signo);
			pool->drain_ms = now;
		}
		break;
	case SIGHUP:
		if (pool->stopping)
			break;
		fprintf(stderr, "sync_cgi: pool: SIGHUP: restarting %u "
		    "worker(s), each after its request in hand\n",
		    pool->running);
		sync_pool_kill_all(pool, SIGHUP, 1);
		break;
	case SIGUSR1:
	case SIGUSR2:
	case SIGALRM:
		fprintf(stderr, "sync_cgi: pool: signal %d (%s) ignored\n",
		    signo, strsignal(signo));
		break;
	default:			/* SIGCHLD, or the wait timed out */
		break;
	}
}

int
sync_pool_run(int listen_fd, unsigned workers)
{
	static struct sync_pool pool;
	sigset_t waited;
	int64_t now, wait_ms;
	int signo, status = 0;

	if (workers == 0 || workers > SA_POOL_WORKERS_MAX)
		return 1;
	memset(&pool, 0, sizeof(pool));
	pool.workers = workers;
	pool.listen_fd = listen_fd;
	pool.self = getpid();
	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGHUP);
	sigaddset(&waited, SIGCHLD);
	sigaddset(&waited, SIGUSR1);
	sigaddset(&waited, SIGUSR2);
	sigaddset(&waited, SIGALRM);
	sigprocmask(SIG_BLOCK, &waited, &pool.worker_mask);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "sync_cgi: pid %ld: supervising a pool of %u FastCGI "
	    "workers\n", (long)pool.self, workers);

	now = sync_pool_now_ms();
	wait_ms = -1;
	sync_pool_fill(&pool, now, &wait_ms);
	if (pool.running == 0) {
		fprintf(stderr, "sync_cgi: pool: no worker could be started\n");
		status = 1;
		goto done;
	}
	for (;;) {
		if (pool.stopping && pool.running == 0)
			break;
		if (pool.stopping && !pool.killed && now >= pool.drain_ms) {
			fprintf(stderr, "sync_cgi: pool: %u worker(s) still in "
			    "a request; killing them\n", pool.running);
			sync_pool_kill_all(&pool, SIGKILL, 0);
			pool.killed = 1;
		}
		if (pool.stopping && !pool.killed)
			wait_ms = pool.drain_ms - now;
		if (wait_ms >= 0) {
			struct timespec ts = { (time_t)(wait_ms / 1000),
			    (long)(wait_ms % 1000) * 1000000L };

			signo = sigtimedwait(&waited, NULL, &ts);
		} else
			signo = sigwaitinfo(&waited, NULL);
		now = sync_pool_now_ms();
		sync_pool_on_signal(&pool, signo, now);
		sync_pool_reap(&pool, now);
		wait_ms = -1;
		if (!pool.stopping)
			sync_pool_fill(&pool, now, &wait_ms);
	}
	fprintf(stderr, "sync_cgi: pool: every worker has stopped\n");
done:
	sigprocmask(SIG_SETMASK, &pool.worker_mask, NULL);
	return status;
}
