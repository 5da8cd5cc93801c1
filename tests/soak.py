#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""soak.py - a long run under load, checked for what must not drift.

Not part of `make check` (run it with `make soak`, or directly).  Starts a
private lighttpd (deploy/syncasync-serve, nobody sleeps), runs wrk
against /sync and then /async for --seconds each at --connections, and
checks:
  - zero socket errors and zero non-2xx answers;
  - nothing lost: for /async the responder answered every number it handed
    out (served == requests in /async/stats once idle), and wrk's count of
    answers is at most that and short of it by at most the connections in
    flight when wrk stopped; for /sync the same against the counter file;
  - async_fcgi's resident memory and open descriptors after the run are
    those before it (memory within 1 MiB: allocator caches settle).
Prints the figures; exits 1 if a check fails, 77 if wrk or lighttpd is absent.

    tests/soak.py [--seconds 60] [--connections 256] [--threads 2]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def proc_figures(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def wrk(url, seconds, connections, threads):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
                          "--latency", url], capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {"total": total, "socket_errors": socket_errors,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "rps": float(rps.group(1)) if rps else 0.0, "raw": out}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("soak: wrk not found (install the Debian package wrk)")
        return 77
    failures = []

    def check(cond, what):
        print("  %s %s" % ("ok  " if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    with harness.Lighttpd(sleep_on=0) as server:
        stats = lambda: harness.request(server.url + "/async/stats").json() or {}  # noqa: E731
        harness.concurrent(server.url + "/async", 50)     # warm up: pool threads, arenas
        pid = stats()["pid"]
        rss0, fds0 = proc_figures(pid)
        s0 = stats()
        print("soak: /async for %d s at %d connections (async_fcgi pid %d: %d KiB, %d fds)"
              % (args.seconds, args.connections, pid, rss0, fds0))
        w = wrk(server.url + "/async", args.seconds, args.connections, args.threads)
        deadline = time.time() + 10
        s1 = stats()
        while s1.get("in_flight", 1) and time.time() < deadline:
            time.sleep(0.1)
            s1 = stats()
        rss1, fds1 = proc_figures(pid)
        handed_out = s1["requests"] - s0["requests"]
        served = s1["served"] - s0["served"] - 1      # minus the stats request itself
        print("  wrk: %d answers, %.0f req/s, %d socket errors, %d non-2xx"
              % (w["total"], w["rps"], w["socket_errors"], w["non2xx"]))
        print("  responder: %d numbers handed out, %d answers; %d -> %d KiB, %d -> %d fds"
              % (handed_out, served, rss0, rss1, fds0, fds1))
        check(w["socket_errors"] == 0, "/async: zero socket errors")
        check(w["non2xx"] == 0, "/async: zero non-2xx answers")
        check(s1.get("in_flight") == 0, "/async: nothing left in flight")
        check(served == handed_out, "/async: every number handed out was answered")
        check(w["total"] <= handed_out <= w["total"] + args.connections,
              "/async: every answer wrk counted has its number, none lost beyond those "
              "in flight when wrk stopped")
        check(pid == stats()["pid"], "/async: the same responder process throughout")
        check(fds1 == fds0, "/async: open descriptors back to %d" % fds0)
        check(rss1 <= rss0 + 1024, "/async: resident memory within 1 MiB of before")

        counter_path = os.path.join(server.run_dir, "state", "counter")
        harness.request(server.url + "/sync")
        before = int(open(counter_path).read())
        pattern = os.path.join(harness.BUILDDIR, "sync_cgi")

        def cgi_pids():       # live sync_cgi processes, less the /pool workers
            out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
            live = set()
            for pid in set(out.stdout.split()) - workers:
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                            live.add(pid)
                except OSError:
                    pass        # gone meanwhile
            return live

        workers = set()
        workers = cgi_pids()
        print("soak: /sync for %d s at %d connections" % (args.seconds, args.connections))
        w = wrk(server.url + "/sync", args.seconds, args.connections, args.threads)
        deadline = time.time() + 20   # CGI processes running at the cutoff finish
        while time.time() < deadline and cgi_pids():
            time.sleep(0.1)
        after = int(open(counter_path).read())
        print("  wrk: %d answers, %.0f req/s, %d socket errors, %d non-2xx; counter %d -> %d"
              % (w["total"], w["rps"], w["socket_errors"], w["non2xx"], before, after))
        check(w["socket_errors"] == 0, "/sync: zero socket errors")
        check(w["non2xx"] == 0, "/sync: zero non-2xx answers")
        check(w["total"] <= after - before <= w["total"] + args.connections,
              "/sync: the counter counts every answer, none lost")
        left = cgi_pids()
        check(not left, "/sync: no CGI process left behind%s" % (
            "" if not left else ": " + subprocess.run(
                ["ps", "-o", "pid,ppid,stat,etime,args", "-p", ",".join(left)],
                capture_output=True, text=True).stdout))
    print("soak: %s" % ("passed" if not failures else "FAILED: " + "; ".join(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
