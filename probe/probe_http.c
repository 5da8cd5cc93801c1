/* SPDX-License-Identifier: ISC */
/*
 * probe_http.c - the experiment's HTTP client on libevent's evhttp.
 *
 * probe_http_parse_url checks a URL and probe_http_resolve resolves its host
 * once, before any request is sent, so a name that does not resolve is said
 * at once and by name.  For one URL probe_http_run opens N connections at
 * once (one evhttp_connection each, so the server sees N concurrent clients,
 * as the experiment's async client does) to that one numeric address, sends
 * one GET on each, and records per request the send and answer times on
 * CLOCK_REALTIME (comparable with the server's started_us/finished_us on the
 * same machine), the status, and the parsed body.  Every failure (refused
 * connection, timeout, non-2xx, bad body) becomes the row's error; nothing a
 * server sends ends the run.  probe_http_fetch is one plain GET (the
 * server's /async/stats).  It never reads HTTP_PROXY or any other proxy
 * setting: the probe always talks to the URL's host directly.
 *
 * Not here: judging, tables, JSON or SVG output (probe_result/report/svg).
 * Known gaps: the host name is resolved with the blocking resolver, once per
 * URL before the run; only its first address is used (as libevent would).
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/number.h"
#include "probe/probe_http.h"

#define PROBE_HTTP_DIAGNOSE_MS	3000	/* ms, the connect that says why */

struct probe_http_run;

/* What libevent's error callback said; first member of each callback arg. */
struct probe_http_failure {
	int			 have_error;
	enum evhttp_request_error error;	/* last one libevent reported */
};

/* One request in flight; owned by the run, not by libevent. */
struct probe_http_call {
	struct probe_http_failure failure;	/* first: see errorcb */
	struct probe_http_run	*run;
	struct probe_result	*row;
	struct evhttp_connection *conn;		/* freed after the loop */
	struct evhttp_request	*req;		/* NULL once answered */
	struct event		*timer;		/* the per-request timeout */
	int			 connect_failed;
	int			 done;
};

struct probe_http_run {
	struct event_base	*base;
	const struct probe_http_target *target;
	FILE			*progress;
	uint64_t		 timeout_us;
	size_t			 pending;
};

/*
 * Accepts "http://host[:port]/path?query" only, host a name, an IPv4
 * address or a bracketed IPv6 address ("[::1]").  Returns 0 with *target
 * filled but for its address (probe_http_resolve), or -1 with a reason in
 * err: https and every other scheme are refused (the probe has no TLS), as
 * are URLs without a host.
 */
int
probe_http_parse_url(const char *url, struct probe_http_target *target,
    char *err, size_t errlen)
{
	struct evhttp_uri *uri;
	const char *scheme, *host, *path, *query;
	size_t hostlen;
	int rc = -1;

	memset(target, 0, sizeof(*target));
	if ((uri = evhttp_uri_parse(url)) == NULL) {
		snprintf(err, errlen, "not a valid URL: %s", url);
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0) {
		snprintf(err, errlen, "only http:// URLs are supported: %s",
		    url);
		goto done;
	}
	if (host == NULL || host[0] == '\0') {
		snprintf(err, errlen, "URL has no host: %s", url);
		goto done;
	}
	if ((hostlen = strlen(host)) >= sizeof(target->host)) {
		snprintf(err, errlen, "host name too long: %s", url);
		goto done;
	}
	memcpy(target->host, host, hostlen + 1);
	/* libevent keeps an IP literal's brackets (RFC 3986, 3.2.2). */
	if (host[0] == '[' && hostlen >= 2 && host[hostlen - 1] == ']') {
		memcpy(target->address, host + 1, hostlen - 2);
		target->address[hostlen - 2] = '\0';
	} else
		memcpy(target->address, host, hostlen + 1);
	target->port = evhttp_uri_get_port(uri) == -1 ? 80 :
	    evhttp_uri_get_port(uri);
	if (target->port == 80)
		snprintf(target->host_header, sizeof(target->host_header),
		    "%s", target->host);
	else
		snprintf(target->host_header, sizeof(target->host_header),
		    "%s:%d", target->host, target->port);
	if (path == NULL || path[0] == '\0')
		path = "/";
	if ((size_t)snprintf(target->target, sizeof(target->target), "%s%s%s",
	    path, query != NULL ? "?" : "", query != NULL ? query : "") >=
	    sizeof(target->target)) {
		snprintf(err, errlen, "URL too long (path and query over %d "
		    "bytes)", SA_PROBE_URI_MAX - 1);
		goto done;
	}
	rc = 0;
done:
	evhttp_uri_free(uri);
	return rc;
}

