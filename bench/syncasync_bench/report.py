# SPDX-License-Identifier: ISC
"""report.py - the targets, and the results as Markdown (results.md) and
as a picture (chart.svg: throughput bars, memory per request against C)."""
import math
import xml.sax.saxutils

from .throughput import fmt_cpu, fmt_ms

TARGETS = {
    "async_vs_ref_fcgi": 2.2,
    "async_vs_const_fcgi": 0.95,
    "apache_async_vs_ref_noreuse": 1.7,
    "sync_vs_ref_cgi": 0.9,
    "async_vs_fastapi_async": 8.0,
    "timer_10000_kib_per_request": 1.2,
    "async_instructions_vs_const": 2.0,
    "sync_startup_vs_ref_cgi": 1.1,
}


def targets(result):
    """Each target with the value measured and whether it was met (None:
    not measured)."""
    rows = {row["key"]: row for row in result["rows"]}

    def ratio(num, den):
        n, d = rows.get(num, {}), rows.get(den, {})
        if n.get("rps") is None or not d.get("rps"):
            return None
        return n["rps"] / d["rps"]
    out = []
    for key, num, den, text in (
            ("async_vs_ref_fcgi", "lighttpd_async", "lighttpd_ref_fcgi",
             "/async through lighttpd vs the libfcgi reference responder"),
            ("async_vs_const_fcgi", "lighttpd_async", "lighttpd_const_fcgi",
             "/async through lighttpd vs the constant-answer libevent responder"),
            ("apache_async_vs_ref_noreuse", "apache_async_reuse", "apache_ref_noreuse",
             "/async through Apache with reuse vs the libfcgi reference without reuse"),
            ("sync_vs_ref_cgi", "lighttpd_sync", "lighttpd_ref_cgi",
             "/sync vs the minimal reference CGI"),
            ("async_vs_fastapi_async", "lighttpd_async", "fastapi_async",
             "/async through lighttpd vs FastAPI async def")):
        value = ratio(num, den)
        out.append({"key": key, "what": text, "target": TARGETS[key], "unit": "x",
                    "value": value, "met": None if value is None else value >= TARGETS[key]})
    timer = [e for e in result["concurrency"]
             if e["model"] == "timer" and e["c"] == 10000 and "skipped" not in e]
    value = timer[0].get("kib_per_request") if timer else None
    met = None
    if timer:
        met = bool(timer[0].get("all_completed") and value is not None
                   and value <= TARGETS["timer_10000_kib_per_request"])
    out.append({"key": "timer_10000_kib_per_request",
                "what": "/async timer: 10,000 sleeping requests completed, KiB per request "
                        "(async_fcgi driven straight by bench/load_fcgi.py)",
                "target": TARGETS["timer_10000_kib_per_request"], "unit": "KiB",
                "value": value, "met": met,
                "completed": timer[0].get("completed") if timer else None})
    det = {d["name"]: d for d in result.get("deterministic") or []}
    value = (det.get("async_fcgi") or {}).get("instructions_vs_const")
    out.append({"key": "async_instructions_vs_const",
                "what": "/async user instructions per plain request vs the constant responder's "
                        "(callgrind)",
                "target": TARGETS["async_instructions_vs_const"], "unit": "x_max",
                "value": value,
                "met": None if value is None else value <= TARGETS["async_instructions_vs_const"]})
    start = {s["program"]: s for s in result.get("startup") or []}
    ref, sync = start.get("ref_cgi") or {}, start.get("sync_cgi") or {}
    started = (sync["alternated_wall_median_ms"] / ref["alternated_wall_median_ms"]
               if sync.get("alternated_wall_median_ms") and ref.get("alternated_wall_median_ms")
               else None)
    out.append({"key": "sync_startup_vs_ref_cgi",
                "what": "one sync_cgi CGI run, exec to exit, vs the reference CGI "
                        "(alternated runs, median wall time)",
                "target": TARGETS["sync_startup_vs_ref_cgi"], "unit": "x_max",
                "value": started,
                "met": None if started is None else started <= TARGETS["sync_startup_vs_ref_cgi"]})
    return out


