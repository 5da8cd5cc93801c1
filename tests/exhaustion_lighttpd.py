#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""exhaustion_lighttpd.py - where the fixes end, through a real lighttpd.

  - offload past its pool: SYNCASYNC_POOL_THREADS=2, requests 1-4 sleep
    2 s: the probe's verdict is "queued" (the server says two waited), not
    "blocked": quick requests flew;
  - /pool past its workers: 2 workers, requests 1-3 sleep 2 s: quick
    requests queue behind the sleepers once both workers are held, and the
    probe says "queued", inferred from the pids (no worker can see the
    listen backlog);
  - a blocked loop stays "blocked";
  - async_fcgi --workers 2 as lighttpd's one bin-path process (max-procs
    1): the supervisor starts two workers, numbers stay exact across them
    under 20 concurrent requests, and stopping lighttpd stops all three;
    the same under Apache (syncasync-serve starts the one process on a
    socket, as systemd would)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
PROBE = os.path.join(harness.BUILDDIR, "probe", "syncasync-probe")
SLEEP = 2


def probe_group(url):
    """The probe's JSON group for url (10 concurrent GETs), or {}."""
    out = tempfile.mktemp(prefix="syncasync-probe-", suffix=".json")
    result = subprocess.run([PROBE, "-q", "--json", out, url], capture_output=True,
                            text=True, timeout=120)
    try:
        with open(out) as f:
            return json.load(f)["groups"][0], result
    except (OSError, ValueError, KeyError, IndexError):
        return {}, result
    finally:
        if os.path.exists(out):
            os.unlink(out)


def latencies(group, sleeper):
    return sorted(r.get("latency_ms", 0) / 1000.0 for r in group.get("results", [])
                  if r.get("message", "").endswith("(sleep)") == sleeper)


def check_offload():
    with harness.Lighttpd(mode="offload", pool_threads=2, sleep=SLEEP, sleep_on="1-4") as server:
        group, result = probe_group(server.url + "/async")
    summary = group.get("summary", {})
    tap.eq(summary.get("verdict"), "queued",
           "offload, pool of 2, 4 sleepers: verdict queued (a full pool, not the loop)")
    tap.diag(result.stdout[-600:])
    tap.eq((summary.get("held_up"), summary.get("queued")), (0, 2),
           "  no quick request held up; 2 sleepers queued")
    sleepers, quick = latencies(group, True), latencies(group, False)
    tap.ok(len(sleepers) == 4 and all(SLEEP - 0.3 < t < SLEEP + 1 for t in sleepers[:2])
           and all(2 * SLEEP - 0.3 < t < 2 * SLEEP + 1.5 for t in sleepers[2:]),
           "  two sleepers answered after one sleep, two after two", sleepers)
    tap.ok(len(quick) == 6 and max(quick) < 1.0, "  the quick ones flew", quick)
    waited = sorted(r.get("waited_us", -1) / 1e6 for r in group.get("results", [])
                    if r.get("message", "").endswith("(sleep)"))
    tap.ok(len(waited) == 4 and waited[1] < 0.5 and waited[2] > SLEEP - 0.5,
           "  the JSON rows carry the server's waited_us", waited)
    lanes = [line for line in result.stdout.splitlines() if "(sleep)" in line and "|" in line]
    def waiting_first(line):
        bar = line.split("|")[1]
        return len(bar) - len(bar.lstrip(".")) > len(bar) // 4
    tap.ok(sum(1 for line in lanes if waiting_first(line)) == 2,
           "  the timeline draws the two that waited as waiting first (a second wave)",
           "\n".join(lanes))


def check_pool():
    with harness.Lighttpd(pool_workers=2, sleep=SLEEP, sleep_on="1-3") as server:
        group, result = probe_group(server.url + "/pool")
    summary = group.get("summary", {})
    tap.eq(summary.get("verdict"), "queued",
           "/pool, 2 workers, 3 sleepers: verdict queued (every worker held)")
    tap.diag(result.stdout[-600:])
    tap.eq((summary.get("held_up"), summary.get("queued")), (7, 8),
           "  the 7 quick requests and the third sleeper queued")
    sleepers, quick = latencies(group, True), latencies(group, False)
    tap.ok(len(quick) == 7 and all(SLEEP - 0.3 < t < SLEEP + 1.5 for t in quick),
           "  quick requests waited one sleep, for a worker", quick)
    tap.ok(len(sleepers) == 3 and 2 * SLEEP - 0.3 < sleepers[-1] < 2 * SLEEP + 1.5,
           "  the third sleeper two", sleepers)


def check_block():
    with harness.Lighttpd(mode="block", sleep=SLEEP, sleep_on=5) as server:
        group, _ = probe_group(server.url + "/async")
    tap.eq(group.get("summary", {}).get("verdict"), "blocked",
           "block: still blocked (by the loop), not queued")


def pids_alive(pids):
    return [p for p in pids if os.path.exists("/proc/%d" % p)]


def both_workers(server):
    """/async/stats once both workers serve (or after 10 s)."""
    deadline = time.monotonic() + 10
    st = {}
    while time.monotonic() < deadline:
        st = harness.request(server.url + "/async/stats").json() or {}
        if all(w.get("pid") for w in st.get("per_worker", [{}])):
            break
        time.sleep(0.05)
    return st


def check_numbers(server):
    replies = harness.concurrent(server.url + "/async", 20)
    numbers = sorted((r.json() or {}).get("request_no") or 0 for r in replies)
    tap.eq(numbers, list(range(1, 21)), "  20 concurrent requests: numbers 1..20 exact")


def check_workers_under_lighttpd():
    with harness.Lighttpd(mode="timer", sleep_on=0, async_args="--workers 2") as server:
        st = both_workers(server)
        pids = [w.get("pid") for w in st.get("per_worker", [])]
        tap.ok(st.get("workers") == 2 and len(set(pids)) == 2 and None not in pids,
               "lighttpd bin-path 'async_fcgi --workers 2': two workers", st)
        log = server.error_log()
        sup = re.findall(r"async_fcgi: supervisor pid (\d+): 2 workers", log)
        tap.ok(len(sup) >= 1, "  started as one process, the supervisor", log[-800:])
        check_numbers(server)
        everyone = set(pids) | {int(p) for p in sup}
    deadline = time.monotonic() + 15
    while pids_alive(everyone) and time.monotonic() < deadline:
        time.sleep(0.05)
    tap.eq(pids_alive(everyone), [], "  stopping lighttpd stops the supervisor and its workers")


def check_workers_under_apache():
    import shutil
    if not (os.environ.get("APACHE2") or shutil.which("apache2")
            or os.path.exists("/usr/sbin/apache2")):
        tap.ok(True, "Apache: async_fcgi --workers 2 # SKIP apache2 not installed")
        return
    with harness.Served("apache", mode="timer", sleep_on=0, paths="async",
                        async_args="--workers 2") as server:
        st = both_workers(server)
        pids = [w.get("pid") for w in st.get("per_worker", [])]
        tap.ok(st.get("workers") == 2 and len(set(pids)) == 2 and None not in pids,
               "Apache (mod_proxy_fcgi to one socket): async_fcgi --workers 2 serves "
               "with two workers", st)
        check_numbers(server)


check_offload()
check_pool()
check_block()
check_workers_under_lighttpd()
check_workers_under_apache()
tap.done()
