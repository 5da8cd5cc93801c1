/* SPDX-License-Identifier: ISC */
/*
 * probe_result.c - parse a response body into a result row; judge a group.
 *
 * The body parser checks the response contract (doc/ARCHITECTURE.md) field
 * by field and records what is wrong on the row instead of failing the run.  The summary
 * implements the verdict rule (see probe_result_summarize).  No libevent, no
 * I/O: everything here is a function of its arguments, so the unit tests can
 * drive it with fixed rows.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/text.h"
#include "probe/probe_result.h"

void
probe_result_init(struct probe_result *row, size_t url_index, size_t index)
{
	memset(row, 0, sizeof(*row));
	row->url_index = url_index;
	row->index = index;
	row->request_no = -1;
}

void
probe_result_set_error(struct probe_result *row, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(row->error, sizeof(row->error), fmt, ap);
	va_end(ap);
}

/*
 * Copies a server-chosen string for display: truncated to the buffer and
 * sanitised, so a row never moves the terminal.
 */
static void
copy_text(char *dst, size_t size, const char *src)
{
	text_sanitise(src, strlen(src), dst, size);
}

/* Parses exactly len bytes as one JSON value; NULL if they are not JSON. */
struct json_object *
probe_result_parse_json(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;

	if (body == NULL || len == 0 || len > INT32_MAX)
		return NULL;
	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);	/* NULL-safe */
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* Returns 0 and the field's value, or -1 with the row's error set. */
static int
get_int(struct probe_result *row, struct json_object *obj,
    const char *key, int64_t *out)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val)) {
		probe_result_set_error(row,
		    "body is not the contract JSON: missing %s", key);
		return -1;
	}
	if (!json_object_is_type(val, json_type_int)) {
		probe_result_set_error(row,
		    "body is not the contract JSON: %s is not an integer", key);
		return -1;
	}
	*out = json_object_get_int64(val);
	return 0;
}

/* An integer the contract added later (waited_us): absent is 0. */
static int
get_int_optional(struct probe_result *row, struct json_object *obj,
    const char *key, int64_t *out)
{
	*out = 0;
	if (!json_object_object_get_ex(obj, key, NULL))
		return 0;
	return get_int(row, obj, key, out);
}

static int
get_string(struct probe_result *row, struct json_object *obj,
    const char *key, char *dst, size_t size, int optional)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val)) {
		if (optional)
			return 0;
		probe_result_set_error(row,
		    "body is not the contract JSON: missing %s", key);
		return -1;
	}
	if (!json_object_is_type(val, json_type_string)) {
		probe_result_set_error(row,
		    "body is not the contract JSON: %s is not a string", key);
		return -1;
	}
	copy_text(dst, size, json_object_get_string(val));
	return 0;
}

/*
 * Fills the row's contract fields from a 2xx body of len bytes (not
 * NUL-terminated).  Returns 0 and sets row->parsed, or -1 with row->error
 * saying what is wrong ("body is not JSON", "... missing thread_id", a field
 * of the wrong type, finished_us before started_us).
 */
int
probe_result_parse_body(struct probe_result *row, const char *body, size_t len)
{
	struct json_object *obj;
	int rc = -1;

	row->parsed = 0;
	if ((obj = probe_result_parse_json(body, len)) == NULL) {
		probe_result_set_error(row, "body is not JSON");
		return -1;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		probe_result_set_error(row,
		    "body is not the contract JSON: not an object");
		goto done;
	}
	if (get_string(row, obj, "message", row->message,
	    sizeof(row->message), 0) == -1 ||
	    get_int(row, obj, "thread_id", &row->thread_id) == -1 ||
	    get_int(row, obj, "pid", &row->pid) == -1 ||
	    get_string(row, obj, "request_time", row->request_time,
	    sizeof(row->request_time), 0) == -1 ||
	    get_int(row, obj, "request_no", &row->request_no) == -1 ||
	    get_int(row, obj, "started_us", &row->started_us) == -1 ||
	    get_int(row, obj, "finished_us",
	    &row->finished_us) == -1 ||
	    get_int_optional(row, obj, "waited_us", &row->waited_us) == -1 ||
	    get_string(row, obj, "mode", row->mode,
	    sizeof(row->mode), 1) == -1)
		goto done;
	if (row->finished_us < row->started_us) {
		probe_result_set_error(row, "body is not the contract JSON: "
		    "finished_us before started_us");
		goto done;
	}
	if (row->waited_us < 0) {
		probe_result_set_error(row, "body is not the contract JSON: "
		    "waited_us is negative");
		goto done;
	}
	row->parsed = 1;
	rc = 0;
done:
	json_object_put(obj);
	return rc;
}

