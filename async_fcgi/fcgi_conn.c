/*
 * fcgi_conn.c - libevent listener, connections, timers and signals
 * (fcgi_conn.h).
 *
 * Skeleton after libevent's samples: an evconnlistener hands each accepted
 * socket to a bufferevent whose read callback frames records (peek the
 * 8-byte header with evbuffer_copyout, wait for the whole record, then
 * fcgi_request_apply), whose write callback closes a finished connection or
 * resumes reading after back-pressure, and whose event callback treats EOF,
 * errors and the idle timeout as the end of the connection.  conn_free() is
 * the one place a connection dies; it cancels the request's timer and
 * detaches an offloaded job (which finishes on its worker and is dropped).
 *
 * Limits: connections (the listener pauses at the cap and on EMFILE),
 * requests in flight (FCGI_OVERLOADED), bytes of PARAMS and STDIN (the
 * request layer), an idle timeout while reading, a high-water mark on
 * output.  A watchdog timer measures how late the loop runs and names the
 * request that held it.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "async_fcgi/fcgi_conn.h"
#include "async_fcgi/fcgi_request.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/settings.h"

/* One record at most: header, 65535 content, 255 padding; twice that. */
#define CONN_READ_HIGH_WATER	(2 * (FCGI_HEADER_LEN + 65535 + 255))
#define CONN_SAMPLE_LEN		16	/* bytes of bad input shown in logs */

struct conn_server;

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct conn_server		*srv;
	struct bufferevent	*bev;
	struct fcgi_request		 req;
	struct async_call	*call;		/* request being handled */
	struct event		 timer;		/* timer mode: its wait */
	int			 timer_armed;
	uint64_t		 id;		/* for log lines */
	int			 offloaded;	/* on the pool or a work driver */
	int			 admitted;	/* counts in srv->admitted */
	int			 closing;	/* free once output is flushed */
	int			 paused;	/* back-pressure: not reading */
};

TAILQ_HEAD(conn_list, conn);

struct conn_server {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct event		*pool_ev;
	struct event		*watchdog_ev;
	struct event		*resume_ev;	/* after an EMFILE pause */
	struct event		*drain_ev;
	struct event		*sigterm_ev;
	struct event		*sigint_ev;
	struct conn_options	 opt;
	struct fcgi_limits	 limits;
	struct async_app	*app;
	struct async_stats	*stats;
	struct conn_list	 conns;
	struct timeval		 idle_tv;
	uint64_t		 next_id;
	unsigned		 admitted;	/* requests begun, not ended */
	int			 full;		/* listener paused: max_conns */
	int			 starved;	/* listener paused: EMFILE */
	int			 draining;
	int			 abandoned;	/* left requests unfinished */
	int64_t			 tick_mono_us;	/* watchdog's last tick */
	int64_t			 hold_us;	/* longest handler run since */
	uint64_t		 hold_request;
	const char		*hold_mode;
};

static int	conn_process(struct conn *);
static void	conn_free(struct conn *);
static void	conn_log(const struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
conn_log(const struct conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "async_fcgi: connection %llu: %s\n",
	    (unsigned long long)c->id, line);
}

/* Sanitised sample of bad input (non-printables as '.'), redis style. */
static void
conn_sample(const uint8_t *bytes, size_t len, char *out, size_t outlen)
{
	size_t i;

	if (len > CONN_SAMPLE_LEN)
		len = CONN_SAMPLE_LEN;
	for (i = 0; i < len && i + 1 < outlen; i++)
		out[i] = (bytes[i] >= 0x20 && bytes[i] < 0x7f) ?
		    (char)bytes[i] : '.';
	out[i] = '\0';
}

static void
server_update_listener(struct conn_server *srv)
{
	if (srv->listener == NULL)
		return;
	if (srv->full || srv->starved || srv->draining)
		evconnlistener_disable(srv->listener);
	else
		evconnlistener_enable(srv->listener);
}

/* Frees c after its queued output is written; -1 if already freed. */
static int
conn_close_after_flush(struct conn *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return -1;
	}
	return 0;
}

/* Pauses reading while more than high_water bytes wait to be written. */
static void
conn_check_output(struct conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    c->srv->opt.high_water && !c->paused) {
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

static void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (bufferevent_write(c->bev, data, len) == -1)
		conn_log(c, "cannot queue %zu bytes of output", len);
	conn_check_output(c);
}

