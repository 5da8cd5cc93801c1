# SPDX-License-Identifier: ISC
"""pool_attacks.py - /pool (sync_cgi --workers N) against hostile peers and
stray signals, with the project's own FastCGI client straight at the pool's
socket (no web server in between, so every byte is the attacker's).

  - silent connections, one per worker: an honest request is answered
    within the read deadline (5 s) plus a margin, and each silent one is
    closed; so is one that sends only management records; a head sent a
    byte at a time is refused with a 400 in time;
  - a 200 MB value, a PARAMS stream one byte over the 64K cap, a name
    length of 0x7ffffff0: 413, the worker goes on serving; a stream at the
    cap is served;
  - 50 of those 16-byte headers a second: honest requests succeed, every
    worker is alive after; workers killed 50 times a second: each is
    replaced at once, honest requests still succeed;
  - libfcgi's deviations: padding after BEGIN_REQUEST (400, not a
    misread), roles AUTHORIZER and FILTER (END_REQUEST UNKNOWN_ROLE),
    GET_VALUES answered, an unknown management record answered, a second
    request pipelined on a KEEP_CONN connection: the connection is closed
    after the first answer instead of hanging; cgi-fcgi, an independent
    client, is served; a lone worker (no --workers) too;
  - the answer before the empty STDIN (Apache's order): the end of the
    stream follows it, the empty STDIN sent then is taken, and the worker
    waits for the peer to close, SA_POOL_LINGER_MS (2 s) at most;
  - a listening socket inherited non-blocking on descriptor 0 (systemd's
    NonBlocking=yes, a spawner): every worker waits for connections and
    serves them, none exits;
  - signals: SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE to the supervisor and to a
    worker change nothing (the supervisor logs the first three); SIGHUP
    restarts every worker after its request in hand; SIGTERM exits once the
    request in hand is answered, or kills it SA_POOL_DRAIN_MS (10 s) later,
    or at once on a second SIGTERM."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client as fc  # noqa: E402
import harness  # noqa: E402

tap = harness.Tap()
SYNC_CGI = os.path.join(harness.BUILDDIR, "sync_cgi", "sync_cgi")
READ_S = 5.0          # SA_POOL_READ_MS
DRAIN_S = 10.0        # SA_POOL_DRAIN_MS
LINGER_S = 2.0        # SA_POOL_LINGER_MS
PARAMS_MAX = 65536    # SA_POOL_PARAMS_MAX
# 0x7ffffff0 for both lengths: libfcgi would malloc ~4 GB and abort.
HUGE_PAIR = struct.pack(">II", 0x7ffffff0 | 0x80000000, 0x7ffffff0 | 0x80000000)


class Pool(fc.Server):
    """sync_cgi --workers N on a free port (or a unix socket), fresh state."""

    def __init__(self, workers=4, unix=False, listener=None, **env):
        self.state = tempfile.mkdtemp(prefix="syncasync-pool-state-")
        environ = {"SYNCASYNC_STATE_DIR": self.state, "SYNCASYNC_SLEEP_ON": "0",
                   "SYNCASYNC_QUERY_OVERRIDES": "1"}
        environ.update(env)
        super().__init__(SYNC_CGI, ["--workers", workers], env=environ, unix=unix,
                         listener=listener)
        self.workers = workers
        if not wait_for(lambda: len(self.children()) == workers):
            self.__exit__()
            raise RuntimeError("the pool did not start %d workers" % workers)

    def children(self):
        """Live (not zombie) child pids of the supervisor."""
        found = []
        try:       # CONFIG_PROC_CHILDREN; else every process's parent
            with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
                entries = f.read().split()
        except OSError:
            entries = os.listdir("/proc")
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid and fields[0] != "Z":
                found.append(int(entry))
        return sorted(found)

    def get(self, query="", timeout=10.0):
        """One honest GET /pool; (status, seconds, pid)."""
        started = time.monotonic()
        try:
            r = fc.simple_get(self.address, uri="/pool", query=query, timeout=timeout)
            return r.status, time.monotonic() - started, (r.json() or {}).get("pid")
        except OSError as e:
            return "%s" % e, time.monotonic() - started, None

    def log_count(self, text):
        return self.stderr_text().count(text)

    def __exit__(self, *exc):
        super().__exit__(*exc)
        shutil.rmtree(self.state, ignore_errors=True)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def begin(request_id=1, role=fc.RESPONDER, flags=0, padding=0):
    return fc.encode_record(fc.BEGIN_REQUEST, request_id, fc.begin_body(role, flags), padding)


def send_params_stream(conn, total, record=65535):
    """BEGIN, the honest params, then one value of total bytes, streamed;
    "all", or "part" when the pool stopped reading (it refused)."""
    try:
        send_params(conn, total, record)
        return "all"
    except OSError:
        return "part"


def send_params(conn, total, record):
    head = fc.encode_params(fc.default_params(uri="/pool")) + \
        fc.encode_length(1) + fc.encode_length(total) + b"X"
    out = [begin() + fc.encode_record(fc.PARAMS, 1, head)]
    chunk = fc.encode_record(fc.PARAMS, 1, b"a" * record)
    left = total
    while left > 0:
        n = min(left, record)
        out.append(chunk if n == record else fc.encode_record(fc.PARAMS, 1, b"a" * n))
        left -= n
        if len(out) >= 64:
            conn.send(b"".join(out))
            out = []
    # As the front ends do, a head is one write (it must fit the socket's
    # queue: sync_cgi(8) BUGS).
    conn.send(b"".join(out) + fc.encode_record(fc.PARAMS, 1) + fc.encode_record(fc.STDIN, 1))


# --- item 7: silent and slow peers --------------------------------------------------

def check_silent():
    with Pool(workers=4) as pool:
        silent = [fc.Conn(pool.address, timeout=30) for _ in range(4)]
        status, took, _ = pool.get(timeout=30)
        tap.ok(status == 200 and took < READ_S + 3.0,
               "silent: with 4 silent connections on 4 workers, an honest request is "
               "answered in %.1f s (deadline %.0f s + margin)" % (took, READ_S),
               (status, took))
        tap.ok(all(c.wait_closed(READ_S + 3.0) for c in silent),
               "  each silent connection is closed by the pool")
        for c in silent:
            c.close()
        tap.eq(pool.log_count("no request within 5000 ms; connection closed"), 4,
               "  one log line each")
        tap.eq(len(pool.children()), 4, "  4 workers still live")

        # GET_VALUES every 0.1 s, each answer read, never a request.
        with fc.Conn(pool.address, timeout=30) as conn:
            started = time.monotonic()
            answered = 0
            while time.monotonic() - started < READ_S + 5.0:
                try:
                    if fc.get_values(conn, ["FCGI_MAX_CONNS"], timeout=1.0) is None:
                        break
                except OSError:
                    break
                answered += 1
                if conn.wait_closed(0.1):
                    break
            took = time.monotonic() - started
        tap.ok(answered > 10 and READ_S - 0.5 < took < READ_S + 3.0,
               "GET_VALUES every 0.1 s and no request: %d answered, then closed after "
               "%.1f s" % (answered, took), (answered, took))

        # A head sent a byte every 0.1 s: it would take 20 s.
        with fc.Conn(pool.address, timeout=30) as conn:
            data = fc.build_request(params=fc.default_params(uri="/pool"))
            started = time.monotonic()
            try:
                for byte in data:
                    conn.send(bytes([byte]))
                    if conn.wait_closed(0.1):
                        break
            except OSError:
                pass
            r = conn.read_response(timeout=5)
            took = time.monotonic() - started
        tap.ok(r.status == 400 and READ_S - 0.5 < took < READ_S + 3.0,
               "slow head (a byte per 0.1 s): 400 after %.1f s" % took, r)


def wakeups(pid):
    """The voluntary context switches of process pid so far."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def check_partial_heads():
    """A partial head (BEGIN_REQUEST and part of PARAMS) held open, then
    ended by the peer shutting its side or closing, with one worker."""
    partial = fc.build_request(params=fc.default_params(uri="/pool"))[:30]
    with Pool(workers=1) as pool:
        worker = pool.children()[0]
        before = wakeups(worker)
        with fc.Conn(pool.address, timeout=30) as conn:
            conn.send(partial)
            status, took, _ = pool.get(timeout=30)
            r = conn.read_response(timeout=5)
        woken = wakeups(worker) - before
        tap.ok(status == 200 and READ_S - 0.5 < took < READ_S + 3.0 and r.status == 400,
               "partial head held open: 400 after the deadline, the request behind it "
               "answered in %.1f s" % took, (status, took, r))
        tap.ok(woken < 100, "  the worker woke %d times meanwhile (a 5 ms nap loop: ~1000)"
               % woken, woken)
    for unix in (False, True):
        where = "unix socket" if unix else "TCP"
        with Pool(workers=1, unix=unix) as pool:
            for how in ("shutdown(SHUT_WR)", "close"):
                conn = fc.Conn(pool.address, timeout=30)
                conn.send(partial)
                if how == "close":
                    conn.close()
                else:
                    conn.sock.shutdown(socket.SHUT_WR)
                status, took, _ = pool.get(timeout=30)
                tap.ok(status == 200 and took < 2.0,
                       "%s: a partial head, then %s: the next request is answered in "
                       "%.2f s (deadline %.0f s)" % (where, how, took, READ_S),
                       (status, took))
                if how != "close":
                    tap.ok(conn.wait_closed(2.0), "  and the half-closed one is closed")
                    conn.close()
            tap.eq(pool.log_count("the peer hung up before its request head was "
                                  "complete"), 2, "  one log line each")
            tap.eq(pool.log_count("request refused"), 0, "  and no 400 to a peer gone")


