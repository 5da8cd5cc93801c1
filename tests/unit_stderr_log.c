/* SPDX-License-Identifier: ISC */
/*
 * unit_stderr_log.c - stderr_log's stamped lines, exactly: the level from
 * "<N>" (removed) or the class table, a line written in several calls
 * stamped once, a line longer than SA_LOG_LINE_MAX stamped once and kept
 * whole; for the journal ($JOURNAL_STREAM naming descriptor 2) the same
 * lines with only "<N>" in front, never doubled.  Each case is a child
 * whose descriptor 2 is a file.
 */
#include "config.h"

#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/stderr_log.h"
#include "tests/tap.h"

#define OUT_MAX	(4 * SA_LOG_LINE_MAX)

static char path[] = "/tmp/syncasync-stderr-log-XXXXXX";
static char out[OUT_MAX];

/*
 * Runs write_lines in a child with stderr on a fresh file, the journal's
 * stream if journal; out gets it.
 */
static int
run_in(void (*write_lines)(void), int journal)
{
	char stream[64];
	struct stat st;
	pid_t pid;
	int fd, status;
	ssize_t n;

	if ((fd = open(path, O_RDWR | O_TRUNC)) == -1)
		return -1;
	fflush(stdout);		/* the TAP lines so far: not the child's too */
	if ((pid = fork()) == 0) {
		dup2(fd, STDERR_FILENO);
		unsetenv("JOURNAL_STREAM");
		if (journal) {
			if (fstat(fd, &st) == -1)
				_exit(4);
			snprintf(stream, sizeof(stream), "%llu:%llu",
			    (unsigned long long)st.st_dev,
			    (unsigned long long)st.st_ino);
			setenv("JOURNAL_STREAM", stream, 1);
		}
		if (stderr_log_init("prog") !=
		    (journal ? STDERR_LOG_JOURNAL : STDERR_LOG_STAMPED))
			_exit(3);
		write_lines();
		exit(0);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid) {
		close(fd);
		return -1;
	}
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	out[n < 0 ? 0 : n] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
run(void (*write_lines)(void))
{
	return run_in(write_lines, 0);
}

/* Whether the line want (no newline) is in out, whole. */
static int
has_line(const char *want)
{
	size_t len = strlen(want);
	const char *p;

	for (p = out; (p = strstr(p, want)) != NULL; p++)
		if ((p == out || p[-1] == '\n') && p[len] == '\n')
			return 1;
	return 0;
}

/* The number of lines of out that match "^STAMP level text$". */
static int
count(const char *level, const char *text)
{
	char pattern[OUT_MAX + 256];
	regex_t re;
	const char *line = out, *end;
	char one[OUT_MAX];
	int n = 0;

	snprintf(pattern, sizeof(pattern), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} "
	    "%s %s$", level, text);
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	for (; *line != '\0'; line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			break;
		memcpy(one, line, (size_t)(end - line));
		one[end - line] = '\0';
		if (regexec(&re, one, 0, NULL, 0) == 0)
			n++;
	}
	regfree(&re);
	return n;
}

