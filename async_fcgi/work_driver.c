/* SPDX-License-Identifier: ISC */
/*
 * work_driver.c - one interface over the db and http drivers, and their one
 * deferred-delivery queue (work_driver.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "async_fcgi/loop_io.h"
#include "async_fcgi/work_db.h"
#include "async_fcgi/work_driver.h"
#include "async_fcgi/work_http.h"

struct work_driver {
	struct work_db	*db;		/* exactly one of the two */
	struct work_http *http;
	struct work_item_list finished;
	struct loop_timer *deliver;	/* zero timer: finished -> done() */
};

static void
driver_delivercb(void *arg)
{
	struct work_driver *driver = arg;
	struct work_item *item;

	/* done() may cancel or submit others: take one at a time. */
	while ((item = TAILQ_FIRST(&driver->finished)) != NULL) {
		TAILQ_REMOVE(&driver->finished, item, entry);
		item->state = WORK_ITEM_IDLE;
		item->done(item);
	}
}

/* A driver is done with item (its result set): deliver it. */
static void
driver_finish(void *arg, struct work_item *item)
{
	struct work_driver *driver = arg;

	item->state = WORK_ITEM_FINISHED;
	item->running = NULL;
	TAILQ_INSERT_TAIL(&driver->finished, item, entry);
	loop_timer_arm(driver->deliver, 0);
}

struct work_driver *
work_driver_new(struct event_base *base, const struct settings *settings,
    char *err, size_t errlen)
{
	struct work_driver *driver = calloc(1, sizeof(*driver));

	if (driver == NULL ||
	    (driver->deliver = loop_timer_new(base, driver_delivercb,
	    driver)) == NULL) {
		snprintf(err, errlen, "out of memory");
		work_driver_free(driver);
		return NULL;
	}
	TAILQ_INIT(&driver->finished);
	if (settings->work == WORK_DB)
		driver->db = work_db_new(driver_finish, driver, base,
		    settings->db,
		    (unsigned)settings->db_pool, err, errlen);
	else if (settings->work == WORK_HTTP)
		driver->http = work_http_new(driver_finish, driver, base,
		    settings->upstream,
		    settings->upstream_timeout_us, err, errlen);
	else
		snprintf(err, errlen, "sleep work has no driver");
	if (driver->db == NULL && driver->http == NULL) {
		work_driver_free(driver);
		return NULL;
	}
	return driver;
}

void
work_driver_free(struct work_driver *driver)
{
	if (driver == NULL)
		return;
	work_db_free(driver->db);
	work_http_free(driver->http);
	loop_timer_free(driver->deliver);
	free(driver);
}

void
work_driver_submit(struct work_driver *driver, struct work_item *item)
{
	item->result.status = 0;
	item->result.error[0] = '\0';
	item->running = NULL;
	item->state = WORK_ITEM_RUNNING;
	if (driver->db != NULL)
		work_db_start(driver->db, item);
	else
		work_http_start(driver->http, item);
}

void
work_driver_cancel(struct work_driver *driver, struct work_item *item)
{
	switch (item->state) {
	case WORK_ITEM_FINISHED:
		TAILQ_REMOVE(&driver->finished, item, entry);
		break;
	case WORK_ITEM_QUEUED:
	case WORK_ITEM_RUNNING:
		if (driver->db != NULL)
			work_db_stop(driver->db, item);
		else
			work_http_stop(driver->http, item);
		break;
	case WORK_ITEM_IDLE:
		break;
	}
	item->state = WORK_ITEM_IDLE;
	item->running = NULL;
}

size_t
work_driver_counters(const struct work_driver *driver,
    struct work_counter *out, size_t max)
{
	if (driver->db != NULL)
		return work_db_counters(driver->db, out, max);
	return work_http_counters(driver->http, out, max);
}
