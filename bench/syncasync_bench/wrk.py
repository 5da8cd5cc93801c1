# SPDX-License-Identifier: ISC
"""wrk.py - one wrk run, and what its output says."""
import re
import subprocess

from .procs import BenchError

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
TIMEOUT_S = 2


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse(text):
    out = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": None, "errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, text, re.M)
        if m:
            out[key] = to_ms(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] += sum(int(x) for x in m.groups())
        out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                        (int(x) for x in m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["errors"] += int(m.group(1))
        out["non_2xx"] = int(m.group(1))
    return out


def run(wrk, url, duration, threads, connections, timeout_s=TIMEOUT_S):
    argv = [wrk, "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration,
            "--timeout", "%ds" % timeout_s, "--latency", url]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if r.returncode != 0:
        raise BenchError("wrk failed: %s" % (r.stderr.strip() or r.stdout.strip())[:200])
    res = parse(r.stdout)
    if res["rps"] is None:
        raise BenchError("wrk output not understood")
    return res


def run_or_failure(wrk, url, duration, threads, connections):
    """run(), or a zero row saying why it failed."""
    try:
        return run(wrk, url, duration, threads, connections)
    except BenchError as exc:
        return {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": None,
                "failure": str(exc)}
