# SPDX-License-Identifier: ISC
"""throughput.py - wrk against each configuration: ROUNDS interleaved
rounds of DURATION seconds after a warm-up, medians, and each row's ratio
to its reference."""
import os
import resource
import statistics
import time

from . import procs, servers, wrk
from .procs import BenchError, log

ROW_DEFS = [
    ("static", "lighttpd, 100-byte static file (ceiling)", None),
    ("lighttpd_const_fcgi", "lighttpd + mod_fastcgi + constant libevent (floor)", "static"),
    ("lighttpd_const_lean", "lighttpd + mod_fastcgi + constant libevent, async_fcgi's I/O",
     "lighttpd_const_fcgi"),
    ("lighttpd_ref_fcgi", "lighttpd + mod_fastcgi + libfcgi reference", "static"),
    ("lighttpd_async", "lighttpd + mod_fastcgi + async_fcgi /async", "lighttpd_ref_fcgi"),
    ("lighttpd_async_w2", "lighttpd + mod_fastcgi + async_fcgi --workers 2 /async",
     "lighttpd_async"),
    ("lighttpd_ref_cgi", "lighttpd + mod_cgi + reference C CGI", "static"),
    ("lighttpd_sync", "lighttpd + mod_cgi + sync_cgi /sync", "lighttpd_ref_cgi"),
    ("lighttpd_pool", "lighttpd + mod_fastcgi + sync_cgi /pool (%d libfcgi workers)"
     % servers.POOL_WORKERS, "lighttpd_ref_fcgi"),
    ("fastapi_async", "FastAPI + uvicorn, async def", "lighttpd_async"),
    ("fastapi_def", "FastAPI + uvicorn, def", "lighttpd_async"),
    ("lighttpd_fastapi_async", "lighttpd + mod_proxy + FastAPI async def", "lighttpd_async"),
    ("lighttpd_fastapi_def", "lighttpd + mod_proxy + FastAPI def", "lighttpd_async"),
    ("apache_ref_noreuse", "Apache + proxy_fcgi + libfcgi ref, no reuse", "lighttpd_ref_fcgi"),
    ("apache_async_reuse", "Apache + proxy_fcgi + async_fcgi, reuse", "apache_ref_noreuse"),
    ("apache_ref_reuse", "Apache + proxy_fcgi + libfcgi ref, reuse", "apache_ref_noreuse"),
    ("apache_sync", "Apache + mod_cgid + sync_cgi /sync", "lighttpd_ref_cgi"),
]
LABELS = {key: label for key, label, _ in ROW_DEFS}
LIGHTTPD_ROWS = ("static", "lighttpd_const_fcgi", "lighttpd_const_lean", "lighttpd_ref_fcgi", "lighttpd_async", "lighttpd_ref_cgi",
                 "lighttpd_sync", "lighttpd_pool", "lighttpd_async_w2")
APACHE_ROWS = ("apache_async_reuse", "apache_ref_noreuse", "apache_ref_reuse", "apache_sync")

# A second reference for a row's ratio: /pool against /sync, the same program
# without fork+exec per request.
ROW_ALSO_REF = {"lighttpd_pool": "lighttpd_sync", "lighttpd_async": "lighttpd_const_fcgi"}


def log_run(when, key, res):
    log("throughput: %-10s %-52s %9.0f req/s  p50 %s  p99 %s  errors %s  cpu %s"
        % (when, LABELS[key], res["rps"], fmt_ms(res["p50_ms"]), fmt_ms(res["p99_ms"]),
           res["errors"], fmt_cpu(res.get("cpu"))))


