/* SPDX-License-Identifier: ISC */
/*
 * unit_fcgi_request.c - tests for the request state machine,
 * fcgi/fcgi_request.c.
 *
 * Records are built with the codec and fed one at a time, as the connection
 * layer does; replies are checked as exact wire bytes.  Table-driven cases
 * cover the orders a peer must not send.  Every object is freed, so the
 * program is also a leak check under valgrind.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/fcgi_codec.h"
#include "fcgi/fcgi_request.h"
#include "tests/tap.h"

static const struct fcgi_limits limits = {
	.max_params_bytes = 4096,
	.max_stdin_bytes = 1024,
	.max_conns = 16384,
	.max_reqs = 100,
};

static const uint8_t begin_close[8] = { 0, FCGI_RESPONDER, 0 };
static const uint8_t begin_keep[8] = { 0, FCGI_RESPONDER, FCGI_KEEP_CONN };
static const uint8_t begin_authorizer[8] = { 0, FCGI_AUTHORIZER, 0 };
static const uint8_t begin_authorizer_keep[8] = { 0, FCGI_AUTHORIZER,
    FCGI_KEEP_CONN };

/* Applies one record, going through the wire header as the caller does. */
static enum fcgi_action
apply_admit(struct fcgi_request *req, uint8_t type, uint16_t id,
    const void *content, size_t len, int can_admit, struct fcgi_reply *reply)
{
	uint8_t wire[FCGI_HEADER_LEN];
	struct fcgi_header hdr;

	fcgi_header_encode(wire, type, id, (uint16_t)len);
	if (fcgi_header_decode(wire, sizeof(wire), &hdr) != FCGI_CODEC_OK)
		return FCGI_ACTION_CLOSE;
	return fcgi_request_apply(req, &hdr, content, len, can_admit, reply);
}

static enum fcgi_action
apply(struct fcgi_request *req, uint8_t type, uint16_t id, const void *content,
    size_t len, struct fcgi_reply *reply)
{
	return apply_admit(req, type, id, content, len, 1, reply);
}

/* Encodes NULL-terminated name, value, ... into out; returns the size. */
static size_t
params_build(uint8_t *out, size_t size, const char *const *pairs)
{
	size_t pos = 0, used;

	for (; pairs[0] != NULL; pairs += 2) {
		if (fcgi_nv_encode((const uint8_t *)pairs[0], strlen(pairs[0]),
		    (const uint8_t *)pairs[1], strlen(pairs[1]), out + pos,
		    size - pos, &used) != FCGI_CODEC_OK)
			abort();	/* a broken fixture, not a test */
		pos += used;
	}
	return pos;
}

static char long_value[300];

static const char *const request_pairs[] = {
	"REQUEST_METHOD", "GET",
	"SCRIPT_NAME", "/async",
	"QUERY_STRING", "",
	"LONG", long_value,
	"REQUEST_METHOD", "POST",	/* a repeat: the first one wins */
	NULL
};

/* Checks the parameters request_pairs decodes to. */
static void
check_request_params(const struct fcgi_request *req, const char *what)
{
	struct fcgi_param param;
	size_t cursor = 0, n = 0;

	TAP_EQ_STR(fcgi_request_param(req, "REQUEST_METHOD"), "GET", what);
	TAP_EQ_STR(fcgi_request_param(req, "SCRIPT_NAME"), "/async", what);
	TAP_EQ_STR(fcgi_request_param(req, "QUERY_STRING"), "", what);
	TAP_EQ_STR(fcgi_request_param(req, "LONG"), long_value, what);
	TAP_OK(fcgi_request_param(req, "MISSING") == NULL, what);
	TAP_OK(fcgi_request_param(req, "REQUEST_METHO") == NULL, what);
	TAP_EQ_INT(fcgi_request_param_count(req), 5, what);
	while (n < 4 && fcgi_request_param_next(req, &cursor, &param))
		n++;
	TAP_OK(n == 4 && param.name_len == 4 &&
	    param.value_len == strlen(long_value), what);
	while (fcgi_request_param_next(req, &cursor, &param))
		n++;
	TAP_EQ_INT(n, 5, what);
}

