# SPDX-License-Identifier: ISC
"""Black-box tests of echoreplyctl's ways of talking: Unix and UDP sockets
(against small Python servers until the daemon serves them), IPv4/IPv6
choice, raw framing, the greeting, -v, -q, -n, and the interactive prompt
driven through a pseudo-terminal."""

import os
import re
import select
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
EX_NOHOST = 68
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_PROTOCOL = 76
EX_CONFIG = 78


def ok(r, what="exit status"):
    equal(r.returncode, 0, "%s (stderr %r)" % (what, r.stderr))


class UnixEchoServer(threading.Thread):
    """A Unix stream socket that sends back whatever it reads."""

    def __init__(self):
        super().__init__(daemon=True)
        self.dir = tempfile.mkdtemp(prefix="echoreplyctl-test-")
        self.path = os.path.join(self.dir, "sock")
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        self.lsock.listen(4)
        self.lsock.settimeout(harness.WAIT)

    def run(self):
        try:
            conn, _ = self.lsock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(harness.WAIT)
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
            except OSError:
                pass

    def stop(self):
        self.lsock.close()
        self.join(harness.WAIT)
        os.unlink(self.path)
        os.rmdir(self.dir)


class UdpServer(threading.Thread):
    """A UDP socket on the IPv4 or IPv6 loopback that answers each
    datagram like the daemon will: the reply is "<" + message + ">" with
    the message's line end put back; or, with silent, never answers."""

    def __init__(self, host="127.0.0.1", silent=False):
        super().__init__(daemon=True)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.received = []
        self.done = threading.Event()

    def run(self):
        self.sock.settimeout(0.05)
        while not self.done.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.received.append(data)
            if self.silent:
                continue
            end = b"\r\n" if data.endswith(b"\r\n") else \
                b"\n" if data.endswith(b"\n") else b""
            body = data[:len(data) - len(end)]
            self.sock.sendto(b"<" + body + b">" + end, peer)

    def stop(self):
        self.done.set()
        self.join(harness.WAIT)
        self.sock.close()


