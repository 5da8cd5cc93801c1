/* SPDX-License-Identifier: ISC */
/*
 * sync_gate.c - the /pool worker's check of a request head (sync_gate.h).
 *
 * Each look re-reads the queued head from its start with MSG_PEEK and
 * parses it whole; nothing is consumed but the management records in front
 * of BEGIN_REQUEST, which are answered.  While the head is incomplete the
 * gate waits for the socket to change: with poll(2) while nothing is
 * queued, and once part of a head is, with an edge-triggered epoll(7),
 * since poll keeps reporting a socket readable while the peeked bytes
 * stay queued (and on AF_UNIX SO_RCVLOWAT does not change that).
 * Between two looks at a partial head it naps SYNC_GATE_NAP_MS, so a peer
 * that sends a byte at a time gets at most one parse per nap.  A peer
 * that shuts its side (POLLRDHUP, POLLHUP, POLLERR) can send nothing more:
 * one last look, and a head still incomplete is dropped at once, not at
 * the deadline.  The front ends send a head in one write, so only slow or
 * hostile peers ever see the waits, and the deadline bounds them.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/response.h"
#include "fcgi/fcgi_codec.h"
#include "fcgi/fcgi_request.h"
#include "sync_cgi/sync_gate.h"

#define SYNC_GATE_NAP_MS	5	/* ms between looks at a partial head */
#define SYNC_GATE_WAIT_MAX_MS	60000	/* ms of one wait (poll's int) */
#define SYNC_GATE_WHY_MAX	128	/* bytes of a refusal's reason */
#define SYNC_GATE_HUP	(POLLRDHUP | POLLHUP | POLLERR)	/* peer gone */

/* What one parse of the queued bytes found. */
enum sync_gate_step {
	SYNC_GATE_STEP_MORE,		/* incomplete: look again later */
	SYNC_GATE_STEP_MANAGEMENT,	/* a whole management record leads */
	SYNC_GATE_STEP_PASS,
	SYNC_GATE_STEP_REFUSE,		/* answer status (or the role) */
	SYNC_GATE_STEP_DROP
};

struct sync_gate_parse {
	int		begun;		/* BEGIN_REQUEST seen */
	uint16_t	request_id;
	int		status;		/* REFUSE: HTTP status, 0 = role */
	size_t		params_len;	/* PARAMS content so far */
	size_t		pair_at;	/* first pair not yet whole */
	size_t		record_len;	/* MANAGEMENT: bytes to consume */
	struct fcgi_header header;	/* MANAGEMENT: its header */
	char		why[SYNC_GATE_WHY_MAX];
};

/* How one connection is waited for (sync_gate_wait). */
struct sync_gate_waiter {
	int		fd;
	int		epoll_fd;	/* -1 none yet, -2 epoll failed: naps */
	int		gone;		/* the peer shut its side (or failed) */
	int64_t		looked_us;	/* the last look at the queue */
};

static uint8_t sync_gate_head[SA_POOL_HEAD_MAX];
static uint8_t sync_gate_pairs[SA_POOL_PARAMS_MAX];

/*
 * One name-value length (spec 3.4) at p: 1 byte, or 4 with the top bit set.
 * Returns the bytes the field takes, 0 if len does not hold it yet.
 */
static size_t
sync_gate_length(const uint8_t *p, size_t len, size_t *value)
{
	if (len == 0)
		return 0;
	if ((p[0] & 0x80) == 0) {
		*value = p[0];
		return 1;
	}
	if (len < 4)
		return 0;
	*value = ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) |
	    ((size_t)p[2] << 8) | p[3];
	return 4;
}

/*
 * Bytes the pair starting at p declares (its two length fields, name and
 * value), or 0 while its length fields are not all there.  At most about
 * 2^32, so never wraps a size_t.
 */
