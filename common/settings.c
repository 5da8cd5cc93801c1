/* SPDX-License-Identifier: ISC */
/*
 * settings.c - reads and validates the SYNCASYNC_* environment (settings.h).
 *
 * Only the variables of doc/ARCHITECTURE.md are read; nothing else from the
 * environment (in particular never HTTP_PROXY, which a CGI request can set
 * from its Proxy header).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/number.h"
#include "common/settings.h"
#include "common/text.h"

void
settings_sanitise(const char *text, char *out, size_t outlen)
{
	size_t len = strlen(text);

	if (len < outlen || outlen <= 4) {
		text_sanitise(text, len, out, outlen);
		return;
	}
	text_sanitise(text, outlen - 4, out, outlen);
	memcpy(out + outlen - 4, "...", 4);
}

static int
bad_value(const char *name, const char *value, const char *why,
    char *err, size_t errlen)
{
	char shown[SA_ECHO_MAX];

	settings_sanitise(value, shown, sizeof(shown));
	snprintf(err, errlen, "%s=\"%s\" is invalid: %s", name, shown, why);
	return -1;
}

int
settings_parse_mode(const char *text, enum settings_mode *mode)
{
	if (strcmp(text, "block") == 0)
		*mode = MODE_BLOCK;
	else if (strcmp(text, "timer") == 0 || strcmp(text, "async") == 0)
		*mode = MODE_TIMER;
	else if (strcmp(text, "offload") == 0)
		*mode = MODE_OFFLOAD;
	else
		return -1;
	return 0;
}

const char *
settings_mode_name(enum settings_mode mode)
{
	switch (mode) {
	case MODE_BLOCK:
		return "block";
	case MODE_TIMER:
		return "timer";
	case MODE_OFFLOAD:
		return "offload";
	}
	return "block";
}

const char *
settings_mode_label(enum settings_mode mode, enum settings_work work)
{
	if (mode == MODE_TIMER && work != WORK_SLEEP)
		return "async";
	return settings_mode_name(mode);
}

int
settings_parse_work(const char *text, enum settings_work *work)
{
	if (strcmp(text, "sleep") == 0)
		*work = WORK_SLEEP;
	else if (strcmp(text, "db") == 0)
		*work = WORK_DB;
	else if (strcmp(text, "http") == 0)
		*work = WORK_HTTP;
	else
		return -1;
	return 0;
}

const char *
settings_work_name(enum settings_work work)
{
	switch (work) {
	case WORK_SLEEP:
		return "sleep";
	case WORK_DB:
		return "db";
	case WORK_HTTP:
		return "http";
	}
	return "sleep";
}

static int
refuse(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -1;
}

int
settings_check_upstream(const char *url, char *err, size_t errlen)
{
	static const char *const own[] = { "async", "sync", "pool", "stats" };
	const char *host, *path, *segment;
	size_t i, len;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return refuse(err, errlen, "must start with http:// or https://");
	if (strlen(url) >= SA_WORK_URL_MAX)
		return refuse(err, errlen, "is too long");
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f)
			return refuse(err, errlen, "must not contain spaces or "
			    "control bytes");
	if ((path = host + strcspn(host, "/?#")) == host)
		return refuse(err, errlen, "has no host");
	if (*path != '/')
		return 0;
	/* The path's last segment, as async_fcgi routes. */
	len = text_last_segment(path, &segment);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strlen(own[i]) == len && memcmp(segment, own[i], len) == 0)
			return refuse(err, errlen, "ends in one of the "
			    "responder's own routes (async, sync, pool, stats): "
			    "the upstream must be another service, never the "
			    "responder itself");
	return 0;
}

/* A string variable: NULL when unset or empty (lighttpd passes unset
 * variables of its bin-environment as empty strings). */
static const char *
load_string(const char *name)
{
	const char *value = getenv(name);

	return value != NULL && value[0] != '\0' ? value : NULL;
}

/* Reads one unsigned variable if set; 0 on success or absence, -1 if bad. */
static int
load_uint(const char *name, uint64_t min, uint64_t max, uint64_t *out,
    char *err, size_t errlen)
{
	const char *value = getenv(name);
	enum number_result result;

	if (value == NULL)
		return 0;
	result = number_parse_uint(value, min, max, out);
	if (result == NUMBER_OK)
		return 0;
	if (result == NUMBER_RANGE) {
		char why[64];

		snprintf(why, sizeof(why), "must be between %llu and %llu",
		    (unsigned long long)min, (unsigned long long)max);
		return bad_value(name, value, why, err, errlen);
	}
	return bad_value(name, value, number_strerror(result), err, errlen);
}

