/* SPDX-License-Identifier: ISC */
/*
 * const_fcgi.c - the benchmark's floor: a single-threaded libevent FastCGI
 * responder that answers every request with one constant response.
 *
 * It does what async_fcgi's plain /async must do at the least (accept,
 * frame records, wait for the end of PARAMS and STDIN, write STDOUT, the
 * empty STDOUT and END_REQUEST, close unless KEEP_CONN) and nothing else:
 * no PARAMS decoding, routing, counting, time, limits or JSON.  Its figures
 * are the limit for that design on the machine, and the bench gives
 * /async's as a ratio to them.  The answer is as long as /async's, so the
 * bytes written are alike.  Built two ways:
 *
 *  - const_fcgi: records framed off a bufferevent, the answer written
 *    through it (issue 18's floor: the usual libevent responder);
 *  - const_fcgi_lean (-DCONST_FCGI_LEAN): async_fcgi's own I/O design (one
 *    persistent event per connection, every read into one buffer and the
 *    records framed where they lie, only a record's unfinished tail kept,
 *    the answer sent at once), so the cost of everything else async_fcgi
 *    does shows alone.
 *
 * It listens on descriptor 0 (lighttpd bin-path, spawn-fcgi) or, given one
 * argument, on 127.0.0.1:PORT.  Not part of syncasync: built by
 * bench/run-bench, not by `make`, and it trusts its peer (a record it does
 * not expect closes the connection).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <errno.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define HEADER_LEN	8
#define BEGIN_REQUEST	1
#define END_REQUEST	3
#define PARAMS		4
#define STDIN		5
#define STDOUT		6
#define KEEP_CONN	1

static const char const_answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 216\r\n"
    "Cache-Control: no-store\r\n"
    "\r\n"
    "{ \"message\": \"constant example\", \"thread_id\": 1000000, \"pid\": "
    "1000000, \"request_time\": \"2026-01-01 00:00:00\", \"request_no\": "
    "1000000, \"started_us\": 1700000000000000, \"finished_us\": "
    "1700000000000001, \"mode\": \"timer\" }\n";

/* The response records for one request id: built once, the id patched. */
static uint8_t const_records[HEADER_LEN + sizeof(const_answer) + 7 +
    HEADER_LEN + HEADER_LEN + 8];
static size_t const_records_len;

static void
header(uint8_t *p, int type, unsigned id, size_t len, unsigned pad)
{
	p[0] = 1;
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)(id >> 8);
	p[3] = (uint8_t)id;
	p[4] = (uint8_t)(len >> 8);
	p[5] = (uint8_t)len;
	p[6] = (uint8_t)pad;
	p[7] = 0;
}

static void
records_build(void)
{
	size_t len = sizeof(const_answer) - 1, pad = (8 - len % 8) % 8;
	uint8_t *p = const_records;

	header(p, STDOUT, 1, len, (unsigned)pad);
	memcpy(p + HEADER_LEN, const_answer, len);
	memset(p + HEADER_LEN + len, 0, pad);
	p += HEADER_LEN + len + pad;
	header(p, STDOUT, 1, 0, 0);
	p += HEADER_LEN;
	header(p, END_REQUEST, 1, 8, 0);
	memset(p + HEADER_LEN, 0, 8);	/* appStatus 0, REQUEST_COMPLETE */
	p += HEADER_LEN + 8;
	const_records_len = (size_t)(p - const_records);
}

/* Patches the request id into each of the three headers. */
static void
records_for(unsigned id)
{
	size_t off = 0;

	while (off < const_records_len) {
		size_t len = ((size_t)const_records[off + 4] << 8 |
		    const_records[off + 5]) + const_records[off + 6];

		const_records[off + 2] = (uint8_t)(id >> 8);
		const_records[off + 3] = (uint8_t)id;
		off += HEADER_LEN + len;
	}
}

#if CONST_FCGI_LEAN
#define READ_MAX	65536
#define RECORD_MAX	(HEADER_LEN + 65535 + 255)

/* Every read lands here, behind a connection's kept tail. */
static uint8_t scratch[RECORD_MAX + READ_MAX];

struct conn {
	struct event	*ev;
	int		 fd;
	int		 keep;
	int		 params_done;
	int		 closing;
	uint8_t		*tail;		/* a record still arriving */
	size_t		 tail_len;
	uint8_t		*out;		/* output the socket did not take */
	size_t		 out_off, out_len;
};

static void
conn_free(struct conn *c)
{
	event_free(c->ev);
	close(c->fd);
	free(c->tail);
	free(c->out);
	free(c);
}

/* Sends len bytes now, keeping what the socket does not take; -1 on a
 * socket error. */
static int
conn_send(struct conn *c, const uint8_t *p, size_t len)
{
	ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if (n < 0)
		n = 0;
	if ((size_t)n == len)
		return 0;
	/* Rare: one answer at a time, so nothing is queued before it. */
	if ((c->out = malloc(len - (size_t)n)) == NULL)
		return -1;
	memcpy(c->out, p + n, len - (size_t)n);
	c->out_off = 0;
	c->out_len = len - (size_t)n;
	event_del(c->ev);
	event_assign(c->ev, event_get_base(c->ev), c->fd, EV_WRITE | EV_PERSIST,
	    event_get_callback(c->ev), c);
	event_add(c->ev, NULL);
	return 0;
}

