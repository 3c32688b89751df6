# SPDX-License-Identifier: ISC
"""The man pages are clean under `mandoc -Tlint`: nothing reported.
Run from inside man/ so that cross references between the pages resolve,
with MANPATH pointing nowhere so that the host's manuals do not matter;
complaints about the host's outdated mandoc.db are not about our pages.
Exits 77 (skip) when mandoc is not installed."""

import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

MAN_DIR = os.path.join(harness.TOP_SRCDIR, "man")


def make_test(page):
    def test():
        r = subprocess.run(["mandoc", "-Tlint", os.path.basename(page)],
                           cwd=MAN_DIR, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=harness.WAIT,
                           env=dict(os.environ, MANPATH="/nonexistent"))
        lines = [line for line in (r.stdout + r.stderr).decode(
                     errors="replace").splitlines()
                 if "outdated mandoc.db" not in line]
        harness.check(not lines, "mandoc -Tlint %s:\n%s" %
                      (os.path.basename(page), "\n".join(lines)))
        harness.equal(r.returncode, 0, "mandoc -Tlint exit status")
    return test


if __name__ == "__main__":
    if shutil.which("mandoc") is None:
        print("1..0 # SKIP mandoc is not installed")
        sys.exit(77)
    pages = sorted(glob.glob(os.path.join(MAN_DIR, "*.[158]")))
    tests = {"test_there_are_pages": lambda: harness.check(
        len(pages) >= 3, "man pages found: %r" % pages)}
    for p in pages:
        tests["test_lint_" + os.path.basename(p).replace(".", "_")] = \
            make_test(p)
    harness.run(tests)