/*
 * Resolves the host of a parsed target (its first address: a numeric one
 * stays as it is), sets target->addr and makes target->address numeric.
 * Returns 0, or -1 with "cannot resolve host NAME: reason" in err.
 */
int
probe_http_resolve(struct probe_http_target *target, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int rc = -1, gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(target->address, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve host %s: %s",
		    target->address, gai == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(gai));
		return -1;
	}
	if (res->ai_addrlen > sizeof(target->addr) || getnameinfo(res->ai_addr,
	    res->ai_addrlen, target->address, sizeof(target->address), NULL, 0,
	    NI_NUMERICHOST) != 0) {
		snprintf(err, errlen, "cannot resolve host %s: no usable "
		    "address", target->address);
		goto done;
	}
	memcpy(&target->addr, res->ai_addr, res->ai_addrlen);
	target->addrlen = res->ai_addrlen;
	if (target->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&target->addr)->sin_port =
		    htons((uint16_t)target->port);
	else if (target->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&target->addr)->sin6_port =
		    htons((uint16_t)target->port);
	rc = 0;
done:
	freeaddrinfo(res);
	return rc;
}

/*
 * Why a connect fails: libevent reports a failed connect without its errno
 * (evhttp_connection_cb_cleanup in libevent 2.1 resets the connection
 * first), so after the run one more connect, bounded by
 * PROBE_HTTP_DIAGNOSE_MS, asks the kernel.  Writes the reason to why.
 */
static void
diagnose_connect(const struct probe_http_target *target, char *why,
    size_t size)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, error = 0;

	snprintf(why, size, "connection refused or unreachable");
	if ((fd = socket(target->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return;
	if (connect(fd, (const struct sockaddr *)&target->addr,
	    target->addrlen) == 0)
		snprintf(why, size, "connection refused or unreachable (a "
		    "later connect succeeded)");
	else {
		error = errno;
		if (error == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, PROBE_HTTP_DIAGNOSE_MS) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error,
			    &len) == 0 && error == 0)
				snprintf(why, size, "connection refused or "
				    "unreachable (a later connect succeeded)");
			else if (error == EINPROGRESS)
				error = ETIMEDOUT;
		}
	}
	if (error != 0 && error != EINPROGRESS)
		snprintf(why, size, "%s", strerror(error));
	close(fd);
}

/* "localhost:8080 (::1)" or "127.0.0.1:8080", for error messages. */
static void
describe_target(const struct probe_http_target *target, char *out,
    size_t size)
{
	const char *host = target->host;
	int literal = host[0] == '[' || strcmp(host, target->address) == 0;

	snprintf(out, size, "%s:%d%s%s%s", host, target->port,
	    literal ? "" : " (", literal ? "" : target->address,
	    literal ? "" : ")");
}

static const char *
error_name(enum evhttp_request_error error)
{
	switch (error) {
	case EVREQ_HTTP_TIMEOUT:
		return "timeout";
	case EVREQ_HTTP_EOF:
		return "connection closed before a complete response";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid response header";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "read or write error";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "response body too long";
	}
	return "unknown error";
}

/* A refused connect is said once per URL, after the run (see the end of
 * probe_http_run), not once per request. */
static void
print_progress(const struct probe_http_call *call)
{
	const struct probe_result *row = call->row;
	FILE *out = call->run->progress;

	if (out == NULL || call->connect_failed)
		return;
	if (probe_result_ok(row))
		fprintf(out, "  #%-4lld %s  %6.0f ms  %s  thread %lld\n",
		    (long long)row->request_no, call->run->target->target,
		    probe_result_latency_ms(row), row->message,
		    (long long)row->thread_id);
	else
		fprintf(out, "  #-    %s  %6.0f ms  error: %s\n",
		    call->run->target->target, probe_result_latency_ms(row),
		    row->error);
	fflush(out);
}

/* Ends a call exactly once: stops its timer, reports it, counts it down. */
static void
finish_call(struct probe_http_call *call)
{
	struct probe_http_run *run = call->run;

	if (call->done)
		return;
	call->done = 1;
	call->req = NULL;
	if (call->row->received_us == 0)
		call->row->received_us = clock_now_us();
	if (call->timer != NULL)
		event_del(call->timer);
	print_progress(call);
	if (run->pending > 0 && --run->pending == 0)
		event_base_loopbreak(run->base);
}

/* Both kinds of request arg start with their struct probe_http_failure. */
static void
errorcb(enum evhttp_request_error error, void *arg)
{
	struct probe_http_failure *failure = arg;

	failure->have_error = 1;
	failure->error = error;
}

