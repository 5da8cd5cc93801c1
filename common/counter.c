/* SPDX-License-Identifier: ISC */
/*
 * counter.c - the flock-protected request counter (counter.h).
 *
 * Record format: twenty decimal digits and a newline, so `cat` shows it and
 * every rewrite has the same length.  An empty file counts as 0.  A CGI
 * process runs this once in its life: the success path calls no stdio
 * (snprintf would fault in vfprintf's code on every request); the system
 * calls are the ones the checks need (doc/DESIGN-NOTES.md, "The counter").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/counter.h"
#include "common/number.h"

#define COUNTER_RECORD_LEN 21	/* 20 digits and '\n' */

static int
fail(char *err, size_t errlen, const char *what, const char *path, int error)
{
	if (error != 0)
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(error));
	else
		snprintf(err, errlen, "%s %s", what, path);
	return -1;
}

/* Reads the current value from fd; 0 or -1 (corrupt record). */
static int
read_value(int fd, uint64_t *value)
{
	char buf[COUNTER_RECORD_LEN + 1];
	ssize_t got;

	do
		got = pread(fd, buf, sizeof(buf) - 1, 0);
	while (got == -1 && errno == EINTR);
	if (got < 0)
		return -1;
	if (got == 0) {
		*value = 0;
		return 0;
	}
	if (got != COUNTER_RECORD_LEN || buf[COUNTER_RECORD_LEN - 1] != '\n')
		return -1;
	buf[COUNTER_RECORD_LEN - 1] = '\0';
	return number_parse_uint(buf, 0, UINT64_MAX - 1, value) == NUMBER_OK ?
	    0 : -1;
}

/* value as the record: twenty digits, zero-padded, and '\n'. */
static void
format_record(uint64_t value, char record[COUNTER_RECORD_LEN])
{
	int i;

	record[COUNTER_RECORD_LEN - 1] = '\n';
	for (i = COUNTER_RECORD_LEN - 2; i >= 0; i--) {
		record[i] = (char)('0' + value % 10);
		value /= 10;
	}
}

int
counter_next(const char *state_dir, uint64_t *value, char *err, size_t errlen)
{
	char record[COUNTER_RECORD_LEN];
	struct stat st;
	uid_t euid = geteuid();
	uint64_t current;
	int dir_fd = -1, fd = -1, rc = -1;
	ssize_t put;

	dir_fd = openat(AT_FDCWD, state_dir, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd == -1) {
		fail(err, errlen, "cannot open state directory", state_dir,
		    errno);
		goto done;
	}
	if (fstat(dir_fd, &st) == -1 ||
	    (st.st_uid != euid && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fail(err, errlen, "state directory must be owned by this user "
		    "and writable by nobody else:", state_dir, 0);
		goto done;
	}
	fd = openat(dir_fd, COUNTER_FILE, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd == -1) {
		fail(err, errlen, "cannot open counter file in", state_dir,
		    errno);
		goto done;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != euid || st.st_nlink != 1 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fail(err, errlen, "counter file must be a regular file owned by "
		    "this user, with one link, writable by nobody else, in",
		    state_dir, 0);
		goto done;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			fail(err, errlen, "cannot lock counter file in",
			    state_dir, errno);
			goto done;
		}
	}
	if (read_value(fd, &current) == -1) {
		fail(err, errlen, "counter file is corrupt in", state_dir, 0);
		goto done;
	}
	format_record(current + 1, record);
	do
		put = pwrite(fd, record, COUNTER_RECORD_LEN, 0);
	while (put == -1 && errno == EINTR);
	if (put != COUNTER_RECORD_LEN) {
		fail(err, errlen, "cannot write counter file in", state_dir,
		    put == -1 ? errno : EIO);
		goto done;
	}
	*value = current + 1;
	rc = 0;
done:
	if (fd != -1)
		close(fd);		/* also drops the lock */
	if (dir_fd != -1)
		close(dir_fd);
	return rc;
}
