/* SPDX-License-Identifier: ISC */
/*
 * unit_stall.c - the stall detector (async_fcgi/stall_watch.c) against a
 * fake loop thread: a live report while the loop still blocks (in a sleep,
 * in a libcurl GET of a slow local server, in libpq talking to a slow fake
 * PostgreSQL), the blocking function in the captured stack, widening
 * repeats, the total on return, silence for a loop that keeps beating, and
 * a stripped copy of this program that still names the request.
 *
 *   tests/unit_stall                  the TAP test
 *   tests/unit_stall --bench N        N enter/leave pairs, for callgrind:
 *     valgrind --tool=callgrind --toggle-collect=bench_publish \
 *         tests/unit_stall --bench 1000000
 *
 * Readiness is a condition variable on the captured log, never a sleep;
 * the only sleeps are the blocking the test is about.  An alarm turns a
 * hang into a failure.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "async_fcgi/stall_watch.h"
#include "common/clock.h"
#include "tests/tap.h"

#define ALARM_S		120	/* whole program */
#define STALL_MS	100	/* the detector's threshold here */
#define SLACK_MS	100	/* scheduling slack on top of a bound */
#define BEAT_LONG_MS	(STALL_MS - 20)	/* a beat that may be reported */
#define LINES_MAX	512
#define LINE_MAX_LEN	512

/* --- the captured log ----------------------------------------------------- */

struct test_line {
	int64_t		 at_us;		/* monotonic */
	int		 loop_blocking;	/* the fake loop was in its block */
	char		 text[LINE_MAX_LEN];
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static size_t log_count;
static struct test_line log_lines[LINES_MAX];
static atomic_int loop_blocking;
static int log_to_stdout;	/* the stripped child prints what it sees */
/* UNIT_STALL_SLOW (make check-valgrind): valgrind runs threads one at a
 * time, ten to fifty times slower; the timing bounds of a live report
 * widen, the plain, ASan and TSan runs keep them tight. */
static int slow;

static void
test_log(void *ctx, const char *line)
{
	if (log_to_stdout) {
		printf("%s\n", line);
		fflush(stdout);
		return;
	}
	pthread_mutex_lock(&log_lock);
	if (log_count < LINES_MAX) {
		struct test_line *l = &log_lines[log_count++];

		l->at_us = clock_mono_us();
		l->loop_blocking = atomic_load(&loop_blocking);
		snprintf(l->text, sizeof(l->text), "%s", line);
	}
	pthread_cond_broadcast(&log_cond);
	pthread_mutex_unlock(&log_lock);
}

static void
log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_count = 0;
	pthread_mutex_unlock(&log_lock);
}

static void
log_dump(void)
{
	for (size_t i = 0; i < log_count; i++)
		printf("#   | %s\n", log_lines[i].text);
}

/* Waits until some line contains needle; returns its index or -1. */
static long
log_wait_for(const char *needle, int timeout_ms)
{
	struct timespec until;
	long found = -1;
	size_t from = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&log_lock);
	for (;;) {
		for (; from < log_count; from++)
			if (strstr(log_lines[from].text, needle) != NULL) {
				found = (long)from;
				goto out;
			}
		if (pthread_cond_timedwait(&log_cond, &log_lock, &until) != 0)
			break;
	}
out:
	pthread_mutex_unlock(&log_lock);
	return found;
}

static int
log_has(const char *needle)
{
	for (size_t i = 0; i < log_count; i++)
		if (strstr(log_lines[i].text, needle) != NULL)
			return 1;
	return 0;
}

static size_t
log_count_of(const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < log_count; i++)
		n += strstr(log_lines[i].text, needle) != NULL;
	return n;
}

/* --- the blocking functions (kept out of line, never tail calls) ---------- */

static volatile int keep_frames;

/* Neither inlined nor cloned (a clone is named block_in_db.constprop.0). */
#ifdef __clang__
#define TEST_OUT_OF_LINE __attribute__((noinline))
#else
#define TEST_OUT_OF_LINE __attribute__((noinline, noclone))
#endif

/* libcurl writes the body to stdout unless told otherwise. */
static size_t
discard_body(char *data, size_t size, size_t n, void *ctx)
{
	return size * n;
}

static TEST_OUT_OF_LINE void
block_in_sleep(uint64_t us)
{
	clock_sleep_us(us);
	keep_frames++;
}