static int
lines(void)
{
	const char *p;
	int n = 0;

	for (p = out; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

static void
write_classes(void)
{
	fprintf(stderr, "prog: listening on 127.0.0.1:5000 (fd 3)\n");
	fprintf(stderr, "prog: watchdog: the loop stalled 200 ms: request 1 "
	    "(GET /x?a=cannot%%20x)\n");
	fprintf(stderr, "prog: connection 12: idle for 60000 ms; closing\n");
	fprintf(stderr, "prog: connection 12: out of memory reading a "
	    "record\n");
	fprintf(stderr, "prog: 500: cannot open state directory /x\n");
	fprintf(stderr, "prog: request 4 (mode timer): 504: upstream timed "
	    "out\n");
	fprintf(stderr, "prog: 405: method not allowed\n");
	fprintf(stderr, "prog: --mode x: must be block, timer or offload\n");
	fprintf(stderr, "<2>prog: told crit\n");
	fprintf(stderr, "other: watchdog: not after prog's prefix\n");
}

static void
write_pieces(void)
{
	fprintf(stderr, "prog: ");
	fprintf(stderr, "connection %d: ", 7);
	fputs("in three calls\nprog: and a second line", stderr);
	fputs(" ended later\n", stderr);
}

static void
write_long(void)
{
	char big[3 * SA_LOG_LINE_MAX];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fprintf(stderr, "<4>prog: %s\nprog: after\n", big);
}

int
main(void)
{
	char text[4 * SA_LOG_LINE_MAX];
	int fd;

	if ((fd = mkstemp(path)) == -1)
		return 99;
	close(fd);

	TAP_EQ_INT(run(write_classes), 0, "a child with stderr on a file: "
	    "stamped");
	TAP_EQ_INT(lines(), 10, "  one line out for each line in");
	TAP_EQ_INT(count("info", "prog: listening on 127.0.0.1:5000 "
	    "\\(fd 3\\)"), 1, "  an ordinary line: info");
	TAP_EQ_INT(count("warning", "prog: watchdog: .*cannot.*"), 1,
	    "  watchdog: warning, whatever the request line holds");
	TAP_EQ_INT(count("notice", "prog: connection 12: idle.*"), 1,
	    "  connection N: notice");
	TAP_EQ_INT(count("err", "prog: connection 12: out of memory.*"), 1,
	    "  out of memory, even on a connection: err");
	TAP_EQ_INT(count("err", "prog: 500: cannot.*"), 1, "  5xx: err");
	TAP_EQ_INT(count("err", "prog: request 4 \\(mode timer\\): 504: .*"),
	    1, "  a request answered 5xx: err");
	TAP_EQ_INT(count("notice", "prog: 405: .*"), 1, "  4xx: notice");
	TAP_EQ_INT(count("err", "prog: --mode x: must be.*"), 1,
	    "  a bad option: err");
	TAP_EQ_INT(count("crit", "prog: told crit"), 1,
	    "  <2>: crit, the prefix removed");
	TAP_EQ_INT(count("info", "other: watchdog: .*"), 1,
	    "  a class counts only after the program's own prefix");

	TAP_EQ_INT(run(write_pieces), 0, "a line written in several calls");
	TAP_EQ_INT(lines(), 2, "  two lines out");
	TAP_EQ_INT(count("notice", "prog: connection 7: in three calls"), 1,
	    "  the first stamped once, at its start");
	TAP_EQ_INT(count("info", "prog: and a second line ended later"), 1,
	    "  the second too");

	TAP_EQ_INT(run(write_long), 0, "a line longer than SA_LOG_LINE_MAX");
	memset(text, 'x', 3 * SA_LOG_LINE_MAX - 1);
	text[3 * SA_LOG_LINE_MAX - 1] = '\0';
	TAP_EQ_INT(lines(), 2, "  stays one line");
	{
		char want[4 * SA_LOG_LINE_MAX + 16];

		snprintf(want, sizeof(want), "prog: %s", text);
		TAP_EQ_INT(count("warning", want), 1,
		    "  stamped once, whole, the level of its start");
	}
	TAP_EQ_INT(count("info", "prog: after"), 1, "  the next line stamped");

	TAP_EQ_INT(run_in(write_classes, 1), 0, "a child with stderr on the "
	    "journal's stream: prefixed");
	TAP_EQ_INT(lines(), 10, "  one line out for each line in");
	TAP_OK(has_line("<6>prog: listening on 127.0.0.1:5000 (fd 3)"),
	    "  an ordinary line: <6>, no time");
	TAP_OK(has_line("<4>prog: watchdog: the loop stalled 200 ms: "
	    "request 1 (GET /x?a=cannot%20x)"), "  watchdog: <4>");
	TAP_OK(has_line("<5>prog: 405: method not allowed"), "  4xx: <5>");
	TAP_OK(has_line("<3>prog: 500: cannot open state directory /x"),
	    "  5xx: <3>");
	TAP_OK(has_line("<2>prog: told crit"),
	    "  its own <2> kept, not doubled");
	TAP_OK(strstr(out, "<2><") == NULL && strstr(out, "><2>") == NULL,
	    "  no line prefixed twice");

	TAP_EQ_INT(run_in(write_pieces, 1), 0, "the journal: a line written in "
	    "several calls");
	TAP_OK(has_line("<5>prog: connection 7: in three calls") &&
	    has_line("<6>prog: and a second line ended later") && lines() == 2,
	    "  each line prefixed once, at its start");

	TAP_EQ_INT(run_in(write_long, 1), 0, "the journal: a line longer than "
	    "SA_LOG_LINE_MAX");
	{
		char want[4 * SA_LOG_LINE_MAX + 16];

		snprintf(want, sizeof(want), "<4>prog: %s", text);
		TAP_OK(lines() == 2 && has_line(want) &&
		    has_line("<6>prog: after"),
		    "  prefixed once, whole, then the next line");
	}
	unlink(path);
	return tap_done();
}
