/* SPDX-License-Identifier: ISC */
/*
 * work_db.h - the db driver behind work_driver.h: libpq's asynchronous API
 * over a bounded, lazily opened pool of connections.
 *
 * A request runs WORK_DB_QUERY (common/work_blocking.h) on a free
 * connection, opened on demand (PQconnectStart/PQconnectPoll) and reused;
 * one that finds every connection busy waits in a FIFO queue.  A connection
 * that breaks is closed and replaced on next use; the request in it gets a
 * 502 naming the database's error.  Stopping never blocks (PQcancel would):
 * a running query is left to finish and its result dropped.
 *
 * Known gaps: a host name in the conninfo is resolved with a blocking
 * getaddrinfo() inside PQconnectStart (use a unix socket directory or
 * hostaddr=); there is no connect or query timeout of its own.
 * Errors: NULL with a message at creation; a failed query is the item's
 * result (502).
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORK_DB_H
#define SYNCASYNC_ASYNC_FCGI_WORK_DB_H

#include <stddef.h>

#include "async_fcgi/work_item.h"

struct event_base;
struct work_db;

/* A pool of at most size connections to conninfo (copied), none opened
 * yet; finished items go to finish(finish_arg, item), never from inside
 * work_db_start() or work_db_stop().  NULL with a message in err. */
struct work_db *work_db_new(work_finish_fn finish, void *finish_arg,
    struct event_base *base, const char *conninfo, unsigned size, char *err,
    size_t errlen);
/* Closes every connection; requests still in it are dropped. */
void work_db_free(struct work_db *db);	/* NULL is a no-op */

void work_db_start(struct work_db *db, struct work_item *item);
/* Forgets item, queued or running. */
void work_db_stop(struct work_db *db, struct work_item *item);
/* db_connections, db_busy, db_queued. */
size_t work_db_counters(const struct work_db *db, struct work_counter *out,
    size_t max);

#endif
