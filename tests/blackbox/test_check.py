# SPDX-License-Identifier: ISC
"""Black-box tests: echoreplyd's check mode (-n), -V, -h and bad options."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import check, equal  # noqa: E402
from harness import TempDir  # noqa: E402

EX_USAGE = 64
EX_CONFIG = 78
SHIPPED = os.path.join(harness.TOP_SRCDIR, "etc", "echoreplyd.conf")


def daemon(*args, timeout=harness.WAIT):
    """Runs echoreplyd in a mode that exits by itself."""
    return subprocess.run([harness.ECHOREPLYD] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)


def test_shipped_config_ok():
    r = daemon("-n", "-f", SHIPPED)
    equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    equal(r.stdout, b"configuration OK\n", "stdout")
    equal(r.stderr, b"", "stderr")
    r = daemon("--check", "--config", SHIPPED)
    equal(r.returncode, 0, "exit status with long options")
    equal(r.stdout, b"configuration OK\n", "stdout with long options")


def test_three_errors_all_reported():
    with TempDir() as t:
        path = t.file("three.conf",
                      'colour = "blue";\n'
                      'listen = {\n'
                      '  port = 70000;\n'
                      '  address = "not-an-address";\n'
                      '};\n')
        r = daemon("-n", "-f", path)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stdout, b"", "stdout")
        equal(r.stderr.decode().splitlines(), [
            "%s:1: unknown key 'colour'" % path,
            "%s:3: 'port' must be between 1 and 65535, not 70000" % path,
            "%s:4: 'address' must be an IPv4 or IPv6 address, not "
            "\"not-an-address\"" % path,
        ], "stderr lines")
        check(r.stderr.endswith(b"\n"), "stderr must end with a newline")


def test_errors_also_without_check_mode():
    # the daemon itself refuses to start on the same errors, same exit code
    with TempDir() as t:
        path = t.file("bad.conf", 'listen = { port = 0; };\n')
        r = daemon("-d", "-f", path)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stderr.decode(), "%s:1: 'port' must be between 1 and "
              "65535, not 0\n" % path, "stderr")


def test_syntax_error():
    with TempDir() as t:
        # (libconfig 1.5 allows a missing ';', so that is no syntax error)
        path = t.file("syntax.conf", 'framing = "line";\n'
                                     'max_message_bytes = = 10;\n')
        r = daemon("-n", "-f", path)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stderr.decode(), "%s:2: syntax error\n" % path, "stderr")
        equal(r.stdout, b"", "stdout")


def test_missing_file():
    with TempDir() as t:
        path = os.path.join(t.path, "does-not-exist.conf")
        r = daemon("-n", "-f", path)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stderr.decode(), "%s: No such file or directory\n" % path,
              "stderr")
        equal(r.stdout, b"", "stdout")


def test_directory_is_not_a_config():
    with TempDir() as t:
        r = daemon("-n", "-f", t.path)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stderr.decode(), "%s: not a regular file\n" % t.path,
              "stderr")


def test_include_absolute_and_errors_named_as_opened():
    # an absolute @include is read as it is written; a relative one is
    # taken from the configuration's directory, and what is wrong in it
    # names it by a path that opens from where echoreplyd runs
    with TempDir() as t:
        os.mkdir(os.path.join(t.path, "etc"))
        absolute = t.file("elsewhere.conf", "max_message_bytes = 512;\n")
        t.file("etc/part.conf", "# part\nmax_queued_bytes = 4096;\n")
        main = t.file("etc/main.conf",
                      'framing = "line";\n'
                      '@include "%s"\n'
                      '@include "part.conf"\n' % absolute)
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-v", "-f",
                            "etc/main.conf"], cwd=t.path,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT)
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        out = r.stdout.decode()
        check("\nmax_message_bytes = 512;\n" in out,
              "absolute include not read:\n" + out)
        check("\nmax_queued_bytes = 4096;\n" in out,
              "relative include not read:\n" + out)

        t.file("etc/part.conf", "# part\ncolour = \"blue\";\n")
        t.file("elsewhere.conf", "max_message_bytes = 0;\n")
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-f",
                            "etc/main.conf"], cwd=t.path,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT)
        equal(r.returncode, EX_CONFIG, "exit status")
        equal(r.stderr.decode().splitlines(), [
            "%s:1: 'max_message_bytes' must be between 1 and 16777216, "
            "not 0" % absolute,
            "etc/part.conf:2: unknown key 'colour'",
        ], "stderr lines")
        for line in r.stderr.decode().splitlines():
            named = line.split(":")[0]
            check(os.path.isfile(os.path.join(t.path, named)),
                  "%r does not open from the daemon's directory" % named)


def test_include_names_its_file_in_later_reports():
    # what is found after the load (a TLS file that is not there, the
    # rule a dry run picks) names the included file too, not the main one
    with TempDir() as t:
        os.mkdir(os.path.join(t.path, "etc"))
        t.file("etc/tls.conf", '# TLS\ntls = true;\n'
                               'tls_certificate = "cert.pem";\n')
        t.file("etc/rules.conf", '\n\nrules = ( { name = "r"; '
                                 'exact = "ping"; reply = "pong"; } );\n')
        t.file("etc/main.conf", 'framing = "line";\n'
                                '@include "tls.conf"\n'
                                '@include "rules.conf"\n')
        r = subprocess.run([harness.ECHOREPLYD, "-n", "-f",
                            "etc/main.conf"], cwd=t.path,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT)
        equal(r.returncode, EX_CONFIG, "exit status")
        lines = r.stderr.decode().splitlines()
        check(lines != [] and all(x.startswith("etc/tls.conf:") for x in
                                  lines), "TLS errors: %r" % lines)
        t.file("etc/tls.conf", "# no TLS\n")
        r = subprocess.run([harness.ECHOREPLYD, "-f", "etc/main.conf",
                            "--reply", "ping"], cwd=t.path,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT)
        equal(r.returncode, 0, "dry run (stderr %r)" % r.stderr)
        check(b"rule: r (etc/rules.conf:3)\n" in r.stdout,
              "dry run: %r" % r.stdout)


def test_nul_in_a_string_refused():
    # libconfig would drop the "\x00"; the error points to the hex keys
    with TempDir() as t:
        path = t.file("nul.conf", 'rules = (\n'
                                  '  { exact = "a\\x00b"; reply = "x"; }\n'
                                  ');\n')
        r = daemon("-n", "-f", path)
        equal(r.returncode, EX_CONFIG, "exit status")
        err = r.stderr.decode()
        check(err.startswith("%s:2: a string cannot hold a NUL byte" % path),
              "stderr %r" % err)
        check("exact_hex" in err, "no word of the hex keys: %r" % err)


def round_trip(t, src, name):
    r1 = daemon("-n", "-v", "-f", src)
    equal(r1.returncode, 0, "%s: exit status (stderr %r)" %
          (name, r1.stderr))
    equal(r1.stderr, b"", "%s: stderr" % name)
    again = t.file(name + ".dump", r1.stdout.decode())
    r2 = daemon("-n", "-v", "-f", again)
    equal(r2.returncode, 0, "%s: dump is not a valid config (stderr %r)" %
          (name, r2.stderr))
    equal(r2.stdout, r1.stdout, "%s: dump of the dump" % name)
    r3 = daemon("-n", "-f", again)
    equal(r3.stdout, b"configuration OK\n", "%s: -n on the dump" % name)
    return r1.stdout.decode()


def test_verbose_dump_round_trip_shipped():
    with TempDir() as t:
        out = round_trip(t, SHIPPED, "shipped")
        check('{ name = "main"; protocol = "tcp"; address = "127.0.0.1"; '
              'port = 13008; backlog = 128; reuse_port = false;\n' in out, "shipped listener:\n" + out)
        check('default_reply = "%{message}";\n' in out,
              "shipped default reply:\n" + out)


def test_verbose_dump_round_trip_tricky():
    with TempDir() as t:
        src = t.file("tricky.conf",
                     'listen = (\n'
                     '  { name = "a.b-c_1"; address = "0:0::1"; port = 1; '
                     'backlog = 1; },\n'
                     '  { name = "any"; address = "0.0.0.0"; port = 65535; }\n'
                     ');\n'
                     'framing = "raw";\n'
                     'close_after_reply = true;\n'
                     'default_reply = "q\\"uote\\\\ tab\\t cr\\r lf\\n '
                     'ff\\f ctl\\x01\\x1f 100%% %{message}";\n'
                     'max_message_bytes = 16777216;\n'
                     'max_queued_bytes = 4096;\n'
                     'shutdown_timeout_ms = 0;\n'
                     'log_messages = false;\n'
                     'log_message_bytes = 0;\n')
        out = round_trip(t, src, "tricky")
        check('{ name = "a.b-c_1"; protocol = "tcp"; address = "::1"; '
              'port = 1; backlog = 1; ipv6_only = true; reuse_port = false;\n'
              in out, "IPv6 listener not normalised:\n" + out)
        check('{ name = "any"; protocol = "tcp"; address = "0.0.0.0"; '
              'port = 65535; backlog = 128; reuse_port = false;\n' in out,
              "default backlog missing:\n" + out)
        check('default_reply = "q\\"uote\\\\ tab\\t cr\\r lf\\n ff\\f '
              'ctl\\x01\\x1f 100%% %{message}";\n' in out,
              "default_reply escaping:\n" + out)


def test_verbose_dump_round_trip_unnamed_listeners():
    # listeners without a name get one made of address and port; the dump
    # must still be a valid config that dumps the same again
    with TempDir() as t:
        src = t.file("unnamed.conf",
                     'listen = ( { port = 13008; },\n'
                     '  { address = "::1"; port = 13009; } );\n')
        out = round_trip(t, src, "unnamed")
        check(out.startswith('listen = (\n'), "dump:\n" + out)


def test_verbose_dump_round_trip_every_kind():
    # tcp, udp and unix listeners with their own keys, and log_target
    with TempDir() as t:
        src = os.path.join(harness.TOP_SRCDIR, "tests", "config",
                           "good-kinds.conf")
        out = round_trip(t, src, "kinds")
        check('protocol = "unix"; path = "/tmp/e.sock"; backlog = 128;'
              in out, "unix listener:\n" + out)
        check('log_target = "journal";\n' in out, "log_target:\n" + out)


def test_verbose_dump_empty_config_defaults():
    # the defaults are pinned once, in tests/config/good-empty.out (the
    # unit test); here the real binary must print exactly that
    with TempDir() as t:
        src = t.file("empty.conf", "")
        r = daemon("-n", "-v", "-f", src)
        equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
        with open(os.path.join(harness.TOP_SRCDIR, "tests", "config",
                               "good-empty.out"), "rb") as f:
            equal(r.stdout, f.read(), "dump of an empty config")


def configure_version():
    with open(os.path.join(harness.TOP_SRCDIR, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[[^]]*\],\s*\[([^]]*)\]", f.read())
    return m.group(1) if m else None


def test_version():
    for opt in ("-V", "--version"):
        r = daemon(opt)
        equal(r.returncode, 0, "%s exit status" % opt)
        # the version, then what TLS it was built with
        m = re.fullmatch(rb"echoreplyd (\S+)\nTLS: (OpenSSL 3\.\S+ .*|"
                         rb"not built \(--without-tls\))\n", r.stdout)
        check(m is not None, "%s output: %r" % (opt, r.stdout))
        want = configure_version()
        if want is not None:
            equal(m.group(1).decode(), want, "version vs configure.ac")
        equal(r.stderr, b"", "%s stderr" % opt)


def test_help():
    for opt in ("-h", "--help"):
        r = daemon(opt)
        equal(r.returncode, 0, "%s exit status" % opt)
        out = r.stdout.decode()
        check(out.startswith("usage: echoreplyd"), "%s: %r" % (opt, out))
        check("--config" in out, "%s does not mention --config" % opt)
        equal(r.stderr, b"", "%s stderr" % opt)


def test_unknown_option_exits_64():
    for args in (["--no-such-option"], ["-x"], ["-n", "extra-argument"],
                 ["-f"]):
        r = daemon(*args)
        equal(r.returncode, EX_USAGE, "exit status for %r" % args)
        equal(r.stdout, b"", "stdout for %r" % args)
        check(b"usage: echoreplyd" in r.stderr,
              "no usage on stderr for %r: %r" % (args, r.stderr))


def test_output_that_cannot_be_written_is_an_error():
    """What -V, -h, -n, -n -v and --reply print goes to scripts: standard
    output on a full device is exit status 74 (EX_IOERR) and one line
    that says so, not success."""
    if not os.path.exists("/dev/full"):
        print("# skip: no /dev/full")
        return
    for args in (["-V"], ["-h"], ["-n", "-f", SHIPPED],
                 ["-n", "-v", "-f", SHIPPED],
                 ["-f", SHIPPED, "--reply", "hello"]):
        with open("/dev/full", "wb") as full:
            r = subprocess.run([harness.ECHOREPLYD] + args,
                               stdin=subprocess.DEVNULL, stdout=full,
                               stderr=subprocess.PIPE, timeout=harness.WAIT)
        equal((r.returncode, r.stderr),
              (74, b"echoreplyd: standard output: No space left on "
               b"device\n"), "%s with stdout on /dev/full" % " ".join(args))


if __name__ == "__main__":
    harness.run(globals())
