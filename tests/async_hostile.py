# SPDX-License-Identifier: ISC
"""async_hostile.py - async_fcgi against hostile peers and stray signals (issue #15).

TAP test (tests/harness.py) with the project's own client (tests/fcgi_client.py),
each attack with the figure it is judged by:

  - SIGHUP, SIGUSR1, SIGUSR2, SIGALRM: the process survives, says so once per
    signal, and answers the next request;
  - 200 hang-ups of hour-long offloaded sleeps (4 threads): /async/stats
    pool_queued and pool_busy back to 0, an honest offloaded request answered
    at once;
  - a bounded pool (--pool-queue): past threads + queue, an offloaded request
    gets a 503 ended FCGI_OVERLOADED (lighttpd answers 500 to a bare
    OVERLOADED) and one log line, never a queue that grows;
  - PARAMS amplification: 200 connections each holding 64 KiB of empty
    name-value pairs and an open STDIN: VmRSS growth per connection;
  - slowloris: 200 connections at 1 byte/s against --max-conns 50: the honest
    request is answered during the attack, slow peers are closed for their
    rate, a whole request is bounded by --request-timeout;
  - the next request pipelined behind one that is answered (its first
    bytes, or whole records, in the same write; or behind a pending one)
    and then silent: closed at --request-timeout, not at the longer idle
    timeout;
  - a request left unfinished behind 16 MiB of GET_VALUES whose answers the
    peer reads slowly (--high-water 64 MiB): every write restarted the
    connection's one timeout, so it outlived --request-timeout 2000 by
    seconds; the time the server logs;
  - SIGTERM with an hour-long offloaded job (client still there, and client
    gone) and --drain-timeout 1000: the exit time.

Run: top_srcdir=. top_builddir=BUILD python3 tests/async_hostile.py
"""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import fcgi_client as fc  # noqa: E402
from harness import wait_for  # noqa: E402

tap = harness.Tap()
BINARY = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
if not os.access(BINARY, os.X_OK):
    tap.skip_all("%s is not built" % BINARY)

# Watchdog lines are not what these checks count; a loaded machine stalls.
QUIET = ["--stall-ms", "10000"]
ENV = {"SYNCASYNC_SLEEP_ON": "0", "SYNCASYNC_ASYNC_MODE": "timer",
       "SYNCASYNC_QUERY_OVERRIDES": "1"}
HOUR = "sleep=3600&mode=offload"
REPORTS = []    # sanitizer reports and exit statuses of the servers


class Server(fc.Server):
    """fc.Server that keeps what a sanitizer said, and how it exited."""

    def __exit__(self, *exc):
        status = self.stop()
        text = self.stderr_text()
        if status not in (0, -signal.SIGKILL) or "Sanitizer" in text or \
                "runtime error" in text:
            REPORTS.append("exit status %s\n%s" % (status, text[-3000:]))
        super().__exit__(*exc)


def timed_get(address, query="", timeout=10.0):
    """(response, seconds) of one GET /async."""
    t0 = time.monotonic()
    resp = fc.simple_get(address, query=query, timeout=timeout)
    return resp, time.monotonic() - t0


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_request(address, query, timeout=5.0):
    """A connection with a whole request sent and nothing read yet."""
    conn = fc.Conn(address, timeout)
    conn.send_request(params=fc.default_params(query=query))
    return conn


def stats_figure(srv, name):
    stats = srv.stats()
    return stats.get(name) if stats else None


def check_signals():
    with Server(BINARY, QUIET, env=ENV) as srv:
        sleeper = open_request(srv.address, "sleep=1&mode=timer")
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
            offset = srv.stderr_size()
            srv.signal(sig)
            name = signal.Signals(sig).name
            lines = wait_for(lambda: [l for l in srv.stderr_since(offset)
                                      if name in l], 3.0)
            tap.ok(srv.alive() and len(lines) == 1,
                   "%s: async_fcgi survives and says so in one line" % name,
                   srv.stderr_since(offset))
        resp = sleeper.read_response(timeout=5.0)
        sleeper.close()
        tap.ok(resp.status == 200, "  the request in flight during the signals is answered", resp)
        resp, took = timed_get(srv.address)
        tap.ok(resp.status == 200 and took < 2.0,
               "  and the next one (%.3f s)" % took, resp)


