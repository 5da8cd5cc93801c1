/* SPDX-License-Identifier: ISC */
/*
 * stderr_log.c - log lines get a time and a level where nobody adds them
 * (stderr_log.h).
 *
 * One fstat decides (a getenv and, for a character device only, an isatty
 * come with it; a sync_cgi CGI request pays them, and the stream's heap,
 * only when it has a line to log).  Where lines are
 * to change, stderr becomes a fopencookie(3) stream (glibc lets a program
 * assign stderr) whose writes are cut into lines in one fixed buffer:
 * each line is then stamped and written to descriptor 2 in one write(2),
 * or handed to syslog(3); the journal's lines get only their level as
 * "<N>" in front, also in one write(2).  The clock is read and the stamp
 * formatted only when a line is stamped.  Not here: rotation, or reopening
 * a file.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/stderr_log.h"

/* "2026-12-01T10:50:00.123+00:00 warning ": the longest is 40 bytes (a
 * five-digit year, "warning"); 64 leaves room for any year an int holds. */
#define STDERR_LOG_HEAD_MAX	64

/*
 * The level of a line that has no sd-daemon "<N>" prefix: the first row
 * that matches wins.  A row matches right after the program's "ident: "
 * prefix (at), or anywhere in the line (in); '#' stands for one or more
 * digits.  The watchdog's row comes first as its lines quote a request
 * line a peer chose; a request's status before the words its error may
 * hold; a process-wide failure before one connection's trouble.  The man
 * pages' DIAGNOSTICS say the same.
 */
static const struct stderr_log_class {
	enum { STDERR_LOG_AT, STDERR_LOG_IN } where;
	const char	*text;
	int		 level;
} stderr_log_classes[] = {
	{ STDERR_LOG_AT, "watchdog: ",		LOG_WARNING },	/* a stall */
	{ STDERR_LOG_IN, ": 5#: ",		LOG_ERR },	/* answered 5xx */
	{ STDERR_LOG_IN, ": 4#: ",		LOG_NOTICE },	/* refused 4xx */
	{ STDERR_LOG_IN, "out of memory",	LOG_ERR },
	{ STDERR_LOG_IN, "cannot ",		LOG_ERR },
	{ STDERR_LOG_IN, "could not ",		LOG_ERR },
	{ STDERR_LOG_IN, "failed",		LOG_ERR },
	{ STDERR_LOG_IN, "killed by ",		LOG_ERR },	/* a worker */
	{ STDERR_LOG_AT, "connection #: ",	LOG_NOTICE },	/* one peer */
	{ STDERR_LOG_IN, "connection closed",	LOG_NOTICE },	/* sync_cgi's */
	{ STDERR_LOG_IN, "went away",		LOG_NOTICE },
	{ STDERR_LOG_IN, "hung up",		LOG_NOTICE },
	{ STDERR_LOG_AT, "accept: ",		LOG_ERR },
	{ STDERR_LOG_IN, "must be ",		LOG_ERR },	/* bad option */
	{ STDERR_LOG_IN, "invalid",		LOG_ERR },	/* bad setting */
	{ STDERR_LOG_IN, " needs ",		LOG_ERR },
	{ STDERR_LOG_IN, "unexpected argument",	LOG_ERR },
	{ STDERR_LOG_IN, "unrecognized option",	LOG_ERR },	/* getopt's */
	{ STDERR_LOG_IN, "requires an argument", LOG_ERR },
};
#define STDERR_LOG_DEFAULT_LEVEL	LOG_INFO

/* syslog(3)'s names for the levels, as syslog.conf(5) and journalctl -p. */
static const char *const stderr_log_level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/*
 * The line being assembled, after room for its stamp (written in front of
 * it, so a line is one write(2)) and before room for its newline.  Only
 * the cookie's write touches it, and stdio calls that with the stream's
 * lock held.
 */
static char stderr_log_buf[STDERR_LOG_HEAD_MAX + SA_LOG_LINE_MAX + 1];
static char *const stderr_log_line = stderr_log_buf + STDERR_LOG_HEAD_MAX;
static size_t stderr_log_len;
static int stderr_log_level = -1;	/* the line's, once its start is seen */
static struct timespec stderr_log_start;	/* when its first byte came */
static int stderr_log_mode;		/* STDERR_LOG_SYSLOG, _STAMPED, _JOURNAL */
static const char *stderr_log_ident;

