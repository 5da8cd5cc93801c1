# SPDX-License-Identifier: ISC
"""fastapi_app.py - the FastAPI application the bench compares syncasync with.

The stack the experiment was published on: FastAPI under uvicorn, one
worker.  Each route answers the same JSON as the C pair (message, thread_id,
pid, request_time, request_no, started_us, finished_us):

  /async        async def, answers at once      (throughput rows)
  /sync         def, run on the thread pool     (throughput rows)
  /async-sleep  async def + await asyncio.sleep(S)   (concurrency rows)
  /sync-sleep   def + time.sleep(S), thread pool of 40 (AnyIO's default)

S is SYNCASYNC_SLEEP_SECONDS (default 5).  Run by bench/run-bench as
  python3 -m uvicorn fastapi_app:app --app-dir bench --port PORT
Not part of syncasync; Debian packages python3-fastapi, python3-uvicorn.
"""
import asyncio
import itertools
import os
import threading
import time

from fastapi import FastAPI

SLEEP_SECONDS = float(os.environ.get("SYNCASYNC_SLEEP_SECONDS", "5"))
app = FastAPI()
_counter = itertools.count(1)  # next() is atomic under the GIL


def _answer(message, started_us):
    return {
        "message": message,
        "thread_id": threading.get_native_id(),
        "pid": os.getpid(),
        "request_time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_us / 1e6)),
        "request_no": next(_counter),
        "started_us": started_us,
        "finished_us": time.time_ns() // 1000,
    }


@app.get("/async")
async def async_route():
    return _answer("async example", time.time_ns() // 1000)


@app.get("/sync")
def sync_route():
    return _answer("sync example", time.time_ns() // 1000)


@app.get("/async-sleep")
async def async_sleep_route():
    started = time.time_ns() // 1000
    await asyncio.sleep(SLEEP_SECONDS)
    return _answer("async example (sleep)", started)


@app.get("/sync-sleep")
def sync_sleep_route():
    started = time.time_ns() // 1000
    time.sleep(SLEEP_SECONDS)
    return _answer("sync example (sleep)", started)
