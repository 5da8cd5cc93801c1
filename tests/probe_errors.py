# SPDX-License-Identifier: ISC
"""probe_errors.py - syncasync-probe where the network says no, and what an
/async server says about its loop, against a stub HTTP server in this
process (IPv4 or IPv6 loopback, standard library only).

A host that does not resolve is named at once, before any request is sent,
and never waits for --timeout; an IPv6 literal ([::1]) is served like any
other host; a closed port is one line per URL with its reason, no table of
empty rows, exit 1; the stats sibling of an /async URL is asked (and that of
no other path) and its report printed, sanitised, under the verdict."""
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
PROBE = os.path.join(harness.BUILDDIR, "probe", "syncasync-probe")


def probe(*args):
    start = time.monotonic()
    result = subprocess.run([PROBE] + list(args), capture_output=True, text=True,
                            timeout=120)
    return result, time.monotonic() - start


class Stub(http.server.ThreadingHTTPServer):
    """Answers every path but .../stats with the contract JSON (request 5 is
    the sleeper, without sleeping) and .../stats with self.stats."""
    daemon_threads = True

    def __init__(self, family, host):
        self.address_family = family
        super().__init__((host, 0), StubHandler)
        self.lock = threading.Lock()
        self.counter = 0
        self.paths = []
        self.hosts = []
        self.stats = None       # (status, body)

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class StubHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        with server.lock:
            server.paths.append(self.path)
            server.hosts.append(self.headers.get("Host"))
            if self.path.endswith("/stats"):
                status, body = server.stats or (404, {"error": "not found"})
            else:
                server.counter += 1
                no = server.counter
                now = int(time.time() * 1e6)
                status, body = 200, {
                    "message": "async example" + (" (sleep)" if no == 5 else ""),
                    "thread_id": 1000, "pid": 1000, "request_no": no,
                    "request_time": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "started_us": now, "finished_us": now + 100, "mode": "block"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def free_port(family, host):
    sock = socket.socket(family)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def have_ipv6():
    try:
        sock = socket.socket(socket.AF_INET6)
        sock.bind(("::1", 0))
        sock.close()
        return True
    except OSError:
        return False


def check_unresolvable():
    with Stub(socket.AF_INET, "127.0.0.1") as stub:
        url = "http://127.0.0.1:%d/async" % stub.server_address[1]
        result, elapsed = probe("-n", "3", "--timeout", "60", url,
                                "http://nosuch.invalid/async")
        paths = list(stub.paths)
    tap.eq(result.returncode, 1, "a host that does not resolve: exit 1")
    tap.ok("cannot resolve host nosuch.invalid: " in result.stderr,
           "  the host named with the resolver's reason", result.stderr)
    tap.ok(elapsed < 30, "  at once, not after --timeout 60 (%.1f s)" % elapsed)
    tap.eq(paths, [], "  no request sent, not even to the URL before it")
    tap.eq(result.stdout, "", "  no table")


def check_closed_port(family, host, literal):
    port = free_port(family, host)
    url = "http://%s:%d/sync" % (literal, port)
    json_path = os.path.join(harness.temp_dir("syncasync-probe-"), "closed.json")
    result, elapsed = probe("-n", "4", "--timeout", "60", "--json", json_path, url)
    where = "%s:%d" % (literal, port)
    tap.eq(result.returncode, 1, "%s closed port: exit 1" % literal)
    tap.ok(elapsed < 30, "  at once (%.1f s)" % elapsed)
    expected = ("\n== %s (4 requests) ==\n  verdict: failed: cannot connect to %s: "
                "Connection refused (all 4 requests)\n" % (url, where))
    tap.eq(result.stdout, expected, "  one line with the reason, no table")
    tap.eq(result.stderr.count("cannot connect"), 1,
           "  one progress line for the four requests")
    with open(json_path) as f:
        rows = json.load(f)["groups"][0]["results"]
    tap.ok(len(rows) == 4 and all("Connection refused" in (r.get("error") or "")
                                  for r in rows), "  every JSON row has the error", rows)


def check_ipv6_literal():
    with Stub(socket.AF_INET6, "::1") as stub:
        port = stub.server_address[1]
        result, _ = probe("-q", "-n", "3", "http://[::1]:%d/x/sync" % port)
        hosts = list(stub.hosts)
    tap.eq(result.returncode, 0, "an IPv6 literal: served, exit 0")
    tap.ok("3 ok, 0 failed" in result.stdout, "  three answers", result.stdout)
    tap.eq(hosts, ["[::1]:%d" % port] * 3, "  Host: keeps the brackets and the port")


BLOCKS = {
    "current_block": None,
    "recent_blocks": [{
        "request_no": 5, "method": "GET", "uri": "/x/async", "mode": "block",
        "work": "sleep", "started_us": 0, "duration_ms": 2001.2, "active": False,
        "frames": ["clock_nanosleep (libc.so.6)", "\x1b]0;pwned\x07 <svg onload=alert(1)>",
                   "run_blocking (async_fcgi/async_handler.c:301)"]}]}


def check_server_report():
    svg_path = os.path.join(harness.temp_dir("syncasync-probe-"), "report.svg")
    with Stub(socket.AF_INET, "127.0.0.1") as stub:
        base = "http://127.0.0.1:%d" % stub.server_address[1]
        blocks = json.loads(json.dumps(BLOCKS))
        blocks["recent_blocks"][0]["started_us"] = int(time.time() * 1e6)
        stub.stats = (200, blocks)
        result, _ = probe("-q", "--svg", svg_path, base + "/x/async?a=1", base + "/x/sync")
        paths = list(stub.paths)
    tap.eq(result.returncode, 0, "a stub /async server with a report: exit 0")
    tap.eq([p for p in paths if p.endswith("/stats")], ["/x/async/stats"],
           "  its stats sibling asked, and no other's")
    section = result.stdout.split("/x/sync")[0]
    tap.ok("  the server says: the loop was blocked 2.00 s by request #5, in "
           "clock_nanosleep (libc.so.6) \u2190 .]0;pwned. <svg onload=alert(1)> "
           "\u2190 run_blocking (async_fcgi/async_handler.c:301)\n" in section,
           "  printed under the verdict, control bytes made '.'", section)
    tap.ok("\x1b" not in result.stdout and "\x07" not in result.stdout,
           "  no escape sequence reaches the terminal")
    tap.ok("the server says" not in result.stdout.split("/x/sync")[-1],
           "  nothing for /sync")
    with open(svg_path) as f:
        svg = f.read()
    tap.ok('class="blocked"' in svg and "&lt;svg onload=alert(1)&gt;" in svg,
           "  the SVG marks the block and escapes the frame")

    with Stub(socket.AF_INET, "127.0.0.1") as stub:
        base = "http://127.0.0.1:%d" % stub.server_address[1]
        stub.stats = (200, {"current_block": None, "recent_blocks": []})
        result, _ = probe("-q", base + "/async")
    tap.ok("  the server says: the loop was never blocked\n" in result.stdout,
           "a report with no block: never blocked", result.stdout)

    with Stub(socket.AF_INET, "127.0.0.1") as stub:
        base = "http://127.0.0.1:%d" % stub.server_address[1]
        result, _ = probe("-q", base + "/async")
    tap.ok("  the server says: nothing readable (%s/async/stats: HTTP 404)\n" % base
           in result.stdout, "a stats URL that answers 404: said so", result.stdout)
    tap.eq(result.returncode, 0, "  the run itself still exits 0")

    with Stub(socket.AF_INET, "127.0.0.1") as stub:
        base = "http://127.0.0.1:%d" % stub.server_address[1]
        stub.stats = (200, {"recent_blocks": [{"request_no": "5"}]})
        result, _ = probe("-q", base + "/async")
    tap.ok("nothing readable (%s/async/stats: recent_blocks[0]: request_no is "
           "not a non-negative integer or null)" % base in result.stdout,
           "a malformed report: the field named", result.stdout)


check_unresolvable()
check_closed_port(socket.AF_INET, "127.0.0.1", "127.0.0.1")
if have_ipv6():
    check_closed_port(socket.AF_INET6, "::1", "[::1]")
    check_ipv6_literal()
else:
    tap.diag("no IPv6 loopback here: the [::1] checks are left out")
check_server_report()
tap.done()
