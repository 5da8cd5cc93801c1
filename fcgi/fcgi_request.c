/* SPDX-License-Identifier: ISC */
/*
 * fcgi_request.c - the FastCGI responder's per-connection state machine.
 *
 * Takes whole records (already framed by the caller) and decides what the
 * connection must do: BEGIN_REQUEST -> PARAMS (reassembled under a byte cap,
 * then decoded, since a pair may span records) -> STDIN (counted under a cap
 * and discarded) -> run; management records answered from the limits;
 * everything out of order refused.  It allocates only the PARAMS buffer,
 * bounded by limits.max_params_bytes and by what the peer sent (no index:
 * lookups scan the decoded block).  It does no I/O, keeps
 * no timers and never ends the process: the worst a peer can get is CLOSE.
 */
#include "config.h"

#include "fcgi/fcgi_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAMS_ALLOC_MIN	1024	/* first PARAMS buffer, bytes */

/* One first-size PARAMS buffer kept between requests (per thread), so a
 * plain request's PARAMS cost no allocation and a waiting one holds none. */
static __thread uint8_t *params_spare;

/* Frees req's PARAMS buffer, or keeps it as the spare. */
static void
params_buf_put(struct fcgi_request *req)
{
	if (req->params_alloc == PARAMS_ALLOC_MIN && params_spare == NULL)
		params_spare = req->params_buf;
	else
		free(req->params_buf);
}

void
fcgi_request_init(struct fcgi_request *req, const struct fcgi_limits *limits)
{
	memset(req, 0, sizeof(*req));
	req->limits = *limits;
	req->state = FCGI_REQUEST_IDLE;
}

/* Drops the active request, if any; keeps limits and seen_begin. */
static void
request_reset(struct fcgi_request *req)
{
	fcgi_request_drop_params(req);
	req->stdin_len = 0;
	req->stdin_over = 0;
	req->state = FCGI_REQUEST_IDLE;
	req->id = 0;
	req->keep_conn = req->aborted = 0;
	req->params_done = req->stdin_done = 0;
}

static enum fcgi_action
close_with(struct fcgi_reply *reply, const char *reason)
{
	reply->reason = reason;
	return FCGI_ACTION_CLOSE;
}

static enum fcgi_action
end_with(struct fcgi_reply *reply, uint16_t id, uint8_t status, int keep_conn)
{
	reply->request_id = id;
	reply->protocol_status = status;
	reply->keep_conn = keep_conn;
	fcgi_end_record_encode(reply->buf, id, 0, status);
	reply->len = FCGI_CODEC_END_RECORD_LEN;
	return FCGI_ACTION_END;
}

/*
 * GET_VALUES (spec 4.1): answer the three variables the spec defines, each
 * once, in the order first asked; names we do not know are omitted, as are
 * repeats of a name already answered.  Values in the query are ignored (the
 * spec says they are empty).  FCGI_MPXS_CONNS is "0": this object runs one
 * request per connection.
 */
static enum fcgi_action
get_values(const struct fcgi_request *req, const uint8_t *content, size_t len,
    struct fcgi_reply *reply)
{
	struct fcgi_nv nv;
	enum fcgi_codec_result result;
	const char *names[] = { FCGI_MAX_CONNS, FCGI_MAX_REQS,
	    FCGI_MPXS_CONNS };
	unsigned int figures[] = { req->limits.max_conns,
	    req->limits.max_reqs, 0 };
	char value[16];
	size_t offset = 0, pos = FCGI_HEADER_LEN, used, i;
	unsigned int answered = 0;
	int value_len;

	while ((result = fcgi_nv_next(content, len, &offset, &nv)) ==
	    FCGI_CODEC_OK) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (nv.name_len != strlen(names[i]) ||
			    memcmp(nv.name, names[i], nv.name_len) != 0 ||
			    (answered & (1U << i)) != 0)
				continue;
			answered |= 1U << i;
			value_len = snprintf(value, sizeof(value), "%u",
			    figures[i]);
			if (value_len < 0 || (size_t)value_len >= sizeof(value))
				return close_with(reply, "GET_VALUES figure");
			if (fcgi_nv_encode((const uint8_t *)names[i],
			    nv.name_len, (const uint8_t *)value,
			    (size_t)value_len, reply->buf + pos,
			    sizeof(reply->buf) - pos, &used) != FCGI_CODEC_OK)
				return close_with(reply,
				    "GET_VALUES_RESULT too large");
			pos += used;
		}
	}
	if (result != FCGI_CODEC_DONE)
		return close_with(reply, "malformed GET_VALUES body");
	fcgi_header_encode(reply->buf, FCGI_GET_VALUES_RESULT,
	    FCGI_NULL_REQUEST_ID, (uint16_t)(pos - FCGI_HEADER_LEN));
	reply->len = pos;
	return FCGI_ACTION_REPLY;
}

