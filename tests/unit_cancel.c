/* SPDX-License-Identifier: ISC */
/*
 * unit_cancel.c - the cancel token: a sleep that a request from another
 * thread ends early, a hook run once on the requesting thread, and
 * cancel_hook_clear() as a barrier against a hook still running.
 *
 * Threads meet on atomics with bounded spins; the only timed waits assert
 * that something does NOT happen (wide bounds).  An alarm turns a hang
 * into a failure.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/clock.h"
#include "tests/tap.h"

#define WATCHDOG_S	60	/* whole program, seconds */
#define HOUR_US		(3600ULL * 1000000ULL)

struct hook_probe {
	atomic_int	 calls;
	long		 tid;
	atomic_int	 entered;
	atomic_int	 release;	/* the hook waits for it when set */
	int		 hold;
};

static void
probe_hook(void *arg)
{
	struct hook_probe *probe = arg;

	atomic_fetch_add(&probe->calls, 1);
	probe->tid = clock_thread_id();
	atomic_store(&probe->entered, 1);
	while (probe->hold && !atomic_load(&probe->release))
		sched_yield();
}

/* Spins (yielding) until *flag is set; 1, or 0 after 5 s. */
static int
spin_until(atomic_int *flag)
{
	int64_t deadline = clock_mono_us() + 5000000;

	while (!atomic_load(flag))
		if (clock_mono_us() > deadline)
			return 0;
		else
			sched_yield();
	return 1;
}

struct sleeper {
	struct cancel_token	*token;
	atomic_int		 started;
	int			 rc;
	int64_t			 took_us;
};

static void *
sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	int64_t start = clock_mono_us();

	atomic_store(&s->started, 1);
	s->rc = cancel_sleep_us(s->token, HOUR_US);
	s->took_us = clock_mono_us() - start;
	return NULL;
}

static void *
requester_main(void *arg)
{
	cancel_request(arg);
	return NULL;
}

static void
test_sleep(void)
{
	struct cancel_token	 token;
	struct sleeper		 s = { .token = &token };
	pthread_t		 thread;
	int64_t			 start, took;

	if (!TAP_OK(cancel_init(&token) == 0, "init"))
		return;
	TAP_OK(!cancel_requested(&token), "fresh: not requested");
	start = clock_mono_us();
	TAP_EQ_INT(cancel_sleep_us(&token, 50000), 0, "50 ms sleep: full");
	took = clock_mono_us() - start;
	TAP_OK(took >= 49000 && took < 2000000, "50 ms sleep: took ~50 ms");

	pthread_create(&thread, NULL, sleeper_main, &s);
	TAP_OK(spin_until(&s.started), "sleeper started");
	start = clock_mono_us();
	cancel_request(&token);
	pthread_join(thread, NULL);
	took = clock_mono_us() - start;
	TAP_EQ_INT(s.rc, -1, "1 h sleep: cut short by the request");
	TAP_OK(s.took_us < 1000000 && took < 1000000,
	    "1 h sleep: returned within 1 s of the request");
	if (took >= 1000000)
		printf("#   took %lld us\n", (long long)took);
	TAP_OK(cancel_requested(&token), "requested once asked");
	start = clock_mono_us();
	TAP_EQ_INT(cancel_sleep_us(&token, HOUR_US), -1,
	    "sleep on a cancelled token: -1");
	TAP_OK(clock_mono_us() - start < 1000000, "... at once");

	cancel_reset(&token);
	TAP_OK(!cancel_requested(&token), "reset: not requested");
	TAP_EQ_INT(cancel_sleep_us(&token, 1000), 0, "reset: sleeps again");
	cancel_destroy(&token);
}

