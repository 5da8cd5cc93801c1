# SPDX-License-Identifier: ISC
"""harness.py - what the integration tests share.

TAP output for automake's tap-driver, a real lighttpd or Apache started
through deploy/syncasync-serve (the script and configurations the demo and
the bench use) on a free loopback port and stopped by pid, and an HTTP
client that fires concurrent requests the way the experiment does.
Standard library only.
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


def wait_for(predicate, timeout, interval=0.02):
    """Polls predicate until it is truthy or timeout passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def need_plain_binary(tap, relpath, asan_reason):
    """BUILDDIR/relpath, or the whole test skipped: when it is not built,
    or (with asan_reason, which says why that matters) when it is built
    with AddressSanitizer."""
    path = os.path.join(BUILDDIR, relpath)
    if not os.access(path, os.X_OK):
        tap.skip_all("%s is not built" % path)
    with open(path, "rb") as f:
        if b"__asan_init" in f.read():
            tap.skip_all("%s is built with AddressSanitizer%s" % (
                os.path.basename(path), asan_reason))
    return path


def need_tool(tap, env_name, name, package):
    """Returns the tool's path, or skips the whole test when it is absent."""
    path = os.environ.get(env_name) or shutil.which(name) or (
        "/usr/sbin/" + name if os.path.exists("/usr/sbin/" + name) else None)
    if not path:
        tap.skip_all("%s not found (install the Debian package %s)" % (name, package))
    return path


_TEMP_DIRS = []


def temp_dir(prefix):
    """A new private directory, removed when the test exits, also when it
    fails (tempfile.TemporaryDirectory's finalizer runs at exit)."""
    made = tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True)
    _TEMP_DIRS.append(made)
    return made.name


def read_logs(run_dir):
    """A run directory's error.log followed by its backends.log."""
    text = ""
    for name in ("error.log", "backends.log"):
        try:
            with open(os.path.join(run_dir, name), errors="replace") as f:
                text += f.read()
        except OSError:
            pass
    return text


