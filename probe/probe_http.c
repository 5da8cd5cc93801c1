/*
 * probe_http.c - the experiment's HTTP client on libevent's evhttp.
 *
 * For one URL it opens N connections at once (one evhttp_connection each, so
 * the server sees N concurrent clients, as the experiment's async client does),
 * sends one GET on each, and records per request the send and answer times on
 * CLOCK_REALTIME (comparable with the server's started_us/finished_us on the
 * same machine), the status, and the parsed body.  Every failure (refused
 * connection, timeout, non-2xx, bad body) becomes the row's error; nothing a
 * server sends ends the run.  It never reads HTTP_PROXY or any other proxy
 * setting: the probe always talks to the URL's host directly.
 *
 * Not here: judging, tables, JSON or SVG output (probe_result/report/svg).
 * Known gap: the host name is resolved with the blocking resolver (no evdns
 * base), which is fine for the loopback deployments this targets.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/number.h"
#include "probe/probe_http.h"

struct probe_http_run;

/* One request in flight; owned by the run, not by libevent. */
struct probe_http_call {
	struct probe_http_run	*run;
	struct probe_result	*row;
	struct evhttp_connection *conn;		/* freed after the loop */
	struct evhttp_request	*req;		/* NULL once answered */
	struct event		*timer;		/* the per-request timeout */
	int			 have_error;
	enum evhttp_request_error error;	/* last one libevent reported */
	int			 done;
};

struct probe_http_run {
	struct event_base	*base;
	const char		*path;		/* for progress lines */
	const char		*host;
	int			 port;
	FILE			*progress;
	uint64_t		 timeout_us;
	size_t			 pending;
};

/*
 * Accepts "http://host[:port]/path?query" only: returns 0, or -1 with a
 * reason in err.  https and every other scheme are refused (the probe has no
 * TLS), as are URLs without a host.
 */
int
probe_http_check_url(const char *url, char *err, size_t errlen)
{
	struct evhttp_uri *uri;
	const char *scheme, *host;
	int rc = -1;

	if ((uri = evhttp_uri_parse(url)) == NULL) {
		snprintf(err, errlen, "not a valid URL: %s", url);
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0)
		snprintf(err, errlen, "only http:// URLs are supported: %s",
		    url);
	else if (host == NULL || host[0] == '\0')
		snprintf(err, errlen, "URL has no host: %s", url);
	else
		rc = 0;
	evhttp_uri_free(uri);
	return rc;
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

static void
print_progress(const struct probe_http_call *call)
{
	const struct probe_result *row = call->row;
	FILE *out = call->run->progress;

	if (out == NULL)
		return;
	if (probe_result_ok(row))
		fprintf(out, "  #%-4lld %s  %6.0f ms  %s  thread %lld\n",
		    (long long)row->request_no, call->run->path,
		    probe_result_latency_ms(row), row->message,
		    (long long)row->thread_id);
	else
		fprintf(out, "  #-    %s  %6.0f ms  error: %s\n",
		    call->run->path, probe_result_latency_ms(row), row->error);
	fflush(out);
}

/* Ends a call exactly once: stops its timer, reports it, counts it down. */
static void
finish_call(struct probe_http_call *call)
{
	struct probe_http_run *run = call->run;

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

static void
errorcb(enum evhttp_request_error error, void *arg)
{
	struct probe_http_call *call = arg;

	call->have_error = 1;
	call->error = error;
}

/*
 * libevent calls this once per request: with the answer, or with NULL or a
 * request without a status when it failed.  A failed connect arrives without
 * an error callback and with errno already overwritten by libevent's reset
 * (evhttp_connection_cb_cleanup in libevent 2.1), so the text can only say
 * what it can be: refused or unreachable (a connect that hangs ends in our
 * timeout instead).
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
		if (call->have_error)
			probe_result_set_error(row, "%s",
			    error_name(call->error));
		else
			probe_result_set_error(row, "cannot connect to %s:%d "
			    "(connection refused or unreachable)",
			    call->run->host, call->run->port);
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

/* Starts one GET; on failure the row carries the error and 0 is pending. */
static int
start_call(struct probe_http_call *call, const char *uri)
{
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	const char *host = call->run->host;
	struct timeval tv;

	call->row->sent_us = clock_now_us();
	if ((conn = evhttp_connection_base_new(call->run->base, NULL, host,
	    (ev_uint16_t)call->run->port)) == NULL) {
		probe_result_set_error(call->row, "cannot create connection");
		return -1;
	}
	call->conn = conn;
	/* libevent's own idle timeout is a backstop a second after ours. */
	tv = clock_timeval(call->run->timeout_us + 1000000);
	evhttp_connection_set_timeout_tv(conn, &tv);
	evhttp_connection_set_max_body_size(conn, SA_PROBE_BODY_MAX);
	evhttp_connection_set_retries(conn, 0);
	if ((req = evhttp_request_new(donecb, call)) == NULL) {
		probe_result_set_error(call->row, "cannot create request");
		return -1;
	}
	evhttp_request_set_error_cb(req, errorcb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
	    "close");
	/* On failure libevent has freed req already. */
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, uri) == -1) {
		probe_result_set_error(call->row, "cannot send request");
		return -1;
	}
	call->req = req;
	tv = clock_timeval(call->run->timeout_us);
	evtimer_add(call->timer, &tv);
	return 0;
}

