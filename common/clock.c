/* SPDX-License-Identifier: ISC */
/*
 * clock.c - time helpers shared by both programs (clock.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/zone.h"

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
 * "%Y-%m-%d %H:%M:%S" for a year from 1000 to 9999, the bytes strftime(3)
 * gives (tests/unit_common.c compares them), without its locale machinery.
 * 0, or -1 for another year.
 */
static int
put_time(char out[CLOCK_TIME_LEN], int year, int mon, int mday, int hour,
    int min, int sec)
{
	if (year < 1000 || year > 9999)
		return -1;
	memcpy(out, "0000-00-00 00:00:00", CLOCK_TIME_LEN);
	put_2digits(out, year / 100);
	put_2digits(out + 2, year % 100);
	put_2digits(out + 5, mon);
	put_2digits(out + 8, mday);
	put_2digits(out + 11, hour);
	put_2digits(out + 14, min);
	put_2digits(out + 17, sec);
	return 0;
}

/* The proleptic Gregorian date: the days-to-civil conversion of
 * H. Hinnant's chrono algorithms (an era is 400 years). */
int
clock_format_shifted(int64_t local, char out[CLOCK_TIME_LEN])
{
	int64_t days = local / 86400, secs = local % 86400, era, year;
	int64_t doe, yoe, doy, mp;
	int mon;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;		/* from 1970-01-01 to 0000-03-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	year = yoe + era * 400 + (mon <= 2);
	if (year < 1000 || year > 9999)
		return -1;
	return put_time(out, (int)year, mon, (int)(doy - (153 * mp + 2) / 5 + 1),
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/*
 * The UTC offset at seconds by zone_lookup(), when TZ is unset (glibc then
 * reads ZONE_DEFAULT_FILE too): 0 with *offset, or -1 for localtime_r to
 * decide.  The span last read is kept per thread; once the reader cannot
 * answer, this thread leaves the zone to localtime_r.
 */
static int
local_offset(time_t seconds, long *offset)
{
	static __thread struct zone_span span;
	static __thread int state;	/* 0 unread, 1 span read, -1 given up */

	if (state < 0 || getenv("TZ") != NULL)
		return -1;
	if (state == 0 || seconds < span.from || seconds >= span.until)
		state = zone_lookup(ZONE_DEFAULT_FILE, seconds, &span) == 0 ?
		    1 : -1;
	*offset = span.offset;
	return state > 0 ? 0 : -1;
}

/* localtime_r's answer, as put_time() or, for other years, strftime. */
static void
format_by_libc(time_t seconds, char out[CLOCK_TIME_LEN])
{
	struct tm tm;

	if (localtime_r(&seconds, &tm) == NULL ||
	    (put_time(out, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec) == -1 &&
	    strftime(out, CLOCK_TIME_LEN, "%Y-%m-%d %H:%M:%S", &tm) == 0))
		memcpy(out, "1970-01-01 00:00:00", CLOCK_TIME_LEN);
}

/*
 * The string of the last second asked for is kept per thread and copied
 * while it holds.  The offset comes from local_offset(), so a CGI process
 * does not load glibc's time zone code (doc/DESIGN-NOTES.md, "Local
 * time"); with TZ set, or where the reader leaves it, localtime_r and,
 * outside the years 1000-9999, strftime decide.
 */
void
clock_format_local(int64_t us, char out[CLOCK_TIME_LEN])
{
	static __thread time_t cached_seconds;
	static __thread int cached_valid;
	static __thread char cached[CLOCK_TIME_LEN];
	time_t seconds = (time_t)(us / 1000000);
	long offset;

	if (cached_valid && seconds == cached_seconds) {
		memcpy(out, cached, CLOCK_TIME_LEN);
		return;
	}
	if (local_offset(seconds, &offset) == -1 ||
	    clock_format_shifted((int64_t)seconds + offset, cached) == -1)
		format_by_libc(seconds, cached);
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
