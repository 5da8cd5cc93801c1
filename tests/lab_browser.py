# SPDX-License-Identifier: ISC
"""lab_browser.py - the lab page (lab/, served at /lab/ by deploy/lighttpd-lab.conf)
in a real browser: headless Chromium driven by Selenium against the real
lighttpd and backends.

Checks that the page loads with no console errors; that each path's verdict
is right with a 2 s sleeper (block: blocked; timer, offload, sync, pool: not
blocked); that the lanes match the server's own timings; that the export
parses with the probe's JSON keys (read from a real syncasync-probe run) and
that its SVG is well-formed (xmllint); that the page is usable with the
keyboard alone; and that with one host name the browser's queue (requests
7-10 wait for 1-6) is shown as the browser's, not blamed on the server.
Saves a screenshot next to this test's .log in the build tree.

Needs the Debian packages chromium, chromium-driver and python3-selenium;
without them the test says so and is skipped.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
harness.need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
except ImportError:
    # python3-selenium lives in Debian's python3; configure may have found
    # another python3 first on PATH.
    system = "/usr/bin/python3"
    if (os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system)
            and not os.environ.get("SYNCASYNC_LAB_REEXEC")):
        os.environ["SYNCASYNC_LAB_REEXEC"] = "1"
        os.execv(system, [system] + sys.argv)
    tap.skip_all("selenium not found for %s (install the Debian package python3-selenium)"
                 % sys.executable)


def find(env_name, names, package):
    for candidate in [os.environ.get(env_name)] + [shutil.which(n) for n in names]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    tap.skip_all("%s not found (install the Debian package %s)" % (names[0], package))


CHROMIUM = find("CHROMIUM", ["chromium", "chromium-browser"], "chromium")
CHROMEDRIVER = find("CHROMEDRIVER", ["chromedriver"], "chromium-driver")
PROBE = os.path.join(harness.BUILDDIR, "probe", "syncasync-probe")
XMLLINT = os.environ.get("XMLLINT") or "xmllint"
SCREENSHOT = os.path.join(harness.BUILDDIR, "tests", "lab_browser.png")
SLEEP = 2
PATHS = [("/modes/block/async", "blocked"), ("/modes/timer/async", "not blocked"),
         ("/modes/offload/async", "not blocked"), ("/sync", "not blocked"),
         ("/pool", "not blocked")]
RUN_TIMEOUT = 60


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--window-size=1280,1600",
                "--user-data-dir=" + profile):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def wait_for(driver, script, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def load(driver, url):
    driver.get(url + "/lab/")
    wait_for(driver, "return document.readyState === 'complete' && !!window.syncasyncLab",
             20, "the page")


def runs(driver):
    return driver.execute_script("return window.syncasyncLab.state.runs || 0")


def set_form(driver, **fields):
    driver.execute_script("""
        var f = arguments[0];
        for (var k in f) {
            var el = document.getElementById(k);
            if (el.type === 'checkbox') el.checked = f[k]; else el.value = f[k];
        }""", fields)


def run_page(driver, **fields):
    """Sets the form, presses Run, waits for the verdict; returns the
    export (parsed JSON), the SVG text and the wall clock around the run."""
    set_form(driver, **fields)
    before = runs(driver)
    started = time.time()
    driver.find_element("id", "run").click()
    wait_for(driver, "return (window.syncasyncLab.state.runs || 0) > %d" % before,
             RUN_TIMEOUT, "the run")
    ended = time.time()
    exported = driver.execute_script("return window.syncasyncLab.json()")
    picture = driver.execute_script("return window.syncasyncLab.svg()")
    return (json.loads(exported) if exported else None), picture, started, ended


def export_link(driver, link_id):
    """What the page's export link holds (a blob: URL), read as a user's
    download would be."""
    return driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch(document.getElementById(arguments[0]).href)
            .then(function (r) { return r.text(); }).then(done, function (e) { done('ERR ' + e); });
        """, link_id)


def probe_keys(url):
    """The key sets of a real syncasync-probe --json: top, group, summary, row."""
    out = tempfile.mkdtemp(prefix="syncasync-lab-probe-")
    path = os.path.join(out, "p.json")
    try:
        subprocess.run([PROBE, "-q", "-n", "2", "--json", path,
                        url + "/modes/timer/async?sleep=0.2"],
                       capture_output=True, text=True, timeout=60)
        with open(path) as f:
            doc = json.load(f)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    group = doc["groups"][0]
    return (set(doc), set(group), set(group["summary"]),
            set.intersection(*[set(r) for r in group["results"]]))


def lint_svg(text):
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as f:
        f.write(text)
    try:
        result = subprocess.run([XMLLINT, "--noout", f.name], capture_output=True, text=True)
        return result.returncode == 0, result.stderr
    except FileNotFoundError:
        return False, "xmllint not found (Debian package libxml2-utils)"
    finally:
        os.unlink(f.name)


