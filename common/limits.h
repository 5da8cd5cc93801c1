/* SPDX-License-Identifier: ISC */
/*
 * limits.h - every limit syncasync imposes, in one place, each with its unit.
 *
 * Included as "common/limits.h" (the build adds only the top source directory
 * to the include path, so <limits.h> still means the system header).  The
 * FastCGI responder's run-time limits have defaults here and options in
 * async_fcgi; the rest are fixed bounds on what a peer or a setting may ask.
 */
#ifndef SYNCASYNC_COMMON_LIMITS_H
#define SYNCASYNC_COMMON_LIMITS_H

/* Error messages (every err buffer of settings, counter, listen, work). */
#define SA_ERROR_MAX		256			/* bytes of an error message, NUL included */

/* Settings (environment variables and query overrides). */
#define SA_SLEEP_MAX_S		3600			/* seconds (1 hour) */
#define SA_SLEEP_MAX_US		(SA_SLEEP_MAX_S * 1000000ULL) /* the same in µs */
#define SA_SLEEP_ON_MAX		1000000000UL		/* request number */
#define SA_SLEEP_ON_TERMS_MAX	16U			/* numbers or ranges in
							   SYNCASYNC_SLEEP_ON */
#define SA_POOL_THREADS_MAX	1024UL			/* threads */
#define SA_POOL_QUEUE_DEFAULT	1024UL			/* offload jobs waiting for a
							   thread; more get
							   FCGI_OVERLOADED */
#define SA_POOL_QUEUE_MAX	1000000UL		/* jobs (--pool-queue) */
#define SA_SETTING_MAX		256			/* bytes of one value */
#define SA_ECHO_MAX		64			/* bytes of a bad value quoted
							   in its error message */
#define SA_DB_POOL_MAX		1000UL			/* database connections */
#define SA_UPSTREAM_TIMEOUT_MIN_US 1000ULL		/* µs (1 ms) */
#define SA_UPSTREAM_TIMEOUT_MAX_S 3600			/* seconds (1 hour) */
#define SA_UPSTREAM_TIMEOUT_MAX_US (SA_UPSTREAM_TIMEOUT_MAX_S * 1000000ULL) /* µs */
#define SA_WORK_URL_MAX		2048			/* bytes of the upstream URL */
#define SA_WORK_ERROR_MAX	SA_ERROR_MAX		/* former name */

/* The listening socket (listen.c). */
#define SA_LISTEN_FDS_MAX	64UL			/* systemd sockets (LISTEN_FDS) */
#define SA_LISTEN_HOST_MAX	256			/* bytes of --listen's host */

/* Forked workers kept running (common/supervise.c). */
#define SA_SUPERVISE_WORKERS_MAX 256U			/* processes (no --workers
							   goes past it) */
#define SA_SUPERVISE_RESPAWN_MS	1000UL			/* 1 s before restarting a
							   worker that failed within
							   this of its start */

/* sync_cgi as a FastCGI worker pool (/pool). */
#define SA_POOL_WORKERS_MAX	256U			/* processes (--workers) */

/* The local time zone (zone.c). */
#define SA_ZONE_FILE_MAX	8192			/* bytes of a TZif file read
							   (tzdata 2025's largest:
							   3,872); a larger one is
							   left to localtime_r */

/* CGI requests (sync_cgi). */
#define SA_QUERY_MAX		2048			/* bytes of QUERY_STRING */
#define SA_CONTENT_LENGTH_MAX	1048576UL		/* 1M, request body */

/* syncasync-probe, the experiment client. */
#define SA_PROBE_REQUESTS_MAX	100000UL		/* concurrent GETs per URL */
#define SA_PROBE_SECONDS_MAX_US	(86400ULL * 1000000ULL)	/* µs (1 day): --timeout,
							   --sleep */
#define SA_PROBE_BODY_MAX	65536			/* bytes of a response body */
#define SA_PROBE_URI_MAX	4096			/* bytes of path and query */
#define SA_PROBE_MESSAGE_MAX	128			/* bytes of "message" kept */
#define SA_PROBE_TIME_MAX	32			/* bytes of "request_time" */
#define SA_PROBE_MODE_MAX	16			/* bytes of "mode" kept */
#define SA_PROBE_BLOCKS_MAX	8			/* blocked-loop reports kept from /async/stats */
#define SA_PROBE_FRAMES_MAX	16			/* stack frames kept per report */
#define SA_PROBE_FRAME_MAX	160			/* bytes of one frame or URI kept */

