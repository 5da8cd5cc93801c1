# SPDX-License-Identifier: ISC
"""concurrency.py - C requests held in flight at once, every one sleeping
SLEEP seconds, for each C and model: completion, wall time, the server
side's resident memory and descriptors at the peak, memory per request.

async_fcgi is driven straight over FastCGI by bench/load_fcgi.py (a web
server here stops short of 10,000: two descriptors per proxied request);
/sync through lighttpd mod_cgi, FastAPI straight over HTTP.  A pool-bound
model whose drain would exceed --max-wait is measured at its peak and let
go.
"""
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time

from . import procs, servers
from .procs import BenchError, log

MODELS = [
    ("timer", "/async timer (1 process, 1 thread)"),
    ("offload", "/async offload (pool of 40 threads)"),
    ("timer_w2", "/async timer, 2 workers (RSS summed)"),
    ("sync", "/sync (CGI: a process per request)"),
    ("fastapi_async", "FastAPI async def + asyncio.sleep"),
    ("fastapi_def", "FastAPI def + time.sleep (pool of 40)"),
]
LOAD_FCGI = os.path.join(servers.BENCH_DIR, "load_fcgi.py")


def run_load(bench, target, protocol, uri, c, entry, probe, queue_model, pool=40,
             interval=0.05):
    """Runs load_fcgi.py with C requests while probe() samples the server;
    a queueing model whose drain would exceed --max-wait is stopped once
    every request is in (the peak), and says so."""
    a = bench.args
    expected = math.ceil(c / pool) * a.sleep if queue_model else a.sleep
    stop_early = queue_model and expected > a.max_wait
    sampler = procs.Sampler(probe, interval)
    sampler.start()
    client = bench.procs.start(
        [sys.executable, LOAD_FCGI, "--target", target, "--protocol", protocol, "--uri", uri,
         "-c", str(c), "--timeout", str(min(expected, a.max_wait) + a.sleep + 60)],
        stdout=subprocess.PIPE, text=True)
    lines = []
    for line in client.stdout:
        lines.append(line)
        if line.startswith("all-sent") and stop_early:
            # Sample the full queue for a moment, then let go.
            time.sleep(min(2.0, a.sleep / 2))
            client.send_signal(signal.SIGTERM)
    client.wait()
    bench.procs.live.remove(client)
    peak = sampler.finish()
    try:
        summary = json.loads(lines[-1])
    except (ValueError, IndexError):
        raise BenchError("load client gave no summary")
    entry.update(completed=summary["ok"], requested=c, errors=summary["errors"],
                 wall_s=summary["wall_s"], ramp_s=summary["ramp_s"],
                 client_max_in_flight=summary["max_in_flight"],
                 all_completed=summary["ok"] == c, peak=peak)
    if stop_early:
        entry["stopped_after_peak"] = (
            "a pool of %d drains %d requests of %g s in about %.0f s, past --max-wait %g s: "
            "measured at the peak, then the client hung up" % (pool, c, a.sleep, expected,
                                                               a.max_wait))
    return summary


def finish_memory(entry, base_rss, pss=False):
    peak = entry.get("peak", {})
    n = entry.get("peak_in_flight") or 0
    rss = peak.get("rss_kib")
    if rss is not None and base_rss is not None:
        entry["peak_rss_kib"] = rss
        entry["peak_fds"] = peak.get("fds", peak.get("web_server_fds"))
        if n > 0:
            entry["kib_per_request"] = (rss - base_rss) / n
            if pss and peak.get("pss_kib"):
                entry["pss_kib_per_request"] = peak["pss_kib"] / n


def process_probe(pid):
    """A probe of one process's memory, descriptors and threads."""
    def probe():
        return {"rss_kib": procs.status_kib(pid), "fds": procs.fds(pid),
                "threads": procs.status_kib(pid, "Threads")}
    return probe


def workers_probe(pid):
    """A probe of a --workers supervisor and its workers: memory and
    descriptors summed over them, and how many processes that is."""
    def probe():
        pids = [pid] + procs.children_named(pid, "async_fcgi")
        rss = [procs.status_kib(p) for p in pids]
        fds = [procs.fds(p) for p in pids]
        return {"rss_kib": sum(x for x in rss if x), "fds": sum(x for x in fds if x),
                "processes": len(pids)}
    return probe


