/* SPDX-License-Identifier: ISC */
/*
 * probe_result.h - the experiment client's result rows and their summary.
 *
 * One struct probe_result per request: what the client saw (send and answer
 * times, HTTP status, error) and what the response said (the contract fields
 * of doc/ARCHITECTURE.md).  probe_result.c parses a body into a row and judges a group of
 * rows (one URL).  Pure: no libevent, no I/O, no global state.
 */
#ifndef SYNCASYNC_PROBE_RESULT_H
#define SYNCASYNC_PROBE_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct json_object;
struct probe_server;

#define PROBE_SLEEP_SUFFIX	" (sleep)"

struct probe_result {
	size_t	url_index;		/* which URL (group) */
	size_t	index;			/* send order within the group, from 0 */
	int64_t	sent_us;		/* CLOCK_REALTIME, µs since the epoch */
	int64_t	received_us;		/* answer or failure; 0 = never */
	int	http_status;		/* 0 = no HTTP response */
	char	error[SA_ERROR_MAX];	/* "" = this request succeeded */

	int	parsed;			/* the contract fields below are valid */
	char	message[SA_PROBE_MESSAGE_MAX];
	int64_t	thread_id;
	int64_t	pid;
	char	request_time[SA_PROBE_TIME_MAX];
	int64_t	request_no;
	int64_t	started_us;		/* server clock, µs since the epoch */
	int64_t	finished_us;
	int64_t	waited_us;		/* the server's queueing; 0 if absent */
	char	mode[SA_PROBE_MODE_MAX];	/* "" when absent (/sync) */
};

enum probe_verdict {
	PROBE_VERDICT_NOT_BLOCKED,
	PROBE_VERDICT_BLOCKED,
	PROBE_VERDICT_NO_SLEEPER,
	PROBE_VERDICT_FAILED,
	PROBE_VERDICT_QUEUED	/* waited behind a full pool, not the loop */
};

struct probe_latency {
	size_t	count;
	double	min_ms;
	double	median_ms;
	double	max_ms;
};

struct probe_summary {
	size_t	requests;
	size_t	ok;
	size_t	failed;
	size_t	distinct_threads;	/* over successful rows */
	size_t	distinct_pids;
	size_t	sleepers;		/* rows whose message ends " (sleep)" */
	int64_t	sleeper_request_no;	/* first sleeper's number, -1 = none */
	double	sleep_s;		/* duration the verdict used */
	int	sleep_from_option;	/* 1: --sleep, 0: server-side span */
	struct probe_latency sleeper_latency;
	struct probe_latency others_latency;
	size_t	others;			/* successful non-sleeper rows */
	size_t	held_up;		/* others slower than sleep_s / 2 */
	size_t	queued;			/* rows that waited behind a full pool */
	size_t	queued_sleepers;	/* of which sleepers */
	enum probe_verdict verdict;
};

/* One URL's requests, as the report and SVG layers see them. */
struct probe_group {
	const char		*url;
	const char		*label;		/* may be NULL */
	struct probe_result	*rows;
	size_t			 count;
	struct probe_summary	 summary;
	struct probe_server	*server;	/* NULL: not an /async URL */
};

struct json_object *probe_result_parse_json(const char *body, size_t len);
void	probe_result_init(struct probe_result *, size_t url_index, size_t index);
void	probe_result_set_error(struct probe_result *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	probe_result_parse_body(struct probe_result *, const char *body,
	    size_t len);
void	probe_result_parse_error_body(struct probe_result *, const char *body,
	    size_t len);
int	probe_result_ok(const struct probe_result *);
int	probe_result_is_sleeper(const struct probe_result *);
double	probe_result_latency_ms(const struct probe_result *);
/* When the server began the row's work: started_us plus what it says the
 * request waited (waited_us), at most finished_us.  Pictures draw from it. */
int64_t	probe_result_work_start_us(const struct probe_result *);
void	probe_result_summarize(const struct probe_result *, size_t count,
	    double expected_sleep_s, struct probe_summary *);
const char *probe_result_verdict_name(enum probe_verdict);
const char *probe_result_common_error(const struct probe_result *,
	    size_t count);
void	probe_result_order(const struct probe_result *, size_t count,
	    size_t *order);

#endif