/* Reads seconds in [min_us, max_us] from value, the variable name's. */
static int
load_seconds(const char *name, const char *value, uint64_t min_us,
    uint64_t max_us, const char *example, uint64_t *out, char *err,
    size_t errlen)
{
	char why[128], min[NUMBER_SECONDS_TEXT], max[NUMBER_SECONDS_TEXT];
	uint64_t us;

	if (number_parse_seconds(value, max_us, &us) == NUMBER_OK &&
	    us >= min_us) {
		*out = us;
		return 0;
	}
	number_format_seconds(min_us, min, sizeof(min));
	number_format_seconds(max_us, max, sizeof(max));
	snprintf(why, sizeof(why), "must be seconds from %s to %s, such as %s",
	    min, max, example);
	return bad_value(name, value, why, err, errlen);
}

/* One number of SYNCASYNC_SLEEP_ON, from text up to end; 0 or -1. */
static int
sleep_on_number(const char *text, const char *end, uint64_t *out,
    char *why, size_t whylen)
{
	char digits[24];
	size_t len = (size_t)(end - text);
	enum number_result result = NUMBER_RANGE;

	if (len < sizeof(digits)) {
		memcpy(digits, text, len);
		digits[len] = '\0';
		result = number_parse_uint(digits, 1, SA_SLEEP_ON_MAX, out);
	}
	if (result == NUMBER_OK)
		return 0;
	if (result == NUMBER_RANGE)
		snprintf(why, whylen, "request numbers must be from 1 to %llu",
		    (unsigned long long)SA_SLEEP_ON_MAX);
	else
		snprintf(why, whylen, "must be 0, all, or request numbers and "
		    "ranges such as 5, 5,7, 3-6 or 5/10 (the 5th of every 10)");
	return -1;
}

int
settings_parse_sleep_on(const char *text, struct settings *s, char *why,
    size_t whylen)
{
	struct settings_sleep_on set;
	const char *p, *end, *slash, *comma, *dash;
	unsigned i;

	memset(&set, 0, sizeof(set));
	if (strcmp(text, "all") == 0) {
		s->sleep_on = set;
		s->sleep_all = 1;
		return 0;
	}
	if (strcmp(text, "0") == 0) {
		s->sleep_on = set;
		s->sleep_all = 0;
		return 0;
	}
	if (strlen(text) >= SA_SETTING_MAX) {
		snprintf(why, whylen, "is longer than %d bytes",
		    SA_SETTING_MAX - 1);
		return -1;
	}
	end = text + strlen(text);
	if ((slash = strchr(text, '/')) != NULL) {
		if (sleep_on_number(slash + 1, end, &set.period, why,
		    whylen) == -1)
			return -1;
		end = slash;
	}
	for (p = text; ; p = comma + 1) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if (set.count == SA_SLEEP_ON_TERMS_MAX) {
			snprintf(why, whylen, "at most %u numbers or ranges",
			    SA_SLEEP_ON_TERMS_MAX);
			return -1;
		}
		dash = memchr(p, '-', (size_t)(comma - p));
		if (sleep_on_number(p, dash != NULL ? dash : comma,
		    &set.range[set.count].first, why, whylen) == -1 ||
		    sleep_on_number(dash != NULL ? dash + 1 : p, comma,
		    &set.range[set.count].last, why, whylen) == -1)
			return -1;
		if (set.range[set.count].first > set.range[set.count].last) {
			snprintf(why, whylen, "a range must not run backwards");
			return -1;
		}
		set.count++;
		if (comma == end)
			break;
	}
	for (i = 0; set.period != 0 && i < set.count; i++)
		if (set.range[i].last > set.period) {
			snprintf(why, whylen, "a repeating set's numbers must "
			    "be at most its period (%llu)",
			    (unsigned long long)set.period);
			return -1;
		}
	s->sleep_on = set;
	s->sleep_all = 0;
	return 0;
}

int
settings_sleeps(const struct settings *s, uint64_t request_no)
{
	const struct settings_sleep_on *set = &s->sleep_on;
	uint64_t n = request_no;
	unsigned i;

	if (s->sleep_all)
		return 1;
	if (n == 0)
		return 0;
	if (set->period != 0)
		n = (n - 1) % set->period + 1;
	for (i = 0; i < set->count; i++)
		if (n >= set->range[i].first && n <= set->range[i].last)
			return 1;
	return 0;
}

void
settings_sleep_on_text(const struct settings *s, char *out, size_t outlen)
{
	const struct settings_sleep_on *set = &s->sleep_on;
	size_t used = 0;
	unsigned i;
	int n;

	snprintf(out, outlen, "%s", s->sleep_all ? "all" : "0");
	if (s->sleep_all || set->count == 0)
		return;
	for (i = 0; i < set->count && used < outlen; i++, used += (size_t)n) {
		if (set->range[i].first == set->range[i].last)
			n = snprintf(out + used, outlen - used, "%s%llu",
			    i ? "," : "",
			    (unsigned long long)set->range[i].first);
		else
			n = snprintf(out + used, outlen - used, "%s%llu-%llu",
			    i ? "," : "",
			    (unsigned long long)set->range[i].first,
			    (unsigned long long)set->range[i].last);
		if (n < 0)
			return;
	}
	if (set->period != 0 && used < outlen)
		snprintf(out + used, outlen - used, "/%llu",
		    (unsigned long long)set->period);
}

