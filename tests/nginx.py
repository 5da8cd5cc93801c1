#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""nginx.py - deploy/nginx.conf served by a real nginx.

nginx is started here on a free loopback port (-p a temporary prefix, -e
its error log, `daemon off`, the pid file in the prefix) and stopped by
pid, with the backends it needs started here too: fcgiwrap for /sync
(nginx runs no CGI program itself), sync_cgi --workers 4 for /pool and
async_fcgi in modes block and timer, each on a unix socket in the
temporary directory.  Only the configuration's listen line, socket paths,
sync_cgi's path and state directory are moved (and the sleep set to 2 s).

Checks: the four paths answer the contract; the experiment's verdicts (10
concurrent requests, request 5 sleeps 2 s: /async in mode block is
blocked, /modes/timer/async, /sync and /pool are not); /sync's 10 answers
come from 10 processes; upstream keepalive really reuses connections:
20 requests one after the other reach async_fcgi on fewer connections
than requests (/async/stats connections_accepted), while lighttpd would
open one per request.
"""
import ctypes
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILDDIR, SRCDIR, Tap, check_experiment, need_tool, request  # noqa: E402

SLEEP = 2.0
PR_SET_CHILD_SUBREAPER = 36     # prctl(2)


def become_subreaper():
    """fcgiwrap -c N forks N workers that outlive a SIGTERMed parent: make
    orphans of what this test starts its children, so it can reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def group_members(pgid):
    """Live (not zombie) processes of process group pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def reap_orphans(timeout=10):
    """Waits for every child left (orphans re-parented here included)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            raise
        if pid == 0:
            time.sleep(0.05)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connects(path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
        return True
    except OSError:
        return False


def wait_until(what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return False


def relocate(text, port, run_dir, sync_cgi):
    """deploy/nginx.conf with its machine-specific lines moved; (text, lines changed)."""
    replacements = (
        (r"listen 127\.0\.0\.1:8080;", "listen 127.0.0.1:%d;" % port),
        (r"unix:/run/syncasync/", "unix:%s/" % run_dir),
        (r"unix:/run/fcgiwrap\.socket", "unix:%s/fcgiwrap.sock" % run_dir),
        (r"/usr/lib/cgi-bin/sync_cgi", sync_cgi),
        (r"SYNCASYNC_STATE_DIR /var/lib/syncasync", "SYNCASYNC_STATE_DIR %s/state" % run_dir),
        (r"SYNCASYNC_SLEEP_SECONDS 20", "SYNCASYNC_SLEEP_SECONDS %g" % SLEEP),
    )
    out, changed = [], 0
    for line in text.splitlines(keepends=True):
        new = line
        if not line.lstrip().startswith("#"):
            for pattern, value in replacements:
                new = re.sub(pattern, value, new)
        changed += new != line
        out.append(new)
    return "".join(out), changed


class Processes:
    """Processes started here, stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.procs = []

    def start(self, args, env=None, **kw):
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, **kw)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    tap = Tap()
    nginx = need_tool(tap, "NGINX", "nginx", "nginx")
    fcgiwrap = need_tool(tap, "FCGIWRAP", "fcgiwrap", "fcgiwrap")
    sync_cgi = os.path.join(BUILDDIR, "sync_cgi", "sync_cgi")
    async_fcgi = os.path.join(BUILDDIR, "async_fcgi", "async_fcgi")
    run_dir = tempfile.mkdtemp(prefix="syncasync-nginx-")
    procs = Processes()
    nginx_proc = None
    backend_log = None
    fcgiwrap_proc = None
    subreaper = False
    try:
        os.mkdir(os.path.join(run_dir, "state"), 0o700)
        env = dict(os.environ, SYNCASYNC_SLEEP_SECONDS="%g" % SLEEP, SYNCASYNC_SLEEP_ON="5")
        wrapper = os.environ.get("SYNCASYNC_ASYNC_WRAPPER", "").split()
        socks = {name: os.path.join(run_dir, name + ".sock")
                 for name in ("async", "timer", "pool", "fcgiwrap")}
        backend_log = open(os.path.join(run_dir, "backends.log"), "ab")
        backends = {}

        def start_backend(name):
            """(Re)starts the backend on socks[name]: a fresh counter."""
            old = backends.pop(name, None)
            if old is not None:
                old.send_signal(signal.SIGTERM)
                old.wait(timeout=30)
                procs.procs.remove(old)
            if name == "pool":
                state = os.path.join(run_dir, "pool-state")
                shutil.rmtree(state, ignore_errors=True)
                os.mkdir(state, 0o700)
                args = [sync_cgi, "--workers", "4"]
                proc_env = dict(env, SYNCASYNC_STATE_DIR=state)
            else:
                args = wrapper + [async_fcgi, "--mode", "block" if name == "async" else "timer"]
                proc_env = env
            backends[name] = procs.start(args + ["--listen", "unix:" + socks[name]],
                                         env=proc_env, stderr=backend_log)
            return wait_until(lambda: connects(socks[name]))

        for name in ("async", "timer", "pool"):
            start_backend(name)
        # fcgiwrap's own environment is not the CGI's: nginx's parameters
        # are.  Its own process group, so that its workers stop with it.
        subreaper = become_subreaper()
        fcgiwrap_proc = procs.start([fcgiwrap, "-f", "-c", "4", "-s",
                                     "unix:" + socks["fcgiwrap"]],
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        ready = all(wait_until(lambda p=p: connects(p)) for p in socks.values())
        if not tap.ok(ready, "the backends and fcgiwrap listen on their sockets",
                      [p for p in socks.values() if not connects(p)]):
            tap.done()

        with open(os.path.join(SRCDIR, "deploy", "nginx.conf")) as f:
            original = f.read()
        port = free_port()
        text, changed = relocate(original, port, run_dir, sync_cgi)
        tap.eq(changed, 8, "deploy/nginx.conf: only its listen, socket, program, state"
               " and sleep lines are moved (8)")
        conf = os.path.join(run_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        prefix = run_dir + "/"
        error_log = os.path.join(run_dir, "error.log")
        globals_ = "daemon off;"
        if os.geteuid() == 0:
            # Workers as root here, so they may use the test's sockets and
            # temporary directory (as a real install gives them www-data's).
            globals_ += " user root root;"
        check = subprocess.run([nginx, "-t", "-q", "-p", prefix, "-c", conf, "-e", error_log,
                                "-g", globals_], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
        tap.ok(check.returncode == 0, "nginx -t accepts deploy/nginx.conf", check.stdout)
        nginx_proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-e", error_log,
                                       "-g", globals_], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False
        if not tap.ok(wait_until(lambda: nginx_proc.poll() is None and answers()),
                      "nginx starts on a free loopback port"):
            tap.done()
        pid_file = os.path.join(run_dir, "nginx.pid")
        tap.ok(wait_until(lambda: os.path.exists(pid_file)),
               "  its pid file is in the temporary prefix")
        url = "http://127.0.0.1:%d" % port

        for path, message, mode in (("/sync", "sync example", None),
                                    ("/pool", "sync example", None),
                                    ("/async", "async example", "block"),
                                    ("/modes/timer/async", "async example", "timer")):
            reply = request(url + path, timeout=30)
            body = reply.json() or {}
            tap.ok(reply.status == 200 and body.get("message") == message
                   and body.get("mode") == mode,
                   "%s answers the contract%s" % (path, " in mode %s" % mode if mode else ""),
                   "status %r error %r body %r" % (reply.status, reply.error, reply.body[:300]))
        reply = request(url + "/nothing-here", timeout=30)
        tap.eq(reply.status, 404, "a path nobody serves is nginx's 404")

        # The experiment (each backend on a fresh count: the one request
        # above took number 1, so start the runs from their own counter).
        for path, name, label, mode, blocked in (
                ("/async", "async", "/async block", "block", True),
                ("/modes/timer/async", "timer", "/modes/timer/async", "timer", False)):
            start_backend(name)
            check_experiment(tap, url + path, label + " (nginx)", mode, blocked, SLEEP,
                             "sleeps %g s" % SLEEP)
        # /sync: a fresh state directory for a fresh counter.
        shutil.rmtree(os.path.join(run_dir, "state"))
        os.mkdir(os.path.join(run_dir, "state"), 0o700)
        replies, bodies, _ = check_experiment(tap, url + "/sync", "/sync (nginx + fcgiwrap)",
                                              None, False, SLEEP, "sleeps %g s" % SLEEP)
        tap.eq(len({b.get("pid") for b in bodies}), 10,
               "  10 answers from 10 processes (fcgiwrap execs sync_cgi per request)")
        start_backend("pool")
        check_experiment(tap, url + "/pool", "/pool (nginx, 4 workers)", None, False, SLEEP,
                         "sleeps %g s" % SLEEP)

        # Keepalive: the timer backend after the experiment; 20 more
        # requests one after the other, then its stats.
        before = request(url + "/modes/timer/async/stats", timeout=30).json() or {}
        for _ in range(20):
            request(url + "/modes/timer/async", timeout=30)
        after = request(url + "/modes/timer/async/stats", timeout=30).json() or {}
        requests = after.get("requests", 0) - before.get("requests", 0)
        accepted = after.get("connections_accepted", 0) - before.get("connections_accepted", 0)
        tap.diag("20 requests in a row: %r requests, %r connections accepted"
                 % (requests, accepted))
        tap.ok(requests >= 20 and 0 <= accepted <= 2,
               "upstream keepalive: 20 requests in a row arrive on at most 2 connections",
               "requests %r, connections accepted %r" % (requests, accepted))
        tap.ok(after.get("connections", 0) >= 1,
               "  nginx keeps an idle connection open between requests",
               "connections %r" % after.get("connections"))
    finally:
        if nginx_proc is not None:
            if nginx_proc.poll() is None:
                nginx_proc.send_signal(signal.SIGTERM)
            try:
                nginx_proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                nginx_proc.kill()
                nginx_proc.wait()
            nginx_proc.stderr.close()
        if fcgiwrap_proc is not None and fcgiwrap_proc.poll() is None:
            # The group whose id is the pid started here: fcgiwrap's workers.
            os.killpg(fcgiwrap_proc.pid, signal.SIGTERM)
        procs.stop()
        if fcgiwrap_proc is not None:
            deadline = time.time() + 10
            while group_members(fcgiwrap_proc.pid) and time.time() < deadline:
                time.sleep(0.05)
            left = group_members(fcgiwrap_proc.pid)
            if left:
                os.killpg(fcgiwrap_proc.pid, signal.SIGKILL)
            tap.eq(left, [], "fcgiwrap and its workers are gone after SIGTERM to its group")
        if subreaper:
            tap.ok(reap_orphans(), "every process the test started is reaped (no zombies)")
        if backend_log is not None:
            backend_log.close()
        if tap.failed:
            try:
                with open(os.path.join(run_dir, "backends.log"), errors="replace") as f:
                    tap.diag("backends.log:\n" + f.read()[-2000:])
            except OSError:
                pass
            try:
                with open(os.path.join(run_dir, "error.log"), errors="replace") as f:
                    tap.diag("nginx error.log:\n" + f.read()[-2000:])
            except OSError:
                pass
        shutil.rmtree(run_dir, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
