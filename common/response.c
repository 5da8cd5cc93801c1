/* SPDX-License-Identifier: ISC */
/*
 * response.c - builds the contract JSON with json-c (response.h); the same
 * bytes without it, and the CGI header block, are in response_write.c.
 */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/response.h"

char *
response_json_finish(struct json_object *obj, size_t *len)
{
	const char *text;
	size_t text_len = 0;
	char *copy = NULL;

	if (obj == NULL)
		return NULL;
	text = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE, &text_len);
	if (text != NULL && (copy = malloc(text_len + 2)) != NULL) {
		memcpy(copy, text, text_len);
		copy[text_len++] = '\n';
		copy[text_len] = '\0';
		*len = text_len;
	}
	json_object_put(obj);
	return copy;
}

char *
response_json(const struct response_info *info, size_t *len)
{
	struct json_object *obj = json_object_new_object();
	char message[64], request_time[CLOCK_TIME_LEN];

	if (obj == NULL)
		return NULL;
	snprintf(message, sizeof(message), "%s%s", info->message,
	    info->sleeper ? " (sleep)" : "");
	clock_format_local(info->started_us, request_time);
	json_object_object_add(obj, "message", json_object_new_string(message));
	json_object_object_add(obj, "thread_id",
	    json_object_new_int64(info->thread_id));
	json_object_object_add(obj, "pid", json_object_new_int64(info->pid));
	json_object_object_add(obj, "request_time",
	    json_object_new_string(request_time));
	json_object_object_add(obj, "request_no",
	    json_object_new_uint64(info->request_no));
	json_object_object_add(obj, "started_us",
	    json_object_new_int64(info->started_us));
	json_object_object_add(obj, "finished_us",
	    json_object_new_int64(info->finished_us));
	json_object_object_add(obj, "waited_us",
	    json_object_new_int64(info->waited_us));
	if (info->mode != NULL)
		json_object_object_add(obj, "mode",
		    json_object_new_string(info->mode));
	return response_json_finish(obj, len);
}

char *
response_error_json(const char *message, size_t *len)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "error", json_object_new_string(message));
	return response_json_finish(obj, len);
}