static void
test_full_request(void)
{
	struct fcgi_request req;
	struct fcgi_reply reply;
	uint8_t params[1024];
	size_t len = params_build(params, sizeof(params), request_pairs);

	fcgi_request_init(&req, &limits);
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_IDLE, "starts idle");
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply),
	    FCGI_ACTION_NONE, "BEGIN accepted");
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_RECEIVING, "receiving");
	TAP_EQ_INT(fcgi_request_id(&req), 1, "request id");
	TAP_EQ_INT(fcgi_request_keep_conn(&req), 0, "no KEEP_CONN");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, params, len, &reply),
	    FCGI_ACTION_NONE, "PARAMS record");
	TAP_OK(fcgi_request_param(&req, "SCRIPT_NAME") == NULL,
	    "no lookup before RUN");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "PARAMS end");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, "abc", 3, &reply),
	    FCGI_ACTION_NONE, "STDIN record");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, "de", 2, &reply),
	    FCGI_ACTION_NONE, "STDIN record 2");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "STDIN end -> RUN");
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_RUNNING, "running");
	TAP_EQ_INT(fcgi_request_stdin_len(&req), 5, "stdin counted");
	check_request_params(&req, "full request params");
	TAP_EQ_INT(fcgi_request_finish(&req), 0, "finish: close (no KEEP_CONN)");
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_IDLE, "idle after finish");
	TAP_OK(fcgi_request_param(&req, "SCRIPT_NAME") == NULL,
	    "params gone after finish");
	TAP_EQ_INT(fcgi_request_finish(&req), 0, "finish on idle is harmless");
	fcgi_request_free(&req);
}

/* Feeds params as records of the given sizes (cut points) and runs. */
static int
run_split(const uint8_t *params, size_t len, size_t first, size_t step)
{
	struct fcgi_request req;
	struct fcgi_reply reply;
	size_t pos = 0, chunk;
	int ok = 1;

	fcgi_request_init(&req, &limits);
	ok &= apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply) ==
	    FCGI_ACTION_NONE;
	while (pos < len) {
		chunk = pos == 0 ? first : step;
		if (chunk > len - pos)
			chunk = len - pos;
		ok &= apply(&req, FCGI_PARAMS, 1, params + pos, chunk,
		    &reply) == FCGI_ACTION_NONE;
		pos += chunk;
	}
	ok &= apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply) == FCGI_ACTION_NONE;
	ok &= apply(&req, FCGI_STDIN, 1, NULL, 0, &reply) == FCGI_ACTION_RUN;
	ok &= fcgi_request_param(&req, "REQUEST_METHOD") != NULL &&
	    strcmp(fcgi_request_param(&req, "REQUEST_METHOD"), "GET") == 0;
	ok &= fcgi_request_param(&req, "LONG") != NULL &&
	    strcmp(fcgi_request_param(&req, "LONG"), long_value) == 0;
	ok &= fcgi_request_param(&req, "SCRIPT_NAME") != NULL &&
	    strcmp(fcgi_request_param(&req, "SCRIPT_NAME"), "/async") == 0;
	ok &= fcgi_request_param_count(&req) == 5;
	fcgi_request_free(&req);
	return ok;
}

static void
test_split_params(void)
{
	uint8_t params[1024];
	size_t len = params_build(params, sizeof(params), request_pairs);
	size_t cut;
	int all = 1;

	for (cut = 1; cut < len; cut++)
		all &= run_split(params, len, cut, len);
	TAP_OK(all, "params split in two at every byte");
	TAP_OK(run_split(params, len, 1, 1), "params one byte per record");
	TAP_OK(run_split(params, len, 3, 7), "params in 7-byte records");
}

static void
test_caps(void)
{
	struct fcgi_limits small = limits;
	struct fcgi_request req;
	struct fcgi_reply reply;
	uint8_t params[64], zeros[16] = { 0 };
	const char *const pairs[] = { "AB", "cdefghijklmn", NULL };
	size_t len = params_build(params, sizeof(params), pairs);

	TAP_EQ_INT(len, 16, "cap fixture is 16 bytes");
	small.max_params_bytes = 16;
	small.max_stdin_bytes = 10;

	fcgi_request_init(&req, &small);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply);
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, params, 10, &reply),
	    FCGI_ACTION_NONE, "params under cap");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, params + 10, 6, &reply),
	    FCGI_ACTION_NONE, "params exactly at cap");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "params at cap decode");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, zeros, 10, &reply),
	    FCGI_ACTION_NONE, "stdin exactly at cap");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "run at both caps");
	TAP_EQ_STR(fcgi_request_param(&req, "AB"), "cdefghijklmn", "value at cap");
	fcgi_request_free(&req);

	fcgi_request_init(&req, &small);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply);
	apply(&req, FCGI_PARAMS, 1, params, 16, &reply);
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, params, 1, &reply),
	    FCGI_ACTION_CLOSE, "params one byte over cap");
	TAP_EQ_STR(reply.reason, "params exceed cap", "params cap reason");
	fcgi_request_free(&req);

	fcgi_request_init(&req, &small);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply);
	apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply);
	apply(&req, FCGI_STDIN, 1, zeros, 6, &reply);
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, zeros, 5, &reply),
	    FCGI_ACTION_NONE, "stdin one byte over cap: read on, not closed");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, zeros, 10, &reply),
	    FCGI_ACTION_NONE, "  more body past the cap is discarded");
	TAP_OK(fcgi_request_stdin_len(&req) <= 10,
	    "  nothing counted past the cap");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "  its terminator still runs the request");
	TAP_EQ_INT(fcgi_request_stdin_over(&req), 1, "  flagged as over the cap");
	fcgi_request_free(&req);

	small.max_params_bytes = 0;
	fcgi_request_init(&req, &small);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply);
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "no params at cap 0");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "run without params");
	TAP_EQ_INT(fcgi_request_param_count(&req), 0, "zero params");
	TAP_OK(fcgi_request_param(&req, "X") == NULL, "lookup with zero params");
	fcgi_request_free(&req);
}

