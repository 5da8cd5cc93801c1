#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""load_fcgi.py - hold many requests in flight at once, for the bench.

One process, one thread, non-blocking sockets and `selectors`: each request
gets its own connection, so C requests in flight cost the client C sockets
and a few hundred bytes each, not C threads.  It speaks

  - FastCGI 1.0 straight to a responder (`--protocol fcgi`: BEGIN_REQUEST
    without KEEP_CONN, PARAMS like lighttpd's, empty STDIN; the answer is the
    STDOUT stream up to END_REQUEST), which is how the bench drives
    async_fcgi past a web server's descriptor limit;
  - HTTP/1.1 with `Connection: close` (`--protocol http`), for /sync behind
    lighttpd and for uvicorn.

Connections are opened in batches (at most --batch not yet established at a
time), so a listen backlog never overflows; a unix socket whose backlog is
full (EAGAIN) is simply retried.  On SIGTERM or SIGINT it stops, closes
every connection and still prints its summary.

Output on stdout: the line `all-sent SECONDS` once every request is
written, then one JSON line: counts (ok, per error kind), the ramp time, the
wall time, latency percentiles, the largest number of requests it had in
flight at once.  Standard library only; not part of syncasync.

  load_fcgi.py --target tcp:127.0.0.1:9000 --protocol fcgi -c 10000 --uri /async
"""
import argparse
import errno
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import fcgi_wire  # noqa: E402  (python/fcgi_wire.py, shared with the tests)


def fcgi_request_bytes(uri):
    """A GET of uri as lighttpd sends it: no KEEP_CONN, empty STDIN."""
    path, _, query = uri.partition("?")
    return fcgi_wire.build_request(fcgi_wire.default_params(
        uri=path, query=query, extra=[("SERVER_NAME", "127.0.0.1"), ("SERVER_PORT", "80")]))


def fcgi_parse(buf):
    """(done, status) from the records received so far: done once
    END_REQUEST arrived; status from the STDOUT stream's Status header."""
    records, _ = fcgi_wire.decode_records(buf)
    out, end = fcgi_wire.stdout_of(records)
    if end is None:
        return False, 0
    status, headers, _ = fcgi_wire.parse_stdout(out)
    if status is None:
        status = 0 if "status" in headers else 200
    return True, status


def http_parse(buf):
    """Status code of an HTTP response read to EOF (0 when unreadable)."""
    try:
        return int(buf.split(b"\r\n", 1)[0].split()[1])
    except (ValueError, IndexError):
        return 0


class Client:
    """C requests, each on its own connection, driven by one selector."""

    def __init__(self, args):
        self.args = args
        kind, _, rest = args.target.partition(":")
        if kind == "unix":
            self.family, self.address = socket.AF_UNIX, rest
        elif kind == "tcp":
            host, _, port = rest.rpartition(":")
            self.family, self.address = socket.AF_INET, (host, int(port))
        else:
            raise SystemExit("load_fcgi: --target must be tcp:HOST:PORT or unix:PATH")
        if args.protocol == "fcgi":
            self.request = fcgi_request_bytes(args.uri)
        else:
            self.request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                            % args.uri).encode()
        self.sel = selectors.DefaultSelector()
        self.stop = False
        self.errors = {}
        self.ok = 0
        self.latencies = []
        self.connecting = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = 0
        self.sent = 0

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def open_one(self):
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        rc = sock.connect_ex(self.address)
        if rc == errno.EAGAIN and self.family == socket.AF_UNIX:
            sock.close()
            return False  # the backlog is full: try again on the next turn
        if rc not in (0, errno.EINPROGRESS):
            sock.close()
            self.started += 1
            self.error("connect: " + errno.errorcode.get(rc, str(rc)))
            return True
        state = {"sock": sock, "out": self.request, "in": bytearray(), "t0": time.monotonic(),
                 "connected": rc == 0}
        if rc != 0:
            self.connecting += 1
        self.sel.register(sock, selectors.EVENT_WRITE, state)
        self.started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return True

    def finish(self, state, status=None, kind=None):
        self.sel.unregister(state["sock"])
        state["sock"].close()
        self.in_flight -= 1
        if kind is not None:
            self.error(kind)
        elif 200 <= status < 300:
            self.ok += 1
            self.latencies.append(time.monotonic() - state["t0"])
        else:
            self.error("status %d" % status)

    def on_event(self, state, mask):
        sock = state["sock"]
        if not state["connected"]:
            self.connecting -= 1
            state["connected"] = True
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.finish(state, kind="connect: " + errno.errorcode.get(err, str(err)))
                return
        if mask & selectors.EVENT_WRITE:
            try:
                n = sock.send(state["out"])
            except BlockingIOError:
                return
            except OSError as exc:
                self.finish(state, kind="send: " + errno.errorcode.get(exc.errno, str(exc)))
                return
            state["out"] = state["out"][n:]
            if not state["out"]:
                self.sent += 1
                self.sel.modify(sock, selectors.EVENT_READ, state)
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.finish(state, kind="recv: " + errno.errorcode.get(exc.errno, str(exc)))
            return
        if data:
            state["in"] += data
            if self.args.protocol == "fcgi":
                done, status = fcgi_parse(bytes(state["in"]))
                if done:
                    self.finish(state, status=status)
            return
        if self.args.protocol == "http":
            self.finish(state, status=http_parse(bytes(state["in"])))
        else:
            self.finish(state, kind="closed before END_REQUEST")

    def run(self):
        count = self.args.concurrency
        t_start = time.monotonic()
        deadline = t_start + self.args.timeout
        all_sent_at = None
        while not self.stop:
            now = time.monotonic()
            if now >= deadline:
                break
            while self.started < count and self.connecting < self.args.batch:
                if not self.open_one():
                    break
            if all_sent_at is None and self.sent + sum(self.errors.values()) >= count:
                all_sent_at = now - t_start
                print("all-sent %.3f" % all_sent_at, flush=True)
            if self.started >= count and self.in_flight == 0:
                break
            try:
                events = self.sel.select(timeout=0.05 if self.started < count else 0.2)
            except InterruptedError:
                continue
            for key, mask in events:
                self.on_event(key.data, mask)
        t_end = time.monotonic()
        unfinished = self.in_flight
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        lat = sorted(self.latencies)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))], 4) if lat else None
        return {
            "target": self.args.target, "protocol": self.args.protocol, "uri": self.args.uri,
            "requested": count, "opened": self.started, "ok": self.ok,
            "errors": self.errors, "unfinished": unfinished,
            "stopped": self.stop, "timed_out": t_end >= deadline and unfinished > 0,
            "ramp_s": round(all_sent_at, 3) if all_sent_at is not None else None,
            "wall_s": round(t_end - t_start, 3),
            "max_in_flight": self.max_in_flight,
            "latency_s": {"p50": pct(50), "p99": pct(99), "max": round(lat[-1], 4) if lat else None},
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="tcp:HOST:PORT or unix:PATH")
    parser.add_argument("--protocol", choices=("fcgi", "http"), default="fcgi")
    parser.add_argument("--uri", default="/async")
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after SEC")
    parser.add_argument("--batch", type=int, default=32,
                        help="connections being established at once")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.concurrency + 64) if hard != resource.RLIM_INFINITY else args.concurrency + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    client = Client(args)

    def on_signal(signum, frame):
        client.stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    summary = client.run()
    summary["nofile_limit"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
