/* SPDX-License-Identifier: ISC */
/*
 * fcgi_request.h - the FastCGI responder's per-connection state machine.
 *
 * One struct fcgi_request per connection.  The connection layer frames records
 * itself (fcgi_header_decode, wait for fcgi_header_record_len bytes) and
 * hands each whole record to fcgi_request_apply(), which says what to do next:
 * keep reading, run the handler, send a ready-made reply, or close.  This
 * layer does no I/O and knows nothing of libevent or of the application; it
 * owns the protocol's ordering rules and the caps on what a peer may make it
 * store.  It does not multiplex: one request at a time per connection, and
 * GET_VALUES says so (FCGI_MPXS_CONNS=0).
 *
 * Spec: FastCGI Specification 1.0 (see fcgi_codec.h); sections cited inline.
 * Errors: fcgi_request_apply() returns an enum fcgi_action; bad input is
 * FCGI_ACTION_CLOSE with a reason, never a failure of the process.
 */
#ifndef SYNCASYNC_FCGI_FCGI_REQUEST_H
#define SYNCASYNC_FCGI_FCGI_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "fcgi/fcgi_codec.h"

/* Largest management reply or END_REQUEST record we build, in bytes: a
 * header plus three GET_VALUES_RESULT pairs of at most 2+15+10 bytes. */
#define FCGI_REQUEST_REPLY_MAX	128

/* Caps and advertised figures; copied by fcgi_request_init(). */
struct fcgi_limits {
	size_t		max_params_bytes;	/* reassembled PARAMS, bytes */
	size_t		max_stdin_bytes;	/* STDIN (discarded), bytes */
	unsigned int	max_conns;		/* GET_VALUES FCGI_MAX_CONNS */
	unsigned int	max_reqs;		/* GET_VALUES FCGI_MAX_REQS */
};

enum fcgi_request_state {
	FCGI_REQUEST_IDLE = 0,	/* no active request: may close when idle */
	FCGI_REQUEST_RECEIVING,	/* BEGIN_REQUEST seen, PARAMS/STDIN arriving */
	FCGI_REQUEST_RUNNING	/* RUN or ABORT returned; the caller owes an
				   END_REQUEST, then fcgi_request_finish() */
};

enum fcgi_action {
	FCGI_ACTION_NONE = 0,	/* nothing to do; keep reading */
	FCGI_ACTION_RUN,	/* request complete: run the handler */
	FCGI_ACTION_END,	/* write reply->buf (an END_REQUEST for
				   reply->request_id, reply->protocol_status);
				   then close unless reply->keep_conn */
	FCGI_ACTION_ABORT,	/* ABORT_REQUEST for the active request:
				   cancel its work, write reply->buf (END_REQUEST
				   REQUEST_COMPLETE), call
				   fcgi_request_finish() */
	FCGI_ACTION_REPLY,	/* write reply->buf (GET_VALUES_RESULT or
				   UNKNOWN_TYPE); connection stays open */
	FCGI_ACTION_CLOSE	/* protocol error: close the connection;
				   reply->reason says why, for the log */
};

/* What fcgi_request_apply() fills in for the caller; fields per action
 * above. */
struct fcgi_reply {
	uint16_t	 request_id;	  /* END, ABORT */
	uint8_t		 protocol_status; /* END: FCGI_CANT_MPX_CONN, ... */
	int		 keep_conn;	  /* END: 1 = connection may stay open */
	const char	*reason;	  /* CLOSE: static string, never NULL */
	size_t		 len;		  /* END, ABORT, REPLY: bytes in buf */
	uint8_t		 buf[FCGI_REQUEST_REPLY_MAX]; /* complete wire records */
};

