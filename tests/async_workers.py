#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""async_workers.py - async_fcgi --workers N and the waits it reports, with
the project's FastCGI client straight at async_fcgi (no web server).

  - the offload pool's exhaustion waves: SYNCASYNC_POOL_THREADS=2 and 4
    sleepers of 1.5 s: two sleep side by side at once, two wait a full
    sleep (and say so in waited_us), quick requests still fly;
  - SYNCASYNC_SLEEP_ON's sets reach the server: 2,4 and the repeating 3/4;
  - --workers 2: two pids behind one socket, /async/stats naming the
    worker and adding the totals;
  - global numbering: 500 requests in flight at once across 2 workers,
    numbers 1..500 with no gap and no duplicate;
  - dilution: block mode with 2 workers, a sleeper on one worker's kept
    connection: requests on that worker's connections wait for it, those
    on the other worker's do not;
  - a worker killed mid-run: replaced at once, a request on the other
    worker unaffected, numbering goes on without a duplicate; one killed
    within a second of its start is replaced a second later (the
    crash-loop guard);
  - SIGTERM: every worker drains its request in hand, exit 0;
  - bad --workers values are refused, named.
Timing margins are wide: a sleep of 1.5 s against bounds of 0.5 s."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client as fc  # noqa: E402
import harness  # noqa: E402

tap = harness.Tap()
BINARY = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
if not os.access(BINARY, os.X_OK):
    tap.skip_all("%s is not built" % BINARY)

QUIET = ["--stall-ms", "10000"]
OVERRIDES = {"SYNCASYNC_SLEEP_ON": "0", "SYNCASYNC_QUERY_OVERRIDES": "1",
             "SYNCASYNC_ASYNC_MODE": "timer"}
SLEEP = 1.5


def skip(what, reason):
    tap.ok(True, "%s # SKIP %s" % (what, reason))


