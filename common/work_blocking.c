/* SPDX-License-Identifier: ISC */
/*
 * work_blocking.c - the blocking db and http work, libpq and libcurl loaded
 * on demand (work_blocking.h).
 *
 * The headers give the types; every call goes through a pointer filled by
 * dlsym, so linking this file pulls in neither library.  Only the functions
 * below are resolved; a library without one of them is refused whole.
 */
#include "config.h"

/* curl_easy_setopt/getinfo are type-checking macros otherwise; here they
 * are called through pointers. */
#define CURL_DISABLE_TYPECHECK 1

#include <sys/eventfd.h>

#include <curl/curl.h>
#include <dlfcn.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/clock.h"
#include "common/work_blocking.h"

static struct {
	int		 loaded;
	__typeof__(&PQconnectdb)		connectdb;
	__typeof__(&PQstatus)			status;
	__typeof__(&PQerrorMessage)		error_message;
	__typeof__(&PQexecParams)		exec_params;
	__typeof__(&PQresultStatus)		result_status;
	__typeof__(&PQresultErrorMessage)	result_error_message;
	__typeof__(&PQclear)			clear;
	__typeof__(&PQfinish)			finish;
	__typeof__(&PQsocket)			socket;
	/* The cancellable query (work_blocking_run_cancellable). */
	__typeof__(&PQsendQueryParams)		send_query_params;
	__typeof__(&PQgetResult)		get_result;
	__typeof__(&PQconsumeInput)		consume_input;
	__typeof__(&PQisBusy)			is_busy;
	__typeof__(&PQgetCancel)		get_cancel;
	__typeof__(&PQcancel)			cancel;
	__typeof__(&PQfreeCancel)		free_cancel;
} pq;

static struct {
	int		 loaded;
	__typeof__(&curl_global_init)		global_init;
	__typeof__(&curl_easy_init)		easy_init;
	__typeof__(&curl_easy_setopt)		easy_setopt;
	__typeof__(&curl_easy_perform)		easy_perform;
	__typeof__(&curl_easy_getinfo)		easy_getinfo;
	__typeof__(&curl_easy_cleanup)		easy_cleanup;
	__typeof__(&curl_easy_strerror)		easy_strerror;
} cu;

/* A function of a library and the pointer dlsym fills. */
struct symbol {
	const char	*name;
	void		*slot;		/* a function pointer's address */
};

static const struct symbol pq_symbols[] = {
	{ "PQconnectdb", &pq.connectdb },
	{ "PQstatus", &pq.status },
	{ "PQerrorMessage", &pq.error_message },
	{ "PQexecParams", &pq.exec_params },
	{ "PQresultStatus", &pq.result_status },
	{ "PQresultErrorMessage", &pq.result_error_message },
	{ "PQclear", &pq.clear },
	{ "PQfinish", &pq.finish },
	{ "PQsocket", &pq.socket },
	{ "PQsendQueryParams", &pq.send_query_params },
	{ "PQgetResult", &pq.get_result },
	{ "PQconsumeInput", &pq.consume_input },
	{ "PQisBusy", &pq.is_busy },
	{ "PQgetCancel", &pq.get_cancel },
	{ "PQcancel", &pq.cancel },
	{ "PQfreeCancel", &pq.free_cancel },
	{ NULL, NULL },
};

static const struct symbol cu_symbols[] = {
	{ "curl_global_init", &cu.global_init },
	{ "curl_easy_init", &cu.easy_init },
	{ "curl_easy_setopt", &cu.easy_setopt },
	{ "curl_easy_perform", &cu.easy_perform },
	{ "curl_easy_getinfo", &cu.easy_getinfo },
	{ "curl_easy_cleanup", &cu.easy_cleanup },
	{ "curl_easy_strerror", &cu.easy_strerror },
	{ NULL, NULL },
};

static int curl_start(char *err, size_t errlen);

