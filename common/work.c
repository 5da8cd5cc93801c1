/* SPDX-License-Identifier: ISC */
/*
 * work.c - the work's shared rules (work.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/work.h"

void
work_seconds_text(uint64_t us, char *out, size_t outlen)
{
	snprintf(out, outlen, "%llu.%03llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000 / 1000));
}

int
work_upstream_url(const char *upstream, uint64_t sleep_us, char *out,
    size_t outlen)
{
	char seconds[32];
	size_t base_len = strcspn(upstream, "#");
	const char *sep = memchr(upstream, '?', base_len) != NULL ? "&" : "?";
	int n;

	work_seconds_text(sleep_us, seconds, sizeof(seconds));
	n = snprintf(out, outlen, "%.*s%sseconds=%s", (int)base_len, upstream,
	    sep, seconds);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void
work_result_set(struct work_result *result, int status, const char *what,
    const char *detail)
{
	char line[SA_ERROR_MAX];
	size_t i, n = 0, used;
	int space = 0, printed;

	/* One line: a run of white space becomes one space, none at the ends. */
	for (i = 0; detail != NULL && detail[i] != '\0' &&
	    n < sizeof(line); i++) {
		if (strchr(" \t\r\n", detail[i]) != NULL) {
			space = n > 0;
			continue;
		}
		if (space && n + 1 < sizeof(line))
			line[n++] = ' ';
		space = 0;
		line[n++] = detail[i];
	}
	result->status = status;
	printed = snprintf(result->error, sizeof(result->error), "%s%s", what,
	    n > 0 ? ": " : "");
	used = printed < 0 ? 0 : (size_t)printed;
	if (used < sizeof(result->error) - 1)
		text_sanitise(line, n, result->error + used,
		    sizeof(result->error) - used);
}
