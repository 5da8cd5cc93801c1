# SPDX-License-Identifier: ISC
"""work_cancel.py - cancellable blocking work (work_blocking_run_cancellable
on an offload pool worker) against a real PostgreSQL and the real slow
upstream started here: a job of an hour, cancelled once it is under way
(tests/cancel_work.c checks that first), must stop early with the
cancelled status, and the same worker (and, for db, the same connection)
must serve the next job.

- db: SELECT pg_sleep(3600), cancelled with PQcancel (sent by the worker,
  woken by the token's hook: the cancelling thread, async_fcgi's loop, spends
  under 50 ms in offload_pool_cancel): ends within 2 s, the server runs no
  query afterwards;
- http: GET /hang, aborted by libcurl's progress callback (called about
  once a second): ends within 3 s."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
HELPER = os.path.join(harness.BUILDDIR, "tests", "cancel_work")
CANCELLED = 499     # WORK_STATUS_CANCELLED (common/work_blocking.h)


def run(kind, target):
    proc = subprocess.run([HELPER, kind, target], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return proc.returncode, values, proc.stdout


def check(kind, target, bound_ms):
    rc, v, out = run(kind, target)
    tap.eq(rc, 0, "%s: the helper ran" % kind)
    tap.eq(v.get("ready"), "1", "  the 1 h work was under way before the cancel")
    tap.eq(v.get("cancel_status"), str(CANCELLED), "  cancelled status (%d)" % CANCELLED)
    took = float(v.get("cancel_took_ms", "1e9"))
    tap.ok(took < bound_ms, "  stopped %.0f ms after the cancel (< %d ms)" % (took, bound_ms), out)
    tap.ok(float(v.get("cancel_call_ms", "1e9")) < 50,
           "  offload_pool_cancel() returned at once (%s ms)" % v.get("cancel_call_ms"))
    tap.diag("%s: cancel() itself took %s ms, the work stopped after %s ms"
             % (kind, v.get("cancel_call_ms"), v.get("cancel_took_ms")))
    tap.eq(v.get("next_status"), "0", "  the same worker serves the next job")
    return v


if harness.postgres_bindir() is None:
    tap.diag("PostgreSQL not found: the db case is not run")
else:
    with harness.Postgres() as pg:
        v = check("db", pg.conninfo, 2000)
        tap.eq(v.get("db_active_after"), "0", "  no query left running on the server")
with harness.SlowUpstream() as upstream:
    check("http", upstream.url, 3000)
tap.done()
