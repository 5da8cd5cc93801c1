#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""demo_view.py - how deploy/syncasync-demo shows the probe's output.

  syncasync-probe ... 2>&1 | demo_view.py show --backends-log FILE --sleep S
  demo_view.py conclusion EXPERIMENT.json [SCENARIO]

`show` passes the probe's lines through, fitted to 80 columns (the table
without the date, the text timeline 40 columns wide, anything else
wrapped); while a group waits for its sleeper it says how long it has been
waiting; under the verdict of a group whose label starts "/async block" it
shows the loop watchdog's lines that backends.log gained meanwhile.
`conclusion` prints each group's verdict and, for an /async group, what its
server's stall detector says (the probe's server_report in the JSON, or
else the group's URL/stats asked now): the longest block that names a
request or lasted a second, with its top frames, or that there was none.
Then what the verdicts mean.
Colour only on a terminal, and not when NO_COLOR is set.  Standard
library only; not part of the installed programs.
"""
import json
import os
import re
import select
import sys
import textwrap
import time
import urllib.request

WIDTH = 80
BAR = 40
COLOUR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
ROW = re.compile(r"^\s+(\d+)\s+(.*?)\s+(-|\d+)\s+(-|\d+)\s+\d{4}-\d\d-\d\d "
                 r"(\d\d:\d\d:\d\d)\s+([\d.]+|-)\s*$")
HEAD = re.compile(r"^\s+req\s+message\s+thread\s+pid\s+request time\s+latency ms\s*$")
TIMELINE = re.compile(r"^(\s+\d+ )\|([.#x ]+)\|(.*)$")
GROUP = re.compile(r"^== (.*?)  (http://\S+) \((\d+) requests\) ==$")


def paint(text, code):
    return "\033[%sm%s\033[0m" % (code, text) if COLOUR else text


def verdict_colour(text):
    """text with its verdict in red (blocked) or green (not blocked)."""
    for word, code in (("not blocked", "32"), ("blocked", "1;31"), ("queued", "1;33")):
        if word in text:
            return text.replace(word, paint(word, code), 1)
    return text


def squeeze(bar):
    """A text timeline bar BAR columns wide: each column shows the most
    telling of the characters it covers ('#' handled, 'x' failed, '.'
    waiting)."""
    if len(bar) <= BAR:
        return bar
    out = ""
    for i in range(BAR):
        cell = bar[i * len(bar) // BAR:(i + 1) * len(bar) // BAR]
        out += next((c for c in "#x." if c in cell), " ")
    return out


def fit(line):
    """The probe's line as lines of at most WIDTH columns."""
    m = GROUP.match(line)
    if m:
        return ["== " + m.group(1), "   %s (%s requests)" % (m.group(2), m.group(3))]
    if HEAD.match(line):
        return ["    req  %-24s %7s %7s  %-8s %10s" % ("message", "thread", "pid", "time",
                                                      "latency ms")]
    m = ROW.match(line)
    if m:
        return ["    %3s  %-24s %7s %7s  %-8s %10s" % m.groups()]
    m = TIMELINE.match(line)
    if m:
        return ["%s|%s|%s" % (m.group(1), squeeze(m.group(2)), m.group(3))]
    if len(line) <= WIDTH:
        return [line]
    indent = re.match(r"\s*", line).group(0)
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent + "  ")


class Waiting:
    """Says how long a group has been waiting: one line rewritten in place on
    a terminal, a line every 5 s otherwise."""

    def __init__(self, sleep):
        self.sleep = sleep
        self.since = None
        self.shown = 0
        self.live = False

    def start(self):
        self.since = time.monotonic()
        self.shown = 0

    def stop(self):
        self.since = None
        self.clear()

    def clear(self):
        if self.live:
            sys.stdout.write("\r\033[K")
            self.live = False

    def tick(self):
        if self.since is None:
            return
        waited = int(time.monotonic() - self.since)
        text = "  ... waiting %d s (the sleeper sleeps %g s)" % (waited, self.sleep)
        if sys.stdout.isatty():
            sys.stdout.write("\r\033[K" + paint(text, "2"))
            self.live = True
        elif waited >= self.shown + 5:
            self.shown = waited - waited % 5
            print(text)
        sys.stdout.flush()