# --- item 8: the PARAMS cap -----------------------------------------------------

def check_params_cap():
    for unix in (False, True):
        where = "unix socket" if unix else "TCP"
        with Pool(workers=1, unix=unix) as pool:
            status, _, pid = pool.get()
            with fc.Conn(pool.address, timeout=20) as conn:
                sent = send_params_stream(conn, 200 * 1024 * 1024)
                r = conn.read_response(timeout=10)
            tap.ok(r.status == 413 and b"limit" in r.body,
                   "%s: a 200 MB value is refused with 413 (the client sent %s of it)"
                   % (where, sent), r)
            status2, _, pid2 = pool.get()
            tap.ok(status == status2 == 200 and pid == pid2,
                   "  the same worker serves the next request", (status2, pid, pid2))
            tap.eq(pool.log_count("request refused (Content Too Large)"), 1,
                   "  one log line")

            base = len(fc.encode_params(fc.default_params(uri="/pool")))
            at_cap = PARAMS_MAX - base - 6     # the pair's 1+4 length bytes and "X"
            for size, expected in ((at_cap, 200), (at_cap + 1, 413)):
                with fc.Conn(pool.address, timeout=10) as conn:
                    send_params_stream(conn, size, record=8192)
                    r = conn.read_response(timeout=10)
                tap.eq(r.status, expected, "  PARAMS of %d bytes (the cap %s): %d" % (
                    base + 6 + size, "exactly" if expected == 200 else "+ 1", expected))

            with fc.Conn(pool.address) as conn:
                conn.send(begin() + fc.encode_record(fc.PARAMS, 1, HUGE_PAIR) +
                          fc.encode_record(fc.PARAMS, 1) + fc.encode_record(fc.STDIN, 1))
                r = conn.read_response(timeout=5)
            tap.ok(r.status == 413, "  a name length of 0x7ffffff0: 413", r)
            tap.eq(pool.children(), [pid], "  and the worker is alive")


