"""harness.py - what the integration tests share.

TAP output for automake's tap-driver, a real lighttpd started through
deploy/syncasync-lighttpd (the same script and configuration the quick start
uses) on a free loopback port and stopped by pid, and an HTTP client that
fires concurrent requests the way the experiment does.  Standard library
only.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SRCDIR = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), ".."))
BUILDDIR = os.environ.get("top_builddir", SRCDIR)


class Tap:
    """Collects TAP lines; the plan goes last."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, cond, what, detail=None):
        self.count += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.count, what), flush=True)
        if not cond and detail is not None:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
        return cond

    def eq(self, got, expected, what):
        return self.ok(got == expected, what, "got %r, expected %r" % (got, expected))

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line, flush=True)

    def skip_all(self, reason):
        print("1..0 # SKIP %s" % reason, flush=True)
        sys.exit(0)

    def done(self):
        print("1..%d" % self.count, flush=True)
        sys.exit(0 if self.failed == 0 else 1)


def need_tool(tap, env_name, name, package):
    """Returns the tool's path, or skips the whole test when it is absent."""
    path = os.environ.get(env_name) or shutil.which(name) or (
        "/usr/sbin/" + name if os.path.exists("/usr/sbin/" + name) else None)
    if not path:
        tap.skip_all("%s not found (install the Debian package %s)" % (name, package))
    return path


class Lighttpd:
    """A private lighttpd on a free loopback port, via deploy/syncasync-lighttpd."""

    def __init__(self, **options):
        self.run_dir = tempfile.mkdtemp(prefix="syncasync-test-")
        self.options = options
        self.url = None
        self.pid = None

    def __enter__(self):
        cmd = [os.path.join(SRCDIR, "deploy", "syncasync-lighttpd"), "start",
               "--build-dir", BUILDDIR, "--run-dir", self.run_dir]
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                cmd.append(flag)
            else:
                cmd += [flag, str(value)]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError("lighttpd did not start:\n" + result.stdout)
        with open(os.path.join(self.run_dir, "url")) as f:
            self.url = f.read().strip()
        with open(os.path.join(self.run_dir, "lighttpd.pid")) as f:
            self.pid = int(f.read().strip())
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def stop(self):
        subprocess.run([os.path.join(SRCDIR, "deploy", "syncasync-lighttpd"), "stop",
                        "--run-dir", self.run_dir], timeout=30)

    def error_log(self):
        """lighttpd's error log followed by what CGI programs wrote on stderr."""
        text = ""
        for name in ("error.log", "backends.log"):
            try:
                with open(os.path.join(self.run_dir, name), errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text


class Reply:
    def __init__(self, index, status=None, headers=None, body=b"", error=None,
                 sent=0.0, received=0.0):
        self.index = index
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.error = error
        self.sent = sent
        self.received = received

    @property
    def latency(self):
        return self.received - self.sent

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def request(url, method="GET", headers=None, body=None, timeout=60, index=0):
    """One HTTP request on its own connection; errors become Reply.error."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    reply = Reply(index, sent=time.time())
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request(method, "/" + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        reply.status = resp.status
        reply.headers = {k.lower(): v for k, v in resp.getheaders()}
        reply.body = resp.read()
    except (OSError, http.client.HTTPException) as e:
        reply.error = "%s: %s" % (type(e).__name__, e)
    finally:
        conn.close()
        reply.received = time.time()
    return reply


def concurrent(url, n, timeout=60, stagger=0.0):
    """Fires n GETs at once (one thread and connection each), like gather().

    With stagger > 0 request i is sent i*stagger seconds after the start, so
    the server numbers them in order (the experiment's requests leave the
    client in order too).  Returns the replies in send order."""
    replies = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        barrier.wait()
        if stagger:
            time.sleep(i * stagger)
        replies[i] = request(url, timeout=timeout, index=i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies
