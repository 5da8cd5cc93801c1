/* SPDX-License-Identifier: ISC */
/*
 * text.h - small text helpers both programs use on what a peer sends.
 *
 * No allocation, no locale.  See doc/ARCHITECTURE.md for where bad input is
 * logged and answered.
 */
#ifndef SYNCASYNC_COMMON_TEXT_H
#define SYNCASYNC_COMMON_TEXT_H

#include <stddef.h>

/*
 * Copies data (len bytes, NULs included) into out for a log line or an
 * error message: printable ASCII (0x20 to 0x7e) is kept, every other byte
 * becomes '.'.  At most outsize - 1 bytes are copied, the rest dropped;
 * out is always NUL-terminated unless outsize is 0.
 */
void text_sanitise(const void *data, size_t len, char *out, size_t outsize);

/*
 * The last segment of the path of uri: the path ends at the first '?' or
 * '#' (RFC 3986, 3.3), trailing slashes are ignored.  "/a/async/?x=1" gives
 * "async", "/" and "" give "".  Sets *segment to its start inside uri and
 * returns its length (it is not NUL-terminated).
 */
size_t text_last_segment(const char *uri, const char **segment);

#endif
