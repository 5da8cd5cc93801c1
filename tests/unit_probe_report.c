/* SPDX-License-Identifier: ISC */
/*
 * unit_probe_report.c - the probe's text report and --json document.
 *
 * Formats a fixed blocking group with one failed row and checks the summary
 * line, the table's error row, the timeline, and the JSON shape; the lines
 * and JSON of the server's blocked-loop report; a group whose requests all
 * failed alike said in one line.  Build with
 * probe/probe_report.c, probe/probe_result.c and json-c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_report.h"
#include "probe/probe_result.h"
#include "probe/probe_stats.h"
#include "tests/tap.h"

#define T0 1764000000000000LL	/* µs */
#define NROWS 10

#include "tests/probe_fixture.h"

static void
make_set(struct probe_result *rows)
{
	int64_t i;

	for (i = 0; i < NROWS; i++) {
		struct probe_result *row = &rows[i];
		int64_t no = i + 1;

		probe_result_init(row, 0, (size_t)i);
		row->sent_us = T0;
		row->http_status = 200;
		row->parsed = 1;
		row->thread_id = 7;
		row->pid = 42;
		row->request_no = no;
		snprintf(row->request_time, sizeof(row->request_time),
		    "2026-11-24 13:05:37");
		snprintf(row->message, sizeof(row->message), "async example%s",
		    no == 5 ? " (sleep)" : "");
		row->started_us = T0 + (no < 5 ? 1000 : 2001000);
		if (no == 5)
			row->started_us = T0 + 1000;
		row->finished_us = row->started_us + (no == 5 ? 2000000 : 500);
		row->received_us = row->finished_us + 500;
	}
}

static struct json_object *
get(struct json_object *obj, const char *key)
{
	struct json_object *val = NULL;

	json_object_object_get_ex(obj, key, &val);
	return val;
}

static void
test_server(void)
{
	static struct probe_server server;
	struct probe_result rows[NROWS];
	struct probe_group group;
	struct json_object *root, *report, *block;
	char *text = NULL;
	size_t len = 0, i;
	FILE *out;

	make_set(rows);
	memset(&group, 0, sizeof(group));
	group.url = "http://127.0.0.1:8080/async";
	group.rows = rows;
	group.count = NROWS;
	probe_result_summarize(rows, NROWS, 0, &group.summary);
	probe_fixture_server(&server, "http://127.0.0.1:8080/async/stats",
	    NULL);
	snprintf(server.blocks[0].mode, sizeof(server.blocks[0].mode),
	    "block");

	if ((out = open_memstream(&text, &len)) == NULL)
		return;
	probe_report_server(out, &group);	/* not asked: nothing */
	group.server = &server;
	probe_report_server(out, &group);
	fclose(out);
	TAP_EQ_STR(text, "  the server says: the loop was blocked 2.00 s by "
	    "request #5, in clock_nanosleep (libc.so.6)\n",
	    "server line under the verdict; none when not asked");
	free(text);

	root = probe_report_json(&group, 1, "0.1");
	report = get(json_object_array_get_idx(get(root, "groups"), 0),
	    "server_report");
	TAP_EQ_STR(json_object_get_string(get(report, "url")),
	    "http://127.0.0.1:8080/async/stats", "json server_report url");
	block = json_object_array_get_idx(get(report, "blocks"), 0);
	TAP_EQ_INT(json_object_get_int64(get(block, "request_no")), 5,
	    "  block request_no");
	TAP_EQ_STR(json_object_get_string(get(block, "mode")), "block",
	    "  block mode");
	TAP_OK(get(block, "uri") == NULL, "  unreported uri is null");
	TAP_EQ_STR(json_object_get_string(json_object_array_get_idx(get(block,
	    "frames"), 0)), "clock_nanosleep (libc.so.6)", "  frames");
	TAP_OK(strstr(json_object_get_string(json_object_array_get_idx(
	    get(report, "says"), 0)), "blocked 2.00 s by request #5") != NULL,
	    "  says: the printed sentence");
	json_object_put(root);

	/* All failed alike: a heading and one line. */
	for (i = 0; i < NROWS; i++) {
		probe_result_init(&rows[i], 0, i);
		probe_result_set_error(&rows[i], "cannot connect to "
		    "127.0.0.1:1: Connection refused");
	}
	group.server = NULL;
	probe_result_summarize(rows, NROWS, 0, &group.summary);
	text = NULL;
	if ((out = open_memstream(&text, &len)) == NULL)
		return;
	probe_report_table(out, &group);
	probe_report_summary(out, &group);
	probe_report_server(out, &group);
	probe_report_timeline(out, &group);
	fclose(out);
	TAP_EQ_STR(text, "\n== http://127.0.0.1:8080/async (10 requests) ==\n"
	    "  verdict: failed: cannot connect to 127.0.0.1:1: Connection "
	    "refused (all 10 requests)\n", "all failed alike: one line");
	free(text);
}

