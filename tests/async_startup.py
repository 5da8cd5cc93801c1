# SPDX-License-Identifier: ISC
"""async_startup.py - async_fcgi before its loop runs: bad settings and
options are named and refused (exit 2), started by hand without a socket it
says how to start it, --listen binds loopback and makes unix sockets 0660."""
import os
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
BINARY = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SYNCASYNC_")}


def run(args, env=None, stdin=subprocess.DEVNULL):
    full_env = dict(CLEAN_ENV, **(env or {}))
    return subprocess.run([BINARY] + args, env=full_env, stdin=stdin,
                          capture_output=True, text=True, timeout=10)


BAD_ENV = [
    ("SYNCASYNC_SLEEP_SECONDS", "forever"),
    ("SYNCASYNC_SLEEP_ON", "five"),
    ("SYNCASYNC_ASYNC_MODE", "fast"),
    ("SYNCASYNC_POOL_THREADS", "0"),
    ("SYNCASYNC_QUERY_OVERRIDES", "yes"),
]
for name, value in BAD_ENV:
    r = run(["--listen", "127.0.0.1:1"], env={name: value})
    tap.ok(r.returncode == 2 and name in r.stderr,
           "%s=%s: exit 2 naming the variable" % (name, value), r.stderr)

BAD_OPTIONS = [["--mode", "fast"], ["--sleep", "-1"], ["--max-conns", "0"],
               ["--idle-timeout", "1x"], ["--listen", "127.0.0.1:99999"], ["--bogus"],
               ["stray-argument"]]
for args in BAD_OPTIONS:
    r = run(args)
    tap.ok(r.returncode == 2 and r.stderr.strip() != "",
           "%s: exit 2 with a message" % " ".join(args), r.stderr)

r = run([])
tap.ok(r.returncode == 2 and "--listen" in r.stderr,
       "no socket on descriptor 0 and no --listen: says how to start it, exit 2", r.stderr)

r = run(["--help"])
tap.eq(r.returncode, 0, "--help exits 0")
for word in ("--listen", "--mode", "--sleep", "--sleep-on", "--pool-threads", "--max-conns",
             "--max-requests", "--max-params", "--max-stdin", "--idle-timeout", "--high-water",
             "--drain-timeout", "--stall-ms", "SYNCASYNC_SLEEP_SECONDS", "SYNCASYNC_SLEEP_ON",
             "SYNCASYNC_ASYNC_MODE", "SYNCASYNC_POOL_THREADS", "SYNCASYNC_QUERY_OVERRIDES"):
    tap.ok(word in r.stdout, "  --help documents %s" % word)
r = run(["--version"])
tap.ok(r.returncode == 0 and "async_fcgi" in r.stdout, "--version")


def wait_listening(check, deadline):
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


# A unix socket is created 0660 and answers.
tmp = harness.temp_dir("syncasync-startup-")
path = os.path.join(tmp, "a.sock")
proc = subprocess.Popen([BINARY, "--listen", "unix:" + path], env=CLEAN_ENV,
                        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
tap.ok(wait_listening(lambda: os.path.exists(path), time.time() + 5),
       "--listen unix:PATH creates the socket")
mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else None
tap.eq(mode, 0o660, "  with mode 0660")
proc.terminate()
tap.eq(proc.wait(timeout=10), 0, "  SIGTERM with nothing in flight: exit 0")
tap.ok(not os.path.exists(path), "  and the socket it created is removed")

# A bare port binds 127.0.0.1, not every address.
probe_sock = socket.socket()
probe_sock.bind(("127.0.0.1", 0))
port = probe_sock.getsockname()[1]
probe_sock.close()
proc = subprocess.Popen([BINARY, "--listen", str(port)], env=CLEAN_ENV,
                        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bound():
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True,
                         text=True).stdout
    return out.strip() != ""


if wait_listening(bound, time.time() + 5):
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True,
                         text=True).stdout
    tap.ok("127.0.0.1:%d" % port in out, "--listen PORT binds 127.0.0.1 only", out)
else:
    tap.ok(False, "--listen PORT listens")
proc.terminate()
proc.wait(timeout=10)
tap.done()
