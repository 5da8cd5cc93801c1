/*
 * work_driver.h - the sleeper's db or http work on the loop, without
 * blocking it: one interface over the two drivers (work_db.c, work_http.c).
 *
 * The application submits an item and gets item->done() once, on the loop
 * thread, never from inside work_driver_submit() or work_driver_cancel():
 * finished items wait in one queue that a zero timer delivers.  Cancelling
 * never blocks and done() does not run after it.  Errors: NULL with a
 * message (SA_ERROR_MAX bytes) at creation; a failed piece of work is an
 * item->result with status 502, 504 (or 500).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORK_DRIVER_H
#define SYNCASYNC_ASYNC_FCGI_WORK_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/settings.h"
#include "common/work_blocking.h"

#define WORK_ITEM_ERRBUF	256	/* CURL_ERROR_SIZE, checked in work_http.c */

struct event_base;
struct work_driver;

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

/* The driver settings->work names (db or http) on base; NULL with a
 * message in err for sleep work or on failure. */
struct work_driver *work_driver_new(struct event_base *base,
    const struct settings *settings, char *err, size_t errlen);
/* Drops every item still in it without done(); NULL is a no-op. */
void work_driver_free(struct work_driver *driver);

void work_driver_submit(struct work_driver *driver, struct work_item *item);
void work_driver_cancel(struct work_driver *driver, struct work_item *item);

/* Counters for /async/stats, named as its fields: up to max into out. */
struct work_counter {
	const char	*name;
	uint64_t	 value;
};
#define WORK_COUNTERS_MAX	4
size_t work_driver_counters(const struct work_driver *driver,
    struct work_counter *out, size_t max);

/* For the drivers: item->result is set; deliver it (state FINISHED). */
void work_driver_finish(struct work_driver *driver, struct work_item *item);

#endif
