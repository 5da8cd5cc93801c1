/* SPDX-License-Identifier: ISC */
/*
 * main.c - async_fcgi: the single-threaded libevent FastCGI responder.
 *
 * Options, the listening socket, then the loop (fcgi_server).  err()-style
 * exits happen only here, before the loop runs: a bad option or setting is
 * named and the process exits 2; nothing a peer sends later can end it.
 *
 * The listening socket is, in order: --listen unix:PATH | [HOST:]PORT; a
 * systemd socket (LISTEN_PID/LISTEN_FDS, descriptor 3); descriptor 0 when it
 * is a listening socket (the FastCGI convention of lighttpd's bin-path,
 * spawn-fcgi and mod_fcgid).  Started by hand with none of these it says
 * how it is meant to be started.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/fcgi_server.h"
#include "async_fcgi/worker_slots.h"
#include "common/limits.h"
#include "common/listen.h"
#include "common/number.h"
#include "common/settings.h"
#include "common/stderr_log.h"
#include "common/supervise.h"

_Static_assert(SA_FCGI_WORKERS_MAX <= SA_SUPERVISE_WORKERS_MAX,
    "--workers within what the supervisor holds");

static void
usage(FILE *out)
{
	fprintf(out,
"usage: async_fcgi [options]\n"
"\n"
"A single-threaded libevent FastCGI responder for /async (and /async/stats).\n"
"It listens on descriptor 0 when that is a listening socket (lighttpd\n"
"bin-path, spawn-fcgi), on a systemd socket (LISTEN_FDS), or where --listen\n"
"says, e.g.  async_fcgi --listen unix:/run/syncasync/async.sock\n"
"            async_fcgi --listen 127.0.0.1:9000   (a bare port means 127.0.0.1)\n"
"\n"
"Options (they win over the environment):\n"
"  -l, --listen ADDR         unix:PATH (mode 0660) or [HOST:]PORT\n"
"  -m, --mode MODE           block, timer (alias async) or offload\n"
"  -s, --sleep SECONDS       how long the sleeper sleeps\n"
"  -n, --sleep-on SET        which requests sleep: 5, 5,7, 3-6, 5/10 (5, 15,\n"
"                            25, ...), all; 0 = none\n"
"  -t, --pool-threads N      offload pool size\n"
"      --pool-queue N        offload jobs waiting; more get FCGI_OVERLOADED [%lu]\n"
"      --max-conns N         open connections [%lu]\n"
"      --max-requests N      requests in flight; more get FCGI_OVERLOADED [%lu]\n"
"      --max-params BYTES    FastCGI PARAMS per request [%lu]\n"
"      --max-stdin BYTES     request body per request [%lu]\n"
"      --idle-timeout MS     close a silent peer after MS [%lu]\n"
"      --request-timeout MS  from BEGIN_REQUEST to the end of STDIN [%lu]\n"
"      --min-rate BYTES      a request older than %lu ms must average this\n"
"                            many bytes/s; 0 = no minimum [%lu]\n"
"      --high-water BYTES    pause reading a peer with this much unsent [%lu]\n"
"      --drain-timeout MS    on SIGTERM, how long requests may finish [%lu]\n"
"      --stall-ms MS         loop watchdog: log stalls longer than MS [%lu]\n"
"  -w, --workers N           N loops (processes) on the one socket, supervised;\n"
"                            request numbers stay global [1, at most %u]\n"
"  -h, --help                this text\n"
"  -V, --version             the version\n"
"\n"
"Environment (doc/ARCHITECTURE.md; defaults reproduce the experiment):\n"
"  SYNCASYNC_SLEEP_SECONDS [20]  SYNCASYNC_SLEEP_ON [5]  SYNCASYNC_ASYNC_MODE [block]\n"
"  SYNCASYNC_POOL_THREADS [40]   SYNCASYNC_POOL_QUEUE [%lu]\n"
"  SYNCASYNC_QUERY_OVERRIDES [0] (1: ?sleep=, ?mode=)\n"
"  SYNCASYNC_WORK [sleep]: the sleeper's work, sleep, db or http\n"
"  SYNCASYNC_DB (libpq conninfo, for db)  SYNCASYNC_DB_POOL [10] connections\n"
"  SYNCASYNC_UPSTREAM (URL, for http)     SYNCASYNC_UPSTREAM_TIMEOUT [30] seconds\n",
	    SA_POOL_QUEUE_DEFAULT,
	    SA_FCGI_CONNS_MAX, SA_FCGI_REQS_MAX, SA_FCGI_PARAMS_MAX,
	    SA_FCGI_STDIN_MAX, SA_FCGI_IDLE_MS, SA_FCGI_REQUEST_MS,
	    SA_FCGI_RATE_GRACE_MS, SA_FCGI_MIN_RATE, SA_FCGI_HIGH_WATER,
	    SA_FCGI_DRAIN_MS, SA_WATCHDOG_STALL_MS, SA_FCGI_WORKERS_MAX,
	    SA_POOL_QUEUE_DEFAULT);
}

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Before the loop only: names what is wrong and exits 2. */
static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "async_fcgi: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t
option_uint(const char *name, const char *text, uint64_t min, uint64_t max)
{
	uint64_t value = 0;

	if (number_parse_uint(text, min, max, &value) != NUMBER_OK) {
		fprintf(stderr, "async_fcgi: --%s \"%s\": must be a whole "
		    "number from %llu to %llu\n", name, text,
		    (unsigned long long)min, (unsigned long long)max);
		exit(2);
	}
	return value;
}

