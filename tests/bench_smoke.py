# SPDX-License-Identifier: ISC
"""bench_smoke.py - bench/run-bench in its smoke mode, once.

The benchmark reports figures, it does not judge them; what this test checks
is the harness: one short round (--smoke: 1 s per row, C = 20, a 1 s sleep)
finishes, writes a complete and well-formed results.json, results.md and
chart.svg (every row and every model measured or marked skipped with a
reason, every target listed), points results/bench-latest at them, and
leaves no process running: none of the pids it lists, and none carrying its
tag in the environment (lighttpd's backends, Apache's children).

Skips when wrk (Debian package wrk) or lighttpd is absent; FastAPI and
Apache rows are skipped by the bench itself when absent.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
sys.path.insert(0, os.path.join(harness.SRCDIR, "bench"))
from syncasync_bench.procs import tagged_pids  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "WRK", "wrk", "wrk")
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")

BENCH = os.path.join(harness.SRCDIR, "bench", "run-bench")
ROW_KEYS = ["static", "lighttpd_const_fcgi", "lighttpd_const_lean", "lighttpd_ref_fcgi",
            "lighttpd_async", "lighttpd_async_w2", "lighttpd_ref_cgi", "lighttpd_sync",
            "lighttpd_pool", "fastapi_async", "fastapi_def", "lighttpd_fastapi_async",
            "lighttpd_fastapi_def", "apache_ref_noreuse",
            "apache_async_reuse", "apache_ref_reuse", "apache_sync"]
MODELS = ["timer", "offload", "timer_w2", "sync", "fastapi_async", "fastapi_def"]
ALWAYS = ["static", "lighttpd_const_fcgi", "lighttpd_const_lean", "lighttpd_ref_fcgi",
          "lighttpd_async", "lighttpd_async_w2", "lighttpd_ref_cgi", "lighttpd_sync", "lighttpd_pool"]


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


with tempfile.TemporaryDirectory(prefix="bench-smoke.") as tmp:
    results = os.path.join(tmp, "results")
    pids = os.path.join(tmp, "pids")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, BENCH, "--smoke", "--build-dir", harness.BUILDDIR,
                        "--results", results, "--pids", pids],
                       capture_output=True, text=True, timeout=240)
    took = time.monotonic() - t0
    tap.ok(r.returncode == 0, "run-bench --smoke exits 0", r.stdout[-1500:] + r.stderr[-1500:])
    # Generous: about 40 s on an idle machine (2 s per throughput row); the
    # bound catches a row that hangs, not a slow machine.
    tap.ok(took < 150, "smoke run within 150 s (took %.1f s)" % took)
    tap.ok("throughput: round 1/1" in r.stdout and "concurrency: C=20" in r.stdout,
           "a progress line per configuration", r.stdout[-800:])
    latest = os.path.join(results, "bench-latest")
    tap.ok(os.path.islink(latest) and os.path.isdir(latest), "results/bench-latest points at the run")
    out = os.path.realpath(latest)

    try:
        with open(os.path.join(out, "results.json")) as f:
            res = json.load(f)
    except (OSError, ValueError) as exc:
        res = {}
        tap.ok(False, "results.json is JSON", exc)
    else:
        tap.ok(True, "results.json is JSON")
    rows = {row.get("key"): row for row in res.get("rows", [])}
    tap.eq(sorted(rows), sorted(ROW_KEYS), "every throughput row present")
    bad = [k for k, row in rows.items()
           if not (("skipped" in row and row["skipped"]) or
                   (isinstance(row.get("rps"), float) and row.get("rounds") == 1))]
    tap.ok(not bad, "each row measured (req/s, 1 round) or skipped with a reason", bad)
    tap.ok(all(rows.get(k, {}).get("rps", 0) > 0 for k in ALWAYS),
           "the lighttpd rows were measured", {k: rows.get(k) for k in ALWAYS})
    tap.ok(rows.get("lighttpd_async", {}).get("ratio") is not None,
           "/async carries its ratio to the reference")
    tap.ok(rows.get("lighttpd_async", {}).get("ratio_also") is not None,
           "  and to the constant-answer responder (the floor)")
    tap.ok(rows.get("lighttpd_async_w2", {}).get("ratio") is not None,
           "/async --workers 2 carries its ratio to the 1-worker /async row")
    tap.ok(all(rows.get(k, {}).get("cpu") for k in ALWAYS),
           "the lighttpd rows carry the CPU each program used",
           {k: rows.get(k, {}).get("cpu") for k in ALWAYS})
    det = {d.get("name"): d for d in res.get("deterministic", [])}
    skipped = " ".join(res.get("skipped", []))
    bad = [n for n in ("async_fcgi", "const_fcgi", "const_fcgi_lean", "ref_fcgi")
           if n not in det or not all(
               (det[n].get(k) or 0) > 0 or ("%s %s" % (n, k)) in skipped
               for k in ("instructions", "syscalls"))]
    tap.ok(not bad, "instructions and syscalls per request for each backend, or skipped "
           "with a reason", {n: det.get(n) for n in bad})
    pool = rows.get("lighttpd_pool", {})
    tap.ok(pool.get("ratio") is not None and pool.get("ratio_also") is not None,
           "/pool carries its ratios to the libfcgi reference and to /sync", pool)
    conc = {(e.get("model"), e.get("c")): e for e in res.get("concurrency", [])}
    tap.eq(sorted(conc), sorted((m, 20) for m in MODELS), "every concurrency model at C=20")
    bad = [k for k, e in conc.items()
           if not (e.get("skipped") or (e.get("completed") == 20 and
                                        e.get("peak_rss_kib", 0) > 0 and
                                        e.get("kib_per_request") is not None))]
    tap.ok(not bad, "each model completed 20 with peak memory, or skipped with a reason",
           {k: conc[k] for k in bad})
    tap.ok(conc.get(("timer", 20), {}).get("peak_in_flight") == 20,
           "/async timer held all 20 in flight at the peak", conc.get(("timer", 20)))
    w2 = conc.get(("timer_w2", 20), {})
    tap.ok(w2.get("peak_in_flight") == 20 and w2.get("peak", {}).get("processes") == 3,
           "/async timer, 2 workers: all 20 in flight, RSS over the supervisor and 2 workers",
           w2)
    progs = sorted(s.get("program") for s in res.get("startup", []))
    tap.eq(progs, ["ref_cgi", "sync_cgi"], "start-up timed for both CGI programs")
    tap.eq(len(res.get("targets", [])), 8, "all eight targets reported")
    for key in ("cores", "kernel"):
        tap.ok(res.get("machine", {}).get(key), "machine %s recorded" % key)
    versions = res.get("versions", {})
    tap.ok(all(versions.get(k) for k in ("lighttpd", "libevent", "json-c", "libfcgi")),
           "versions recorded", versions)

    try:
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
    except OSError as exc:
        md = ""
        tap.ok(False, "results.md written", exc)
    for section in ("## Throughput", "## Concurrency", "## sync_cgi start-up", "## Targets"):
        tap.ok(section in md, "results.md has %s" % section)
    labels = [row.get("label", "?") for row in rows.values()]
    tap.ok(labels and all("| %s |" % label in md for label in labels),
           "results.md has a line per row")

    try:
        svg = ET.parse(os.path.join(out, "chart.svg")).getroot()
        tap.ok(svg.tag.endswith("svg"), "chart.svg is well-formed SVG")
        ns = "{http://www.w3.org/2000/svg}"
        bars = len(svg.findall(ns + "rect")) - 2   # the background and the plot frame
        lines = svg.findall(ns + "polyline")
        tap.ok(bars >= len(ALWAYS), "chart has the throughput bars (%d)" % bars)
        tap.ok(len(lines) >= 3, "chart has a memory line per measured model (%d)" % len(lines))
    except (OSError, ET.ParseError) as exc:
        tap.ok(False, "chart.svg is well-formed SVG", exc)

    try:
        with open(pids) as f:
            started = [int(line.split()[0]) for line in f if line.strip()]
    except OSError:
        started = []
    tap.ok(len(started) >= 3, "the bench listed the processes it started (%d)" % len(started))
    left = [pid for pid in started if alive(pid)]
    tap.ok(not left, "none of them is still running", left)
    tag = res.get("settings", {}).get("process_tag")
    left = tagged_pids(tag) if tag else ["no tag"]
    tap.ok(not left, "no process carries the bench's tag (backends, children)", left)

tap.done()
