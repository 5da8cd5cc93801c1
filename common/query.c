/* SPDX-License-Identifier: ISC */
/*
 * query.c - query string lookup with percent-decoding (query.h).
 */
#include "config.h"

#include <string.h>

#include "common/query.h"

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes [s, end) into out (outlen bytes, NUL added).  out may be NULL to
 * only validate.  Returns QUERY_FOUND, QUERY_BAD_ESCAPE or QUERY_TOO_LONG.
 */
static enum query_result
decode(const char *s, const char *end, char *out, size_t outlen)
{
	size_t n = 0;

	while (s < end) {
		char c = *s++;

		if (c == '%') {
			int hi, lo;

			if (end - s < 2 || (hi = hex_value(s[0])) < 0 ||
			    (lo = hex_value(s[1])) < 0)
				return QUERY_BAD_ESCAPE;
			c = (char)(hi * 16 + lo);
			s += 2;
		} else if (c == '+')
			c = ' ';
		if (out != NULL) {
			if (n + 1 >= outlen)
				return QUERY_TOO_LONG;
			out[n] = c;
		}
		n++;
	}
	if (out != NULL)
		out[n] = '\0';
	return QUERY_FOUND;
}

enum query_result
query_get(const char *qs, const char *name, char *out, size_t outlen)
{
	enum query_result found = QUERY_ABSENT, r;
	size_t name_len = strlen(name);
	const char *pair = qs;

	if (qs == NULL)
		return QUERY_ABSENT;
	while (*pair != '\0') {
		const char *end = strchr(pair, '&'), *eq;

		if (end == NULL)
			end = pair + strlen(pair);
		eq = memchr(pair, '=', (size_t)(end - pair));
		if ((r = decode(pair, eq != NULL ? eq : end, NULL, 0)) !=
		    QUERY_FOUND)
			return r;
		if (eq != NULL && (size_t)(eq - pair) == name_len &&
		    memcmp(pair, name, name_len) == 0) {
			if (found == QUERY_FOUND)
				return QUERY_REPEATED;
			if ((r = decode(eq + 1, end, out, outlen)) !=
			    QUERY_FOUND)
				return r;
			found = QUERY_FOUND;
		} else if (eq != NULL &&
		    (r = decode(eq + 1, end, NULL, 0)) != QUERY_FOUND)
			return r;
		pair = *end == '&' ? end + 1 : end;
	}
	return found;
}
