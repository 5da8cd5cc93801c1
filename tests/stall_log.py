# SPDX-License-Identifier: ISC
"""stall_log.py - reads async_fcgi's stall reports out of a log, for the
tests that check them (the format is async_fcgi(8)'s --stall-ms):

    async_fcgi: watchdog: the loop has been blocked for 100 ms by request #5
        (GET /async, mode block, work sleep)          (the live report)
    async_fcgi: watchdog:   #0 clock_nanosleep (libc.so.6)
    async_fcgi: watchdog: the loop was blocked 2001 ms by request #5; ...
    async_fcgi: watchdog: the event loop stalled 2001 ms: request 5 (mode
        block) held it for 2001 ms                    (the loop's own timer)

A loaded machine can hold any callback of the loop 100-200 ms (the process
is not scheduled), and both detectors rightly say so.  What a test of a mode
that does not block asserts is quiet(): no live report names a request (only
mode block names one: the application says so before it blocks) and no
stall lasted 1 s or more."""
import os
import re

import harness

PREFIX = "async_fcgi: watchdog: "
_LIVE = re.compile(r"the loop has been blocked for (\d+) ms (.*?)(; same stack)?$")
_NAMED = re.compile(r"by request #(\d+) \((\S+) (\S+), mode (\S+), work (\S+)\)$")
_END = re.compile(r"the loop was blocked (\d+) ms(?: by request #(\d+))?")
_TIMER = re.compile(r"the event loop stalled (\d+) ms(?:: request (\d+) \(mode (\S+)\))?")
_FRAME = re.compile(r"  #(\d+) (.*)$")
LONG_MS = 1000     # no mode but block holds the loop this long


class Report:
    """One live report: ms so far, the request (request_no None when it
    names none), and the frames printed under it."""

    def __init__(self, line, ms, who):
        self.line = line
        self.ms = ms
        named = _NAMED.match(who)
        self.request_no = int(named.group(1)) if named else None
        self.method, self.uri, self.mode, self.work = (
            named.groups()[1:] if named else (None, None, None, None))
        self.frames = []

    def __repr__(self):
        return "%s (frames %s)" % (self.line, self.frames[:8])


def _lines(text):
    for line in text.splitlines():
        at = line.find(PREFIX)
        if at >= 0:
            yield line, line[at + len(PREFIX):]


def reports(text):
    """The live reports in text, in order, each with its frames."""
    found = []
    last = None
    for line, rest in _lines(text):
        frame = _FRAME.match(rest)
        if frame and last is not None:
            last.frames.append(frame.group(2))
            continue
        last = None
        live = _LIVE.match(rest)
        if live:
            last = Report(line, int(live.group(1)), live.group(2))
            found.append(last)
    return found


def ends(text):
    """(ms, request_no or None) of every 'the loop was blocked' line."""
    out = []
    for _, rest in _lines(text):
        end = _END.match(rest)
        if end:
            out.append((int(end.group(1)), int(end.group(2)) if end.group(2) else None))
    return out


def durations(text):
    """(ms, line) of every stall either detector logged."""
    out = []
    for line, rest in _lines(text):
        match = _LIVE.match(rest) or _END.match(rest) or _TIMER.match(rest)
        if match:
            out.append((int(match.group(1)), line))
    return out


def quiet(text):
    """The lines that show a request blocking the loop: a live report that
    names a request, or any stall of LONG_MS or more.  [] when quiet."""
    bad = [r.line for r in reports(text) if r.request_no is not None]
    bad += [line for ms, line in durations(text) if ms >= LONG_MS and line not in bad]
    return bad


class Logs:
    """The text some log files gained since mark() (all of it before):
    the web server's error.log and backends.log, or async_fcgi's stderr."""

    def __init__(self, *paths):
        self.offsets = {path: 0 for path in paths}

    def read(self):
        text = ""
        for path, offset in self.offsets.items():
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text

    def mark(self):
        for path in self.offsets:
            try:
                self.offsets[path] = os.path.getsize(path)
            except OSError:
                pass


def served_logs(server):
    """Logs of a harness.Served web server and its backends."""
    return Logs(*(os.path.join(server.run_dir, name) for name in ("error.log", "backends.log")))


def wait_for(read, found, timeout):
    """Polls read() until found(its value) or timeout seconds pass
    (harness.wait_for); returns the last value read and whether it was
    found."""
    last = {}

    def probe():
        last["value"] = read()
        return found(last["value"])
    found_it = bool(harness.wait_for(probe, timeout))
    return last["value"], found_it


def wait_named(read, request_no, timeout):
    """Polls the log read() returns until a live report names request_no;
    returns (that report or None, the log)."""
    def named(text):
        return [r for r in reports(text) if r.request_no == request_no]
    text, ok = wait_for(read, named, timeout)
    return (named(text)[0] if ok else None), text


def wait_end(read, request_no, timeout):
    """Polls the log until the block of request_no is over (its 'the loop
    was blocked' line); returns the log and whether it came."""
    return wait_for(read, lambda text: any(no == request_no for _, no in ends(text)),
                    timeout)