static TEST_OUT_OF_LINE long
block_in_http(const char *url)
{
	CURL *curl = curl_easy_init();
	long code = 0;

	if (curl == NULL)
		return -1;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	else
		code = -1;
	curl_easy_cleanup(curl);
	keep_frames++;
	return code;
}

/* Copies libpq's verdict into out; keeps block_in_db on the stack. */
static TEST_OUT_OF_LINE void
block_in_db(const char *conninfo, char *out, size_t size)
{
	PGconn *conn = PQconnectdb(conninfo);

	snprintf(out, size, "%s", conn != NULL &&
	    PQstatus(conn) == CONNECTION_BAD ? PQerrorMessage(conn) : "ok?");
	PQfinish(conn);
	keep_frames++;
}

/* --- a slow local server: HTTP, or PostgreSQL's first reply --------------- */

enum slow_kind { SLOW_HTTP, SLOW_PG };

struct slow_server {
	enum slow_kind	 kind;
	int		 listen_fd;
	int		 port;
	int		 delay_ms;
	pthread_t	 thread;
};

static void
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0 && errno != EINTR)
			return;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
}

static void *
slow_server_main(void *arg)
{
	struct slow_server *srv = arg;
	char buf[4096];
	int fd = accept(srv->listen_fd, NULL, NULL);

	if (fd == -1)
		return NULL;
	/* The request (HTTP) or the startup packet (PG) arrives in one read
	 * on loopback; its content does not matter. */
	if (read(fd, buf, sizeof(buf)) > 0) {
		poll(NULL, 0, srv->delay_ms);
		if (srv->kind == SLOW_HTTP) {
			static const char reply[] = "HTTP/1.1 200 OK\r\n"
			    "Content-Length: 2\r\nConnection: close\r\n\r\nok";

			write_all(fd, reply, sizeof(reply) - 1);
		} else {
			/* ErrorResponse: 'E', int32 length, fields. */
			static const char fields[] = "SFATAL\0C28000\0"
			    "Mstall test says no\0";
			unsigned char msg[64];
			size_t flen = sizeof(fields);	/* + the final NUL */
			uint32_t len = (uint32_t)(4 + flen);

			msg[0] = 'E';
			msg[1] = (unsigned char)(len >> 24);
			msg[2] = (unsigned char)(len >> 16);
			msg[3] = (unsigned char)(len >> 8);
			msg[4] = (unsigned char)len;
			memcpy(msg + 5, fields, flen);
			write_all(fd, msg, 5 + flen);
		}
	}
	close(fd);
	return NULL;
}

