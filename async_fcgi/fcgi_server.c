/* SPDX-License-Identifier: ISC */
/*
 * fcgi_server.c - listener, caps, signals and drain (fcgi_server.h).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/fcgi_conn.h"
#include "async_fcgi/fcgi_server.h"
#include "async_fcgi/watchdog.h"
#include "common/clock.h"
#include "common/limits.h"

struct fcgi_server {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct event		*resume_ev;	/* after an EMFILE pause */
	struct event		*drain_ev;
	struct event		*sigterm_ev;
	struct event		*sigint_ev;
	struct event		*other_ev[4];	/* logged and ignored */
	struct fcgi_server_options opt;
	struct async_app	*app;
	struct async_stats	*stats;
	struct watchdog		*watchdog;
	struct fcgi_conn_set	 conns;
	int			 attached;	/* the app is on this loop */
	int			 full;		/* listener paused: max_conns */
	int			 starved;	/* listener paused: EMFILE */
	int			 abandoned;	/* left requests unfinished */
	int64_t			 drain_at_us;	/* when the drain began */
};

/* Signals that only get a log line (async_fcgi(8), SIGNALS): SIGHUP has
 * nothing to reload (no configuration file; the log is stderr). */
static const int server_other_signals[] = { SIGHUP, SIGUSR1, SIGUSR2,
    SIGALRM };

static void
server_update_listener(struct fcgi_server *srv)
{
	if (srv->listener == NULL)
		return;
	if (srv->full || srv->starved || srv->conns.draining)
		evconnlistener_disable(srv->listener);
	else
		evconnlistener_enable(srv->listener);
}

/* Below the cap, or at it with a connection the server may close to make
 * room for a new one. */
static int
server_has_room(struct fcgi_server *srv)
{
	return srv->stats->connections < srv->opt.max_conns ||
	    fcgi_conn_can_make_room(&srv->conns);
}

/*
 * A connection was freed, or went idle: accept again when there is room,
 * and after EMFILE (a descriptor came free: no need to sit out the pause,
 * and no spinning either, as each retry waits for a close); end a drain.
 */
static void
server_roomcb(void *arg)
{
	struct fcgi_server *srv = arg;

	if ((srv->full && server_has_room(srv)) || srv->starved) {
		if (server_has_room(srv))
			srv->full = 0;
		srv->starved = 0;
		server_update_listener(srv);
	}
	if (srv->conns.draining && srv->stats->connections == 0)
		event_base_loopexit(srv->base, NULL);
}

/* Makes the non-blocking socket fd a connection; 0, or -1 (fd closed). */
static int
server_add(struct fcgi_server *srv, int fd)
{
	if (srv->conns.draining) {
		evutil_closesocket(fd);
		return -1;
	}
	/* At the cap, the slowest request being received makes way. */
	if (srv->stats->connections >= srv->opt.max_conns &&
	    fcgi_conn_make_room(&srv->conns) == -1) {
		evutil_closesocket(fd);	/* accepted in one burst past it */
		return -1;
	}
	if (fcgi_conn_new(&srv->conns, fd) == -1)
		return -1;
	if (!server_has_room(srv) && !srv->full) {
		fprintf(stderr, "async_fcgi: %u connections open, the cap, "
		    "each running a request: not accepting until one ends\n",
		    srv->opt.max_conns);
		srv->full = 1;
		server_update_listener(srv);
	}
	return 0;
}

int
fcgi_server_adopt(struct fcgi_server *srv, int fd)
{
	evutil_make_socket_nonblocking(fd);
	return server_add(srv, fd);
}

/* The listener hands over sockets that are non-blocking already. */
static void
server_acceptcb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	server_add(arg, fd);
}

/* accept(2) failed: on descriptor exhaustion pause instead of spinning. */
static void
server_errorcb(struct evconnlistener *listener, void *arg)
{
	struct fcgi_server *srv = arg;
	int error = EVUTIL_SOCKET_ERROR();
	struct timeval pause = clock_timeval(SA_FCGI_EMFILE_PAUSE_MS * 1000);

	if (error == EMFILE || error == ENFILE || error == ENOBUFS ||
	    error == ENOMEM) {
		if (!srv->starved)
			fprintf(stderr, "async_fcgi: accept: %s with %llu "
			    "connections open; pausing accept for %lu ms\n",
			    strerror(error), (unsigned long long)
			    srv->stats->connections, SA_FCGI_EMFILE_PAUSE_MS);
		srv->starved = 1;
		server_update_listener(srv);
		evtimer_add(srv->resume_ev, &pause);
		return;
	}
	fprintf(stderr, "async_fcgi: accept: %s\n", strerror(error));
}

static void
server_resumecb(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_server *srv = arg;

	srv->starved = 0;
	server_update_listener(srv);
}

