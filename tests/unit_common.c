/* SPDX-License-Identifier: ISC */
/*
 * unit_common.c - the shared library's pure parts: numbers, settings, query
 * strings, the handler's checks and sleeper rule, the response JSON.
 */
#include "config.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/handler.h"
#include "common/limits.h"
#include "common/listen.h"
#include "common/number.h"
#include "common/query.h"
#include "common/response.h"
#include "common/settings.h"
#include "common/text.h"
#include "common/work_blocking.h"
#include "tests/tap.h"

static void
test_numbers(void)
{
	static const struct {
		const char *text;
		uint64_t min, max;
		enum number_result result;
		uint64_t value;
	} uints[] = {
		{ "0", 0, 10, NUMBER_OK, 0 },
		{ "10", 0, 10, NUMBER_OK, 10 },
		{ "11", 0, 10, NUMBER_RANGE, 0 },
		{ "0", 1, 10, NUMBER_RANGE, 0 },
		{ "", 0, 10, NUMBER_EMPTY, 0 },
		{ "-1", 0, 10, NUMBER_SYNTAX, 0 },
		{ "+1", 0, 10, NUMBER_SYNTAX, 0 },
		{ " 1", 0, 10, NUMBER_SYNTAX, 0 },
		{ "1 ", 0, 10, NUMBER_SYNTAX, 0 },
		{ "1x", 0, 10, NUMBER_SYNTAX, 0 },
		{ "0x10", 0, 100, NUMBER_SYNTAX, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, NUMBER_OK,
		    UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, NUMBER_RANGE, 0 },
		{ "99999999999999999999999x", 0, UINT64_MAX, NUMBER_SYNTAX, 0 },
	};
	static const struct {
		const char *text;
		enum number_result result;
		uint64_t us;
	} seconds[] = {
		{ "20", NUMBER_OK, 20000000 },
		{ "0.5", NUMBER_OK, 500000 },
		{ "2.25", NUMBER_OK, 2250000 },
		{ "0.000001", NUMBER_OK, 1 },
		{ "0.0000001", NUMBER_SYNTAX, 0 },
		{ "3600", NUMBER_OK, 3600000000ULL },
		{ "3600.000001", NUMBER_RANGE, 0 },
		{ "3601", NUMBER_RANGE, 0 },
		{ "1.", NUMBER_SYNTAX, 0 },
		{ ".5", NUMBER_SYNTAX, 0 },
		{ "1e3", NUMBER_SYNTAX, 0 },
		{ "inf", NUMBER_SYNTAX, 0 },
		{ "nan", NUMBER_SYNTAX, 0 },
		{ "-2", NUMBER_SYNTAX, 0 },
		{ "2s", NUMBER_SYNTAX, 0 },
		{ "", NUMBER_EMPTY, 0 },
	};
	size_t i;
	char what[96];

	for (i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
		uint64_t value = 12345;

		snprintf(what, sizeof(what), "number_parse_uint(\"%s\")",
		    uints[i].text);
		TAP_EQ_INT(number_parse_uint(uints[i].text, uints[i].min,
		    uints[i].max, &value), uints[i].result, what);
		if (uints[i].result == NUMBER_OK)
			TAP_OK(value == uints[i].value, "  value");
		else
			TAP_OK(value == 12345, "  value untouched");
	}
	for (i = 0; i < sizeof(seconds) / sizeof(seconds[0]); i++) {
		uint64_t us = 0;

		snprintf(what, sizeof(what), "number_parse_seconds(\"%s\")",
		    seconds[i].text);
		TAP_EQ_INT(number_parse_seconds(seconds[i].text,
		    3600000000ULL, &us), seconds[i].result, what);
		if (seconds[i].result == NUMBER_OK)
			TAP_EQ_INT(us, seconds[i].us, "  microseconds");
	}
}

static void
clear_env(void)
{
	unsetenv("SYNCASYNC_SLEEP_SECONDS");
	unsetenv("SYNCASYNC_SLEEP_ON");
	unsetenv("SYNCASYNC_ASYNC_MODE");
	unsetenv("SYNCASYNC_POOL_THREADS");
	unsetenv("SYNCASYNC_STATE_DIR");
	unsetenv("SYNCASYNC_QUERY_OVERRIDES");
	unsetenv("SYNCASYNC_WORK");
	unsetenv("SYNCASYNC_DB");
	unsetenv("SYNCASYNC_UPSTREAM");
	unsetenv("SYNCASYNC_DB_POOL");
	unsetenv("SYNCASYNC_UPSTREAM_TIMEOUT");
}

