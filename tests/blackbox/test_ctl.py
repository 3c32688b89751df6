# SPDX-License-Identifier: ISC
"""Black-box tests: the echoreplyctl client, its output and exit codes."""

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Daemon, check, ctl, equal  # noqa: E402

EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_PROTOCOL = 76
EX_CONFIG = 78


def one_error_line(r, what):
    """stderr is exactly one line starting with the program's name."""
    err = r.stderr.decode(errors="replace")
    check(err.startswith("echoreplyctl: ") and err.endswith("\n") and
          err.count("\n") == 1,
          "%s: stderr should be one 'echoreplyctl: ' line, got %r" %
          (what, err))
    return err


class FakeServer(threading.Thread):
    """A listening socket that accepts one client, then either closes it
    at once or holds it open without replying until stopped."""

    def __init__(self, reply=False):
        super().__init__(daemon=True)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(harness.WAIT)
        self.port = self.lsock.getsockname()[1]
        self.hold = reply
        self.done = threading.Event()
        self.received = b""

    def run(self):
        try:
            conn, _ = self.lsock.accept()
        except socket.timeout:
            return
        with conn:
            if not self.hold:
                return
            conn.settimeout(0.05)
            while not self.done.is_set():
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    break
                self.received += data

    def stop(self):
        self.done.set()
        self.join(harness.WAIT)
        self.lsock.close()


def test_arguments_one_reply_per_line():
    d = Daemon()
    r = ctl("-H", "127.0.0.1", "-p", str(d.port), "one", "two words", "",
            "three")
    equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    equal(r.stdout, b"one\ntwo words\n\nthree\n", "stdout")
    equal(r.stderr, b"", "stderr")


def test_long_options():
    d = Daemon('default_reply = "<%{message}>";\n')
    r = ctl("--host", "127.0.0.1", "--port", str(d.port), "--timeout", "5",
            "x")
    equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    equal(r.stdout, b"<x>\n", "stdout")


def test_config_file_gives_host_and_port():
    d = Daemon('default_reply = "from %{listener}: %{message}";\n')
    r = ctl("-f", d.conf, "hello", "world")
    equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    equal(r.stdout, b"from 127.0.0.1:%d: hello\nfrom 127.0.0.1:%d: world\n"
          % (d.port, d.port), "stdout")
    equal(r.stderr, b"", "stderr")


def test_stdin_100000_lines_in_order():
    d = Daemon("log_messages = false;\n")
    data = "".join("%d\n" % i for i in range(1, 100001)).encode()
    r = ctl("-H", "127.0.0.1", "-p", str(d.port), input=data, timeout=30)
    equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    equal(r.stderr, b"", "stderr")
    equal(r.stdout.count(b"\n"), 100000, "number of reply lines")
    check(r.stdout == data, "replies differ from input; first difference "
          "at byte %d" % next((i for i, (a, b) in
                               enumerate(zip(r.stdout, data)) if a != b),
                              min(len(r.stdout), len(data))))


def test_stdin_last_line_without_newline_and_crlf_replies():
    d = Daemon()
    r = ctl("-H", "127.0.0.1", "-p", str(d.port), input=b"a\r\nb\nc")
    equal(r.returncode, 0, "exit status (stderr %r)" % r.stderr)
    # ctl sends "a\r\n": the CR goes back in the CRLF reply, ctl strips it
    equal(r.stdout, b"a\nb\nc\n", "stdout")


def test_connection_refused_exits_69():
    port = harness.free_port()
    r = ctl("-H", "127.0.0.1", "-p", str(port), "x")
    equal(r.returncode, EX_UNAVAILABLE, "exit status (stderr %r)" % r.stderr)
    err = one_error_line(r, "connection refused")
    check("refused" in err.lower(), "stderr does not say why: %r" % err)
    equal(r.stdout, b"", "stdout")


def test_bad_port_exits_64():
    for bad in ("0", "abc", "65536", "-1", "12x"):
        r = ctl("-H", "127.0.0.1", "-p", bad, "x")
        equal(r.returncode, EX_USAGE, "exit status for -p %s" % bad)
        one_error_line(r, "-p %s" % bad)
        equal(r.stdout, b"", "stdout for -p %s" % bad)


