/* SPDX-License-Identifier: ISC */
/*
 * fuzz_conn.c - fuzz target for a whole FastCGI connection: the libevent
 * layer (async_fcgi/fcgi_server.c, fcgi_conn.c) with the real request state
 * machine and the real /async application behind it.
 *
 * Each input is one connection, driven in-process and without fork: a
 * client thread writes the input's FastCGI stream in chunks whose sizes the
 * input chooses, reads and discards every answer, half-closes and reads to
 * EOF.  The server side takes one of two routes:
 *  - adopted (the default): fcgi_server_new() on a fresh event base, the
 *    other end of a socketpair handed to fcgi_server_adopt(), and this
 *    thread running the loop until the server has closed the connection;
 *  - served (flag bit 5): the whole of fcgi_server_run() on a fresh listening
 *    AF_UNIX socket, ended by SIGTERM to this thread, its only way out
 *    (fcgi_server.h); the client signals as soon as the server has read its
 *    first chunk, so the drain runs with the connection open, and only
 *    once the server has read (or closed), so the signal always finds
 *    libevent's handler installed.
 * After each input the application's counters must be back to zero (no
 * request or connection leaked in the stats), and any offloaded job the
 * server gave up on is collected from the pool, so LeakSanitizer sees a
 * clean heap.
 *
 * To make read boundaries real, after each chosen chunk the client waits
 * until the kernel says the server has read it (SIOCOUTQ == 0, or the
 * server closed), reading the server's output meanwhile so back-pressure
 * cannot deadlock.  The first FUZZ_CONN_SPLITS_MAX chunks are split; the
 * rest of the stream is written as fast as the socket takes it.
 *
 * Input:
 *   byte 0     flags:
 *                bits 0-1  mode: 0 block, 1 timer, 2 offload, 3 timer;
 *                          every request "sleeps" 0 us in that mode, so the
 *                          timer and pool paths run without waiting
 *                bit 2     small caps: 64 bytes of PARAMS and of STDIN
 *                bit 3     max_requests 0: every BEGIN_REQUEST is OVERLOADED
 *                bit 4     high-water mark of 1 byte: reading pauses after
 *                          every answer (back-pressure paths)
 *                bit 5     served: fcgi_server_run() with its listener, and
 *                          SIGTERM as soon as the server has read the first
 *                          chunk (the drain runs with the connection open)
 *                bit 6     linger: before half-closing, wait for the
 *                          server's next answer (client_linger), so timer
 *                          and pool answers are written (without it they
 *                          are mostly cancelled by the EOF)
 *   byte 1     n, the number of split bytes that follow
 *   n bytes    chunk sizes, each byte b < 255 meaning b + 1 bytes; 255
 *              writes nothing but waits for the server's next answer
 *              (client_linger), so a pipelined request can follow the
 *              previous answer instead of racing it
 *   the rest   the bytes the web server sends
 * The server's output is framed as records and each header checked
 * (version 1, a type a responder sends); what the answers say, timing and
 * log lines are the integration tests' business.  Server log lines go to
 * stderr (libFuzzer's -close_fd_mask=2 silences them; `make fuzz` passes
 * it).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/sockios.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/fcgi_server.h"
#include "async_fcgi/offload_pool.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/settings.h"
#include "fcgi/fcgi_codec.h"
#include "fuzz/fuzz.h"

#define FUZZ_CONN_MODE_MASK	0x03
#define FUZZ_CONN_SMALL_CAPS	0x04
#define FUZZ_CONN_NO_ADMIT	0x08
#define FUZZ_CONN_TINY_WATER	0x10
#define FUZZ_CONN_SERVED	0x20
#define FUZZ_CONN_LINGER	0x40

#define FUZZ_CONN_SMALL_CAP	64	/* bytes, with FUZZ_CONN_SMALL_CAPS */
#define FUZZ_CONN_SPLITS_MAX	64	/* chunks written one read apart */
#define FUZZ_CONN_SPLIT_LINGER	255	/* split byte: wait for answers */
#define FUZZ_CONN_POOL_THREADS	2
#define FUZZ_CONN_IDLE_MS	5000	/* server: a silent client */
#define FUZZ_CONN_DEADLINE_US	(20 * 1000000LL)	/* one input, all in */
#define FUZZ_CONN_POLL_MS	100
#define FUZZ_CONN_LINGER_MS	10	/* longest wait for an answer */
#define FUZZ_CONN_LINGERS_MAX	4	/* such waits per input */