static void
test_hook(void)
{
	struct cancel_token	 token;
	struct hook_probe	 probe = { .tid = 0 };
	pthread_t		 thread;

	if (!TAP_OK(cancel_init(&token) == 0, "hook: init"))
		return;
	TAP_EQ_INT(cancel_hook_set(&token, probe_hook, &probe), 0,
	    "hook: set on a fresh token");
	pthread_create(&thread, NULL, requester_main, &token);
	pthread_join(thread, NULL);
	TAP_EQ_INT(atomic_load(&probe.calls), 1, "hook: ran on request");
	TAP_OK(probe.tid != 0 && probe.tid != clock_thread_id(),
	    "hook: ran on the requesting thread");
	cancel_request(&token);
	TAP_EQ_INT(atomic_load(&probe.calls), 1, "hook: a second request "
	    "does not run it again");
	cancel_hook_clear(&token);
	TAP_EQ_INT(cancel_hook_set(&token, probe_hook, &probe), -1,
	    "hook: set on a cancelled token refused");
	cancel_request(&token);
	TAP_EQ_INT(atomic_load(&probe.calls), 1, "hook: a refused hook "
	    "never runs");

	cancel_reset(&token);
	atomic_store(&probe.calls, 0);
	TAP_EQ_INT(cancel_hook_set(&token, probe_hook, &probe), 0,
	    "hook: set after reset");
	cancel_hook_clear(&token);
	cancel_request(&token);
	TAP_EQ_INT(atomic_load(&probe.calls), 0, "hook: a cleared hook "
	    "never runs");
	cancel_destroy(&token);
}

struct clearer {
	struct cancel_token	*token;
	atomic_int		 returned;
};

static void *
clearer_main(void *arg)
{
	struct clearer *c = arg;

	cancel_hook_clear(c->token);
	atomic_store(&c->returned, 1);
	return NULL;
}

/* clear() must wait for a hook that is running. */
static void
test_clear_waits(void)
{
	struct cancel_token	 token;
	struct hook_probe	 probe = { .hold = 1 };
	struct clearer		 c = { .token = &token };
	pthread_t		 requester, clearer;
	int64_t			 until;
	int			 early = 0;

	if (!TAP_OK(cancel_init(&token) == 0, "clear: init"))
		return;
	cancel_hook_set(&token, probe_hook, &probe);
	pthread_create(&requester, NULL, requester_main, &token);
	TAP_OK(spin_until(&probe.entered), "clear: hook entered");
	pthread_create(&clearer, NULL, clearer_main, &c);
	until = clock_mono_us() + 200000;	/* 200 ms: must stay blocked */
	while (clock_mono_us() < until && !early)
		early = atomic_load(&c.returned);
	TAP_OK(!early, "clear: blocked while the hook runs");
	atomic_store(&probe.release, 1);
	pthread_join(requester, NULL);
	pthread_join(clearer, NULL);
	TAP_OK(atomic_load(&c.returned), "clear: returned after the hook");
	cancel_destroy(&token);
}

/* Races a request against set/clear many times (for ThreadSanitizer). */
static void
test_race(void)
{
	enum { ROUNDS = 2000 };
	struct cancel_token	 token;
	struct hook_probe	 probe;
	pthread_t		 thread;
	int			 i, ok = 1, set;

	if (!TAP_OK(cancel_init(&token) == 0, "race: init"))
		return;
	for (i = 0; i < ROUNDS; i++) {
		probe = (struct hook_probe){ .tid = 0 };
		cancel_reset(&token);
		pthread_create(&thread, NULL, requester_main, &token);
		set = cancel_hook_set(&token, probe_hook, &probe);
		(void)cancel_sleep_us(&token, 0);
		cancel_hook_clear(&token);
		probe.tid = -1;		/* after clear: the hook's no more */
		pthread_join(thread, NULL);
		ok &= set == 0 ? atomic_load(&probe.calls) <= 1 :
		    atomic_load(&probe.calls) == 0;
		ok &= cancel_requested(&token);
	}
	TAP_OK(ok, "race: 2000 request/set/clear races, a hook at most once");
	cancel_destroy(&token);
}

static void
test_null(void)
{
	TAP_OK(!cancel_requested(NULL), "NULL: never requested");
	TAP_EQ_INT(cancel_sleep_us(NULL, 1000), 0, "NULL: a plain sleep");
	TAP_EQ_INT(cancel_hook_set(NULL, probe_hook, NULL), 0,
	    "NULL: hook set is a no-op");
	cancel_hook_clear(NULL);
}

int
main(void)
{
	alarm(WATCHDOG_S);
	test_sleep();
	test_hook();
	test_clear_waits();
	test_race();
	test_null();
	return tap_done();
}
