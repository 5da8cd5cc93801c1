# SPDX-License-Identifier: ISC
"""startup.py - one sync_cgi invocation (exec to exit) against the
reference CGI: hyperfine -N, or a Python loop when hyperfine is absent;
then the two alternated run by run (a shared machine's load falls on both
alike), and counted: user-space instructions (callgrind) and system calls
(strace -f -c) of one run each, which no load moves."""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from . import deterministic
from .procs import BenchError, log


def hyperfine(bench, progs, env):
    """The rows hyperfine measured, or None when it failed."""
    out_json = os.path.join(bench.run_dir, "hyperfine.json")
    argv = [bench.tools["hyperfine"], "-N", "--warmup", "20",
            "--runs", str(bench.args.startup_runs), "--export-json", out_json,
            "--style", "none"] + [p for _, p in progs]
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        log("startup: hyperfine failed (%s); timing with a loop" % r.stderr.strip()[:100])
        return None
    with open(out_json) as f:
        data = json.load(f)["results"]
    return [{"program": name, "mean_ms": res["mean"] * 1e3, "stddev_ms": res["stddev"] * 1e3,
             "median_ms": res["median"] * 1e3, "min_ms": res["min"] * 1e3,
             "runs": len(res["times"]), "tool": "hyperfine -N"}
            for (name, _), res in zip(progs, data)]


def loop(bench, progs, env):
    rows = []
    for name, path in progs:
        times = []
        for _ in range(bench.args.startup_runs):
            t = time.perf_counter()
            subprocess.run([path], env=env, stdout=subprocess.DEVNULL)
            times.append((time.perf_counter() - t) * 1e3)
        rows.append({
            "program": name, "mean_ms": statistics.mean(times),
            "stddev_ms": statistics.pstdev(times), "median_ms": statistics.median(times),
            "min_ms": min(times), "runs": len(times),
            "tool": "python subprocess loop (hyperfine absent; includes Python's fork)"})
    return rows


def alternated(progs, env, runs, warmup=50):
    """Each program in turn, run by run, posix_spawn'd with descriptors 0-2
    on /dev/null: {name: (median wall ms, median CPU ms)}, the CPU being the
    child's own user + system time (wait4), which waiting for a core on a
    busy machine does not count."""
    null = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
    wall = {name: [] for name, _ in progs}
    cpu = {name: [] for name, _ in progs}
    try:
        for i in range(warmup + runs):
            for name, path in (progs if i % 2 == 0 else progs[::-1]):
                start = time.perf_counter()
                pid = os.posix_spawn(path, [path], env, file_actions=actions)
                _, _, usage = os.wait4(pid, 0)
                if i >= warmup:
                    wall[name].append((time.perf_counter() - start) * 1e3)
                    cpu[name].append((usage.ru_utime + usage.ru_stime) * 1e3)
    finally:
        os.close(null)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]))
            for name, _ in progs}


def counted(path, env):
    """(instructions, system calls) of one run, None where the tool is
    missing.  stdin and stderr on /dev/null, as under hyperfine."""
    out = {"instructions": None, "syscalls": None}
    with tempfile.TemporaryDirectory(prefix="syncasync-startup-") as tmp, \
            open(os.devnull, "r+b") as null:
        def once(wrapper):
            subprocess.run(wrapper + [path], env=env, stdin=null, stdout=null, stderr=null,
                           timeout=120)
        try:
            if shutil.which("valgrind"):
                cg = os.path.join(tmp, "cg.out")
                once(["valgrind", "--tool=callgrind", "--log-file=" + cg + ".log",
                      "--callgrind-out-file=" + cg])
                out["instructions"] = deterministic.callgrind_total(cg)
            if shutil.which("strace"):
                st = os.path.join(tmp, "strace.out")
                once(["strace", "-f", "-c", "-o", st])
                out["syscalls"] = deterministic.strace_total(st)
        except (BenchError, OSError) as e:
            log("startup: counting %s: %s" % (path, e))
    return out


def run(bench):
    state = os.path.join(bench.run_dir, "state-startup")
    os.makedirs(state, mode=0o700, exist_ok=True)
    env = dict(os.environ, REQUEST_METHOD="GET", SCRIPT_NAME="/sync", REQUEST_URI="/sync",
               QUERY_STRING="", SERVER_PROTOCOL="HTTP/1.1", GATEWAY_INTERFACE="CGI/1.1",
               SYNCASYNC_STATE_DIR=state, SYNCASYNC_SLEEP_ON="0")
    progs = [("ref_cgi", bench.binaries["ref_cgi"]), ("sync_cgi", bench.binaries["sync_cgi"])]
    rows = hyperfine(bench, progs, env) if bench.tools["hyperfine"] else None
    bench.result["startup"] = rows or loop(bench, progs, env)
    alt = alternated(progs, env, bench.args.startup_runs)
    for res in bench.result["startup"]:
        wall_ms, cpu_ms = alt[res["program"]]
        res.update(alternated_wall_median_ms=wall_ms, alternated_cpu_median_ms=cpu_ms,
                   **counted(dict(progs)[res["program"]], env))
        log("startup: %-9s mean %.3f ms  median %.3f ms  (%d runs, %s); alternated: "
            "median %.3f ms, CPU %.3f ms; %s instructions, %s system calls"
            % (res["program"], res["mean_ms"], res["median_ms"], res["runs"], res["tool"],
               wall_ms, cpu_ms, res["instructions"], res["syscalls"]))
    ref, sync = alt["ref_cgi"], alt["sync_cgi"]
    log("startup: sync_cgi / ref_cgi alternated: %.3f× wall, %.3f× CPU"
        % (sync[0] / ref[0], sync[1] / ref[1]))