static void
server_draincb(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_server *srv = arg;

	fprintf(stderr, "async_fcgi: drain timeout after %u ms: closing %llu "
	    "connections (%llu requests in flight)\n", srv->opt.drain_ms,
	    (unsigned long long)srv->stats->connections,
	    (unsigned long long)srv->stats->in_flight);
	srv->abandoned = 1;
	event_base_loopexit(srv->base, NULL);
}

/* SIGTERM/SIGINT: stop accepting, close idle connections, let the rest end. */
static void
server_signalcb(evutil_socket_t sig, short what, void *arg)
{
	struct fcgi_server *srv = arg;
	struct timeval tv = clock_timeval((uint64_t)srv->opt.drain_ms * 1000);

	if (srv->conns.draining) {
		fprintf(stderr, "async_fcgi: signal %d again: exiting now\n",
		    (int)sig);
		srv->abandoned = 1;
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->conns.draining = 1;
	srv->drain_at_us = clock_mono_us();
	fprintf(stderr, "async_fcgi: signal %d: no new connections; %llu "
	    "requests in flight may finish within %u ms\n", (int)sig,
	    (unsigned long long)srv->stats->in_flight, srv->opt.drain_ms);
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	fcgi_conn_close_idle(&srv->conns);
	if (srv->stats->connections == 0)
		event_base_loopexit(srv->base, NULL);
	else
		evtimer_add(srv->drain_ev, &tv);
}

/* SIGHUP, SIGUSR1, SIGUSR2, SIGALRM: one line each, nothing else. */
static void
server_othercb(evutil_socket_t sig, short what, void *arg)
{
	const char *name = sig == SIGHUP ? "SIGHUP" : sig == SIGUSR1 ?
	    "SIGUSR1" : sig == SIGUSR2 ? "SIGUSR2" : sig == SIGALRM ?
	    "SIGALRM" : "a signal";

	fprintf(stderr, "async_fcgi: %s received: ignored (nothing to "
	    "reload; SIGTERM or SIGINT drains and exits)\n", name);
}

struct fcgi_server *
fcgi_server_new(struct event_base *base,
    const struct fcgi_server_options *options, struct async_app *app)
{
	struct fcgi_server *srv = calloc(1, sizeof(*srv));
	char err[SA_ERROR_MAX];

	if (srv == NULL)
		return NULL;
	srv->base = base;
	srv->opt = *options;
	srv->app = app;
	srv->stats = async_handler_stats(app);
	fcgi_conn_set_init(&srv->conns);
	srv->conns.base = base;
	srv->conns.app = app;
	srv->conns.stats = srv->stats;
	srv->conns.limits.max_params_bytes = options->max_params;
	srv->conns.limits.max_stdin_bytes = options->max_stdin;
	srv->conns.limits.max_conns = options->max_conns;
	srv->conns.limits.max_reqs = options->max_requests;
	srv->conns.max_requests = options->max_requests;
	srv->conns.high_water = options->high_water;
	srv->conns.idle = clock_timeval((uint64_t)options->idle_ms * 1000);
	srv->conns.request_us = (int64_t)options->request_ms * 1000;
	srv->conns.min_rate = options->min_rate;
	srv->conns.room = server_roomcb;
	srv->conns.room_arg = srv;
	srv->resume_ev = evtimer_new(base, server_resumecb, srv);
	srv->drain_ev = evtimer_new(base, server_draincb, srv);
	srv->watchdog = srv->conns.watchdog = watchdog_new(base,
	    options->stall_ms, srv->stats);
	if (srv->resume_ev == NULL || srv->drain_ev == NULL ||
	    srv->watchdog == NULL) {
		fprintf(stderr, "async_fcgi: out of memory\n");
		fcgi_server_free(srv);
		return NULL;
	}
	async_handler_on_block(app, watchdog_block, srv->watchdog);
	async_handler_on_stats(app, watchdog_snapshot, srv->watchdog);
	if (async_handler_attach(app, base, err, sizeof(err)) == -1) {
		fprintf(stderr, "async_fcgi: %s\n", err);
		fcgi_server_free(srv);
		return NULL;
	}
	srv->attached = 1;
	return srv;
}

void
fcgi_server_free(struct fcgi_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	srv->conns.room = NULL;		/* no loopexit from the frees below */
	fcgi_conn_close_all(&srv->conns);
	if (srv->attached)
		async_handler_detach(srv->app);	/* its calls are gone */
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	if (srv->resume_ev != NULL)
		event_free(srv->resume_ev);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	if (srv->sigterm_ev != NULL)
		event_free(srv->sigterm_ev);
	if (srv->sigint_ev != NULL)
		event_free(srv->sigint_ev);
	for (i = 0; i < sizeof(srv->other_ev) / sizeof(srv->other_ev[0]); i++)
		if (srv->other_ev[i] != NULL)
			event_free(srv->other_ev[i]);
	watchdog_free(srv->watchdog);
	free(srv);
}

/*
 * On TCP, the kernel hands over a connection once its first bytes are in
 * (TCP_DEFER_ACCEPT, as nginx's "deferred"): the connection's first read,
 * at accept, then finds the request (fcgi_conn_new), and a peer that
 * connects and says nothing costs no wake-up for SA_FCGI_DEFER_ACCEPT_S.
 * Nothing to do on a unix socket.
 */
static void
server_defer_accept(int fd)
{
	int domain, secs = SA_FCGI_DEFER_ACCEPT_S;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == -1 ||
	    (domain != AF_INET && domain != AF_INET6))
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
	    sizeof(secs)) == -1)
		fprintf(stderr, "async_fcgi: TCP_DEFER_ACCEPT: %s\n",
		    strerror(errno));
}

