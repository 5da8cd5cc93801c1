#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""stderr_stamp.py - log lines get a time and a level where nothing adds them.

common/stderr_log.c: when a backend's stderr is a file (lighttpd's
server.breakagelog, `2>file`) or a pipe, each line starts with an RFC 3339
local time with milliseconds and a syslog level name, then the program's
own line:

    2026-12-01T10:50:00.123+00:00 warning async_fcgi: watchdog: ...

Under the journal ($JOURNAL_STREAM naming descriptor 2) each line gets
only its level as an sd-daemon(3) "<N>" in front, which journald takes as
the line's priority, in one write(2); on a terminal the lines are left as
the program wrote them.  (/dev/null: syslog, in tests/stderr_syslog.py.)
The readiness checks poll the log file for the line expected; nothing here
sleeps in place of a check.
"""
import datetime
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client as fc  # noqa: E402
from harness import BUILDDIR, Tap, wait_for  # noqa: E402

SYNC_CGI = os.path.join(BUILDDIR, "sync_cgi", "sync_cgi")
ASYNC_FCGI = os.path.join(BUILDDIR, "async_fcgi", "async_fcgi")
STAMPED = re.compile(r"^(\S+) (emerg|alert|crit|err|warning|notice|info|debug) "
                     r"((?:async_fcgi|sync_cgi): .*)$")
CGI_ENV = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
           "SYNCASYNC_STATE_DIR": "/nonexistent/state"}


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SYNCASYNC_") and k != "JOURNAL_STREAM"}
    env.update(extra or {})
    return env


def stamped(line):
    """(time, level, text) of a stamped line, or None."""
    m = STAMPED.match(line)
    if not m:
        return None
    try:
        when = datetime.datetime.fromisoformat(m.group(1))
    except ValueError:
        return None
    if when.tzinfo is None or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", m.group(1)):
        return None
    return when, m.group(2), m.group(3)


def level_of(lines, needle):
    """The level of the first stamped line holding needle (None: none)."""
    for line in lines:
        parts = stamped(line)
        if parts and needle in parts[2]:
            return parts[1]
    return None


def run_with_stderr_file(argv, env, path):
    with open(path, "wb") as err:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=err, env=env, timeout=30)
    with open(path, "rb") as f:
        return proc, f.read().decode("utf-8", "replace").splitlines()


def on_a_tty(argv, env):
    """What argv writes on stderr when that is a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:         # EIO: the last writer closed the slave
            break
        if not data:
            break
        out += data
    os.close(master)
    proc.wait(30)
    return out.decode("utf-8", "replace").replace("\r\n", "\n").splitlines()