/* The request is over (answered or aborted): drop its call, count it. */
static void
conn_end_call(struct conn *c, int answered)
{
	struct async_stats *stats = c->srv->stats;

	if (c->call == NULL)
		return;
	if (c->timer_armed) {
		evtimer_del(&c->timer);
		c->timer_armed = 0;
	}
	if (c->offloaded)	/* pool or work driver: let it go */
		async_handler_abandon(c->call);
	else
		async_handler_call_free(c->call);
	c->call = NULL;
	c->offloaded = 0;
	stats->in_flight--;
	if (answered)
		stats->served++;
}

/* The request no longer counts against --max-requests. */
static void
conn_release(struct conn *c)
{
	if (c->admitted) {
		c->admitted = 0;
		c->srv->admitted--;
	}
}

/*
 * After END_REQUEST is queued: back to reading the next request (KEEP_CONN)
 * or close once flushed.  Returns -1 if c was freed.
 */
static int
conn_request_done(struct conn *c)
{
	int keep = fcgi_request_finish(&c->req);

	conn_release(c);

	if (!keep || c->srv->draining)
		return conn_close_after_flush(c);
	bufferevent_set_timeouts(c->bev, &c->srv->idle_tv, &c->srv->idle_tv);
	return 0;
}

/*
 * Queues bytes for c, writing them to the socket at once when nothing is
 * waiting before them (as uvicorn's transport.write does): a write left for
 * the next loop iteration would be held back by a blocking handler later in
 * this one, and answers already made would wait for it.
 */
static void
conn_write_now(struct conn *c, const uint8_t *data, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	ssize_t sent = 0;

	if (evbuffer_get_length(out) == 0) {
		sent = send(bufferevent_getfd(c->bev), data, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;	/* EAGAIN or an error the bufferevent
					   will see and report */
	}
	if ((size_t)sent < len)
		conn_write(c, data + sent, len - (size_t)sent);
}

/*
 * Writes the call's response as FCGI_STDOUT records, the empty STDOUT
 * record that ends the stream, and END_REQUEST (spec 5.3, 5.5).  Returns -1
 * if c was freed.
 */
static int
conn_respond(struct conn *c)
{
	struct async_call *call = c->call;
	uint16_t id = fcgi_request_id(&c->req);
	uint8_t small[4096], *p = small;
	size_t stream_len, total, written = 0;

	if (call->response == NULL ||
	    fcgi_stream_size(call->response_len, &stream_len) !=
	    FCGI_CODEC_OK) {
		conn_log(c, "request %llu: no response (out of memory)",
		    (unsigned long long)async_handler_request_no(call));
		conn_free(c);
		return -1;
	}
	total = stream_len + FCGI_HEADER_LEN + FCGI_CODEC_END_RECORD_LEN;
	if (total > sizeof(small) && (p = malloc(total)) == NULL) {
		conn_log(c, "out of memory for %zu bytes of output", total);
		conn_free(c);
		return -1;
	}
	fcgi_stream_encode(FCGI_STDOUT, id, (const uint8_t *)call->response,
	    call->response_len, p, stream_len, &written);
	fcgi_stream_end_encode(p + stream_len, FCGI_STDOUT, id);
	fcgi_end_record_encode(p + stream_len + FCGI_HEADER_LEN, id, 0,
	    FCGI_REQUEST_COMPLETE);
	conn_write_now(c, p, total);
	if (p != small)
		free(p);
	conn_end_call(c, 1);
	return conn_request_done(c);
}

static const char *
conn_param(void *ctx, const char *name)
{
	return fcgi_request_param(&((struct conn *)ctx)->req, name);
}

static void
conn_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	c->timer_armed = 0;
	async_handler_complete(c->call);
	if (conn_respond(c) == 0)
		conn_process(c);
}

/* The pool finished c's job; called on the loop thread. */
static void
conn_resume(struct async_call *call)
{
	struct conn *c = call->owner;

	c->offloaded = 0;
	if (conn_respond(c) == 0)
		conn_process(c);
}

/* Notes how long the handler held the loop, for the watchdog's report. */
static void
server_note_hold(struct conn_server *srv, const struct async_call *call,
    int64_t held_us)
{
	if (held_us > srv->hold_us) {
		srv->hold_us = held_us;
		srv->hold_request = async_handler_request_no(call);
		srv->hold_mode = async_handler_mode(call);
	}
}