/*
 * For a non-2xx answer: sets the row's error to "HTTP <status>", followed by
 * the body's "error" string when the body is JSON carrying one.
 */
void
probe_result_parse_error_body(struct probe_result *row, const char *body,
    size_t len)
{
	struct json_object *obj, *val;
	char text[SA_ERROR_MAX];

	probe_result_set_error(row, "HTTP %d", row->http_status);
	if ((obj = probe_result_parse_json(body, len)) == NULL)
		return;
	if (json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, "error", &val) &&
	    json_object_is_type(val, json_type_string)) {
		copy_text(text, sizeof(text),
		    json_object_get_string(val));
		probe_result_set_error(row, "HTTP %d: %s", row->http_status,
		    text);
	}
	json_object_put(obj);
}

int
probe_result_ok(const struct probe_result *row)
{
	return row->error[0] == '\0' && row->parsed;
}

int
probe_result_is_sleeper(const struct probe_result *row)
{
	size_t len, suffix = strlen(PROBE_SLEEP_SUFFIX);

	if (!row->parsed)
		return 0;
	len = strlen(row->message);
	return len >= suffix &&
	    strcmp(row->message + len - suffix, PROBE_SLEEP_SUFFIX) == 0;
}

/* Client latency (send to answer or failure); 0 when nothing came back. */
double
probe_result_latency_ms(const struct probe_result *row)
{
	if (row->received_us == 0 || row->received_us < row->sent_us)
		return 0.0;
	return (double)(row->received_us - row->sent_us) / 1000.0;
}