/* What each kind of work loads; the library stays loaded for good. */
static const struct library {
	const char		*file;		/* dlopen name */
	const char		*package;	/* the Debian package with it */
	const struct symbol	*symbols;
	int			(*start)(char *err, size_t errlen); /* or NULL */
	int			*loaded;
} libraries[] = {
	[WORK_DB] = { "libpq.so.5", "libpq5", pq_symbols, NULL, &pq.loaded },
	[WORK_HTTP] = { "libcurl.so.4", "libcurl4", cu_symbols, curl_start,
	    &cu.loaded },
};

/* Each thread's database connection (block: the loop; offload: a worker;
 * sync_cgi: the process), closed when the thread ends (a pool worker) or
 * by work_blocking_release(). */
static pthread_key_t work_db_key;
static pthread_once_t work_db_once = PTHREAD_ONCE_INIT;

static void
db_conn_destroy(void *conn)
{
	if (conn != NULL && pq.loaded)
		pq.finish(conn);
}

static void
db_key_create(void)
{
	pthread_key_create(&work_db_key, db_conn_destroy);
}

static int
curl_start(char *err, size_t errlen)
{
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		return -1;
	}
	return 0;
}

/* dlopens lib and fills every one of its symbols, or refuses it whole. */
static int
library_load(const struct library *lib, char *err, size_t errlen)
{
	const struct symbol *symbol;
	void *handle, *sym;

	if (*lib->loaded)
		return 0;
	if ((handle = dlopen(lib->file, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load %s (install the Debian "
		    "package %s): %s", lib->file, lib->package, dlerror());
		return -1;
	}
	for (symbol = lib->symbols; symbol->name != NULL; symbol++) {
		if ((sym = dlsym(handle, symbol->name)) == NULL) {
			snprintf(err, errlen, "%s lacks %s", lib->file,
			    symbol->name);
			dlclose(handle);
			return -1;
		}
		memcpy(symbol->slot, &sym, sizeof(sym));
	}
	if (lib->start != NULL && lib->start(err, errlen) == -1) {
		dlclose(handle);
		return -1;
	}
	*lib->loaded = 1;
	return 0;
}

int
work_blocking_load(enum settings_work work, char *err, size_t errlen)
{
	if (work == WORK_SLEEP || (size_t)work >= sizeof(libraries) /
	    sizeof(libraries[0]))
		return 0;
	return library_load(&libraries[work], err, errlen);
}

/*
 * True when an idle connection has something to read: the server ended it
 * (a FATAL message, then EOF), e.g. on shutdown.  An idle connection is
 * otherwise silent.
 */
static int
db_conn_stale(PGconn *conn)
{
	struct pollfd pfd;

	if (pq.status(conn) != CONNECTION_OK)
		return 1;
	pfd.fd = pq.socket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return pfd.fd < 0 || poll(&pfd, 1, 0) != 0;
}

void
work_blocking_release(void)
{
	PGconn *conn;

	pthread_once(&work_db_once, db_key_create);
	if ((conn = pthread_getspecific(work_db_key)) != NULL) {
		pthread_setspecific(work_db_key, NULL);
		db_conn_destroy(conn);
	}
}

/* The cancellable query's wake-up: the token's hook writes to an eventfd
 * (microseconds, on the cancelling thread); the worker, which waits on it
 * beside the connection, sends PQcancel itself. */
struct db_cancel {
	PGcancel	*cancel;
	int		 wake_fd;
};

static void
db_cancel_hook(void *arg)
{
	struct db_cancel *dc = arg;
	uint64_t one = 1;

	if (write(dc->wake_fd, &one, sizeof(one)) < 0)
		return;		/* EAGAIN: readable already */
}

/*
 * PQexecParams, but waiting on the connection and on token's wake-up: once
 * the token is cancelled it sends PQcancel from this thread, and again
 * every second while the query still runs (a cancel that reached the server
 * before the query did is dropped there).  The last result, or NULL (see
 * PQerrorMessage; also when cancelled before the query was sent).
 */
static PGresult *
db_exec_cancellable(PGconn *conn, const char *const *values,
    struct cancel_token *token)
{
	struct db_cancel dc;
	struct pollfd pfd[2];
	PGresult *res, *last = NULL;
	char errbuf[256];
	int64_t next_cancel_us = 0;
	uint64_t count;

	if ((dc.cancel = pq.get_cancel(conn)) == NULL)
		return NULL;
	if ((dc.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		pq.free_cancel(dc.cancel);
		return NULL;
	}
	if (cancel_hook_set(token, db_cancel_hook, &dc) == 0 &&
	    pq.send_query_params(conn, WORK_DB_QUERY, 1, NULL, values, NULL,
	    NULL, 0) == 1) {
		pfd[0] = (struct pollfd){ .fd = pq.socket(conn),
		    .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = dc.wake_fd, .events = POLLIN };
		while (pq.consume_input(conn) == 1 && pq.is_busy(conn)) {
			if (cancel_requested(token) &&
			    clock_mono_us() >= next_cancel_us) {
				(void)pq.cancel(dc.cancel, errbuf,
				    sizeof(errbuf));
				next_cancel_us = clock_mono_us() + 1000000;
			}
			(void)poll(pfd, 2, cancel_requested(token) ? 1000 : -1);
			if ((pfd[1].revents & POLLIN) != 0 &&
			    read(dc.wake_fd, &count, sizeof(count)) < 0)
				count = 0;	/* EAGAIN: nothing to reset */
		}
		while ((res = pq.get_result(conn)) != NULL) {
			pq.clear(last);
			last = res;
		}
	}
	cancel_hook_clear(token);	/* dc may go now */
	close(dc.wake_fd);
	pq.free_cancel(dc.cancel);
	return last;
}

/* The query on *connp, which it opens, reuses or replaces (NULL once
 * closed); cancellable through token (or NULL). */
static void
run_db_on(const struct settings *settings, uint64_t sleep_us,
    struct cancel_token *token, struct work_result *result, PGconn **connp)
{
	char seconds[32];
	const char *values[1] = { seconds };
	PGresult *res;

	if (*connp != NULL && db_conn_stale(*connp)) {
		pq.finish(*connp);	/* replaced below */
		*connp = NULL;
	}
	if (*connp == NULL) {
		if ((*connp = pq.connectdb(settings->db)) == NULL) {
			work_result_set(result, 502, "database connection "
			    "failed", "out of memory");
			return;
		}
		if (pq.status(*connp) != CONNECTION_OK) {
			work_result_set(result, 502, "database connection "
			    "failed", pq.error_message(*connp));
			pq.finish(*connp);
			*connp = NULL;
			return;
		}
	}
	work_seconds_text(sleep_us, seconds, sizeof(seconds));
	res = token == NULL ? pq.exec_params(*connp, WORK_DB_QUERY, 1, NULL,
	    values, NULL, NULL, 0) : db_exec_cancellable(*connp, values, token);
	if ((res == NULL || pq.result_status(res) != PGRES_TUPLES_OK) &&
	    cancel_requested(token))
		work_result_set(result, WORK_STATUS_CANCELLED, "database query "
		    "cancelled", NULL);
	else if (res == NULL || pq.result_status(res) != PGRES_TUPLES_OK)
		work_result_set(result, 502, "database query failed",
		    res != NULL ? pq.result_error_message(res) :
		    pq.error_message(*connp));
	pq.clear(res);
	if (pq.status(*connp) != CONNECTION_OK) {
		pq.finish(*connp);
		*connp = NULL;
	}
}

/* On this thread's own connection. */
static void
run_db(const struct settings *settings, uint64_t sleep_us,
    struct cancel_token *token, struct work_result *result)
{
	PGconn *conn;

	pthread_once(&work_db_once, db_key_create);
	conn = pthread_getspecific(work_db_key);
	run_db_on(settings, sleep_us, token, result, &conn);
	pthread_setspecific(work_db_key, conn);
}

static size_t
curl_discard(char *data, size_t size, size_t count, void *arg)
{
	(void)data;
	(void)arg;
	return size * count;
}

int
work_blocking_curl_setup(void *easy, const char *url, uint64_t timeout_us,
    char *errbuf, void *private_data)
{
	long timeout_ms = (long)(timeout_us / 1000);

	errbuf[0] = '\0';
	if (cu.easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_PROXY, "") != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) !=
	    CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_WRITEFUNCTION, curl_discard) !=
	    CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_USERAGENT, "syncasync") != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_PRIVATE, private_data) != CURLE_OK)
		return -1;
	return 0;
}