/*
 * How descriptor 2 is used: STDERR_LOG_SYSLOG when it is closed or the
 * null device (Linux's 1:3, devices.txt: no stat of /dev/null on every CGI
 * request); STDERR_LOG_JOURNAL for the journal (systemd.exec(5):
 * $JOURNAL_STREAM is "device:inode" of the stream journald gave, compared
 * with fstat's, since a child may have redirected stderr since);
 * STDERR_LOG_UNTOUCHED for a terminal; else STDERR_LOG_STAMPED.
 */
static int
stderr_log_destination(void)
{
	struct stat err_st;
	const char *journal;
	char *end;
	unsigned long long dev, ino;

	if (fstat(STDERR_FILENO, &err_st) == -1)
		return errno == EBADF ? STDERR_LOG_SYSLOG : STDERR_LOG_UNTOUCHED;
	if (S_ISCHR(err_st.st_mode)) {
		if (err_st.st_rdev == makedev(1, 3))
			return STDERR_LOG_SYSLOG;
		if (isatty(STDERR_FILENO))
			return STDERR_LOG_UNTOUCHED;
	}
	if ((journal = getenv("JOURNAL_STREAM")) != NULL) {
		errno = 0;
		dev = strtoull(journal, &end, 10);
		if (errno == 0 && end != journal && *end == ':') {
			journal = end + 1;
			ino = strtoull(journal, &end, 10);
			if (errno == 0 && end != journal && *end == '\0' &&
			    dev == (unsigned long long)err_st.st_dev &&
			    ino == (unsigned long long)err_st.st_ino)
				return STDERR_LOG_JOURNAL;
		}
	}
	return STDERR_LOG_STAMPED;
}

/* The length of text that pattern ('#': one or more digits) matches at the
 * start of s, or 0. */
static size_t
stderr_log_match(const char *s, const char *pattern)
{
	const char *p = s;

	for (; *pattern != '\0'; pattern++) {
		if (*pattern == '#') {
			if (*p < '0' || *p > '9')
				return 0;
			while (*p >= '0' && *p <= '9')
				p++;
		} else if (*p++ != *pattern)
			return 0;
	}
	return (size_t)(p - s);
}

/* The level stderr_log_classes gives a line (NUL-terminated, no prefix). */
static int
stderr_log_classify(const char *text)
{
	const char *body = text, *s;
	size_t ident_len = strlen(stderr_log_ident), i;

	if (strncmp(text, stderr_log_ident, ident_len) == 0 &&
	    text[ident_len] == ':' && text[ident_len + 1] == ' ')
		body = text + ident_len + 2;
	for (i = 0; i < sizeof(stderr_log_classes) /
	    sizeof(stderr_log_classes[0]); i++) {
		const struct stderr_log_class *row = &stderr_log_classes[i];

		if (row->where == STDERR_LOG_AT) {
			if (stderr_log_match(body, row->text) > 0)
				return row->level;
			continue;
		}
		for (s = text; *s != '\0'; s++)
			if (*s == row->text[0] &&
			    stderr_log_match(s, row->text) > 0)
				return row->level;
	}
	return STDERR_LOG_DEFAULT_LEVEL;
}

/* Writes all of p to descriptor 2, or as much as it takes. */
static void
stderr_log_write_fd(const char *p, size_t n)
{
	ssize_t done;

	while (n > 0) {
		done = write(STDERR_FILENO, p, n);
		if (done == -1 && errno == EINTR)
			continue;
		if (done <= 0)
			return;
		p += done;
		n -= (size_t)done;
	}
}

/*
 * "2026-12-01T10:50:00.123+00:00 warning " for the line's start, written
 * just before text (which has STDERR_LOG_HEAD_MAX bytes of room before
 * it); returns where it starts.
 */
