/* SPDX-License-Identifier: ISC */
/*
 * probe_fixture.h - the blocked-loop report the probe's unit tests share:
 * request #5 held the loop 2 s from T0 + 1 ms, in clock_nanosleep and, when
 * second is not NULL, a second frame.  Include after T0 is defined.
 */
#ifndef SYNCASYNC_TESTS_PROBE_FIXTURE_H
#define SYNCASYNC_TESTS_PROBE_FIXTURE_H

#include <stdio.h>

#include "probe/probe_stats.h"

static void
probe_fixture_server(struct probe_server *server, const char *url,
    const char *second)
{
	struct probe_block *block = &server->blocks[0];

	snprintf(server->url, sizeof(server->url), "%s", url);
	server->nblocks = 1;
	server->ever_blocked = 1;
	block->request_no = 5;
	block->started_us = T0 + 1000;
	block->duration_ms = 2000;
	block->nframes = second != NULL ? 2 : 1;
	snprintf(block->frames[0], SA_PROBE_FRAME_MAX,
	    "clock_nanosleep (libc.so.6)");
	if (second != NULL)
		snprintf(block->frames[1], SA_PROBE_FRAME_MAX, "%s", second);
}

#endif
