# SPDX-License-Identifier: ISC
"""async_steady.py - a plain /async request allocates nothing in steady state,
and its instruction count stays under a generous bound.

Not a timing test: async_fcgi (timer mode, no sleeper) runs under valgrind
twice, once answering WARM + N plain requests and once WARM + 2N, each on a
new connection without KEEP_CONN (as lighttpd sends them), straight over
FastCGI with the project's client (tests/fcgi_client.py).  The difference
between the two runs is what N requests cost:

  - memcheck's "total heap usage: A allocs": A(2N) - A(N) must not exceed
    ALLOCS_PER_REQUEST * N + 4 (none per request: 4 of slack in all);
  - callgrind's instruction count (Ir, user space): (I(2N) - I(N)) / N
    must stay under INSN_BOUND per request.

Skipped (with the reason) only when valgrind is not installed, or in the
sanitizer build (valgrind cannot run an ASan binary).

Run: top_srcdir=. top_builddir=BUILD python3 tests/async_steady.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import fcgi_client as fc  # noqa: E402

tap = harness.Tap()
BINARY = harness.need_plain_binary(
    tap, "async_fcgi/async_fcgi",
    ", which valgrind cannot run")
VALGRIND = shutil.which("valgrind")
if VALGRIND is None:
    tap.skip_all("valgrind is not installed (deploy/install-deps --ci installs it)")

WARM = 50          # requests before the measured ones: pools fill, caches warm
N = int(os.environ.get("SYNCASYNC_STEADY_N", "200"))
# Allocations per plain request allowed: none (connections, calls and the
# PARAMS buffer are reused; a plain request is read into the connection
# set's scratch buffer and answered at once, so no connection buffer is
# ever allocated).
ALLOCS_PER_REQUEST = int(os.environ.get("SYNCASYNC_STEADY_ALLOCS", "0"))
# User-space instructions per plain request (doc/DESIGN-NOTES.md, "The hot
# path", has the measured figure): at most twice the constant responder's,
# issue 18's bound; generous, so only a real regression trips it.
INSN_BOUND = int(os.environ.get("SYNCASYNC_STEADY_INSN_BOUND", "18000"))
ENV = {"SYNCASYNC_SLEEP_ON": "0", "SYNCASYNC_ASYNC_MODE": "timer"}


def run(tool, count, workdir):
    """Runs WARM + count requests under valgrind's tool; returns its log."""
    log = os.path.join(workdir, "%s-%d.log" % (tool, count))
    cmd = [VALGRIND, "--tool=" + tool, "--log-file=" + log]
    if tool == "callgrind":
        cmd += ["--callgrind-out-file=" + os.path.join(workdir, "cg-%d.out" % count)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCASYNC_")}
    env.update(ENV)
    port = fc.free_port()
    address = ("127.0.0.1", port)
    proc = subprocess.Popen(cmd + [BINARY, "--listen", "127.0.0.1:%d" % port,
                                   "--stall-ms", "100000"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        wait_listening(proc, address)
        bad = 0
        for i in range(WARM + count):
            r = fc.simple_get(address, timeout=60.0)
            if r.status != 200:
                bad += 1
        if bad:
            tap.diag("%d of %d requests were not answered 200" % (bad, WARM + count))
    finally:
        proc.terminate()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with open(log) as f:
        return f.read(), bad


def wait_listening(proc, address):
    import time
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError("valgrind'd async_fcgi exited with %s" % proc.returncode)
        try:
            fc.Conn(address, timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("async_fcgi under valgrind did not listen")
            time.sleep(0.05)


def allocs(text):
    m = re.search(r"total heap usage: ([\d,]+) allocs", text)
    return int(m.group(1).replace(",", "")) if m else None


def instructions(text):
    m = re.search(r"Collected : (\d+)", text)
    return int(m.group(1)) if m else None


def measure(tool, total, what, bound, unit):
    """tool over WARM + N and WARM + 2N requests; passes if the difference
    per request is at most bound."""
    one, bad1 = run(tool, N, workdir)
    two, bad2 = run(tool, 2 * N, workdir)
    t1, t2 = total(one), total(two)
    tap.ok(t1 is not None and t2 is not None and not bad1 and not bad2,
           "%s: totals for %d and %d plain requests" % (tool, WARM + N, WARM + 2 * N))
    if t1 is None or t2 is None:
        tap.ok(False, "%s per plain request (no total)" % what)
        return
    per = (t2 - t1) / N
    tap.diag("%s: %d for %d requests, %d for %d: %.3f per request"
             % (what, t1, WARM + N, t2, WARM + 2 * N, per))
    tap.ok(per <= bound, "%s per plain request in steady state: %.3f <= %g%s"
           % (what, per, bound, unit))


workdir = tempfile.mkdtemp(prefix="syncasync-steady-")
try:
    # A few allocations in all N (libevent growing an array) are not per request.
    measure("memcheck", allocs, "heap allocations", ALLOCS_PER_REQUEST + 4.0 / N, "")
    measure("callgrind", instructions, "user-space instructions", INSN_BOUND,
            " (generous: a regression, not noise)")
finally:
    shutil.rmtree(workdir, ignore_errors=True)
tap.done()