# --- item 9: many deaths ---------------------------------------------------------

def honest_while(pool, attack, seconds):
    """Runs attack() in a thread for seconds while sending honest requests
    one after another; returns (successes, attempts)."""
    stop = time.monotonic() + seconds
    thread = threading.Thread(target=attack, args=(stop,))
    thread.start()
    ok = tries = 0
    while time.monotonic() < stop:
        status, _, _ = pool.get(timeout=5)
        tries += 1
        ok += status == 200
    thread.join()
    return ok, tries


def check_deaths():
    with Pool(workers=4) as pool:
        def huge_headers(stop):
            while time.monotonic() < stop:
                try:
                    with fc.Conn(pool.address) as conn:
                        conn.send(begin() + fc.encode_record(fc.PARAMS, 1, HUGE_PAIR))
                except OSError:
                    pass
                time.sleep(0.02)
        ok, tries = honest_while(pool, huge_headers, 3.0)
        tap.ok(tries > 0 and ok >= 0.9 * tries,
               "16-byte headers at 50/s: %d of %d honest requests succeed" % (ok, tries))
        tap.ok(wait_for(lambda: len(pool.children()) == 4, 2.0),
               "  4 workers live after", pool.children())

        zero_since = [None, 0.0]

        def kills(stop):
            while time.monotonic() < stop:
                live = pool.children()
                now = time.monotonic()
                if live:
                    try:
                        os.kill(live[0], signal.SIGKILL)
                    except OSError:
                        pass
                    if zero_since[0] is not None:
                        zero_since[1] = max(zero_since[1], now - zero_since[0])
                        zero_since[0] = None
                elif zero_since[0] is None:
                    zero_since[0] = now
                time.sleep(0.02)
        before = pool.log_count("killed by signal 9")
        ok, tries = honest_while(pool, kills, 3.0)
        killed = pool.log_count("killed by signal 9") - before
        tap.ok(killed >= 25, "workers killed %d times in 3 s (up to 50/s), one log line "
               "each" % killed)
        tap.ok(tries > 0 and ok >= 0.5 * tries,
               "  %d of %d honest requests succeed meanwhile" % (ok, tries))
        tap.ok(zero_since[1] < 0.5, "  never 0 live workers for long (longest %.3f s)"
               % zero_since[1])
        tap.ok(wait_for(lambda: len(pool.children()) == 4, 1.0),
               "  4 workers live within 1 s after", pool.children())


