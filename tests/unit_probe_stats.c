/* SPDX-License-Identifier: ISC */
/*
 * unit_probe_stats.c - the probe's reading of /async/stats blocked-loop
 * reports, over fixture JSON.
 *
 * Both forms (blocks with frames; the older stalls counters), malformed
 * bodies and fields (each refused with the field's name), hostile strings
 * (sanitised, cut to their buffers), the choice of the reports that belong
 * to a run, the sentences the report prints, and the stats path of a URL.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_result.h"
#include "probe/probe_stats.h"
#include "tests/tap.h"

#define T0 1764000000000000LL	/* µs */
#define NROWS 10

static const char blocks_json[] =
    "{\"pid\": 42, \"stalls\": 1,"
    " \"current_block\": null,"
    " \"recent_blocks\": ["
    "  {\"request_no\": 5, \"method\": \"GET\", \"uri\": \"/modes/block/async\","
    "   \"mode\": \"block\", \"work\": \"sleep\", \"started_us\": 1764000000001000,"
    "   \"duration_ms\": 2001.2, \"active\": false,"
    "   \"frames\": [\"clock_nanosleep (libc.so.6)\","
    "     \"clock_sleep_us (common/clock.c:57)\","
    "     \"run_blocking (async_fcgi/async_handler.c:301)\","
    "     \"async_handler_start (async_fcgi/async_handler.c:380)\","
    "     \"conn_readcb (async_fcgi/fcgi_conn.c:200)\"]},"
    "  {\"request_no\": 3, \"method\": \"GET\", \"uri\": \"/async\","
    "   \"mode\": \"block\", \"work\": \"sleep\", \"started_us\": 1700000000000000,"
    "   \"duration_ms\": 500, \"active\": false, \"frames\": []}"
    " ]}";

static void
make_rows(struct probe_result *rows, int64_t first_no)
{
	int64_t i;

	for (i = 0; i < NROWS; i++) {
		probe_result_init(&rows[i], 0, (size_t)i);
		rows[i].sent_us = T0;
		rows[i].received_us = T0 + 2003000;
		rows[i].parsed = 1;
		rows[i].request_no = first_no + i;
		rows[i].started_us = T0 + 1000 + i;
		rows[i].finished_us = rows[i].started_us + 500;
	}
}

static int
parse(const char *json, struct probe_server *server)
{
	memset(server, 0, sizeof(*server));
	snprintf(server->url, sizeof(server->url), "http://h/async/stats");
	return probe_stats_parse(json, strlen(json), &server->stats,
	    server->error, sizeof(server->error));
}

static void
test_path(void)
{
	char out[64];

	TAP_EQ_INT(probe_stats_path("/x/async", out, sizeof(out)), 0,
	    "path: /x/async has stats");
	TAP_EQ_STR(out, "/x/async/stats", "  /x/async/stats");
	TAP_EQ_INT(probe_stats_path("/modes/block/async/?sleep=3", out,
	    sizeof(out)), 0, "path: trailing slash and query");
	TAP_EQ_STR(out, "/modes/block/async/stats", "  query dropped");
	TAP_EQ_INT(probe_stats_path("/sync", out, sizeof(out)), -1,
	    "path: /sync has none");
	TAP_EQ_INT(probe_stats_path("/pool", out, sizeof(out)), -1,
	    "path: /pool has none");
	TAP_EQ_INT(probe_stats_path("/asyncx", out, sizeof(out)), -1,
	    "path: only the whole segment");
	TAP_EQ_INT(probe_stats_path("/async/stats", out, sizeof(out)), -1,
	    "path: not the stats URL itself");
	TAP_EQ_INT(probe_stats_path("/a/async", out, 8), -1,
	    "path: too long for the buffer");
}