/* FCGI_ACTION_RUN: hand the request to the application.  -1 if freed. */
static int
conn_run(struct conn *c)
{
	struct conn_server *srv = c->srv;
	enum async_step step;
	struct timeval tv;
	int64_t t0;

	srv->stats->in_flight++;
	/* The peer is silent while we work: only writes may time out. */
	bufferevent_set_timeouts(c->bev, NULL, &srv->idle_tv);
	t0 = clock_mono_us();
	if (fcgi_request_stdin_over(&c->req)) {
		const char *method = fcgi_request_param(&c->req, "REQUEST_METHOD");

		step = ASYNC_STEP_RESPOND;
		c->call = async_handler_refuse(srv->app, 413,
		    "request body too large", method != NULL &&
		    strcmp(method, "HEAD") == 0);
	} else
		c->call = async_handler_start(srv->app, conn_param, c, &step);
	if (c->call == NULL) {
		srv->stats->in_flight--;
		conn_log(c, "out of memory starting a request");
		conn_free(c);
		return -1;
	}
	server_note_hold(srv, c->call, clock_mono_us() - t0);
	fcgi_request_drop_params(&c->req);	/* the handler has read them */
	switch (step) {
	case ASYNC_STEP_RESPOND:
		return conn_respond(c);
	case ASYNC_STEP_TIMER:
		tv.tv_sec = (time_t)(c->call->plan.sleep_us / 1000000);
		tv.tv_usec = (suseconds_t)(c->call->plan.sleep_us % 1000000);
		/* Embedded in the connection: a sleeping request costs
		 * no allocation beyond its call. */
		evtimer_assign(&c->timer, srv->base, conn_timercb, c);
		c->timer_armed = 1;
		if (evtimer_add(&c->timer, &tv) == -1) {
			c->timer_armed = 0;
			conn_log(c, "cannot arm a timer");
			conn_free(c);
			return -1;
		}
		return 0;
	case ASYNC_STEP_OFFLOAD:
		c->call->resume = conn_resume;
		c->call->owner = c;
		c->offloaded = 1;
		offload_pool_submit(async_handler_pool(srv->app),
		    &c->call->job);
		return 0;
	case ASYNC_STEP_WORK:	/* db or http work on the loop */
		c->call->resume = conn_resume;
		c->call->owner = c;
		c->offloaded = 1;
		async_handler_work_submit(c->call);
		return 0;
	}
	return 0;
}

/* Carries out what the request layer decided.  -1 if c was freed. */
static int
conn_act(struct conn *c, enum fcgi_action action,
    const struct fcgi_reply *reply)
{
	switch (action) {
	case FCGI_ACTION_NONE:
		return 0;
	case FCGI_ACTION_RUN:
		return conn_run(c);
	case FCGI_ACTION_END:
		conn_write(c, reply->buf, reply->len);
		if (!reply->keep_conn)
			return conn_close_after_flush(c);
		return 0;
	case FCGI_ACTION_ABORT:
		/* Spec 5.4: the aborted request still gets END_REQUEST. */
		conn_end_call(c, 0);
		conn_write(c, reply->buf, reply->len);
		return conn_request_done(c);
	case FCGI_ACTION_REPLY:
		conn_write(c, reply->buf, reply->len);
		return 0;
	case FCGI_ACTION_CLOSE:
		conn_log(c, "protocol error: %s; closing", reply->reason);
		conn_free(c);
		return -1;
	}
	return 0;
}

/*
 * Applies every whole record waiting in the input buffer.  Returns -1 if c
 * was freed.
 */
static int
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct fcgi_reply reply;
	struct fcgi_header hdr;
	uint8_t head[FCGI_HEADER_LEN];
	enum fcgi_action action;
	size_t total;
	uint8_t *record;
	int can_admit, idle;

	while (!c->closing && !c->paused) {
		if (evbuffer_copyout(in, head, sizeof(head)) <
		    (ev_ssize_t)sizeof(head))
			return 0;
		if (fcgi_header_decode(head, sizeof(head), &hdr) !=
		    FCGI_CODEC_OK) {
			char sample[CONN_SAMPLE_LEN + 1];

			conn_sample(head, sizeof(head), sample, sizeof(sample));
			conn_log(c, "not a FastCGI 1 record (version %u, "
			    "starts \"%s\"); closing", head[0], sample);
			conn_free(c);
			return -1;
		}
		total = fcgi_header_record_len(&hdr);
		if (evbuffer_get_length(in) < total)
			return 0;
		if ((record = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL) {
			conn_log(c, "out of memory reading a record");
			conn_free(c);
			return -1;
		}
		/*
		 * A request counts against --max-requests from its accepted
		 * BEGIN_REQUEST to its END_REQUEST, so slow senders cannot
		 * pile up past the cap before their first handler runs.
		 */
		idle = fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE;
		can_admit = c->srv->admitted < c->srv->opt.max_requests;
		action = fcgi_request_apply(&c->req, &hdr, record + FCGI_HEADER_LEN,
		    hdr.content_length, can_admit, &reply);
		evbuffer_drain(in, total);
		if (idle && fcgi_request_state(&c->req) != FCGI_REQUEST_IDLE &&
		    !c->admitted) {
			c->admitted = 1;
			c->srv->admitted++;
		}
		if (conn_act(c, action, &reply) == -1)
			return -1;
	}
	return 0;
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		conn_free(c);
		return;
	}
	if (c->paused) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		conn_process(c);
	}
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		conn_log(c, "idle for %u ms; closing", c->srv->opt.idle_ms);
	else if ((what & BEV_EVENT_ERROR) && c->call == NULL)
		conn_log(c, "socket error: %s; closing",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (c->call != NULL)
		conn_log(c, "peer went away during request %llu (%s); "
		    "cancelled", (unsigned long long)
		    async_handler_request_no(c->call),
		    async_handler_mode(c->call));
	conn_free(c);
}

