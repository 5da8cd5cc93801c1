/* SPDX-License-Identifier: ISC */
/*
 * query.h - reading one parameter out of a URL query string.
 *
 * application/x-www-form-urlencoded: pairs separated by '&', '+' is a space,
 * %XX escapes.  No allocation: the decoded value goes to a caller's buffer.
 */
#ifndef SYNCASYNC_COMMON_QUERY_H
#define SYNCASYNC_COMMON_QUERY_H

#include <stddef.h>

enum query_result {
	QUERY_FOUND = 0,
	QUERY_ABSENT,		/* no such parameter */
	QUERY_BAD_ESCAPE,	/* a '%' not followed by two hex digits */
	QUERY_TOO_LONG,		/* the decoded value does not fit out */
	QUERY_REPEATED,		/* the parameter appears more than once */
};

/*
 * Looks up name in the query string qs (may be NULL or empty).  Every pair
 * is checked for well-formed escapes, not only the one asked for, so a
 * malformed query is reported whichever parameter is looked up.  On
 * QUERY_FOUND out holds the decoded, NUL-terminated value.
 */
enum query_result query_get(const char *qs, const char *name, char *out,
    size_t outlen);

#endif
