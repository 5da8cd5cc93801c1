/* SPDX-License-Identifier: ISC */
/*
 * zone.h - the local time's UTC offset, read straight from a TZif file
 * (RFC 8536), for the one time string a CGI process writes.
 *
 * On a process's first call glibc's localtime_r reads the zone file
 * through stdio and parses its TZ rule with sscanf: in sync_cgi, exec'd
 * once per request, 7 system calls and some 16 KiB of code faulted in on
 * every request.  This reader makes one open, read and close, allocates
 * nothing, and answers only what the file states outright: the offset of
 * the transition in force, and for how long it holds.
 *
 * Known gaps, where it answers -1 and the caller asks localtime_r: a file
 * with leap seconds ("right/" zones), a version 1 file, a file larger than
 * SA_ZONE_FILE_MAX, a time after the last transition when the zone's rule
 * (the file's footer) has daylight saving time (Debian's tzdata lists the
 * transitions up to 2037), and a time before the first transition when the
 * zone's time types do not all have one offset.
 */
#ifndef SYNCASYNC_COMMON_ZONE_H
#define SYNCASYNC_COMMON_ZONE_H

#include <stdint.h>

#define ZONE_DEFAULT_FILE "/etc/localtime"	/* glibc's, when TZ is unset */

struct zone_span {
	int64_t	from;	/* first second the offset holds; INT64_MIN: always */
	int64_t	until;	/* first second it no longer holds; INT64_MAX: never */
	long	offset;	/* seconds east of UTC */
};

/*
 * The UTC offset in force at t (seconds since the epoch) by the TZif file
 * at path (symbolic links followed, as glibc does).  Returns 0 with *span
 * filled, or -1 when the file cannot be read, is malformed, or needs what
 * this reader leaves to localtime_r (above).
 */
int zone_lookup(const char *path, int64_t t, struct zone_span *span);

#endif
