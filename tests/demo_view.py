# SPDX-License-Identifier: ISC
"""demo_view.py - how the demo shows the probe's output (deploy/demo_view.py).

Fed a recorded probe output: every line fits 80 columns; the table keeps
each row's numbers; the text timeline keeps its shape; under the /async
block verdict the watchdog's line from backends.log is shown, and only
there; no escape sequences unless stdout is a terminal, none with NO_COLOR;
on a terminal a group that waits says for how long.  The conclusion puts
each verdict on a line of its own, and under each /async group what its
server's stall detector said: the block naming request 5 with its top
frames (asked from a stats server started here, or from the probe's
server_report), and "no blocked-loop report" where it named no request.
"""
import http.server
import json
import os
import pty
import select
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
VIEW = os.path.join(harness.SRCDIR, "deploy", "demo_view.py")
WATCHDOG = ("async_fcgi: watchdog: the event loop stalled 2001 ms: request 5 (mode block) "
            "held it for 2001 ms")


def group(label, path, blocked):
    rows = []
    for n in range(1, 11):
        late = blocked and n > 5
        latency = 2003.1 if n == 5 or late else 2.4
        rows.append("     %2d  async example%s %13d %8d  2026-12-01 09:28:%02d %11.1f" % (
            n, " (sleep)" if n == 5 else "        ", 32102, 32102, 50 if late else 48,
            latency))

    def bar(n):
        if n == 5:
            return "#" * 60
        return "." * 59 + "#" if blocked and n > 5 else "#" + " " * 59
    return ["GET http://127.0.0.1:20952%s: 10 concurrent requests" % path,
            "  #1    %s       2 ms  async example  thread 32102" % path,
            "",
            "== %s  http://127.0.0.1:20952%s (10 requests) ==" % (label, path),
            "    req  message                      thread      pid  request time         "
            "latency ms"] + rows + [
            "  verdict: %s" % ("blocked (5 of 9 others held up by the sleeper)" if blocked
                               else "not blocked (no other request waited for the sleeper)"),
            "  timeline, 0 .. 2.00 s ('.' waiting, '#' handled by the server, 'x' failed):"] + [
            "     %2d |%s|   %4d ms" % (n, bar(n), 2003 if n == 5 else 2) for n in range(1, 11)]


PROBE_OUTPUT = group("/async block (sleep() on the loop)", "/modes/block/async", True) + \
    group("/async timer (a loop timer, like asyncio.sleep)", "/modes/timer/async", False)


