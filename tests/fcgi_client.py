# SPDX-License-Identifier: ISC
"""fcgi_client.py - a small FastCGI 1.0 client of the project's own, for tests.

The wire format (python/fcgi_wire.py, shared with the bench, re-exported
here) lets tests send both correct requests and any malformed byte sequence
to async_fcgi without a web server in between; this file adds:

  - Conn: a socket that sends raw bytes, reads records until END_REQUEST or
    EOF under a deadline, and tells whether the server closed it;
  - get_values: a GET_VALUES round trip;
  - Server: async_fcgi on a free loopback port, stderr captured in a file,
    readiness by polling connect, stopped by pid (SIGTERM, wait, SIGKILL).

Standard library only.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from fcgi_wire import (  # noqa: F401  (re-exported: tests use fcgi_client.X)
    VERSION_1, BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR,
    DATA, GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE, RESPONDER, AUTHORIZER, FILTER,
    KEEP_CONN, REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE, HEADER_LEN,
    MAX_CONTENT, STATUS_NAMES, Record, encode_header, encode_record, encode_stream,
    decode_records, encode_length, encode_nv, encode_params, decode_nv, begin_body,
    default_params, build_request, parse_stdout, stdout_of)


# --- connections -------------------------------------------------------------------

class Response:
    """What came back for one request id on a connection."""

    def __init__(self):
        self.records = []         # every record read, in order
        self.stdout = b""         # STDOUT content for the request id
        self.stderr = b""
        self.end = None           # (app_status, protocol_status) or None
        self.eof = False          # the server closed the connection
        self.timed_out = False
        self.status = None
        self.headers = {}
        self.body = b""

    @property
    def protocol_status(self):
        return self.end[1] if self.end else None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "Response(status=%r, end=%r, eof=%r, timed_out=%r, body=%r)" % (
            self.status, self.end, self.eof, self.timed_out, self.body[:200])


class Conn:
    """One client connection to a FastCGI server."""

    def __init__(self, address, timeout=5.0):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        self.eof = False

    def send(self, data):
        """Raw bytes, whatever they are."""
        self.sock.sendall(data)

    def send_request(self, **kwargs):
        self.send(build_request(**kwargs))

    def _fill(self, deadline):
        """Reads more bytes; False on EOF/reset or at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_record(self, timeout=5.0):
        """The next whole record, or None on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            records, rest = decode_records(self.buf)
            if records:
                first = records[0]
                self.buf = self.buf[HEADER_LEN + len(first.content) + first.padding:]
                return first
            if not self._fill(deadline):
                return None

    def read_response(self, request_id=1, timeout=5.0, expect_close=None):
        """Records until END_REQUEST for request_id, EOF or the timeout.
        With expect_close set, it then waits (up to the same deadline) for
        the server to close the connection, so Response.eof says whether it
        did."""
        deadline = time.monotonic() + timeout
        resp = Response()
        while True:
            rec = self.read_record(max(0.0, deadline - time.monotonic()))
            if rec is None:
                resp.eof = self.eof
                resp.timed_out = not self.eof
                break
            resp.records.append(rec)
            if rec.request_id != request_id:
                continue
            if rec.type == STDOUT:
                resp.stdout += rec.content
            elif rec.type == STDERR:
                resp.stderr += rec.content
            elif rec.type == END_REQUEST:
                resp.end = rec.end_request()
                if expect_close:
                    resp.eof = self.wait_closed(max(0.0, deadline - time.monotonic()))
                break
        resp.status, resp.headers, resp.body = parse_stdout(resp.stdout)
        return resp

    def wait_closed(self, timeout=3.0):
        """True once the server has closed (EOF or reset) within timeout;
        bytes that arrive meanwhile are kept in the buffer."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._fill(deadline) and not self.eof:
                return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def get_values(conn, names, timeout=5.0):
    """Sends GET_VALUES for names (repeats allowed); returns the
    GET_VALUES_RESULT pairs as a list of (name, value) str tuples, or None."""
    conn.send(encode_record(GET_VALUES, 0, encode_params([(n, "") for n in names])))
    rec = conn.read_record(timeout)
    if rec is None or rec.type != GET_VALUES_RESULT:
        return None
    return [(n.decode(), v.decode()) for n, v in decode_nv(rec.content)]


def request(address, timeout=5.0, request_id=1, **kwargs):
    """One request on a new connection (no KEEP_CONN unless asked)."""
    with Conn(address, timeout) as conn:
        conn.send_request(request_id=request_id, **kwargs)
        return conn.read_response(request_id, timeout)


def simple_get(address, uri="/async", query="", method="GET", timeout=5.0, **kwargs):
    return request(address, timeout=timeout,
                   params=default_params(uri=uri, method=method, query=query), **kwargs)


# --- the server --------------------------------------------------------------------

def free_port():
    """A loopback port that was free a moment ago (bind to port 0)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """async_fcgi on a free loopback port; stderr goes to a file."""

    def __init__(self, binary, args=(), env=None, nofile=None, pass_fds=(), start_timeout=10.0,
                 unix=False, listener=None):
        """unix=True listens on a socket file in a private directory instead
        of a TCP port; listener, a listening socket, is given as descriptor 0
        instead of --listen (as a spawner does); nofile sets RLIMIT_NOFILE
        (soft and hard) in the child; pass_fds stay open in it."""
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="syncasync-fcgi-")
        if listener is not None:
            self.address = listener.getsockname()
            self.port = self.address[1] if isinstance(self.address, tuple) else None
        elif unix:
            self.port = None
            self.address = os.path.join(self.dir, "async.sock")
            listen = "unix:" + self.address
        else:
            self.port = free_port()
            self.address = ("127.0.0.1", self.port)
            listen = "127.0.0.1:%d" % self.port
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SYNCASYNC_")}
        environ.update({k: str(v) for k, v in (env or {}).items()})
        preexec = None
        if nofile is not None:
            def preexec():
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [binary] + (["--listen", listen] if listener is None else []) + [str(a) for a in args],
            stdin=subprocess.DEVNULL if listener is None else listener.fileno(),
            stdout=self.stderr_file, stderr=self.stderr_file,
            env=environ, preexec_fn=preexec, pass_fds=tuple(pass_fds))
        self.pid = self.proc.pid
        try:
            self._wait_ready(start_timeout)
        except Exception:
            self.__exit__()
            raise

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("async_fcgi exited with %s:\n%s" % (
                    self.proc.returncode, self.stderr_text()))
            try:
                Conn(self.address, timeout=1.0).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("async_fcgi did not listen within %.0f s" % timeout)
                time.sleep(0.01)

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_size(self):
        return os.path.getsize(self.stderr_path)

    def stderr_since(self, offset):
        """Lines written to stderr after byte offset."""
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace").splitlines()

    def cpu_seconds(self):
        """utime + stime of the process, from /proc/PID/stat."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def signal(self, sig=signal.SIGTERM):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """The exit status, or None if it is still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=5.0):
        """SIGTERM, wait, SIGKILL; returns the exit status."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            if self.wait(timeout) is None:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.stderr_file.close()
        return self.proc.returncode

    def stats(self, timeout=5.0):
        """/async/stats as a dict (None if it did not answer)."""
        return simple_get(self.address, uri="/async/stats", timeout=timeout).json()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
