# SPDX-License-Identifier: ISC
"""cli.py - the bench's options and its whole run: build the reference
programs, measure each family, write results/bench-YYYYmmdd-HHMMSS/
{results.json,results.md,chart.svg} and the results/bench-latest link, and
stop every process it started (also on Ctrl-C or SIGTERM)."""
import argparse
import datetime
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time

from . import concurrency, deterministic, machine, report, startup, throughput, wrk
from .procs import Procs, log
from .servers import BENCH_DIR, SRCDIR


class Bench:
    """One run: its options, its private directory, the processes it
    started, the programs and tools it uses, and the result so far."""

    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build_dir)
        self.run_dir = tempfile.mkdtemp(prefix="syncasync-bench.")
        os.chmod(self.run_dir, 0o755)
        self.tag = "%d-%d" % (os.getpid(), int(time.time()))
        self.procs = Procs(self.run_dir, self.tag, args.pids)
        self.result = {"rows": [], "concurrency": [], "startup": [], "targets": [],
                       "skipped": []}
        self.binaries = {}
        self.tools = {}
        self.nofile = None

    def setup(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            log("bench: raised the descriptor limit from %d to the hard limit %d "
                "(servers inherit it)" % (soft, hard))
        self.nofile = hard
        for name in ("sync_cgi/sync_cgi", "async_fcgi/async_fcgi"):
            path = os.path.join(self.build, name)
            if not os.access(path, os.X_OK):
                raise SystemExit("run-bench: %s is not built (run make first)" % path)
            self.binaries[os.path.basename(name)] = path
        cc = os.environ.get("CC") or "cc"
        # const_fcgi_lean: the same source with async_fcgi's I/O design.
        for name, src, flags in (("ref_fcgi", "ref_fcgi", ["-lfcgi"]),
                                 ("ref_cgi", "ref_cgi", []),
                                 ("const_fcgi", "const_fcgi", ["-levent_core"]),
                                 ("const_fcgi_lean", "const_fcgi",
                                  ["-DCONST_FCGI_LEAN=1", "-levent_core"])):
            out = os.path.join(self.run_dir, name)
            r = subprocess.run(cc.split() + ["-O2", "-o", out,
                                             os.path.join(BENCH_DIR, src + ".c")] + flags,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("run-bench: cannot build %s: %s (Debian packages libfcgi-dev, "
                                 "libevent-dev?)"
                                 % (name, r.stderr.strip()[:300]))
            self.binaries[name] = out
        self.tools = machine.tools(self.args.no_fastapi)

    def settings(self):
        a = self.args
        return {"smoke": a.smoke, "rounds": a.rounds, "duration_s": a.duration,
                "warmup_s": a.warmup, "wrk_threads": a.threads,
                "wrk_connections": a.connections, "wrk_timeout_s": wrk.TIMEOUT_S,
                "concurrency": a.concurrency, "sleep_s": a.sleep,
                "max_wait_s": a.max_wait, "sync_cap": a.sync_cap,
                "startup_runs": a.startup_runs, "nofile": self.nofile,
                "process_tag": self.tag,
                "build_dir": self.build,
                "uvicorn": "1 worker, --no-access-log, default loop/http "
                           "(uvloop/httptools only if installed)",
                "apache": "deploy/apache2.conf (mpm_event StartServers 2 ServerLimit 4 "
                          "ThreadsPerChild 25) through bench/apache2.conf, no access log; "
                          "backends on loopback TCP",
                "lighttpd": "deploy/lighttpd.conf through bench/lighttpd.conf, max-procs 1, "
                            "no access log"}

    def write(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(self.result, f, indent=1, default=str)
        md = report.markdown(self.result)
        with open(os.path.join(out_dir, "results.md"), "w") as f:
            f.write(md)
        with open(os.path.join(out_dir, "chart.svg"), "w") as f:
            f.write(report.chart_svg(self.result))
        latest = os.path.join(self.args.results, "bench-latest")
        try:
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(os.path.basename(out_dir), latest)
        except OSError:
            pass
        return md

    def run(self):
        a = self.args
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = os.path.join(a.results, "bench-" + stamp)
        self.setup()
        log("bench: run dir %s; results go to %s" % (self.run_dir, out_dir))
        self.result.update(
            started=datetime.datetime.now().isoformat(timespec="seconds"),
            machine=machine.machine_info(),
            versions=machine.versions(self.tools, self.binaries),
            settings=self.settings())
        if a.only in (None, "deterministic"):
            deterministic.run(self, n=20 if a.smoke else 200)
        if a.only in (None, "throughput"):
            throughput.run(self)
        if a.only in (None, "concurrency"):
            concurrency.run(self)
        if a.only in (None, "startup"):
            startup.run(self)
        self.result["targets"] = report.targets(self.result)
        self.result["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        self.result["leftover_processes_killed"] = self.procs.stop_all()
        md = self.write(out_dir)
        print()
        print(md)
        log("bench: results in %s (results.json, results.md, chart.svg)" % out_dir)
        return out_dir


def parse_args(argv):
    p = argparse.ArgumentParser(description="syncasync benchmarks (see bench/run-bench)")
    p.add_argument("--build-dir", default=os.environ.get("top_builddir", SRCDIR))
    p.add_argument("--results", default=os.path.join(SRCDIR, "results"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--warmup", type=int, default=1, help="seconds of wrk per row first")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--connections", type=int, default=64, help="wrk connections")
    p.add_argument("--concurrency", default="100,1000,10000")
    p.add_argument("--sleep", type=float, default=5.0, help="seconds every request sleeps")
    p.add_argument("--max-wait", type=float, default=30.0,
                   help="a pool-bound run expected to take longer is stopped at its peak")
    p.add_argument("--sync-cap", type=int, default=10000, help="most /sync processes at once")
    p.add_argument("--startup-runs", type=int, default=300)
    p.add_argument("--only", choices=("deterministic", "throughput", "concurrency", "startup"))
    p.add_argument("--pids", help="append the pid of every process started to FILE")
    p.add_argument("--no-fastapi", action="store_true")
    p.add_argument("--no-apache", action="store_true")
    p.add_argument("--smoke", action="store_true",
                   help="one round of 2 s at 16 connections, C = 20, sleep 1 s: for make check")
    args = p.parse_args(argv)
    if args.smoke:
        # Two seconds at 16 connections: a CGI row still completes requests
        # when the suite runs beside it under a sanitizer build (one second
        # at 64 exec'd ASan processes at once could end with none answered).
        args.rounds, args.duration, args.warmup = 1, 2, 0
        args.connections = 16
        args.concurrency, args.sleep, args.max_wait = "20", 1.0, 10.0
        args.startup_runs = 20
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    return args


def main(argv):
    args = parse_args(argv)
    bench = Bench(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        bench.run()
    except KeyboardInterrupt:
        log("bench: interrupted; stopping every server it started")
        return 130
    finally:
        left = bench.procs.stop_all()
        if left:
            log("bench: killed leftover processes %s" % left)
        shutil.rmtree(bench.run_dir, ignore_errors=True)
    return 0
