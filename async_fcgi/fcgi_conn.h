/*
 * fcgi_conn.h - the event loop: listener, connections, timers, signals.
 *
 * The only part of async_fcgi that includes libevent.  It frames FastCGI
 * records off each connection, feeds them to the request state machine
 * (fcgi_request), runs the application (async_handler) and writes records
 * back; it owns every limit that concerns sockets and time, and exactly one
 * function frees a connection and cancels what it was doing.  Nothing a peer
 * sends ends the process: bad input closes that connection with one
 * sanitised log line.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_CONN_H
#define SYNCASYNC_ASYNC_FCGI_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "async_fcgi/async_handler.h"

struct conn_options {
	size_t		max_params;	/* bytes of PARAMS per request */
	size_t		max_stdin;	/* bytes of STDIN per request */
	unsigned	max_conns;	/* open connections */
	unsigned	max_requests;	/* requests in flight */
	unsigned	idle_ms;	/* a silent peer is closed after this */
	size_t		high_water;	/* output bytes before reading pauses */
	unsigned	drain_ms;	/* SIGTERM: how long requests may finish */
	unsigned	stall_ms;	/* watchdog: a stall worth a log line */
};

/*
 * Serves FastCGI on the listening socket listen_fd until SIGTERM or SIGINT,
 * then stops accepting, lets requests in flight finish (up to drain_ms) and
 * returns 0.  Returns -1 with a message on stderr if the loop cannot be set
 * up.  Takes ownership of listen_fd.
 */
int conn_serve(int listen_fd, const struct conn_options *options,
    struct async_app *app);

#endif