/*
 * libevent calls this once per request: with the answer, or with NULL or a
 * request without a status when it failed, possibly from inside
 * evhttp_make_request.  A failed connect arrives without an error callback
 * and without its errno (see diagnose_connect); a connect that hangs ends
 * in our timeout instead.
 */
static void
donecb(struct evhttp_request *req, void *arg)
{
	struct probe_http_call *call = arg;
	struct probe_result *row = call->row;
	struct evbuffer *input;
	size_t len;
	const char *body;

	if (call->done)
		return;
	row->received_us = clock_now_us();
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		if (call->failure.have_error)
			probe_result_set_error(row, "%s",
			    error_name(call->failure.error));
		else {
			call->connect_failed = 1;
			probe_result_set_error(row, "cannot connect");
		}
		goto done;
	}
	row->http_status = evhttp_request_get_response_code(req);
	input = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(input);
	body = len > 0 ? (const char *)evbuffer_pullup(input, -1) : NULL;
	if (row->http_status >= 200 && row->http_status <= 299)
		probe_result_parse_body(row, body, len);
	else
		probe_result_parse_error_body(row, body, len);
done:
	finish_call(call);
}

/* The per-request timeout: cancelling frees the request, resets the
 * connection, and calls only the error callback. */
static void
timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_http_call *call = arg;
	struct evhttp_request *req = call->req;
	char seconds[NUMBER_SECONDS_TEXT];

	(void)fd;
	(void)what;
	if (call->done)
		return;
	number_format_seconds(call->run->timeout_us, seconds, sizeof(seconds));
	probe_result_set_error(call->row, "timeout after %s s", seconds);
	finish_call(call);
	if (req != NULL)
		evhttp_cancel_request(req);
}

/* A connection to the target with the probe's settings and libevent's
 * own idle timeout, or NULL. */
static struct evhttp_connection *
new_connection(struct event_base *base, const struct probe_http_target *t,
    uint64_t idle_timeout_us)
{
	struct evhttp_connection *conn;
	struct timeval tv;

	if ((conn = evhttp_connection_base_new(base, NULL, t->address,
	    (ev_uint16_t)t->port)) == NULL)
		return NULL;
	tv = clock_timeval(idle_timeout_us);
	evhttp_connection_set_timeout_tv(conn, &tv);
	evhttp_connection_set_max_body_size(conn, SA_PROBE_BODY_MAX);
	evhttp_connection_set_retries(conn, 0);
	return conn;
}

static void
add_headers(struct evhttp_request *req, const struct probe_http_target *t)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	evhttp_add_header(headers, "Host", t->host_header);
	evhttp_add_header(headers, "Connection", "close");
}

/*
 * Starts one GET, counted in run->pending before it is sent since libevent
 * may finish it inside evhttp_make_request.  On failure the row carries the
 * error and the call is finished.
 */
static void
start_call(struct probe_http_call *call)
{
	struct probe_http_run *run = call->run;
	struct evhttp_request *req;
	struct timeval tv;

	call->row->sent_us = clock_now_us();
	run->pending++;
	/* libevent's timeout is a backstop a second after ours. */
	if ((call->conn = new_connection(run->base, run->target,
	    run->timeout_us + 1000000)) == NULL) {
		probe_result_set_error(call->row, "cannot create connection");
		goto fail;
	}
	if ((req = evhttp_request_new(donecb, call)) == NULL) {
		probe_result_set_error(call->row, "cannot create request");
		goto fail;
	}
	evhttp_request_set_error_cb(req, errorcb);
	add_headers(req, run->target);
	tv = clock_timeval(run->timeout_us);
	evtimer_add(call->timer, &tv);
	call->req = req;
	/* On failure libevent has freed req already. */
	if (evhttp_make_request(call->conn, req, EVHTTP_REQ_GET,
	    run->target->target) == -1) {
		call->req = NULL;
		probe_result_set_error(call->row, "cannot send request");
		goto fail;
	}
	return;
fail:
	call->row->received_us = call->row->sent_us;
	finish_call(call);
}

/*
 * Sends options->requests GETs to target at once and runs the loop until
 * each is answered, failed or timed out; rows[0..requests) receive the
 * results (url_index and send order set here).  Returns 0, or -1 when the
 * run could not start at all (then every row says why).  Progress goes to
 * options->progress as each answer arrives; connects that failed are said
 * once, with their reason, at the end.
 */