static char *
stderr_log_stamp(char *text, int level)
{
	char head[STDERR_LOG_HEAD_MAX];
	struct tm tm;
	long off;
	int len;

	if (localtime_r(&stderr_log_start.tv_sec, &tm) == NULL)
		return text;
	off = tm.tm_gmtoff / 60;
	len = snprintf(head, sizeof(head),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%c%02ld:%02ld %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, stderr_log_start.tv_nsec / 1000000,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60,
	    stderr_log_level_names[level]);
	if (len <= 0 || (size_t)len >= sizeof(head))
		return text;
	memcpy(text - len, head, (size_t)len);
	return text - len;
}

/*
 * The sd-daemon(3) prefix "<N>" for the journal, written just before text
 * (as stderr_log_stamp); journald takes it as the line's priority and
 * removes it (systemd.exec(5), SyslogLevelPrefix=).
 */
static char *
stderr_log_prefix(char *text, int level)
{
	text -= 3;
	text[0] = '<';
	text[1] = (char)('0' + level);
	text[2] = '>';
	return text;
}

/*
 * Sends what is assembled: the whole line when ended (newline), else a
 * piece of a line longer than SA_LOG_LINE_MAX.  The level and the stamp
 * (or the journal's "<N>") come from the line's first piece; output to
 * descriptor 2 writes the later pieces bare and the newline at the end
 * only, so the line stays one line.
 */
static void
stderr_log_flush(int ended)
{
	char *text = stderr_log_line, *start;
	int first = stderr_log_level < 0;

	stderr_log_line[stderr_log_len] = '\0';
	if (first) {
		/* sd-daemon(3) priority prefix: "<3>text". */
		if (text[0] == '<' && text[1] >= '0' && text[1] <= '7' &&
		    text[2] == '>') {
			stderr_log_level = text[1] - '0';
			text += 3;
		} else
			stderr_log_level = stderr_log_classify(text);
	}
	if (stderr_log_mode == STDERR_LOG_SYSLOG) {
		if (*text != '\0')
			syslog(stderr_log_level, "%s", text);
	} else {
		start = !first ? text :
		    stderr_log_mode == STDERR_LOG_JOURNAL ?
		    stderr_log_prefix(text, stderr_log_level) :
		    stderr_log_stamp(text, stderr_log_level);
		if (ended)
			stderr_log_line[stderr_log_len++] = '\n';
		stderr_log_write_fd(start,
		    (size_t)(stderr_log_line + stderr_log_len - start));
	}
	stderr_log_len = 0;
	if (ended)
		stderr_log_level = -1;
}

static ssize_t
stderr_log_write(void *cookie, const char *buf, size_t size)
{
	int saved_errno = errno;
	size_t i;

	(void)cookie;
	for (i = 0; i < size; i++) {
		if (stderr_log_len == 0 && stderr_log_level < 0 &&
		    stderr_log_mode == STDERR_LOG_STAMPED)
			clock_gettime(CLOCK_REALTIME, &stderr_log_start);
		if (buf[i] == '\n') {
			stderr_log_flush(1);
			continue;
		}
		if (stderr_log_len == SA_LOG_LINE_MAX)
			stderr_log_flush(0);
		stderr_log_line[stderr_log_len++] = buf[i];
	}
	errno = saved_errno;
	return (ssize_t)size;
}

static int
stderr_log_close(void *cookie)
{
	(void)cookie;
	if (stderr_log_len > 0)
		stderr_log_flush(1);
	return 0;
}

int
stderr_log_init(const char *ident)
{
	static const cookie_io_functions_t io = {
		.write = stderr_log_write,
		.close = stderr_log_close,
	};
	static int chosen = -1;
	FILE *stream;
	int mode;

	if (chosen != -1)
		return chosen;	/* once per process */
	chosen = mode = stderr_log_destination();
	if (mode == STDERR_LOG_UNTOUCHED)
		return mode;
	stream = fopencookie(NULL, "w", io);
	if (stream == NULL)
		return chosen = STDERR_LOG_UNTOUCHED;
	/* Line-buffered: a line is sent when it ends, not at exit. */
	setvbuf(stream, NULL, _IOLBF, 0);
	stderr_log_ident = ident;
	stderr_log_mode = mode;
	if (mode == STDERR_LOG_SYSLOG)
		openlog(ident, LOG_PID, LOG_DAEMON);
	stderr = stream;
	return mode;
}