/* Where the listening socket fd listens: "unix:PATH", "HOST:PORT". */
static void
listener_name(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(out, outlen, "an unknown socket");
		return;
	}
	switch (ss.ss_family) {
	case AF_UNIX:
		if (sun->sun_path[0] == '\0')
			snprintf(out, outlen, "an unnamed unix socket");
		else
			snprintf(out, outlen, "unix:%.*s",
			    (int)sizeof(sun->sun_path), sun->sun_path);
		return;
	case AF_INET:
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		    sizeof(host));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(out, outlen, "%s:%u", host, port);
		return;
	case AF_INET6:
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		snprintf(out, outlen, "[%s]:%u", host, port);
		return;
	}
	snprintf(out, outlen, "a socket of family %d", (int)ss.ss_family);
}

/* Raises the descriptor limit to its hard cap; clamps max_conns to fit. */
static void
fit_descriptors(struct fcgi_server_options *opt)
{
	struct rlimit rl;
	uint64_t usable;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	usable = rl.rlim_cur > SA_FCGI_FD_RESERVE + 1 ?
	    rl.rlim_cur - SA_FCGI_FD_RESERVE : 1;
	if (opt->max_conns > usable) {
		fprintf(stderr, "async_fcgi: %llu descriptors allowed: serving "
		    "at most %llu connections, not %u\n",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)usable,
		    opt->max_conns);
		opt->max_conns = (unsigned)usable;
	}
}

/* What a worker needs: everything main() read, before any thread. */
struct main_worker {
	struct settings		settings;
	struct fcgi_server_options opt;
	struct worker_slots    *slots;	/* NULL: the only process */
	int			fd;
	char			where[sizeof(struct sockaddr_un) + 8];
};

/*
 * One loop: the application (its pool's threads start here), then the
 * server until it drains.  Run by main() itself, or by each forked worker
 * (supervise.h).  Returns the process's exit status.
 */
static int
main_serve(void *arg, unsigned index)
{
	const struct main_worker *w = arg;
	char error[SA_ERROR_MAX], sleepers[SA_SETTING_MAX], who[48] = "";
	struct async_app *app;
	int rc;

	if ((app = async_handler_new(&w->settings, error, sizeof(error))) ==
	    NULL) {
		fprintf(stderr, "async_fcgi: %s\n", error);
		return 2;
	}
	if (w->slots != NULL) {
		async_handler_share(app, w->slots, index);
		worker_slots_set_pid(w->slots, index, (long)getpid());
		supervise_ready();
		snprintf(who, sizeof(who), "worker %u of %u, ", index,
		    worker_slots_count(w->slots));
	}
	settings_sleep_on_text(&w->settings, sleepers, sizeof(sleepers));
	fprintf(stderr, "async_fcgi: %slistening on %s (fd %d), mode %s, "
	    "pid %ld; sleepers %s, %llu.%03llu s\n", who, w->where, w->fd,
	    settings_mode_name(w->settings.mode), (long)getpid(), sleepers,
	    (unsigned long long)(w->settings.sleep_us / 1000000),
	    (unsigned long long)(w->settings.sleep_us % 1000000 / 1000));
	rc = fcgi_server_run(w->fd, &w->opt, app);
	if (rc == 1)		/* told to stop now: do not wait for workers */
		_exit(0);
	async_handler_free(app);
	return rc == 0 ? 0 : 1;
}