static size_t
sync_gate_pair_len(const uint8_t *p, size_t len)
{
	size_t name_len, value_len, used, used2;

	if ((used = sync_gate_length(p, len, &name_len)) == 0 ||
	    (used2 = sync_gate_length(p + used, len - used, &value_len)) == 0)
		return 0;
	return used + used2 + name_len + value_len;
}

static enum sync_gate_step
sync_gate_refuse(struct sync_gate_parse *parse, int status, const char *why)
{
	parse->status = status;
	snprintf(parse->why, sizeof(parse->why), "%s", why);
	return SYNC_GATE_STEP_REFUSE;
}

static enum sync_gate_step
sync_gate_drop(struct sync_gate_parse *parse, const char *why)
{
	snprintf(parse->why, sizeof(parse->why), "%s", why);
	return SYNC_GATE_STEP_DROP;
}

/* Appends one whole PARAMS record's content; checks every whole pair. */
static enum sync_gate_step
sync_gate_params(struct sync_gate_parse *parse, const uint8_t *content,
    size_t len)
{
	size_t need;

	if (len > SA_POOL_PARAMS_MAX - parse->params_len)
		return sync_gate_refuse(parse, 413, "request parameters over "
		    "the pool's limit");
	memcpy(sync_gate_pairs + parse->params_len, content, len);
	parse->params_len += len;
	while (parse->pair_at < parse->params_len) {
		need = sync_gate_pair_len(sync_gate_pairs + parse->pair_at,
		    parse->params_len - parse->pair_at);
		if (need == 0)
			break;
		if (need > SA_POOL_PARAMS_MAX - parse->pair_at)
			return sync_gate_refuse(parse, 413, "a request "
			    "parameter longer than the pool's limit");
		if (need > parse->params_len - parse->pair_at)
			break;
		parse->pair_at += need;
	}
	return SYNC_GATE_STEP_MORE;
}

/*
 * Parses the len queued bytes at buf from their start (spec 3.3, 5.1,
 * 5.2): management records, then BEGIN_REQUEST, then PARAMS records of its
 * id up to the empty one.
 */
static enum sync_gate_step
sync_gate_parse(struct sync_gate_parse *parse, const uint8_t *buf,
    size_t len)
{
	struct fcgi_header hdr;
	struct fcgi_begin_body body;
	enum sync_gate_step step;
	size_t pos = 0, record_len;

	memset(parse, 0, sizeof(*parse));
	for (;;) {
		if (fcgi_header_decode(buf + pos, len - pos, &hdr) ==
		    FCGI_CODEC_SHORT)
			return SYNC_GATE_STEP_MORE;
		if (hdr.version != FCGI_VERSION_1)
			return sync_gate_drop(parse, "a record that is not "
			    "FastCGI 1");
		record_len = fcgi_header_record_len(&hdr);
		if (record_len > SA_POOL_HEAD_MAX - pos)
			return parse->begun ? sync_gate_refuse(parse, 413,
			    "request head over the pool's limit") :
			    sync_gate_drop(parse, "a first record over the "
			    "pool's limit");
		if (record_len > len - pos)
			return SYNC_GATE_STEP_MORE;
		if (!parse->begun && hdr.request_id == FCGI_NULL_REQUEST_ID &&
		    hdr.type != FCGI_BEGIN_REQUEST) {
			parse->record_len = record_len;
			parse->header = hdr;
			return SYNC_GATE_STEP_MANAGEMENT;
		}
		if (!parse->begun) {
			if (hdr.type != FCGI_BEGIN_REQUEST ||
			    hdr.request_id == FCGI_NULL_REQUEST_ID)
				return sync_gate_drop(parse, "a request "
				    "record before BEGIN_REQUEST");
			if (hdr.content_length != sizeof(FCGI_BeginRequestBody)
			    || fcgi_begin_body_decode(buf + pos +
			    FCGI_HEADER_LEN, hdr.content_length, &body) !=
			    FCGI_CODEC_OK)
				return sync_gate_drop(parse, "a BEGIN_REQUEST "
				    "body that is not 8 bytes");
			parse->begun = 1;
			parse->request_id = hdr.request_id;
			if (body.role != FCGI_RESPONDER)
				return sync_gate_refuse(parse, 0, "a role "
				    "other than RESPONDER");
			/* libfcgi reads the padding as the next header. */
			if (hdr.padding_length != 0)
				return sync_gate_refuse(parse, 400,
				    "BEGIN_REQUEST with padding, which "
				    "libfcgi misreads");
		} else if (hdr.type != FCGI_PARAMS ||
		    hdr.request_id != parse->request_id) {
			return sync_gate_drop(parse, "a record other than "
			    "PARAMS before the end of PARAMS");
		} else if (hdr.content_length == 0) {
			if (parse->pair_at != parse->params_len)
				return sync_gate_refuse(parse, 400, "request "
				    "parameters that end inside a pair");
			return SYNC_GATE_STEP_PASS;
		} else if ((step = sync_gate_params(parse, buf + pos +
		    FCGI_HEADER_LEN, hdr.content_length)) !=
		    SYNC_GATE_STEP_MORE) {
			return step;
		}
		pos += record_len;
	}
}