/* FastCGI responder defaults (async_fcgi options override them). */
#define SA_FCGI_PARAMS_MAX	65536UL			/* 64K per request */
#define SA_FCGI_STDIN_MAX	1048576UL		/* 1M per request */
#define SA_FCGI_CONNS_MAX	16384UL			/* connections */
#define SA_FCGI_REQS_MAX	16384UL			/* requests in flight */
#define SA_FCGI_IDLE_MS		30000UL			/* 30 s silent peer */
#define SA_FCGI_HIGH_WATER	262144UL		/* 256K output buffered */
#define SA_FCGI_DRAIN_MS	30000UL			/* 30 s on SIGTERM */
#define SA_FCGI_BACKLOG		1024			/* listen(2) backlog */
#define SA_FCGI_DEFER_ACCEPT_S	1			/* TCP: accept once the
							   request's bytes are in,
							   or after 1 s */
#define SA_FCGI_FD_RESERVE	32			/* fds kept for logs etc. */
#define SA_FCGI_EMFILE_PAUSE_MS	1000UL			/* listener pause */
#define SA_WATCHDOG_TICK_MS	20UL			/* loop lateness probe */
#define SA_LOG_LINE_MAX		1024			/* bytes per syslog line (stderr_log.c) */
#define SA_WATCHDOG_STALL_MS	100UL			/* stall worth a log line */
#define SA_FCGI_REQUEST_MS	30000UL			/* 30 s from BEGIN_REQUEST to
							   the end of STDIN */
#define SA_FCGI_MIN_RATE	128UL			/* bytes/s a request must
							   average once ... */
#define SA_FCGI_RATE_GRACE_MS	5000UL			/* ... it is 5 s old */
#define SA_FCGI_LOG_EVERY_MS	10000UL			/* 10 s between two log lines
							   of one kind under attack
							   (overload, making room) */

/* The stall detector (async_fcgi/stall_watch.c). */
#define SA_STALL_MS_MAX		60000UL			/* 1 min, longest threshold */
#define SA_STALL_REPEAT_MAX_MS	5000UL			/* 5 s, widest step between
							   reports of one block */
#define SA_STALL_ANSWER_MS	250UL			/* wait for the loop's stack */
#define SA_STALL_FRAMES		64			/* frames captured */
#define SA_STALL_FRAMES_KEPT	8			/* frames kept per record */
#define SA_STALL_FRAME_TEXT	160			/* bytes of one frame's text */
#define SA_STALL_RECENT		4			/* finished blocks kept */
#define SA_STALL_URI_MAX	256			/* bytes of a URI kept */
#define SA_STALL_FIELD_MAX	16			/* bytes of method, mode, work */
#define SA_FCGI_WORKERS_MAX	64U			/* --workers: processes */
#define SA_FCGI_KILL_GRACE_MS	2000UL			/* past --drain-timeout,
							   then SIGKILL */

/*
 * A limit as a string literal, for messages that are constants:
 * SA_TEXT(SA_SLEEP_MAX_S) is "3600".  Only for limits written as one
 * decimal literal (the *_S above); others are formatted at run time.
 */
#define SA_TEXT(limit)		SA_TEXT_(limit)
#define SA_TEXT_(limit)		#limit

/* async_fcgi option bounds: what --max-conns and the like accept. */
#define SA_FCGI_CONNS_OPT_MAX	1000000UL		/* connections */
#define SA_FCGI_REQS_OPT_MAX	1000000UL		/* requests in flight */
#define SA_FCGI_PARAMS_OPT_MIN	1024UL			/* 1K of PARAMS */
#define SA_FCGI_PARAMS_OPT_MAX	16777216UL		/* 16M of PARAMS */
#define SA_FCGI_STDIN_OPT_MAX	1073741824UL		/* 1G of request body */
#define SA_FCGI_HIGH_WATER_OPT_MIN 1024UL		/* 1K of output */
#define SA_FCGI_HIGH_WATER_OPT_MAX 1073741824UL		/* 1G of output */
#define SA_FCGI_MS_OPT_MAX	86400000UL		/* 1 day, timeouts in ms */
#define SA_FCGI_RATE_OPT_MAX	1073741824UL		/* 1G bytes/s (--min-rate) */

/* sync_cgi's /pool workers: what one worker takes before libfcgi reads it. */
#define SA_POOL_READ_MS		5000UL			/* 5 s from accept to the
							   end of PARAMS */
#define SA_POOL_PARAMS_MAX	65536UL			/* 64K of PARAMS content */
#define SA_POOL_HEAD_MAX	(SA_POOL_PARAMS_MAX + 8192UL) /* bytes on the
							   wire up to the end of
							   PARAMS (64K + 8K of
							   headers, padding) */
#define SA_POOL_LINGER_MS	2000UL			/* 2 s after an answer for
							   the peer to close */
#define SA_POOL_DRAIN_MS	10000UL			/* 10 s for requests in
							   hand after SIGTERM */

#endif
