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

struct event_base;
struct conn_server;

/*
 * The pieces conn_serve() is made of, for tests and fuzzers that drive
 * connections in-process: a server on an existing event base (offload pool
 * and watchdog included, no listener, no signals); adopt() makes a
 * connected socket one of its connections (it takes the descriptor, also
 * on failure: 0 or -1); free() closes every connection it still has.
 */
struct conn_server *conn_server_new(struct event_base *base,
    const struct conn_options *options, struct async_app *app);
int conn_server_adopt(struct conn_server *srv, int fd);
void conn_server_free(struct conn_server *srv);

/*
 * Serves FastCGI on the listening socket listen_fd until SIGTERM or SIGINT,
 * then stops accepting, lets requests in flight finish (up to drain_ms) and
 * returns 0; 1 when it stopped before they all finished (the drain timed
 * out, or a second signal came): offloaded jobs may still be running then.
 * Returns -1 with a message on stderr if the loop cannot be set up.  Takes
 * ownership of listen_fd.
 */
int conn_serve(int listen_fd, const struct conn_options *options,
    struct async_app *app);

#endif