/*
 * Sends options->requests GETs to url at once and runs the loop until each
 * is answered, failed or timed out; rows[0..requests) receive the results
 * (url_index and send order set here).  Returns 0, or -1 when the run could
 * not start at all (then every row says why).  Progress goes to
 * options->progress as each answer arrives.
 */
int
probe_http_run(const char *url, size_t url_index,
    const struct probe_http_options *options, struct probe_result *rows)
{
	struct probe_http_run run;
	struct probe_http_call *calls = NULL;
	struct evhttp_uri *uri = NULL;
	const char *host, *path, *query;
	char target[SA_PROBE_URI_MAX];
	size_t i, n = options->requests;
	int rc = -1;

	memset(&run, 0, sizeof(run));
	for (i = 0; i < n; i++)
		probe_result_init(&rows[i], url_index, i);
	if ((uri = evhttp_uri_parse(url)) == NULL ||
	    (host = evhttp_uri_get_host(uri)) == NULL) {
		for (i = 0; i < n; i++)
			probe_result_set_error(&rows[i], "invalid URL");
		goto done;
	}
	run.host = host;
	run.port = evhttp_uri_get_port(uri) == -1 ? 80 :
	    evhttp_uri_get_port(uri);
	path = evhttp_uri_get_path(uri);
	if (path == NULL || path[0] == '\0')
		path = "/";
	query = evhttp_uri_get_query(uri);
	if ((size_t)snprintf(target, sizeof(target), "%s%s%s", path,
	    query != NULL ? "?" : "", query != NULL ? query : "") >=
	    sizeof(target)) {
		for (i = 0; i < n; i++)
			probe_result_set_error(&rows[i], "URL too long");
		goto done;
	}
	run.path = target;
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
		calls[i].timer = evtimer_new(run.base, timeoutcb,
		    &calls[i]);
		if (calls[i].timer == NULL)
			probe_result_set_error(&rows[i], "out of memory");
		else if (start_call(&calls[i], target) == 0) {
			run.pending++;
			continue;
		}
		calls[i].done = 1;
		rows[i].received_us = rows[i].sent_us;
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
			if (calls[i].conn != NULL)
				evhttp_connection_free(calls[i].conn);
			if (calls[i].timer != NULL)
				event_free(calls[i].timer);
		}
		free(calls);
	}
	if (run.base != NULL)
		event_base_free(run.base);
	if (uri != NULL)
		evhttp_uri_free(uri);
	return rc;
}
