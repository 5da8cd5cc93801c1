# SPDX-License-Identifier: ISC
"""async_memory.py - what one waiting /async request costs in memory.

async_fcgi runs in timer mode with every request sleeping a minute.  The
test opens N connections (one request each, as lighttpd sends them),
waits until /async/stats says all N are in flight, and reads the
process's resident set (VmRSS) then; before the first of them it read the
same with the server warmed by one plain request.  (peak - before) / N is
the memory per waiting request, and must stay under BOUND_KIB (issue 18's
1.2 KiB; doc/DESIGN-NOTES.md, "Memory per waiting request", has the
measured figure).  Resident pages are counted, not timed: no sleep stands
in for the wait, the stats say when all N are in.  The client then hangs
up on all of them, and every one must be cancelled (in_flight back to 0):
a waiting request that leaks would show there.

Run: top_srcdir=. top_builddir=BUILD python3 tests/async_memory.py
"""
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import fcgi_client as fc  # noqa: E402

tap = harness.Tap()
BINARY = harness.need_plain_binary(
    tap, "async_fcgi/async_fcgi",
    ": its shadow memory is the resident set")

N = int(os.environ.get("SYNCASYNC_MEMORY_N", "2000"))
BOUND_KIB = float(os.environ.get("SYNCASYNC_MEMORY_BOUND_KIB", "1.2"))
SLACK = 100        # descriptors for the test itself and the server's own

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < N + SLACK:
    N = hard - SLACK
    tap.diag("descriptor hard limit %d: %d requests" % (hard, N))
if N < 500:
    tap.skip_all("the descriptor limit allows only %d connections" % N)
resource.setrlimit(resource.RLIMIT_NOFILE, (N + SLACK, hard))


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def in_flight(server):
    """Requests in flight (the stats request itself is not counted)."""
    return (server.stats(timeout=30.0) or {}).get("in_flight", -1)


REQUEST = fc.build_request(params=fc.default_params(uri="/async"))
with fc.Server(BINARY, args=["--mode", "timer", "--sleep", "60", "--sleep-on", "all",
                             "--max-conns", str(N + 50), "--max-requests", str(N + 50)],
               env={"SYNCASYNC_STATE_DIR": "/nonexistent"}, nofile=N + SLACK) as server:
    # Warm: the stats request reads through the same buffers a request does.
    tap.eq(in_flight(server), 0, "the server answers /async/stats, nothing in flight")
    before = vm_rss_kib(server.pid)
    socks = []
    try:
        for _ in range(N):
            s = socket.create_connection(server.address, timeout=10.0)
            s.sendall(REQUEST)
            socks.append(s)
        deadline = time.monotonic() + 120
        count = in_flight(server)
        while count < N and time.monotonic() < deadline:
            time.sleep(0.05)    # polling the server's own count, not a guess
            count = in_flight(server)
        peak = vm_rss_kib(server.pid)
        tap.eq(count, N, "all %d requests in flight at once" % N)
        per = (peak - before) / N
        tap.diag("VmRSS %d KiB before, %d KiB with %d waiting: %.3f KiB per waiting request"
                 % (before, peak, N, per))
        tap.ok(per <= BOUND_KIB, "memory per waiting timer request: %.3f KiB <= %g KiB"
               % (per, BOUND_KIB))
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 60
    count = in_flight(server)
    while count != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        count = in_flight(server)
    tap.eq(count, 0, "every hung-up request cancelled: none in flight")
    tap.ok(server.alive(), "async_fcgi still running")
tap.done()
