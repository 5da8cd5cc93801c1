/* SPDX-License-Identifier: ISC */
/*
 * unit_supervise.c - common/supervise.c with workers that only play parts:
 * a setup error stops everything (-1), SIGTERM stops workers that drain
 * (0) and kills one that does not (1), the crash-loop guard holds back a
 * young worker killed by a signal unless killed_at_once, SIGHUP restarts
 * the workers when asked and is only logged when not, started() comes once
 * with the signals held, every reaped worker is handed to gone().  The workers signal the supervisor themselves, so
 * nothing waits on a guess; the one wait the supervisor makes on purpose
 * (a second for a young death) is measured with a wide margin.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/supervise.h"
#include "tests/tap.h"

/* What the workers report, in a page they share with the test. */
struct shared {
	unsigned	starts;		/* workers forked, all slots */
	int64_t		started_us[8];	/* when each of the first 8 began */
};

enum part {
	PART_NO_SETUP,		/* exit 3 before supervise_ready() */
	PART_DRAIN,		/* ready; worker 0 asks for SIGTERM; exit 0 on it */
	PART_STUBBORN,		/* ready; asks for SIGTERM; never leaves */
	PART_DIE_YOUNG,		/* first start: ready, SIGKILL itself; next: stop */
	PART_HUP,		/* first start: ask for SIGHUP; next: stop */
	PART_HUP_TERM,		/* ask for SIGHUP, then for SIGTERM */
};

struct play {
	enum part	part;
	struct shared  *shared;
	unsigned	gone;		/* in the supervisor */
	unsigned	started;	/* in the supervisor */
	int		held;		/* SIGCHLD was blocked at started() */
};

static sigset_t stop_signals;

/* Blocks until SIGTERM or SIGHUP; the signal. */
static int
wait_stop(void)
{
	int signo = 0;

	sigwait(&stop_signals, &signo);
	return signo;
}

static int
play_worker(void *ctx, unsigned index)
{
	struct play *play = ctx;
	unsigned start = __atomic_fetch_add(&play->shared->starts, 1,
	    __ATOMIC_SEQ_CST);

	if (start < 8)
		play->shared->started_us[start] = clock_mono_us();
	if (play->part == PART_NO_SETUP)
		return 3;
	supervise_ready();
	switch (play->part) {
	case PART_DRAIN:
		if (index == 0)
			kill(getppid(), SIGTERM);
		wait_stop();
		return 0;
	case PART_STUBBORN:
		kill(getppid(), SIGTERM);
		for (;;)
			pause();	/* SIGTERM stays blocked */
	case PART_DIE_YOUNG:
		if (start == 0)
			raise(SIGKILL);
		kill(getppid(), SIGTERM);
		wait_stop();
		return 0;
	case PART_HUP:
		kill(getppid(), start == 0 ? SIGHUP : SIGTERM);
		wait_stop();
		return 0;
	case PART_HUP_TERM:	/* taken in this order (the lower first) */
		kill(getppid(), SIGHUP);
		kill(getppid(), SIGTERM);
		wait_stop();
		return 0;
	default:
		return 4;
	}
}

static void
play_started(void *ctx)
{
	struct play *play = ctx;
	sigset_t mask;

	sigprocmask(SIG_BLOCK, NULL, &mask);
	play->held = sigismember(&mask, SIGCHLD) && sigismember(&mask, SIGINT);
	play->started++;
}

static void
play_gone(void *ctx, unsigned index)
{
	struct play *play = ctx;

	(void)index;
	play->gone++;
}

/* Runs the supervisor on part with config's policy; *log gets its lines. */
static int
run(struct play *play, struct supervise_config *config, char *log,
    size_t loglen)
{
	FILE *capture = tmpfile();
	int saved = dup(2), rc;
	size_t got;

	if (capture == NULL || saved == -1)
		exit(99);
	memset(play->shared, 0, sizeof(*play->shared));
	play->gone = 0;
	play->started = 0;
	play->held = 0;
	config->name = "unit: pool";
	config->worker = play_worker;
	config->started = play_started;
	config->gone = play_gone;
	config->ctx = play;
	fflush(stderr);
	dup2(fileno(capture), 2);
	rc = supervise_run(config);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(capture);
	got = fread(log, 1, loglen - 1, capture);
	log[got] = '\0';
	fclose(capture);
	return rc;
}

static struct supervise_config
policy(unsigned workers, int killed_at_once, int hup_restarts)
{
	struct supervise_config config;

	memset(&config, 0, sizeof(config));
	config.workers = workers;
	config.stop_ms = 5000;
	config.again_ms = 100;
	config.killed_at_once = killed_at_once;
	config.hup_restarts = hup_restarts;
	return config;
}

