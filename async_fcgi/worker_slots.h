/* SPDX-License-Identifier: ISC */
/*
 * worker_slots.h - the page async_fcgi's workers share (--workers N).
 *
 * One MAP_SHARED anonymous mapping, created by the supervisor before it
 * forks: the request counter, so numbers stay global and exact across
 * workers (one atomic increment each), and one slot per worker with its
 * /async/stats figures, so any worker can answer with the totals.  Each
 * slot is written by its worker alone (and reset by the supervisor once
 * that worker is gone); others read it without a lock, so a total is a
 * sum of recent values, not one instant's.  Never fails after creation.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORKER_SLOTS_H
#define SYNCASYNC_ASYNC_FCGI_WORKER_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "async_fcgi/async_handler.h"

struct worker_slots;

/* workers slots (1..SA_FCGI_WORKERS_MAX), all zero; NULL with a message
 * in err when the mapping cannot be had. */
struct worker_slots *worker_slots_new(unsigned workers, char *err,
    size_t errlen);
void worker_slots_free(struct worker_slots *slots);	/* NULL is a no-op */
unsigned worker_slots_count(const struct worker_slots *slots);

/* The next request number, deployment-wide, taken by worker index. */
uint64_t worker_slots_next(struct worker_slots *slots, unsigned index);
/* The last number given (0: none yet). */
uint64_t worker_slots_last(const struct worker_slots *slots);

/* Worker index's figures, which its server and connections update. */
struct async_stats *worker_slots_stats(struct worker_slots *slots,
    unsigned index);

/* The worker in slot index says it serves (pid), or the supervisor that it
 * is gone (0: the gauges in_flight and connections are zeroed; the counts
 * stay, so totals never go back). */
void worker_slots_set_pid(struct worker_slots *slots, unsigned index,
    long pid);
long worker_slots_pid(const struct worker_slots *slots, unsigned index);

/* What slot index says: its pid, the numbers it took, its figures. */
void worker_slots_read(const struct worker_slots *slots, unsigned index,
    long *pid, uint64_t *requests, struct async_stats *out);

#endif