# --- item 10: libfcgi's deviations -------------------------------------------------

def check_deviations():
    with Pool(workers=2) as pool:
        params = fc.encode_params(fc.default_params(uri="/pool"))
        with fc.Conn(pool.address) as conn:
            conn.send(begin(padding=8) + fc.encode_stream(fc.PARAMS, 1, params) +
                      fc.encode_stream(fc.STDIN, 1, b""))
            r = conn.read_response(timeout=5)
        tap.ok(r.status == 400 and b"padding" in r.body,
               "BEGIN_REQUEST with padding: 400 naming it (libfcgi would misread it)", r)
        for role, name in ((fc.AUTHORIZER, "AUTHORIZER"), (fc.FILTER, "FILTER")):
            r = fc.request(pool.address, params=fc.default_params(uri="/pool"), role=role)
            tap.ok(r.protocol_status == fc.UNKNOWN_ROLE and not r.stdout,
                   "role %s: END_REQUEST FCGI_UNKNOWN_ROLE, nothing served" % name, r)
        with fc.Conn(pool.address) as conn:
            values = fc.get_values(conn, ["FCGI_MAX_CONNS", "FCGI_MAX_REQS",
                                          "FCGI_MPXS_CONNS", "OTHER"])
            tap.eq(values, [("FCGI_MAX_CONNS", "2"), ("FCGI_MAX_REQS", "2"),
                            ("FCGI_MPXS_CONNS", "0")], "GET_VALUES answered")
            conn.send(fc.encode_record(99, 0, b""))
            rec = conn.read_record(5)
            tap.ok(rec is not None and rec.type == fc.UNKNOWN_TYPE and
                   rec.content[:1] == b"\x63", "  then an unknown management type: "
                   "UNKNOWN_TYPE", rec)
            conn.send_request(params=fc.default_params(uri="/pool"))
            r = conn.read_response(timeout=5)
            tap.eq(r.status, 200, "  then a request on the same connection: 200")
        with fc.Conn(pool.address) as conn:
            conn.send(fc.build_request(request_id=1, keep_conn=True,
                                       params=fc.default_params(uri="/pool")) +
                      fc.build_request(request_id=2, keep_conn=True,
                                       params=fc.default_params(uri="/pool")))
            first = conn.read_response(1, timeout=5)
            started = time.monotonic()
            second = conn.read_response(2, timeout=5)
            took = time.monotonic() - started
        tap.ok(first.status == 200, "pipelined on KEEP_CONN: the first is answered", first)
        tap.ok(second.eof and not second.timed_out and took < 2.0,
               "  then the connection is closed (%.2f s), the second not left hanging"
               % took, second)
        tap.eq(pool.get()[0], 200, "  and the pool goes on serving")


