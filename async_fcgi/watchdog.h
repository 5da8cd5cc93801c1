/* SPDX-License-Identifier: ISC */
/*
 * watchdog.h - the loop watchdog: a periodic loop timer that measures how
 * late it runs.  A stall past stall_ms is logged once and counted in the
 * stats, naming the request whose handler held the loop longest since the
 * previous tick (what asyncio's debug mode does).  Loop thread only;
 * errors: NULL when out of memory.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WATCHDOG_H
#define SYNCASYNC_ASYNC_FCGI_WATCHDOG_H

#include <stdint.h>

struct async_stats;
struct event_base;
struct stall_watch_report;
struct watchdog;

struct watchdog *watchdog_new(struct event_base *base, unsigned stall_ms,
    struct async_stats *stats);
void watchdog_free(struct watchdog *dog);	/* NULL is a no-op */

/* A handler ran held_us for request_no (0: none) in mode (a constant); a
 * stall it caused is reported now. */
void watchdog_note(struct watchdog *dog, uint64_t request_no,
    const char *mode, int64_t held_us);

/*
 * The live detector (stall_watch.h), which names a request while it still
 * blocks the loop.  The connection layer brackets each request's callback
 * with watchdog_enter() and watchdog_leave() (a few stores, no lookup);
 * the application calls watchdog_block() (dog as arg, see
 * async_handler_on_block()) when the request it numbered is about to block
 * (its strings stay valid until the leave).
 */
void watchdog_enter(struct watchdog *dog);
void watchdog_block(void *dog, uint64_t request_no, const char *method,
    const char *uri, const char *mode, const char *work);
void watchdog_leave(struct watchdog *dog);

/* The detector's current block and the last few (dog as arg, see
 * async_handler_on_stats()); all empty when it did not start.  Any
 * thread. */
void watchdog_snapshot(void *dog, struct stall_watch_report *out);

#endif
