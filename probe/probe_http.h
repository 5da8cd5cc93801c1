/*
 * probe_http.h - fire N concurrent GETs at one URL with libevent's HTTP client.
 *
 * The only probe file that includes <event2/...>.  It fills result rows and
 * prints progress lines; it does not judge or format the results.
 */
#ifndef SYNCASYNC_PROBE_HTTP_H
#define SYNCASYNC_PROBE_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "probe/probe_result.h"

struct probe_http_options {
	size_t	 requests;	/* concurrent GETs per URL */
	uint64_t timeout_us;	/* per request, connect to last byte */
	FILE	*progress;	/* one line per answer; NULL = quiet */
};

int	probe_http_check_url(const char *url, char *err, size_t errlen);
int	probe_http_run(const char *url, size_t url_index,
	    const struct probe_http_options *, struct probe_result *rows);

#endif
