/* SPDX-License-Identifier: ISC */
/*
 * fcgi_conn.h - one FastCGI connection: framing, output, back-pressure,
 * close.
 *
 * It reads the socket through one libevent event, frames records, feeds
 * them to the request state machine (fcgi_request.h), hands a ready
 * request to the application (async_handler.h), which answers now or
 * later, and writes the answer back at once.  A connection holds heap
 * buffers only for bytes that must wait (a record still arriving, output
 * the socket did not take): one waiting for its answer holds none.  It knows no timer, pool or work driver: when the peer leaves, it
 * cancels the application's call.  Errors: void-and-close; anything wrong
 * on a connection closes that connection with one sanitised log line,
 * never the process.  A connection that must close is marked and freed in
 * one place, at the end of the callback that marked it.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_FCGI_CONN_H
#define SYNCASYNC_ASYNC_FCGI_FCGI_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>

#include "fcgi/fcgi_request.h"

struct async_app;
struct async_stats;
struct event_base;
struct fcgi_conn;
struct watchdog;

TAILQ_HEAD(fcgi_conn_list, fcgi_conn);

/* The connections of one server and what they share. */
struct fcgi_conn_set {
	/* Set by the server before the first fcgi_conn_new(): */
	struct event_base	*base;
	struct async_app	*app;
	struct async_stats	*stats;		/* connections, requests */
	struct watchdog		*watchdog;	/* told who held the loop */
	struct fcgi_limits	 limits;	/* per request */
	unsigned		 max_requests;	/* in flight, all connections */
	size_t			 high_water;	/* output bytes: stop reading */
	struct timeval		 idle;		/* a silent peer is closed */
	int64_t			 request_us;	/* first byte of a request to
						   the end of its STDIN; 0 =
						   no limit */
	uint64_t		 min_rate;	/* bytes/s a request averages
						   once SA_FCGI_RATE_GRACE_MS
						   old; 0 = none */
	int			 draining;	/* close after each request */
	void			(*room)(void *arg);	/* one was freed, or
						   one became idle */
	void			*room_arg;
	/* The connection layer's: */
	struct fcgi_conn_list	 list;
	struct fcgi_conn_list	 waiting;	/* not running a request, in
						   the order they began to
						   wait */
	struct fcgi_conn_list	 free;		/* closed, kept for reuse */
	uint8_t			*scratch;	/* every read lands here */
	unsigned		 free_count;
	uint64_t		 next_id;
	unsigned		 admitted;	/* requests begun, not ended */
	int64_t			 room_logged_us; /* last "making room" line */
	uint64_t		 room_made;	/* closed since that line */
	int64_t			 cap_logged_us;	/* last --max-requests line */
	uint64_t		 cap_refused;	/* refused since that line */
};

void fcgi_conn_set_init(struct fcgi_conn_set *set);

/* Makes the non-blocking connected socket fd a connection of set and
 * applies what has arrived on it already (a plain request may be answered
 * and its connection freed before this returns); 0, or -1 (fd closed). */
int fcgi_conn_new(struct fcgi_conn_set *set, int fd);

/*
 * At the connection cap: frees the connection that has been receiving a
 * request the longest (the slowest unfinished request; failing that, the
 * one idle the longest), with a log line (at most one per
 * SA_FCGI_LOG_EVERY_MS, counting the rest).  Returns 0, or -1 when every
 * connection is running a request.  fcgi_conn_can_make_room() says
 * whether it would find one.
 */
int fcgi_conn_make_room(struct fcgi_conn_set *set);
int fcgi_conn_can_make_room(const struct fcgi_conn_set *set);

/* Frees the connections that sit between requests (a drain begins). */
void fcgi_conn_close_idle(struct fcgi_conn_set *set);
/* Frees every connection, cancelling what each was doing, the kept ones
 * and the read buffer. */
void fcgi_conn_close_all(struct fcgi_conn_set *set);
/* Frees the closed connections kept for reuse. */
void fcgi_conn_free_unused(struct fcgi_conn_set *set);

#endif