int
probe_http_run(const struct probe_http_target *target, const char *url,
    size_t url_index, const struct probe_http_options *options,
    struct probe_result *rows)
{
	struct probe_http_run run;
	struct probe_http_call *calls = NULL;
	char why[SA_ERROR_MAX / 2], where[NI_MAXHOST * 2 + 16];
	size_t i, n = options->requests, refused = 0;
	int rc = -1;

	memset(&run, 0, sizeof(run));
	for (i = 0; i < n; i++)
		probe_result_init(&rows[i], url_index, i);
	run.target = target;
	run.progress = options->progress;
	run.timeout_us = options->timeout_us;
	if ((run.base = event_base_new()) == NULL ||
	    (calls = calloc(n, sizeof(*calls))) == NULL) {
		for (i = 0; i < n; i++)
			probe_result_set_error(&rows[i], "out of memory");
		goto done;
	}
	if (run.progress != NULL)
		fprintf(run.progress, "GET %s: %zu concurrent requests\n", url,
		    n);
	for (i = 0; i < n; i++) {
		calls[i].run = &run;
		calls[i].row = &rows[i];
		if ((calls[i].timer = evtimer_new(run.base, timeoutcb,
		    &calls[i])) == NULL) {
			probe_result_set_error(&rows[i], "out of memory");
			calls[i].done = 1;
			continue;
		}
		start_call(&calls[i]);
	}
	if (run.pending > 0)
		event_base_dispatch(run.base);
	rc = 0;
done:
	if (calls != NULL) {
		/*
		 * Connections are freed here, never inside their own
		 * callbacks; libevent frees a request still queued on one.
		 */
		for (i = 0; i < n; i++) {
			if (!calls[i].done)
				probe_result_set_error(&rows[i], "not answered");
			if (calls[i].connect_failed)
				refused++;
			if (calls[i].conn != NULL)
				evhttp_connection_free(calls[i].conn);
			if (calls[i].timer != NULL)
				event_free(calls[i].timer);
		}
		free(calls);
	}
	if (refused > 0) {
		diagnose_connect(target, why, sizeof(why));
		describe_target(target, where, sizeof(where));
		for (i = 0; i < n; i++)
			if (strcmp(rows[i].error, "cannot connect") == 0 &&
			    rows[i].http_status == 0)
				probe_result_set_error(&rows[i],
				    "cannot connect to %s: %s", where, why);
		if (run.progress != NULL)
			fprintf(run.progress, "  cannot connect to %s: %s "
			    "(%zu of %zu requests)\n", where, why, refused, n);
	}
	if (run.base != NULL)
		event_base_free(run.base);
	return rc;
}

struct probe_http_get {
	struct probe_http_failure failure;	/* first: see errorcb */
	struct event_base	*base;
	struct probe_http_body	*out;
	int			 done;
};

static void
fetch_donecb(struct evhttp_request *req, void *arg)
{
	struct probe_http_get *get = arg;
	struct probe_http_body *out = get->out;
	struct evbuffer *input;

	get->done = 1;
	event_base_loopbreak(get->base);
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		snprintf(out->error, sizeof(out->error), "%s",
		    get->failure.have_error ? error_name(get->failure.error) :
		    "cannot connect");
		return;
	}
	out->status = evhttp_request_get_response_code(req);
	input = evhttp_request_get_input_buffer(req);
	out->len = evbuffer_remove(input, out->data, sizeof(out->data));
	if (out->len == (size_t)-1)
		out->len = 0;
}

/*
 * One GET of target (a path and query) on the host and port of t, within
 * timeout_us (libevent's idle timeout, the only one here).  Fills *out:
 * the status and up to SA_PROBE_BODY_MAX bytes of the body, or the error.
 */
void
probe_http_fetch(const struct probe_http_target *t, const char *target,
    uint64_t timeout_us, struct probe_http_body *out)
{
	struct event_base *base;
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	struct probe_http_get get;

	memset(out, 0, sizeof(*out));
	memset(&get, 0, sizeof(get));
	get.out = out;
	if ((get.base = base = event_base_new()) == NULL ||
	    (conn = new_connection(base, t, timeout_us)) == NULL ||
	    (req = evhttp_request_new(fetch_donecb, &get)) == NULL) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		goto done;
	}
	evhttp_request_set_error_cb(req, errorcb);
	add_headers(req, t);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, target) == -1) {
		snprintf(out->error, sizeof(out->error), "cannot send request");
		goto done;
	}
	if (!get.done)
		event_base_dispatch(base);
	if (!get.done)
		snprintf(out->error, sizeof(out->error), "not answered");
done:
	if (conn != NULL)
		evhttp_connection_free(conn);
	if (base != NULL)
		event_base_free(base);
}
