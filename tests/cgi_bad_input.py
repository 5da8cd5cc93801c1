# SPDX-License-Identifier: ISC
"""cgi_bad_input.py - sync_cgi run as the web server runs it (a CGI
environment, stdin, stdout), fed a table of bad requests and hostile state
files.  Each case states the status it must get; every answer must be a
complete CGI response with a JSON body, and the next good request must still
get the next number.  A query without '=' comes as command-line words too
(Apache, RFC 3875 4.4): a CGI process ignores them, whatever they say."""
import json
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

tap = harness.Tap()
BINARY = os.path.join(harness.BUILDDIR, "sync_cgi", "sync_cgi")
MARKER = "m4rk3r-f0r-ech0"


def cgi(state_dir, env=None, stdin=b"", overrides=True, args=()):
    base = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/sync",
            "SERVER_PROTOCOL": "HTTP/1.1", "SYNCASYNC_STATE_DIR": state_dir,
            "SYNCASYNC_SLEEP_ON": "0", "PATH": "/usr/bin:/bin",
            "SYNCASYNC_QUERY_OVERRIDES": "1" if overrides else "0"}
    base.update(env or {})
    try:
        result = subprocess.run([BINARY] + list(args), env=base, input=stdin,
                                capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:   # e.g. it became a server
        return None, 0, {}, b"", None, "timed out"
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    status = int(headers.get("status", "0 ").split(" ")[0] or 0)
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return result.returncode, status, headers, body, parsed, result.stderr.decode()


def fresh_state():
    d = harness.temp_dir("syncasync-cgi-")
    os.chmod(d, 0o700)
    return d


CASES = [
    # (what, environment, stdin, status, text in the JSON error)
    ("POST", {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3"}, b"a=1", 405, "method"),
    ("PUT", {"REQUEST_METHOD": "PUT"}, b"", 405, "method"),
    ("no REQUEST_METHOD", {"REQUEST_METHOD": ""}, b"", 405, "method"),
    ("lower-case get", {"REQUEST_METHOD": "get"}, b"", 405, "method"),
    ("CONTENT_LENGTH negative", {"CONTENT_LENGTH": "-5"}, b"", 400, "CONTENT_LENGTH"),
    ("CONTENT_LENGTH junk", {"CONTENT_LENGTH": "12abc"}, b"", 400, "CONTENT_LENGTH"),
    ("CONTENT_LENGTH huge", {"CONTENT_LENGTH": "99999999999999999999"}, b"", 413, "large"),
    ("CONTENT_LENGTH past 1 MiB", {"CONTENT_LENGTH": "1048577"}, b"", 413, "large"),
    ("CONTENT_LENGTH lying (says 100, sends 3)", {"CONTENT_LENGTH": "100"}, b"abc", 200, None),
    ("CONTENT_LENGTH missing", {}, b"", 200, None),
    ("sleep with trailing junk", {"QUERY_STRING": "sleep=2x"}, b"", 400, "sleep"),
    ("sleep negative", {"QUERY_STRING": "sleep=-1"}, b"", 400, "sleep"),
    ("sleep out of range", {"QUERY_STRING": "sleep=3601"}, b"", 400, "sleep"),
    ("sleep not a number", {"QUERY_STRING": "sleep=nan"}, b"", 400, "sleep"),
    ("sleep exponent", {"QUERY_STRING": "sleep=1e3"}, b"", 400, "sleep"),
    ("sleep given twice", {"QUERY_STRING": "sleep=0&sleep=0"}, b"", 400, "more than once"),
    ("bad percent-encoding", {"QUERY_STRING": "sleep=%zz"}, b"", 400, "percent"),
    ("truncated percent-encoding", {"QUERY_STRING": "a=%4"}, b"", 400, "percent"),
    ("oversized QUERY_STRING", {"QUERY_STRING": "a=" + "x" * 5000}, b"", 414, "too long"),
    ("oversized sleep value", {"QUERY_STRING": "sleep=" + "1" * 300}, b"", 400, "sleep"),
    ("a Proxy header (httpoxy)", {"HTTP_PROXY": "http://127.0.0.1:9/" + MARKER}, b"", 200, None),
]


def check_cases():
    state = fresh_state()
    expected_no = 0
    for what, env, stdin, status, text in CASES:
        rc, got, headers, body, parsed, stderr = cgi(state, env, stdin)
        tap.eq(got, status, "%s -> %d" % (what, status))
        tap.ok(rc == 0 and headers.get("content-type") == "application/json"
               and headers.get("content-length") == str(len(body)),
               "  a complete CGI response (exit 0, JSON, right Content-Length)", (rc, headers))
        if status == 200:
            expected_no += 1
            tap.eq((parsed or {}).get("request_no"), expected_no, "  and it took the next number")
        else:
            error = (parsed or {}).get("error", "")
            tap.ok(text.lower() in error.lower(), "  JSON error mentions %r" % text, body)
            tap.ok(stderr.strip() != "", "  and the detail went to stderr (the error log)")
        tap.ok(MARKER.encode() not in body, "  nothing from the environment echoed")
        if status == 405:
            tap.eq(headers.get("allow"), "GET, HEAD", "  with Allow: GET, HEAD")
    rc, got, headers, body, parsed, _ = cgi(state, {"QUERY_STRING": "sleep=abc"},
                                            overrides=False)
    tap.ok(got == 200 and (parsed or {}).get("request_no") == expected_no + 1,
           "without overrides a bad ?sleep= changes nothing (200, next number)")


def check_isindex():
    """/sync?WORDS: Apache runs sync_cgi WORDS (each split on '+' and
    decoded), QUERY_STRING=WORDS.  Each answers 200 with the next number: the
    query has no sleep, so nothing to refuse; options are not obeyed."""
    state = fresh_state()
    sock = os.path.join(state, "peer.sock")
    queries = [["foo"], ["foo", "bar"], ["--help"], ["--version"], ["-w", "4"],
               ["--listen", "unix:" + sock], ["--bogus"]]
    for number, words in enumerate(queries, 1):
        query = "+".join(words)
        rc, got, headers, body, parsed, stderr = cgi(state, {"QUERY_STRING": query},
                                                     args=words)
        tap.ok(rc == 0 and got == 200 and headers.get("content-type") == "application/json"
               and (parsed or {}).get("request_no") == number,
               "/sync?%s (argv %s) -> 200 JSON, the next number"
               % (query.replace(sock, "PATH"), " ".join(words).replace(sock, "PATH")),
               (rc, got, body, stderr))
        tap.eq(stderr, "", "  nothing logged (no usage)")
    tap.ok(not os.path.exists(sock), "  and ?--listen+unix:PATH made no socket")
    # A LISTEN_FDS the web server left in the environment (not this pid's).
    rc, got, _, body, parsed, stderr = cgi(state, {"QUERY_STRING": "foo", "LISTEN_FDS": "1",
                                                   "LISTEN_PID": "1"}, args=["foo"])
    tap.ok(rc == 0 and got == 200 and (parsed or {}).get("request_no") == len(queries) + 1,
           "  also with a stale LISTEN_FDS in the environment", (rc, got, body, stderr))


def check_hostile_state():
    nobody = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else None
    # A symlink planted as the counter file.
    state = fresh_state()
    target = os.path.join(state, "elsewhere")
    open(target, "w").close()
    os.symlink(target, os.path.join(state, "counter"))
    _, got, _, _, parsed, stderr = cgi(state)
    tap.eq(got, 500, "a symlink as the counter file -> 500")
    tap.ok("counter" in (parsed or {}).get("error", ""), "  JSON error about the counter")
    tap.ok(os.path.getsize(target) == 0, "  and the link's target is untouched")
    # Not a regular file.
    state = fresh_state()
    os.mkdir(os.path.join(state, "counter"))
    tap.eq(cgi(state)[1], 500, "a directory as the counter file -> 500")
    state = fresh_state()
    os.mkfifo(os.path.join(state, "counter"))
    tap.eq(cgi(state)[1], 500, "a FIFO as the counter file -> 500 (without hanging)")
    # Wrong owner.
    state = fresh_state()
    path = os.path.join(state, "counter")
    open(path, "w").close()
    if nobody is not None:
        os.chown(path, nobody, nobody)
        tap.eq(cgi(state)[1], 500, "a counter file owned by another user -> 500")
    else:
        print("ok %d # SKIP not root: cannot give the file away" % (tap.count + 1))
        tap.count += 1
    # A state directory others may write to, and a symlinked state directory.
    state = fresh_state()
    os.chmod(state, 0o777)
    tap.eq(cgi(state)[1], 500, "a world-writable state directory -> 500")
    real = fresh_state()
    link = os.path.join(real, "link")
    os.symlink(real, link)
    tap.eq(cgi(link)[1], 500, "a symlinked state directory -> 500")
    # A corrupt counter file.
    state = fresh_state()
    with open(os.path.join(state, "counter"), "w") as f:
        f.write("garbage\n")
    os.chmod(os.path.join(state, "counter"), 0o600)
    tap.eq(cgi(state)[1], 500, "a corrupt counter file -> 500 (never reset to 0)")
    # The file is created 0600 in a 0700 directory.
    state = fresh_state()
    cgi(state)
    mode = os.stat(os.path.join(state, "counter")).st_mode & 0o777
    tap.eq(mode, 0o600, "a new counter file is created 0600")


check_cases()
check_isindex()
check_hostile_state()
tap.done()
