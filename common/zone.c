/* SPDX-License-Identifier: ISC */
/*
 * zone.c - the UTC offset in force, from a TZif file (zone.h).
 *
 * RFC 8536: a version 1 header and data block (32-bit times), then for
 * version 2 and later a second header and block with 64-bit times, then a
 * footer "\n<TZ rule>\n" for the times after the last transition.  Only
 * the second block and the footer are read.  Every count is checked
 * against the bytes actually read before anything is indexed.
 * tests/unit_zone.c compares every answer with glibc's localtime_r over
 * every zone of the system's tzdata.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/zone.h"

#define ZONE_HEADER_LEN	44	/* "TZif", version, 15 unused, 6 counts */
#define ZONE_TTINFO_LEN	6	/* int32 utoff, uint8 isdst, uint8 desigidx */

struct zone_counts {
	size_t	isut, isstd, leap, time, type, chars;
};

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/*
 * The header at p (len bytes left): its counts and the length of the data
 * block that follows, with time_len-byte transition times.  0 or -1.
 */
static int
read_header(const unsigned char *p, size_t len, size_t time_len,
    struct zone_counts *c, size_t *block_len)
{
	size_t leap_len = time_len + 4;

	if (len < ZONE_HEADER_LEN || memcmp(p, "TZif", 4) != 0)
		return -1;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	/* Each count is below SA_ZONE_FILE_MAX: the sum cannot overflow. */
	if (c->isut > SA_ZONE_FILE_MAX || c->isstd > SA_ZONE_FILE_MAX ||
	    c->leap > SA_ZONE_FILE_MAX || c->time > SA_ZONE_FILE_MAX ||
	    c->type > SA_ZONE_FILE_MAX || c->chars > SA_ZONE_FILE_MAX)
		return -1;
	*block_len = c->time * (time_len + 1) + c->type * ZONE_TTINFO_LEN +
	    c->chars + c->leap * leap_len + c->isstd + c->isut;
	return *block_len <= len - ZONE_HEADER_LEN ? 0 : -1;
}

/*
 * The standard offset of a TZ rule (POSIX, XBD 8.3) that has no daylight
 * saving time: "UTC0", "<+07>-7", "NST3:30".  Seconds east of UTC in
 * *offset and 0, or -1 for a rule with daylight saving time or one this
 * parser does not read.  [p, end) holds the rule.
 */
static int
rule_std_offset(const char *p, const char *end, long *offset)
{
	const char *name = p;
	long value = 0, part, sign = 1;
	int i;

	if (p < end && *p == '<') {
		for (name = ++p; p < end && *p != '>'; p++)
			if (!(*p >= '0' && *p <= '9') && !(*p >= 'A' &&
			    *p <= 'Z') && !(*p >= 'a' && *p <= 'z') &&
			    *p != '+' && *p != '-')
				return -1;
		if (p == end || p - name < 3)
			return -1;
		p++;
	} else {
		while (p < end && ((*p >= 'A' && *p <= 'Z') ||
		    (*p >= 'a' && *p <= 'z')))
			p++;
		if (p - name < 3)
			return -1;
	}
	if (p < end && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? -1 : 1;
	/* hh[:mm[:ss]], hh up to 24 */
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (p == end || *p != ':')
				break;
			p++;
		}
		if (p == end || *p < '0' || *p > '9')
			return -1;
		part = *p++ - '0';
		if (p < end && *p >= '0' && *p <= '9')
			part = part * 10 + (*p++ - '0');
		if (part > (i == 0 ? 24 : 59))
			return -1;
		value = value * 60 + part;
	}
	while (i++ < 3)
		value *= 60;
	if (p != end)
		return -1;	/* a daylight saving time name follows */
	*offset = -sign * value;	/* POSIX counts west of UTC */
	return 0;
}

/*
 * Reads the file at path into buf with one read(2): its length, or -1
 * (also when it fills buf: larger than SA_ZONE_FILE_MAX).  A short read,
 * which a regular file does not give, would look cut short and be refused.
 */
static ssize_t
read_file(const char *path, unsigned char *buf, size_t size)
{
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	do
		got = read(fd, buf, size);
	while (got == -1 && errno == EINTR);
	close(fd);
	return got >= 0 && (size_t)got < size ? got : -1;
}

int
zone_lookup(const char *path, int64_t t, struct zone_span *span)
{
	unsigned char buf[SA_ZONE_FILE_MAX];
	const unsigned char *times, *indices, *types, *footer, *rule_end;
	struct zone_counts c;
	size_t v1_len, v2_len, i, lo, hi, len;
	ssize_t got;
	long offset;

	if ((got = read_file(path, buf, sizeof(buf))) == -1)
		return -1;
	len = (size_t)got;
	if (read_header(buf, len, 4, &c, &v1_len) == -1 || buf[4] < '2')
		return -1;
	len -= ZONE_HEADER_LEN + v1_len;
	times = buf + ZONE_HEADER_LEN + v1_len;
	if (read_header(times, len, 8, &c, &v2_len) == -1 || c.leap != 0 ||
	    c.type == 0)
		return -1;
	len -= ZONE_HEADER_LEN;
	times += ZONE_HEADER_LEN;
	indices = times + c.time * 8;
	types = indices + c.time;
	footer = times + v2_len;
	len -= v2_len;
	for (i = 0; i < c.time; i++)
		if (indices[i] >= c.type ||
		    (i > 0 && be64(times + i * 8) <= be64(times + i * 8 - 8)))
			return -1;	/* RFC 8536, 3.2: ascending, in range */

	if (c.time == 0 || t < be64(times)) {
		/* Before the first transition: glibc and RFC 8536 may pick
		 * different types; they agree when all have one offset. */
		offset = (long)(int32_t)be32(types);
		for (i = 1; i < c.type; i++)
			if ((long)(int32_t)be32(types + i * ZONE_TTINFO_LEN) !=
			    offset)
				return -1;
		span->from = INT64_MIN;
		span->until = c.time == 0 ? INT64_MAX : be64(times);
		span->offset = offset;
		return 0;
	}
	if (t >= be64(times + (c.time - 1) * 8)) {
		/* After the last one the footer's rule holds. */
		if (len < 2 || footer[0] != '\n' ||
		    (rule_end = memchr(footer + 1, '\n', len - 1)) == NULL ||
		    rule_std_offset((const char *)footer + 1,
		    (const char *)rule_end, &offset) == -1)
			return -1;
		span->from = be64(times + (c.time - 1) * 8);
		span->until = INT64_MAX;
		span->offset = offset;
		return 0;
	}
	/* times[lo] <= t < times[hi] */
	lo = 0;
	hi = c.time - 1;
	while (hi - lo > 1) {
		i = lo + (hi - lo) / 2;
		if (be64(times + i * 8) <= t)
			lo = i;
		else
			hi = i;
	}
	span->from = be64(times + lo * 8);
	span->until = be64(times + hi * 8);
	span->offset = (long)(int32_t)be32(types + indices[lo] *
	    ZONE_TTINFO_LEN);
	return 0;
}
