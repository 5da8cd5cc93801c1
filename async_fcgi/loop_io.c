/* SPDX-License-Identifier: ISC */
/*
 * loop_io.c - descriptor watches and timers over libevent (loop_io.h).
 *
 * A watch is one persistent event; changing what it watches deletes and
 * re-assigns that event on the same fd.  With epoll, libevent must forget a
 * descriptor before it is closed, hence the rule in the header.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "async_fcgi/loop_io.h"
#include "common/clock.h"

struct loop_watch {
	struct event_base *base;
	struct event	*ev;
	int		 fd;
	int		 events;
	loop_watch_cb	 cb;
	void		*arg;
};

struct loop_timer {
	struct event	 ev;		/* embedded: one allocation, or none */
	loop_timer_cb	 cb;
	void		*arg;
};

static void
loop_watch_eventcb(evutil_socket_t fd, short what, void *arg)
{
	struct loop_watch *watch = arg;
	int events = 0;

	if (what & EV_READ)
		events |= LOOP_READ;
	if (what & EV_WRITE)
		events |= LOOP_WRITE;
	watch->cb((int)fd, events, watch->arg);
}

int
loop_watch_set(struct loop_watch *watch, int events)
{
	short what = EV_PERSIST;

	if (watch->ev != NULL && events == watch->events)
		return 0;
	if (watch->ev != NULL) {
		event_free(watch->ev);
		watch->ev = NULL;
	}
	watch->events = events;
	if (events == 0)
		return 0;
	if (events & LOOP_READ)
		what |= EV_READ;
	if (events & LOOP_WRITE)
		what |= EV_WRITE;
	watch->ev = event_new(watch->base, watch->fd, what, loop_watch_eventcb,
	    watch);
	if (watch->ev == NULL || event_add(watch->ev, NULL) == -1) {
		if (watch->ev != NULL)
			event_free(watch->ev);
		watch->ev = NULL;
		watch->events = 0;
		return -1;
	}
	return 0;
}

struct loop_watch *
loop_watch_new(struct event_base *base, int fd, int events, loop_watch_cb cb,
    void *arg)
{
	struct loop_watch *watch = calloc(1, sizeof(*watch));

	if (watch == NULL)
		return NULL;
	watch->base = base;
	watch->fd = fd;
	watch->cb = cb;
	watch->arg = arg;
	if (loop_watch_set(watch, events) == -1) {
		free(watch);
		return NULL;
	}
	return watch;
}

int
loop_watch_fd(const struct loop_watch *watch)
{
	return watch->fd;
}

void
loop_watch_free(struct loop_watch *watch)
{
	if (watch == NULL)
		return;
	if (watch->ev != NULL)
		event_free(watch->ev);
	free(watch);
}

static void
loop_timer_eventcb(evutil_socket_t fd, short what, void *arg)
{
	struct loop_timer *timer = arg;

	timer->cb(timer->arg);
}

size_t
loop_timer_size(void)
{
	return sizeof(struct loop_timer);
}

void
loop_timer_init(struct loop_timer *timer, struct event_base *base,
    loop_timer_cb cb, void *arg)
{
	timer->cb = cb;
	timer->arg = arg;
	evtimer_assign(&timer->ev, base, loop_timer_eventcb, timer);
}

void
loop_timer_fini(struct loop_timer *timer)
{
	evtimer_del(&timer->ev);
}

struct loop_timer *
loop_timer_new(struct event_base *base, loop_timer_cb cb, void *arg)
{
	struct loop_timer *timer = malloc(sizeof(*timer));

	if (timer != NULL)
		loop_timer_init(timer, base, cb, arg);
	return timer;
}

int
loop_timer_arm(struct loop_timer *timer, uint64_t us)
{
	struct timeval tv = clock_timeval(us);

	return evtimer_add(&timer->ev, &tv);
}

void
loop_timer_disarm(struct loop_timer *timer)
{
	evtimer_del(&timer->ev);
}

void
loop_timer_free(struct loop_timer *timer)
{
	if (timer == NULL)
		return;
	loop_timer_fini(timer);
	free(timer);
}
