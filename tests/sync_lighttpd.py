# SPDX-License-Identifier: ISC
"""sync_lighttpd.py - /sync through a real lighttpd: the contract, the
experiment (10 concurrent requests, request 5 sleeps 2 s), an exact counter
under 500 concurrent requests, and every bad-input case's status and JSON."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
CONTRACT = {"message", "thread_id", "pid", "request_time", "request_no",
            "started_us", "finished_us"}


def check_contract():
    with harness.Lighttpd(sleep_on=0) as server:
        r = harness.request(server.url + "/sync")
        tap.eq(r.status, 200, "GET /sync answers 200")
        tap.eq(r.headers.get("content-type"), "application/json", "  as application/json")
        body = r.json() or {}
        tap.ok(CONTRACT <= set(body), "  with every contract field", body)
        tap.eq(body.get("message"), "sync example", "  message")
        tap.eq(body.get("request_no"), 1, "  the first request is number 1")
        tap.ok(body.get("thread_id") == body.get("pid"),
               "  a single-threaded process: thread id is the pid")
        tap.ok(body.get("started_us", 0) <= body.get("finished_us", -1), "  started <= finished")
        tap.ok(len(body.get("request_time", "")) == 19, "  request_time %Y-%m-%d %H:%M:%S")
        r = harness.request(server.url + "/sync", method="HEAD")
        tap.ok(r.status == 200 and r.body == b"", "HEAD /sync: 200, no body")
        r = harness.request(server.url + "/sync")
        tap.eq((r.json() or {}).get("request_no"), 3, "HEAD took a number too: next is 3")


def check_experiment():
    with harness.Lighttpd(sleep=2, sleep_on=5) as server:
        replies = harness.concurrent(server.url + "/sync", 10, stagger=0.02)
        bodies = [r.json() or {} for r in replies]
        tap.ok(all(r.status == 200 for r in replies), "experiment: 10 answers, all 200",
               [(r.status, r.error) for r in replies])
        tap.eq(sorted(b.get("request_no") for b in bodies), list(range(1, 11)),
               "  numbered 1..10")
        tap.eq(len({b.get("pid") for b in bodies}), 10, "  10 different processes")
        sleeper = [r for r, b in zip(replies, bodies) if b.get("request_no") == 5]
        others = [r for r, b in zip(replies, bodies) if b.get("request_no") != 5]
        tap.ok(sleeper and sleeper[0].latency >= 1.9, "  request 5 slept 2 s",
               sleeper and sleeper[0].latency)
        tap.ok(sleeper and "(sleep)" in sleeper[0].json()["message"], "  and says so")
        slowest = max(r.latency for r in others)
        tap.ok(slowest < 1.0, "  the 9 others answered in under 1 s (not blocked)",
               "slowest other: %.3f s" % slowest)


def check_counter():
    with harness.Lighttpd(sleep_on=0) as server:
        replies = harness.concurrent(server.url + "/sync", 500, timeout=120)
        numbers = sorted((r.json() or {}).get("request_no", -1) for r in replies)
        failed = [(r.status, r.error) for r in replies if r.status != 200]
        tap.ok(not failed, "500 concurrent requests all answered 200", failed[:5])
        tap.eq(numbers, list(range(1, 501)), "  numbered 1..500, each exactly once")


BAD = [
    # (what, method, path, body, env options, status, error text)
    ("POST", "POST", "/sync", "x", {}, 405, "method"),
    ("PUT", "PUT", "/sync", "x", {}, 405, "method"),
    ("DELETE", "DELETE", "/sync", None, {}, 405, "method"),
    ("malformed sleep", "GET", "/sync?sleep=abc", None, {"query_overrides": True}, 400, "sleep"),
    ("negative sleep", "GET", "/sync?sleep=-1", None, {"query_overrides": True}, 400, "sleep"),
    ("sleep out of range", "GET", "/sync?sleep=99999", None, {"query_overrides": True}, 400,
     "sleep"),
    # lighttpd re-encodes a stray '%' as %25, so the value arrives as "%zz"
    # (the percent-decoding error itself is covered by unit_common).
    ("bad percent-encoding", "GET", "/sync?sleep=%zz", None, {"query_overrides": True}, 400,
     "sleep"),
    # /sync alone: async_fcgi would refuse to start on these.
    ("bad SLEEP_ON", "GET", "/sync", None, {"sleep_on": "five", "paths": "none"}, 500,
     "SYNCASYNC_SLEEP_ON"),
    ("bad SLEEP_SECONDS", "GET", "/sync", None, {"sleep": "2s", "paths": "none"}, 500,
     "SYNCASYNC_SLEEP_SECONDS"),
]


def check_bad_input():
    for what, method, path, body, options, status, text in BAD:
        with harness.Lighttpd(**options) as server:
            r = harness.request(server.url + path, method=method, body=body)
            tap.eq(r.status, status, "%s -> %d" % (what, status))
            error = (r.json() or {}).get("error", "")
            tap.ok(text in error, "  JSON error mentions %r" % text, r.body)
            if status == 405:
                tap.eq(r.headers.get("allow"), "GET, HEAD", "  with Allow: GET, HEAD")
    with harness.Lighttpd() as server:
        r = harness.request(server.url + "/sync?sleep=abc")
        tap.eq(r.status, 200, "without overrides ?sleep= is ignored")
        state = os.path.join(server.run_dir, "state")
        os.chmod(state, 0o777)
        r = harness.request(server.url + "/sync")
        tap.eq(r.status, 500, "a world-writable state directory -> 500")
        tap.ok("counter" in (r.json() or {}).get("error", ""), "  JSON error about the counter")
        tap.ok("state directory" in server.error_log(), "  details in the error log")
        os.chmod(state, 0o700)
        os.rename(state, state + ".gone")
        r = harness.request(server.url + "/sync")
        tap.eq(r.status, 500, "a missing state directory -> 500")


def check_shell_usage():
    binary = os.path.join(harness.BUILDDIR, "sync_cgi", "sync_cgi")
    env = {k: v for k, v in os.environ.items()
           if k not in ("GATEWAY_INTERFACE", "REQUEST_METHOD")}
    result = subprocess.run([binary], env=env, capture_output=True, text=True)
    tap.eq(result.returncode, 2, "run from a shell: exit 2")
    tap.ok("CGI" in result.stderr, "  saying how it is meant to be used")


check_contract()
check_experiment()
check_counter()
check_bad_input()
check_shell_usage()
tap.done()
