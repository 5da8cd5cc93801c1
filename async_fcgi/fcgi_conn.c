/* SPDX-License-Identifier: ISC */
/*
 * fcgi_conn.c - one FastCGI connection (fcgi_conn.h).
 *
 * libevent's bufferevent skeleton: the read callback frames records (peek
 * the 8-byte header with evbuffer_copyout, wait for the whole record, then
 * fcgi_request_apply), the write callback resumes reading after
 * back-pressure, the event callback treats EOF, errors and the idle timeout
 * as the end.  Every entry point (those three, and the application's
 * done()) ends in conn_settle(), the one place a connection marked for
 * closing is freed (as redis and OpenBSD httpd do).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/fcgi_conn.h"
#include "async_fcgi/watchdog.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/text.h"

/* One record at most: header, 65535 content, 255 padding; twice that. */
#define CONN_READ_HIGH_WATER	(2 * (FCGI_HEADER_LEN + 65535 + 255))
#define CONN_SAMPLE_LEN		16	/* bytes of bad input shown in logs */
#define CONN_FREE_MAX		64	/* closed connections kept for reuse */

enum conn_close {
	CONN_OPEN,
	CONN_FLUSH,		/* free once its output is written */
	CONN_NOW,		/* free at the end of this callback */
};

struct fcgi_conn {
	TAILQ_ENTRY(fcgi_conn)	 entry;
	TAILQ_ENTRY(fcgi_conn)	 wait_entry;	/* set->waiting, if waiting */
	struct fcgi_conn_set	*set;
	struct bufferevent	*bev;
	struct fcgi_request	 req;
	struct async_call	*call;		/* request being handled */
	uint64_t		 id;		/* for log lines */
	enum conn_close		 close;
	uint8_t			 pending;	/* call waits: done() follows */
	uint8_t			 admitted;	/* counts in set->admitted */
	uint8_t			 paused;	/* back-pressure: not reading */
	uint8_t			 waiting;	/* in set->waiting */
	uint8_t			 deadline;	/* the read timeout is what is
						   left of request_us */
	int64_t			 begun_us;	/* first byte of the request
						   being received; 0: none */
	uint64_t		 received;	/* its bytes consumed so far */
};

static void	conn_process(struct fcgi_conn *);
static void	conn_wait_leave(struct fcgi_conn *);
static void	conn_log(const struct fcgi_conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
conn_log(const struct fcgi_conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "async_fcgi: connection %llu: %s\n",
	    (unsigned long long)c->id, line);
}

