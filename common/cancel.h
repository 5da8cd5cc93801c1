/* SPDX-License-Identifier: ISC */
/*
 * cancel.h - a cancel token: one thread asks, another thread's blocking
 * work notices and stops early.
 *
 * The asking side (async_fcgi's loop thread) calls cancel_request(); the
 * working side polls cancel_requested(), sleeps with cancel_sleep_us()
 * (which returns early), and around a blocking library call that can be
 * interrupted from outside (PQcancel) registers a hook that
 * cancel_request() calls.  The token does not know what the work is, does
 * not allocate after cancel_init() and never ends the process.  Sleeps use
 * CLOCK_MONOTONIC: a wall-clock step neither shortens nor stretches them.
 *
 * Known gap: a hook can only reach a call that has started.  A library call
 * that begins after cancel_request() already ran must be skipped by its
 * caller (cancel_hook_set() says so by returning -1); one that the hook
 * reached too early (the call had not really begun) is the caller's to
 * retry (work_blocking.c checks again once the query is sent).
 */
#ifndef SYNCASYNC_COMMON_CANCEL_H
#define SYNCASYNC_COMMON_CANCEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/*
 * Runs inside cancel_request(), on the requesting thread, with the token's
 * lock held: it must be quick, must not block for long, must not call back
 * into the token, and may only touch what cancel_hook_clear() keeps alive
 * (the working side frees that after cancel_hook_clear() returns).
 */
typedef void (*cancel_hook_fn)(void *arg);

/* Embedded by its owner; every field is private to cancel.c. */
struct cancel_token {
	pthread_mutex_t		lock;		/* guards hook, wakes sleepers */
	pthread_cond_t		wake;		/* CLOCK_MONOTONIC */
	atomic_int		requested;
	cancel_hook_fn		hook;
	void		       *hook_arg;
};

/* 0, or -1 (errno set) when the lock or condition variable cannot be had;
 * nothing to destroy then. */
int cancel_init(struct cancel_token *token);

/* No thread may be using the token. */
void cancel_destroy(struct cancel_token *token);

/* Makes the token fresh for new work: not requested, no hook.  Only while
 * no work uses it and no cancel_request() runs on it. */
void cancel_reset(struct cancel_token *token);

/*
 * From any thread, any number of times: marks the token, wakes every
 * cancel_sleep_us() on it and, the first time only, calls the hook if one
 * is set.  Returns once the hook (if any) has returned.
 */
void cancel_request(struct cancel_token *token);

/* True once cancel_request() ran.  NULL is a token never cancelled. */
int cancel_requested(struct cancel_token *token);

/*
 * Sleeps us microseconds, or less: returns 0 after the full sleep, -1 as
 * soon as the token is (or already was) cancelled.  NULL: a plain sleep.
 */
int cancel_sleep_us(struct cancel_token *token, uint64_t us);

/* CLOCK_MONOTONIC now + us, as pthread_cond_timedwait() wants it for a
 * condition variable on that clock (the token's, the offload pool's). */
void cancel_deadline(uint64_t us, struct timespec *deadline);

/*
 * The working side, around one interruptible blocking call: set registers
 * hook(arg) for cancel_request(); it returns -1 without registering when
 * the token is already cancelled (then skip the call).  clear removes it;
 * once clear returns the hook is not running and will not be called, so
 * arg may be freed.  One hook at a time.  NULL token: set returns 0, clear
 * does nothing.
 */
int cancel_hook_set(struct cancel_token *token, cancel_hook_fn hook,
    void *arg);
void cancel_hook_clear(struct cancel_token *token);

#endif