/* SYNCASYNC_WORK and what each kind of work needs. */
static int
settings_load_work(struct settings *s, char *err, size_t errlen)
{
	char why[SA_ERROR_MAX];
	const char *value;

	if ((value = getenv("SYNCASYNC_WORK")) != NULL &&
	    settings_parse_work(value, &s->work) == -1)
		return bad_value("SYNCASYNC_WORK", value,
		    "must be sleep, db or http", err, errlen);
	if (load_uint("SYNCASYNC_DB_POOL", 1, SA_DB_POOL_MAX, &s->db_pool,
	    err, errlen) == -1)
		return -1;
	if ((value = getenv("SYNCASYNC_UPSTREAM_TIMEOUT")) != NULL &&
	    load_seconds("SYNCASYNC_UPSTREAM_TIMEOUT", value,
	    SA_UPSTREAM_TIMEOUT_MIN_US, SA_UPSTREAM_TIMEOUT_MAX_US, "30",
	    &s->upstream_timeout_us, err, errlen) == -1)
		return -1;
	s->db = load_string("SYNCASYNC_DB");
	if (s->work == WORK_DB && s->db == NULL) {
		snprintf(err, errlen, "SYNCASYNC_WORK=db needs SYNCASYNC_DB, "
		    "a libpq connection string such as \"host=/run/postgresql "
		    "dbname=postgres\"");
		return -1;
	}
	s->upstream = load_string("SYNCASYNC_UPSTREAM");
	if (s->upstream != NULL &&
	    settings_check_upstream(s->upstream, why, sizeof(why)) == -1) {
		if (s->work == WORK_HTTP)
			return bad_value("SYNCASYNC_UPSTREAM", s->upstream, why,
			    err, errlen);
		s->upstream = NULL;	/* not used: not worth refusing */
	}
	if (s->work == WORK_HTTP && s->upstream == NULL) {
		snprintf(err, errlen, "SYNCASYNC_WORK=http needs "
		    "SYNCASYNC_UPSTREAM, the URL of a slow upstream such as "
		    "http://127.0.0.1:8081/slow");
		return -1;
	}
	return 0;
}

int
settings_load(struct settings *s, const char *default_state_dir,
    char *err, size_t errlen)
{
	const char *value;

	s->sleep_us = 20 * 1000000ULL;
	memset(&s->sleep_on, 0, sizeof(s->sleep_on));
	s->sleep_on.count = 1;		/* request 5: the published experiment */
	s->sleep_on.range[0].first = s->sleep_on.range[0].last = 5;
	s->sleep_all = 0;
	s->mode = MODE_BLOCK;
	s->pool_threads = 40;
	s->pool_queue = SA_POOL_QUEUE_DEFAULT;
	s->state_dir = default_state_dir;
	s->query_overrides = 0;
	s->work = WORK_SLEEP;
	s->db = NULL;
	s->upstream = NULL;
	s->db_pool = 10;
	s->upstream_timeout_us = 30 * 1000000ULL;

	if ((value = getenv("SYNCASYNC_SLEEP_SECONDS")) != NULL &&
	    load_seconds("SYNCASYNC_SLEEP_SECONDS", value, 0, SA_SLEEP_MAX_US,
	    "20 or 0.5", &s->sleep_us, err, errlen) == -1)
		return -1;
	if ((value = getenv("SYNCASYNC_SLEEP_ON")) != NULL) {
		char why[SA_ERROR_MAX];

		if (settings_parse_sleep_on(value, s, why, sizeof(why)) == -1)
			return bad_value("SYNCASYNC_SLEEP_ON", value, why, err,
			    errlen);
	}
	if ((value = getenv("SYNCASYNC_ASYNC_MODE")) != NULL &&
	    settings_parse_mode(value, &s->mode) == -1)
		return bad_value("SYNCASYNC_ASYNC_MODE", value,
		    "must be block, timer (or async) or offload", err, errlen);
	if (load_uint("SYNCASYNC_POOL_THREADS", 1, SA_POOL_THREADS_MAX,
	    &s->pool_threads, err, errlen) == -1)
		return -1;
	if (load_uint("SYNCASYNC_POOL_QUEUE", 0, SA_POOL_QUEUE_MAX,
	    &s->pool_queue, err, errlen) == -1)
		return -1;
	if ((value = getenv("SYNCASYNC_STATE_DIR")) != NULL) {
		if (value[0] != '/')
			return bad_value("SYNCASYNC_STATE_DIR", value,
			    "must be an absolute path", err, errlen);
		s->state_dir = value;
	}
	if ((value = getenv("SYNCASYNC_QUERY_OVERRIDES")) != NULL) {
		if (strcmp(value, "1") == 0)
			s->query_overrides = 1;
		else if (strcmp(value, "0") != 0)
			return bad_value("SYNCASYNC_QUERY_OVERRIDES", value,
			    "must be 0 or 1", err, errlen);
	}
	return settings_load_work(s, err, errlen);
}
