/* SPDX-License-Identifier: ISC */
/*
 * fcgi_conn.c - one FastCGI connection (fcgi_conn.h).
 *
 * One persistent libevent event per connection, and buffers of its own
 * that hold bytes only while they must wait (ARCHITECTURE.md, "A request's
 * life"):
 *
 *  - input is read into the set's one scratch buffer and every whole
 *    record is applied where it lies; only the tail of a record still
 *    arriving (or, under back-pressure, what is not yet applied) is kept in
 *    the connection's stash, allocated for it and freed once empty;
 *  - output is sent at once; only what the socket would not take waits in
 *    the connection's output buffer, written when the socket is writable.
 *
 * So a connection waiting for its answer holds no buffer at all.  The
 * event's callback and the application's done() are the entry points;
 * each ends in conn_settle(), the one place a connection marked for
 * closing is freed (as redis and OpenBSD httpd do), and otherwise sets
 * what the event waits for (conn_arm).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/util.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/fcgi_conn.h"
#include "async_fcgi/watchdog.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/text.h"

/* The longest record: header, 65535 bytes of content, 255 of padding. */
#define CONN_RECORD_MAX		(FCGI_HEADER_LEN + 65535 + 255)
/* One read takes at most this much; with a record's tail kept from the last
 * read in front of it, the scratch buffer holds both. */
#define CONN_READ_MAX		65536
#define CONN_SCRATCH_LEN	(CONN_RECORD_MAX + CONN_READ_MAX)
#define CONN_SAMPLE_LEN		16	/* bytes of bad input shown in logs */
#define CONN_FREE_MAX		64	/* closed connections kept for reuse */

enum conn_close {
	CONN_OPEN,
	CONN_FLUSH,		/* free once its output is written */
	CONN_NOW,		/* free at the end of this callback */
};

/* Bytes waiting: data[off, off + len) of cap; data is NULL when empty. */
struct conn_buf {
	uint8_t			*data;
	size_t			 off;
	size_t			 len;
	size_t			 cap;
};

struct fcgi_conn {
	TAILQ_ENTRY(fcgi_conn)	 entry;
	TAILQ_ENTRY(fcgi_conn)	 wait_entry;	/* set->waiting, if waiting */
	struct fcgi_conn_set	*set;
	evutil_socket_t		 fd;
	short			 armed;		/* the event's events; 0: not
						   added */
	int64_t			 armed_us;	/* and its timeout */
	struct conn_buf		 in;		/* input not yet applied */
	struct conn_buf		 out;		/* output not yet sent */
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
	int64_t			 timeout_us;	/* what the event's timeout
						   should be (conn_arm) */
	max_align_t		 ev[];		/* event_get_struct_event_size()
						   bytes: the socket's event */
};

static void	conn_check_pace(struct fcgi_conn *);
static void	conn_process(struct fcgi_conn *);
static void	conn_wait_leave(struct fcgi_conn *);
static void	conn_eventcb(evutil_socket_t, short, void *);
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

static struct event *
conn_ev(struct fcgi_conn *c)
{
	return (struct event *)(void *)c->ev;
}

static int64_t
conn_idle_us(const struct fcgi_conn_set *set)
{
	return (int64_t)set->idle.tv_sec * 1000000 + set->idle.tv_usec;
}