static void
test_blocks(void)
{
	static struct probe_server server;
	struct probe_result rows[NROWS];
	char line[1024];
	size_t i;

	TAP_EQ_INT(parse(blocks_json, &server), 0, "blocks form parsed");
	TAP_EQ_INT(server.stats.form, PROBE_STATS_BLOCKS, "  blocks form");
	TAP_EQ_INT(server.stats.has_current, 0, "  current_block null");
	TAP_EQ_INT(server.stats.nrecent, 2, "  two recent blocks");
	TAP_EQ_INT(server.stats.recent[0].request_no, 5, "  request_no");
	TAP_EQ_STR(server.stats.recent[0].uri, "/modes/block/async", "  uri");
	TAP_EQ_INT(server.stats.recent[0].nframes, 5, "  frames");
	TAP_OK(server.stats.recent[0].duration_ms > 2001.1 &&
	    server.stats.recent[0].duration_ms < 2001.3, "  duration_ms");

	make_rows(rows, 1);
	probe_stats_select(&server, rows, NROWS);
	TAP_EQ_INT(server.nblocks, 2, "select: both name one of the run's "
	    "numbers");
	make_rows(rows, 4);	/* numbers 4..13: #3 is from an earlier run */
	probe_stats_select(&server, rows, NROWS);
	TAP_EQ_INT(server.nblocks, 1, "select: an earlier run's block left out");
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop was blocked 2.00 s by request #5, in "
	    "clock_nanosleep (libc.so.6) \xe2\x86\x90 clock_sleep_us "
	    "(common/clock.c:57) \xe2\x86\x90 run_blocking "
	    "(async_fcgi/async_handler.c:301) \xe2\x86\x90 async_handler_start "
	    "(async_fcgi/async_handler.c:380) \xe2\x86\x90 \xe2\x80\xa6",
	    "sentence: duration, request, top frames, more");
	make_rows(rows, 100);	/* another run, 10 s later */
	for (i = 0; i < NROWS; i++) {
		rows[i].sent_us += 10000000;
		rows[i].received_us += 10000000;
	}
	probe_stats_select(&server, rows, NROWS);
	TAP_EQ_INT(server.nblocks, 0, "select: none of a later run's");
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop was not blocked during this run",
	    "sentence: not during this run");
}

static void
test_current(void)
{
	static struct probe_server server;
	struct probe_result rows[NROWS];
	char line[512];
	static const char json[] =
	    "{\"current_block\": {\"request_no\": null, \"started_us\": "
	    "1764000000500000, \"duration_ms\": 150, \"active\": true, "
	    "\"frames\": [\"poll (libc.so.6)\"]},"
	    " \"recent_blocks\": [{\"request_no\": null, \"started_us\": "
	    "1764000000500000, \"duration_ms\": 120, \"active\": true}]}";

	TAP_EQ_INT(parse(json, &server), 0, "current block parsed");
	make_rows(rows, 1);
	probe_stats_select(&server, rows, NROWS);
	TAP_EQ_INT(server.nblocks, 1, "  kept once, though in both lists");
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop is blocked, 0.15 s so far, by a callback "
	    "outside any request, in poll (libc.so.6)",
	    "  sentence: active, outside any request");
}

static void
test_never(void)
{
	static struct probe_server server;
	struct probe_result rows[NROWS];
	char line[256];

	make_rows(rows, 1);
	TAP_EQ_INT(parse("{\"current_block\": null, \"recent_blocks\": []}",
	    &server), 0, "no blocks parsed");
	probe_stats_select(&server, rows, NROWS);
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop was never blocked", "  never blocked");
	TAP_EQ_INT(parse("{\"stalls\": 0, \"longest_stall_ms\": 0, "
	    "\"longest_stall_request\": null}", &server), 0,
	    "stalls form, none, parsed");
	probe_stats_select(&server, rows, NROWS);
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop was never blocked", "  never blocked");
}

static void
test_stalls(void)
{
	static struct probe_server server;
	struct probe_result rows[NROWS];
	char line[256];

	make_rows(rows, 1);
	TAP_EQ_INT(parse("{\"stalls\": 1, \"longest_stall_ms\": 1993.4, "
	    "\"longest_stall_at\": \"2026-11-24 23:19:54\", "
	    "\"longest_stall_request\": 5}", &server), 0, "stalls form parsed");
	TAP_EQ_INT(server.stats.form, PROBE_STATS_STALLS, "  stalls form");
	probe_stats_select(&server, rows, NROWS);
	TAP_EQ_INT(server.nblocks, 1, "  one block");
	TAP_OK(server.blocks[0].started_us == rows[4].started_us,
	    "  placed at request #5's start");
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop was blocked 1.99 s by request #5 (no stack: "
	    "the server does not report one)", "  sentence");
	make_rows(rows, 20);
	probe_stats_select(&server, rows, NROWS);
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_EQ_STR(line, "the loop was not blocked during this run",
	    "  another run's stall is not this run's");
}

