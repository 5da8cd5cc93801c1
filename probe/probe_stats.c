/* SPDX-License-Identifier: ISC */
/*
 * probe_stats.c - read an /async server's blocked-loop reports and say them.
 *
 * probe_stats_parse turns the body of GET .../async/stats into a struct
 * probe_stats, checking every field it uses and refusing the whole report
 * with the name of the first bad one; strings are cut to their buffers and
 * sanitised (common/text.h), so nothing the server sends reaches a terminal
 * or a picture unfiltered.  probe_stats_select keeps the reports that
 * belong to one run, probe_stats_sentence says one in a line.  Pure: no
 * I/O, no libevent; the unit tests drive it with fixture JSON.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/text.h"
#include "probe/probe_stats.h"

#define ARROW	" \xe2\x86\x90 "	/* " ← " between frames */
#define DURATION_MAX_MS	1e12		/* ms; more is not a duration */

/*
 * The path of the stats sibling of an /async path: target (a path and
 * query) whose last segment is "async" gives that path with "/stats" after
 * the segment, query dropped ("/x/async?a=1" gives "/x/async/stats").
 * Returns 0, or -1 when the last segment is not "async" (/sync, /pool) or
 * the result does not fit.
 */
int
probe_stats_path(const char *target, char *out, size_t size)
{
	const char *segment;
	size_t len = text_last_segment(target, &segment);
	size_t upto;

	if (len != 5 || memcmp(segment, "async", 5) != 0)
		return -1;
	upto = (size_t)(segment - target) + len;
	if ((size_t)snprintf(out, size, "%.*s/stats", (int)upto, target) >=
	    size)
		return -1;
	return 0;
}

static void
copy_text(char *dst, size_t size, struct json_object *val)
{
	const char *s = json_object_get_string(val);

	text_sanitise(s, (size_t)json_object_get_string_len(val), dst, size);
}

/* An optional string field into dst ("" when absent or null). */
static int
get_string(struct json_object *obj, const char *key, char *dst, size_t size,
    const char *where, char *err, size_t errlen)
{
	struct json_object *val;

	dst[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &val) || val == NULL)
		return 0;
	if (!json_object_is_type(val, json_type_string)) {
		snprintf(err, errlen, "%s%s is not a string", where, key);
		return -1;
	}
	copy_text(dst, size, val);
	return 0;
}

/* A non-negative integer field, or null (-1) when nullable. */
static int
get_count(struct json_object *obj, const char *key, int nullable,
    int64_t *out, const char *where, char *err, size_t errlen)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val)) {
		snprintf(err, errlen, "%smissing %s", where, key);
		return -1;
	}
	if (val == NULL && nullable) {
		*out = -1;
		return 0;
	}
	if (!json_object_is_type(val, json_type_int) ||
	    json_object_get_int64(val) < 0) {
		snprintf(err, errlen, "%s%s is not a non-negative integer%s",
		    where, key, nullable ? " or null" : "");
		return -1;
	}
	*out = json_object_get_int64(val);
	return 0;
}

/* A duration in ms: a finite number in [0, DURATION_MAX_MS]. */
static int
get_ms(struct json_object *obj, const char *key, double *out,
    const char *where, char *err, size_t errlen)
{
	struct json_object *val;
	double ms;

	if (!json_object_object_get_ex(obj, key, &val)) {
		snprintf(err, errlen, "%smissing %s", where, key);
		return -1;
	}
	if (!json_object_is_type(val, json_type_double) &&
	    !json_object_is_type(val, json_type_int)) {
		snprintf(err, errlen, "%s%s is not a number", where, key);
		return -1;
	}
	ms = json_object_get_double(val);
	if (!isfinite(ms) || ms < 0 || ms > DURATION_MAX_MS) {
		snprintf(err, errlen, "%s%s is out of range", where, key);
		return -1;
	}
	*out = ms;
	return 0;
}

