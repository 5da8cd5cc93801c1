# SPDX-License-Identifier: ISC
"""scale_out.py - /scale/async: two async_fcgi behind one prefix, balanced by
the web server (lighttpd fastcgi.balance "least-connection" in
deploy/lighttpd.conf; Apache balancer:// with lbmethod=bybusyness in
deploy/apache2.conf), both started by deploy/syncasync-serve on a free
loopback port.  Under each server: while one backend is busy the next
request goes to the other, so the answers come from two pids; after one
backend is killed with SIGKILL every following request is sent to the
other and succeeds; started again, the killed one is used again within
seconds (Apache retry=1, lighttpd disable-time 1)."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_client  # noqa: E402
import harness  # noqa: E402

tap = harness.Tap()
SERVERS = []
for name, env_name, program, package in (("lighttpd", "LIGHTTPD", "lighttpd", "lighttpd"),
                                         ("apache", "APACHE2", "apache2", "apache2")):
    harness.need_tool(tap, env_name, program, package)
    SERVERS.append(name)


def process_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def in_flight(server):
    """Requests in the two backends' hands, asked of each one directly on
    its socket (/async/stats; lighttpd and Apache do not see this)."""
    total = 0
    for name in ("scale1", "scale2"):
        try:
            stats = fcgi_client.simple_get(
                os.path.join(server.run_dir, "sock", name + ".sock"),
                uri="/async/stats", timeout=5).json() or {}
        except OSError:
            stats = {}
        total += stats.get("in_flight", 0)
    return total


def pid_of(reply):
    return (reply.json() or {}).get("pid")


def check(server_name):
    with harness.Served(server_name, sleep_on=0, query_overrides=True) as server:
        url = server.url + "/scale/async"
        backends = {server.backend_pid("scale1"), server.backend_pid("scale2")}

        # One backend holds a 3 s request (a loop timer: it could serve
        # more, but the balancer counts it busy); the next goes to the other.
        # It is sent only once the held one is in a backend's hands (its
        # /async/stats says so), so the balancer has counted that backend
        # busy.  Only one: a balancer counts a request done a little after
        # its answer has left (Apache's post_request), so a second quick
        # request could find both backends busy and go either way.
        held = []
        holder = threading.Thread(target=lambda: held.append(
            harness.request(url + "?sleep=3&mode=timer", timeout=20)))
        holder.start()
        deadline = time.time() + 10
        while in_flight(server) == 0 and time.time() < deadline:
            time.sleep(0.01)
        in_hand = in_flight(server) == 1
        quick = harness.request(url, timeout=10)
        still_held = holder.is_alive()
        holder.join()
        replies = held + [quick]
        tap.ok(in_hand, "%s: the held request reached a backend" % server_name)
        tap.ok(all(r.status == 200 for r in replies),
               "  it and a quick one sent meanwhile, both 200",
               [(r.status, r.error) for r in replies])
        tap.ok(still_held, "  the quick one was answered while it was still held")
        tap.ok(held and pid_of(quick) != pid_of(held[0]),
               "  the request sent while one backend was busy went to the other",
               [pid_of(r) for r in replies])
        tap.eq({pid_of(r) for r in replies}, backends, "  answered by both backends (two pids)")

        victim, survivor = server.backend_pid("scale1"), server.backend_pid("scale2")
        os.kill(victim, signal.SIGKILL)
        # SIGKILL is asynchronous: until the process is gone the kernel still
        # queues connects on its socket, and a request sent then dies with it.
        # "Following requests" are those sent once it is dead (or a zombie).
        deadline = time.time() + 5
        while time.time() < deadline and process_alive(victim):
            time.sleep(0.01)
        started = time.time()
        # The request that finds the dead backend: Apache's balancer passes
        # it on to the other member; lighttpd 1.4.69 answers it with an
        # error and takes the backend out of the rotation for disable-time.
        # Either way it is the only one allowed to fail.
        first = harness.request(url, timeout=10)
        tap.ok(first.status == 200 or server_name == "lighttpd",
               "  the request that finds the dead backend: %s (%s)" % (
                   first.status, "passed on to the other" if first.status == 200
                   else "lighttpd answers it, then stops using the backend"))
        after = [harness.request(url, timeout=10) for _ in range(10)]
        elapsed = time.time() - started
        tap.ok(all(r.status == 200 for r in after),
               "  after one backend is killed, the following 10 requests all succeed",
               [(r.status, r.error, r.body[:80]) for r in after])
        tap.ok(all(pid_of(r) == survivor for r in after),
               "  all answered by the other backend", [pid_of(r) for r in after])
        tap.ok(elapsed < 5.0, "  in %.2f s (no waiting on the dead one)" % elapsed)

        proc = server.restart_backend("scale1", SYNCASYNC_SLEEP_ON="0")
        started = time.time()
        back = None
        while time.time() - started < 10 and back is None:
            if pid_of(harness.request(url, timeout=5)) == proc.pid:
                back = time.time() - started
            else:
                time.sleep(0.05)
        tap.ok(back is not None and back < 5.0,
               "  started again, it gets requests again within seconds (%s)"
               % ("%.1f s" % back if back is not None else "not within 10 s"))


for name in SERVERS:
    check(name)
tap.done()
