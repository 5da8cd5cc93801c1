/* SPDX-License-Identifier: ISC */
/*
 * clock.h - wall-clock time, the contract's time format, thread ids, sleeping.
 */
#ifndef SYNCASYNC_COMMON_CLOCK_H
#define SYNCASYNC_COMMON_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

#define CLOCK_TIME_LEN 20	/* "2024-11-26 13:05:37" and its NUL */

/* Microseconds since the epoch (CLOCK_REALTIME), as started_us/finished_us. */
int64_t clock_now_us(void);

/* Microseconds of CLOCK_MONOTONIC, for measuring intervals. */
int64_t clock_mono_us(void);

/* Formats us (epoch microseconds) as local "%Y-%m-%d %H:%M:%S". */
void clock_format_local(int64_t us, char out[CLOCK_TIME_LEN]);

/*
 * Formats local, seconds since the epoch already shifted by a UTC offset,
 * as "%Y-%m-%d %H:%M:%S" (the bytes strftime gives for gmtime_r(local)).
 * Returns 0, or -1 for a year outside 1000 to 9999 (out is then unset).
 */
int clock_format_shifted(int64_t local, char out[CLOCK_TIME_LEN]);

/* The calling thread's OS thread id (gettid(2)). */
long clock_thread_id(void);

/* us microseconds as a struct timeval (libevent timers, socket timeouts). */
struct timeval clock_timeval(uint64_t us);

/* Sleeps the calling thread for us microseconds, resuming after signals. */
void clock_sleep_us(uint64_t us);

#endif
