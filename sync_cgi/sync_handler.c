/* SPDX-License-Identifier: ISC */
/*
 * sync_handler.c - the /sync handler (sync_handler.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/counter.h"
#include "common/handler.h"
#include "common/limits.h"
#include "common/response.h"
#include "common/settings.h"
#include "common/stderr_log.h"
#include "common/work_blocking.h"
#include "sync_cgi/sync_handler.h"

/*
 * Before a log line (or work whose libraries may write one): a CGI process
 * makes its log stream only now (main.c); a worker made it at start, and
 * then this does nothing.
 */
static void
log_ready(void)
{
	stderr_log_init("sync_cgi");
}

/* Writes the whole response (the body unless head).  0 or -1. */
static int
send_response(const struct sync_io *io, int status, int head,
    const char *body, size_t body_len)
{
	char response[RESPONSE_HEADER_MAX + RESPONSE_BODY_MAX];
	size_t len = body != NULL ? response_build_into(status, head, body,
	    body_len, response, sizeof(response)) : 0;

	return len != 0 && io->write(io->ctx, response, len) == 0 ? 0 : -1;
}

/* Answers with {"error": public_message}; detail goes to the error log. */
static int
send_error(const struct sync_io *io, int status, int head,
    const char *public_message, const char *detail)
{
	char body[RESPONSE_BODY_MAX];
	size_t len = response_error_write(public_message, body, sizeof(body));

	log_ready();
	fprintf(stderr, "sync_cgi: %d: %s\n", status,
	    detail != NULL ? detail : public_message);
	if (len == 0 || send_response(io, status, head, body, len) == -1)
		fprintf(stderr, "sync_cgi: could not send the %d response\n",
		    status);
	return status;
}

int
sync_handler_serve(const struct sync_io *io, const struct settings *settings,
    const char *settings_error)
{
	struct handler_request request;
	struct handler_plan plan;
	struct response_info info;
	char detail[SA_ERROR_MAX];
	uint64_t request_no;
	int64_t started_us = clock_now_us();
	char body[RESPONSE_BODY_MAX];
	size_t len;

	handler_request_read(&request, io->param, io->ctx);
	if (settings == NULL)
		return send_error(io, 500, 0, settings_error, NULL);
	if (handler_check(settings, &request, 0, &plan) == -1)
		return send_error(io, plan.status, plan.head, plan.error,
		    NULL);
	if (counter_next(settings->state_dir, &request_no, detail,
	    sizeof(detail)) == -1)
		return send_error(io, 500, plan.head,
		    "the request counter is unavailable (see the error log)",
		    detail);
	handler_assign(settings, request_no, &plan);
	/* The blocking call, in this process: the model's point.  db and
	 * http load libpq or libcurl here, on first use (work_blocking.h). */
	if (plan.sleeper) {
		struct work_result work;

		log_ready();
		work_blocking_run(settings, plan.sleep_us, &work);
		if (work.status != 0)
			return send_error(io, work.status, plan.head,
			    work.error, NULL);
	}

	handler_info_fill(&info, &plan, "sync example", clock_thread_id(),
	    (long)getpid(), started_us, NULL);
	if ((len = response_json_write(&info, body, sizeof(body))) == 0)
		return send_error(io, 500, plan.head, "response too long", NULL);
	if (send_response(io, 200, plan.head, body, len) == -1) {
		log_ready();
		fprintf(stderr, "sync_cgi: request %llu: the client went away\n",
		    (unsigned long long)request_no);
	}
	return 200;
}