def check_late_stdin():
    """Apache's mod_proxy_fcgi writes the empty STDIN after PARAMS, from the
    loop that then reads the answer, so the answer may come first; on a
    connection already closed that write fails (EPIPE) and Apache answers
    503 (AH01075 "sending empty stdin")."""
    head = begin() + fc.encode_stream(fc.PARAMS, 1, fc.encode_params(
        fc.default_params(uri="/pool")))
    with Pool(workers=1, unix=True) as pool:
        with fc.Conn(pool.address) as conn:
            conn.send(head)
            r = conn.read_response(timeout=5)
            ended = conn.wait_closed(2.0)
            try:
                conn.send(fc.encode_record(fc.STDIN, 1))
                late = "taken"
            except OSError as e:
                late = "%s" % e
            tap.ok(r.status == 200 and ended, "a head without the empty STDIN: 200, then "
                   "the end of the stream", r)
            tap.eq(late, "taken", "  the empty STDIN sent after the answer is taken")
            status, took, _ = pool.get()
        tap.ok(status == 200 and 1.0 < took < LINGER_S + 3.0,
               "  the peer keeping its side open holds the lone worker %.1f s "
               "(SA_POOL_LINGER_MS: %.0f s at most)" % (took, LINGER_S), (status, took))
        with fc.Conn(pool.address) as conn:
            conn.send(fc.build_request(params=fc.default_params(uri="/pool")))
            first = conn.read_response(timeout=5)
        status, took, _ = pool.get()
        tap.ok(first.status == 200 and status == 200 and took < LINGER_S - 0.5,
               "  one that closes after its answer frees it at once (%.2f s)" % took,
               (first, status, took))


def check_independent_client():
    """cgi-fcgi (libfcgi-bin) splits PARAMS into ~8 KiB records, a pair
    across two: the gate passes its head; and a lone worker (no --workers)
    serves the same way and ends on SIGHUP."""
    tool = os.environ.get("CGI_FCGI") or shutil.which("cgi-fcgi")
    with Pool(workers=2) as pool:
        for what, extra in (("", {}), (" with a 40 KB environment", {"HTTP_X_BIG": "b" * 40000})):
            if not tool:
                tap.ok(True, "cgi-fcgi%s # SKIP cgi-fcgi not found (libfcgi-bin)" % what)
                continue
            env = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/pool", "QUERY_STRING": "",
                   "GATEWAY_INTERFACE": "CGI/1.1", "PATH": "/usr/bin:/bin"}
            env.update(extra)
            out = subprocess.run([tool, "-bind", "-connect", "127.0.0.1:%d" % pool.port],
                                 env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=20)
            status, _, body = fc.parse_stdout(out.stdout)
            tap.ok(status == 200 and b"sync example" in body, "cgi-fcgi%s: 200" % what,
                   out.stdout[:300] + out.stderr[:300])
    state = tempfile.mkdtemp(prefix="syncasync-pool-state-")
    try:
        with fc.Server(SYNC_CGI, env={"SYNCASYNC_STATE_DIR": state}) as lone:
            r = fc.simple_get(lone.address, uri="/pool")
            tap.ok(r.status == 200 and (r.json() or {}).get("pid") == lone.pid,
                   "a lone worker (no --workers) serves in its own process", r)
            values = fc.get_values(fc.Conn(lone.address), ["FCGI_MAX_CONNS"])
            tap.eq(values, [("FCGI_MAX_CONNS", "1")], "  GET_VALUES: FCGI_MAX_CONNS 1")
            lone.signal(signal.SIGHUP)
            tap.eq(lone.wait(10), 0, "  SIGHUP: it exits 0")
    finally:
        shutil.rmtree(state, ignore_errors=True)


def nonblocking_listener(unix, where):
    """A listening socket, O_NONBLOCK set, as systemd's NonBlocking=yes or a
    spawner passes it; unix in directory where."""
    if unix:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.path.join(where, "pool.sock"))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def check_nonblocking_listener():
    where = tempfile.mkdtemp(prefix="syncasync-pool-sock-")
    try:
        for unix, workers in ((False, 2), (True, 2), (False, None)):
            what = "%s, %s" % ("unix socket" if unix else "TCP",
                               "--workers 2" if workers else "a lone worker")
            with nonblocking_listener(unix, where) as sock:
                if workers:
                    try:
                        server = Pool(workers=workers, listener=sock)
                    except RuntimeError as e:   # its workers exit as they start
                        tap.ok(False, "non-blocking listening socket on descriptor 0 "
                               "(%s): the pool starts" % what, e)
                        continue
                else:
                    state = tempfile.mkdtemp(prefix="syncasync-pool-state-")
                    server = fc.Server(SYNC_CGI, env={"SYNCASYNC_STATE_DIR": state,
                                                      "SYNCASYNC_SLEEP_ON": "0"},
                                       listener=sock)
                with server:
                    live = server.children() if workers else [server.pid]
                    served = 0
                    for _ in range(20):
                        r = fc.simple_get(server.address, uri="/pool", timeout=10)
                        served += r.status == 200
                    now = server.children() if workers else [server.pid]
                    log = server.stderr_text()
                    tap.ok(served == 20 and now == live and server.alive(),
                           "non-blocking listening socket on descriptor 0 (%s): %d of 20 "
                           "served, no worker replaced" % (what, served), (live, now, log))
                    tap.ok("accepting failed" not in log and "exited" not in log,
                           "  no worker exited", log)
                if not workers:
                    shutil.rmtree(state, ignore_errors=True)
    finally:
        shutil.rmtree(where, ignore_errors=True)