def watchdog_lines(path, offset):
    """backends.log's watchdog lines after byte offset, and the new offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    lines = [line for line in data.decode("utf-8", "replace").splitlines()
             if "watchdog" in line]
    return lines, offset + len(data)


def sleeper_lines(path, offset):
    """The watchdog lines naming the request that held the loop, waiting up
    to a second for them (any watchdog line if none does), and the offset."""
    found, deadline = [], time.monotonic() + 1.0
    while True:
        more, offset = watchdog_lines(path, offset)
        found += more
        named = [line for line in found if "held it" in line]
        if named:
            return named, offset
        if time.monotonic() >= deadline:
            return found, offset
        time.sleep(0.1)


def show(backends_log, sleep):
    waiting = Waiting(sleep)
    label = ""
    offset = os.path.getsize(backends_log) if os.path.exists(backends_log) else 0
    pending = b""
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            waiting.tick()
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            waiting.clear()
            if line.startswith("GET "):
                waiting.start()
            elif line.startswith("== "):
                waiting.stop()
                m = GROUP.match(line)
                label = m.group(1) if m else line
            for part in fit(line):
                print(verdict_colour(part) if "verdict:" in part else part)
            if "verdict:" in line and label.startswith("/async block"):
                found, offset = sleeper_lines(backends_log, offset)
                for entry in found or ["(no watchdog line in %s)" % backends_log]:
                    for part in textwrap.wrap(entry, WIDTH, initial_indent="  log: ",
                                              subsequent_indent="       "):
                        print(paint(part, "33"))
            elif "verdict:" in line:
                offset = watchdog_lines(backends_log, offset)[1]
        sys.stdout.flush()
    waiting.stop()
    if pending:
        print(pending.decode("utf-8", "replace"))


LONG_MS = 1000      # a block this long is reported even naming no request
FRAMES = 3          # frames shown per block


def server_blocks(group):
    """The blocks group's server reported: the probe's server_report, or
    else asked now from URL/stats.  (blocks, None), or (None, why not)."""
    report = group.get("server_report")
    if isinstance(report, dict) and isinstance(report.get("blocks"), list):
        return report["blocks"], None
    try:
        with urllib.request.urlopen(group["url"] + "/stats", timeout=5) as reply:
            stats = json.load(reply)
    except (OSError, ValueError, KeyError) as e:
        return None, str(e)
    if "recent_blocks" not in stats:
        return None, "its /async/stats has no recent_blocks"
    current = [stats["current_block"]] if stats.get("current_block") else []
    return current + list(stats["recent_blocks"]), None


def frame_name(frame):
    """A frame as shown: a library's function without the library, the
    program's with its file:line."""
    m = re.match(r"^(\S+) \(([^():]*)\)$", frame)
    return m.group(1) if m and not m.group(1).startswith("0x") else frame


def block_sentence(blocks):
    """What the server says of the run's blocks, as one sentence."""
    telling = [b for b in blocks if b.get("request_no") is not None or
               (b.get("duration_ms") or 0) >= LONG_MS]
    if not telling:
        return "the server says: no blocked-loop report"
    worst = max(telling, key=lambda b: b.get("duration_ms") or 0)
    arrow = " \u2190 " if (sys.stdout.encoding or "").lower().startswith("utf") else " <- "
    who = ("request #%d" % worst["request_no"] if worst.get("request_no") is not None
           else "a callback outside any request")
    text = "the server says: the loop was blocked %.2f s by %s" % (
        (worst.get("duration_ms") or 0) / 1000, who)
    frames = [frame_name(f) for f in worst.get("frames") or []]
    if frames:
        text += ", in " + arrow.join(frames[:FRAMES] + (["\u2026" if arrow != " <- " else "..."]
                                                        if len(frames) > FRAMES else []))
    return text


SCENARIOS = {
    "offload-exhaustion": """
  The loop never blocked: the quick requests flew.  But the pool has 2
  threads, so of the 4 sleepers 2 slept side by side and 2 waited a full
  sleep for a thread (the server says so: waited_us).  FastAPI's def routes
  and run_in_threadpool share 40 such tokens: the 41st blocking call waits.""",
    "pool-exhaustion": """
  /pool has 2 workers and 3 requests sleep: once both workers hold a
  sleeper, every other request queues in the socket's backlog, where no
  worker can see it (waited_us is 0); the probe infers it from the pids.
  A pool of processes is as bounded as a pool of threads.""",
    "workers": """
  Two loops, one socket, as gunicorn's and uvicorn's --workers: the sleeper
  blocked its own worker's loop, so the requests that worker had already
  taken waited for it; the other worker served the rest.  More loops dilute
  a blocking call; they do not remove it: with as many sleepers as workers
  everything waits again.  The fix is still not to block the loop.""",
}


def conclusion(path, scenario=None):
    with open(path) as f:
        groups = json.load(f)["groups"]
    print()
    print("== conclusion")
    for g in groups:
        s = g["summary"]
        print("  " + g["label"])
        print(verdict_colour("      %-12s %d of %d others held up; %d thread id(s), %d pid(s)" % (
            s["verdict"], s["held_up"], s["others"], s["distinct_thread_ids"],
            s["distinct_pids"])))
        if not g["label"].startswith("/async"):
            continue
        blocks, why = server_blocks(g)
        sentence = block_sentence(blocks) if blocks is not None else \
            "the server did not say (%s)" % why
        for part in textwrap.wrap(sentence, WIDTH, initial_indent="      ",
                                  subsequent_indent="        ", break_on_hyphens=False):
            print(paint(part, "33"))
    if scenario is not None:
        print(SCENARIOS[scenario])
        return
    print("""
  /sync kept serving: each request is its own process, so the sleeper held
  only itself.  /pool kept serving too: the sleeper held one of 4 long-lived
  workers and the others took the rest; only once every worker is held by a
  sleeper do the next requests queue, as FastAPI's def routes do after 40.
  /async in block mode stalled: one thread runs the loop, and sleep() on it
  made every request that arrived after the sleeper wait for it.  The
  fixes keep one loop and never block it: a timer (timer) or a bounded
  worker pool (offload, until the pool is exhausted).  The watchdog thread
  of /async block names the request and the line it blocks in while the
  loop is still blocked (above); the fixes give it nothing to name.""")


def main(argv):
    if len(argv) in (2, 3) and argv[0] == "conclusion" and \
            (len(argv) == 2 or argv[2] in SCENARIOS):
        conclusion(*argv[1:])
        return 0
    if len(argv) == 5 and argv[0] == "show" and argv[1] == "--backends-log" \
            and argv[3] == "--sleep":
        show(argv[2], float(argv[4]))
        return 0
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
