/* SPDX-License-Identifier: ISC */
/*
 * number.c - bounded decimal parsers (see number.h).
 *
 * Overflow is checked before each multiplication by comparing against the
 * bound divided down, never after the fact.
 */
#include "config.h"

#include <stddef.h>

#include <stdio.h>

#include "common/number.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Accumulates digits from *p while they last; -1 when the value passes max. */
static int
accumulate(const char **p, uint64_t max, uint64_t *value)
{
	const char *s = *p;

	while (is_digit(*s)) {
		uint64_t digit = (uint64_t)(*s - '0');

		if (*value > (max - digit) / 10)
			return -1;
		*value = *value * 10 + digit;
		s++;
	}
	*p = s;
	return 0;
}

enum number_result
number_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p = text;
	uint64_t value = 0;

	if (text == NULL || *text == '\0')
		return NUMBER_EMPTY;
	if (!is_digit(*p))
		return NUMBER_SYNTAX;
	if (accumulate(&p, max, &value) == -1) {
		/* Too large; still report junk after the digits as syntax. */
		while (is_digit(*p))
			p++;
		return *p == '\0' ? NUMBER_RANGE : NUMBER_SYNTAX;
	}
	if (*p != '\0')
		return NUMBER_SYNTAX;
	if (value < min)
		return NUMBER_RANGE;
	*out = value;
	return NUMBER_OK;
}

enum number_result
number_parse_seconds(const char *text, uint64_t max_us, uint64_t *out_us)
{
	const char *p = text;
	uint64_t whole = 0, micros = 0;
	int decimals = 0;

	if (text == NULL || *text == '\0')
		return NUMBER_EMPTY;
	if (!is_digit(*p))
		return NUMBER_SYNTAX;
	if (accumulate(&p, max_us / 1000000, &whole) == -1)
		goto range;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return NUMBER_SYNTAX;
		while (is_digit(*p)) {
			if (++decimals > 6)
				return NUMBER_SYNTAX;
			micros = micros * 10 + (uint64_t)(*p - '0');
			p++;
		}
		for (; decimals < 6; decimals++)
			micros *= 10;
	}
	if (*p != '\0')
		return NUMBER_SYNTAX;
	if (micros > max_us || whole > (max_us - micros) / 1000000)
		return NUMBER_RANGE;
	*out_us = whole * 1000000 + micros;
	return NUMBER_OK;
range:
	while (is_digit(*p) || *p == '.')
		p++;
	return *p == '\0' ? NUMBER_RANGE : NUMBER_SYNTAX;
}

void
number_format_seconds(uint64_t us, char *out, size_t outlen)
{
	char fraction[8];
	size_t len;

	snprintf(fraction, sizeof(fraction), "%06llu",
	    (unsigned long long)(us % 1000000));
	for (len = 6; len > 0 && fraction[len - 1] == '0'; len--)
		continue;
	fraction[len] = '\0';
	snprintf(out, outlen, "%llu%s%s", (unsigned long long)(us / 1000000),
	    len > 0 ? "." : "", fraction);
}

const char *
number_strerror(enum number_result result)
{
	switch (result) {
	case NUMBER_OK:
		return "ok";
	case NUMBER_EMPTY:
		return "empty";
	case NUMBER_SYNTAX:
		return "not a plain decimal number";
	case NUMBER_RANGE:
		return "out of range";
	}
	return "invalid";
}
