# SPDX-License-Identifier: ISC
"""probe_lighttpd.py - syncasync-probe against a real lighttpd with a 2 s
sleeper: its verdicts for /sync and /async in each mode, what each /async
server said about its loop, its exit status, its --json output and SVG,
and a closed port reported in one line."""
import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
PROBE = os.path.join(harness.BUILDDIR, "probe", "syncasync-probe")
EXPECTED = [("/sync", "not blocked"), ("/modes/block/async", "blocked"),
            ("/modes/timer/async", "not blocked"), ("/modes/offload/async", "not blocked")]


def probe(*args):
    return subprocess.run([PROBE] + list(args), capture_output=True, text=True, timeout=120)


def check_verdicts():
    out = harness.temp_dir("syncasync-probe-")
    json_path, svg_path = os.path.join(out, "r.json"), os.path.join(out, "t.svg")
    # .ci/run gives a longer sleep when async_fcgi runs under valgrind, where
    # every request is slower (held up means: waited half the sleep).
    sleep = float(os.environ.get("SYNCASYNC_TEST_SLEEP", "2"))
    with harness.Lighttpd(sleep=sleep, sleep_on=5) as server:
        urls = [server.url + path for path, _ in EXPECTED]
        result = probe("--json", json_path, "--svg", svg_path, *urls)
    tap.eq(result.returncode, 0, "probe exits 0 when every request got a 2xx")
    for path, verdict in EXPECTED:
        tap.ok(("verdict: " + verdict) in result.stdout.split(path + " ", 1)[-1].split("\n== ")[0],
               "text verdict for %s: %s" % (path, verdict))
    try:
        with open(json_path) as f:
            groups = json.load(f)["groups"]
    except (OSError, ValueError, KeyError) as e:
        groups = []
        tap.diag("no JSON: %s" % e)
    sections = {path: result.stdout.split(path + " ", 1)[-1].split("\n== ")[0]
                for path, _ in EXPECTED}
    tap.ok("the server says" not in sections["/sync"], "/sync: no server report")
    tap.ok(re.search(r"\n  verdict: blocked .*\n  the server says: the loop was "
                     r"blocked \d+\.\d\d s by request #5", sections["/modes/block/async"]),
           "block: the server says request #5 blocked the loop, under the verdict",
           sections["/modes/block/async"])
    for path in ("/modes/timer/async", "/modes/offload/async"):
        tap.ok("  the server says: " in sections[path] and
               "by request #5" not in sections[path],
               "%s: the server's report does not blame the sleeper" % path, sections[path])
    tap.eq(len(groups), 4, "--json has one group per URL")
    for group, (path, verdict) in zip(groups, EXPECTED):
        summary = group.get("summary", {})
        tap.eq(summary.get("verdict"), verdict, "  JSON verdict for %s" % path)
        tap.eq(len(group.get("results", [])), 10, "  with 10 results")
    if len(groups) == 4:
        tap.eq(groups[1]["summary"].get("held_up"), 5,
               "block: the 5 requests after the sleeper were held up")
        tap.eq(groups[0]["summary"].get("distinct_pids"), 10, "/sync: 10 pids")
        tap.eq(groups[1]["summary"].get("distinct_thread_ids"), 1, "block: 1 thread")
        tap.eq(groups[0].get("server_report"), None, "/sync: server_report null")
        report = groups[1].get("server_report") or {}
        blocks = report.get("blocks") or [{}]
        tap.ok(report.get("url", "").endswith("/modes/block/async/stats") and
               blocks[0].get("request_no") == 5 and blocks[0].get("duration_ms", 0) > 1000,
               "block: server_report names request #5, over a second", report)
    xmllint = os.environ.get("XMLLINT") or "xmllint"
    try:
        lint = subprocess.run([xmllint, "--noout", svg_path], capture_output=True, text=True)
        tap.ok(lint.returncode == 0, "the SVG is well-formed XML (xmllint)", lint.stderr)
    except FileNotFoundError:
        tap.ok(False, "xmllint is installed (Debian package libxml2-utils)")
    with open(svg_path) as f:
        svg = f.read()
    tap.eq(svg.count('class="lane"'), 40, "  one lane per request (40)")
    tap.ok("blocked" in svg and "not blocked" in svg, "  with the verdicts")
    tap.eq(svg.count('class="blocked"'), 1, "  and one band: block's blocked loop")


def check_closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    json_path = os.path.join(harness.temp_dir("syncasync-probe-"), "closed.json")
    result = probe("-n", "4", "--timeout", "5", "--json", json_path,
                   "http://127.0.0.1:%d/sync" % port)
    tap.eq(result.returncode, 1, "a closed port: exit 1")
    with open(json_path) as f:
        rows = json.load(f)["groups"][0]["results"]
    tap.ok(len(rows) == 4 and all(r.get("error") for r in rows),
           "  every row reports the failure", rows)
    tap.ok(result.stdout.count("Connection refused") == 1 and "req  message" not in
           result.stdout, "  said once, with the reason, and no table", result.stdout)


def check_usage():
    tap.eq(probe().returncode, 2, "no URL: usage error, exit 2")
    tap.eq(probe("https://127.0.0.1/").returncode, 2, "https URL: usage error, exit 2")
    tap.eq(probe("-n", "0", "http://127.0.0.1:1/").returncode, 2, "-n 0: usage error")


check_verdicts()
check_closed_port()
check_usage()
tap.done()
