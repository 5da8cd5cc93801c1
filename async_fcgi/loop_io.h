/*
 * loop_io.h - descriptor watches and timers on the server's event loop, for
 * the non-blocking work drivers (work_db.c, work_http.c).
 *
 * A thin adapter over libevent: loop_io.c is the second and last file of
 * async_fcgi that includes <event2/...> (fcgi_conn.c, which owns the loop,
 * is the first).  The drivers see only these opaque handles, so they watch
 * libpq's and libcurl's sockets without knowing the loop's library.  The
 * base is the server's event_base, handed down by fcgi_conn.c at start
 * (conn_server_new -> async_handler_attach_loop).  Loop thread only.
 * It does not own the descriptors it watches: free a watch before the
 * library that owns its descriptor closes it.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_LOOP_IO_H
#define SYNCASYNC_ASYNC_FCGI_LOOP_IO_H

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
 * yet) until changed or freed; cb runs each time one is ready.  NULL when
 * out of memory or the loop refuses the descriptor.
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
/* (Re)arms it to fire once after us microseconds (0: on the next loop
 * iteration, never inside this call); 0 or -1. */
int loop_timer_arm(struct loop_timer *timer, uint64_t us);
void loop_timer_disarm(struct loop_timer *timer);
void loop_timer_free(struct loop_timer *timer);	/* NULL is a no-op */

#endif
