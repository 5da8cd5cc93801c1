# SPDX-License-Identifier: ISC
"""procs.py - every process the bench starts, so that all of them are
stopped; readiness checks; what /proc says about a process.

Each process gets SYNCASYNC_BENCH_TAG in its environment; processes they
start themselves (lighttpd's backends, Apache's children, the servers
deploy/syncasync-serve starts) inherit it, so the final sweep finds those
too, and kills them by pid.
"""
import os
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.request


def log(msg):
    print(msg, flush=True)


class BenchError(Exception):
    """A configuration could not be measured; its row says why."""


class Procs:
    """The processes started, listed by pid in pid_file."""

    def __init__(self, run_dir, tag, pid_file=None):
        self.run_dir = run_dir
        self.tag = tag
        self.pid_file = pid_file or os.path.join(run_dir, "pids")
        self.live = []

    def env(self, env=None):
        """env (default: ours) with the tag."""
        full_env = dict(os.environ if env is None else env)
        full_env["SYNCASYNC_BENCH_TAG"] = self.tag
        return full_env

    def start(self, argv, env=None, stdout=None, stderr=None, nofile=True, **kwargs):
        def preexec():
            if nofile:
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        proc = subprocess.Popen(argv, env=self.env(env), stdout=stdout, stderr=stderr,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=preexec, **kwargs)
        self.live.append(proc)
        with open(self.pid_file, "a") as f:
            f.write("%d %s\n" % (proc.pid, os.path.basename(argv[0])))
        return proc

    def stop(self, proc, timeout=5.0):
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            except ProcessLookupError:
                pass
        if proc in self.live:
            self.live.remove(proc)

    def stop_all(self):
        for proc in list(self.live):
            self.stop(proc)
        return self.sweep()

    def sweep(self):
        """Kill (by pid) any process still carrying our tag; return them."""
        left = tagged_pids(self.tag)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left


def tagged_pids(tag):
    needle = ("SYNCASYNC_BENCH_TAG=%s" % tag).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, timeout=15.0):
    """Until url answers 2xx (the server is up); BenchError when it died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError("exited with status %s" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if 200 <= resp.status < 300:
                    return
        except Exception as exc:  # noqa: BLE001  (any failure means not yet)
            last = exc
        time.sleep(0.05)
    raise BenchError("no answer from %s within %.0f s (%s)" % (url, timeout, last))


def wait_tcp(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError("exited with status %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError("port %d not listening after %.0f s" % (port, timeout))


# --- /proc -------------------------------------------------------------------------

def field_kib(pid, field, name="status"):
    """A number field of /proc/PID/NAME ("VmRSS:  1234 kB"), or None."""
    try:
        with open("/proc/%d/%s" % (pid, name)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def status_kib(pid, field="VmRSS"):
    return field_kib(pid, field)


def pss_kib(pid):
    return field_kib(pid, "Pss", "smaps_rollup")


def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def children_named(ppid, comm):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        rpar = stat.rfind(")")
        if stat[stat.find("(") + 1:rpar] != comm:
            continue
        if int(stat[rpar + 2:].split()[1]) == ppid:
            out.append(int(name))
    return out


class Sampler(threading.Thread):
    """Samples a server's memory and descriptors until stopped; keeps the
    peak.  probe() returns a dict of numbers; the peak of each is kept."""

    def __init__(self, probe, interval):
        super().__init__(daemon=True)
        self.probe = probe
        self.interval = interval
        self.peak = {}
        self.halt = threading.Event()

    def _take(self):
        for key, value in self.probe().items():
            if value is not None and (key not in self.peak or value > self.peak[key]):
                self.peak[key] = value

    def run(self):
        while not self.halt.is_set():
            self._take()
            self.halt.wait(self.interval)

    def finish(self):
        self.halt.set()
        self.join()
        self._take()
        return self.peak