def free_udp_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def write_temp(text):
    fd, path = tempfile.mkstemp(prefix="echoreplyctl-test-",
                                suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


# -- Unix stream sockets --

def test_unix_socket():
    srv = UnixEchoServer()
    srv.start()
    try:
        r = ctl("-U", srv.path, "one", "two")
        ok(r)
        equal(r.stdout, b"one\ntwo\n", "stdout")
        equal(r.stderr, b"", "stderr")
    finally:
        srv.stop()


def test_unix_socket_long_option_and_stdin():
    srv = UnixEchoServer()
    srv.start()
    try:
        r = ctl("--unix", srv.path, input=b"a\nb\n")
        ok(r)
        equal(r.stdout, b"a\nb\n", "stdout")
    finally:
        srv.stop()


def test_unix_socket_missing_exits_69():
    d = tempfile.mkdtemp(prefix="echoreplyctl-test-")
    try:
        path = os.path.join(d, "none")
        r = ctl("-U", path, "x")
        equal(r.returncode, EX_UNAVAILABLE, "exit status")
        equal(r.stderr.decode(), "echoreplyctl: connect to %s: No such "
              "file or directory\n" % path, "stderr")
    finally:
        os.rmdir(d)


def test_unix_conflicts_with_ip_options():
    for extra in (["-H", "127.0.0.1"], ["-p", "1"], ["-u"], ["-4"]):
        r = ctl("-U", "/nonexistent", *extra, "x")
        equal(r.returncode, EX_USAGE, "exit status with %s" % extra)
        check(r.stderr.count(b"\n") == 1, "one line: %r" % r.stderr)


# -- UDP --

def test_udp_messages_and_stdin():
    srv = UdpServer()
    srv.start()
    try:
        r = ctl("-u", "-H", "127.0.0.1", "-p", str(srv.port), "a", "b c")
        ok(r)
        equal(r.stdout, b"<a>\n<b c>\n", "stdout")
        equal(srv.received[:2], [b"a\n", b"b c\n"], "datagrams sent")
        lines = "".join("%d\n" % i for i in range(1000)).encode()
        r = ctl("--udp", "-H", "127.0.0.1", "-p", str(srv.port),
                input=lines)
        ok(r)
        equal(r.stdout, b"".join(b"<%d>\n" % i for i in range(1000)),
              "stdout for 1000 lines")
    finally:
        srv.stop()


def test_udp_raw_sends_without_newline():
    srv = UdpServer()
    srv.start()
    try:
        r = ctl("-u", "--raw", "-H", "127.0.0.1", "-p", str(srv.port),
                "x", "")
        ok(r)
        equal(srv.received, [b"x", b""], "datagrams sent")
        equal(r.stdout, b"<x>\n<>\n", "stdout")
    finally:
        srv.stop()


def test_udp_refused_exits_69():
    port = free_udp_port()
    r = ctl("-u", "-H", "127.0.0.1", "-p", str(port), "x")
    equal(r.returncode, EX_UNAVAILABLE, "exit status (stderr %r)" % r.stderr)
    equal(r.stderr.decode(), "echoreplyctl: send to 127.0.0.1 port %d: "
          "Connection refused\n" % port, "stderr")


def test_udp_no_reply_times_out_75():
    srv = UdpServer(silent=True)
    srv.start()
    try:
        start = time.monotonic()
        r = ctl("-u", "-t", "1", "-H", "127.0.0.1", "-p", str(srv.port),
                "x")
        took = time.monotonic() - start
    finally:
        srv.stop()
    equal(r.returncode, EX_TEMPFAIL, "exit status (stderr %r)" % r.stderr)
    check(b"timed out" in r.stderr, "stderr: %r" % r.stderr)
    check(0.9 <= took < 4.0, "-t 1 took %.2fs" % took)


def test_udp_next_address_after_refusal():
    # "localhost" may give ::1 first; the server is on 127.0.0.1 only
    srv = UdpServer()
    srv.start()
    try:
        r = ctl("-u", "-v", "-H", "localhost", "-p", str(srv.port), "x")
        ok(r)
        equal(r.stdout, b"<x>\n", "stdout")
    finally:
        srv.stop()


def test_udp_listener_from_config():
    srv = UdpServer()
    srv.start()
    d = Daemon()
    try:
        # the daemon cannot serve UDP yet: the config only has TCP
        r = ctl("-f", d.conf, "-u", "x")
        equal(r.returncode, EX_CONFIG, "exit status (stderr %r)" % r.stderr)
        equal(r.stderr.decode(), "echoreplyctl: %s: no UDP listener\n"
              % d.conf, "stderr")
        # -u with -H and -p needs no listener
        r = ctl("-f", d.conf, "-u", "-H", "127.0.0.1", "-p", str(srv.port),
                "x")
        ok(r)
        equal(r.stdout, b"<x>\n", "stdout")
    finally:
        srv.stop()


def test_udp_replies_print_as_they_arrive():
    # nothing in a datagram says which message it answers: a reply held
    # back comes after the later ones, and echoreplyctl(1) says so
    port = free_udp_port()
    d = Daemon('listen = { address = "127.0.0.1"; port = %d; protocol = '
               '"udp"; };\nrules = ( { exact = "slow"; reply = "slow"; '
               'delay_ms = 300; } );\n' % port, port=port, listen=False)
    r = ctl("-u", "-H", "127.0.0.1", "-p", str(port), "slow", "fast")
    ok(r)
    equal(r.stdout, b"fast\nslow\n", "stdout")
    with open(os.path.join(harness.TOP_SRCDIR, "man",
                           "echoreplyctl.1")) as f:
        page = " ".join(f.read().split())
    check("(over UDP, in the order the replies arrive)" in page and
          "replies are printed in the order they arrive" in page,
          "echoreplyctl(1) does not say that UDP replies print as they "
          "arrive")


# -- IPv4 and IPv6 --

def test_ipv4_and_ipv6_choose_the_listener():
    p4, p6 = harness.free_port(), harness.free_port("::1")
    body = ('listen = ( { name = "six"; address = "::1"; port = %d; },\n'
            '  { name = "four"; address = "127.0.0.1"; port = %d; } );\n'
            'default_reply = "%%{listener} %%{message}";\n' % (p6, p4))
    d = Daemon(body, listen=False)
    r = ctl("-f", d.conf, "x")
    ok(r, "first listener")
    equal(r.stdout, b"six x\n", "the first listener is used")
    r = ctl("-f", d.conf, "-4", "x")
    ok(r, "-4")
    equal(r.stdout, b"four x\n", "-4 picks the IPv4 listener")
    r = ctl("-f", d.conf, "-6", "x")
    ok(r, "-6")
    equal(r.stdout, b"six x\n", "-6 picks the IPv6 listener")
    r = ctl("-f", d.conf, "-4", "-p", str(p6), "x")
    equal(r.returncode, EX_UNAVAILABLE, "-4 with the port of ::1")
    r = ctl("-6", "-H", "localhost", "-p", str(p6), "x")
    if r.returncode != EX_NOHOST:    # no ::1 for localhost in /etc/hosts
        ok(r, "-6 -H localhost")
        equal(r.stdout, b"six x\n", "-6 -H localhost")


def test_any_address_is_reached_on_loopback():
    port = harness.free_port()
    d = Daemon('listen = { address = "0.0.0.0"; port = %d; };\n' % port,
               listen=False)
    r = ctl("-f", d.conf, "hi")
    ok(r)
    equal(r.stdout, b"hi\n", "stdout")
    check(b"127.0.0.1:" in d.log().encode(), "came from 127.0.0.1")


def test_unknown_host_exits_68():
    r = ctl("-4", "-H", "::1", "-p", "1", "x")
    equal(r.returncode, EX_NOHOST, "IPv6 address with -4")
    check(r.stderr.startswith(b"echoreplyctl: ::1: ") and
          r.stderr.count(b"\n") == 1, "stderr %r" % r.stderr)
    r = ctl("-H", "no-such-host.invalid", "-p", "1", "x", timeout=30)
    equal(r.returncode, EX_NOHOST, "a name that does not resolve")
    check(r.stderr.startswith(b"echoreplyctl: no-such-host.invalid: ") and
          r.stderr.count(b"\n") == 1, "stderr %r" % r.stderr)


# -- connect timeout --

def test_connect_timeout_exits_75():
    # a listener whose queue is full drops new SYNs: connect hangs
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        start = time.monotonic()
        r = ctl("-t", "1", "-H", "127.0.0.1", "-p", str(port), "x")
        took = time.monotonic() - start
    finally:
        for s in fillers:
            s.close()
        lsock.close()
    equal(r.returncode, EX_TEMPFAIL, "exit status (stderr %r)" % r.stderr)
    check(b"timed out" in r.stderr, "stderr %r" % r.stderr)
    check(0.9 <= took < 4.0, "-t 1 took %.2fs" % took)


# -- framing and greeting --

def test_raw_framing_from_config_and_option():
    d = Daemon('framing = "raw";\ndefault_reply = "<%{message}>";\n')
    r = ctl("-f", d.conf, "a", "b c")
    ok(r, "framing from the config")
    equal(r.stdout, b"<a>\n<b c>\n", "stdout")
    r = ctl("-H", "127.0.0.1", "-p", str(d.port), "--raw", input=b"1\n2\n")
    ok(r, "--raw")
    equal(r.stdout, b"<1>\n<2>\n", "stdout")
    r = ctl("-f", d.conf, "a", "")
    equal(r.returncode, EX_USAGE, "an empty raw message cannot be sent")
    equal(r.stderr, b"echoreplyctl: message 2 is empty; raw framing "
          b"cannot send an empty message\n", "stderr")
    r = ctl("-f", d.conf, input=b"a\n\nb\n")
    equal(r.returncode, 65, "an empty raw line of stdin")


def test_raw_reply_ending_in_newline_is_printed_as_is():
    d = Daemon('framing = "raw";\ndefault_reply = "%{message}\\r\\n";\n')
    r = ctl("-f", d.conf, "a")
    ok(r)
    equal(r.stdout, b"a\r\n", "stdout")


def test_greeting_from_config_does_not_shift_replies():
    d = Daemon('greeting = "hello %{client_address}";\n')
    r = ctl("-f", d.conf, "a", "b")
    ok(r)
    equal(r.stdout, b"a\nb\n", "stdout")
    equal(r.stderr, b"", "stderr")
    r = ctl("-f", d.conf, "-v", "a")
    ok(r, "-v")
    equal(r.stdout, b"a\n", "stdout with -v")
    check(b"greeting: hello 127.0.0.1\n" in r.stderr, "stderr %r" % r.stderr)
    # no messages: the greeting is still awaited and shown
    r = ctl("-f", d.conf, "-v", input=b"")
    ok(r, "no messages")
    check(b"greeting: hello 127.0.0.1\n" in r.stderr, "stderr %r" % r.stderr)


def test_greeting_option_without_config():
    d = Daemon('greeting = "welcome";\n')
    r = ctl("-g", "-H", "127.0.0.1", "-p", str(d.port), "a")
    ok(r, "-g")
    equal(r.stdout, b"a\n", "stdout")
    r = ctl("--greeting", "-v", "-H", "127.0.0.1", "-p", str(d.port),
            input=b"x\ny\n")
    ok(r, "--greeting")
    equal(r.stdout, b"x\ny\n", "stdout")
    check(b"greeting: welcome\n" in r.stderr, "stderr %r" % r.stderr)


def test_raw_greeting_is_read_before_sending():
    d = Daemon('framing = "raw";\ngreeting = "hi";\n'
               'default_reply = "<%{message}>";\n')
    r = ctl("-f", d.conf, "-v", "a", "b")
    ok(r)
    equal(r.stdout, b"<a>\n<b>\n", "stdout")
    check(b"greeting: hi\n" in r.stderr, "stderr %r" % r.stderr)


def test_greeting_expected_but_closed_exits_76():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        p = subprocess.Popen([harness.ECHOREPLYCTL, "-g", "-H", "127.0.0.1",
                              "-p", str(port), "x"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        conn, _ = srv.accept()
        conn.close()
        out, err = p.communicate(timeout=harness.WAIT)
    finally:
        srv.close()
    equal(p.returncode, EX_PROTOCOL, "exit status (stderr %r)" % err)
    # the client may have sent its message already: then the close is a
    # reset, and the reason follows
    check(re.match(rb"echoreplyctl: connection closed before the greeting"
                   rb"(: Connection reset by peer)?\n\Z", err) is not None,
          "stderr: %r" % err)


# -- -v, -q, -n --

def test_verbose_shows_messages_and_round_trips():
    d = Daemon('default_reply = "<%{message}>";\n')
    r = ctl("-f", d.conf, "-v", "a\tb", "c")
    ok(r)
    equal(r.stdout, b"<a\tb>\n<c>\n", "stdout is only the replies")
    lines = r.stderr.decode().splitlines()
    equal(lines[0], "connected to 127.0.0.1 port %d (tcp)" % d.port,
          "first -v line")
    equal(lines[1:3], ["> a\\tb", "> c"], "what was sent")
    check(re.fullmatch(r"< <a\\tb> \(\d+\.\d\d ms\)", lines[3]) and
          re.fullmatch(r"< <c> \(\d+\.\d\d ms\)", lines[4]),
          "what was received: %r" % lines[3:])
    equal(len(lines), 5, "number of -v lines")


def test_quiet_prints_nothing():
    d = Daemon()
    r = ctl("-f", d.conf, "-q", "a", "b")
    ok(r)
    equal((r.stdout, r.stderr), (b"", b""), "output")
    r = ctl("--quiet", "-H", "127.0.0.1", "-p", str(harness.free_port()),
            "a")
    equal(r.returncode, EX_UNAVAILABLE, "refused")
    equal((r.stdout, r.stderr), (b"", b""), "output when refused")
    r = ctl("-q", "-v", "a")
    equal(r.returncode, EX_USAGE, "-q with -v")
    equal(r.stderr, b"echoreplyctl: -q and -v cannot be used together\n",
          "usage errors are reported even with -q")


def test_count_repeats_each_message():
    d = Daemon()
    r = ctl("-f", d.conf, "-n", "3", "a", "b")
    ok(r)
    equal(r.stdout, b"a\na\na\nb\nb\nb\n", "stdout")
    r = ctl("-f", d.conf, "--count", "2", input=b"x\ny")
    ok(r, "stdin")
    equal(r.stdout, b"x\nx\ny\ny\n", "stdout for stdin")
    r = ctl("-f", d.conf, "-n", "20000", "-q", "z")
    ok(r, "-n 20000")
    for bad in ("0", "x", "1000000001"):
        r = ctl("-f", d.conf, "-n", bad, "a")
        equal(r.returncode, EX_USAGE, "-n %s" % bad)
        check(r.stderr.count(b"\n") == 1, "one line for -n %s" % bad)


def test_help_and_version():
    r = ctl("-h")
    ok(r, "-h")
    check(r.stdout.startswith(b"usage: echoreplyctl "), "help %r" %
          r.stdout[:40])
    r = ctl("--version")
    ok(r, "--version")
    check(re.fullmatch(rb"echoreplyctl \S+\n", r.stdout), "%r" % r.stdout)
    r = ctl("--no-such-option")
    equal(r.returncode, EX_USAGE, "unknown option")
    equal(r.stdout, b"", "nothing on stdout for a usage error")


# -- interactive --

class Pty:
    """echoreplyctl with a pseudo-terminal as stdin, stdout and stderr."""

    def __init__(self, *args):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([harness.ECHOREPLYCTL] + list(args),
                                     stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.data = b""

    def expect(self, text, timeout=harness.WAIT):
        """Reads until the output ends with text; returns all so far."""
        deadline = time.monotonic() + timeout
        while not self.data.endswith(text):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("waited for %r, got %r" %
                                     (text, self.data))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:      # EIO: the other side is closed
                    chunk = b""
                if not chunk:
                    raise AssertionError("output ended, waited for %r, "
                                         "got %r" % (text, self.data))
                self.data += chunk
        return self.data

    def type(self, text):
        os.write(self.master, text)

    def wait(self):
        try:
            return self.proc.wait(harness.WAIT)
        finally:
            os.close(self.master)


def test_interactive_prompt_through_a_pty():
    d = Daemon('greeting = "welcome";\n')
    t = Pty("-f", d.conf)
    try:
        t.expect(b"echoreplyctl> ")
        t.type(b"ping\n")
        t.expect(b"ping\r\nping\r\nechoreplyctl> ")
        t.type(b"two words\n")
        t.expect(b"two words\r\ntwo words\r\nechoreplyctl> ")
        t.type(b"\x04")
        t.expect(b"echoreplyctl> \r\n")
    finally:
        status = t.wait()
    equal(status, 0, "exit status; output %r" % t.data)
    equal(t.data, b"echoreplyctl> ping\r\nping\r\nechoreplyctl> "
          b"two words\r\ntwo words\r\nechoreplyctl> \r\n", "transcript")


def test_interactive_server_closes_exits_76():
    d = Daemon("close_after_reply = true;\n")
    t = Pty("-f", d.conf)
    try:
        t.expect(b"echoreplyctl> ")
        t.type(b"once\n")
        t.expect(b"connection closed by the server\r\n")
    finally:
        status = t.wait()
    equal(status, EX_PROTOCOL, "exit status; output %r" % t.data)
    equal(t.data, b"echoreplyctl> once\r\nonce\r\nechoreplyctl> \r\n"
          b"echoreplyctl: connection closed by the server\r\n", "transcript")


# -- the server closes while stdin is open --

def test_server_closes_after_the_last_stdin_line():
    d = Daemon("close_after_reply = true;\n")
    r = ctl("-f", d.conf, input=b"only\n")
    ok(r, "one line")
    equal(r.stdout, b"only\n", "stdout")
    r = ctl("-f", d.conf, input=b"one\ntwo\n")
    equal(r.returncode, EX_PROTOCOL, "two lines (stderr %r)" % r.stderr)
    equal(r.stdout, b"one\n", "the reply that came")


if __name__ == "__main__":
    harness.run(globals())
