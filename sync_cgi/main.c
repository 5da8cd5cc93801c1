/* SPDX-License-Identifier: ISC */
/*
 * main.c - sync_cgi: the /sync backend, as a CGI program or a FastCGI worker.
 *
 * CGI (RFC 3875): exec'd once per request, it answers from its environment
 * and exits; nothing is set up before the request needs it, and its command
 * line is ignored (RFC 3875, 4.4: for a query without '=', as /sync?foo,
 * Apache passes the query's words as arguments; the query itself is read
 * from QUERY_STRING).  Worker (/pool):
 * given a listening socket (descriptor 0, a systemd socket or --listen) it
 * serves FastCGI until SIGTERM, alone or as a pre-forked pool
 * (sync_worker.h, common/supervise.h).
 * Both serve through sync_handler.h.  The mode is told by
 * listen_is_listening(0), never FCGX_IsCGI(), so a CGI process keeps
 * SIGTERM's default action (doc/DESIGN-NOTES.md, "sync_cgi").
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/listen.h"
#include "common/number.h"
#include "common/settings.h"
#include "common/stderr_log.h"
#include "common/supervise.h"
#include "sync_cgi/sync_handler.h"
#include "sync_cgi/sync_worker.h"

#ifndef SYNCASYNC_STATE_DIR
#define SYNCASYNC_STATE_DIR "/var/lib/syncasync"
#endif

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: sync_cgi [--listen ADDR] [--workers N] | --help | --version\n"
	    "\n"
	    "sync_cgi is a CGI program (RFC 3875): a web server runs it once per\n"
	    "request for GET or HEAD /sync, e.g. lighttpd with mod_cgi or Apache\n"
	    "with mod_cgid.  Run from a shell it has no request to answer.\n"
	    "\n"
	    "It is also a FastCGI worker (/pool) that serves requests one at a\n"
	    "time until SIGTERM, when it is started with a listening socket on\n"
	    "descriptor 0 (lighttpd bin-path, spawn-fcgi, mod_fcgid), a systemd\n"
	    "socket (LISTEN_FDS), or\n"
	    "  -l, --listen ADDR   unix:PATH (mode 0660) or [HOST:]PORT\n"
	    "                      (a bare port means 127.0.0.1)\n"
	    "  -w, --workers N     fork N workers sharing the socket and keep\n"
	    "                      them running (a pre-forked pool) [1 to %u]\n"
	    "\n"
	    "Environment (defaults reproduce the published experiment):\n"
	    "  SYNCASYNC_SLEEP_SECONDS   how long the sleeper sleeps [20]\n"
	    "  SYNCASYNC_SLEEP_ON        which requests sleep: 5, 5,7, 3-6, 5/10\n"
	    "                            (5, 15, 25, ...), all; 0 = none [5]\n"
	    "  SYNCASYNC_STATE_DIR       where the shared counter lives [%s]\n"
	    "  SYNCASYNC_QUERY_OVERRIDES 1 lets a request carry ?sleep=SECONDS [0]\n"
	    "  SYNCASYNC_WORK            the sleeper's work: sleep, db or http [sleep]\n"
	    "  SYNCASYNC_DB              libpq conninfo, for db\n"
	    "  SYNCASYNC_UPSTREAM        URL of a slow upstream, for http\n"
	    "  SYNCASYNC_UPSTREAM_TIMEOUT seconds before the upstream gets 504 [30]\n",
	    SA_POOL_WORKERS_MAX, SYNCASYNC_STATE_DIR);
}

/* --- CGI: the request is this process's environment and stdout ----------- */

/* Whether the web server gave us a request (RFC 3875, 4.1). */
static int
cgi_environment(void)
{
	return getenv("GATEWAY_INTERFACE") != NULL ||
	    getenv("REQUEST_METHOD") != NULL;
}

static const char *
cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

/* The whole response, straight to descriptor 1 (no stdio buffer: one
 * write(2) for the one buffer the handler hands over).  ctx counts failures. */
static int
cgi_write(void *ctx, const void *data, size_t len)
{
	const char *p = data;
	ssize_t done;

	while (len > 0) {
		done = write(STDOUT_FILENO, p, len);
		if (done == -1 && errno == EINTR)
			continue;
		if (done <= 0) {
			++*(int *)ctx;
			return -1;
		}
		p += done;
		len -= (size_t)done;
	}
	return 0;
}

/* Serves the one request of a CGI process.  Exit status. */
static int
cgi_serve(void)
{
	struct settings settings;
	char error[SA_ERROR_MAX];
	int failed_writes = 0;
	struct sync_io io = { cgi_param, cgi_write, &failed_writes };
	int ok;

	ok = settings_load(&settings, SYNCASYNC_STATE_DIR, error,
	    sizeof(error)) == 0;
	if (!ok) {
		stderr_log_init("sync_cgi");
		fprintf(stderr, "sync_cgi: %s\n", error);
	}
	sync_handler_serve(&io, ok ? &settings : NULL, error);
	return failed_writes == 0 ? 0 : 1;
}