/* Sends out whole without waiting (a peer that does not read gets less):
 * 0, or -1 if it did not all go. */
static int
sync_gate_send(int fd, const uint8_t *out, size_t len)
{
	return send(fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)len ? 0 : -1;
}

/* A refusal: a CGI answer with a JSON error, or END_REQUEST UNKNOWN_ROLE. */
static void
sync_gate_answer(int fd, const struct sync_gate_parse *parse)
{
	uint8_t out[FCGI_HEADER_LEN + RESPONSE_HEADER_MAX + 512 +
	    FCGI_HEADER_LEN + FCGI_CODEC_END_RECORD_LEN];
	size_t pos = FCGI_HEADER_LEN, body_len, head_len;
	char body[512];

	if (parse->status == 0) {
		fcgi_end_record_encode(out, parse->request_id, 0,
		    FCGI_UNKNOWN_ROLE);
		(void)sync_gate_send(fd, out, FCGI_CODEC_END_RECORD_LEN);
		return;
	}
	/* 0 (no body) if it does not fit. */
	body_len = response_error_write(parse->why, body, sizeof(body));
	head_len = response_cgi_header((char *)out + pos, RESPONSE_HEADER_MAX,
	    parse->status, body_len);
	pos += head_len;
	memcpy(out + pos, body, body_len);
	pos += body_len;
	fcgi_header_encode(out, FCGI_STDOUT, parse->request_id,
	    (uint16_t)(pos - FCGI_HEADER_LEN));
	fcgi_header_encode(out + pos, FCGI_STDOUT, parse->request_id, 0);
	pos += FCGI_HEADER_LEN;
	fcgi_end_record_encode(out + pos, parse->request_id, 0,
	    FCGI_REQUEST_COMPLETE);
	pos += FCGI_CODEC_END_RECORD_LEN;
	(void)sync_gate_send(fd, out, pos);	/* the refusal is logged */
}

/*
 * Consumes the management record that leads the queue and answers it as
 * async_fcgi does (fcgi_request.h; spec 4.1, 4.2): GET_VALUES with this
 * pool's capacity as FCGI_MAX_CONNS and FCGI_MAX_REQS and 0 for
 * FCGI_MPXS_CONNS, any other type with UNKNOWN_TYPE.  0, or -1 to drop
 * (malformed, or a peer that does not read its answers).
 */