static void
test_settings(void)
{
	static const struct {
		const char *name, *value, *named;
	} bad[] = {
		{ "SYNCASYNC_SLEEP_SECONDS", "abc", "SYNCASYNC_SLEEP_SECONDS" },
		{ "SYNCASYNC_SLEEP_SECONDS", "-1", "SYNCASYNC_SLEEP_SECONDS" },
		{ "SYNCASYNC_SLEEP_SECONDS", "99999", "SYNCASYNC_SLEEP_SECONDS" },
		{ "SYNCASYNC_SLEEP_ON", "five", "SYNCASYNC_SLEEP_ON" },
		{ "SYNCASYNC_SLEEP_ON", "", "SYNCASYNC_SLEEP_ON" },
		{ "SYNCASYNC_SLEEP_ON", "5,", "SYNCASYNC_SLEEP_ON" },
		{ "SYNCASYNC_SLEEP_ON", "6-3", "SYNCASYNC_SLEEP_ON" },
		{ "SYNCASYNC_SLEEP_ON", "12/10", "SYNCASYNC_SLEEP_ON" },
		{ "SYNCASYNC_ASYNC_MODE", "fast", "SYNCASYNC_ASYNC_MODE" },
		{ "SYNCASYNC_POOL_THREADS", "0", "SYNCASYNC_POOL_THREADS" },
		{ "SYNCASYNC_POOL_THREADS", "100000", "SYNCASYNC_POOL_THREADS" },
		{ "SYNCASYNC_STATE_DIR", "relative/dir", "SYNCASYNC_STATE_DIR" },
		{ "SYNCASYNC_QUERY_OVERRIDES", "yes",
		    "SYNCASYNC_QUERY_OVERRIDES" },
		{ "SYNCASYNC_WORK", "redis", "SYNCASYNC_WORK" },
		{ "SYNCASYNC_WORK", "", "SYNCASYNC_WORK" },
		{ "SYNCASYNC_WORK", "db", "SYNCASYNC_DB" },	/* none given */
		{ "SYNCASYNC_WORK", "http", "SYNCASYNC_UPSTREAM" },
		{ "SYNCASYNC_DB_POOL", "0", "SYNCASYNC_DB_POOL" },
		{ "SYNCASYNC_DB_POOL", "5000", "SYNCASYNC_DB_POOL" },
		{ "SYNCASYNC_UPSTREAM_TIMEOUT", "0", "SYNCASYNC_UPSTREAM_TIMEOUT" },
		{ "SYNCASYNC_UPSTREAM_TIMEOUT", "soon",
		    "SYNCASYNC_UPSTREAM_TIMEOUT" },
	};
	static const struct {
		const char *url;
		int ok;
	} upstreams[] = {
		{ "http://127.0.0.1:8081/slow", 1 },
		{ "https://example.org", 1 },
		{ "http://h/slow?x=async", 1 },
		{ "http://h/asyncx", 1 },
		{ "ftp://h/slow", 0 },
		{ "file:///etc/passwd", 0 },
		{ "127.0.0.1:8081/slow", 0 },
		{ "http://", 0 },
		{ "http:///slow", 0 },
		{ "http://h/slow path", 0 },
		{ "http://127.0.0.1:8080/async", 0 },
		{ "http://127.0.0.1:8080/modes/block/async/", 0 },
		{ "http://h/sync?seconds=1", 0 },
		{ "https://h/pool", 0 },
		{ "http://h/async/stats", 0 },
	};
	struct settings s;
	char err[SETTINGS_ERROR_MAX], shown[8];
	size_t i;

	clear_env();
	TAP_EQ_INT(settings_load(&s, "/var/lib/x", err, sizeof(err)), 0,
	    "defaults load");
	TAP_EQ_INT(s.sleep_us, 20000000, "default sleep is 20 s");
	TAP_OK(s.sleep_on.count == 1 && s.sleep_on.period == 0 &&
	    s.sleep_on.range[0].first == 5 && s.sleep_on.range[0].last == 5,
	    "default sleeper is request 5");
	TAP_EQ_INT(s.mode, MODE_BLOCK, "default mode is block");
	TAP_EQ_INT(s.pool_threads, 40, "default pool is 40 threads");
	TAP_EQ_STR(s.state_dir, "/var/lib/x", "default state dir");
	TAP_EQ_INT(s.query_overrides, 0, "overrides off by default");
	TAP_EQ_INT(s.work, WORK_SLEEP, "default work is sleep");
	TAP_EQ_INT(s.db_pool, 10, "default database pool is 10");
	TAP_EQ_INT(s.upstream_timeout_us, 30000000,
	    "default upstream timeout is 30 s");
	TAP_OK(s.db == NULL && s.upstream == NULL, "no database, no upstream");

	setenv("SYNCASYNC_SLEEP_SECONDS", "2.5", 1);
	setenv("SYNCASYNC_SLEEP_ON", "all", 1);
	setenv("SYNCASYNC_ASYNC_MODE", "async", 1);
	setenv("SYNCASYNC_QUERY_OVERRIDES", "1", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), 0,
	    "explicit values load");
	TAP_EQ_INT(s.sleep_us, 2500000, "sleep 2.5 s");
	TAP_EQ_INT(s.sleep_all, 1, "SLEEP_ON=all");
	TAP_EQ_INT(s.mode, MODE_TIMER, "async is an alias of timer");
	TAP_EQ_STR(settings_mode_name(s.mode), "timer", "mode name");
	TAP_EQ_INT(s.query_overrides, 1, "overrides on");
	TAP_EQ_STR(settings_mode_label(s.mode, s.work), "timer",
	    "sleep in the non-blocking mode is labelled timer");

	clear_env();
	setenv("SYNCASYNC_WORK", "db", 1);
	setenv("SYNCASYNC_DB", "host=/tmp dbname=x", 1);
	setenv("SYNCASYNC_DB_POOL", "2", 1);
	setenv("SYNCASYNC_UPSTREAM", "", 1);	/* lighttpd passes unset ones */
	setenv("SYNCASYNC_UPSTREAM_TIMEOUT", "1.5", 1);
	setenv("SYNCASYNC_ASYNC_MODE", "timer", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), 0,
	    "work=db with a conninfo loads");
	TAP_EQ_INT(s.work, WORK_DB, "  work db");
	TAP_EQ_STR(s.db, "host=/tmp dbname=x", "  conninfo");
	TAP_EQ_INT(s.db_pool, 2, "  pool of 2");
	TAP_OK(s.upstream == NULL, "  an empty upstream is unset");
	TAP_EQ_INT(s.upstream_timeout_us, 1500000, "  timeout 1.5 s");
	TAP_EQ_STR(settings_mode_label(s.mode, s.work), "async",
	    "  db in the non-blocking mode is labelled async");
	TAP_EQ_STR(settings_mode_label(MODE_OFFLOAD, s.work), "offload",
	    "  offload stays offload");
	TAP_EQ_STR(settings_work_name(s.work), "db", "  work name");

	clear_env();
	setenv("SYNCASYNC_WORK", "http", 1);
	setenv("SYNCASYNC_DB", "", 1);
	setenv("SYNCASYNC_UPSTREAM", "http://127.0.0.1:9/slow", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), 0,
	    "work=http with an upstream loads");
	TAP_OK(s.work == WORK_HTTP && s.db == NULL,
	    "  work http, an empty SYNCASYNC_DB is unset");
	setenv("SYNCASYNC_UPSTREAM", "http://127.0.0.1:8080/async", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), -1,
	    "an upstream that is the responder's own route is refused");
	TAP_OK(strstr(err, "SYNCASYNC_UPSTREAM") != NULL &&
	    strstr(err, "responder") != NULL, "  the error says why");
	setenv("SYNCASYNC_WORK", "sleep", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), 0,
	    "  but not when the work does not use it");

	for (i = 0; i < sizeof(upstreams) / sizeof(upstreams[0]); i++) {
		char what[128], why[SA_ERROR_MAX];

		snprintf(what, sizeof(what), "upstream %s %s", upstreams[i].url,
		    upstreams[i].ok ? "accepted" : "refused");
		TAP_EQ_INT(settings_check_upstream(upstreams[i].url, why,
		    sizeof(why)),
		    upstreams[i].ok ? 0 : -1, what);
	}

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[128];

		clear_env();
		setenv(bad[i].name, bad[i].value, 1);
		snprintf(what, sizeof(what), "%s=\"%s\" rejected", bad[i].name,
		    bad[i].value);
		TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), -1, what);
		TAP_OK(strstr(err, bad[i].named) != NULL,
		    "  the error names the variable");
	}
	clear_env();

	settings_sanitise("a\nb\x01" "c", shown, sizeof(shown));
	TAP_EQ_STR(shown, "a.b.c", "sanitise replaces control bytes");
	settings_sanitise("abcdefghij", shown, sizeof(shown));
	TAP_EQ_STR(shown, "abcd...", "sanitise truncates with an ellipsis");
}