# --- item 6: signals ---------------------------------------------------------------

def in_hand(pool, query, result):
    """Starts a request in a thread; returns it once a worker has it."""
    def run():
        result["r"] = pool.get(query=query, timeout=120)
    thread = threading.Thread(target=run)
    thread.start()
    counter = os.path.join(pool.state, "counter")

    def taken():
        try:
            with open(counter) as f:
                return int(f.read().strip() or 0) > result.get("before", 0)
        except (OSError, ValueError):
            return False
    wait_for(taken)
    return thread


def counter_now(pool):
    try:
        with open(os.path.join(pool.state, "counter")) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def check_stray_signals():
    with Pool(workers=2) as pool:
        workers = pool.children()
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE):
            os.kill(pool.pid, sig)
            os.kill(workers[0], sig)
        status, _, _ = pool.get()
        tap.ok(pool.alive() and pool.children() == workers and status == 200,
               "SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE to the supervisor and a worker: "
               "both live on and serve", (pool.alive(), pool.children(), workers, status))
        tap.ok(wait_for(lambda: all(pool.log_count("(%s) ignored" % signal.strsignal(s))
                                    == 1 for s in (signal.SIGUSR1, signal.SIGUSR2,
                                                   signal.SIGALRM))),
               "  the supervisor logs the first three as ignored", pool.stderr_text())

        result = {"before": counter_now(pool)}
        thread = in_hand(pool, "sleep=1", result)
        os.kill(pool.pid, signal.SIGHUP)
        thread.join(30)
        status = result.get("r", (None,))[0]
        tap.ok(status == 200, "SIGHUP: the request in hand is answered", result)
        tap.ok(wait_for(lambda: len(pool.children()) == 2 and
                        not set(pool.children()) & set(workers)),
               "  every worker is replaced by a new one", (workers, pool.children()))
        tap.ok(pool.alive() and pool.get()[0] == 200, "  the pool goes on serving")

        one = pool.children()[0]
        os.kill(one, signal.SIGHUP)
        tap.ok(wait_for(lambda: len(pool.children()) == 2 and one not in pool.children(),
                        2.0), "SIGHUP to one worker: it is replaced at once")


def stop_pool(query, second=None):
    """A pool of 2 with a request (query) in hand gets SIGTERM, then the
    signal second once it has said it is stopping; returns (exit status,
    seconds from the last signal to the exit, the request's status, log)."""
    with Pool(workers=2) as pool:
        result = {"before": counter_now(pool)}
        thread = in_hand(pool, query, result)
        started = time.monotonic()
        pool.signal(signal.SIGTERM)
        if second is not None:
            wait_for(lambda: "stopping 2 worker(s)" in pool.stderr_text())
            started = time.monotonic()
            pool.signal(second)
        code = pool.wait(40)
        took = time.monotonic() - started
        thread.join(10)
        return code, took, result.get("r", (None,))[0], pool.stderr_text()


def check_sigterm():
    code, took, status, _ = stop_pool("sleep=1")
    tap.ok(code == 0 and took < 4.0,
           "SIGTERM with a 1 s request in hand: exit 0 after %.1f s" % took, code)
    tap.eq(status, 200, "  and the request was answered")

    code, took, status, log = stop_pool("sleep=60")
    tap.ok(code == 0 and DRAIN_S - 0.5 < took < DRAIN_S + 4.0,
           "SIGTERM with a 60 s request in hand: exit 0 after %.1f s (drain bound %.0f s)"
           % (took, DRAIN_S), code)
    tap.ok("killing them" in log, "  saying it killed the worker", log)

    code, took, status, _ = stop_pool("sleep=60", second=signal.SIGINT)
    tap.ok(code == 0 and took < 3.0,
           "a second signal (SIGINT) during the drain: exit after %.1f s" % took, code)


check_silent()
check_partial_heads()
check_params_cap()
check_deaths()
check_deviations()
check_late_stdin()
check_independent_client()
check_nonblocking_listener()
check_stray_signals()
check_sigterm()
tap.done()
