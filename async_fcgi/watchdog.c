/* SPDX-License-Identifier: ISC */
/*
 * watchdog.c - the loop watchdog (watchdog.h), on a loop_io timer re-armed
 * at every tick.  A handler that held the loop past a due tick is reported
 * by watchdog_note() at once, so the log line comes before its answer.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/loop_io.h"
#include "async_fcgi/stall_watch.h"
#include "async_fcgi/watchdog.h"
#include "common/clock.h"
#include "common/limits.h"

struct watchdog {
	struct loop_timer	*tick;
	struct async_stats	*stats;
	unsigned		 stall_ms;
	int64_t			 tick_mono_us;	/* the last tick */
	int64_t			 hold_us;	/* longest handler run since */
	uint64_t		 hold_request;
	const char		*hold_mode;
	/* The live detector: it speaks while the loop is still blocked. */
	struct stall_watch	*live;
	struct stall_watch_request req;	/* the callback now running */
};

/* How late the tick is now, in microseconds (negative: not due yet). */
static int64_t
watchdog_late(const struct watchdog *dog, int64_t now)
{
	return now - dog->tick_mono_us - SA_WATCHDOG_TICK_MS * 1000;
}

/* A tick, on time or late: reports a stall, starts the next period. */
static void
watchdog_tick(struct watchdog *dog, int64_t now)
{
	struct async_stats *stats = dog->stats;
	int64_t late = watchdog_late(dog, now);

	dog->tick_mono_us = now;
	loop_timer_arm(dog->tick, SA_WATCHDOG_TICK_MS * 1000);
	if (late >= (int64_t)dog->stall_ms * 1000) {
		stats->stalls++;
		if (late > stats->longest_stall_us) {
			stats->longest_stall_us = late;
			stats->longest_stall_at_us = clock_now_us() - late;
			stats->longest_stall_request = dog->hold_request;
		}
		if (dog->hold_request != 0)
			fprintf(stderr, "async_fcgi: watchdog: the event loop "
			    "stalled %lld ms: request %llu (mode %s) held it "
			    "for %lld ms\n", (long long)(late / 1000),
			    (unsigned long long)dog->hold_request,
			    dog->hold_mode, (long long)(dog->hold_us / 1000));
		else
			fprintf(stderr, "async_fcgi: watchdog: the event loop "
			    "stalled %lld ms\n", (long long)(late / 1000));
	}
	dog->hold_us = 0;
	dog->hold_request = 0;
	dog->hold_mode = NULL;
}

static void
watchdog_tickcb(void *arg)
{
	watchdog_tick(arg, clock_mono_us());
}

struct watchdog *
watchdog_new(struct event_base *base, unsigned stall_ms,
    struct async_stats *stats)
{
	struct watchdog *dog = calloc(1, sizeof(*dog));

	if (dog == NULL ||
	    (dog->tick = loop_timer_new(base, watchdog_tickcb, dog)) == NULL ||
	    loop_timer_arm(dog->tick, SA_WATCHDOG_TICK_MS * 1000) == -1) {
		watchdog_free(dog);
		return NULL;
	}
	dog->stats = stats;
	dog->stall_ms = stall_ms;
	dog->tick_mono_us = clock_mono_us();
	{
		struct stall_watch_config cfg = {
			.stall_ms = stall_ms,
			.prefix = "async_fcgi: watchdog: ",
		};
		char err[SA_ERROR_MAX];

		/* Without it the timer above still reports, afterwards. */
		if ((dog->live = stall_watch_start(&cfg, err,
		    sizeof(err))) == NULL)
			fprintf(stderr, "async_fcgi: watchdog: %s; stalls are "
			    "reported only once the loop is back\n", err);
	}
	return dog;
}

void
watchdog_free(struct watchdog *dog)
{
	if (dog == NULL)
		return;
	stall_watch_stop(dog->live);
	loop_timer_free(dog->tick);
	free(dog);
}

void
watchdog_note(struct watchdog *dog, uint64_t request_no, const char *mode,
    int64_t held_us)
{
	int64_t now;

	if (held_us > dog->hold_us) {
		dog->hold_us = held_us;
		dog->hold_request = request_no;
		dog->hold_mode = mode;
	}
	/* A handler that held the loop past the tick is a stall that has
	 * ended: report it now, before its answer goes out, not a turn of
	 * the loop later. */
	if (held_us >= (int64_t)dog->stall_ms * 1000 &&
	    watchdog_late(dog, now = clock_mono_us()) >=
	    (int64_t)dog->stall_ms * 1000)
		watchdog_tick(dog, now);
}

void
watchdog_enter(struct watchdog *dog)
{
	dog->req = (struct stall_watch_request){ .number = 0 };
	stall_watch_enter(dog->live, &dog->req);
}

void
watchdog_block(void *arg, uint64_t request_no, const char *method,
    const char *uri, const char *mode, const char *work)
{
	struct watchdog *dog = arg;

	dog->req.number = request_no;
	dog->req.method = method;
	dog->req.uri = uri;
	dog->req.mode = mode;
	dog->req.work = work;
	/* Entering again publishes the whole descriptor before the block. */
	stall_watch_enter(dog->live, &dog->req);
}

void
watchdog_leave(struct watchdog *dog)
{
	stall_watch_leave(dog->live);
}

void
watchdog_snapshot(void *arg, struct stall_watch_report *out)
{
	struct watchdog *dog = arg;

	stall_watch_snapshot(dog->live, out);
}
