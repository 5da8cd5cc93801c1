# SPDX-License-Identifier: ISC
"""work_db.py - SYNCASYNC_WORK=db against a real PostgreSQL started here
(a private cluster on a unix socket, tests/harness.py Postgres): the
sleeper's work is SELECT pg_sleep(2).

- the experiment in each form: block (PQexec on the loop: the requests
  after it wait, the watchdog names it), async (libpq's asynchronous API on
  the loop) and offload (the blocking call on the pool): every other request
  answered in under 1 s; /sync (a process per request) likewise;
- more concurrent queries than SYNCASYNC_DB_POOL connections: they queue
  and all complete;
- a client that hangs up mid-query (straight at async_fcgi): the request is
  dropped, its query runs on and its connection returns to the pool;
- the database stopped mid-query: 502 JSON errors naming the database's
  error, the responder stays up, and recovers once the database is back."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client  # noqa: E402
import harness  # noqa: E402
import stall_log  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
if harness.postgres_bindir() is None:
    tap.skip_all("PostgreSQL not found (install the Debian package postgresql)")
SLEEP = 2.0


def stats(server):
    return harness.request(server.url + "/async/stats").json() or {}


def check_experiment(server, path, label, mode, blocked):
    """10 concurrent requests at path; request 5 does the 2 s work."""
    harness.check_experiment(tap, server.url + path, label, mode, blocked, SLEEP,
                             "ran pg_sleep(%.0f)" % SLEEP)


def check_forms(pg):
    with harness.Lighttpd(work="db", db=pg.conninfo, sleep=SLEEP, sleep_on=5) as server:
        check_experiment(server, "/modes/block/async", "db block (PQexec on the loop)",
                         "block", True)
        logs = stall_log.served_logs(server)
        report, log = stall_log.wait_named(logs.read, 5, 10)
        tap.ok(report is not None and report.mode == "block" and report.work == "db"
               and "request 5 (mode block)" in log,
               "  the watchdog names request 5 as holding the loop", log[-1500:])
        stall_log.wait_end(logs.read, 5, 10)
        logs.mark()             # what follows is the other modes'
        check_experiment(server, "/modes/timer/async", "db async (libpq's asynchronous API)",
                         "async", False)
        check_experiment(server, "/modes/offload/async", "db offload (PQexec on the pool)",
                         "offload", False)
        # A loaded machine may hold any callback 100-200 ms: quiet means
        # no request named, no stall of 1 s.
        tap.eq(stall_log.quiet(logs.read()), [],
               "  the watchdog stays quiet for async and offload")
        check_experiment(server, "/sync", "db /sync (a process per request)", None, False)


def check_pool_queue(pg):
    with harness.Lighttpd(work="db", db=pg.conninfo, mode="async", db_pool=2, sleep_on=0,
                          query_overrides=True) as server:
        t0 = time.time()
        replies = harness.concurrent(server.url + "/async?sleep=1", 6)
        elapsed = time.time() - t0
        tap.ok(all(r.status == 200 for r in replies),
               "6 concurrent 1 s queries on a pool of 2: all answered 200",
               [(r.status, r.error, r.body[:200]) for r in replies])
        tap.ok(2.5 < elapsed < 8, "  they queued: 3 rounds took %.1f s (> 2.5 s)" % elapsed)
        s = stats(server)
        tap.ok(s.get("db_connections") == 2 and s.get("db_queued") == 0
               and s.get("db_busy") == 0, "  2 connections, reused; none busy or queued", s)



def check_hangup(pg):
    """Straight at async_fcgi (lighttpd notices a client's hang-up only when
    it next writes to it): the FastCGI connection closes mid-query."""
    env = {"SYNCASYNC_WORK": "db", "SYNCASYNC_DB": pg.conninfo, "SYNCASYNC_DB_POOL": "1",
           "SYNCASYNC_SLEEP_ON": "0", "SYNCASYNC_QUERY_OVERRIDES": "1",
           "SYNCASYNC_ASYNC_MODE": "async"}
    binary = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
    with fcgi_client.Server(binary, env=env) as server:
        # Open the pool's one connection first, so the next query is sent
        # at once (a request dropped while connecting sends none).
        r = fcgi_client.simple_get(server.address, query="sleep=0.1")
        tap.eq(r.status, 200, "straight at async_fcgi, pool of 1: a query")
        conn = fcgi_client.Conn(server.address)
        conn.send_request(params=fcgi_client.default_params(query="sleep=1.5"))
        deadline = time.time() + 3
        while time.time() < deadline and (server.stats() or {}).get("db_busy") != 1:
            time.sleep(0.05)
        conn.close()
        deadline = time.time() + 1
        while time.time() < deadline and (server.stats() or {}).get("in_flight") != 0:
            time.sleep(0.05)
        s = server.stats() or {}
        tap.ok(s.get("in_flight") == 0 and s.get("db_busy") == 1,
               "a client hung up mid-query: the request is gone, the query runs on", s)
        t0 = time.time()
        r = fcgi_client.simple_get(server.address, query="sleep=0.1", timeout=10)
        tap.eq(r.status, 200, "  the next query waits for the one connection, then runs")
        tap.ok(time.time() - t0 > 0.5, "  (after the abandoned query: %.1f s)"
               % (time.time() - t0))
        s = server.stats() or {}
        tap.ok(s.get("db_connections") == 1 and s.get("db_busy") == 0,
               "  the connection is back in the pool", s)


def request_later(url, out, delay=0.0):
    time.sleep(delay)
    out.append(harness.request(url))


def check_database_down(pg):
    with harness.Lighttpd(work="db", db=pg.conninfo, mode="async", db_pool=2, sleep_on=0,
                          query_overrides=True) as server:
        r = harness.request(server.url + "/async?sleep=0.1")
        tap.eq(r.status, 200, "database up: 200")
        pid = (r.json() or {}).get("pid")
        # Warm an offload worker's own connection, to be broken too.
        r = harness.request(server.url + "/async?sleep=0.1&mode=offload")
        tap.eq(r.status, 200, "  offload too")

        out = []
        t = threading.Thread(target=request_later,
                             args=(server.url + "/async?sleep=5", out))
        t.start()
        time.sleep(0.7)
        pg.stop()              # pg_ctl stop -m fast: sessions are terminated
        t.join(15)
        r = out[0] if out else harness.Reply(0, error="no answer")
        body = r.json() or {}
        tap.eq(r.status, 502, "the database stopped mid-query: 502")
        tap.ok("database query failed" in body.get("error", "")
               and "terminat" in body.get("error", ""),
               "  a JSON error naming the database's error", r.body[:300])
        tap.ok(r.latency < 4, "  at once, not after the query's 5 s (%.1f s)" % r.latency)

        for mode in ("async", "offload", "block"):
            r = harness.request(server.url + "/async?sleep=0.1&mode=" + mode)
            tap.eq(r.status, 502, "database down, %s: 502" % mode)
            tap.ok("database connection failed" in (r.json() or {}).get("error", ""),
                   "  naming the failed connection", r.body[:300])
        s = stats(server)
        tap.ok(s.get("pid") == pid, "the responder stayed up (same pid)", s)

        pg.start()
        for mode in ("async", "offload", "block"):
            r = harness.request(server.url + "/async?sleep=0.1&mode=" + mode)
            tap.eq(r.status, 200, "database back, %s: 200 again" % mode)
        tap.eq(stats(server).get("pid"), pid, "  from the same process")


with harness.Postgres() as pg:
    check_forms(pg)
    check_pool_queue(pg)
    check_hangup(pg)
    check_database_down(pg)
tap.done()