/* The one place a connection ends: cancels its work, frees everything. */
static void
conn_free(struct conn *c)
{
	struct conn_server *srv = c->srv;

	conn_end_call(c, 0);
	conn_release(c);
	fcgi_request_free(&c->req);
	bufferevent_free(c->bev);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->stats->connections--;
	free(c);
	if (srv->full && srv->stats->connections < srv->opt.max_conns) {
		srv->full = 0;
		server_update_listener(srv);
	}
	if (srv->draining && srv->stats->connections == 0)
		event_base_loopexit(srv->base, NULL);
}

/* Makes the non-blocking socket fd a connection; 0, or -1 (fd closed). */
static int
conn_add(struct conn_server *srv, int fd)
{
	struct conn *c;

	if (srv->draining || (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return -1;
	}
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return -1;
	}
	c->srv = srv;
	c->id = ++srv->next_id;
	fcgi_request_init(&c->req, &srv->limits);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIGH_WATER);
	bufferevent_set_timeouts(c->bev, &srv->idle_tv, &srv->idle_tv);
	bufferevent_enable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->stats->connections++;
	srv->stats->accepted++;
	if (srv->stats->connections >= srv->opt.max_conns && !srv->full) {
		fprintf(stderr, "async_fcgi: %u connections open, the cap: "
		    "not accepting until one closes\n", srv->opt.max_conns);
		srv->full = 1;
		server_update_listener(srv);
	}
	return 0;
}

int
conn_server_adopt(struct conn_server *srv, int fd)
{
	evutil_make_socket_nonblocking(fd);
	return conn_add(srv, fd);
}

/* The listener hands over sockets that are non-blocking already. */
static void
server_acceptcb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	conn_add(arg, fd);
}

/* accept(2) failed: on descriptor exhaustion pause instead of spinning. */
static void
server_errorcb(struct evconnlistener *listener, void *arg)
{
	struct conn_server *srv = arg;
	int error = EVUTIL_SOCKET_ERROR();
	struct timeval pause = { SA_FCGI_EMFILE_PAUSE_MS / 1000,
	    (SA_FCGI_EMFILE_PAUSE_MS % 1000) * 1000 };

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
	struct conn_server *srv = arg;

	srv->starved = 0;
	server_update_listener(srv);
}

static void
server_poolcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_server *srv = arg;

	offload_pool_drain(async_handler_pool(srv->app));
}

/*
 * The loop watchdog: a periodic timer that measures how late it runs.  A
 * stall past stall_ms is logged once, naming the request whose handler held
 * the loop longest since the previous tick (what asyncio's debug mode does).
 */
static void
server_watchdogcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_server *srv = arg;
	int64_t now = clock_mono_us();
	int64_t late = now - srv->tick_mono_us - SA_WATCHDOG_TICK_MS * 1000;

	srv->tick_mono_us = now;
	if (late >= (int64_t)srv->opt.stall_ms * 1000) {
		struct async_stats *stats = srv->stats;

		stats->stalls++;
		if (late > stats->longest_stall_us) {
			stats->longest_stall_us = late;
			stats->longest_stall_at_us = clock_now_us() - late;
			stats->longest_stall_request = srv->hold_request;
		}
		if (srv->hold_request != 0)
			fprintf(stderr, "async_fcgi: watchdog: the event loop "
			    "stalled %lld ms: request %llu (mode %s) held it "
			    "for %lld ms\n", (long long)(late / 1000),
			    (unsigned long long)srv->hold_request,
			    srv->hold_mode, (long long)(srv->hold_us / 1000));
		else
			fprintf(stderr, "async_fcgi: watchdog: the event loop "
			    "stalled %lld ms\n", (long long)(late / 1000));
	}
	srv->hold_us = 0;
	srv->hold_request = 0;
	srv->hold_mode = NULL;
}

