/* SPDX-License-Identifier: ISC */
/*
 * sync_worker.c - one /pool FastCGI worker (sync_worker.h).
 *
 * The struct sync_io implementation over libfcgi (FCGX_GetParam on the
 * request's environment, FCGX_PutStr on its output stream) and the accept
 * loop.  libfcgi is given no listening socket (FCGX_InitRequest with -1):
 * the worker accepts, the gate checks the head, and only then is the
 * connection put in the request (ipcFd) for FCGX_Accept_r to read.  The
 * worker closes the connection itself: libfcgi's close reads the peer
 * until it is silent for 2 s, which a peer sending a byte a second makes
 * last for ever ("detached" turns that off); the worker waits for the
 * peer's close too, but SA_POOL_LINGER_MS in all.
 */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/settings.h"
#include "common/supervise.h"
#include "sync_cgi/sync_gate.h"
#include "sync_cgi/sync_handler.h"
#include "sync_cgi/sync_worker.h"

#ifndef SYNCASYNC_STATE_DIR
#define SYNCASYNC_STATE_DIR "/var/lib/syncasync"
#endif

static volatile sig_atomic_t sync_worker_stopping;
static volatile sig_atomic_t sync_worker_listen_fd = -1;
static char sync_worker_sink[16384];	/* what the peer sent, dropped */

/*
 * SIGTERM, SIGINT, SIGHUP: finish the request in hand, accept no other.
 * Installed without SA_RESTART so that a blocked accept(2) returns EINTR.
 * Closing our descriptor of the listening socket closes the window between
 * the loop's check of the flag and its accept(2): that accept fails at
 * once.  Only this process's descriptor goes; the other workers sharing the
 * socket keep serving.  The sleep of a request in hand resumes after the
 * signal (clock_sleep_us), and so does the gate's wait.
 */
static void
sync_worker_on_stop(int signo)
{
	int saved_errno = errno;
	int fd = sync_worker_listen_fd;

	sync_worker_stopping = signo;
	if (fd != -1) {
		sync_worker_listen_fd = -1;
		close(fd);
	}
	errno = saved_errno;
}

static const char *
sync_worker_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

/* Buffered by libfcgi; FCGX_Finish_r() sends what is left. */
static int
sync_worker_write(void *ctx, const void *data, size_t len)
{
	FCGX_Request *request = ctx;

	if (len > INT_MAX)
		return -1;
	return FCGX_PutStr(data, (int)len, request->out) == (int)len ? 0 : -1;
}

/*
 * Closes a connection the gate did not pass, without waiting: what the peer
 * sent and nobody read is read first, so that the close does not reset the
 * connection under a refusal, then the write side is shut.
 */
