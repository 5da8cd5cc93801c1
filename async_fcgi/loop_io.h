/* SPDX-License-Identifier: ISC */
/*
 * loop_io.h - descriptor watches and timers on the server's event loop: the
 * application's and the work drivers' only view of the loop.
 *
 * A thin adapter over libevent; its users see only opaque handles and the
 * loop's forward-declared struct event_base.  Loop thread only.  It does not
 * own the descriptors it watches: free a watch before whoever owns its
 * descriptor closes it.  Errors: 0/-1, or NULL (out of memory, or the loop
 * refused).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_LOOP_IO_H
#define SYNCASYNC_ASYNC_FCGI_LOOP_IO_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct loop_watch;
struct loop_timer;

#define LOOP_READ	0x1
#define LOOP_WRITE	0x2

/* Called with the events that are ready (LOOP_READ | LOOP_WRITE). */
typedef void (*loop_watch_cb)(int fd, int events, void *arg);
typedef void (*loop_timer_cb)(void *arg);

/*
 * Watches fd for events (LOOP_READ, LOOP_WRITE or both; 0 watches nothing
 * yet) until changed or freed; cb runs each time one is ready.
 */
struct loop_watch *loop_watch_new(struct event_base *base, int fd,
    int events, loop_watch_cb cb, void *arg);
/* Changes the events watched (0: none); 0 or -1. */
int loop_watch_set(struct loop_watch *watch, int events);
int loop_watch_fd(const struct loop_watch *watch);
void loop_watch_free(struct loop_watch *watch);	/* NULL is a no-op */

/* A one-shot timer, disarmed until loop_timer_arm(). */
struct loop_timer *loop_timer_new(struct event_base *base, loop_timer_cb cb,
    void *arg);
void loop_timer_free(struct loop_timer *timer);	/* NULL is a no-op */

/*
 * The same timer in memory the caller provides (loop_timer_size() bytes,
 * aligned for any type), e.g. allocated with the object it times, so that
 * object costs one allocation.  loop_timer_fini() disarms it; the memory
 * stays the caller's.
 */
size_t loop_timer_size(void);
void loop_timer_init(struct loop_timer *timer, struct event_base *base,
    loop_timer_cb cb, void *arg);
void loop_timer_fini(struct loop_timer *timer);

/* (Re)arms it to fire once after us microseconds (0: on the next loop
 * iteration, never inside this call); 0 or -1. */
int loop_timer_arm(struct loop_timer *timer, uint64_t us);
void loop_timer_disarm(struct loop_timer *timer);

#endif