def test_bad_timeout_exits_64():
    for bad in ("0", "abc", "3601"):
        r = ctl("-H", "127.0.0.1", "-p", "1", "-t", bad, "x")
        equal(r.returncode, EX_USAGE, "exit status for -t %s" % bad)
        one_error_line(r, "-t %s" % bad)


def test_server_closes_without_reply_exits_76():
    srv = FakeServer(reply=False)
    srv.start()
    try:
        r = ctl("-H", "127.0.0.1", "-p", str(srv.port), "x")
    finally:
        srv.stop()
    equal(r.returncode, EX_PROTOCOL, "exit status (stderr %r)" % r.stderr)
    one_error_line(r, "closed without reply")
    equal(r.stdout, b"", "stdout")


def test_server_closes_after_first_reply():
    d = Daemon("close_after_reply = true;\n")
    r = ctl("-f", d.conf, "only")
    equal(r.returncode, 0, "one message (stderr %r)" % r.stderr)
    equal(r.stdout, b"only\n", "stdout")
    r = ctl("-f", d.conf, "first", "second")
    equal(r.returncode, EX_PROTOCOL, "two messages (stderr %r)" % r.stderr)
    equal(r.stdout, b"first\n", "the reply that came is printed")
    one_error_line(r, "closed after the first reply")


def test_server_never_replies_times_out_75():
    srv = FakeServer(reply=True)
    srv.start()
    try:
        start = time.monotonic()
        r = ctl("-H", "127.0.0.1", "-p", str(srv.port), "-t", "1", "x")
        took = time.monotonic() - start
    finally:
        srv.stop()
    equal(r.returncode, EX_TEMPFAIL, "exit status (stderr %r)" % r.stderr)
    err = one_error_line(r, "reply timeout")
    check("timed out" in err, "stderr does not say it timed out: %r" % err)
    check(0.9 <= took < 4.0, "-t 1 took %.2fs" % took)
    equal(srv.received, b"x\n", "what the client sent")


def test_config_with_error_exits_78():
    d = tempfile.mkdtemp(prefix="echoreplyctl-test-")
    path = os.path.join(d, "bad.conf")
    try:
        with open(path, "w") as f:
            f.write("# bad\nlisten = { port = 70000; };\n")
        r = ctl("-f", path, "x")
        equal(r.returncode, EX_CONFIG, "exit status (stderr %r)" % r.stderr)
        equal(r.stderr.decode(), "echoreplyctl: %s:2: 'port' must be "
              "between 1 and 65535, not 70000\n" % path, "stderr")
        equal(r.stdout, b"", "stdout")
        r = ctl("-f", os.path.join(d, "missing.conf"), "x")
        equal(r.returncode, EX_CONFIG, "exit status for a missing file")
        one_error_line(r, "missing config")
    finally:
        os.unlink(path)
        os.rmdir(d)


def test_message_with_newline_exits_64():
    d = Daemon()
    r = ctl("-H", "127.0.0.1", "-p", str(d.port), "fine", "a\nb")
    equal(r.returncode, EX_USAGE, "exit status (stderr %r)" % r.stderr)
    equal(r.stderr, b"echoreplyctl: message 2 contains a newline\n",
          "stderr")
    equal(r.stdout, b"", "stdout: nothing may be sent")