/* A sequence of records; every step but the last must return NONE. */
struct step {
	uint8_t		 type;
	uint16_t	 id;
	const void	*content;
	size_t		 len;
};

struct order_case {
	const char	*what;
	struct step	 steps[6];
	enum fcgi_action want;
	const char	*reason;	/* for CLOSE */
};

#define BEGIN(id)	{ FCGI_BEGIN_REQUEST, (id), begin_close, 8 }
#define PARAMS(id)	{ FCGI_PARAMS, (id), "\1\1AB", 4 }
#define PARAMS_END(id)	{ FCGI_PARAMS, (id), NULL, 0 }
#define STDIN(id)	{ FCGI_STDIN, (id), "x", 1 }
#define STDIN_END(id)	{ FCGI_STDIN, (id), NULL, 0 }
#define LAST		{ 0, 0, NULL, 0 }

static const struct order_case order_cases[] = {
	{ "STDIN before BEGIN", { STDIN(1), LAST }, FCGI_ACTION_CLOSE,
	    "STDIN before BEGIN_REQUEST" },
	{ "PARAMS before BEGIN", { PARAMS(1), LAST }, FCGI_ACTION_CLOSE,
	    "PARAMS before BEGIN_REQUEST" },
	{ "ABORT before BEGIN", { { FCGI_ABORT_REQUEST, 1, NULL, 0 }, LAST },
	    FCGI_ACTION_CLOSE, "ABORT_REQUEST before BEGIN_REQUEST" },
	{ "DATA before BEGIN", { { FCGI_DATA, 1, "x", 1 }, LAST },
	    FCGI_ACTION_CLOSE, "record before BEGIN_REQUEST" },
	{ "BEGIN body short", { { FCGI_BEGIN_REQUEST, 1, begin_close, 7 },
	    LAST }, FCGI_ACTION_CLOSE, "BEGIN_REQUEST body too short" },
	{ "BEGIN body empty", { { FCGI_BEGIN_REQUEST, 1, NULL, 0 }, LAST },
	    FCGI_ACTION_CLOSE, "BEGIN_REQUEST body too short" },
	{ "second BEGIN same id", { BEGIN(1), BEGIN(1), LAST },
	    FCGI_ACTION_CLOSE, "second BEGIN_REQUEST for the active id" },
	{ "second BEGIN same id while running", { BEGIN(1), PARAMS_END(1),
	    STDIN_END(1), BEGIN(1), LAST }, FCGI_ACTION_CLOSE,
	    "second BEGIN_REQUEST for the active id" },
	{ "STDIN before PARAMS ended", { BEGIN(1), PARAMS(1), STDIN(1),
	    LAST }, FCGI_ACTION_CLOSE, "STDIN before PARAMS ended" },
	{ "STDIN end before PARAMS", { BEGIN(1), STDIN_END(1), LAST },
	    FCGI_ACTION_CLOSE, "STDIN before PARAMS ended" },
	{ "PARAMS after PARAMS ended", { BEGIN(1), PARAMS(1), PARAMS_END(1),
	    PARAMS(1), LAST }, FCGI_ACTION_CLOSE,
	    "PARAMS after PARAMS ended" },
	{ "PARAMS end twice", { BEGIN(1), PARAMS_END(1), PARAMS_END(1),
	    LAST }, FCGI_ACTION_CLOSE, "PARAMS after PARAMS ended" },
	{ "PARAMS while running", { BEGIN(1), PARAMS_END(1), STDIN_END(1),
	    PARAMS(1), LAST }, FCGI_ACTION_CLOSE,
	    "PARAMS after PARAMS ended" },
	{ "STDIN after its terminator", { BEGIN(1), PARAMS_END(1),
	    STDIN_END(1), STDIN(1), LAST }, FCGI_ACTION_CLOSE,
	    "STDIN after its terminator" },
	{ "STDIN end twice", { BEGIN(1), PARAMS_END(1), STDIN_END(1),
	    STDIN_END(1), LAST }, FCGI_ACTION_CLOSE,
	    "STDIN after its terminator" },
	{ "DATA record", { BEGIN(1), PARAMS_END(1), { FCGI_DATA, 1, "x", 1 },
	    LAST }, FCGI_ACTION_CLOSE, "DATA record for a responder" },
	{ "STDOUT from the web server", { BEGIN(1), { FCGI_STDOUT, 1, "x", 1 },
	    LAST }, FCGI_ACTION_CLOSE, "unexpected record type" },
	{ "END_REQUEST from the web server", { BEGIN(1),
	    { FCGI_END_REQUEST, 1, begin_close, 8 }, LAST },
	    FCGI_ACTION_CLOSE, "unexpected record type" },
	{ "GET_VALUES with a request id", { BEGIN(1),
	    { FCGI_GET_VALUES, 1, NULL, 0 }, LAST }, FCGI_ACTION_CLOSE,
	    "unexpected record type" },
	{ "type past FCGI_MAXTYPE", { BEGIN(1), { 200, 1, NULL, 0 }, LAST },
	    FCGI_ACTION_CLOSE, "unexpected record type" },
	{ "truncated pair length", { BEGIN(1), { FCGI_PARAMS, 1, "\x80\0", 2 },
	    PARAMS_END(1), LAST }, FCGI_ACTION_CLOSE,
	    "malformed name-value pair" },
	{ "pair past the stream", { BEGIN(1), { FCGI_PARAMS, 1, "\1\5AB", 4 },
	    PARAMS_END(1), LAST }, FCGI_ACTION_CLOSE,
	    "malformed name-value pair" },
	{ "CVE wrap shape in PARAMS", { BEGIN(1), { FCGI_PARAMS, 1,
	    "\xff\xff\xff\xff\xff\xff\xff\xff" "AB", 10 }, PARAMS_END(1),
	    LAST }, FCGI_ACTION_CLOSE, "malformed name-value pair" },
	{ "NUL in a value", { BEGIN(1), { FCGI_PARAMS, 1, "\1\2AB\0C", 6 },
	    PARAMS_END(1), LAST }, FCGI_ACTION_CLOSE,
	    "NUL byte in a parameter" },
	{ "NUL in a name", { BEGIN(1), { FCGI_PARAMS, 1, "\2\1\0AB", 5 },
	    PARAMS_END(1), LAST }, FCGI_ACTION_CLOSE,
	    "NUL byte in a parameter" },
	{ "malformed GET_VALUES", { { FCGI_GET_VALUES, 0, "\x80", 1 }, LAST },
	    FCGI_ACTION_CLOSE, "malformed GET_VALUES body" },
	{ "other ids ignored while active", { BEGIN(1), PARAMS(2), STDIN(2),
	    { FCGI_ABORT_REQUEST, 2, NULL, 0 }, { FCGI_DATA, 2, "x", 1 },
	    PARAMS(1) }, FCGI_ACTION_NONE, NULL },
	{ "refused id ignored while running", { BEGIN(1), PARAMS_END(1), STDIN_END(1),
	    { FCGI_BEGIN_REQUEST, 2, begin_authorizer, 8 }, STDIN(2),
	    PARAMS(2) }, FCGI_ACTION_NONE, NULL },
};

