/* SPDX-License-Identifier: ISC */
/*
 * supervisor.c - the --workers supervisor (supervisor.h).
 *
 * Shaped like sync_cgi's /pool supervisor (gunicorn's arbiter): signals are
 * taken with sigtimedwait(2), never in a handler; slots are filled, reaped
 * and refilled in one loop.  Its own file rather than a shared
 * common/supervise.c for now: the /pool supervisor is being rewritten on
 * its own branch, and this one differs in what it must know of a worker
 * (its shared slot, when it became ready, a drain time per option).
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

#include "async_fcgi/supervisor.h"
#include "async_fcgi/worker_slots.h"
#include "common/clock.h"
#include "common/limits.h"

struct supervisor_slot {
	pid_t		pid;		/* 0: no worker */
	int64_t		started_ms;
	int64_t		respawn_ms;	/* not before (monotonic ms) */
};

struct supervisor {
	struct supervisor_slot slot[SA_FCGI_WORKERS_MAX];
	struct worker_slots *slots;
	unsigned	workers;
	unsigned	running;
	supervisor_worker_fn worker;
	void	       *ctx;
	pid_t		self;
	sigset_t	worker_mask;	/* the caller's: the workers get it */
	int		ever_ready;	/* some worker served */
	int		failed;		/* a setup error, or one was killed */
	int		stopping;
	int		killed;
	int64_t		kill_ms;	/* SIGKILL what still runs then */
	unsigned	drain_ms;
};

static int64_t
supervisor_now_ms(void)
{
	return clock_mono_us() / 1000;
}

/* Forks worker index; the child never returns.  The pid, or -1. */
static pid_t
supervisor_spawn(const struct supervisor *sup, unsigned index)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) != 0)
		return pid;
	signal(SIGHUP, SIG_DFL);
	sigprocmask(SIG_SETMASK, &sup->worker_mask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
	    getppid() != sup->self)
		_exit(0);
	exit(sup->worker(sup->ctx, index));
}

static void
supervisor_kill_all(struct supervisor *sup, int signo)
{
	unsigned i;

	for (i = 0; i < sup->workers; i++)
		if (sup->slot[i].pid != 0)
			kill(sup->slot[i].pid, signo);
}

/* Starts the workers of empty slots that are due; *wait_ms gets the time
 * to the nearest one not yet due (-1: none). */
static void
supervisor_fill(struct supervisor *sup, int64_t now, int64_t *wait_ms)
{
	struct supervisor_slot *slot;
	unsigned i;
	pid_t pid;

	for (i = 0; i < sup->workers; i++) {
		slot = &sup->slot[i];
		if (slot->pid != 0)
			continue;
		if (slot->respawn_ms <= now) {
			if ((pid = supervisor_spawn(sup, i)) != -1) {
				slot->pid = pid;
				slot->started_ms = now;
				sup->running++;
				continue;
			}
			fprintf(stderr, "async_fcgi: supervisor: fork: %s\n",
			    strerror(errno));
			slot->respawn_ms = now + (int64_t)SA_FCGI_RESPAWN_MS;
		}
		if (*wait_ms < 0 || slot->respawn_ms - now < *wait_ms)
			*wait_ms = slot->respawn_ms - now;
	}
}

/* Notes the workers that became ready since the last look. */
static void
supervisor_note_ready(struct supervisor *sup)
{
	unsigned i;

	for (i = 0; i < sup->workers && !sup->ever_ready; i++)
		if (worker_slots_pid(sup->slots, i) != 0)
			sup->ever_ready = 1;
}

/* Reaps exited workers; says when each slot may be filled again. */
static void
supervisor_reap(struct supervisor *sup, int64_t now)
{
	struct supervisor_slot *slot;
	int status, ready;
	unsigned i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sup->workers && sup->slot[i].pid != pid; i++)
			continue;
		if (i == sup->workers)
			continue;
		slot = &sup->slot[i];
		ready = worker_slots_pid(sup->slots, i) == pid;
		sup->ever_ready |= ready;
		worker_slots_set_pid(sup->slots, i, 0);
		slot->pid = 0;
		slot->respawn_ms = now;
		sup->running--;
		if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
			sup->failed |= sup->stopping;
		if (sup->stopping)
			continue;
		if (!ready && !sup->ever_ready) {
			fprintf(stderr, "async_fcgi: supervisor: worker %u "
			    "(pid %ld) could not start; stopping\n", i,
			    (long)pid);
			sup->failed = 1;
			sup->stopping = 1;
			sup->kill_ms = now + (int64_t)SA_FCGI_KILL_GRACE_MS;
			supervisor_kill_all(sup, SIGTERM);
			continue;
		}
		if (now - slot->started_ms < (int64_t)SA_FCGI_RESPAWN_MS)
			slot->respawn_ms = now + (int64_t)SA_FCGI_RESPAWN_MS;
		if (WIFSIGNALED(status))
			fprintf(stderr, "async_fcgi: supervisor: worker %u "
			    "(pid %ld) killed by signal %d (%s); starting "
			    "another%s\n", i, (long)pid, WTERMSIG(status),
			    strsignal(WTERMSIG(status)), slot->respawn_ms >
			    now ? " in a second (it died young)" : "");
		else
			fprintf(stderr, "async_fcgi: supervisor: worker %u "
			    "(pid %ld) exited with status %d; starting "
			    "another%s\n", i, (long)pid, WEXITSTATUS(status),
			    slot->respawn_ms > now ?
			    " in a second (it died young)" : "");
	}
}