def check_keys(doc, keys, what):
    top, group_keys, summary_keys, row_keys = keys
    group = doc["groups"][0]
    missing = (top - set(doc)) | (group_keys - set(group)) | (summary_keys - set(group["summary"]))
    for row in group["results"]:
        missing |= row_keys - set(row)
    tap.ok(not missing, "%s: the export has every key of syncasync-probe --json" % what,
           "missing: %s" % sorted(missing))


def check_lanes(driver, doc, started, ended, path, expected):
    """The page's lanes against the server's own started_us/finished_us."""
    rows = doc["groups"][0]["results"]
    ok = [r for r in rows if r.get("started_us")]
    margin = 300000  # µs: one machine, one clock, a loaded machine
    t_lo, t_hi = int((started - 1) * 1e6), int((ended + 1) * 1e6)
    bad = [r["index"] for r in ok
           if not (t_lo <= r["sent_us"] <= r["started_us"] + margin
                   and r["started_us"] <= r["finished_us"] <= r["received_us"] + margin
                   and r["received_us"] <= t_hi)]
    tap.ok(len(ok) == len(rows) and not bad,
           "  %s: every lane sent <= started <= finished <= answered (server clock vs page, "
           "within %d ms) and inside the test's own clock" % (path, margin // 1000),
           "rows out of order: %s" % bad)
    sleepers = [r for r in ok if r["sleeper"]]
    spans = [(r["finished_us"] - r["started_us"]) / 1e6 for r in sleepers]
    tap.ok(len(sleepers) == 1 and SLEEP * 0.9 <= spans[0] <= SLEEP * 2,
           "  %s: one sleeper, on the server for about %d s" % (path, SLEEP), "spans %s" % spans)
    others = [r for r in ok if not r["sleeper"]]
    if sleepers and expected == "blocked":
        late = [r for r in others if r["started_us"] >= sleepers[0]["finished_us"] - margin]
        tap.ok(len(late) >= 1 and len(late) == doc["groups"][0]["summary"]["held_up"],
               "  %s: the held-up requests started on the server only when the sleeper "
               "finished" % path, "%d late, held_up %s" % (len(late),
                                                            doc["groups"][0]["summary"]["held_up"]))
    elif sleepers:
        quick = [r for r in others if r["started_us"] < sleepers[0]["finished_us"] - SLEEP * 4e5]
        tap.ok(len(quick) == len(others),
               "  %s: the others were started on the server while the sleeper slept" % path,
               "%d of %d" % (len(quick), len(others)))
    # The drawn lanes: each server bar where its row's started_us says.
    drawn = driver.execute_script("""
        var g = document.querySelector('#timeline svg g.group');
        var out = {t0: +g.dataset.t0Us, px: +g.dataset.pxPerUs, left: +g.dataset.left, bars: []};
        g.querySelectorAll('g.lane').forEach(function (lane) {
            var r = lane.querySelector('rect.srv');
            if (r) out.bars.push({index: +lane.dataset.index, x: +r.getAttribute('x'),
                                  w: +r.getAttribute('width')});
        });
        return out;""")
    by_index = {r["index"]: r for r in ok}
    off = []
    for bar in drawn["bars"]:
        row = by_index.get(bar["index"])
        # The work starts once the server stopped waiting (waited_us).
        start = min(row["started_us"] + row.get("waited_us", 0), row["finished_us"])
        want_x = drawn["left"] + (start - drawn["t0"]) * drawn["px"]
        want_w = max(2, (row["finished_us"] - start) * drawn["px"])
        if abs(bar["x"] - want_x) > 1.5 or abs(bar["w"] - want_w) > 1.5:
            off.append((bar["index"], bar["x"], round(want_x, 1)))
    tap.ok(len(drawn["bars"]) == len(ok) and not off,
           "  %s: the page draws each server bar at its started_us (+ waited_us)..finished_us"
           % path,
           "%d bars for %d rows; off: %s" % (len(drawn["bars"]), len(ok), off))


def check_paths(driver, server, keys):
    for path, expected in PATHS:
        stats_before = harness.request(server.url + path + "/stats").json() \
            if path.endswith("/async") else None
        doc, picture, started, ended = run_page(
            driver, path=path, requests="10", sleepers="5", sleep=str(SLEEP),
            headstart="250", spread=True)
        if not tap.ok(doc is not None, "%s: the run finished with an export" % path):
            continue
        summary = doc["groups"][0]["summary"]
        tap.eq(summary["verdict"], expected, "%s: verdict %s" % (path, expected))
        shown = driver.find_element("id", "verdict-line").text.lower()
        tap.ok(shown.startswith(expected + " "), "  the page shows it", shown)
        hosts = {r["lab"]["host"].split(":")[0] for r in doc["groups"][0]["results"]}
        tap.eq(len(hosts), 10, "  spread over 10 host names")
        check_keys(doc, keys, "  " + path)
        check_lanes(driver, doc, started, ended, path, expected)
        linked = export_link(driver, "export-json")
        try:
            tap.eq(json.loads(linked), doc, "  the JSON link holds the same export")
        except ValueError:
            tap.ok(False, "  the JSON link holds JSON", linked[:200])
        linked_svg = export_link(driver, "export-svg")
        valid, err = lint_svg(linked_svg)
        tap.ok(valid and linked_svg == picture, "  the SVG export is well-formed (xmllint)", err)
        tap.eq(linked_svg.count('class="lane"'), 10, "  with one lane per request")
        if path.endswith("/async"):
            after = harness.request(server.url + path + "/stats").json()
            tap.eq(after["requests"] - stats_before["requests"], 10,
                   "  the server counted the run's 10 requests")
            # A loaded machine may add short stalls (the watchdog logs from
            # 100 ms): judge by the longest, each mode being its own process.
            stalls = after["stalls"] - stats_before["stalls"]
            longest = after["longest_stall_ms"] or 0
            sleeper_no = [r["request_no"] for r in doc["groups"][0]["results"] if r["sleeper"]]
            if expected == "blocked":
                tap.ok(stalls >= 1 and longest >= SLEEP * 800
                       and after["longest_stall_request"] in sleeper_no,
                       "  its watchdog saw the sleeper hold the loop for about %d s" % SLEEP,
                       "stalls %d, longest %s ms by request %s" % (
                           stalls, longest, after["longest_stall_request"]))
            else:
                tap.ok(longest < SLEEP * 500, "  its watchdog saw no stall as long as half "
                       "the sleep", "longest %s ms" % longest)
            report = driver.find_element("id", "server").text
            shown = re.search(r"(\d+) stalls? of the event loop", report)
            page_stalls = int(shown.group(1)) if shown else -1
            tap.ok(0 <= page_stalls <= stalls and (page_stalls >= 1 or expected != "blocked"),
                   "  the page shows the server's report (%d stalls in its run)" % page_stalls,
                   report)
            if expected == "blocked":
                tap.ok("#%d holding the loop" % sleeper_no[0] in report,
                       "  naming the sleeper as the request that held the loop", report)
        if expected == "blocked":
            driver.execute_script("document.getElementById('table-box').open = true")
            driver.save_screenshot(SCREENSHOT)
            tap.diag("screenshot: " + SCREENSHOT)


def check_browser_queue(driver):
    """Six slow requests on one host name hold the browser's 6 connections:
    requests 7-10 wait in the browser.  The page must say so and not blame
    the server; spread over 10 host names, nobody waits."""
    cfg = dict(path="/modes/timer/async", requests="10", sleepers="1,2,3,4,5,6",
               sleep="1.5", headstart="0")
    doc, _, _, _ = run_page(driver, spread=False, **cfg)
    rows = doc["groups"][0]["results"]
    waited = [r["index"] + 1 for r in rows if (r["lab"]["browser_queued_ms"] or 0) >= 750]
    tap.eq(waited, [7, 8, 9, 10], "one host name: requests 7-10 waited in the browser (>= 0.75 s)")
    tap.eq(len({r["lab"]["host"] for r in rows}), 1, "  all to one host name")
    tap.eq(doc["lab"]["verdict_from_fetch_call"], "blocked",
           "  counted from the fetch() call they would look held up")
    tap.eq(doc["groups"][0]["summary"]["verdict"], "not blocked",
           "  the verdict counts from when they left the browser: not blocked")
    text = driver.find_element("id", "browser").text
    tap.ok("7\u201310" in text and "6 connections per host name" in text and
           "not the server" in text, "  the page explains the browser's queue", text)
    explain = driver.find_element("id", "explain").text
    tap.ok("queued in the browser" in explain, "  and why the naive verdict differs", explain)
    driver.save_screenshot(SCREENSHOT.replace(".png", "-one-host.png"))

    doc, _, _, _ = run_page(driver, spread=True, **cfg)
    rows = doc["groups"][0]["results"]
    waited = [r["index"] + 1 for r in rows if (r["lab"]["browser_queued_ms"] or 0) >= 750]
    tap.eq(waited, [], "10 host names: no request waited in the browser")
    tap.eq(doc["lab"]["verdict_from_fetch_call"], "not blocked",
           "  and the fetch() view agrees: not blocked")


def check_keyboard(driver, url):
    """Tab reaches every control in order; typing sets them; Space and
    Enter on Run run."""
    load(driver, url)
    driver.execute_script("document.activeElement && document.activeElement.blur();"
                          "window.focus();")
    seen = []
    actions = ActionChains(driver)
    for _ in range(12):
        actions.send_keys(Keys.TAB).perform()
        current = driver.execute_script("return document.activeElement.id")
        seen.append(current)
        if current == "run":
            break
    order = ["path", "requests", "sleepers", "sleep", "headstart", "spread", "run"]
    tap.eq([s for s in seen if s in order], order, "keyboard: Tab visits the controls in order")
    outline = driver.execute_script(
        "return getComputedStyle(document.activeElement).outlineStyle")
    tap.ok(outline not in ("none", ""), "  the focused control is outlined", outline)
    # Shift+Tab back to the fields and type new values.
    for field, value in (("headstart", "0"), ("sleep", "0.5"), ("sleepers", "2"),
                         ("requests", "4")):
        while driver.execute_script("return document.activeElement.id") != field:
            ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB) \
                .key_up(Keys.SHIFT).perform()
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL) \
            .send_keys(value).perform()
    tap.eq(driver.execute_script("return document.getElementById('requests').value"), "4",
           "  typing sets a field")
    while driver.execute_script("return document.activeElement.id") != "run":
        ActionChains(driver).send_keys(Keys.TAB).perform()
    for key, name in ((Keys.SPACE, "Space"), (Keys.ENTER, "Enter")):
        before = runs(driver)
        ActionChains(driver).send_keys(key).perform()
        wait_for(driver, "return (window.syncasyncLab.state.runs || 0) > %d" % before,
                 RUN_TIMEOUT, "the keyboard run")
        doc = json.loads(driver.execute_script("return window.syncasyncLab.json()"))
        tap.eq(len(doc["groups"][0]["results"]), 4, "  %s on Run runs (4 requests)" % name)
        tap.eq(driver.execute_script("return document.activeElement.id"), "run",
               "  and the focus stays on Run")