static void
test_order_cases(void)
{
	const struct order_case *c;
	const struct step *s;
	struct fcgi_request req;
	struct fcgi_reply reply;
	enum fcgi_action action = FCGI_ACTION_NONE;
	size_t i, n;
	int early;

	for (i = 0; i < sizeof(order_cases) / sizeof(order_cases[0]); i++) {
		c = &order_cases[i];
		fcgi_request_init(&req, &limits);
		early = 0;
		for (n = 0; n < 6 && c->steps[n].type != 0; n++) {
			s = &c->steps[n];
			if (n > 0 && action != FCGI_ACTION_NONE &&
			    action != FCGI_ACTION_RUN &&
			    action != FCGI_ACTION_END)
				early = 1;
			action = apply(&req, s->type, s->id, s->content,
			    s->len, &reply);
		}
		TAP_OK(!early, c->what);
		TAP_EQ_INT(action, c->want, c->what);
		if (c->want == FCGI_ACTION_CLOSE)
			TAP_EQ_STR(reply.reason, c->reason, c->what);
		fcgi_request_free(&req);
	}
}

static void
test_bad_header(void)
{
	struct fcgi_request req;
	struct fcgi_reply reply;
	struct fcgi_header hdr = { 2, FCGI_BEGIN_REQUEST, 1, 8, 0 };

	fcgi_request_init(&req, &limits);
	TAP_EQ_INT(fcgi_request_apply(&req, &hdr, begin_close, 8, 1, &reply),
	    FCGI_ACTION_CLOSE, "bad version closes");
	TAP_EQ_STR(reply.reason, "unsupported FastCGI version",
	    "bad version reason");
	hdr.version = FCGI_VERSION_1;
	TAP_EQ_INT(fcgi_request_apply(&req, &hdr, begin_close, 7, 1, &reply),
	    FCGI_ACTION_CLOSE, "content length mismatch closes");
	TAP_EQ_STR(reply.reason, "record content length mismatch",
	    "mismatch reason");
	TAP_EQ_INT(fcgi_request_apply(&req, &hdr, NULL, 8, 1, &reply),
	    FCGI_ACTION_CLOSE, "NULL content closes");
	fcgi_request_free(&req);
}