def main():
    tap = Tap()
    for binary in (SYNC_CGI, ASYNC_FCGI):
        if not os.access(binary, os.X_OK):
            tap.skip_all("%s is not built" % binary)
    work = tempfile.mkdtemp(prefix="syncasync-stamp-")
    path = os.path.join(work, "stderr.log")
    try:
        # --- a file: sync_cgi's 500, async_fcgi's bad option ----------------------
        before = datetime.datetime.now().astimezone() - datetime.timedelta(seconds=1)
        proc, lines = run_with_stderr_file([SYNC_CGI], clean_env(CGI_ENV), path)
        after = datetime.datetime.now().astimezone() + datetime.timedelta(seconds=1)
        parts = stamped(lines[0]) if lines else None
        tap.ok(b"500" in proc.stdout.split(b"\r\n", 1)[0] and parts is not None,
               "sync_cgi's 500 line in a file is stamped (RFC 3339 time, ms, offset)",
               lines)
        tap.ok(parts is not None and before <= parts[0] <= after,
               "  with the time it was written, local time with its offset", (parts, before))
        tap.ok(parts is not None and parts[1] == "err" and
               parts[2].startswith("sync_cgi: 500: cannot open state directory"),
               "  level err, then the program's own line untouched", lines)
        tap.ok(all(stamped(line) for line in lines), "  every line stamped", lines)

        proc, lines = run_with_stderr_file([ASYNC_FCGI, "--mode", "nonsense"], clean_env(),
                                           path)
        tap.ok(proc.returncode == 2 and level_of(lines, "--mode nonsense: must be") == "err",
               "async_fcgi's bad option: level err", lines)

        # --- a file: a running async_fcgi's watchdog and connection lines ---------
        args = ["--mode", "block", "--sleep", "0.3", "--sleep-on", "all", "--stall-ms", "100"]
        with fc.Server(ASYNC_FCGI, args, env={"SYNCASYNC_QUERY_OVERRIDES": "0"}) as server:
            up = lambda: level_of(server.stderr_text().splitlines(),  # noqa: E731
                                  "listening on")
            wait_for(lambda: up() is not None, 10)
            start = server.stderr_text().splitlines()
            tap.ok(up() == "info",
                   "async_fcgi's start line in its log file: level info", start)
            reply = fc.simple_get(server.address, timeout=10)
            tap.ok(reply.status == 200, "a blocking request is served", reply)
            held = lambda: level_of(server.stderr_text().splitlines(), "held it")  # noqa: E731
            wait_for(lambda: held() is not None, 10)
            log = server.stderr_text().splitlines()
            tap.ok(held() == "warning", "  the watchdog's stall line: level warning", log)
            watchdog = [line for line in log if "watchdog:" in line]
            tap.ok(watchdog and all(level_of([line], "watchdog:") == "warning"
                                    for line in watchdog),
                   "  every watchdog line stamped warning", watchdog)

            conn = fc.Conn(server.address)
            conn.send(b"GET / HTTP/1.0\r\n\r\n")
            conn.wait_closed()
            conn.close()
            bad = lambda: level_of(server.stderr_text().splitlines(),  # noqa: E731
                                   "not a FastCGI 1 record")
            wait_for(lambda: bad() is not None, 10)
            log = server.stderr_text().splitlines()
            tap.ok(bad() == "notice" and any(
                       re.search(r" notice async_fcgi: connection \d+: not a FastCGI", line)
                       for line in log),
                   "  a connection's trouble: level notice", log)
            server.stop()
            log = server.stderr_text().splitlines()
            tap.ok(log and all(stamped(line) for line in log),
                   "  each of its lines stamped once, at its start, none split", log)

        # --- a pipe ------------------------------------------------------------------
        proc = subprocess.run([SYNC_CGI], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=clean_env(CGI_ENV), timeout=30)
        lines = proc.stderr.decode("utf-8", "replace").splitlines()
        tap.ok(lines and level_of(lines, "cannot open state directory") == "err",
               "stderr a pipe: stamped too", lines)

        # --- the journal: $JOURNAL_STREAM names descriptor 2 --------------------------
        with open(path, "wb"):
            pass
        st = os.stat(path)
        journal = "%d:%d" % (st.st_dev, st.st_ino)
        proc, lines = run_with_stderr_file([SYNC_CGI],
                                           clean_env(dict(CGI_ENV, JOURNAL_STREAM=journal)),
                                           path)
        tap.ok(len(lines) == 1 and
               lines[0].startswith("<3>sync_cgi: 500: cannot open state directory"),
               "JOURNAL_STREAM naming stderr: the line with its level as <3> (err), no time",
               lines)
        proc, lines = run_with_stderr_file([ASYNC_FCGI, "--mode", "nonsense"],
                                           clean_env({"JOURNAL_STREAM": journal}), path)
        tap.ok(proc.returncode == 2 and lines and
               lines[0].startswith("<3>async_fcgi: --mode nonsense: must be") and
               not any(line.startswith("<3><") for line in lines),
               "  async_fcgi's bad option: <3>, once", lines)
        strace = shutil.which("strace")
        if strace:
            trace = os.path.join(work, "strace.out")
            # LeakSanitizer does not run under ptrace (and says so on stderr).
            asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
            run_with_stderr_file([strace, "-qq", "-s", "4096", "-e", "trace=write",
                                  "-e", "signal=none", "-o", trace, SYNC_CGI],
                                 clean_env(dict(CGI_ENV, JOURNAL_STREAM=journal,
                                                ASAN_OPTIONS=asan)), path)
            with open(trace) as f:
                writes = [line for line in f if line.startswith("write(2, ")]
            tap.ok(len(writes) == 1 and writes[0].startswith('write(2, "<3>sync_cgi: 500: ')
                   and '\\n"' in writes[0],
                   "  the line, its prefix and its newline in one write(2)", writes)
        else:
            tap.ok(True, "  one write(2) # SKIP strace is not installed")
        other = "%d:%d" % (st.st_dev, st.st_ino + 1)
        proc, lines = run_with_stderr_file([SYNC_CGI],
                                           clean_env(dict(CGI_ENV, JOURNAL_STREAM=other)),
                                           path)
        tap.ok(lines and stamped(lines[0]),
               "  JOURNAL_STREAM naming another stream (stderr redirected): stamped", lines)
        proc, lines = run_with_stderr_file([SYNC_CGI],
                                           clean_env(dict(CGI_ENV, JOURNAL_STREAM="junk")),
                                           path)
        tap.ok(lines and stamped(lines[0]), "  JOURNAL_STREAM malformed: stamped", lines)

        # --- a terminal -----------------------------------------------------------
        lines = on_a_tty([SYNC_CGI], clean_env(CGI_ENV))
        tap.ok(lines and lines[0].startswith("sync_cgi: 500: cannot open state directory"),
               "stderr a terminal: the line left as written", lines)
        lines = on_a_tty([ASYNC_FCGI, "--mode", "nonsense"], clean_env())
        tap.ok(lines and lines[0].startswith("async_fcgi: --mode nonsense"),
               "  async_fcgi's too", lines)
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    tap.done()


if __name__ == "__main__":
    main()