static void
test_work_helpers(void)
{
	struct work_result r;
	char url[64], seconds[32], long_detail[2 * SA_ERROR_MAX];
	char err[SA_ERROR_MAX];

	work_seconds_text(2500000, seconds, sizeof(seconds));
	TAP_EQ_STR(seconds, "2.500", "work seconds text");
	TAP_EQ_INT(work_upstream_url("http://h/slow", 2000000, url,
	    sizeof(url)), 0, "upstream URL built");
	TAP_EQ_STR(url, "http://h/slow?seconds=2.000", "  seconds added");
	work_upstream_url("http://h/slow?a=1#frag", 0, url, sizeof(url));
	TAP_EQ_STR(url, "http://h/slow?a=1&seconds=0.000",
	    "  to an existing query, fragment dropped");
	TAP_EQ_INT(work_upstream_url("http://h/a-very-long-path-indeed-that-"
	    "does-not-fit-here", 0, url, sizeof(url)), -1,
	    "  a URL that does not fit is refused");
	work_result_set(&r, 502, "database query failed",
	    "FATAL:  terminating connection\n\tdue to\x01 shutdown\n");
	TAP_EQ_INT(r.status, 502, "work result status");
	TAP_EQ_STR(r.error, "database query failed: FATAL: terminating "
	    "connection due to. shutdown", "  the detail on one clean line");
	work_result_set(&r, 504, "upstream timed out", "");
	TAP_EQ_STR(r.error, "upstream timed out", "  no detail, no colon");
	work_result_set(&r, 502, "failed", " \n\t ");
	TAP_EQ_STR(r.error, "failed", "  white space only: no colon");
	work_result_set(&r, 502, "failed", "\n  a\x80" "b  \r\n");
	TAP_EQ_STR(r.error, "failed: a.b", "  no space at either end");
	memset(long_detail, 'x', sizeof(long_detail) - 1);
	long_detail[sizeof(long_detail) - 1] = '\0';
	work_result_set(&r, 502, "failed", long_detail);
	TAP_EQ_INT(strlen(r.error), SA_ERROR_MAX - 1,
	    "  a long detail is cut to SA_ERROR_MAX");
	TAP_OK(strncmp(r.error, "failed: xxx", 11) == 0, "  after its prefix");
	TAP_EQ_INT(work_blocking_load(WORK_SLEEP, err, sizeof(err)), 0,
	    "work_blocking_load(sleep) loads nothing");
	TAP_EQ_INT(work_blocking_load(WORK_DB, err, sizeof(err)), 0,
	    "work_blocking_load(db) loads libpq");
	TAP_EQ_INT(work_blocking_load(WORK_DB, err, sizeof(err)), 0,
	    "  once: a second call is a no-op");
	TAP_EQ_INT(work_blocking_load(WORK_HTTP, err, sizeof(err)), 0,
	    "work_blocking_load(http) loads libcurl");
}

static void
test_query(void)
{
	char out[16];

	TAP_EQ_INT(query_get(NULL, "sleep", out, sizeof(out)), QUERY_ABSENT,
	    "no query");
	TAP_EQ_INT(query_get("", "sleep", out, sizeof(out)), QUERY_ABSENT,
	    "empty query");
	TAP_EQ_INT(query_get("sleep=2", "sleep", out, sizeof(out)),
	    QUERY_FOUND, "sleep=2 found");
	TAP_EQ_STR(out, "2", "  value");
	TAP_EQ_INT(query_get("a=1&sleep=%32%2E5&b", "sleep", out, sizeof(out)),
	    QUERY_FOUND, "escaped value among others");
	TAP_EQ_STR(out, "2.5", "  decoded");
	TAP_EQ_INT(query_get("mode=a+b", "mode", out, sizeof(out)),
	    QUERY_FOUND, "plus");
	TAP_EQ_STR(out, "a b", "  plus is a space");
	TAP_EQ_INT(query_get("sleepy=1", "sleep", out, sizeof(out)),
	    QUERY_ABSENT, "prefix of another name does not match");
	TAP_EQ_INT(query_get("sleep=%zz", "sleep", out, sizeof(out)),
	    QUERY_BAD_ESCAPE, "bad escape");
	TAP_EQ_INT(query_get("sleep=2&x=%4", "sleep", out, sizeof(out)),
	    QUERY_BAD_ESCAPE, "bad escape elsewhere is still reported");
	TAP_EQ_INT(query_get("sleep=1&sleep=2", "sleep", out, sizeof(out)),
	    QUERY_REPEATED, "repeated");
	TAP_EQ_INT(query_get("sleep=12345678901234567890", "sleep", out,
	    sizeof(out)), QUERY_TOO_LONG, "too long for the buffer");
}