/* Empties b, freeing its memory. */
static void
conn_buf_clear(struct conn_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Appends len bytes to b, moving what it holds to the front first; 0, or
 * -1 when out of memory (b unchanged). */
static int
conn_buf_add(struct conn_buf *b, const uint8_t *data, size_t len)
{
	size_t want = b->len + len;
	uint8_t *p;

	if (len == 0)
		return 0;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if (want > b->cap) {
		if ((p = realloc(b->data, want)) == NULL)
			return -1;
		b->data = p;
		b->cap = want;
	}
	memcpy(b->data + b->len, data, len);
	b->len = want;
	return 0;
}

/* Drops the first n bytes of b; frees it once empty. */
static void
conn_buf_drain(struct conn_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		conn_buf_clear(b);
}

/* Marks c: stop reading; freed by conn_settle() (after a flush, or now). */
static void
conn_mark(struct fcgi_conn *c, enum conn_close how)
{
	if (how > c->close)
		c->close = how;
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
	c->timeout_us = conn_idle_us(c->set);
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
 * Closes c's socket, drops its event and buffers, and keeps c (its event's
 * memory with it) for the next accepted socket; 0, or -1 when the free list
 * is full.  Safe inside the event's callback: a deleted event never runs
 * again.
 */
static int
conn_keep(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;

	if (set->free_count >= CONN_FREE_MAX)
		return -1;
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
	if (c->armed)
		event_del(conn_ev(c));
	evutil_closesocket(c->fd);
	conn_buf_clear(&c->in);
	conn_buf_clear(&c->out);
	if (conn_keep(c) == -1)
		free(c);
	if (set->room != NULL)
		set->room(set->room_arg);
}

/*
 * What c's event waits for, from its state: reading unless it is closing
 * or paused, writing while output waits; the timeout is c->timeout_us (the
 * idle timeout, or what is left of a request's deadline).  The event is
 * changed only when that differs from what it was added with.
 */
static void
conn_arm(struct fcgi_conn *c)
{
	short want = 0;
	struct timeval tv;

	if (c->close == CONN_OPEN && !c->paused)
		want |= EV_READ;
	if (c->out.len > 0)
		want |= EV_WRITE;
	if (want == 0) {
		if (c->armed)
			event_del(conn_ev(c));
		c->armed = 0;
		return;
	}
	if (want == c->armed && c->timeout_us == c->armed_us)
		return;
	if (want != c->armed) {
		if (c->armed)
			event_del(conn_ev(c));
		c->armed = 0;
		event_assign(conn_ev(c), c->set->base, c->fd,
		    (short)(want | EV_PERSIST), conn_eventcb, c);
	}
	tv = clock_timeval((uint64_t)c->timeout_us);
	if (event_add(conn_ev(c), &tv) == -1) {
		conn_log(c, "cannot watch the socket; closing");
		conn_mark(c, CONN_NOW);
		return;
	}
	c->armed = want;
	c->armed_us = c->timeout_us;
}

/* The end of every entry point: holds a request being received to its
 * deadline and rate (whatever woke us: a read, a write, an answer), then
 * frees c if it was marked and may go, or sets what its event waits for. */
static void
conn_settle(struct fcgi_conn *c)
{
	conn_check_pace(c);
	if (c->close == CONN_OPEN || c->close == CONN_FLUSH)
		conn_arm(c);
	if (c->close == CONN_NOW ||
	    (c->close == CONN_FLUSH && c->out.len == 0))
		conn_free(c);
}

/* The socket failed: one line (the peer left mid-request, or the error),
 * and the connection goes. */
static void
conn_fail(struct fcgi_conn *c, int error)
{
	if (c->call != NULL)
		conn_log(c, "peer went away during request %llu (%s); "
		    "cancelled", (unsigned long long)
		    async_call_request_no(c->call), async_call_mode(c->call));
	else if (error != 0)
		conn_log(c, "socket error: %s; closing",
		    evutil_socket_error_to_string(error));
	conn_mark(c, CONN_NOW);
}

/*
 * Sends what c's output buffer holds, as far as the socket takes it.  Once
 * it is empty, a connection paused by back-pressure reads again.
 */
static void
conn_flush(struct fcgi_conn *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = send(c->fd, c->out.data + c->out.off, c->out.len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_fail(c, errno);
			return;
		}
		conn_buf_drain(&c->out, (size_t)n);
	}
	if (c->paused && c->close == CONN_OPEN) {
		c->paused = 0;
		conn_process(c);
	}
}

/*
 * Writes bytes to c's socket at once when nothing waits before them (as
 * uvicorn's transport.write does: a write left for the next loop iteration
 * would be held back by a blocking handler later in this one, and answers
 * already made would wait for it); what the socket does not take waits in
 * the output buffer.  More than high_water bytes waiting pause reading.
 */
static void
conn_write(struct fcgi_conn *c, const uint8_t *data, size_t len)
{
	ssize_t sent = 0;

	if (c->close == CONN_NOW)
		return;
	if (c->out.len == 0) {
		do
			sent = send(c->fd, data, len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		while (sent < 0 && errno == EINTR);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_fail(c, errno);
				return;
			}
			sent = 0;
		}
	}
	if ((size_t)sent == len)
		return;
	if (conn_buf_add(&c->out, data + sent, len - (size_t)sent) == -1) {
		conn_log(c, "cannot queue %zu bytes of output",
		    len - (size_t)sent);
		conn_mark(c, CONN_NOW);
		return;
	}
	if (c->out.len > c->set->high_water)
		c->paused = 1;
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
	conn_end_call(c, 1);
	conn_write(c, p, total);
	if (p != small)
		free(p);
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
	/* The peer is silent while we work: the idle timeout only counts
	 * while output waits (conn_timeout). */
	c->timeout_us = conn_idle_us(set);
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

