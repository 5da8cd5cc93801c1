#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""man_pages.py - the man pages are clean and agree with the programs.

For sync_cgi(8), async_fcgi(8) and syncasync-probe(1), as built (make
substitutes the paths into man/*.in):
  - `mandoc -Tlint -W warning` reports nothing (style messages are shown as
    diagnostics only);
  - the long and the short options of `--help` are exactly those the page's
    option list (.It Fl lines) describes;
  - every environment variable `--help` names is in the page's ENVIRONMENT
    section, and every SYNCASYNC_ variable common/settings.c reads is in
    the backends' pages;
  - `--version` prints the version the page's .Os line names;
  - the page has the sections a complete manual has here;
  - DIAGNOSTICS names every line the program prints on stderr (the
    fixed text of each fprintf(stderr, ...), die() and conn_log() in its
    sources: the longest run of words between conversions);
  - every command in EXAMPLES parses (`bash -n`), and every long option it
    gives one of the programs is one that program's --help lists.
syncasync(7), the overview, gets the lint and the examples' checks.
It does not judge whether the prose is right.
"""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILDDIR, SRCDIR, Tap, need_tool  # noqa: E402

PROGRAMS = (
    ("sync_cgi", "sync_cgi/sync_cgi", "man/sync_cgi.8", True),
    ("async_fcgi", "async_fcgi/async_fcgi", "man/async_fcgi.8", True),
    ("syncasync-probe", "probe/syncasync-probe", "man/syncasync-probe.1", False),
)
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "EXIT STATUS",
            "EXAMPLES", "DIAGNOSTICS", "SEE ALSO", "SECURITY CONSIDERATIONS")
OVERVIEW = "man/syncasync.7"
# Where each program's stderr lines are written (what DIAGNOSTICS lists).
SOURCES = {
    "sync_cgi": ("sync_cgi/*.c", "common/listen.c", "common/supervise.c"),
    "async_fcgi": ("async_fcgi/*.c", "common/listen.c", "common/supervise.c"),
    "syncasync-probe": ("probe/probe_main.c",),
}
# Lines of a shared source that a program never prints: common/supervise.c
# restarts the workers on SIGHUP only for sync_cgi (hup_restarts).
NOT_PRINTED = {
    "async_fcgi": {"worker(s), each after its request in hand"},
}
LITERALS = r'((?:"(?:[^"\\\n]|\\.)*"\s*)+)'
CALLS = (r"fprintf\(stderr,\s*" + LITERALS, r"\bdie\(\s*" + LITERALS,
         r"\bconn_log\(\w+,\s*" + LITERALS)
CONVERSION = r"%[-#0-9.*]*(?:ll|l|z|h|j)?[a-zA-Z]"


def run(cmd):
    env = dict(os.environ, GATEWAY_INTERFACE="", REQUEST_METHOD="")
    env.pop("GATEWAY_INTERFACE")
    env.pop("REQUEST_METHOD")
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=30)


def help_options(text):
    """(long options anywhere in --help, {long: short} of its "-x, --long" lines)."""
    longs = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))
    pairs = {}
    for line in text.splitlines():
        m = re.match(r"\s+-(\w), --([a-z][a-z0-9-]*)", line)
        if m:
            pairs[m.group(2)] = m.group(1)
    return longs, pairs


def page_options(text):
    """(long options, {long: short}) of the page's ".It Fl" list items."""
    longs, pairs = set(), {}
    for line in text.splitlines():
        if not line.startswith(".It Fl "):
            continue
        flags = re.findall(r"\bFl (\S+)", line)
        line_longs = [f[1:] for f in flags if f.startswith("-")]
        line_shorts = [f for f in flags if not f.startswith("-")]
        longs.update(line_longs)
        if len(line_longs) == 1 and len(line_shorts) == 1:
            pairs[line_longs[0]] = line_shorts[0]
    return longs, pairs


def section(text, name):
    m = re.search(r"^\.Sh %s\n(.*?)(?=^\.Sh |\Z)" % re.escape(name), text, re.S | re.M)
    return m.group(1) if m else ""


def stderr_lines(name):
    """{fixed text: source file} of the lines a program writes on stderr."""
    found = {}
    for source in sorted(os.path.relpath(path, SRCDIR) for pattern in SOURCES[name]
                         for path in glob.glob(os.path.join(SRCDIR, pattern))):
        with open(os.path.join(SRCDIR, source)) as f:
            code = f.read()
        for pattern in CALLS:
            for m in re.finditer(pattern, code):
                text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
                text = text.replace("\\n", " ").replace('\\"', '"')
                text = re.sub(r"^%s: " % re.escape(name), "", text)
                pieces = [p.strip(" :;,.()\"'-") for p in re.split(CONVERSION, text)]
                pieces = [p for p in pieces if len(p.split()) >= 2 or len(p) >= 8]
                if pieces and max(pieces, key=len) not in NOT_PRINTED.get(name, ()):
                    found[max(pieces, key=len)] = source
    return found


def rendered(mandoc, path, name):
    """A section of the page as mandoc renders it, whitespace collapsed."""
    out = subprocess.run([mandoc, "-Tascii", path], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=30).stdout
    out = re.sub(r".\x08", "", out)
    m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)" % re.escape(name), out, re.S | re.M)
    return re.sub(r"\s+", " ", m.group(1)) if m else ""


def example_commands(text):
    """The shell commands of the EXAMPLES section's literal displays."""
    commands = []
    for block in re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", section(text, "EXAMPLES"),
                            re.S | re.M):
        current = None
        for line in block.splitlines():
            line = line.replace("\\e", "\\").replace("\\(dq", '"')
            if current is not None:
                current += "\n" + line
            elif line.startswith(("$ ", "# ")):
                current = line[2:]
            else:
                continue
            if not current.endswith("\\"):
                commands.append(current)
                current = None
    return commands


def check_examples(tap, page, text, helps):
    commands = example_commands(text)
    tap.ok(commands, "%s: EXAMPLES has commands" % page)
    bad, unknown = [], []
    for command in commands:
        parsed = subprocess.run(["bash", "-n", "-c", command], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=30)
        if parsed.returncode != 0:
            bad.append((command, parsed.stdout.strip()))
        words = command.replace("\\\n", " ").split()
        for i, word in enumerate(words):
            program = os.path.basename(word)
            if program in helps:
                for option in words[i + 1:]:
                    if option in ("--", "|", "&&", "&", ";"):
                        break
                    m = re.match(r"--([a-z][a-z0-9-]*)", option)
                    if m and m.group(1) not in helps[program]:
                        unknown.append((program, option))
                break
    tap.eq(bad, [], "%s: every example command parses (%d)" % (page, len(commands)))
    tap.eq(unknown, [], "%s: every option an example gives our programs exists" % page)


def settings_variables():
    with open(os.path.join(SRCDIR, "common", "settings.c")) as f:
        return set(re.findall(r'"(SYNCASYNC_[A-Z_]+)"', f.read()))


def lint(tap, mandoc, page, page_path):
    result = subprocess.run([mandoc, "-Tlint", "-W", "warning", page_path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=30)
    # mandoc also complains about the system's own out-of-date database.
    report = [line for line in result.stdout.splitlines() if "mandoc.db" not in line]
    tap.ok(result.returncode == 0 and not report,
           "%s: mandoc -Tlint reports nothing above style level" % page,
           "\n".join(report))


def main():
    tap = Tap()
    mandoc = need_tool(tap, "MANDOC", "mandoc", "mandoc")
    read_by_settings = settings_variables()
    helps = {}
    for name, binary, _page, _backend in PROGRAMS:
        helped = run([os.path.join(BUILDDIR, binary), "--help"])
        helps[name] = help_options(helped.stdout)[0]
    for name, binary, page, backend in PROGRAMS:
        page_path = os.path.join(BUILDDIR, page)
        with open(page_path) as f:
            text = f.read()
        lint(tap, mandoc, page, page_path)
        style = subprocess.run([mandoc, "-Tlint", page_path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
        for line in style.stdout.splitlines():
            if "STYLE" in line and "referenced manual not found" not in line:
                tap.diag(line)
        missing = [s for s in SECTIONS if not re.search(r"^\.Sh %s$" % s, text, re.M)]
        tap.eq(missing, [], "%s: has every section a complete page has here" % page)
        tap.ok(not re.search(r"@[a-zA-Z_]+@", text),
               "%s: every @variable@ was substituted" % page)

        prog = os.path.join(BUILDDIR, binary)
        helped = run([prog, "--help"])
        tap.ok(helped.returncode == 0 and helped.stdout.startswith("usage: " + name),
               "%s --help exits 0 with its usage" % name, helped.stderr)
        help_long, help_pairs = help_options(helped.stdout)
        page_long, page_pairs = page_options(text)
        tap.ok(help_long and help_long == page_long,
               "%s: --help and the page list the same long options (%d)"
               % (name, len(help_long)),
               "only in --help: %s\nonly in the page: %s"
               % (sorted(help_long - page_long), sorted(page_long - help_long)))
        wrong = {long: (short, page_pairs.get(long)) for long, short in help_pairs.items()
                 if page_pairs.get(long) != short}
        tap.ok(help_pairs and not wrong,
               "%s: each short option of --help (%d) is the page's for the same long one"
               % (name, len(help_pairs)),
               "long: (--help, page): %s" % wrong)

        environment = section(text, "ENVIRONMENT")
        page_env = set(re.findall(r"\b((?:SYNCASYNC|LISTEN)_[A-Z_]+)", environment))
        help_env = set(re.findall(r"\b(SYNCASYNC_[A-Z_]+)", helped.stdout))
        tap.ok(help_env <= page_env,
               "%s: the page's ENVIRONMENT has every variable --help names (%d)"
               % (name, len(help_env)),
               "missing: %s" % sorted(help_env - page_env))
        if backend:
            tap.ok(read_by_settings <= page_env,
                   "%s: the page's ENVIRONMENT has every variable the settings read (%d)"
                   % (name, len(read_by_settings)),
                   "missing: %s" % sorted(read_by_settings - page_env))

        diagnostics = rendered(mandoc, page_path, "DIAGNOSTICS")
        missing = sorted("%s (%s)" % (line, source)
                         for line, source in stderr_lines(name).items()
                         if line not in diagnostics)
        tap.ok(not missing, "%s: DIAGNOSTICS names every line it prints on stderr (%d)"
               % (page, len(stderr_lines(name))), "\n".join(missing))
        check_examples(tap, page, text, helps)

        version = run([prog, "--version"])
        os_line = re.search(r"^\.Os syncasync (\S+)$", text, re.M)
        printed = version.stdout.split()
        tap.ok(version.returncode == 0 and os_line is not None and printed
               and printed[-1] == os_line.group(1),
               "%s --version agrees with the page's version" % name,
               "--version: %r; .Os: %r" % (version.stdout, os_line and os_line.group(0)))
    page_path = os.path.join(BUILDDIR, OVERVIEW)
    with open(page_path) as f:
        text = f.read()
    lint(tap, mandoc, OVERVIEW, page_path)
    tap.ok(not re.search(r"@[a-zA-Z_]+@", text),
           "%s: every @variable@ was substituted" % OVERVIEW)
    check_examples(tap, OVERVIEW, text, helps)
    tap.done()


if __name__ == "__main__":
    main()
