# SPDX-License-Identifier: ISC
"""async_lighttpd.py - /async through a real lighttpd (mod_fastcgi spawning
async_fcgi with bin-path): the contract, the experiment in each mode with a
2 s sleeper, the loop watchdog, clients that hang up mid-sleep, and a
request past --max-requests (a 503, not lighttpd's 500)."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import stall_log  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
# .ci/run gives a longer sleep when async_fcgi runs under valgrind, where
# every request is slower.
SLEEP = float(os.environ.get("SYNCASYNC_TEST_SLEEP", "2"))


def stats(server):
    return harness.request(server.url + "/async/stats").json() or {}


def experiment(mode):
    """Runs the experiment against /async in mode; returns (replies, bodies, log)."""
    with harness.Lighttpd(sleep=SLEEP, sleep_on=5, mode=mode) as server:
        replies = harness.concurrent(server.url + "/async", 10, stagger=0.02)
        bodies = [r.json() or {} for r in replies]
        logs = stall_log.served_logs(server)
        if mode == "block":     # the live report, then its total
            stall_log.wait_named(logs.read, 5, 10)
            stall_log.wait_end(logs.read, 5, 10)
        after = stats(server)
        return replies, bodies, logs.read(), after


def check_contract():
    with harness.Lighttpd(sleep_on=0) as server:
        r = harness.request(server.url + "/async")
        body = r.json() or {}
        tap.eq(r.status, 200, "GET /async answers 200")
        tap.eq(r.headers.get("content-type"), "application/json", "  as application/json")
        tap.ok({"message", "thread_id", "pid", "request_time", "request_no", "started_us",
                "finished_us", "mode"} <= set(body), "  with every contract field", body)
        tap.eq(body.get("message"), "async example", "  message")
        tap.eq(body.get("mode"), "block", "  mode block by default")
        r = harness.request(server.url + "/async/stats")
        s = r.json() or {}
        tap.ok(r.status == 200 and s.get("served", 0) >= 1 and "in_flight" in s
               and "pool_busy" in s and "longest_stall_ms" in s, "/async/stats answers", s)
        r = harness.request(server.url + "/async/other")
        tap.eq(r.status, 404, "an unknown path gets 404")
        tap.ok("error" in (r.json() or {}), "  with a JSON error")
        r = harness.request(server.url + "/async", method="POST", body="x")
        tap.eq(r.status, 405, "POST gets 405")


def check_modes():
    for mode in ("block", "timer", "offload"):
        replies, bodies, log, after = experiment(mode)
        tap.ok(all(r.status == 200 for r in replies), "%s: 10 answers, all 200" % mode,
               [(r.status, r.error) for r in replies])
        tap.eq(sorted(b.get("request_no") for b in bodies), list(range(1, 11)),
               "  numbered 1..10")
        tap.ok(all(b.get("mode") == mode for b in bodies), "  each says mode %s" % mode)
        tap.eq(len({b.get("pid") for b in bodies}), 1, "  one process")
        by_no = {b.get("request_no"): r for r, b in zip(replies, bodies)}
        sleeper = by_no.get(5)
        tap.ok(sleeper is not None and sleeper.latency >= SLEEP - 0.1,
               "  request 5 slept %.0f s" % SLEEP)
        loop_threads = {b.get("thread_id") for b in bodies if b.get("request_no") != 5}
        if mode == "block":
            tap.eq(len({b.get("thread_id") for b in bodies}), 1, "  one thread id for all")
            late = [n for n in range(6, 11) if by_no[n].latency < SLEEP * 0.75]
            tap.ok(not late, "  every request numbered after the sleeper waited for it",
                   "answered early: %s" % late)
            named = [r for r in stall_log.reports(log) if r.request_no == 5]
            tap.ok(named and named[0].mode == "block" and "request 5 (mode block)" in log,
                   "  the watchdog names request 5 as holding the loop", log[-2000:])
            recent = after.get("recent_blocks") or []
            tap.ok(after.get("stalls", 0) >= 1 and after.get("longest_stall_ms", 0) >= 1500
                   and any(b.get("request_no") == 5 and b.get("duration_ms", 0) >= 1500
                           for b in recent),
                   "  /async/stats records the stall", after)
        else:
            slowest = max(by_no[n].latency for n in range(1, 11) if n != 5)
            tap.ok(slowest < SLEEP / 2, "  every other request answered in under %.0f s" % (SLEEP / 2),
                   "slowest: %.3f s" % slowest)
            tap.eq(len(loop_threads), 1, "  the others ran on the loop thread")
            if mode == "offload":
                tap.ok(bodies and by_no[5].json()["thread_id"] not in loop_threads,
                       "  the sleeper ran on a pool thread")
            # A loaded machine may hold any callback 100-200 ms: quiet
            # means no request named, no stall of 1 s.
            tap.eq(stall_log.quiet(log), [],
                   "  the watchdog blames no stall on a request, sees none of 1 s")


def hang_up(server, path):
    """Sends a request on a raw socket and closes it before the answer."""
    host, port = server.url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return sock


def wait_for(server, predicate, deadline):
    s = stats(server)
    while not predicate(s) and time.time() < deadline:
        time.sleep(0.05)
        s = stats(server)
    return s


def check_hang_up():
    with harness.Lighttpd(sleep_on=0, query_overrides=True) as server:
        served_before = stats(server).get("requests", 0)
        for mode in ("block", "timer", "offload"):
            sock = hang_up(server, "/async?sleep=1&mode=%s" % mode)
            # Poll until the sleeping request is in flight, then hang up.
            wait_for(server, lambda s: s.get("in_flight", 0) >= 1, time.time() + 3)
            sock.close()
            s = wait_for(server, lambda s: s.get("in_flight", 1) == 0 and
                         s.get("pool_busy", 1) == 0, time.time() + 5)
            tap.eq(s.get("in_flight"), 0, "%s: a client hanging up mid-sleep leaks no request"
                   % mode)
            r = harness.request(server.url + "/async")
            tap.eq(r.status, 200, "  and the next request succeeds")
        body = harness.request(server.url + "/async").json() or {}
        tap.eq(body.get("request_no"), served_before + 7,
               "the counter went on without gaps (3 abandoned + 4 answered)")


def check_max_requests():
    """--max-requests 1 with a request sleeping: the next one is refused
    FCGI_OVERLOADED, and lighttpd passes on the 503 async_fcgi wrote."""
    with harness.Lighttpd(sleep_on=0, query_overrides=True,
                          async_args="--max-requests 1") as server:
        first = []
        t = threading.Thread(target=lambda: first.append(
            harness.request(server.url + "/async?sleep=3&mode=timer")))
        t.start()
        # Poll (no sleep) until a request is refused: the sleeper is in
        # flight.  Before that, the probes are served 200.
        deadline = time.time() + 5
        r = harness.request(server.url + "/async/stats")
        while r.status == 200 and time.time() < deadline and t.is_alive():
            r = harness.request(server.url + "/async/stats")
        t.join()
        tap.ok(r.status == 503 and
               (r.json() or {}).get("error", "").startswith("overloaded: "),
               "--max-requests 1 through lighttpd: a request past the cap gets 503 "
               "with the JSON error", "%r %r" % (r.status, r.body[:200]))
        tap.ok(first and first[0].status == 200, "  while the one in flight completes with 200",
               first and "%r %r" % (first[0].status, first[0].body[:200]))
        tap.eq(harness.request(server.url + "/async").status, 200,
               "  and afterwards there is room again")
        tap.ok("--max-requests cap" in server.error_log(), "  and async_fcgi logged the refusal",
               server.error_log()[-2000:])


check_contract()
check_modes()
check_hang_up()
check_max_requests()
tap.done()
