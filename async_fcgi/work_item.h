/* SPDX-License-Identifier: ISC */
/*
 * work_item.h - one piece of db or http work, as the application, the work
 * driver (work_driver.h) and the drivers behind it (work_db.h,
 * work_http.h) share it.  Types only.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORK_ITEM_H
#define SYNCASYNC_ASYNC_FCGI_WORK_ITEM_H

#include <stdint.h>
#include <sys/queue.h>

#include "common/work.h"

/* CURL_ERROR_SIZE, checked in work_http.c. */
#define WORK_ITEM_ERRBUF	256

enum work_item_state {
	WORK_ITEM_IDLE,		/* not submitted, or delivered */
	WORK_ITEM_QUEUED,	/* waiting in its driver for a connection */
	WORK_ITEM_RUNNING,	/* in its driver */
	WORK_ITEM_FINISHED,	/* result set, done() pending */
};

/* One piece of work, embedded by the caller in its own struct. */
struct work_item {
	/* Set by the caller before work_driver_submit(): */
	void		(*done)(struct work_item *item);
	uint64_t	 sleep_us;
	/* Filled before done() runs: */
	struct work_result result;
	/* The drivers': */
	enum work_item_state state;
	TAILQ_ENTRY(work_item) entry;	/* a driver's queue, or finished */
	void		*running;	/* db: its slot; http: its CURL * */
	char		 errbuf[WORK_ITEM_ERRBUF];	/* http: libcurl's */
};

TAILQ_HEAD(work_item_list, work_item);

/* A counter for /async/stats, named as its field. */
struct work_counter {
	const char	*name;
	uint64_t	 value;
};

/* How a driver hands back an item whose result is set. */
typedef void (*work_finish_fn)(void *arg, struct work_item *item);

#endif