def workers_ready(port, workers):
    """Waits until /async/stats shows every worker serving (a pid each)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = servers.fcgi_stats(port) or {}
        if len([w for w in st.get("per_worker", []) if w.get("pid")]) == workers:
            return
        time.sleep(0.05)
    raise BenchError("async_fcgi --workers %d: not every worker serving after 10 s" % workers)


def model_async(bench, c, entry, mode, workers=1):
    port = procs.free_port()
    extra = ["--sleep", str(bench.args.sleep), "--sleep-on", "all"]
    if workers > 1:
        extra += ["--workers", str(workers)]
    proc = servers.async_tcp(bench, port, "conc-%s-w%d-%d.stderr" % (mode, workers, c),
                             mode=mode, extra=extra)
    try:
        if workers > 1:
            workers_ready(port, workers)
            sample = workers_probe(proc.pid)
        else:
            servers.fcgi_stats(port)
            sample = process_probe(proc.pid)
        base = sample()
        base_rss, base_fds = base["rss_kib"], base["fds"]
        stats_peak = {"in_flight": 0, "pool_queued": 0, "pool_busy": 0}
        last = [0.0]

        def probe():
            if time.monotonic() - last[0] >= 0.2:
                st = servers.fcgi_stats(port)
                if st:
                    last[0] = time.monotonic()
                    # --workers: the sums over them, not the one that answered.
                    st = dict(st, **st.get("totals", {})) if workers > 1 else st
                    for k in stats_peak:
                        stats_peak[k] = max(stats_peak[k], st.get(k, 0))
            return sample()
        run_load(bench, "tcp:127.0.0.1:%d" % port, "fcgi", "/async", c, entry, probe,
                 queue_model=(mode == "offload"))
        in_flight = stats_peak["in_flight"] or entry["client_max_in_flight"]
        entry.update(base_rss_kib=base_rss, base_fds=base_fds, peak_in_flight=in_flight,
                     server_stats_peak=dict(stats_peak),
                     driven_by="bench/load_fcgi.py over FastCGI straight to async_fcgi")
        finish_memory(entry, base_rss)
    finally:
        bench.procs.stop(proc)


def sync_cap(limit):
    """How many more processes the machine allows (pid_max, RLIMIT_NPROC)."""
    running = sum(1 for n in os.listdir("/proc") if n.isdigit())
    cap = limit
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            cap = min(cap, int(f.read()) - running - 2000)
    except OSError:
        pass
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if os.geteuid() != 0 and nproc != resource.RLIM_INFINITY:
        cap = min(cap, nproc - running - 500)
    return max(cap, 1)


def model_sync(bench, c, entry):
    cap = sync_cap(bench.args.sync_cap)
    run_c = min(c, cap)
    if run_c < c:
        entry["capped"] = ("ran %d of %d: process headroom (pid_max, RLIMIT_NPROC) "
                           "allows about %d more processes" % (run_c, c, cap))
    served = servers.lighttpd(bench, "conc-sync-%d" % c, sleep=bench.args.sleep,
                              sleep_on="all")
    try:
        pid = served.pid
        base_rss = procs.status_kib(pid)

        def probe():
            kids = procs.children_named(pid, "sync_cgi")
            rss = [procs.status_kib(kid) for kid in kids]
            pss = [procs.pss_kib(kid) for kid in kids]
            return {"processes": len(kids),
                    "rss_kib": sum(x for x in rss if x) if kids else 0,
                    "pss_kib": sum(x for x in pss if x) if kids else 0,
                    "web_server_rss_kib": procs.status_kib(pid),
                    "web_server_fds": procs.fds(pid)}
        run_load(bench, "tcp:" + served.url[len("http://"):], "http", "/sync", run_c, entry,
                 probe, queue_model=False, interval=0.25)
        entry["requested"] = c
        entry["all_completed"] = entry["completed"] == c
        entry.update(peak_in_flight=entry["peak"].get("processes", 0), base_rss_kib=0,
                     driven_by="bench/load_fcgi.py over HTTP through lighttpd mod_cgi",
                     web_server_base_rss_kib=base_rss)
        finish_memory(entry, 0, pss=True)
    finally:
        served.stop()


def model_fastapi(bench, c, entry, uri, queue_model):
    proc, base, _ = servers.uvicorn(bench, "conc-%s-%d" % (uri.strip("/"), c), bench.args.sleep)
    try:
        base_rss = procs.status_kib(proc.pid)
        base_fds = procs.fds(proc.pid)
        run_load(bench, "tcp:" + base[len("http://"):], "http", uri, c, entry,
                 process_probe(proc.pid), queue_model=queue_model, interval=0.1)
        fds = entry["peak"].get("fds", 0) - (base_fds or 0)
        entry.update(base_rss_kib=base_rss, base_fds=base_fds,
                     peak_in_flight=min(max(fds, 0), entry["client_max_in_flight"]),
                     driven_by="bench/load_fcgi.py over HTTP straight to uvicorn")
        finish_memory(entry, base_rss)
    finally:
        bench.procs.stop(proc)


MEASURE = {
    "timer": lambda bench, c, entry: model_async(bench, c, entry, "timer"),
    "offload": lambda bench, c, entry: model_async(bench, c, entry, "offload"),
    "timer_w2": lambda bench, c, entry: model_async(bench, c, entry, "timer", workers=2),
    "sync": model_sync,
    "fastapi_async": lambda bench, c, entry: model_fastapi(bench, c, entry, "/async-sleep",
                                                           False),
    "fastapi_def": lambda bench, c, entry: model_fastapi(bench, c, entry, "/sync-sleep", True),
}


def summary_line(entry):
    if "skipped" in entry:
        return "skipped: " + entry["skipped"]
    parts = ["%d/%d ok" % (entry.get("completed", 0), entry.get("requested", entry["c"])),
             "peak %d in flight" % entry.get("peak_in_flight", 0),
             "wall %.1f s" % entry.get("wall_s", 0)]
    if entry.get("peak_rss_kib") is not None:
        parts.append("RSS %.1f MiB" % (entry["peak_rss_kib"] / 1024))
    if entry.get("kib_per_request") is not None:
        parts.append("%.2f KiB/request" % entry["kib_per_request"])
    if entry.get("stopped_after_peak"):
        parts.append("stopped after the peak")
    if entry.get("capped"):
        parts.append("capped")
    return ", ".join(parts)


def run(bench):
    for c in bench.args.concurrency:
        for model, label in MODELS:
            entry = {"model": model, "label": label, "c": c}
            try:
                MEASURE[model](bench, c, entry)
            except BenchError as exc:
                entry["skipped"] = str(exc)
            bench.result["concurrency"].append(entry)
            log("concurrency: C=%-6d %-44s %s" % (c, label, summary_line(entry)))