/*
 * Spec 3.3: "Management records have a requestId value of zero".  Spec 4.2:
 * a management record of a type the application does not understand gets
 * FCGI_UNKNOWN_TYPE.  GET_VALUES is the only one a responder understands.
 */
static enum fcgi_action
management(const struct fcgi_request *req, const struct fcgi_header *hdr,
    const uint8_t *content, size_t len, struct fcgi_reply *reply)
{
	if (hdr->type == FCGI_GET_VALUES)
		return get_values(req, content, len, reply);
	fcgi_unknown_type_record_encode(reply->buf, hdr->type);
	reply->len = FCGI_CODEC_UNKNOWN_RECORD_LEN;
	return FCGI_ACTION_REPLY;
}

static enum fcgi_action
begin_request(struct fcgi_request *req, const struct fcgi_header *hdr,
    const uint8_t *content, size_t len, int can_admit,
    struct fcgi_reply *reply)
{
	struct fcgi_begin_body body;
	int keep_conn;

	if (fcgi_begin_body_decode(content, len, &body) != FCGI_CODEC_OK)
		return close_with(reply, "BEGIN_REQUEST body too short");
	req->seen_begin = 1;
	if (req->state != FCGI_REQUEST_IDLE) {
		/* Spec 3.3: an active id is not begun again; that is a
		 * peer that lost track of its own requests. */
		if (hdr->request_id == req->id)
			return close_with(reply,
			    "second BEGIN_REQUEST for the active id");
		/* Spec 5.5: CANT_MPX_CONN rejects a concurrent request on a
		 * connection that serves one at a time.  The active request
		 * goes on, so this reply never closes the connection. */
		return end_with(reply, hdr->request_id, FCGI_CANT_MPX_CONN, 1);
	}
	/* Spec 5.1: without FCGI_KEEP_CONN "the application closes the
	 * connection after responding to this request" - refusals included. */
	keep_conn = (body.flags & FCGI_KEEP_CONN) != 0;
	if (body.role != FCGI_RESPONDER)
		return end_with(reply, hdr->request_id, FCGI_UNKNOWN_ROLE,
		    keep_conn);
	if (!can_admit)
		return end_with(reply, hdr->request_id, FCGI_OVERLOADED,
		    keep_conn);
	req->state = FCGI_REQUEST_RECEIVING;
	req->id = hdr->request_id;
	req->keep_conn = keep_conn;
	return FCGI_ACTION_NONE;
}

/* Appends one PARAMS record's content under the cap; NULL or a reason. */
static const char *
params_append(struct fcgi_request *req, const uint8_t *content, size_t len)
{
	size_t need, alloc;
	uint8_t *grown;

	if (len > req->limits.max_params_bytes - req->params_len)
		return "params exceed cap";
	need = req->params_len + len;
	if (need > req->params_alloc) {
		alloc = req->params_alloc < PARAMS_ALLOC_MIN / 2 ?
		    PARAMS_ALLOC_MIN : req->params_alloc * 2;
		if (alloc < need)
			alloc = need;
		if (alloc > req->limits.max_params_bytes)
			alloc = req->limits.max_params_bytes;
		if (req->params_buf == NULL && alloc == PARAMS_ALLOC_MIN &&
		    params_spare != NULL) {
			grown = params_spare;
			params_spare = NULL;
		} else if ((grown = realloc(req->params_buf, alloc)) == NULL)
			return "out of memory for params";
		req->params_buf = grown;
		req->params_alloc = alloc;
	}
	memcpy(req->params_buf + req->params_len, content, len);
	req->params_len = need;
	return NULL;
}