static int
parse_block(struct json_object *obj, struct probe_block *block,
    const char *where, char *err, size_t errlen)
{
	struct json_object *val, *frames;
	size_t i, n;

	memset(block, 0, sizeof(*block));
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "%sis not an object", where);
		return -1;
	}
	if (get_count(obj, "request_no", 1, &block->request_no, where, err,
	    errlen) == -1 ||
	    get_count(obj, "started_us", 0, &block->started_us, where, err,
	    errlen) == -1 ||
	    get_ms(obj, "duration_ms", &block->duration_ms, where, err,
	    errlen) == -1 ||
	    get_string(obj, "method", block->method, sizeof(block->method),
	    where, err, errlen) == -1 ||
	    get_string(obj, "uri", block->uri, sizeof(block->uri), where, err,
	    errlen) == -1 ||
	    get_string(obj, "mode", block->mode, sizeof(block->mode), where,
	    err, errlen) == -1 ||
	    get_string(obj, "work", block->work, sizeof(block->work), where,
	    err, errlen) == -1)
		return -1;
	if (json_object_object_get_ex(obj, "active", &val) && val != NULL) {
		if (!json_object_is_type(val, json_type_boolean)) {
			snprintf(err, errlen, "%sactive is not a boolean",
			    where);
			return -1;
		}
		block->active = json_object_get_boolean(val);
	}
	if (!json_object_object_get_ex(obj, "frames", &frames) ||
	    frames == NULL)
		return 0;
	if (!json_object_is_type(frames, json_type_array)) {
		snprintf(err, errlen, "%sframes is not an array", where);
		return -1;
	}
	n = json_object_array_length(frames);
	for (i = 0; i < n && block->nframes < SA_PROBE_FRAMES_MAX; i++) {
		val = json_object_array_get_idx(frames, i);
		if (!json_object_is_type(val, json_type_string)) {
			snprintf(err, errlen, "%sframes[%zu] is not a string",
			    where, i);
			return -1;
		}
		copy_text(block->frames[block->nframes++], SA_PROBE_FRAME_MAX,
		    val);
	}
	return 0;
}

static int
parse_blocks(struct json_object *root, struct probe_stats *stats, char *err,
    size_t errlen)
{
	struct json_object *current = NULL, *recent = NULL;
	char where[48];
	size_t i, n;

	stats->form = PROBE_STATS_BLOCKS;
	json_object_object_get_ex(root, "current_block", &current);
	json_object_object_get_ex(root, "recent_blocks", &recent);
	if (current != NULL) {
		if (parse_block(current, &stats->current, "current_block: ",
		    err, errlen) == -1)
			return -1;
		stats->has_current = 1;
	}
	if (recent == NULL)
		return 0;
	if (!json_object_is_type(recent, json_type_array)) {
		snprintf(err, errlen, "recent_blocks is not an array");
		return -1;
	}
	n = json_object_array_length(recent);
	for (i = 0; i < n && stats->nrecent < SA_PROBE_BLOCKS_MAX; i++) {
		snprintf(where, sizeof(where), "recent_blocks[%zu]: ", i);
		if (parse_block(json_object_array_get_idx(recent, i),
		    &stats->recent[stats->nrecent], where, err, errlen) == -1)
			return -1;
		stats->nrecent++;
	}
	return 0;
}

