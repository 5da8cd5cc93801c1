/* SPDX-License-Identifier: ISC */
/*
 * probe_stats.h - what an /async server says about its blocked loop.
 *
 * After a run against an /async URL the probe GETs the sibling stats URL
 * (.../async/stats) and keeps the blocked-loop reports of that run: parsed
 * here from the JSON (pure: no I/O, no libevent), chosen by time and request
 * number, and put in one sentence for the report and the picture.  Two
 * forms are read: "current_block"/"recent_blocks" (each with the loop
 * thread's top frames) and, from servers without them, "stalls",
 * "longest_stall_ms", "longest_stall_request" (no stack).
 */
#ifndef SYNCASYNC_PROBE_STATS_H
#define SYNCASYNC_PROBE_STATS_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "probe/probe_result.h"

#define PROBE_STATS_FRAMES_SHOWN 4	/* frames in the one-line sentence */

/* One blocked-loop report; every string is sanitised (printable ASCII). */
struct probe_block {
	int64_t	request_no;		/* -1: a callback outside any request */
	char	method[SA_PROBE_MODE_MAX];
	char	uri[SA_PROBE_FRAME_MAX];
	char	mode[SA_PROBE_MODE_MAX];
	char	work[SA_PROBE_MODE_MAX];
	int64_t	started_us;		/* server clock; 0 = not reported */
	double	duration_ms;
	int	active;			/* still blocked when the server answered */
	size_t	nframes;
	char	frames[SA_PROBE_FRAMES_MAX][SA_PROBE_FRAME_MAX];
};

enum probe_stats_form {
	PROBE_STATS_BLOCKS,		/* current_block, recent_blocks */
	PROBE_STATS_STALLS		/* stalls, longest_stall_* (no stack) */
};

struct probe_stats {
	enum probe_stats_form form;
	int	has_current;
	struct probe_block current;
	size_t	nrecent;		/* newest first, at most SA_PROBE_BLOCKS_MAX */
	struct probe_block recent[SA_PROBE_BLOCKS_MAX];
	uint64_t stalls;		/* PROBE_STATS_STALLS only */
	double	longest_stall_ms;
	int64_t	longest_stall_request;	/* -1 = none */
};

/* The server's report for one group, as the report and the SVG show it. */
struct probe_server {
	char	url[SA_PROBE_URI_MAX + NI_MAXHOST + 16]; /* the stats URL asked */
	char	error[SA_ERROR_MAX];	/* "" = a report was read */
	struct probe_stats stats;
	int	ever_blocked;		/* a block is on record at all */
	size_t	nblocks;		/* those of this run, the server's order */
	struct probe_block blocks[SA_PROBE_BLOCKS_MAX + 1];
};

int	probe_stats_path(const char *target, char *out, size_t size);
int	probe_stats_parse(const char *body, size_t len, struct probe_stats *,
	    char *err, size_t errlen);
void	probe_stats_select(struct probe_server *, const struct probe_result *,
	    size_t count);
void	probe_stats_sentence(const struct probe_server *, size_t block,
	    char *out, size_t size);
void	probe_stats_frames(const struct probe_block *, size_t shown,
	    char *out, size_t size);

#endif
