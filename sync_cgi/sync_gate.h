/* SPDX-License-Identifier: ISC */
/*
 * sync_gate.h - what a /pool worker checks before libfcgi reads a request.
 *
 * libfcgi's FCGX_Accept_r reads a request's head (BEGIN_REQUEST, PARAMS)
 * with no deadline and no cap and trusts the lengths it is sent: a silent
 * peer holds the worker for ever, a 200 MB value is read and served, a name
 * length near 2^31 ends the worker on an assertion, padding after
 * BEGIN_REQUEST is misread, GET_VALUES goes unanswered and other roles are
 * served as a responder.  The gate looks at the head first without
 * consuming it (recv MSG_PEEK) and passes the connection on only once
 * BEGIN_REQUEST and the whole PARAMS stream are queued, well-formed and
 * within SA_POOL_READ_MS, SA_POOL_PARAMS_MAX and SA_POOL_HEAD_MAX
 * (common/limits.h): libfcgi then reads bytes that are already there.
 * Management records sent before BEGIN_REQUEST are consumed and answered
 * here (spec 4).  STDIN is not looked at: the handler never reads it.
 */
#ifndef SYNCASYNC_SYNC_CGI_SYNC_GATE_H
#define SYNCASYNC_SYNC_CGI_SYNC_GATE_H

#include <stdint.h>

enum sync_gate_verdict {
	SYNC_GATE_PASS,		/* the head is queued and fit for libfcgi */
	SYNC_GATE_ANSWERED,	/* refused with an answer sent on fd: 400,
				   413 or END_REQUEST FCGI_UNKNOWN_ROLE */
	SYNC_GATE_DROP		/* nothing to answer (peer gone, no request,
				   framing that cannot be trusted) */
};

/*
 * Checks the head of the request on the connected socket fd until
 * deadline_us (clock_mono_us()).  capacity is what GET_VALUES reports as
 * FCGI_MAX_CONNS and FCGI_MAX_REQS (the pool's size).  Every refusal and
 * drop is logged once on stderr, except a peer that hangs up without
 * sending a byte.  The caller closes fd unless the verdict is PASS.
 */
enum sync_gate_verdict sync_gate_check(int fd, int64_t deadline_us,
    unsigned capacity);

#endif