/*
 * Applies the whole records at the start of buf[0, len), stopping early
 * when c is marked or paused; returns the bytes used (whole records).
 */
static size_t
conn_apply(struct fcgi_conn *c, const uint8_t *buf, size_t len)
{
	struct fcgi_conn_set *set = c->set;
	struct fcgi_reply reply;
	struct fcgi_header hdr;
	enum fcgi_action action;
	enum fcgi_codec_result r;
	size_t used = 0, total;
	int can_admit, idle;

	while (c->close == CONN_OPEN && !c->paused) {
		/* Bytes after an answered request begin the next one (its
		 * deadline runs from here, whether they make a whole record or
		 * wait in the stash). */
		if (used < len && c->waiting && c->begun_us == 0)
			c->begun_us = clock_mono_us();
		r = fcgi_header_decode(buf + used, len - used, &hdr);
		if (r == FCGI_CODEC_SHORT)
			break;
		if (r != FCGI_CODEC_OK) {
			char sample[CONN_SAMPLE_LEN + 1];

			text_sanitise(buf + used, FCGI_HEADER_LEN, sample,
			    sizeof(sample));
			conn_log(c, "not a FastCGI 1 record (version %u, "
			    "starts \"%s\"); closing", buf[used], sample);
			conn_mark(c, CONN_NOW);
			break;
		}
		total = fcgi_header_record_len(&hdr);
		if (len - used < total)
			break;
		/*
		 * A request counts against --max-requests from its accepted
		 * BEGIN_REQUEST to its END_REQUEST, so slow senders cannot
		 * pile up past the cap before their first handler runs; and
		 * a cancelled one until its pool worker is really free.
		 */
		idle = fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE;
		can_admit = set->admitted + async_handler_lingering(set->app) <
		    set->max_requests;
		action = fcgi_request_apply(&c->req, &hdr, buf + used +
		    FCGI_HEADER_LEN, hdr.content_length, can_admit, &reply);
		used += total;
		if (c->begun_us != 0)
			c->received += total;
		if (idle && fcgi_request_state(&c->req) != FCGI_REQUEST_IDLE &&
		    !c->admitted) {
			c->admitted = 1;
			set->admitted++;
		}
		conn_act(c, action, &reply);
	}
	return used;
}

/* Applies the whole records kept in c's stash (after back-pressure, or
 * when a request's answer frees the connection for the next). */
static void
conn_process(struct fcgi_conn *c)
{
	size_t used;

	if (c->in.len == 0)
		return;
	used = conn_apply(c, c->in.data + c->in.off, c->in.len);
	if (c->close != CONN_OPEN)
		conn_buf_clear(&c->in);
	else
		conn_buf_drain(&c->in, used);
}

/*
 * The socket is readable: reads into the scratch buffer behind what the
 * stash holds (a record's first part), applies every whole record there,
 * and keeps the rest in the stash.  A plain request arrives in one read
 * and never touches the stash.
 */
static void
conn_read(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;
	size_t have = c->in.len, used;
	ssize_t n;

	/* Not paused, so the stash holds less than one record. */
	if (have > 0)
		memcpy(set->scratch, c->in.data + c->in.off, have);
	do
		n = recv(c->fd, set->scratch + have, CONN_READ_MAX, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			conn_fail(c, n == 0 ? 0 : errno);
		return;
	}
	used = conn_apply(c, set->scratch, have + (size_t)n);
	if (c->close != CONN_OPEN) {
		conn_buf_clear(&c->in);
		return;
	}
	if (used >= have) {
		/* The stash's bytes were used up: keep only the new tail. */
		conn_buf_clear(&c->in);
		if (conn_buf_add(&c->in, set->scratch + used,
		    have + (size_t)n - used) == -1)
			goto nomem;
	} else {
		/* Part of the stash is still unused: add the new bytes. */
		conn_buf_drain(&c->in, used);
		if (conn_buf_add(&c->in, set->scratch + have,
		    (size_t)n) == -1)
			goto nomem;
	}
	return;
nomem:
	conn_log(c, "out of memory reading a record");
	conn_mark(c, CONN_NOW);
}