/* A whole number option in [min, max], or exit 2 naming it. */
static unsigned
option_uint(const char *name, const char *text, unsigned min, unsigned max)
{
	uint64_t value = 0;

	if (number_parse_uint(text, min, max, &value) != NUMBER_OK) {
		fprintf(stderr, "sync_cgi: --%s \"%s\": must be a whole number "
		    "from %u to %u\n", name, text, min, max);
		exit(2);
	}
	return (unsigned)value;
}

/* --- /pool: workers on one listening socket -------------------------------- */

_Static_assert(SA_POOL_WORKERS_MAX <= SA_SUPERVISE_WORKERS_MAX,
    "--workers within what the supervisor holds");

struct pool {
	int		fd;
	unsigned	workers;
};

/* One forked worker of the pool (supervise.h). */
static int
pool_worker(void *ctx, unsigned index)
{
	const struct pool *pool = ctx;

	(void)index;
	return sync_worker_serve(pool->fd, pool->workers);
}

/* The pool's first line, its signals held (supervise.h, started). */
static void
pool_started(void *ctx)
{
	const struct pool *pool = ctx;

	fprintf(stderr, "sync_cgi: pid %ld: supervising a pool of %u FastCGI "
	    "workers\n", (long)getpid(), pool->workers);
}

/*
 * The pool: N workers accepting on one shared socket, as gunicorn's sync
 * workers and PHP-FPM do, so a sleeper holds only its own worker and once
 * all N are busy the next connections wait in the socket's backlog (not
 * lighttpd's "max-procs" N, which gives each process its own socket and
 * queues requests behind a sleeper: doc/DESIGN-NOTES.md, "sync_cgi").  A
 * worker killed by a signal is replaced at once however young: libfcgi
 * aborts on some peers' bytes (sync_cgi(8) BUGS), and a peer must not be
 * able to empty the pool.  SIGHUP restarts the workers, which read the
 * settings again.  Exit status 0 once stopped, 1 when no worker started.
 */
static int
pool_serve(int fd, unsigned workers)
{
	struct pool pool = { fd, workers };
	struct supervise_config config;

	memset(&config, 0, sizeof(config));
	config.name = "sync_cgi: pool";
	config.workers = workers;
	config.stop_ms = (unsigned)SA_POOL_DRAIN_MS;
	config.again_ms = 0;
	config.hup_restarts = 1;
	config.killed_at_once = 1;
	config.worker = pool_worker;
	config.started = pool_started;
	config.ctx = &pool;
	return supervise_run(&config) == -1 ? 1 : 0;
}

/* Serves on fd: one worker in this process, or a pool of workers. */
static int
serve_fastcgi(int fd, unsigned workers)
{
	return workers == 0 ? sync_worker_serve(fd, 1) :
	    pool_serve(fd, workers);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_spec = NULL;
	char error[SA_ERROR_MAX];
	unsigned workers = 0;
	int ch, fd, status, systemd_fd = -1;

	/*
	 * A CGI request (a CGI environment, no socket of ours: a LISTEN_FDS
	 * the web server left in the environment is not) is served before
	 * getopt: its arguments, if any, are a search query's words that a
	 * peer chose (RFC 3875, 4.4), never options (?--listen+unix:PATH must
	 * not make a server).  It sets up its log stream only when it has a
	 * line to write (stderr_log_init() in cgi_serve() and sync_handler.c):
	 * making the stream costs every request a heap (doc/DESIGN-NOTES.md,
	 * "Start-up cost").
	 */
	if (!listen_is_listening(0) && cgi_environment()) {
		if (getenv("LISTEN_FDS") == NULL)
			return cgi_serve();
		stderr_log_init("sync_cgi");	/* before listen_systemd's line */
		if ((systemd_fd = listen_systemd("sync_cgi")) == -1)
			return cgi_serve();
	}
	/* Under a daemonised lighttpd without breakagelog: syslog. */
	stderr_log_init("sync_cgi");
	while ((ch = getopt_long(argc, argv, "l:w:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'w':
			workers = option_uint("workers", optarg, 1,
			    SA_POOL_WORKERS_MAX);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sync_cgi (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (listen_spec != NULL) {
		if ((fd = listen_open(listen_spec, error, sizeof(error))) == -1) {
			fprintf(stderr, "sync_cgi: %s\n", error);
			return 2;
		}
		status = serve_fastcgi(fd, workers);
		if (strncmp(listen_spec, "unix:", 5) == 0)
			unlink(listen_spec + 5);	/* the socket we created */
		return status;
	}
	if (systemd_fd != -1 ||
	    (systemd_fd = listen_systemd("sync_cgi")) != -1)
		return serve_fastcgi(systemd_fd, workers);
	if (listen_is_listening(0))
		return serve_fastcgi(0, workers);

	/* A CGI environment was served above. */
	fprintf(stderr, "sync_cgi: no CGI environment "
	    "(GATEWAY_INTERFACE and REQUEST_METHOD are unset) and "
	    "descriptor 0 is not a listening socket\n\n");
	usage(stderr);
	return 2;
}