static size_t
conn_output_len(const struct fcgi_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Marks c: stop reading; freed by conn_settle() (after a flush, or now). */
static void
conn_mark(struct fcgi_conn *c, enum conn_close how)
{
	if (how > c->close)
		c->close = how;
	bufferevent_disable(c->bev, EV_READ);
	conn_wait_leave(c);
}

/* c waits for (or receives) a request again: the youngest of set->waiting. */
static void
conn_wait_enter(struct fcgi_conn *c)
{
	if (!c->waiting && c->close == CONN_OPEN) {
		TAILQ_INSERT_TAIL(&c->set->waiting, c, wait_entry);
		c->waiting = 1;
	}
	c->begun_us = 0;
	c->received = 0;
	c->deadline = 0;
}

static void
conn_wait_leave(struct fcgi_conn *c)
{
	if (c->waiting) {
		TAILQ_REMOVE(&c->set->waiting, c, wait_entry);
		c->waiting = 0;
	}
}

/* The request is over (answered or not): drop its call, count it out. */
static void
conn_end_call(struct fcgi_conn *c, int answered)
{
	struct async_stats *stats = c->set->stats;

	if (c->call == NULL)
		return;
	if (c->pending)		/* the peer left: the app stops waiting */
		async_call_cancel(c->call);
	else
		async_call_free(c->call);
	c->call = NULL;
	c->pending = 0;
	stats->in_flight--;
	if (answered)
		stats->served++;
}

/* The request no longer counts against --max-requests. */
static void
conn_release(struct fcgi_conn *c)
{
	if (c->admitted) {
		c->admitted = 0;
		c->set->admitted--;
	}
}

/*
 * Closes c's socket and keeps c with its bufferevent (no descriptor, empty
 * buffers, no timeouts, reading and writing disabled: conn_write enables
 * writing when there is output, so a reused one costs no write event) for
 * the next accepted socket; 0, or -1 when the free list is full.  No callback of the bufferevent is deferred, and none
 * touches it after ours returns, so this is safe inside one.
 */
static int
conn_keep(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (set->free_count >= CONN_FREE_MAX)
		return -1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setfd(c->bev, -1);	/* unfreezes both buffers */
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	if (fd >= 0)
		evutil_closesocket(fd);
	TAILQ_INSERT_HEAD(&set->free, c, entry);
	set->free_count++;
	return 0;
}

static void
conn_free(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;

	conn_end_call(c, 0);
	conn_release(c);
	conn_wait_leave(c);
	fcgi_request_free(&c->req);
	TAILQ_REMOVE(&set->list, c, entry);
	set->stats->connections--;
	if (conn_keep(c) == -1) {
		bufferevent_free(c->bev);
		free(c);
	}
	if (set->room != NULL)
		set->room(set->room_arg);
}

/* The end of every entry point: frees c if it was marked and may go. */
static void
conn_settle(struct fcgi_conn *c)
{
	if (c->close == CONN_NOW ||
	    (c->close == CONN_FLUSH && conn_output_len(c) == 0))
		conn_free(c);
}

static void
conn_write(struct fcgi_conn *c, const void *data, size_t len)
{
	/* A kept bufferevent comes back with writing disabled (conn_keep). */
	if (!(bufferevent_get_enabled(c->bev) & EV_WRITE))
		bufferevent_enable(c->bev, EV_WRITE);
	if (bufferevent_write(c->bev, data, len) == -1)
		conn_log(c, "cannot queue %zu bytes of output", len);
	/* Pauses reading while more than high_water bytes wait. */
	if (conn_output_len(c) > c->set->high_water && !c->paused) {
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/*
 * Queues bytes for c, writing them to the socket at once when nothing is
 * waiting before them (as uvicorn's transport.write does): a write left for
 * the next loop iteration would be held back by a blocking handler later in
 * this one, and answers already made would wait for it.
 */
static void
conn_write_now(struct fcgi_conn *c, const uint8_t *data, size_t len)
{
	ssize_t sent = 0;

	if (conn_output_len(c) == 0) {
		sent = send(bufferevent_getfd(c->bev), data, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;	/* EAGAIN or an error the bufferevent
					   will see and report */
	}
	if ((size_t)sent < len)
		conn_write(c, data + sent, len - (size_t)sent);
}

/* After END_REQUEST is queued: the next request (KEEP_CONN), or close. */
static void
conn_request_done(struct fcgi_conn *c)
{
	int keep = fcgi_request_finish(&c->req);

	conn_release(c);
	if (!keep || c->set->draining)
		conn_mark(c, CONN_FLUSH);
	else {
		bufferevent_set_timeouts(c->bev, &c->set->idle,
		    &c->set->idle);
		conn_wait_enter(c);
		if (c->set->room != NULL)
			c->set->room(c->set->room_arg);
	}
}

/*
 * Writes the call's response as FCGI_STDOUT records, the empty STDOUT
 * record that ends the stream, and END_REQUEST (spec 5.3, 5.5).
 */
static void
conn_respond(struct fcgi_conn *c)
{
	uint16_t id = fcgi_request_id(&c->req);
	uint8_t small[4096], *p = small;
	size_t len, stream_len, total, written = 0;
	const char *response = async_call_response(c->call, &len);

	if (response == NULL ||
	    fcgi_stream_size(len, &stream_len) != FCGI_CODEC_OK) {
		conn_log(c, "request %llu: no response (out of memory)",
		    (unsigned long long)async_call_request_no(c->call));
		conn_mark(c, CONN_NOW);
		return;
	}
	total = stream_len + FCGI_HEADER_LEN + FCGI_CODEC_END_RECORD_LEN;
	if (total > sizeof(small) && (p = malloc(total)) == NULL) {
		conn_log(c, "out of memory for %zu bytes of output", total);
		conn_mark(c, CONN_NOW);
		return;
	}
	fcgi_stream_encode(FCGI_STDOUT, id, (const uint8_t *)response, len, p,
	    stream_len, &written);
	fcgi_stream_end_encode(p + stream_len, FCGI_STDOUT, id);
	/* A call the pool could not take carries its 503 (web servers
	 * ignore the protocol status: lighttpd answers 500 without a
	 * response) and ends FCGI_OVERLOADED (spec 5.5). */
	fcgi_end_record_encode(p + stream_len + FCGI_HEADER_LEN, id, 0,
	    async_call_overloaded(c->call) ? FCGI_OVERLOADED :
	    FCGI_REQUEST_COMPLETE);
	conn_write_now(c, p, total);
	if (p != small)
		free(p);
	conn_end_call(c, 1);
	conn_request_done(c);
}

static const char *
conn_param(void *ctx, const char *name)
{
	return fcgi_request_param(&((struct fcgi_conn *)ctx)->req, name);
}

/* The application's done(): c's call is ready.  An entry point. */
static void
conn_done(void *owner)
{
	struct fcgi_conn *c = owner;

	c->pending = 0;
	conn_respond(c);
	conn_process(c);
	conn_settle(c);
}

/* FCGI_ACTION_RUN: hand the request to the application. */
static void
conn_run(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;
	enum async_start start = ASYNC_READY;
	int64_t t0;

	set->stats->in_flight++;
	conn_wait_leave(c);
	c->begun_us = 0;
	c->deadline = 0;
	/* The peer is silent while we work: only writes may time out. */
	bufferevent_set_timeouts(c->bev, NULL, &set->idle);
	t0 = clock_mono_us();
	watchdog_enter(set->watchdog);
	if (fcgi_request_stdin_over(&c->req)) {
		const char *method = fcgi_request_param(&c->req,
		    "REQUEST_METHOD");

		c->call = async_handler_refuse(set->app, 413,
		    "request body too large", method != NULL &&
		    strcmp(method, "HEAD") == 0);
	} else
		c->call = async_handler_start(set->app, conn_param, c,
		    conn_done, c, &start);
	watchdog_leave(set->watchdog);	/* before the params go */
	if (c->call == NULL) {
		set->stats->in_flight--;
		conn_log(c, "out of memory starting a request");
		conn_mark(c, CONN_NOW);
		return;
	}
	watchdog_note(set->watchdog, async_call_request_no(c->call),
	    async_call_mode(c->call), clock_mono_us() - t0);
	fcgi_request_drop_params(&c->req);	/* the handler has read them */
	if (start == ASYNC_PENDING)
		c->pending = 1;
	else
		conn_respond(c);
}

/*
 * A BEGIN_REQUEST past --max-requests: before its END_REQUEST(OVERLOADED),
 * the whole 503 response the application makes for a refusal, as STDOUT
 * records and the empty one (web servers ignore the protocol status:
 * lighttpd answers 500 without a response).  One log line per
 * SA_FCGI_LOG_EVERY_MS at most, with how many were refused since the last.
 */
static void
conn_refuse_overloaded(struct fcgi_conn *c, uint16_t id)
{
	struct fcgi_conn_set *set = c->set;
	struct async_call *call;
	uint8_t small[1024], *p = small;
	size_t len, stream_len, total, written = 0;
	const char *response;
	int64_t now = clock_mono_us();

	set->cap_refused++;
	if (set->cap_logged_us == 0 || now - set->cap_logged_us >=
	    (int64_t)SA_FCGI_LOG_EVERY_MS * 1000) {
		conn_log(c, "%u requests in flight, the --max-requests cap: "
		    "%llu request%s refused with FCGI_OVERLOADED (this line "
		    "at most every %lu ms)", set->admitted,
		    (unsigned long long)set->cap_refused,
		    set->cap_refused == 1 ? "" : "s", SA_FCGI_LOG_EVERY_MS);
		set->cap_logged_us = now;
		set->cap_refused = 0;
	}
	/* The method is not known yet (no PARAMS): a whole response. */
	if ((call = async_handler_refuse(set->app, 503,
	    "overloaded: too many requests in flight", 0)) == NULL)
		return;		/* the bare END_REQUEST still goes */
	response = async_call_response(call, &len);
	if (response != NULL &&
	    fcgi_stream_size(len, &stream_len) == FCGI_CODEC_OK) {
		total = stream_len + FCGI_HEADER_LEN;
		if (total <= sizeof(small) || (p = malloc(total)) != NULL) {
			fcgi_stream_encode(FCGI_STDOUT, id,
			    (const uint8_t *)response, len, p, stream_len,
			    &written);
			fcgi_stream_end_encode(p + stream_len, FCGI_STDOUT, id);
			conn_write(c, p, total);
			if (p != small)
				free(p);
		}
	}
	async_call_free(call);
}

/* Carries out what the request layer decided. */
static void
conn_act(struct fcgi_conn *c, enum fcgi_action action,
    const struct fcgi_reply *reply)
{
	switch (action) {
	case FCGI_ACTION_NONE:
		break;
	case FCGI_ACTION_RUN:
		conn_run(c);
		break;
	case FCGI_ACTION_END:
		if (reply->protocol_status == FCGI_OVERLOADED)
			conn_refuse_overloaded(c, reply->request_id);
		conn_write(c, reply->buf, reply->len);
		if (!reply->keep_conn)
			conn_mark(c, CONN_FLUSH);
		break;
	case FCGI_ACTION_ABORT:
		/* Spec 5.4: the aborted request still gets END_REQUEST. */
		conn_end_call(c, 0);
		conn_write(c, reply->buf, reply->len);
		conn_request_done(c);
		break;
	case FCGI_ACTION_REPLY:
		conn_write(c, reply->buf, reply->len);
		break;
	case FCGI_ACTION_CLOSE:
		conn_log(c, "protocol error: %s; closing", reply->reason);
		conn_mark(c, CONN_NOW);
		break;
	}
}

/* Applies every whole record waiting in the input buffer. */
static void
conn_process(struct fcgi_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct fcgi_conn_set *set = c->set;
	struct fcgi_reply reply;
	struct fcgi_header hdr;
	uint8_t head[FCGI_HEADER_LEN];
	enum fcgi_action action;
	size_t total;
	uint8_t *record;
	int can_admit, idle;

	while (c->close == CONN_OPEN && !c->paused) {
		if (evbuffer_copyout(in, head, sizeof(head)) <
		    (ev_ssize_t)sizeof(head))
			return;
		if (fcgi_header_decode(head, sizeof(head), &hdr) !=
		    FCGI_CODEC_OK) {
			char sample[CONN_SAMPLE_LEN + 1];

			text_sanitise(head, sizeof(head), sample,
			    sizeof(sample));
			conn_log(c, "not a FastCGI 1 record (version %u, "
			    "starts \"%s\"); closing", head[0], sample);
			conn_mark(c, CONN_NOW);
			return;
		}
		total = fcgi_header_record_len(&hdr);
		if (evbuffer_get_length(in) < total)
			return;
		if ((record = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL) {
			conn_log(c, "out of memory reading a record");
			conn_mark(c, CONN_NOW);
			return;
		}
		/*
		 * A request counts against --max-requests from its accepted
		 * BEGIN_REQUEST to its END_REQUEST, so slow senders cannot
		 * pile up past the cap before their first handler runs; and
		 * a cancelled one until its pool worker is really free.
		 */
		idle = fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE;
		can_admit = set->admitted + async_handler_lingering(set->app) <
		    set->max_requests;
		action = fcgi_request_apply(&c->req, &hdr, record +
		    FCGI_HEADER_LEN, hdr.content_length, can_admit, &reply);
		evbuffer_drain(in, total);
		if (c->begun_us != 0)
			c->received += total;
		if (idle && fcgi_request_state(&c->req) != FCGI_REQUEST_IDLE &&
		    !c->admitted) {
			c->admitted = 1;
			set->admitted++;
		}
		conn_act(c, action, &reply);
	}
}

/*
 * After a read: a request being received must end within request_us of
 * its first byte and, once SA_FCGI_RATE_GRACE_MS old, average min_rate
 * bytes/s (a slowloris restarts the idle timeout with every byte).  The
 * read timeout is cut to what is left of the deadline, so a peer that
 * falls silent meets it too.
 */
static void
conn_check_pace(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;
	size_t buffered = evbuffer_get_length(bufferevent_get_input(c->bev));
	int64_t now, elapsed;
	uint64_t bytes;
	struct timeval left;

	if (c->close != CONN_OPEN || !c->waiting)
		return;
	if (c->begun_us == 0) {
		if (buffered == 0)
			return;		/* idle between requests */
		c->begun_us = clock_mono_us();
	} else if (buffered == 0 &&
	    fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE) {
		/* Management records only: idle again. */
		conn_wait_enter(c);
		bufferevent_set_timeouts(c->bev, &set->idle, &set->idle);
		return;
	}
	now = clock_mono_us();
	elapsed = now - c->begun_us;
	bytes = c->received + buffered;
	if (set->request_us > 0 && elapsed >= set->request_us) {
		conn_log(c, "request not complete after %lld ms "
		    "(--request-timeout, %llu bytes so far); closing",
		    (long long)(elapsed / 1000), (unsigned long long)bytes);
		conn_mark(c, CONN_NOW);
		return;
	}
	if (set->min_rate > 0 &&
	    elapsed >= (int64_t)SA_FCGI_RATE_GRACE_MS * 1000 &&
	    bytes * 1000000 < set->min_rate * (uint64_t)elapsed) {
		conn_log(c, "request arriving at %llu bytes/s for %lld ms, "
		    "under --min-rate %llu bytes/s; closing",
		    (unsigned long long)(bytes * 1000000 / (uint64_t)elapsed),
		    (long long)(elapsed / 1000),
		    (unsigned long long)set->min_rate);
		conn_mark(c, CONN_NOW);
		return;
	}
	if (set->request_us > 0) {
		left = clock_timeval((uint64_t)(set->request_us - elapsed));
		c->deadline = evutil_timercmp(&left, &set->idle, <);
		if (!c->deadline)
			left = set->idle;
		bufferevent_set_timeouts(c->bev, &left, &set->idle);
	}
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct fcgi_conn *c = arg;

	conn_process(c);
	conn_check_pace(c);
	conn_settle(c);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct fcgi_conn *c = arg;

	if (c->paused && c->close == CONN_OPEN) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		conn_process(c);
	}
	conn_settle(c);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct fcgi_conn *c = arg;

	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    c->deadline)
		conn_log(c, "request not complete after %lld ms "
		    "(--request-timeout); closing",
		    (long long)((clock_mono_us() - c->begun_us) / 1000));
	else if (what & BEV_EVENT_TIMEOUT)
		conn_log(c, "idle for %lld ms; closing",
		    (long long)c->set->idle.tv_sec * 1000 +
		    c->set->idle.tv_usec / 1000);
	else if ((what & BEV_EVENT_ERROR) && c->call == NULL)
		conn_log(c, "socket error: %s; closing",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (c->call != NULL)
		conn_log(c, "peer went away during request %llu (%s); "
		    "cancelled", (unsigned long long)
		    async_call_request_no(c->call), async_call_mode(c->call));
	conn_mark(c, CONN_NOW);
	conn_settle(c);
}

void
fcgi_conn_set_init(struct fcgi_conn_set *set)
{
	memset(set, 0, sizeof(*set));
	TAILQ_INIT(&set->list);
	TAILQ_INIT(&set->waiting);
	TAILQ_INIT(&set->free);
}

int
fcgi_conn_new(struct fcgi_conn_set *set, int fd)
{
	struct fcgi_conn *c;
	struct bufferevent *bev;

	if ((c = TAILQ_FIRST(&set->free)) != NULL) {
		TAILQ_REMOVE(&set->free, c, entry);
		set->free_count--;
		bev = c->bev;
		memset(c, 0, sizeof(*c));
		c->bev = bev;
		if (bufferevent_setfd(bev, fd) == -1) {
			evutil_closesocket(fd);
			bufferevent_free(bev);
			free(c);
			return -1;
		}
	} else if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return -1;
	} else if ((c->bev = bufferevent_socket_new(set->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		evutil_closesocket(fd);
		free(c);
		return -1;
	}
	c->set = set;
	c->id = ++set->next_id;
	fcgi_request_init(&c->req, &set->limits);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIGH_WATER);
	bufferevent_set_timeouts(c->bev, &set->idle, &set->idle);
	bufferevent_enable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&set->list, c, entry);
	conn_wait_enter(c);
	set->stats->connections++;
	set->stats->accepted++;
	return 0;
}

int
fcgi_conn_can_make_room(const struct fcgi_conn_set *set)
{
	return !TAILQ_EMPTY(&set->waiting);
}

int
fcgi_conn_make_room(struct fcgi_conn_set *set)
{
	struct fcgi_conn *c, *victim = NULL;
	int64_t now = clock_mono_us();

	TAILQ_FOREACH(c, &set->waiting, wait_entry)
		if (c->begun_us != 0) {
			victim = c;	/* the oldest still receiving */
			break;
		}
	if (victim == NULL && (victim = TAILQ_FIRST(&set->waiting)) == NULL)
		return -1;
	set->room_made++;
	if (set->room_logged_us == 0 || now - set->room_logged_us >=
	    (int64_t)SA_FCGI_LOG_EVERY_MS * 1000) {
		if (victim->begun_us != 0)
			conn_log(victim, "%llu connections open, the cap: "
			    "making room by closing this one, receiving a "
			    "request for %lld ms (%llu bytes); %llu closed this "
			    "way since the last such line",
			    (unsigned long long)set->stats->connections,
			    (long long)((now - victim->begun_us) / 1000),
			    (unsigned long long)(victim->received +
			    evbuffer_get_length(bufferevent_get_input(
			    victim->bev))), (unsigned long long)set->room_made);
		else
			conn_log(victim, "%llu connections open, the cap: "
			    "making room by closing this idle one; %llu "
			    "closed this way since the last such line", (unsigned long long)
			    set->stats->connections,
			    (unsigned long long)set->room_made);
		set->room_logged_us = now;
		set->room_made = 0;
	}
	conn_free(victim);
	return 0;
}

void
fcgi_conn_close_idle(struct fcgi_conn_set *set)
{
	struct fcgi_conn *c, *next;

	for (c = TAILQ_FIRST(&set->list); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->call == NULL && c->close == CONN_OPEN &&
		    fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE)
			conn_free(c);
	}
}

void
fcgi_conn_close_all(struct fcgi_conn_set *set)
{
	struct fcgi_conn *c;

	while ((c = TAILQ_FIRST(&set->list)) != NULL)
		conn_free(c);
	fcgi_conn_free_unused(set);
}

void
fcgi_conn_free_unused(struct fcgi_conn_set *set)
{
	struct fcgi_conn *c;

	while ((c = TAILQ_FIRST(&set->free)) != NULL) {
		TAILQ_REMOVE(&set->free, c, entry);
		set->free_count--;
		bufferevent_free(c->bev);
		free(c);
	}
}
