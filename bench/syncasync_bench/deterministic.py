# SPDX-License-Identifier: ISC
"""deterministic.py - figures a loaded machine does not blur: user-space
instructions per request (valgrind --tool=callgrind) and syscalls per request
(strace -f), for async_fcgi's plain /async, the constant-answer libevent
responder (bench/const_fcgi.c, the floor, and its build with async_fcgi's
I/O) and the libfcgi reference.  The system calls counted are the serving
thread's, less its epoll_wait timeouts, and so are the instructions: async_fcgi's other threads (the
stall detector, the idle pool) and its loop's watchdog tick wake on a clock,
so their calls follow how long a run took, not how many requests it served.

Each backend runs alone, driven straight over FastCGI on loopback with a new
connection per request and no KEEP_CONN (as lighttpd's mod_fastcgi sends
them), one request at a time; each tool runs it twice, for WARM + N and
WARM + 2N requests, and the difference divided by N is what one request
costs in steady state (start-up, warm-up and exit cancel out).  Rows whose
tool is missing are skipped with the reason.
"""
import os
import re
import shutil
import signal
import subprocess

from . import procs, servers
from .procs import BenchError, log

WARM = 50


def one_request(port):
    """A plain GET /async on a new connection; True if it got STDOUT."""
    return bool(servers.fcgi_get(port, "/async", timeout=60))


def backends(bench):
    """name -> argv builder (port -> argv)."""
    return {
        "async_fcgi": lambda port: [bench.binaries["async_fcgi"], "--listen",
                                    "127.0.0.1:%d" % port, "--mode", "timer",
                                    "--stall-ms", "100000"],
        "const_fcgi": lambda port: [bench.binaries["const_fcgi"], str(port)],
        "const_fcgi_lean": lambda port: [bench.binaries["const_fcgi_lean"], str(port)],
        "ref_fcgi": lambda port: [bench.binaries["ref_fcgi"], "127.0.0.1:%d" % port],
    }


def run_under(bench, wrapper, argv_of, count, out):
    port = procs.free_port()
    env = dict(os.environ, SYNCASYNC_SLEEP_ON="0", SYNCASYNC_ASYNC_MODE="timer")
    proc = bench.procs.start(wrapper(out) + argv_of(port), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        procs.wait_tcp(port, proc, timeout=120)
        ok = sum(one_request(port) for _ in range(WARM + count))
        # strace left alone on SIGTERM would detach and leave the server
        # running: the server itself is told to stop, strace follows.
        for pid in children(proc.pid):
            os.kill(pid, signal.SIGTERM)
    finally:
        bench.procs.stop(proc, timeout=120)
    if ok != WARM + count:
        raise BenchError("%d of %d requests answered" % (ok, WARM + count))


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals): (\d+)", line)
            if m:
                return int(m.group(1))
    raise BenchError("no total in %s" % path)


def strace_total(path):
    """The calls column of strace -c's total line (% time, seconds,
    usecs/call, calls, [errors], total)."""
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields and fields[-1] == "total" and len(fields) >= 5:
                return int(fields[3])
    raise BenchError("no total in %s" % path)


def strace_serving_calls(path):
    """System calls of the first process in an `strace -f -o` log (the
    serving thread), not counting epoll_wait calls that timed out; a call
    split into "<unfinished ...>" and "<... resumed>" counts once."""
    calls, main = 0, None
    with open(path) as f:
        for line in f:
            pid, _, rest = line.strip().partition(" ")
            main = main or pid
            rest = rest.lstrip()
            if pid != main or rest.startswith(("+++", "---")):
                continue
            timeout = rest.startswith(("epoll_wait(", "<... epoll_wait resumed>")) and \
                rest.endswith("= 0")
            if rest.startswith("<..."):
                calls -= 1 if timeout else 0
            elif not timeout:
                calls += 1
    if main is None:
        raise BenchError("no system calls in %s" % path)
    return calls


def per_request(bench, name, tool, argv_of, n):
    """(total(2N) - total(N)) / N under tool."""
    totals = []
    for count in (n, 2 * n):
        out = os.path.join(bench.run_dir, "%s-%s-%d.out" % (name, tool, count))
        if tool == "callgrind":
            # One file per thread (OUT-01 is the serving one), for the
            # same reason as strace_serving_calls.
            def wrapper(o):
                return ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                        "--callgrind-out-file=" + o, "--log-file=" + o + ".log"]
            run_under(bench, wrapper, argv_of, count, out)
            totals.append(callgrind_total(out + "-01"))
        else:
            def wrapper(o):
                return ["strace", "-f", "-o", o]
            run_under(bench, wrapper, argv_of, count, out)
            totals.append(strace_serving_calls(out))
    return (totals[1] - totals[0]) / n


def sanitized(path):
    """True for a binary built with AddressSanitizer: valgrind cannot run
    it, and its runtime's own system calls swamp a request's few."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def run(bench, n=200):
    """Rows {name, instructions, syscalls} into bench.result["deterministic"]."""
    rows = []
    have = {"callgrind": shutil.which("valgrind"), "strace": shutil.which("strace")}
    for name, argv_of in backends(bench).items():
        row = {"name": name, "instructions": None, "syscalls": None}
        if sanitized(argv_of(0)[0]):
            bench.result["skipped"].append(
                "%s instructions, %s syscalls: built with AddressSanitizer, whose runtime "
                "valgrind cannot run and whose own system calls swamp a request's"
                % (name, name))
            log("deterministic %-11s skipped: an AddressSanitizer build" % name)
            rows.append(row)
            continue
        for tool, key in (("callgrind", "instructions"), ("strace", "syscalls")):
            if not have[tool]:
                bench.result["skipped"].append("%s %s: %s is not installed" % (
                    name, key, "valgrind" if tool == "callgrind" else "strace"))
                continue
            try:
                row[key] = per_request(bench, name, tool, argv_of, n)
            except (BenchError, OSError) as e:
                bench.result["skipped"].append("%s %s: %s" % (name, key, e))
        log("deterministic %-11s %s instructions, %s syscalls per request" % (
            name, "%.0f" % row["instructions"] if row["instructions"] else "-",
            "%.1f" % row["syscalls"] if row["syscalls"] else "-"))
        rows.append(row)
    floor = next((r for r in rows if r["name"] == "const_fcgi"), None)
    for r in rows:
        r["instructions_vs_const"] = (r["instructions"] / floor["instructions"]
                                      if floor and floor["instructions"] and r["instructions"]
                                      else None)
    bench.result["deterministic"] = rows
    return rows
