# SPDX-License-Identifier: ISC
"""stall_live.py - the live stall detector of a real async_fcgi (async_fcgi(8)
--stall-ms), straight over FastCGI and through lighttpd and Apache.

- mode block, with sleep, db (a private PostgreSQL) and http work (the slow
  upstream): while request 5 still blocks the loop, the log names it (number,
  method, URI, mode, work) within --stall-ms plus one interval, with the
  blocking function in the loop's stack (clock_sleep_us, a libpq function,
  curl_easy_perform); then /async/stats has the block in recent_blocks;
- modes timer and offload, the same requests: no report names a request and
  no stall lasts 1 s (a loaded machine may hold any callback 100-200 ms);
- a stripped copy of async_fcgi still names the request and says that
  symbols are missing."""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client  # noqa: E402
import harness  # noqa: E402
import stall_log  # noqa: E402

tap = harness.Tap()
SLEEP = 2.5                # request 5's work, seconds
STALL_MS = 300             # --stall-ms straight at async_fcgi
SLACK_MS = 700             # a loaded machine's late wake-ups, on top
BINARY = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
BLOCKING = {"sleep": r"^clock_sleep_us \(", "db": r"^(PQ|pq)\w+ \(",
            "http": r"^curl_easy_perform \("}


class Direct:
    """async_fcgi straight over FastCGI: get(), stats(), its log."""

    def __init__(self, mode, work="sleep", env=None, binary=BINARY):
        environ = {"SYNCASYNC_ASYNC_MODE": mode, "SYNCASYNC_WORK": work,
                   "SYNCASYNC_SLEEP_SECONDS": SLEEP, "SYNCASYNC_SLEEP_ON": 5}
        environ.update(env or {})
        self.server = fcgi_client.Server(binary, args=["--stall-ms", STALL_MS], env=environ)
        self.logs = stall_log.Logs(self.server.stderr_path)
        self.path = "/async"
        self.stall_ms = STALL_MS

    def get(self, timeout):
        reply = fcgi_client.simple_get(self.server.address, uri=self.path, timeout=timeout)
        return reply.status, reply.json() or {}

    def stats(self):
        return self.server.stats() or {}

    def close(self):
        self.server.stop()


class Front:
    """/modes/MODE/async behind a harness.Served web server (its default
    --stall-ms, 100 ms)."""

    def __init__(self, served, mode, logs):
        self.served = served
        self.logs = logs
        self.path = "/modes/%s/async" % mode
        self.stall_ms = 100

    def get(self, timeout):
        reply = harness.request(self.served.url + self.path, timeout=timeout)
        return reply.status, reply.json() or {}

    def stats(self):
        return harness.request(self.served.url + self.path + "/stats").json() or {}

    def close(self):
        pass