static int
respond(struct conn *c, unsigned id)
{
	records_for(id);
	c->params_done = 0;
	if (!c->keep)
		c->closing = 1;
	return conn_send(c, const_records, const_records_len);
}

/* Frames the records in buf[0, len); returns the bytes used, or -1 to
 * close. */
static ssize_t
frame(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t used = 0, clen, total;

	while (!c->closing && c->out_len == 0 && len - used >= HEADER_LEN) {
		const uint8_t *h = buf + used;

		clen = (size_t)h[4] << 8 | h[5];
		total = HEADER_LEN + clen + h[6];
		if (len - used < total)
			break;
		switch (h[1]) {
		case BEGIN_REQUEST:
			if (clen < 3)
				return -1;
			c->keep = (h[HEADER_LEN + 2] & KEEP_CONN) != 0;
			break;
		case PARAMS:
			if (clen == 0)
				c->params_done = 1;
			break;
		case STDIN:
			if (clen == 0 && c->params_done &&
			    respond(c, (unsigned)h[2] << 8 | h[3]) == -1)
				return -1;
			break;
		default:
			return -1;
		}
		used += total;
	}
	return (ssize_t)used;
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n, used;
	size_t have = c->tail_len;

	if (what & EV_WRITE) {
		n = send(fd, c->out + c->out_off, c->out_len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			goto done;
		if (n > 0) {
			c->out_off += (size_t)n;
			c->out_len -= (size_t)n;
		}
		if (c->out_len > 0)
			return;
		free(c->out);
		c->out = NULL;
		if (c->closing)
			goto done;
		event_del(c->ev);
		event_assign(c->ev, event_get_base(c->ev), fd,
		    EV_READ | EV_PERSIST, conn_cb, c);
		event_add(c->ev, NULL);
		return;
	}
	memcpy(scratch, c->tail, have);
	n = recv(fd, scratch + have, READ_MAX, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		goto done;
	}
	if ((used = frame(c, scratch, have + (size_t)n)) < 0)
		goto done;
	if (c->closing && c->out_len == 0)
		goto done;
	free(c->tail);
	c->tail = NULL;
	c->tail_len = have + (size_t)n - (size_t)used;
	if (c->tail_len > 0) {
		if ((c->tail = malloc(c->tail_len)) == NULL)
			goto done;
		memcpy(c->tail, scratch + used, c->tail_len);
	}
	return;
done:
	conn_free(c);
}

static void
acceptcb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->ev = event_new(evconnlistener_get_base(l), fd,
	    EV_READ | EV_PERSIST, conn_cb, c)) == NULL ||
	    event_add(c->ev, NULL) == -1) {
		if (c != NULL && c->ev != NULL)
			event_free(c->ev);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->fd = fd;
}

#else
struct conn {
	struct bufferevent *bev;
	int	keep;
	int	params_done;
	int	closing;
};

static void
conn_free(struct conn *c)
{
	bufferevent_free(c->bev);
	free(c);
}

static void
respond(struct conn *c, unsigned id)
{
	records_for(id);
	bufferevent_write(c->bev, const_records, const_records_len);
	if (!c->keep) {
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
	c->params_done = 0;
}

static void
readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t h[HEADER_LEN], flags;
	size_t len, total;
	unsigned id;

	while (!c->closing && evbuffer_copyout(in, h, sizeof(h)) ==
	    (ev_ssize_t)sizeof(h)) {
		len = (size_t)h[4] << 8 | h[5];
		total = HEADER_LEN + len + h[6];
		if (evbuffer_get_length(in) < total)
			return;
		id = (unsigned)h[2] << 8 | h[3];
		switch (h[1]) {
		case BEGIN_REQUEST:
			if (len < 3)
				goto bad;
			evbuffer_drain(in, HEADER_LEN + 2);
			evbuffer_remove(in, &flags, 1);
			c->keep = (flags & KEEP_CONN) != 0;
			evbuffer_drain(in, total - HEADER_LEN - 3);
			continue;
		case PARAMS:
			if (len == 0)
				c->params_done = 1;
			break;
		case STDIN:
			if (len == 0 && c->params_done) {
				evbuffer_drain(in, total);
				respond(c, id);
				continue;
			}
			break;
		default:
			goto bad;
		}
		evbuffer_drain(in, total);
	}
	return;
bad:
	conn_free(c);
}

static void
writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing)
		conn_free(c);
}

static void
eventcb(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);
}

static void
acceptcb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->bev = bufferevent_socket_new(
	    evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(c->bev, readcb, writecb, eventcb, c);
	bufferevent_enable(c->bev, EV_READ);
}

#endif

static void
stopcb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evconnlistener *l;
	struct event *term;
	struct sockaddr_in sin;
	int fd = 0, one = 1;

	if (argc > 2) {
		fprintf(stderr, "usage: const_fcgi [PORT]\n");
		return 2;
	}
	records_build();
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)atoi(argv[1]));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(fd, 1024) == -1) {
			perror("const_fcgi: listen");
			return 1;
		}
	}
	if ((base = event_base_new()) == NULL ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    (l = evconnlistener_new(base, acceptcb, NULL,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd)) == NULL) {
		fprintf(stderr, "const_fcgi: cannot listen\n");
		return 1;
	}
	term = evsignal_new(base, SIGTERM, stopcb, base);
	event_add(term, NULL);
	event_base_dispatch(base);
	event_free(term);
	evconnlistener_free(l);
	event_base_free(base);
	return 0;
}
