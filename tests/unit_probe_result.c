/* SPDX-License-Identifier: ISC */
/*
 * unit_probe_result.c - the probe's body parser and its verdict rule.
 *
 * Parses fixed bodies (good, missing field, wrong type, not JSON, error
 * bodies) and judges fixed result sets: a staircase (blocked, with the count),
 * a flat line (not blocked), no sleeper, failures, and --sleep overriding the
 * server-side span.  Build with probe/probe_result.c and json-c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "probe/probe_result.h"
#include "tests/tap.h"

#define T0 1764000000000000LL	/* µs, an arbitrary epoch time */

static int
parse(struct probe_result *row, const char *body)
{
	probe_result_init(row, 0, 0);
	row->http_status = 200;
	return probe_result_parse_body(row, body, strlen(body));
}

static void
test_parse(void)
{
	struct probe_result row;
	const char *good = "{\"message\": \"async example (sleep)\", "
	    "\"thread_id\": 1234, \"pid\": 99, \"request_time\": "
	    "\"2026-11-24 13:05:37\", \"request_no\": 5, \"started_us\": "
	    "1764000000000000, \"finished_us\": 1764000002000000, "
	    "\"mode\": \"block\"}";

	TAP_EQ_INT(parse(&row, good), 0, "good body parses");
	TAP_OK(probe_result_ok(&row), "good body: row ok");
	TAP_EQ_STR(row.message, "async example (sleep)", "message");
	TAP_EQ_INT(row.thread_id, 1234, "thread_id");
	TAP_EQ_INT(row.pid, 99, "pid");
	TAP_EQ_STR(row.request_time, "2026-11-24 13:05:37", "request_time");
	TAP_EQ_INT(row.request_no, 5, "request_no");
	TAP_EQ_INT(row.finished_us - row.started_us, 2000000, "span");
	TAP_EQ_STR(row.mode, "block", "mode");
	TAP_OK(probe_result_is_sleeper(&row), "sleeper recognised");

	TAP_EQ_INT(parse(&row, "{\"message\": \"sync example\", \"thread_id\": 1, "
	    "\"pid\": 1, \"request_time\": \"x\", \"request_no\": 1, "
	    "\"started_us\": 1, \"finished_us\": 2}"), 0, "mode is optional");
	TAP_EQ_STR(row.mode, "", "absent mode is empty");
	TAP_OK(!probe_result_is_sleeper(&row), "not a sleeper");
	TAP_EQ_INT(row.waited_us, 0, "absent waited_us is 0");
	TAP_EQ_INT(parse(&row, "{\"message\": \"sync example\", \"thread_id\": 1, "
	    "\"pid\": 1, \"request_time\": \"x\", \"request_no\": 1, "
	    "\"started_us\": 1, \"finished_us\": 2, \"waited_us\": 750}"), 0,
	    "waited_us parses");
	TAP_EQ_INT(row.waited_us, 750, "  its value");
	TAP_EQ_INT(parse(&row, "{\"message\": \"sync example\", \"thread_id\": 1, "
	    "\"pid\": 1, \"request_time\": \"x\", \"request_no\": 1, "
	    "\"started_us\": 1, \"finished_us\": 2, \"waited_us\": -1}"), -1,
	    "a negative waited_us is refused");

	TAP_EQ_INT(parse(&row, "{\"message\": \"async example\", \"pid\": 1}"),
	    -1, "missing field fails");
	TAP_EQ_STR(row.error, "body is not the contract JSON: missing thread_id",
	    "missing field named");
	TAP_OK(!probe_result_ok(&row), "missing field: row not ok");

	TAP_EQ_INT(parse(&row, "{\"message\": \"a\", \"thread_id\": \"12\", "
	    "\"pid\": 1}"), -1, "wrong type fails");
	TAP_EQ_STR(row.error,
	    "body is not the contract JSON: thread_id is not an integer",
	    "wrong type named");
	TAP_EQ_INT(parse(&row, "{\"message\": 7}"), -1, "message not a string");
	TAP_EQ_STR(row.error,
	    "body is not the contract JSON: message is not a string",
	    "message type named");

	TAP_EQ_INT(parse(&row, "<html>oops</html>"), -1, "not JSON fails");
	TAP_EQ_STR(row.error, "body is not JSON", "not JSON named");
	TAP_EQ_INT(parse(&row, "{\"message\": \"a\"} trailing"), -1,
	    "trailing bytes fail");
	TAP_EQ_INT(parse(&row, "[1, 2]"), -1, "array fails");
	TAP_EQ_INT(parse(&row, ""), -1, "empty body fails");
	TAP_EQ_INT(parse(&row, "{\"message\": \"a\", \"thread_id\": 1, "
	    "\"pid\": 1, \"request_time\": \"x\", \"request_no\": 1, "
	    "\"started_us\": 5, \"finished_us\": 2}"), -1,
	    "finished before started fails");
	TAP_EQ_INT(parse(&row, "{\"message\": \"a\\u0007b\", \"thread_id\": 1, "
	    "\"pid\": 1, \"request_time\": \"x\", \"request_no\": 1, "
	    "\"started_us\": 1, \"finished_us\": 2}"), 0, "control byte parses");
	TAP_EQ_STR(row.message, "a.b", "control byte replaced");
	TAP_EQ_INT(parse(&row, "{\"message\": \"a\\u009bb\", \"thread_id\": 1, "
	    "\"pid\": 1, \"request_time\": \"x\", \"request_no\": 1, "
	    "\"started_us\": 1, \"finished_us\": 2}"), 0, "C1 control parses");
	TAP_EQ_STR(row.message, "a..b",
	    "  its two UTF-8 bytes replaced (a terminal would obey CSI)");

	probe_result_init(&row, 0, 0);
	row.http_status = 500;
	probe_result_parse_error_body(&row, "{\"error\": \"bad mode\"}", 21);
	TAP_EQ_STR(row.error, "HTTP 500: bad mode", "error field kept");
	probe_result_init(&row, 0, 0);
	row.http_status = 404;
	probe_result_parse_error_body(&row, "Not Found", 9);
	TAP_EQ_STR(row.error, "HTTP 404", "non-JSON error body");
}

