/* SPDX-License-Identifier: ISC */
/*
 * tap.h - a minimal TAP producer for the unit tests.
 *
 * Each test program prints "1..N" at the end (plan-last is valid TAP) and one
 * "ok"/"not ok" line per check; automake's tap-driver.sh reads them.  Header-only
 * so each test stays one file; nothing here allocates.
 */
#ifndef SYNCASYNC_TESTS_TAP_H
#define SYNCASYNC_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

/* Records one check; returns cond so callers may chain. */
static inline int
tap_ok(int cond, const char *file, int line, const char *what)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, what);
	if (!cond)
		printf("# failed at %s:%d\n", file, line);
	return cond;
}

#define TAP_OK(cond, what) tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, (what))
#define TAP_EQ_INT(a, b, what) do {                                          \
	long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);          \
	if (!TAP_OK(tap_a_ == tap_b_, what))                                 \
		printf("#   got %lld, expected %lld\n", tap_a_, tap_b_);     \
} while (0)
#define TAP_EQ_STR(a, b, what) do {                                          \
	const char *tap_a_ = (a), *tap_b_ = (b);                             \
	int tap_same_ = tap_a_ != NULL && tap_b_ != NULL &&                  \
	    strcmp(tap_a_, tap_b_) == 0;                                     \
	if (!TAP_OK(tap_same_, what))                                        \
		printf("#   got \"%s\", expected \"%s\"\n",                  \
		    tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); \
} while (0)
#define TAP_EQ_MEM(a, b, len, what) \
	TAP_OK(memcmp((a), (b), (len)) == 0, what)

/* Prints the plan; the return value is the program's exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif
