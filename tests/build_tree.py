#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""build_tree.py - the README in its own order: "Building by hand" first
(`./configure` in the source tree), then the quick start.

In a copy of the source tree configured in place, deploy/build-tree (what
deploy/syncasync-demo and tests/run-all call first) must not stop with
automake's "source directory already configured": it says what it does,
unconfigures the source tree (make distclean) and builds out of tree.  A
copy, so that the real source tree is never touched; deploy/install-deps
is replaced by a stub there (this test installs nothing).
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SRCDIR, Tap  # noqa: E402

SKIP = {".git", "autom4te.cache", "results", "__pycache__"}


def ignore(directory, names):
    top = os.path.abspath(directory) == os.path.abspath(SRCDIR)
    return [n for n in names if n in SKIP or (top and n.startswith(("_build", "syncasync-")))
            or n.endswith((".o", ".a"))]


def main():
    tap = Tap()
    if not os.path.exists(os.path.join(SRCDIR, "configure")):
        tap.skip_all("no configure script in the source tree (autoreconf -fi)")
    work = tempfile.mkdtemp(prefix="syncasync-build-tree-")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                        "SYNCASYNC_BUILD_DIR")}
    try:
        src = os.path.join(work, "src")
        shutil.copytree(SRCDIR, src, symlinks=True, ignore=ignore)
        for root, dirs, files in os.walk(src):
            os.chmod(root, 0o755)   # distcheck's source tree is read-only
            for name in files:
                path = os.path.join(root, name)
                os.chmod(path, os.stat(path).st_mode | 0o200)
        if os.path.exists(os.path.join(src, "config.status")):
            subprocess.run(["make", "-s", "distclean"], cwd=src, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stub = os.path.join(src, "deploy", "install-deps")
        with open(stub, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        configured = subprocess.run(["./configure"], cwd=src, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    timeout=300)
        if not tap.ok(configured.returncode == 0, "./configure in the source tree succeeds",
                      configured.stdout[-2000:]):
            tap.done()
        build = os.path.join(work, "build")
        built = subprocess.run([os.path.join(src, "deploy", "build-tree")], cwd=src,
                               env=dict(env, SYNCASYNC_BUILD_DIR=build), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=1200)
        tap.ok(built.returncode == 0, "deploy/build-tree then succeeds", built.stdout[-3000:])
        tap.ok("already configured" not in built.stdout,
               "  without automake's \"source directory already configured\"",
               built.stdout[-2000:])
        tap.ok("configured in place" in built.stdout and "make distclean" in built.stdout,
               "  saying the source tree was configured in place and it runs make distclean",
               built.stdout[-2000:])
        tap.ok(not os.path.exists(os.path.join(src, "config.status")),
               "  the source tree is no longer configured")
        for program in ("sync_cgi/sync_cgi", "async_fcgi/async_fcgi",
                        "probe/syncasync-probe"):
            tap.ok(os.access(os.path.join(build, program), os.X_OK),
                   "  %s is built out of tree" % program)
        again = subprocess.run([os.path.join(src, "deploy", "build-tree")], cwd=src,
                               env=dict(env, SYNCASYNC_BUILD_DIR=build), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=600)
        tap.ok(again.returncode == 0 and "configured in place" not in again.stdout,
               "a second run builds quietly", again.stdout[-2000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