/*
 * A row answered after latency_ms, handled by the server from start_ms to
 * end_ms (all relative to T0); sleeper rows say so in their message.
 */
static void
make_row(struct probe_result *row, size_t i, int64_t no, int64_t thread,
    double start_ms, double end_ms, double latency_ms, int sleeper)
{
	probe_result_init(row, 0, i);
	row->sent_us = T0;
	row->received_us = T0 + (int64_t)(latency_ms * 1000);
	row->http_status = 200;
	row->parsed = 1;
	snprintf(row->message, sizeof(row->message), "async example%s",
	    sleeper ? " (sleep)" : "");
	row->thread_id = thread;
	row->pid = 42;
	row->request_no = no;
	row->started_us = T0 + (int64_t)(start_ms * 1000);
	row->finished_us = T0 + (int64_t)(end_ms * 1000);
}

/* Ten requests, number 5 sleeping 2 s; blocking: 6..10 wait for it. */
static void
make_set(struct probe_result *rows, int blocking)
{
	int64_t i;

	for (i = 0; i < 10; i++) {
		int64_t no = i + 1;

		if (no == 5)
			make_row(&rows[i], (size_t)i, no, 7, 1, 2001, 2002, 1);
		else if (no > 5 && blocking)
			make_row(&rows[i], (size_t)i, no, 7, 2001, 2001.5,
			    2002, 0);
		else
			make_row(&rows[i], (size_t)i, no,
			    blocking ? 7 : 100 + no, 1, 1.5, 2 + (double)no, 0);
	}
}

static void
test_summary(void)
{
	struct probe_result rows[10];
	struct probe_summary sum;
	size_t order[10], i;

	make_set(rows, 1);
	probe_result_summarize(rows, 10, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "blocked",
	    "staircase: blocked");
	TAP_EQ_INT(sum.held_up, 5, "staircase: 5 held up");
	TAP_EQ_INT(sum.others, 9, "staircase: 9 others");
	TAP_EQ_INT(sum.distinct_threads, 1, "staircase: one thread");
	TAP_EQ_INT(sum.distinct_pids, 1, "one pid");
	TAP_EQ_INT(sum.sleeper_request_no, 5, "sleeper is #5");
	TAP_OK(sum.sleep_s > 1.99 && sum.sleep_s < 2.01,
	    "sleep from the server-side span");
	TAP_OK(!sum.sleep_from_option, "sleep source is the server");
	TAP_OK(sum.others_latency.min_ms > 2.9 &&
	    sum.others_latency.min_ms < 3.1, "others min latency");
	TAP_OK(sum.others_latency.max_ms > 2001 &&
	    sum.others_latency.max_ms < 2003, "others max latency");
	TAP_OK(sum.others_latency.median_ms > 2001, "others median latency");
	TAP_OK(sum.sleeper_latency.count == 1 &&
	    sum.sleeper_latency.median_ms > 2001, "sleeper latency");

	/* With --sleep 10 the threshold is 5 s: nobody waited that long. */
	probe_result_summarize(rows, 10, 10.0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "not blocked",
	    "--sleep overrides the span");
	TAP_OK(sum.sleep_from_option, "sleep source is the option");

	make_set(rows, 0);
	probe_result_summarize(rows, 10, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "not blocked",
	    "flat: not blocked");
	TAP_EQ_INT(sum.held_up, 0, "flat: none held up");
	TAP_EQ_INT(sum.distinct_threads, 10, "flat: ten threads");
	TAP_OK(sum.others_latency.median_ms > 7.9 &&
	    sum.others_latency.median_ms < 8.1, "flat: median of 9");

	make_set(rows, 0);
	rows[4].message[strlen("async example")] = '\0';
	probe_result_summarize(rows, 10, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "no sleeper",
	    "no sleeper");
	TAP_EQ_INT(sum.sleeper_request_no, -1, "no sleeper number");
	TAP_EQ_INT(sum.held_up, 0, "no sleeper: none held up");

	make_set(rows, 1);
	probe_result_set_error(&rows[9], "timeout after 1 s");
	rows[9].parsed = 0;
	probe_result_summarize(rows, 10, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "failed",
	    "a failure: failed");
	TAP_EQ_INT(sum.failed, 1, "one failed");
	TAP_EQ_INT(sum.ok, 9, "nine ok");
	TAP_EQ_INT(sum.held_up, 4, "held up still counted");

	probe_result_order(rows, 10, order);
	TAP_EQ_INT(order[0], 0, "order: #1 first");
	TAP_EQ_INT(order[9], 9, "order: failure last");
	rows[0].request_no = 11;
	probe_result_order(rows, 10, order);
	TAP_EQ_INT(order[8], 0, "order: by request number");

	probe_result_summarize(rows, 0, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "failed",
	    "empty set: failed");

	TAP_OK(probe_result_common_error(rows, 10) == NULL,
	    "common error: none while one succeeded");
	for (i = 0; i < 10; i++)
		probe_result_set_error(&rows[i], "timeout after 1 s");
	TAP_EQ_STR(probe_result_common_error(rows, 10), "timeout after 1 s",
	    "common error: all failed alike");
	probe_result_set_error(&rows[3], "HTTP 502");
	TAP_OK(probe_result_common_error(rows, 10) == NULL,
	    "common error: none when two differ");
	TAP_OK(probe_result_common_error(rows, 0) == NULL,
	    "common error: none for no rows");
}