def markdown(res):
    """results.md."""
    m = res["machine"]
    v = res["versions"]
    s = res["settings"]
    lines = ["# syncasync benchmark, %s" % res["started"], "",
             "Machine: %s cores (%s), kernel %s, %.1f GiB; descriptor limit %s." % (
                 m.get("cores"), m.get("cpu", "?"), m.get("kernel"),
                 m.get("memory_kib", 0) / 1048576, s.get("nofile")), ""]
    fa = v.get("fastapi_stack") or {}
    lines += ["Versions: %s; %s; wrk %s; libevent %s; json-c %s; libfcgi %s; %s." % (
        v.get("lighttpd"), v.get("apache2"), (v.get("wrk") or "-").split()[1:2],
        v.get("libevent"), v.get("json-c"), v.get("libfcgi"), v.get("async_fcgi")),
        "FastAPI stack: " + (", ".join("%s %s" % (k, fa[k]) for k in fa) if fa else "absent") + ".",
        "", "Settings: wrk -t%d -c%d, %d round(s) of %d s (medians), warm-up %d s; "
        "concurrency C = %s, every request sleeping %g s; --max-wait %g s.%s" % (
            s["wrk_threads"], s["wrk_connections"], s["rounds"], s["duration_s"], s["warmup_s"],
            ", ".join(str(c) for c in s["concurrency"]), s["sleep_s"], s["max_wait_s"],
            " (smoke mode)" if s["smoke"] else ""), ""]
    lines += ["## Throughput", "",
              "| configuration | req/s | p50 | p99 | errors | ratio to reference "
              "| CPU, % of one core (busiest first) |",
              "|---|---:|---:|---:|---:|---|---|"]
    labels = {r["key"]: r["label"] for r in res["rows"]}
    for r in res["rows"]:
        if "skipped" in r:
            lines.append("| %s | skipped: %s | | | | | |" % (r["label"], r["skipped"]))
            continue
        ratio = ("%.2f× %s" % (r["ratio"], labels.get(r["ref"], r["ref"]))
                 if r.get("ratio") is not None else "—")
        if r.get("ratio_also") is not None:
            ratio += "; %.2f× %s" % (r["ratio_also"], labels.get(r["ref_also"], r["ref_also"]))
        lines.append("| %s | %.0f | %s | %s | %d | %s | %s |" % (
            r["label"], r["rps"], fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), r["errors"], ratio,
            fmt_cpu(r.get("cpu"))))
    det = res.get("deterministic") or []
    if det:
        lines += ["", "## Deterministic: per plain request, straight over FastCGI", "",
                  "New connection per request, one at a time; (run with 2N requests "
                  "minus run with N) / N, so start-up and exit cancel out.  These do not "
                  "move with the machine's load.", "",
                  "| backend | user instructions (callgrind) | × constant responder "
                  "| syscalls (strace -c) |", "|---|---:|---:|---:|"]
        for d in det:
            lines.append("| %s | %s | %s | %s |" % (
                d["name"], "%.0f" % d["instructions"] if d.get("instructions") else "—",
                "%.2f×" % d["instructions_vs_const"] if d.get("instructions_vs_const") else "—",
                "%.1f" % d["syscalls"] if d.get("syscalls") else "—"))
    lines += ["", "## Concurrency: C sleeping requests in flight at once", "",
              "| model | C | completed | peak in flight | wall s | peak RSS MiB | peak fds "
              "| KiB per request | note |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for e in res["concurrency"]:
        if "skipped" in e:
            lines.append("| %s | %d | skipped: %s | | | | | | |" % (e["label"], e["c"],
                                                                   e["skipped"]))
            continue
        note = []
        if e.get("stopped_after_peak"):
            note.append("stopped after the peak: " + e["stopped_after_peak"])
        if e.get("capped"):
            note.append(e["capped"])
        if e.get("pss_kib_per_request") is not None:
            note.append("PSS %.0f KiB per process; RSS summed over the sync_cgi processes"
                        % e["pss_kib_per_request"])
        st = e.get("server_stats_peak")
        if st and st.get("pool_queued"):
            note.append("pool busy %d, queued %d at the peak" % (st["pool_busy"],
                                                                st["pool_queued"]))
        if e.get("errors"):
            note.append("errors: " + ", ".join("%s ×%d" % kv for kv in e["errors"].items()))
        lines.append("| %s | %d | %d | %d | %.1f | %s | %s | %s | %s |" % (
            e["label"], e["c"], e.get("completed", 0), e.get("peak_in_flight", 0),
            e.get("wall_s", 0),
            "%.1f" % (e["peak_rss_kib"] / 1024) if e.get("peak_rss_kib") is not None else "—",
            e.get("peak_fds") if e.get("peak_fds") is not None else "—",
            "%.2f" % e["kib_per_request"] if e.get("kib_per_request") is not None else "—",
            "; ".join(note)))
    lines += ["", "## sync_cgi start-up (one CGI invocation, exec to exit)", "",
              "| program | mean ms | median ms | min ms | runs | tool | alternated: median ms "
              "| its CPU ms | instructions | system calls |",
              "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]

    def num(v, fmt):
        return fmt % v if v is not None else "—"
    for st in res["startup"]:
        lines.append("| %s | %.3f | %.3f | %.3f | %d | %s | %s | %s | %s | %s |" % (
            st["program"], st["mean_ms"], st["median_ms"], st["min_ms"], st["runs"], st["tool"],
            num(st.get("alternated_wall_median_ms"), "%.3f"),
            num(st.get("alternated_cpu_median_ms"), "%.3f"),
            num(st.get("instructions"), "%d"), num(st.get("syscalls"), "%d")))
    lines += ["", "## Targets", "", "| target | wanted | measured | met |", "|---|---:|---:|---|"]
    for t in res["targets"]:
        want = {"x": "≥ %.2f×", "x_max": "≤ %.1f×"}.get(t["unit"], "≤ %.1f KiB") % t["target"]
        got = "—" if t["value"] is None else (
            "%.2f×" % t["value"] if t["unit"] in ("x", "x_max") else "%.2f KiB" % t["value"])
        met = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        lines.append("| %s | %s | %s | %s |" % (t["what"], want, got, met))
    lines.append("")
    return "\n".join(lines)


def esc(text):
    return xml.sax.saxutils.escape(str(text))


WIDTH = 900
CHAR_W = 6.8        # px per character of 12 px sans-serif, for label widths
OURS = ("lighttpd_async", "lighttpd_async_w2", "lighttpd_sync", "lighttpd_pool", "apache_async_reuse", "apache_sync")
BAR_COLOURS = (("#d9534f", "syncasync (async_fcgi, sync_cgi)"), ("#f0ad4e", "FastAPI + uvicorn"),
               ("#5b8def", "references: the static-file ceiling, libfcgi and C CGI"))


def chart_svg(res):
    """Two panels: throughput bars (req/s, a linear scale from 0, so that a
    bar twice as long is twice as fast, with a legend of the bar colours) and
    KiB per in-flight request against C (log-log), one line per model."""
    rows = res["rows"]
    label_w = int(10 + CHAR_W * max([len(r["label"]) for r in rows] or [10]))
    width = max(WIDTH, label_w + 560)
    bar_h, top, panel2_h = 22, 72, 340
    panel1_h = top + bar_h * len(rows) + 40
    height = panel1_h + panel2_h + 20
    rounds = res["settings"]["rounds"]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">Throughput (requests per '
           'second, median of %d round%s; longer is faster)</text>' % (
               rounds, "" if rounds == 1 else "s")]
    x = 10
    for colour, text in BAR_COLOURS:
        out.append('<rect class="key" x="%d" y="34" width="12" height="12" fill="%s"/>'
                   '<text x="%d" y="44">%s</text>' % (x, colour, x + 16, esc(text)))
        x += 16 + int(CHAR_W * len(text)) + 24
    throughput_panel(out, rows, top, bar_h, label_w, width)
    memory_panel(out, res["concurrency"], panel1_h, panel2_h, width)
    out.append("</svg>\n")
    return "\n".join(out)


def tick_step(hi):
    """1, 2 or 5 times a power of ten, giving 3 to 7 ticks up to hi (their
    labels must not touch)."""
    step = 10 ** math.floor(math.log10(hi))
    if hi / step < 1.5:
        step /= 5
    elif hi / step < 3:
        step /= 2
    elif hi / step >= 6:
        step *= 2
    return step


def throughput_panel(out, rows, top, bar_h, label_w, width):
    """One bar per row, from y = top, on a linear axis from 0."""
    x0, x1 = label_w + 10, width - 80
    values = [r["rps"] for r in rows if r.get("rps")]
    hi = max(values) if values else 10
    step = tick_step(hi)

    def xpos(v):
        return x0 + (x1 - x0) * v / hi
    k = 0
    while k * step <= hi * (1 + 1e-9):
        x = xpos(k * step)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (
            x, top - 8, x, top + bar_h * len(rows)))
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%s</text>' % (
            x, top + bar_h * len(rows) + 16, "{:,}".format(int(k * step))))
        k += 1
    for i, r in enumerate(rows):
        y = top + i * bar_h
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (
            label_w, y + 15, esc(r["label"])))
        if r.get("rps"):
            colour = BAR_COLOURS[0][0] if r["key"] in OURS else (
                BAR_COLOURS[1][0] if r["key"].startswith("fastapi") else BAR_COLOURS[2][0])
            out.append('<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                x0, y + 3, max(xpos(r["rps"]) - x0, 1), bar_h - 6, colour))
            out.append('<text x="%.1f" y="%d">%s</text>' % (
                xpos(r["rps"]) + 4, y + 15, "{:,.0f}".format(r["rps"])))
        else:
            out.append('<text x="%d" y="%d" fill="#999">%s</text>' % (
                x0, y + 15, esc("skipped" if "skipped" in r else "0")))


def memory_panel(out, concurrency, py0, panel2_h, width):
    """KiB per in-flight request against C, one line per model, from y = py0."""
    out.append('<text x="10" y="%d" font-size="15" font-weight="bold">Memory per in-flight '
               'request (KiB, log) against C requests in flight (log)</text>' % (py0 + 10))
    gx0, gx1, gy0, gy1 = 80, width - 260, py0 + 40, py0 + panel2_h - 40
    pts = {}
    for e in concurrency:
        if e.get("kib_per_request") and e["kib_per_request"] > 0 and e.get("peak_in_flight"):
            pts.setdefault(e["label"], []).append((e["peak_in_flight"], e["kib_per_request"]))
    all_c = [c for p in pts.values() for c, _ in p] or [1, 10]
    all_k = [k for p in pts.values() for _, k in p] or [1, 10]
    cl, ch = 10 ** math.floor(math.log10(min(all_c))), 10 ** math.ceil(math.log10(max(all_c)))
    kl = 10 ** math.floor(math.log10(min(all_k)))
    kh = 10 ** math.ceil(math.log10(max(all_k)))
    ch = ch if ch > cl else cl * 10
    kh = kh if kh > kl else kl * 10

    def gx(c):
        return gx0 + (gx1 - gx0) * (math.log10(c) - math.log10(cl)) / (math.log10(ch) - math.log10(cl))

    def gy(k):
        return gy1 - (gy1 - gy0) * (math.log10(k) - math.log10(kl)) / (math.log10(kh) - math.log10(kl))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (
        gx0, gy0, gx1 - gx0, gy1 - gy0))
    d = cl
    while d <= ch:
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%s</text>' % (
            gx(d), gy1 + 16, "{:,}".format(int(d))))
        d *= 10
    d = kl
    while d <= kh:
        out.append('<text x="%d" y="%.1f" text-anchor="end" fill="#666">%s</text>' % (
            gx0 - 6, gy(d) + 4, ("%g" % d)))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (
            gx0, gy(d), gx1, gy(d)))
        d *= 10
    colours = ["#d9534f", "#a94442", "#5b8def", "#f0ad4e", "#8a6d3b", "#5cb85c"]
    for i, (label, p) in enumerate(sorted(pts.items())):
        p.sort()
        colour = colours[i % len(colours)]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
            colour, " ".join("%.1f,%.1f" % (gx(c), gy(k)) for c, k in p)))
        for c, k in p:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: C=%d, %.2f KiB'
                       '</title></circle>' % (gx(c), gy(k), colour, esc(label), c, k))
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (
            gx1 + 12, gy0 + i * 20, colour))
        out.append('<text x="%d" y="%d">%s</text>' % (gx1 + 28, gy0 + i * 20 + 10, esc(label)))
