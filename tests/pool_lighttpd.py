# SPDX-License-Identifier: ISC
"""pool_lighttpd.py - /pool through a real lighttpd: sync_cgi as a bounded
pool of long-lived libfcgi FastCGI workers.

The experiment with 4 workers and a 2 s sleeper (not blocked; a handful of
long-lived pids serve every request), pool exhaustion with 2 workers and 6
sleeping requests (three waves: ~2, ~4, ~6 s), bad input and a bad setting
answered by a worker that goes on serving, SIGTERM in the middle of a
request (it finishes, the worker exits cleanly, lighttpd starts another),
SIGHUP to the pool's supervisor (it restarts its workers and lives on), one
silent connection per worker on the pool's socket (/pool answers within the
read deadline), and one exact counter while CGI processes and workers serve
at once.

lighttpd starts one sync_cgi --workers N (deploy/lighttpd.conf); it forks
the workers, which share one listening socket."""
import glob
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client  # noqa: E402
import harness  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")


def worker_pids(server):
    """The pids of the /pool workers started so far, from what they log."""
    return [int(p) for p in re.findall(r"sync_cgi: pid (\d+): FastCGI worker",
                                       server.error_log())]


def supervisor_pid(server):
    found = re.findall(r"sync_cgi: pid (\d+): supervising a pool", server.error_log())
    return int(found[-1]) if found else None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def wait_for(predicate, timeout=10.0):
    """Polls predicate until it is true or timeout seconds pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def check_experiment():
    with harness.Lighttpd(pool_workers=4, sleep=2, sleep_on=5) as server:
        tap.ok(wait_for(lambda: len(worker_pids(server)) == 4),
               "the pool started 4 workers", server.error_log())
        workers = set(worker_pids(server))
        # All at once, as the probe fires them: lighttpd hands them over
        # before anyone knows which will sleep.
        replies = harness.concurrent(server.url + "/pool", 10)
        bodies = [r.json() or {} for r in replies]
        tap.ok(all(r.status == 200 for r in replies), "experiment: 10 answers, all 200",
               [(r.status, r.error) for r in replies])
        tap.eq(sorted(b.get("request_no") for b in bodies), list(range(1, 11)),
               "  numbered 1..10")
        tap.ok(all(b.get("message", "").startswith("sync example") for b in bodies),
               "  message \"sync example\"")
        sleeper = [r for r, b in zip(replies, bodies) if b.get("request_no") == 5]
        others = [r for r, b in zip(replies, bodies) if b.get("request_no") != 5]
        tap.ok(sleeper and sleeper[0].latency >= 1.9, "  request 5 slept 2 s",
               sleeper and sleeper[0].latency)
        tap.ok(sleeper and "(sleep)" in sleeper[0].json()["message"], "  and says so")
        slowest = max(r.latency for r in others)
        tap.ok(slowest < 1.0, "  the 9 others answered in under 1 s (not blocked)",
               "slowest other: %.3f s" % slowest)
        pids = {b.get("pid") for b in bodies}
        tap.ok(len(pids) > 1, "  answered by more than one worker", pids)
        tap.ok(pids <= workers, "  every answer came from one of the 4 long-lived workers",
               "answers %r, workers %r" % (pids, workers))
        tap.ok(len(pids) < len(bodies), "  workers were reused (%d pids, 10 requests)"
               % len(pids))
        tap.ok(all(b.get("thread_id") == b.get("pid") for b in bodies),
               "  one thread per worker")
        again = harness.concurrent(server.url + "/pool", 10, stagger=0.02)
        again_pids = {(r.json() or {}).get("pid") for r in again}
        tap.ok(all(r.status == 200 for r in again) and again_pids <= workers,
               "a second batch is served by the same workers", again_pids)
        tap.eq(sorted(worker_pids(server)), sorted(workers), "  and no worker was restarted")
    tap.ok(wait_for(lambda: not any(alive(pid) for pid in workers)),
           "stopping lighttpd stops every worker")


def check_exhaustion():
    with harness.Lighttpd(pool_workers=2, sleep_on=0, query_overrides=True) as server:
        tap.ok(wait_for(lambda: len(worker_pids(server)) == 2),
               "exhaustion: the pool started 2 workers", server.error_log())
        start = time.time()
        replies = harness.concurrent(server.url + "/pool?sleep=2", 6, timeout=30)
        elapsed = time.time() - start
        tap.ok(all(r.status == 200 for r in replies), "  6 requests that each sleep 2 s: all 200",
               [(r.status, r.error) for r in replies])
        latencies = sorted(r.latency for r in replies)
        waves = [sum(1 for t in latencies if low <= t < high)
                 # Waves 2 s apart; bounds halfway between them, since a
                 # client thread may send a little late.
                 for low, high in ((1.9, 3.0), (3.0, 5.0), (5.0, 8.0))]
        tap.eq(waves, [2, 2, 2],
               "  they complete in three waves of two (~2, ~4, ~6 s): the queue")
        tap.diag("latencies: " + ", ".join("%.2f" % t for t in latencies))
        tap.ok(elapsed < 9.0, "  the whole run took about 6 s", "%.2f s" % elapsed)
        per_pid = {}
        for r in replies:
            pid = (r.json() or {}).get("pid")
            per_pid[pid] = per_pid.get(pid, 0) + 1
        tap.eq(sorted(per_pid.values()), [3, 3], "  each of the 2 workers served 3 of them")


def check_bad_input():
    with harness.Lighttpd(pool_workers=1, sleep_on=0, query_overrides=True) as server:
        first = harness.request(server.url + "/pool")
        pid = (first.json() or {}).get("pid")
        tap.eq(first.status, 200, "bad input: a valid request first -> 200")
        bad = [("?sleep=abc", "GET", None, 400, "sleep"),
               ("?sleep=99999", "GET", None, 400, "sleep"),
               ("", "POST", "x", 405, "method"),
               ("", "DELETE", None, 405, "method")]
        for query, method, body, status, text in bad:
            r = harness.request(server.url + "/pool" + query, method=method, body=body)
            tap.eq(r.status, status, "  %s /pool%s -> %d" % (method, query, status))
            tap.ok(text in (r.json() or {}).get("error", ""),
                   "    JSON error mentions %r" % text, r.body)
        r = harness.request(server.url + "/pool")
        body = r.json() or {}
        tap.ok(r.status == 200 and body.get("pid") == pid,
               "  then the same worker serves a valid request (same pid)",
               (r.status, body.get("pid"), pid))
        tap.eq(body.get("request_no"), 2, "  rejected requests took no number")
        tap.eq(len(worker_pids(server)), 1, "  the worker was never restarted")
    with harness.Lighttpd(pool_workers=1, sleep_on="five", paths="pool") as server:
        replies = [harness.request(server.url + "/pool") for _ in range(3)]
        tap.ok(all(r.status == 500 for r in replies),
               "a bad SYNCASYNC_SLEEP_ON: every request -> 500", [r.status for r in replies])
        tap.ok(all("SYNCASYNC_SLEEP_ON" in (r.json() or {}).get("error", "") for r in replies),
               "  naming the variable", replies[0].body)
        tap.ok("every request will get a 500" in server.error_log(),
               "  said once in the log when the worker started")
        tap.eq(len(worker_pids(server)), 1, "  by one worker that kept serving")


def check_sigterm():
    with harness.Lighttpd(pool_workers=1, sleep_on=0, query_overrides=True) as server:
        tap.ok(wait_for(lambda: len(worker_pids(server)) == 1), "SIGTERM: one worker")
        pid = worker_pids(server)[0]
        counter = os.path.join(server.run_dir, "state", "counter")
        result = {}
        thread = threading.Thread(
            target=lambda: result.update(r=harness.request(server.url + "/pool?sleep=2")))
        thread.start()

        def taken():
            try:
                with open(counter) as f:
                    return f.read().strip() == "1".zfill(20)
            except OSError:
                return False
        tap.ok(wait_for(taken), "  the request is in hand (it took number 1)")
        os.kill(pid, signal.SIGTERM)
        thread.join(30)
        r = result.get("r")
        tap.ok(r is not None and r.status == 200 and
               "(sleep)" in (r.json() or {}).get("message", "") and r.latency >= 1.9,
               "  the request in hand still gets its full answer",
               r and (r.status, r.body, r.latency))
        tap.ok(wait_for(lambda: "pid %d: stopping after 1 request(s)" % pid in
                        server.error_log()), "  then the worker exits cleanly",
               server.error_log())
        tap.ok(wait_for(lambda: not alive(pid)), "  and is gone")
        tap.ok(wait_for(lambda: len(worker_pids(server)) == 2),
               "  the pool starts another", server.error_log())
        r = harness.request(server.url + "/pool")
        new_pid = (r.json() or {}).get("pid")
        tap.ok(r.status == 200 and new_pid not in (None, pid),
               "  which serves the next request", (r.status, r.body, r.error))


def check_sighup_and_silent_peers():
    """SIGHUP to the supervisor lighttpd started, and one silent connection
    per worker on the pool's socket: /pool keeps answering."""
    with harness.Lighttpd(pool_workers=2, sleep_on=0) as server:
        tap.ok(wait_for(lambda: len(worker_pids(server)) == 2 and supervisor_pid(server)),
               "SIGHUP: a pool of 2 workers", server.error_log())
        old = set(worker_pids(server))
        supervisor = supervisor_pid(server)
        os.kill(supervisor, signal.SIGHUP)
        tap.ok(wait_for(lambda: len(worker_pids(server)) == 4 and
                        not any(alive(pid) for pid in old)),
               "  the supervisor restarts both workers", server.error_log())
        r = harness.request(server.url + "/pool")
        pid = (r.json() or {}).get("pid")
        tap.ok(alive(supervisor) and r.status == 200 and pid not in old,
               "  and lives on: /pool answered by a new worker", (r.status, pid, old))

        # lighttpd names a bin-path socket after its process: pool.sock-0.
        sock = glob.glob(os.path.join(server.run_dir, "pool.sock*"))[0]
        silent = [fcgi_client.Conn(sock, timeout=30) for _ in range(2)]
        r = harness.request(server.url + "/pool", timeout=30)
        tap.ok(r.status == 200 and r.latency < 8.0,
               "2 silent connections on the pool's socket: /pool still answers in "
               "%.1f s (read deadline 5 s)" % r.latency, (r.status, r.error))
        for conn in silent:
            conn.close()


