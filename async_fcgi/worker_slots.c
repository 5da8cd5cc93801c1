/* SPDX-License-Identifier: ISC */
/*
 * worker_slots.c - the workers' shared page (worker_slots.h).
 *
 * GCC's __atomic builtins on plain fields: the counter with a relaxed
 * fetch-and-add (only its uniqueness matters), pids with release/acquire,
 * and the figures, written by one worker with plain stores, read here one
 * relaxed load at a time.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "async_fcgi/worker_slots.h"
#include "common/limits.h"

struct worker_slot {
	struct async_stats	stats;
	uint64_t		requests;	/* numbers this worker took */
	long			pid;		/* 0: no worker serving */
};

struct worker_slots {
	uint64_t		counter;	/* the last number given */
	unsigned		workers;
	size_t			size;		/* of the mapping */
	struct worker_slot	slot[];
};

struct worker_slots *
worker_slots_new(unsigned workers, char *err, size_t errlen)
{
	struct worker_slots *slots;
	size_t size;

	if (workers == 0 || workers > SA_FCGI_WORKERS_MAX) {
		snprintf(err, errlen, "workers must be from 1 to %u",
		    SA_FCGI_WORKERS_MAX);
		return NULL;
	}
	size = sizeof(*slots) + workers * sizeof(slots->slot[0]);
	slots = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the workers' shared page: %s",
		    strerror(errno));
		return NULL;
	}
	slots->workers = workers;
	slots->size = size;
	return slots;
}

void
worker_slots_free(struct worker_slots *slots)
{
	if (slots != NULL)
		munmap(slots, slots->size);
}

unsigned
worker_slots_count(const struct worker_slots *slots)
{
	return slots->workers;
}

uint64_t
worker_slots_next(struct worker_slots *slots, unsigned index)
{
	slots->slot[index].requests++;
	return __atomic_add_fetch(&slots->counter, 1, __ATOMIC_RELAXED);
}

uint64_t
worker_slots_last(const struct worker_slots *slots)
{
	return __atomic_load_n(&slots->counter, __ATOMIC_RELAXED);
}

struct async_stats *
worker_slots_stats(struct worker_slots *slots, unsigned index)
{
	return &slots->slot[index].stats;
}

void
worker_slots_set_pid(struct worker_slots *slots, unsigned index, long pid)
{
	struct worker_slot *slot = &slots->slot[index];

	if (pid == 0) {
		slot->stats.in_flight = 0;
		slot->stats.connections = 0;
	}
	__atomic_store_n(&slot->pid, pid, __ATOMIC_RELEASE);
}

long
worker_slots_pid(const struct worker_slots *slots, unsigned index)
{
	return __atomic_load_n(&slots->slot[index].pid, __ATOMIC_ACQUIRE);
}

#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void
worker_slots_read(const struct worker_slots *slots, unsigned index,
    long *pid, uint64_t *requests, struct async_stats *out)
{
	const struct worker_slot *slot = &slots->slot[index];

	*pid = worker_slots_pid(slots, index);
	*requests = LOAD(slot->requests);
	memset(out, 0, sizeof(*out));
	out->served = LOAD(slot->stats.served);
	out->in_flight = LOAD(slot->stats.in_flight);
	out->connections = LOAD(slot->stats.connections);
	out->accepted = LOAD(slot->stats.accepted);
	out->stalls = LOAD(slot->stats.stalls);
	out->longest_stall_us = LOAD(slot->stats.longest_stall_us);
	out->longest_stall_at_us = LOAD(slot->stats.longest_stall_at_us);
	out->longest_stall_request = LOAD(slot->stats.longest_stall_request);
}