static void
test_setup_error(struct play *play)
{
	struct supervise_config config = policy(2, 0, 0);
	char log[4096];

	play->part = PART_NO_SETUP;
	TAP_EQ_INT(run(play, &config, log, sizeof(log)), -1,
	    "a worker that fails before it serves, none ever did: -1");
	TAP_OK(strstr(log, "unit: pool: worker ") != NULL &&
	    strstr(log, "could not start; stopping") != NULL,
	    "  named as a setup error");
	TAP_EQ_INT(play->gone, play->shared->starts,
	    "  gone() once per worker reaped");
}

static void
test_drain(struct play *play)
{
	struct supervise_config config = policy(3, 0, 0);
	char log[4096];

	play->part = PART_DRAIN;
	TAP_EQ_INT(run(play, &config, log, sizeof(log)), 0,
	    "SIGTERM, 3 workers that exit 0 on it: 0");
	TAP_OK(strstr(log, "stopping 3 worker(s) after their requests in "
	    "hand (at most 5000 ms)") != NULL &&
	    strstr(log, "unit: pool: every worker has stopped") != NULL,
	    "  logged: the stop, then every worker stopped");
	TAP_EQ_INT(play->shared->starts, 3, "  no worker replaced");
	TAP_EQ_INT(play->gone, 3, "  gone() for each");
	TAP_OK(play->started == 1 && play->held,
	    "  started() once, with the supervisor's signals held");
}

static void
test_stubborn(struct play *play)
{
	struct supervise_config config = policy(1, 0, 0);
	char log[4096];
	int64_t t0 = clock_mono_us(), took;
	int rc;

	config.stop_ms = 300;
	play->part = PART_STUBBORN;
	rc = run(play, &config, log, sizeof(log));
	took = clock_mono_us() - t0;
	TAP_EQ_INT(rc, 1, "SIGTERM, a worker that does not leave: 1");
	TAP_OK(strstr(log, "1 worker(s) still running; killing them") != NULL,
	    "  killed, and says so");
	TAP_OK(took >= 250000 && took < 3000000,
	    "  at stop_ms (300 ms), not before, not much later");
}

/* The first worker kills itself as soon as it serves; the second stops. */
static void
test_young(struct play *play, int killed_at_once)
{
	struct supervise_config config = policy(1, killed_at_once, 0);
	char log[4096];
	int64_t gap;

	play->part = PART_DIE_YOUNG;
	TAP_EQ_INT(run(play, &config, log, sizeof(log)), 0,
	    killed_at_once ? "killed_at_once: a young worker killed, then "
	    "SIGTERM: 0" : "a young worker killed, then SIGTERM: 0");
	TAP_EQ_INT(play->shared->starts, 2, "  it was replaced once");
	gap = play->shared->started_us[1] - play->shared->started_us[0];
	TAP_OK(strstr(log, "(pid ") != NULL &&
	    strstr(log, "killed by signal 9") != NULL,
	    "  the line names the worker and the signal");
	if (killed_at_once)
		TAP_OK(strstr(log, "died young") == NULL && gap < 700000,
		    "  replaced at once (a peer must not hold slots back)");
	else
		TAP_OK(strstr(log, "starting another in a second (it died "
		    "young)") != NULL && gap >= 700000,
		    "  replaced a second later (the crash-loop guard)");
}

static void
test_hup(struct play *play, int hup_restarts)
{
	struct supervise_config config = policy(1, 0, hup_restarts);
	char log[4096];

	play->part = hup_restarts ? PART_HUP : PART_HUP_TERM;
	TAP_EQ_INT(run(play, &config, log, sizeof(log)), 0, hup_restarts ?
	    "SIGHUP with hup_restarts, then SIGTERM: 0" :
	    "SIGHUP without hup_restarts, then SIGTERM: 0");
	if (hup_restarts) {
		TAP_OK(strstr(log, "unit: pool: SIGHUP: restarting 1 "
		    "worker(s), each after its request in hand") != NULL,
		    "  says it restarts the workers");
		TAP_EQ_INT(play->shared->starts, 2, "  and did, once");
		TAP_OK(strstr(log, "starting another") == NULL,
		    "  a retired worker's exit is no death");
	} else {
		TAP_OK(strstr(log, "(Hangup) ignored") != NULL,
		    "  logged as ignored");
		TAP_EQ_INT(play->shared->starts, 1, "  no worker restarted");
	}
}

int
main(void)
{
	struct play play;
	sigset_t mask;

	play.shared = mmap(NULL, sizeof(*play.shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (play.shared == MAP_FAILED)
		return 99;
	/* As both programs do: the stop signals blocked in the caller, so
	 * the workers start with them blocked (and sigwait for them). */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);

	test_setup_error(&play);
	test_drain(&play);
	test_stubborn(&play);
	test_young(&play, 0);
	test_young(&play, 1);
	test_hup(&play, 1);
	test_hup(&play, 0);

	sigprocmask(SIG_BLOCK, NULL, &mask);
	TAP_OK(sigismember(&mask, SIGTERM) && !sigismember(&mask, SIGCHLD),
	    "the caller's signal mask is restored");
	supervise_ready();
	TAP_OK(1, "supervise_ready() outside a worker is a no-op");
	return tap_done();
}