def cpu_snapshot(bench):
    """CPU seconds (user + system) so far of every process the bench
    started, summed by program name; a program's reaped children (lighttpd's
    CGI processes) as "NAME children"; wrk (the bench's own child) as wrk."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in procs.tagged_pids(bench.tag):
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        out[comm] = out.get(comm, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        kids = (int(fields[13]) + int(fields[14])) / tick
        if kids:
            out[comm + " children"] = out.get(comm + " children", 0.0) + kids
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["wrk"] = ru.ru_utime + ru.ru_stime
    return out


def cpu_percent(before, after, seconds):
    """Per program, % of one core over seconds (only those that used any)."""
    out = {}
    for name, value in after.items():
        used = value - before.get(name, 0.0)
        if used > 0 and seconds > 0:
            out[name] = round(100.0 * used / seconds, 1)
    return out


def fmt_cpu(cpu):
    if not cpu:
        return "-"
    top = sorted(cpu.items(), key=lambda kv: -kv[1])[:4]
    return ", ".join("%s %.0f%%" % kv for kv in top)


def measured_run(bench, url):
    """wrk on url, with the CPU each program of the bench used meanwhile."""
    a = bench.args
    before, t0 = cpu_snapshot(bench), time.monotonic()
    res = wrk.run_or_failure(bench.tools["wrk"], url, a.duration, a.threads, a.connections)
    res["cpu"] = cpu_percent(before, cpu_snapshot(bench), time.monotonic() - t0)
    return res


def fmt_ms(value):
    return "-" if value is None else ("%.2f ms" % value)


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def start_all(bench, urls, skip, servers_up):
    """Starts uvicorn, lighttpd (proxying /fastapi/ to uvicorn) and Apache
    with its backends; fills urls (row key -> URL) and skip (row key ->
    reason)."""
    fastapi_port = None
    try:
        proc, base, fastapi_port = servers.uvicorn(bench, "uvicorn", bench.args.sleep)
        servers_up.append(proc)
        urls.update(fastapi_async=base + "/async", fastapi_def=base + "/sync")
    except BenchError as exc:
        for key in ("fastapi_async", "fastapi_def", "lighttpd_fastapi_async",
                    "lighttpd_fastapi_def"):
            skip[key] = str(exc)
    try:
        served = servers.lighttpd(bench, "lighttpd", pool=True, fastapi_port=fastapi_port)
        servers_up.append(served)
        base = served.url
        urls.update(static=base + "/static.txt", lighttpd_ref_fcgi=base + "/ref-fcgi",
                    lighttpd_const_fcgi=base + "/const-fcgi",
                    lighttpd_const_lean=base + "/const-fcgi-lean",
                    lighttpd_async=base + "/async", lighttpd_ref_cgi=base + "/ref-cgi",
                    lighttpd_sync=base + "/sync", lighttpd_pool=base + "/pool")
        if fastapi_port is not None:
            urls.update(lighttpd_fastapi_async=base + "/fastapi/async",
                        lighttpd_fastapi_def=base + "/fastapi/sync")
    except BenchError as exc:
        for key in LIGHTTPD_ROWS + ("lighttpd_fastapi_async", "lighttpd_fastapi_def"):
            skip.setdefault(key, "lighttpd: %s" % exc)
    if "lighttpd_async_w2" not in skip:
        # The same /async as two processes, one loop each, on one socket.
        try:
            served = servers.lighttpd(bench, "lighttpd-w2", async_args="--workers 2")
            servers_up.append(served)
            urls["lighttpd_async_w2"] = served.url + "/async"
        except BenchError as exc:
            skip["lighttpd_async_w2"] = "lighttpd: %s" % exc
    if bench.args.no_apache:
        for key in APACHE_ROWS:
            skip[key] = "--no-apache"
        return
    try:
        pa, pr = procs.free_port(), procs.free_port()
        servers_up.append(servers.async_tcp(bench, pa, "apache-async.stderr",
                                            extra=["--sleep-on", "0"]))
        servers_up.append(servers.fcgi_tcp(bench, [bench.binaries["ref_fcgi"],
                                                   "127.0.0.1:%d" % pr],
                                           pr, "apache-ref.stderr"))
        served = servers.apache(bench, "apache", pa, pr, ref_reuse=False)
        servers_up.append(served)
        urls.update(apache_async_reuse=served.url + "/async",
                    apache_ref_noreuse=served.url + "/ref", apache_sync=served.url + "/sync")
        for key in ("apache_async_reuse", "apache_ref_noreuse", "apache_sync"):
            procs.wait_http(urls[key], None, timeout=10)
    except BenchError as exc:
        for key in APACHE_ROWS:
            skip[key] = "apache: %s" % exc


def stop(bench, server):
    if isinstance(server, servers.Served):
        server.stop()
    else:
        bench.procs.stop(server)


def apache_ref_reuse(bench):
    """The libfcgi reference with Apache's connection reuse: its own Apache
    and responder, measured once at the end, since a stall holds Apache's
    workers for its 60 s Timeout."""
    a = bench.args
    pr = procs.free_port()
    ref = servers.fcgi_tcp(bench, [bench.binaries["ref_fcgi"], "127.0.0.1:%d" % pr], pr,
                           "apache-ref-reuse.stderr")
    try:
        served = servers.apache(bench, "apache-reuse", procs.free_port(), pr, ref_reuse=True)
        try:
            res = wrk.run_or_failure(bench.tools["wrk"], served.url + "/ref", a.duration,
                                     a.threads, a.connections)
        finally:
            served.stop()
    finally:
        bench.procs.stop(ref)
    log_run("once", "apache_ref_reuse", res)
    return res


def summarise(bench, measured, skip):
    by_key = {}
    for key, label, ref in ROW_DEFS:
        row = {"key": key, "label": label, "ref": ref}
        if key in skip or not measured[key]:
            row["skipped"] = skip.get(key, "not measured")
        else:
            runs = measured[key]
            row.update(
                rps=statistics.median(r["rps"] for r in runs),
                p50_ms=median_or_none([r["p50_ms"] for r in runs]),
                p99_ms=median_or_none([r["p99_ms"] for r in runs]),
                errors=sum(r["errors"] or 0 for r in runs),
                rounds=len(runs), runs=runs,
                cpu=runs[len(runs) // 2].get("cpu"))
            if any("failure" in r for r in runs):
                row["failures"] = [r["failure"] for r in runs if "failure" in r]
        by_key[key] = row
        bench.result["rows"].append(row)
    for row in bench.result["rows"]:
        ref = by_key.get(row["ref"]) if row["ref"] else None
        if row.get("rps") is not None and ref and ref.get("rps"):
            row["ratio"] = row["rps"] / ref["rps"]
        also = by_key.get(ROW_ALSO_REF.get(row["key"]))
        if also is not None:
            row["ref_also"] = also["key"]
            if row.get("rps") is not None and also.get("rps"):
                row["ratio_also"] = row["rps"] / also["rps"]


def run(bench):
    a = bench.args
    if not bench.tools["wrk"]:
        for key, label, ref in ROW_DEFS:
            bench.result["rows"].append({"key": key, "label": label, "ref": ref,
                                         "skipped": "Debian package wrk is missing"})
        return
    urls, skip, servers_up = {}, {}, []
    try:
        start_all(bench, urls, skip, servers_up)
        for key in urls:
            if key not in skip:
                try:
                    procs.wait_http(urls[key], None, timeout=10)
                except BenchError as exc:
                    skip[key] = str(exc)
        measured = {key: [] for key, _, _ in ROW_DEFS}
        order = [key for key, _, _ in ROW_DEFS if key in urls and key not in skip]
        if a.warmup > 0:
            log("throughput: warm-up, %d s per configuration" % a.warmup)
            for key in order:
                try:
                    wrk.run(bench.tools["wrk"], urls[key], a.warmup, a.threads, a.connections)
                except BenchError as exc:
                    skip[key] = "warm-up: %s" % exc
            order = [key for key in order if key not in skip]
        for rnd in range(1, a.rounds + 1):
            for key in order:
                res = measured_run(bench, urls[key])
                measured[key].append(res)
                log_run("round %d/%d" % (rnd, a.rounds), key, res)
    finally:
        for server in servers_up:
            stop(bench, server)
    if "apache_ref_reuse" not in skip:
        try:
            measured["apache_ref_reuse"].append(apache_ref_reuse(bench))
        except BenchError as exc:
            skip["apache_ref_reuse"] = "apache: %s" % exc
    summarise(bench, measured, skip)