/* SYNCASYNC_SLEEP_ON's sets, ranges and repeating form. */
static void
test_sleep_on(void)
{
	static const struct {
		const char *text;
		const char *canonical;	/* NULL: refused */
		uint64_t sleeps[4];	/* request numbers that sleep */
		uint64_t wakes[4];	/* and some that do not (0 ends) */
	} cases[] = {
		{ "5", "5", { 5 }, { 4, 6, 15 } },
		{ "5,7", "5,7", { 5, 7 }, { 6, 8, 17 } },
		{ "3-6", "3-6", { 3, 4, 6 }, { 2, 7 } },
		{ "1,3-4,9", "1,3-4,9", { 1, 3, 4, 9 }, { 2, 5, 8, 10 } },
		{ "5/10", "5/10", { 5, 15, 25, 1000000005 }, { 10, 14, 16 } },
		{ "1-2/10", "1-2/10", { 1, 2, 11, 22 }, { 3, 10, 20 } },
		{ "10/10", "10/10", { 10, 20 }, { 1, 11, 19 } },
		{ "all", "all", { 1, 2, 1000 }, { 0 } },
		{ "0", "0", { 0 }, { 1, 5, 10 } },
		{ "1000000000", "1000000000", { 1000000000 }, { 5 } },
		{ "", NULL, { 0 }, { 0 } },
		{ "five", NULL, { 0 }, { 0 } },
		{ "-5", NULL, { 0 }, { 0 } },
		{ "5-", NULL, { 0 }, { 0 } },
		{ "5,,7", NULL, { 0 }, { 0 } },
		{ "0,5", NULL, { 0 }, { 0 } },
		{ "7-3", NULL, { 0 }, { 0 } },
		{ "5/0", NULL, { 0 }, { 0 } },
		{ "5/", NULL, { 0 }, { 0 } },
		{ "11/10", NULL, { 0 }, { 0 } },
		{ "5/10/2", NULL, { 0 }, { 0 } },
		{ "1000000001", NULL, { 0 }, { 0 } },
		{ "99999999999999999999999999", NULL, { 0 }, { 0 } },
		{ " 5", NULL, { 0 }, { 0 } },
		{ "+5", NULL, { 0 }, { 0 } },
		{ "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL, { 0 },
		    { 0 } },
	};
	struct settings s;
	char err[SETTINGS_ERROR_MAX], text[SA_SETTING_MAX], what[128];
	size_t i, j;
	int ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clear_env();
		settings_load(&s, "/x", err, sizeof(err));
		ok = settings_parse_sleep_on(cases[i].text, &s, err,
		    sizeof(err)) == 0;
		snprintf(what, sizeof(what), "SLEEP_ON \"%s\" %s",
		    cases[i].text, cases[i].canonical ? "accepted" : "refused");
		TAP_OK(ok == (cases[i].canonical != NULL), what);
		if (!ok) {
			TAP_OK(settings_sleeps(&s, 5) && s.sleep_on.count == 1,
			    "  the settings are untouched");
			continue;
		}
		settings_sleep_on_text(&s, text, sizeof(text));
		TAP_EQ_STR(text, cases[i].canonical, "  canonical text");
		for (j = 0; j < 4 && cases[i].sleeps[j] != 0; j++) {
			snprintf(what, sizeof(what), "  request %llu sleeps",
			    (unsigned long long)cases[i].sleeps[j]);
			TAP_OK(settings_sleeps(&s, cases[i].sleeps[j]), what);
		}
		for (j = 0; j < 4 && cases[i].wakes[j] != 0; j++) {
			snprintf(what, sizeof(what), "  request %llu does not",
			    (unsigned long long)cases[i].wakes[j]);
			TAP_OK(!settings_sleeps(&s, cases[i].wakes[j]), what);
		}
	}

	clear_env();
	setenv("SYNCASYNC_SLEEP_ON", "3-4/10", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), 0,
	    "SYNCASYNC_SLEEP_ON=3-4/10 loads");
	TAP_OK(settings_sleeps(&s, 13) && settings_sleeps(&s, 24) &&
	    !settings_sleeps(&s, 15), "  3, 4, 13, 14, 23, 24 ... sleep");
	setenv("SYNCASYNC_SLEEP_ON", "4,x", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), -1,
	    "SYNCASYNC_SLEEP_ON=4,x refused");
	TAP_OK(strstr(err, "SYNCASYNC_SLEEP_ON=\"4,x\"") != NULL &&
	    strstr(err, "5/10") != NULL, "  named, quoted, with an example");
	setenv("SYNCASYNC_SLEEP_ON", "0,9", 1);
	settings_load(&s, "/x", err, sizeof(err));
	TAP_OK(strstr(err, "from 1 to 1000000000") != NULL,
	    "  a 0 in a set: the bound is stated");
	clear_env();
}

static void
test_handler(void)
{
	struct settings s;
	struct handler_request r = { "GET", NULL, NULL };
	struct handler_plan p;
	char err[SETTINGS_ERROR_MAX];

	clear_env();
	settings_load(&s, "/x", err, sizeof(err));
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), 0, "GET accepted");
	handler_assign(&s, 4, &p);
	TAP_OK(!p.sleeper && p.sleep_us == 0, "request 4 does not sleep");
	handler_assign(&s, 5, &p);
	TAP_OK(p.sleeper && p.sleep_us == 20000000, "request 5 sleeps 20 s");

	r.method = "POST";
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), -1, "POST rejected");
	TAP_EQ_INT(p.status, 405, "  with 405");
	r.method = NULL;
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), -1, "no method rejected");
	r.method = "HEAD";
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), 0, "HEAD accepted");
	TAP_OK(p.head, "  as headers only");

	r.method = "GET";
	r.query = "sleep=abc";
	TAP_EQ_INT(handler_check(&s, &r, 1, &p), 0,
	    "without overrides the query is not read");
	handler_assign(&s, 1, &p);
	TAP_OK(!p.sleeper, "  and changes nothing");

	s.query_overrides = 1;
	TAP_EQ_INT(handler_check(&s, &r, 1, &p), -1, "sleep=abc rejected");
	TAP_EQ_INT(p.status, 400, "  with 400");
	r.query = "sleep=4000";
	TAP_EQ_INT(handler_check(&s, &r, 1, &p), -1, "sleep=4000 rejected");
	r.query = "sleep=%";
	TAP_EQ_INT(handler_check(&s, &r, 1, &p), -1, "bad escape rejected");
	TAP_EQ_INT(p.status, 400, "  with 400");
	r.query = "sleep=0.25&mode=offload";
	TAP_EQ_INT(handler_check(&s, &r, 1, &p), 0, "sleep and mode accepted");
	TAP_EQ_INT(p.mode, MODE_OFFLOAD, "  mode override");
	handler_assign(&s, 1, &p);
	TAP_OK(p.sleeper && p.sleep_us == 250000,
	    "  any request with ?sleep= sleeps that long");
	r.query = "mode=fast";
	TAP_EQ_INT(handler_check(&s, &r, 1, &p), -1, "mode=fast rejected");
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), 0,
	    "mode is not read where modes do not apply");

	r.query = NULL;
	r.content_length = "12";
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), 0, "CONTENT_LENGTH 12 ok");
	r.content_length = "-1";
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), -1, "negative length");
	TAP_EQ_INT(p.status, 400, "  with 400");
	r.content_length = "99999999999";
	TAP_EQ_INT(handler_check(&s, &r, 0, &p), -1, "huge length");
	TAP_EQ_INT(p.status, 413, "  with 413");
}

