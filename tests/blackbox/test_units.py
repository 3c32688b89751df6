# SPDX-License-Identifier: ISC
"""The shipped systemd units: `systemd-analyze verify` prints nothing for
any of them, `systemd-analyze security --offline=true` scores each
service 1.0 or lower, and the services give the daemon the open files its
default limits need and no config check that would restart in a loop. Skips (77) without systemd-analyze."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import check, equal  # noqa: E402

UNIT_DIR = os.environ.get("UNIT_DIR", "systemd")
UNIT_SBINDIR = os.environ.get("UNIT_SBINDIR", "/usr/local/sbin")
UNITS = ["echoreplyd.service", "echoreplyd.socket",
         "echoreplyd@.service", "echoreplyd@.socket"]
SERVICES = ["echoreplyd.service", "echoreplyd@.service"]
MAX_EXPOSURE = 1.0


class Units:
    """The generated units, copied with ExecStart= pointing at the daemon
    just built: verify checks that the command exists, and the installed
    one need not."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="echoreplyd-units-")
        daemon = os.path.abspath(harness.ECHOREPLYD)
        for name in UNITS:
            with open(os.path.join(UNIT_DIR, name)) as f:
                text = f.read()
            text = text.replace(UNIT_SBINDIR + "/echoreplyd", daemon)
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        return self

    def path(self, name):
        return os.path.join(self.dir, name)

    def __exit__(self, *exc):
        shutil.rmtree(self.dir)


def analyze(*args):
    return subprocess.run(["systemd-analyze"] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=harness.WAIT * 3)


def test_paths_substituted():
    for name in UNITS:
        with open(os.path.join(UNIT_DIR, name)) as f:
            text = f.read()
        check("@sbindir@" not in text and "@sysconfdir@" not in text,
              "%s has unsubstituted paths" % name)
        if name.endswith(".service"):
            check("ExecStart=%s/echoreplyd -f " % UNIT_SBINDIR in text,
                  "%s: ExecStart= not under %s" % (name, UNIT_SBINDIR))


def unit_settings(name):
    """The Key=value lines of a generated unit, a list per key."""
    settings = {}
    with open(os.path.join(UNIT_DIR, name)) as f:
        for line in f:
            m = re.match(r"([A-Za-z]+)=(.*)", line.strip())
            if m:
                settings.setdefault(m.group(1), []).append(m.group(2))
    return settings


def test_open_file_limit_and_no_restart_loop():
    # issue 12: under systemd the daemon kept the default 1024 files, and
    # a bad config at start was retried (RestartPreventExitStatus= covers
    # the main process only, not an ExecStartPre= check)
    for name in SERVICES:
        s = unit_settings(name)
        limit = s.get("LimitNOFILE", ["0"])[-1].split(":")[0]
        check(limit.isdigit() and int(limit) >= 10000 + 32 + 16,
              "%s: LimitNOFILE=%s does not hold the default 10000 "
              "connections" % (name, limit))
        check("ExecStartPre" not in s, "%s: a config check in "
              "ExecStartPre= is restarted in a loop" % name)
        equal(s.get("RestartPreventExitStatus"), ["78"],
              name + " RestartPreventExitStatus")


def test_verify_prints_nothing():
    # verify exits 0 on some warnings: any output at all is a failure
    with Units() as u:
        r = analyze("verify", "--man=no", *[u.path(n) for n in UNITS])
        out = (r.stdout + r.stderr).decode(errors="replace")
        equal(out, "", "systemd-analyze verify output")
        equal(r.returncode, 0, "systemd-analyze verify status")


def test_security_score():
    with Units() as u:
        for name in SERVICES:
            r = analyze("security", "--offline=true", "--no-pager",
                        u.path(name))
            out = r.stdout.decode(errors="replace")
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)",
                          out)
            check(m is not None, "%s: no score in:\n%s%s" %
                  (name, out, r.stderr.decode(errors="replace")))
            score = float(m.group(1))
            print("# %s: exposure %.1f" % (name, score))
            check(score <= MAX_EXPOSURE, "%s scores %.1f > %.1f:\n%s" %
                  (name, score, MAX_EXPOSURE, out))


if __name__ == "__main__":
    if shutil.which("systemd-analyze") is None:
        print("1..0 # SKIP systemd-analyze not installed")
        sys.exit(77)
    harness.run(globals())
