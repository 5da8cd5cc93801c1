/* SPDX-License-Identifier: ISC */
/*
 * clock.c - time helpers shared by both programs (clock.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

static int64_t
read_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_now_us(void)
{
	return read_us(CLOCK_REALTIME);
}

int64_t
clock_mono_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

/* v (0..99) as two digits at p. */
static void
put_2digits(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * localtime_r runs once per second of us: the string of the last second
 * asked for is kept per thread and copied while it holds.  For the years
 * 1000 to 9999 the digits are written here, the bytes strftime(3) gives
 * (tests/unit_common.c compares them) without its locale machinery, which
 * a CGI process would otherwise fault in on every request; other years go
 * through strftime.
 */
void
clock_format_local(int64_t us, char out[CLOCK_TIME_LEN])
{
	static __thread time_t cached_seconds;
	static __thread int cached_valid;
	static __thread char cached[CLOCK_TIME_LEN];
	time_t seconds = (time_t)(us / 1000000);
	struct tm tm;
	int year;

	if (cached_valid && seconds == cached_seconds) {
		memcpy(out, cached, CLOCK_TIME_LEN);
		return;
	}
	if (localtime_r(&seconds, &tm) == NULL)
		memcpy(cached, "1970-01-01 00:00:00", CLOCK_TIME_LEN);
	else if ((year = tm.tm_year + 1900) >= 1000 && year <= 9999) {
		/* "%Y-%m-%d %H:%M:%S" */
		memcpy(cached, "0000-00-00 00:00:00", CLOCK_TIME_LEN);
		put_2digits(cached, year / 100);
		put_2digits(cached + 2, year % 100);
		put_2digits(cached + 5, tm.tm_mon + 1);
		put_2digits(cached + 8, tm.tm_mday);
		put_2digits(cached + 11, tm.tm_hour);
		put_2digits(cached + 14, tm.tm_min);
		put_2digits(cached + 17, tm.tm_sec);
	} else if (strftime(cached, CLOCK_TIME_LEN, "%Y-%m-%d %H:%M:%S",
	    &tm) == 0)
		memcpy(cached, "1970-01-01 00:00:00", CLOCK_TIME_LEN);
	cached_seconds = seconds;
	cached_valid = 1;
	memcpy(out, cached, CLOCK_TIME_LEN);
}

long
clock_thread_id(void)
{
	return (long)syscall(SYS_gettid);
}

struct timeval
clock_timeval(uint64_t us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

void
clock_sleep_us(uint64_t us)
{
	struct timespec left;

	left.tv_sec = (time_t)(us / 1000000);
	left.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		continue;
}
