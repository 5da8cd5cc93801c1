/* SPDX-License-Identifier: ISC */
/*
 * probe_report.c - the table, the summary and the timeline on a terminal, and
 * the same data as JSON.
 *
 * Rows are shown in the experiment's order (server request number, failures
 * last; see probe_result_order) so a blocking run reads top to bottom as the
 * server served it.  Text is already sanitised by probe_result; JSON escaping
 * is json-c's.  Nothing here talks to the network or changes a result.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "probe/probe_report.h"
#include "probe/probe_stats.h"

#define REPORT_SENTENCE_MAX	2048	/* bytes of one "the server says" */

static const char *
title(const struct probe_group *group)
{
	return group->label != NULL ? group->label : "";
}

void
probe_report_table(FILE *out, const struct probe_group *group)
{
	char text[SA_ERROR_MAX + 8];
	size_t i, *order;

	fprintf(out, "\n== %s%s%s (%zu requests) ==\n", title(group),
	    group->label != NULL ? "  " : "", group->url, group->count);
	if (probe_result_common_error(group->rows, group->count) != NULL)
		return;		/* no table of empty rows: the summary says it */
	fprintf(out, "  %5s  %-24s %10s %8s  %-19s %11s\n", "req", "message",
	    "thread", "pid", "request time", "latency ms");
	if ((order = calloc(group->count ? group->count : 1,
	    sizeof(*order))) == NULL)
		return;
	probe_result_order(group->rows, group->count, order);
	for (i = 0; i < group->count; i++) {
		const struct probe_result *row = &group->rows[order[i]];

		if (row->parsed && row->error[0] == '\0')
			fprintf(out, "  %5lld  %-24s %10lld %8lld  %-19s %11.1f\n",
			    (long long)row->request_no, row->message,
			    (long long)row->thread_id, (long long)row->pid,
			    row->request_time, probe_result_latency_ms(row));
		else {
			snprintf(text, sizeof(text), "error: %s", row->error);
			fprintf(out, "  %5s  %-65s %11.1f\n", "-", text,
			    probe_result_latency_ms(row));
		}
	}
	free(order);
}

void
probe_report_summary(FILE *out, const struct probe_group *group)
{
	const struct probe_summary *sum = &group->summary;
	const char *common;

	if ((common = probe_result_common_error(group->rows,
	    group->count)) != NULL) {
		fprintf(out, "  verdict: failed: %s (all %zu request%s)\n",
		    common, group->count, group->count == 1 ? "" : "s");
		return;
	}
	fprintf(out, "  %zu ok, %zu failed; %zu distinct thread id%s, "
	    "%zu distinct pid%s\n", sum->ok, sum->failed, sum->distinct_threads,
	    sum->distinct_threads == 1 ? "" : "s", sum->distinct_pids,
	    sum->distinct_pids == 1 ? "" : "s");
	if (sum->sleepers > 0)
		fprintf(out, "  sleeper: request #%lld, sleep %.2f s (%s), "
		    "latency %.0f ms\n", (long long)sum->sleeper_request_no,
		    sum->sleep_s, sum->sleep_from_option ? "--sleep" :
		    "server-side span", sum->sleeper_latency.max_ms);
	if (sum->others > 0)
		fprintf(out, "  others: %zu, latency min %.0f / median %.0f / "
		    "max %.0f ms; %zu held up (> %.0f ms)\n", sum->others,
		    sum->others_latency.min_ms, sum->others_latency.median_ms,
		    sum->others_latency.max_ms, sum->held_up,
		    sum->sleep_s * 1000 / 2);
	fprintf(out, "  verdict: %s", probe_result_verdict_name(sum->verdict));
	if (sum->verdict == PROBE_VERDICT_BLOCKED)
		fprintf(out, " (%zu of %zu others held up by the sleeper)",
		    sum->held_up, sum->others);
	else if (sum->verdict == PROBE_VERDICT_NOT_BLOCKED)
		fprintf(out, " (no other request waited for the sleeper)");
	else if (sum->verdict == PROBE_VERDICT_QUEUED)
		fprintf(out, " (behind a full pool, not a blocked loop: %zu "
		    "request%s waited, %zu of them sleepers)", sum->queued,
		    sum->queued == 1 ? "" : "s", sum->queued_sleepers);
	else if (sum->verdict == PROBE_VERDICT_FAILED)
		fprintf(out, " (%zu of %zu requests failed)", sum->failed,
		    sum->requests);
	fputc('\n', out);
}

