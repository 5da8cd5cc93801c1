/* SPDX-License-Identifier: ISC */
/*
 * work_db.c - libpq's asynchronous API on the loop (work_db.h).
 *
 * Each slot of the pool is a small state machine:
 *
 *   CLOSED --PQconnectStart--> CONNECTING --PQconnectPoll OK--> IDLE
 *   IDLE --PQsendQueryParams--> BUSY --PQgetResult NULL--> IDLE
 *   any state, the connection broken --> CLOSED
 *
 * Its socket is watched for what libpq asks (PQconnectPoll's READING or
 * WRITING; while BUSY, readable, and writable until PQflush has sent the
 * query; while IDLE, readable: the server ending the connection).  libpq may
 * change the socket while connecting, so the watch follows PQsocket().
 * Finished requests go back through the finish callback (work_driver.c
 * delivers them).
 */
#include "config.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_fcgi/loop_io.h"
#include "async_fcgi/work_db.h"
#include "async_fcgi/work_item.h"

enum slot_state {
	SLOT_CLOSED,
	SLOT_CONNECTING,
	SLOT_IDLE,
	SLOT_BUSY,
};

struct work_db_slot {
	struct work_db	*db;
	PGconn		*conn;
	struct loop_watch *watch;
	enum slot_state	 state;
	struct work_item *req;		/* NULL: none, or cancelled */
	struct work_result result;	/* of the query in progress */
};

struct work_db {
	work_finish_fn	 finish;	/* hands back finished requests */
	void		*finish_arg;
	struct event_base *base;
	char		*conninfo;
	struct work_db_slot *slots;
	unsigned	 size;
	unsigned	 queued;
	struct work_item_list waiting;
	int		 dispatching;
};

static void	slot_io(int, int, void *);
static void	db_dispatch(struct work_db *);

/* req's outcome is ready: the driver delivers it. */
static void
db_finish(struct work_db *db, struct work_item *req,
    const struct work_result *result)
{
	req->result = *result;
	db->finish(db->finish_arg, req);
}

/* Forgets the connection: the watch first (it must not outlive the fd). */
static void
slot_close(struct work_db_slot *slot)
{
	loop_watch_free(slot->watch);
	slot->watch = NULL;
	if (slot->conn != NULL)
		PQfinish(slot->conn);
	slot->conn = NULL;
	slot->state = SLOT_CLOSED;
}

/* The connection failed: close it, the request in it gets a 502. */
static void
slot_fail(struct work_db_slot *slot, const char *what)
{
	struct work_item *req = slot->req;
	struct work_result result;

	work_result_set(&result, 502, what, slot->conn != NULL ?
	    PQerrorMessage(slot->conn) : "out of memory");
	slot->req = NULL;
	slot_close(slot);
	if (req != NULL)
		db_finish(slot->db, req, &result);
}

/* Watches the connection's current socket for events; -1 on failure. */
static int
slot_watch(struct work_db_slot *slot, int events)
{
	int fd = PQsocket(slot->conn);

	if (fd < 0)
		return -1;
	/*
	 * While connecting, libpq may close its socket and open another for the
	 * next address (try_next_addr); the new one usually gets the same
	 * number, and epoll forgot the old registration when it was closed.
	 * So every connect step registers afresh.
	 */
	if (slot->watch != NULL && (slot->state == SLOT_CONNECTING ||
	    loop_watch_fd(slot->watch) != fd)) {
		loop_watch_free(slot->watch);
		slot->watch = NULL;
	}
	if (slot->watch == NULL) {
		slot->watch = loop_watch_new(slot->db->base, fd, events,
		    slot_io, slot);
		return slot->watch != NULL ? 0 : -1;
	}
	return loop_watch_set(slot->watch, events);
}