/*
 * At the end of every entry point: a request being received must end
 * within request_us of its first byte and, once SA_FCGI_RATE_GRACE_MS old,
 * average min_rate bytes/s (a slowloris restarts the idle timeout with
 * every byte).  The timeout is cut to what is left of the deadline, so a
 * peer that falls silent meets it too, and so does one that keeps the
 * event firing some other way (a write restarts its timeout too).
 */
static void
conn_check_pace(struct fcgi_conn *c)
{
	struct fcgi_conn_set *set = c->set;
	int64_t elapsed, left;
	uint64_t bytes;

	if (c->close != CONN_OPEN || !c->waiting || c->begun_us == 0)
		return;
	if (c->in.len == 0 &&
	    fcgi_request_state(&c->req) == FCGI_REQUEST_IDLE) {
		conn_wait_enter(c);	/* management records only: idle */
		return;
	}
	elapsed = clock_mono_us() - c->begun_us;
	bytes = c->received + c->in.len;
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
		left = set->request_us - elapsed;
		c->deadline = left < conn_idle_us(set);
		c->timeout_us = c->deadline ? left : conn_idle_us(set);
	}
}

/* The event's timeout: no byte either way for timeout_us. */
static void
conn_timeout(struct fcgi_conn *c)
{
	/* A request being worked on waits as long as it takes, unless its
	 * answer is stuck behind a peer that does not read. */
	if (c->pending && c->out.len == 0)
		return;
	if (c->deadline && c->waiting)
		conn_log(c, "request not complete after %lld ms "
		    "(--request-timeout); closing",
		    (long long)((clock_mono_us() - c->begun_us) / 1000));
	else
		conn_log(c, "idle for %lld ms; closing",
		    (long long)(conn_idle_us(c->set) / 1000));
	if (c->call != NULL)
		conn_log(c, "peer went away during request %llu (%s); "
		    "cancelled", (unsigned long long)
		    async_call_request_no(c->call), async_call_mode(c->call));
	conn_mark(c, CONN_NOW);
}

/* The socket's event: an entry point. */
static void
conn_eventcb(evutil_socket_t fd, short what, void *arg)
{
	struct fcgi_conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT)
		conn_timeout(c);
	if ((what & EV_WRITE) && c->close != CONN_NOW)
		conn_flush(c);
	if ((what & EV_READ) && c->close == CONN_OPEN && !c->paused)
		conn_read(c);
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

	if (set->scratch == NULL &&
	    (set->scratch = malloc(CONN_SCRATCH_LEN)) == NULL) {
		evutil_closesocket(fd);
		return -1;
	}
	if ((c = TAILQ_FIRST(&set->free)) != NULL) {
		TAILQ_REMOVE(&set->free, c, entry);
		set->free_count--;
		memset(c, 0, sizeof(*c));
	} else if ((c = calloc(1, sizeof(*c) +
	    event_get_struct_event_size())) == NULL) {
		evutil_closesocket(fd);
		return -1;
	}
	c->set = set;
	c->fd = fd;
	c->id = ++set->next_id;
	fcgi_request_init(&c->req, &set->limits);
	TAILQ_INSERT_TAIL(&set->list, c, entry);
	set->stats->connections++;
	set->stats->accepted++;
	conn_wait_enter(c);
	/*
	 * Read at once: a web server writes its request as soon as it has
	 * connected, so by the time the listener wakes it is usually here,
	 * and a connection answered now never enters epoll (no epoll_ctl,
	 * no wake-up).  When nothing is there yet, one recv is spent.
	 */
	conn_read(c);
	conn_settle(c);
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
			    victim->in.len), (unsigned long long)set->room_made);
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
	free(set->scratch);
	set->scratch = NULL;
}

void
fcgi_conn_free_unused(struct fcgi_conn_set *set)
{
	struct fcgi_conn *c;

	while ((c = TAILQ_FIRST(&set->free)) != NULL) {
		TAILQ_REMOVE(&set->free, c, entry);
		set->free_count--;
		free(c);
	}
}