/*
 * Under the verdict, what an /async server said about its loop during the
 * run: one line per blocked-loop report, or that there was none.  Nothing
 * for groups the probe did not ask (/sync, /pool).
 */
void
probe_report_server(FILE *out, const struct probe_group *group)
{
	char line[REPORT_SENTENCE_MAX];
	size_t i = 0;

	if (group->server == NULL)
		return;
	do {
		probe_stats_sentence(group->server, i, line, sizeof(line));
		fprintf(out, "  the server says: %s\n", line);
	} while (++i < group->server->nblocks);
}

/* Maps t in [t0, t0 + span] to a column in [0, width). */
static size_t
column_of(int64_t t, int64_t t0, int64_t span, size_t width)
{
	double col;

	if (t <= t0)
		return 0;
	col = (double)(t - t0) * (double)width / (double)span;
	return col >= (double)width ? width - 1 : (size_t)col;
}

/*
 * One line per request (none when all failed alike: the summary's one
 * line says it): ' ' before the send and after the answer, '.' while
 * the request waited (not yet started by the server, or finished but not yet
 * received), '#' while the server handled it, 'x' for a failed request.
 */
void
probe_report_timeline(FILE *out, const struct probe_group *group)
{
	char bar[PROBE_REPORT_TIMELINE_WIDTH + 1];
	const size_t width = PROBE_REPORT_TIMELINE_WIDTH;
	int64_t t0 = INT64_MAX, t1 = INT64_MIN, span;
	size_t i, c, from, to, *order;

	for (i = 0; i < group->count; i++) {
		const struct probe_result *row = &group->rows[i];

		if (row->sent_us < t0)
			t0 = row->sent_us;
		if (row->received_us > t1)
			t1 = row->received_us;
	}
	if (group->count == 0 ||
	    probe_result_common_error(group->rows, group->count) != NULL ||
	    (order = calloc(group->count, sizeof(*order))) == NULL)
		return;
	span = t1 > t0 ? t1 - t0 : 1;
	fprintf(out, "  timeline, 0 .. %.2f s ('.' waiting, '#' handled by "
	    "the server, 'x' failed):\n", (double)span / 1e6);
	probe_result_order(group->rows, group->count, order);
	for (i = 0; i < group->count; i++) {
		const struct probe_result *row = &group->rows[order[i]];
		int ok = probe_result_ok(row);

		memset(bar, ' ', width);
		bar[width] = '\0';
		from = column_of(row->sent_us, t0, span, width);
		to = column_of(row->received_us, t0, span, width);
		for (c = from; c <= to; c++)
			bar[c] = ok ? '.' : 'x';
		if (ok) {
			from = column_of(probe_result_work_start_us(row), t0,
			    span, width);
			to = column_of(row->finished_us, t0, span,
			    width);
			for (c = from; c <= to; c++)
				bar[c] = '#';
		}
		if (ok)
			fprintf(out, "  %5lld |%s| %6.0f ms%s\n",
			    (long long)row->request_no, bar,
			    probe_result_latency_ms(row),
			    probe_result_is_sleeper(row) ? "  (sleep)" : "");
		else
			fprintf(out, "  %5s |%s| %6.0f ms  failed\n", "-", bar,
			    probe_result_latency_ms(row));
	}
	free(order);
}

/* A double with three decimals in the output, not json-c's %.17g. */
static struct json_object *
json_ms(double value)
{
	char text[64];

	snprintf(text, sizeof(text), "%.3f", value);
	return json_object_new_double_s(value, text);
}

static struct json_object *
json_latency(const struct probe_latency *lat)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "count",
	    json_object_new_int64((int64_t)lat->count));
	json_object_object_add(obj, "min", json_ms(lat->min_ms));
	json_object_object_add(obj, "median",
	    json_ms(lat->median_ms));
	json_object_object_add(obj, "max", json_ms(lat->max_ms));
	return obj;
}

