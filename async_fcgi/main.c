/*
 * main.c - async_fcgi: the single-threaded libevent FastCGI responder.
 *
 * Options, the listening socket, then the loop (fcgi_conn).  err()-style
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

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "async_fcgi/async_handler.h"
#include "async_fcgi/fcgi_conn.h"
#include "common/limits.h"
#include "common/number.h"
#include "common/settings.h"

#define LISTEN_FDS_START 3	/* sd_listen_fds(3) */

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
"  -n, --sleep-on N|all      which request number sleeps; 0 = none\n"
"  -t, --pool-threads N      offload pool size\n"
"      --max-conns N         open connections [%lu]\n"
"      --max-requests N      requests in flight; more get FCGI_OVERLOADED [%lu]\n"
"      --max-params BYTES    FastCGI PARAMS per request [%lu]\n"
"      --max-stdin BYTES     request body per request [%lu]\n"
"      --idle-timeout MS     close a silent peer after MS [%lu]\n"
"      --high-water BYTES    pause reading a peer with this much unsent [%lu]\n"
"      --drain-timeout MS    on SIGTERM, how long requests may finish [%lu]\n"
"      --stall-ms MS         loop watchdog: log stalls longer than MS [%lu]\n"
"  -h, --help                this text\n"
"  -V, --version             the version\n"
"\n"
"Environment (DESIGN.md; defaults reproduce the experiment):\n"
"  SYNCASYNC_SLEEP_SECONDS [20]  SYNCASYNC_SLEEP_ON [5]  SYNCASYNC_ASYNC_MODE [block]\n"
"  SYNCASYNC_POOL_THREADS [40]   SYNCASYNC_QUERY_OVERRIDES [0] (1: ?sleep=, ?mode=)\n",
	    SA_FCGI_CONNS_MAX, SA_FCGI_REQS_MAX, SA_FCGI_PARAMS_MAX,
	    SA_FCGI_STDIN_MAX, SA_FCGI_IDLE_MS, SA_FCGI_HIGH_WATER,
	    SA_FCGI_DRAIN_MS, SA_WATCHDOG_STALL_MS);
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

static int
is_listening_socket(int fd)
{
	int accepting = 0;
	socklen_t len = sizeof(accepting);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting,
	    &len) == 0 && accepting;
}

/* A systemd-activated socket, or -1 (sd_listen_fds(3) protocol). */
static int
systemd_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	uint64_t value;

	if (pid == NULL || fds == NULL ||
	    number_parse_uint(pid, 1, INT32_MAX, &value) != NUMBER_OK ||
	    (pid_t)value != getpid() ||
	    number_parse_uint(fds, 1, 64, &value) != NUMBER_OK)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (value > 1)
		fprintf(stderr, "async_fcgi: LISTEN_FDS=%llu: using the first "
		    "socket only\n", (unsigned long long)value);
	return is_listening_socket(LISTEN_FDS_START) ? LISTEN_FDS_START : -1;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_mask;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("--listen unix:%s: path too long", path);
	strcpy(sun.sun_path, path);
	/* Replace a stale socket, never anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			die("--listen unix:%s: exists and is not a socket", path);
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	old_mask = umask(0117);		/* the socket is created 0660 */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old_mask);
		die("--listen unix:%s: cannot bind", path);
	}
	umask(old_mask);
	if (listen(fd, SA_FCGI_BACKLOG) == -1)
		die("listen: %s", strerror(errno));
	return fd;
}

static int
listen_tcp(const char *spec)
{
	char host[256] = "127.0.0.1";
	const char *port = spec, *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL;
	int fd, one = 1;

	if (colon != NULL) {
		size_t len = (size_t)(colon - spec);

		if (len == 0 || len >= sizeof(host))
			die("--listen %s: bad host", spec);
		memcpy(host, spec, len);
		host[len] = '\0';
		if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
			memmove(host, host + 1, len - 2);
			host[len - 2] = '\0';
		}
		port = colon + 1;
	}
	option_uint("listen port", port, 1, 65535);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		die("--listen %s: not a numeric address and port", spec);
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, SA_FCGI_BACKLOG) == -1) {
		freeaddrinfo(res);
		die("--listen %s: cannot bind and listen", spec);
	}
	freeaddrinfo(res);
	return fd;
}