/* The supervisor's first line, its signals held (supervise.h, started). */
static void
main_supervisor_started(void *arg)
{
	const struct main_worker *w = arg;

	fprintf(stderr, "async_fcgi: supervisor pid %ld: %u workers\n",
	    (long)getpid(), worker_slots_count(w->slots));
}

/* A worker is gone: its slot's gauges are zeroed (supervise.h, gone). */
static void
main_worker_gone(void *arg, unsigned index)
{
	const struct main_worker *w = arg;

	worker_slots_set_pid(w->slots, index, 0);
}

/* --workers N: the supervisor of N loops on one socket (supervise.h).  A
 * worker's drain is its own (--drain-timeout); what outlives it by
 * SA_FCGI_KILL_GRACE_MS is killed.  The exit status. */
static int
main_supervise(struct main_worker *w, unsigned workers)
{
	struct supervise_config config;
	int rc;

	memset(&config, 0, sizeof(config));
	config.name = "async_fcgi: supervisor";
	config.workers = workers;
	config.stop_ms = w->opt.drain_ms + (unsigned)SA_FCGI_KILL_GRACE_MS;
	config.again_ms = (unsigned)SA_FCGI_KILL_GRACE_MS;
	config.worker = main_serve;
	config.started = main_supervisor_started;
	config.gone = main_worker_gone;
	config.ctx = w;
	rc = supervise_run(&config);
	return rc == -1 ? 2 : rc;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_MAX_CONNS = 256, OPT_MAX_REQUESTS, OPT_MAX_PARAMS,
		OPT_MAX_STDIN, OPT_IDLE, OPT_HIGH_WATER, OPT_DRAIN, OPT_STALL,
		OPT_POOL_QUEUE, OPT_REQUEST_TIMEOUT, OPT_MIN_RATE,
	};
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "mode", required_argument, NULL, 'm' },
		{ "sleep", required_argument, NULL, 's' },
		{ "sleep-on", required_argument, NULL, 'n' },
		{ "pool-threads", required_argument, NULL, 't' },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "max-requests", required_argument, NULL, OPT_MAX_REQUESTS },
		{ "max-params", required_argument, NULL, OPT_MAX_PARAMS },
		{ "max-stdin", required_argument, NULL, OPT_MAX_STDIN },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "high-water", required_argument, NULL, OPT_HIGH_WATER },
		{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
		{ "stall-ms", required_argument, NULL, OPT_STALL },
		{ "pool-queue", required_argument, NULL, OPT_POOL_QUEUE },
		{ "request-timeout", required_argument, NULL,
		    OPT_REQUEST_TIMEOUT },
		{ "min-rate", required_argument, NULL, OPT_MIN_RATE },
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct fcgi_server_options opt = {
		SA_FCGI_PARAMS_MAX, SA_FCGI_STDIN_MAX, SA_FCGI_CONNS_MAX,
		SA_FCGI_REQS_MAX, SA_FCGI_IDLE_MS, SA_FCGI_HIGH_WATER,
		SA_FCGI_DRAIN_MS, SA_WATCHDOG_STALL_MS, SA_FCGI_REQUEST_MS,
		SA_FCGI_MIN_RATE,
	};
	static struct main_worker w;
	struct settings settings;
	char error[SA_ERROR_MAX];
	const char *listen_spec = NULL;
	sigset_t stop_signals;
	unsigned workers = 1;
	int ch, fd, rc;

	/* Under a daemonised lighttpd without breakagelog: syslog. */
	stderr_log_init("async_fcgi");
	if (settings_load(&settings, "", error, sizeof(error)) == -1)
		die("%s", error);
	while ((ch = getopt_long(argc, argv, "l:m:s:n:t:w:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'm':
			if (settings_parse_mode(optarg, &settings.mode) == -1)
				die("--mode %s: must be block, timer (or async) "
				    "or offload", optarg);
			break;
		case 's':
			if (number_parse_seconds(optarg, SA_SLEEP_MAX_US,
			    &settings.sleep_us) != NUMBER_OK)
				die("--sleep %s: must be seconds from 0 to 3600",
				    optarg);
			break;
		case 'n':
			if (settings_parse_sleep_on(optarg, &settings, error,
			    sizeof(error)) == -1)
				die("--sleep-on \"%s\": %s", optarg, error);
			break;
		case 't':
			settings.pool_threads = option_uint("pool-threads",
			    optarg, 1, SA_POOL_THREADS_MAX);
			break;
		case OPT_MAX_CONNS:
			opt.max_conns = (unsigned)option_uint("max-conns",
			    optarg, 1, SA_FCGI_CONNS_OPT_MAX);
			break;
		case OPT_MAX_REQUESTS:
			opt.max_requests = (unsigned)option_uint("max-requests",
			    optarg, 1, SA_FCGI_REQS_OPT_MAX);
			break;
		case OPT_MAX_PARAMS:
			opt.max_params = option_uint("max-params", optarg,
			    SA_FCGI_PARAMS_OPT_MIN, SA_FCGI_PARAMS_OPT_MAX);
			break;
		case OPT_MAX_STDIN:
			opt.max_stdin = option_uint("max-stdin", optarg, 0,
			    SA_FCGI_STDIN_OPT_MAX);
			break;
		case OPT_IDLE:
			opt.idle_ms = (unsigned)option_uint("idle-timeout",
			    optarg, 1, SA_FCGI_MS_OPT_MAX);
			break;
		case OPT_HIGH_WATER:
			opt.high_water = option_uint("high-water", optarg,
			    SA_FCGI_HIGH_WATER_OPT_MIN,
			    SA_FCGI_HIGH_WATER_OPT_MAX);
			break;
		case OPT_DRAIN:
			opt.drain_ms = (unsigned)option_uint("drain-timeout",
			    optarg, 0, SA_FCGI_MS_OPT_MAX);
			break;
		case OPT_STALL:
			opt.stall_ms = (unsigned)option_uint("stall-ms", optarg,
			    1, SA_FCGI_MS_OPT_MAX);
			break;
		case OPT_POOL_QUEUE:
			settings.pool_queue = option_uint("pool-queue", optarg,
			    0, SA_POOL_QUEUE_MAX);
			break;
		case OPT_REQUEST_TIMEOUT:
			opt.request_ms = (unsigned)option_uint(
			    "request-timeout", optarg, 1, SA_FCGI_MS_OPT_MAX);
			break;
		case OPT_MIN_RATE:
			opt.min_rate = (unsigned)option_uint("min-rate", optarg,
			    0, SA_FCGI_RATE_OPT_MAX);
			break;
		case 'w':
			workers = (unsigned)option_uint("workers", optarg, 1,
			    SA_FCGI_WORKERS_MAX);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("async_fcgi (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\" (see --help)", argv[optind]);

	signal(SIGPIPE, SIG_IGN);
	/*
	 * SIGTERM and SIGINT wait (blocked) until the loop can drain on them:
	 * fcgi_server_run() unblocks them once its handlers are in place, so
	 * one that arrives while the pool starts is not lost and does not
	 * kill the process outright.  Blocked before the socket exists, so
	 * a signal sent as soon as it appears is held too.  The pool's threads
	 * inherit the mask.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);	/* and these are only logged */
	sigaddset(&stop_signals, SIGUSR1);
	sigaddset(&stop_signals, SIGUSR2);
	sigaddset(&stop_signals, SIGALRM);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	if (listen_spec != NULL) {
		char listen_error[SA_ERROR_MAX];

		if ((fd = listen_open(listen_spec, listen_error,
		    sizeof(listen_error))) == -1)
			die("%s", listen_error);
	} else if ((fd = listen_systemd("async_fcgi")) == -1) {
		if (!listen_is_listening(0)) {
			fprintf(stderr, "async_fcgi: descriptor 0 is not a "
			    "listening socket and no --listen was given.\n\n");
			usage(stderr);
			return 2;
		}
		fd = 0;
	}
	fit_descriptors(&opt);
	w.settings = settings;
	w.opt = opt;
	w.fd = fd;
	listener_name(fd, w.where, sizeof(w.where));
	if (workers == 1)
		rc = main_serve(&w, 0);
	else {
		/* Before any fork: the counter and the slots are shared. */
		if ((w.slots = worker_slots_new(workers, error,
		    sizeof(error))) == NULL)
			die("%s", error);
		rc = main_supervise(&w, workers);
		worker_slots_free(w.slots);
		close(fd);
	}
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5);	/* the socket we created */
	return rc;
}