static void
test_cant_mpx(void)
{
	static const uint8_t want[] = { 1, 3, 0, 2, 0, 8, 0, 0,
	    0, 0, 0, 0, FCGI_CANT_MPX_CONN, 0, 0, 0 };
	struct fcgi_request req;
	struct fcgi_reply reply;

	fcgi_request_init(&req, &limits);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, &reply);
	apply(&req, FCGI_PARAMS, 1, "\1\1AB", 4, &reply);
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 2, begin_keep, 8, &reply),
	    FCGI_ACTION_END, "second id -> END");
	TAP_EQ_INT(reply.request_id, 2, "END for the new id");
	TAP_EQ_INT(reply.protocol_status, FCGI_CANT_MPX_CONN, "CANT_MPX_CONN");
	TAP_EQ_INT(reply.keep_conn, 1, "connection stays open");
	TAP_EQ_INT(reply.len, sizeof(want), "END record length");
	TAP_EQ_MEM(reply.buf, want, sizeof(want), "CANT_MPX_CONN bytes");
	TAP_EQ_INT(fcgi_request_id(&req), 1, "active request unchanged");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 2, "\1\1CD", 4, &reply),
	    FCGI_ACTION_NONE, "refused id's PARAMS ignored");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "active request goes on");
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 3, begin_close, 8, &reply),
	    FCGI_ACTION_END, "third id -> END");
	TAP_EQ_INT(reply.keep_conn, 1, "still open without KEEP_CONN");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "active request runs");
	TAP_EQ_STR(fcgi_request_param(&req, "A"), "B", "its params intact");
	TAP_OK(fcgi_request_param(&req, "C") == NULL, "refused id's params absent");
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 2, begin_keep, 8, &reply),
	    FCGI_ACTION_END, "BEGIN while running -> END");
	TAP_EQ_INT(fcgi_request_finish(&req), 1, "KEEP_CONN honoured");
	fcgi_request_free(&req);
}

/* A refusal on an idle connection: status, keep_conn, then the tail. */
static void
check_refusal(const uint8_t *body, int can_admit, uint8_t status,
    int keep_conn, const char *what)
{
	uint8_t want[FCGI_CODEC_END_RECORD_LEN];
	struct fcgi_request req;
	struct fcgi_reply reply;

	fcgi_end_record_encode(want, 5, 0, status);
	fcgi_request_init(&req, &limits);
	TAP_EQ_INT(apply_admit(&req, FCGI_BEGIN_REQUEST, 5, body, 8,
	    can_admit, &reply), FCGI_ACTION_END, what);
	TAP_EQ_INT(reply.request_id, 5, what);
	TAP_EQ_INT(reply.protocol_status, status, what);
	TAP_EQ_INT(reply.keep_conn, keep_conn, what);
	TAP_OK(reply.len == sizeof(want) &&
	    memcmp(reply.buf, want, sizeof(want)) == 0, what);
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_IDLE, what);
	/* The records the web server pipelined behind that BEGIN. */
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 5, "\1\1AB", 4, &reply),
	    FCGI_ACTION_NONE, "refused request's PARAMS ignored");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 5, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "refused request's PARAMS end ignored");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 5, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "refused request's STDIN end ignored");
	if (keep_conn) {
		TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 6, begin_keep, 8,
		    &reply), FCGI_ACTION_NONE, "next BEGIN admitted");
		TAP_EQ_INT(fcgi_request_id(&req), 6, "next request active");
	}
	fcgi_request_free(&req);
}

static void
test_refusals(void)
{
	uint8_t role_zero[8] = { 0 }, role_big[8] = { 0x01, 0x01 };

	check_refusal(begin_authorizer, 1, FCGI_UNKNOWN_ROLE, 0,
	    "authorizer role, no KEEP_CONN");
	check_refusal(begin_authorizer_keep, 1, FCGI_UNKNOWN_ROLE, 1,
	    "authorizer role, KEEP_CONN");
	check_refusal(role_zero, 1, FCGI_UNKNOWN_ROLE, 0, "role 0");
	check_refusal(role_big, 1, FCGI_UNKNOWN_ROLE, 0, "role 0x0101");
	check_refusal(begin_close, 0, FCGI_OVERLOADED, 0,
	    "overloaded, no KEEP_CONN");
	check_refusal(begin_keep, 0, FCGI_OVERLOADED, 1,
	    "overloaded, KEEP_CONN");
	/* Role is judged before load: an unknown role is not retried. */
	check_refusal(begin_authorizer, 0, FCGI_UNKNOWN_ROLE, 0,
	    "unknown role while overloaded");
}