/*
 * The two ways of waiting, told apart: offload with a pool of 2 and 4
 * sleepers of 2 s (the last two wait a full sleep, and the server says so;
 * quick requests fly), and /pool with 2 workers and 2 sleepers (quick
 * requests wait in the backlog while both pids sleep: the server cannot say
 * it, the probe infers it).  A blocked loop is neither.
 */
static void
test_queued(void)
{
	struct probe_result rows[10];
	struct probe_summary sum;
	int64_t i;

	for (i = 0; i < 8; i++) {
		int64_t no = i + 1;

		if (no <= 2)		/* a worker at once */
			make_row(&rows[i], (size_t)i, no, 10 + no, 1, 2001,
			    2002, 1);
		else if (no <= 4) {	/* a worker after 2 s */
			make_row(&rows[i], (size_t)i, no, 10 + no - 2, 1, 4001,
			    4002, 1);
			rows[i].waited_us = 2000000;
		} else
			make_row(&rows[i], (size_t)i, no, 7, 1, 1.5, 3, 0);
		snprintf(rows[i].mode, sizeof(rows[i].mode), "offload");
	}
	probe_result_summarize(rows, 8, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "queued",
	    "offload past its pool: queued");
	TAP_OK(sum.sleep_s > 1.99 && sum.sleep_s < 2.01,
	    "  the sleep leaves out the time queued");
	TAP_EQ_INT(sum.held_up, 0, "  quick requests flew");
	TAP_EQ_INT(sum.queued, 2, "  two waited");
	TAP_EQ_INT(sum.queued_sleepers, 2, "  both sleepers");
	TAP_EQ_INT(probe_result_work_start_us(&rows[2]) - rows[2].started_us,
	    2000000, "  a picture starts their work once they had a thread");
	TAP_EQ_INT(probe_result_work_start_us(&rows[0]), rows[0].started_us,
	    "  and the others' at their start");
	rows[2].waited_us = rows[3].waited_us = 0;	/* a server that says 0 */
	probe_result_summarize(rows, 8, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "not blocked",
	    "  without waited_us /async cannot be judged queued");

	for (i = 0; i < 8; i++) {
		int64_t no = i + 1;

		if (no <= 2)		/* both workers sleep 2 s */
			make_row(&rows[i], (size_t)i, no, 100 + no, 1, 2001,
			    2002, 1);
		else			/* then the queue */
			make_row(&rows[i], (size_t)i, no, 101 + no % 2, 2002,
			    2003, 2004, 0);
		snprintf(rows[i].message, sizeof(rows[i].message),
		    "sync example%s", no <= 2 ? " (sleep)" : "");
		rows[i].pid = rows[i].thread_id;
	}
	probe_result_summarize(rows, 8, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "queued",
	    "/pool with every worker asleep: queued");
	TAP_EQ_INT(sum.held_up, 6, "  six held up");
	TAP_EQ_INT(sum.queued, 6, "  all six queued");
	rows[7].pid = 300;	/* a third worker that was free */
	probe_result_summarize(rows, 8, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "blocked",
	    "  a free worker and still held up: not the pool");

	make_set(rows, 1);	/* the staircase: one pid, one thread */
	probe_result_summarize(rows, 10, 0, &sum);
	TAP_EQ_STR(probe_result_verdict_name(sum.verdict), "blocked",
	    "a blocked loop is not a queue");
	TAP_EQ_INT(sum.queued, 0, "  none queued");
}

int
main(void)
{
	test_parse();
	test_summary();
	test_queued();
	return tap_done();
}
