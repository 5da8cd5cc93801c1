# SPDX-License-Identifier: ISC
"""async_protocol.py - async_fcgi driven directly over FastCGI, no web server.

TAP test (tests/harness.py) with the project's own client (tests/fcgi_client.py):
the contract JSON, HEAD/404/405, connection reuse with FCGI_KEEP_CONN,
GET_VALUES, ABORT_REQUEST of a sleeping request, UNKNOWN_TYPE, UNKNOWN_ROLE,
CANT_MPX_CONN, OVERLOADED, a table of malformed inputs (each one closes only
its own connection with one log line, or gets the END_REQUEST status the
spec asks for), EOF at every byte offset of a request, PARAMS split anywhere,
PARAMS exactly at the cap, the idle timeout, a client hanging up mid-sleep in
each mode, SIGTERM draining requests in flight, descriptor exhaustion
(the listener pauses instead of spinning), and a cross-check with libfcgi's
cgi-fcgi when it is installed.

Run: top_srcdir=. top_builddir=BUILD python3 tests/async_protocol.py
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import fcgi_client as fc  # noqa: E402
from harness import wait_for  # noqa: E402

tap = harness.Tap()
BINARY = os.path.join(harness.BUILDDIR, "async_fcgi", "async_fcgi")
if not os.access(BINARY, os.X_OK):
    tap.skip_all("%s is not built" % BINARY)

CONTRACT = {"message", "thread_id", "pid", "request_time", "request_no",
            "started_us", "finished_us", "mode"}
# Watchdog lines would spoil the log-line counts on a busy machine.
QUIET = ["--stall-ms", "10000"]
MAIN_ENV = {"SYNCASYNC_SLEEP_ON": "0", "SYNCASYNC_ASYNC_MODE": "timer",
            "SYNCASYNC_QUERY_OVERRIDES": "1"}
MAX_CONNS, MAX_REQS, MAX_STDIN = 100, 50, 4096
MAX_PARAMS = 65536


def skip(what, reason):
    """One skipped check, counted in the plan."""
    tap.count += 1
    print("ok %d - %s # SKIP %s" % (tap.count, what, reason), flush=True)


def in_flight_is(server, n):
    stats = server.stats() or {}
    return stats.get("in_flight") == n


def valid_ok(server, what):
    """A fresh connection still gets a 200 with the contract JSON."""
    r = fc.simple_get(server.address)
    return tap.ok(r.status == 200 and CONTRACT <= set(r.json() or {}), what, r)


def sleeping(query_sleep, mode, keep_conn=False, request_id=1):
    return dict(params=fc.default_params(query="sleep=%s&mode=%s" % (query_sleep, mode)),
                keep_conn=keep_conn, request_id=request_id)


# --- the basics ----------------------------------------------------------------------

def check_valid(server):
    with fc.Conn(server.address) as conn:
        conn.send_request()
        r = conn.read_response(expect_close=True)
    body = r.json() or {}
    tap.eq(r.status, 200, "GET /async: Status 200")
    tap.eq(r.headers.get("content-type"), "application/json", "  Content-Type application/json")
    tap.ok(CONTRACT <= set(body), "  every contract field", body)
    tap.eq(body.get("message"), "async example", "  message")
    tap.eq(body.get("mode"), "timer", "  mode is the configured one")
    tap.eq(body.get("pid"), server.pid, "  pid is the server's")
    tap.ok(body.get("started_us", 0) <= body.get("finished_us", -1), "  started <= finished")
    types = [rec.type for rec in r.records]
    tap.ok(len(types) >= 3 and set(types[:-2]) == {fc.STDOUT} and types[-2:] == [fc.STDOUT, fc.END_REQUEST]
           and r.records[-2].content == b"", "  STDOUT records, the empty STDOUT, then END_REQUEST", types)
    tap.eq(r.end, (0, fc.REQUEST_COMPLETE), "  END_REQUEST app status 0, REQUEST_COMPLETE")
    tap.ok(r.eof, "  without KEEP_CONN the server closes after the reply")
    first = body.get("request_no", 0)
    r2 = fc.simple_get(server.address)
    tap.eq((r2.json() or {}).get("request_no"), first + 1, "  request_no increments")
    r = fc.simple_get(server.address, method="HEAD")
    tap.ok(r.status == 200 and r.body == b"" and r.headers.get("content-type") == "application/json",
           "HEAD /async: 200, headers, no body", r)
    r = fc.simple_get(server.address, uri="/mount/point/async/")
    tap.eq(r.status, 200, "routing by the last segment: /mount/point/async/ is /async")
    r = fc.simple_get(server.address, uri="/nope")
    tap.ok(r.status == 404 and "error" in (r.json() or {}), "unknown path: 404 JSON", r)
    r = fc.request(server.address, params=fc.default_params(method="POST", extra={"CONTENT_LENGTH": "5"}),
                   stdin=b"hello")
    tap.ok(r.status == 405 and "error" in (r.json() or {}), "POST with a body: 405 JSON", r)
    r = fc.simple_get(server.address, query="mode=offload")
    tap.eq((r.json() or {}).get("mode"), "offload", "?mode=offload (query overrides on)")


def check_keep_conn(server):
    before = server.stats()["connections_accepted"]
    numbers, ends, statuses = [], [], []
    with fc.Conn(server.address) as conn:
        for request_id in (1, 2, 3, 300, 65535):
            conn.send_request(keep_conn=True, request_id=request_id)
            r = conn.read_response(request_id)
            statuses.append(r.status)
            ends.append(r.end)
            numbers.append((r.json() or {}).get("request_no"))
        still_open = not conn.wait_closed(0.2)
        after = server.stats()["connections_accepted"]
    tap.eq(statuses, [200] * 5, "KEEP_CONN: 5 requests on one connection, all 200")
    tap.eq(ends, [(0, 0)] * 5, "  each ended REQUEST_COMPLETE")
    tap.ok(None not in numbers and numbers == list(range(numbers[0], numbers[0] + 5)),
           "  numbered consecutively", numbers)
    tap.ok(still_open, "  the connection stays open after the 5th")
    # +1 for the kept connection, +1 for the second stats request itself
    tap.eq(after - before, 2, "  connections_accepted grew by 1 for all five")


def check_get_values(server):
    with fc.Conn(server.address) as conn:
        got = fc.get_values(conn, ["FCGI_MAX_CONNS", "X_UNKNOWN", "FCGI_MAX_REQS",
                                   "FCGI_MAX_CONNS", "FCGI_MPXS_CONNS", "FCGI_MPXS_CONNS", ""])
        tap.eq(got, [("FCGI_MAX_CONNS", str(MAX_CONNS)), ("FCGI_MAX_REQS", str(MAX_REQS)),
                     ("FCGI_MPXS_CONNS", "0")],
               "GET_VALUES: each known name once, in order, unknown ones left out")
        tap.eq(fc.get_values(conn, []), [], "  an empty GET_VALUES gets an empty result")
        tap.eq(fc.get_values(conn, ["FCGI_MAX_REQS"] * 3000), [("FCGI_MAX_REQS", str(MAX_REQS))],
               "  3000 repeats of one name (a 48 KB query): one answer")
        tap.eq(fc.get_values(conn, ["FCGI_MPXS_CONNS"]), [("FCGI_MPXS_CONNS", "0")],
               "  the connection stays usable: MPXS_CONNS 0 again")
        conn.send_request()
        r = conn.read_response()
        tap.eq(r.status, 200, "  and a request after GET_VALUES on it succeeds")


def check_abort(server):
    with fc.Conn(server.address) as conn:
        conn.send_request(**sleeping(5, "timer", keep_conn=True))
        started = wait_for(lambda: in_flight_is(server, 1), 3)
        tap.ok(started, "ABORT: the sleeping request is in flight")
        t0 = time.monotonic()
        conn.send(fc.encode_record(fc.ABORT_REQUEST, 1))
        r = conn.read_response(1, timeout=3)
        took = time.monotonic() - t0
        tap.ok(r.end == (0, fc.REQUEST_COMPLETE) and took < 1.0,
               "  END_REQUEST REQUEST_COMPLETE within 1 s", "%r after %.3f s" % (r, took))
        tap.eq(r.stdout, b"", "  and no STDOUT for the aborted request")
        tap.eq((server.stats() or {}).get("in_flight"), 0, "  stats: in_flight back to 0")
        conn.send_request(keep_conn=True, request_id=2)
        tap.eq(conn.read_response(2).status, 200, "  KEEP_CONN: the next request on it succeeds")
    with fc.Conn(server.address) as conn:
        conn.send_request(**sleeping(5, "timer"))
        wait_for(lambda: in_flight_is(server, 1), 3)
        conn.send(fc.encode_record(fc.ABORT_REQUEST, 1))
        r = conn.read_response(1, timeout=3, expect_close=True)
        tap.ok(r.end == (0, 0) and r.eof, "  without KEEP_CONN: END_REQUEST, then closed", r)
    with fc.Conn(server.address) as conn:
        conn.send_request(**sleeping(1, "offload", keep_conn=True))
        wait_for(lambda: in_flight_is(server, 1), 3)
        t0 = time.monotonic()
        conn.send(fc.encode_record(fc.ABORT_REQUEST, 1))
        r = conn.read_response(1, timeout=3)
        took = time.monotonic() - t0
        tap.ok(r.end == (0, 0) and r.stdout == b"" and took < 1.0,
               "ABORT of an offloaded request: END_REQUEST at once", "%r after %.3f s" % (r, took))
        stats = wait_for(lambda: (lambda s: s if s.get("pool_busy") == 0 else None)(server.stats() or {}), 3)
        tap.ok(stats and stats.get("in_flight") == 0, "  in_flight 0, and the worker comes free", stats)
        conn.send_request(keep_conn=True, request_id=2)
        tap.eq(conn.read_response(2).status, 200, "  the next request on the connection: 200")
    with fc.Conn(server.address) as conn:
        data = fc.build_request(keep_conn=True)
        conn.send(data[:-fc.HEADER_LEN])          # all but the empty STDIN
        conn.send(fc.encode_record(fc.ABORT_REQUEST, 1))
        r = conn.read_response(1, timeout=3)
        tap.ok(r.end == (0, 0) and r.stdout == b"",
               "ABORT before the request was complete: END_REQUEST REQUEST_COMPLETE", r)
        conn.send(data[-fc.HEADER_LEN:])          # its late empty STDIN: ignored
        conn.send_request(request_id=2)
        r = conn.read_response(2, expect_close=True)
        tap.ok(r.status == 200 and r.eof, "  its late STDIN is ignored, the next request: 200", r)
        tap.eq((server.stats() or {}).get("in_flight"), 0, "  in_flight still 0 (never counted)")


def check_management_and_refusals(server):
    with fc.Conn(server.address) as conn:
        for rtype in (42, fc.ABORT_REQUEST, 255):
            conn.send(fc.encode_record(rtype, 0, b"whatever"))
            rec = conn.read_record()
            tap.ok(rec is not None and rec.type == fc.UNKNOWN_TYPE and rec.request_id == 0 and
                   len(rec.content) == 8 and rec.content[0] == rtype,
                   "management type %d: UNKNOWN_TYPE echoing it" % rtype, rec)
        tap.ok(not conn.wait_closed(0.1), "  the connection stays open")
    # Unknown role, with and without KEEP_CONN; the refused request's records are ignored.
    for role in (fc.AUTHORIZER, fc.FILTER, 77):
        r = fc.request(server.address, role=role)
        tap.eq(r.end, (0, fc.UNKNOWN_ROLE), "role %d: END_REQUEST UNKNOWN_ROLE" % role)
    with fc.Conn(server.address) as conn:
        conn.send(fc.build_request(role=fc.AUTHORIZER, keep_conn=True, request_id=1) +
                  fc.build_request(request_id=2))
        r1 = conn.read_response(1)
        r2 = conn.read_response(2, expect_close=True)
        tap.ok(r1.end == (0, fc.UNKNOWN_ROLE) and r1.stdout == b"",
               "  KEEP_CONN + unknown role: UNKNOWN_ROLE, its PARAMS/STDIN ignored", r1)
        tap.ok(r2.status == 200 and r2.eof, "  then the next request on it: 200", r2)
    # A second BEGIN while the first request sleeps: CANT_MPX_CONN for it only.
    with fc.Conn(server.address) as conn:
        conn.send(fc.build_request(**sleeping(0.5, "timer", keep_conn=True, request_id=1)) +
                  fc.build_request(request_id=2))
        first = conn.read_record(3)
        tap.ok(first is not None and first.type == fc.END_REQUEST and first.request_id == 2 and
               first.end_request() == (0, fc.CANT_MPX_CONN),
               "second BEGIN on a busy connection: CANT_MPX_CONN for id 2 at once", first)
        r = conn.read_response(1, timeout=3)
        tap.ok(r.status == 200 and "(sleep)" in (r.json() or {}).get("message", ""),
               "  while request 1 still completes with 200", r)
        tap.ok(not conn.wait_closed(0.1), "  and KEEP_CONN keeps the connection open")


def check_overload():
    with fc.Server(BINARY, ["--max-requests", 2] + QUIET, env=MAIN_ENV) as server:
        conns = []
        for i in range(2):
            conn = fc.Conn(server.address)
            conn.send_request(**sleeping(1, "timer"))
            # GET_VALUES on the same connection is answered only after the
            # request before it has been started: a barrier.
            fc.get_values(conn, ["FCGI_MAX_REQS"])
            conns.append(conn)
        logged = server.stderr_size()
        third = fc.request(server.address, **sleeping(1, "timer"))
        tap.ok(third.end == (0, fc.OVERLOADED),
               "--max-requests 2: the 3rd concurrent request gets OVERLOADED", third)
        tap.ok(third.status == 503 and
               (third.json() or {}).get("error", "").startswith("overloaded: ") and
               [(r.type, len(r.content)) for r in third.records][-2:] ==
               [(fc.STDOUT, 0), (fc.END_REQUEST, 8)],
               "  after a whole 503 JSON response on STDOUT, ended by the empty record",
               third)
        line = [l for l in server.stderr_since(logged)
                if "--max-requests cap" in l]
        tap.ok(len(line) == 1 and "1 request refused with FCGI_OVERLOADED" in line[0],
               "  and one log line says so", server.stderr_since(logged))
        replies = [c.read_response(timeout=4) for c in conns]
        tap.eq([r.status for r in replies], [200, 200], "  the first two complete with 200")
        for c in conns:
            c.close()
        tap.eq(fc.simple_get(server.address).status, 200, "  afterwards there is room again")
        # Three requests whose BEGIN_REQUEST arrived while none was running,
        # completed afterwards: --max-requests must still hold.
        conns = []
        for i in range(3):
            conn = fc.Conn(server.address)
            data = fc.build_request(**sleeping(1, "timer"))
            conn.send(data[:-fc.HEADER_LEN])      # all but the empty STDIN
            # Barrier: the answer to GET_VALUES comes after BEGIN was
            # processed; a refused BEGIN shows up first as its END_REQUEST.
            conn.send(fc.encode_record(fc.GET_VALUES, 0,
                                       fc.encode_params([("FCGI_MAX_REQS", "")])))
            # A refusal is a whole 503 on STDOUT, then END_REQUEST.
            stdout = b""
            rec = conn.read_record(5)
            while rec is not None and rec.type == fc.STDOUT:
                stdout += rec.content
                rec = conn.read_record(5)
            refused = rec is not None and rec.type == fc.END_REQUEST and \
                rec.end_request() == (0, fc.OVERLOADED) and \
                fc.parse_stdout(stdout)[0] == 503
            conns.append((conn, data[-fc.HEADER_LEN:], refused))
        replies = []
        for conn, rest, refused in conns:
            if not refused:
                conn.send(rest)
        for conn, rest, refused in conns:
            replies.append("refused" if refused else conn.read_response(timeout=4))
            conn.close()
        served = sum(1 for r in replies if r != "refused" and r.status == 200)
        bodies = [r.json() or {} for r in replies if r != "refused" and r.status == 200]
        overlap = bodies and max(b.get("started_us", 0) for b in bodies) < \
            min(b.get("finished_us", 0) for b in bodies)
        tap.ok(served == 2 and replies.count("refused") == 1,
               "  slow senders: 3 requests begun while none ran do not all run at once",
               "%d of 3 served with --max-requests 2 (their sleeps overlapped: %s): %r" % (
                   served, bool(overlap), replies))


# --- malformed input ---------------------------------------------------------------------

def begin(request_id=1, flags=0, role=fc.RESPONDER):
    return fc.encode_record(fc.BEGIN_REQUEST, request_id, fc.begin_body(role, flags))


def params_stream(data, request_id=1):
    return fc.encode_stream(fc.PARAMS, request_id, data)


GOOD_PARAMS = fc.encode_params(fc.default_params())
HEAD_OK = begin() + params_stream(GOOD_PARAMS)        # BEGIN and the whole PARAMS stream
CLOSE = "close"

MALFORMED = [
    # (name, bytes, expected outcome)
    ("bad version byte (2)", fc.encode_record(fc.BEGIN_REQUEST, 1, fc.begin_body(), version=2), CLOSE),
    ("version byte 0", fc.encode_record(fc.BEGIN_REQUEST, 1, fc.begin_body(), version=0), CLOSE),
    ("'GET / HTTP/1.1' to the FastCGI port", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", CLOSE),
    ("newline bytes as a header (the log line stays one line)", b"\n" * 16, CLOSE),
    ("BEGIN_REQUEST body too short (4 bytes)", fc.encode_record(fc.BEGIN_REQUEST, 1, b"\0\1\0\0"), CLOSE),
    ("BEGIN_REQUEST with an empty body", fc.encode_record(fc.BEGIN_REQUEST, 1), CLOSE),
    ("STDIN before BEGIN_REQUEST", fc.encode_record(fc.STDIN, 1, b"x"), CLOSE),
    ("PARAMS before BEGIN_REQUEST", params_stream(GOOD_PARAMS), CLOSE),
    ("ABORT_REQUEST before BEGIN_REQUEST", fc.encode_record(fc.ABORT_REQUEST, 1), CLOSE),
    ("a record for an unknown id on a fresh connection",
     fc.encode_record(fc.END_REQUEST, 7, b"\0" * 8), CLOSE),
    ("PARAMS: name length past the data", begin() + params_stream(b"\x20\x01abc"), CLOSE),
    ("PARAMS: value length past the data", begin() + params_stream(b"\x01\x7fab"), CLOSE),
    ("PARAMS: truncated 4-byte length", begin() + params_stream(GOOD_PARAMS + b"\x80\x00"), CLOSE),
    ("PARAMS: CVE-2025-23016 shape (0x7fffffff + 0x7fffffff + 2 wraps)",
     begin() + params_stream(b"\xff\xff\xff\xff\xff\xff\xff\xff" + b"A" * 16), CLOSE),
    ("PARAMS over --max-params by one byte (%d)" % (MAX_PARAMS + 1),
     begin() + params_stream(fc.encode_nv("X", "v" * (MAX_PARAMS + 1 - 6))), CLOSE),
    ("STDIN over --max-stdin (%d + 1): read to its end, answered 413" % MAX_STDIN,
     HEAD_OK + fc.encode_record(fc.STDIN, 1, b"s" * MAX_STDIN) + fc.encode_record(fc.STDIN, 1, b"s")
     + fc.encode_record(fc.STDIN, 1, b""),
     ("http", 413, True)),
    ("NUL byte in a parameter name",
     begin() + params_stream(GOOD_PARAMS + fc.encode_nv(b"BAD\0NAME", b"v")), CLOSE),
    ("NUL byte in a parameter value",
     begin() + params_stream(GOOD_PARAMS + fc.encode_nv(b"NAME", b"v\0v")), CLOSE),
    ("DATA record (Filter role only)", HEAD_OK + fc.encode_record(fc.DATA, 1, b"data"), CLOSE),
    ("PARAMS after PARAMS ended", HEAD_OK + fc.encode_record(fc.PARAMS, 1, fc.encode_nv("A", "b")), CLOSE),
    ("STDIN before PARAMS ended", begin() + fc.encode_record(fc.PARAMS, 1, GOOD_PARAMS) +
     fc.encode_record(fc.STDIN, 1, b""), CLOSE),
    ("a second BEGIN_REQUEST for the same id", begin() + begin(), CLOSE),
    ("STDOUT record from the client", HEAD_OK + fc.encode_record(fc.STDOUT, 1, b"hi"), CLOSE),
    ("END_REQUEST record from the client", begin() + fc.encode_record(fc.END_REQUEST, 1, b"\0" * 8),
     CLOSE),
    ("record type 42 for the active id", begin() + fc.encode_record(42, 1, b"x"), CLOSE),
    ("GET_VALUES with a request id", begin() + fc.encode_record(fc.GET_VALUES, 1, b""), CLOSE),
    ("malformed GET_VALUES body", fc.encode_record(fc.GET_VALUES, 0, b"\x0e\x00FCGI"), CLOSE),
    # Outcomes other than a plain close:
    ("unknown role without KEEP_CONN", fc.build_request(role=fc.AUTHORIZER),
     ("end", fc.UNKNOWN_ROLE, True)),
    ("records for an inactive id after a BEGIN are ignored (spec 3.3)",
     begin() + fc.encode_record(fc.STDIN, 9, b"junk") + fc.encode_record(fc.PARAMS, 9, b"\x01") +
     params_stream(GOOD_PARAMS) + fc.encode_record(fc.ABORT_REQUEST, 9) + fc.encode_record(fc.STDIN, 1),
     ("end", fc.REQUEST_COMPLETE, True)),
    ("STDIN after the request ended (KEEP_CONN) is ignored",
     fc.build_request(keep_conn=True) + fc.encode_record(fc.STDIN, 1, b"late") +
     fc.build_request(request_id=2),
     ("end2", fc.REQUEST_COMPLETE, True)),
]


def run_malformed_case(server, name, data, expected):
    offset = server.stderr_size()
    with fc.Conn(server.address) as conn:
        try:
            conn.send(data)
        except OSError:
            pass          # the server may close before it has read everything
        if expected == CLOSE:
            closed = conn.wait_closed(3)
            records, _ = fc.decode_records(conn.buf)
            lines = server.stderr_since(offset)
            tap.ok(closed and not records, "%s: connection closed, nothing sent back" % name,
                   "closed=%r records=%r" % (closed, records))
            tap.ok(len(lines) == 1 and "closing" in lines[0],
                   "  exactly one log line", "\n".join(lines) or "(no line)")
        elif expected[0] == "http":
            _, http_status, closes = expected
            r = conn.read_response(1, timeout=3, expect_close=closes)
            tap.ok(r.status == http_status and r.end == (0, fc.REQUEST_COMPLETE)
                   and "error" in (r.json() or {}) and r.eof == closes,
                   "%s: HTTP %d with a JSON error, END_REQUEST REQUEST_COMPLETE" % (
                       name, http_status), r)
            tap.eq(server.stderr_since(offset), [], "  no log line")
        else:
            kind, status, closes = expected
            request_id = 2 if kind == "end2" else 1
            if kind == "end2":
                tap.eq(conn.read_response(1).status, 200, "%s: the first request 200" % name)
            r = conn.read_response(request_id, timeout=3, expect_close=closes)
            ok_status = r.end == (0, status)
            if status == fc.REQUEST_COMPLETE:
                ok_status = ok_status and r.status == 200
            tap.ok(ok_status and r.eof == closes,
                   "%s: END_REQUEST %s%s" % (name if kind != "end2" else "  then request 2",
                                              fc.STATUS_NAMES[status], ", closed" if closes else ""), r)
            lines = server.stderr_since(offset)
            tap.eq(lines, [], "  no log line")
    valid_ok(server, "  then a valid request on a new connection: 200")


def check_malformed(server):
    tap.diag("%d malformed inputs" % len(MALFORMED))
    for name, data, expected in MALFORMED:
        run_malformed_case(server, name, data, expected)


def check_eof_offsets(server):
    data = fc.build_request(params=[("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/async")])
    offset = server.stderr_size()
    bad = []
    for cut in range(len(data)):
        with fc.Conn(server.address, timeout=3) as conn:
            if cut:
                conn.send(data[:cut])
            conn.sock.shutdown(socket.SHUT_WR)
            if not conn.wait_closed(3) or conn.buf:
                bad.append(cut)
    tap.ok(not bad, "EOF at each of %d byte offsets: closed, nothing sent back" % len(data), bad[:10])
    tap.ok(server.alive(), "  the server survives")
    tap.eq(server.stderr_since(offset), [], "  a peer's EOF logs nothing")
    valid_ok(server, "  and the next valid request succeeds")


def check_split_params(server):
    for size, force_long, padding, what in (
            (1, False, 0, "PARAMS one byte per record"),
            (7, False, 0, "PARAMS in 7-byte records (pairs split mid-pair)"),
            (3, True, 0, "4-byte lengths everywhere, split inside the length fields"),
            (1000, False, 255, "every record padded with 255 bytes")):
        r = fc.request(server.address, params_record_size=size, force_long=force_long, padding=padding)
        tap.ok(r.status == 200 and CONTRACT <= set(r.json() or {}), what + ": 200", r)
    r = fc.request(server.address, stdin=b"", stdin_record_size=1,
                   params=fc.default_params(extra={"HTTP_X": "y" * 300}), params_record_size=2)
    tap.eq(r.status, 200, "a 300-byte value across 2-byte records: 200")


def check_large_params(server):
    base = fc.encode_params(fc.default_params())
    # exactly --max-params bytes in all: name "X" with a 4-byte value length
    value_len = MAX_PARAMS - len(base) - (1 + 4 + 1)
    params = base + fc.encode_nv("X", "v" * value_len)
    tap.eq(len(params), MAX_PARAMS, "PARAMS stream built to exactly --max-params")
    r = fc.request(server.address, params_bytes=params)
    tap.ok(r.status == 200 and CONTRACT <= set(r.json() or {}),
           "PARAMS of exactly --max-params bytes (two records): 200", r)
    sizes = [len(rec.content) for rec in r.records]
    tap.ok(sizes and max(sizes) <= 65535, "  every response record <= 65535 bytes", sizes)


# --- time, hang-ups, signals, descriptors -------------------------------------------------------

def check_idle_timeout():
    env = dict(MAIN_ENV)
    with fc.Server(BINARY, ["--idle-timeout", 300] + QUIET, env=env) as server:
        offset = server.stderr_size()
        silent = fc.Conn(server.address)
        half = fc.Conn(server.address)
        half.send(fc.encode_record(fc.BEGIN_REQUEST, 1, fc.begin_body())[:4])
        t0 = time.monotonic()
        # a request sleeping longer than the idle timeout is not cut off
        slow = fc.request(server.address, **sleeping(0.6, "timer"))
        ok = fc.simple_get(server.address)
        closed = [silent.wait_closed(3), half.wait_closed(3)]
        took = time.monotonic() - t0
        tap.ok(ok.status == 200, "idle timeout 300 ms: meanwhile a request on another connection: 200")
        tap.ok(slow.status == 200, "  a request sleeping 0.6 s (longer than the timeout) is answered", slow)
        tap.eq(closed, [True, True], "  a silent connection and one with half a header are closed")
        tap.ok(took < 3.0, "  within 3 s", "%.2f s" % took)
        lines = [l for l in server.stderr_since(offset) if "idle for 300 ms" in l]
        tap.eq(len(lines), 2, "  one 'idle' log line each")
        with fc.Conn(server.address) as kept:
            kept.send_request(keep_conn=True)
            r = kept.read_response()
            tap.ok(r.status == 200 and kept.wait_closed(3),
                   "  a KEEP_CONN connection left idle after its reply is closed too")
        silent.close()
        half.close()


def check_hangups(server):
    for mode in ("block", "timer", "offload"):
        before = server.stats()["requests"]
        offset = server.stderr_size()
        conn = fc.Conn(server.address)
        conn.send_request(**sleeping(1, mode))
        if mode != "block":
            # the loop is free: wait until the request really sleeps
            wait_for(lambda: in_flight_is(server, 1), 3)
        # in block mode the loop itself sleeps; the hang-up is seen after it
        conn.close()
        if mode != "block":
            # The hang-up and the stats request are two connections: a
            # new one is read as soon as it is accepted, so its answer may
            # come in the loop turn that sees the EOF, before it.
            stats = wait_for(lambda: (lambda s: s if s.get("in_flight") == 0 and
                                      s.get("pool_busy") == 0 else None)(server.stats() or {}), 3)
        else:
            stats = server.stats() or {}
        stats = stats or {}
        tap.ok(stats.get("in_flight") == 0 and stats.get("pool_busy", 0) == 0,
               "hang-up mid-sleep (%s): in_flight 0 afterwards" % mode, stats)
        r = fc.simple_get(server.address)
        tap.eq((r.json() or {}).get("request_no"), before + 2,
               "  the next request: 200, numbered right after the cancelled one")
        if mode != "block":
            lines = server.stderr_since(offset)
            tap.ok(any("peer went away" in l and mode in l for l in lines),
                   "  logged as cancelled", "\n".join(lines))


def check_sigterm():
    with fc.Server(BINARY, QUIET, env=MAIN_ENV) as server:
        replies = [None] * 3
        conns = [fc.Conn(server.address) for _ in range(3)]
        for c in conns:
            c.send_request(**sleeping(1, "timer"))
        tap.ok(wait_for(lambda: in_flight_is(server, 3), 3), "SIGTERM: 3 sleeping requests in flight")
        offset = server.stderr_size()
        t0 = time.monotonic()
        server.signal(signal.SIGTERM)
        wait_for(lambda: any("signal" in l for l in server.stderr_since(offset)), 3)
        try:
            with fc.Conn(server.address, timeout=2) as late:
                late.send_request()
                refused = late.wait_closed(2) and not late.buf
        except OSError:
            refused = True
        tap.ok(refused, "  a connect after SIGTERM is refused (or closed unanswered)")

        def read(i):
            replies[i] = conns[i].read_response(timeout=5)
        threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        tap.eq([r.status for r in replies], [200] * 3, "  all 3 complete with 200")
        rc = server.wait(5)
        took = time.monotonic() - t0
        tap.ok(rc == 0 and took < 5, "  then the process exits 0 within a few seconds",
               "rc=%r after %.2f s" % (rc, took))
        for c in conns:
            c.close()


def check_descriptors(extra_fds):
    """RLIMIT_NOFILE 64; extra_fds descriptors held open in the child so that
    accept(2) really runs into EMFILE before the connection cap."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(extra_fds)]
    what = "RLIMIT_NOFILE 64" + (" and %d descriptors in use" % extra_fds if extra_fds else "")
    try:
        with fc.Server(BINARY, ["--max-conns", 1000] + QUIET, env=MAIN_ENV, nofile=64,
                       pass_fds=held) as server:
            for fd in held:
                os.close(fd)
            held = []
            with fc.Conn(server.address) as conn:
                tap.eq(fc.get_values(conn, ["FCGI_MAX_CONNS"]), [("FCGI_MAX_CONNS", "32")],
                       "%s, --max-conns 1000: GET_VALUES says 32 (64 - 32 reserved)" % what)
            clients = []
            for _ in range(100):
                try:
                    clients.append(socket.create_connection(server.address, timeout=2))
                except OSError:
                    break
            tap.diag("%s: %d client connections open" % (what, len(clients)))
            cpu0 = server.cpu_seconds()
            time.sleep(2.0)   # a measurement window, not a synchronisation
            cpu = server.cpu_seconds() - cpu0
            tap.ok(cpu < 0.5, "%s, 100 idle connections: no spinning" % what, "%.2f s CPU in 2 s" % cpu)
            tap.ok(server.alive(), "  the process is alive")
            text = server.stderr_text()
            if extra_fds:
                tap.ok("pausing accept" in text, "  stderr mentions the accept pause", text)
            else:
                tap.ok("serving at most" in text, "  stderr says --max-conns was clamped to fit", text)
            for s in clients:
                s.close()
            r = fc.simple_get(server.address, timeout=6)
            tap.eq(r.status, 200, "  after closing them a new request succeeds")
            tap.eq(server.stop(), 0, "  and SIGTERM ends it with status 0")
    finally:
        for fd in held:
            os.close(fd)


