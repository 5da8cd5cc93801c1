# SPDX-License-Identifier: ISC
"""servers.py - the servers the bench measures, each on a loopback port.

lighttpd and Apache are started by deploy/syncasync-serve with the deploy
configurations, through bench/lighttpd.conf and bench/apache2.conf, which
include them and add the reference programs; each gets a run directory of
its own.  uvicorn and the FastCGI backends Apache reaches over TCP are
started here.  Every process carries the bench's tag (procs.Procs).
"""
import json
import os
import socket
import subprocess
import sys

from . import procs
from .procs import BenchError

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRCDIR = os.path.dirname(BENCH_DIR)
SERVE = os.path.join(SRCDIR, "deploy", "syncasync-serve")
APACHE_MODULES = "/usr/lib/apache2/modules"
# /pool as deploy/lighttpd.conf mounts it: one sync_cgi --workers N started by
# lighttpd (max-procs 1), its N long-lived workers accepting on one socket.
POOL_WORKERS = 4

sys.path.insert(0, os.path.join(SRCDIR, "python"))
import fcgi_wire  # noqa: E402  (python/fcgi_wire.py, shared with the tests)
sys.path.insert(0, BENCH_DIR)
import load_fcgi  # noqa: E402  (bench/load_fcgi.py)


class Served:
    """A web server started by deploy/syncasync-serve in run_dir/NAME."""

    def __init__(self, bench, server, name, options, env):
        self.bench = bench
        self.run_dir = os.path.join(bench.run_dir, name)
        os.makedirs(self.run_dir)
        argv = [SERVE, "--server", server, "start", "--build-dir", bench.build,
                "--run-dir", self.run_dir] + options
        r = subprocess.run(argv, env=bench.procs.env(dict(os.environ, **env)),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            self.stop()
            raise BenchError("%s did not start: %s" % (server, (r.stderr or r.stdout)[-300:]))
        with open(os.path.join(self.run_dir, "url")) as f:
            self.url = f.read().strip()
        pid_file = "apache2.pid" if server == "apache" else "lighttpd.pid"
        with open(os.path.join(self.run_dir, pid_file)) as f:
            self.pid = int(f.read())
        with open(bench.procs.pid_file, "a") as f:
            f.write("%d %s\n" % (self.pid, server))

    def stop(self):
        subprocess.run([SERVE, "stop", "--run-dir", self.run_dir], timeout=60)


def lighttpd(bench, name, sleep=0, sleep_on="0", pool=False, fastapi_port=None,
             async_args=None):
    """/sync, /ref-cgi, /ref-fcgi, the static file, and with pool /async
    (timer) and /pool (POOL_WORKERS workers, a counter of its own).  Without
    pool, only sync_cgi runs as the path's program: the concurrency run
    counts lighttpd's sync_cgi children.  fastapi_port: uvicorn's, proxied
    under /fastapi/ (without it that path leads nowhere: port 9).
    async_args: options for async_fcgi (--workers 2); with them only /async
    (timer) is mounted, beside /sync."""
    if not bench.tools["lighttpd"]:
        raise BenchError("Debian package lighttpd is missing")
    options = ["--config", os.path.join(BENCH_DIR, "lighttpd.conf"),
               "--sleep", str(sleep), "--sleep-on", str(sleep_on)]
    if async_args:
        options += ["--paths", "async", "--mode", "timer", "--async-args", async_args]
    elif pool:
        options += ["--paths", "async,pool", "--mode", "timer",
                    "--pool-workers", str(POOL_WORKERS), "--pool-own-counter"]
    else:
        options += ["--paths", "none"]
    served = Served(bench, "lighttpd", name, options, {
        "LIGHTTPD": bench.tools["lighttpd"],
        "SYNCASYNC_BENCH_REF_CGI": bench.binaries["ref_cgi"],
        "SYNCASYNC_BENCH_REF_FCGI": bench.binaries["ref_fcgi"],
        "SYNCASYNC_BENCH_CONST_FCGI": bench.binaries["const_fcgi"],
        "SYNCASYNC_BENCH_CONST_FCGI_LEAN": bench.binaries["const_fcgi_lean"],
        "SYNCASYNC_BENCH_FASTAPI_PORT": str(fastapi_port or 9)})
    # 100 bytes exactly: the static-file ceiling row.
    with open(os.path.join(served.run_dir, "htdocs", "static.txt"), "w") as f:
        f.write(("syncasync static file, 100 bytes: the ceiling for anything "
                 "behind lighttpd. " + "x" * 100)[:99] + "\n")
    procs.wait_http(served.url + "/static.txt", None)
    return served


def apache(bench, name, async_port, ref_port, ref_reuse):
    """/sync, /async on async_port with connection reuse, /ref (the libfcgi
    reference) on ref_port with or without it; no access log."""
    if not bench.tools["apache2"]:
        raise BenchError("Debian package apache2 is missing")
    for mod in ("mod_mpm_event", "mod_cgid", "mod_proxy_fcgi"):
        if not os.path.exists(os.path.join(APACHE_MODULES, mod + ".so")):
            raise BenchError("%s.so missing from %s (Debian package apache2)"
                             % (mod, APACHE_MODULES))
    return Served(bench, "apache", name,
                  ["--config", os.path.join(BENCH_DIR, "apache2.conf"), "--paths", "none",
                   "--sleep-on", "0"],
                  {"APACHE2": bench.tools["apache2"],
                   "SYNCASYNC_APACHE_MODULES": APACHE_MODULES,
                   "SYNCASYNC_BENCH_ASYNC_PORT": str(async_port),
                   "SYNCASYNC_BENCH_REF_PORT": str(ref_port),
                   "SYNCASYNC_BENCH_REF_REUSE": "on" if ref_reuse else "off"})


def fcgi_tcp(bench, argv, port, log_name):
    """A FastCGI backend that listens on 127.0.0.1:port itself."""
    proc = bench.procs.start(argv, stderr=open(os.path.join(bench.run_dir, log_name), "w"))
    procs.wait_tcp(port, proc)
    return proc


def async_tcp(bench, port, log_name, mode="timer", extra=()):
    return fcgi_tcp(bench, [bench.binaries["async_fcgi"], "--listen", "127.0.0.1:%d" % port,
                            "--mode", mode] + list(extra), port, log_name)


def uvicorn(bench, name, sleep):
    python = bench.tools["fastapi_python"]
    if not python:
        raise BenchError("Debian packages python3-fastapi and python3-uvicorn are missing")
    port = procs.free_port()
    env = dict(os.environ, SYNCASYNC_SLEEP_SECONDS=str(sleep), PYTHONDONTWRITEBYTECODE="1")
    proc = bench.procs.start([python, "-m", "uvicorn", "fastapi_app:app", "--app-dir", BENCH_DIR,
                              "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                              "--log-level", "warning", "--no-access-log"],
                             env=env, stderr=open(os.path.join(bench.run_dir, name + ".stderr"),
                                                  "w"))
    procs.wait_http("http://127.0.0.1:%d/async" % port, proc, timeout=30)
    return proc, "http://127.0.0.1:%d" % port, port


def fcgi_get(port, uri, timeout=2.0):
    """GET uri over FastCGI on a new connection to 127.0.0.1:port, as
    lighttpd sends it; the STDOUT stream (b"" if none came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(load_fcgi.fcgi_request_bytes(uri))
        buf = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            buf += data
            done, _ = load_fcgi.fcgi_parse(buf)
            if done:
                break
    records, _ = fcgi_wire.decode_records(buf)
    return fcgi_wire.stdout_of(records)[0]


def fcgi_stats(port):
    """async_fcgi's /async/stats over FastCGI, or None."""
    try:
        _, _, body = fcgi_wire.parse_stdout(fcgi_get(port, "/async/stats"))
        return json.loads(body)
    except (OSError, ValueError):
        return None