/* One application per mode, made on first use and kept (pools are
 * threads: too dear to start per input). */
static struct async_app *fuzz_apps[3];

struct client {
	int		 fd;
	int		 served;	/* signal server when it has read */
	pthread_t	 server;	/* the thread in fcgi_server_run() */
	const uint8_t	*stream;
	size_t		 stream_len;
	const uint8_t	*splits;
	size_t		 splits_len;
	int		 linger;
	int64_t		 deadline_us;
	int		 lingers;	/* client_linger() calls so far */
	size_t		 received;	/* bytes from the server */
	int		 peer_closed;	/* EOF or reset seen */
	/* The server's output, framed as records (client_frame): */
	uint8_t		 out_head[FCGI_HEADER_LEN];
	size_t		 out_head_len;
	size_t		 out_body_left;
	uint64_t	 answers;	/* END_REQUEST and management replies */
};

static void
client_hung(const char *where)
{
	fprintf(stderr, "fuzz_conn: no progress for %lld s (%s): the server "
	    "neither reads nor closes\n",
	    (long long)(FUZZ_CONN_DEADLINE_US / 1000000), where);
	abort();
}

/*
 * Frames the server's output as records and checks each header: version 1
 * and a type a responder may send.  Counts the records that end an answer
 * (END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE), for client_linger().
 */
static void
client_frame(struct client *cl, const uint8_t *bytes, size_t len)
{
	size_t take;
	uint8_t type;

	while (len > 0) {
		if (cl->out_body_left > 0) {
			take = len < cl->out_body_left ? len :
			    cl->out_body_left;
			cl->out_body_left -= take;
			bytes += take;
			len -= take;
			continue;
		}
		cl->out_head[cl->out_head_len++] = *bytes++;
		len--;
		if (cl->out_head_len < FCGI_HEADER_LEN)
			continue;
		cl->out_head_len = 0;
		type = cl->out_head[1];
		FUZZ_CHECK(cl->out_head[0] == FCGI_VERSION_1);
		FUZZ_CHECK(type == FCGI_STDOUT || type == FCGI_STDERR ||
		    type == FCGI_END_REQUEST || type == FCGI_GET_VALUES_RESULT ||
		    type == FCGI_UNKNOWN_TYPE);
		if (type != FCGI_STDOUT && type != FCGI_STDERR)
			cl->answers++;
		cl->out_body_left = ((size_t)cl->out_head[4] << 8 |
		    cl->out_head[5]) + cl->out_head[6];
	}
}

/* Reads what is waiting (non-blocking) into client_frame().  Sets
 * peer_closed on EOF or an error. */
