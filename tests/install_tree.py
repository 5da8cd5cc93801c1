#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""install_tree.py - `make install DESTDIR=...` into a temporary root.

Checks the exact list of files installed (programs where their kind
belongs, man pages, the lighttpd and Apache snippets, the systemd units,
the README) and the empty 0700 state directory; that the snippets and
units name the installed paths; that the Apache snippet sets
ProxyFCGIBackendType only inside its own <Location>s; then serves /sync,
/pool, /async (mode block) and /modes/timer/async through a real
lighttpd started here from that tree: a wrapper configuration loads the
modules Debian's conf-enabled files would and includes the installed
lighttpd snippet, in which only the lines that name paths (the programs,
the state directory, the socket) are moved into the temporary root.
Finally `make uninstall DESTDIR=...` must leave no file behind.

The Apache snippet gets `apache2 -t` with the modules it asks for (and is
refused, naming a2enmod, without mod_proxy_fcgi); it is not served through
a real Apache here, nor are the systemd units run under systemd.
"""
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILDDIR, Tap, need_tool, request  # noqa: E402


def make(args, destdir=None):
    """Runs make in the build tree, outside the calling make's jobserver."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    cmd = ["make", "-s", "--no-print-directory", "-C", BUILDDIR] + args
    if destdir is not None:
        cmd.append("DESTDIR=" + destdir)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env, timeout=300)


def install_paths():
    result = make(["print-install-paths"])
    if result.returncode != 0:
        raise RuntimeError(result.stdout)
    paths = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        paths[key] = value
    return paths


def files_under(root):
    found = set()
    for top, _dirs, files in os.walk(root):
        for name in files:
            found.add("/" + os.path.relpath(os.path.join(top, name), root))
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def location_outside(text):
    """The lines of an Apache configuration outside any <Location> block."""
    depth, lines = 0, []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("<Location"):
            depth += 1
        elif stripped.startswith("</Location"):
            depth -= 1
        elif depth == 0:
            lines.append(line)
    return lines


SNIPPET_PATH_VARS = ("syncasync_sync_cgi", "syncasync_async_fcgi",
                     "syncasync_state_dir", "syncasync_socket", "syncasync_lab_dir")


def relocate_snippet(text, root, run_dir):
    """Moves the snippet's path variables into the temporary root.

    Returns (new text, number of lines changed)."""
    out, changed = [], 0
    for line in text.splitlines(keepends=True):
        m = re.match(r'var\.(\w+)\s*=\s*"([^"]*)"', line)
        if m and m.group(1) in SNIPPET_PATH_VARS:
            name, value = m.groups()
            if name == "syncasync_socket":
                new = os.path.join(run_dir, "async.sock")
            elif name == "syncasync_state_dir":
                new = os.path.join(run_dir, "state")
            else:
                new = root + value
            line = 'var.%s = "%s"\n' % (name, new)
            changed += 1
        out.append(line)
    return "".join(out), changed