def wait_for(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def send_all(address, queries, timeout=30.0):
    """Sends one request per query, each on its own connection, all before
    reading any answer; returns [(Response, latency in s)] in send order."""
    conns, sent = [], []
    for query in queries:
        conn = fc.Conn(address, timeout)
        conn.send_request(params=fc.default_params(query=query))
        conns.append(conn)
        sent.append(time.monotonic())
    out = [None] * len(conns)
    # Read in any order: poll each connection until its answer is complete.
    import selectors
    sel = selectors.DefaultSelector()
    for i, conn in enumerate(conns):
        sel.register(conn.sock, selectors.EVENT_READ, i)
    bufs = [b""] * len(conns)
    deadline = time.monotonic() + timeout
    left = len(conns)
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            i = key.data
            try:
                data = conns[i].sock.recv(65536)
            except OSError:
                data = b""
            if data:
                bufs[i] += data
                if not ends_request(bufs[i]):
                    continue
            sel.unregister(conns[i].sock)
            out[i] = (response_of(bufs[i]), time.monotonic() - sent[i])
            left -= 1
    for conn in conns:
        conn.close()
    return out


def ends_request(buf):
    return any(rec.type == fc.END_REQUEST for rec in fc.decode_records(buf)[0])


def response_of(buf):
    r = fc.Response()
    for rec in fc.decode_records(buf)[0]:
        if rec.type == fc.STDOUT:
            r.stdout += rec.content
        elif rec.type == fc.END_REQUEST:
            r.end = rec.end_request()
    r.status, r.headers, r.body = fc.parse_stdout(r.stdout)
    return r


def kept_conns(server, n):
    """n kept connections, each with one quick request answered: {pid: [Conn]}."""
    by_pid = {}
    for _ in range(n):
        conn = fc.Conn(server.address, 10.0)
        conn.send_request(keep_conn=True, params=fc.default_params(query="sleep=0"))
        r = conn.read_response(1, 10.0)
        by_pid.setdefault((r.json() or {}).get("pid"), []).append(conn)
    return by_pid


def check_offload_waves():
    env = dict(OVERRIDES, SYNCASYNC_ASYNC_MODE="offload", SYNCASYNC_POOL_THREADS="2")
    with fc.Server(BINARY, QUIET, env=env) as server:
        queries = ["sleep=%g" % SLEEP] * 4 + ["sleep=0"] * 4
        out = send_all(server.address, queries)
        tap.ok(all(o is not None and o[0].status == 200 for o in out),
               "offload waves: pool of 2, 4 sleepers and 4 quick requests: all 200",
               [o and o[0] for o in out])
        if not all(o is not None and o[0].status == 200 for o in out):
            return
        sleepers = [(o[0].json()["waited_us"] / 1e6, o[1]) for o in out[:4]]
        quick = [(o[0].json()["waited_us"] / 1e6, o[1]) for o in out[4:]]
        tap.diag("sleepers (waited, latency): %s; quick: %s" % (
            ["%.2f/%.2f" % s for s in sleepers], ["%.2f/%.2f" % q for q in quick]))
        first = [s for s in sleepers if s[0] < 0.5]
        later = [s for s in sleepers if s[0] >= SLEEP - 0.5]
        tap.eq(len(first), 2, "  two sleepers took a worker at once (waited_us < 0.5 s)")
        tap.ok(all(SLEEP - 0.3 < lat < SLEEP + 1.0 for _, lat in first),
               "    and answered after one sleep, side by side", first)
        tap.eq(len(later), 2, "  two waited a full sleep for one (waited_us >= %.1f s)"
               % (SLEEP - 0.5))
        tap.ok(all(2 * SLEEP - 0.3 < lat < 2 * SLEEP + 1.5 for _, lat in later),
               "    and answered after two sleeps", later)
        tap.ok(all(w == 0 and lat < 0.5 for w, lat in quick),
               "  quick requests flew (waited_us 0, < 0.5 s)", quick)


def check_sleep_on_sets():
    for value, sleepers in (("2,4", {2, 4}), ("3/4", {3, 7})):
        env = {"SYNCASYNC_SLEEP_ON": value, "SYNCASYNC_SLEEP_SECONDS": "0.01",
               "SYNCASYNC_ASYNC_MODE": "timer"}
        with fc.Server(BINARY, QUIET, env=env) as server:
            slept = set()
            for _ in range(8):
                body = fc.simple_get(server.address).json() or {}
                if body.get("message", "").endswith("(sleep)"):
                    slept.add(body.get("request_no"))
        tap.eq(slept, sleepers, "SYNCASYNC_SLEEP_ON=%s: requests %s of 1..8 sleep"
               % (value, sorted(sleepers)))
    with fc.Server(BINARY, QUIET + ["--sleep-on", "1-2/3", "--sleep", "0.01"],
                   env={"SYNCASYNC_ASYNC_MODE": "timer"}) as server:
        slept = [(fc.simple_get(server.address).json() or {}).get("message", "")
                 .endswith("(sleep)") for _ in range(6)]
    tap.eq(slept, [True, True, False] * 2, "--sleep-on 1-2/3: 1, 2, 4, 5 sleep")


def check_stats_and_pids():
    with fc.Server(BINARY, QUIET + ["--workers", "2"], env=OVERRIDES) as server:
        tap.ok(wait_for(lambda: all(w.get("pid") for w in server.stats()["per_worker"]), 10),
               "--workers 2: both workers serve")
        st = server.stats()
        pids = {w["pid"] for w in st["per_worker"]}
        tap.eq((st["workers"], len(pids)), (2, 2), "  /async/stats: 2 workers, 2 pids")
        tap.ok(server.pid not in pids, "  neither is the supervisor")
        tap.ok(st["worker"]["pid"] in pids and st["worker"]["index"] in (0, 1)
               and st["per_worker"][st["worker"]["index"]]["pid"] == st["worker"]["pid"],
               "  it names the worker that answered (index and pid)", st["worker"])
        for _ in range(6):
            fc.simple_get(server.address)
        st = server.stats()
        tap.eq(st["totals"]["requests"], 6, "  totals: 6 numbers given")
        tap.eq(sum(w["requests"] for w in st["per_worker"]), 6,
               "  the workers' own counts add up to it")
        tap.ok(st["totals"]["served"] >= 6, "  totals: served", st["totals"])


def check_numbering():
    env = dict(OVERRIDES)
    with fc.Server(BINARY, QUIET + ["--workers", "2", "--max-conns", "2000"],
                   env=env) as server:
        wait_for(lambda: all(w.get("pid") for w in server.stats()["per_worker"]), 10)
        before = server.stats()["totals"]["requests"]
        out = send_all(server.address, ["sleep=1"] * 500, timeout=60)
        ok = [o[0].json() for o in out if o is not None and o[0].status == 200]
        tap.eq(len(ok), 500, "numbering: 500 requests in flight at once across 2 workers: "
               "all 200")
        numbers = sorted(b["request_no"] for b in ok)
        tap.eq(numbers, list(range(before + 1, before + 501)),
               "  numbers %d..%d: no gap, no duplicate" % (before + 1, before + 500))
        per_pid = {}
        for b in ok:
            per_pid[b["pid"]] = per_pid.get(b["pid"], 0) + 1
        tap.diag("per worker: %r" % per_pid)
        tap.eq(len(per_pid), 2, "  both workers took some of them")


def check_dilution():
    env = dict(OVERRIDES, SYNCASYNC_ASYNC_MODE="block")
    with fc.Server(BINARY, QUIET + ["--workers", "2"], env=env) as server:
        wait_for(lambda: all(w.get("pid") for w in server.stats()["per_worker"]), 10)
        by_pid = {}
        for _ in range(10):
            for pid, conns in kept_conns(server, 8).items():
                by_pid.setdefault(pid, []).extend(conns)
            if len(by_pid) == 2 and all(len(c) >= 3 for c in by_pid.values()):
                break
        if not (len(by_pid) == 2 and all(len(c) >= 3 for c in by_pid.values())):
            skip("dilution", "could not get 3 kept connections on each worker: %r"
                     % {p: len(c) for p, c in by_pid.items()})
            return
        (pid_a, conns_a), (pid_b, conns_b) = list(by_pid.items())[:2]
        conns_a[0].send_request(keep_conn=True, request_id=2,
                                params=fc.default_params(query="sleep=%g" % SLEEP))

        def a_in_sleeper():
            # Asked on a connection of worker B: A's loop is the one held.
            conns_b[0].send_request(keep_conn=True, request_id=9,
                                    params=fc.default_params(uri="/async/stats"))
            st = conns_b[0].read_response(9, 5.0).json() or {}
            return any(w["pid"] == pid_a and w["in_flight"] >= 1
                       for w in st.get("per_worker", []))
        tap.ok(wait_for(a_in_sleeper, 5),
               "dilution: a %.1f s sleeper in worker A's loop (block)" % SLEEP)
        sent = {}
        for conn in conns_a[1:3] + conns_b[1:3]:
            conn.send_request(keep_conn=True, request_id=3,
                              params=fc.default_params(query="sleep=0"))
            sent[conn] = time.monotonic()
        lat_b = []
        for conn in conns_b[1:3]:
            r = conn.read_response(3, 10.0)
            lat_b.append((r.status, (r.json() or {}).get("pid"), time.monotonic() - sent[conn]))
        lat_a = []
        for conn in conns_a[1:3]:
            r = conn.read_response(3, 10.0)
            lat_a.append((r.status, (r.json() or {}).get("pid"), time.monotonic() - sent[conn]))
        sleeper = conns_a[0].read_response(2, 10.0)
        tap.diag("worker A %d: %r; worker B %d: %r" % (pid_a, lat_a, pid_b, lat_b))
        tap.ok(all(s == 200 and p == pid_b and t < SLEEP - 0.5 for s, p, t in lat_b),
               "  requests on worker B's connections do not wait (< %.1f s)" % (SLEEP - 0.5),
               lat_b)
        tap.ok(all(s == 200 and p == pid_a and t >= SLEEP - 0.5 for s, p, t in lat_a),
               "  requests on worker A's connections wait for the sleeper (>= %.1f s)"
               % (SLEEP - 0.5), lat_a)
        tap.eq(sleeper.status, 200, "  the sleeper answers")
        for conns in by_pid.values():
            for conn in conns:
                conn.close()


def check_killed_worker():
    with fc.Server(BINARY, QUIET + ["--workers", "2"], env=OVERRIDES) as server:
        tap.ok(wait_for(lambda: all(w.get("pid") for w in server.stats()["per_worker"]), 10),
               "killed: both workers serve")
        time.sleep(1.1)  # older than SA_SUPERVISE_RESPAWN_MS: replaced at once
        by_pid = {}
        for _ in range(10):
            for pid, conns in kept_conns(server, 4).items():
                by_pid.setdefault(pid, []).extend(conns)
            if len(by_pid) == 2:
                break
        if len(by_pid) != 2:
            skip("killed worker", "no kept connection on one worker")
            return
        (victim, _), (survivor, conns_b) = list(by_pid.items())[:2]
        last = server.stats()["totals"]["requests"]
        conns_b[0].send_request(keep_conn=True, request_id=5,
                                params=fc.default_params(query="sleep=1"))
        offset = server.stderr_size()
        os.kill(victim, signal.SIGKILL)
        r = conns_b[0].read_response(5, 10.0)
        tap.ok(r.status == 200 and (r.json() or {}).get("pid") == survivor,
               "  a request on the other worker, in flight across the kill: 200", r)

        def replaced():
            pids = {w.get("pid") for w in server.stats()["per_worker"]}
            return victim not in pids and None not in pids and len(pids) == 2
        t0 = time.monotonic()
        tap.ok(wait_for(replaced, 5), "  the killed worker is replaced")
        tap.diag("replaced after %.2f s" % (time.monotonic() - t0))
        log = "\n".join(server.stderr_since(offset))
        tap.ok("worker" in log and "(pid %d) killed by signal 9" % victim in log,
               "  the supervisor says which worker died and how", log)
        tap.ok("starting another\n" in log + "\n" and "in a second" not in log,
               "    and starts another at once (not held back as a crash loop)", log)
        # The crash-loop guard: a worker that dies within a second of its
        # start makes its slot wait a second.  The replacement is young now.
        def other_pid():
            pids = [w.get("pid") for w in server.stats()["per_worker"]]
            return None if None in pids else [p for p in pids if p != survivor][0]
        old = other_pid()
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: other_pid() not in (None, old), 10)
        young = other_pid()
        offset = server.stderr_size()
        os.kill(young, signal.SIGKILL)
        t0 = time.monotonic()
        tap.ok(wait_for(lambda: other_pid() not in (None, young), 10),
               "  a worker killed young is replaced too")
        held = time.monotonic() - t0
        log = "\n".join(server.stderr_since(offset))
        tap.ok("in a second (it died young)" in log and held >= 0.7,
               "    but a second later: the crash-loop guard (%.2f s)" % held, log)
        numbers = [(fc.simple_get(server.address).json() or {}).get("request_no")
                   for _ in range(6)]
        tap.ok(all(n is not None and n > last for n in numbers)
               and len(set(numbers)) == 6, "  numbering goes on, no duplicate",
               (last, numbers))
        for conns in by_pid.values():
            for conn in conns:
                conn.close()