static void
test_get_values(void)
{
	static const uint8_t want[] = { 1, FCGI_GET_VALUES_RESULT, 0, 0, 0, 57,
	    0, 0,
	    14, 5, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O', 'N',
	    'N', 'S', '1', '6', '3', '8', '4',
	    13, 3, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'R', 'E', 'Q',
	    'S', '1', '0', '0',
	    15, 1, 'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_', 'C', 'O',
	    'N', 'N', 'S', '0' };
	static const uint8_t want_empty[] = { 1, FCGI_GET_VALUES_RESULT, 0, 0,
	    0, 0, 0, 0 };
	const char *const query[] = { FCGI_MAX_CONNS, "", "FCGI_UNKNOWN", "",
	    FCGI_MAX_REQS, "ignored", FCGI_MAX_CONNS, "", FCGI_MPXS_CONNS, "",
	    "FCGI_MAX_CONN", "", NULL };
	const char *const reversed[] = { FCGI_MPXS_CONNS, "", FCGI_MAX_REQS,
	    "", NULL };
	const char *const unknown[] = { "X", "", NULL };
	uint8_t buf[256];
	size_t len;
	struct fcgi_request req;
	struct fcgi_reply reply;

	fcgi_request_init(&req, &limits);
	len = params_build(buf, sizeof(buf), query);
	TAP_EQ_INT(apply(&req, FCGI_GET_VALUES, 0, buf, len, &reply),
	    FCGI_ACTION_REPLY, "GET_VALUES -> REPLY");
	TAP_EQ_INT(reply.len, sizeof(want), "GET_VALUES_RESULT length");
	TAP_EQ_MEM(reply.buf, want, sizeof(want), "GET_VALUES_RESULT bytes");

	TAP_EQ_INT(apply(&req, FCGI_GET_VALUES, 0, NULL, 0, &reply),
	    FCGI_ACTION_REPLY, "empty GET_VALUES");
	TAP_OK(reply.len == sizeof(want_empty) &&
	    memcmp(reply.buf, want_empty, sizeof(want_empty)) == 0,
	    "empty GET_VALUES_RESULT bytes");

	len = params_build(buf, sizeof(buf), unknown);
	apply(&req, FCGI_GET_VALUES, 0, buf, len, &reply);
	TAP_OK(reply.len == sizeof(want_empty) &&
	    memcmp(reply.buf, want_empty, sizeof(want_empty)) == 0,
	    "unknown names omitted");

	/* Management records do not disturb an active request. */
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply);
	len = params_build(buf, sizeof(buf), reversed);
	TAP_EQ_INT(apply(&req, FCGI_GET_VALUES, 0, buf, len, &reply),
	    FCGI_ACTION_REPLY, "GET_VALUES during a request");
	TAP_OK(reply.len == 8 + 18 + 18 && reply.buf[5] == 36 &&
	    reply.buf[8] == 15 && reply.buf[25] == '0' &&
	    reply.buf[26] == 13 && memcmp(reply.buf + 41, "100", 3) == 0,
	    "answered in the order asked");
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_RECEIVING,
	    "request still receiving");
	fcgi_request_free(&req);
}

static void
test_unknown_type(void)
{
	static const uint8_t want[] = { 1, FCGI_UNKNOWN_TYPE, 0, 0, 0, 8, 0, 0,
	    200, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t want_begin[] = { 1, FCGI_UNKNOWN_TYPE, 0, 0, 0, 8,
	    0, 0, FCGI_BEGIN_REQUEST, 0, 0, 0, 0, 0, 0, 0 };
	struct fcgi_request req;
	struct fcgi_reply reply;

	fcgi_request_init(&req, &limits);
	TAP_EQ_INT(apply(&req, 200, 0, "xyz", 3, &reply), FCGI_ACTION_REPLY,
	    "unknown management type -> REPLY");
	TAP_EQ_INT(reply.len, sizeof(want), "UNKNOWN_TYPE length");
	TAP_EQ_MEM(reply.buf, want, sizeof(want), "UNKNOWN_TYPE bytes");
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 0, begin_close, 8, &reply),
	    FCGI_ACTION_REPLY, "BEGIN with id 0 is a management record");
	TAP_EQ_MEM(reply.buf, want_begin, sizeof(want_begin),
	    "UNKNOWN_TYPE names type 1");
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_IDLE, "still idle");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, "x", 1, &reply),
	    FCGI_ACTION_CLOSE, "management records do not count as BEGIN");
	fcgi_request_free(&req);
}

