/* SPDX-License-Identifier: ISC */
/*
 * fuzz_request.c - fuzz target for the request state machine,
 * fcgi/fcgi_request.c, fed record by record.
 *
 * Input: one flags byte, then a FastCGI byte stream as a web server would
 * send it.  The stream is framed as fcgi_conn.c frames it (a bad version or
 * a truncated record ends the connection) and each whole record goes to
 * fcgi_request_apply(); the target then does what the connection layer would
 * with the action (finish after RUN and ABORT, stop after CLOSE or an END
 * without keep_conn), and checks what the layer promises: replies are whole
 * well-formed records of at most FCGI_REQUEST_REPLY_MAX bytes, an END names the
 * right id and status, parameters after RUN are C strings of the stated
 * length, the caps hold, and an idle machine has no active id.
 *
 * Flags byte:
 *   bit 0      can_admit is 0 (every BEGIN_REQUEST gets OVERLOADED)
 *   bit 1      small caps: 64 bytes of PARAMS and of STDIN
 *   bits 4..7  after RUN, apply this many more records before finishing,
 *              as records keep arriving while a timer or the pool works
 * It knows nothing of sockets or libevent: that is fuzz_conn.c.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "fcgi/fcgi_codec.h"
#include "fcgi/fcgi_request.h"
#include "fuzz/fuzz.h"

#define FUZZ_REQ_NO_ADMIT	0x01
#define FUZZ_REQ_SMALL_CAPS	0x02
#define FUZZ_REQ_SMALL_CAP	64	/* bytes, with FUZZ_REQ_SMALL_CAPS */

/* reply->buf[0, len) is one or more whole version-1 records. */
static void
check_records(const struct fcgi_reply *reply)
{
	struct fcgi_header hdr;
	size_t pos = 0;

	FUZZ_CHECK(reply->len > 0 && reply->len <= sizeof(reply->buf));
	while (pos < reply->len) {
		FUZZ_CHECK(fcgi_header_decode(reply->buf + pos,
		    reply->len - pos, &hdr) == FCGI_CODEC_OK);
		FUZZ_CHECK(fcgi_header_record_len(&hdr) <= reply->len - pos);
		pos += fcgi_header_record_len(&hdr);
	}
}

/* reply->buf is exactly one END_REQUEST for id with status. */
static void
check_end(const struct fcgi_reply *reply, uint16_t id, uint8_t status)
{
	struct fcgi_header hdr;

	check_records(reply);
	FUZZ_CHECK(reply->len == FCGI_CODEC_END_RECORD_LEN);
	FUZZ_CHECK(fcgi_header_decode(reply->buf, reply->len, &hdr) ==
	    FCGI_CODEC_OK);
	FUZZ_CHECK(hdr.type == FCGI_END_REQUEST && hdr.request_id == id);
	FUZZ_CHECK(reply->request_id == id);
	FUZZ_CHECK(reply->buf[FCGI_HEADER_LEN + 4] == status);
	FUZZ_CHECK(reply->protocol_status == status);
}