/* One decoded parameter; name and value are NUL-terminated. */
struct fcgi_param {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

/*
 * Per-connection state.  Fields are private to fcgi_request.c; the struct is
 * public only so the caller can embed it.  Use the functions below.
 */
struct fcgi_request {
	struct fcgi_limits	 limits;
	enum fcgi_request_state	 state;
	int			 seen_begin;	/* any BEGIN on this connection */
	uint16_t		 id;		/* active request id, 0 if none */
	int			 keep_conn;	/* FCGI_KEEP_CONN of active id */
	int			 aborted;	/* ABORT already reported */
	int			 params_done;
	int			 stdin_done;
	uint8_t			*params_buf;	/* reassembly, then strings */
	size_t			 params_len;	/* then "name\0value\0"... */
	size_t			 params_alloc;
	size_t			 params_count;	/* pairs, after PARAMS ends */
	size_t			 stdin_len;
	int			 stdin_over;	/* body passed max_stdin_bytes */
};

/* Prepares req for a new connection; copies *limits.  Allocates nothing. */
void fcgi_request_init(struct fcgi_request *req,
    const struct fcgi_limits *limits);

/*
 * Applies one whole record: hdr as decoded by fcgi_header_decode(), content
 * its content_len == hdr->content_length bytes (padding already skipped).
 * can_admit is 0 when the server already has as many requests in flight as
 * it allows; a BEGIN_REQUEST that would start one then gets OVERLOADED.
 * *reply is filled in as the returned action requires (see enum fcgi_action)
 * and is valid until the next call.  Never fails except by returning
 * FCGI_ACTION_CLOSE; after CLOSE the caller must not apply more records
 * (call fcgi_request_free()).
 *
 * Rules (spec sections in fcgi_request.c at each decision):
 *  - request id 0 is a management record: GET_VALUES -> REPLY with
 *    GET_VALUES_RESULT, any other type -> REPLY with UNKNOWN_TYPE (4.1, 4.2).
 *  - BEGIN_REQUEST on an idle connection: role != FCGI_RESPONDER -> END
 *    UNKNOWN_ROLE; !can_admit -> END OVERLOADED; else the id becomes active,
 *    NONE.  While a request is active: another id -> END CANT_MPX_CONN
 *    (keep_conn 1), the same id -> CLOSE.
 *  - for the active id: PARAMS until its empty record, then STDIN until its
 *    empty record -> RUN.  ABORT_REQUEST -> ABORT.  Anything out of that
 *    order, DATA, or a type a web server never sends -> CLOSE.
 *  - records for ids that are not active are ignored (NONE), except on a
 *    connection that has never sent a BEGIN_REQUEST (CLOSE).
 */
enum fcgi_action fcgi_request_apply(struct fcgi_request *req,
    const struct fcgi_header *hdr, const uint8_t *content, size_t content_len,
    int can_admit, struct fcgi_reply *reply);

/*
 * Parameter lookup after RUN: the value of the first pair named name, or NULL
 * if there is none or no request has been run.  Valid until
 * fcgi_request_drop_params()/finish()/free().  Pairs with a NUL byte in the
 * name or value never get here: the request is refused (CLOSE) instead.
 * There is no index (memory per request is what the peer sent): a lookup
 * scans the pairs, at most max_params_bytes / 2 of them.
 */
const char *fcgi_request_param(const struct fcgi_request *req,
    const char *name);

/* Parameter count after RUN; and the pairs in wire order: *cursor starts at
 * 0, each call fills *param and returns 1, then 0 past the last one. */
size_t fcgi_request_param_count(const struct fcgi_request *req);
int fcgi_request_param_next(const struct fcgi_request *req, size_t *cursor,
    struct fcgi_param *param);

enum fcgi_request_state fcgi_request_state(const struct fcgi_request *req);
/* Active request id; 0 when idle. */
uint16_t fcgi_request_id(const struct fcgi_request *req);
/* FCGI_KEEP_CONN of the active request (1/0); 0 when idle. */
int fcgi_request_keep_conn(const struct fcgi_request *req);
/* STDIN bytes received (and discarded) for the active request, up to the
 * cap; and whether the body went past max_stdin_bytes (then it was read to
 * its end and dropped, and the request still RUNs: the caller answers it
 * 413 rather than closing a connection that did nothing wrong). */
size_t fcgi_request_stdin_len(const struct fcgi_request *req);
int fcgi_request_stdin_over(const struct fcgi_request *req);

/*
 * Frees the active request's parameters once the caller has read what it
 * needs (fcgi_request_param returns NULL afterwards): a request that waits long
 * (a sleeper, a queued job) then holds no PARAMS memory.  The request stays
 * active; fcgi_request_finish() still ends it.
 */
void fcgi_request_drop_params(struct fcgi_request *req);

/*
 * Call once the END_REQUEST for the active request (after RUN or ABORT) has
 * been queued: the id becomes inactive (spec 3.3), per-request memory is
 * freed and the state is IDLE.  Returns 1 if the connection may carry the
 * next BEGIN_REQUEST (the request had FCGI_KEEP_CONN), 0 if the caller must
 * close it after writing (spec 5.1).  On an idle req, does nothing, returns 0.
 */
int fcgi_request_finish(struct fcgi_request *req);

/* Frees everything req holds (not req itself); req may be init'ed again. */
void fcgi_request_free(struct fcgi_request *req);

#endif
