/* SPDX-License-Identifier: ISC */
/*
 * handler.h - the application logic both programs share.
 *
 * What a request may ask (method, query overrides, body length) and which
 * request sleeps, how long and how.  It sees neither CGI, FastCGI nor
 * libevent: each program hands in the request's CGI variables and carries
 * out the plan its own way (sync_cgi sleeps in its process; async_fcgi
 * blocks, arms a timer or offloads).
 */
#ifndef SYNCASYNC_COMMON_HANDLER_H
#define SYNCASYNC_COMMON_HANDLER_H

#include <stdint.h>

#include "common/response.h"
#include "common/settings.h"

/* The CGI meta-variables the handler reads (RFC 3875, section 4.1). */
struct handler_request {
	const char     *method;		/* REQUEST_METHOD */
	const char     *query;		/* QUERY_STRING, may be NULL */
	const char     *content_length;	/* CONTENT_LENGTH, may be NULL */
};

/* Looks up a CGI meta-variable of the request; NULL when absent. */
typedef const char *(*handler_param_fn)(void *ctx, const char *name);

/* Fills request with REQUEST_METHOD, QUERY_STRING and CONTENT_LENGTH. */
void handler_request_read(struct handler_request *request,
    handler_param_fn param, void *ctx);

struct handler_plan {
	int		status;		/* 200, or the error status */
	const char     *error;		/* when status != 200: a constant */
	int		head;		/* HEAD: headers only */
	int		sleep_override;	/* ?sleep= given (overrides on) */
	uint64_t	sleep_override_us;
	enum settings_mode mode;	/* settings, or ?mode= */
	/* Set by handler_assign() once the request number is known: */
	uint64_t	request_no;
	int		sleeper;
	uint64_t	sleep_us;
};

/*
 * Checks the request before it takes a number: GET and HEAD only (else 405;
 * the caller adds "Allow: GET, HEAD"), a CONTENT_LENGTH that is absent or a
 * bounded decimal (else 400, or 413 past SA_CONTENT_LENGTH_MAX), and, when
 * query overrides are on, ?sleep=SECONDS and, if allow_mode, ?mode=MODE
 * (else 400).  Without overrides the query string is not read at all.
 * Returns 0 with plan->status 200, or -1 with status and error set.
 */
int handler_check(const struct settings *settings,
    const struct handler_request *request, int allow_mode,
    struct handler_plan *plan);

/* Decides whether request number request_no sleeps, and for how long. */
void handler_assign(const struct settings *settings, uint64_t request_no,
    struct handler_plan *plan);

/*
 * Fills the contract fields of a 200 for plan (after handler_assign()):
 * message and mode as given (mode NULL: none, as /sync), the sleeper and
 * request number from plan, thread_id and pid of whoever did the work,
 * started_us, finished_us as now, and waited_us 0 (the caller sets it when
 * it queued the work).
 */
void handler_info_fill(struct response_info *info,
    const struct handler_plan *plan, const char *message, long thread_id,
    long pid, int64_t started_us, const char *mode);

#endif
