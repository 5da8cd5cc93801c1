/* SPDX-License-Identifier: ISC */
/*
 * unit_zone.c - the TZif reader (common/zone.c) against glibc, and the
 * local time string built from it (common/clock.c).
 *
 *   - every zone file of the system's tzdata, at some 730 times from 1850
 *     to 2045 each: where zone_lookup() answers, its offset is localtime_r's
 *     tm_gmtoff, at the time asked and at both ends of the span it gives;
 *     and it answers for the present in (nearly) every zone;
 *   - clock_format_shifted() is strftime over gmtime_r, years 1000-9999;
 *   - clock_format_local() with TZ unset is strftime over localtime_r;
 *   - hostile and unusual files: cut short, wrong magic, version 1, counts
 *     past the end, leap seconds, no types, transitions out of order, a
 *     type index out of range, too large, a directory, missing; footers
 *     with and without daylight saving time.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/zone.h"
#include "tests/tap.h"

#define ZONEINFO	"/usr/share/zoneinfo"
#define FIRST_T		(-3786825600LL)		/* 1850-01-01 */
#define LAST_T		2366841600LL		/* 2045-01-01 */
#define STEP_T		(86400LL * 97 + 3600 * 5 + 60 * 7 + 13)

static struct {
	long	zones, zones_now, asked, answered, wrong;
} tally;

/* glibc's UTC offset at t in the zone file at path (TZ=":path"). */
static long
glibc_offset(int64_t t)
{
	time_t seconds = (time_t)t;
	struct tm tm;

	return localtime_r(&seconds, &tm) != NULL ? tm.tm_gmtoff : -999999;
}

static void
check_zone(const char *path, int64_t now)
{
	char tz[PATH_MAX + 2];
	struct zone_span span;
	int64_t t;

	snprintf(tz, sizeof(tz), ":%s", path);
	setenv("TZ", tz, 1);
	tzset();
	tally.zones++;
	if (zone_lookup(path, now, &span) == 0)
		tally.zones_now++;
	for (t = FIRST_T; t < LAST_T; t += STEP_T) {
		long want = glibc_offset(t);

		tally.asked++;
		if (zone_lookup(path, t, &span) == -1)
			continue;
		tally.answered++;
		if (span.offset != want || t < span.from || t >= span.until ||
		    (span.from != INT64_MIN &&
		    glibc_offset(span.from) != span.offset) ||
		    (span.until != INT64_MAX &&
		    glibc_offset(span.until - 1) != span.offset)) {
			if (tally.wrong++ < 5)
				printf("# %s at %lld: offset %ld in [%lld, %lld),"
				    " glibc %ld\n", path, (long long)t,
				    span.offset, (long long)span.from,
				    (long long)span.until, want);
		}
	}
}

