/*
 * probe_http.h - fire N concurrent GETs at one URL with libevent's HTTP client.
 *
 * The only probe file that includes <event2/...>.  It fills result rows and
 * prints progress lines; it does not judge or format the results.
 */
#ifndef SYNCASYNC_PROBE_HTTP_H
#define SYNCASYNC_PROBE_HTTP_H

#include <stdio.h>

#include "probe/probe_result.h"

#define PROBE_HTTP_MAX_BODY	65536	/* bytes, cap on a response body */

struct probe_http_options {
	size_t	 requests;	/* concurrent GETs per URL */
	double	 timeout_s;	/* per request, connect to last byte */
	FILE	*progress;	/* one line per answer; NULL = quiet */
};

int	probe_http_check_url(const char *url, char *err, size_t errlen);
int	probe_http_run(const char *url, size_t url_index,
	    const struct probe_http_options *, struct probe_result *rows);

#endif