static int
parse_stalls(struct json_object *root, struct probe_stats *stats, char *err,
    size_t errlen)
{
	int64_t stalls;

	stats->form = PROBE_STATS_STALLS;
	if (get_count(root, "stalls", 0, &stalls, "", err, errlen) == -1)
		return -1;
	stats->stalls = (uint64_t)stalls;
	if (stalls == 0) {
		stats->longest_stall_request = -1;
		return 0;
	}
	if (get_ms(root, "longest_stall_ms", &stats->longest_stall_ms, "", err,
	    errlen) == -1 ||
	    get_count(root, "longest_stall_request", 1,
	    &stats->longest_stall_request, "", err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * Parses len bytes of a stats body.  The blocks form is used when
 * "current_block" or "recent_blocks" is present, else the stalls form.
 * Returns 0, or -1 with err naming what is wrong ("not JSON",
 * "recent_blocks[1]: started_us is not a non-negative integer", ...).  At most
 * SA_PROBE_BLOCKS_MAX reports and SA_PROBE_FRAMES_MAX frames each are kept.
 */
int
probe_stats_parse(const char *body, size_t len, struct probe_stats *stats,
    char *err, size_t errlen)
{
	struct json_object *root;
	int rc = -1;

	memset(stats, 0, sizeof(*stats));
	stats->longest_stall_request = -1;
	if ((root = probe_result_parse_json(body, len)) == NULL) {
		snprintf(err, errlen, "not JSON");
		return -1;
	}
	if (!json_object_is_type(root, json_type_object))
		snprintf(err, errlen, "not a JSON object");
	else if (json_object_object_get_ex(root, "current_block", NULL) ||
	    json_object_object_get_ex(root, "recent_blocks", NULL))
		rc = parse_blocks(root, stats, err, errlen);
	else if (json_object_object_get_ex(root, "stalls", NULL))
		rc = parse_stalls(root, stats, err, errlen);
	else
		snprintf(err, errlen, "no blocked-loop report (neither "
		    "recent_blocks nor stalls)");
	json_object_put(root);
	return rc;
}

static const struct probe_result *
row_of(const struct probe_result *rows, size_t count, int64_t request_no)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (rows[i].parsed && rows[i].request_no == request_no)
			return &rows[i];
	return NULL;
}

/* A report belongs to the run when it names one of the run's requests or
 * started between the first send and the last answer (same clock). */
static int
in_run(const struct probe_block *block, const struct probe_result *rows,
    size_t count, int64_t t0, int64_t t1)
{
	if (block->request_no >= 0 &&
	    row_of(rows, count, block->request_no) != NULL)
		return 1;
	return block->started_us != 0 && block->started_us >= t0 &&
	    block->started_us <= t1;
}

/*
 * Fills server->blocks with the reports of the run rows[0..count) came
 * from (current block first, then the recent ones newest first, a block in
 * both kept once).  In the stalls form the longest stall is one block, with
 * no frames, placed at the server-side start of the request it names.
 */
void
probe_stats_select(struct probe_server *server,
    const struct probe_result *rows, size_t count)
{
	const struct probe_stats *st = &server->stats;
	const struct probe_result *row;
	struct probe_block *block;
	int64_t t0 = INT64_MAX, t1 = 0;
	size_t i;

	server->nblocks = 0;
	for (i = 0; i < count; i++) {
		if (rows[i].sent_us < t0)
			t0 = rows[i].sent_us;
		if (rows[i].received_us > t1)
			t1 = rows[i].received_us;
	}
	if (st->form == PROBE_STATS_STALLS) {
		server->ever_blocked = st->stalls > 0;
		if (st->stalls == 0 || (st->longest_stall_request >= 0 &&
		    row_of(rows, count, st->longest_stall_request) == NULL))
			return;
		block = &server->blocks[server->nblocks++];
		memset(block, 0, sizeof(*block));
		block->request_no = st->longest_stall_request;
		block->duration_ms = st->longest_stall_ms;
		if ((row = row_of(rows, count, block->request_no)) != NULL)
			block->started_us = row->started_us;
		return;
	}
	server->ever_blocked = st->has_current || st->nrecent > 0;
	if (st->has_current && in_run(&st->current, rows, count, t0, t1))
		server->blocks[server->nblocks++] = st->current;
	for (i = 0; i < st->nrecent; i++) {
		if (!in_run(&st->recent[i], rows, count, t0, t1))
			continue;
		if (st->has_current &&
		    st->recent[i].started_us == st->current.started_us &&
		    st->recent[i].request_no == st->current.request_no)
			continue;
		server->blocks[server->nblocks++] = st->recent[i];
	}
}

/* The first shown frames joined by " ← ", and " ← …" when there are more. */
void
probe_stats_frames(const struct probe_block *block, size_t shown, char *out,
    size_t size)
{
	size_t i, used = 0;
	int n;

	if (size == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < block->nframes && i < shown; i++) {
		n = snprintf(out + used, size - used, "%s%s", i > 0 ? ARROW :
		    "", block->frames[i]);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
	if (block->nframes > shown)
		snprintf(out + used, size - used, ARROW "\xe2\x80\xa6");
}

/*
 * One sentence for server->blocks[index], or, when index is past them, for
 * the run as a whole: "the loop was blocked 2.00 s by request #5, in
 * clock_nanosleep (libc.so.6) ← clock_sleep_us (common/clock.c:57) ← …",
 * "the loop was never blocked", "the loop was not blocked during this run",
 * or why the report could not be read.
 */
void
probe_stats_sentence(const struct probe_server *server, size_t index,
    char *out, size_t size)
{
	const struct probe_block *block;
	char by[48], frames[SA_PROBE_FRAME_MAX * PROBE_STATS_FRAMES_SHOWN];

	if (server->error[0] != '\0') {
		snprintf(out, size, "nothing readable (%s: %s)", server->url,
		    server->error);
		return;
	}
	if (index >= server->nblocks) {
		snprintf(out, size, "the loop was %s", server->ever_blocked ?
		    "not blocked during this run" : "never blocked");
		return;
	}
	block = &server->blocks[index];
	if (block->request_no >= 0)
		snprintf(by, sizeof(by), "request #%lld",
		    (long long)block->request_no);
	else
		snprintf(by, sizeof(by), "a callback outside any request");
	probe_stats_frames(block, PROBE_STATS_FRAMES_SHOWN, frames,
	    sizeof(frames));
	snprintf(out, size, "the loop %s %.2f s%s by %s%s%s",
	    block->active ? "is blocked," : "was blocked",
	    block->duration_ms / 1000.0, block->active ? " so far," : "", by,
	    block->nframes > 0 ? ", in " : "",
	    block->nframes > 0 ? frames : server->stats.form ==
	    PROBE_STATS_STALLS ? " (no stack: the server does not report one)" :
	    " (no stack in the report)");
}
