# SPDX-License-Identifier: ISC
"""machine.py - which tools are installed, their versions, the machine."""
import json
import os
import resource
import shutil
import subprocess
import sys


def which(name, extra=()):
    for cand in [shutil.which(name)] + list(extra):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def dpkg_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except OSError:
        return None


def find_fastapi_python():
    """A python3 that imports fastapi and uvicorn (Debian's are in /usr/bin)."""
    for cand in (sys.executable, "/usr/bin/python3"):
        if cand and os.access(cand, os.X_OK):
            r = subprocess.run([cand, "-c", "import fastapi, uvicorn"], capture_output=True)
            if r.returncode == 0:
                return cand
    return None


def python_versions(python):
    code = ("import json, importlib\nout = {'python': __import__('sys').version.split()[0]}\n"
            "for m in ('fastapi', 'uvicorn', 'starlette', 'anyio', 'h11', 'uvloop', 'httptools'):\n"
            "    try:\n        out[m] = getattr(importlib.import_module(m), '__version__', 'present')\n"
            "    except ImportError:\n        out[m] = None\nprint(json.dumps(out))\n")
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30)
        return json.loads(r.stdout)
    except (OSError, ValueError):
        return {}


def tools(no_fastapi):
    """The path of each tool the bench may use, None where absent."""
    return {
        "wrk": which("wrk"),
        "lighttpd": which("lighttpd", ["/usr/sbin/lighttpd"]),
        "apache2": which("apache2", ["/usr/sbin/apache2"]),
        "hyperfine": which("hyperfine"),
        "fastapi_python": None if no_fastapi else find_fastapi_python(),
    }


def versions(tool, binaries):
    def of(name, *args):
        return first_line([tool[name]] + list(args)) if tool[name] else None
    v = {
        "lighttpd": of("lighttpd", "-v"),
        "apache2": of("apache2", "-v"),
        "wrk": of("wrk", "-v"),
        "hyperfine": of("hyperfine", "--version"),
        "libevent": first_line(["pkg-config", "--modversion", "libevent"]),
        "json-c": first_line(["pkg-config", "--modversion", "json-c"]),
        "libfcgi": dpkg_version("libfcgi-dev") or dpkg_version("libfcgi0ldbl"),
        "async_fcgi": first_line([binaries["async_fcgi"], "--version"]),
        "cc": first_line((os.environ.get("CC") or "cc").split() + ["--version"]),
        "bench_python": sys.version.split()[0],
    }
    if tool["fastapi_python"]:
        v["fastapi_stack"] = python_versions(tool["fastapi_python"])
    return v


def machine_info():
    info = {"cores": os.cpu_count(), "kernel": os.uname().release, "arch": os.uname().machine}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["memory_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    info["nofile_soft_at_start"], info["nofile_hard"] = soft, hard
    info["nproc_limit"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    for name in ("kernel/pid_max", "net/core/somaxconn"):
        try:
            with open("/proc/sys/" + name) as f:
                info[name.split("/")[-1]] = int(f.read())
        except OSError:
            pass
    return info