int
fcgi_server_run(int listen_fd, const struct fcgi_server_options *options,
    struct async_app *app)
{
	struct event_base *base;
	struct fcgi_server *srv = NULL;
	sigset_t stop_signals;
	int64_t left_us;
	unsigned busy;
	size_t i;
	int rc = -1;

	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "async_fcgi: cannot create the event loop\n");
		close(listen_fd);
		return -1;
	}
	if ((srv = fcgi_server_new(base, options, app)) == NULL) {
		fprintf(stderr, "async_fcgi: cannot set up the event loop\n");
		close(listen_fd);
		goto done;
	}
	/*
	 * Inherited sockets (descriptor 0 from lighttpd) come blocking; the
	 * listener accepts until EAGAIN, so it must not block.  They also come
	 * with lighttpd's backlog of 128, which a burst of a few hundred
	 * connects overflows: on a unix socket lighttpd then writes to a socket
	 * that never connected, retries, and answers 503.  listen(2) again
	 * raises it; libevent must then leave it alone (backlog 0: a negative
	 * one makes it call listen(fd, 128) itself).
	 */
	evutil_make_socket_nonblocking(listen_fd);
	if (listen(listen_fd, SA_FCGI_BACKLOG) == -1)
		fprintf(stderr, "async_fcgi: listen(%d): %s\n", SA_FCGI_BACKLOG,
		    strerror(errno));
	server_defer_accept(listen_fd);
	srv->listener = evconnlistener_new(base, server_acceptcb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (srv->listener == NULL) {
		fprintf(stderr, "async_fcgi: cannot listen on descriptor %d\n",
		    listen_fd);
		close(listen_fd);
		goto done;
	}
	evconnlistener_set_error_cb(srv->listener, server_errorcb);
	srv->sigterm_ev = evsignal_new(base, SIGTERM, server_signalcb, srv);
	srv->sigint_ev = evsignal_new(base, SIGINT, server_signalcb, srv);
	if (srv->sigterm_ev == NULL || srv->sigint_ev == NULL ||
	    event_add(srv->sigterm_ev, NULL) == -1 ||
	    event_add(srv->sigint_ev, NULL) == -1) {
		fprintf(stderr, "async_fcgi: cannot handle signals\n");
		goto done;
	}
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	for (i = 0; i < sizeof(server_other_signals) /
	    sizeof(server_other_signals[0]); i++) {
		srv->other_ev[i] = evsignal_new(base, server_other_signals[i],
		    server_othercb, srv);
		if (srv->other_ev[i] == NULL ||
		    event_add(srv->other_ev[i], NULL) == -1) {
			fprintf(stderr, "async_fcgi: cannot handle signals\n");
			goto done;
		}
		sigaddset(&stop_signals, server_other_signals[i]);
	}
	/* main() blocked them until now, so none is lost or fatal. */
	sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
	if (event_base_dispatch(base) == -1) {
		fprintf(stderr, "async_fcgi: the event loop failed\n");
		goto done;
	}
	rc = srv->abandoned ? 1 : 0;
	/* What is left of the drain is the pool's, whatever it is doing. */
	left_us = srv->abandoned || srv->drain_at_us == 0 ? 0 :
	    (int64_t)srv->opt.drain_ms * 1000 -
	    (clock_mono_us() - srv->drain_at_us);
	fcgi_server_free(srv);		/* every call cancelled */
	srv = NULL;
	busy = async_handler_stop(app, left_us > 0 ?
	    (unsigned)((left_us + 999) / 1000) : 0);
	if (busy > 0) {
		fprintf(stderr, "async_fcgi: %u offload worker%s still busy "
		    "at the end of the drain: exiting without %s\n", busy,
		    busy == 1 ? "" : "s", busy == 1 ? "it" : "them");
		rc = 1;
	}
done:
	fcgi_server_free(srv);
	event_base_free(base);
	return rc;
}