def test_closed_stdio():
    # stdout closed: the connection must not take fd 1 (replies would go
    # back to the server as messages); printing a reply is then an error
    d = Daemon()
    r = subprocess.run([harness.ECHOREPLYCTL, "-H", "127.0.0.1", "-p",
                        str(d.port), "hi"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=harness.WAIT,
                       preexec_fn=lambda: os.close(1))
    equal((r.returncode, r.stderr), (74, b"echoreplyctl: standard output: "
          b"Bad file descriptor\n"), "stdout closed")
    d.wait_log('message 1: "hi"')
    check('message 2' not in d.log(), "a reply came back as a message:\n" +
          d.log())
    # stdin closed, no arguments: nothing to send, no hang
    r = subprocess.run([harness.ECHOREPLYCTL, "-H", "127.0.0.1", "-p",
                        str(d.port)], capture_output=True,
                       timeout=harness.WAIT, preexec_fn=lambda: os.close(0))
    equal(r.returncode, 0, "stdin closed (stderr %r)" % r.stderr)


def test_stdout_write_error_exits_74():
    # every way of printing checks its writes: replies, --help, --version
    port = harness.free_port()
    d = Daemon('listen = ( { address = "127.0.0.1"; port = %d; },\n'
               '  { address = "127.0.0.1"; port = %d; protocol = "udp"; } '
               ');\n' % (port, port), port=port, listen=False)
    nospace = b"echoreplyctl: standard output: No space left on device\n"
    closed = b"echoreplyctl: standard output: Bad file descriptor\n"
    for args in (["-H", "127.0.0.1", "-p", str(d.port), "hi"],
                 ["-u", "-H", "127.0.0.1", "-p", str(d.port), "hi"],
                 ["--help"], ["-V"]):
        with open("/dev/full", "wb") as full:
            r = subprocess.run([harness.ECHOREPLYCTL] + args, stdout=full,
                               stderr=subprocess.PIPE, timeout=harness.WAIT)
        equal((r.returncode, r.stderr), (74, nospace), "%r > /dev/full" %
              args)
        r = subprocess.run([harness.ECHOREPLYCTL] + args,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=harness.WAIT,
                           preexec_fn=lambda: os.close(1))
        equal((r.returncode, r.stderr), (74, closed), "%r >&-" % args)
    # -q prints nothing: nothing to fail
    r = subprocess.run([harness.ECHOREPLYCTL, "-q", "-H", "127.0.0.1", "-p",
                        str(d.port), "hi"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=harness.WAIT,
                       preexec_fn=lambda: os.close(1))
    equal((r.returncode, r.stderr), (0, b""), "-q with stdout closed")


def test_stdin_line_limit_is_exact():
    # 16 MiB a line: one byte more is refused before anything is sent,
    # wherever the reads of standard input happen to cut it
    limit = 16 * 1024 * 1024
    d = Daemon("max_message_bytes = %d;\nlog_messages = false;\n" % limit)
    line = b"x" * limit
    r = ctl("-H", "127.0.0.1", "-p", str(d.port), input=line + b"\n",
            timeout=60)
    equal(r.returncode, 0, "a line of 16 MiB (stderr %r)" % r.stderr)
    check(r.stdout == line + b"\n", "its reply: %d bytes" % len(r.stdout))
    for tail in (b"x\nlast\n", b"xlast\n", b"x" * 65000 + b"\n", b"x"):
        r = ctl("-H", "127.0.0.1", "-p", str(d.port),
                input=b"first\n" + line + tail, timeout=60)
        equal((r.returncode, r.stderr), (EX_DATAERR, b"echoreplyctl: "
              b"standard input: line 2 is longer than %d bytes\n" % limit),
              "16 MiB and %r" % tail[:10])
        check(r.stdout in (b"", b"first\n"), "stdout: %r" % r.stdout[:100])


def test_command_line_errors_are_one_line():
    """getopt's own messages and the help are not what a usage error
    prints; what the command line holds is shown escaped, on one line."""
    for args, text in (
            (["-Z", "x"], "unknown option -Z"),
            (["-qZ", "x"], "unknown option -Z"),
            (["--tls", "-Zq", "x"], "unknown option -Z"),
            (["x", "-p"], "option -p needs a value"),
            (["x", "--port"], "option --port needs a value"),
            (["--tls=yes", "x"], "option --tls=yes is unknown or takes no "
             "value"),
            (["--de", ";", "x"], "unknown or ambiguous option --de"),
            (["-p", "1\n2\x1b[2J", "x"], "port 1\\n2\\033[2J is invalid")):
        r = ctl(*args)
        equal(r.returncode, EX_USAGE, "exit status for %r" % args)
        err = one_error_line(r, repr(args))
        check(err.startswith("echoreplyctl: " + text), "%r: %r" % (args, err))
        equal(r.stdout, b"", "stdout for %r" % args)


# Exit statuses echoreplyctl(1) documents for sending messages
DOCUMENTED = {0, 64, 65, 66, 68, 69, 71, 74, 75, 76, 77, 78}


def random_argv(rng, ports, conf):
    """A command line made at random from echoreplyctl's options, their
    values right and wrong, and messages; no host name that needs DNS,
    and no timeout over 1 s. ports: plain, TLS, closed."""
    values = {
        "-p": [str(p) for p in ports] * 3 + ["0", "65536", "-1", "x", ""],
        "-H": ["127.0.0.1", "::1", "localhost", "127.0.0.1:80", ""],
        "-U": ["/nonexistent/sock", "/etc/passwd", ""],
        "-n": ["0", "1", "3", "-1", "x", "99999999999999999999"],
        "-t": ["1", "0", "x"],
        "-f": [conf] * 3 + ["/nonexistent.conf", "/etc/passwd", ""],
        "--framing": ["line", "raw", "delimiter", "length", "fixed", "x"],
        "--delimiter": [";", "", "ab"],
        "--delimiter-hex": ["00", "0", "zz", "3b3b", ""],
        "--length-bytes": ["1", "2", "3", "4", "8", "0", "x"],
        "--length-endian": ["big", "little", "middle"],
        "--fixed-bytes": ["0", "1", "4", "-1", "99999999999"],
        "--proxy": ["192.0.2.1:5", "[2001:db8::1]:80", "x", ":", ""],
        "--proxy-version": ["1", "2", "3", "x"],
        "--ca": ["/nonexistent.pem", "/etc/passwd", ""],
        "--cert": ["/nonexistent.pem", "/etc/passwd"],
        "--key": ["/nonexistent.pem", "/etc/passwd"],
        "--sni": ["localhost", "", "a" * 300],
    }
    flags = ["-4", "-6", "-g", "-u", "-q", "-v", "--raw", "--tls",
             "--tls", "--insecure", "--insecure", "--length-counts-prefix",
             "--bogus", "-Z", "-V", "-h", "-C"]
    # where it starts: nothing, the plain listener, the TLS one, the config
    argv = ["-t", "1"] + rng.choice([
        [], ["-p", str(ports[0])], ["-p", str(ports[1]), "--tls"],
        ["-f", conf]])
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 5])):
        if rng.random() < 0.6:
            opt = rng.choice(sorted(values))
            argv += [opt, rng.choice(values[opt])]
        else:
            argv.append(rng.choice(flags))
    if "-C" in argv:
        argv.remove("-C")   # a control command: test_ctl_control's
    messages = ["hello", "", "a b", "x" * 3000, "two\nlines", "\u00e9",
                "-", "--", "-p"]
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        argv.append(rng.choice(messages))
    return argv


