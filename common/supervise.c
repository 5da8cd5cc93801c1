/* SPDX-License-Identifier: ISC */
/*
 * supervise.c - N workers kept running (supervise.h).
 *
 * In the manner of gunicorn's arbiter: signals are taken with
 * sigtimedwait(2), never in a handler, and slots are filled, reaped and
 * refilled in one loop.  Whether a worker got as far as serving is one
 * byte per slot in a MAP_SHARED anonymous page made before the first fork:
 * the worker sets it (supervise_ready), the supervisor reads it when it
 * reaps the worker, before anyone else takes the slot.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/supervise.h"

/* The replacement's log line says "in a second". */
_Static_assert(SA_SUPERVISE_RESPAWN_MS == 1000, "the respawn delay's words");

struct supervise_slot {
	pid_t		pid;		/* 0: no worker */
	int64_t		started_ms;
	int64_t		respawn_ms;	/* not before (monotonic ms) */
	int		retiring;	/* sent SIGHUP: its exit is expected */
};

struct supervise {
	const struct supervise_config *config;
	struct supervise_slot slot[SA_SUPERVISE_WORKERS_MAX];
	unsigned char  *ready;		/* shared: slot i's worker serves */
	unsigned	running;
	pid_t		self;
	sigset_t	worker_mask;	/* the caller's: the workers get it */
	int		ever_ready;	/* some worker served */
	int		failed;		/* a setup error, a bad exit at the end,
					   or one was killed */
	int		stopping;
	int		killed;		/* SIGKILL sent */
	int64_t		kill_ms;	/* SIGKILL what still runs then */
};

/* In a worker, its byte of the shared page; NULL in any other process. */
static unsigned char *supervise_ready_flag;

static int64_t
supervise_now_ms(void)
{
	return clock_mono_us() / 1000;
}

void
supervise_ready(void)
{
	if (supervise_ready_flag != NULL)
		__atomic_store_n(supervise_ready_flag, 1, __ATOMIC_RELEASE);
}

/* Forks the worker of slot index; the child never returns.  Its pid, or -1. */
static pid_t
supervise_spawn(const struct supervise *sup, unsigned index)
{
	const struct supervise_config *config = sup->config;
	pid_t pid;

	__atomic_store_n(&sup->ready[index], 0, __ATOMIC_RELAXED);
	fflush(NULL);
	if ((pid = fork()) != 0)
		return pid;
	/* What the supervisor ignores, ignored before a signal can arrive. */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGALRM, SIG_IGN);
	supervise_ready_flag = &sup->ready[index];
	sigprocmask(SIG_SETMASK, &sup->worker_mask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != sup->self)
		_exit(0);
	exit(config->worker(config->ctx, index));
}

/* Sends signo to every worker; retiring marks them as asked to go. */
static void
supervise_kill_all(struct supervise *sup, int signo, int retiring)
{
	unsigned i;

	for (i = 0; i < sup->config->workers; i++) {
		if (sup->slot[i].pid == 0)
			continue;
		if (retiring)
			sup->slot[i].retiring = 1;
		kill(sup->slot[i].pid, signo);
	}
}

/* Starts the workers of empty slots that are due; *wait_ms gets the time
 * to the nearest one not yet due (-1: none). */
static void
supervise_fill(struct supervise *sup, int64_t now, int64_t *wait_ms)
{
	struct supervise_slot *slot;
	unsigned i;
	pid_t pid;

	for (i = 0; i < sup->config->workers; i++) {
		slot = &sup->slot[i];
		if (slot->pid != 0)
			continue;
		if (slot->respawn_ms <= now) {
			if ((pid = supervise_spawn(sup, i)) != -1) {
				slot->pid = pid;
				slot->started_ms = now;
				slot->retiring = 0;
				sup->running++;
				continue;
			}
			fprintf(stderr, "%s: fork: %s\n", sup->config->name,
			    strerror(errno));
			slot->respawn_ms = now + (int64_t)SA_SUPERVISE_RESPAWN_MS;
		}
		if (*wait_ms < 0 || slot->respawn_ms - now < *wait_ms)
			*wait_ms = slot->respawn_ms - now;
	}
}

/* Notes whether a running worker has said it serves. */
static void
supervise_note_ready(struct supervise *sup)
{
	unsigned i;

	for (i = 0; i < sup->config->workers && !sup->ever_ready; i++)
		if (sup->slot[i].pid != 0 &&
		    __atomic_load_n(&sup->ready[i], __ATOMIC_ACQUIRE) != 0)
			sup->ever_ready = 1;
}

/* Stops every worker: SIGTERM now, SIGKILL at now + ms. */
static void
supervise_stop(struct supervise *sup, int64_t now, unsigned ms)
{
	sup->stopping = 1;
	sup->kill_ms = now + (int64_t)ms;
	supervise_kill_all(sup, SIGTERM, 0);
}

/* Logs how the worker pid of slot index ended; "young" says it waits. */
static void
supervise_log_end(const struct supervise *sup, unsigned index, pid_t pid,
    int status, int young)
{
	const char *when = young ? " in a second (it died young)" : "";

	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: worker %u (pid %ld) killed by signal %d "
		    "(%s); starting another%s\n", sup->config->name, index,
		    (long)pid, WTERMSIG(status), strsignal(WTERMSIG(status)),
		    when);
	else
		fprintf(stderr, "%s: worker %u (pid %ld) exited with status "
		    "%d; starting another%s\n", sup->config->name, index,
		    (long)pid, WEXITSTATUS(status), when);
}