/* Sends the query of slot->req. */
static void
slot_send(struct work_db_slot *slot)
{
	char seconds[32];
	const char *values[1] = { seconds };
	int flushed;

	slot->state = SLOT_BUSY;
	slot->result.status = 0;
	slot->result.error[0] = '\0';
	work_seconds_text(slot->req->sleep_us, seconds, sizeof(seconds));
	if (PQsendQueryParams(slot->conn, WORK_DB_QUERY, 1, NULL, values,
	    NULL, NULL, 0) == 0 || (flushed = PQflush(slot->conn)) == -1) {
		slot_fail(slot, "database query failed");
		return;
	}
	if (slot_watch(slot, flushed ? LOOP_READ | LOOP_WRITE : LOOP_READ) ==
	    -1)
		slot_fail(slot, "database query failed");
}

/* An idle connection: watch for the server ending it. */
static void
slot_idle(struct work_db_slot *slot)
{
	slot->state = SLOT_IDLE;
	if (slot_watch(slot, LOOP_READ) == -1)
		slot_close(slot);
}

/* One PQconnectPoll step (PQconnectStart counts as WRITING). */
static void
slot_connect_step(struct work_db_slot *slot, PostgresPollingStatusType st)
{
	switch (st) {
	case PGRES_POLLING_READING:
		if (slot_watch(slot, LOOP_READ) == -1)
			slot_fail(slot, "database connection failed");
		return;
	case PGRES_POLLING_WRITING:
		if (slot_watch(slot, LOOP_WRITE) == -1)
			slot_fail(slot, "database connection failed");
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(slot->conn, 1) == -1) {
			slot_fail(slot, "database connection failed");
			return;
		}
		if (slot->req != NULL)
			slot_send(slot);
		else
			slot_idle(slot);
		return;
	default:
		slot_fail(slot, "database connection failed");
		return;
	}
}

static void
slot_connect(struct work_db_slot *slot)
{
	slot->state = SLOT_CONNECTING;
	slot->conn = PQconnectStart(slot->db->conninfo);
	if (slot->conn == NULL || PQstatus(slot->conn) == CONNECTION_BAD) {
		slot_fail(slot, "database connection failed");
		return;
	}
	slot_connect_step(slot, PGRES_POLLING_WRITING);
}

/* The query is over (its last result read): back to the pool. */
static void
slot_query_done(struct work_db_slot *slot)
{
	struct work_item *req = slot->req;

	slot->req = NULL;
	if (PQstatus(slot->conn) != CONNECTION_OK)
		slot_close(slot);
	else
		slot_idle(slot);
	if (req != NULL)
		db_finish(slot->db, req, &slot->result);
}

/* BUSY: finish sending, then read results as they come. */
static void
slot_query_io(struct work_db_slot *slot, int events)
{
	PGresult *res;
	int flushed;

	if (events & LOOP_WRITE) {
		if ((flushed = PQflush(slot->conn)) == -1) {
			slot_fail(slot, "database query failed");
			return;
		}
		if (flushed == 0 && slot_watch(slot, LOOP_READ) == -1) {
			slot_fail(slot, "database query failed");
			return;
		}
	}
	if (!(events & LOOP_READ))
		return;
	if (PQconsumeInput(slot->conn) == 0) {
		slot_fail(slot, "database query failed");
		return;
	}
	while (!PQisBusy(slot->conn)) {
		if ((res = PQgetResult(slot->conn)) == NULL) {
			slot_query_done(slot);
			return;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		    slot->result.status == 0)
			work_result_set(&slot->result, 502,
			    "database query failed", PQresultErrorMessage(res));
		PQclear(res);
	}
}

/* IDLE and readable: a notice, or the server ending the connection. */
static void
slot_idle_read(struct work_db_slot *slot)
{
	PGresult *res;

	if (PQconsumeInput(slot->conn) == 0 ||
	    PQstatus(slot->conn) != CONNECTION_OK) {
		slot_close(slot);
		return;
	}
	while (!PQisBusy(slot->conn) && (res = PQgetResult(slot->conn)) !=
	    NULL)
		PQclear(res);
	if (PQstatus(slot->conn) != CONNECTION_OK)
		slot_close(slot);
}

