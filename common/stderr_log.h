/* SPDX-License-Identifier: ISC */
/*
 * stderr_log.h - standard error that leads nowhere goes to syslog instead.
 *
 * The backends' log lines (sync_cgi's errors, async_fcgi's start line and
 * watchdog) are written to stderr, which the web server chooses: lighttpd's
 * server.breakagelog, the journal under systemd, Apache's error log.  A
 * lighttpd daemonised without a breakagelog (Debian's stock configuration
 * under its init script) points it at /dev/null, as does start-stop-daemon
 * --background: then each line is sent to syslog(3) instead, ident the
 * program's name, facility daemon.  Nothing changes when stderr is anything
 * else.
 */
#ifndef SYNCASYNC_COMMON_STDERR_LOG_H
#define SYNCASYNC_COMMON_STDERR_LOG_H

/*
 * When descriptor 2 is /dev/null or closed, replaces the stdio stream
 * stderr by one that hands each line to syslog(3) (level from a leading
 * sd-daemon "<N>" prefix, else LOG_NOTICE; a line longer than
 * SA_LOG_LINE_MAX is sent in pieces).  Returns 1 when it did, 0 when
 * stderr was left alone (also when the stream could not be made).  Call it
 * first in main(), before anything is written to stderr.  ident must
 * outlive the process (a string literal).
 */
int stderr_log_init(const char *ident);

#endif