/* Every TZif file under dir, but the leap-second and POSIX copies. */
static void
walk(const char *dir, int64_t now)
{
	char path[PATH_MAX], magic[4];
	struct dirent *entry;
	struct stat st;
	DIR *d;
	int fd;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((entry = readdir(d)) != NULL) {
		if (entry->d_name[0] == '.' ||
		    strcmp(entry->d_name, "right") == 0 ||
		    strcmp(entry->d_name, "posix") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		if (lstat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, now);
			continue;
		}
		if (!S_ISREG(st.st_mode) ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		if (read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0)
			check_zone(path, now);
		close(fd);
	}
	closedir(d);
}

static void
test_system_zones(void)
{
	int64_t now = (int64_t)time(NULL);

	walk(ZONEINFO, now);
	if (tally.zones == 0) {
		printf("ok %d # SKIP no zone files in " ZONEINFO "\n",
		    ++tap_count);
		return;
	}
	printf("# %ld zones: %ld of %ld times answered (the rest left to "
	    "localtime_r); %ld answer for now\n", tally.zones,
	    tally.answered, tally.asked, tally.zones_now);
	TAP_EQ_INT(tally.wrong, 0,
	    "zone_lookup agrees with localtime_r wherever it answers");
	TAP_OK(tally.answered * 10 >= tally.asked * 6,
	    "  and answers for most times from 1850 to 2045");
	TAP_OK(tally.zones_now * 100 >= tally.zones * 99,
	    "  and for the present in (nearly) every zone");
}

static void
test_format_shifted(void)
{
	/* 1000-01-01 to 9999-12-31, steps landing on every field value. */
	const int64_t first = -30610224000LL, last = 253402300799LL;
	const int64_t step = 86400LL * 29 + 3600 * 7 + 60 * 13 + 17;
	char ours[CLOCK_TIME_LEN], theirs[CLOCK_TIME_LEN];
	int64_t t;
	int bad = 0;

	for (t = first; t <= last; t += step) {
		time_t seconds = (time_t)t;
		struct tm tm;

		gmtime_r(&seconds, &tm);
		strftime(theirs, sizeof(theirs), "%Y-%m-%d %H:%M:%S", &tm);
		if (clock_format_shifted(t, ours) != 0 ||
		    strcmp(ours, theirs) != 0) {
			if (bad++ < 3)
				printf("# %lld: \"%s\", strftime \"%s\"\n",
				    (long long)t, ours, theirs);
		}
	}
	TAP_EQ_INT(bad, 0, "clock_format_shifted: strftime over gmtime_r, "
	    "years 1000 to 9999");
	TAP_OK(clock_format_shifted(first - 1, ours) == -1 &&
	    clock_format_shifted(last + 1, ours) == -1,
	    "  and -1 for 0999 and 10000");
	TAP_OK(clock_format_shifted(951782400LL, ours) == 0 &&
	    strcmp(ours, "2000-02-29 00:00:00") == 0 &&
	    clock_format_shifted(-1, ours) == 0 &&
	    strcmp(ours, "1969-12-31 23:59:59") == 0,
	    "  a leap day, the second before the epoch");
}

static void
test_format_local(void)
{
	char ours[CLOCK_TIME_LEN], theirs[CLOCK_TIME_LEN];
	int64_t t, now = (int64_t)time(NULL);
	int bad = 0;

	unsetenv("TZ");
	tzset();
	for (t = now - 86400LL * 400; t < now + 86400LL * 400; t += 3593) {
		time_t seconds = (time_t)t;
		struct tm tm;

		localtime_r(&seconds, &tm);
		strftime(theirs, sizeof(theirs), "%Y-%m-%d %H:%M:%S", &tm);
		clock_format_local(t * 1000000, ours);
		if (strcmp(ours, theirs) != 0 && bad++ < 3)
			printf("# %lld: \"%s\", localtime_r \"%s\"\n",
			    (long long)t, ours, theirs);
	}
	TAP_EQ_INT(bad, 0, "clock_format_local (TZ unset): localtime_r's "
	    "time, 400 days either side of now");
}

/* --- hand-made files ------------------------------------------------ */

static char dir[] = "/tmp/syncasync-zone-XXXXXX";
static char file[sizeof(dir) + 16];

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put64(unsigned char *p, int64_t v)
{
	put32(p, (uint32_t)((uint64_t)v >> 32));
	put32(p + 4, (uint32_t)v);
}

struct spec {
	int	version;		/* '2', or 0 for a version 1 file */
	int	ntimes;
	int64_t	times[4];
	int	indices[4];
	int	ntypes;
	int32_t	offsets[3];
	int	leaps;
	const char *footer;		/* the rule between the newlines */
};

/* Writes spec as a TZif file at file; its length. */
static size_t
write_zone(const struct spec *s, unsigned char *buf, size_t size)
{
	unsigned char *p = buf;
	int i, pass;
	int fd;

	memset(buf, 0, size);
	for (pass = 0; pass < (s->version ? 2 : 1); pass++) {
		size_t tlen = pass == 0 ? 4 : 8;

		memcpy(p, "TZif", 4);
		p[4] = (unsigned char)s->version;
		put32(p + 28, (uint32_t)s->leaps);
		put32(p + 32, (uint32_t)s->ntimes);
		put32(p + 36, (uint32_t)s->ntypes);
		put32(p + 40, 4);			/* "ABC\0" */
		p += 44;
		for (i = 0; i < s->ntimes; i++, p += tlen)
			if (tlen == 4)
				put32(p, (uint32_t)s->times[i]);
			else
				put64(p, s->times[i]);
		for (i = 0; i < s->ntimes; i++)
			*p++ = (unsigned char)s->indices[i];
		for (i = 0; i < s->ntypes; i++, p += 6) {
			put32(p, (uint32_t)s->offsets[i]);
			p[4] = i > 0;			/* isdst */
		}
		memcpy(p, "ABC", 4);
		p += 4;
		p += (size_t)s->leaps * (tlen + 4);
	}
	if (s->footer != NULL)
		p += (size_t)snprintf((char *)p, size - (size_t)(p - buf),
		    "\n%s\n", s->footer);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, buf, (size_t)(p - buf)) != p - buf)
		exit(99);
	close(fd);
	return (size_t)(p - buf);
}

static int
lookup(int64_t t, struct zone_span *span)
{
	return zone_lookup(file, t, span);
}