static void
test_malformed(void)
{
	static struct probe_server server;
	static const struct {
		const char *json, *error;
	} cases[] = {
		{ "", "not JSON" },
		{ "{\"recent_blocks\": [", "not JSON" },
		{ "{} trailing", "not JSON" },
		{ "[1, 2]", "not a JSON object" },
		{ "{\"pid\": 1}", "no blocked-loop report (neither recent_blocks "
		    "nor stalls)" },
		{ "{\"recent_blocks\": {}}", "recent_blocks is not an array" },
		{ "{\"recent_blocks\": [7]}", "recent_blocks[0]: is not an "
		    "object" },
		{ "{\"recent_blocks\": [{\"request_no\": 1, \"duration_ms\": 1}]}",
		    "recent_blocks[0]: missing started_us" },
		{ "{\"recent_blocks\": [{\"request_no\": -2, \"started_us\": 1, "
		    "\"duration_ms\": 1}]}", "recent_blocks[0]: request_no is "
		    "not a non-negative integer or null" },
		{ "{\"recent_blocks\": [{\"request_no\": 1, \"started_us\": 1, "
		    "\"duration_ms\": \"2\"}]}", "recent_blocks[0]: duration_ms "
		    "is not a number" },
		{ "{\"recent_blocks\": [{\"request_no\": 1, \"started_us\": 1, "
		    "\"duration_ms\": -1}]}", "recent_blocks[0]: duration_ms is "
		    "out of range" },
		{ "{\"recent_blocks\": [{\"request_no\": 1, \"started_us\": 1, "
		    "\"duration_ms\": 1e300}]}", "recent_blocks[0]: duration_ms "
		    "is out of range" },
		{ "{\"current_block\": {\"request_no\": 1, \"started_us\": 1, "
		    "\"duration_ms\": 1, \"frames\": [\"a\", 3]}}",
		    "current_block: frames[1] is not a string" },
		{ "{\"current_block\": {\"request_no\": 1, \"started_us\": 1, "
		    "\"duration_ms\": 1, \"active\": 1}}",
		    "current_block: active is not a boolean" },
		{ "{\"current_block\": {\"request_no\": 1, \"started_us\": 1, "
		    "\"duration_ms\": 1, \"uri\": 5}}",
		    "current_block: uri is not a string" },
		{ "{\"stalls\": \"1\"}", "stalls is not a non-negative integer" },
		{ "{\"stalls\": 2, \"longest_stall_ms\": 3}",
		    "missing longest_stall_request" },
	};
	size_t i;
	char what[96];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "malformed %zu refused", i);
		TAP_EQ_INT(parse(cases[i].json, &server), -1, what);
		TAP_EQ_STR(server.error, cases[i].error, "  with its reason");
	}
}

static void
test_hostile(void)
{
	static struct probe_server server;
	struct probe_result rows[NROWS];
	char json[8192], frame[1000], line[2048];
	size_t i;
	int n;

	memset(frame, 'f', sizeof(frame) - 1);
	frame[sizeof(frame) - 1] = '\0';
	n = snprintf(json, sizeof(json), "{\"recent_blocks\": [{\"request_no\": 2,"
	    " \"started_us\": 1, \"duration_ms\": 1, \"uri\": "
	    "\"/a\\u001b[31m<b>&\\u0000x\\u00e9\", \"frames\": [\"%s\"", frame);
	for (i = 0; i < 40; i++)
		n += snprintf(json + n, sizeof(json) - (size_t)n,
		    ", \"\\u001b]0;x\\u0007 <svg onload=1> & \\\"q\\\"\"");
	snprintf(json + n, sizeof(json) - (size_t)n, "]}]}");
	TAP_EQ_INT(parse(json, &server), 0, "hostile strings parsed");
	TAP_EQ_STR(server.stats.recent[0].uri, "/a.[31m<b>&.x..",
	    "  uri: controls, NUL and non-ASCII made '.'");
	TAP_EQ_INT(strlen(server.stats.recent[0].frames[0]),
	    SA_PROBE_FRAME_MAX - 1, "  a long frame cut to its buffer");
	TAP_EQ_INT(server.stats.recent[0].nframes, SA_PROBE_FRAMES_MAX,
	    "  frames kept: at most SA_PROBE_FRAMES_MAX");
	TAP_EQ_STR(server.stats.recent[0].frames[1],
	    ".]0;x. <svg onload=1> & \"q\"", "  escapes neutralised");
	make_rows(rows, 1);
	probe_stats_select(&server, rows, NROWS);
	probe_stats_sentence(&server, 0, line, sizeof(line));
	TAP_OK(strchr(line, '\x1b') == NULL && strchr(line, '\x07') == NULL,
	    "  sentence has no control bytes");
}

static void
test_many(void)
{
	static struct probe_server server;
	char json[8192];
	size_t i;
	int n;

	n = snprintf(json, sizeof(json), "{\"recent_blocks\": [");
	for (i = 0; i < 20; i++)
		n += snprintf(json + n, sizeof(json) - (size_t)n, "%s{\"request_no\": "
		    "%zu, \"started_us\": 1, \"duration_ms\": 1}", i ? "," : "",
		    i);
	snprintf(json + n, sizeof(json) - (size_t)n, "]}");
	TAP_EQ_INT(parse(json, &server), 0, "20 blocks parsed");
	TAP_EQ_INT(server.stats.nrecent, SA_PROBE_BLOCKS_MAX,
	    "  at most SA_PROBE_BLOCKS_MAX kept, the newest");
}

int
main(void)
{
	test_path();
	test_blocks();
	test_current();
	test_never();
	test_stalls();
	test_malformed();
	test_hostile();
	test_many();
	return tap_done();
}