int
main(void)
{
	struct probe_result rows[NROWS];
	struct probe_group group;
	struct json_object *root, *g, *sum, *results;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	make_set(rows);
	probe_result_set_error(&rows[9], "timeout after 1 s");
	rows[9].parsed = 0;
	memset(&group, 0, sizeof(group));
	group.url = "http://127.0.0.1:8080/async";
	group.label = "async block";
	group.rows = rows;
	group.count = NROWS;
	probe_result_summarize(rows, NROWS, 0, &group.summary);

	if ((out = open_memstream(&text, &len)) == NULL) {
		TAP_OK(0, "memstream");
		return tap_done();
	}
	probe_report_table(out, &group);
	probe_report_summary(out, &group);
	probe_report_timeline(out, &group);
	fclose(out);
	TAP_OK(strstr(text, "== async block  http://127.0.0.1:8080/async") !=
	    NULL, "group heading");
	TAP_OK(strstr(text, "error: timeout after 1 s") != NULL, "error row");
	TAP_OK(strstr(text, "async example (sleep)") != NULL, "sleeper row");
	TAP_OK(strstr(text, "9 ok, 1 failed; 1 distinct thread id,") != NULL,
	    "counts line");
	TAP_OK(strstr(text, "verdict: failed (1 of 10 requests failed)") !=
	    NULL, "verdict line");
	TAP_OK(strstr(text, "4 held up (> 1000 ms)") != NULL, "held up count");
	TAP_OK(strstr(text, "|  (sleep)") == NULL &&
	    strstr(text, "ms  (sleep)") != NULL, "timeline marks the sleeper");
	TAP_OK(strstr(text, "......#") != NULL, "timeline shows waiting");
	free(text);

	root = probe_report_json(&group, 1, "0.1");
	TAP_OK(root != NULL, "json built");
	TAP_EQ_STR(json_object_get_string(get(root, "tool")), "syncasync-probe",
	    "json tool");
	g = json_object_array_get_idx(get(root, "groups"), 0);
	TAP_EQ_INT(json_object_array_length(get(root, "groups")), 1,
	    "one group");
	TAP_EQ_STR(json_object_get_string(get(g, "label")), "async block",
	    "json label");
	sum = get(g, "summary");
	TAP_EQ_STR(json_object_get_string(get(sum, "verdict")), "failed",
	    "json verdict");
	TAP_EQ_INT(json_object_get_int(get(sum, "held_up")), 4, "json held_up");
	TAP_EQ_INT(json_object_get_int(get(sum, "sleeper_request_no")), 5,
	    "json sleeper");
	results = get(g, "results");
	TAP_EQ_INT(json_object_array_length(results), NROWS, "json rows");
	TAP_OK(get(json_object_array_get_idx(results, 0), "error") == NULL &&
	    json_object_object_get_ex(json_object_array_get_idx(results, 0),
	    "error", NULL), "ok row: error is null");
	TAP_EQ_STR(json_object_get_string(get(json_object_array_get_idx(results,
	    9), "error")), "timeout after 1 s", "failed row: error text");
	TAP_OK(!json_object_object_get_ex(json_object_array_get_idx(results, 9),
	    "thread_id", NULL), "failed row: no contract fields");
	TAP_EQ_INT(json_object_get_int64(get(json_object_array_get_idx(results,
	    4), "request_no")), 5, "row request_no");
	TAP_OK(json_object_object_get_ex(g, "server_report", NULL) &&
	    get(g, "server_report") == NULL, "json server_report null when "
	    "not asked");
	json_object_put(root);
	test_server();
	return tap_done();
}
