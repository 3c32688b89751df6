# SPDX-License-Identifier: ISC
"""Each program's --help lists the same options as its man page: the
usage line against the SYNOPSIS, and the option lines ("-f, --config
FILE") against the page's `.It Fl` items in DESCRIPTION."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import equal  # noqa: E402

MAN_DIR = os.path.join(harness.TOP_SRCDIR, "man")


def help_options(program):
    """(short options of the usage line, long-only options of the usage
    line, {(short or None, long or None)} of the option lines)."""
    r = subprocess.run([program, "--help"], capture_output=True,
                       timeout=harness.WAIT)
    equal(r.returncode, 0, "%s --help exit status" % program)
    text = r.stdout.decode()
    usage = text.split("\n  -", 1)[0].split("\n      --", 1)[0]
    shorts, longs = set(), set()
    for m in re.finditer(r"\[-([^-\] ]+)( [^]]+)?\]", usage):
        shorts |= set(m.group(1))
    for m in re.finditer(r"\[--([a-z][a-z-]*)(?: [^]]+)?\]", usage):
        longs.add(m.group(1))
    pairs = set()
    for line in text.splitlines()[1:]:
        m = re.match(r"\s+(?:-([A-Za-z0-9]))?(?:,\s*)?(?:--([a-z][a-z-]*))?"
                     r"(?:\s|$)", line)
        if m and (m.group(1) or m.group(2)):
            pairs.add((m.group(1), m.group(2)))
    return shorts, longs, pairs


def sections(page):
    out, name = {}, None
    with open(page, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".Sh "):
                name = line[4:].strip()
                out[name] = []
            elif name is not None:
                out[name].append(line)
    return out


def page_options(page):
    """The same three things, from the page."""
    sh = sections(page)
    shorts, longs = set(), set()
    for line in sh["SYNOPSIS"]:
        m = re.match(r"\.Op Fl (\S+)(.*)", line)
        if not m:
            continue
        # "Fl \-name" is --name; "\-" is roff's hyphen, inside it too
        flag, rest = m.group(1).replace("\\-", "-"), m.group(2)
        if flag.startswith("-"):
            longs.add(flag[1:])
        elif "Ar" in rest.split():
            shorts.add(flag)
        else:
            shorts |= set(flag)
    pairs = set()
    for line in sh["DESCRIPTION"]:
        if not line.startswith(".It Fl "):
            continue
        short = long = None
        for flag in re.findall(r"Fl (\S+)", line):
            flag = flag.replace("\\-", "-")   # roff's hyphen
            if flag.startswith("-"):
                long = flag[1:]
            else:
                short = flag
        pairs.add((short, long))
    return shorts, longs, pairs


def compare(program, page):
    h_shorts, h_longs, h_pairs = help_options(program)
    p_shorts, p_longs, p_pairs = page_options(os.path.join(MAN_DIR, page))
    harness.check(h_pairs, "no options found in %s --help" % program)
    equal(sorted(h_pairs, key=str), sorted(p_pairs, key=str),
          "options in --help (left) and in %s (right)" % page)
    equal(sorted(h_shorts), sorted(p_shorts),
          "short options of the usage line and of the SYNOPSIS in %s" % page)
    equal(sorted(h_longs), sorted(p_longs),
          "long-only options of the usage line and the SYNOPSIS in %s" %
          page)
    equal(sorted(p_shorts), sorted(s for s, _ in p_pairs if s),
          "options of the SYNOPSIS and of the option list in %s" % page)


def test_echoreplyd_help_matches_its_page():
    compare(harness.ECHOREPLYD, "echoreplyd.8")


def test_echoreplyctl_help_matches_its_page():
    compare(harness.ECHOREPLYCTL, "echoreplyctl.1")


if __name__ == "__main__":
    harness.run(globals())