def check_cgi_fcgi(server):
    tool = os.environ.get("CGI_FCGI") or shutil.which("cgi-fcgi")
    checks = ["cgi-fcgi: 200 with the contract JSON", "cgi-fcgi with a 20 KB environment (split PARAMS): 200"]
    if not tool:
        for what in checks:
            skip(what, "cgi-fcgi not found (install libfcgi-bin)")
        return
    for what, extra in zip(checks, ({}, {"HTTP_X_BIG": "b" * 20000})):
        env = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/async", "QUERY_STRING": "", "PATH": "/usr/bin:/bin"}
        env.update(extra)
        out = subprocess.run([tool, "-bind", "-connect", "127.0.0.1:%d" % server.port],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=10)
        status, headers, body = fc.parse_stdout(out.stdout)
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        tap.ok(status == 200 and CONTRACT <= set(data) and data.get("message") == "async example",
               what, out.stdout[:300] + out.stderr[:300])


def check_unix_socket():
    with fc.Server(BINARY, QUIET, env=MAIN_ENV, unix=True) as server:
        mode = os.stat(server.address).st_mode & 0o777
        tap.eq(oct(mode), oct(0o660), "--listen unix:PATH: the socket file has mode 0660")
        r = fc.simple_get(server.address)
        tap.ok(r.status == 200 and CONTRACT <= set(r.json() or {}), "  a request over it: 200", r)


def main():
    args = ["--max-conns", MAX_CONNS, "--max-requests", MAX_REQS, "--max-stdin", MAX_STDIN,
            "--max-params", MAX_PARAMS] + QUIET
    with fc.Server(BINARY, args, env=MAIN_ENV) as server:
        check_valid(server)
        check_keep_conn(server)
        check_get_values(server)
        check_abort(server)
        check_management_and_refusals(server)
        check_malformed(server)
        check_eof_offsets(server)
        check_split_params(server)
        check_large_params(server)
        check_hangups(server)
        check_cgi_fcgi(server)
        tap.ok(server.alive(), "the main server is still alive at the end")
        tap.eq(server.stop(), 0, "  and exits 0 on SIGTERM")
    check_overload()
    check_idle_timeout()
    check_sigterm()
    check_unix_socket()
    check_descriptors(0)
    check_descriptors(40)
    tap.done()


if __name__ == "__main__":
    main()