static void
test_listen(void)
{
	struct sockaddr_in sin;
	socklen_t sin_len = sizeof(sin);
	char err[SA_ERROR_MAX], spec[16], addr[48];
	int held, fd;

	/* A port another socket listens on: "address in use", the address. */
	held = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TAP_OK(held != -1 && bind(held, (struct sockaddr *)&sin,
	    sizeof(sin)) == 0 && listen(held, 1) == 0 &&
	    getsockname(held, (struct sockaddr *)&sin, &sin_len) == 0,
	    "listen: hold a loopback port");
	snprintf(spec, sizeof(spec), "%u", (unsigned)ntohs(sin.sin_port));
	snprintf(addr, sizeof(addr), "(127.0.0.1:%s)", spec);
	err[0] = '\0';
	fd = listen_open(spec, err, sizeof(err));
	TAP_EQ_INT(fd, -1, "listen_open on a port in use fails");
	TAP_OK(strstr(err, "Address already in use") != NULL,
	    "  saying the address is in use");
	TAP_OK(strstr(err, addr) != NULL, "  naming the address a bare port "
	    "means");
	printf("# %s\n", err);
	close(held);

	fd = listen_open("unix:/nonexistent-syncasync-dir/s.sock", err,
	    sizeof(err));
	TAP_EQ_INT(fd, -1, "listen_open in a missing directory fails");
	TAP_OK(strstr(err, "No such file or directory") != NULL &&
	    strstr(err, "unix:/nonexistent-syncasync-dir/s.sock") != NULL,
	    "  saying so and naming the path");
	printf("# %s\n", err);
	fd = listen_open("unix:/dev/null", err, sizeof(err));
	TAP_OK(fd == -1 && strstr(err, "not a socket") != NULL,
	    "listen_open over a file that is not a socket refuses");
	fd = listen_open("127.0.0.1:0", err, sizeof(err));
	TAP_OK(fd == -1 && strstr(err, "65535") != NULL,
	    "listen_open: port 0 is out of range");
}

static void
test_bounds(void)
{
	static const struct {
		uint64_t us;
		const char *text;
	} formats[] = {
		{ 0, "0" }, { 1, "0.000001" }, { 1000, "0.001" },
		{ 500000, "0.5" }, { 2250000, "2.25" }, { 20000000, "20" },
		{ 3600000000ULL, "3600" }, { UINT64_MAX, "18446744073709.551615" },
	};
	struct settings s;
	struct handler_request r = { "GET", "sleep=4000", NULL };
	struct handler_plan p;
	char text[NUMBER_SECONDS_TEXT], err[SA_ERROR_MAX], what[64];
	uint64_t us;
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		number_format_seconds(formats[i].us, text, sizeof(text));
		snprintf(what, sizeof(what), "number_format_seconds(%llu)",
		    (unsigned long long)formats[i].us);
		TAP_EQ_STR(text, formats[i].text, what);
		if (formats[i].us <= SA_SLEEP_MAX_US)
			TAP_OK(number_parse_seconds(text, SA_SLEEP_MAX_US,
			    &us) == NUMBER_OK && us == formats[i].us,
			    "  reads back");
	}
	number_format_seconds(SA_SLEEP_MAX_US, text, sizeof(text));
	TAP_EQ_STR(SA_TEXT(SA_SLEEP_MAX_S), text,
	    "SA_TEXT(SA_SLEEP_MAX_S) is SA_SLEEP_MAX_US in seconds");
	number_format_seconds(SA_UPSTREAM_TIMEOUT_MAX_US, text, sizeof(text));
	TAP_EQ_STR(SA_TEXT(SA_UPSTREAM_TIMEOUT_MAX_S), text,
	    "SA_TEXT(SA_UPSTREAM_TIMEOUT_MAX_S) likewise");

	clear_env();
	settings_load(&s, "/x", err, sizeof(err));
	s.query_overrides = 1;
	handler_check(&s, &r, 0, &p);
	number_format_seconds(SA_SLEEP_MAX_US, text, sizeof(text));
	TAP_OK(p.error != NULL && strstr(p.error, text) != NULL,
	    "?sleep= past the bound: the message states SA_SLEEP_MAX_US");
	setenv("SYNCASYNC_SLEEP_SECONDS", "3601", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), -1,
	    "SYNCASYNC_SLEEP_SECONDS=3601 refused");
	TAP_OK(strstr(err, "from 0 to 3600,") != NULL,
	    "  the message states the bounds");
	clear_env();
	setenv("SYNCASYNC_UPSTREAM_TIMEOUT", "0.0009", 1);
	TAP_EQ_INT(settings_load(&s, "/x", err, sizeof(err)), -1,
	    "SYNCASYNC_UPSTREAM_TIMEOUT under 1 ms refused");
	TAP_OK(strstr(err, "from 0.001 to 3600,") != NULL,
	    "  the message states SA_UPSTREAM_TIMEOUT_MIN_US and _MAX_US");
	clear_env();
}

