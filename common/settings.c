/*
 * settings.c - reads and validates the SYNCASYNC_* environment (settings.h).
 *
 * Only the variables named in DESIGN.md are read; nothing else from the
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

void
settings_sanitise(const char *text, char *out, size_t outlen)
{
	size_t i, len = strlen(text), keep = len;

	if (outlen == 0)
		return;
	if (keep > outlen - 1) {
		keep = outlen > 4 ? outlen - 4 : outlen - 1;
	}
	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)text[i];
		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	if (keep < len && outlen > 4) {
		memcpy(out + keep, "...", 3);
		keep += 3;
	}
	out[keep] = '\0';
}

static int
bad_value(const char *name, const char *value, const char *why,
    char *err, size_t errlen)
{
	char shown[64];

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

int
settings_check_upstream(const char *url, const char **why)
{
	static const char *const own[] = { "async", "sync", "pool", "stats" };
	const char *host, *path, *end, *segment;
	size_t i, len;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else {
		*why = "must start with http:// or https://";
		return -1;
	}
	if (strlen(url) >= SA_WORK_URL_MAX) {
		*why = "is too long";
		return -1;
	}
	for (i = 0; url[i] != '\0'; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f) {
			*why = "must not contain spaces or control bytes";
			return -1;
		}
	}
	path = host + strcspn(host, "/?#");
	if (path == host) {
		*why = "has no host";
		return -1;
	}
	/* The path's last segment, as async_fcgi routes (trailing '/' off). */
	if (*path != '/')
		return 0;
	end = path + strcspn(path, "?#");
	len = (size_t)(end - path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	segment = path + len;
	while (segment > path && segment[-1] != '/')
		segment--;
	len -= (size_t)(segment - path);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (strlen(own[i]) == len && memcmp(segment, own[i], len) == 0) {
			*why = "ends in one of the responder's own routes "
			    "(async, sync, pool, stats): the upstream must be "
			    "another service, never the responder itself";
			return -1;
		}
	}
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

/* SYNCASYNC_WORK and what each kind of work needs. */
static int
settings_load_work(struct settings *s, char *err, size_t errlen)
{
	const char *value, *why;

	if ((value = getenv("SYNCASYNC_WORK")) != NULL &&
	    settings_parse_work(value, &s->work) == -1)
		return bad_value("SYNCASYNC_WORK", value,
		    "must be sleep, db or http", err, errlen);
	if (load_uint("SYNCASYNC_DB_POOL", 1, SA_DB_POOL_MAX, &s->db_pool,
	    err, errlen) == -1)
		return -1;
	if ((value = getenv("SYNCASYNC_UPSTREAM_TIMEOUT")) != NULL) {
		if (number_parse_seconds(value, SA_UPSTREAM_TIMEOUT_MAX_US,
		    &s->upstream_timeout_us) != NUMBER_OK ||
		    s->upstream_timeout_us < 1000)
			return bad_value("SYNCASYNC_UPSTREAM_TIMEOUT", value,
			    "must be seconds from 0.001 to 3600, such as 30",
			    err, errlen);
	}
	s->db = load_string("SYNCASYNC_DB");
	if (s->work == WORK_DB && s->db == NULL) {
		snprintf(err, errlen, "SYNCASYNC_WORK=db needs SYNCASYNC_DB, "
		    "a libpq connection string such as \"host=/run/postgresql "
		    "dbname=postgres\"");
		return -1;
	}
	s->upstream = load_string("SYNCASYNC_UPSTREAM");
	if (s->upstream != NULL &&
	    settings_check_upstream(s->upstream, &why) == -1) {
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
	s->sleep_on = 5;
	s->sleep_all = 0;
	s->mode = MODE_BLOCK;
	s->pool_threads = 40;
	s->state_dir = default_state_dir;
	s->query_overrides = 0;
	s->work = WORK_SLEEP;
	s->db = NULL;
	s->upstream = NULL;
	s->db_pool = 10;
	s->upstream_timeout_us = 30 * 1000000ULL;

	if ((value = getenv("SYNCASYNC_SLEEP_SECONDS")) != NULL) {
		enum number_result result;

		result = number_parse_seconds(value, SA_SLEEP_MAX_US,
		    &s->sleep_us);
		if (result != NUMBER_OK)
			return bad_value("SYNCASYNC_SLEEP_SECONDS", value,
			    result == NUMBER_RANGE ?
			    "must be at most 3600 seconds" :
			    "must be seconds such as 20 or 0.5", err, errlen);
	}
	if ((value = getenv("SYNCASYNC_SLEEP_ON")) != NULL &&
	    strcmp(value, "all") == 0)
		s->sleep_all = 1;
	else if (load_uint("SYNCASYNC_SLEEP_ON", 0, SA_SLEEP_ON_MAX,
	    &s->sleep_on, err, errlen) == -1)
		return -1;
	if ((value = getenv("SYNCASYNC_ASYNC_MODE")) != NULL &&
	    settings_parse_mode(value, &s->mode) == -1)
		return bad_value("SYNCASYNC_ASYNC_MODE", value,
		    "must be block, timer (or async) or offload", err, errlen);
	if (load_uint("SYNCASYNC_POOL_THREADS", 1, SA_POOL_THREADS_MAX,
	    &s->pool_threads, err, errlen) == -1)
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