void
work_blocking_curl_finish(void *easy, int code, const char *errbuf,
    uint64_t timeout_us, struct work_result *result)
{
	char what[96], seconds[32];
	long status = 0;

	if (code == CURLE_OPERATION_TIMEDOUT) {
		work_seconds_text(timeout_us, seconds, sizeof(seconds));
		snprintf(what, sizeof(what), "upstream timed out after %s s "
		    "(SYNCASYNC_UPSTREAM_TIMEOUT)", seconds);
		work_result_set(result, 504, what, errbuf);
		return;
	}
	if (code != CURLE_OK) {
		work_result_set(result, 502, "upstream request failed",
		    errbuf[0] != '\0' ? errbuf :
		    cu.easy_strerror((CURLcode)code));
		return;
	}
	cu.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(what, sizeof(what), "upstream answered HTTP status "
		    "%ld", status);
		work_result_set(result, 502, what, NULL);
	}
}

/* libcurl's progress callback: non-zero aborts the transfer
 * (CURLE_ABORTED_BY_CALLBACK).  libcurl calls it at least once a second,
 * also while no data moves. */
static int
curl_cancelled(void *token, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancel_requested(token);
}

static void
run_http(const struct settings *settings, uint64_t sleep_us,
    struct cancel_token *token, struct work_result *result)
{
	char url[SA_WORK_URL_MAX + 32], errbuf[CURL_ERROR_SIZE];
	CURL *easy;
	CURLcode code;

