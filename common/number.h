/* SPDX-License-Identifier: ISC */
/*
 * number.h - bounded parsers for every number syncasync reads from text.
 *
 * Environment variables, query parameters and command-line options all go
 * through these two functions: digits only, no sign, no white space, no
 * trailing junk, range checked before anything overflows.  No allocation, no
 * locale (strtod would accept "inf", hex and the locale's decimal point).
 */
#ifndef SYNCASYNC_COMMON_NUMBER_H
#define SYNCASYNC_COMMON_NUMBER_H

#include <stddef.h>
#include <stdint.h>

enum number_result {
	NUMBER_OK = 0,
	NUMBER_EMPTY,		/* "" */
	NUMBER_SYNTAX,		/* a character that is not a digit (or '.') */
	NUMBER_RANGE,		/* outside [min, max] */
};

/*
 * Parses a decimal integer in [min, max] into *out.  Returns NUMBER_OK, or
 * NUMBER_EMPTY, NUMBER_SYNTAX or NUMBER_RANGE with *out untouched.
 */
enum number_result number_parse_uint(const char *text, uint64_t min,
    uint64_t max, uint64_t *out);

/*
 * Parses seconds with up to six decimals ("20", "0.5", "2.25") into
 * microseconds in [0, max_us].  More than six decimals is NUMBER_SYNTAX.
 */
enum number_result number_parse_seconds(const char *text, uint64_t max_us,
    uint64_t *out_us);

/*
 * Formats microseconds as the shortest seconds number_parse_seconds()
 * reads back: 3600000000 as "3600", 1000 as "0.001" (for error messages
 * that state a bound).  NUMBER_SECONDS_TEXT bytes always suffice.
 */
#define NUMBER_SECONDS_TEXT 28
void number_format_seconds(uint64_t us, char *out, size_t outlen);

/* A short English description of a result, for error messages. */
const char *number_strerror(enum number_result result);

#endif
