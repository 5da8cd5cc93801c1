# SPDX-License-Identifier: ISC
"""work_http.py - SYNCASYNC_WORK=http against a real slow upstream started
here (deploy/slow_upstream.py, a separate process): the sleeper's work is a
GET that takes 2 s.

- the experiment in each form: block (curl_easy_perform on the loop: the
  requests after it wait), async (libcurl's multi interface on the loop)
  and offload (the blocking call on the pool): every other request answered
  in under 1 s; /sync (a process per request) likewise;
- an upstream that never answers: 504 after SYNCASYNC_UPSTREAM_TIMEOUT
  (1 s here), the others unaffected, the watchdog quiet;
- an upstream that fails (500, or nothing listening): 502 JSON errors;
- a client that hangs up mid-transfer: the transfer is removed at once."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client  # noqa: E402
import harness  # noqa: E402
import stall_log  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
SLEEP = 2.0


def stats(server):
    return harness.request(server.url + "/async/stats").json() or {}


def run(server, path):
    replies = harness.concurrent(server.url + path, 10, stagger=0.02)
    bodies = [r.json() or {} for r in replies]
    return replies, bodies, {b.get("request_no"): r for r, b in zip(replies, bodies)}


def check_experiment(server, path, label, mode, blocked):
    """10 concurrent requests at path; request 5 does the 2 s work."""
    harness.check_experiment(tap, server.url + path, label, mode, blocked, SLEEP,
                             "waited %.0f s for the upstream" % SLEEP)


def check_forms(up):
    with harness.Lighttpd(work="http", upstream=up.url + "/slow", sleep=SLEEP,
                          sleep_on=5) as server:
        check_experiment(server, "/modes/block/async",
                         "http block (curl_easy_perform on the loop)", "block", True)
        logs = stall_log.served_logs(server)
        report, log = stall_log.wait_named(logs.read, 5, 10)
        tap.ok(report is not None and report.mode == "block" and report.work == "http"
               and "request 5 (mode block)" in log,
               "  the watchdog names request 5 as holding the loop", log[-1500:])
        stall_log.wait_end(logs.read, 5, 10)
        logs.mark()             # what follows is the other modes'
        check_experiment(server, "/modes/timer/async",
                         "http async (libcurl's multi interface)", "async", False)
        check_experiment(server, "/modes/offload/async",
                         "http offload (curl_easy_perform on the pool)", "offload", False)
        # A loaded machine may hold any callback 100-200 ms: quiet means
        # no request named, no stall of 1 s.
        tap.eq(stall_log.quiet(logs.read()), [],
               "  the watchdog stays quiet for async and offload")
        check_experiment(server, "/sync", "http /sync (a process per request)", None, False)


def check_hang(up):
    with harness.Lighttpd(work="http", upstream=up.url + "/hang", sleep=SLEEP, sleep_on=5,
                          upstream_timeout=1, mode="async") as server:
        for path, mode in (("/async", "async"), ("/modes/offload/async", "offload")):
            replies, bodies, by_no = run(server, path)
            sleeper = by_no.get(None)   # the 504 carries no request_no
            tap.eq(sorted(n for n in by_no if n is not None), [1, 2, 3, 4, 6, 7, 8, 9, 10],
                   "hanging upstream, %s: the 9 others answered 200" % mode)
            tap.ok(sleeper is not None and sleeper.status == 504,
                   "  request 5 got 504", sleeper and (sleeper.status, sleeper.body[:200]))
            error = (sleeper.json() or {}).get("error", "") if sleeper else ""
            tap.ok("timed out" in error and "SYNCASYNC_UPSTREAM_TIMEOUT" in error,
                   "  a JSON error naming the timeout", error)
            tap.ok(sleeper is not None and 0.9 <= sleeper.latency < 5,
                   "  after the 1 s timeout (%.2f s)" % (sleeper.latency if sleeper else -1))
            others = [r.latency for n, r in by_no.items() if n is not None]
            tap.ok(others and max(others) < 1.0, "  the others in under 1 s")
        s = stats(server)
        recent = s.get("recent_blocks")
        tap.ok(s.get("longest_stall_ms", 1e9) < stall_log.LONG_MS and isinstance(recent, list)
               and all(b.get("request_no") is None for b in recent)
               and not stall_log.quiet(server.error_log()),
               "  the loop never stalled: the watchdog named no request, no stall of 1 s",
               (s, stall_log.quiet(server.error_log())))


def check_failures(up):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()                   # nothing listens there now
    for upstream, what, expect in ((up.url + "/fail", "an upstream answering 500",
                                    "upstream answered HTTP status 500"),
                                   ("http://127.0.0.1:%d/slow" % dead_port,
                                    "an upstream not listening", "upstream request failed")):
        with harness.Lighttpd(work="http", upstream=upstream, sleep_on=0,
                              query_overrides=True, mode="async") as server:
            for mode in ("async", "offload", "block"):
                r = harness.request(server.url + "/async?sleep=0.1&mode=" + mode)
                tap.eq(r.status, 502, "%s, %s: 502" % (what, mode))
                tap.ok(expect in (r.json() or {}).get("error", ""),
                       "  a JSON error: %s" % expect, r.body[:300])
            if upstream.endswith("/fail"):
                continue
            r = harness.request(server.url + "/async?sleep=0")
            tap.eq(r.status, 200, "  requests without work still answered")


def check_hangup(up):
    """Straight at async_fcgi (lighttpd notices a client's hang-up only when
    it next writes to it): the FastCGI connection closes mid-transfer."""
    env = {"SYNCASYNC_WORK": "http", "SYNCASYNC_UPSTREAM": up.url + "/slow",
           "SYNCASYNC_SLEEP_ON": "0", "SYNCASYNC_QUERY_OVERRIDES": "1",
           "SYNCASYNC_ASYNC_MODE": "async"}
    binary = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
    with fcgi_client.Server(binary, env=env) as server:
        conn = fcgi_client.Conn(server.address)
        conn.send_request(params=fcgi_client.default_params(query="sleep=3"))
        deadline = time.time() + 3
        while time.time() < deadline and (server.stats() or {}).get("upstream_transfers") != 1:
            time.sleep(0.05)
        tap.eq((server.stats() or {}).get("upstream_transfers"), 1, "a transfer in flight")
        conn.close()
        deadline = time.time() + 1.5
        while time.time() < deadline and (server.stats() or {}).get("upstream_transfers") != 0:
            time.sleep(0.05)
        s = server.stats() or {}
        tap.ok(s.get("upstream_transfers") == 0 and s.get("in_flight") == 0,
               "  the client hung up: the transfer is removed at once", s)
        r = fcgi_client.simple_get(server.address, query="sleep=0.2")
        tap.eq(r.status, 200, "  and the next request is served")
        tap.ok(server.alive(), "  by the same process")


with harness.SlowUpstream() as upstream:
    check_forms(upstream)
    check_hang(upstream)
    check_failures(upstream)
    check_hangup(upstream)
tap.done()