/* Raises the descriptor limit to its hard cap; clamps max_conns to fit. */
static void
fit_descriptors(struct conn_options *opt)
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

int
main(int argc, char **argv)
{
	enum {
		OPT_MAX_CONNS = 256, OPT_MAX_REQUESTS, OPT_MAX_PARAMS,
		OPT_MAX_STDIN, OPT_IDLE, OPT_HIGH_WATER, OPT_DRAIN, OPT_STALL,
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct conn_options opt = {
		SA_FCGI_PARAMS_MAX, SA_FCGI_STDIN_MAX, SA_FCGI_CONNS_MAX,
		SA_FCGI_REQS_MAX, SA_FCGI_IDLE_MS, SA_FCGI_HIGH_WATER,
		SA_FCGI_DRAIN_MS, SA_WATCHDOG_STALL_MS,
	};
	struct settings settings;
	struct async_app *app;
	char error[SETTINGS_ERROR_MAX];
	const char *listen_spec = NULL;
	int ch, fd, rc;

	if (settings_load(&settings, "", error, sizeof(error)) == -1)
		die("%s", error);
	while ((ch = getopt_long(argc, argv, "l:m:s:n:t:hV", longopts,
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
			settings.sleep_all = strcmp(optarg, "all") == 0;
			if (!settings.sleep_all)
				settings.sleep_on = option_uint("sleep-on",
				    optarg, 0, SA_SLEEP_ON_MAX);
			break;
		case 't':
			settings.pool_threads = option_uint("pool-threads",
			    optarg, 1, SA_POOL_THREADS_MAX);
			break;
		case OPT_MAX_CONNS:
			opt.max_conns = (unsigned)option_uint("max-conns",
			    optarg, 1, 1000000);
			break;
		case OPT_MAX_REQUESTS:
			opt.max_requests = (unsigned)option_uint("max-requests",
			    optarg, 1, 1000000);
			break;
		case OPT_MAX_PARAMS:
			opt.max_params = option_uint("max-params", optarg,
			    1024, 16777216);
			break;
		case OPT_MAX_STDIN:
			opt.max_stdin = option_uint("max-stdin", optarg, 0,
			    1073741824);
			break;
		case OPT_IDLE:
			opt.idle_ms = (unsigned)option_uint("idle-timeout",
			    optarg, 1, 86400000);
			break;
		case OPT_HIGH_WATER:
			opt.high_water = option_uint("high-water", optarg,
			    1024, 1073741824);
			break;
		case OPT_DRAIN:
			opt.drain_ms = (unsigned)option_uint("drain-timeout",
			    optarg, 0, 86400000);
			break;
		case OPT_STALL:
			opt.stall_ms = (unsigned)option_uint("stall-ms", optarg,
			    1, 86400000);
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

	if (listen_spec != NULL)
		fd = strncmp(listen_spec, "unix:", 5) == 0 ?
		    listen_unix(listen_spec + 5) : listen_tcp(listen_spec);
	else if ((fd = systemd_socket()) == -1) {
		if (!is_listening_socket(0)) {
			fprintf(stderr, "async_fcgi: descriptor 0 is not a "
			    "listening socket and no --listen was given.\n\n");
			usage(stderr);
			return 2;
		}
		fd = 0;
	}
	signal(SIGPIPE, SIG_IGN);
	fit_descriptors(&opt);
	if ((app = async_handler_new(&settings, error, sizeof(error))) == NULL)
		die("%s", error);
	if (settings.sleep_all)
		snprintf(error, sizeof(error), "every request sleeps");
	else if (settings.sleep_on != 0)
		snprintf(error, sizeof(error), "request %llu sleeps",
		    (unsigned long long)settings.sleep_on);
	else
		snprintf(error, sizeof(error), "no request sleeps");
	fprintf(stderr, "async_fcgi: pid %ld serving in mode %s; %s %llu.%03llu "
	    "s\n", (long)getpid(), settings_mode_name(settings.mode), error,
	    (unsigned long long)(settings.sleep_us / 1000000),
	    (unsigned long long)(settings.sleep_us % 1000000 / 1000));
	rc = conn_serve(fd, &opt, app);
	async_handler_free(app);
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5);	/* the socket we created */
	return rc == 0 ? 0 : 1;
}