static void
test_abort(void)
{
	static const uint8_t want[] = { 1, 3, 0, 1, 0, 8, 0, 0,
	    0, 0, 0, 0, FCGI_REQUEST_COMPLETE, 0, 0, 0 };
	struct fcgi_request req;
	struct fcgi_reply reply;

	/* While receiving. */
	fcgi_request_init(&req, &limits);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, &reply);
	apply(&req, FCGI_PARAMS, 1, "\1\1", 2, &reply);
	TAP_EQ_INT(apply(&req, FCGI_ABORT_REQUEST, 2, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "ABORT for another id ignored");
	TAP_EQ_INT(apply(&req, FCGI_ABORT_REQUEST, 1, NULL, 0, &reply),
	    FCGI_ACTION_ABORT, "ABORT while receiving");
	TAP_EQ_INT(reply.request_id, 1, "ABORT names the request");
	TAP_OK(reply.len == sizeof(want) &&
	    memcmp(reply.buf, want, sizeof(want)) == 0,
	    "END_REQUEST REQUEST_COMPLETE bytes");
	TAP_EQ_INT(fcgi_request_state(&req), FCGI_REQUEST_RUNNING,
	    "END_REQUEST owed after ABORT");
	TAP_EQ_INT(apply(&req, FCGI_PARAMS, 1, "AB", 2, &reply),
	    FCGI_ACTION_NONE, "aborted request's PARAMS ignored");
	TAP_EQ_INT(apply(&req, FCGI_ABORT_REQUEST, 1, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "second ABORT ignored");
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, &reply),
	    FCGI_ACTION_CLOSE, "BEGIN for the aborted id before finish");
	fcgi_request_free(&req);

	/* While running, then the connection is reused. */
	fcgi_request_init(&req, &limits);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, &reply);
	apply(&req, FCGI_PARAMS, 1, "\1\1AB", 4, &reply);
	apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply);
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "run");
	TAP_EQ_INT(apply(&req, FCGI_ABORT_REQUEST, 1, NULL, 0, &reply),
	    FCGI_ACTION_ABORT, "ABORT while running");
	TAP_EQ_INT(reply.keep_conn, 1, "ABORT reports KEEP_CONN");
	TAP_EQ_INT(fcgi_request_finish(&req), 1, "finish after ABORT keeps conn");
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_NONE, "finished id's records ignored");
	TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply),
	    FCGI_ACTION_NONE, "id reusable after finish");
	TAP_EQ_INT(apply(&req, FCGI_ABORT_REQUEST, 1, NULL, 0, &reply),
	    FCGI_ACTION_ABORT, "ABORT right after BEGIN");
	TAP_EQ_INT(reply.keep_conn, 0, "ABORT reports no KEEP_CONN");
	TAP_EQ_INT(fcgi_request_finish(&req), 0, "finish says close");
	fcgi_request_free(&req);
}

static void
test_keep_conn_reuse(void)
{
	const char *const second[] = { "SCRIPT_NAME", "/second", NULL };
	uint8_t params[1024];
	size_t len;
	struct fcgi_request req;
	struct fcgi_reply reply;
	int round;

	fcgi_request_init(&req, &limits);
	for (round = 0; round < 3; round++) {
		len = params_build(params, sizeof(params),
		    round == 1 ? second : request_pairs);
		TAP_EQ_INT(apply(&req, FCGI_BEGIN_REQUEST, round == 2 ? 9 : 1,
		    round == 2 ? begin_close : begin_keep, 8, &reply),
		    FCGI_ACTION_NONE, "reuse: BEGIN");
		apply(&req, FCGI_PARAMS, fcgi_request_id(&req), params, len,
		    &reply);
		apply(&req, FCGI_PARAMS, fcgi_request_id(&req), NULL, 0, &reply);
		apply(&req, FCGI_STDIN, fcgi_request_id(&req), "in", 2, &reply);
		TAP_EQ_INT(apply(&req, FCGI_STDIN, fcgi_request_id(&req), NULL, 0,
		    &reply), FCGI_ACTION_RUN, "reuse: RUN");
		TAP_EQ_INT(fcgi_request_stdin_len(&req), 2, "reuse: stdin count");
		if (round == 1) {
			TAP_EQ_STR(fcgi_request_param(&req, "SCRIPT_NAME"),
			    "/second", "reuse: new params");
			TAP_OK(fcgi_request_param(&req, "REQUEST_METHOD") == NULL,
			    "reuse: old params gone");
			TAP_EQ_INT(fcgi_request_param_count(&req), 1,
			    "reuse: one param");
		} else {
			check_request_params(&req, "reuse: params");
		}
		TAP_EQ_INT(fcgi_request_finish(&req), round == 2 ? 0 : 1,
		    "reuse: finish follows KEEP_CONN");
	}
	fcgi_request_free(&req);
}