static void
slot_io(int fd, int events, void *arg)
{
	struct work_db_slot *slot = arg;
	struct work_db *db = slot->db;

	switch (slot->state) {
	case SLOT_CONNECTING:
		slot_connect_step(slot, PQconnectPoll(slot->conn));
		break;
	case SLOT_BUSY:
		slot_query_io(slot, events);
		break;
	case SLOT_IDLE:
		slot_idle_read(slot);
		break;
	case SLOT_CLOSED:
		break;
	}
	db_dispatch(db);
}

/* Gives waiting requests to idle slots, then to closed ones (connecting). */
static void
db_dispatch(struct work_db *db)
{
	struct work_item *req;
	struct work_db_slot *slot;
	unsigned i;

	if (db->dispatching)
		return;
	db->dispatching = 1;
	while ((req = TAILQ_FIRST(&db->waiting)) != NULL) {
		slot = NULL;
		for (i = 0; i < db->size && slot == NULL; i++)
			if (db->slots[i].state == SLOT_IDLE)
				slot = &db->slots[i];
		for (i = 0; i < db->size && slot == NULL; i++)
			if (db->slots[i].state == SLOT_CLOSED)
				slot = &db->slots[i];
		if (slot == NULL)
			break;
		TAILQ_REMOVE(&db->waiting, req, entry);
		db->queued--;
		req->state = WORK_ITEM_RUNNING;
		req->running = slot;
		slot->req = req;
		if (slot->state == SLOT_IDLE)
			slot_send(slot);
		else
			slot_connect(slot);
	}
	db->dispatching = 0;
}

struct work_db *
work_db_new(work_finish_fn finish, void *finish_arg, struct event_base *base,
    const char *conninfo, unsigned size, char *err, size_t errlen)
{
	struct work_db *db = calloc(1, sizeof(*db));

	if (db == NULL || size == 0)
		goto fail;
	db->finish = finish;
	db->finish_arg = finish_arg;
	db->base = base;
	db->size = size;
	TAILQ_INIT(&db->waiting);
	if ((db->conninfo = strdup(conninfo)) == NULL ||
	    (db->slots = calloc(size, sizeof(*db->slots))) == NULL)
		goto fail;
	for (unsigned i = 0; i < size; i++)
		db->slots[i].db = db;
	return db;
fail:
	snprintf(err, errlen, "cannot set up the database pool: %s",
	    size == 0 ? "no connections" : "out of memory");
	work_db_free(db);
	return NULL;
}

void
work_db_free(struct work_db *db)
{
	unsigned i;

	if (db == NULL)
		return;
	for (i = 0; db->slots != NULL && i < db->size; i++)
		slot_close(&db->slots[i]);
	free(db->slots);
	free(db->conninfo);
	free(db);
}

void
work_db_start(struct work_db *db, struct work_item *req)
{
	req->state = WORK_ITEM_QUEUED;
	TAILQ_INSERT_TAIL(&db->waiting, req, entry);
	db->queued++;
	db_dispatch(db);
}

void
work_db_stop(struct work_db *db, struct work_item *req)
{
	struct work_db_slot *slot = req->running;

	if (req->state == WORK_ITEM_QUEUED) {
		TAILQ_REMOVE(&db->waiting, req, entry);
		db->queued--;
	} else if (slot != NULL)
		slot->req = NULL;	/* the query runs on; its result is
					   dropped */
}

size_t
work_db_counters(const struct work_db *db, struct work_counter *out,
    size_t max)
{
	unsigned i, open = 0, busy = 0;

	for (i = 0; i < db->size; i++) {
		open += db->slots[i].state != SLOT_CLOSED;
		busy += db->slots[i].state == SLOT_BUSY ||
		    db->slots[i].state == SLOT_CONNECTING;
	}
	if (max < 3)
		return 0;
	out[0].name = "db_connections";
	out[0].value = open;
	out[1].name = "db_busy";
	out[1].value = busy;
	out[2].name = "db_queued";
	out[2].value = db->queued;
	return 3;
}