static void
test_text(void)
{
	static const struct {
		const char *uri, *segment;
	} segments[] = {
		{ "/async", "async" },
		{ "/a/b/async", "async" },
		{ "/async/", "async" },
		{ "/async//", "async" },
		{ "/a/async?x=/stats", "async" },
		{ "/a/async/?x=1", "async" },
		{ "/slow#/stats", "slow" },
		{ "async", "async" },
		{ "/", "" },
		{ "//", "" },
		{ "", "" },
		{ "?async", "" },
		{ "/a/", "a" },
	};
	char out[8], tiny[1] = { 'x' };
	const char *segment;
	size_t i, len;

	text_sanitise("a\nb\0c\x7f\xff", 7, out, sizeof(out));
	TAP_EQ_STR(out, "a.b.c..", "text_sanitise replaces all but printable "
	    "ASCII");
	text_sanitise("abcdefghij", 10, out, sizeof(out));
	TAP_EQ_STR(out, "abcdefg", "  keeps at most outsize - 1 bytes");
	text_sanitise("abc", 0, out, sizeof(out));
	TAP_EQ_STR(out, "", "  an empty input gives an empty string");
	text_sanitise("abc", 3, tiny, sizeof(tiny));
	TAP_EQ_INT(tiny[0], '\0', "  outsize 1 gives \"\"");
	tiny[0] = 'x';
	text_sanitise("abc", 3, tiny, 0);
	TAP_EQ_INT(tiny[0], 'x', "  outsize 0 writes nothing");
	text_sanitise("~ }", 3, out, sizeof(out));
	TAP_EQ_STR(out, "~ }", "  space and tilde are kept");

	for (i = 0; i < sizeof(segments) / sizeof(segments[0]); i++) {
		char what[96], got[32];

		len = text_last_segment(segments[i].uri, &segment);
		snprintf(got, sizeof(got), "%.*s", (int)len, segment);
		snprintf(what, sizeof(what), "text_last_segment(\"%s\")",
		    segments[i].uri);
		TAP_EQ_STR(got, segments[i].segment, what);
		TAP_OK(segment >= segments[i].uri && segment + len <=
		    segments[i].uri + strlen(segments[i].uri),
		    "  points inside the URI");
	}
}

static void
test_clock(void)
{
	struct timeval tv;

	tv = clock_timeval(0);
	TAP_OK(tv.tv_sec == 0 && tv.tv_usec == 0, "clock_timeval(0)");
	tv = clock_timeval(2500000);
	TAP_OK(tv.tv_sec == 2 && tv.tv_usec == 500000, "clock_timeval(2.5 s)");
	tv = clock_timeval(999999);
	TAP_OK(tv.tv_sec == 0 && tv.tv_usec == 999999,
	    "clock_timeval(999999 us)");
	tv = clock_timeval(SA_SLEEP_MAX_US);
	TAP_OK(tv.tv_sec == (time_t)(SA_SLEEP_MAX_US / 1000000) &&
	    tv.tv_usec == 0, "clock_timeval(SA_SLEEP_MAX_US)");
	TAP_OK(clock_mono_us() > 0, "clock_mono_us");
	TAP_OK(clock_now_us() > 1700000000000000LL, "clock_now_us");
}

struct fake_env {
	const char *names[4], *values[4];
};

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake_env *env = ctx;
	size_t i;

	for (i = 0; env->names[i] != NULL; i++)
		if (strcmp(env->names[i], name) == 0)
			return env->values[i];
	return NULL;
}

static void
test_request_read(void)
{
	struct fake_env env = {
		{ "REQUEST_METHOD", "QUERY_STRING", NULL },
		{ "HEAD", "sleep=1", NULL },
	};
	struct handler_request r;

	memset(&r, 0xff, sizeof(r));
	handler_request_read(&r, fake_param, &env);
	TAP_EQ_STR(r.method, "HEAD", "handler_request_read: REQUEST_METHOD");
	TAP_EQ_STR(r.query, "sleep=1", "  QUERY_STRING");
	TAP_OK(r.content_length == NULL, "  CONTENT_LENGTH absent is NULL");
}

static void
test_info_fill(void)
{
	struct settings s;
	struct handler_request r = { "GET", NULL, NULL };
	struct handler_plan p;
	struct response_info info;
	char err[SA_ERROR_MAX];
	int64_t before;

	clear_env();
	settings_load(&s, "/x", err, sizeof(err));
	handler_check(&s, &r, 0, &p);
	handler_assign(&s, 5, &p);
	before = clock_now_us();
	handler_info_fill(&info, &p, "async example", 42, 7, 1000, "timer");
	TAP_EQ_STR(info.message, "async example", "handler_info_fill: message");
	TAP_OK(info.sleeper && info.request_no == 5, "  sleeper, request_no");
	TAP_OK(info.thread_id == 42 && info.pid == 7, "  thread_id, pid");
	TAP_OK(info.started_us == 1000 && info.finished_us >= before,
	    "  started_us given, finished_us now");
	TAP_EQ_STR(info.mode, "timer", "  mode");
	handler_assign(&s, 4, &p);
	handler_info_fill(&info, &p, "sync example", 1, 2, 3, NULL);
	TAP_OK(!info.sleeper && info.mode == NULL, "  /sync: no mode");
}

static void
test_response_build(void)
{
	struct json_object *obj;
	char *out, header[RESPONSE_HEADER_MAX];
	size_t len = 0, header_len;

	obj = json_object_new_object();
	json_object_object_add(obj, "url", json_object_new_string("a/b"));
	out = response_json_finish(obj, &len);
	TAP_EQ_STR(out, "{ \"url\": \"a/b\" }\n",
	    "response_json_finish: spaced, slashes unescaped, newline");
	TAP_EQ_INT(len, strlen("{ \"url\": \"a/b\" }\n"), "  length");
	free(out);
	TAP_OK(response_json_finish(NULL, &len) == NULL, "  NULL in, NULL out");

	header_len = response_cgi_header(header, sizeof(header), 404, 5);
	out = response_build(404, 0, "body\n", 5, &len);
	TAP_OK(out != NULL && len == header_len + 5 &&
	    memcmp(out, header, header_len) == 0 &&
	    strcmp(out + header_len, "body\n") == 0,
	    "response_build: header block then body");
	free(out);
	out = response_build(404, 1, "body\n", 5, &len);
	TAP_OK(out != NULL && len == header_len &&
	    strcmp(out, header) == 0, "  HEAD: the same headers, no body");
	free(out);
	TAP_OK(response_build(200, 0, NULL, 0, &len) == NULL,
	    "  a NULL body passes through as NULL");
}