def test_random_command_lines():
    """Command lines made at random: each ends within its timeout with a
    documented status, never a signal, and each failure is one line on
    stderr (unless -q or -v say otherwise)."""
    seed = int(os.environ.get("ECHOREPLYD_TEST_SEED", "17"))
    rng = random.Random(seed)
    plain, tls = harness.free_port(), harness.free_port()
    closed = harness.free_port()
    d = Daemon('greeting = "hi";\nlisten = (\n'
               '  { name = "plain"; address = "127.0.0.1"; port = %d; },\n'
               '  { name = "tls"; address = "127.0.0.1"; port = %d; '
               'tls = true; tls_self_signed = true; }\n);\n' % (plain, tls),
               port=plain, listen=False)
    for i in range(200):
        argv = random_argv(rng, [plain, tls, closed], d.conf)
        what = "run %d: echoreplyctl %r (seed %d)" % (i, argv, seed)
        r = ctl(*argv, input=b"in one\nin two\n")
        check(r.returncode >= 0, "%s: killed by signal %d" %
              (what, -r.returncode))
        check(r.returncode in DOCUMENTED, "%s: exit status %d, stderr %r" %
              (what, r.returncode, r.stderr[-300:]))
        if r.returncode != 0 and not {"-q", "-v"} & set(argv):
            one_error_line(r, what)
    check(d.proc.poll() is None, "the daemon died")
    equal(d.stop(), 0, "exit status")


if __name__ == "__main__":
    harness.run(globals())
