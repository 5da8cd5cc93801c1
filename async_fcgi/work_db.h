/*
 * work_db.h - the db work without blocking the loop: libpq's asynchronous
 * API over a bounded, lazily opened pool of connections.
 *
 * A request runs WORK_DB_QUERY (common/work_blocking.h) on a free
 * connection of the pool.  Connections are opened on demand with
 * PQconnectStart/PQconnectPoll, their sockets watched by the loop
 * (loop_io.h), and reused; a request that finds every connection busy
 * waits in a FIFO queue.  The query is sent with PQsendQueryParams and
 * read with PQconsumeInput/PQisBusy/PQgetResult as the socket becomes
 * readable.  A connection that breaks (the server stopped, a network
 * error) is closed and replaced on next use; the request in it gets a 502
 * naming the database's error.  Idle connections are watched too, so one
 * the server ended is noticed before a request is given to it.
 *
 * Completion is reported through req->done on the loop thread, never from
 * inside work_db_submit() or work_db_cancel().  Cancelling never blocks
 * (PQcancel would): a running query is left to finish, its result is
 * dropped and its connection goes back to the pool.
 *
 * Not done: a host name in the conninfo is resolved by libpq with a
 * blocking getaddrinfo() inside PQconnectStart (use a unix socket
 * directory or hostaddr=); there is no connect or query timeout of its own.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_WORK_DB_H
#define SYNCASYNC_ASYNC_FCGI_WORK_DB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/work_blocking.h"

struct event_base;
struct work_db;
struct work_db_slot;

struct work_db_req {
	/* Set by the caller before work_db_submit(): */
	void		(*done)(struct work_db_req *req);
	/* Filled before done() runs: */
	struct work_result result;
	/* Private: */
	uint64_t	 sleep_us;
	int		 where;
	struct work_db_slot *slot;
	TAILQ_ENTRY(work_db_req) entry;
};

/*
 * A pool of at most size connections to conninfo (copied), none opened
 * yet, on base.  NULL with a message in err when out of memory.
 */
struct work_db *work_db_new(struct event_base *base, const char *conninfo,
    unsigned size, char *err, size_t errlen);

/* Closes every connection; requests still in it are dropped without
 * done() (their owners cancelled them first).  NULL is a no-op. */
void work_db_free(struct work_db *db);

/* Runs the query for sleep_us on behalf of req; done() follows once. */
void work_db_submit(struct work_db *db, struct work_db_req *req,
    uint64_t sleep_us);

/* Forgets req (queued, running or finished): done() will not run. */
void work_db_cancel(struct work_db *db, struct work_db_req *req);

/* For /async/stats. */
unsigned work_db_open(const struct work_db *db);	/* connections */
unsigned work_db_busy(const struct work_db *db);	/* in use */
unsigned work_db_queued(const struct work_db *db);	/* waiting */

#endif