def check_counter():
    with harness.Lighttpd(pool_workers=4, sleep_on=0) as server:
        results = {}

        def fire(path):
            results[path] = harness.concurrent(server.url + path, 200, timeout=120)
        threads = [threading.Thread(target=fire, args=(p,)) for p in ("/sync", "/pool")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        replies = results["/sync"] + results["/pool"]
        failed = [(r.status, r.error) for r in replies if r.status != 200]
        tap.ok(not failed, "counter: 200 /sync (CGI) + 200 /pool (workers) at once, all 200",
               failed[:5])
        numbers = sorted((r.json() or {}).get("request_no", -1) for r in replies)
        tap.eq(numbers, list(range(1, 401)), "  numbered 1..400, each exactly once")
        pool_pids = {(r.json() or {}).get("pid") for r in results["/pool"]}
        sync_pids = {(r.json() or {}).get("pid") for r in results["/sync"]}
        tap.ok(pool_pids <= set(worker_pids(server)), "  /pool answered by the 4 workers",
               pool_pids)
        tap.ok(len(sync_pids) > 100 and not sync_pids & pool_pids,
               "  /sync by CGI processes of their own", len(sync_pids))


check_experiment()
check_exhaustion()
check_bad_input()
check_sigterm()
check_sighup_and_silent_peers()
check_counter()
tap.done()
