/* SPDX-License-Identifier: ISC */
/*
 * settings.h - the SYNCASYNC_* configuration, read from the environment.
 *
 * Both programs read the same variables (doc/ARCHITECTURE.md, "Settings"); the
 * defaults reproduce the published experiment.  A bad value is reported with
 * the variable's name, never replaced by a default.  async_fcgi applies its
 * command-line options on top of what settings_load() returns.
 */
#ifndef SYNCASYNC_COMMON_SETTINGS_H
#define SYNCASYNC_COMMON_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

enum settings_mode {
	MODE_BLOCK = 0,		/* sleep() on the loop thread: the mistake */
	MODE_TIMER,		/* a loop timer: asyncio.sleep */
	MODE_OFFLOAD,		/* a bounded thread pool: run_in_threadpool */
};

/* What the sleeper's blocking work is (SYNCASYNC_WORK). */
enum settings_work {
	WORK_SLEEP = 0,		/* sleep: the experiment as published */
	WORK_DB,		/* SELECT pg_sleep(seconds) on PostgreSQL */
	WORK_HTTP,		/* GET of a slow upstream */
};

/*
 * SYNCASYNC_SLEEP_ON, which request numbers sleep: "0" (none), "all", or a
 * set of numbers and ranges ("5", "5,7", "3-6"), optionally repeating with
 * "/PERIOD": "5/10" is the 5th of every 10 (5, 15, 25, ...), "1-2/10" is
 * 1, 2, 11, 12, ...; every number of a repeating set is at most PERIOD.
 */
struct settings_sleep_on {
	unsigned	count;		/* ranges; 0 = none */
	uint64_t	period;		/* 0: once; else the set repeats */
	struct {
		uint64_t first, last;	/* 1 <= first <= last */
	}		range[SA_SLEEP_ON_TERMS_MAX];
};

struct settings {
	uint64_t	sleep_us;	/* SYNCASYNC_SLEEP_SECONDS */
	struct settings_sleep_on sleep_on; /* SYNCASYNC_SLEEP_ON */
	int		sleep_all;	/* SYNCASYNC_SLEEP_ON=all (benchmarks) */
	enum settings_mode mode;	/* SYNCASYNC_ASYNC_MODE */
	uint64_t	pool_threads;	/* SYNCASYNC_POOL_THREADS */
	uint64_t	pool_queue;	/* SYNCASYNC_POOL_QUEUE: jobs waiting */
	const char     *state_dir;	/* SYNCASYNC_STATE_DIR */
	int		query_overrides; /* SYNCASYNC_QUERY_OVERRIDES */
	enum settings_work work;	/* SYNCASYNC_WORK */
	const char     *db;		/* SYNCASYNC_DB (libpq conninfo), or NULL */
	const char     *upstream;	/* SYNCASYNC_UPSTREAM (URL), or NULL */
	uint64_t	db_pool;	/* SYNCASYNC_DB_POOL: connections */
	uint64_t	upstream_timeout_us; /* SYNCASYNC_UPSTREAM_TIMEOUT */
};

#define SETTINGS_ERROR_MAX SA_ERROR_MAX	/* former name */

/*
 * Fills *s from the environment, starting from the defaults; state_dir
 * defaults to default_state_dir.  Returns 0, or -1 with a message naming the
 * variable and the bad value (sanitised) in err.
 */
int settings_load(struct settings *s, const char *default_state_dir,
    char *err, size_t errlen);

/*
 * Parses text in SYNCASYNC_SLEEP_ON's syntax (above) into s->sleep_on and
 * s->sleep_all (async_fcgi's --sleep-on uses it too).  Returns 0, or -1
 * with the reason (without the variable's name) in why; s is untouched.
 */
int settings_parse_sleep_on(const char *text, struct settings *s,
    char *why, size_t whylen);

/* Whether request number request_no (from 1) is a sleeper of s. */
int settings_sleeps(const struct settings *s, uint64_t request_no);

/* The canonical text of s's sleepers ("5", "3-6,9/10", "all", "0"). */
void settings_sleep_on_text(const struct settings *s, char *out,
    size_t outlen);

/* Parses a mode name ("block", "timer" or its alias "async", "offload"). */
int settings_parse_mode(const char *text, enum settings_mode *mode);

/* The contract's name of a mode: "block", "timer", "offload". */
const char *settings_mode_name(enum settings_mode mode);

/*
 * The response's "mode" field for a mode and a kind of work: as
 * settings_mode_name(), except that the non-blocking mode is "async" for db
 * and http work ("timer" is only right for a sleep).
 */
const char *settings_mode_label(enum settings_mode mode,
    enum settings_work work);

/* Parses a work name ("sleep", "db", "http"); 0 or -1. */
int settings_parse_work(const char *text, enum settings_work *work);
const char *settings_work_name(enum settings_work work);

/*
 * Checks an upstream URL: http:// or https://, a host, and a last path
 * segment that is none of the responder's own routes (async, sync, pool,
 * stats), since the upstream must never be the responder itself.  Returns
 * 0, or -1 with the reason in err.
 */
int settings_check_upstream(const char *url, char *err, size_t errlen);

/*
 * Copies text into out (size outlen) for a log line or an error message:
 * non-printable bytes become '.', and an ellipsis marks truncation.
 */
void settings_sanitise(const char *text, char *out, size_t outlen);

#endif
