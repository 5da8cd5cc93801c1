/* SPDX-License-Identifier: ISC */
/*
 * stall_watch.h - a blocked-loop detector that speaks while the loop is
 * still blocked, with the loop thread's stack and the request that did it.
 *
 * The loop thread marks each callback with stall_watch_enter() and
 * stall_watch_leave(): a few plain atomic stores, no lock, and no clock
 * but at the end of a block being reported.  A watchdog thread samples
 * that mark every tick (stall_ms / 10, 1..10 ms); when one callback has
 * held the loop for stall_ms it sends the loop thread a real-time signal
 * (STALL_WATCH_SIGNAL, tgkill), whose handler copies the request
 * descriptor and unwinds the loop's stack (libunwind) into preallocated
 * memory; the watchdog thread symbolises it (libdw) and logs:
 *
 *   PREFIXthe loop has been blocked for 100 ms by request #5 (GET /async, \
 *       mode block, work sleep)                     (one line)
 *   PREFIX  #0 clock_nanosleep (libc.so.6)
 *   PREFIX  #1 clock_sleep_us (common/clock.c:57)
 *   PREFIX  #2 0x1a2b (async_fcgi+0x1a2b)            frame without a symbol
 *   PREFIX  symbols are missing for async_fcgi: ...  once per such module
 *   PREFIXthe loop has been blocked for 200 ms by request #5 (...); same stack
 *   PREFIXthe loop was blocked 2001 ms by request #5; it is running again
 *
 * repeated at 1, 2, 4, 8 ... times stall_ms, the step capped at
 * repeat_max_ms; the stack is printed again only when it changed.  A
 * block's start is as the watchdog samples it (to half a tick, or half its
 * wake-up delay on a busy machine), its end as the loop's leave dates it.
 * A callback outside any request reads "by a callback outside any
 * request".
 *
 * Known gaps: one detector per process (the signal handler is process-wide);
 * inlined and tail-called functions show as their callers; a loop thread
 * with the signal masked, or in uninterruptible sleep, does not answer:
 * the line then gives the duration only.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_STALL_WATCH_H
#define SYNCASYNC_ASYNC_FCGI_STALL_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

/* The signal the detector takes for itself (glibc's SIGRTMIN is already
 * past the two it keeps for threads and setxid). */
#define STALL_WATCH_SIGNAL	(SIGRTMIN + 4)

/*
 * What the loop is doing for whom.  The caller owns it: it and its strings
 * must stay valid and unchanged from stall_watch_enter() until the matching
 * stall_watch_leave() (the signal handler reads them on the loop thread
 * while the callback runs).  Any string may be NULL.
 */
struct stall_watch_request {
	uint64_t	 number;	/* the request counter's value */
	const char	*method;
	const char	*uri;
	const char	*mode;		/* block, timer, offload */
	const char	*work;		/* sleep, db, http */
};

struct stall_watch_config {
	unsigned long	 stall_ms;	/* 1..SA_STALL_MS_MAX; 0: the default
					   SA_WATCHDOG_STALL_MS */
	unsigned long	 repeat_max_ms;	/* cap on the widening step; 0:
					   SA_STALL_REPEAT_MAX_MS */
	const char	*prefix;	/* starts every line; NULL: "stall: " */
	/* Receives each line (no newline), on the watchdog thread; NULL:
	 * written to stderr. */
	void		(*log)(void *ctx, const char *line);
	void		*log_ctx;
};

/* One block: the one going on (active) or one of the last few. */
struct stall_watch_record {
	int		 active;	/* 1 while the loop is still blocked */
	int		 in_request;	/* 0: a callback outside any request */
	uint64_t	 request_no;
	char		 method[SA_STALL_FIELD_MAX];
	char		 uri[SA_STALL_URI_MAX];	/* sanitised, maybe cut */
	char		 mode[SA_STALL_FIELD_MAX];
	char		 work[SA_STALL_FIELD_MAX];
	int64_t		 started_us;	/* wall clock, µs since the epoch */
	int64_t		 duration_us;	/* so far, when active */
	size_t		 nframes;	/* top frames kept, innermost first */
	char		 frames[SA_STALL_FRAMES_KEPT][SA_STALL_FRAME_TEXT];
};

struct stall_watch_report {
	uint64_t	 stalls;	/* blocks seen since start */
	int		 has_current;
	struct stall_watch_record current;
	size_t		 nrecent;	/* newest first */
	struct stall_watch_record recent[SA_STALL_RECENT];
};

struct stall_watch;

/*
 * Starts the watchdog thread; the calling thread becomes the watched loop
 * thread (call stall_watch_stop() from it, too).  Installs the handler of
 * STALL_WATCH_SIGNAL (SA_RESTART) and unblocks the signal in this thread.
 * Returns NULL with a message in err (errlen bytes) when the signal is
 * taken by someone else, a detector already runs, stall_ms is out of range
 * or the thread cannot start.
 */
struct stall_watch *stall_watch_start(const struct stall_watch_config *cfg,
    char *err, size_t errlen);

/* Stops and joins the watchdog, logging the total of a block in progress.
 * NULL is a no-op.  The handler stays installed and does nothing after. */
void stall_watch_stop(struct stall_watch *watch);

/* Loop thread only.  The loop enters a callback for req (NULL: for no
 * request); leave ends it.  Entering again before leaving starts a new
 * block (say, once the request has its number).  watch may be NULL. */
void stall_watch_enter(struct stall_watch *watch,
    const struct stall_watch_request *req);
void stall_watch_leave(struct stall_watch *watch);

/* Copies the current block (its duration until now) and the last few
 * out, under a lock only the watchdog thread and this reader take; a
 * block the loop has left is among the last few even before the watchdog
 * has logged its end.  Any thread. */
void stall_watch_snapshot(struct stall_watch *watch,
    struct stall_watch_report *out);

#endif
