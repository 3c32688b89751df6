# SPDX-License-Identifier: ISC
"""Runs the example sessions of the man pages and compares their output
with the page.

The convention, for man/*.1, man/*.5 and man/*.8:

- An example session is a `.Bd -literal` block whose first line starts
  with "$ ". In it, each line that starts with "$ " is a command, and the
  lines up to the next command are what it prints, standard output and
  standard error together. Other literal blocks (config files, commands
  run as root with "# ") are not sessions.
- A session whose first line starts with "$ echoreplyctl" or
  "$ echoreplyd -n" is run. Every other session must carry a test-skip
  marker saying why it is not run.
- Markers are mdoc comment lines just before the `.Bd` line:
    .\\" test-config: NAME   start echoreplyd with tests/man/NAME and make
                            "echoreplyctl" in the commands read that file
                            (as with -f). Needed by every session that
                            runs echoreplyctl.
    .\\" test-tty            the session is one interactive command, run on
                            a pseudo-terminal: a line starting with the
                            prompt "echoreplyctl> " shows what is typed
                            after it, "^D" standing for end of file.
    .\\" test-skip: REASON   do not run this session; the reason is needed.
- The commands run with sh, one session at a time, in a scratch directory
  that holds a copy of every file in tests/man/ (so "./new.conf" works),
  with LC_ALL=C and, first in PATH, echoreplyd and echoreplyctl wrappers
  around the programs just built. In the files, "@PORT@" is replaced by a
  free loopback port, where the daemon listens.
- The page text is compared after mandoc's escapes are turned back (\\e to
  a backslash, \\& to nothing, \\(dq to a double quote, ...); an escape
  this file does not know fails the test, so that it gets added here.
"""

import difflib
import glob
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, equal  # noqa: E402

MAN_DIR = os.path.join(harness.TOP_SRCDIR, "man")
CONF_DIR = os.path.join(harness.TOP_SRCDIR, "tests", "man")
RUN_PREFIXES = ("$ echoreplyctl", "$ echoreplyd -n")
PROMPT = "echoreplyctl> "

ESCAPES = {
    "e": "\\", "&": "", "-": "-", " ": " ", "|": "", "^": "",
    "(dq": '"', "(aq": "'", "(ga": "`", "(ti": "~", "(ha": "^",
    "(rs": "\\", "(em": "\u2014", "(en": "\u2013",
    "(:a": "\u00e4", "(:o": "\u00f6", "(:u": "\u00fc",
}


def unescape(text, where):
    def one(m):
        key = m.group(1)
        if key not in ESCAPES:
            raise AssertionError("%s: escape \\%s is not known to this "
                                 "test; add it to ESCAPES" % (where, key))
        return ESCAPES[key]
    return re.sub(r"\\(\(..|\[[^]]*\]|.)", one, text)


class Session:
    def __init__(self, page, lineno, markers):
        self.page = os.path.basename(page)
        self.lineno = lineno
        self.markers = markers
        self.lines = []

    def where(self):
        return "%s:%d" % (self.page, self.lineno)

    def runs(self):
        return (self.lines[0].startswith(RUN_PREFIXES) and
                "skip" not in self.markers)


def read_sessions(path):
    """Every .Bd -literal block of the page whose first line starts with
    "$ ", with its markers."""
    sessions = []
    markers = {}
    block = None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            where = "%s:%d" % (os.path.basename(path), lineno)
            if block is not None:
                if line == ".Ed":
                    if block.lines and block.lines[0].startswith("$ "):
                        sessions.append(block)
                    elif block.markers:
                        raise AssertionError("%s: test markers on a block "
                                             "that is not a session" %
                                             block.where())
                    block = None
                elif line.startswith('.\\"'):
                    continue
                elif line.startswith(".") or line.startswith("'"):
                    raise AssertionError("%s: macro in an example block: "
                                         "%r" % (where, line))
                else:
                    block.lines.append(unescape(line, where))
                continue
            m = re.match(r'\.\\"\s*test-([a-z]+)(?::\s*(.*?))?\s*$', line)
            if m:
                name, arg = m.group(1), m.group(2)
                if name not in ("config", "tty", "skip"):
                    raise AssertionError("%s: unknown marker test-%s" %
                                         (where, name))
                if name in ("config", "skip") and not arg:
                    raise AssertionError("%s: test-%s needs a value" %
                                         (where, name))
                markers[name] = arg
                continue
            if line.startswith(".Bd") and "-literal" in line.split():
                block = Session(path, lineno, markers)
                markers = {}
                continue
            if markers:
                raise AssertionError("%s: test markers must come just "
                                     "before .Bd -literal" % where)
    return sessions


def all_sessions():
    pages = sorted(glob.glob(os.path.join(MAN_DIR, "*.[158]")))
    if len(pages) < 3:
        raise AssertionError("expected the three man pages in %s, found %r"
                             % (MAN_DIR, pages))
    return [s for p in pages for s in read_sessions(p)]


def split_commands(lines):
    """[(command, [output lines])] from a session's lines."""
    out = []
    for line in lines:
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return out