def check_hangups():
    """200 hang-ups of an hour-long offloaded sleep; 4 threads."""
    with Server(BINARY, QUIET + ["--pool-threads", "4"], env=ENV) as srv:
        for _ in range(200):
            conn = open_request(srv.address, HOUR)
            conn.close()
        quiet = wait_for(lambda: srv.stats() and srv.stats()["pool_queued"] == 0 and
                         srv.stats()["pool_busy"] == 0 and srv.stats()["in_flight"] == 0, 10.0)
        stats = srv.stats()
        tap.diag("after 200 hang-ups: pool_queued %s, pool_busy %s" % (
            stats.get("pool_queued"), stats.get("pool_busy")))
        tap.ok(quiet, "200 hang-ups (4 threads): pool_queued and pool_busy back to 0", stats)
        resp, took = timed_get(srv.address, "sleep=0.1&mode=offload")
        tap.diag("an honest offloaded request after them: %.3f s" % took)
        tap.ok(resp.status == 200 and took < 2.0,
               "  an honest offloaded request is answered at once (%.3f s)" % took, resp)


def check_bound():
    """Past threads + queue, an offloaded request gets OVERLOADED."""
    args = QUIET + ["--pool-threads", "2", "--pool-queue", "3", "--max-requests", "1000"]
    with Server(BINARY, args, env=ENV) as srv:
        held = [open_request(srv.address, HOUR) for _ in range(5)]
        busy = wait_for(lambda: (stats_figure(srv, "pool_busy"), stats_figure(srv, "pool_queued"))
                        == (2, 3), 5.0)
        tap.ok(busy, "--pool-threads 2 --pool-queue 3: 2 running, 3 queued")
        offset = srv.stderr_size()
        refused = []
        for _ in range(20):
            with open_request(srv.address, HOUR) as conn:
                refused.append(conn.read_response(timeout=5.0))
        bad = [r for r in refused if r.end != (0, fc.OVERLOADED) or r.status != 503]
        tap.ok(not bad, "  20 more offloaded requests each get a 503 and FCGI_OVERLOADED at once",
               bad[:1])
        lines = [l for l in srv.stderr_since(offset) if "pool" in l and "full" in l]
        tap.ok(len(lines) == 1, "  with one log line (rate-limited)", srv.stderr_since(offset))
        queued = stats_figure(srv, "pool_queued")
        tap.diag("pool_queued after 20 more: %s" % queued)
        tap.ok(queued == 3, "  the queue stayed at 3")
        resp, took = timed_get(srv.address, "sleep=0&mode=timer")
        tap.ok(resp.status == 200, "  a request that needs no pool is still answered", resp)
        for conn in held:
            conn.close()
        quiet = wait_for(lambda: stats_figure(srv, "pool_busy") == 0 and
                         stats_figure(srv, "pool_queued") == 0, 10.0)
        tap.ok(quiet, "  the held ones hang up: the pool is free again")
        resp, took = timed_get(srv.address, "sleep=0.1&mode=offload")
        tap.ok(resp.status == 200 and took < 2.0,
               "  and offloads again (%.3f s)" % took, resp)