/*
 * A whole request as one byte stream with padded records, framed the way
 * the connection layer frames it: decode the header, wait for
 * fcgi_header_record_len() bytes, apply, skip the padding.
 */
static void
test_framed_stream(void)
{
	uint8_t stream[512], params[256];
	const char *const pairs[] = { "A", "1", "BB", "22", NULL };
	size_t len = params_build(params, sizeof(params), pairs);
	size_t pos = 0, total, records = 0;
	struct fcgi_header hdr;
	struct fcgi_request req;
	struct fcgi_reply reply;
	enum fcgi_action action = FCGI_ACTION_NONE;

#define PUT(type, data, n, pad) do {					\
	fcgi_header_encode(stream + pos, (type), 1, (uint16_t)(n));	\
	stream[pos + 6] = (pad);					\
	memcpy(stream + pos + 8, (data), (n));				\
	memset(stream + pos + 8 + (n), 0xaa, (pad));			\
	pos += 8 + (n) + (pad);						\
} while (0)
	PUT(FCGI_BEGIN_REQUEST, begin_close, 8, 0);
	PUT(FCGI_PARAMS, params, 3, 5);
	PUT(FCGI_PARAMS, params + 3, len - 3, 7);
	PUT(FCGI_PARAMS, params, 0, 0);
	PUT(FCGI_STDIN, "hello", 5, 3);
	PUT(FCGI_STDIN, params, 0, 255 - 250);
#undef PUT
	total = pos;

	fcgi_request_init(&req, &limits);
	for (pos = 0; pos < total; pos += fcgi_header_record_len(&hdr)) {
		if (fcgi_header_decode(stream + pos, total - pos, &hdr) !=
		    FCGI_CODEC_OK || fcgi_header_record_len(&hdr) > total - pos)
			break;
		action = fcgi_request_apply(&req, &hdr, stream + pos + 8,
		    hdr.content_length, 1, &reply);
		records++;
		if (action != FCGI_ACTION_NONE)
			break;
	}
	TAP_EQ_INT(records, 6, "framed: six records");
	TAP_EQ_INT(action, FCGI_ACTION_RUN, "framed: RUN");
	TAP_EQ_STR(fcgi_request_param(&req, "BB"), "22", "framed: param");
	TAP_EQ_INT(fcgi_request_stdin_len(&req), 5, "framed: stdin");
	fcgi_request_free(&req);
}

/* 4 KiB of empty pairs: the request holds the bytes sent, no index. */
static void
test_empty_pairs(void)
{
	struct fcgi_request req;
	struct fcgi_reply reply;
	struct fcgi_param param;
	uint8_t params[4096];
	size_t pairs = sizeof(params) / 2 - 4, cursor = 0, seen = 0;
	const char *const tail[] = { "A", "b", NULL };
	size_t len;

	memset(params, 0, sizeof(params));
	len = pairs * 2 + params_build(params + pairs * 2,
	    sizeof(params) - pairs * 2, tail);
	fcgi_request_init(&req, &limits);
	apply(&req, FCGI_BEGIN_REQUEST, 1, begin_close, 8, &reply);
	apply(&req, FCGI_PARAMS, 1, params, len, &reply);
	apply(&req, FCGI_PARAMS, 1, NULL, 0, &reply);
	TAP_EQ_INT(apply(&req, FCGI_STDIN, 1, NULL, 0, &reply),
	    FCGI_ACTION_RUN, "empty pairs: RUN");
	TAP_EQ_INT(fcgi_request_param_count(&req), pairs + 1,
	    "empty pairs: every pair counted");
	TAP_OK(req.params_alloc <= limits.max_params_bytes,
	    "empty pairs: one buffer within the cap, no index");
	TAP_EQ_STR(fcgi_request_param(&req, "A"), "b",
	    "empty pairs: the pair behind them is found");
	TAP_EQ_STR(fcgi_request_param(&req, ""), "",
	    "empty pairs: an empty name is a name");
	while (fcgi_request_param_next(&req, &cursor, &param))
		seen++;
	TAP_EQ_INT(seen, pairs + 1, "empty pairs: the cursor visits each");
	fcgi_request_drop_params(&req);
	TAP_OK(fcgi_request_param(&req, "A") == NULL && req.params_buf == NULL,
	    "empty pairs: dropped once read");
	fcgi_request_free(&req);
}

int
main(void)
{
	memset(long_value, 'v', sizeof(long_value) - 1);
	test_full_request();
	test_split_params();
	test_caps();
	test_order_cases();
	test_bad_header();
	test_cant_mpx();
	test_refusals();
	test_get_values();
	test_unknown_type();
	test_abort();
	test_keep_conn_reuse();
	test_framed_stream();
	test_empty_pairs();
	return tap_done();
}