/* One comparison of the writer with the json-c path; 1 if the same. */
static int
writer_same(const struct response_info *info)
{
	char buf[4 * RESPONSE_BODY_MAX], *ref;
	size_t ref_len = 0, len;
	int same;

	ref = response_json(info, &ref_len);
	len = response_json_write(info, buf, sizeof(buf));
	same = ref != NULL && len == ref_len && memcmp(buf, ref, len) == 0;
	if (!same)
		printf("# json-c: %s# writer: %.*s\n", ref ? ref : "(null)\n",
		    (int)len, buf);
	free(ref);
	return same;
}

static void
test_response_writer(void)
{
	static const int64_t ints[] = { 0, 1, -1, 9, 10, -10, 99, 100,
	    999999, 1000000, -1000000, 2147483647LL, -2147483648LL,
	    4294967296LL, 1732626337000000LL, -1732626337000000LL,
	    INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1 };
	static const uint64_t uints[] = { 0, 1, 9, 10, 4294967295ULL,
	    18446744073709551615ULL, 10000000000000000000ULL };
	static const char *const messages[] = { "async example",
	    "sync example", "", "a/b \"q\" \\ \t\n\r\b\f\x01\x1f\x7f\xc3\xa9" };
	static const char *const modes[] = { NULL, "timer", "offload",
	    "block", "timer/db", "", "/" };
	struct response_info info;
	char bytes[256], buf[RESPONSE_BODY_MAX], header[RESPONSE_HEADER_MAX];
	char ref[RESPONSE_HEADER_MAX];
	static const int statuses[] = { 200, 400, 404, 405, 413, 414, 500,
	    502, 503, 504, 299, -3 };
	static const size_t lengths[] = { 0, 1, 9, 10, 123, 65535, 1048576,
	    SIZE_MAX };
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i, j, k, bad = 0, n = 0, len;
	int c;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		for (j = 0; j < sizeof(messages) / sizeof(messages[0]); j++)
			for (k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
				info.message = messages[j];
				info.sleeper = (int)((i + k) & 1);
				info.thread_id = (long)ints[i];
				info.pid = (long)ints[(i + 3) % 20];
				info.request_no = uints[(i + j + k) % 7];
				info.started_us = ints[(i + j) % 20];
				info.finished_us = ints[(i + 7) % 20];
				info.mode = modes[k];
				bad += !writer_same(&info);
				n++;
			}
	TAP_OK(bad == 0, "response_json_write: the json-c bytes for every "
	    "extreme and message");
	/* Every byte value, escaped as json-c escapes it. */
	for (c = 1; c < 256; c++)
		bytes[c - 1] = (char)c;
	bytes[255] = '\0';
	info.mode = bytes;
	bad = 0;
	for (i = 0; i < 2; i++) {
		info.sleeper = (int)i;
		bad += !writer_same(&info);
	}
	TAP_OK(bad == 0, "  every byte 1..255 in a string field");
	/* Pseudo-random values around now. */
	bad = 0;
	for (i = 0; i < 5000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		info.message = i & 1 ? "async example" : "sync example";
		info.sleeper = (int)(x >> 63);
		info.thread_id = (long)(x % 4194304);
		info.pid = (long)((x >> 22) % 4194304);
		info.request_no = x >> (x & 63);
		info.started_us = 1700000000000000LL + (int64_t)(x % 1000000000000ULL);
		info.finished_us = info.started_us + (int64_t)(x >> 40);
		info.mode = modes[i % 7];
		bad += !writer_same(&info);
	}
	TAP_OK(bad == 0, "  5000 pseudo-random requests");
	/* The error body, for every message the programs send and every byte. */
	{
		static const char *const errors[] = { "not found: this "
		    "responder serves /async and /async/stats",
		    "method not allowed", "request body too large", "",
		    "bad \"thing\"\n", "a/b\\c" };
		char *ejson;
		size_t ejson_len = 0;

		bad = 0;
		for (i = 0; i < sizeof(errors) / sizeof(errors[0]) + 1; i++) {
			const char *m = i < sizeof(errors) / sizeof(errors[0]) ?
			    errors[i] : bytes;
			char out[4 * RESPONSE_BODY_MAX];

			ejson = response_error_json(m, &ejson_len);
			len = response_error_write(m, out, sizeof(out));
			bad += ejson == NULL || len != ejson_len ||
			    memcmp(out, ejson, len) != 0;
			free(ejson);
		}
		TAP_OK(bad == 0, "response_error_write: the json-c bytes");
	}
	info.mode = NULL;
	info.message = "async example";
	TAP_EQ_INT(response_json_write(&info, buf, 20), 0,
	    "  too small a buffer: 0");
	len = response_json_write(&info, buf, sizeof(buf));
	TAP_OK(len > 0 && response_json_write(&info, buf, len) == len &&
	    response_json_write(&info, buf, len - 1) == 0,
	    "  exactly its length fits, one less does not");
	/* The header block against the snprintf it replaced. */
	bad = 0;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		for (j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
			int rn = snprintf(ref, sizeof(ref), "Status: %d %s\r\n"
			    "%sContent-Type: application/json\r\n"
			    "Content-Length: %zu\r\nCache-Control: no-store"
			    "\r\n\r\n", statuses[i],
			    response_reason(statuses[i]), statuses[i] == 405 ?
			    "Allow: GET, HEAD\r\n" : "", lengths[j]);

			len = response_cgi_header(header, sizeof(header),
			    statuses[i], lengths[j]);
			bad += len != (size_t)rn || strcmp(header, ref) != 0 ||
			    response_cgi_header(header, (size_t)rn,
			    statuses[i], lengths[j]) != 0 ||
			    response_cgi_header(header, (size_t)rn + 1,
			    statuses[i], lengths[j]) != (size_t)rn;
		}
	TAP_OK(bad == 0, "response_cgi_header: snprintf's bytes and bounds");
	len = response_build_into(200, 0, "body\n", 5, buf, sizeof(buf));
	TAP_OK(len > 5 && strcmp(buf + len - 5, "body\n") == 0 &&
	    response_build_into(200, 0, "body\n", 5, buf, len) == 0,
	    "response_build_into: body behind the header, bounded");
	(void)n;
}