static int
sync_gate_management(int fd, const struct sync_gate_parse *parse,
    unsigned capacity)
{
	static uint8_t record[FCGI_HEADER_LEN + 65535 + 255];
	struct fcgi_limits limits = { SA_POOL_PARAMS_MAX, 0, capacity,
	    capacity };
	struct fcgi_request req;
	struct fcgi_reply reply;
	enum fcgi_action action;

	if (recv(fd, record, parse->record_len, MSG_DONTWAIT) !=
	    (ssize_t)parse->record_len)
		return -1;
	fcgi_request_init(&req, &limits);
	action = fcgi_request_apply(&req, &parse->header,
	    record + FCGI_HEADER_LEN, parse->header.content_length, 0, &reply);
	fcgi_request_free(&req);
	if (action != FCGI_ACTION_REPLY)
		return -1;
	return sync_gate_send(fd, reply.buf, reply.len);
}

/* Milliseconds from now to until_us, rounded up, at most one wait's. */
static int
sync_gate_ms_to(int64_t until_us)
{
	int64_t left_ms = (until_us - clock_mono_us() + 999) / 1000;

	if (left_ms <= 0)
		return 0;
	return left_ms > SYNC_GATE_WAIT_MAX_MS ? SYNC_GATE_WAIT_MAX_MS :
	    (int)left_ms;
}

/*
 * poll(2) on w's connection for events (and always POLLHUP, POLLERR) up to
 * ms; notes a peer gone.  EINTR is a wake-up like any other.
 */
static void
sync_gate_poll(struct sync_gate_waiter *w, short events, int ms)
{
	struct pollfd pfd = { w->fd, events, 0 };

	if (poll(&pfd, 1, ms) == 1 && (pfd.revents & SYNC_GATE_HUP) != 0)
		w->gone = 1;
}

/*
 * The edge-triggered watch on w's connection, made at the first partial
 * head: it reports new bytes (and the peer shutting its side), not bytes
 * already queued.  Its first wait returns at once (the queue was readable
 * when it was added), which costs one more look.  0, or -1 if epoll is
 * unavailable (descriptors run out): then the naps alone pace the looks.
 */
static int
sync_gate_watch(struct sync_gate_waiter *w)
{
	struct epoll_event ev;

	if (w->epoll_fd >= 0)
		return 0;
	if (w->epoll_fd == -2)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.fd = w->fd;
	if ((w->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->fd, &ev) == -1) {
		if (w->epoll_fd != -1)
			close(w->epoll_fd);
		w->epoll_fd = -2;
		return -1;
	}
	return 0;
}

/*
 * Waits until deadline_us at most for more than the have bytes queued, or
 * for the peer to shut its side (w->gone).  With a partial head queued: a
 * nap to SYNC_GATE_NAP_MS after the last look (a hang-up ends it), then
 * the edge-triggered watch.
 */