class Served:
    """lighttpd or Apache with the paths deploy/syncasync-serve mounts
    (/sync, /async, /modes/MODE/async, /pool, /scale/async), on a free
    loopback port in a private run directory; stopped by pid, the directory
    removed (also when the start fails).  options are the script's, with
    underscores for dashes (True for a flag)."""

    def __init__(self, server, **options):
        self.server = server
        self.script = os.path.join(SRCDIR, "deploy", "syncasync-serve")
        self.options = options
        self.run_dir = None
        self.url = None
        self.pid = None

    def __enter__(self):
        self.run_dir = tempfile.mkdtemp(prefix="syncasync-test-")
        cmd = [self.script, "--server", self.server, "start",
               "--build-dir", BUILDDIR, "--run-dir", self.run_dir]
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            cmd += [flag] if value is True else [flag, str(value)]
        try:
            result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, timeout=60)
            if result.returncode != 0:
                raise RuntimeError("%s did not start:\n%s" % (self.server, result.stdout))
            with open(os.path.join(self.run_dir, "url")) as f:
                self.url = f.read().strip()
            pid_file = "apache2.pid" if self.server == "apache" else "lighttpd.pid"
            with open(os.path.join(self.run_dir, pid_file)) as f:
                self.pid = int(f.read().strip())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def stop(self):
        subprocess.run([self.script, "stop", "--run-dir", self.run_dir], timeout=60)

    def backend_pid(self, name):
        """The pid of the async_fcgi the script started as NAME (scale1, ...)."""
        with open(os.path.join(self.run_dir, "backend-%s.pid" % name)) as f:
            return int(f.read().strip())

    def restart_backend(self, name, **env):
        """Starts async_fcgi NAME again on its socket, as the user owning the
        socket directory, with env added; returns the Popen.  stop() ends it."""
        sock_dir = os.path.join(self.run_dir, "sock")
        st = os.stat(sock_dir)
        owner = {}
        if os.geteuid() == 0 and st.st_uid != 0:
            owner = {"user": st.st_uid, "group": st.st_gid, "extra_groups": []}
        with open(os.path.join(self.run_dir, "backends.log"), "a") as log:
            proc = subprocess.Popen(
                [os.path.join(BUILDDIR, "async_fcgi", "async_fcgi"),
                 "--listen", "unix:%s/%s.sock" % (sock_dir, name)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=dict(os.environ, **env), **owner)
        with open(os.path.join(self.run_dir, "backend-%s.pid" % name), "w") as f:
            f.write("%d\n" % proc.pid)
        return proc

    def error_log(self):
        """The web server's error log followed by what the backends wrote."""
        return read_logs(self.run_dir)


class Lighttpd(Served):
    """A private lighttpd serving /sync, /async, /modes/MODE/async and /pool
    (paths="..." for others)."""

    def __init__(self, **options):
        options.setdefault("paths", "async,modes,pool")
        super().__init__("lighttpd", **options)


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


def postgres_bindir():
    """The newest /usr/lib/postgresql/*/bin with initdb, or None."""
    import glob
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path):
        try:
            return int(path.split("/")[4])
        except ValueError:
            return 0
    found.sort(key=version)
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    """A private PostgreSQL cluster in a temporary directory, on a unix socket
    only (listen_addresses=''), started and stopped by the test.

    As root, initdb and the server run as the user postgres (runuser), which
    owns the directory.  conninfo is a libpq connection string for it.
    stop() and start() may be called again mid-test (the database going away
    and coming back); close() stops it and removes the directory."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.dir = None
        self.running = False

    def _cmd(self, args):
        cmd = [os.path.join(self.bindir, args[0])] + args[1:]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return cmd

    def _run(self, args, timeout=60):
        result = subprocess.run(self._cmd(args), cwd=self.dir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError("%s failed:\n%s" % (args[0], result.stdout))
        return result.stdout

    def __enter__(self):
        if self.bindir is None:
            raise RuntimeError("PostgreSQL not found (install the Debian package postgresql)")
        self.dir = tempfile.mkdtemp(prefix="syncasync-pg-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.conninfo = "host=%s user=postgres dbname=postgres" % self.dir
        try:
            self._run(["initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--no-sync"])
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        self._run(["pg_ctl", "start", "-w", "-t", "30", "-D", self.data,
                   "-l", os.path.join(self.dir, "postgres.log"),
                   "-o", "-k %s -c listen_addresses='' -c fsync=off" % self.dir])
        self.running = True
        deadline = time.time() + 30
        while subprocess.run(self._cmd(["pg_isready", "-q", "-h", self.dir]),
                             cwd=self.dir).returncode != 0:
            if time.time() > deadline:
                raise RuntimeError("PostgreSQL did not become ready")
            time.sleep(0.1)

    def stop(self):
        if self.running:
            self._run(["pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data])
            self.running = False

    def close(self):
        try:
            self.stop()
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None


class SlowUpstream:
    """deploy/slow_upstream.py as a separate process on a free loopback port:
    GET /slow?seconds=S, /hang (never answers), /fail (500).  url is its
    base, e.g. http://127.0.0.1:PORT; stopped by pid on exit."""

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(SRCDIR, "deploy", "slow_upstream.py")],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()   # "port N" once it listens
        if not line.startswith("port "):
            self.__exit__()
            raise RuntimeError("slow_upstream.py did not start")
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def check_experiment(tap, url, label, mode, blocked, sleep, what):
    """The experiment at url: 10 concurrent requests, request 5 does the
    sleep-long work (what, for the TAP line).  blocked: every request
    numbered after 5 waited for it; otherwise every other request was
    answered in under 1 s.  mode, if given, is the contract's mode field."""
    replies = concurrent(url, 10, stagger=0.02)
    bodies = [r.json() or {} for r in replies]
    tap.ok(all(r.status == 200 for r in replies), "%s: 10 answers, all 200" % label,
           [(r.status, r.error, r.body[:200]) for r in replies])
    by_no = {b.get("request_no"): r for r, b in zip(replies, bodies)}
    tap.eq(sorted(by_no), list(range(1, 11)), "  numbered 1..10")
    if mode is not None:
        tap.ok(all(b.get("mode") == mode for b in bodies), "  each says mode %s" % mode,
               [b.get("mode") for b in bodies])
    sleeper = by_no.get(5)
    tap.ok(sleeper is not None and sleeper.latency >= sleep - 0.1,
           "  request 5 %s" % what, sleeper and "latency %.3f s" % sleeper.latency)
    if blocked:
        late = [n for n in range(6, 11) if n in by_no and by_no[n].latency < sleep * 0.75]
        tap.ok(not late, "  every request numbered after it waited for it",
               "answered early: %s" % late)
    else:
        others = [by_no[n].latency for n in range(1, 11) if n != 5 and n in by_no]
        slowest = max(others) if others else 99
        tap.ok(slowest < 1.0, "  every other request answered in under 1 s",
               "slowest: %.3f s" % slowest)
    return replies, bodies, by_no