static void
client_read(struct client *cl)
{
	uint8_t buf[65536];
	ssize_t n;

	while (!cl->peer_closed) {
		n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			cl->received += (size_t)n;
			client_frame(cl, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		cl->peer_closed = 1;	/* EOF, or ECONNRESET */
	}
}

/*
 * Waits for the server's next answer: until a record that ends one has
 * arrived and the output is at a record boundary, the server closed, or
 * FUZZ_CONN_LINGER_MS passed without one (nothing was owed).  At most
 * FUZZ_CONN_LINGERS_MAX waits per input, so an input full of them cannot
 * slow the fuzzer to a crawl.
 */
static void
client_linger(struct client *cl)
{
	struct pollfd pfd;
	uint64_t answers = cl->answers;
	int64_t until = clock_mono_us() + FUZZ_CONN_LINGER_MS * 1000;
	int64_t now;
	int ready;

	if (cl->lingers++ >= FUZZ_CONN_LINGERS_MAX)
		return;
	while (!cl->peer_closed) {
		client_read(cl);
		if (cl->answers > answers && cl->out_head_len == 0 &&
		    cl->out_body_left == 0)
			return;
		if ((now = clock_mono_us()) >= until)
			return;
		pfd.fd = cl->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ready = poll(&pfd, 1, (int)((until - now + 999) / 1000));
		if (ready == -1 && errno != EINTR)
			return;
	}
}

/* Waits until the server has read everything sent so far, or closed. */
static void
client_wait_consumed(struct client *cl)
{
	int queued;

	for (;;) {
		if (ioctl(cl->fd, SIOCOUTQ, &queued) == -1 || queued == 0)
			return;
		client_read(cl);
		if (cl->peer_closed)
			return;
		if (clock_mono_us() > cl->deadline_us)
			client_hung("waiting for a read");
		sched_yield();
	}
}

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	struct pollfd pfd;
	size_t pos = 0, split = 0, chunk;
	ssize_t n;
	int wr_closed = 0, signalled = 0;

	while (!cl->peer_closed) {
		if (!wr_closed && pos == cl->stream_len) {
			if (cl->linger)
				client_linger(cl);
			shutdown(cl->fd, SHUT_WR);
			wr_closed = 1;
		}
		pfd.fd = cl->fd;
		pfd.events = POLLIN | (wr_closed ? 0 : POLLOUT);
		pfd.revents = 0;
		if (poll(&pfd, 1, FUZZ_CONN_POLL_MS) == -1 && errno != EINTR)
			break;
		if (clock_mono_us() > cl->deadline_us)
			client_hung(wr_closed ? "waiting for EOF" :
			    "writing");
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			client_read(cl);
		if (cl->peer_closed || wr_closed ||
		    !(pfd.revents & POLLOUT))
			continue;
		chunk = cl->stream_len - pos;
		if (split < cl->splits_len && split < FUZZ_CONN_SPLITS_MAX &&
		    cl->splits[split] == FUZZ_CONN_SPLIT_LINGER) {
			split++;
			client_linger(cl);
			continue;
		}
		if (split < cl->splits_len && split < FUZZ_CONN_SPLITS_MAX &&
		    (size_t)cl->splits[split] + 1 < chunk)
			chunk = (size_t)cl->splits[split] + 1;
		n = send(cl->fd, cl->stream + pos, chunk,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				continue;
			pos = cl->stream_len;	/* EPIPE: server closed */
			continue;
		}
		pos += (size_t)n;
		if (split < cl->splits_len && split < FUZZ_CONN_SPLITS_MAX) {
			split++;
			client_wait_consumed(cl);
		}
		/* The server has read bytes: its loop, and so its SIGTERM
		 * handler, is running. */
		if (cl->served && !signalled) {
			client_wait_consumed(cl);
			pthread_kill(cl->server, SIGTERM);
			signalled = 1;
		}
	}
	/* EOF: the server accepted and closed, so its loop is running. */
	if (cl->served && !signalled)
		pthread_kill(cl->server, SIGTERM);
	return NULL;
}

static struct async_app *
fuzz_app(unsigned mode)
{
	struct settings settings;
	char err[SA_ERROR_MAX];

	if (fuzz_apps[mode] != NULL)
		return fuzz_apps[mode];
	memset(&settings, 0, sizeof(settings));
	settings.sleep_us = 0;
	settings.sleep_all = 1;	/* every request takes the mode's path */
	settings.mode = mode == 0 ? MODE_BLOCK : mode == 1 ? MODE_TIMER :
	    MODE_OFFLOAD;
	settings.pool_threads = FUZZ_CONN_POOL_THREADS;
	settings.state_dir = "/nonexistent";
	settings.query_overrides = 0;	/* no ?sleep=3600 from the input */
	fuzz_apps[mode] = async_handler_new(&settings, err, sizeof(err));
	if (fuzz_apps[mode] == NULL) {
		fprintf(stderr, "fuzz_conn: async_handler_new: %s\n", err);
		abort();
	}
	return fuzz_apps[mode];
}

/* A listening AF_UNIX socket with an abstract, kernel-chosen name, and a
 * client already connected to it (queued in the backlog). */