static int
slow_server_start(struct slow_server *srv, enum slow_kind kind, int delay_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	srv->kind = kind;
	srv->delay_ms = delay_ms;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->listen_fd == -1 ||
	    bind(srv->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(srv->listen_fd, 4) == -1 ||
	    getsockname(srv->listen_fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	srv->port = ntohs(sin.sin_port);
	return pthread_create(&srv->thread, NULL, slow_server_main, srv) == 0 ?
	    0 : -1;
}

static void
slow_server_stop(struct slow_server *srv)
{
	pthread_join(srv->thread, NULL);
	close(srv->listen_fd);
}

/* --- the fake loop thread ------------------------------------------------- */

enum loop_kind { LOOP_SLEEP, LOOP_BEAT, LOOP_OUTSIDE, LOOP_HTTP, LOOP_DB };

struct fake_loop {
	enum loop_kind	 kind;
	uint64_t	 block_us;
	struct stall_watch_request req;
	char		 target[256];	/* URL or conninfo */
	/* results */
	struct stall_watch *_Atomic watch;
	char		 err[256];
	int64_t		 block_start_us, block_end_us;
	long		 http_code;
	int		 long_beats;	/* callbacks that really took long */
	char		 db_verdict[256];
	struct stall_watch_report after;	/* snapshot after the block */
};

static void
fake_loop_block(struct fake_loop *fl)
{
	atomic_store(&loop_blocking, 1);
	fl->block_start_us = clock_mono_us();
	switch (fl->kind) {
	case LOOP_SLEEP:
	case LOOP_OUTSIDE:
		block_in_sleep(fl->block_us);
		break;
	case LOOP_HTTP:
		fl->http_code = block_in_http(fl->target);
		break;
	case LOOP_DB:
		block_in_db(fl->target, fl->db_verdict,
		    sizeof(fl->db_verdict));
		break;
	case LOOP_BEAT:
		break;
	}
	fl->block_end_us = clock_mono_us();
	atomic_store(&loop_blocking, 0);
}

static void *
fake_loop_main(void *arg)
{
	struct fake_loop *fl = arg;
	struct stall_watch_config cfg = {
		.stall_ms = STALL_MS,
		.prefix = "async_fcgi: watchdog: ",
		.log = test_log,
	};
	struct stall_watch *watch = stall_watch_start(&cfg, fl->err,
	    sizeof(fl->err));

	atomic_store(&fl->watch, watch);
	if (watch == NULL)
		return NULL;
	if (fl->kind == LOOP_BEAT) {
		/* 200 callbacks of 5 ms, then 300 ms idle between callbacks */
		for (int i = 0; i < 200; i++) {
			int64_t t0 = clock_mono_us();

			stall_watch_enter(watch, &fl->req);
			block_in_sleep(5000);
			stall_watch_leave(watch);
			/* A busy machine may really hold one for long. */
			if (clock_mono_us() - t0 >= BEAT_LONG_MS * 1000)
				fl->long_beats++;
		}
		block_in_sleep(300000);
	} else {
		stall_watch_enter(watch, fl->kind == LOOP_OUTSIDE ? NULL :
		    &fl->req);
		fake_loop_block(fl);
		stall_watch_leave(watch);
		/* The total comes at the watchdog's next tick. */
		log_wait_for("it is running again", 5000);
	}
	stall_watch_snapshot(watch, &fl->after);
	stall_watch_stop(watch);
	return NULL;
}

static void
fake_loop_run(struct fake_loop *fl)
{
	pthread_t thread;

	log_reset();
	if (pthread_create(&thread, NULL, fake_loop_main, fl) != 0) {
		TAP_OK(0, "fake loop thread starts");
		return;
	}
	pthread_join(thread, NULL);
}

static const struct stall_watch_request request5 = {
	.number = 5, .method = "GET", .uri = "/async", .mode = "block",
	.work = "sleep",
};

/* --- the checks ----------------------------------------------------------- */

/* The "for N ms" of a headline, or -1. */
static long
headline_ms(const char *text)
{
	const char *p = strstr(text, "has been blocked for ");

	return p != NULL ? strtol(p + strlen("has been blocked for "), NULL,
	    10) : -1;
}

static void
test_sleep(void)
{
	struct fake_loop fl = { .kind = LOOP_SLEEP, .block_us = 1000000,
	    .req = request5 };
	long first, total_at;
	long due_ms = STALL_MS;
	int widening = 1;
	size_t headlines = 0;

	fake_loop_run(&fl);
	TAP_OK(atomic_load(&fl.watch) != NULL, "sleep: the detector starts");
	if (atomic_load(&fl.watch) == NULL) {
		printf("# %s\n", fl.err);
		return;
	}
	first = log_wait_for("has been blocked for", 0);
	TAP_OK(first >= 0, "sleep: a live report");
	if (first < 0) {
		log_dump();
		return;
	}
	TAP_OK(log_lines[first].loop_blocking,
	    "sleep: it comes while the loop still blocks");
	{
		int64_t late_ms = (log_lines[first].at_us - fl.block_start_us)
		    / 1000;

		printf("# first report %lld ms after the block began\n",
		    (long long)late_ms);
		TAP_OK(late_ms >= STALL_MS - 10 &&
		    late_ms <= (slow ? 4 : 2) * STALL_MS + SLACK_MS,
		    "sleep: within stall_ms plus one interval");
	}
	TAP_OK(strstr(log_lines[first].text, "async_fcgi: watchdog: the loop "
	    "has been blocked for ") == log_lines[first].text &&
	    strstr(log_lines[first].text, " ms by request #5 (GET /async, "
	    "mode block, work sleep)") != NULL,
	    "sleep: the headline names the request");
	TAP_OK(log_has("async_fcgi: watchdog:   #0 "),
	    "sleep: the stack follows");
	TAP_OK(log_has(" block_in_sleep (tests/unit_stall.c:"),
	    "sleep: the blocking function, with file:line");
	TAP_OK(log_has(" clock_sleep_us (common/clock.c:"),
	    "sleep: the function it called, with file:line");
	TAP_OK(log_has(" fake_loop_main (tests/unit_stall.c:"),
	    "sleep: and its caller");

	for (size_t i = 0; i < log_count; i++) {
		long ms = headline_ms(log_lines[i].text);

		if (ms < 0)
			continue;
		headlines++;
		/* due at 1, 2, 4, 8 ... times stall_ms, less a tick */
		if (ms < due_ms - 10)
			widening = 0;
		due_ms *= 2;
	}
	printf("# %zu live reports in a 1 s block\n", headlines);
	/* 100, 200, 400, 800 ms; under valgrind naming the first stack
	 * takes most of a second, and the 200 and 400 are skipped (and on a
	 * loaded machine the 800 too). */
	TAP_OK(headlines >= (slow ? 1U : 2U) && headlines <= 6,
	    "sleep: repeats, not one line per tick");
	TAP_OK(widening, "sleep: the k-th repeat no sooner than 2^k stall_ms");
	TAP_OK(log_count_of("; same stack") == headlines - 1,
	    "sleep: the repeats say the stack is the same");

	total_at = log_wait_for("async_fcgi: watchdog: the loop was blocked ",
	    0);
	TAP_OK(total_at >= 0 && !log_lines[total_at].loop_blocking &&
	    strstr(log_lines[total_at].text, " ms by request #5; it is "
	    "running again") != NULL, "sleep: the total when the loop returns");
	if (total_at >= 0) {
		long total = strtol(log_lines[total_at].text +
		    strlen("async_fcgi: watchdog: the loop was blocked "),
		    NULL, 10);
		long real = (long)((fl.block_end_us - fl.block_start_us) /
		    1000);

		printf("# total %ld ms, real %ld ms\n", total, real);
		TAP_OK(total >= real - SLACK_MS && total <= real + SLACK_MS,
		    "sleep: the total is the block's length");
	}
	TAP_EQ_INT(fl.after.stalls, 1, "stats: one block counted");
	TAP_OK(!fl.after.has_current && fl.after.nrecent == 1 &&
	    fl.after.recent[0].request_no == 5 &&
	    strcmp(fl.after.recent[0].uri, "/async") == 0 &&
	    fl.after.recent[0].duration_us >= 900000,
	    "stats: the block is in the recent list");
	{
		int found = 0;

		for (size_t i = 0; i < fl.after.recent[0].nframes; i++)
			found |= strstr(fl.after.recent[0].frames[i],
			    "block_in_sleep") != NULL;
		TAP_OK(found, "stats: its top frames name block_in_sleep");
	}
	log_dump();	/* the format, in the test's log */
}

/* The snapshot while the block lasts: run on its own thread's block. */
struct live_probe {
	struct fake_loop	*fl;
	struct stall_watch_report now;
	int			 seen;
};

static void *
live_probe_main(void *arg)
{
	struct live_probe *lp = arg;

	/* The stats have the frames before their lines. */
	if (log_wait_for("async_fcgi: watchdog:   #0 ", 5000) >= 0 &&
	    atomic_load(&loop_blocking)) {
		stall_watch_snapshot(atomic_load(&lp->fl->watch), &lp->now);
		lp->seen = 1;
	}
	return NULL;
}

static void
test_snapshot_live(void)
{
	struct fake_loop fl = { .kind = LOOP_SLEEP, .block_us = 500000,
	    .req = request5 };
	struct live_probe lp = { .fl = &fl };
	pthread_t probe;

	fl.req.uri = "/async?x=\x01\"y\"";
	log_reset();
	pthread_create(&probe, NULL, live_probe_main, &lp);
	{
		pthread_t thread;

		pthread_create(&thread, NULL, fake_loop_main, &fl);
		pthread_join(thread, NULL);
	}
	pthread_join(probe, NULL);
	TAP_OK(lp.seen && lp.now.has_current && lp.now.current.active &&
	    lp.now.current.request_no == 5 && lp.now.current.nframes > 0,
	    "stats: the current block, while it lasts");
	TAP_EQ_STR(lp.now.current.uri, "/async?x=.\"y\"",
	    "stats: the URI is sanitised");
	TAP_OK(log_has("by request #5 (GET /async?x=.\"y\", mode block"),
	    "log: the URI is sanitised");
}

static void
test_long_uri(void)
{
	static char uri[SA_STALL_URI_MAX + 64];
	struct fake_loop fl = { .kind = LOOP_SLEEP, .block_us = 250000,
	    .req = request5 };
	size_t len;

	memset(uri, 'a', sizeof(uri) - 1);
	uri[0] = '/';
	fl.req.uri = uri;
	fake_loop_run(&fl);
	len = strlen(fl.after.recent[0].uri);
	TAP_EQ_INT(len, SA_STALL_URI_MAX - 1, "long URI: cut to its limit");
	TAP_OK(len > 3 && strcmp(fl.after.recent[0].uri + len - 3, "...") == 0,
	    "long URI: and marked as cut");
	TAP_OK(log_has("aaa..., mode block"),
	    "long URI: so in the log line too");
}

static void
test_beat(void)
{
	struct fake_loop fl = { .kind = LOOP_BEAT, .req = request5 };

	fake_loop_run(&fl);
	/* A 5 ms callback that the scheduler held for 100 ms is a real
	 * block; it may be reported, no other. */
	if (fl.long_beats > 0)
		printf("# %d of the 5 ms callbacks really took %d ms or more\n",
		    fl.long_beats, BEAT_LONG_MS);
	TAP_OK(fl.after.stalls <= (uint64_t)fl.long_beats,
	    "beat: no report for a loop that keeps coming back, nor for an "
	    "idle one");
	TAP_OK(fl.long_beats > 0 || log_count == 0, "beat: not a line");
	if (log_count)
		log_dump();
}

static void
test_outside(void)
{
	struct fake_loop fl = { .kind = LOOP_OUTSIDE, .block_us = 300000 };

	fake_loop_run(&fl);
	TAP_OK(log_has("ms by a callback outside any request"),
	    "outside: a callback with no request is reported as such");
	TAP_OK(log_has("the loop was blocked ") &&
	    log_has("ms; it is running again"), "outside: and its total");
}

/* A block in a library call against a slow local server. */
struct library_case {
	const char	*name;		/* "http", "db": the work kind */
	enum loop_kind	 loop;
	enum slow_kind	 server;
	uint64_t	 number;
	const char	*target_head;	/* URL or conninfo: before the port */
	const char	*target_tail;	/* and after it */
	const char	*library_frame;	/* e.g. " curl_easy_perform (libcurl" */
	const char	*own_frame;	/* e.g. " block_in_http (tests/..." */
};

static void
test_library(const struct library_case *lc, struct fake_loop *fl)
{
	struct slow_server srv;
	char what[128], headline[128];
	long first;

	fl->kind = lc->loop;
	fl->req = request5;
	fl->req.number = lc->number;
	fl->req.work = lc->name;
	if (slow_server_start(&srv, lc->server, 600) == -1) {
		TAP_OK(0, "the slow server starts");
		return;
	}
	snprintf(fl->target, sizeof(fl->target), "%s%d%s", lc->target_head,
	    srv.port, lc->target_tail);
	fake_loop_run(fl);
	slow_server_stop(&srv);

	first = log_wait_for("has been blocked for", 0);
	snprintf(headline, sizeof(headline), "by request #%llu (GET /async, "
	    "mode block, work %s)", (unsigned long long)lc->number, lc->name);
	snprintf(what, sizeof(what), "%s: a live report while the library "
	    "call blocks", lc->name);
	TAP_OK(first >= 0 && log_lines[first].loop_blocking &&
	    strstr(log_lines[first].text, headline) != NULL, what);
	snprintf(what, sizeof(what), "%s: the library in the stack",
	    lc->name);
	TAP_OK(log_has(lc->library_frame), what);
	snprintf(what, sizeof(what), "%s: the blocking function in the stack",
	    lc->name);
	TAP_OK(log_has(lc->own_frame), what);
	if (tap_failed)
		log_dump();
}

static void
test_http(void)
{
	static const struct library_case lc = {
		"http", LOOP_HTTP, SLOW_HTTP, 7, "http://127.0.0.1:", "/slow",
		" curl_easy_perform (libcurl",
		" block_in_http (tests/unit_stall.c:",
	};
	struct fake_loop fl = { .kind = LOOP_HTTP };

	test_library(&lc, &fl);
	TAP_EQ_INT(fl.http_code, 200,
	    "http: the GET survives the signals (EINTR handled)");
}

static void
test_db(void)
{
	static const struct library_case lc = {
		"db", LOOP_DB, SLOW_PG, 9, "host=127.0.0.1 port=", " user=stall"
		" dbname=stall sslmode=disable gssencmode=disable"
		" connect_timeout=20",
		" PQconnectdb (libpq", " block_in_db (tests/unit_stall.c:",
	};
	struct fake_loop fl = { .kind = LOOP_DB };

	test_library(&lc, &fl);
	printf("# libpq said: %s", fl.db_verdict);
	TAP_OK(strstr(fl.db_verdict, "stall test says no") != NULL,
	    "db: libpq reads the server's answer despite the signals");
}

/* --- a stripped copy of this program -------------------------------------- */

static int
run_child(char *const argv[], char *out, size_t size)
{
	int fds[2];
	pid_t pid;
	size_t len = 0;
	int status;

	if (pipe(fds) == -1)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], out + len, size - 1 - len);

		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || errno != EINTR || len == size - 1)
			break;
	}
	out[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_stripped(const char *self)
{
	char dir[] = "/tmp/unit_stall.XXXXXX";
	char copy[64];
	static char out[65536];
	int rc;

	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "stripped: a temporary directory");
		return;
	}
	snprintf(copy, sizeof(copy), "%s/unit_stall-stripped", dir);
	{
		char strip[] = "strip", opt[] = "-o";
		char *argv[] = { strip, opt, copy, (char *)self, NULL };

		rc = run_child(argv, out, sizeof(out));
	}
	if (rc == 127) {
		printf("ok %d # SKIP strip (binutils) is not installed\n",
		    ++tap_count);
		rmdir(dir);
		return;
	}
	TAP_EQ_INT(rc, 0, "stripped: strip makes a copy");
	{
		char flag[] = "--stripped-child";
		char *argv[] = { copy, flag, NULL };

		rc = run_child(argv, out, sizeof(out));
	}
	unlink(copy);
	rmdir(dir);
	TAP_EQ_INT(rc, 0, "stripped: the copy runs");
	TAP_OK(strstr(out, "by request #5 (GET /async, mode block, work "
	    "sleep)") != NULL, "stripped: still names the request");
	TAP_OK(strstr(out, "symbols are missing for unit_stall-stripped") !=
	    NULL, "stripped: says that symbols are missing");
	TAP_OK(strstr(out, "block_in_sleep") == NULL,
	    "stripped: and names no function it cannot know");
	TAP_OK(strstr(out, "it is running again") != NULL,
	    "stripped: the total too");
	if (tap_failed)
		printf("# child said:\n%s", out);
}