static struct json_object *
json_summary(const struct probe_summary *sum)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "requests",
	    json_object_new_int64((int64_t)sum->requests));
	json_object_object_add(obj, "ok", json_object_new_int64((int64_t)sum->ok));
	json_object_object_add(obj, "failed",
	    json_object_new_int64((int64_t)sum->failed));
	json_object_object_add(obj, "distinct_thread_ids",
	    json_object_new_int64((int64_t)sum->distinct_threads));
	json_object_object_add(obj, "distinct_pids",
	    json_object_new_int64((int64_t)sum->distinct_pids));
	json_object_object_add(obj, "sleeper_request_no",
	    sum->sleepers > 0 ? json_object_new_int64(sum->sleeper_request_no) :
	    NULL);
	json_object_object_add(obj, "sleep_seconds",
	    json_ms(sum->sleep_s));
	json_object_object_add(obj, "sleep_source", json_object_new_string(
	    sum->sleep_from_option ? "option" : "server"));
	json_object_object_add(obj, "sleeper_latency_ms",
	    json_latency(&sum->sleeper_latency));
	json_object_object_add(obj, "others_latency_ms",
	    json_latency(&sum->others_latency));
	json_object_object_add(obj, "others",
	    json_object_new_int64((int64_t)sum->others));
	json_object_object_add(obj, "held_up",
	    json_object_new_int64((int64_t)sum->held_up));
	json_object_object_add(obj, "queued",
	    json_object_new_int64((int64_t)sum->queued));
	json_object_object_add(obj, "verdict", json_object_new_string(
	    probe_result_verdict_name(sum->verdict)));
	return obj;
}

static struct json_object *
json_row(const struct probe_result *row)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "index",
	    json_object_new_int64((int64_t)row->index));
	json_object_object_add(obj, "sent_us", json_object_new_int64(row->sent_us));
	json_object_object_add(obj, "received_us",
	    json_object_new_int64(row->received_us));
	json_object_object_add(obj, "latency_ms",
	    json_ms(probe_result_latency_ms(row)));
	json_object_object_add(obj, "http_status",
	    json_object_new_int(row->http_status));
	json_object_object_add(obj, "error", row->error[0] != '\0' ?
	    json_object_new_string(row->error) : NULL);
	json_object_object_add(obj, "sleeper",
	    json_object_new_boolean(probe_result_is_sleeper(row)));
	if (!row->parsed)
		return obj;
	json_object_object_add(obj, "message",
	    json_object_new_string(row->message));
	json_object_object_add(obj, "thread_id",
	    json_object_new_int64(row->thread_id));
	json_object_object_add(obj, "pid", json_object_new_int64(row->pid));
	json_object_object_add(obj, "request_time",
	    json_object_new_string(row->request_time));
	json_object_object_add(obj, "request_no",
	    json_object_new_int64(row->request_no));
	json_object_object_add(obj, "started_us",
	    json_object_new_int64(row->started_us));
	json_object_object_add(obj, "finished_us",
	    json_object_new_int64(row->finished_us));
	json_object_object_add(obj, "waited_us",
	    json_object_new_int64(row->waited_us));
	json_object_object_add(obj, "mode", row->mode[0] != '\0' ?
	    json_object_new_string(row->mode) : NULL);
	return obj;
}

/* A string, or null when it is empty (not reported). */
static struct json_object *
json_text(const char *text)
{
	return text[0] != '\0' ? json_object_new_string(text) : NULL;
}

static struct json_object *
json_block(const struct probe_block *block)
{
	struct json_object *obj = json_object_new_object(), *frames;
	size_t i;

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "request_no", block->request_no >= 0 ?
	    json_object_new_int64(block->request_no) : NULL);
	json_object_object_add(obj, "method", json_text(block->method));
	json_object_object_add(obj, "uri", json_text(block->uri));
	json_object_object_add(obj, "mode", json_text(block->mode));
	json_object_object_add(obj, "work", json_text(block->work));
	json_object_object_add(obj, "started_us", block->started_us != 0 ?
	    json_object_new_int64(block->started_us) : NULL);
	json_object_object_add(obj, "duration_ms", json_ms(block->duration_ms));
	json_object_object_add(obj, "active",
	    json_object_new_boolean(block->active));
	if ((frames = json_object_new_array()) != NULL) {
		for (i = 0; i < block->nframes; i++)
			json_object_array_add(frames,
			    json_object_new_string(block->frames[i]));
		json_object_object_add(obj, "frames", frames);
	}
	return obj;
}