def show(env=None, tty=False, pause=0.0):
    """deploy/demo_view.py show over PROBE_OUTPUT (with pause seconds of
    silence after the first GET line); returns its output."""
    log = os.path.join(harness.temp_dir("syncasync-demo-view-"), "backends.log")
    with open(log, "w") as f:
        f.write("async_fcgi: listening on descriptor 0\n")
    env = dict({k: v for k, v in os.environ.items() if k != "NO_COLOR"}, **(env or {}))
    argv = [sys.executable, VIEW, "show", "--backends-log", log, "--sleep", "2"]
    if tty:
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=slave, stderr=slave,
                                env=env)
        os.close(slave)
    else:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=env)
    source = master if tty else proc.stdout.fileno()
    out = b""

    def read_until(done):
        """Reads the output until done(out) or EOF (30 s at most)."""
        nonlocal out
        deadline = time.monotonic() + 30
        while not done(out) and time.monotonic() < deadline:
            ready, _, _ = select.select([source], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(source, 65536)
            except OSError:     # a pty whose other end closed
                chunk = b""
            if not chunk:
                return
            out += chunk
    proc.stdin.write((PROBE_OUTPUT[0] + "\n").encode())
    proc.stdin.flush()
    read_until(lambda text: b"GET " in text)   # it runs and has its offset
    time.sleep(pause)
    with open(log, "a") as f:   # the stall ends before the verdict is printed
        f.write(WATCHDOG + "\n")
    proc.stdin.write(("\n".join(PROBE_OUTPUT[1:]) + "\n").encode())
    proc.stdin.close()
    read_until(lambda text: False)
    proc.wait(30)
    if tty:
        os.close(master)
    return out.decode()


plain = show()
lines = plain.splitlines()
tap.ok(lines and all(len(line) <= 80 for line in lines), "every line within 80 columns",
       [line for line in lines if len(line) > 80])
tap.ok("\033" not in plain, "no escape sequences when stdout is not a terminal")
rows = [line for line in lines if line.startswith("      5  async example (sleep)")]
tap.ok(len(rows) == 2 and all("09:28:48" in r and "2003.1" in r and "32102" in r for r in rows),
       "table rows keep request number, ids, time and latency", rows)
tap.ok("    req  message" in plain and "request time" not in plain,
       "the table header without the date column")
bars = [line.split("|")[1] for line in lines if line.count("|") == 2]
tap.ok(len(bars) == 20 and all(len(b) == 40 for b in bars), "the text timeline 40 wide",
       bars[:3])
tap.ok(bars[5:10] == ["." * 39 + "#"] * 5, "  a request held up still ends in '#'", bars[5:10])
at = [i for i, line in enumerate(lines) if "verdict:" in line]
log_lines = [i for i, line in enumerate(lines) if line.startswith("  log: ")]
tap.ok(len(at) == 2 and log_lines == [at[0] + 1], "the watchdog line right under the block "
       "verdict, and only there", (at, log_lines))
tap.ok("request 5 (mode" in plain and "held it for 2001 ms" in plain,
       "  naming the request that held the loop")
tap.ok(any(line.startswith("   http://127.0.0.1:20952/modes/block/async") for line in lines),
       "the group's URL on a line of its own")

coloured = show(tty=True, pause=2.5)
tap.ok("\033[1;31mblocked" in coloured and "\033[32mnot blocked" in coloured,
       "on a terminal: blocked in red, not blocked in green")
tap.ok("waiting 1 s" in coloured or "waiting 2 s" in coloured,
       "on a terminal: a group that waits says for how long", coloured[:300])
tap.ok("\033[" not in show({"NO_COLOR": "1"}, tty=True).replace("\033[K", ""),
       "NO_COLOR=1: no colour on a terminal either")

experiment = os.path.join(harness.temp_dir("syncasync-demo-view-"), "experiment.json")
with open(experiment, "w") as f:
    json.dump({"groups": [{"label": "/async offload (a thread pool, like run_in_threadpool)",
                           "summary": {"verdict": "not blocked", "held_up": 0, "others": 9,
                                       "distinct_thread_ids": 2, "distinct_pids": 1}}]}, f)
result = subprocess.run([sys.executable, VIEW, "conclusion", experiment], capture_output=True,
                        text=True, env=dict(os.environ, NO_COLOR="1"))
out = result.stdout.splitlines()
tap.ok(result.returncode == 0 and all(len(line) <= 80 for line in out),
       "conclusion: within 80 columns", out)
tap.ok("  /async offload (a thread pool, like run_in_threadpool)" in out and
       "      not blocked  0 of 9 others held up; 2 thread id(s), 1 pid(s)" in out,
       "  the label, then its verdict on a line of its own", out[:4])

# The stall detector's report: block's from /async/stats, timer's a short
# blip naming no request, offload's from the probe's server_report.
BLOCK = {"request_no": 5, "method": "GET", "uri": "/modes/block/async", "mode": "block",
         "work": "sleep", "started_us": 1764583200123456, "duration_ms": 2001.2,
         "active": False, "frames": ["clock_nanosleep (libc.so.6)",
                                     "clock_sleep_us (common/clock.c:57)",
                                     "call_block (async_fcgi/async_handler.c:330)",
                                     "async_handler_start (async_fcgi/async_handler.c:560)"]}
STATS = {"/modes/block/async/stats": {"current_block": None, "recent_blocks": [BLOCK]},
         "/modes/timer/async/stats": {"current_block": None, "recent_blocks": [
             dict(BLOCK, request_no=None, duration_ms=150.0, frames=[])]}}


class StatsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(STATS.get(self.path, {})).encode()
        self.send_response(200 if self.path in STATS else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


stats_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StatsHandler)
threading.Thread(target=stats_server.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % stats_server.server_address[1]
summary = {"verdict": "not blocked", "held_up": 0, "others": 9, "distinct_thread_ids": 1,
           "distinct_pids": 1}
with open(experiment, "w") as f:
    json.dump({"groups": [
        {"label": "/sync (CGI: a process per request)", "url": base + "/sync",
         "summary": summary},
        {"label": "/async block (sleep() on the loop)", "url": base + "/modes/block/async",
         "summary": dict(summary, verdict="blocked", held_up=5)},
        {"label": "/async timer (a loop timer, like asyncio.sleep)",
         "url": base + "/modes/timer/async", "summary": summary},
        {"label": "/async offload (a thread pool, like run_in_threadpool)",
         "url": base + "/modes/offload/async", "summary": summary,
         "server_report": {"url": base + "/modes/offload/async/stats", "error": None,
                           "form": "blocks", "blocks": []}}]}, f)
result = subprocess.run([sys.executable, VIEW, "conclusion", experiment], capture_output=True,
                        text=True, env=dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8"))
stats_server.shutdown()
out = result.stdout.splitlines()
tap.ok(result.returncode == 0 and out and all(len(line) <= 80 for line in out),
       "conclusion with the servers' reports: within 80 columns", out)


def said(label):
    """The lines under label's verdict, joined."""
    at = out.index(label) if label in out else len(out)
    lines = []
    for line in out[at + 2:]:
        if not line.startswith("      "):
            break
        lines.append(line.strip())
    return " ".join(lines)


tap.ok(said("  /async block (sleep() on the loop)").startswith(
       "the server says: the loop was blocked 2.00 s by request #5, in clock_nanosleep "
       "\u2190 clock_sleep_us (common/clock.c:57) \u2190 call_block "
       "(async_fcgi/async_handler.c:330) \u2190 \u2026"),
       "  block: the request and the top frames, under its verdict", out)
tap.eq(said("  /async timer (a loop timer, like asyncio.sleep)"),
       "the server says: no blocked-loop report", "  timer: no report (a blip names none)")
tap.eq(said("  /async offload (a thread pool, like run_in_threadpool)"),
       "the server says: no blocked-loop report", "  offload: none (the probe's server_report)")
tap.eq(said("  /sync (CGI: a process per request)"), "", "  /sync: nothing to ask")
tap.done()