static void
test_files(void)
{
	static unsigned char buf[SA_ZONE_FILE_MAX * 2];
	/* Two transitions: +1 h (type 1) from 1000, back to 0 from 2000. */
	struct spec good = { '2', 2, { 1000, 2000 }, { 1, 0 }, 2,
	    { 0, 3600 }, 0, "XYZ0" };
	struct spec s;
	struct zone_span span;
	size_t len, cut;
	int fd, accepted_cut = 0;

	write_zone(&good, buf, sizeof(buf));
	TAP_OK(lookup(1500, &span) == 0 && span.offset == 3600 &&
	    span.from == 1000 && span.until == 2000,
	    "a transition's offset, for the span until the next");
	TAP_OK(lookup(999, &span) == -1,
	    "before the first transition, types with different offsets: "
	    "left to localtime_r");
	TAP_OK(lookup(2000, &span) == 0 && span.offset == 0 &&
	    span.from == 2000 && span.until == INT64_MAX,
	    "after the last, a rule without daylight saving time");

	s = good;
	s.footer = "<+0530>-5:30";
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == 0 && span.offset == 19800,
	    "  a quoted name and hh:mm east of UTC");
	s.footer = "NST3:30:15";
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == 0 && span.offset == -12615,
	    "  hh:mm:ss west of UTC");
	s.footer = "EST5EDT,M3.2.0,M11.1.0";
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == -1 && lookup(1500, &span) == 0,
	    "  a rule with daylight saving time: left to localtime_r");
	s.footer = "";
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == -1, "  an empty rule: left alone");
	s.footer = "AB0";
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == -1, "  a two-letter name: refused");
	s.footer = "ABC25";
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == -1, "  25 hours: refused");
	s.footer = NULL;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(3000, &span) == -1 && lookup(1500, &span) == 0,
	    "  no footer at all: left alone");

	s = good;
	s.ntimes = 0;
	s.ntypes = 1;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(-5000000000LL, &span) == 0 && span.offset == 0 &&
	    span.from == INT64_MIN && span.until == INT64_MAX,
	    "no transitions, one type (UTC): always that offset");

	s = good;
	s.version = 0;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(1500, &span) == -1, "a version 1 file is left alone");
	s = good;
	s.leaps = 1;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(1500, &span) == -1, "leap seconds: left alone");
	s = good;
	s.times[1] = 1000;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(1500, &span) == -1,
	    "transitions not ascending: refused");
	s = good;
	s.indices[0] = 2;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(1500, &span) == -1, "a type index past the types: "
	    "refused");
	s = good;
	s.ntypes = 0;
	s.ntimes = 0;
	write_zone(&s, buf, sizeof(buf));
	TAP_OK(lookup(1500, &span) == -1, "no types: refused");

	/* Cut anywhere before the footer (the last 6 bytes, "\nXYZ0\n"). */
	len = write_zone(&good, buf, sizeof(buf));
	for (cut = 0; cut < len - 6; cut++) {
		fd = open(file, O_WRONLY | O_TRUNC);
		if (fd == -1 || write(fd, buf, cut) != (ssize_t)cut)
			exit(99);
		close(fd);
		if (lookup(1500, &span) == 0 && accepted_cut++ == 0)
			printf("# cut at %zu of %zu: accepted\n", cut, len);
	}
	TAP_EQ_INT(accepted_cut, 0, "a file cut short anywhere is refused");

	buf[0] = 'X';
	fd = open(file, O_WRONLY | O_TRUNC);
	if (fd == -1 || write(fd, buf, len) != (ssize_t)len)
		exit(99);
	close(fd);
	TAP_OK(lookup(1500, &span) == -1, "a wrong magic is refused");

	buf[0] = 'T';
	put32(buf + 44 + 8 + 2 + 12 + 4 + 32, 0x7fffffff);	/* v2 timecnt */
	fd = open(file, O_WRONLY | O_TRUNC);
	if (fd == -1 || write(fd, buf, len) != (ssize_t)len)
		exit(99);
	close(fd);
	TAP_OK(lookup(1500, &span) == -1, "a count past the end is refused");

	/* A good zone followed by zeros, past SA_ZONE_FILE_MAX in all. */
	write_zone(&good, buf, sizeof(buf));
	fd = open(file, O_WRONLY | O_TRUNC);
	if (fd == -1 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		exit(99);
	close(fd);
	TAP_OK(lookup(1500, &span) == -1, "a file past SA_ZONE_FILE_MAX is "
	    "left to localtime_r");

	unlink(file);
	TAP_OK(lookup(1500, &span) == -1, "a missing file: -1");
	mkdir(file, 0700);
	TAP_OK(lookup(1500, &span) == -1, "a directory: -1");
	rmdir(file);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(file, sizeof(file), "%s/zone", dir);
	test_files();
	rmdir(dir);
	test_format_shifted();
	test_system_zones();
	test_format_local();
	return tap_done();
}
