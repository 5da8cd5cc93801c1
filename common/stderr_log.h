/* SPDX-License-Identifier: ISC */
/*
 * stderr_log.h - each log line gets a time and a level where nothing else
 * gives it one.
 *
 * The backends' log lines (sync_cgi's errors, async_fcgi's start line and
 * watchdog) are written to stderr, which the web server chooses: lighttpd's
 * server.breakagelog, the journal under systemd, Apache's error log.
 *   - The journal: each line is written as "<4>async_fcgi: watchdog: ...",
 *     the level as an sd-daemon(3) prefix, which journald takes as the
 *     line's priority (journalctl -p) and removes; no time (journald
 *     stamps each line).
 *   - A terminal: left alone (a person reads the lines as they come).
 *   - /dev/null or closed (a lighttpd daemonised without a breakagelog,
 *     Debian's stock one, start-stop-daemon --background): each line goes
 *     to syslog(3) instead, ident the program's name, facility daemon.
 *   - Anything else (a file, a pipe): each line is written as
 *     "2026-12-01T10:50:00.123+00:00 warning async_fcgi: watchdog: ...",
 *     local time with milliseconds and its UTC offset (RFC 3339), then
 *     the level's syslog name, then the line as the program wrote it.
 * The level is a leading "<N>" (0-7, removed; for the journal written
 * back once, not doubled), else the class of the line (one table in
 * stderr_log.c, as the man pages' DIAGNOSTICS say).  Each line is one
 * write(2) to descriptor 2 (a line longer than SA_LOG_LINE_MAX: one per
 * piece, the newline with the last).
 *
 * Known gaps: Apache's error log (CGI) and nginx's (fcgiwrap) stamp what
 * they read from the pipe too, so there a line carries both stamps.  A
 * line written in several stdio calls from two threads at once can
 * interleave (stdio locks one call); an unterminated last line is lost at
 * exit.
 */
#ifndef SYNCASYNC_COMMON_STDERR_LOG_H
#define SYNCASYNC_COMMON_STDERR_LOG_H

#define STDERR_LOG_UNTOUCHED	0	/* stderr left as it was */
#define STDERR_LOG_SYSLOG	1	/* lines go to syslog(3) */
#define STDERR_LOG_STAMPED	2	/* lines get a time and a level */
#define STDERR_LOG_JOURNAL	3	/* lines get a "<N>" level prefix */

/*
 * Decides from one fstat of descriptor 2 (and $JOURNAL_STREAM, and for a
 * character device isatty) and, unless the lines stay as they are,
 * replaces the stdio stream stderr by one that cuts its output into lines
 * of at most SA_LOG_LINE_MAX bytes (a longer one is stamped or prefixed
 * once and written whole, or sent to syslog in pieces at the level of its
 * start).
 * Returns the STDERR_LOG_* it chose (STDERR_LOG_UNTOUCHED also when the
 * stream could not be made).  Call it before anything is written to
 * stderr: first in main(), or (a CGI process, which seldom logs) before
 * its first line.  A second call does nothing and returns the first
 * answer.  ident (the program's name, also the prefix its lines start
 * with) must outlive the process: a string literal.
 */
int stderr_log_init(const char *ident);

#endif
