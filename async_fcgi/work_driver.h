/* SPDX-License-Identifier: ISC */
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

#include "async_fcgi/work_item.h"
#include "common/settings.h"

struct event_base;
struct work_driver;

/* The driver settings->work names (db or http) on base; NULL with a
 * message in err for sleep work or on failure. */
struct work_driver *work_driver_new(struct event_base *base,
    const struct settings *settings, char *err, size_t errlen);
/* Drops every item still in it without done(); NULL is a no-op. */
void work_driver_free(struct work_driver *driver);

void work_driver_submit(struct work_driver *driver, struct work_item *item);
void work_driver_cancel(struct work_driver *driver, struct work_item *item);

/* Counters for /async/stats, named as its fields: up to max into out. */
#define WORK_COUNTERS_MAX	4
size_t work_driver_counters(const struct work_driver *driver,
    struct work_counter *out, size_t max);

#endif