def send_sleeper(target):
    """Requests 1-4 answered at once, then request 5 on a thread: returns
    (when it was sent, a dict the thread fills with its answer)."""
    for _ in range(4):
        target.get(timeout=30)
    answer = {}

    def run():
        try:
            answer["status"], answer["body"] = target.get(timeout=SLEEP + 60)
        except Exception as e:      # noqa: BLE001 - reported by the checks below
            answer["error"] = repr(e)
        answer["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    sent = time.monotonic()
    thread.start()
    return sent, answer, thread


def check_block(target, label, work="sleep", stripped=False):
    sent_wall = time.time()
    sent, answer, thread = send_sleeper(target)
    report, text = stall_log.wait_named(target.logs.read, 5, SLEEP + 10)
    seen = time.monotonic()
    tap.ok(report is not None and "at" not in answer,
           "%s: the live report names request 5 while it still blocks" % label,
           "answered %s, log: %s" % ("at" in answer, text[-1500:]))
    if report is None:
        thread.join()
        return
    tap.ok(report.method == "GET" and report.uri.endswith(target.path) and
           report.mode == "block" and report.work == work,
           "  GET %s, mode block, work %s" % (target.path, work), report.line)
    tap.ok(target.stall_ms <= report.ms < 2 * target.stall_ms + SLACK_MS and
           seen - sent < (2 * target.stall_ms + SLACK_MS) / 1000 + 0.5,
           "  within --stall-ms plus one interval (%d ms; seen %.2f s after the request)"
           % (report.ms, seen - sent))
    # The frames follow their line, once named (libdw, on the watchdog thread).
    pattern = r"async_fcgi\+0x" if stripped else BLOCKING[work]
    text, found = stall_log.wait_for(
        target.logs.read, lambda t: any(re.search(pattern, f) for r in stall_log.reports(t)
                                        if r.request_no == 5 for f in r.frames), SLEEP + 10)
    frames = [f for r in stall_log.reports(text) if r.request_no == 5 for f in r.frames]
    tap.ok(found, "  the loop's stack has %s" % pattern, frames[:16])
    if stripped:
        tap.ok("symbols are missing for async_fcgi" in text,
               "  and says the symbols are missing", text[-1500:])
    thread.join()
    tap.ok(answer.get("status") == 200 and answer["at"] - sent >= SLEEP - 0.1,
           "  request 5 answered 200 after its %.1f s" % SLEEP, answer)
    text, ended = stall_log.wait_end(target.logs.read, 5, 10)
    tap.ok(ended and any(ms >= SLEEP * 1000 - 100 for ms, no in stall_log.ends(text) if no == 5),
           "  then the total is logged", stall_log.ends(text))
    stats = target.stats()
    # The newest block naming a request (a loaded machine may add a short
    # one naming none after it).
    named = [b for b in stats.get("recent_blocks") or [] if b.get("request_no") is not None]
    block = named[0] if named else {}
    tap.ok(stats.get("current_block") is None and block.get("request_no") == 5 and
           block.get("method") == "GET" and block.get("mode") == "block" and
           block.get("work") == work and block.get("active") is False and
           str(block.get("uri", "")).endswith(target.path) and
           block.get("duration_ms", 0) >= SLEEP * 1000 - 100 and
           abs(block.get("started_us", 0) / 1e6 - sent_wall) < 2 and
           block.get("frames") and all(isinstance(f, str) for f in block["frames"]),
           "  /async/stats: the newest block in recent_blocks is request 5's, "
           "current_block null",
           stats.get("recent_blocks"), )
    if work == "sleep" and not stripped:
        tap.ok(any(f.startswith("clock_sleep_us (") for f in block.get("frames", [])),
               "  its frames name clock_sleep_us", block.get("frames"))
    target.logs.mark()


def check_quiet(target, label):
    """The same requests in a mode that does not block."""
    sent, answer, thread = send_sleeper(target)
    thread.join()
    tap.ok(answer.get("status") == 200 and answer["at"] - sent >= SLEEP - 0.1,
           "%s: request 5 waited its %.1f s off the loop" % (label, SLEEP), answer)
    bad = stall_log.quiet(target.logs.read())
    tap.eq(bad, [], "  no report names a request, no stall of 1 s")
    recent = target.stats().get("recent_blocks")
    tap.ok(isinstance(recent, list) and
           all(b.get("request_no") is None and b.get("duration_ms", 0) < stall_log.LONG_MS
               for b in recent), "  nor in /async/stats", recent)


def direct(mode, label, work="sleep", env=None, binary=BINARY, stripped=False):
    target = Direct(mode, work, env, binary)
    try:
        if mode == "block":
            check_block(target, label, work, stripped)
        else:
            check_quiet(target, label)
    finally:
        target.close()


def check_direct():
    direct("block", "FastCGI, sleep")
    direct("timer", "FastCGI, timer")
    direct("offload", "FastCGI, offload")
    stripped = os.path.join(harness.temp_dir("syncasync-stall-"), "async_fcgi")
    shutil.copy(BINARY, stripped)
    result = subprocess.run(["strip", stripped], capture_output=True, text=True)
    if tap.ok(result.returncode == 0, "strip a copy of async_fcgi", result.stderr):
        direct("block", "FastCGI, stripped", binary=stripped, stripped=True)
    if harness.postgres_bindir() is None:
        tap.ok(True, "FastCGI, db # SKIP PostgreSQL not found")
    else:
        with harness.Postgres() as pg:
            direct("block", "FastCGI, db", "db", {"SYNCASYNC_DB": pg.conninfo})
    with harness.SlowUpstream() as up:
        direct("block", "FastCGI, http", "http", {"SYNCASYNC_UPSTREAM": up.url + "/slow"})


def check_front(server, name, env_name, tool, package):
    if not (os.environ.get(env_name) or shutil.which(tool) or
            os.path.exists("/usr/sbin/" + tool)):
        tap.ok(True, "%s # SKIP %s not found (Debian package %s)" % (name, tool, package))
        return
    with harness.Served(server, paths="modes", sleep=SLEEP, sleep_on=5) as served:
        logs = stall_log.served_logs(served)   # marked after each block
        check_block(Front(served, "block", logs), "%s, sleep" % name)
        check_quiet(Front(served, "timer", logs), "%s, timer" % name)
        check_quiet(Front(served, "offload", logs), "%s, offload" % name)


check_direct()
check_front("lighttpd", "lighttpd", "LIGHTTPD", "lighttpd", "lighttpd")
check_front("apache", "Apache", "APACHE2", "apache2", "apache2")
tap.done()