static void
test_clock_cache(void)
{
	char a[CLOCK_TIME_LEN], b[CLOCK_TIME_LEN];

	clock_format_local(1732626337999999LL, a);
	clock_format_local(1732626338000000LL, b);
	TAP_EQ_STR(a, "2024-11-26 13:05:37", "clock_format_local: cached second");
	TAP_EQ_STR(b, "2024-11-26 13:05:38", "  the next second is new");
	clock_format_local(1732626337000001LL, a);
	TAP_EQ_STR(a, "2024-11-26 13:05:37", "  and back again");
}

/*
 * clock_format_local writes its own digits for the years 1000 to 9999: the
 * bytes strftime("%Y-%m-%d %H:%M:%S") gives for the same localtime_r, in a
 * zone with daylight saving time and a negative offset (a POSIX rule: no
 * zone file needed), and past both ends of the range, where it hands over
 * to strftime.
 */
static void
test_clock_strftime(void)
{
	static const char *const zones[] = {
		"UTC0", "CET-1CEST,M3.5.0,M10.5.0/3", "NST3:30NDT,M3.2.0,M11.1.0",
	};
	/* 0999-12-31 23:59:59 UTC to 10000-01-01 00:00:00 UTC, in steps that
	 * land on every hour, minute and second sooner or later. */
	const int64_t first = -30610224001LL, last = 253402300800LL;
	const int64_t step = 86400LL * 97 + 3600 * 7 + 60 * 13 + 11;
	char ours[CLOCK_TIME_LEN], theirs[CLOCK_TIME_LEN];
	size_t z;
	int64_t t;
	int bad = 0, checked = 0;

	for (z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		setenv("TZ", zones[z], 1);
		tzset();
		for (t = first; t <= last + step; t += step) {
			time_t seconds = (time_t)(t < last ? t : last);
			struct tm tm;

			if (localtime_r(&seconds, &tm) == NULL ||
			    strftime(theirs, sizeof(theirs),
			    "%Y-%m-%d %H:%M:%S", &tm) == 0)
				strcpy(theirs, "1970-01-01 00:00:00");
			clock_format_local((int64_t)seconds * 1000000, ours);
			checked++;
			if (strcmp(ours, theirs) != 0 && bad++ < 3)
				printf("# %s %lld: \"%s\", strftime \"%s\"\n",
				    zones[z], (long long)seconds, ours, theirs);
		}
	}
	setenv("TZ", "UTC", 1);
	tzset();
	TAP_OK(checked > 3 * 30000 && bad == 0,
	    "clock_format_local: strftime's bytes, years 999 to 10000, 3 zones");
}

static void
test_response(void)
{
	struct response_info info = { "sync example", 1, 42, 7, 5,
	    1732626337000000LL, 1732626357000123LL, 2500, NULL };
	struct json_object *obj, *field;
	char *body;
	size_t len = 0;

	body = response_json(&info, &len);
	TAP_OK(body != NULL && len == strlen(body), "response_json");
	obj = json_tokener_parse(body);
	TAP_OK(obj != NULL, "  is JSON");
	TAP_OK(json_object_object_get_ex(obj, "message", &field) &&
	    strcmp(json_object_get_string(field), "sync example (sleep)") == 0,
	    "  message marks the sleeper");
	TAP_OK(json_object_object_get_ex(obj, "thread_id", &field) &&
	    json_object_get_int64(field) == 42, "  thread_id");
	TAP_OK(json_object_object_get_ex(obj, "pid", &field) &&
	    json_object_get_int64(field) == 7, "  pid");
	TAP_OK(json_object_object_get_ex(obj, "request_no", &field) &&
	    json_object_get_int64(field) == 5, "  request_no");
	TAP_OK(json_object_object_get_ex(obj, "finished_us", &field) &&
	    json_object_get_int64(field) == 1732626357000123LL,
	    "  finished_us");
	TAP_OK(json_object_object_get_ex(obj, "waited_us", &field) &&
	    json_object_get_int64(field) == 2500, "  waited_us");
	TAP_OK(json_object_object_get_ex(obj, "request_time", &field) &&
	    strlen(json_object_get_string(field)) == 19, "  request_time");
	TAP_OK(!json_object_object_get_ex(obj, "mode", NULL),
	    "  no mode field for sync");
	json_object_put(obj);
	free(body);

	body = response_error_json("bad \"thing\"\n", &len);
	obj = json_tokener_parse(body);
	TAP_OK(obj != NULL && json_object_object_get_ex(obj, "error", &field) &&
	    strcmp(json_object_get_string(field), "bad \"thing\"\n") == 0,
	    "error JSON escapes its message");
	json_object_put(obj);
	free(body);
	TAP_EQ_STR(response_reason(405), "Method Not Allowed", "reason 405");
}

int
main(void)
{
	char when[CLOCK_TIME_LEN];

	setenv("TZ", "UTC", 1);
	test_numbers();
	test_settings();
	test_work_helpers();
	test_query();
	test_sleep_on();
	test_handler();
	test_response();
	test_bounds();
	test_listen();
	test_text();
	test_clock();
	test_request_read();
	test_info_fill();
	test_response_build();
	test_response_writer();
	test_clock_cache();
	test_clock_strftime();
	clock_format_local(1732626337000000LL, when);
	TAP_EQ_STR(when, "2024-11-26 13:05:37", "clock_format_local (UTC)");
	TAP_OK(clock_thread_id() > 0, "clock_thread_id");
	return tap_done();
}