/*
 * Decodes the reassembled PARAMS stream (spec 3.4, 5.2) in place: each pair
 * "<lengths>name value" is rewritten as "name\0value\0" at or before where it
 * started (its length fields are at least 2 bytes, so the strings never
 * overtake unread input); params_len becomes the length of that block.  No
 * index is built: 64 KiB of empty pairs would cost 32,768 entries, 1 MiB.
 * A NUL inside a name or value is refused: a C string would silently
 * truncate it, and the scans below rely on it.  Returns NULL or a reason.
 */
static const char *
params_decode(struct fcgi_request *req)
{
	struct fcgi_nv nv;
	enum fcgi_codec_result result;
	size_t offset = 0, count = 0, write = 0;
	uint8_t *buf = req->params_buf;

	while ((result = fcgi_nv_next(buf, req->params_len, &offset, &nv)) ==
	    FCGI_CODEC_OK) {
		if (memchr(nv.name, '\0', nv.name_len) != NULL ||
		    memchr(nv.value, '\0', nv.value_len) != NULL)
			return "NUL byte in a parameter";
		count++;
	}
	if (result != FCGI_CODEC_DONE)
		return "malformed name-value pair";
	offset = 0;
	while (fcgi_nv_next(buf, req->params_len, &offset, &nv) ==
	    FCGI_CODEC_OK) {
		memmove(buf + write, nv.name, nv.name_len);
		buf[write + nv.name_len] = '\0';
		write += nv.name_len + 1;
		memmove(buf + write, nv.value, nv.value_len);
		buf[write + nv.value_len] = '\0';
		write += nv.value_len + 1;
	}
	req->params_len = write;
	req->params_count = count;
	return NULL;
}

/* Why a record before any BEGIN_REQUEST is refused, by type. */
static const char *
before_begin_reason(uint8_t type)
{
	switch (type) {
	case FCGI_PARAMS:
		return "PARAMS before BEGIN_REQUEST";
	case FCGI_STDIN:
		return "STDIN before BEGIN_REQUEST";
	case FCGI_ABORT_REQUEST:
		return "ABORT_REQUEST before BEGIN_REQUEST";
	default:
		return "record before BEGIN_REQUEST";
	}
}

/* A record for the active request id, other than BEGIN_REQUEST. */
static enum fcgi_action
active_record(struct fcgi_request *req, const struct fcgi_header *hdr,
    const uint8_t *content, size_t len, struct fcgi_reply *reply)
{
	const char *reason;

	switch (hdr->type) {
	case FCGI_ABORT_REQUEST:
		/* Spec 5.4: answer with END_REQUEST, REQUEST_COMPLETE. */
		req->aborted = 1;
		req->state = FCGI_REQUEST_RUNNING;
		end_with(reply, req->id, FCGI_REQUEST_COMPLETE, req->keep_conn);
		return FCGI_ACTION_ABORT;
	case FCGI_PARAMS:
		if (req->params_done)
			return close_with(reply, "PARAMS after PARAMS ended");
		if (len > 0) {
			reason = params_append(req, content, len);
			return reason ? close_with(reply, reason) :
			    FCGI_ACTION_NONE;
		}
		/* Spec 3.3: an empty record ends the stream. */
		req->params_done = 1;
		reason = params_decode(req);
		return reason ? close_with(reply, reason) : FCGI_ACTION_NONE;
	case FCGI_STDIN:
		/* Spec 6.2: a responder receives PARAMS, then STDIN. */
		if (!req->params_done)
			return close_with(reply, "STDIN before PARAMS ended");
		if (req->stdin_done)
			return close_with(reply, "STDIN after its terminator");
		if (len > 0) {
			/*
			 * A body past the cap is not a protocol error: it is
			 * read to its end and discarded (nothing is stored),
			 * and the caller answers the request 413.
			 */
			if (len > req->limits.max_stdin_bytes - req->stdin_len)
				req->stdin_over = 1;
			else
				req->stdin_len += len;	/* discarded too */
			return FCGI_ACTION_NONE;
		}
		req->stdin_done = 1;
		req->state = FCGI_REQUEST_RUNNING;
		return FCGI_ACTION_RUN;
	case FCGI_DATA:
		/* Spec 6.4: DATA belongs to the Filter role only. */
		return close_with(reply, "DATA record for a responder");
	default:
		/* END_REQUEST, STDOUT, GET_VALUES with an id, types past
		 * FCGI_MAXTYPE: nothing a web server sends to a responder. */
		return close_with(reply, "unexpected record type");
	}
}