def serve_through_lighttpd(tap, lighttpd, snippet, paths, root):
    run_dir = tempfile.mkdtemp(prefix="syncasync-install-run-")
    proc = None
    try:
        with open(snippet) as f:
            original = f.read()
        relocated, changed = relocate_snippet(original, root, run_dir)
        tap.eq(changed, len(SNIPPET_PATH_VARS),
               "the snippet names its paths in %d variables" % len(SNIPPET_PATH_VARS))
        other = [(a, b) for a, b in zip(original.splitlines(), relocated.splitlines())
                 if a != b and not a.startswith("var.syncasync_")]
        tap.eq(other, [], "only the path variables were changed")
        os.mkdir(os.path.join(run_dir, "state"), 0o700)
        os.mkdir(os.path.join(run_dir, "htdocs"))
        local_snippet = os.path.join(run_dir, "50-syncasync.conf")
        with open(local_snippet, "w") as f:
            f.write(relocated)
        port = free_port()
        conf = os.path.join(run_dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write("""# what Debian's lighttpd.conf and conf-enabled/ provide
server.modules = ( "mod_access", "mod_alias", "mod_setenv", "mod_cgi", "mod_fastcgi" )
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s/htdocs"
server.pid-file = "%s/lighttpd.pid"
server.errorlog = "%s/error.log"
server.breakagelog = "%s/backends.log"
index-file.names = ( "index.html" )
include "%s"
""" % (port, run_dir, run_dir, run_dir, run_dir, local_snippet))
        check = subprocess.run([lighttpd, "-tt", "-f", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
        tap.ok(check.returncode == 0, "lighttpd accepts the installed snippet",
               check.stdout)
        proc = subprocess.Popen([lighttpd, "-D", "-f", conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while time.time() < deadline and proc.poll() is None and not port_answers(port):
            time.sleep(0.05)
        if not tap.ok(proc.poll() is None and port_answers(port),
                      "lighttpd started with the installed snippet"):
            return
        url = "http://127.0.0.1:%d" % port
        for path, message, number in (("/sync", "sync example", 1),
                                      ("/pool", "sync example", 2),
                                      ("/async", "async example", 1),
                                      ("/modes/timer/async", "async example", 1)):
            reply = request(url + path, timeout=30)
            body = reply.json() or {}
            tap.ok(reply.status == 200 and body.get("message") == message
                   and body.get("request_no") == number,
                   "%s answers from the installed program (request %d)" % (path, number),
                   "status %r error %r body %r" % (reply.status, reply.error, reply.body[:300]))
        for path, mode in (("/async", "block"), ("/modes/timer/async", "timer")):
            reply = request(url + path, timeout=30)
            tap.eq((reply.json() or {}).get("mode"), mode,
                   "%s runs in the snippet's mode (%s)" % (path, mode))
        reply = request(url + "/lab/", timeout=30)
        tap.ok(reply.status == 200 and b'src="lab.js"' in reply.body,
               "/lab/ serves the installed lab page", "status %r" % reply.status)
        counter = os.path.join(run_dir, "state", "counter")
        tap.ok(os.path.isfile(counter), "sync_cgi keeps its counter in the snippet's state dir")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for name in ("error.log", "backends.log"):
            try:
                with open(os.path.join(run_dir, name), errors="replace") as f:
                    text = f.read().strip()
                if text and tap.failed:
                    tap.diag(name + ":\n" + text[-2000:])
            except OSError:
                pass
        shutil.rmtree(run_dir, ignore_errors=True)


APACHE_MODULES = ("mpm_event", "authz_core", "alias", "env", "cgid", "proxy", "proxy_fcgi")


def apache_config_test(tap, apache2, snippet):
    """apache2 -t with the installed snippet: accepted with the modules it
    names, refused with a2enmod's advice without mod_proxy_fcgi."""
    modules_dir = "/usr/lib/apache2/modules"
    run_dir = tempfile.mkdtemp(prefix="syncasync-install-apache-")
    try:
        results = []
        for modules in (APACHE_MODULES, [m for m in APACHE_MODULES if m != "proxy_fcgi"]):
            conf = os.path.join(run_dir, "apache2.conf")
            with open(conf, "w") as f:
                f.write('ServerRoot "%s"\nListen 127.0.0.1:%d\nPidFile "%s/apache2.pid"\n'
                        'ErrorLog "%s/error.log"\nServerName syncasync-test\n'
                        % (run_dir, free_port(), run_dir, run_dir))
                for module in modules:
                    f.write("LoadModule %s_module %s/mod_%s.so\n" % (module, modules_dir, module))
                f.write('Include "%s"\n' % snippet)
            results.append(subprocess.run([apache2, "-t", "-f", conf], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True, timeout=30))
        tap.ok(results[0].returncode == 0, "apache2 -t accepts the installed Apache snippet",
               results[0].stdout)
        tap.ok(results[1].returncode != 0 and "a2enmod proxy_fcgi" in results[1].stdout,
               "without mod_proxy_fcgi, apache2 -t refuses it naming a2enmod proxy_fcgi",
               results[1].stdout)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def main():
    tap = Tap()
    lighttpd = need_tool(tap, "LIGHTTPD", "lighttpd", "lighttpd")
    paths = install_paths()
    root = tempfile.mkdtemp(prefix="syncasync-destdir-")
    try:
        result = make(["install"], destdir=root)
        if not tap.ok(result.returncode == 0, "make install DESTDIR=... succeeds",
                      result.stdout):
            tap.done()
        expected = {
            paths["bindir"] + "/syncasync-probe",
            paths["sbindir"] + "/async_fcgi",
            paths["cgidir"] + "/sync_cgi",
            paths["man1dir"] + "/syncasync-probe.1",
            paths["man7dir"] + "/syncasync.7",
            paths["man8dir"] + "/sync_cgi.8",
            paths["man8dir"] + "/async_fcgi.8",
            paths["lighttpdconfdir"] + "/50-syncasync.conf",
            paths["apacheconfdir"] + "/syncasync.conf",
            paths["docdir"] + "/README.md",
        }
        expected |= {paths["labdir"] + "/" + name for name in ("index.html", "lab.css", "lab.js")}
        if paths["systemdsystemunitdir"]:
            expected |= {paths["systemdsystemunitdir"] + "/" + unit for unit in (
                "async_fcgi.socket", "async_fcgi.service", "async_fcgi-timer.socket",
                "async_fcgi-timer.service", "syncasync-pool.socket",
                "syncasync-pool.service")}
        got = files_under(root)
        tap.ok(got == expected, "exactly the expected %d files are installed" % len(expected),
               "missing: %s\nunexpected: %s" % (sorted(expected - got), sorted(got - expected)))
        if expected - got:
            tap.done()
        programs = [paths["bindir"] + "/syncasync-probe", paths["sbindir"] + "/async_fcgi",
                    paths["cgidir"] + "/sync_cgi"]
        tap.ok(all(os.access(root + p, os.X_OK) for p in programs),
               "the programs are executable")
        data = sorted(expected - set(programs))
        tap.ok(all(os.path.exists(root + p) and
                   stat.S_IMODE(os.stat(root + p).st_mode) == 0o644 for p in data),
               "man pages, snippets, units and README are 0644")
        state = root + paths["state_dir"]
        tap.ok(os.path.isdir(state) and stat.S_IMODE(os.stat(state).st_mode) == 0o700
               and os.listdir(state) == [],
               "the state directory %s is created empty, mode 0700" % paths["state_dir"])

        # The installed files name the installed paths, nothing left unsubstituted.
        unsubstituted = []
        for p in data:
            with open(root + p, errors="replace") as f:
                text = f.read()
            if re.search(r"@[a-zA-Z_]+@", text):
                unsubstituted.append(p)
        tap.eq(unsubstituted, [], "no @variable@ is left in the installed files")
        with open(root + paths["lighttpdconfdir"] + "/50-syncasync.conf") as f:
            lighttpd_text = f.read()
        with open(root + paths["apacheconfdir"] + "/syncasync.conf") as f:
            apache_text = f.read()
        tap.ok(paths["cgidir"] + "/sync_cgi" in lighttpd_text
               and paths["sbindir"] + "/async_fcgi" in lighttpd_text
               and paths["state_dir"] in lighttpd_text,
               "the lighttpd snippet names the installed programs and state dir")
        tap.ok(lighttpd_text.startswith("# -*- depends: cgi, fastcgi, setenv -*-"),
               "the lighttpd snippet tells lighty-enable-mod what it depends on")
        tap.ok(paths["cgidir"] + "/sync_cgi" in apache_text
               and paths["state_dir"] in apache_text
               and "a2enmod cgid" in apache_text and "a2enmod proxy_fcgi" in apache_text,
               "the Apache snippet names sync_cgi, the state dir and the modules to a2enmod")
        outside = [line.strip() for line in location_outside(apache_text)
                   if line.strip().startswith("ProxyFCGIBackendType")]
        tap.ok("ProxyFCGIBackendType GENERIC" in apache_text and not outside,
               "the Apache snippet sets ProxyFCGIBackendType only in its <Location>s",
               outside)
        if paths["systemdsystemunitdir"]:
            with open(root + paths["systemdsystemunitdir"] + "/async_fcgi.service") as f:
                unit = f.read()
            tap.ok("ExecStart=" + paths["sbindir"] + "/async_fcgi\n" in unit,
                   "the service unit starts the installed async_fcgi")

        apache2 = os.environ.get("APACHE2") or shutil.which("apache2") or (
            "/usr/sbin/apache2" if os.path.exists("/usr/sbin/apache2") else None)
        if apache2 and os.path.isdir("/usr/lib/apache2/modules"):
            apache_config_test(tap, apache2, root + paths["apacheconfdir"] + "/syncasync.conf")
        else:
            tap.diag("apache2 not found: the Apache snippet's configuration test is not run")

        serve_through_lighttpd(tap, lighttpd,
                               root + paths["lighttpdconfdir"] + "/50-syncasync.conf",
                               paths, root)

        result = make(["uninstall"], destdir=root)
        tap.ok(result.returncode == 0, "make uninstall DESTDIR=... succeeds", result.stdout)
        left = files_under(root)
        tap.eq(sorted(left), [], "make uninstall leaves no file behind")
        tap.ok(not os.path.exists(state), "make uninstall removes the empty state directory")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