class Scratch:
    """A scratch directory with the tests/man files, wrappers in bin/ and,
    for test-config, a daemon running that config."""

    def __init__(self, session):
        self.dir = tempfile.mkdtemp(prefix="echoreplyd-man-")
        self.daemon = None
        port = harness.free_port()
        for name in os.listdir(CONF_DIR):
            with open(os.path.join(CONF_DIR, name)) as f:
                text = f.read().replace("@PORT@", str(port))
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        self.wrapper(bindir, "echoreplyd", [harness.ECHOREPLYD])
        conf = session.markers.get("config")
        if conf is not None:
            with open(os.path.join(self.dir, conf)) as f:
                self.daemon = Daemon(f.read(), port=port, listen=False)
            self.wrapper(bindir, "echoreplyctl",
                         [harness.ECHOREPLYCTL, "-f", self.daemon.conf])
        elif any("echoreplyctl" in line for line in session.lines
                 if line.startswith("$ ")):
            raise AssertionError("%s: runs echoreplyctl but has no "
                                 "test-config marker" % session.where())
        self.env = dict(os.environ, LC_ALL="C",
                        PATH=bindir + os.pathsep + os.environ["PATH"])

    @staticmethod
    def wrapper(bindir, name, argv):
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexec %s \"$@\"\n" %
                    " ".join("'%s'" % a.replace("'", "'\\''")
                             for a in argv))
        os.chmod(path, 0o755)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def quote(s):
    return "'%s'" % s.replace("'", "'\\''")


def run_commands(session):
    """Runs the session as one sh script that prints each command line
    before running it, keeping $? from the command before."""
    script = ["__st=0"]
    for command, _ in split_commands(session.lines):
        script.append("printf '%%s\\n' %s" % quote("$ " + command))
        script.append("(exit $__st); { %s\n} 2>&1; __st=$?" % command)
    scratch = Scratch(session)
    try:
        r = subprocess.run(["sh", "-c", "\n".join(script)], cwd=scratch.dir,
                           env=scratch.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
    finally:
        scratch.cleanup()
    return r.stdout.decode("utf-8", errors="replace")


def run_tty(session):
    """Runs the one command of the session on a pseudo-terminal, typing
    what the page shows after each prompt."""
    command = session.lines[0][2:]
    scratch = Scratch(session)
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(["sh", "-c", command], cwd=scratch.dir,
                                env=scratch.env, stdin=slave, stdout=slave,
                                stderr=slave, start_new_session=True)
        os.close(slave)
        slave = -1
        data = b""
        deadline = time.monotonic() + harness.WAIT

        def read_more():
            nonlocal data
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: timed out; output so far %r" %
                                     (session.where(), data))
            r, _, _ = select.select([master], [], [], left)
            if not r:
                return True
            try:
                chunk = os.read(master, 4096)
            except OSError:     # EIO: every writer has gone
                chunk = b""
            data += chunk
            return bool(chunk)

        prompts = 0
        for line in session.lines[1:]:
            if not line.startswith(PROMPT):
                continue
            prompts += 1
            while not (data.endswith(PROMPT.encode()) and
                       data.count(PROMPT.encode()) == prompts):
                if not read_more():
                    raise AssertionError("%s: output ended before a "
                                         "prompt: %r" %
                                         (session.where(), data))
            typed = line[len(PROMPT):]
            os.write(master, b"\x04" if typed == "^D" else
                     typed.encode() + b"\n")
        # read what the page shows, then on until the end; waiting for
        # the end alone may lose the last bytes when the terminal closes
        want = len(expected_tty(session)) - len(session.lines[0]) - 1
        while len(data.replace(b"\r\n", b"\n").decode(
                "utf-8", errors="replace")) < want and read_more():
            pass
        status = proc.wait(harness.WAIT)
        while read_more():
            pass
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
        scratch.cleanup()
    equal(status, 0, "%s: exit status" % session.where())
    got = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return session.lines[0] + "\n" + got


def expected_tty(session):
    out = [session.lines[0]]
    for line in session.lines[1:]:
        out.append(PROMPT if line == PROMPT + "^D" else line)
    return "\n".join(out) + "\n"


def compare(session, got, want):
    if got != want:
        diff = "".join(difflib.unified_diff(
            want.splitlines(True), got.splitlines(True),
            "page " + session.where(), "output"))
        raise AssertionError("%s: the output differs from the page:\n%s" %
                             (session.where(), diff))


def make_test(session):
    def test():
        if "tty" in session.markers:
            compare(session, run_tty(session), expected_tty(session))
        else:
            compare(session, run_commands(session),
                    "\n".join(session.lines) + "\n")
    return test


def test_every_session_is_run_or_skipped():
    for s in all_sessions():
        if s.runs():
            continue
        if "skip" not in s.markers:
            raise AssertionError("%s: session %r is neither run (it does "
                                 "not start with %s) nor marked test-skip"
                                 % (s.where(), s.lines[0],
                                    " or ".join(RUN_PREFIXES)))
        print("# not run: %s %r: %s" % (s.where(), s.lines[0],
                                         s.markers["skip"]))


if __name__ == "__main__":
    tests = {}
    try:
        for s in all_sessions():
            if s.runs():
                name = "test_%s_line_%d" % (s.page.replace(".", "_"),
                                            s.lineno)
                tests[name] = make_test(s)
    except AssertionError as e:
        def test_pages_parse(e=e):
            raise e
        tests["test_pages_parse"] = test_pages_parse
    tests["test_every_session_is_run_or_skipped"] = \
        test_every_session_is_run_or_skipped
    harness.run(tests)