static int
stripped_child(void)
{
	struct fake_loop fl = { .kind = LOOP_SLEEP, .block_us = 300000,
	    .req = request5 };
	pthread_t thread;

	log_to_stdout = 1;
	pthread_create(&thread, NULL, fake_loop_main, &fl);
	pthread_join(thread, NULL);
	return atomic_load(&fl.watch) != NULL ? 0 : 1;
}

/* --- the hot path, for callgrind ------------------------------------------ */

static TEST_OUT_OF_LINE void
bench_publish(struct stall_watch *watch, const struct stall_watch_request *req)
{
	stall_watch_enter(watch, req);
	stall_watch_leave(watch);
}

static int
bench(long n)
{
	struct stall_watch_config cfg = { .stall_ms = STALL_MS };
	char err[256];
	struct stall_watch *watch = stall_watch_start(&cfg, err, sizeof(err));
	int64_t t0;

	if (watch == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = clock_mono_us();
	for (long i = 0; i < n; i++)
		bench_publish(watch, &request5);
	printf("%ld enter/leave pairs: %.2f ns each\n", n,
	    (double)(clock_mono_us() - t0) * 1000.0 / (double)n);
	stall_watch_stop(watch);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		return bench(atol(argv[2]));
	if (argc == 2 && strcmp(argv[1], "--stripped-child") == 0)
		return stripped_child();
	alarm(ALARM_S);
	slow = getenv("UNIT_STALL_SLOW") != NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);

	test_sleep();
	test_snapshot_live();
	test_long_uri();
	test_beat();
	test_outside();
	test_http();
	test_db();
	{
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[n > 0 ? n : 0] = '\0';
		test_stripped(self);
	}

	curl_global_cleanup();
	return tap_done();
}
