/* SPDX-License-Identifier: ISC */
/*
 * fcgi_server.h - the FastCGI server: listener, caps, signals, drain.
 *
 * Owns the event loop of async_fcgi.  It accepts connections (fcgi_conn.h)
 * up to max_conns (at the cap it closes the slowest request still being
 * received to make room, and pauses the listener only when every
 * connection runs a request), pausing for a second on EMFILE; SIGTERM or
 * SIGINT stops accepting and lets requests in flight finish for up to
 * drain_ms.  It attaches the application (its timers,
 * pool and work drivers) to the loop and runs the watchdog.  Errors: NULL
 * or -1 with a message on stderr when the loop cannot be set up; nothing a
 * peer sends ends the process.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_FCGI_SERVER_H
#define SYNCASYNC_ASYNC_FCGI_FCGI_SERVER_H

#include <stddef.h>

struct async_app;
struct event_base;
struct fcgi_server;

struct fcgi_server_options {
	size_t		max_params;	/* bytes of PARAMS per request */
	size_t		max_stdin;	/* bytes of STDIN per request */
	unsigned	max_conns;	/* open connections */
	unsigned	max_requests;	/* requests in flight */
	unsigned	idle_ms;	/* a silent peer is closed after this */
	size_t		high_water;	/* output bytes before reading pauses */
	unsigned	drain_ms;	/* SIGTERM: how long requests may finish */
	unsigned	stall_ms;	/* watchdog: a stall worth a log line */
	unsigned	request_ms;	/* BEGIN_REQUEST to the end of STDIN;
					   0 = no limit */
	unsigned	min_rate;	/* bytes/s once SA_FCGI_RATE_GRACE_MS
					   old; 0 = none */
};

/*
 * The pieces fcgi_server_run() is made of, for tests and fuzzers that
 * drive connections in-process: a server on an existing event base (the
 * application attached, the watchdog running; no listener, no signals);
 * adopt() makes a connected socket one of its connections (it takes the
 * descriptor, also on failure: 0 or -1); free() closes every connection.
 */
struct fcgi_server *fcgi_server_new(struct event_base *base,
    const struct fcgi_server_options *options, struct async_app *app);
int fcgi_server_adopt(struct fcgi_server *srv, int fd);
void fcgi_server_free(struct fcgi_server *srv);

/*
 * Serves FastCGI on the listening socket listen_fd until SIGTERM or SIGINT,
 * then drains (requests in flight, then the offload pool, all within
 * drain_ms) and returns 0; 1 when it stopped before every request finished
 * (the drain timed out, or a second signal came) or a pool worker is still
 * busy: then exit at once (_exit), without async_handler_free().  SIGHUP,
 * SIGUSR1, SIGUSR2 and SIGALRM are logged and ignored.  -1 if the loop
 * cannot be set up.  Takes listen_fd.
 */
int fcgi_server_run(int listen_fd, const struct fcgi_server_options *options,
    struct async_app *app);

#endif