def check_sigterm_drains():
    with fc.Server(BINARY, QUIET + ["--workers", "2", "--drain-timeout", "5000"],
                   env=OVERRIDES) as server:
        wait_for(lambda: all(w.get("pid") for w in server.stats()["per_worker"]), 10)
        pids = {w["pid"] for w in server.stats()["per_worker"]}
        conns = []
        for _ in range(4):
            conn = fc.Conn(server.address, 10.0)
            conn.send_request(params=fc.default_params(query="sleep=1"))
            conns.append(conn)
        wait_for(lambda: server.stats()["totals"]["in_flight"] >= 4, 5)
        server.signal(signal.SIGTERM)
        replies = [conn.read_response(1, 10.0) for conn in conns]
        for conn in conns:
            conn.close()
        tap.eq([r.status for r in replies], [200] * 4,
               "SIGTERM with 4 requests in flight on 2 workers: each finishes (200)")
        tap.eq(server.wait(10), 0, "  the supervisor exits 0 once every worker drained")
        tap.ok(not any(os.path.exists("/proc/%d" % p) for p in pids),
               "  no worker is left")
        log = server.stderr_text()
        tap.ok("every worker has stopped" in log, "  and says so", log)


def check_systemd_socket():
    """The systemd way (descriptor 3, LISTEN_PID its own, from
    systemd-socket-activate): the supervisor takes the socket, its workers
    serve on it."""
    import shutil
    import tempfile
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        skip("systemd socket with --workers 2", "systemd-socket-activate not installed")
        return
    work = tempfile.mkdtemp(prefix="syncasync-workers-")
    path = os.path.join(work, "async.sock")
    proc = subprocess.Popen([activate, "-l", path, "-E", "SYNCASYNC_SLEEP_ON=0",
                             BINARY, "--workers", "2"] + QUIET,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        def both():
            try:
                st = fc.simple_get(path, uri="/async/stats").json() or {}
            except OSError:
                return False
            return all(w.get("pid") for w in st.get("per_worker", [{}]))
        tap.ok(wait_for(both, 10), "systemd socket (LISTEN_FDS) with --workers 2: "
               "both workers serve on descriptor 3")
        numbers = [(fc.simple_get(path).json() or {}).get("request_no") for _ in range(4)]
        tap.eq(numbers, [1, 2, 3, 4], "  numbered across them")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    tap.eq(code, 0, "  SIGTERM: the supervisor exits 0")
    shutil.rmtree(work, ignore_errors=True)


def check_bad_option():
    for value in ("0", "65", "two", ""):
        result = subprocess.run([BINARY, "--listen", "127.0.0.1:1", "--workers", value],
                                capture_output=True, text=True, timeout=10)
        tap.ok(result.returncode == 2 and "--workers" in result.stderr,
               "--workers %r refused (exit 2), named" % value, result.stderr)


check_offload_waves()
check_sleep_on_sets()
check_stats_and_pids()
check_numbering()
check_dilution()
check_killed_worker()
check_sigterm_drains()
check_systemd_socket()
check_bad_option()
tap.done()