static void
fuzz_listen_pair(int *listen_fd, int *client_fd)
{
	struct sockaddr_un addr;
	socklen_t len = sizeof(sa_family_t);

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	*listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(*listen_fd != -1);
	/* Binding only the family autobinds an abstract name (unix(7)). */
	FUZZ_CHECK(bind(*listen_fd, (struct sockaddr *)&addr, len) == 0);
	FUZZ_CHECK(listen(*listen_fd, 4) == 0);
	len = sizeof(addr);
	FUZZ_CHECK(getsockname(*listen_fd, (struct sockaddr *)&addr, &len) ==
	    0);
	*client_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(*client_fd != -1);
	FUZZ_CHECK(connect(*client_fd, (struct sockaddr *)&addr, len) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* As async_fcgi's main(): a peer that goes away is not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* The adopted route: this thread runs the loop until the connection is
 * gone.  Returns 0, or -1 if the server could not be set up. */
static int
fuzz_adopted(struct client *cl, const struct fcgi_server_options *options,
    struct async_app *app, pthread_t *thread)
{
	struct async_stats *stats = async_handler_stats(app);
	struct event_base *base;
	struct fcgi_server *srv;
	int sv[2], rc = -1;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ==
	    0);
	cl->fd = sv[1];
	if ((base = event_base_new()) == NULL)
		goto done;
	if ((srv = fcgi_server_new(base, options, app)) == NULL)
		goto done;
	if (fcgi_server_adopt(srv, sv[0]) == 0) {
		sv[0] = -1;
		FUZZ_CHECK(pthread_create(thread, NULL, client_main, cl) == 0);
		while (stats->connections > 0)
			if (event_base_loop(base, EVLOOP_ONCE) == -1)
				break;
		FUZZ_CHECK(pthread_join(*thread, NULL) == 0);
		rc = 0;
	}
	sv[0] = -1;	/* adopt() took it, also on failure */
	fcgi_server_free(srv);
done:
	if (base != NULL)
		event_base_free(base);
	if (sv[0] != -1)
		close(sv[0]);
	return rc;
}

/* The served route: fcgi_server_run() on this thread until SIGTERM. */
static int
fuzz_served(struct client *cl, const struct fcgi_server_options *options,
    struct async_app *app, pthread_t *thread)
{
	int listen_fd, rc;

	fuzz_listen_pair(&listen_fd, &cl->fd);
	cl->served = 1;
	cl->server = pthread_self();
	FUZZ_CHECK(pthread_create(thread, NULL, client_main, cl) == 0);
	rc = fcgi_server_run(listen_fd, options, app);	/* closes listen_fd */
	FUZZ_CHECK(pthread_join(*thread, NULL) == 0);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_server_options options = {
		.max_params = SA_FCGI_PARAMS_MAX,
		.max_stdin = SA_FCGI_STDIN_MAX,
		.max_conns = 4,
		.max_requests = SA_FCGI_REQS_MAX,
		.idle_ms = FUZZ_CONN_IDLE_MS,
		.high_water = SA_FCGI_HIGH_WATER,
		.drain_ms = FUZZ_CONN_IDLE_MS,
		.stall_ms = 60000,
	};
	struct client cl;
	struct async_app *app;
	struct async_stats *stats;
	struct offload_pool *pool;
	pthread_t thread;
	int rc;
	uint8_t flags;
	size_t splits;

	if (size < 2)
		return 0;
	flags = data[0];
	splits = data[1];
	if (splits > size - 2)
		splits = size - 2;
	if (flags & FUZZ_CONN_SMALL_CAPS)
		options.max_params = options.max_stdin = FUZZ_CONN_SMALL_CAP;
	if (flags & FUZZ_CONN_NO_ADMIT)
		options.max_requests = 0;
	if (flags & FUZZ_CONN_TINY_WATER)
		options.high_water = 1;
	app = fuzz_app((flags & FUZZ_CONN_MODE_MASK) == 3 ? 1 :
	    flags & FUZZ_CONN_MODE_MASK);
	stats = async_handler_stats(app);
	pool = async_handler_pool(app);

	memset(&cl, 0, sizeof(cl));
	cl.fd = -1;
	cl.splits = data + 2;
	cl.splits_len = splits;
	cl.stream = data + 2 + splits;
	cl.stream_len = size - 2 - splits;
	cl.linger = (flags & FUZZ_CONN_LINGER) != 0;
	cl.deadline_us = clock_mono_us() + FUZZ_CONN_DEADLINE_US;
	if (flags & FUZZ_CONN_SERVED)
		rc = fuzz_served(&cl, &options, app, &thread);
	else
		rc = fuzz_adopted(&cl, &options, app, &thread);
	if (cl.fd != -1)
		close(cl.fd);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(cl.peer_closed);
	/* Every connection freed, every request counted out. */
	FUZZ_CHECK(stats->connections == 0);
	FUZZ_CHECK(stats->in_flight == 0);
	/* Offloaded jobs whose connection went away still finish on a
	 * worker; collect them so they are freed now, not at exit. */
	while (offload_pool_busy(pool) != 0 || offload_pool_queued(pool) != 0)
		sched_yield();
	offload_pool_drain(pool);
	return 0;
}