int64_t
probe_result_work_start_us(const struct probe_result *row)
{
	int64_t start = row->started_us + row->waited_us;

	return start < row->finished_us ? start : row->finished_us;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts values[0..count) and fills min/median/max; all 0 when count is 0. */
static void
latency_stats(double *values, size_t count, struct probe_latency *out)
{
	memset(out, 0, sizeof(*out));
	out->count = count;
	if (count == 0)
		return;
	qsort(values, count, sizeof(values[0]), cmp_double);
	out->min_ms = values[0];
	out->max_ms = values[count - 1];
	if (count % 2 == 1)
		out->median_ms = values[count / 2];
	else
		out->median_ms = (values[count / 2 - 1] + values[count / 2]) / 2;
}

/* Sorts values[0..count) and returns how many distinct values it holds. */
static size_t
count_distinct(int64_t *values, size_t count)
{
	size_t i, distinct = 0;

	qsort(values, count, sizeof(values[0]), cmp_int64);
	for (i = 0; i < count; i++)
		if (i == 0 || values[i] != values[i - 1])
			distinct++;
	return distinct;
}

/*
 * Judges one URL's rows.  The sleeper is every successful row whose message
 * ends " (sleep)"; the others are the remaining successful rows.  The sleep
 * duration is expected_sleep_s when > 0 (--sleep), else the longest
 * sleeper's server-side span (finished_us - started_us).  An other is held up
 * when its client latency exceeds half the sleep duration; a sleeper is
 * late when its latency exceeds its own sleep by that much.  A held-up or
 * late row "queued behind a full pool" when the server says it waited
 * (waited_us over the threshold: offload), or, for a row of sync_cgi
 * ("sync example": /sync, /pool), when every pid of the group was busy with a sleeper from
 * its send to half a sleep later (the listen backlog the worker cannot
 * see).  Verdict, first match wins: "failed" if any request failed (the
 * picture is incomplete), "no sleeper" if no row slept, "queued" if others
 * were held up and every one of them queued, "blocked" (by the loop) if
 * any other was held up, "queued" if a late sleeper queued, "not blocked"
 * otherwise.  Counts and latencies are filled in every case
 * (scratch allocation failing leaves them 0 and says "failed").
 */
/*
 * Whether rows[i], delayed by more than threshold_us, waited behind a full
 * pool rather than a blocked loop (probe_result_summarize).
 */
static int
row_queued(const struct probe_result *rows, size_t count, size_t i,
    int64_t threshold_us)
{
	const struct probe_result *row = &rows[i];
	int64_t until = row->sent_us + threshold_us;
	size_t j, k;

	if (row->waited_us > threshold_us)
		return 1;
	/* /async: only the server knows; sync_cgi (/sync, /pool) says
	 * "sync example" and nothing of its listen backlog. */
	if (strncmp(row->message, "sync example", 12) != 0)
		return 0;
	for (j = 0; j < count; j++) {
		int busy = 0;

		if (!probe_result_ok(&rows[j]))
			continue;
		for (k = 0; k < j; k++)	/* each pid once */
			if (probe_result_ok(&rows[k]) &&
			    rows[k].pid == rows[j].pid)
				break;
		if (k < j)
			continue;
		for (k = 0; k < count && !busy; k++)
			busy = k != i && probe_result_ok(&rows[k]) &&
			    probe_result_is_sleeper(&rows[k]) &&
			    rows[k].pid == rows[j].pid &&
			    rows[k].started_us <= until &&
			    rows[k].finished_us >= until;
		if (!busy)
			return 0;
	}
	return 1;
}

void
probe_result_summarize(const struct probe_result *rows, size_t count,
    double expected_sleep_s, struct probe_summary *out)
{
	double *sleeper_ms = NULL, *other_ms = NULL, threshold_ms;
	int64_t *threads = NULL, *pids = NULL, span_us = 0;
	size_t i, nsleep = 0, nother = 0, nok = 0;

	memset(out, 0, sizeof(*out));
	out->requests = count;
	out->sleeper_request_no = -1;
	out->verdict = PROBE_VERDICT_FAILED;
	if (count == 0)
		return;
	sleeper_ms = calloc(count, sizeof(*sleeper_ms));
	other_ms = calloc(count, sizeof(*other_ms));
	threads = calloc(count, sizeof(*threads));
	pids = calloc(count, sizeof(*pids));
	if (sleeper_ms == NULL || other_ms == NULL || threads == NULL ||
	    pids == NULL)
		goto done;

	for (i = 0; i < count; i++) {
		const struct probe_result *row = &rows[i];

		if (!probe_result_ok(row))
			continue;
		threads[nok] = row->thread_id;
		pids[nok] = row->pid;
		nok++;
		if (probe_result_is_sleeper(row)) {
			if (out->sleeper_request_no == -1)
				out->sleeper_request_no = row->request_no;
			/* Its sleep: the time it queued is not part of it. */
			if (row->finished_us - row->started_us -
			    row->waited_us > span_us)
				span_us = row->finished_us - row->started_us -
				    row->waited_us;
			sleeper_ms[nsleep++] = probe_result_latency_ms(row);
		} else
			other_ms[nother++] = probe_result_latency_ms(row);
	}
	out->ok = nok;
	out->failed = count - nok;
	out->sleepers = nsleep;
	out->others = nother;
	out->distinct_threads = count_distinct(threads, nok);
	out->distinct_pids = count_distinct(pids, nok);
	out->sleep_from_option = expected_sleep_s > 0;
	out->sleep_s = out->sleep_from_option ? expected_sleep_s :
	    (double)span_us / 1e6;
	threshold_ms = out->sleep_s * 1000.0 / 2;
	for (i = 0; i < nother; i++)
		if (nsleep > 0 && out->sleep_s > 0 && other_ms[i] > threshold_ms)
			out->held_up++;
	for (i = 0; i < count && nsleep > 0 && out->sleep_s > 0; i++) {
		const struct probe_result *row = &rows[i];
		double late_ms;
		int sleeper;

		if (!probe_result_ok(row))
			continue;
		sleeper = probe_result_is_sleeper(row);
		late_ms = probe_result_latency_ms(row) -
		    (sleeper ? out->sleep_s * 1000.0 : 0);
		if (late_ms > threshold_ms && row_queued(rows, count, i,
		    (int64_t)(threshold_ms * 1000.0))) {
			out->queued++;
			out->queued_sleepers += sleeper;
		}
	}
	latency_stats(sleeper_ms, nsleep, &out->sleeper_latency);
	latency_stats(other_ms, nother, &out->others_latency);

	if (out->failed > 0)
		out->verdict = PROBE_VERDICT_FAILED;
	else if (nsleep == 0)
		out->verdict = PROBE_VERDICT_NO_SLEEPER;
	else if (out->held_up > 0)
		out->verdict = out->queued - out->queued_sleepers ==
		    out->held_up ? PROBE_VERDICT_QUEUED : PROBE_VERDICT_BLOCKED;
	else if (out->queued_sleepers > 0)
		out->verdict = PROBE_VERDICT_QUEUED;
	else
		out->verdict = PROBE_VERDICT_NOT_BLOCKED;
done:
	free(sleeper_ms);
	free(other_ms);
	free(threads);
	free(pids);
}

/*
 * The error shared by every row when all count rows failed with the same
 * text (a refused connection, a timeout, one HTTP error for all), so that it
 * can be said once; NULL when count is 0, a row succeeded or two differ.
 */
const char *
probe_result_common_error(const struct probe_result *rows, size_t count)
{
	size_t i;

	if (count == 0 || rows[0].error[0] == '\0')
		return NULL;
	for (i = 1; i < count; i++)
		if (strcmp(rows[i].error, rows[0].error) != 0)
			return NULL;
	return rows[0].error;
}

const char *
probe_result_verdict_name(enum probe_verdict verdict)
{
	switch (verdict) {
	case PROBE_VERDICT_NOT_BLOCKED:
		return "not blocked";
	case PROBE_VERDICT_BLOCKED:
		return "blocked";
	case PROBE_VERDICT_NO_SLEEPER:
		return "no sleeper";
	case PROBE_VERDICT_QUEUED:
		return "queued";
	case PROBE_VERDICT_FAILED:
		break;
	}
	return "failed";
}

/* Sort key for probe_result_order: answered rows by number, then the rest. */
struct probe_result_key {
	int	parsed;
	int64_t	request_no;
	size_t	index;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct probe_result_key *x = a, *y = b;

	if (x->parsed != y->parsed)
		return y->parsed - x->parsed;	/* answered rows first */
	if (x->parsed && x->request_no != y->request_no)
		return (x->request_no > y->request_no) -
		    (x->request_no < y->request_no);
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Fills order[0..count) with row indexes in the experiment's order: rows
 * with a parsed body by server request number, then the rest in send order.
 * This is what turns a blocking run into a staircase.  If scratch memory
 * cannot be had, the order is the send order.
 */
void
probe_result_order(const struct probe_result *rows, size_t count,
    size_t *order)
{
	struct probe_result_key *keys;
	size_t i;

	for (i = 0; i < count; i++)
		order[i] = i;
	if (count == 0 || (keys = calloc(count, sizeof(*keys))) == NULL)
		return;
	for (i = 0; i < count; i++) {
		keys[i].parsed = rows[i].parsed;
		keys[i].request_no = rows[i].request_no;
		keys[i].index = i;
	}
	qsort(keys, count, sizeof(keys[0]), cmp_key);
	for (i = 0; i < count; i++)
		order[i] = keys[i].index;
	free(keys);
}