/* Reaps exited workers; says when each slot may be filled again. */
static void
supervise_reap(struct supervise *sup, int64_t now)
{
	const struct supervise_config *config = sup->config;
	struct supervise_slot *slot;
	int status, ready, failed;
	unsigned i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < config->workers && sup->slot[i].pid != pid; i++)
			continue;
		if (i == config->workers)
			continue;
		slot = &sup->slot[i];
		ready = __atomic_load_n(&sup->ready[i], __ATOMIC_ACQUIRE) != 0;
		sup->ever_ready |= ready;
		if (config->gone != NULL)
			config->gone(config->ctx, i);
		slot->pid = 0;
		slot->respawn_ms = now;
		sup->running--;
		failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
		if (sup->stopping) {
			sup->failed |= failed;
			continue;
		}
		if (slot->retiring)
			continue;
		if (!ready && !sup->ever_ready) {
			fprintf(stderr, "%s: worker %u (pid %ld) could not "
			    "start; stopping\n", config->name, i, (long)pid);
			sup->failed = 1;
			supervise_stop(sup, now, config->again_ms);
			continue;
		}
		if (failed && !(WIFSIGNALED(status) && config->killed_at_once) &&
		    now - slot->started_ms < (int64_t)SA_SUPERVISE_RESPAWN_MS)
			slot->respawn_ms = now + (int64_t)SA_SUPERVISE_RESPAWN_MS;
		supervise_log_end(sup, i, pid, status, slot->respawn_ms > now);
	}
}

/* Acts on one signal taken from the queue. */
static void
supervise_on_signal(struct supervise *sup, int signo, int64_t now)
{
	const struct supervise_config *config = sup->config;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		if (!sup->stopping) {
			fprintf(stderr, "%s: signal %d (%s): stopping %u "
			    "worker(s) after their requests in hand (at most "
			    "%u ms)\n", config->name, signo, strsignal(signo),
			    sup->running, config->stop_ms);
			supervise_stop(sup, now, config->stop_ms);
		} else if (!sup->killed) {
			fprintf(stderr, "%s: signal %d again: stopping now\n",
			    config->name, signo);
			supervise_kill_all(sup, SIGTERM, 0);	/* theirs too */
			if (sup->kill_ms > now + (int64_t)config->again_ms)
				sup->kill_ms = now + (int64_t)config->again_ms;
		}
		break;
	case SIGHUP:
		if (config->hup_restarts) {
			if (sup->stopping)
				break;
			fprintf(stderr, "%s: SIGHUP: restarting %u worker(s), "
			    "each after its request in hand\n", config->name,
			    sup->running);
			supervise_kill_all(sup, SIGHUP, 1);
			break;
		}
		/* FALLTHROUGH */
	case SIGUSR1:
	case SIGUSR2:
	case SIGALRM:
		fprintf(stderr, "%s: signal %d (%s) ignored\n", config->name,
		    signo, strsignal(signo));
		break;
	default:		/* SIGCHLD, or the wait timed out */
		break;
	}
}

/* Waits up to wait_ms (-1: for ever) for a signal of waited; 0: none. */
static int
supervise_wait(const sigset_t *waited, int64_t wait_ms)
{
	struct timespec ts;

	if (wait_ms < 0)
		return sigwaitinfo(waited, NULL);
	ts.tv_sec = (time_t)(wait_ms / 1000);
	ts.tv_nsec = (long)(wait_ms % 1000) * 1000000L;
	return sigtimedwait(waited, NULL, &ts);
}

int
supervise_run(const struct supervise_config *config)
{
	static struct supervise sup;
	sigset_t waited;
	int64_t now, wait_ms;
	int signo, status;

	if (config->workers == 0 || config->workers > SA_SUPERVISE_WORKERS_MAX)
		return -1;
	memset(&sup, 0, sizeof(sup));
	sup.config = config;
	sup.self = getpid();
	sup.ready = mmap(NULL, config->workers, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sup.ready == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", config->name, strerror(errno));
		fprintf(stderr, "%s: no worker could be started\n",
		    config->name);
		return -1;
	}
	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGHUP);
	sigaddset(&waited, SIGCHLD);
	sigaddset(&waited, SIGUSR1);
	sigaddset(&waited, SIGUSR2);
	sigaddset(&waited, SIGALRM);
	sigprocmask(SIG_BLOCK, &waited, &sup.worker_mask);
	signal(SIGPIPE, SIG_IGN);	/* a closed stderr pipe, say */
	if (config->started != NULL)
		config->started(config->ctx);

	now = supervise_now_ms();
	wait_ms = -1;
	supervise_fill(&sup, now, &wait_ms);
	if (sup.running == 0) {
		fprintf(stderr, "%s: no worker could be started\n",
		    config->name);
		status = -1;
		goto done;
	}
	for (;;) {
		if (sup.stopping && sup.running == 0)
			break;
		if (sup.stopping && !sup.killed && now >= sup.kill_ms) {
			fprintf(stderr, "%s: %u worker(s) still running; "
			    "killing them\n", config->name, sup.running);
			supervise_kill_all(&sup, SIGKILL, 0);
			sup.killed = 1;
			sup.failed = 1;
		}
		if (sup.stopping && !sup.killed)
			wait_ms = sup.kill_ms - now;
		signo = supervise_wait(&waited, wait_ms);
		now = supervise_now_ms();
		supervise_note_ready(&sup);
		supervise_on_signal(&sup, signo, now);
		supervise_reap(&sup, now);
		wait_ms = -1;
		if (!sup.stopping)
			supervise_fill(&sup, now, &wait_ms);
	}
	fprintf(stderr, "%s: every worker has stopped\n", config->name);
	status = sup.failed ? (sup.ever_ready ? 1 : -1) : 0;
done:
	sigprocmask(SIG_SETMASK, &sup.worker_mask, NULL);
	munmap(sup.ready, config->workers);
	return status;
}