/*
 * {"url", "error", "form", "blocks": [...], "says": [sentence...]}: the
 * reports of this run, and the lines the text report printed.
 */
static struct json_object *
json_server(const struct probe_server *server)
{
	struct json_object *obj = json_object_new_object(), *list, *says;
	char line[REPORT_SENTENCE_MAX];
	size_t i = 0;

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "url", json_object_new_string(server->url));
	json_object_object_add(obj, "error", server->error[0] != '\0' ?
	    json_object_new_string(server->error) : NULL);
	json_object_object_add(obj, "form", server->error[0] != '\0' ? NULL :
	    json_object_new_string(server->stats.form == PROBE_STATS_BLOCKS ?
	    "blocks" : "stalls"));
	if ((list = json_object_new_array()) != NULL) {
		for (i = 0; i < server->nblocks; i++)
			json_object_array_add(list,
			    json_block(&server->blocks[i]));
		json_object_object_add(obj, "blocks", list);
	}
	if ((says = json_object_new_array()) != NULL) {
		i = 0;
		do {
			probe_stats_sentence(server, i, line, sizeof(line));
			json_object_array_add(says,
			    json_object_new_string(line));
		} while (++i < server->nblocks);
		json_object_object_add(obj, "says", says);
	}
	return obj;
}

/*
 * Builds {"tool", "version", "groups": [{"url", "label", "summary",
 * "server_report", "results": [row...]}]}; rows in send order;
 * "server_report" is null for groups whose server was not asked.  The
 * caller owns the result (json_object_put).  NULL when memory runs out.
 */
struct json_object *
probe_report_json(const struct probe_group *groups, size_t ngroups,
    const char *version)
{
	struct json_object *root, *list, *group, *rows;
	size_t g, i;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(root, "tool",
	    json_object_new_string("syncasync-probe"));
	json_object_object_add(root, "version", json_object_new_string(version));
	if ((list = json_object_new_array()) == NULL)
		goto fail;
	json_object_object_add(root, "groups", list);
	for (g = 0; g < ngroups; g++) {
		if ((group = json_object_new_object()) == NULL ||
		    json_object_array_add(list, group) != 0)
			goto fail;
		json_object_object_add(group, "url",
		    json_object_new_string(groups[g].url));
		json_object_object_add(group, "label", groups[g].label != NULL ?
		    json_object_new_string(groups[g].label) : NULL);
		json_object_object_add(group, "summary",
		    json_summary(&groups[g].summary));
		json_object_object_add(group, "server_report",
		    groups[g].server != NULL ? json_server(groups[g].server) :
		    NULL);
		if ((rows = json_object_new_array()) == NULL)
			goto fail;
		json_object_object_add(group, "results", rows);
		for (i = 0; i < groups[g].count; i++)
			json_object_array_add(rows,
			    json_row(&groups[g].rows[i]));
	}
	return root;
fail:
	json_object_put(root);
	return NULL;
}

/* Writes the JSON to path ("-" = stdout).  Returns 0, or -1 with errno. */
int
probe_report_json_write(const char *path, const struct probe_group *groups,
    size_t ngroups, const char *version)
{
	struct json_object *root;
	FILE *out = NULL;
	int rc = -1, to_stdout = strcmp(path, "-") == 0;

	if ((root = probe_report_json(groups, ngroups, version)) == NULL)
		return -1;
	if ((out = to_stdout ? stdout : fopen(path, "w")) == NULL)
		goto done;
	if (fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE), out) == EOF ||
	    fputc('\n', out) == EOF || fflush(out) == EOF)
		goto done;
	rc = 0;
done:
	if (out != NULL && !to_stdout && fclose(out) == EOF)
		rc = -1;
	json_object_put(root);
	return rc;
}
