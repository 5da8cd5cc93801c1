/* SPDX-License-Identifier: ISC */
/*
 * handler.c - request checks and the sleeper rule (handler.h).
 */
#include "config.h"

#include <string.h>

#include "common/clock.h"
#include "common/handler.h"
#include "common/limits.h"
#include "common/number.h"
#include "common/query.h"

void
handler_request_read(struct handler_request *request, handler_param_fn param,
    void *ctx)
{
	request->method = param(ctx, "REQUEST_METHOD");
	request->query = param(ctx, "QUERY_STRING");
	request->content_length = param(ctx, "CONTENT_LENGTH");
}

static int
reject(struct handler_plan *plan, int status, const char *message)
{
	plan->status = status;
	plan->error = message;
	return -1;
}

/* The messages are constants, so a plan carries a pointer, not a copy. */
static int
query_error(struct handler_plan *plan, const char *name,
    enum query_result result)
{
	int sleep = strcmp(name, "sleep") == 0;

	switch (result) {
	case QUERY_BAD_ESCAPE:
		return reject(plan, 400, "malformed percent-encoding in the "
		    "query string");
	case QUERY_REPEATED:
		return reject(plan, 400, sleep ?
		    "query parameter sleep given more than once" :
		    "query parameter mode given more than once");
	default:
		return reject(plan, 400, sleep ?
		    "query parameter sleep is too long" :
		    "query parameter mode is too long");
	}
}

static int
check_overrides(const struct handler_request *request, int allow_mode,
    struct handler_plan *plan)
{
	char value[SA_SETTING_MAX];
	enum query_result result;

	if (request->query == NULL || request->query[0] == '\0')
		return 0;
	if (strlen(request->query) > SA_QUERY_MAX)
		return reject(plan, 414, "query string too long");
	result = query_get(request->query, "sleep", value, sizeof(value));
	if (result == QUERY_FOUND) {
		if (number_parse_seconds(value, SA_SLEEP_MAX_US,
		    &plan->sleep_override_us) != NUMBER_OK)
			return reject(plan, 400, "query parameter sleep must "
			    "be seconds between 0 and " SA_TEXT(SA_SLEEP_MAX_S)
			    ", such as 2 or 0.5");
		plan->sleep_override = 1;
	} else if (result != QUERY_ABSENT)
		return query_error(plan, "sleep", result);
	if (!allow_mode)
		return 0;
	result = query_get(request->query, "mode", value, sizeof(value));
	if (result == QUERY_FOUND) {
		if (settings_parse_mode(value, &plan->mode) == -1)
			return reject(plan, 400, "query parameter mode must be "
			    "block, timer (or async) or offload");
	} else if (result != QUERY_ABSENT)
		return query_error(plan, "mode", result);
	return 0;
}

int
handler_check(const struct settings *settings,
    const struct handler_request *request, int allow_mode,
    struct handler_plan *plan)
{
	uint64_t length;
	enum number_result result;

	memset(plan, 0, sizeof(*plan));
	plan->status = 200;
	plan->mode = settings->mode;
	if (request->method == NULL || (strcmp(request->method, "GET") != 0 &&
	    strcmp(request->method, "HEAD") != 0))
		return reject(plan, 405, "method not allowed: use GET or HEAD");
	plan->head = strcmp(request->method, "HEAD") == 0;
	/* RFC 3875, 4.1.2: CONTENT_LENGTH is absent or a decimal count. */
	if (request->content_length != NULL &&
	    request->content_length[0] != '\0') {
		result = number_parse_uint(request->content_length, 0,
		    SA_CONTENT_LENGTH_MAX, &length);
		if (result == NUMBER_RANGE)
			return reject(plan, 413, "request body too large");
		if (result != NUMBER_OK)
			return reject(plan, 400, "CONTENT_LENGTH is not a "
			    "decimal byte count");
	}
	if (settings->query_overrides)
		return check_overrides(request, allow_mode, plan);
	return 0;
}

void
handler_assign(const struct settings *settings, uint64_t request_no,
    struct handler_plan *plan)
{
	plan->request_no = request_no;
	if (plan->sleep_override) {
		plan->sleeper = plan->sleep_override_us > 0;
		plan->sleep_us = plan->sleep_override_us;
	} else {
		plan->sleeper = settings_sleeps(settings, request_no);
		plan->sleep_us = plan->sleeper ? settings->sleep_us : 0;
	}
}

void
handler_info_fill(struct response_info *info, const struct handler_plan *plan,
    const char *message, long thread_id, long pid, int64_t started_us,
    const char *mode)
{
	memset(info, 0, sizeof(*info));
	info->message = message;
	info->sleeper = plan->sleeper;
	info->thread_id = thread_id;
	info->pid = pid;
	info->request_no = plan->request_no;
	info->started_us = started_us;
	info->finished_us = clock_now_us();
	info->mode = mode;
}