static void
supervisor_on_signal(struct supervisor *sup, int signo, int64_t now)
{
	switch (signo) {
	case SIGTERM:
	case SIGINT:
		if (!sup->stopping) {
			sup->stopping = 1;
			sup->kill_ms = now + (int64_t)sup->drain_ms +
			    (int64_t)SA_FCGI_KILL_GRACE_MS;
			fprintf(stderr, "async_fcgi: supervisor: signal %d "
			    "(%s): draining %u worker(s) (at most %u ms)\n",
			    signo, strsignal(signo), sup->running,
			    sup->drain_ms);
			supervisor_kill_all(sup, SIGTERM);
		} else {
			fprintf(stderr, "async_fcgi: supervisor: signal %d "
			    "again: stopping now\n", signo);
			supervisor_kill_all(sup, SIGTERM);	/* theirs too */
			if (sup->kill_ms > now + (int64_t)SA_FCGI_KILL_GRACE_MS)
				sup->kill_ms = now +
				    (int64_t)SA_FCGI_KILL_GRACE_MS;
		}
		break;
	case SIGHUP:
	case SIGUSR1:
	case SIGUSR2:
	case SIGALRM:
		fprintf(stderr, "async_fcgi: supervisor: signal %d (%s) "
		    "ignored\n", signo, strsignal(signo));
		break;
	default:		/* SIGCHLD, or the wait timed out */
		break;
	}
}

int
supervisor_run(struct worker_slots *slots, unsigned drain_ms,
    supervisor_worker_fn worker, void *ctx)
{
	static struct supervisor sup;
	sigset_t waited;
	int64_t now, wait_ms;
	int signo;

	memset(&sup, 0, sizeof(sup));
	sup.slots = slots;
	sup.workers = worker_slots_count(slots);
	sup.worker = worker;
	sup.ctx = ctx;
	sup.drain_ms = drain_ms;
	sup.self = getpid();
	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGHUP);
	sigaddset(&waited, SIGCHLD);
	sigaddset(&waited, SIGUSR1);
	sigaddset(&waited, SIGUSR2);
	sigaddset(&waited, SIGALRM);
	sigprocmask(SIG_BLOCK, &waited, &sup.worker_mask);
	fprintf(stderr, "async_fcgi: supervisor pid %ld: %u workers\n",
	    (long)sup.self, sup.workers);

	now = supervisor_now_ms();
	wait_ms = -1;
	supervisor_fill(&sup, now, &wait_ms);
	if (sup.running == 0) {
		fprintf(stderr, "async_fcgi: supervisor: no worker could be "
		    "started\n");
		sigprocmask(SIG_SETMASK, &sup.worker_mask, NULL);
		return -1;
	}
	for (;;) {
		if (sup.stopping && sup.running == 0)
			break;
		if (sup.stopping && !sup.killed && now >= sup.kill_ms) {
			fprintf(stderr, "async_fcgi: supervisor: %u worker(s) "
			    "still running; killing them\n", sup.running);
			supervisor_kill_all(&sup, SIGKILL);
			sup.killed = 1;
			sup.failed = 1;
		}
		if (sup.stopping && !sup.killed)
			wait_ms = sup.kill_ms - now;
		else if (!sup.ever_ready && (wait_ms < 0 || wait_ms > 50))
			wait_ms = 50;	/* look for the first ready worker */
		if (wait_ms >= 0) {
			struct timespec ts = { (time_t)(wait_ms / 1000),
			    (long)(wait_ms % 1000) * 1000000L };

			signo = sigtimedwait(&waited, NULL, &ts);
		} else
			signo = sigwaitinfo(&waited, NULL);
		now = supervisor_now_ms();
		supervisor_note_ready(&sup);
		supervisor_on_signal(&sup, signo, now);
		supervisor_reap(&sup, now);
		wait_ms = -1;
		if (!sup.stopping)
			supervisor_fill(&sup, now, &wait_ms);
	}
	fprintf(stderr, "async_fcgi: supervisor: every worker has stopped\n");
	sigprocmask(SIG_SETMASK, &sup.worker_mask, NULL);
	return sup.failed ? (sup.ever_ready ? 1 : -1) : 0;
}
