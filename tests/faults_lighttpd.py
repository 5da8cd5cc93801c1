# SPDX-License-Identifier: ISC
"""faults_lighttpd.py - faults and security defaults through a real
lighttpd: async_fcgi killed with SIGKILL is restarted by lighttpd and
serves again within 3 s; the deployment listens on loopback only, keeps its
state directory 0700 and its counter 0600; nothing a client sends in a
header comes back in a response."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
MARKER = "m4rk3r-f0r-ech0"


def async_pid(server):
    return (harness.request(server.url + "/async/stats", timeout=5).json() or {}).get("pid")


def check_kill9():
    with harness.Lighttpd(sleep_on=0) as server:
        before = async_pid(server)
        tap.ok(before is not None, "async_fcgi answers under lighttpd (pid %s)" % before)
        os.kill(before, signal.SIGKILL)
        killed_at = time.time()
        ok_at = None
        while time.time() - killed_at < 10:
            r = harness.request(server.url + "/async", timeout=2)
            if r.status == 200:
                ok_at = time.time()
                break
            time.sleep(0.1)
        tap.ok(ok_at is not None and ok_at - killed_at < 3.0,
               "after kill -9, lighttpd restarts it and /async answers within 3 s",
               "answered after %s s" % (ok_at and round(ok_at - killed_at, 2)))
        after = async_pid(server)
        tap.ok(after is not None and after != before, "  from a new process (%s)" % after)
        r = harness.request(server.url + "/sync")
        tap.eq(r.status, 200, "  /sync was never affected")


def check_security_defaults():
    with harness.Lighttpd(sleep_on=0) as server:
        port = server.url.rsplit(":", 1)[1]
        out = subprocess.run(["ss", "-ltnH", "sport = :%s" % port], capture_output=True,
                             text=True).stdout.split()
        local = [w for w in out if w.endswith(":" + port)]
        tap.ok(local and all(w.startswith("127.0.0.1:") for w in local),
               "lighttpd listens on 127.0.0.1 only", out)
        state = os.path.join(server.run_dir, "state")
        harness.request(server.url + "/sync")
        tap.eq(os.stat(state).st_mode & 0o777, 0o700, "the state directory is 0700")
        tap.eq(os.stat(os.path.join(state, "counter")).st_mode & 0o777, 0o600,
               "the counter file is 0600")
        headers = {"Proxy": "http://127.0.0.1:9/" + MARKER, "X-Marker": MARKER,
                   "User-Agent": MARKER, "Cookie": "a=" + MARKER}
        for path in ("/sync", "/async", "/async/stats", "/async/nope", "/sync?sleep=" + MARKER):
            r = harness.request(server.url + path, headers=headers)
            tap.ok(r.status is not None and MARKER.encode() not in r.body,
                   "%s: no header or query value echoed in the response" % path)


check_kill9()
check_security_defaults()
tap.done()