static void
sync_worker_close(int fd)
{
	size_t total = 0;
	ssize_t n;

	while (total < SA_POOL_HEAD_MAX &&
	    (n = recv(fd, sync_worker_sink, sizeof(sync_worker_sink),
	    MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	shutdown(fd, SHUT_WR);
	close(fd);
}

/*
 * Closes a connection after its answer once the peer has closed its side.
 * The answer can be complete before the request is (the gate passes it at
 * the end of PARAMS): Apache's mod_proxy_fcgi writes the empty STDIN after
 * PARAMS from the loop that then reads the answer, and a close before that
 * write fails it (EPIPE; on TCP a reset), for a 503 (AH01075 "sending empty
 * stdin").  So the write side is shut (the peer has the answer and the end
 * of the stream at once) and what the peer sends is dropped until it
 * closes, SA_POOL_LINGER_MS and SA_POOL_HEAD_MAX bytes at most.
 */
static void
sync_worker_linger(int fd)
{
	int64_t until_us = clock_mono_us() + (int64_t)SA_POOL_LINGER_MS * 1000;
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t total = 0;
	int64_t left_ms;
	ssize_t n;

	shutdown(fd, SHUT_WR);
	while (total < SA_POOL_HEAD_MAX) {
		if ((n = recv(fd, sync_worker_sink, sizeof(sync_worker_sink),
		    MSG_DONTWAIT)) > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			break;		/* the peer closed, or is gone */
		if ((left_ms = (until_us - clock_mono_us() + 999) / 1000) <= 0)
			break;
		(void)poll(&pfd, 1, (int)left_ms);	/* EINTR: look again */
	}
	close(fd);
}

/*
 * Serves the connection fd: the gate, then libfcgi and the handler.  The
 * connection is closed when it returns; 1 if a request was served, else 0.
 */
static int
sync_worker_one(FCGX_Request *request, int fd, unsigned capacity,
    const struct settings *settings, const char *error)
{
	struct sync_io io = { sync_worker_param, sync_worker_write, request };
	int rc, one = 1;

	/* As libfcgi does: no replies to wait for (fails on AF_UNIX). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sync_gate_check(fd, clock_mono_us() +
	    (int64_t)SA_POOL_READ_MS * 1000, capacity) != SYNC_GATE_PASS) {
		sync_worker_close(fd);
		return 0;
	}
	/* keepConnection: FCGX_Accept_r first "finishes" the previous
	 * request and must not close fd doing it. */
	request->ipcFd = fd;
	request->keepConnection = 1;
	request->detached = 1;
	if ((rc = FCGX_Accept_r(request)) < 0) {
		/* libfcgi closed fd, then could not accept on -1. */
		fprintf(stderr, "sync_cgi: pid %ld: libfcgi refused a request "
		    "head the gate passed\n", (long)getpid());
		request->ipcFd = -1;
		return 0;
	}
	sync_handler_serve(&io, settings, error);
	/* Closed here, even with FCGI_KEEP_CONN: see sync_worker.h. */
	request->keepConnection = 1;
	request->detached = 1;
	FCGX_Finish_r(request);
	if (request->ipcFd != -1)
		sync_worker_linger(request->ipcFd);
	request->ipcFd = -1;
	request->detached = 0;
	return 1;
}

/*
 * Waits for a connection on a listening socket that is non-blocking
 * (accept4 said EAGAIN: none queued, or another worker took it).  The
 * socket's O_NONBLOCK is left as it is: it belongs to the open file
 * description, shared with whoever passed the socket (systemd's
 * NonBlocking=yes, a spawner) and with the other workers.  poll(2) wakes
 * every idle worker for each connection, and all but one go back to
 * waiting (on a blocking socket accept(2) wakes one).  A stop signal
 * interrupts the poll (EINTR); one that came just before it has closed
 * listen_fd, and poll returns at once (POLLNVAL).  0, or -1 if the socket
 * was shut down (POLLHUP, POLLERR: a unix socket then says EAGAIN for
 * ever).
 */
static int
sync_worker_wait_listener(int listen_fd)
{
	struct pollfd pfd = { listen_fd, POLLIN, 0 };

	if (poll(&pfd, 1, -1) == 1 && (pfd.revents & (POLLHUP | POLLERR)) != 0)
		return -1;
	return 0;
}

/* Sets signo's disposition to handler (SIG_IGN or a function). */
static void
sync_worker_signal(int signo, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handler;
	sa.sa_flags = 0;	/* no SA_RESTART: see sync_worker_on_stop */
	sigaction(signo, &sa, NULL);
}

int
sync_worker_serve(int listen_fd, unsigned capacity)
{
	struct settings settings;
	char error[SA_ERROR_MAX];
	FCGX_Request request;
	unsigned long long served = 0;
	const char *why;
	int ok, fd, status = 0;

	ok = settings_load(&settings, SYNCASYNC_STATE_DIR, error,
	    sizeof(error)) == 0;
	/* Before FCGX_Init(), which would take SIGTERM where it is unset. */
	sync_worker_listen_fd = listen_fd;
	sync_worker_signal(SIGTERM, sync_worker_on_stop);
	sync_worker_signal(SIGINT, sync_worker_on_stop);
	sync_worker_signal(SIGHUP, sync_worker_on_stop);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&request, -1, 0) != 0) {
		fprintf(stderr, "sync_cgi: libfcgi could not be initialised\n");
		return 1;
	}
	/* After it: it replaces SIG_IGN on SIGUSR1 and SIGPIPE. */
	sync_worker_signal(SIGUSR1, SIG_IGN);
	sync_worker_signal(SIGUSR2, SIG_IGN);
	sync_worker_signal(SIGALRM, SIG_IGN);
	sync_worker_signal(SIGPIPE, SIG_IGN);	/* a peer gone: write error */

	supervise_ready();	/* a no-op in a lone worker */
	if (ok)
		fprintf(stderr, "sync_cgi: pid %ld: FastCGI worker ready\n",
		    (long)getpid());
	else
		fprintf(stderr, "sync_cgi: pid %ld: FastCGI worker: %s; every "
		    "request will get a 500 naming it\n", (long)getpid(), error);
	while (!sync_worker_stopping) {
		if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (sync_worker_stopping)
				break;
			/* Peers that left before accept(2) got to them. */
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO || errno == ENETDOWN ||
			    errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			why = strerror(errno);
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (sync_worker_wait_listener(listen_fd) == 0)
					continue;
				why = "the listening socket was shut down";
			}
			fprintf(stderr, "sync_cgi: pid %ld: accepting failed: "
			    "%s\n", (long)getpid(), why);
			status = 1;
			break;
		}
		served += (unsigned)sync_worker_one(&request, fd, capacity,
		    ok ? &settings : NULL, error);
	}
	FCGX_Free(&request, 0);
	if (sync_worker_stopping)
		fprintf(stderr, "sync_cgi: pid %ld: stopping after %llu "
		    "request(s)\n", (long)getpid(), served);
	return status;
}
