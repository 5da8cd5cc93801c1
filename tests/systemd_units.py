# SPDX-License-Identifier: ISC
"""systemd_units.py - deploy/async_fcgi.socket and deploy/async_fcgi.service:
`systemd-analyze verify` accepts them without a word (ExecStart pointed at
the build tree; a misspelt key in a copy is reported, so silence means
something), they carry the sandboxing the README promises, and async_fcgi
accepts a socket the systemd way: descriptor 3 with LISTEN_PID/LISTEN_FDS,
and only when LISTEN_PID is its own pid."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
DEPLOY = os.path.join(harness.SRCDIR, "deploy")
ASYNC_FCGI = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
UNITS = ("async_fcgi.socket", "async_fcgi.service")


def read(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return f.read()


def skip(what, reason):
    tap.ok(True, "%s # SKIP %s" % (what, reason))


def copy_units(directory, extra=""):
    """The units with ExecStart pointed at the build tree, in directory."""
    for name in UNITS:
        text = read(name)
        if name.endswith(".service"):
            text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + ASYNC_FCGI, text)
            text = text.replace("[Service]\n", "[Service]\n" + extra, 1)
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    return [os.path.join(directory, name) for name in UNITS]


def check_units():
    service, sock = read("async_fcgi.service"), read("async_fcgi.socket")
    for directive in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                      "PrivateTmp=yes", "CapabilityBoundingSet=\n",
                      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        tap.ok(directive in service, "service sandboxing: %s" % directive.strip())
    tap.ok("Requires=async_fcgi.socket" in service, "the service requires its socket")
    tap.ok(re.search(r"(?m)^ListenStream=/run/syncasync/async\.sock$", sock) and
           "SocketMode=0660" in sock, "the socket: /run/syncasync/async.sock, mode 0660")

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        for what in ("systemd-analyze verify: no complaint", "  a misspelt key is reported",
                     "systemd-analyze security: exposure below 2.0"):
            skip(what, "systemd-analyze not installed (Debian package systemd)")
        return
    work = tempfile.mkdtemp(prefix="syncasync-units-")
    try:
        result = subprocess.run([analyze, "verify"] + copy_units(work),
                                capture_output=True, text=True, timeout=60)
        out = (result.stdout + result.stderr).strip()
        tap.ok(result.returncode == 0 and out == "", "systemd-analyze verify: no complaint", out)
        bad = tempfile.mkdtemp(dir=work)
        result = subprocess.run([analyze, "verify"] + copy_units(bad, "ProtectSytem=strict\n"),
                                capture_output=True, text=True, timeout=60)
        tap.ok("ProtectSytem" in result.stdout + result.stderr,
               "  a misspelt key is reported (so the silence above means something)",
               result.stdout + result.stderr)
        result = subprocess.run([analyze, "security", "--offline=yes",
                                 os.path.join(work, "async_fcgi.service")],
                                capture_output=True, text=True, timeout=60)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
        if result.returncode != 0 and not match and "offline" in result.stderr:
            skip("systemd-analyze security: exposure below 2.0", "no --offline here")
        else:
            level = float(match.group(1)) if match else 99.0
            tap.ok(level < 2.0, "systemd-analyze security: exposure %.1f (below 2.0)" % level,
                   result.stdout[-1500:] + result.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fcgi_get(path, uri, timeout=5):
    """One FastCGI GET over a unix socket: (status, body)."""
    def record(kind, content):
        return struct.pack("!BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair(name, value):
        return bytes([len(name), len(value)]) + name + value

    params = (pair(b"REQUEST_METHOD", b"GET") + pair(b"REQUEST_URI", uri.encode()) +
              pair(b"SCRIPT_NAME", uri.encode()) + pair(b"QUERY_STRING", b""))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(record(1, struct.pack("!HB5x", 1, 0)) + record(4, params) +
                     record(4, b"") + record(5, b""))
        data, out = b"", b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            ended = False
            while len(data) >= 8:
                _, kind, _, length, padding = struct.unpack("!BBHHBx", data[:8])
                if len(data) < 8 + length + padding:
                    break
                if kind == 6:
                    out += data[8:8 + length]
                ended = ended or kind == 3
                data = data[8 + length + padding:]
            if ended:
                break
    finally:
        sock.close()
    head, _, body = out.partition(b"\r\n\r\n")
    match = re.search(rb"(?mi)^Status: (\d+)", head)
    return (int(match.group(1)) if match else 200), body


def spawn_activated(listener, pid_offset=0):
    """async_fcgi with listener on descriptor 3 and LISTEN_PID set to its own
    pid (plus pid_offset, to lie); returns (pid, stderr file)."""
    err = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        try:
            if listener.fileno() != 3:
                os.dup2(listener.fileno(), 3)
            os.set_inheritable(3, True)     # also when it already was 3
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(err.fileno(), 2)
            env = dict(os.environ, LISTEN_PID=str(os.getpid() + pid_offset), LISTEN_FDS="1",
                       SYNCASYNC_SLEEP_ON="0")
            os.execve(ASYNC_FCGI, [ASYNC_FCGI], env)
        finally:
            os._exit(127)
    return pid, err


def wait_exit(pid, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def check_socket_activation():
    work = tempfile.mkdtemp(prefix="syncasync-activation-")
    path = os.path.join(work, "async.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    pid, err = spawn_activated(listener)
    try:
        status, body = 0, b""
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                status, body = fcgi_get(path, "/async/stats")
                break
            except OSError:
                time.sleep(0.05)
        try:
            stats = json.loads(body)
        except ValueError:
            stats = {}
        tap.eq(status, 200, "LISTEN_FDS=1: async_fcgi serves on descriptor 3")
        tap.eq(stats.get("pid"), pid, "  /async/stats from that process")
        status, body = fcgi_get(path, "/async")
        tap.ok(status == 200 and b"async example" in body, "  and /async answers", body)
    finally:
        os.kill(pid, 15)
        code = wait_exit(pid, 10)
    tap.eq(code, 0, "  SIGTERM: it exits 0")

    pid, err = spawn_activated(listener, pid_offset=1)
    code = wait_exit(pid, 10)
    err.seek(0)
    text = err.read().decode(errors="replace")
    if code is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    tap.ok(code == 2, "LISTEN_PID of another process: it does not take the socket (exit 2)",
           "exit %r: %s" % (code, text))
    listener.close()
    shutil.rmtree(work, ignore_errors=True)


check_units()
check_socket_activation()
tap.done()