static void
server_draincb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_server *srv = arg;

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
	struct conn_server *srv = arg;
	struct timeval tv = { srv->opt.drain_ms / 1000,
	    (srv->opt.drain_ms % 1000) * 1000 };
	struct conn *c, *next;

	if (srv->draining) {
		fprintf(stderr, "async_fcgi: signal %d again: exiting now\n",
		    (int)sig);
		srv->abandoned = 1;
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->draining = 1;
	fprintf(stderr, "async_fcgi: signal %d: no new connections; %llu "
	    "requests in flight may finish within %u ms\n", (int)sig,
	    (unsigned long long)srv->stats->in_flight, srv->opt.drain_ms);
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->call == NULL && !c->closing &&
		    fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE)
			conn_free(c);
	}
	if (srv->stats->connections == 0)
		event_base_loopexit(srv->base, NULL);
	else
		evtimer_add(srv->drain_ev, &tv);
}

struct conn_server *
conn_server_new(struct event_base *base, const struct conn_options *options,
    struct async_app *app)
{
	struct conn_server *srv = calloc(1, sizeof(*srv));
	struct timeval tick = { 0, SA_WATCHDOG_TICK_MS * 1000 };

	if (srv == NULL)
		return NULL;
	TAILQ_INIT(&srv->conns);
	srv->base = base;
	srv->opt = *options;
	srv->app = app;
	srv->stats = async_handler_stats(app);
	srv->limits.max_params_bytes = options->max_params;
	srv->limits.max_stdin_bytes = options->max_stdin;
	srv->limits.max_conns = options->max_conns;
	srv->limits.max_reqs = options->max_requests;
	srv->idle_tv.tv_sec = options->idle_ms / 1000;
	srv->idle_tv.tv_usec = (suseconds_t)(options->idle_ms % 1000) * 1000;
	srv->resume_ev = evtimer_new(base, server_resumecb, srv);
	srv->drain_ev = evtimer_new(base, server_draincb, srv);
	srv->watchdog_ev = event_new(base, -1, EV_PERSIST, server_watchdogcb,
	    srv);
	srv->pool_ev = event_new(base,
	    offload_pool_fd(async_handler_pool(app)), EV_READ | EV_PERSIST,
	    server_poolcb, srv);
	if (srv->resume_ev == NULL || srv->drain_ev == NULL ||
	    srv->watchdog_ev == NULL || srv->pool_ev == NULL ||
	    event_add(srv->watchdog_ev, &tick) == -1 ||
	    event_add(srv->pool_ev, NULL) == -1 ||
	    async_handler_attach_loop(app, base) == -1) {
		conn_server_free(srv);
		return NULL;
	}
	srv->tick_mono_us = clock_mono_us();
	return srv;
}

void
conn_server_free(struct conn_server *srv)
{
	struct conn *c;

	if (srv == NULL)
		return;
	srv->draining = 0;	/* no loopexit from the frees below */
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_free(c);
	async_handler_detach_loop(srv->app);	/* its calls are gone */
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	if (srv->resume_ev != NULL)
		event_free(srv->resume_ev);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	if (srv->watchdog_ev != NULL)
		event_free(srv->watchdog_ev);
	if (srv->pool_ev != NULL)
		event_free(srv->pool_ev);
	if (srv->sigterm_ev != NULL)
		event_free(srv->sigterm_ev);
	if (srv->sigint_ev != NULL)
		event_free(srv->sigint_ev);
	free(srv);
}

int
conn_serve(int listen_fd, const struct conn_options *options,
    struct async_app *app)
{
	struct event_base *base;
	struct conn_server *srv = NULL;
	sigset_t stop_signals;
	int rc = -1;

	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "async_fcgi: cannot create the event loop\n");
		close(listen_fd);
		return -1;
	}
	if ((srv = conn_server_new(base, options, app)) == NULL) {
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
	/* main() blocked them until now, so none is lost or fatal. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
	if (event_base_dispatch(base) == -1) {
		fprintf(stderr, "async_fcgi: the event loop failed\n");
		goto done;
	}
	rc = srv->abandoned ? 1 : 0;
done:
	conn_server_free(srv);
	event_base_free(base);
	return rc;
}
