#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""slow_upstream.py - a slow HTTP upstream for SYNCASYNC_WORK=http.

A separate process (never the responder itself) that the demo and the
tests point SYNCASYNC_UPSTREAM at.  Standard library only.

    slow_upstream.py [--bind ADDR] [--port N] [--port-file FILE]

  GET /slow?seconds=S   waits S seconds (decimals allowed, at most 3600),
                        then answers 200 with a small JSON body
  GET /hang             never answers (until the client gives up)
  GET /fail             answers 500 at once
  anything else         404

One thread per request (ThreadingHTTPServer), so a slow request holds up
no other.  With --port 0 (the default) it picks a free port; it prints
"port N" on stdout once it listens (and writes N to --port-file), so a
caller can wait for that line instead of sleeping.  SIGTERM or SIGINT stop
it.
"""
import argparse
import json
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    server_version = "slow_upstream"
    hang = threading.Event()      # never set: /hang waits on it

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/slow":
            try:
                seconds = float(query.get("seconds", ["0"])[0])
            except ValueError:
                seconds = -1
            if not 0 <= seconds <= 3600:
                self.answer(400, {"error": "seconds must be from 0 to 3600"})
                return
            time.sleep(seconds)
            self.answer(200, {"slept": seconds})
        elif url.path == "/hang":
            self.hang.wait()
        elif url.path == "/fail":
            self.answer(500, {"error": "failing on purpose"})
        else:
            self.answer(404, {"error": "not found: /slow, /hang, /fail"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout, a cancelled transfer) is normal.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description="a slow HTTP upstream")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    server = Server((args.bind, args.port), Handler)
    port = server.server_address[1]

    def stop(signo, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write("%d\n" % port)
    print("port %d" % port, flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