def check_bad_input(driver):
    """A bad field is named in the status line and nothing is sent."""
    for field, value, says in (("sleepers", "11", "does not exist"),
                               ("sleepers", "5x", "is not a request number"),
                               ("requests", "0", "Requests must be")):
        set_form(driver, path="/sync", requests="10", sleepers="5", sleep="0.1")
        set_form(driver, **{field: value})
        last = "var st = window.syncasyncLab.state; return [st.runs, st.run && st.run.id]"
        before = driver.execute_script(last)
        driver.find_element("id", "run").click()
        shown = driver.find_element("id", "status").text
        after = driver.execute_script(last)
        tap.ok(says in shown and before == after,
               "bad input (%s=%s): the page says so and sends nothing" % (field, value), shown)


def check_console(driver, what):
    entries = driver.get_log("browser")
    severe = [e["message"] for e in entries if e.get("level") == "SEVERE"]
    tap.ok(not severe, "no console errors %s" % what, "\n".join(severe[:10]))
    return entries


def main():
    lab_conf = os.path.join(os.path.abspath(harness.SRCDIR), "deploy", "lighttpd-lab.conf")
    os.environ["SYNCASYNC_LAB_DIR"] = os.path.join(os.path.abspath(harness.SRCDIR), "lab")
    options = dict(sleep=SLEEP, sleep_on=0, query_overrides=True, pool_own_counter=True)
    if os.path.exists(os.path.join(harness.SRCDIR, "deploy", "syncasync-lighttpd")):
        os.environ["SYNCASYNC_LIGHTTPD_CONF"] = lab_conf   # before deploy/ had one script
    else:
        options["config"] = lab_conf
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    profile = tempfile.mkdtemp(prefix="syncasync-lab-chromium-")
    driver = None
    try:
        with harness.Lighttpd(**options) as server:
            port = int(server.url.rsplit(":", 1)[1])
            listening = []
            for k in range(1, 11):
                try:
                    socket.create_connection(("127.0.0.%d" % k, port), timeout=5).close()
                    listening.append(k)
                except OSError:
                    pass
            tap.eq(len(listening), 10, "lighttpd listens on 127.0.0.1 ... 127.0.0.10")
            reply = harness.request(server.url + "/lab/")
            tap.ok(reply.status == 200 and b"lab.js" in reply.body, "GET /lab/ serves the page")
            keys = probe_keys(server.url)
            try:
                driver = start_browser(profile)
            except WebDriverException as e:
                tap.skip_all("Chromium did not start: %s" % str(e).splitlines()[0])
            tap.diag("Chromium %s" % driver.capabilities.get("browserVersion"))
            load(driver, server.url)
            check_console(driver, "when the page loads")
            check_paths(driver, server, keys)
            check_browser_queue(driver)
            check_bad_input(driver)
            check_keyboard(driver, server.url)
            check_console(driver, "after every run")
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    tap.done()


main()
