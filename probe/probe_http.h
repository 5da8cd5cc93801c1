/* SPDX-License-Identifier: ISC */
/*
 * probe_http.h - fire N concurrent GETs at one URL with libevent's HTTP client.
 *
 * The only probe file that includes <event2/...>.  It resolves each URL's
 * host once, fills result rows and prints progress lines; it does not judge
 * or format the results.
 */
#ifndef SYNCASYNC_PROBE_HTTP_H
#define SYNCASYNC_PROBE_HTTP_H

#include <sys/socket.h>

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>

#include "common/limits.h"
#include "probe/probe_result.h"

struct probe_http_options {
	size_t	 requests;	/* concurrent GETs per URL */
	uint64_t timeout_us;	/* per request, connect to last byte */
	FILE	*progress;	/* one line per answer; NULL = quiet */
};

/* One URL, checked and resolved: what every request of a run connects to. */
struct probe_http_target {
	char	host[NI_MAXHOST];	/* as in the URL: "[::1]", "localhost" */
	char	address[NI_MAXHOST];	/* numeric, no brackets: "::1" */
	int	port;
	char	host_header[NI_MAXHOST + 8];	/* "[::1]:8080"; no :80 */
	char	target[SA_PROBE_URI_MAX];	/* path and query: "/async?x=1" */
	struct sockaddr_storage addr;	/* address, as resolved */
	socklen_t addrlen;
};

/* The body of one GET (probe_http_fetch). */
struct probe_http_body {
	int	status;			/* 0 = no HTTP answer */
	char	error[SA_ERROR_MAX];	/* "" = an answer came */
	char	data[SA_PROBE_BODY_MAX];
	size_t	len;
};

int	probe_http_parse_url(const char *url, struct probe_http_target *,
	    char *err, size_t errlen);
int	probe_http_resolve(struct probe_http_target *, char *err,
	    size_t errlen);
int	probe_http_run(const struct probe_http_target *, const char *url,
	    size_t url_index, const struct probe_http_options *,
	    struct probe_result *rows);
void	probe_http_fetch(const struct probe_http_target *, const char *target,
	    uint64_t timeout_us, struct probe_http_body *);

#endif