/* After RUN: what the handler would read is consistent. */
static void
check_params(const struct fcgi_request *req, size_t max_params)
{
	struct fcgi_param param = { NULL, 0, NULL, 0 }, first = param;
	size_t count = fcgi_request_param_count(req), i = 0, bytes = 0;
	size_t cursor = 0;

	while (fcgi_request_param_next(req, &cursor, &param)) {
		FUZZ_CHECK(strlen(param.name) == param.name_len);
		FUZZ_CHECK(strlen(param.value) == param.value_len);
		bytes += param.name_len + param.value_len + 2;
		if (i++ == 0)
			first = param;
	}
	FUZZ_CHECK(i == count);
	/* Each pair took at least its two length bytes on the wire. */
	FUZZ_CHECK(bytes <= max_params);
	if (count > 0) {
		/* The first pair of a name wins; the last one is found. */
		FUZZ_CHECK(fcgi_request_param(req, first.name) == first.value);
		FUZZ_CHECK(fcgi_request_param(req, param.name) != NULL);
	}
	/* What async_handler reads. */
	(void)fcgi_request_param(req, "REQUEST_METHOD");
	(void)fcgi_request_param(req, "QUERY_STRING");
	(void)fcgi_request_param(req, "REQUEST_URI");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_limits limits = {
		.max_params_bytes = SA_FCGI_PARAMS_MAX,
		.max_stdin_bytes = SA_FCGI_STDIN_MAX,
		.max_conns = SA_FCGI_CONNS_MAX,
		.max_reqs = SA_FCGI_REQS_MAX,
	};
	struct fcgi_request req;
	struct fcgi_reply reply;
	struct fcgi_header hdr;
	enum fcgi_action action;
	uint8_t flags;
	size_t pos = 1, total;
	int can_admit, defer = -1, keep;
	uint16_t active;

	if (size < 1)
		return 0;
	flags = data[0];
	can_admit = !(flags & FUZZ_REQ_NO_ADMIT);
	if (flags & FUZZ_REQ_SMALL_CAPS)
		limits.max_params_bytes = limits.max_stdin_bytes =
		    FUZZ_REQ_SMALL_CAP;
	fcgi_request_init(&req, &limits);
	FUZZ_CHECK(fcgi_request_state(&req) == FCGI_REQUEST_IDLE);

	while (size - pos >= FCGI_HEADER_LEN) {
		if (fcgi_header_decode(data + pos, size - pos, &hdr) !=
		    FCGI_CODEC_OK)
			break;		/* the connection would close */
		total = fcgi_header_record_len(&hdr);
		if (total > size - pos)
			break;		/* truncated: EOF mid-record */
		active = fcgi_request_id(&req);
		action = fcgi_request_apply(&req, &hdr, data + pos +
		    FCGI_HEADER_LEN, hdr.content_length, can_admit, &reply);
		pos += total;
		FUZZ_CHECK(fcgi_request_stdin_len(&req) <= limits.max_stdin_bytes);
		FUZZ_CHECK(req.params_alloc <= limits.max_params_bytes);
		switch (action) {
		case FCGI_ACTION_NONE:
			break;
		case FCGI_ACTION_RUN:
			FUZZ_CHECK(fcgi_request_state(&req) == FCGI_REQUEST_RUNNING);
			FUZZ_CHECK(fcgi_request_id(&req) == hdr.request_id);
			FUZZ_CHECK(hdr.request_id != 0);
			FUZZ_CHECK(hdr.type == FCGI_STDIN);
			check_params(&req, limits.max_params_bytes);
			defer = flags >> 4;
			break;
		case FCGI_ACTION_END:
			check_end(&reply, hdr.request_id, reply.protocol_status);
			FUZZ_CHECK(hdr.type == FCGI_BEGIN_REQUEST);
			FUZZ_CHECK(reply.protocol_status == FCGI_CANT_MPX_CONN ||
			    reply.protocol_status == FCGI_UNKNOWN_ROLE ||
			    reply.protocol_status == FCGI_OVERLOADED);
			FUZZ_CHECK(reply.protocol_status != FCGI_OVERLOADED ||
			    !can_admit);
			/* A refusal never disturbs the active request. */
			FUZZ_CHECK(fcgi_request_id(&req) == active);
			if (!reply.keep_conn)
				goto done;
			break;
		case FCGI_ACTION_ABORT:
			FUZZ_CHECK(active != 0 && hdr.request_id == active);
			check_end(&reply, active, FCGI_REQUEST_COMPLETE);
			FUZZ_CHECK(fcgi_request_state(&req) == FCGI_REQUEST_RUNNING);
			keep = fcgi_request_finish(&req);
			FUZZ_CHECK(keep == reply.keep_conn);
			defer = -1;
			if (!keep)
				goto done;
			break;
		case FCGI_ACTION_REPLY:
			FUZZ_CHECK(hdr.request_id == FCGI_NULL_REQUEST_ID);
			check_records(&reply);
			break;
		case FCGI_ACTION_CLOSE:
			FUZZ_CHECK(reply.reason != NULL &&
			    reply.reason[0] != '\0');
			goto done;
		default:
			FUZZ_CHECK(!"unknown action");
		}
		if (fcgi_request_state(&req) == FCGI_REQUEST_IDLE)
			FUZZ_CHECK(fcgi_request_id(&req) == 0);
		if (defer == 0) {
			/* The handler answered: END_REQUEST, then finish. */
			keep = fcgi_request_keep_conn(&req);
			FUZZ_CHECK(fcgi_request_finish(&req) == keep);
			FUZZ_CHECK(fcgi_request_state(&req) == FCGI_REQUEST_IDLE);
			defer = -1;
			if (!keep)
				goto done;
		} else if (defer > 0) {
			defer--;
		}
	}
done:
	fcgi_request_free(&req);
	FUZZ_CHECK(fcgi_request_state(&req) == FCGI_REQUEST_IDLE);
	return 0;
}
