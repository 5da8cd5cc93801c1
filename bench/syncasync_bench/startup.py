# SPDX-License-Identifier: ISC
"""startup.py - one sync_cgi invocation (exec to exit) against the
reference CGI: hyperfine -N, or a Python loop when hyperfine is absent."""
import json
import os
import statistics
import subprocess
import time

from .procs import log


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


def run(bench):
    state = os.path.join(bench.run_dir, "state-startup")
    os.makedirs(state, mode=0o700, exist_ok=True)
    env = dict(os.environ, REQUEST_METHOD="GET", SCRIPT_NAME="/sync", REQUEST_URI="/sync",
               QUERY_STRING="", SERVER_PROTOCOL="HTTP/1.1", GATEWAY_INTERFACE="CGI/1.1",
               SYNCASYNC_STATE_DIR=state, SYNCASYNC_SLEEP_ON="0")
    progs = [("ref_cgi", bench.binaries["ref_cgi"]), ("sync_cgi", bench.binaries["sync_cgi"])]
    rows = hyperfine(bench, progs, env) if bench.tools["hyperfine"] else None
    bench.result["startup"] = rows or loop(bench, progs, env)
    for res in bench.result["startup"]:
        log("startup: %-9s mean %.3f ms  median %.3f ms  (%d runs, %s)"
            % (res["program"], res["mean_ms"], res["median_ms"], res["runs"], res["tool"]))
