/* SPDX-License-Identifier: ISC */
/*
 * stderr_log.c - standard error that leads nowhere goes to syslog (stderr_log.h).
 *
 * One fstat when stderr is usable (sync_cgi pays it on every CGI request);
 * otherwise a fopencookie(3) stream whose writes are cut into lines for
 * syslog(3).  glibc lets a program assign stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/stderr_log.h"

static char stderr_log_line[SA_LOG_LINE_MAX + 1];
static size_t stderr_log_len;

/* 1 when descriptor 2 is closed or is the null device (Linux's 1:3,
 * devices.txt: no stat of /dev/null on every CGI request). */
static int
stderr_log_leads_nowhere(void)
{
	struct stat err_st;

	if (fstat(STDERR_FILENO, &err_st) == -1)
		return errno == EBADF;
	return S_ISCHR(err_st.st_mode) && err_st.st_rdev == makedev(1, 3);
}

static void
stderr_log_flush_line(void)
{
	const char *text = stderr_log_line;
	int level = LOG_NOTICE;

	stderr_log_line[stderr_log_len] = '\0';
	/* sd-daemon(3) priority prefix: "<3>text". */
	if (text[0] == '<' && text[1] >= '0' && text[1] <= '7' && text[2] == '>') {
		level = text[1] - '0';
		text += 3;
	}
	if (*text != '\0')
		syslog(level, "%s", text);
	stderr_log_len = 0;
}

static ssize_t
stderr_log_write(void *cookie, const char *buf, size_t size)
{
	size_t i;

	(void)cookie;
	for (i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			stderr_log_flush_line();
			continue;
		}
		if (stderr_log_len == SA_LOG_LINE_MAX)
			stderr_log_flush_line();
		stderr_log_line[stderr_log_len++] = buf[i];
	}
	return (ssize_t)size;
}

static int
stderr_log_close(void *cookie)
{
	(void)cookie;
	if (stderr_log_len > 0)
		stderr_log_flush_line();
	return 0;
}

int
stderr_log_init(const char *ident)
{
	static const cookie_io_functions_t io = {
		.write = stderr_log_write,
		.close = stderr_log_close,
	};
	FILE *stream;

	if (!stderr_log_leads_nowhere())
		return 0;
	stream = fopencookie(NULL, "w", io);
	if (stream == NULL)
		return 0;
	/* Line-buffered: a line reaches syslog when it ends, not at exit. */
	setvbuf(stream, NULL, _IOLBF, 0);
	openlog(ident, LOG_PID, LOG_DAEMON);
	stderr = stream;
	return 1;
}