enum fcgi_action
fcgi_request_apply(struct fcgi_request *req, const struct fcgi_header *hdr,
    const uint8_t *content, size_t content_len, int can_admit,
    struct fcgi_reply *reply)
{
	reply->request_id = 0;
	reply->protocol_status = 0;
	reply->keep_conn = 1;
	reply->reason = "";
	reply->len = 0;

	if (hdr->version != FCGI_VERSION_1)
		return close_with(reply, "unsupported FastCGI version");
	if (content_len != hdr->content_length ||
	    (content == NULL && content_len > 0))
		return close_with(reply, "record content length mismatch");
	if (hdr->request_id == FCGI_NULL_REQUEST_ID)
		return management(req, hdr, content, content_len, reply);
	if (hdr->type == FCGI_BEGIN_REQUEST)
		return begin_request(req, hdr, content, content_len, can_admit,
		    reply);
	if (req->state == FCGI_REQUEST_IDLE || hdr->request_id != req->id) {
		/* Spec 3.3: "While a request ID R is inactive, the
		 * application ignores records with requestId == R, except
		 * for FCGI_BEGIN_REQUEST records".  Such records are the
		 * tail of a request we refused or already ended (pipelined
		 * before our END_REQUEST arrived).  A connection that never
		 * sent a BEGIN_REQUEST has no such tail: a record there is a
		 * confused or hostile peer, and we close instead. */
		if (!req->seen_begin)
			return close_with(reply,
			    before_begin_reason(hdr->type));
		return FCGI_ACTION_NONE;
	}
	/* After ABORT the request is over except for our END_REQUEST; what
	 * the web server sent before it saw the abort is ignored. */
	if (req->aborted)
		return FCGI_ACTION_NONE;
	return active_record(req, hdr, content, content_len, reply);
}

int
fcgi_request_param_next(const struct fcgi_request *req, size_t *cursor,
    struct fcgi_param *param)
{
	const char *block = (const char *)req->params_buf;

	if (req->state != FCGI_REQUEST_RUNNING || !req->params_done ||
	    *cursor >= req->params_len)
		return 0;
	param->name = block + *cursor;
	param->name_len = strlen(param->name);
	param->value = param->name + param->name_len + 1;
	param->value_len = strlen(param->value);
	*cursor += param->name_len + param->value_len + 2;
	return 1;
}

const char *
fcgi_request_param(const struct fcgi_request *req, const char *name)
{
	struct fcgi_param param;
	size_t name_len = strlen(name), cursor = 0;

	/* First match wins, as libfcgi's FCGX_GetParam() does. */
	while (fcgi_request_param_next(req, &cursor, &param))
		if (param.name_len == name_len &&
		    memcmp(param.name, name, name_len) == 0)
			return param.value;
	return NULL;
}

size_t
fcgi_request_param_count(const struct fcgi_request *req)
{
	if (req->state != FCGI_REQUEST_RUNNING || !req->params_done)
		return 0;
	return req->params_count;
}

enum fcgi_request_state
fcgi_request_state(const struct fcgi_request *req)
{
	return req->state;
}

uint16_t
fcgi_request_id(const struct fcgi_request *req)
{
	return req->id;
}

int
fcgi_request_keep_conn(const struct fcgi_request *req)
{
	return req->keep_conn;
}

int
fcgi_request_stdin_over(const struct fcgi_request *req)
{
	return req->stdin_over;
}

size_t
fcgi_request_stdin_len(const struct fcgi_request *req)
{
	return req->stdin_len;
}

void
fcgi_request_drop_params(struct fcgi_request *req)
{
	params_buf_put(req);
	req->params_buf = NULL;
	req->params_len = req->params_alloc = req->params_count = 0;
}

int
fcgi_request_finish(struct fcgi_request *req)
{
	int keep_conn = req->state != FCGI_REQUEST_IDLE && req->keep_conn;

	request_reset(req);
	return keep_conn;
}

void
fcgi_request_free(struct fcgi_request *req)
{
	request_reset(req);
	req->seen_begin = 0;
}