def params_attack(address):
    """BEGIN, 64 KiB of empty name-value pairs, the end of PARAMS; STDIN
    left open."""
    conn = fc.Conn(address, 10.0)
    pairs = b"\x00\x00" * (65536 // 2 - 8)
    conn.send(fc.encode_record(fc.BEGIN_REQUEST, 1, fc.begin_body()) +
              fc.encode_stream(fc.PARAMS, 1, pairs, 65528))
    return conn


def check_params():
    args = QUIET + ["--max-params", "65536"]
    n = 200
    # Under ASan, freed memory waits in a quarantine and would count.
    env = dict(ENV, ASAN_OPTIONS=":".join(
        o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0") if o))
    with Server(BINARY, args, env=env) as srv:
        fc.simple_get(srv.address)
        before = vmrss_kib(srv.pid)
        conns = [params_attack(srv.address) for _ in range(n)]
        wait_for(lambda: stats_figure(srv, "connections") == n + 1, 5.0)
        # Until every PARAMS stream is read: VmRSS stops growing.
        readings = [vmrss_kib(srv.pid)]

        def settled():
            readings.append(vmrss_kib(srv.pid))
            last = readings[-4:]
            return len(last) == 4 and max(last) - min(last) < 128
        wait_for(settled, 10.0, interval=0.4)
        after = vmrss_kib(srv.pid)
        per_conn = (after - before) / n
        tap.diag("PARAMS amplification: VmRSS %d -> %d KiB with %d connections: %.0f KiB each"
                 % (before, after, n, per_conn))
        tap.ok(per_conn < 400, "%d connections of 64 KiB of empty pairs: %.0f KiB each "
               "(< 400 KiB; an index per pair made it 1.1 MiB)" % (n, per_conn))
        resp, took = timed_get(srv.address)
        tap.ok(resp.status == 200 and took < 2.0,
               "  an honest request meanwhile (%.3f s)" % took, resp)
        for conn in conns:
            conn.close()


class Slowloris:
    """n connections sending a request one byte a second, on a thread."""

    def __init__(self, address, n):
        self.request = fc.build_request(params=fc.default_params())
        self.conns = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(address)
            self.conns.append([s, 0])
        self.stop = threading.Event()
        self.closed = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            for entry in self.conns:
                s, sent = entry
                if s is None:
                    continue
                try:
                    if s.send(self.request[sent:sent + 1]) == 1:
                        entry[1] += 1
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    entry[0] = None
                    self.closed += 1
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        self.thread.join()
        for s, _ in self.conns:
            if s is not None:
                s.close()


def check_slowloris():
    args = QUIET + ["--max-conns", "50"]
    with Server(BINARY, args, env=ENV) as srv:
        attack = Slowloris(srv.address, 200)
        try:
            wait_for(lambda: (stats_figure(srv, "connections_accepted") or 0) >= 50, 5.0)
            time.sleep(1.5)
            resp, took = timed_get(srv.address, timeout=10.0)
            tap.diag("slowloris, 200 connections at 1 byte/s, --max-conns 50: "
                     "an honest request answered in %.3f s" % took)
            tap.ok(resp.status == 200 and took < 3.0,
                   "slowloris (200 at 1 byte/s, --max-conns 50): an honest request answered "
                   "(%.3f s)" % took, resp)
            made_room = wait_for(lambda: "making room" in srv.stderr_text(), 3.0)
            tap.ok(made_room, "  at the cap the server made room, with a log line")
            slow = wait_for(lambda: "bytes/s" in srv.stderr_text(), 12.0)
            tap.ok(slow, "  slow peers are closed for their rate, with a log line")
        finally:
            attack.close()
    # The whole request is bounded, whatever the rate.
    args = QUIET + ["--request-timeout", "1500", "--min-rate", "0"]
    with Server(BINARY, args, env=ENV) as srv:
        conn = fc.Conn(srv.address, 5.0)
        request = fc.build_request(params=fc.default_params())
        t0 = time.monotonic()
        closed = False
        for i in range(len(request) - 1):
            try:
                conn.send(request[i:i + 1])
            except OSError:
                closed = True
                break
            if conn.wait_closed(0.1):
                closed = True
                break
        took = time.monotonic() - t0
        conn.close()
        tap.ok(closed and 1.2 < took < 4.0,
               "--request-timeout 1500: a request sent a byte per 0.1 s is closed after "
               "%.2f s" % took)
        tap.ok("--request-timeout" in srv.stderr_text() or "request not complete"
               in srv.stderr_text(), "  with a log line", srv.stderr_text()[-500:])


def check_pipelined_deadline():
    """The request after an answered one starts its --request-timeout at
    its first byte, whether that came in the write that finished the one
    before (a header's first bytes, or whole records) or while a pending
    one waited."""
    args = QUIET + ["--request-timeout", "1000", "--idle-timeout", "8000", "--min-rate", "0"]
    first = fc.build_request(params=fc.default_params(), keep_conn=True)
    pending = fc.build_request(params=fc.default_params(query="sleep=0.3&mode=timer"),
                               keep_conn=True)
    cases = [("half a header", first, first[:4]),
             ("its BEGIN_REQUEST, whole", first, first[:16]),
             ("BEGIN_REQUEST and half a PARAMS record", first, first[:30]),
             ("half a header, behind a pending request", pending, first[:4])]
    with Server(BINARY, args, env=ENV) as srv:
        for what, before, tail in cases:
            with fc.Conn(srv.address, 10.0) as conn:
                t0 = time.monotonic()
                conn.send(before + tail)
                resp = conn.read_response(timeout=5.0)
                closed = conn.wait_closed(10.0)
                took = time.monotonic() - t0
            tap.diag("pipelined after an answered request: %s, then silent: closed after "
                     "%.2f s (--request-timeout 1000, --idle-timeout 8000)" % (what, took))
            tap.ok(resp.status == 200 and closed and took < 4.0,
                   "the next request's %s in the same write, then silence: closed by "
                   "--request-timeout 1000 (%.2f s, idle timeout 8 s)" % (what, took), resp)
        tap.ok("request not complete" in srv.stderr_text(), "  with a log line",
               srv.stderr_text()[-500:])


def check_deadline_while_writing():
    """Answers flowing out must not stretch the deadline of a request still
    coming in."""
    args = QUIET + ["--request-timeout", "2000", "--idle-timeout", "10000", "--min-rate", "0",
                    "--high-water", "67108864"]
    values = fc.encode_record(fc.GET_VALUES, 0, fc.encode_params(
        [("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""), ("FCGI_MPXS_CONNS", "")]))
    stream = fc.encode_record(fc.BEGIN_REQUEST, 1, fc.begin_body()) + values * 300000
    with Server(BINARY, args, env=ENV) as srv:
        sock = socket.create_connection(srv.address, 5.0)
        sock.setblocking(False)
        t0 = time.monotonic()
        sent = 0
        while sent < len(stream) and time.monotonic() - t0 < 1.5:
            try:
                sent += sock.send(stream[sent:])
            except BlockingIOError:
                time.sleep(0.002)
        # 1.6 MB of answers every 0.5 s: enough to make the socket writable
        # each time, never enough to empty what waits.
        while time.monotonic() - t0 < 12.0 and "request not complete" not in srv.stderr_text():
            time.sleep(0.5)
            taken = 0
            try:
                while taken < 1600000:
                    data = sock.recv(min(1 << 20, 1600000 - taken))
                    if not data:
                        break
                    taken += len(data)
            except BlockingIOError:
                pass
            except OSError:
                break
        sock.close()
        text = srv.stderr_text()
        lines = [l for l in text.splitlines() if "request not complete" in l]
        took_ms = int(lines[0].split("after ")[1].split(" ms")[0]) if lines else None
        tap.diag("a request behind %d bytes of GET_VALUES, answers read 1.6 MB per 0.5 s, "
                 "--request-timeout 2000: closed after %s ms" % (sent, took_ms))
        tap.ok(took_ms is not None and took_ms < 3500,
               "answers read slowly do not stretch --request-timeout 2000 (closed after %s ms)"
               % took_ms, text[-500:])


def check_drain():
    args = QUIET + ["--drain-timeout", "1000", "--pool-threads", "2"]
    for gone in (False, True):
        what = "the client gone" if gone else "the client waiting"
        with Server(BINARY, args, env=ENV) as srv:
            conn = open_request(srv.address, HOUR)
            wait_for(lambda: stats_figure(srv, "pool_busy") == 1, 5.0)
            if gone:
                conn.close()
                wait_for(lambda: stats_figure(srv, "in_flight") == 0, 5.0)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            rc = srv.wait(10.0)
            took = time.monotonic() - t0
            conn.close()
            tap.diag("SIGTERM, an hour-long offloaded job, %s, --drain-timeout 1000: "
                     "exit after %.3f s" % (what, took))
            tap.ok(rc is not None and took < 3.0,
                   "SIGTERM with an hour-long offloaded job, %s: exits within the drain "
                   "(%.3f s, status %s)" % (what, took, rc))


check_signals()
check_hangups()
check_bound()
check_params()
check_slowloris()
check_pipelined_deadline()
check_deadline_while_writing()
check_drain()
tap.ok(not REPORTS, "every server exited 0 with no sanitizer report", "\n".join(REPORTS))
tap.done()