static void
sync_gate_wait(struct sync_gate_waiter *w, size_t have, int64_t deadline_us)
{
	struct epoll_event ev;
	int64_t nap_until = w->looked_us + SYNC_GATE_NAP_MS * 1000;
	int ms;

	if (have == 0) {
		if ((ms = sync_gate_ms_to(deadline_us)) > 0)
			sync_gate_poll(w, POLLIN | POLLRDHUP, ms);
		return;
	}
	if ((ms = sync_gate_ms_to(nap_until < deadline_us ? nap_until :
	    deadline_us)) > 0)
		sync_gate_poll(w, POLLRDHUP, ms);
	if (w->gone || sync_gate_watch(w) != 0 ||
	    (ms = sync_gate_ms_to(deadline_us)) == 0)
		return;
	if (epoll_wait(w->epoll_fd, &ev, 1, ms) == 1 &&
	    (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
		w->gone = 1;
}

/* The deadline passed before a BEGIN_REQUEST: one line, drop. */
static enum sync_gate_verdict
sync_gate_late(long pid)
{
	fprintf(stderr, "sync_cgi: pid %ld: no request within %lu ms; "
	    "connection closed\n", pid, (unsigned long)SA_POOL_READ_MS);
	return SYNC_GATE_DROP;
}

/* The peer shut its side with a head begun: one line, drop. */
static enum sync_gate_verdict
sync_gate_hung_up(long pid)
{
	fprintf(stderr, "sync_cgi: pid %ld: the peer hung up before its "
	    "request head was complete\n", pid);
	return SYNC_GATE_DROP;
}

/* sync_gate_check's looks at w's connection, each after a wait. */
static enum sync_gate_verdict
sync_gate_look(struct sync_gate_waiter *w, int64_t deadline_us,
    unsigned capacity)
{
	struct sync_gate_parse parse;
	enum sync_gate_step step = SYNC_GATE_STEP_MORE;
	ssize_t n;
	size_t have = 0;
	long pid = (long)getpid();

	memset(&parse, 0, sizeof(parse));
	for (;;) {
		n = recv(w->fd, sync_gate_head, sizeof(sync_gate_head),
		    MSG_PEEK | MSG_DONTWAIT);
		w->looked_us = clock_mono_us();
		if (n == 0)	/* nothing queued, and nothing will come */
			return have != 0 || parse.begun ?
			    sync_gate_hung_up(pid) : SYNC_GATE_DROP;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			fprintf(stderr, "sync_cgi: pid %ld: reading a request: "
			    "%s\n", pid, strerror(errno));
			return SYNC_GATE_DROP;
		}
		have = n > 0 ? (size_t)n : 0;
		step = SYNC_GATE_STEP_MORE;
		if (have > 0 &&
		    (step = sync_gate_parse(&parse, sync_gate_head, have)) ==
		    SYNC_GATE_STEP_MANAGEMENT) {
			if (sync_gate_management(w->fd, &parse, capacity) != 0) {
				fprintf(stderr, "sync_cgi: pid %ld: a "
				    "management record malformed or its answer "
				    "not read; connection closed\n", pid);
				return SYNC_GATE_DROP;
			}
			/* The deadline holds for management records too. */
			if (clock_mono_us() >= deadline_us)
				return sync_gate_late(pid);
			have = 0;
			continue;
		}
		if (step == SYNC_GATE_STEP_MORE &&
		    have == sizeof(sync_gate_head))
			step = sync_gate_refuse(&parse, 413, "request head "
			    "over the pool's limit");
		/* Looked at after the peer shut its side: all it sent. */
		if (step == SYNC_GATE_STEP_MORE && w->gone)
			return sync_gate_hung_up(pid);
		if (step == SYNC_GATE_STEP_MORE &&
		    clock_mono_us() >= deadline_us) {
			if (!parse.begun || have == 0)
				return sync_gate_late(pid);
			step = sync_gate_refuse(&parse, 400, "request head not "
			    "received in time");
		}
		switch (step) {
		case SYNC_GATE_STEP_PASS:
			return SYNC_GATE_PASS;
		case SYNC_GATE_STEP_REFUSE:
			fprintf(stderr, "sync_cgi: pid %ld: request refused "
			    "(%s): %s\n", pid, parse.status == 0 ?
			    "UNKNOWN_ROLE" : response_reason(parse.status),
			    parse.why);
			sync_gate_answer(w->fd, &parse);
			return SYNC_GATE_ANSWERED;
		case SYNC_GATE_STEP_DROP:
			fprintf(stderr, "sync_cgi: pid %ld: %s; connection "
			    "closed\n", pid, parse.why);
			return SYNC_GATE_DROP;
		default:
			break;
		}
		sync_gate_wait(w, have, deadline_us);
	}
}

enum sync_gate_verdict
sync_gate_check(int fd, int64_t deadline_us, unsigned capacity)
{
	struct sync_gate_waiter waiter = { fd, -1, 0, 0 };
	enum sync_gate_verdict verdict;

	verdict = sync_gate_look(&waiter, deadline_us, capacity);
	if (waiter.epoll_fd >= 0)
		close(waiter.epoll_fd);
	return verdict;
}
