#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""stderr_syslog.py - backends whose stderr is /dev/null log to syslog.

A daemonised lighttpd without server.breakagelog (Debian's stock one)
hands its CGI and FastCGI children /dev/null as stderr, and so does
start-stop-daemon --background.  There sync_cgi and async_fcgi send their
lines to syslog(3) instead (common/stderr_log.c), at the level a stamped
line would show (tests/stderr_stamp.py); anywhere else they stay on stderr.

The programs run in a private mount namespace (unshare -m) whose /dev is
a directory holding the real /dev/null and a /dev/log socket this test
listens on, so no system logger is touched or needed.  Root only (a
mount namespace); skipped otherwise.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILDDIR, Tap  # noqa: E402

SYNC_CGI = os.path.join(BUILDDIR, "sync_cgi", "sync_cgi")
ASYNC_FCGI = os.path.join(BUILDDIR, "async_fcgi", "async_fcgi")


def in_namespace(dev, command, stderr):
    """Runs command (a shell string) with dev mounted on /dev, privately."""
    script = ("mount --bind /dev/null %s/null && mount --rbind %s /dev && exec %s"
              % (dev, dev, command))
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                          timeout=30, env=dict(os.environ, GATEWAY_INTERFACE="CGI/1.1",
                                               REQUEST_METHOD="GET",
                                               SYNCASYNC_STATE_DIR="/nonexistent/state"))


def received(sock):
    lines = []
    while True:
        try:
            lines.append(sock.recv(65536).decode(errors="replace"))
        except BlockingIOError:
            return lines


def main():
    tap = Tap()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        tap.skip_all("needs root and unshare(1) for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "true"], stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        tap.skip_all("unshare -m is not permitted here")
    work = tempfile.mkdtemp(prefix="syncasync-syslog-")
    try:
        dev = os.path.join(work, "dev")
        os.mkdir(dev)
        open(os.path.join(dev, "null"), "w").close()
        log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        log.bind(os.path.join(dev, "log"))
        log.setblocking(False)

        # sync_cgi, CGI mode, state directory missing: a 500 and its line.
        result = in_namespace(dev, SYNC_CGI + " 2>/dev/null", subprocess.PIPE)
        lines = received(log)
        tap.ok(b"500" in result.stdout.split(b"\r\n", 1)[0],
               "sync_cgi answers 500 for a missing state directory", result.stdout[:200])
        tap.ok(any("sync_cgi[" in l and "cannot open state directory" in l for l in lines),
               "  with stderr on /dev/null, its line reaches syslog, tagged sync_cgi[pid]",
               lines)
        tap.ok(any(l.startswith("<") and ">" in l[:5] for l in lines),
               "  as a syslog message with a priority", lines)
        tap.ok(any(l.startswith("<27>") and "cannot open state directory" in l
                   for l in lines),
               "  daemon.err (<27>): the level a stamped line would show", lines)
        result = in_namespace(dev, SYNC_CGI, subprocess.PIPE)
        lines = received(log)
        tap.ok(b"cannot open state directory" in result.stderr and not lines,
               "  with stderr a pipe, the line goes there and not to syslog",
               (result.stderr[:200], lines))

        # async_fcgi: a bad option is its start-up's last word (exit 2).
        result = in_namespace(dev, ASYNC_FCGI + " --mode nonsense 2>/dev/null",
                              subprocess.PIPE)
        lines = received(log)
        tap.eq(result.returncode, 2, "async_fcgi --mode nonsense exits 2")
        tap.ok(any("async_fcgi[" in l and "--mode nonsense" in l for l in lines),
               "  with stderr on /dev/null, its error reaches syslog", lines)
        tap.ok(any(l.startswith("<27>") and "--mode nonsense" in l for l in lines),
               "  as daemon.err (<27>)", lines)
        result = in_namespace(dev, ASYNC_FCGI + " --mode nonsense 2>&-", subprocess.PIPE)
        lines = received(log)
        tap.ok(any("async_fcgi[" in l and "--mode nonsense" in l for l in lines),
               "  with stderr closed too", lines)
        log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
