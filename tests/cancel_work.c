/* SPDX-License-Identifier: ISC */
/*
 * cancel_work.c - helper for tests/work_cancel.py: a blocking db or http
 * work of an hour on an offload pool worker, cancelled once it is really
 * under way, against the real server the test started.
 *
 *   cancel_work db CONNINFO     SELECT pg_sleep(3600), PQcancel'd
 *   cancel_work http BASE-URL   GET BASE/hang, aborted by libcurl's
 *                               progress callback
 *
 * "Under way" is a readiness check, not a sleep: the query shows as active
 * in pg_stat_activity (a second connection, libpq linked here), or the
 * transfer's TCP connection is ESTABLISHED in /proc/net/tcp.  Then one more
 * work of 0.2 s on the same worker (the same database connection, for db).
 * Prints "key=value" lines for the test; exit 0 unless a step failed.
 */
#include "config.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_fcgi/offload_pool.h"
#include "common/clock.h"
#include "common/settings.h"
#include "common/work_blocking.h"

#define READY_US	(20ULL * 1000000ULL)	/* readiness, at most */
#define HOUR_US		(3600ULL * 1000000ULL)

struct work_job {
	struct offload_job	 job;
	const struct settings	*settings;
	uint64_t		 sleep_us;
	struct work_result	 result;
	int			 done;
};

static void
job_work(struct offload_job *job)
{
	struct work_job *wj = (struct work_job *)(void *)job;

	work_blocking_run_cancellable(wj->settings, wj->sleep_us, job->token,
	    &wj->result);
}

static void
job_done(struct offload_job *job)
{
	((struct work_job *)(void *)job)->done = 1;
}

/* Drains until wj is done; 0, or -1 after 20 s. */
static int
wait_done(struct offload_pool *pool, struct work_job *wj)
{
	struct pollfd pfd = { .fd = offload_pool_fd(pool), .events = POLLIN };
	int64_t deadline = clock_mono_us() + 20000000;

	while (!wj->done) {
		if (clock_mono_us() > deadline)
			return -1;
		if (poll(&pfd, 1, 1000) == 1)
			offload_pool_drain(pool);
	}
	return 0;
}

/* 1 when a pg_sleep query is active on the server. */
static int
db_query_active(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'");
	int active = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) > 0;

	PQclear(res);
	return active;
}

/* 1 when a TCP connection to port is ESTABLISHED (state 01). */
static int
http_connected(unsigned port)
{
	char line[512];
	unsigned rport, state;
	FILE *f = fopen("/proc/net/tcp", "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, " %*u: %*x:%*x %*x:%x %x", &rport,
		    &state) == 2 && rport == port && state == 1;
	fclose(f);
	return found;
}

int
main(int argc, char **argv)
{
	static struct settings	 settings, quick;
	struct offload_pool	*pool;
	struct work_job		 slow = { .job = { .work = job_work,
				    .done = job_done } }, next;
	char			 err[SA_ERROR_MAX], hang[SA_WORK_URL_MAX],
				 fast[SA_WORK_URL_MAX];
	PGconn			*probe = NULL;
	int64_t			 deadline, start, call_us, took_us;
	unsigned		 port = 0;
	int			 ready = 0, is_db;

	if (argc != 3 || (strcmp(argv[1], "db") != 0 &&
	    strcmp(argv[1], "http") != 0)) {
		fprintf(stderr, "usage: cancel_work db CONNINFO | "
		    "cancel_work http BASE-URL\n");
		return 2;
	}
	is_db = strcmp(argv[1], "db") == 0;
	settings.work = is_db ? WORK_DB : WORK_HTTP;
	settings.db = argv[2];
	settings.upstream_timeout_us = HOUR_US;
	snprintf(hang, sizeof(hang), "%s/hang", argv[2]);
	snprintf(fast, sizeof(fast), "%s/slow", argv[2]);
	settings.upstream = hang;
	quick = settings;
	quick.upstream = fast;
	if (!is_db && sscanf(argv[2], "http://127.0.0.1:%u", &port) != 1) {
		fprintf(stderr, "cancel_work: want http://127.0.0.1:PORT\n");
		return 2;
	}
	if (work_blocking_load(settings.work, err, sizeof(err)) == -1 ||
	    (pool = offload_pool_start(1, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "cancel_work: %s\n", err);
		return 1;
	}
	if (is_db && PQstatus(probe = PQconnectdb(argv[2])) != CONNECTION_OK) {
		fprintf(stderr, "cancel_work: %s", PQerrorMessage(probe));
		return 1;
	}

	slow.settings = &settings;
	slow.sleep_us = HOUR_US;
	if (offload_pool_submit(pool, &slow.job) == -1)
		return 1;
	deadline = clock_mono_us() + (int64_t)READY_US;
	while (!ready && clock_mono_us() < deadline) {
		ready = is_db ? db_query_active(probe) : http_connected(port);
		if (!ready)
			clock_sleep_us(10000);	/* poll the state, 10 ms */
	}
	printf("ready=%d\n", ready);
	start = clock_mono_us();
	offload_pool_cancel(pool, &slow.job);
	call_us = clock_mono_us() - start;
	if (wait_done(pool, &slow) == -1) {
		printf("cancelled=timeout\n");
		return 1;
	}
	took_us = clock_mono_us() - start;
	printf("cancel_status=%d\ncancel_error=%s\ncancel_call_ms=%.1f\n"
	    "cancel_took_ms=%.1f\n", slow.result.status, slow.result.error,
	    call_us / 1000.0, took_us / 1000.0);

	next = (struct work_job){ .job = { .work = job_work,
	    .done = job_done }, .settings = &quick, .sleep_us = 200000 };
	if (offload_pool_submit(pool, &next.job) == -1 ||
	    wait_done(pool, &next) == -1)
		return 1;
	printf("next_status=%d\nnext_error=%s\n", next.result.status,
	    next.result.error);
	if (is_db)
		printf("db_active_after=%d\n", db_query_active(probe));
	PQfinish(probe);
	offload_pool_free(pool);
	return 0;
}