	if (work_upstream_url(settings->upstream, sleep_us, url,
	    sizeof(url)) == -1) {
		work_result_set(result, 502, "upstream URL too long", NULL);
		return;
	}
	if ((easy = cu.easy_init()) == NULL ||
	    work_blocking_curl_setup(easy, url, settings->upstream_timeout_us, errbuf,
	    NULL) == -1) {
		work_result_set(result, 502, "upstream request failed",
		    "cannot set up a libcurl handle");
		if (easy != NULL)
			cu.easy_cleanup(easy);
		return;
	}
	if (token != NULL && (cu.easy_setopt(easy, CURLOPT_XFERINFOFUNCTION,
	    curl_cancelled) != CURLE_OK || cu.easy_setopt(easy,
	    CURLOPT_XFERINFODATA, token) != CURLE_OK ||
	    cu.easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK)) {
		work_result_set(result, 502, "upstream request failed",
		    "cannot set up a libcurl handle");
		cu.easy_cleanup(easy);
		return;
	}
	code = cu.easy_perform(easy);
	if (code == CURLE_ABORTED_BY_CALLBACK && cancel_requested(token))
		work_result_set(result, WORK_STATUS_CANCELLED, "upstream "
		    "request cancelled", NULL);
	else
		work_blocking_curl_finish(easy, (int)code, errbuf,
		    settings->upstream_timeout_us, result);
	cu.easy_cleanup(easy);
}

void
work_blocking_run(const struct settings *settings, uint64_t sleep_us,
    struct work_result *result)
{
	work_blocking_run_cancellable(settings, sleep_us, NULL, result);
}

void
work_blocking_run_cancellable(const struct settings *settings,
    uint64_t sleep_us, struct cancel_token *token,
    struct work_result *result)
{
	char err[SA_ERROR_MAX];

	result->status = 0;
	result->error[0] = '\0';
	if (work_blocking_load(settings->work, err, sizeof(err)) == -1) {
		work_result_set(result, 500, "the work's library is missing",
		    err);
		return;
	}
	if (cancel_requested(token)) {
		work_result_set(result, WORK_STATUS_CANCELLED, "work cancelled "
		    "before it started", NULL);
		return;
	}
	switch (settings->work) {
	case WORK_SLEEP:
		if (cancel_sleep_us(token, sleep_us) == -1)
			work_result_set(result, WORK_STATUS_CANCELLED,
			    "sleep cancelled", NULL);
		break;
	case WORK_DB:
		run_db(settings, sleep_us, token, result);
		break;
	case WORK_HTTP:
		run_http(settings, sleep_us, token, result);
		break;
	}
}
