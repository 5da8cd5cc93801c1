/*
 * fcgi_conn.h - one FastCGI connection: framing, output, back-pressure,
 * close.
 *
 * It frames records off a bufferevent, feeds them to the request state
 * machine (fcgi_request.h), hands a ready request to the application
 * (async_handler.h), which answers now or later, and writes the answer
 * back.  It knows no timer, pool or work driver: when the peer leaves, it
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

#include "async_fcgi/fcgi_request.h"

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
	int			 draining;	/* close after each request */
	void			(*closed)(void *arg);	/* one was freed */
	void			*closed_arg;
	/* The connection layer's: */
	struct fcgi_conn_list	 list;
	struct fcgi_conn_list	 free;		/* closed, kept for reuse */
	unsigned		 free_count;
	uint64_t		 next_id;
	unsigned		 admitted;	/* requests begun, not ended */
};

void fcgi_conn_set_init(struct fcgi_conn_set *set);

/* Makes the non-blocking connected socket fd a connection of set; 0, or -1
 * (fd closed). */
int fcgi_conn_new(struct fcgi_conn_set *set, int fd);

/* Frees the connections that sit between requests (a drain begins). */
void fcgi_conn_close_idle(struct fcgi_conn_set *set);
/* Frees every connection, cancelling what each was doing, and the kept
 * ones. */
void fcgi_conn_close_all(struct fcgi_conn_set *set);
/* Frees the closed connections kept for reuse. */
void fcgi_conn_free_unused(struct fcgi_conn_set *set);

#endif
