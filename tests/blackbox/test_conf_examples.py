# SPDX-License-Identifier: ISC
"""The rule examples of echoreplyd.conf(5) give the replies the page shows.

Convention in the page: a literal block (.Bd -literal ... .Ed) preceded by
the comment line `.\\" example-file: NAME` is the text of a file NAME; a
literal block whose first line starts with `$ echoreplyd -f` holds commands
(lines starting with `$ `), each followed by its exact standard output.
Each command runs, with the real echoreplyd, in a directory holding the
files shown before it."""

import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import check, equal  # noqa: E402

PAGE = os.path.join(harness.TOP_SRCDIR, "man", "echoreplyd.conf.5")


def unroff(line):
    """Turns the few roff escapes used in literal blocks back into text."""
    out = []
    i = 0
    while i < len(line):
        if line.startswith("\\e", i):
            out.append("\\")
            i += 2
        elif line.startswith("\\(dq", i):
            out.append('"')
            i += 4
        elif line.startswith("\\&", i):
            i += 2
        elif line.startswith("\\-", i):
            out.append("-")
            i += 2
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def blocks():
    """Yields (file name or None, [lines]) for each literal block."""
    name = None
    cur = None
    with open(PAGE) as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if cur is None:
                if raw.startswith('.\\" example-file: '):
                    name = raw.split(": ", 1)[1].strip()
                elif raw.startswith(".Bd -literal"):
                    cur = []
                elif not raw.startswith('.\\"'):
                    name = None
                continue
            if raw == ".Ed":
                yield name, cur
                name = None
                cur = None
            else:
                cur.append(unroff(raw))


def commands(lines):
    """Splits a command block into (command, expected output) pairs."""
    pairs = []
    for line in lines:
        if line.startswith("$ "):
            pairs.append([line[2:], []])
        elif pairs:
            pairs[-1][1].append(line)
    return [(c, "".join(x + "\n" for x in out)) for c, out in pairs]


def test_examples_give_the_documented_replies():
    ran = 0
    with tempfile.TemporaryDirectory(prefix="echoreplyd-man-") as d:
        for name, lines in blocks():
            if name is not None:
                with open(os.path.join(d, name), "w") as f:
                    f.write("".join(x + "\n" for x in lines))
                continue
            if not lines or not lines[0].startswith("$ echoreplyd -f"):
                continue
            for cmd, want in commands(lines):
                argv = shlex.split(cmd)
                equal(argv[0], "echoreplyd", "example command")
                r = subprocess.run([harness.ECHOREPLYD] + argv[1:], cwd=d,
                                   capture_output=True, timeout=harness.WAIT,
                                   env=dict(os.environ, TZ="UTC"))
                equal(r.returncode, 0, "%s: exit status (stderr %r)" %
                      (cmd, r.stderr))
                equal(r.stdout.decode(), want, "output of %s" % cmd)
                ran += 1
    check(ran >= 5, "only %d example commands found in %s" % (ran, PAGE))


def test_example_files_are_valid():
    found = 0
    with tempfile.TemporaryDirectory(prefix="echoreplyd-man-") as d:
        for name, lines in blocks():
            if name is None:
                continue
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write("".join(x + "\n" for x in lines))
            r = subprocess.run([harness.ECHOREPLYD, "-n", "-f", path],
                               capture_output=True, timeout=harness.WAIT)
            equal((r.returncode, r.stderr), (0, b""), "%s is valid" % name)
            found += 1
    check(found >= 1, "no example-file in %s" % PAGE)


if __name__ == "__main__":
    harness.run(globals())
